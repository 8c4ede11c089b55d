"""The campaigns list's figures — recipients, sent, done, human opens — in two GROUP BYs
for the whole page, not a handful of queries per row."""

from django.db.models import Count, Q

from postroom.delivery.models import Delivery
from postroom.tracking.models import EngagementEvent

FINAL_STATES = (
    Delivery.State.SENT,
    Delivery.State.FAILED,
    Delivery.State.SKIPPED,
    Delivery.State.IN_DOUBT,
)


def list_figures(campaign_ids: list[int]) -> dict[int, dict]:
    """{campaign id: {"total", "sent", "done", "opens"}} for the campaigns that have a ledger.

    "opens" counts readers, not pixel loads, and leaves out machines (Apple's
    privacy proxy, scanners), like the campaign page.
    """
    if not campaign_ids:
        return {}
    rows = (
        Delivery.objects.filter(campaign_id__in=campaign_ids)
        .order_by()
        .values("campaign_id")
        .annotate(
            total=Count("id"),
            sent=Count("id", filter=Q(state=Delivery.State.SENT)),
            done=Count("id", filter=Q(state__in=FINAL_STATES)),
        )
    )
    figures = {
        r["campaign_id"]: {"total": r["total"], "sent": r["sent"], "done": r["done"], "opens": 0}
        for r in rows
    }
    opens = (
        EngagementEvent.objects.filter(
            campaign_id__in=list(figures), kind=EngagementEvent.Kind.OPEN, machine=""
        )
        .order_by()
        .values("campaign_id")
        .annotate(n=Count("subscriber", distinct=True))
    )
    for r in opens:
        figures[r["campaign_id"]]["opens"] = r["n"]
    for f in figures.values():
        f["summary"] = None
    return figures
