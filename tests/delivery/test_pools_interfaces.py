"""A pool of senders as the CLI and the API take it: additive to `--sender` and `sender`."""

import json

import pytest

from postroom.api.models import ApiToken
from postroom.audience.models import MailingList
from postroom.campaigns import pools
from postroom.campaigns.models import Campaign, CampaignSender
from postroom.cli import main
from postroom.delivery.models import Sender

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
    assert refused.status_code == 400
    assert "from 1 to 1000" in refused.json()["detail"]
    assert Campaign.objects.count() == 2
