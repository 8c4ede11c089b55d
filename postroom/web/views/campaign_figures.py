"""The campaigns list's figures — recipients, sent, done, people's opens and clicks,
bounces, unsubscribes — in one GROUP BY per table for the whole page, not a handful of
queries per row."""

from django.db.models import Count, Q

from postroom.delivery.models import Delivery
from postroom.tracking.models import Bounce, EngagementEvent, UnsubscribeEvent

FINAL_STATES = (
    Delivery.State.SENT,
    Delivery.State.FAILED,
    Delivery.State.SKIPPED,
    Delivery.State.IN_DOUBT,
)


def list_figures(campaign_ids: list[int]) -> dict[int, dict]:
    """{campaign id: {"total", "sent", "done", "opens", "clicks", "bounces", "unsubscribes"}}
    for the campaigns that have a ledger.

    "opens" and "clicks" count readers, not pixel loads or clicks, and leave out
    machines (Apple's privacy proxy, scanners), like the campaign page; "bounces"
    are hard and soft ones (complaints are on the campaign's statistics).
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
        r["campaign_id"]: {
            "total": r["total"], "sent": r["sent"], "done": r["done"],
            "opens": 0, "clicks": 0, "bounces": 0, "unsubscribes": 0,
        }
        for r in rows
    }  # fmt: skip
    ids = list(figures)
    people = (
        EngagementEvent.objects.filter(campaign_id__in=ids, machine="")
        .order_by()
        .values("campaign_id", "kind")
        .annotate(n=Count("subscriber", distinct=True))
    )
    for r in people:
        figures[r["campaign_id"]]["opens" if r["kind"] == "open" else "clicks"] = r["n"]
    losses = (
        (Bounce.objects.filter(kind__in=(Bounce.Kind.HARD, Bounce.Kind.SOFT)), "bounces"),
        (UnsubscribeEvent.objects.all(), "unsubscribes"),
    )
    for rows_of, key in losses:
        counted = (
            rows_of.filter(campaign_id__in=ids)
            .order_by()
            .values("campaign_id")
            .annotate(n=Count("id"))
        )
        for campaign_id, n in counted.values_list("campaign_id", "n"):
            figures[campaign_id][key] = n
    for f in figures.values():
        f["summary"] = None
    return figures
