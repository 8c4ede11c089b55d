"""The audience's domain operations; the CLI, the UI, the API and imports all call these.

Each one checks everything first and writes in one transaction, so bad input
(an invalid address, an unknown list, a suppressed address) changes nothing.
"""

import ipaddress
import unicodedata
from collections.abc import Iterable
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.db.models import Count, ProtectedError, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from postroom.audience import segments, signup_settings
from postroom.audience.bulk import blocklist, erase_many
from postroom.audience.consent import clean_source, initial_status
from postroom.audience.emails import email_hash, normalize_email
from postroom.audience.languages import clean_language
from postroom.audience.models import (
    MailingList,
    Segment,
    Subscriber,
    Subscription,
    Suppression,
    Tag,
)
from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.webhooks.triggers import subscriber_event

__all__ = [
    "Suppressed",
    "add_subscriber",
    "blocklist",
    "clean_list_name",
    "confirm",
    "create_list",
    "delete_list",
    "delete_segment",
    "erase",
    "get_list",
    "get_segment",
    "get_subscriber",
    "join_lists",
    "lift_suppression",
    "resolve_lists",
    "save_segment",
    "set_status",
    "subscribe",
    "suppress",
    "suppressed_hashes",
    "unblocklist",
    "unsubscribe",
    "update_list",
    "update_subscriber",
    "upsert_subscriber",
]


class Suppressed(InvalidInput):
    """The address unsubscribed, bounced, complained or was blocklisted: it stays off."""


# --- lists ------------------------------------------------------------------------------


def get_list(name: str) -> MailingList:
    try:
        return MailingList.objects.get(name=name)
    except MailingList.DoesNotExist:
        raise NotFound(gettext("no list named %(name)s") % {"name": repr(name)}) from None


def resolve_lists(lists: Iterable[MailingList | str]) -> list[MailingList]:
    """Lists by object or name; an unknown name raises NotFound before anything is written."""
    wanted = list(lists or ())
    names = [item for item in wanted if isinstance(item, str)]
    found = {ml.name: ml for ml in MailingList.objects.filter(name__in=names)}
    result = []
    for item in wanted:
        if isinstance(item, str):
            if item not in found:
                raise NotFound(gettext("no list named %(name)s") % {"name": repr(item)})
            item = found[item]
        if item not in result:
            result.append(item)
    return result


def clean_list_name(name: str | None) -> str:
    """The name trimmed, or InvalidInput: it is shown in pages, emails and headers, where a
    line break or other control character breaks campaigns and confirmations."""
    return _one_line_name(name, "list")


