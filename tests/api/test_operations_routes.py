"""/api/imports, /api/senders, /api/bounces: the import wizard over HTTP, SMTP profiles
that never give their secret back, and the bounce log with its lift."""

import pytest

from postroom import credentials
from postroom.accounts.models import Role
from postroom.audience import services as audience
from postroom.audience.models import Subscriber, Suppression
from postroom.delivery.models import Sender
from postroom.imports import services as imports
from postroom.imports.models import Import
from postroom.testing.smtpserver import CaptureServer
from postroom.tracking.models import Bounce
from tests.api.conftest import refused

pytestmark = pytest.mark.django_db(transaction=True)

SEMICOLONS = b"email;first name;city\nada@example.com;Ada;Paris\nnot-an-address;Bob;Rome\n"


@pytest.fixture
def news(db):
    return audience.create_list("news")


def upload(api, content: bytes, name: str = "people.csv", **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return api.client.post(
        "/api/imports", {"file": SimpleUploadedFile(name, content), "lists": ["news"], **fields}
    )


def test_an_import_is_uploaded_dry_run_started_and_reported(api, news, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    made = upload(api, SEMICOLONS)
    assert made.status_code == 201, made.content
    imp = made.json()
    base = f"/api/imports/{imp['id']}"

    sample = api.get(f"{base}/sample").json()
    dry = api.post(f"{base}/dry-run").json()
    assert not Subscriber.objects.exists()  # a dry run writes nothing
    started = api.post(f"{base}/start").json()
    assert imports.run_pending() is True  # the worker's step
    done = api.get(base).json()
    report = api.get(f"{base}/rejected").json()
    csv = api.get(f"{base}/rejected.csv")

    assert imp["status"] == "draft" and imp["layout"]["delimiter"] == ";"
    assert imp["layout"]["columns"] == ["email", "first name", "city"]
    assert sample[0]["email"] == "ada@example.com" and sample[1]["line"] == 3
    assert "rejected" in sample[1]
    assert (dry["rows"], dry["created"], dry["rejected"]) == (2, 1, 1)
    assert started["status"] == "queued"
    assert done["status"] == "finished" and done["progress"]["percent"] == 100
    assert (done["created"], done["rejected"]) == (1, 1)
    assert [r["line"] for r in report["items"]] == [3] and report["items"][0]["reason"]
    assert "not-an-address" in csv.content.decode()
    assert Subscriber.objects.get().attributes["city"] == "Paris"


def test_the_mapping_is_changed_and_a_draft_discarded(api, news, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    imp = upload(api, SEMICOLONS).json()
    base = f"/api/imports/{imp['id']}"

    remapped = api.put(f"{base}/mapping", {"mapping": {"3": "ignore"}})
    wrong = api.put(f"{base}/mapping", {"delimiter": "nonsense"})

    assert remapped.status_code == 200, remapped.content
    assert remapped.json()["layout"]["mapping"][2] == "ignore"
    assert "unknown delimiter" in refused(wrong, 400)
    assert Import.objects.get().layout["mapping"][2] == "ignore"  # kept, not changed by it
    assert api.delete(base).status_code == 204
    assert not Import.objects.exists() and not list(tmp_path.glob("imports/*"))


def test_a_file_refused_as_a_whole_keeps_nothing(api, news, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)

    no_lists = api.client.post("/api/imports", {"file": _file(SEMICOLONS)})
    unknown = upload(api, SEMICOLONS, lists=["nope"])
    empty = upload(api, b"")

    assert "at least one list" in refused(no_lists, 400)
    assert refused(unknown, 404) == "no list named 'nope'"
    refused(empty, 400)
    assert not Import.objects.exists() and not list(tmp_path.glob("imports/*"))


def _file(content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("people.csv", content)


def test_a_sender_takes_a_password_and_never_gives_it_back(api):
    made = api.post(
        "/api/senders",
        {"name": "relay", "host": "127.0.0.1", "port": 2525, "username": "u",
         "password": "s3cret-pw", "rates": ["10/second"]},
    )  # fmt: skip
    assert made.status_code == 201, made.content
    listed = api.get("/api/senders")
    changed = api.patch("/api/senders/relay", {"max_connections": 4})

    for answer in (made, listed, changed, api.get(f"/api/senders/{made.json()['id']}")):
        assert b"s3cret-pw" not in answer.content
    assert made.json()["password_set"] is True and made.json()["rates"] == ["10/second"]
    stored = Sender.objects.get()
    assert stored.password_sealed and "s3cret-pw" not in stored.password_sealed
    assert credentials.unseal(stored.password_sealed) == "s3cret-pw"
    assert changed.json()["max_connections"] == 4
    assert credentials.unseal(Sender.objects.get().password_sealed) == "s3cret-pw"  # kept


def test_a_bad_sender_is_refused_and_changes_nothing(api):
    api.post("/api/senders", {"name": "relay", "host": "127.0.0.1", "port": 2525})

    both = api.patch("/api/senders/relay", {"username": "u", "password": "p", "password_env": "X"})
    env = api.patch("/api/senders/relay", {"username": "u", "password_env": "SECRET_KEY"})
    port = api.patch("/api/senders/relay", {"port": 70000})
    hosts = [
        api.patch("/api/senders/relay", {"host": h}) for h in ("a..b", "-x.org", "é" * 70, "a b")
    ]

    assert "not both" in refused(both, 400)
    assert "POSTROOM_SMTP_" in refused(env, 400)
    refused(port, 422)
    assert all("host must be a host name or an IP address" in refused(h, 400) for h in hosts)
    assert api.patch("/api/senders/relay", {"host": "smtp.bücher.example"}).status_code == 200
    assert api.patch("/api/senders/relay", {"host": "[::1]"}).json()["host"] == "::1"
    stored = Sender.objects.get()
    assert (stored.username, stored.password_env, stored.port) == ("", "", 2525)
    assert refused(api.get("/api/senders/nope"), 404)


def test_a_sender_is_tested_against_a_real_server(api):
    with CaptureServer() as server:
        api.post("/api/senders", {"name": "relay", "host": server.host, "port": server.port,
                                  "tls": "none"})  # fmt: skip
        report = api.post("/api/senders/relay/test").json()
    assert report["ok"] is True and report["step"] == "ok"
    assert api.delete("/api/senders/relay").status_code == 204


@pytest.mark.parametrize("role", [Role.EDITOR, Role.ADMIN])
def test_only_admins_change_senders_and_anyone_reads_them(token_for, role):
    token_for(Role.OWNER).post("/api/senders", {"name": "relay", "host": "h", "port": 25})
    api = token_for(role)

    read = api.get("/api/senders")
    change = api.patch("/api/senders/relay", {"host": "elsewhere.example"})

    assert read.status_code == 200
    if role == Role.EDITOR:
        assert "needs Admin" in refused(change, 403)
        assert Sender.objects.get().host == "h"
    else:
        assert change.json()["host"] == "elsewhere.example"


def test_bounces_are_filtered_and_a_suppression_lifted_with_a_reason(api):
    for n, kind in enumerate(["hard", "soft", "complaint"]):
        Bounce.objects.create(email=f"b{n}@example.com", kind=kind, fingerprint=f"f{n}",
                              source="test", reason="550 5.1.1 no such user")  # fmt: skip
    audience.suppress("b0@example.com", Suppression.Reason.BOUNCED, "test")

    hard = api.get("/api/bounces", {"kind": "hard"}).json()
    searched = api.get("/api/bounces", {"q": "b2@"}).json()
    one = api.get(f"/api/bounces/{hard['items'][0]['id']}").json()
    short = api.post(f"/api/bounces/{one['id']}/lift", {"reason": "x"})
    lifted = api.post(f"/api/bounces/{one['id']}/lift", {"reason": "the mailbox exists again"})

    assert [b["email"] for b in hard["items"]] == ["b0@example.com"]
    assert [b["kind"] for b in searched["items"]] == ["complaint"]
    assert "raw" in one
    assert "say why" in refused(short, 400)
    assert lifted.json()["lifted_by"] == "owner0" and lifted.json()["lifted_at"]
    assert not Suppression.objects.exists()
    refused(api.get("/api/bounces", {"kind": "bogus"}), 422)
