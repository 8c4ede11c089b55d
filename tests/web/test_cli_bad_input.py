"""Bad input on the command line: one line on stderr, a non-zero exit, and nothing changed."""

import os
import subprocess
import sys

import pytest

from postroom.api.models import ApiToken
from postroom.audience.emails import email_hash
from postroom.audience.models import MailingList, Subscriber
from postroom.campaigns.models import Campaign
from postroom.cli import EXIT_BROKEN_PIPE, main
from postroom.delivery.models import RateLimit, Sender
from postroom.imports.models import Import
from postroom.tracking.models import Bounce

HUGE = "99999999999999999999999"


def run(capsys, *argv: str) -> tuple[int, str]:
    """`postroom ARGV` in this process: (exit code, stderr)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse refusing an argument
        code = exc.code
    return code, capsys.readouterr().err


def assert_refused(code: int, err: str, *fragments: str) -> None:
    assert code not in (0, None)
    assert err.count("\n") == 1 and err.startswith("postroom: "), err
    assert "Traceback" not in err and "unexpected" not in err, err
    for fragment in fragments:
        assert fragment in err


@pytest.fixture
def news(db) -> MailingList:
    return MailingList.objects.create(name="news")


@pytest.mark.django_db
@pytest.mark.parametrize("rate", [f"{HUGE}/second", "2147483648/day"])
def test_a_rate_too_big_to_store_is_refused_and_no_sender_is_added(capsys, rate):
    code, err = run(capsys, "sender", "add", "s", "--host", "127.0.0.1", "--port", "25",
                    "--rate", rate)  # fmt: skip
    assert_refused(code, err, "at most 2,147,483,647 messages")
    assert not Sender.objects.exists() and not RateLimit.objects.exists()


@pytest.mark.parametrize("priority", ["-99999999999999999999", "32768", "-1"])
def test_a_priority_the_database_cannot_hold_is_refused_and_no_campaign_is_made(
    capsys, news, tmp_path, priority
):
    body = tmp_path / "body.md"
    body.write_text("Hello")
    code, err = run(capsys, "campaign", "create", "--name", "N", "--subject", "S", "--list",
                    "news", "--body-file", str(body), "--priority", priority)  # fmt: skip
    assert_refused(code, err, "priority must be between 0 and 32,767")
    assert not Campaign.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "argv",
    [
        ["campaign", "status", HUGE],
        ["campaign", "cancel", HUGE, "--yes"],
        ["campaign", "deliveries", HUGE],
        ["sender", "test", HUGE],
        ["imports", "report", HUGE],
        ["imports", "resume", HUGE],
        ["token", "revoke", HUGE],
    ],
)
def test_an_id_too_big_for_any_row_is_one_line(capsys, argv):
    code, err = run(capsys, *argv)
    assert_refused(code, err)
    assert "does not exist" in err or "is not an ID" in err


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["bounces", "list", "--limit", HUGE], "is not between 0 and"),
        (["subscribers", "list", "--limit", "-1"], "is not between 0 and"),
        (["sender", "add", "s", "--host", "h", "--port", "70000"], "is not between 1 and 65,535"),
        (["sender", "add", "s", "--host", "h", "--port", "25x"], "is not a whole number"),
    ],
)
def test_a_count_or_port_out_of_range_is_refused_before_anything_runs(capsys, argv, expected):
    code, err = run(capsys, *argv)
    assert code == 2
    assert_refused(code, err, expected)
    assert not Sender.objects.exists()


def test_import_refuses_a_rejects_file_it_could_not_write_before_importing(capsys, news, tmp_path):
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("email\nann@example.com\nnot-an-address\n")
    missing = tmp_path / "no" / "such" / "x.csv"
    code, err = run(capsys, "import", str(contacts), "--list", "news", "--rejects", str(missing))
    assert_refused(code, err, "does not exist")
    assert not Subscriber.objects.exists() and not Import.objects.exists()

    code, err = run(capsys, "import", str(contacts), "--list", "news", "--rejects", str(tmp_path))
    assert_refused(code, err, "is a folder")
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize("url", ["sqlite:///", "sqlite://:memory:", "sqlite:///:memory:"])
def test_an_in_memory_database_is_refused_instead_of_migrated(run_cli, tmp_path, url):
    env = {**os.environ, "POSTROOM_DATA_DIR": str(tmp_path / "var"), "DATABASE_URL": url}
    result = run_cli("migrate", env=env)
    assert_refused(result.returncode, result.stderr, "in-memory", "sqlite:///ABSOLUTE/PATH")
    assert "Applying" not in result.stdout


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_reader_that_goes_away_stops_the_listing_quietly(subprocess_env):
    # Far more than a pipe buffer (64 KiB), so the command is still writing when `head` leaves.
    emails = [f"reader-{i:05d}@example.com" for i in range(6000)]
    Subscriber.objects.bulk_create(Subscriber(email=e, email_hash=email_hash(e)) for e in emails)
    listing = subprocess.Popen(
        [sys.executable, "-m", "postroom.cli", "subscribers", "list"],
        env=subprocess_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = listing.stdout.readline()
    listing.stdout.close()  # what `| head -1` does after its line
    _, err = listing.communicate(timeout=60)
    assert first.startswith(b"reader-")
    assert err == b""
    assert listing.returncode == EXIT_BROKEN_PIPE


@pytest.mark.django_db(transaction=True)
def test_a_binary_file_given_to_bounces_ingest_is_one_line(run_cli, subprocess_env, tmp_path):
    binary = tmp_path / "photo.jpg"
    binary.write_bytes(bytes(range(256)) * 40)
    result = run_cli("bounces", "ingest", str(binary), env=subprocess_env)
    assert_refused(result.returncode, result.stderr, "photo.jpg is not an email message")
    result = run_cli("bounces", "ingest", "-", env=subprocess_env, stdin=binary.open("rb"))
    assert_refused(result.returncode, result.stderr, "standard input is not an email message")
    assert not Bounce.objects.exists()


def test_an_unknown_flag_is_one_line_not_a_usage_dump(capsys):
    code, err = run(capsys, "lists", "add", "news", "--optin", "triple")
    assert code == 2
    assert_refused(code, err, "invalid choice: 'triple'", "see postroom lists add --help")


@pytest.mark.django_db
def test_a_valid_token_id_is_still_accepted(capsys, owner):
    token, _ = ApiToken.issue(owner, "scripts")
    assert run(capsys, "token", "revoke", str(token.pk))[0] == 0
    assert not ApiToken.objects.exists()
