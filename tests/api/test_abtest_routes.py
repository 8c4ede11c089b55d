"""/api/campaigns/{id}/abtest: an A/B test made, set up, started and decided over the API."""

import pytest

from postroom.abtests.models import ABTest
from postroom.accounts.models import Role
from postroom.campaigns.models import Campaign
from postroom.delivery.models import Delivery
from tests.api.conftest import refused
from tests.delivery.helpers import make_audience, make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(db) -> Campaign:
    return make_campaign(make_audience(30), subject="Subject A")


def test_a_test_is_made_changed_started_and_decided(api, draft):
    base = f"/api/campaigns/{draft.pk}/abtest"
    made = api.post(base, {"variants": 3, "test_percent": 60, "metric": "manual"})
    assert made.status_code == 201, made.content
    body = made.json()
    assert [v["label"] for v in body["variants"]] == ["A", "B", "C"]
    c = body["variants"][2]["campaign"]
    assert api.patch(f"/api/campaigns/{c}", {"subject": "Subject C"}).status_code == 200
    changed = api.patch(base, {"shares": {"A": 1, "B": 1, "C": 2}, "test_count": 12})
    assert changed.status_code == 200, changed.content
    assert changed.json()["test_count"] == 12 and changed.json()["variants"][2]["share"] == 2
    removed = api.delete(f"{base}/variants/B")
    assert [v["label"] for v in removed.json()["variants"]] == ["A", "C"]
    started = api.post(f"{base}/start")
    assert started.status_code == 200, started.content
    members = [v["members"] for v in started.json()["variants"]]
    assert members == [4, 8] and started.json()["status"] == "testing"
    shown = api.get(f"/api/campaigns/{c}/abtest").json()
    assert shown["campaign"] == draft.pk and shown["leader"] == "A"  # nothing sent yet: a tie
    a, c_figures = shown["variants"]
    assert a["compared_with"] is None and c_figures["compared_with"] == "A"
    assert c_figures["confidence"] is None and c_figures["behind_points"] == 0.0
    assert c_figures["confidence_summary"] == "A and C are level so far; too early to tell"
    decided = api.post(f"{base}/decide", {"winner": "C"})
    assert decided.status_code == 200, decided.content
    rest = Campaign.objects.get(pk=decided.json()["rest"])
    assert decided.json()["winner"] == "C" and rest.subject == "Subject C"
    assert Delivery.objects.filter(campaign=rest).count() == 30 - 12


def test_bad_input_is_refused_with_one_line_and_nothing_changes(api, draft):
    base = f"/api/campaigns/{draft.pk}/abtest"
    refused(api.post(base, {"variants": 5}), 422)
    refused(api.post(base, {"metric": "likes"}), 422)
    assert not ABTest.objects.exists()
    assert refused(api.get(base), 404) == f"campaign {draft.pk} is not an A/B test"
    api.post(base, {})
    assert "already part of an A/B test" in refused(api.post(base, {}), 400)
    assert "has not started" in refused(api.post(f"{base}/decide", {"winner": "A"}), 400)
    assert "variant A is the campaign" in refused(api.delete(f"{base}/variants/A"), 400)


def test_a_viewer_reads_a_test_but_cannot_change_it(token_for, api, draft):
    base = f"/api/campaigns/{draft.pk}/abtest"
    api.post(base, {})
    viewer = token_for(Role.VIEWER)
    assert viewer.get(base).status_code == 200
    refused(viewer.post(f"{base}/start"), 403)
    refused(viewer.patch(base, {"test_percent": 10}), 403)
    assert ABTest.objects.get().status == "draft"
