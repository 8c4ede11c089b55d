import json

import pytest

from postroom.webhooks import services
from postroom.webhooks.events import EVENTS
from postroom.webhooks.models import WebhookDelivery


@pytest.fixture
def hook(db):
    """An endpoint that wants every event (nothing is sent unless a test sends it)."""
    endpoint, _ = services.create_endpoint("all", "https://hooks.example/in", list(EVENTS))
    return endpoint


def sent_events() -> list[tuple[str, dict]]:
    """The events queued so far, oldest first: (type, data)."""
    return [(d.event, json.loads(d.body)["data"]) for d in WebhookDelivery.objects.order_by("pk")]