def _one_line_name(name: str | None, what: Literal["list", "segment"]) -> str:
    """The whole sentence per kind, so each reads as one in every language."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput(
            gettext("a list needs a name of 1 to 200 characters")
            if what == "list"
            else gettext("a segment needs a name of 1 to 200 characters")
        )
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in name):
        raise InvalidInput(
            gettext("a list name cannot contain line breaks, tabs or other control characters")
            if what == "list"
            else gettext(
                "a segment name cannot contain line breaks, tabs or other control characters"
            )
        )
    return name


def create_list(
    name: str,
    optin: str = "single",
    description: str = "",
    public: bool = False,
    allowed_origins: Iterable[str] = (),
    captcha: bool = False,
    form_fields: list | None = None,
    language: str = "",
) -> MailingList:
    name = clean_list_name(name)
    if optin not in MailingList.Optin.values:
        raise InvalidInput(_optin_refused(optin))
    visibility = MailingList.Visibility.PUBLIC if public else MailingList.Visibility.PRIVATE
    origins = signup_settings.clean_origins(allowed_origins)
    fields = signup_settings.clean_form_fields(form_fields or [])
    language = clean_language(language)
    try:
        with transaction.atomic():
            return MailingList.objects.create(
                name=name,
                optin=optin,
                description=description or "",
                visibility=visibility,
                allowed_origins=origins,
                captcha=captcha,
                form_fields=fields,
                language=language,
            )
    except IntegrityError:
        raise InvalidInput(_list_exists(name)) from None


def _optin_refused(optin: object) -> str:
    return gettext("opt-in must be single or double, not %(optin)s") % {"optin": repr(optin)}


def update_list(mailing_list: MailingList, **changes: Any) -> MailingList:
    """Change a list's settings; only the keys given change, all are checked before any write.

    Keys: name, description, optin, public, allowed_origins, captcha, form_fields, language.
    """
    unknown = set(changes) - {
        "name",
        "description",
        "optin",
        "public",
        "allowed_origins",
        "captcha",
        "form_fields",
        "language",
    }
    if unknown:
        raise InvalidInput(
            gettext("a list has no setting %(setting)s") % {"setting": repr(sorted(unknown)[0])}
        )
    if "name" in changes:
        mailing_list.name = clean_list_name(changes["name"])
    if "description" in changes:
        mailing_list.description = changes["description"] or ""
    if "optin" in changes:
        if changes["optin"] not in MailingList.Optin.values:
            raise InvalidInput(_optin_refused(changes["optin"]))
        mailing_list.optin = changes["optin"]
    if "public" in changes:
        mailing_list.visibility = (
            MailingList.Visibility.PUBLIC if changes["public"] else MailingList.Visibility.PRIVATE
        )
    if "allowed_origins" in changes:
        mailing_list.allowed_origins = signup_settings.clean_origins(changes["allowed_origins"])
    if "captcha" in changes:
        mailing_list.captcha = bool(changes["captcha"])
    if "form_fields" in changes:
        mailing_list.form_fields = signup_settings.clean_form_fields(changes["form_fields"])
    if "language" in changes:
        mailing_list.language = clean_language(changes["language"] or "")
    try:
        with transaction.atomic():
            mailing_list.save()
    except IntegrityError:
        raise InvalidInput(_list_exists(mailing_list.name)) from None
    return mailing_list


def _list_exists(name: str) -> str:
    return gettext("a list named %(name)s already exists") % {"name": repr(name)}


def delete_list(mailing_list: MailingList) -> None:
    """Delete a list and its subscriptions; the subscribers stay."""
    mailing_list.delete()


def list_counts() -> dict[int, dict[str, int]]:
    """Subscriptions per list and status, in one grouped query over the (list, status) index."""
    counts: dict[int, dict[str, int]] = {}
    rows = Subscription.objects.values_list("mailing_list", "status").annotate(n=Count("pk"))
    for list_id, status, n in rows.order_by():
        counts.setdefault(list_id, dict.fromkeys(Subscription.Status.values, 0))[status] = n
    return counts


# --- subscribers ------------------------------------------------------------------------


def get_subscriber(email: str) -> Subscriber:
    try:
        return Subscriber.objects.get(email=normalize_email(email))
    except Subscriber.DoesNotExist:
        raise NotFound(
            gettext("no subscriber %(email)s") % {"email": repr(email.strip())}
        ) from None


def _clean_ip(ip: str | None) -> str | None:
    if not ip:
        return None
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        raise InvalidInput(gettext("%(ip)s is not an IP address") % {"ip": repr(ip)}) from None


def clean_attributes(attributes: Any) -> dict:
    if attributes is None:
        return {}
    if not isinstance(attributes, dict) or not all(isinstance(k, str) for k in attributes):
        raise InvalidInput(gettext("attributes must be an object with text keys"))
    return attributes


def suppression_for(address: str) -> Suppression | None:
    return Suppression.objects.filter(email_hash=email_hash(address)).first()


def suppressed_hashes(hashes: Iterable[str]) -> set[str]:
    """Which of these hashes are suppressed: the importer's batch check."""
    return set(
        Suppression.objects.filter(email_hash__in=list(hashes)).values_list("email_hash", flat=True)
    )


def upsert_subscriber(
    email: str,
    name: str = "",
    lists: Iterable[MailingList | str] = (),
    source: str = "admin",
    ip: str | None = None,
    attributes: dict | None = None,
    *,
    preconfirmed: bool = False,
) -> tuple[Subscriber, bool]:
    """add_subscriber, also saying whether the subscriber is new."""
    address = normalize_email(email)
    source = clean_source(source)
    ip = _clean_ip(ip)
    attributes = clean_attributes(attributes)
    name = (name or "").strip()
    if len(name) > 255:
        raise InvalidInput(gettext("a name has at most 255 characters"))
    mailing_lists = resolve_lists(lists)
    suppression = suppression_for(address)
    if suppression is not None:
        raise Suppressed(
            gettext("%(email)s is on the suppression list (%(reason)s) and cannot be added")
            % {"email": address, "reason": suppression.reason}
        )
    with transaction.atomic():
        subscriber, created = Subscriber.objects.get_or_create(
            email=address, defaults={"name": name, "attributes": attributes}
        )
        if not created and (name or attributes):
            subscriber.name = name or subscriber.name
            subscriber.attributes = {**subscriber.attributes, **attributes}
            subscriber.save(update_fields=["name", "attributes", "updated_at"])
        for mailing_list in mailing_lists:
            subscribe(subscriber, mailing_list, source, ip, preconfirmed=preconfirmed)
    return subscriber, created


