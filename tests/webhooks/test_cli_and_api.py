"""`postroom webhook …` and /api/webhooks: the same functions, secrets shown only once."""

import json

import pytest

from postroom.api.models import ApiToken
from postroom.cli import main
from postroom.webhooks.models import Endpoint, WebhookDelivery
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_adds_tests_logs_and_edits_an_endpoint(capsys, settings):
    settings.POSTROOM_WEBHOOK_TIMEOUT_SECONDS = 1
    with Receiver(["500"]) as receiver:
        code, out, err = run(
            capsys, "webhook", "add", "CRM", "--url", receiver.url,
            "--event", "subscriber.created", "--event", "campaign.finished", "--json",
        )  # fmt: skip
        assert code == 0, err
        added = json.loads(out)
        assert added["secret"] == Endpoint.objects.get().secret
        assert added["events"] == ["subscriber.created", "campaign.finished"]
        failed = run(capsys, "webhook", "test", "CRM")
        delivered = run(capsys, "webhook", "test", "CRM")
    assert failed[0] == 1 and "failed: HTTP 500" in failed[1]
    assert delivered == (0, "delivered: HTTP 200\n", "")
    log = run(capsys, "webhook", "log", "CRM")[1]
    assert "webhook.test" in log and "1 attempt(s): 500" in log and "delivered" in log
    listed = run(capsys, "webhook", "list", "--json")[1]
    assert added["secret"] not in listed
    assert run(capsys, "webhook", "edit", "CRM", "--disable")[0] == 0
    assert Endpoint.objects.get().active is False
    new = json.loads(run(capsys, "webhook", "rotate-secret", "CRM", "--json")[1])["secret"]
    assert new != added["secret"] and new == Endpoint.objects.get().secret


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--url", "ftp://x.example/h", "--event", "import.finished"], "is not an http(s) URL"),
        (["--url", "https://u:p@x.example/h", "--event", "import.finished"], "no user or password"),
        (["--url", "https://x.example/h"], "choose at least one event"),
        (["--url", "https://x.example/h", "--event", "subscriber.eaten"], "unknown event"),
    ],
)
def test_bad_endpoints_are_one_line_and_change_nothing(capsys, argv, message):
    code, _, err = run(capsys, "webhook", "add", "CRM", *argv)
    assert code == 1 and message in err and err.count("\n") == 1
    assert not Endpoint.objects.exists()


def test_the_api_manages_endpoints_and_shows_the_log(client, owner, settings):
    settings.POSTROOM_WEBHOOK_TIMEOUT_SECONDS = 1
    _, token = ApiToken.issue(owner, "tests")
    auth = {"authorization": f"Bearer {token}"}
    with Receiver() as receiver:
        created = client.post(
            "/api/webhooks",
            {"name": "CRM", "url": receiver.url, "events": ["import.finished"]},
            content_type="application/json",
            headers=auth,
        )
        assert created.status_code == 201, created.content
        endpoint = created.json()
        assert endpoint["secret"].startswith("whsec_")
        tested = client.post(f"/api/webhooks/{endpoint['id']}/test", headers=auth).json()
        assert (tested["state"], tested["last_status"]) == ("delivered", 200)
    listed = client.get("/api/webhooks", headers=auth).json()
    assert "secret" not in listed[0]
    changed = client.patch(
        f"/api/webhooks/{endpoint['id']}",
        {"events": ["subscriber.created"], "active": False},
        content_type="application/json",
        headers=auth,
    ).json()
    assert (changed["events"], changed["active"]) == (["subscriber.created"], False)
    log = client.get(f"/api/webhooks/{endpoint['id']}/deliveries", headers=auth).json()
    assert log[0]["log"][0]["status"] == 200
    bad = client.post(
        "/api/webhooks",
        {"name": "X", "url": "nope", "events": ["import.finished"]},
        content_type="application/json",
        headers=auth,
    )
    assert bad.status_code == 400 and "is not an http(s) URL" in bad.json()["detail"]
    assert client.get("/api/webhooks/999", headers=auth).status_code == 404
    assert client.delete(f"/api/webhooks/{endpoint['id']}", headers=auth).status_code == 204
    assert not WebhookDelivery.objects.exists()
    assert client.get("/api/webhooks").status_code == 401
