"""/api/campaigns/timeseries and /api/campaigns/{id}/timeseries: the statistics pages' figures
per hour or day (tracking.timeseries), for one campaign or every campaign the caller sees.

Under /api/campaigns, so a token's `send` scope and its lists apply as to the
campaigns themselves: a campaign outside the token's lists is 404, and the overall
series counts only the campaigns the caller may see.
"""

from datetime import datetime, timedelta, tzinfo
from typing import Literal

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext
from ninja import Field, Query, Router, Schema

from postroom.api import scope
from postroom.api.errors import errors
from postroom.api.fields import Instant
from postroom.api.pages import Id
from postroom.api.routes.campaigns import campaign
from postroom.campaigns.models import Campaign
from postroom.errors import InvalidInput
from postroom.tracking import timeseries
from postroom.tracking.timeseries import Scope, Series
from postroom.web.timezones import zone

router = Router(tags=["statistics"])


class SeriesQuery(Schema):
    bucket: Literal["auto", "hour", "day"] = Field(
        "auto", description="per hour (at most 31 days) or per day; auto: hours up to 3 days"
    )
    tz: str = Field(
        "",
        max_length=64,
        description="an IANA time zone (Europe/Berlin) the buckets follow; default the"
        " installation's TIME_ZONE",
    )


class OverallQuery(SeriesQuery):
    start: Instant | None = Field(None, description="default: 30 days before `end`")
    end: Instant | None = Field(None, description="default: now")


class PointOut(Schema):
    start: datetime = Field(description="the bucket's first instant, with the zone's offset")
    sent: int
    opens: int = Field(description="opens by people (machines left out)")
    clicks: int = Field(description="clicks by people (machines left out)")
    bounces: int = Field(description="hard and soft bounces reported")
    complaints: int
    unsubscribes: int


class SeriesOut(Schema):
    bucket: Literal["hour", "day"]
    tz: str
    start: datetime
    end: datetime
    totals: dict[str, int]
    points: list[PointOut]


def _zone(name: str) -> tzinfo:
    if not name:
        return timezone.get_default_timezone()
    found = zone(name)
    if found is None:
        raise InvalidInput(
            gettext("%(name)s is not a time zone (use an IANA name: Europe/Berlin)")
            % {"name": repr(name)}
        )
    return found


def _out(found: Series) -> dict:
    return {
        "bucket": found.bucket,
        "tz": str(found.zone),
        "start": found.start,
        "end": found.end,
        "totals": found.totals,
        "points": [{"start": when, **counts} for when, counts in found.rows()],
    }


def _aware(value: datetime, where: tzinfo) -> datetime:
    # Far from any send, a window only risks overflowing the calendar (year 1, 9999).
    if not 1970 <= value.year <= 9000:
        raise InvalidInput(gettext("start and end must lie between the years 1970 and 9000"))
    return value if timezone.is_aware(value) else timezone.make_aware(value, where)


@router.get("/timeseries", response={200: SeriesOut, **errors(400)})
def overall(request: HttpRequest, query: Query[OverallQuery]) -> dict:
    """Every newsletter campaign the caller may see, per hour or day, from `start` to `end`."""
    where = _zone(query.tz)
    end = _aware(query.end, where) if query.end else timezone.now()
    start = _aware(query.start, where) if query.start else end - timedelta(days=30)
    bucket = timeseries.choose_bucket(query.bucket, start, end)
    narrowed = scope.narrowed(request)
    which = Scope.overall(scope.campaigns(request, Campaign.objects.all()), unattached=not narrowed)
    return _out(timeseries.series(which, start, end, bucket, where))


@router.get("/{campaign_id}/timeseries", response={200: SeriesOut, **errors(400, 404)})
def of_campaign(request: HttpRequest, campaign_id: Id, query: Query[SeriesQuery]) -> dict:
    """One campaign from its start (90 days at most; per hour, the first 31 days)."""
    found = campaign(request, campaign_id)
    result, _ = timeseries.campaign_series(found, timezone.now(), query.bucket, _zone(query.tz))
    if result is None:
        raise InvalidInput(
            gettext("campaign %(campaign_id)s has not started: nothing to count yet")
            % {"campaign_id": campaign_id}
        )
    return _out(result)
