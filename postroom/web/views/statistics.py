"""Statistics over time: all campaigns (/statistics/) and one (/campaigns/N/statistics/),
as SVG charts with the same figures in a table, in the reader's time zone; and a
campaign's click map."""

from datetime import datetime, timedelta

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import dateformat, timezone
from django.utils.translation import gettext, gettext_lazy, pgettext, pgettext_lazy
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
    ("sent", gettext_lazy("Sent"), ("sent",)),
    ("engagement", gettext_lazy("Opens and clicks by people"), ("opens", "clicks")),
    (
        "losses",
        gettext_lazy("Bounces, complaints and unsubscribes"),
        ("bounces", "complaints", "unsubscribes"),
    ),
)
BUCKET_CHOICES = (
    ("auto", gettext_lazy("Automatic")),
    ("hour", gettext_lazy("Per hour")),
    ("day", gettext_lazy("Per day")),
)
# Each figure as it reads beside its number ("1,204 sent", a tooltip's "opens 3"), where English
# lowers the word and German does not: its own message, not METRICS' label lowered.
IN_TEXT = {
    "sent": pgettext_lazy("a figure, beside its number", "sent"),
    "opens": pgettext_lazy("a figure, beside its number", "opens"),
    "clicks": pgettext_lazy("a figure, beside its number", "clicks"),
    "bounces": pgettext_lazy("a figure, beside its number", "bounces"),
    "complaints": pgettext_lazy("a figure, beside its number", "complaints"),
    "unsubscribes": pgettext_lazy("a figure, beside its number", "unsubscribes"),
}


def _labels(found: Series) -> tuple[list[str], list[str]]:
    """(axis labels, full labels) of the buckets, in the reader's zone and language
    (Django's date format names the days and months in it; strftime would not)."""
    if found.bucket == HOUR:
        several_days = found.starts[0].date() != found.starts[-1].date()
        axis = [dateformat.format(s, "j M H:i" if several_days else "H:i") for s in found.starts]
        full = [dateformat.format(s, "D j M Y, H:i T") for s in found.starts]
    else:
        axis = [dateformat.format(s, "j M") for s in found.starts]
        full = [dateformat.format(s, "D j M Y") for s in found.starts]
    return axis, full


def _described(found: Series, keys: tuple[str, ...]) -> str:
    totals = found.totals
    separator = pgettext("between the names of a list", ", ")
    figures = separator.join(f"{totals[k]:,} {IN_TEXT[k]}" for k in keys)
    if found.bucket == HOUR:
        text = gettext("Per hour from %(start)s to %(end)s (%(zone)s): %(figures)s in all.")
    else:
        text = gettext("Per day from %(start)s to %(end)s (%(zone)s): %(figures)s in all.")
    return text % {
        "start": dateformat.format(found.starts[0], "j M Y H:i"),
        "end": dateformat.format(found.end.astimezone(found.zone), "j M Y H:i"),
        "zone": found.zone,
        "figures": figures,
    }


def charts_context(found: Series, prefix: str) -> dict:
    """The charts, legends and table rows a page shows for `found`."""
    axis, full = _labels(found)
    charts = []
    for key, name, metrics in GROUPS:
        title = str(name)
        lines = [Line(m, str(IN_TEXT[m]), found.values[m]) for m in metrics]
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
        problem = gettext("per hour covers at most %(days)s days") % {
            "days": timeseries.MAX_HOURS // 24
        }
        bucket = DAY
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
