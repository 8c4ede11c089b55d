"""Statistics over time: sent, people's opens and clicks, bounces, complaints, unsubscribes
per hour or per day, in the reader's time zone, for one campaign or for all of them.

    found = series(Scope.of_campaign(c), start, end, "hour", ZoneInfo("Europe/Berlin"))
    found.starts        # the buckets' first instants, aware, in that zone
    found.values["sent"]  # one count per bucket

Each figure is one GROUP BY in the database, never one query per bucket:

- per day, the database truncates to the reader's local date (TruncDate with the
  zone: `AT TIME ZONE` on PostgreSQL, Django's zone-aware function on SQLite), so a
  23- or 25-hour day at a DST change is one day, as a calendar shows it;
- per hour, the database groups by quarter hour of UTC (every zone's offset is a
  whole number of quarter hours, India's +5:30 and Nepal's +5:45 too) and Python
  folds the quarters into the reader's local hours. So the hour that repeats when
  clocks go back is two buckets (02:00 CEST, then 02:00 CET), not one of double
  height, and the hour skipped in spring does not exist.

Machine opens and clicks (Apple's privacy proxy, scanners: tracking.machines) are
left out, as on the campaign page: only people count. Opens and clicks are events
(one reader opening twice counts twice); bounces are hard and soft reports,
complaints are reported as spam, both by the time the report arrived.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from django.db.models import BigIntegerField, Count, F, Func, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from postroom.campaigns.models import Campaign
from postroom.delivery.models import Delivery
from postroom.errors import InvalidInput
from postroom.tracking.models import Bounce, EngagementEvent, UnsubscribeEvent

HOUR, DAY = "hour", "day"
BUCKETS = (HOUR, DAY)
# What each figure is called, in the order charts and tables show them.
METRICS = {
    "sent": _("Sent"),
    "opens": _("Opens"),
    "clicks": _("Clicks"),
    "bounces": _("Bounces"),
    "complaints": _("Complaints"),
    "unsubscribes": _("Unsubscribes"),
}
# An hourly series longer than this is unreadable as a chart and heavy as a table.
MAX_HOURS = 31 * 24
MAX_DAYS = 3 * 366
# Up to this span, "auto" picks hours; beyond it, days.
AUTO_HOURS_UP_TO = timedelta(days=3)
QUARTER = 900  # seconds: every UTC offset in use is a multiple of 15 minutes


class EpochSeconds(Func):
    """A datetime column as whole seconds since 1970 (UTC), on SQLite and PostgreSQL."""

    output_field = BigIntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        # Django stores UTC text; '%%%%s' comes out as strftime's '%s' after two formattings.
        template = "CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        template = "CAST(FLOOR(EXTRACT(EPOCH FROM %(expressions)s)) AS BIGINT)"
        return self.as_sql(compiler, connection, template=template, **extra)


@dataclass(frozen=True)
class Scope:
    """Whose activity: one campaign, or every newsletter campaign in `campaigns`.

    `unattached` also counts bounces and unsubscribes tied to no campaign (a
    report that named none, the preferences page): only for someone who sees
    every list, since such a row says nothing about which list it concerns.
    """

    campaign_id: int | None = None
    campaigns: QuerySet[Campaign] | None = None
    unattached: bool = False

    @classmethod
    def of_campaign(cls, campaign: Campaign | int) -> "Scope":
        return cls(campaign_id=campaign if isinstance(campaign, int) else campaign.pk)

    @classmethod
    def overall(cls, campaigns: QuerySet[Campaign], *, unattached: bool) -> "Scope":
        return cls(campaigns=campaigns.filter(kind=Campaign.Kind.NEWSLETTER), unattached=unattached)

    def narrow(self, rows: QuerySet, start: datetime, end: datetime, *, ledger: bool = False):
        if self.campaign_id is not None:
            return rows.filter(campaign_id=self.campaign_id)
        campaigns = self.campaigns if self.campaigns is not None else Campaign.objects.all()
        if ledger:
            # Only campaigns that were sending during the window: the ledger is read
            # through its (campaign, state) index, never scanned whole.
            campaigns = campaigns.filter(started_at__lt=end).exclude(finished_at__lt=start)
        mine = Q(campaign_id__in=campaigns.order_by().values("pk"))
        return rows.filter(mine | Q(campaign__isnull=True) if self.unattached else mine)


def _sources(scope: Scope, start: datetime, end: datetime) -> dict[str, tuple[QuerySet, str]]:
    """Each figure's rows (narrowed to the scope) and the column that dates them."""
    people = EngagementEvent.objects.filter(machine="")
    sent = Delivery.objects.filter(state=Delivery.State.SENT)
    return {
        "sent": (scope.narrow(sent, start, end, ledger=True), "sent_at"),
        "opens": (scope.narrow(people.filter(kind=EngagementEvent.Kind.OPEN), start, end), "at"),
        "clicks": (scope.narrow(people.filter(kind=EngagementEvent.Kind.CLICK), start, end), "at"),
        "bounces": (
            scope.narrow(
                Bounce.objects.filter(kind__in=(Bounce.Kind.HARD, Bounce.Kind.SOFT)), start, end
            ),
            "at",
        ),
        "complaints": (
            scope.narrow(Bounce.objects.filter(kind=Bounce.Kind.COMPLAINT), start, end),
            "at",
        ),
        "unsubscribes": (scope.narrow(UnsubscribeEvent.objects.all(), start, end), "at"),
    }


