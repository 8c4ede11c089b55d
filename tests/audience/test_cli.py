"""The audience commands: names, flags and JSON keys scripts rely on."""

import json
import subprocess
import sys

import pytest

from postroom.audience.models import MailingList, Segment, Subscriber, Suppression
from postroom.cli import main

pytestmark = pytest.mark.django_db


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_lists_add_and_list(capsys):
    created = run_json(capsys, "lists", "add", "news", "--optin", "double", "--public")
    assert created["name"] == "news"
    assert created["optin"] == "double"
    assert created["visibility"] == "public"
    listed = run_json(capsys, "lists", "list")
    assert [row["name"] for row in listed] == ["news"]
    assert listed[0]["counts"] == {"unconfirmed": 0, "confirmed": 0, "unsubscribed": 0}


def test_a_duplicate_list_is_one_line_on_stderr(capsys):
    run(capsys, "lists", "add", "news")
    code, _, err = run(capsys, "lists", "add", "news")
    assert code == 1
    assert err == "postroom: a list named 'news' already exists\n"


def test_subscribers_add_with_lists_attributes_and_tags(capsys):
    run(capsys, "lists", "add", "news")
    data = run_json(
        capsys,
        "subscribers", "add", " Ann@Example.COM ", "--name", "Ann", "--list", "news",
        "--attr", "age=30", "--attr", "plan=pro", "--tag", "vip",
    )  # fmt: skip
    assert data["email"] == "ann@example.com"
    assert data["attributes"] == {"age": 30, "plan": "pro"}
    assert data["lists"] == ["news"]
    assert data["tags"] == ["vip"]
    detail = run_json(capsys, "subscribers", "get", "ANN@example.com")
    assert detail["subscriptions"][0]["consent_source"] == "admin"
    assert detail["subscriptions"][0]["status"] == "confirmed"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["subscribers", "add", "nobody"], "is not a valid email address"),
        (["subscribers", "add", "a@example.com", "--list", "nope"], "no list named 'nope'"),
        (["subscribers", "add", "a@example.com", "--attr", "novalue"], "KEY=VALUE"),
    ],
)
def test_bad_input_to_subscribers_add_changes_nothing(capsys, argv, message):
    run(capsys, "lists", "add", "news")
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert message in err
    assert err.count("\n") == 1
    assert not Subscriber.objects.exists()


def test_subscribers_list_filters_by_list_segment_and_status(capsys):
    run(capsys, "lists", "add", "news")
    run(capsys, "lists", "add", "other")
    run(capsys, "subscribers", "add", "a@example.com", "--list", "news", "--attr", "n=1")
    run(capsys, "subscribers", "add", "b@example.com", "--list", "news", "--attr", "n=5")
    run(capsys, "subscribers", "add", "c@example.com", "--list", "other")
    rows = run_json(capsys, "subscribers", "list", "--list", "news")
    assert [r["email"] for r in rows] == ["a@example.com", "b@example.com"]
    assert set(rows[0]) >= {"email", "name", "status", "attributes", "lists", "created_at"}
    run(
        capsys,
        "segments",
        "add",
        "big",
        "--definition",
        '{"field": "attributes.n", "op": "gt", "value": 2}',
    )
    assert [r["email"] for r in run_json(capsys, "subscribers", "list", "--segment", "big")] == [
        "b@example.com"
    ]
    assert run_json(capsys, "segments", "count", "big") == {"name": "big", "count": 1}
    run(capsys, "subscribers", "blocklist", "c@example.com")
    blocked = run_json(capsys, "subscribers", "list", "--status", "blocklisted")
    assert [r["email"] for r in blocked] == ["c@example.com"]
    assert len(run_json(capsys, "subscribers", "list", "--limit", "1")) == 1
    code, _, err = run(capsys, "subscribers", "list", "--list", "nope")
    assert code == 1 and "no list named 'nope'" in err


def test_a_malformed_segment_is_refused_and_not_saved(capsys):
    code, _, err = run(
        capsys,
        "segments",
        "add",
        "bad",
        "--definition",
        '{"all": [{"field": "status", "op": "like"}]}',
    )
    assert code == 1
    assert "condition 1: unknown operator 'like'" in err
    code, _, err = run(capsys, "segments", "add", "bad", "--definition", "{nope")
    assert "not valid JSON" in err
    assert not Segment.objects.exists()


def test_delete_needs_yes_and_keeps_an_unsubscribe(capsys):
    run(capsys, "lists", "add", "news")
    run(capsys, "subscribers", "add", "a@example.com", "--list", "news")
    run(capsys, "subscribers", "unsubscribe", "a@example.com")
    code, _, err = run(capsys, "subscribers", "delete", "a@example.com")
    assert code == 1 and "--yes" in err
    assert Subscriber.objects.exists()
    code, out, _ = run(capsys, "subscribers", "delete", "a@example.com", "--yes")
    assert "erased a@example.com" in out
    assert code == 0
    assert not Subscriber.objects.exists()
    assert Suppression.objects.get().reason == "unsubscribed"
    code, _, err = run(capsys, "subscribers", "add", "a@example.com")
    assert code == 1 and "suppression list" in err


@pytest.mark.django_db(transaction=True)
def test_the_installed_command_speaks_json(subprocess_env):
    MailingList.objects.create(name="news")
    command = [sys.executable, "-m", "postroom.cli"]
    done = subprocess.run(
        [*command, "subscribers", "add", "z@example.com", "--list", "news", "--json"],
        env=subprocess_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        [*command, "subscribers", "list", "--list", "news", "--json"],
        env=subprocess_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert [row["email"] for row in json.loads(listed.stdout)] == ["z@example.com"]
