"""Opens and clicks: off by default, instrumented once per campaign, signed, counted."""

import email
import re
from datetime import timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from postroom.audience import services as audience
from postroom.audience.eligibility import mailable_subscribers
from postroom.audience.models import Segment
from postroom.audience.segments import describe, subscribers_matching
from postroom.campaigns.models import TrackedLink
from postroom.campaigns.spec import compiled_for, recipient_for
from postroom.delivery import control
from postroom.delivery.models import Delivery, OutboxMessage
from postroom.errors import InvalidInput
from postroom.mail.compose import CampaignSpec, Recipient, compile_campaign
from postroom.mail.engagement import Tracking
from postroom.mail.links import LinkSigner
from postroom.tracking import activity
from postroom.tracking.links import default_signer
from postroom.tracking.models import EngagementEvent
from tests.delivery.helpers import run_until_idle

HTML_BODY = """<h1>Hello {{ subscriber.first_name }}</h1>
<p><a href="https://example.com/spring?a=1&amp;b=2">Spring</a>
<a class="btn" href='https://example.com/shop'>Shop</a>
<a href="https://example.com/spring?a=1&amp;b=2">Spring again</a>
<a href="https://example.com/p?e={{ subscriber.email }}">Personal</a>
<a href="mailto:editor@example.org">Write to us</a>
<a href="{{ unsubscribe_url }}">Leave</a></p>
"""


def html_part(data: bytes) -> str:
    message = email.message_from_bytes(data)
    for part in message.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no HTML part")


def text_part(data: bytes) -> str:
    message = email.message_from_bytes(data)
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no text part")


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', html.replace("&amp;", "&"))


def tracked(campaign, **fields):
    for name, value in {"track_opens": True, "track_clicks": True, **fields}.items():
        setattr(campaign, name, value)
    campaign.save()
    return campaign


def built(campaign, subscriber) -> bytes:
    return compiled_for(campaign).build(recipient_for(subscriber)).data


def click_urls(html: str) -> list[str]:
    base = default_signer().base_url
    return [h for h in hrefs(html) if h.startswith(base + "/r/")]


def path_of(url: str) -> str:
    return url[len(default_signer().base_url) :]


# --- the message -------------------------------------------------------------------------


def test_tracking_is_off_by_default(campaign, ann):
    html = html_part(built(campaign, ann))

    assert "/o/" not in html
    assert "https://example.com/spring" in hrefs(html)
    assert not click_urls(html)
    assert not TrackedLink.objects.exists()


def test_with_tracking_on_the_html_has_a_pixel_and_rewritten_links(campaign, ann):
    data = built(tracked(campaign), ann)
    html = html_part(data)

    pixel = re.search(r'<img src="([^"]+)" width="1" height="1"', html)
    assert pixel is not None
    assert path_of(pixel.group(1)).startswith(f"/o/o.{campaign.pk}.{ann.pk}.")
    assert html.index(pixel.group()) < html.index("</body>")
    assert "https://example.com/spring" not in hrefs(html)
    [link] = click_urls(html)
    assert path_of(link).startswith(f"/r/r.{campaign.pk}.{ann.pk}.0.")
    # The footer's own links are never rewritten.
    signer = default_signer()
    assert signer.unsubscribe_url(campaign.pk, ann.pk) in hrefs(html)
    assert signer.preferences_url(ann.pk) in hrefs(html)
    # The text part keeps the real address; List-Unsubscribe is untouched.
    assert "https://example.com/spring" in text_part(data)
    headers = email.message_from_bytes(data)
    assert signer.unsubscribe_url(campaign.pk, ann.pk) in headers["List-Unsubscribe"]


def test_opens_and_clicks_switch_independently(campaign, ann):
    html = html_part(built(tracked(campaign, track_clicks=False), ann))
    assert "/o/o." in html and not click_urls(html)

    html = html_part(built(tracked(campaign, track_opens=False), ann))
    assert "/o/o." not in html and click_urls(html)