@dataclass
class Series:
    """Counts per bucket; `starts[i]` is bucket i's first instant in `zone`."""

    bucket: str
    zone: tzinfo
    start: datetime
    end: datetime
    starts: list[datetime]
    values: dict[str, list[int]] = field(default_factory=dict)

    @property
    def totals(self) -> dict[str, int]:
        return {name: sum(counts) for name, counts in self.values.items()}

    @property
    def empty(self) -> bool:
        return not any(self.totals.values())

    def rows(self) -> list[tuple[datetime, dict[str, int]]]:
        """(bucket start, {figure: count}) for every bucket, for tables and JSON."""
        return [
            (when, {name: counts[i] for name, counts in self.values.items()})
            for i, when in enumerate(self.starts)
        ]


def local_hour_start(epoch: int, zone: tzinfo) -> int:
    """The UTC epoch second at which the reader's local hour holding `epoch` began.

    Python's fold tells the two 02:00s of a night when clocks go back apart, so
    each keeps its own instant.
    """
    local = datetime.fromtimestamp(epoch, zone)
    return int(local.replace(minute=0, second=0, microsecond=0).timestamp())


def _next_hour(at: int, zone: tzinfo) -> int:
    step = 3600
    while (nxt := local_hour_start(at + step, zone)) <= at:  # a half-hour shift back
        step += 1800
    return nxt


def _hour_keys(start: datetime, end: datetime, zone: tzinfo) -> list[int]:
    keys, at = [], local_hour_start(int(start.timestamp()), zone)
    stop = end.timestamp()
    while at < stop:
        keys.append(at)
        at = _next_hour(at, zone)
    return keys


