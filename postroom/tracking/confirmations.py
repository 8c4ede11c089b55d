"""Subscriptions asked for through a public form, and their double opt-in confirmation.

Anyone can type any address into a public form, so a request proves nothing
about who made it. The rules that follow from that:

- A visitor learns nothing about an address: the same page answers whether it
  was new, already subscribed, suppressed or blocklisted (`request_subscription`
  returns what happened for logs and tests; the view never shows it).
- Details of an existing subscriber are never changed from a form.
- Double opt-in lists: the subscription waits, `unconfirmed`, for the click.
- Single opt-in lists subscribe at once, except an address that said no
  before (it left this list, or is on the suppression list because it
  unsubscribed from everything): only a click from the mailbox itself is a
  fresh consent that outweighs that "no", so nothing changes until the click.
- Confirming lifts an unsubscribe-kind suppression (for that list only: the
  others stay unsubscribed). Bounced, complained or blocklisted addresses are
  never mailed from a form at all.
- An unsubscribe after the email went out wins over its link.
- The email never contains what the visitor typed (the name), so a form
  cannot put someone's words into a stranger's inbox, and one goes to an
  address for a list at most every RESEND_MINUTES.

A confirmation link is a signed token naming the subscriber, the list and when
it was issued; it expires after CONFIRM_DAYS with nothing stored.
"""

import logging
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext

from postroom.audience import languages
from postroom.audience import services as audience
from postroom.audience.emails import normalize_email
from postroom.audience.models import MailingList, Subscriber, Subscription, Suppression
from postroom.campaigns.services import default_from_email
from postroom.campaigns.spec import list_id_label
from postroom.delivery.models import Sender
from postroom.delivery.outgoing import send_soon
from postroom.errors import InvalidInput, NotFound, PostroomError
from postroom.mail import content, mime
from postroom.mail.compose import BuiltMessage
from postroom.mail.links import BadToken
from postroom.public.branding import brand_for
from postroom.tracking import links

log = logging.getLogger(__name__)

CONFIRM_DAYS = 7
RESEND_MINUTES = 10

# What request_subscription did; the visitor sees the same page for all of them.
SUBSCRIBED = "subscribed"  # single opt-in: on the list now
CONFIRMATION_SENT = "confirmation-sent"
CONFIRMATION_FAILED = "confirmation-failed"  # the mail could not go out; asking again retries
THROTTLED = "throttled"  # a confirmation went to this address for this list moments ago
ALREADY = "already-subscribed"
REFUSED = "refused"  # bounced, complained or blocklisted: never mailed from a form

# Suppressions a fresh, confirmed consent may lift (the same rule as lift_suppression).
_LIFTABLE = {Suppression.Reason.UNSUBSCRIBED, Suppression.Reason.MANUAL}


class Expired(InvalidInput):
    """A genuine confirmation link that is too old to use."""


def request_subscription(
    email: str,
    mailing_list: MailingList,
    name: str = "",
    ip: str | None = None,
    attributes: dict | None = None,
    public_only: bool = True,
    language: str = "",
) -> str:
    """Subscribe `email` to a public list as asked through a form; what happened.

    Raises InvalidEmail for an address that is not valid and NotFound for a
    list that is not public; everything else ends in one of the outcomes above.
    `public_only=False` is for a person back through a signed link to a list
    they left ("subscribe again"), which may be private. `language` is the sign-up
    page's, for the email when neither the subscriber nor the list has one.
    """
    if public_only and not mailing_list.is_public:
        raise NotFound(gettext("no such list"))
    address = normalize_email(email)
    suppression = audience.suppression_for(address)
    if suppression is not None and suppression.reason not in _LIFTABLE:
        return REFUSED
    with transaction.atomic():
        subscriber, _ = Subscriber.objects.get_or_create(
            email=address,
            defaults={"name": (name or "").strip()[:255], "attributes": attributes or {}},
        )
        if subscriber.is_blocklisted:
            return REFUSED
        before = (
            Subscription.objects.filter(subscriber=subscriber, mailing_list=mailing_list)
            .values_list("status", flat=True)
            .first()
        )
        if before == Subscription.Status.CONFIRMED and suppression is None:
            return ALREADY
        said_no = suppression is not None or before == Subscription.Status.UNSUBSCRIBED
        double = mailing_list.optin == MailingList.Optin.DOUBLE
        if double or not said_no:
            # Records the form's consent (and renews a row that had left, as unconfirmed
            # on a double opt-in list); a single opt-in list that was told no waits instead.
            audience.subscribe(subscriber, mailing_list, "form", ip)
    if not double and not said_no:
        return SUBSCRIBED
    # Sent after the commit: a write transaction must not wait on a mail server.
    return send_confirmation(subscriber, mailing_list, language)