def test_only_literal_http_links_are_rewritten_and_each_url_is_stored_once(campaign, ann):
    campaign.body, campaign.body_format = HTML_BODY, "html"
    html = html_part(built(tracked(campaign), ann))

    links = hrefs(html)
    assert "https://example.com/p?e=ann@example.com" in links  # a templated address stays
    assert "mailto:editor@example.org" in links
    assert default_signer().unsubscribe_url(campaign.pk, ann.pk) in links
    assert len(click_urls(html)) == 3  # spring, shop, spring again
    stored = dict(TrackedLink.objects.filter(campaign=campaign).values_list("number", "url"))
    assert stored == {0: "https://example.com/spring?a=1&b=2", 1: "https://example.com/shop"}
    assert click_urls(html)[0] == click_urls(html)[2]


def test_link_numbers_never_change_when_the_campaign_is_edited(campaign, ann):
    tracked(campaign)
    compiled_for(campaign)
    campaign.body = "[New first](https://example.com/new) and [old](https://example.com/spring)"
    campaign.save()

    compiled = compiled_for(campaign)

    assert compiled.tracking.urls == ("https://example.com/new", "https://example.com/spring")
    assert compiled.tracking.numbers == [1, 0]


def test_rewriting_happens_once_in_the_template_not_per_recipient():
    spec = CampaignSpec(
        campaign_id=5,
        name="n",
        subject="s",
        from_email="news@example.org",
        body="[a](https://example.com/a) [b](https://example.com/b)",
        track_clicks=True,
        track_opens=True,
    )
    compiled = compile_campaign(spec, LinkSigner("k", "https://t.example"))

    assert compiled.tracking.urls == ("https://example.com/a", "https://example.com/b")
    assert "{{ tracking_click[1] }}" in compiled.tracking.html
    html_a = compiled.render_preview(Recipient(1, "a@example.net"))[1]
    html_b = compiled.render_preview(Recipient(2, "b@example.net"))[1]
    assert "https://t.example/r/r.5.1.1." in html_a
    assert "https://t.example/r/r.5.2.1." in html_b


def test_html_inside_template_tags_is_left_alone():
    source = '{{ "<a href=\'https://x.example/\'>" }}<a href="https://y.example/">y</a></body>'
    tracking = Tracking(source, opens=True, clicks=True)

    assert tracking.urls == ("https://y.example/",)
    assert tracking.html.startswith("{{ \"<a href='https://x.example/'>\" }}")
    assert tracking.html.endswith("</body>")


# --- the public endpoints ----------------------------------------------------------------


def test_the_campaign_page_shows_its_clicks(client, owner, campaign, ann):
    [link] = click_urls(html_part(built(tracked(campaign), ann)))
    client.get(path_of(link))
    campaign.status = "running"
    campaign.save()
    client.force_login(owner)

    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()

    assert "Opens, clicks and bounces" in page
    assert "1 click in all" in page


def test_a_click_redirects_to_the_campaigns_own_url_and_is_counted(client, campaign, ann):
    [link] = click_urls(html_part(built(tracked(campaign), ann)))

    response = client.get(path_of(link))

    assert response.status_code == 302
    assert response["Location"] == "https://example.com/spring"
    assert "no-store" in response["Cache-Control"]
    event = EngagementEvent.objects.get()
    assert (event.kind, event.campaign_id, event.subscriber_id) == ("click", campaign.pk, ann.pk)
    assert event.link.url == "https://example.com/spring"
    assert event.ip is None  # privacy by default


def test_an_open_returns_a_gif_and_is_counted(client, campaign, ann, settings):
    html = html_part(built(tracked(campaign), ann))
    pixel = re.search(r'<img src="([^"]+)"', html).group(1)

    response = client.get(path_of(pixel))
    settings.POSTROOM_TRACK_IP = True
    client.get(path_of(pixel))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    first, second = EngagementEvent.objects.order_by("id")
    assert (first.kind, first.subscriber_id, first.ip) == ("open", ann.pk, None)
    assert second.ip == "127.0.0.1"


