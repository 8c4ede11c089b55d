"""Waking sleeping workers: one shared counter that anything may bump.

Below the scheduler and the limiter (both bump it), so neither has to import
the other to wake the workers.
"""

from django.db.models import F

from postroom.delivery.models import SchedulerState


def generation() -> int:
    value = SchedulerState.objects.filter(key="generation").values_list("generation", flat=True)
    return value.first() or 0


def notify() -> None:
    """Wake sleeping workers: a campaign was started, paused, resumed or cancelled."""
    bumped = SchedulerState.objects.filter(key="generation").update(generation=F("generation") + 1)
    if not bumped:
        SchedulerState.objects.bulk_create(
            [SchedulerState(key="generation", generation=1)], ignore_conflicts=True
        )
