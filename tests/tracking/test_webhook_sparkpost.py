"""SparkPost's event webhooks (a batch of msys events), behind Basic authentication."""

import base64
import json

import pytest

from postroom.tracking.models import Bounce
from tests.tracking.test_bounces import suppression
from tests.tracking.webhooks import nothing_recorded, post, sample

SECRET = "sp-secret-77"


@pytest.fixture(autouse=True)
def token(settings):
    settings.POSTROOM_SPARKPOST_WEBHOOK_TOKEN = SECRET


def basic(password: str = SECRET) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"sparkpost:{password}".encode()).decode()}


def test_the_documented_batch_suppresses_the_bounced_and_the_complainer(client, campaign, ann):
    body = sample("sparkpost_events", RCPT=ann.email, OTHER="bob@example.com")

    response = post(client, "sparkpost", body, **basic())

    assert response.status_code == 200, response.content
    assert (response.json()["messages"], response.json()["hard"]) == (2, 1)  # delivery ignored
    bounce = Bounce.objects.get(email=ann.email)
    assert bounce.reason == "000 Example Remote MTA Bounce Message (bounce class 10)"
    assert bounce.status == "5.0.0"
    assert suppression(ann.email) == "bounced"
    assert suppression("bob@example.com") == "complained"


def test_a_block_is_not_the_addresss_fault(client, campaign, ann):
    batch = json.loads(sample("sparkpost_events", RCPT=ann.email))
    batch[0]["msys"]["message_event"]["bounce_class"] = "51"  # blocked: spam block

    post(client, "sparkpost", json.dumps(batch[:1]), **basic())

    assert Bounce.objects.get().kind == "soft"
    assert suppression(ann.email) is None


def test_the_test_ping_is_accepted_and_records_nothing(client, db):
    response = post(client, "sparkpost", '[{"msys": {}}]', **basic())

    assert response.status_code == 200
    assert nothing_recorded()


@pytest.mark.parametrize("headers", [{}, basic("wrong")])
def test_a_request_without_the_secret_is_refused(client, db, headers):
    response = post(
        client, "sparkpost", sample("sparkpost_events", RCPT="c@example.com"), **headers
    )

    assert response.status_code == 403
    assert nothing_recorded()