def forged_paths(campaign, ann) -> list[str]:
    signer = default_signer()
    good = signer.token("r", campaign.pk, ann.pk, 0)
    kind, cid, sid, number, signature = good.split(".")
    return [
        f"/r/{kind}.{cid}.{sid}.1.{signature}/",  # another link number, same signature
        f"/r/{kind}.{cid}.{int(sid) + 1}.{number}.{signature}/",  # someone else
        f"/r/{kind}.{cid}.{sid}.{number}.{signature[:-1]}{'B' if signature[-1] == 'A' else 'A'}/",
        f"/r/{signer.token('r', campaign.pk, ann.pk, 7)}/",  # genuine, but no such link
        f"/r/{signer.token('u', campaign.pk, ann.pk)}/",  # an unsubscribe token
        "/r/r.1.1.1.x/",
        f"/o/{signer.token('v', campaign.pk, ann.pk)}.gif",
        f"/o/o.{cid}.{int(sid) + 1}.{signature}.gif",
    ]


def test_forged_or_foreign_tokens_are_refused_and_count_nothing(client, campaign, ann):
    built(tracked(campaign), ann)

    for path in forged_paths(campaign, ann):
        response = client.get(path)
        assert response.status_code == 404, path
    assert not EngagementEvent.objects.exists()


def test_a_redirect_never_leads_to_another_campaigns_url(client, campaign, ann, news):
    from postroom.campaigns import services

    built(tracked(campaign), ann)
    other = services.create_campaign(
        name="Other",
        subject="s",
        from_email="news@example.org",
        body="[evil](https://evil.example/)",
        lists=[news],
    )
    built(tracked(other), ann)
    [other_link] = TrackedLink.objects.filter(campaign=other)
    assert other_link.number == 0

    # A genuine token of `campaign` with the other campaign's link number leads to campaign's URL.
    response = client.get(f"/r/{default_signer().token('r', campaign.pk, ann.pk, 0)}/")
    assert response["Location"] == "https://example.com/spring"


def test_preview_links_redirect_without_counting_anyone(client, campaign, ann):
    tracked(campaign)
    from postroom.campaigns.spec import SAMPLE_RECIPIENT

    _, html, _ = compiled_for(campaign).render_preview(SAMPLE_RECIPIENT)
    [link] = click_urls(html)

    assert client.get(path_of(link))["Location"] == "https://example.com/spring"
    assert not EngagementEvent.objects.exists()


# --- counting ----------------------------------------------------------------------------


@pytest.fixture
def bob(news):
    return audience.add_subscriber("bob@example.com", name="Bob", lists=[news])


def test_counts_are_unique_readers_and_total_events(client, campaign, ann, bob):
    tracked(campaign)
    for person, opens, clicks in ((ann, 2, 3), (bob, 1, 0)):
        html = html_part(built(campaign, person))
        pixel = re.search(r'<img src="([^"]+)"', html).group(1)
        for _ in range(opens):
            client.get(path_of(pixel))
        for _ in range(clicks):
            client.get(path_of(click_urls(html)[0]))

    counts = activity.campaign_engagement(campaign)

    assert counts["opens"]["unique"] == 2 and counts["opens"]["total"] == 3
    assert counts["clicks"]["unique"] == 1 and counts["clicks"]["total"] == 3
    assert counts["links"] == [{"url": "https://example.com/spring", "total": 3, "unique": 1}]


def test_the_campaign_card_shows_the_counts(client, campaign, ann):
    html = html_part(built(tracked(campaign), ann))
    client.get(path_of(click_urls(html)[0]))

    card = Template("{% load engagement %}{% campaign_engagement campaign %}").render(
        Context({"campaign": campaign})
    )

    assert "Opens, clicks and bounces" in card
    assert "https://example.com/spring" in card
    assert "1 click in all" in card


def test_the_campaign_card_says_when_tracking_is_off(campaign):
    card = Template("{% load engagement %}{% campaign_engagement campaign %}").render(
        Context({"campaign": campaign})
    )
    assert "open tracking is off" in card and "click tracking is off" in card


