"""Which bounces a query asks for: the Bounces page's filters and the API's, one function.

Unknown or bad values are ignored, never an error (a stale bookmark still opens the page).
"""

from datetime import datetime, time

from django.db.models import QuerySet
from django.utils import timezone

from postroom.tracking.models import Bounce


def _day(raw: str, end: bool = False) -> datetime | None:
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        return None
    return timezone.make_aware(datetime.combine(day, time.max if end else time.min))


def filtered(params) -> tuple[QuerySet[Bounce], dict]:
    """The bounces the query string asks for; unknown or bad values are ignored, not errors."""
    rows = Bounce.objects.select_related("campaign", "campaign__sender", "lifted_by")
    f = {key: params.get(key, "").strip() for key in ("kind", "source", "q", "since", "until")}
    f["campaign"] = params.get("campaign", "")
    f["sender"] = params.get("sender", "")
    if f["kind"] in Bounce.Kind.values:
        rows = rows.filter(kind=f["kind"])
    if f["source"]:
        rows = rows.filter(source=f["source"])
    if f["q"]:
        rows = rows.filter(email__icontains=f["q"])
    if (since := _day(f["since"])) is not None:
        rows = rows.filter(at__gte=since)
    if (until := _day(f["until"], end=True)) is not None:
        rows = rows.filter(at__lte=until)
    if f["campaign"].isdigit():
        rows = rows.filter(campaign_id=int(f["campaign"]))
    if f["sender"].isdigit():
        rows = rows.filter(campaign__sender_id=int(f["sender"]))
    f["active"] = any(f.values())
    return rows, f
