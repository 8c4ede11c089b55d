"""`postroom campaign create|list|show|preview|test|schedule`, as scripts and operators use them."""

import email
import email.policy
import json
import subprocess
import sys

import pytest

from postroom.campaigns.models import Campaign
from postroom.cli import main
from postroom.delivery.models import Sender
from postroom.testing.smtpserver import CaptureServer


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def body_file(tmp_path):
    path = tmp_path / "body.md"
    path.write_text("# Hi {{ subscriber.first_name }}\n\nNews.\n", encoding="utf-8")
    return path


def create(capsys, body_file, *extra: str) -> int:
    code, out, err = run(
        capsys, "campaign", "create", "--name", "Spring", "--subject", "Hello",
        "--list", "News", "--body-file", str(body_file), "--json", *extra,
    )  # fmt: skip
    assert (code, err) == (0, "")
    return json.loads(out)["id"]


def test_create_prints_the_new_id_as_json(capsys, body_file, news):
    campaign_id = create(capsys, body_file, "--from", "news@example.org", "--priority", "3")
    campaign = Campaign.objects.get(pk=campaign_id)
    assert (campaign.name, campaign.from_email, campaign.priority) == (
        "Spring",
        "news@example.org",
        3,
    )
    assert list(campaign.lists.values_list("name", flat=True)) == ["News"]


def test_create_refuses_a_broken_template_with_its_line(capsys, tmp_path, news):
    body = tmp_path / "broken.md"
    body.write_text("ok\n\n{{ subscriber.nmae }}\n")
    code, _, err = run(
        capsys, "campaign", "create", "--name", "B", "--subject", "S", "--list", "News",
        "--body-file", str(body),
    )  # fmt: skip
    assert code == 1
    assert err == "postroom: body, line 3: unknown variable 'subscriber.nmae'\n"
    assert not Campaign.objects.exists()


def test_create_names_an_unknown_list(capsys, body_file, db):
    code, _, err = run(
        capsys, "campaign", "create", "--name", "B", "--subject", "S", "--list", "Nope",
        "--body-file", str(body_file),
    )  # fmt: skip
    assert (code, err) == (1, "postroom: list 'Nope' does not exist\n")


def test_list_and_show(capsys, body_file, news, ann):
    campaign_id = create(capsys, body_file)
    code, out, _ = run(capsys, "campaign", "list", "--json")
    assert code == 0
    assert [(c["id"], c["status"]) for c in json.loads(out)] == [(campaign_id, "draft")]
    code, out, _ = run(capsys, "campaign", "show", str(campaign_id), "--json")
    shown = json.loads(out)
    assert (shown["name"], shown["lists"], shown["audience"]) == ("Spring", ["News"], 1)
    assert run(capsys, "campaign", "show", "999")[2] == "postroom: campaign 999 does not exist\n"


def test_preview_prints_a_part_for_a_subscriber(capsys, body_file, ann):
    campaign_id = create(capsys, body_file)
    code, out, _ = run(capsys, "campaign", "preview", str(campaign_id), "--email", ann.email)
    assert code == 0
    assert out.startswith("Hi Ann\n")
    code, out, _ = run(capsys, "campaign", "preview", str(campaign_id), "--part", "html")
    assert "Hi Ada</h1>" in out and out.startswith("<!DOCTYPE html>")


