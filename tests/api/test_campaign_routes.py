"""/api/campaigns and /api/layouts: the editor's whole life of a campaign over the API —
create, change, preview, test, schedule, duplicate, control, statistics, the ledger."""

from datetime import timedelta

import pytest
from django.utils import timezone

from postroom.accounts.models import Role
from postroom.audience import services as audience
from postroom.campaigns.models import Campaign, Layout
from postroom.delivery.models import OutboxMessage
from tests.api.conftest import refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def readers(db):
    audience.create_list("news")
    for n in range(3):
        audience.add_subscriber(f"r{n}@example.com", f"Reader {n}", ["news"])


def create(api, **fields):
    body = {"name": "Hello", "subject": "Hi {{ subscriber.name }}", "body": "Hello!",
            "lists": ["news"], **fields}  # fmt: skip
    response = api.post("/api/campaigns", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_it_creates_changes_previews_and_duplicates_a_draft(api, readers):
    made = create(api)
    changed = api.patch(f"/api/campaigns/{made['id']}", {"subject": "Dear {{ subscriber.name }}"})
    preview = api.get(f"/api/campaigns/{made['id']}/preview", {"email": "r1@example.com"})
    copy = api.post(f"/api/campaigns/{made['id']}/duplicate")

    assert made["status"] == "draft" and made["audience"] == 3
    assert changed.json()["subject"] == "Dear {{ subscriber.name }}"
    assert changed.json()["name"] == "Hello"  # untouched keys stay
    assert preview.json()["subject"] == "Dear Reader 1"
    assert "Hello!" in preview.json()["html"] and "Hello!" in preview.json()["text"]
    assert copy.status_code == 201
    assert (copy.json()["name"], copy.json()["lists"]) == ("Copy of Hello", ["news"])
    assert api.delete(f"/api/campaigns/{copy.json()['id']}").status_code == 204


def test_a_broken_change_is_refused_with_its_line_and_changes_nothing(api, readers):
    made = create(api)

    broken = api.patch(f"/api/campaigns/{made['id']}", {"body": "ok\n{{ nope }}"})
    unknown_list = api.patch(f"/api/campaigns/{made['id']}", {"lists": ["nope"]})
    bad_priority = api.patch(f"/api/campaigns/{made['id']}", {"priority": 0})

    assert "line 2" in refused(broken, 400)
    assert refused(unknown_list, 404) == "no list named 'nope'"
    assert refused(bad_priority, 422).startswith("priority")
    campaign = Campaign.objects.get(pk=made["id"])
    assert (campaign.body, campaign.priority) == ("Hello!", 1)
    assert list(campaign.lists.values_list("name", flat=True)) == ["news"]


def test_it_sends_a_test_to_the_local_outbox(api, readers):
    made = create(api)

    sent = api.post(f"/api/campaigns/{made['id']}/test", {"emails": ["me@example.org"]})
    too_many = api.post(
        f"/api/campaigns/{made['id']}/test", {"emails": [f"t{n}@example.org" for n in range(21)]}
    )

    assert sent.status_code == 200, sent.content
    assert sent.json()[0]["email"] == "me@example.org" and sent.json()[0]["ok"]
    message = OutboxMessage.objects.get()
    assert message.rcpt_to == "me@example.org" and "[Test] Hi" in message.subject
    assert "at most 20" in refused(too_many, 400)
    assert OutboxMessage.objects.count() == 1


def test_it_schedules_and_unschedules(api, readers):
    made = create(api)
    when = (timezone.now() + timedelta(days=2)).replace(microsecond=0)

    scheduled = api.put(f"/api/campaigns/{made['id']}/schedule", {"send_at": when.isoformat()})
    moved = api.put(
        f"/api/campaigns/{made['id']}/schedule",
        {"send_at": "2099-01-02T09:30:00", "timezone": "Europe/Berlin"},
    )
    past = api.put(f"/api/campaigns/{made['id']}/schedule", {"send_at": "2001-01-01T00:00:00Z"})
    zone = api.put(
        f"/api/campaigns/{made['id']}/schedule", {"send_at": "2099-01-01T00:00", "timezone": "X"}
    )

    assert scheduled.json()["status"] == "scheduled"
    assert moved.json()["send_at"] == "2099-01-02T08:30:00+00:00"
    assert "in the past" in refused(past, 400)
    assert "not a known time zone" in refused(zone, 400)
    campaign = Campaign.objects.get(pk=made["id"])
    assert campaign.status == "scheduled" and campaign.send_at.year == 2099  # kept
    draft = api.delete(f"/api/campaigns/{made['id']}/schedule")
    assert draft.json()["status"] == "draft" and draft.json()["send_at"] is None


def test_it_controls_a_campaign_and_reads_its_ledger_statistics_and_log(api, readers):
    made = create(api)
    base = f"/api/campaigns/{made['id']}"

    started = api.post(f"{base}/start")
    editing = api.patch(base, {"subject": "late"})
    paused = api.post(f"{base}/pause")
    again = api.post(f"{base}/pause")
    resumed = api.post(f"{base}/resume")
    ledger = api.get(f"{base}/deliveries", {"state": "pending", "limit": 2}).json()
    rest = api.get(f"{base}/deliveries", {"state": "pending", "after": ledger["next"]}).json()
    csv = api.get(f"{base}/deliveries.csv", {"q": "r1@"})
    stats = api.get(f"{base}/stats").json()
    log = api.get(f"{base}/events").json()

    assert started.json()["status"] == "running"
    assert "only a draft or scheduled campaign can be edited" in refused(editing, 400)
    assert paused.json()["status"] == "paused"
    refused(again, 400)
    assert resumed.json()["status"] == "running"
    emails = [row["email"] for row in ledger["items"] + rest["items"]]
    assert sorted(emails) == ["r0@example.com", "r1@example.com", "r2@example.com"]
    assert rest["next"] is None
    assert csv["Content-Type"].startswith("text/csv")
    lines = b"".join(csv.streaming_content).decode().splitlines()
    assert lines[0].startswith("email,state") and len(lines) == 2 and "r1@example.com" in lines[1]
    assert stats["progress"]["counts"]["pending"] == 3
    assert stats["engagement"]["opens"]["unique"] == 0
    assert [e["kind"] for e in log["items"]] == ["started", "paused", "resumed"]
    assert Campaign.objects.get(pk=made["id"]).subject == "Hi {{ subscriber.name }}"


def test_layouts_are_made_previewed_duplicated_and_deleted(api, readers):
    frame = "<html><body><h1>Frame</h1>{{ content }}</body></html>"

    made = api.post("/api/layouts", {"name": "Framed", "html": frame})
    preview = api.post("/api/layouts/preview", {"html": frame})
    broken = api.post("/api/layouts", {"name": "Broken", "html": "<p>{% if %}</p>"})
    copy = api.post(f"/api/layouts/{made.json()['id']}/duplicate")
    used = create(api, layout="Framed")
    refused_delete = api.delete(f"/api/layouts/{made.json()['id']}")

    assert made.status_code == 201 and "Frame" in preview.json()["html"]
    refused(broken, 400)
    assert not Layout.objects.filter(name="Broken").exists()
    assert copy.json()["name"] == "Copy of Framed"
    assert used["layout"] == "Framed"
    assert "used by campaign(s): Hello" in refused(refused_delete, 400)
    assert api.delete(f"/api/layouts/{copy.json()['id']}").status_code == 204
    names = [layout["name"] for layout in api.get("/api/layouts").json()]
    assert names == ["Default", "Framed"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_a_viewer_reads_campaigns_but_neither_changes_nor_exports(token_for, readers, role):
    owner = token_for(Role.OWNER)
    made = create(owner)
    api = token_for(role)
    base = f"/api/campaigns/{made['id']}"

    reads = [api.get(base), api.get(f"{base}/stats"), api.get(f"{base}/deliveries")]
    writes = [
        api.patch(base, {"name": "Renamed"}),
        api.post(f"{base}/test", {"emails": ["me@example.org"]}),
        api.post(f"{base}/start"),
    ]
    csv = api.get(f"{base}/deliveries.csv")

    assert [r.status_code for r in reads] == [200, 200, 200]
    if role == Role.VIEWER:
        for response in [*writes, csv]:
            assert "needs Editor" in refused(response, 403)
        assert Campaign.objects.get().status == "draft" and not OutboxMessage.objects.exists()
    else:
        assert [r.status_code for r in writes] == [200, 200, 200] and csv.status_code == 200


def test_the_archive_flag_is_set_at_creation_and_after_the_send(api, readers):
    made = create(api, in_archive=True)
    plain = create(api, name="Plain")
    Campaign.objects.filter(pk=plain["id"]).update(status="finished")
    base = f"/api/campaigns/{plain['id']}"

    archived = api.patch(base, {"in_archive": True})
    with_content = api.patch(base, {"in_archive": False, "subject": "late"})
    not_a_bool = api.patch(base, {"in_archive": "maybe"})

    assert made["in_archive"] is True and plain["in_archive"] is False
    assert archived.status_code == 200 and archived.json()["in_archive"] is True
    # Content of a sent campaign cannot change, and the flag with it stays as it was.
    assert "only a draft or scheduled campaign can be edited" in refused(with_content, 400)
    refused(not_a_bool, 422)
    assert Campaign.objects.get(pk=plain["id"]).in_archive is True
    assert "only a draft" in refused(api.patch(base, {}), 400)  # as before: nothing to change


def test_a_send_window_is_set_shown_changed_and_removed(api, readers):
    made = create(api, window={"hours": "09:00-17:00", "days": "mon-fri"})
    assert made["window"]["hours"] == "09:00-17:00"
    assert made["window"]["days"] == ["mon", "tue", "wed", "thu", "fri"]
    assert made["progress"]["window"]["waiting"] is False  # a draft waits for nothing yet

    local = api.patch(
        f"/api/campaigns/{made['id']}",
        {"window": {"local_time": "09:00", "timezone": "America/New_York"}},
    )
    assert local.json()["window"]["local_time"] == "09:00"
    assert local.json()["window"]["hours"] is None
    bad = api.patch(f"/api/campaigns/{made['id']}", {"window": {"hours": "18:00-08:00"}})
    assert "must end after it starts" in refused(bad, 400)
    assert Campaign.objects.get(pk=made["id"]).local_time is not None  # unchanged

    cleared = api.patch(f"/api/campaigns/{made['id']}", {"window": None})
    assert cleared.json()["window"] is None
    assert cleared.json()["progress"]["window"] is None


def test_an_html_body_is_stored_cut_down_to_the_allow_list(api, readers):
    made = create(api, format="html", body='<p>Hi</p><img src="x.png" onerror="steal()">')
    assert Campaign.objects.get(pk=made["id"]).body == '<p>Hi</p><img src="x.png">'
    changed = api.patch(f"/api/campaigns/{made['id']}", {"body": '<a href="javascript:x()">x</a>'})

    assert changed.status_code == 200
    assert Campaign.objects.get(pk=made["id"]).body == "<a>x</a>"
    preview = api.get(f"/api/campaigns/{made['id']}/preview", {"email": "r1@example.com"})
    assert ">x</a>" in preview.json()["html"] and "javascript" not in preview.json()["html"]
