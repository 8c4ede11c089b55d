"""Statistics over time: all campaigns (/statistics/) and one (/campaigns/N/statistics/),
as SVG charts with the same figures in a table, in the reader's time zone; and a
campaign's click map."""

from datetime import datetime, timedelta

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from postroom.campaigns import services
from postroom.campaigns.models import Campaign
from postroom.errors import InvalidInput, NotFound
from postroom.mail.errors import TemplateError
from postroom.tracking import clickmap, timeseries
from postroom.tracking.timeseries import DAY, HOUR, METRICS, Scope, Series
from postroom.web.charts import Line, chart
from postroom.web.permissions import OperatorRequest, operator_required

# Charts of figures of like size: sent dwarfs the rest, bounces are few.
GROUPS = (
    ("sent", "Sent", ("sent",)),
    ("engagement", "Opens and clicks by people", ("opens", "clicks")),
    ("losses", "Bounces, complaints and unsubscribes", ("bounces", "complaints", "unsubscribes")),
)
BUCKET_CHOICES = (("auto", "Automatic"), ("hour", "Per hour"), ("day", "Per day"))


def _labels(found: Series) -> tuple[list[str], list[str]]:
    """(axis labels, full labels) of the buckets, in the reader's zone."""
    if found.bucket == HOUR:
        several_days = found.starts[0].date() != found.starts[-1].date()
        axis = [s.strftime("%-d %b %H:%M" if several_days else "%H:%M") for s in found.starts]
        full = [s.strftime("%a %-d %b %Y, %H:%M %Z") for s in found.starts]
    else:
        axis = [s.strftime("%-d %b") for s in found.starts]
        full = [s.strftime("%a %-d %b %Y") for s in found.starts]
    return axis, full


def _described(found: Series, keys: tuple[str, ...]) -> str:
    per = "hour" if found.bucket == HOUR else "day"
    totals = found.totals
    figures = ", ".join(f"{totals[k]:,} {METRICS[k].lower()}" for k in keys)
    return (
        f"Per {per} from {found.starts[0]:%-d %b %Y %H:%M} to"
        f" {found.end.astimezone(found.zone):%-d %b %Y %H:%M} ({found.zone}): {figures} in all."
    )


def charts_context(found: Series, prefix: str) -> dict:
    """The charts, legends and table rows a page shows for `found`."""
    axis, full = _labels(found)
    charts = []
    for key, title, metrics in GROUPS:
        lines = [Line(m, METRICS[m], found.values[m]) for m in metrics]
        charts.append(
            {
                "id": f"{prefix}-{key}",
                "title": title,
                "svg": chart(
                    f"{prefix}-{key}", title, _described(found, metrics), axis, full, lines
                ),
                "legend": [(m, METRICS[m], found.totals[m]) for m in metrics],
            }
        )
    rows = [
        (label, [counts[m] for m in METRICS])
        for label, (_, counts) in zip(full, found.rows(), strict=True)
        if any(counts.values())
    ]
    return {
        "series": found,
        "charts": charts,
        "metrics": list(METRICS.values()),
        "table": rows,
        "totals": [found.totals[m] for m in METRICS],
        "bucket_choices": BUCKET_CHOICES,
    }


def _bucket(request: HttpRequest) -> str:
    wanted = request.GET.get("bucket", "auto")
    return wanted if wanted in dict(BUCKET_CHOICES) else "auto"


@operator_required
@require_GET
def overall(request: OperatorRequest) -> HttpResponse:
    days = request.GET.get("days", "")
    span = int(days) if days.isdigit() and int(days) in timeseries.OVERALL_DAYS else 0
    span = span or timeseries.DEFAULT_DAYS
    now = timezone.now()
    start = now - timedelta(days=span)
    wanted = _bucket(request)
    bucket = timeseries.choose_bucket(wanted, start, now)
    problem = ""
    if bucket == HOUR and now - start > timedelta(hours=timeseries.MAX_HOURS):
        problem, bucket = f"per hour covers at most {timeseries.MAX_HOURS // 24} days", DAY
    scope = Scope.overall(
        request.access.campaigns(Campaign.objects.all()), unattached=not request.access.restricted
    )
    found = timeseries.series(scope, start, now, bucket, timezone.get_current_timezone())
    context = charts_context(found, "all")
    context.update(days=span, day_choices=timeseries.OVERALL_DAYS, bucket=wanted, problem=problem)
    return render(request, "web/statistics.html", context)


def _campaign(campaign_id: int) -> Campaign:
    try:
        return services.get_campaign(campaign_id)
    except NotFound:
        raise Http404("No such campaign") from None


@operator_required
@require_GET
def campaign(request: OperatorRequest, campaign_id: int) -> HttpResponse:
    found = _campaign(campaign_id)
    wanted = _bucket(request)
    now: datetime = timezone.now()
    result, cut = timeseries.campaign_series(found, now, wanted, timezone.get_current_timezone())
    context: dict = {"campaign": found, "bucket": wanted, "cut": cut, "not_started": False}
    if result is None:
        context["not_started"] = True
    else:
        context.update(charts_context(result, f"c{found.pk}"))
    links = clickmap.link_clicks(found)
    context.update(links=links, clickers=clickmap.clickers(found), map_html="", map_problem="")
    if links:
        try:
            context["map_html"] = clickmap.annotated_html(found, links)
        except (InvalidInput, TemplateError) as exc:
            context["map_problem"] = str(exc)
    return render(request, "web/campaigns/statistics.html", context)
