"""`postroom import` and `postroom export` as scripts use them: flags, JSON keys, exit codes."""

import json
import subprocess
import sys

import pytest

from postroom.audience.models import MailingList, Subscriber
from postroom.imports.models import Import
from tests.data import DATA
from tests.imports.conftest import write

pytestmark = pytest.mark.django_db(transaction=True)


def postroom(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "postroom.cli", *args], env=env, capture_output=True, text=True
    )


def test_import_prints_the_json_summary_and_writes_the_rejects(subprocess_env, tmp_path):
    MailingList.objects.create(name="News")
    rejects = tmp_path / "rejects.csv"
    result = postroom(
        subprocess_env,
        "import",
        str(DATA / "contacts-2100-semicolon.csv"),
        "--list",
        "News",
        "--json",
        "--rejects",
        str(rejects),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert {
        k: summary[k] for k in ("rows", "created", "updated", "unchanged", "duplicates", "rejected")
    } == {
        "rows": 2100,
        "created": 2073,
        "updated": 0,
        "unchanged": 0,
        "duplicates": 5,
        "rejected": 22,
    }
    assert result.stderr == ""  # no progress bar when stderr is not a terminal
    lines = rejects.read_text().splitlines()
    # The file's own columns, then line and reason; the 5 duplicates are listed too.
    assert lines[0] == "email,first_name,last_name,city,plan,signup_date,line,reason"
    assert len(lines) == 1 + 22 + 5
    assert Subscriber.objects.count() == 2073


def test_a_dry_run_writes_nothing_at_all(subprocess_env):
    MailingList.objects.create(name="News")
    result = postroom(
        subprocess_env,
        "import",
        str(DATA / "contacts-500-excel-cp1252.csv"),
        "--list",
        "News",
        "--dry-run",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["created"] == 491
    assert (Subscriber.objects.count(), Import.objects.count()) == (0, 0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "postroom: the file is empty\n"),
        (
            b"PK\x03\x04rest-of-a-zip",
            "postroom: this file starts like a ZIP archive or a spreadsheet but cannot be opened",
        ),
        (b"name,city\nJane,Berlin\n", "postroom: no email column"),
    ],
)
def test_a_file_refused_as_a_whole_exits_non_zero_with_one_line(
    subprocess_env, tmp_path, content, message
):
    MailingList.objects.create(name="News")
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    result = postroom(subprocess_env, "import", str(path), "--list", "News")
    assert result.returncode == 1
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert (Subscriber.objects.count(), Import.objects.count()) == (0, 0)


def test_overrides_on_the_command_line(subprocess_env, tmp_path):
    MailingList.objects.create(name="News")
    path = write(tmp_path, "Adresse|Wer\njane@example.com|Jane\n", encoding="utf-16")
    result = postroom(
        subprocess_env,
        "import",
        str(path),
        "--list",
        "News",
        "--delimiter",
        "|",
        "--encoding",
        "utf-16",
        "--map",
        "Adresse=email",
        "--map",
        "Wer=name",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert Subscriber.objects.get().name == "Jane"


def test_export_writes_a_list_as_csv(subprocess_env, tmp_path):
    MailingList.objects.create(name="News")
    postroom(
        subprocess_env,
        "import",
        str(write(tmp_path, "email,city\na@example.com,=1+1\n")),
        "--list",
        "News",
    )
    out = tmp_path / "out.csv"
    result = postroom(subprocess_env, "export", "--list", "News", "--out", str(out))
    assert result.returncode == 0, result.stderr
    header, row = out.read_text().splitlines()
    assert header == "email,name,status,created_at,lists,city"
    assert row.startswith("a@example.com,,active,") and row.endswith(",News,'=1+1")
    assert (
        postroom(subprocess_env, "export", "--list", "Nope").stderr
        == "postroom: no list named 'Nope'\n"
    )


def test_imports_resume_finishes_an_interrupted_import(subprocess_env, monkeypatch):
    from postroom.imports import pipeline, services

    MailingList.objects.create(name="News")
    monkeypatch.setattr(pipeline, "BATCH", 700)
    imp = services.prepare(DATA / "contacts-2100-semicolon.csv", lists=["News"])
    services.start(imp)

    def crash(progress_imp):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        services.execute(services.claim(imp.pk), progress=crash)
    result = postroom(subprocess_env, "imports", "resume", str(imp.pk), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["rows"], summary["created"], summary["rejected"]) == (2100, 2073, 22)
    listing = json.loads(postroom(subprocess_env, "imports", "list", "--json").stdout)
    assert listing[0]["status"] == "finished"


def test_import_says_what_it_recognised_and_keeps_its_json_keys(subprocess_env):
    news = MailingList.objects.create(name="News")
    path = DATA / "exports" / "mailchimp" / "unsubscribed_members_export_4f1c8e2a9b.csv"
    dry = postroom(subprocess_env, "import", str(path), "--list", "News", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith(
        "Mailchimp unsubscribed export: 20 people will be imported as unsubscribed\n"
    )
    result = postroom(subprocess_env, "import", str(path), "--list", "News", "--json")
    summary = json.loads(result.stdout)
    assert {k: summary[k] for k in ("rows", "created", "rejected")} == {
        "rows": 20,
        "created": 20,
        "rejected": 0,
    }
    assert summary["states"] == {"unsubscribed": 20}
    assert not news.subscriptions.exclude(status="unsubscribed").exists()


def test_import_refuses_a_file_of_leavers_without_a_status_and_takes_one(subprocess_env, tmp_path):
    MailingList.objects.create(name="News")
    path = write(tmp_path, "email\nann@example.com\n", name="cleaned-addresses.csv")
    refused = postroom(subprocess_env, "import", str(path), "--list", "News")
    assert refused.returncode == 1
    assert refused.stderr.startswith("postroom: its name 'cleaned-addresses.csv' suggests")
    assert "Traceback" not in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert (Import.objects.count(), Subscriber.objects.count()) == (0, 0)
    taken = postroom(subprocess_env, "import", str(path), "--list", "News", "--status", "bounced")
    assert taken.returncode == 0, taken.stderr
    assert "1 person was imported as bounced (suppressed)" in taken.stdout


def test_the_override_flag_is_kept_with_the_import_and_names_the_command_line(
    subprocess_env, tmp_path
):
    from postroom.audience.services import add_subscriber, unsubscribe

    news = MailingList.objects.create(name="News")
    unsubscribe(add_subscriber("ann@example.com", lists=[news]), [news])
    path = write(tmp_path, "email\nann@example.com\n")
    result = postroom(
        subprocess_env, "import", str(path), "--list", "News", "--resubscribe-unsubscribed"
    )
    assert result.returncode == 0, result.stderr
    imp = Import.objects.get()
    assert imp.resubscribe and imp.resubscribe_by.startswith("command line (")
    assert imp.resubscribed == 1
    assert news.subscriptions.get().status == "confirmed"
