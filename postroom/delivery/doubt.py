"""Recipients in doubt: what is known about each, and settling them ("delivered" or "resend").

A row is in doubt when its message may have been accepted by the SMTP server
but no reply was recorded (a worker died with it on the wire, or the
connection dropped after the body). Postroom cannot know which: only the
provider's logs or the recipient can. So it never decides alone; an operator
marks the rows delivered (no second copy) or resends them (perhaps a second
copy). One function does it for the UI, the CLI and the API.

- delivered: the row becomes `sent` with `error` holding the note "marked
  delivered by WHO on WHEN" and no `sent_at`. A server-confirmed send always
  has an empty `error` and a `sent_at`, so the ledger and its CSV tell them apart.
- resend: the row goes back to `pending` with its attempts kept, through
  `control.requeue` like retry-failed. A finished campaign runs again; a paused
  one sends them once resumed; a cancelled one refuses (it sends nothing more).
"""

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from postroom.audience.emails import InvalidEmail, normalize_email
from postroom.campaigns.models import Campaign
from postroom.delivery import control, events, scheduler
from postroom.delivery import texts as T
from postroom.delivery.models import Delivery
from postroom.errors import InvalidInput

State = Delivery.State
Status = Campaign.Status

# A selection is a few rows chosen by hand; everything else is "all in doubt".
MAX_SELECTION = 1000
# How many addresses the event names, so the log says who without growing long.
NAMED_IN_EVENT = 5
# A state as the refusal says it: "x@y is not in doubt in campaign 12 (it is sent)".
STATE_WORDS = {
    State.PENDING: gettext_lazy("pending"),
    State.SENDING: gettext_lazy("being sent"),
    State.RETRY: gettext_lazy("waiting for a retry"),
    State.SENT: gettext_lazy("sent"),
    State.FAILED: gettext_lazy("failed"),
    State.SKIPPED: gettext_lazy("skipped"),
}


def rows_in_doubt(campaign: Campaign) -> QuerySet[Delivery]:
    return Delivery.objects.filter(campaign_id=campaign.pk, state=State.IN_DOUBT)


def known(row: Delivery, campaign: Campaign) -> dict[str, Any]:
    """What the ledger knows about one row in doubt, for the API and the delivery log.

    The sender is the row's, else the campaign's (the only one it can have gone
    through: a started campaign's sender cannot change).
    """
    sender = row.sender if row.sender_id else campaign.sender
    return {
        "id": row.pk,
        "email": row.email,
        "subscriber_id": row.subscriber_id,
        "attempts": row.attempts,
        "handed_at": row.handed_at,
        "in_doubt_since": row.updated_at,
        "worker": row.worker or None,
        "sender": sender.name if sender else "outbox",
        "error": row.error,
        "reply": row.reply,
    }


def resolve(
    campaign: Campaign,
    delivered: bool,
    emails: Iterable[str] | None = None,
    ids: Iterable[int] | None = None,
    by: Any = None,
) -> int:
    """Settle rows in doubt; the number settled. Without emails and ids: every row in doubt.

    Every chosen row must be in doubt, or nothing changes and the error names
    the first that is not. `by` is a user or a label, written in the note and
    the event.
    """
    who = _who(by)
    when = timezone.localtime().strftime("%Y-%m-%d %H:%M %Z")
    verb = T.MARKED_DELIVERED if delivered else T.RESENT
    with transaction.atomic():
        # A cancelled campaign sends nothing more; marking delivered only records a fact.
        allowed = [s for s in Status.values if delivered or s != Status.CANCELLED]
        campaign = control.lock(
            campaign,
            tuple(allowed),
            gettext(
                "it sends nothing more, so its recipients in doubt can only be marked delivered"
            ),
        )
        rows, chosen = _chosen(campaign, emails, ids)
        now = timezone.now()
        # The old text (why it was in doubt) stays after the note, cut to the column's size.
        note = Substr(
            Concat(
                Value(T.RESOLVED_NOTE % {"verb": verb, "who": who, "when": when, "error": ""}),
                F("error"),
            ),
            1,
            1000,
        )
        if delivered:
            count = rows.update(
                state=State.SENT, error=note, worker="", lease_until=None, updated_at=now
            )
        else:
            # An erased subscriber's row has no address left to send to (see erasure.py).
            count = rows.filter(email="").update(
                state=State.SKIPPED, error=T.ROW_ERASED, updated_at=now
            )
            count += control.requeue(rows.exclude(email=""), note=note)
        if count == 0:
            raise InvalidInput(
                gettext("nothing is in doubt in campaign %(id)s") % {"id": campaign.pk}
            )
        if chosen is not None and count != len(chosen):  # a row moved meanwhile
            raise InvalidInput(
                gettext("some of those recipients changed meanwhile; nothing changed")
            )
        if not delivered:
            control.reopen(campaign)
        events.record(
            campaign.pk,
            events.Kind.RESOLVED,
            _resolved(count, verb, who, chosen),
        )
    if not delivered:
        scheduler.notify()
    return count


