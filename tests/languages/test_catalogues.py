"""The shipped translations are complete and current: CI fails on a string left in English.

Three checks: every message of every shipped language has a translation that is
neither empty nor fuzzy and keeps the placeholders; the compiled .mo files say what
the .po files say (they are committed, so a pip install needs no gettext); and the
.po files hold exactly the strings the code and templates mark today (the same
extraction `scripts/messages` runs, into a copy, needing gettext's xgettext).
"""

import gettext
import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils.translation import to_locale

from tests.languages.catalogue import messages

PACKAGE = Path(settings.BASE_DIR)
SHIPPED = [to_locale(code) for code, _ in settings.LANGUAGES if code != "en"]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]")


def catalogue(locale: str, root: Path = PACKAGE) -> Path:
    return root / "locale" / locale / "LC_MESSAGES" / "django.po"


def test_every_language_in_settings_has_a_catalogue():
    assert SHIPPED == ["de", "es", "fr", "zh_Hans"]
    for locale in SHIPPED:
        assert catalogue(locale).is_file(), f"no catalogue for {locale}: run scripts/messages"


@pytest.mark.parametrize("locale", SHIPPED)
def test_every_message_is_translated(locale):
    entries = messages(catalogue(locale))
    assert len(entries) > 100
    untranslated = [e.msgid for e in entries.values() if not e.translated]
    fuzzy = [e.msgid for e in entries.values() if "fuzzy" in e.flags]
    assert not untranslated, f"{locale}: {len(untranslated)} untranslated: {untranslated[:5]}"
    assert not fuzzy, f"{locale}: {len(fuzzy)} fuzzy (check and clear the flag): {fuzzy[:5]}"


@pytest.mark.parametrize("locale", SHIPPED)
def test_every_translation_keeps_the_placeholders(locale):
    for entry in messages(catalogue(locale)).values():
        wanted = sorted(PLACEHOLDER.findall(entry.msgid))
        for text in entry.translations:
            assert sorted(PLACEHOLDER.findall(text)) == wanted, (locale, entry.msgid, text)


@pytest.mark.parametrize("locale", SHIPPED)
def test_the_compiled_catalogue_matches_its_source(locale):
    po = catalogue(locale)
    with open(po.with_suffix(".mo"), "rb") as handle:
        compiled = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    for entry in messages(po).values():
        key = entry.msgid if entry.context is None else f"{entry.context}\x04{entry.msgid}"
        if entry.plural is None:
            assert compiled.get(key) == entry.translations[0], (locale, entry.msgid)
        else:
            for index, text in enumerate(entry.translations):
                assert compiled.get((key, index)) == text, (locale, entry.msgid, index)
    assert po.with_suffix(".mo").stat().st_size > 0, "run: scripts/messages compile"


def test_the_catalogues_hold_exactly_the_strings_marked_today(tmp_path, settings, monkeypatch):
    if shutil.which("xgettext") is None:
        pytest.fail("xgettext is missing: install gettext (scripts/install-system-deps.sh)")
    copy = tmp_path / "postroom"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    settings.LOCALE_PATHS = [copy / "locale"]
    monkeypatch.chdir(copy)
    call_command(
        "makemessages",
        locale=SHIPPED,
        no_location=True,
        no_obsolete=True,
        ignore_patterns=["testing/*", "migrations/*"],
        verbosity=0,
    )
    for locale in SHIPPED:
        marked = set(messages(catalogue(locale, copy)))
        shipped = set(messages(catalogue(locale)))
        assert not marked - shipped, (
            f"{locale}: new strings, run scripts/messages: {marked - shipped}"
        )
        assert not shipped - marked, f"{locale}: strings no longer used: {shipped - marked}"
