"""/metrics for Prometheus: what is sending, computed from the database at scrape time.

Everything durable is already in the database, so a scrape reads it there
(one grouped query per metric) instead of keeping counters in each process:
every web process answers the same, and nothing is lost on a restart.

Protected by a bearer token from POSTROOM_METRICS_TOKEN; without one the page
does not exist (404), so nothing is exposed by default.
"""

import hmac
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from postroom.campaigns.models import Campaign
from postroom.delivery import progress
from postroom.delivery.models import Delivery, Sender
from postroom.imports.models import Import

OUTBOX = "outbox"  # the sender label of mail that goes to the local outbox


class PostroomCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield campaigns_by_status()
        yield deliveries_of_running_campaigns()
        yield pending_imports()
        workers = GaugeMetricFamily(
            "postroom_workers_live", "Worker processes seen in the last few seconds."
        )
        workers.add_metric([], len(progress.live_workers()))
        yield workers
        yield sent_last_minute()


def campaigns_by_status() -> GaugeMetricFamily:
    counts = dict(Campaign.objects.order_by().values_list("status").annotate(n=Count("pk")))
    family = GaugeMetricFamily("postroom_campaigns", "Campaigns by status.", labels=["status"])
    for status in Campaign.Status.values:
        family.add_metric([status], counts.get(status, 0))
    return family


def deliveries_of_running_campaigns() -> GaugeMetricFamily:
    """Ledger rows by state, per running campaign (the claim index serves the grouping)."""
    running = dict(
        Campaign.objects.filter(status=Campaign.Status.RUNNING).values_list("pk", "name")
    )
    rows = (
        Delivery.objects.filter(campaign_id__in=list(running))
        .order_by()
        .values_list("campaign_id", "state")
        .annotate(n=Count("id"))
    )
    counts = {(campaign_id, state): n for campaign_id, state, n in rows}
    family = GaugeMetricFamily(
        "postroom_deliveries",
        "Recipients of running campaigns by delivery state.",
        labels=["campaign_id", "campaign", "state"],
    )
    for campaign_id, name in sorted(running.items()):
        for state in Delivery.State.values:
            family.add_metric([str(campaign_id), name, state], counts.get((campaign_id, state), 0))
    return family


def pending_imports() -> GaugeMetricFamily:
    waiting = (Import.Status.QUEUED, Import.Status.RUNNING)
    counts = dict(
        Import.objects.filter(status__in=waiting)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    family = GaugeMetricFamily(
        "postroom_imports_pending", "Imports queued or running.", labels=["status"]
    )
    for status in waiting:
        family.add_metric([status], counts.get(status, 0))
    return family


def sent_last_minute() -> GaugeMetricFamily:
    """Campaign messages each sender had accepted in the last 60 seconds.

    Only campaigns that can have sent in that minute are read (running,
    paused or finished since), through the claim index's (campaign, state)
    prefix; messages outside campaigns (tests, confirmations) are not in the ledger.
    """
    now = timezone.now()
    since = now - timedelta(seconds=60)
    recent = Campaign.objects.filter(
        Q(status__in=(Campaign.Status.RUNNING, Campaign.Status.PAUSED)) | Q(finished_at__gte=since)
    ).values_list("pk", flat=True)
    rows = (
        Delivery.objects.filter(
            campaign_id__in=list(recent), state=Delivery.State.SENT, sent_at__gte=since
        )
        .order_by()
        .values_list("sender_id")
        .annotate(n=Count("id"))
    )
    counts = dict(rows)
    family = GaugeMetricFamily(
        "postroom_sender_sent_last_minute",
        "Campaign messages accepted by each sender in the last 60 seconds.",
        labels=["sender"],
    )
    for sender_id, name in Sender.objects.order_by("name").values_list("pk", "name"):
        family.add_metric([name], counts.get(sender_id, 0))
    family.add_metric([OUTBOX], counts.get(None, 0))
    return family


def _authorized(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.POSTROOM_METRICS_TOKEN
    if not token:
        raise Http404("metrics are off")
    if not _authorized(request, token):
        response = HttpResponse("a bearer token is needed\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="postroom metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PostroomCollector())
    # The library's negotiation: OpenMetrics when asked for, else the classic text format.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = HttpResponse(encode(registry), content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response
