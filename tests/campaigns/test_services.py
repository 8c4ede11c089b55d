"""Writing, checking, duplicating and scheduling campaigns through the service layer."""

import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from postroom.audience import services as audience
from postroom.audience.models import MailingList, Segment
from postroom.campaigns import services
from postroom.campaigns.models import Campaign, Layout
from postroom.errors import InvalidInput, NotFound
from postroom.mail.errors import HeaderError, TemplateError


def test_a_new_campaign_is_a_draft_in_the_default_layout(campaign, news):
    assert campaign.status == Campaign.Status.DRAFT
    assert campaign.layout.name == Layout.DEFAULT_NAME
    assert list(campaign.lists.all()) == [news]


def test_a_campaign_without_a_from_address_gets_the_outbox_placeholder(news):
    campaign = services.create_campaign(name="N", subject="S", body="Hi", lists=[news])
    assert campaign.from_email == services.PLACEHOLDER_FROM


def test_a_syntax_error_is_refused_with_its_line_and_nothing_is_saved(news):
    body = "# Hello\n\nfine line\n{{ subscriber.name ) }}\nmore\n"
    with pytest.raises(TemplateError) as caught:
        services.create_campaign(
            name="Broken", subject="S", from_email="a@example.org", body=body, lists=[news]
        )
    assert [(p.field, p.line) for p in caught.value.problems] == [("body", 4)]
    assert str(caught.value) == "body, line 4: unexpected ')'"
    assert not Campaign.objects.filter(name="Broken").exists()


def test_an_unknown_variable_is_refused_with_its_line(news):
    with pytest.raises(TemplateError) as caught:
        services.create_campaign(
            name="Typo",
            subject="S",
            from_email="a@example.org",
            body="Hello\n\n{{ subscriber.frist_name }}\n",
            lists=[news],
        )
    assert str(caught.value) == "body, line 3: unknown variable 'subscriber.frist_name'"
    assert not Campaign.objects.exists()


def test_a_sandbox_escape_is_refused_on_save(news):
    with pytest.raises(TemplateError, match="not allowed"):
        services.create_campaign(
            name="Evil",
            subject="S",
            from_email="a@example.org",
            body="{{ subscriber.__class__.__mro__[1].__subclasses__() }}",
            lists=[news],
        )
    assert not Campaign.objects.exists()


def test_a_subject_with_a_line_break_is_refused(news):
    with pytest.raises(HeaderError, match="CR/LF"):
        services.create_campaign(
            name="Inject",
            subject="Hello\r\nBcc: victim@example.com",
            from_email="a@example.org",
            body="Hi",
            lists=[news],
        )
    assert not Campaign.objects.exists()


def test_a_reserved_custom_header_is_refused(news):
    with pytest.raises(HeaderError, match="set by Postroom"):
        services.create_campaign(
            name="H",
            subject="S",
            from_email="a@example.org",
            body="Hi",
            lists=[news],
            headers={"List-Unsubscribe": "<https://evil.example/>"},
        )


def test_an_update_with_a_broken_template_changes_nothing(campaign):
    with pytest.raises(TemplateError):
        services.update_campaign(campaign, body="{{ oops ", name="Renamed")
    campaign.refresh_from_db()
    assert campaign.name == "Spring"
    assert "oops" not in campaign.body


def test_editing_a_running_campaign_is_refused(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    with pytest.raises(InvalidInput, match="is running: only a draft or scheduled"):
        services.update_campaign(campaign, subject="Changed")
    campaign.refresh_from_db()
    assert campaign.subject.startswith("Spring news")
    assert campaign.status == Campaign.Status.RUNNING


def test_a_scheduled_campaign_can_still_be_edited(campaign):
    services.schedule(campaign, timezone.now() + timedelta(days=1))
    services.update_campaign(campaign, subject="New subject")
    campaign.refresh_from_db()
    assert (campaign.subject, campaign.status) == ("New subject", Campaign.Status.SCHEDULED)


def test_an_update_replaces_the_lists(campaign, news):
    other = MailingList.objects.create(name="Other")
    services.update_campaign(campaign, lists=[other])
    assert list(campaign.lists.all()) == [other]


def test_a_duplicate_copies_content_and_audience_but_not_state(campaign, news):
    campaign.headers = {"X-Tag": "spring"}
    campaign.save()
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.FINISHED, started_at=timezone.now(), finished_at=timezone.now()
    )
    campaign.refresh_from_db()
    copy = services.duplicate_campaign(campaign)
    assert copy.pk != campaign.pk
    assert copy.name == "Copy of Spring"
    assert (copy.subject, copy.body, copy.layout) == (
        campaign.subject,
        campaign.body,
        campaign.layout,
    )
    assert copy.headers == {"X-Tag": "spring"}
    assert list(copy.lists.all()) == [news]
    assert copy.status == Campaign.Status.DRAFT
    assert copy.started_at is None and copy.finished_at is None and copy.send_at is None


def test_only_a_campaign_that_never_started_can_be_deleted(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.FINISHED)
    campaign.refresh_from_db()
    with pytest.raises(InvalidInput):
        services.delete_campaign(campaign)
    assert Campaign.objects.filter(pk=campaign.pk).exists()


