"""The campaign and layout screens: who may use them, and what they do."""

import html as html_lib

import pytest
from django.urls import reverse

from postroom.campaigns.models import Campaign, Layout
from postroom.delivery.models import OutboxMessage

# (route name, needs a campaign/layout id, method)
ROUTES = [
    ("campaigns", None, "get"),
    ("campaign_new", None, "get"),
    ("campaign_live_preview", None, "post"),
    ("campaign_audience_count", None, "get"),
    ("campaign_convert", None, "post"),
    ("campaign_detail", "campaign", "get"),
    ("campaign_edit", "campaign", "get"),
    ("campaign_test", "campaign", "post"),
    ("campaign_schedule", "campaign", "post"),
    ("campaign_unschedule", "campaign", "post"),
    ("campaign_duplicate", "campaign", "post"),
    ("campaign_delete", "campaign", "post"),
    ("layouts", None, "get"),
    ("layout_new", None, "get"),
    ("layout_preview", None, "post"),
    ("layout_edit", "layout", "get"),
    ("layout_duplicate", "layout", "post"),
    ("layout_delete", "layout", "post"),
    ("layout_gallery_add", "gallery", "post"),
]


def url_for(name: str, needs: str | None, campaign: Campaign) -> str:
    if needs == "campaign":
        return reverse(name, args=[campaign.pk])
    if needs == "layout":
        return reverse(name, args=[campaign.layout_id])
    if needs == "gallery":
        return reverse(name, args=["digest"])
    return reverse(name)


@pytest.mark.parametrize(("name", "needs", "method"), ROUTES)
def test_anonymous_users_are_sent_to_login(client, campaign, name, needs, method):
    response = getattr(client, method)(url_for(name, needs, campaign))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("name", "needs", "method"), ROUTES)
def test_an_outsider_is_refused_everywhere(client, outsider, campaign, name, needs, method):
    client.force_login(outsider)
    response = getattr(client, method)(url_for(name, needs, campaign))
    assert response.status_code == 403
    assert Campaign.objects.filter(pk=campaign.pk).exists()  # nothing deleted on the way


def test_a_teammate_sees_the_list_with_status_badges(client, teammate, campaign):
    client.force_login(teammate)
    response = client.get(reverse("campaigns"))
    assert response.status_code == 200
    assert b'<span class="badge draft">Draft</span>' in response.content
    assert b"Spring" in response.content


def form_data(news, **overrides) -> dict:
    data = {
        "name": "Autumn",
        "subject": "Autumn for {{ subscriber.first_name }}",
        "from_email": "news@example.org",
        "body_format": "markdown",
        "body": "# Hello {{ subscriber.first_name }}\n",
        "lists": [news.pk],
        "priority": "1",
        "in_doubt_policy": "hold",
        "custom_headers": "X-Tag: autumn",
    }
    return {**data, **overrides}


def test_the_editor_creates_a_draft(owner_client, news):
    response = owner_client.post(reverse("campaign_new"), form_data(news))
    campaign = Campaign.objects.get(name="Autumn")
    assert response.status_code == 302
    assert response["Location"] == reverse("campaign_detail", args=[campaign.pk])
    assert campaign.headers == {"X-Tag": "autumn"}
    assert list(campaign.lists.all()) == [news]


def test_the_editor_refuses_a_broken_template_with_its_line(owner_client, news):
    data = form_data(news, body="fine\n\n{% if %}\n")
    response = owner_client.post(reverse("campaign_new"), data)
    assert response.status_code == 400
    assert b"body, line 3" in response.content
    assert not Campaign.objects.filter(name="Autumn").exists()


def test_a_running_campaign_cannot_be_edited(owner_client, campaign, news):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    url = reverse("campaign_edit", args=[campaign.pk])
    assert owner_client.get(url)["Location"] == reverse("campaign_detail", args=[campaign.pk])
    owner_client.post(url, form_data(news, name="Changed"))
    campaign.refresh_from_db()
    assert campaign.name == "Spring"


def test_the_live_preview_shows_unsaved_content_in_sandboxed_frames(owner_client, news):
    data = form_data(news, body="Hi {{ subscriber.first_name }} <script>alert(1)</script>")
    response = owner_client.post(reverse("campaign_live_preview"), data)
    assert response.status_code == 200
    page = response.content.decode()
    # Same origin so that the page can size each frame to its email; never allow-scripts.
    assert page.count('sandbox="allow-same-origin"') == 2 and "allow-scripts" not in page
    assert 'class="preview-mobile"' in page and 'class="preview-desktop"' in page
    # The whole email is an escaped attribute value: nothing of it is live in the admin page.
    assert "<script>" not in page
    srcdoc = html_lib.unescape(page.split('srcdoc="', 1)[1].split('"', 1)[0])
    assert "Hi Ada" in srcdoc
    assert "&lt;script&gt;" in srcdoc  # Markdown shows raw HTML as text
    assert not Campaign.objects.exists()


