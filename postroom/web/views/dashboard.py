"""The dashboard: what is sending, how fast, and what needs someone's attention."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from postroom.campaigns.models import Campaign
from postroom.delivery import health, progress
from postroom.delivery.models import CampaignEvent, Sender
from postroom.web.permissions import operator_required


def dashboard_context() -> dict:
    active = Campaign.objects.filter(
        status__in=(Campaign.Status.RUNNING, Campaign.Status.PAUSED)
    ).select_related("sender")
    campaigns = []
    for campaign in active:
        summary = progress.summary(campaign)
        counts = summary["counts"]
        last_event = CampaignEvent.objects.filter(campaign=campaign).first()
        campaigns.append(
            {
                "campaign": campaign,
                "summary": summary,
                "done": summary["total"] - counts["pending"],
                "auto_paused": campaign.status == Campaign.Status.PAUSED
                and last_event is not None
                and last_event.kind == CampaignEvent.Kind.AUTO_PAUSED,
            }
        )
    waiting_senders = {
        c["summary"]["waiting"]["sender"] for c in campaigns if c["summary"]["waiting"]
    }
    return {
        "campaigns": campaigns,
        "workers": progress.live_workers(),
        "waiting": [c for c in campaigns if c["summary"]["waiting"]],
        # Senders that cannot be reached and that no running campaign waits for (those
        # show with their campaigns above).
        "failing_senders": [
            {"name": s.name, "waiting": health.waiting(s)}
            for s in Sender.objects.filter(failing_since__isnull=False)
            if s.name not in waiting_senders
        ],
        "sender_count": Sender.objects.count(),
        "stalled": [c for c in campaigns if c["summary"]["stalled"]],
        "alerts": [c for c in campaigns if c["auto_paused"]],
    }


@operator_required
def index(request: HttpRequest) -> HttpResponse:
    template = "web/_dashboard_live.html" if request.htmx else "web/dashboard.html"
    return render(request, template, dashboard_context())