def add_subscriber(
    email: str,
    name: str = "",
    lists: Iterable[MailingList | str] = (),
    source: str = "admin",
    ip: str | None = None,
    attributes: dict | None = None,
    *,
    preconfirmed: bool = False,
) -> Subscriber:
    """Add (or update) a subscriber and subscribe them, recording consent.

    A suppressed address is refused with `Suppressed`; existing subscriptions
    that were unsubscribed stay unsubscribed unless the person asks again
    through a form (a fresh consent).
    """
    subscriber, _ = upsert_subscriber(
        email, name, lists, source, ip, attributes, preconfirmed=preconfirmed
    )
    return subscriber


def subscribe(
    subscriber: Subscriber,
    mailing_list: MailingList,
    source: str = "admin",
    ip: str | None = None,
    *,
    preconfirmed: bool = False,
) -> Subscription:
    now = timezone.now()
    status = initial_status(mailing_list, preconfirmed)
    fresh = {
        "status": status,
        "consent_source": clean_source(source),
        "consent_at": now,
        "consent_ip": _clean_ip(ip),
        "confirmed_at": now if status == Subscription.Status.CONFIRMED else None,
        "unsubscribed_at": None,
        "unsubscribe_source": "",
    }
    subscription, created = Subscription.objects.get_or_create(
        subscriber=subscriber, mailing_list=mailing_list, defaults=fresh
    )
    renew = subscription.status == Subscription.Status.UNSUBSCRIBED and source == "form"
    if not created and renew:
        for field, value in fresh.items():
            setattr(subscription, field, value)
        subscription.save()
    if (created or renew) and subscription.status == Subscription.Status.CONFIRMED:
        _confirmed(subscriber, mailing_list)
    return subscription


def _confirmed(subscriber: Subscriber, mailing_list: MailingList) -> None:
    """Every confirmation (a double opt-in click, a preconfirmed consent) passes here."""
    subscriber_event(
        "subscriber.confirmed",
        subscriber,
        list={"id": mailing_list.pk, "uuid": str(mailing_list.uuid), "name": mailing_list.name},
    )


def confirm(subscription: Subscription, ip: str | None = None) -> bool:
    """Double opt-in confirmed; False when it was not waiting for confirmation."""
    changed = Subscription.objects.filter(
        pk=subscription.pk, status=Subscription.Status.UNCONFIRMED
    ).update(
        status=Subscription.Status.CONFIRMED,
        confirmed_at=timezone.now(),
        consent_ip=_clean_ip(ip) or subscription.consent_ip,
        updated_at=timezone.now(),
    )
    subscription.refresh_from_db()
    if changed == 1:
        _confirmed(subscription.subscriber, subscription.mailing_list)
    return changed == 1


def unsubscribe(
    subscriber: Subscriber, lists: Iterable[MailingList] | None = None, source: str = "admin"
) -> int:
    """Unsubscribe from `lists`, or from everything (None), which also suppresses the address.

    Returns how many subscriptions changed; records when and through what.
    """
    now = timezone.now()
    with transaction.atomic():
        rows = subscriber.subscriptions.exclude(status=Subscription.Status.UNSUBSCRIBED)
        if lists is not None:
            rows = rows.filter(mailing_list__in=list(lists))
        left = list(rows.values_list("mailing_list__name", flat=True))
        changed = rows.update(
            status=Subscription.Status.UNSUBSCRIBED,
            unsubscribed_at=now,
            unsubscribe_source=source[:64],
            updated_at=now,
        )
        if lists is None:
            suppress(subscriber.email, Suppression.Reason.UNSUBSCRIBED, source)
        if changed or lists is None:
            subscriber_event(
                "subscriber.unsubscribed",
                subscriber,
                lists=sorted(left),
                everything=lists is None,
                source=source,
            )
    return changed


def suppress(address: str, reason: str, source: str = "") -> Suppression:
    """Keep `address` (already normalised) from ever being mailed; the first reason stays."""
    if reason not in Suppression.Reason.values:
        raise InvalidInput(
            gettext("unknown suppression reason %(reason)s") % {"reason": repr(reason)}
        )
    suppression, _ = Suppression.objects.get_or_create(
        email_hash=email_hash(address), defaults={"reason": reason, "source": source[:64]}
    )
    return suppression