def _resolved(count: int, verb: str, who: str, chosen: list[str] | None) -> str:
    """The event: how many were settled how and by whom, and which when picked by hand."""
    values = {"count": count, "verb": verb, "who": who}
    if not chosen:
        if count == 1:
            return T.RESOLVED_ONE % values
        return (T.RESOLVED_ALL if chosen is None else T.RESOLVED_MANY) % values
    more = len(chosen) - NAMED_IN_EVENT
    values.update(emails=", ".join(chosen[:NAMED_IN_EVENT]), more=more)
    if more > 0:
        return T.RESOLVED_MANY_NAMED_MORE % values
    return (T.RESOLVED_ONE_NAMED if count == 1 else T.RESOLVED_MANY_NAMED) % values


def _chosen(
    campaign: Campaign, emails: Iterable[str] | None, ids: Iterable[int] | None
) -> tuple[QuerySet[Delivery], list[str] | None]:
    """The rows to settle and, for a hand-picked selection, their addresses.

    Refuses a selection with any row that is not in doubt, naming it and its state.
    """
    if emails is None and ids is None:
        return rows_in_doubt(campaign), None
    addresses = {_canonical(e): e.strip() for e in emails or ()}
    wanted_ids = set()
    for value in ids or ():
        try:
            wanted_ids.add(int(value))
        except (TypeError, ValueError):
            raise InvalidInput(
                gettext("%(value)s is not a delivery id") % {"value": repr(value)}
            ) from None
    if not addresses and not wanted_ids:
        raise InvalidInput(gettext("choose the recipients to settle, or all of them"))
    if len(addresses) + len(wanted_ids) > MAX_SELECTION:
        raise InvalidInput(
            gettext("at most %(count)s recipients at a time; settle them all at once instead")
            % {"count": MAX_SELECTION}
        )
    ledger = Delivery.objects.filter(campaign_id=campaign.pk)
    by_email = {
        email: (pk, state)
        for pk, email, state in ledger.filter(email__in=addresses).values_list(
            "pk", "email", "state"
        )
    }
    by_id = {
        pk: (email, state)
        for pk, email, state in ledger.filter(pk__in=wanted_ids).values_list("pk", "email", "state")
    }
    chosen: dict[int, str] = {}
    for address, typed in addresses.items():
        if address not in by_email:
            raise InvalidInput(
                gettext(
                    "%(who)s is not in doubt in campaign %(id)s (it is not one of its recipients)"
                )
                % {"who": typed, "id": campaign.pk}
            )
        pk, state = by_email[address]
        _check(campaign, typed, state)
        chosen[pk] = address
    for pk in sorted(wanted_ids):
        if pk not in by_id:
            raise InvalidInput(
                gettext("delivery %(pk)s is not a recipient of campaign %(id)s")
                % {"pk": pk, "id": campaign.pk}
            )
        email, state = by_id[pk]
        _check(campaign, email or gettext("recipient #%(pk)s (erased)") % {"pk": pk}, state)
        chosen[pk] = email or f"#{pk}"
    return rows_in_doubt(campaign).filter(pk__in=chosen), sorted(chosen.values())


def _check(campaign: Campaign, who: str, state: str) -> None:
    if state != State.IN_DOUBT:
        words = STATE_WORDS.get(State(state), state.replace("_", " "))
        raise InvalidInput(
            gettext("%(who)s is not in doubt in campaign %(id)s (it is %(state)s)")
            % {"who": who, "id": campaign.pk, "state": words}
        )


def _canonical(address: str) -> str:
    """The ledger keeps addresses normalised; an invalid one simply matches nobody."""
    try:
        return normalize_email(address)
    except InvalidEmail:
        return address.strip().lower()


def _who(by: Any) -> str:
    if by is None:
        return "an operator"
    if isinstance(by, str):
        return by
    return by.get_username()
