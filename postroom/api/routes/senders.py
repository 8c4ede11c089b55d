"""/api/senders: SMTP profiles with their limits. Admins change them; anyone reads them.

A password is accepted on write (stored sealed, postroom.credentials) and never
returned: answers say only `password_set`, and the variable's name for one
given as `password_env`.
"""

from typing import Annotated, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from postroom.api.errors import errors
from postroom.api.fields import WHOLE, Body, Key
from postroom.delivery import senders

router = Router(tags=["senders"])


class SenderFields(Body):
    name: str | None = None
    host: str | None = None
    port: Annotated[int, Field(ge=1, le=65535), WHOLE] | None = None
    tls: Literal["none", "starttls", "tls"] | None = None
    username: str | None = None
    password: str | None = Field(None, description="write only: stored sealed, never returned")
    password_env: str | None = Field(None, description="or: the variable holding it")
    clear_password: bool = Field(False, description="forget the stored password")
    max_connections: Annotated[int, Field(ge=1, le=100), WHOLE] | None = None
    envelope_from: str | None = None
    verify_certificate: bool | None = None
    verp: bool | None = None
    dkim_domain: str | None = None
    dkim_selector: str | None = None
    dkim_key_file: str | None = None
    rates: list[str] | None = Field(None, description='e.g. ["14/second", "50000/day"]')


class SenderIn(SenderFields):
    name: str
    host: str
    port: Annotated[int, Field(ge=1, le=65535), WHOLE] = 587


class SenderOut(Schema):
    id: int
    name: str
    kind: str
    host: str
    port: int
    tls: str
    verify_certificate: bool
    username: str
    password_env: str
    password_set: bool
    max_connections: int
    envelope_from: str
    verp: bool
    dkim_domain: str
    dkim_selector: str
    dkim_key_file: str
    rates: list[str]
    healthy: bool
    backing_off: bool
    last_error: str
    waiting: dict | None
    policy_rejections: int
    last_policy_rejection: str


class CheckOut(Schema):
    ok: bool
    step: str = Field(description="dns, connect, tls, auth; ok on success")
    message: str
    banner: str
    ehlo: str


def _values(data: SenderFields) -> dict:
    values = data.dict(exclude={"rates"})
    return {k: v for k, v in values.items() if k in data.model_fields_set or k == "clear_password"}


@router.get("", response={200: list[SenderOut]})
def all_senders(request: HttpRequest):
    return [senders.describe(s) for s in senders.Sender.objects.all()]


@router.post("", response={201: SenderOut, **errors(400)})
def create(request: HttpRequest, data: SenderIn):
    values = {**_values(data), "name": data.name, "host": data.host, "port": data.port}
    sender = senders.create_sender(rates=data.rates or [], **values)
    return Status(201, senders.describe(sender))


@router.get("/{sender}", response={200: SenderOut, **errors(404)})
def get(request: HttpRequest, sender: Key):
    """A sender by name or id."""
    return senders.describe(senders.get_sender(sender))


@router.patch("/{sender}", response={200: SenderOut, **errors(400, 404)})
def change(request: HttpRequest, sender: Key, data: SenderFields):
    """Only the keys given change; running campaigns pick it up with their next batch."""
    found = senders.get_sender(sender)
    return senders.describe(senders.update_sender(found, rates=data.rates, **_values(data)))


@router.delete("/{sender}", response={204: None, **errors(400, 404)})
def delete(request: HttpRequest, sender: Key):
    """Refused while campaigns use it."""
    senders.delete_sender(senders.get_sender(sender))
    return Status(204, None)


@router.post("/{sender}/test", response={200: CheckOut, **errors(404)})
def test(request: HttpRequest, sender: Key):
    """Connect, go through TLS and AUTH, and say which step failed."""
    report = senders.test_sender(senders.get_sender(sender))
    return {
        "ok": report.ok,
        "step": report.step,
        "message": report.message,
        "banner": report.banner,
        "ehlo": report.ehlo,
    }
