"""Auto-pause, only on evidence that the campaign itself is the problem.

A high share of permanent failures among the campaign's most recent outcomes
(its list holds dead addresses, or its content is refused) pauses it with the
reason and the thresholds. The count comes from the ledger, so it covers every
worker on every machine; a sender that cannot be reached never pauses anything
(delivery.waiting makes its campaigns wait).

It runs after a part with permanent failures (the happy path never looks) and
once more before a campaign finishes (`control.finish_if_done`): the part that
passes the threshold may be the last, and a worker (this one or another) may
find nothing left to send before that part's check has run.

A part's check looks at the window that ends with that part in ledger order,
not at the newest outcomes: parts sent side by side may be recorded in any
order, and a later part of good addresses recorded first must not hide the
earlier part's failures from its own check.
"""

from django.db.models import QuerySet

from postroom.campaigns.models import Campaign
from postroom.delivery import texts as T
from postroom.delivery.models import Delivery

State = Delivery.State
# Fewer outcomes than this (or than the window) say nothing yet.
MIN_OUTCOMES = 20


def min_outcomes(window: int) -> int:
    return min(window, MIN_OUTCOMES)


def thresholds_text(percent: int, window: int) -> str:
    """ "more than 20% of the last 200 recipients (once 20 have an outcome)"."""
    return T.THRESHOLDS % {"percent": percent, "window": window, "outcomes": min_outcomes(window)}


def recent_failures(campaign_id: int, window: int, upto: int | None = None) -> tuple[int, int]:
    """(failed, outcomes) among the campaign's last `window` recipients sent or failed
    (up to ledger row `upto`, when given).

    "Last" is ledger order, the order recipients are claimed in. Two backward
    walks of the claim index (campaign, state, id), at most `window` entries
    each, merged here: the cost does not grow with the campaign's size, where
    one query over both states would sort every sent row.
    """
    rows = Delivery.objects.filter(campaign_id=campaign_id)
    if upto is not None:
        rows = rows.filter(id__lte=upto)

    def last_ids(state: str) -> QuerySet:
        return rows.filter(state=state).order_by("-id").values_list("id", flat=True)[:window]

    failed = set(last_ids(State.FAILED))
    if not failed:
        return 0, 0
    newest = sorted(failed | set(last_ids(State.SENT)), reverse=True)[:window]
    return sum(1 for i in newest if i in failed), len(newest)


def verdict(campaign_id: int, upto: int | None = None) -> str:
    """Why the campaign should pause itself: its recent permanent failures (up to ledger
    row `upto`) pass its threshold (the reason, for the pause and its alert); "" if not."""
    percent, window = Campaign.objects.filter(pk=campaign_id).values_list(
        "error_threshold_percent", "error_window"
    ).first() or (100, 0)
    failed, outcomes = recent_failures(campaign_id, window, upto)
    if outcomes < min_outcomes(window) or failed * 100 <= percent * outcomes:
        return ""
    return T.FAILING % {
        "failed": failed,
        "outcomes": outcomes,
        "thresholds": thresholds_text(percent, window),
    }
