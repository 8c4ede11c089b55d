"""What can be done to a campaign: write, check, duplicate, schedule, preview, test.

The web UI, the API and the CLI all call these functions; each one either does
everything it was asked or raises a PostroomError and changes nothing.
"""

import zoneinfo
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from email_validator import EmailNotValidError, validate_email

from postroom.audience.eligibility import mailable_subscribers
from postroom.audience.emails import normalize_email
from postroom.audience.models import MailingList, Segment, Subscriber
from postroom.campaigns import lifecycle, pools, windows
from postroom.campaigns.bodies import stored_body
from postroom.campaigns.layouts import default_layout
from postroom.campaigns.models import Campaign, CampaignSender
from postroom.campaigns.naming import copy_name
from postroom.campaigns.spec import SAMPLE_RECIPIENT, recipient_for, sending_spec, spec_for
from postroom.errors import InvalidInput, NotFound
from postroom.integers import as_id, check_fields
from postroom.mail.compose import (
    BuiltMessage,
    CompiledCampaign,
    Recipient,
    compile_campaign,
)
from postroom.mail.errors import RenderError, TemplateError
from postroom.media.models import CampaignAttachment
from postroom.tracking.links import default_signer

# The send window's fields (campaigns.windows); `windows.fields_from_text` makes them.
WINDOW_FIELDS = (
    "window_start", "window_end", "window_days", "local_time", "local_date", "window_timezone",
)  # fmt: skip
# Fields a caller may set on a campaign; everything else is the engine's.
EDITABLE_FIELDS = {
    "name", "subject", "preheader", "from_name", "from_email", "reply_to", "body_format",
    "body", "text_body", "layout", "sender", "headers", "track_opens", "track_clicks",
    "in_archive", "priority", "in_doubt_policy", "error_threshold_percent", "error_window",
    *WINDOW_FIELDS,
}  # fmt: skip
# The auto-pause window is read twice from the claim index per check: keep it bounded.
ERROR_WINDOW_RANGE = (10, 10_000)
# Used when nobody said who a campaign is from and mail only goes to the local outbox.
PLACEHOLDER_FROM = "newsletter@example.com"
MAX_TEST_RECIPIENTS = 20
# Put before a test's subject unless switched off, so nobody mistakes it for the real one.
TEST_SUBJECT_PREFIX = "[Test] "


def get_campaign(campaign_id: int | str) -> Campaign:
    # A transactional stream is not a campaign to edit, start or pause (transactional app).
    found = Campaign.objects.select_related("layout", "segment", "sender").filter(
        pk=as_id(campaign_id) or 0, kind=Campaign.Kind.NEWSLETTER
    )
    campaign = found.first()
    if campaign is None:
        raise NotFound(gettext("campaign %(campaign)s does not exist") % {"campaign": campaign_id})
    return campaign


def default_from_email(sender: Any = None) -> str:
    """POSTROOM_FROM_EMAIL, else the sender's envelope address, else a placeholder (outbox)."""
    configured = settings.POSTROOM_FROM_EMAIL
    if configured:
        return configured
    if sender is not None and sender.envelope_from:
        return sender.envelope_from
    if sender is None:
        return PLACEHOLDER_FROM
    raise InvalidInput(gettext("no From address: give one (--from) or set POSTROOM_FROM_EMAIL"))


def check(campaign: Campaign, lists: Sequence[MailingList] | None = None) -> CompiledCampaign:
    """Compile the campaign as it would be sent: TemplateError (with lines) or HeaderError."""
    return compile_campaign(spec_for(campaign, lists), default_signer())


