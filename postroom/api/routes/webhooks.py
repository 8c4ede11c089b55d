"""/api/webhooks: outgoing webhook endpoints, their test button and their delivery log."""

from typing import Annotated

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import AfterValidator, WithJsonSchema

from postroom.api.errors import errors
from postroom.api.fields import Body
from postroom.api.pages import Id
from postroom.webhooks import services
from postroom.webhooks.events import EVENTS
from postroom.webhooks.models import Endpoint

router = Router(tags=["webhooks"])


def _known(event: str) -> str:
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}: use one of {', '.join(EVENTS)}")
    return event


# One of the catalogue's events; the catalogue is known at run time, hence no Literal.
Event = Annotated[
    str, AfterValidator(_known), WithJsonSchema({"type": "string", "enum": list(EVENTS)})
]


class EndpointIn(Body):
    name: str
    url: str
    events: list[Event] = Field(
        description="the events it is sent (`/api/webhooks/events` says each)"
    )


class EndpointChange(Body):
    name: str | None = None
    url: str | None = None
    events: list[Event] | None = None
    active: bool | None = None


class EndpointOut(Schema):
    id: int
    name: str
    url: str
    events: list[str]
    active: bool
    created_at: str


class EndpointWithSecret(EndpointOut):
    secret: str = Field(description="signs every POST; shown this once")


class SecretOut(Schema):
    id: int
    secret: str


class AttemptOut(Schema):
    at: str
    status: int | None
    error: str
    duration_ms: int


class DeliveryOut(Schema):
    id: int
    event: str
    event_id: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str
    created_at: str
    delivered_at: str | None
    next_attempt_at: float | None
    log: list[AttemptOut]


@router.get("", response={200: list[EndpointOut]})
def all_endpoints(request: HttpRequest):
    return [services.endpoint_json(e) for e in Endpoint.objects.all()]


@router.get("/events", response={200: dict[str, str]})
def events(request: HttpRequest):
    """The events an endpoint can choose, with what each means."""
    return EVENTS


@router.post("", response={201: EndpointWithSecret, **errors(400)})
def create(request: HttpRequest, data: EndpointIn):
    endpoint, secret = services.create_endpoint(data.name, data.url, data.events)
    return Status(201, {**services.endpoint_json(endpoint), "secret": secret})


@router.get("/{endpoint_id}", response={200: EndpointOut, **errors(404)})
def get(request: HttpRequest, endpoint_id: Id):
    return services.endpoint_json(services.get_endpoint(endpoint_id))


@router.patch("/{endpoint_id}", response={200: EndpointOut, **errors(400, 404)})
def change(request: HttpRequest, endpoint_id: Id, data: EndpointChange):
    endpoint = services.get_endpoint(endpoint_id)
    changes = {k: v for k, v in data.dict().items() if v is not None}
    return services.endpoint_json(services.update_endpoint(endpoint, **changes))


@router.delete("/{endpoint_id}", response={204: None, **errors(404)})
def remove(request: HttpRequest, endpoint_id: Id):
    services.delete_endpoint(services.get_endpoint(endpoint_id))
    return Status(204, None)


@router.post("/{endpoint_id}/test", response={200: DeliveryOut, **errors(404)})
def test(request: HttpRequest, endpoint_id: Id):
    """POST a test event now; the answer is in the returned delivery (`state`, `last_status`)."""
    return services.delivery_json(services.send_test(services.get_endpoint(endpoint_id)))


@router.post("/{endpoint_id}/rotate-secret", response={200: SecretOut, **errors(404)})
def rotate(request: HttpRequest, endpoint_id: Id):
    endpoint = services.get_endpoint(endpoint_id)
    return {"id": endpoint.pk, "secret": services.rotate_secret(endpoint)}


@router.get("/{endpoint_id}/deliveries", response={200: list[DeliveryOut], **errors(404)})
def deliveries(request: HttpRequest, endpoint_id: Id, limit: int = Query(50, ge=1, le=500)):
    """The latest deliveries, newest first, each with every attempt's answer."""
    endpoint = services.get_endpoint(endpoint_id)
    return [services.delivery_json(d) for d in services.log(endpoint, limit)]
