"""From a Campaign row to the message builder's plain-data CampaignSpec.

The message builder (compose.py) knows nothing of the database; this module is
the one place that decides what a stored campaign means for its messages:
which layout, which List-Id, which envelope sender, which recipient values.
"""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import replace

from django.conf import settings

from postroom.audience.models import MailingList, Subscriber
from postroom.campaigns.links import number_links
from postroom.campaigns.models import Campaign, Layout
from postroom.mail.budget import Budget
from postroom.mail.compose import CampaignSpec, CompiledCampaign, Recipient, compile_campaign
from postroom.mail.content import DEFAULT_LAYOUT
from postroom.media import services as media
from postroom.tracking.links import default_signer

# A made-up reader for previews when no real subscriber is chosen.
SAMPLE_RECIPIENT = Recipient(
    subscriber_id=0,
    email="ada@example.com",
    name="Ada Lovelace",
    attributes={"first_name": "Ada", "last_name": "Lovelace", "city": "London"},
)


def _label(name: str) -> str:
    """A List-Id label word: ASCII letters, digits and dashes."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40].strip("-")


def list_id_label(lists: Sequence[MailingList], campaign_name: str, from_email: str) -> str:
    """The RFC 2919 label: the lists' names under the From domain, e.g. `news.example.com`.

    It stays the same from one campaign to the next for the same lists, which
    is what mail clients filter on.
    """
    words = [_label(ml.name) or f"list{ml.pk}" for ml in lists]
    if not words:
        words = [_label(campaign_name) or "campaign"]
    label = "-".join(words)[:60].strip("-")
    domain = from_email.rpartition("@")[2].strip().lower()
    return f"{label}.{domain}" if domain else label


def shared_language(lists: Sequence[MailingList]) -> str:
    """The language all of a campaign's lists have, or "" (none, or they differ)."""
    found = {ml.language for ml in lists}
    return found.pop() if len(found) == 1 else ""


def template_budget() -> Budget:
    """The installation's budget for each rendered part of a user template."""
    return Budget(
        seconds=settings.POSTROOM_TEMPLATE_TIME_MS / 1000,
        max_chars=settings.POSTROOM_TEMPLATE_MAX_KB * 1000,
    )


def spec_for(campaign: Campaign, lists: Sequence[MailingList] | None = None) -> CampaignSpec:
    """The spec of `campaign`; `lists` overrides its lists (for an unsaved campaign)."""
    if lists is None:
        lists = list(campaign.lists.order_by("name")) if campaign.pk else []
    lists = sorted(lists, key=lambda ml: ml.name)
    layout = campaign.layout
    if layout is not None:
        layout_html = layout.html
    else:
        # No choice made: the Default layout as the operator styled it, else the stock one.
        default = Layout.objects.filter(name=Layout.DEFAULT_NAME).values_list("html", flat=True)
        layout_html = default.first() or DEFAULT_LAYOUT
    return CampaignSpec(
        campaign_id=campaign.pk or 0,
        name=campaign.name,
        subject=campaign.subject,
        from_email=campaign.from_email,
        body=campaign.body,
        body_format=campaign.body_format,
        preheader=campaign.preheader,
        from_name=campaign.from_name,
        reply_to=campaign.reply_to,
        text_body=campaign.text_body,
        layout_html=layout_html,
        headers=dict(campaign.headers or {}),
        list_name=", ".join(ml.name for ml in lists),
        languages=tuple(code for code, _ in settings.LANGUAGES),
        list_language=shared_language(lists),
        list_id=list_id_label(lists, campaign.name, campaign.from_email),
        envelope_from=campaign.sender.envelope_from if campaign.sender else "",
        verp=bool(campaign.sender and campaign.sender.verp),
        track_opens=campaign.track_opens,
        track_clicks=campaign.track_clicks,
        budget=template_budget(),
    )


def sending_spec(campaign: Campaign) -> CampaignSpec:
    """The spec with the attachments, read from the media store for sending only (a
    preview shows no attachment and need not read them)."""
    return replace(spec_for(campaign), attachments=media.campaign_parts(campaign))


def compiled_for(campaign: Campaign) -> CompiledCampaign:
    """The campaign compiled for sending: TemplateError/HeaderError if it can't be.

    Compiling costs a few milliseconds (Markdown, CSS inlining, Jinja): callers
    that send keep the result per (campaign id, updated_at).
    """
    compiled = compile_campaign(sending_spec(campaign), default_signer())
    if compiled.tracking.urls and campaign.pk:
        # Click tokens carry each link's stored number, so a redirect only leads to these.
        compiled.tracking.use_numbers(number_links(campaign.pk, compiled.tracking.urls))
    return compiled


def recipient_for(subscriber: Subscriber) -> Recipient:
    return Recipient(
        subscriber_id=subscriber.pk,
        email=subscriber.email,
        name=subscriber.name,
        attributes=dict(subscriber.attributes or {}),
    )