def _day_keys(start: datetime, end: datetime, zone: tzinfo) -> list[date]:
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def check_window(start: datetime, end: datetime, bucket: str) -> None:
    """InvalidInput for a window the charts cannot show: reversed, or too many buckets."""
    if bucket not in BUCKETS:
        raise InvalidInput(
            gettext("bucket must be %(hour)s or %(day)s, not %(bucket)s")
            % {"hour": HOUR, "day": DAY, "bucket": repr(bucket)}
        )
    if end <= start:
        raise InvalidInput(gettext("the end of the period must come after its start"))
    if bucket == HOUR and end - start > timedelta(hours=MAX_HOURS):
        raise InvalidInput(
            gettext("per hour covers at most %(days)s days; choose per day")
            % {"days": MAX_HOURS // 24}
        )
    if bucket == DAY and end - start > timedelta(days=MAX_DAYS):
        raise InvalidInput(gettext("a period covers at most %(days)s days") % {"days": MAX_DAYS})


def auto_bucket(start: datetime, end: datetime) -> str:
    return HOUR if end - start <= AUTO_HOURS_UP_TO else DAY


def _counts(rows: QuerySet, column: str, bucket: str, start: datetime, end: datetime, zone):
    """{bucket key: count} for one figure, in one GROUP BY."""
    rows = rows.filter(**{f"{column}__gte": start, f"{column}__lt": end}).order_by()
    if bucket == DAY:
        grouped = rows.annotate(key=TruncDate(column, tzinfo=zone)).values("key")
        return {r["key"]: r["n"] for r in grouped.annotate(n=Count("pk"))}
    quarters = rows.annotate(key=EpochSeconds(F(column)) / QUARTER).values("key")
    found: dict[int, int] = {}
    for r in quarters.annotate(n=Count("pk")):
        hour = local_hour_start(int(r["key"]) * QUARTER, zone)
        found[hour] = found.get(hour, 0) + r["n"]
    return found


def series(
    scope: Scope,
    start: datetime,
    end: datetime,
    bucket: str,
    zone: tzinfo,
    metrics: Iterable[str] = tuple(METRICS),
) -> Series:
    """Counts of each figure per local hour or day from `start` to `end` (exclusive)."""
    check_window(start, end, bucket)
    result = Series(bucket, zone, start, end, [])
    # Whole buckets: the first counts from its own start, not from the minute asked.
    keys: list
    if bucket == HOUR:
        keys = _hour_keys(start, end, zone)
        result.starts = [datetime.fromtimestamp(k, zone) for k in keys]
        hi = datetime.fromtimestamp(_next_hour(keys[-1], zone), UTC)
    else:
        keys = _day_keys(start, end, zone)
        result.starts = [datetime.combine(d, time(0), zone) for d in keys]
        hi = datetime.combine(keys[-1] + timedelta(days=1), time(0), zone)
    lo = result.starts[0]
    sources = _sources(scope, lo, hi)
    for name in metrics:
        rows, column = sources[name]
        found = _counts(rows, column, bucket, lo, hi, zone)
        result.values[name] = [found.get(k, 0) for k in keys]
    return result


# --- the periods the pages and the API offer ---------------------------------------------

# A campaign's chart runs from its start for this long at most: later opens are rare.
CAMPAIGN_SPAN = timedelta(days=90)
OVERALL_DAYS = (1, 7, 30, 90, 365)
DEFAULT_DAYS = 30


def choose_bucket(wanted: str | None, start: datetime, end: datetime) -> str:
    """The bucket asked for ("hour", "day"), or the one that fits the span ("", "auto", None)."""
    if wanted in (None, "", "auto"):
        return auto_bucket(start, end)
    if wanted not in BUCKETS:
        raise InvalidInput(
            gettext("bucket must be hour, day or auto, not %(wanted)s") % {"wanted": repr(wanted)}
        )
    return wanted


def campaign_window(campaign: Campaign, now: datetime, bucket: str | None) -> tuple:
    """(start, end, bucket, cut) of a campaign's chart; None for start before it starts.

    `cut` is True when per hour was asked over a span longer than MAX_HOURS: the
    window is then the first MAX_HOURS, said so on the page.
    """
    start = campaign.started_at
    if start is None:
        return None, None, choose_bucket(bucket, now - timedelta(hours=1), now), False
    end = max(min(now, start + CAMPAIGN_SPAN), start + timedelta(hours=1))
    chosen = choose_bucket(bucket, start, end)
    cut = chosen == HOUR and end - start > timedelta(hours=MAX_HOURS)
    if cut:
        end = start + timedelta(hours=MAX_HOURS)
    return start, end, chosen, cut


def campaign_series(campaign: Campaign, now: datetime, bucket: str | None, zone: tzinfo):
    """The campaign's series over its window, or None before it has started; and `cut`."""
    start, end, chosen, cut = campaign_window(campaign, now, bucket)
    if start is None:
        return None, False
    return series(Scope.of_campaign(campaign), start, end, chosen, zone), cut