def send_confirmation(subscriber: Subscriber, mailing_list: MailingList, language: str = "") -> str:
    """Mail the confirmation link, unless one went out in the last RESEND_MINUTES."""
    key = f"postroom:confirmation-sent:{subscriber.pk}:{mailing_list.pk}"
    if not cache.add(key, 1, RESEND_MINUTES * 60):
        return THROTTLED
    sender = confirmation_sender()
    outcome = None
    try:
        message = build_confirmation(subscriber, mailing_list, sender, language=language)
        # Within the sender's limits: what has no slot now waits in the database for one.
        outcome = send_soon(sender, [message])[0]
    except PostroomError as exc:  # no From address, or a bad one
        log.warning("a confirmation to subscriber %s was not sent: %s", subscriber.pk, exc)
    except Exception:
        # The visitor's answer must not depend on the mail server; the log says why.
        log.exception("the confirmation to subscriber %s could not be sent", subscriber.pk)
    if outcome is None or not outcome.ok:
        if outcome is not None and outcome.result is not None:
            log.warning(
                "the confirmation to subscriber %s: %s", subscriber.pk, outcome.result.reply
            )
        cache.delete(key)  # so asking again retries at once
        return CONFIRMATION_FAILED
    return CONFIRMATION_SENT


def confirmation_sender():
    """The sender confirmations go through: the oldest one, else the local outbox (None).

    Lists have no sender of their own; the oldest sender is the one an
    installation was set up with, and adding another later does not move
    confirmations. With no sender nothing can leave the machine, so the mail
    lands in the outbox, like campaigns without a sender.
    """

    return Sender.objects.order_by("pk").first()


def build_confirmation(
    subscriber: Subscriber,
    mailing_list: MailingList,
    sender=None,
    issued_ms: int | None = None,
    language: str = "",
) -> BuiltMessage:
    """The confirmation email through `sender`, assembled by the campaigns' MIME builder.

    In the subscriber's language, else the list's, else `language` (the sign-up page's),
    else the installation's.
    """

    issued_ms = int(time.time() * 1000) if issued_ms is None else issued_ms
    signer = links.default_signer()
    from_email = default_from_email(sender)
    speaks = (
        languages.for_reader(subscriber, mailing_list)
        or languages.supported(language)
        or settings.LANGUAGE_CODE
    )
    with translation.override(speaks):
        html = render_to_string(
            "web/public/confirm_email.html",
            {
                "list": mailing_list,
                "confirm_url": signer.confirm_url(subscriber.pk, mailing_list.pk, issued_ms),
                "days": CONFIRM_DAYS,
                "brand": brand_for(mailing_list),
            },
        )
        subject = gettext("Confirm your subscription to %(list)s") % {"list": mailing_list.name}
    from_box = mime.mailbox(from_email, mime.clean_subscriber_value(mailing_list.name))
    template = mime.MessageTemplate(
        from_box=from_box,
        list_id_header=mime.list_id(
            list_id_label([mailing_list], mailing_list.name, from_email), mailing_list.name
        ),
        boundary="==_postroom_" + secrets.token_hex(12),
        static_subject=mime.clean_subscriber_value(subject),
    )
    # Campaign 0: "didn't ask for this?" one-click unsubscribes the address from everything.
    unsubscribe = mime.list_unsubscribe(signer.unsubscribe_url(0, subscriber.pk), None)
    to = mime.mailbox(subscriber.email)  # without the name the visitor typed
    domain = mime.ascii_domain(from_email.rpartition("@")[2])
    # Unique per mail: providers drop a second message with a Message-ID they have seen.
    message_id = (
        f"<confirm.{subscriber.pk}.{mailing_list.pk}.{issued_ms}.{secrets.token_hex(4)}@{domain}>"
    )
    data = template.build(
        to=to,
        message_id=message_id,
        list_unsubscribe_header=unsubscribe,
        text=content.html_to_text(html),
        html=html,
    )
    # Bounces go where the sender's campaigns send theirs.
    envelope = (
        mime.mailbox(sender.envelope_from).envelope if sender and sender.envelope_from else ""
    )
    return BuiltMessage(
        data, message_id, envelope or from_box.envelope, to.envelope, to.needs_smtputf8
    )


