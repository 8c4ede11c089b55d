"""Fixtures shared by every test: the cast of users, a shareable test database.

The suite runs on SQLite by default and on PostgreSQL when DATABASE_URL points
at one (`python -m tests` runs both, starting a throwaway cluster itself).
"""

import os
import subprocess
import sys
import urllib.parse

import pytest


@pytest.fixture(scope="session")
def django_db_modify_db_settings(tmp_path_factory):
    """Keep the SQLite test database in a file, so worker subprocesses can open it too."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")


def test_database_url() -> str:
    """A DATABASE_URL for the test database, for subprocesses (workers, CLI)."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    host = urllib.parse.quote(db["HOST"], safe="")
    return f"postgresql://{db['USER']}@{host}/{db['NAME']}"


@pytest.fixture(scope="session", autouse=True)
def journal_dir(tmp_path_factory):
    """Workers' journals (delivery.journal) in one folder per session, shared by worker
    subprocesses as by workers on one machine; never in the repository's var/."""
    from django.conf import settings

    path = tmp_path_factory.mktemp("journal")
    settings.POSTROOM_JOURNAL_DIR = path
    os.environ["POSTROOM_JOURNAL_DIR"] = str(path)
    return path


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the installation's language: Django's LocaleMiddleware leaves
    the last request's language active in the thread, and the next test (a page
    rendered without a request, an email) would be written in it."""
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture(scope="session", autouse=True)
def outbound_to_loopback():
    """The tests' webhook receivers and feeds listen on 127.0.0.1, which a real
    installation may not reach unless its operator allows it (postroom.outbound)."""
    import ipaddress

    from django.conf import settings

    settings.POSTROOM_OUTBOUND_ALLOW = [ipaddress.ip_network("127.0.0.1/32")]
    os.environ["POSTROOM_OUTBOUND_ALLOW"] = "127.0.0.1/32"


@pytest.fixture
def subprocess_env(transactional_db, tmp_path) -> dict[str, str]:
    """Environment for a `postroom` subprocess that shares this test's database."""
    from django.conf import settings

    env = dict(os.environ)
    env["DATABASE_URL"] = test_database_url()
    env["SECRET_KEY"] = settings.SECRET_KEY
    env["POSTROOM_DATA_DIR"] = str(tmp_path / "var")
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


@pytest.fixture
def run_cli(tmp_path):
    """Run `postroom ARGS...` as a subprocess; returns the CompletedProcess (text output).

    Without `env`, it gets a private data directory and the default SQLite file in it;
    pass `subprocess_env` to share this test's database.
    """

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60, **kwargs):
        if env is None:
            env = {**os.environ, "POSTROOM_DATA_DIR": str(tmp_path / "cli-var")}
            env.pop("DATABASE_URL", None)
        return subprocess.run(
            [sys.executable, "-m", "postroom.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=kwargs.pop("stdin", subprocess.DEVNULL),
            **kwargs,
        )

    return run


@pytest.fixture
def make_user(django_user_model):
    """make_user("ed", Role.EDITOR): an active staff user with that role."""
    from postroom.accounts.models import Profile

    def make(username: str, role, password: str = "a long test passphrase"):
        user = django_user_model.objects.create_user(
            username, f"{username}@example.org", password, is_staff=True
        )
        Profile.objects.create(user=user, role=role)
        return user

    return make


@pytest.fixture
def media_dir(settings, tmp_path):
    """The media library's files in a folder of this test's (the local storage, as by default)."""
    folder = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "media": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": folder},
        },
    }
    return folder


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_superuser("owner", "owner@example.org", "pw-owner-1")


@pytest.fixture
def teammate(django_user_model):
    return django_user_model.objects.create_user(
        "teammate", "teammate@example.org", "pw-teammate-1", is_staff=True
    )


@pytest.fixture
def outsider(django_user_model):
    """A logged-in user who should have no access to the admin."""
    return django_user_model.objects.create_user("outsider", "outsider@example.org", "pw-out-1")


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture(autouse=True)
def _fresh_scheduler_memory():
    """The scheduler remembers full senders per process; a rolled-back test must not leak it."""
    from postroom.delivery import scheduler

    scheduler.forget()
    yield
    scheduler.forget()


@pytest.fixture(scope="session")
def dovecot():
    """A real Dovecot (IMAP, POP3, each with and without TLS) for the whole session, like
    the PostgreSQL cluster: its own config, users and certificate in a temporary folder."""
    from postroom.testing.dovecot import DovecotServer

    with DovecotServer() as server:
        yield server


@pytest.fixture
def mail_account(dovecot, settings):
    """A fresh Dovecot account for one test, its certificate trusted like a private CA's."""
    settings.POSTROOM_TLS_CA_FILE = str(dovecot.cert_path)
    return dovecot.new_account()
