"""The dashboard: what is sending, how fast, and what needs someone's attention."""

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from postroom.alerts.services import unacknowledged
from postroom.audience.models import Subscriber
from postroom.campaigns.models import Campaign
from postroom.delivery import progress, waiting
from postroom.delivery.models import Sender
from postroom.web.permissions import OperatorRequest, operator_required

ALERTS_SHOWN = 20


def dashboard_context() -> dict:
    active = Campaign.objects.filter(
        status__in=(Campaign.Status.RUNNING, Campaign.Status.PAUSED), kind=Campaign.Kind.NEWSLETTER
    ).select_related("sender")
    campaigns = []
    for campaign in active:
        summary = progress.summary(campaign)
        counts = summary["counts"]
        campaigns.append(
            {"campaign": campaign, "summary": summary, "done": summary["total"] - counts["pending"]}
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
            {"name": s.name, "waiting": waiting.state(s)}
            for s in Sender.objects.filter(failing_since__isnull=False)
            if s.name not in waiting_senders
        ],
        "sender_count": Sender.objects.count(),
        "stalled": [c for c in campaigns if c["summary"]["stalled"]],
        # Until someone acknowledges them; a pause shows here, with its reason, as an alert.
        "alerts": list(unacknowledged()[:ALERTS_SHOWN]),
    }


def checklist() -> list[dict] | None:
    """The first steps, each ticked once done; None once all are (then it leaves the page)."""
    steps = [
        {"done": Sender.objects.exists(), "text": _("Add a sender"), "url": "sender_new",
         "help": _("the SMTP server your mail goes out through (until then it lands in the "
                   "outbox)")},
        {"done": Subscriber.objects.exists(), "text": _("Import contacts"), "url": "import_new",
         "help": _("a CSV or spreadsheet, or the export of another newsletter tool")},
        {"done": Campaign.objects.exists(), "text": _("Write a campaign"), "url": "campaign_new",
         "help": _("then send yourself a test before starting it")},
    ]  # fmt: skip
    return None if all(step["done"] for step in steps) else steps


@operator_required
def index(request: OperatorRequest) -> HttpResponse:
    if request.htmx:
        return render(request, "web/_dashboard_live.html", dashboard_context())
    return render(request, "web/dashboard.html", {**dashboard_context(), "checklist": checklist()})