def _apply(campaign: Campaign, fields: dict[str, Any]) -> None:
    unknown = set(fields) - EDITABLE_FIELDS - {"lists", "segment"}
    if unknown:
        raise InvalidInput(
            gettext("unknown campaign field(s): %(fields)s")
            % {"fields": ", ".join(sorted(unknown))}
        )
    for name, value in fields.items():
        if name not in ("lists", "segment"):
            setattr(campaign, name, value)
    check_fields(campaign, set(fields) - {"lists", "segment"})
    if "segment" in fields:
        campaign.segment = fields["segment"]
    if not (campaign.name or "").strip():
        raise InvalidInput(gettext("a campaign needs a name"))
    if not (campaign.subject or "").strip():
        raise InvalidInput(gettext("a campaign needs a subject"))
    if campaign.body_format not in Campaign.Format.values:
        raise InvalidInput(
            gettext("unknown body format %(body_format)s")
            % {"body_format": repr(campaign.body_format)}
        )
    campaign.body = stored_body(campaign.body_format, campaign.body)
    if not isinstance(campaign.headers, dict):
        raise InvalidInput(gettext("custom headers must be a mapping of name to value"))
    check_error_threshold(campaign.error_threshold_percent, campaign.error_window)
    windows.check(
        campaign.window_start,
        campaign.window_end,
        campaign.window_days,
        campaign.local_time,
        campaign.local_date,
        campaign.window_timezone,
    )


def check_error_threshold(percent: Any, window: Any) -> None:
    """The auto-pause threshold: a percentage, over a bounded number of recent recipients."""
    low, high = ERROR_WINDOW_RANGE
    if not isinstance(percent, int) or not 1 <= percent <= 100:
        raise InvalidInput(
            gettext("the error threshold is a percentage from 1 to 100, not %(percent)s")
            % {"percent": repr(percent)}
        )
    if not isinstance(window, int) or not low <= window <= high:
        raise InvalidInput(
            gettext("the error window counts %(low)s to %(high)s recent recipients, not %(window)s")
            % {"low": format(low, ","), "high": format(high, ","), "window": repr(window)}
        )


def set_error_threshold(campaign: Campaign, percent: int, window: int) -> Campaign:
    """Change when the campaign pauses itself, in any state: a running campaign's next
    check reads the new values (only `error_*` change, so its message is not rebuilt)."""
    check_error_threshold(percent, window)
    Campaign.objects.filter(pk=campaign.pk).update(
        error_threshold_percent=percent, error_window=window
    )
    campaign.error_threshold_percent, campaign.error_window = percent, window
    return campaign


def set_in_archive(campaign: Campaign, in_archive: bool) -> Campaign:
    """Show the campaign in its lists' public archives, or not, in any state: a sent
    campaign is the usual one to archive. Only the flag is written, so a running
    campaign's message is not rebuilt."""
    if not isinstance(in_archive, bool):
        raise InvalidInput(
            gettext("in_archive is true or false, not %(in_archive)s")
            % {"in_archive": repr(in_archive)}
        )
    Campaign.objects.filter(pk=campaign.pk).update(in_archive=in_archive)
    campaign.in_archive = in_archive
    return campaign


def _save_checked(
    campaign: Campaign,
    lists: Sequence[MailingList] | None,
    pool: Sequence[pools.Member] | None = None,
    new_primary: bool = False,
) -> Campaign:
    """Check the templates and headers, and render for the sample reader within the
    template budget, then save; nothing is written if any of it fails."""
    check(campaign, lists).sample_check(SAMPLE_RECIPIENT)
    with transaction.atomic():
        campaign.save()
        if lists is not None:
            campaign.lists.set(lists)
        pools.save(campaign, pool, new_primary)
    return campaign


def _with_pool(fields: dict[str, Any], pool: Sequence[pools.Member] | None) -> list | None:
    """A pool given makes its first sender the primary (`sender`)."""
    if pool is None:
        return None
    checked = pools.check(pool)
    fields["sender"] = checked[0][0] if checked else None
    return checked


def create_campaign(
    *,
    lists: Iterable[MailingList] = (),
    created_by: Any = None,
    pool: Sequence[pools.Member] | None = None,
    **fields: Any,
) -> Campaign:
    """A new draft; the templates are checked before anything is saved.

    `pool`: [(sender, weight), ...] to send through several senders (campaigns.pools).
    """
    campaign = Campaign(created_by=created_by)
    pool = _with_pool(fields, pool)
    _apply(campaign, fields)
    if not campaign.from_email:
        campaign.from_email = default_from_email(campaign.sender)
    if campaign.layout is None and "layout" not in fields:
        campaign.layout = default_layout()
    return _save_checked(campaign, list(lists), pool)


