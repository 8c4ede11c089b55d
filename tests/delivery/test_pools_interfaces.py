"""A pool of senders as the CLI and the API take it: additive to `--sender` and `sender`."""

import json

import pytest
from django.urls import reverse

from postroom.api.models import ApiToken
from postroom.audience.models import MailingList
from postroom.campaigns import pools
from postroom.campaigns.models import Campaign, CampaignSender
from postroom.cli import main
from postroom.delivery import control
from postroom.delivery.capacity import sender_report
from postroom.delivery.models import Sender
from tests.delivery.helpers import make_audience, make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(tmp_path):
    MailingList.objects.create(name="News")
    for name in ("relay", "backup", "spare"):
        Sender.objects.create(name=name, host="127.0.0.1", port=2525, tls="none")
    body = tmp_path / "body.md"
    body.write_text("Hello {{ subscriber.first_name }}\n", encoding="utf-8")
    return body


def create(capsys, body, *extra: str) -> tuple[int, str, str]:
    code = main(
        ["campaign", "create", "--name", "N", "--subject", "S", "--list", "News",
         "--body-file", str(body), "--from", "news@example.org", "--json", *extra]
    )  # fmt: skip
    out, err = capsys.readouterr()
    return code, out, err


def pool_of(campaign_id: int) -> list[tuple[str, int]]:
    campaign = Campaign.objects.get(pk=campaign_id)
    return [(s.name, w) for s, w in pools.members(campaign)]


def test_one_sender_flag_is_the_campaign_s_sender_as_before(capsys, setup):
    code, out, err = create(capsys, setup, "--sender", "relay")
    campaign = Campaign.objects.get(pk=json.loads(out)["id"])
    assert (code, err, campaign.sender.name) == (0, "", "relay")
    assert not CampaignSender.objects.exists()


def test_repeated_sender_flags_and_the_pool_flag_make_a_weighted_pool(capsys, setup):
    _, out, _ = create(capsys, setup, "--sender", "relay:2", "--sender", "backup")
    assert pool_of(json.loads(out)["id"]) == [("relay", 2), ("backup", 1)]
    _, out, _ = create(capsys, setup, "--pool", "backup:1,spare:3")
    campaign_id = json.loads(out)["id"]
    assert pool_of(campaign_id) == [("backup", 1), ("spare", 3)]  # the primary first
    assert main(["campaign", "show", str(campaign_id), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["sender"] == "backup"
    assert shown["pool"] == [{"sender": "backup", "weight": 1}, {"sender": "spare", "weight": 3}]


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        (
            ["--sender", "relay", "--sender", "nobody:2"],
            "postroom: sender 'nobody' does not exist\n",
        ),
        (["--pool", "relay:2,relay"], "postroom: sender 'relay' is in the pool twice\n"),
        (["--sender", "relay:0"], "postroom: sender 'relay': the weight must be from 1 to 1000\n"),
    ],
)
def test_a_bad_pool_is_one_line_and_creates_nothing(capsys, setup, flags, error):
    code, _, err = create(capsys, setup, *flags)
    assert (code, err) == (1, error)
    assert not Campaign.objects.exists()


