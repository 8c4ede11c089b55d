"""Every page a person reads, with a world that gives each one something to show.

`world()` builds one of everything (a running campaign that waits for its
sender, a cancelled one, a finished one, an alert, an import, a bounce, a
webhook, an API token…) with times in the past and the future; `page_urls(world)` walks the
URL table and returns a URL for every page, so a page added later is walked
too — or fails `test_every_page_is_walked` until it gets a sample here.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from postroom.abtests import services as abtests
from postroom.alerts.services import notify
from postroom.api.models import ApiToken
from postroom.audience import services as audience
from postroom.audience.models import MailingList, Segment
from postroom.automations import services as automations
from postroom.automations.models import Enrolment
from postroom.campaigns.models import Campaign, Layout
from postroom.delivery import control
from postroom.delivery.models import Delivery, OutboxMessage, Sender
from postroom.delivery.senders import create_sender
from postroom.feeds import services as feeds
from postroom.feeds.models import Feed, FeedItem
from postroom.imports import services as imports
from postroom.media.models import MediaFile
from postroom.tracking import mailboxes
from postroom.tracking.links import default_signer
from postroom.tracking.models import Bounce, BounceMailbox
from postroom.transactional.models import TxMessage, TxTemplate
from postroom.webhooks import services as webhooks
from tests.delivery.helpers import make_audience, make_campaign

# Routes that are no page for a person: actions (POST only), files, feeds for machines.
NOT_PAGES = {
    "logout", "alert_acknowledge", "subscribers_bulk", "subscriber_subscriptions",
    "subscriber_status", "segment_count", "segment_row_count", "import_mapping",
    "import_counts", "import_start", "import_discard", "import_progress", "import_rejects",
    "export", "campaign_live_preview", "campaign_convert", "campaign_audience_count",
    "campaign_test",
    "campaign_schedule", "campaign_unschedule", "campaign_duplicate", "layout_preview",
    "layout_duplicate", "layout_gallery_add", "sender_test", "sender_deliverability", "outbox_raw",
    "campaign_delivery_panel", "campaign_control", "campaign_resolve",
    "campaign_deliveries_csv", "subscriber_deliveries", "bounce_lift", "mailbox_poll",
    "webhook_test", "webhook_rotate", "audit_csv", "public_open", "public_click",
    "bounce_webhook", "provider_webhook", "metrics", "health", "login_code",
    "account_set_password", "two_factor_disable", "user_edit", "notification_sender",
    "login_sso", "login_sso_callback",  # hand over to the identity provider
    "passkey_remove", "api_token_revoke", "public_resubscribe", "public_archive_feed", "branding",
    "list_branding",
    "campaign_archive", "language",
    "campaign_abtest_new", "campaign_abtest_variant", "campaign_abtest_start",
    "campaign_abtest_decide", "campaign_abtest_delete", "feed_check", "feed_delete",
    "automation_activate", "automation_pause", "automation_positions",
    "media_upload", "media_file",  # an action; an image file for emails
}  # fmt: skip
# Pages for people who are not logged in (they redirect a logged-in admin, or not).
PUBLIC = {
    "login", "password_forgot", "public_unsubscribe", "public_preferences", "public_view",
    "public_subscribe_index", "public_subscribe", "public_confirm", "public_archive",
    "public_archive_entry",
}  # fmt: skip


def world() -> dict:
    """One of everything, with times behind and ahead."""
    now = timezone.now()
    news = make_audience(6)
    MailingList.objects.filter(pk=news.pk).update(visibility=MailingList.Visibility.PUBLIC)
    relay = create_sender(name="relay", host="relay.invalid", port=2525, tls="none",
                          rates=["35/hour"])  # fmt: skip
    running = make_campaign(news, sender=relay, name="Running news")
    control.start(running)
    Sender.objects.filter(pk=relay.pk).update(
        failing_since=now - timedelta(minutes=3, microseconds=123456),
        backoff_until=now + timedelta(seconds=12, microseconds=654321),
        last_error="connection refused",
    )
    cancelled = make_campaign(news, name="Cancelled news")
    control.start(cancelled)
    first = Delivery.objects.filter(campaign=cancelled).order_by("id").first()
    Delivery.objects.filter(pk=first.pk).update(state=Delivery.State.SENT, sent_at=now)
    control.cancel(cancelled)
    finished = make_campaign(news, name="Finished news")
    control.start(finished)
    Delivery.objects.filter(campaign=finished).update(state=Delivery.State.SENT, sent_at=now)
    control.finish_if_done(finished.pk)
    Campaign.objects.filter(pk=finished.pk).update(in_archive=True)
    scheduled = make_campaign(news, name="Scheduled news")
    Campaign.objects.filter(pk=scheduled.pk).update(
        status=Campaign.Status.SCHEDULED, send_at=now + timedelta(days=2, microseconds=5)
    )
    draft = make_campaign(news, name="Draft news")
    feed = feeds.create_feed(name="Blog", url="https://blog.example.org/feed.xml", lists=[news])
    Feed.objects.filter(pk=feed.pk).update(
        last_checked=now - timedelta(minutes=7), last_error="HTTP Error 404: Not Found"
    )
    FeedItem.objects.create(feed=feed, guid="p1", title="First post", link="https://b.example/1")
    tested = abtests.make_test(make_campaign(news, name="Tested news"), test_percent=50)
    abtests.start_test(tested)
    subscriber = audience.add_subscriber("zoe@example.com", name="Zoë", lists=[news])
    segment = Segment.objects.create(
        name="Everyone", definition={"all": [{"field": "email", "op": "contains", "value": "@"}]}
    )
    layout = Layout.objects.create(
        name="Plain layout", html="<html><body>{{ content }}</body></html>"
    )
    OutboxMessage.objects.create(
        mail_from="news@example.org",
        rcpt_to="zoe@example.com",
        subject="=?utf-8?b?VGhpcyB3ZWVrLCBab8Or?=",
        data=b"Subject: =?utf-8?b?VGhpcyB3ZWVrLCBab8Or?=\r\nTo: zoe@example.com\r\n\r\nHello\r\n",
    )
    message = OutboxMessage.objects.order_by("-id").first()
    upload = imports.store_upload(
        [b"email,name\nann@example.com,Ann\nnot-an-address,Bob\n"], "c.csv"
    )
    imp = imports.prepare(upload, file_name="contacts.csv", lists=[news])
    bounce = Bounce.objects.create(
        email="gone@example.net", kind=Bounce.Kind.HARD, source="ingest", at=now
    )
    box = mailboxes.create_mailbox(
        name="main", host="imap.example.org", username="bounces@example.org", password="pw"
    )
    BounceMailbox.objects.filter(pk=box.pk).update(
        last_polled_at=now - timedelta(minutes=2), next_poll_at=now + timedelta(minutes=3)
    )
    endpoint, _ = webhooks.create_endpoint("CRM", "https://hooks.example/in", ["import.finished"])
    script = get_user_model().objects.create_user("script", is_staff=True)
    token, _ = ApiToken.issue(script, "shop", scopes=["send"], lists=[news])
    ApiToken.objects.filter(pk=token.pk).update(
        last_used_at=now - timedelta(minutes=5, microseconds=4321)
    )
    alert = notify("campaign_paused", f"x:{draft.pk}", "campaign paused itself", "because",
                   campaign_id=draft.pk)  # fmt: skip
    template = TxTemplate.objects.create(name="receipt", subject="Your receipt", body="Thanks")
    tx = TxMessage.objects.create(
        delivery=Delivery.objects.filter(campaign=finished).first(), to_email="zoe@example.com",
        from_email="shop@example.org", subject="Your receipt", message_id="<r1@example.org>",
        template=template,
    )  # fmt: skip
    welcome = automations.create(name="Welcome", trigger=f"joined:{news.name}",
                                 from_email="hello@example.org")  # fmt: skip
    automations.add_step(welcome, subject="Welcome, {{ subscriber.name }}", body="Hello!")
    automations.add_step(welcome, subject="A week in", body="How is it going?", wait="7d",
                         wait_time="09:00", wait_weekdays="mon,tue,wed,thu,fri")  # fmt: skip
    automations.activate(welcome)
    Enrolment.objects.create(automation=welcome, subscriber=subscriber, position=2,
                             next_at=now + timedelta(days=7, microseconds=7))  # fmt: skip
    media = MediaFile.objects.create(
        kind=MediaFile.Kind.IMAGE, name="banner.png", stored_as="k/banner.png",
        content_type="image/png", size=2048, width=600, height=200,
    )  # fmt: skip
    signer = default_signer()
    return {
        "campaign_id": running.pk,
        "campaigns": [
            running.pk,
            cancelled.pk,
            finished.pk,
            scheduled.pk,
            draft.pk,
            tested.campaign_id,
        ],
        "subscriber_id": subscriber.pk,
        "list_id": news.pk,
        "segment_id": segment.pk,
        "import_id": imp.pk,
        "layout_id": layout.pk,
        "sender_id": relay.pk,
        "message_id": message.pk,
        "bounce_id": bounce.pk,
        "mailbox_id": box.pk,
        "endpoint_id": endpoint.pk,
        "alert_id": alert.pk if alert else 0,
        "key": str(news.pk),
        "list_uuid": news.uuid,
        "entry_id": finished.pk,
        "tx_id": tx.pk,
        "template_id": template.pk,
        "feed_id": feed.pk,
        "automation_id": welcome.pk,
        "position": 2,
        "media_id": media.pk,
        "tokens": {
            "public_unsubscribe": signer.token("u", finished.pk, subscriber.pk),
            "public_preferences": signer.token("p", subscriber.pk),
            "public_view": signer.token("v", finished.pk, subscriber.pk),
            "public_confirm": signer.token(
                "c", subscriber.pk, news.pk, int(now.timestamp() * 1000)
            ),
        },
    }


def routes() -> list[tuple[str, URLPattern]]:
    """(name, pattern) of every named route of the web app (the API has its own docs)."""
    found: list[tuple[str, URLPattern]] = []

    def walk(patterns, prefix: str = "") -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                if str(p.pattern).startswith("api/"):
                    continue
                walk(p.url_patterns, prefix + str(p.pattern))
            elif p.name:
                found.append((p.name, p))

    walk(get_resolver().url_patterns)
    return found


def page_urls(w: dict) -> dict[str, list[str]]:
    """{route name: [URL, …]} for every page, several for the campaign pages (one per state)."""
    from django.urls import reverse

    urls: dict[str, list[str]] = {}
    for name, pattern in routes():
        if name in NOT_PAGES:
            continue
        params = list(pattern.pattern.converters)
        if not params:
            urls[name] = [reverse(name)]
        elif params == ["campaign_id"]:
            urls[name] = [reverse(name, args=[c]) for c in w["campaigns"]]
        elif params == ["token"] and name in w["tokens"]:
            urls[name] = [reverse(name, args=[w["tokens"][name]])]
        elif all(p in w for p in params):
            urls[name] = [reverse(name, kwargs={p: w[p] for p in params})]
    return urls
