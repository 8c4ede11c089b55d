"""/api/campaigns/{id}/abtest: make a draft an A/B test, set it up, start it, decide it.

Each variant is an ordinary campaign (change its subject, from name or content with
PATCH /api/campaigns/{variant's id}); these routes call the abtests services, the
functions the UI and the CLI call.
"""

from typing import Annotated, Literal

from django.http import HttpRequest
from ninja import Field, Router, Status

from postroom.abtests import services
from postroom.api.errors import errors
from postroom.api.fields import WHOLE, Body
from postroom.api.pages import Id
from postroom.api.routes.campaigns import campaign
from postroom.campaigns.services import parse_send_at

router = Router(tags=["A/B tests"])

Label = Literal["A", "B", "C", "D"]
Metric = Literal["opens", "clicks", "manual"]


class ABTestFields(Body):
    """Only the keys given change; `test_count` set counts people instead of a percentage."""

    test_percent: Annotated[int, Field(ge=1, le=100), WHOLE] | None = None
    test_count: Annotated[int, Field(ge=2, le=2_147_483_647), WHOLE] | None = None
    metric: Metric | None = Field(None, description="how the winner is chosen")
    window_minutes: Annotated[int, Field(ge=1, le=43_200), WHOLE] | None = None
    shares: dict[str, Annotated[int, Field(ge=1, le=100), WHOLE]] | None = Field(
        None, description='each variant\'s part of the test group: {"A": 1, "B": 2}'
    )
    send_times: dict[str, str | None] | None = Field(
        None,
        description="a send-time test: when each variant goes, ISO 8601 (null: at the start);"
        " without an offset it is read in `timezone`",
    )
    timezone: str = Field("", description="an IANA zone for `send_times`, e.g. Europe/Berlin")


class ABTestIn(ABTestFields):
    variants: Annotated[int, Field(ge=2, le=4), WHOLE] = 2


class DecideIn(Body):
    winner: Label


def _test(request: HttpRequest, campaign_id: int):
    return services.get_test(campaign(request, campaign_id).pk)


def _settings(data: ABTestFields) -> dict:
    """The keys given; `test_count: null` (back to a percentage) is the one null kept."""
    given = data.model_fields_set - {"variants", "shares", "send_times", "timezone"}
    values = {k: getattr(data, k) for k in given}
    settings = {k: v for k, v in values.items() if v is not None or k == "test_count"}
    if data.send_times is not None:
        settings["send_times"] = {
            label: parse_send_at(when, data.timezone)[0] if when else None
            for label, when in data.send_times.items()
        }
    return settings


def _shares(data: ABTestFields) -> dict[str, int] | None:
    return None if data.shares is None else {k.upper(): v for k, v in data.shares.items()}


@router.post("/{campaign_id}/abtest", response={201: dict, **errors(400, 404)})
def make(request: HttpRequest, campaign_id: Id, data: ABTestIn):
    """Make a draft variant A of a new test; the other variants start as copies of it."""
    found = campaign(request, campaign_id)
    settings = _settings(data)
    send_times = settings.pop("send_times", None)
    test = services.make_test(found, count=data.variants, **settings)
    if data.shares or send_times:
        services.update_test(test, shares=_shares(data), send_times=send_times)
    return Status(201, services.as_json(test))


@router.get("/{campaign_id}/abtest", response={200: dict, **errors(404)})
def status(request: HttpRequest, campaign_id: Id) -> dict:
    """The test (of variant A or any variant's campaign) with each variant's results."""
    return services.as_json(_test(request, campaign_id))


@router.patch("/{campaign_id}/abtest", response={200: dict, **errors(400, 404)})
def change(request: HttpRequest, campaign_id: Id, data: ABTestFields) -> dict:
    """Change a test that has not started."""
    test = _test(request, campaign_id)
    services.update_test(test, shares=_shares(data), **_settings(data))
    return services.as_json(test)


@router.delete("/{campaign_id}/abtest", response={204: None, **errors(400, 404)})
def delete(request: HttpRequest, campaign_id: Id):
    """Not a test any more: the other variants' campaigns are deleted, variant A stays."""
    services.delete_test(_test(request, campaign_id))
    return Status(204, None)


@router.post("/{campaign_id}/abtest/variants", response={201: dict, **errors(400, 404)})
def add_variant(request: HttpRequest, campaign_id: Id):
    """Another variant (up to 4), a copy of variant A: its campaign id is in the answer."""
    test = _test(request, campaign_id)
    services.add_variant(test)
    return Status(201, services.as_json(test))


@router.delete("/{campaign_id}/abtest/variants/{label}", response={200: dict, **errors(400, 404)})
def remove_variant(request: HttpRequest, campaign_id: Id, label: Label) -> dict:
    test = _test(request, campaign_id)
    services.remove_variant(test, label)
    return services.as_json(test)


@router.post("/{campaign_id}/abtest/start", response={200: dict, **errors(400, 404)})
def start(request: HttpRequest, campaign_id: Id) -> dict:
    """Draw the test group and start (or schedule) every variant."""
    test = _test(request, campaign_id)
    services.start_test(test)
    return services.as_json(test)


@router.post("/{campaign_id}/abtest/decide", response={200: dict, **errors(400, 404)})
def decide(request: HttpRequest, campaign_id: Id, data: DecideIn) -> dict:
    """Pick the winner by hand: it goes to the rest of the audience at once."""
    test = _test(request, campaign_id)
    services.decide(test, data.winner, by_hand=True)
    return services.as_json(test)
