"""The public archive of a list: what it shows, rendered for nobody, paginated, as a feed."""

import re
import uuid
import xml.etree.ElementTree as ET

import pytest
from django.test import Client

from postroom.audience import services as audience
from postroom.campaigns.models import Campaign
from postroom.public import archive
from postroom.tracking import links
from tests.public.conftest import BASE_URL

ATOM = "{http://www.w3.org/2005/Atom}"
# Any signed per-person link: unsubscribe, preferences, view, open pixel, click.
SIGNED = re.compile(r"/(u|p|v|o|r)/[a-z]\.\d+\.")
PERSONAL = ("ann@example.com", "Ann", "Lee", "Lisbon")


def path(url: str) -> str:
    assert url.startswith(BASE_URL), url
    return url.removeprefix(BASE_URL)


def index_path(mailing_list) -> str:
    return path(archive.archive_url(mailing_list))


def get(url: str, **headers):
    return Client().get(path(url) if url.startswith("http") else url, headers=headers)


def assert_nothing_personal(text: str) -> None:
    for value in PERSONAL:
        assert value not in text, value
    assert not SIGNED.search(text), SIGNED.search(text)


def test_it_shows_finished_marked_campaigns_of_the_public_list_newest_first(send, news):
    older = send("March", days_ago=30)
    newer = send("April", days_ago=2)
    send("Unmarked", in_archive=False)
    send("Running", status="running")
    send("Cancelled", status="cancelled")
    send("Draft", status="draft")
    private = audience.create_list("Staff")
    send("Staff only", lists=[private])

    response = get(index_path(news))

    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("April for") < html.index("March for")
    for hidden in ("Unmarked", "Running", "Cancelled", "Draft", "Staff only"):
        assert hidden not in html
    assert archive.entry_url(news, newer) in html and archive.entry_url(news, older) in html
    assert "noindex" not in html  # the archive is meant to be found
    assert response["Cache-Control"] == "public, no-cache"
    assert_nothing_personal(html)


def test_a_subject_template_is_rendered_for_nobody(send, news):
    send("May", subject="Hi {{ subscriber.first_name | default('friends') }}, it is May")
    html = get(index_path(news)).content.decode()
    assert "Hi friends, it is May" in html


def test_a_private_or_unknown_list_has_no_archive(send, news):
    campaign = send("March")
    private = audience.create_list("Staff")
    send("Staff", lists=[private])
    unknown = uuid.uuid4()
    for wanted in (private.uuid, unknown):
        assert get(f"/archive/{wanted}/").status_code == 404
        assert get(f"/archive/{wanted}/feed.atom").status_code == 404
        assert get(f"/archive/{wanted}/{campaign.pk}/").status_code == 404


def test_a_list_made_private_takes_its_archive_down(send, news):
    send("March")
    audience.update_list(news, public=False)
    assert get(f"/archive/{news.uuid}/").status_code == 404


def test_an_entry_is_the_email_rendered_for_nobody(send, news, ann):
    campaign = send("March")

    response = get(archive.entry_url(news, campaign))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Hello reader" in html  # the template's fallback for no name
    assert "https://example.com/spring" in html  # links go straight to their target
    assert_nothing_personal(html)
    assert "/o/" not in html  # no open pixel
    # Its own "view online" is its public address; the personal links lead to the note.
    assert f'href="{archive.entry_url(news, campaign)}"' in html
    note = f"{archive.archive_url(news)}#{archive.PERSONAL_LINKS_ANCHOR}"
    assert html.count(f'href="{note}"') >= 2
    # The bar on top leads back to all issues.
    assert f'href="{archive.archive_url(news)}"' in html
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["Cache-Control"] == "public, no-cache"
    index = get(index_path(news)).content.decode()
    assert 'id="personal-links"' in index


def test_the_same_campaign_through_view_in_browser_is_personal(send, news, ann):
    """The contrast that shows the archive copy above is not simply the same page."""
    campaign = send("March")
    html = Client().get(path(links.view_url(campaign.pk, ann.pk))).content.decode()
    assert "Hello Ann" in html and "Lisbon" in html


def test_a_campaign_outside_the_archive_has_no_entry_page(send, news):
    unmarked = send("Unmarked", in_archive=False)
    other = audience.create_list("Other", public=True)
    elsewhere = send("Elsewhere", lists=[other])
    assert get(f"/archive/{news.uuid}/{unmarked.pk}/").status_code == 404
    assert get(f"/archive/{news.uuid}/{elsewhere.pk}/").status_code == 404  # not this list's
    assert get(f"/archive/{other.uuid}/{elsewhere.pk}/").status_code == 200