def test_a_naive_time_is_read_in_the_given_zone():
    when, zone = services.parse_send_at("2030-05-01T09:00", "Europe/Berlin")
    assert zone == "Europe/Berlin"
    assert when == datetime(2030, 5, 1, 7, 0, tzinfo=zoneinfo.ZoneInfo("UTC"))


def test_a_time_with_an_offset_keeps_it():
    when, _ = services.parse_send_at("2030-05-01T09:00+02:00", "America/New_York")
    assert when.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    ("value", "zone", "message"),
    [("tomorrow", "", "not an ISO 8601"), ("2030-05-01T09:00", "Mars/Olympus", "time zone")],
)
def test_a_bad_schedule_is_explained(value, zone, message):
    with pytest.raises(InvalidInput, match=message):
        services.parse_send_at(value, zone)


def test_scheduling_keeps_time_and_zone(campaign):
    when, zone = services.parse_send_at("2099-01-02T10:30", "Europe/Berlin")
    services.schedule(campaign, when, zone)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED
    assert campaign.send_at == when
    assert campaign.send_at_timezone == "Europe/Berlin"


def test_a_time_in_the_past_cannot_be_scheduled(campaign):
    with pytest.raises(InvalidInput, match="in the past"):
        services.schedule(campaign, timezone.now() - timedelta(minutes=1))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_a_running_campaign_cannot_be_scheduled(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    with pytest.raises(InvalidInput, match="running"):
        services.schedule(campaign, timezone.now() + timedelta(hours=1))


def test_unscheduling_makes_it_a_draft_again(campaign):
    services.schedule(campaign, timezone.now() + timedelta(hours=1))
    services.unschedule(campaign)
    assert (campaign.status, campaign.send_at) == (Campaign.Status.DRAFT, None)


def test_due_campaigns_are_the_scheduled_ones_whose_time_has_come(campaign):
    later = services.duplicate_campaign(campaign)
    services.schedule(campaign, timezone.now() + timedelta(minutes=5))
    services.schedule(later, timezone.now() + timedelta(hours=5))
    draft = services.duplicate_campaign(campaign)
    in_ten_minutes = timezone.now() + timedelta(minutes=10)
    assert list(services.due_campaigns(in_ten_minutes)) == [campaign]
    assert list(services.due_campaigns()) == []
    assert draft not in services.due_campaigns(timezone.now() + timedelta(days=1))


def test_the_audience_counts_only_mailable_subscribers(campaign, news, ann):
    bob = audience.add_subscriber("bob@example.com", lists=[news])
    audience.add_subscriber("cy@example.com", lists=[news])
    assert services.audience_count(campaign) == 3
    audience.unsubscribe(bob, None, source="test")
    assert services.audience_count(campaign) == 2
    assert bob not in services.mailable(campaign.lists.all(), None)


def test_a_segment_narrows_the_audience(campaign, news):
    audience.add_subscriber("bob@example.com", lists=[news], attributes={"city": "Paris"})
    segment = Segment.objects.create(
        name="Parisians",
        definition={"all": [{"field": "attributes.city", "op": "eq", "value": "Paris"}]},
    )
    from postroom.audience.segments import validate

    segment.definition = validate(segment.definition)
    segment.save()
    services.update_campaign(campaign, segment=segment)
    assert [s.email for s in services.mailable(campaign.lists.all(), segment)] == [
        "bob@example.com"
    ]


def test_a_preview_is_personalised_for_a_chosen_subscriber(campaign, ann):
    subject, html, text = services.preview(campaign, services.recipient_by_email(ann.email))
    assert subject == "Spring news for Ann"
    assert "Hello Ann" in html and "Hello Ann" in text


def test_a_preview_without_a_subscriber_uses_a_sample_reader(campaign):
    subject, _, _ = services.preview(campaign)
    assert subject == "Spring news for Ada"


def test_a_preview_for_an_unknown_address_says_so(campaign):
    with pytest.raises(NotFound, match=r"nobody@example\.com"):
        services.recipient_by_email("nobody@example.com")


def test_test_messages_are_personalised_for_subscribers_and_samples(campaign, ann):
    messages = services.build_test_messages(campaign, ["ann@example.com", "boss@example.net"])
    assert [m.rcpt_to for m in messages] == ["ann@example.com", "boss@example.net"]
    assert b"Subject: [Test] Spring news for Ann" in messages[0].data
    assert b"Subject: [Test] Spring news for Ada" in messages[1].data


def test_a_test_to_a_bad_address_is_refused(campaign):
    with pytest.raises(InvalidInput, match="not a valid address"):
        services.build_test_messages(campaign, ["not an address"])


UNSAFE_HTML = '<p onclick="steal()">Hi {{ subscriber.first_name }}</p><script>steal()</script>'


def test_an_html_body_is_stored_cut_down_to_the_allow_list(news):
    made = services.create_campaign(
        name="H", subject="S", body_format="html", body=UNSAFE_HTML, lists=[news]
    )
    assert made.body == "<p>Hi {{ subscriber.first_name }}</p>"
    services.update_campaign(made, body='<a href="javascript:x()">x</a>')
    assert Campaign.objects.get(pk=made.pk).body == "<a>x</a>"


def test_a_markdown_body_is_stored_as_written(news):
    made = services.create_campaign(name="M", subject="S", body="<b>shown as text</b>")
    assert made.body == "<b>shown as text</b>"
