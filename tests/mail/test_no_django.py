"""The mail core stands on its own: importing all of it loads neither Django nor any app."""

import pkgutil
import subprocess
import sys

import postroom.mail


def test_it_imports_every_mail_module_without_loading_django_or_an_app():
    modules = [m.name for m in pkgutil.walk_packages(postroom.mail.__path__, "postroom.mail.")]
    assert "postroom.mail.compose" in modules and "postroom.mail.smtp.client" in modules
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')"
        " or (m.startswith('postroom.') and not m.startswith('postroom.mail')"
        " and m != 'postroom.errors'))\n"
        "print(','.join(loaded))\n"
    )
    env = {"PATH": "/usr/bin:/bin"}  # no DJANGO_SETTINGS_MODULE either
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert run.stdout.strip() == ""


def test_without_django_the_mail_cores_refusals_are_english():
    """Its translation hook (postroom.mail.language) answers in English until a host
    installs a translator, and needs nothing of Django to do so."""
    script = (
        "import sys\n"
        "from postroom.mail import content, language\n"
        "try:\n"
        "    content.body_to_html('Hi', 'rtf')\n"
        "except content.TemplateError as exc:\n"
        "    print(exc)\n"
        "print(language.ngettext('one file', 'files', 2))\n"
        "print('django' in sys.modules)\n"
    )
    env = {"PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert run.stdout.splitlines() == ["body, line 1: unknown body format 'rtf'", "files", "False"]