def test_the_live_preview_lists_template_problems(owner_client, news):
    response = owner_client.post(
        reverse("campaign_live_preview"), form_data(news, subject="{{ nope }}")
    )
    assert b"subject, line 1: unknown variable &#x27;nope&#x27;" in response.content


def test_the_audience_count_follows_the_chosen_lists(owner_client, news, ann):
    url = reverse("campaign_audience_count")
    assert b"<strong>1</strong> recipient now" in owner_client.get(url, {"lists": news.pk}).content
    assert b"Choose lists" in owner_client.get(url).content


def test_the_detail_page_previews_for_a_chosen_subscriber(owner_client, campaign, ann):
    url = reverse("campaign_detail", args=[campaign.pk])
    response = owner_client.get(url, {"email": ann.email})
    assert response.status_code == 200
    assert b"Spring news for Ann" in response.content
    assert b"no subscriber with the address" in owner_client.get(url, {"email": "x@y.org"}).content


def test_a_test_send_lands_in_the_outbox(owner_client, campaign):
    url = reverse("campaign_test", args=[campaign.pk])
    owner_client.post(url, {"addresses": "me@example.com, you@example.com"})
    assert sorted(OutboxMessage.objects.values_list("rcpt_to", flat=True)) == [
        "me@example.com",
        "you@example.com",
    ]


def test_scheduling_from_the_dialog(owner_client, campaign):
    url = reverse("campaign_schedule", args=[campaign.pk])
    owner_client.post(url, {"send_at": "2099-03-04T05:06", "timezone": "Asia/Tokyo"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED
    assert campaign.send_at.isoformat() == "2099-03-03T20:06:00+00:00"
    detail = owner_client.get(reverse("campaign_detail", args=[campaign.pk]))
    assert b"2099-03-04 05:06 (Asia/Tokyo)" in detail.content
    owner_client.post(reverse("campaign_unschedule", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_duplicate_and_delete(owner_client, campaign):
    owner_client.post(reverse("campaign_duplicate", args=[campaign.pk]))
    copy = Campaign.objects.get(name="Copy of Spring")
    owner_client.post(reverse("campaign_delete", args=[copy.pk]))
    assert not Campaign.objects.filter(pk=copy.pk).exists()


def test_the_layout_editor_saves_and_refuses_a_layout_without_content(owner_client, db):
    response = owner_client.post(
        reverse("layout_new"), {"name": "Plain", "html": "<p>{{ content }}</p>"}
    )
    layout = Layout.objects.get(name="Plain")
    assert response["Location"] == reverse("layout_edit", args=[layout.pk])
    response = owner_client.post(
        reverse("layout_edit", args=[layout.pk]), {"name": "Plain", "html": "<p>no slot</p>"}
    )
    assert response.status_code == 400
    assert b"no {{ content }} placeholder" in response.content
    layout.refresh_from_db()
    assert layout.html == "<p>{{ content }}</p>"


def test_the_layout_preview_shows_sample_content(owner_client, db):
    response = owner_client.post(reverse("layout_preview"), {"html": "<div>{{ content }}</div>"})
    assert b"A headline for Ada" in response.content


def test_a_layout_is_duplicated_and_deleted(owner_client, campaign):
    owner_client.post(reverse("layout_duplicate", args=[campaign.layout_id]))
    copy = Layout.objects.get(name="Copy of Default")
    owner_client.post(reverse("layout_delete", args=[copy.pk]))
    assert not Layout.objects.filter(pk=copy.pk).exists()
    owner_client.post(reverse("layout_delete", args=[campaign.layout_id]))
    assert Layout.objects.filter(pk=campaign.layout_id).exists()  # a draft still uses it


def test_the_mode_switch_converts_markdown_to_clean_html_keeping_the_tags(owner_client):
    response = owner_client.post(
        reverse("campaign_convert"),
        {"body": "# Hi {{ subscriber.first_name }}\n\n[go](javascript:alert(1)) **now**",
         "from": "markdown", "to": "html"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json() == {
        "body": "<h1>Hi {{ subscriber.first_name }}</h1>\n<p>[go](javascript:alert(1)) "
        "<strong>now</strong></p>\n",
        "lossy": False,
    }


def test_the_mode_switch_to_markdown_keeps_the_text_and_links_and_says_it_is_lossy(owner_client):
    response = owner_client.post(
        reverse("campaign_convert"),
        {"body": '<h2>News</h2><p>Read <a href="https://x.test/">this</a>, {{ subscriber.email }}'
         "</p><script>x()</script>", "from": "html", "to": "markdown"},
    )  # fmt: skip
    data = response.json()
    assert data["lossy"] is True
    assert "News" in data["body"] and "https://x.test/" in data["body"]
    assert "{{ subscriber.email }}" in data["body"] and "<" not in data["body"]
    assert "x()" not in data["body"]


def test_the_mode_switch_refuses_an_unknown_format_in_one_line(owner_client):
    response = owner_client.post(
        reverse("campaign_convert"), {"body": "x", "from": "markdown", "to": "docx"}
    )
    assert response.status_code == 400
    assert response.json() == {"error": "unknown body format 'docx': use markdown, html or plain"}