def lift_suppression(address: str) -> bool:
    """After a fresh, confirmed consent: forget an unsubscribe (never a bounce or complaint)."""
    lifted, _ = Suppression.objects.filter(
        email_hash=email_hash(normalize_email(address)),
        reason__in=[Suppression.Reason.UNSUBSCRIBED, Suppression.Reason.MANUAL],
    ).delete()
    return lifted > 0


@transaction.atomic
def unblocklist(subscriber: Subscriber) -> None:
    Suppression.objects.filter(
        email_hash=subscriber.email_hash, reason=Suppression.Reason.BLOCKLISTED
    ).delete()
    subscriber.status = Subscriber.Status.ACTIVE
    subscriber.save(update_fields=["status", "updated_at"])


def erase(subscriber: Subscriber) -> None:
    """GDPR erasure of one subscriber; see bulk.erase_many for what is kept."""
    erase_many(Subscriber.objects.filter(pk=subscriber.pk))


@transaction.atomic
def set_tags(subscriber: Subscriber, names: Iterable[str]) -> None:
    wanted = [n.strip() for n in names if n and n.strip()]
    tags = [Tag.objects.get_or_create(name=n[:100])[0] for n in dict.fromkeys(wanted)]
    subscriber.tags.set(tags)


def update_subscriber(
    subscriber: Subscriber,
    *,
    name: str | None = None,
    attributes: Any = None,
    tags: Iterable[str] | None = None,
) -> Subscriber:
    """Change what is given (attributes and tags are replaced whole); all checked first."""
    if name is not None:
        name = name.strip()
        if len(name) > 255:
            raise InvalidInput(gettext("a name has at most 255 characters"))
    cleaned = None if attributes is None else clean_attributes(attributes)
    with transaction.atomic():
        if name is not None:
            subscriber.name = name
        if cleaned is not None:
            subscriber.attributes = cleaned
        subscriber.save(update_fields=["name", "attributes", "updated_at"])
        if tags is not None:
            set_tags(subscriber, tags)
    return subscriber


def join_lists(
    subscriber: Subscriber,
    lists: Iterable[MailingList | str],
    source: str = "admin",
    *,
    preconfirmed: bool = False,
) -> list[Subscription]:
    """Subscribe an existing subscriber to lists; a suppressed address is refused whole."""
    mailing_lists = resolve_lists(lists)
    if not mailing_lists:
        raise InvalidInput(gettext("choose a list"))
    if suppression_for(subscriber.email):
        raise Suppressed(gettext("this address is suppressed; it cannot be subscribed"))
    with transaction.atomic():
        return [
            subscribe(subscriber, ml, source, preconfirmed=preconfirmed) for ml in mailing_lists
        ]


def set_status(subscriber: Subscriber, status: str, source: str = "admin") -> Subscriber:
    """Blocklist (never mailed again) or make active again (lifts the blocklisting only)."""
    if status == Subscriber.Status.BLOCKLISTED:
        blocklist(Subscriber.objects.filter(pk=subscriber.pk), source=source)
    elif status == Subscriber.Status.ACTIVE:
        unblocklist(subscriber)
    else:
        raise InvalidInput(
            gettext("status must be active or blocklisted, not %(status)s")
            % {"status": repr(status)}
        )
    subscriber.refresh_from_db()
    return subscriber


def subscribers_in(ids: Iterable[int]) -> QuerySet[Subscriber]:
    return Subscriber.objects.filter(pk__in=list(ids))


# --- segments ---------------------------------------------------------------------------


def get_segment(name: str) -> Segment:
    try:
        return Segment.objects.get(name=name)
    except Segment.DoesNotExist:
        raise NotFound(gettext("no segment named %(name)s") % {"name": repr(name)}) from None


def save_segment(
    name: str, definition: Any, description: str = "", segment: Segment | None = None
) -> Segment:
    """Create or update a segment; the definition is stored in its validated form."""
    name = _one_line_name(name, "segment")
    cleaned = segments.validate(definition)
    segment = segment or Segment()
    segment.name, segment.definition, segment.description = name, cleaned, description or ""
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError:
        raise InvalidInput(
            gettext("a segment named %(name)s already exists") % {"name": repr(name)}
        ) from None
    return segment


def delete_segment(segment: Segment) -> None:
    try:
        segment.delete()
    except ProtectedError:
        raise Conflict(gettext("campaigns use this segment; it cannot be deleted")) from None