def test_taking_a_campaign_out_removes_it_at_once(send, news):
    from postroom.campaigns import services

    campaign = send("March")
    entry = archive.entry_url(news, campaign)
    first = get(index_path(news))
    services.set_in_archive(campaign, False)
    again = get(index_path(news), if_none_match=first["ETag"])
    assert again.status_code == 200 and "March" not in again.content.decode()
    assert get(entry).status_code == 404


def test_the_archive_pages_by_twenty(send, news):
    for n in range(25):
        send(f"Issue {n:02d}", days_ago=100 - n)

    first = get(index_path(news)).content.decode()
    second = get(index_path(news) + "?page=2").content.decode()

    assert first.count('<li><a href="') == 20 and second.count('<li><a href="') == 5
    assert "Issue 24" in first and "Issue 05" in first and "Issue 04" not in first
    assert "Issue 04" in second and "Issue 00" in second
    assert 'rel="next" href="?page=2"' in first and 'rel="prev" href="?page=1"' in second
    for bad in ("3", "0", "-1", "abc", "1.5", "\uff12", "9" * 20):
        assert get(index_path(news) + f"?page={bad}").status_code == 404, bad


def test_names_and_subjects_are_escaped(send, news):
    audience.update_list(news, description="<script>alert(1)</script>")
    send("Evil", subject='<img src=x onerror="alert(2)"> & more')

    html = get(index_path(news)).content.decode()

    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert (
        "<img src=x" not in html and "&lt;img src=x onerror=&quot;alert(2)&quot;&gt; &amp;" in html
    )


def test_pages_answer_304_while_nothing_changed(send, news):
    campaign = send("March")
    for url in (
        archive.archive_url(news),
        archive.entry_url(news, campaign),
        archive.feed_url(news),
    ):
        first = get(url)
        assert first.status_code == 200 and first["ETag"], url
        assert get(url, if_none_match=first["ETag"]).status_code == 304, url
    before = get(archive.feed_url(news))["ETag"]
    send("April")
    assert get(archive.feed_url(news), if_none_match=before).status_code == 200


def test_the_feed_is_valid_atom_with_absolute_links_and_nothing_personal(send, news):
    send("March", days_ago=30, subject="Fish & chips <b>bold</b> for {{ subscriber.name }}")
    newer = send("April", days_ago=2)
    send("Unmarked", in_archive=False)

    response = get(archive.feed_url(news))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/atom+xml; charset=utf-8"
    text = response.content.decode()
    assert_nothing_personal(text)
    root = ET.fromstring(response.content)  # well-formed, or this raises
    assert root.tag == f"{ATOM}feed"
    assert root.findtext(f"{ATOM}title") == "News"
    assert root.findtext(f"{ATOM}id") == archive.archive_url(news)
    self_link = root.find(f"{ATOM}link[@rel='self']")
    assert self_link is not None and self_link.get("href") == archive.feed_url(news)
    entries = root.findall(f"{ATOM}entry")
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert titles == ["April for", "Fish & chips <b>bold</b> for"]  # escaped, newest first
    first = entries[0]
    assert first.findtext(f"{ATOM}id") == archive.entry_url(news, newer)
    assert first.find(f"{ATOM}link").get("href") == archive.entry_url(news, newer)
    assert first.findtext(f"{ATOM}updated").startswith(f"{newer.finished_at:%Y-%m-%d}")
    content = first.find(f"{ATOM}content")
    assert content.get("type") == "html" and "Hello reader" in content.text
    assert "<head" not in content.text
    assert "spring story" in first.findtext(f"{ATOM}summary")
    for href in re.findall(
        r'href="([^"]+)"', "".join(e.find(f"{ATOM}content").text for e in entries)
    ):
        assert href.startswith(("https://", "#")), href  # absolute, never a path on our host


def test_an_empty_archive_is_a_page_and_an_empty_feed(news):
    assert "Nothing here yet" in get(index_path(news)).content.decode()
    root = ET.fromstring(get(archive.feed_url(news)).content)
    assert root.findall(f"{ATOM}entry") == []


def test_view_in_browser_leads_to_the_archive_only_when_the_campaign_is_in_it(send, news, ann):
    archived = send("March")
    unmarked = send("April", in_archive=False)
    shown = Client().get(path(links.view_url(archived.pk, ann.pk))).content.decode()
    plain = Client().get(path(links.view_url(unmarked.pk, ann.pk))).content.decode()
    assert f'href="{archive.archive_url(news)}"' in shown
    assert "public archive of News" in shown
    assert "/archive/" not in plain


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_archive_pages_are_read_only(send, news, method):
    campaign = send("March")
    for url in (archive.archive_url(news), archive.entry_url(news, campaign)):
        assert getattr(Client(), method)(path(url)).status_code == 405
    assert Campaign.objects.get(pk=campaign.pk).in_archive
