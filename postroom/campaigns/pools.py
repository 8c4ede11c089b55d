"""A campaign's pool of senders: which senders its mail goes through, and in what shares.

Written as `relay`, `relay:2` or `relay:2,backup:1` (CLI, API), or picked in
the campaign editor. One sender is exactly the campaign's `sender` as before
pools, with no pool rows; several are rows of `CampaignSender`, the first one
the primary (`Campaign.sender`: test sends, the From default). The scheduler
splits the campaign's mail among them by weight while each can take its share
and moves a share to the others while its sender cannot (docs/rate-limits.md).
"""

from collections.abc import Iterable, Sequence

from django.utils.translation import gettext

from postroom.campaigns.models import Campaign, CampaignSender
from postroom.delivery.models import Sender
from postroom.errors import InvalidInput, NotFound

MAX_SENDERS = 10
MAX_WEIGHT = 1000

Member = tuple[Sender, int]


def parse(texts: Iterable[str]) -> list[tuple[str, int]]:
    """`["a", "b:3"]` or `["a:2,b:1"]` → [("a", 1), ("b", 3)]; weights default to 1.

    A name may itself hold a colon: only a trailing `:<digits>` is a weight.
    """
    members: list[tuple[str, int]] = []
    for text in texts:
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            name, sep, weight = part.rpartition(":")
            if not sep or not weight.strip().isdigit():
                name, weight = part, "1"
            members.append((name.strip(), _weight(weight.strip(), name.strip())))
    return members


def _weight(value: object, name: str) -> int:
    try:
        weight = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise InvalidInput(
            gettext("sender %(name)s: the weight must be a whole number") % {"name": repr(name)}
        ) from None
    if not 1 <= weight <= MAX_WEIGHT:
        raise InvalidInput(
            gettext("sender %(name)s: the weight must be from 1 to %(limit)s")
            % {"name": repr(name), "limit": MAX_WEIGHT}
        )
    return weight


def resolve(named: Sequence[tuple[str, int]]) -> list[Member]:
    """Senders by name with their weights, checked; NotFound for a name that is not a sender."""
    found = {s.name: s for s in Sender.objects.filter(name__in=[n for n, _ in named])}
    members = []
    for name, weight in named:
        if name not in found:
            raise NotFound(gettext("sender %(name)s does not exist") % {"name": repr(name)})
        members.append((found[name], _weight(weight, name)))
    return check(members)


def check(members: Sequence[Member]) -> list[Member]:
    """The pool as given, refused with the reason when a sender repeats or there are too many."""
    seen: set[int] = set()
    for sender, weight in members:
        if sender.pk in seen:
            raise InvalidInput(
                gettext("sender %(name)s is in the pool twice") % {"name": repr(sender.name)}
            )
        seen.add(sender.pk)
        _weight(weight, sender.name)
    if len(members) > MAX_SENDERS:
        raise InvalidInput(
            gettext("a campaign sends through at most %(limit)s senders") % {"limit": MAX_SENDERS}
        )
    return list(members)


def members(campaign: Campaign) -> list[Member]:
    """The pool as it is sent through: [(sender, weight)], primary first; [] for the outbox."""
    rows = list(CampaignSender.objects.filter(campaign=campaign).select_related("sender"))
    rows.sort(key=lambda row: row.sender_id != campaign.sender_id)  # stable: then by weight
    if rows:
        return [(row.sender, row.weight) for row in rows]
    primary = campaign.sender  # no query when sender_id is None
    return [(primary, 1)] if primary is not None else []


def weights(campaigns: Iterable[tuple[int, int | None]]) -> dict[int, dict[int | None, int]]:
    """{campaign id: {sender id: weight}} for (campaign id, primary sender id) pairs.

    One query for all of them; a campaign without pool rows is {its sender: 1}
    (None: the local outbox).
    """
    primaries = dict(campaigns)
    pools: dict[int, dict[int | None, int]] = {}
    rows = CampaignSender.objects.filter(campaign_id__in=primaries).order_by("-weight", "id")
    for campaign_id, sender_id, weight in rows.values_list("campaign_id", "sender_id", "weight"):
        pools.setdefault(campaign_id, {})[sender_id] = weight
    for campaign_id, primary_id in primaries.items():
        pools.setdefault(campaign_id, {primary_id: 1})
    return pools


def using(sender_id: int) -> list[int]:
    """Ids of the campaigns whose pool holds this sender (its primary ones not included)."""
    return list(
        CampaignSender.objects.filter(sender_id=sender_id).values_list("campaign_id", flat=True)
    )


def save(campaign: Campaign, pool: Sequence[Member] | None, new_primary: bool) -> None:
    """Store the pool of a saved campaign (call inside the save's transaction).

    `pool` given: it replaces the pool. Otherwise a new primary (the campaign's
    `sender` was changed alone) makes a pool of that sender alone.
    """
    if pool is None:
        if new_primary:
            CampaignSender.objects.filter(campaign=campaign).delete()
        return
    CampaignSender.objects.filter(campaign=campaign).delete()
    if len(pool) > 1:
        CampaignSender.objects.bulk_create(
            CampaignSender(campaign=campaign, sender=sender, weight=weight)
            for sender, weight in pool
        )


def describe(pool: Sequence[Member]) -> str:
    """ "relay (2), backup (1)" — or the one sender's name, or the local outbox."""
    if not pool:
        return "the local outbox"
    if len(pool) == 1:
        return pool[0][0].name
    return ", ".join(f"{sender.name} ({weight})" for sender, weight in pool)
