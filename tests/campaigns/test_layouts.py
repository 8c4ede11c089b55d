"""Layouts: the default one, checks on save, duplicates, and what running campaigns protect."""

import pytest

from postroom.campaigns import gallery, layouts
from postroom.campaigns.models import Campaign, Layout
from postroom.errors import InvalidInput, NotFound
from postroom.mail.content import DEFAULT_LAYOUT
from postroom.mail.errors import TemplateError


def test_the_default_layout_is_created_once_on_first_use(db):
    first = layouts.default_layout()
    assert (first.name, first.html) == ("Default", DEFAULT_LAYOUT)
    assert layouts.default_layout() == first
    # A new installation gets the gallery's layouts with it, once.
    names = set(Layout.objects.values_list("name", flat=True))
    assert names == {"Default"} | {entry.name for entry in gallery.GALLERY}


def test_a_deleted_default_comes_back_alone(db):
    layouts.default_layout()
    Layout.objects.filter(name="Digest").delete()
    layouts.default_layout().delete()
    assert layouts.default_layout().html == DEFAULT_LAYOUT
    assert not Layout.objects.filter(name="Digest").exists()  # what an operator deleted stays so


def test_a_gallery_layout_is_added_once_and_a_taken_name_gets_a_copy_name(db):
    Layout.objects.create(name="Digest", html="<html><body>{{ content }}</body></html>")
    added = gallery.add_to_layouts("digest")
    assert (added.name, added.html) == ("Copy of Digest", gallery.stock("digest").html)
    assert gallery.add_to_layouts("digest") == added  # reused, not a third one


def test_an_unknown_gallery_layout_is_refused(db):
    with pytest.raises(NotFound, match="no layout 'fancy'"):
        gallery.add_to_layouts("fancy")
    assert not Layout.objects.exists()


def test_a_layout_needs_the_content_placeholder(db):
    with pytest.raises(TemplateError, match=r"no \{\{ content \}\} placeholder"):
        layouts.create_layout("Bare", "<html><body>nothing here</body></html>")
    assert not Layout.objects.filter(name="Bare").exists()


def test_a_layout_with_an_unknown_variable_is_refused_with_its_line(db):
    html = "<html>\n<body>\n{{ content }}\n{{ subscriber.password }}\n</body></html>"
    with pytest.raises(TemplateError) as caught:
        layouts.create_layout("Bad", html)
    assert str(caught.value) == "layout, line 4: unknown variable 'subscriber.password'"


def test_a_layout_cannot_reach_python_internals(db):
    with pytest.raises(TemplateError, match="not allowed"):
        layouts.create_layout("Evil", "{{ content }}{{ content.__class__.__init__.__globals__ }}")


def test_layout_names_are_unique(db):
    layouts.create_layout("Simple", "<div>{{ content }}</div>")
    with pytest.raises(InvalidInput, match="already exists"):
        layouts.create_layout("Simple", "<p>{{ content }}</p>")


def test_the_preview_wraps_sample_content_with_inlined_css(db):
    html = "<style>.box { color: #123456; }</style><div class='box'>{{ content }}</div>"
    rendered = layouts.preview_layout(html)
    assert "A headline for Ada" in rendered
    assert 'style="color: #123456;"' in rendered


def test_duplicates_get_fresh_names(db):
    original = layouts.create_layout("Simple", "<div>{{ content }}</div>")
    first, second = layouts.duplicate_layout(original), layouts.duplicate_layout(original)
    assert (first.name, second.name) == ("Copy of Simple", "Copy of Simple (2)")
    assert first.html == second.html == original.html


def test_a_layout_used_by_a_running_campaign_cannot_change(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    with pytest.raises(InvalidInput, match="campaign under way"):
        layouts.update_layout(campaign.layout, "Default", "<p>{{ content }}</p>")
    assert campaign.layout.__class__.objects.get(pk=campaign.layout_id).html == DEFAULT_LAYOUT


def test_a_layout_of_finished_campaigns_can_be_deleted(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.FINISHED)
    layouts.delete_layout(campaign.layout)
    campaign.refresh_from_db()
    assert campaign.layout is None
