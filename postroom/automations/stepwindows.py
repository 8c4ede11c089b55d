"""Send windows on send steps: the step's daily hours, kept on each cycle's hidden campaign.

The window is the campaign's own (campaigns.windows: same parsing, same checks),
hours only: a step that should go at one local time waits until it instead (the
step's "until" wait). A campaign's ledger normally gets its reader zones once, at
the start; a step's ledger grows as people arrive, so each row gets its zone as it
is queued and a new zone is added to `CampaignRun.zones` in the same transaction,
with the campaign's stamp moved on so workers re-read it (delivery.sendwindows).
"""

from datetime import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from postroom.automations.models import Step, StepCampaign
from postroom.campaigns import windows
from postroom.campaigns.models import Campaign
from postroom.delivery import ledger
from postroom.delivery.models import CampaignRun, Delivery
from postroom.errors import InvalidInput

FIELDS = ("window_start", "window_end", "window_days", "window_timezone")
NO_WINDOW: dict[str, Any] = {
    "window_start": None,
    "window_end": None,
    "window_days": windows.EVERY_DAY,
    "window_timezone": "",
}


def fields(values: dict[str, Any]) -> dict[str, Any]:
    """The checked window of a send step from campaign-shaped fields (what
    `windows.fields_from_text` returns, or the step form's); none given: no window."""
    if values.get("local_time") or values.get("local_date"):
        raise InvalidInput(
            gettext(
                "a send step's window is daily hours (09:00-17:00); to send at one local time, "
                "let the step wait until it (--until 09:00)"
            )
        )
    start: time | None = values.get("window_start")
    end: time | None = values.get("window_end")
    days = values.get("window_days", windows.EVERY_DAY)
    zone = (values.get("window_timezone") or "").strip()
    if start is None and end is None and days == windows.EVERY_DAY and not zone:
        return dict(NO_WINDOW)
    if start is None and end is None:
        raise InvalidInput(
            gettext("window days and a zone go with window hours (e.g. 09:00-17:00)")
        )
    windows.check(start, end, days, None, None, zone)
    return {"window_start": start, "window_end": end, "window_days": days, "window_timezone": zone}


def window_of(step: Step) -> windows.SendWindow:
    return Campaign(**{f: getattr(step, f) for f in FIELDS}).send_window()


def zone_for(step: Step, attributes: dict) -> str:
    """The ledger zone of a reader of this step: empty without a window (as ledger.build)."""
    if step.window_start is None:
        return ""
    found = (attributes or {}).get("timezone")
    text = str(found).strip() if found is not None else ""
    return (text or step.window_timezone or settings.TIME_ZONE)[: windows.ZONE_LENGTH]


def note_zones(rows: list[Delivery]) -> None:
    """Add the zones of newly queued rows to their campaigns' runs (inside the pass)."""
    wanted: dict[int, set[str]] = {}
    for row in rows:
        if row.zone:
            wanted.setdefault(row.campaign_id, set()).add(row.zone)
    for campaign_id, zones in wanted.items():
        run, _ = CampaignRun.objects.select_for_update().get_or_create(campaign_id=campaign_id)
        known = set(run.zones or [])
        if zones <= known:
            continue
        CampaignRun.objects.filter(pk=run.pk).update(zones=sorted(known | zones))
        Campaign.objects.filter(pk=campaign_id).update(updated_at=timezone.now())


def apply(step: Step) -> None:
    """After a send step's window changed: its campaigns take it, and the rows not sent
    yet take their zone under it (a row without one would never be claimed)."""
    ids = list(StepCampaign.objects.filter(step=step).values_list("campaign_id", flat=True))
    if not ids:
        return
    with transaction.atomic():
        Campaign.objects.filter(pk__in=ids).update(
            **{f: getattr(step, f) for f in FIELDS}, updated_at=timezone.now()
        )
        waiting = Delivery.objects.filter(
            campaign_id__in=ids, state__in=(Delivery.State.PENDING, Delivery.State.RETRY)
        ).select_related(None)
        by_zone: dict[str, list[int]] = {}
        for pk, attributes in waiting.values_list("pk", "subscriber__attributes").iterator(
            chunk_size=2000
        ):
            by_zone.setdefault(zone_for(step, attributes or {}), []).append(pk)
        for zone, pks in by_zone.items():
            for start in range(0, len(pks), 1000):
                Delivery.objects.filter(pk__in=pks[start : start + 1000]).update(zone=zone)
        for campaign_id in ids:
            CampaignRun.objects.update_or_create(
                campaign_id=campaign_id, defaults={"zones": ledger.zones(campaign_id)}
            )
