"""Helpers of the provider webhook tests: documented sample payloads, filled in, posted."""

from pathlib import Path
from string import Template

from postroom.tracking.models import Bounce

SAMPLES = Path(__file__).parent / "provider_samples"


def sample(name: str, **values: str) -> str:
    """A provider's documented sample payload with our recipient (and Message-ID) in it."""
    values.setdefault("MESSAGE_ID", "<nothing@example.org>")
    values.setdefault("BARE_MESSAGE_ID", values["MESSAGE_ID"].strip("<>"))
    values.setdefault("OTHER", "someone-else@example.net")
    return Template((SAMPLES / f"{name}.json").read_text()).safe_substitute(values)


def post(client, provider: str, body: str | bytes, **headers: str):
    return client.post(
        f"/webhooks/{provider}", data=body, content_type="application/json", headers=headers
    )


def nothing_recorded() -> bool:
    return not Bounce.objects.exists()
