"""The audit log records changes, downloads of personal data and log-ins, with the
address they came from; admins read it, filter it and download it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from postroom.accounts import audit
from postroom.accounts.models import AuditEntry, Role


def test_a_change_in_the_admin_is_recorded_with_who_and_where(client, make_user):
    client.force_login(make_user("ed", Role.EDITOR))
    client.post("/lists/", {"name": "Weekly", "optin": "single"}, REMOTE_ADDR="203.0.113.9")
    entry = AuditEntry.objects.filter(action="lists").get()
    assert (entry.username, entry.ip) == ("ed", "203.0.113.9")
    assert entry.target == "POST /lists/" and entry.detail.startswith("done")


def test_a_refused_change_is_recorded_as_refused(client, make_user):
    client.force_login(make_user("vera", Role.VIEWER))
    client.post("/lists/", {"name": "Weekly"})
    assert AuditEntry.objects.get(action="lists").detail == "refused (403)"


def test_log_ins_and_failed_log_ins_are_recorded(client, make_user):
    make_user("ada", Role.ADMIN)
    client.post("/login/", {"username": "ada", "password": "wrong"})
    client.post("/login/", {"username": "ada", "password": "a long test passphrase"})
    actions = list(AuditEntry.objects.order_by("pk").values_list("action", "username"))
    assert actions == [("login failed", "ada"), ("login", "ada")]


def test_an_export_of_personal_data_is_recorded(client, make_user):
    client.force_login(make_user("ed", Role.EDITOR))
    client.get("/export/")
    assert AuditEntry.objects.filter(action="export", username="ed").exists()


def test_admins_filter_the_log_and_download_it_as_csv(client, make_user):
    admin = make_user("ada", Role.ADMIN)
    audit.record(None, "campaign_control start", "campaign_id=3", user=admin)
    audit.record(None, "lists", "POST /lists/", username="someone")
    client.force_login(admin)
    page = client.get("/settings/audit/", {"action": "campaign"})
    assert b"campaign_control start" in page.content and b"POST /lists/" not in page.content
    csv = b"".join(client.get("/settings/audit.csv", {"user": "ada"}).streaming_content)
    assert csv.splitlines()[0] == b"time,user,address,action,target,detail"
    assert b"campaign_control start" in csv and b"someone" not in csv


def test_editors_cannot_read_the_audit_log(client, make_user):
    client.force_login(make_user("ed", Role.EDITOR))
    assert client.get("/settings/audit/").status_code == 403


@pytest.mark.django_db
def test_entries_older_than_the_keep_time_are_purged(settings):
    settings.POSTROOM_AUDIT_KEEP_DAYS = 30
    old = audit.record(None, "old", username="x")
    AuditEntry.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=31))
    audit.record(None, "new", username="x")
    assert audit.purge_old() == 1
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["new"]