def ensure_editable(campaign: Campaign) -> None:
    if not campaign.is_editable:
        raise InvalidInput(
            gettext(
                "campaign %(campaign)s is %(status)s: only a draft or scheduled campaign can "
                "be edited"
            )
            % {"campaign": campaign.pk, "status": campaign.status}
        )


def update_campaign(
    campaign: Campaign,
    *,
    lists: Iterable[MailingList] | None = None,
    pool: Sequence[pools.Member] | None = None,
    **fields: Any,
) -> Campaign:
    """Change a draft or scheduled campaign; refused (and nothing saved) once it has started.

    A new `sender` without a `pool` makes it the campaign's only sender.
    """
    with transaction.atomic():
        # Re-read under the write lock: the worker may have started it a moment ago.
        current = Campaign.objects.select_for_update().get(pk=campaign.pk)
        ensure_editable(current)
        pool = _with_pool(fields, pool)
        _apply(campaign, fields)
        campaign.status = current.status
        new_primary = "sender" in fields and campaign.sender_id != current.sender_id
        return _save_checked(campaign, None if lists is None else list(lists), pool, new_primary)


def duplicate_campaign(campaign: Campaign, created_by: Any = None) -> Campaign:
    """A new draft with the same content and audience, never the same schedule or state."""
    copy = Campaign(
        **{name: getattr(campaign, name) for name in EDITABLE_FIELDS},
        segment=campaign.segment,
        created_by=created_by or campaign.created_by,
    )
    copy.name = copy_name(campaign.name, lambda name: Campaign.objects.filter(name=name).exists())
    copy.headers = dict(campaign.headers or {})
    with transaction.atomic():
        copy.save()
        copy.lists.set(campaign.lists.all())
        CampaignSender.objects.bulk_create(
            CampaignSender(campaign=copy, sender_id=row.sender_id, weight=row.weight)
            for row in campaign.pool.all()
        )
        CampaignAttachment.objects.bulk_create(  # the copy sends the same files
            CampaignAttachment(campaign=copy, media_id=row.media_id)
            for row in CampaignAttachment.objects.filter(campaign=campaign)
        )
    return copy


def delete_campaign(campaign: Campaign) -> None:
    """Only a campaign that never started can be deleted; the rest is history."""
    ensure_editable(campaign)
    campaign.delete()


# -- audience ---------------------------------------------------------------


def mailable(lists: Iterable[MailingList], segment: Segment | None) -> QuerySet[Subscriber]:
    """Who would receive a campaign to `lists`/`segment` now (the audience app decides)."""

    return mailable_subscribers(list(lists), segment)


def audience_count(campaign: Campaign) -> int:
    return mailable(campaign.lists.all(), campaign.segment).count()


def lists_by_name(names: Iterable[str]) -> list[MailingList]:
    result = []
    for name in names:
        try:
            result.append(MailingList.objects.get(name=name))
        except MailingList.DoesNotExist:
            raise NotFound(gettext("list %(name)s does not exist") % {"name": repr(name)}) from None
    return result


def segment_by_name(name: str | None) -> Segment | None:
    if not name:
        return None
    try:
        return Segment.objects.get(name=name)
    except Segment.DoesNotExist:
        raise NotFound(gettext("segment %(name)s does not exist") % {"name": repr(name)}) from None


# -- schedule ---------------------------------------------------------------


def parse_send_at(value: str, tz_name: str = "") -> tuple[datetime, str]:
    """An ISO 8601 time and an optional IANA zone as an aware datetime and the zone's name.

    A time with an offset keeps it; a naive time is read in `tz_name`, else in
    the installation's TIME_ZONE.
    """
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            gettext("%(value)s is not an ISO 8601 date and time") % {"value": repr(value)}
        ) from None
    try:
        zone = zoneinfo.ZoneInfo(tz_name) if tz_name else timezone.get_default_timezone()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            gettext("%(zone)s is not a known time zone (e.g. Europe/Berlin)")
            % {"zone": repr(tz_name)}
        ) from None
    if timezone.is_naive(when):
        when = when.replace(tzinfo=zone)
    return when, tz_name or str(zone)