# --- segments ----------------------------------------------------------------------------


def event(campaign, subscriber, kind, days_ago=0):
    return EngagementEvent.objects.create(
        campaign=campaign,
        subscriber=subscriber,
        kind=kind,
        at=timezone.now() - timedelta(days=days_ago),
    )


def emails(queryset) -> set[str]:
    return set(queryset.values_list("email", flat=True))


def test_segments_select_by_opened_and_clicked(campaign, ann, bob, news):
    carol = audience.add_subscriber("carol@example.com", lists=[news])
    event(campaign, ann, "open", days_ago=40)
    event(campaign, bob, "open", days_ago=2)
    event(campaign, bob, "click", days_ago=2)

    def matching(field, op, value):
        return emails(subscribers_matching({"all": [{"field": field, "op": op, "value": value}]}))

    assert matching("opened", "in_campaign", campaign.pk) == {ann.email, bob.email}
    assert matching("opened", "in_campaign", str(campaign.pk)) == {ann.email, bob.email}
    assert matching("opened", "in_campaign", "any") == {ann.email, bob.email}
    assert matching("opened", "in_last_days", 30) == {bob.email}
    assert matching("clicked", "in_campaign", campaign.pk) == {bob.email}
    never = {"not": {"field": "opened", "op": "in_last_days", "value": 30}}
    assert emails(subscribers_matching(never)) == {ann.email, carol.email}


def test_not_opened_still_works_after_an_opener_was_erased(campaign, ann, bob):
    event(campaign, ann, "open")
    audience.erase(ann)

    never = {"not": {"field": "opened", "op": "in_campaign", "value": "any"}}

    assert emails(subscribers_matching(never)) == {bob.email}
    assert EngagementEvent.objects.get().subscriber is None  # the count stays, the person goes


def test_a_saved_engagement_segment_limits_who_is_mailable(campaign, ann, bob, news):
    event(campaign, bob, "click")
    segment = Segment.objects.create(
        name="Clickers",
        definition={"all": [{"field": "clicked", "op": "in_last_days", "value": 90}]},
    )

    assert emails(mailable_subscribers([news], segment)) == {bob.email}
    assert describe(segment.definition) == "clicked in the last N days 90"


def test_engagement_conditions_are_validated(campaign):
    bad = [
        {"field": "opened", "op": "in_campaign", "value": 999999},
        {"field": "opened", "op": "in_campaign", "value": "spring"},
        {"field": "clicked", "op": "in_last_days", "value": 0},
        {"field": "clicked", "op": "eq", "value": 1},
    ]
    for condition in bad:
        with pytest.raises(InvalidInput):
            subscribers_matching({"all": [condition]})


# --- end to end through the worker -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_sent_campaign_is_tracked_end_to_end(client, campaign, ann, bob):
    tracked(campaign)
    control.start(campaign)
    run_until_idle()

    data = bytes(OutboxMessage.objects.get(rcpt_to=bob.email).data)
    html = html_part(data)
    # A person reads a while after delivery (within seconds it is a machine's: test_machines).
    Delivery.objects.filter(campaign=campaign).update(sent_at=timezone.now() - timedelta(minutes=5))
    response = client.get(path_of(click_urls(html)[0]))
    client.get(path_of(re.search(r'<img src="([^"]+)"', html).group(1)))

    assert response["Location"] == "https://example.com/spring"
    counts = activity.campaign_engagement(campaign)
    assert counts["sent"] == 2
    assert counts["opens"] == {"unique": 1, "total": 1, "rate": 50.0}
    assert counts["clicks"]["unique"] == 1


def test_click_urls_are_exactly_the_signers_click_tokens():
    from postroom.mail.engagement import ClickUrls

    signer = LinkSigner("k", "https://t.example/")
    urls = ClickUrls(signer, 42, 7, [3, 9])

    assert urls[0] == signer.url("r", 42, 7, 3)
    assert signer.verify(urls[1].split("/")[-2]) == ("click", (42, 7, 9))