def test_schedule_with_a_time_zone(capsys, body_file, news):
    campaign_id = create(capsys, body_file)
    code, out, _ = run(
        capsys, "campaign", "schedule", str(campaign_id), "--at", "2099-06-01T09:00",
        "--tz", "Europe/Berlin", "--json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["send_at"] == "2099-06-01T07:00:00+00:00"
    code, _, err = run(capsys, "campaign", "schedule", str(campaign_id), "--at", "2001-01-01T00:00")
    assert code == 1 and "in the past" in err


@pytest.mark.django_db(transaction=True)
def test_a_test_send_goes_through_the_campaigns_sender(capsys, body_file, news, ann):
    with CaptureServer() as server:
        sender = Sender.objects.create(
            name="capture", host=server.host, port=server.port, tls="none"
        )
        campaign_id = create(capsys, body_file, "--sender", "capture", "--from", "n@example.org")
        code, out, _ = run(  # stderr holds the capture server's log
            capsys, "campaign", "test", str(campaign_id),
            "--to", "ann@example.com", "--to", "boss@example.net", "--json",
        )  # fmt: skip
        received = server.wait_for(2)
    assert code == 0
    assert [r["outcome"] for r in json.loads(out)] == ["accepted", "accepted"]
    by_rcpt = {m.rcpt_to[0]: m for m in received}
    assert set(by_rcpt) == {"ann@example.com", "boss@example.net"}
    message = email.message_from_bytes(by_rcpt["ann@example.com"].data, policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()
    assert text.startswith("Hi Ann")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert sender.pk


def test_the_real_command_exits_non_zero_with_one_line(subprocess_env, tmp_path):
    body = tmp_path / "b.md"
    body.write_text("{% for %}")
    result = subprocess.run(
        [sys.executable, "-m", "postroom.cli", "campaign", "create", "--name", "x",
         "--subject", "s", "--list", "Nope", "--body-file", str(body)],
        env=subprocess_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == "postroom: list 'Nope' does not exist\n"


def test_a_campaign_goes_into_the_archive_at_creation_or_later(capsys, body_file, news):
    marked = create(capsys, body_file, "--archive")
    plain = create(capsys, body_file)
    Campaign.objects.filter(pk=plain).update(status="finished")

    code, out, _ = run(capsys, "campaign", "archive", str(plain), "--json")
    assert (code, json.loads(out)) == (0, {"id": plain, "in_archive": True})
    code, out, _ = run(capsys, "campaign", "archive", str(marked), "--off")
    assert (code, out) == (0, f"campaign {marked} is out of the public archive\n")
    assert dict(Campaign.objects.values_list("pk", "in_archive")) == {plain: True, marked: False}
    shown = json.loads(run(capsys, "campaign", "show", str(plain), "--json")[1])
    assert shown["in_archive"] is True
    code, _, err = run(capsys, "campaign", "archive", "999")
    assert (code, err) == (1, "postroom: campaign 999 does not exist\n")


def test_create_with_a_send_window_shows_it_and_refuses_a_bad_one_in_one_line(
    capsys, body_file, news
):
    campaign_id = create(
        capsys, body_file, "--window", "09:00-17:00", "--window-days", "mon-fri",
        "--window-tz", "Europe/Berlin",
    )  # fmt: skip
    code, out, _ = run(capsys, "campaign", "show", str(campaign_id), "--json")
    window = json.loads(out)["window"]
    assert (window["hours"], window["days"], window["timezone"]) == (
        "09:00-17:00",
        ["mon", "tue", "wed", "thu", "fri"],
        "Europe/Berlin",
    )
    local = create(capsys, body_file, "--local-time", "09:00", "--local-date", "2027-01-04")
    shown = json.loads(run(capsys, "campaign", "show", str(local), "--json")[1])["window"]
    assert (shown["local_time"], shown["local_date"], shown["hours"]) == (
        "09:00",
        "2027-01-04",
        None,
    )
    for extra, message in [
        (["--window", "17:00-09:00"], "the window must end after it starts"),
        (["--window", "9-5"], "the window's start is HH:MM"),
        (["--window", "09:00-17:00", "--window-days", "weekdays"], "names from mon to sun"),
        (["--window", "09:00-17:00", "--local-time", "09:00"], "not both"),
        (["--window-days", "mon-fri"], "go with window hours"),
        (["--local-time", "09:00", "--window-tz", "Mars/Base"], "not a known time zone"),
        (["--local-date", "2027-01-04"], "needs the local time"),
    ]:
        code, _, err = run(
            capsys, "campaign", "create", "--name", "Bad", "--subject", "S", "--list", "News",
            "--body-file", str(body_file), *extra,
        )  # fmt: skip
        assert code == 1 and message in err and err.count("\n") == 1, (extra, err)
    assert not Campaign.objects.filter(name="Bad").exists()


def test_an_html_body_file_is_stored_cut_down_to_the_allow_list(capsys, tmp_path, news):
    body = tmp_path / "body.html"
    body.write_text('<p onmouseover="x()">Hi {{ subscriber.first_name }}</p><script>x()</script>')
    campaign_id = create(capsys, body, "--format", "html")
    assert Campaign.objects.get(pk=campaign_id).body == "<p>Hi {{ subscriber.first_name }}</p>"
