"""Stored campaign → spec → message, for hostile subscribers, parsed back part by part."""

import email
import email.policy
import re

import pytest
from markupsafe import escape

from postroom.audience import services as audience
from postroom.audience.models import MailingList
from postroom.campaigns import services
from postroom.campaigns.spec import compiled_for, list_id_label, recipient_for
from postroom.delivery.models import Sender
from postroom.tracking import links

HOSTILE = {
    "html": '<script>alert("x")</script><b>Bold</b> & "Co"',
    "crlf": "Eve\r\nBcc: victim@example.com\r\nX-Evil: 1",
    "long": ("Wolfeschlegelsteinhausenbergerdorff " * 8)[:255],
    "rtl": "مريم \u202eevil\u202c العربية",
    "emoji": "Zoë 🎉👩‍👩‍👧 Ñandú",
}

BODY = """Dear {{ subscriber.name }},

your city: {{ subscriber.attributes.city | default("unknown") }}.
"""


def unreference(html: str) -> str:
    """Undo the numeric references the 7-bit HTML part uses for non-ASCII characters only."""
    return re.sub(
        r"&#(x?)([0-9a-fA-F]+);",
        lambda m: chr(n) if (n := int(m[2], 16 if m[1] else 10)) > 127 else m[0],
        html,
    )


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def parts(message: email.message.EmailMessage) -> tuple[str, str]:
    text_part, html_part = message.iter_parts()
    assert text_part.get_content_type() == "text/plain"
    assert html_part.get_content_type() == "text/html"
    return (
        text_part.get_content().replace("\r\n", "\n"),
        html_part.get_content().replace("\r\n", "\n"),
    )


@pytest.fixture
def hostile_campaign(news):
    return services.create_campaign(
        name="Hostile",
        subject="For {{ subscriber.name }}",
        from_email="news@example.org",
        from_name="Example News",
        reply_to="replies@example.org",
        body=BODY,
        lists=[news],
        headers={"X-Campaign": "spring-2030"},
    )


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_names_are_escaped_in_html_and_cannot_inject_headers(kind, hostile_campaign, news):
    name = HOSTILE[kind]
    subscriber = audience.add_subscriber(
        f"{kind}@example.com", name=name, lists=[news], attributes={"city": "<i>Köln</i>"}
    )
    built = compiled_for(hostile_campaign).build(recipient_for(subscriber))
    message = parse(built.data)

    assert message.defects == []
    assert message.get_content_type() == "multipart/alternative"
    # Exactly the headers Postroom writes: nothing a name smuggled in.
    assert "Bcc" not in message and "X-Evil" not in message
    assert len(message.get_all("To")) == 1
    assert message["To"].addresses[0].addr_spec == f"{kind}@example.com"
    assert message["X-Campaign"] == "spring-2030"
    flattened = " ".join(name.replace("\r\n", " ").split())
    assert message["Reply-To"].addresses[0].addr_spec == "replies@example.org"
    assert " ".join(str(message["Subject"]).split()) == " ".join(f"For {flattened}".split())

    text, html = parts(message)
    value = name.replace("\r\n", "\n")
    # The text part has the raw value; the HTML part has it escaped, exactly.
    assert f"Dear {value},\n\nyour city: <i>Köln</i>." in text
    html = unreference(html)
    assert f"Dear {escape(value)}," in html
    assert "your city: &lt;i&gt;Köln&lt;/i&gt;." in html
    assert "<script>" not in html and "<i>" not in html


def test_headers_carry_the_lists_the_unsubscribe_links_and_the_sender(news, ann):
    sender = Sender.objects.create(
        name="relay", host="127.0.0.1", envelope_from="bounces@example.org"
    )
    campaign = services.create_campaign(
        name="Spring", subject="Hello", from_email="news@example.org", body="Hi", lists=[news],
        sender=sender,
    )  # fmt: skip
    built = compiled_for(campaign).build(recipient_for(ann))
    message = parse(built.data)

    assert built.mail_from == "bounces@example.org"
    assert built.rcpt_to == "ann@example.com"
    assert message["List-Id"] == "News <news.example.org>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    urls = [u.strip(" <>") for u in str(message["List-Unsubscribe"]).split(",")]
    assert urls[0] == links.unsubscribe_url(campaign.pk, ann.pk)
    assert urls[1].startswith("mailto:news@example.org?subject=unsubscribe%20u.")
    assert links.verify(urls[0].rstrip("/").rpartition("/")[2]) == (
        "unsubscribe",
        (campaign.pk, ann.pk),
    )
    assert message["Message-ID"] == built.message_id
    assert built.message_id.startswith(f"<{campaign.pk}.{ann.pk}.")
    assert "Reply-To" not in message


def test_a_very_long_value_is_folded_and_comes_back_whole(news):
    value = ("Ünïcödé " + "x" * 1200 + " ") * 8
    subscriber = audience.add_subscriber(
        "long@example.com", lists=[news], attributes={"bio": value}
    )
    campaign = services.create_campaign(
        name="Long",
        subject="{{ subscriber.attributes.bio }}",
        from_email="news@example.org",
        body="{{ subscriber.attributes.bio }}",
        lists=[news],
    )
    built = compiled_for(campaign).build(recipient_for(subscriber))
    assert max(len(line) for line in built.data.split(b"\r\n")) <= 998
    message = parse(built.data)
    assert " ".join(str(message["Subject"]).split()) == " ".join(value.split())
    text, _ = parts(message)
    assert value.strip() in text


def test_two_recipients_get_different_message_ids_and_links(campaign, news, ann):
    bob = audience.add_subscriber("bob@example.com", lists=[news])
    compiled = compiled_for(campaign)
    one, two = (compiled.build(recipient_for(s)) for s in (ann, bob))
    assert one.message_id != two.message_id
    assert parse(one.data)["List-Unsubscribe"] != parse(two.data)["List-Unsubscribe"]


def test_an_international_address_needs_smtputf8(campaign, news):
    subscriber = audience.add_subscriber("jörg@bücher.example", lists=[news])
    built = compiled_for(campaign).build(recipient_for(subscriber))
    assert built.needs_smtputf8
    assert built.rcpt_to == "jörg@xn--bcher-kva.example"


def test_the_list_id_label_is_stable_and_ascii(db):
    lists = [MailingList(pk=7, name="Neuigkeiten für Ärzte"), MailingList(pk=8, name="🎉")]
    assert list_id_label(lists, "x", "n@example.org") == "neuigkeiten-fur-arzte-list8.example.org"
    assert list_id_label([], "Spring Sale!", "n@example.org") == "spring-sale.example.org"


def test_a_layout_edit_is_what_the_next_compile_uses(campaign, ann):
    layout = campaign.layout
    layout.html = (
        "<html><body><div class='frame'>{{ content }}</div>{{ unsubscribe_url }}</body></html>"
    )
    layout.save()
    _, html, _ = compiled_for(campaign).render_preview(recipient_for(ann))
    assert "frame" in html and "Hello Ann" in html