def test_the_api_takes_a_pool_field_beside_sender(client, owner, setup):
    _, secret = ApiToken.issue(owner, "tests")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    base = {
        "name": "N",
        "subject": "S",
        "body": "Hi",
        "lists": ["News"],
        "from_email": "n@example.org",
    }
    response = client.post(
        "/api/campaigns",
        {**base, "pool": [{"sender": "relay", "weight": 3}, {"sender": "backup"}]},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["sender"] == "relay"
    assert data["pool"] == [{"sender": "relay", "weight": 3}, {"sender": "backup", "weight": 1}]

    alone = client.post(
        "/api/campaigns", {**base, "sender": "spare"}, content_type="application/json"
    ).json()
    assert alone["pool"] == [{"sender": "spare", "weight": 1}]

    refused = client.post(
        "/api/campaigns",
        {**base, "pool": [{"sender": "relay", "weight": 0}]},
        content_type="application/json",
    )
    assert refused.status_code == 422  # the schema's own check: 1 to 1000
    unknown = client.post(
        "/api/campaigns",
        {**base, "pool": [{"sender": "relay"}, {"sender": "nobody"}]},
        content_type="application/json",
    )
    assert unknown.status_code == 404 and "nobody" in unknown.json()["detail"]
    assert Campaign.objects.count() == 2


def editor_data(**overrides) -> dict:
    news = MailingList.objects.get(name="News")
    data = {
        "name": "Autumn",
        "subject": "Autumn",
        "from_email": "news@example.org",
        "body_format": "markdown",
        "body": "Hello",
        "lists": [news.pk],
        "priority": "1",
        "in_doubt_policy": "hold",
    }
    return {**data, **overrides}


def weight(name: str) -> str:
    return f"pool_{Sender.objects.get(name=name).pk}"


def test_the_editor_picks_senders_and_weights(owner_client, setup):
    relay = Sender.objects.get(name="relay")
    response = owner_client.post(
        reverse("campaign_new"),
        editor_data(sender=relay.pk, **{weight("relay"): "2", weight("spare"): "1"}),
    )
    assert response.status_code == 302, response.content
    campaign = Campaign.objects.get(name="Autumn")
    assert pool_of(campaign.pk) == [("relay", 2), ("spare", 1)]

    page = owner_client.get(reverse("campaign_edit", args=[campaign.pk])).content.decode()
    assert f'name="{weight("relay")}" value="2"' in page
    assert f'name="{weight("backup")}" value="0"' in page
    detail = owner_client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert "relay <span" in detail and "weight 2, main" in detail

    # Weights without a main sender are refused, and nothing changes.
    refused = owner_client.post(
        reverse("campaign_edit", args=[campaign.pk]),
        editor_data(sender="", **{weight("backup"): "3"}),
    )
    assert refused.status_code == 200 and "Pick the main sender" in refused.content.decode()
    assert pool_of(campaign.pk) == [("relay", 2), ("spare", 1)]

    # All weights cleared but the main one: a campaign with one sender, as before pools.
    owner_client.post(reverse("campaign_edit", args=[campaign.pk]), editor_data(sender=relay.pk))
    assert pool_of(campaign.pk) == [("relay", 1)]
    assert not CampaignSender.objects.exists()


def test_an_outsider_cannot_set_a_pool(client, outsider, setup):
    client.force_login(outsider)
    relay = Sender.objects.get(name="relay")
    response = client.post(
        reverse("campaign_new"), editor_data(sender=relay.pk, **{weight("spare"): "1"})
    )
    assert response.status_code == 403
    assert not Campaign.objects.exists()


def test_the_capacity_report_lists_pooled_campaigns_on_each_sender(setup):
    relay, backup = Sender.objects.get(name="relay"), Sender.objects.get(name="backup")
    campaign = make_campaign(make_audience(40, list_name="Forty"), sender=relay)
    pools.save(campaign, [(relay, 3), (backup, 1)], new_primary=True)
    solo = make_campaign(make_audience(10, list_name="Ten"), sender=backup, name="Solo")
    control.start(campaign)
    control.start(solo)

    on_backup = {c["name"]: c for c in sender_report(backup)["campaigns"]}
    on_relay = {c["name"]: c for c in sender_report(relay)["campaigns"]}
    assert on_backup["Spring news"]["pool"] == {
        "weight": 1, "senders": 2, "part": 0.25, "sent_here": 0
    }  # fmt: skip
    assert on_backup["Spring news"]["backlog"] == 10  # a quarter of 40
    assert on_backup["Solo"]["pool"] is None and on_backup["Solo"]["backlog"] == 10
    assert on_relay["Spring news"]["backlog"] == 30
    assert set(on_relay) == {"Spring news"}

    Sender.objects.filter(pk=backup.pk).update(failing_since="2026-01-01T00:00:00Z")
    on_relay = {c["name"]: c for c in sender_report(relay)["campaigns"]}
    assert on_relay["Spring news"]["backlog"] == 40  # the backup is down: all of it here
    assert on_relay["Spring news"]["pool"]["part"] == 1.0