@dataclass(frozen=True)
class Pending:
    """What a genuine confirmation link asks for."""

    subscriber: Subscriber
    mailing_list: MailingList
    issued_ms: int  # when the link was made, epoch milliseconds

    @property
    def subscription(self) -> Subscription | None:
        return Subscription.objects.filter(
            subscriber=self.subscriber, mailing_list=self.mailing_list
        ).first()

    @property
    def is_done(self) -> bool:
        """Subscribed and mailable already: nothing left to confirm."""
        row = self.subscription
        return (
            row is not None
            and row.status == Subscription.Status.CONFIRMED
            and audience.suppression_for(self.subscriber.email) is None
        )


def pending(token: str, now: float | None = None) -> Pending:
    """What a genuine, unexpired confirmation token asks for.

    BadToken for a forged or altered token, Expired for an old one, NotFound
    when the subscriber or the list no longer exists.
    """
    kind, ids = links.verify(token)
    if kind != "confirm":
        raise BadToken(gettext("this link is not valid here"))
    subscriber_id, list_id, issued_ms = ids
    now = time.time() if now is None else now
    if now - issued_ms / 1000 > CONFIRM_DAYS * 86400:
        raise Expired(
            gettext("this confirmation link has expired (links last %(days)s days)")
            % {"days": CONFIRM_DAYS}
        )
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    mailing_list = MailingList.objects.filter(pk=list_id).first()
    if subscriber is None or mailing_list is None:
        raise NotFound(gettext("this subscription no longer exists"))
    return Pending(subscriber, mailing_list, issued_ms)


def _ms(moment) -> int:
    return int(moment.timestamp() * 1000)


def _withdrawn_since(request: Pending, row: Subscription | None) -> bool:
    """Whether the address unsubscribed (or was suppressed) after the link was made."""
    if row is None:
        return False
    left = row.status == Subscription.Status.UNSUBSCRIBED
    if left and row.unsubscribed_at and _ms(row.unsubscribed_at) > request.issued_ms:
        return True
    suppression = audience.suppression_for(request.subscriber.email)
    return suppression is not None and (
        suppression.reason not in _LIFTABLE or _ms(suppression.created_at) > request.issued_ms
    )


def confirm_subscription(request: Pending, ip: str | None = None) -> bool:
    """Subscribe for good after a click from the mailbox; False when that was withdrawn since.

    The consent recorded is this click's: source "form", its time and IP.
    """
    with transaction.atomic():
        row = request.subscription
        if _withdrawn_since(request, row) or request.subscriber.is_blocklisted:
            return False
        if row is not None and row.status == Subscription.Status.UNCONFIRMED:
            audience.confirm(row, ip)
        elif row is None or row.status == Subscription.Status.UNSUBSCRIBED:
            audience.subscribe(
                request.subscriber, request.mailing_list, "form", ip, preconfirmed=True
            )
        audience.lift_suppression(request.subscriber.email)
    return True