def schedule(campaign: Campaign, send_at: datetime, tz_name: str = "") -> Campaign:
    """Mark a draft to start at `send_at`; the worker starts it when due (`due_campaigns`)."""
    if timezone.is_naive(send_at):
        raise InvalidInput(gettext("the send time needs a time zone"))
    if send_at <= timezone.now():
        raise InvalidInput(gettext("the send time is in the past; start the campaign instead"))
    check(campaign)
    if not campaign.lists.exists() and campaign.segment_id is None:
        raise InvalidInput(gettext("choose at least one list or a segment before scheduling"))
    # No worker needs waking: the send time is in the future, and workers look
    # for due campaigns every couple of seconds.
    lifecycle.require(campaign, "schedule", send_at=send_at, send_at_timezone=tz_name)
    return campaign


def unschedule(campaign: Campaign) -> Campaign:
    """Back to a draft; only while it is still waiting."""
    lifecycle.require(campaign, "unschedule", send_at=None)
    return campaign


def due_campaigns(now: datetime | None = None) -> QuerySet[Campaign]:
    """Scheduled campaigns whose time has come, oldest first (the worker starts them)."""
    return Campaign.objects.filter(
        status=Campaign.Status.SCHEDULED, send_at__lte=now or timezone.now()
    ).order_by("send_at", "pk")


# -- preview and test send --------------------------------------------------


def recipient_by_email(email: str) -> Recipient:
    try:
        normalized = normalize_email(email)
    except Exception:  # the normaliser raises its own error type for a bad address
        normalized = email.strip().lower()
    subscriber = Subscriber.objects.filter(email=normalized).first()
    if subscriber is None:
        raise NotFound(gettext("no subscriber with the address %(email)s") % {"email": repr(email)})
    return recipient_for(subscriber)


def preview(
    campaign: Campaign,
    recipient: Recipient | None = None,
    lists: Sequence[MailingList] | None = None,
) -> tuple[str, str, str]:
    """(subject, html, text) exactly as `recipient` (or a sample reader) would get them.

    A template that fails for this reader is a TemplateError here, shown like
    any other problem of the template.
    """
    compiled = check(campaign, lists)
    try:
        return compiled.render_preview(recipient or SAMPLE_RECIPIENT)
    except RenderError as exc:
        raise TemplateError.from_render_error(exc) from None


def _test_address(address: str) -> str:
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidInput(
            gettext("%(address)s is not a valid address: %(error)s")
            % {"address": repr(address), "error": exc}
        ) from None


def build_test_messages(
    campaign: Campaign, addresses: Iterable[str], subject_prefix: str = TEST_SUBJECT_PREFIX
) -> list[BuiltMessage]:
    """One message per address, personalised for that subscriber if there is one.

    An address that is not a subscriber gets the sample reader's values, so a
    test shows the personalisation, and links that lead nowhere. Each test has
    its own Message-ID (never the real message's) and `subject_prefix`.
    """
    addresses = [_test_address(a) for a in addresses if a.strip()]
    if not addresses:
        raise InvalidInput(gettext("give at least one address to send the test to"))
    if len(addresses) > MAX_TEST_RECIPIENTS:
        raise InvalidInput(
            gettext("a test goes to at most %(limit)s addresses") % {"limit": MAX_TEST_RECIPIENTS}
        )
    compiled = compile_campaign(sending_spec(campaign), default_signer())
    messages = []
    for address in addresses:
        subscriber = Subscriber.objects.filter(email__iexact=address).first()
        if subscriber is not None:
            recipient = recipient_for(subscriber)
        else:
            sample = SAMPLE_RECIPIENT
            recipient = Recipient(0, address, sample.name, dict(sample.attributes))
        try:
            messages.append(compiled.build(recipient, test_prefix=subject_prefix))
        except RenderError as exc:
            raise InvalidInput(
                gettext("the test to %(address)s could not be built: %(error)s")
                % {"address": address, "error": exc}
            ) from None
    return messages
