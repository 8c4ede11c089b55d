"""Passkeys over HTTP with a software authenticator (postroom/testing/authenticator.py):
real keys and signatures checked by py_webauthn. A passkey signs in alone; an answer
replayed, from a cloned key, for another site or for a deactivated user is refused; and
failures count toward the address's lockout."""

import json

import pytest

from postroom.accounts import services
from postroom.accounts.models import AuditEntry, Passkey, Role
from postroom.testing.authenticator import SoftPasskey


@pytest.fixture(autouse=True)
def relying_party(settings):
    settings.POSTROOM_BASE_URL = "http://testserver"


def register(client, user, name="laptop") -> SoftPasskey:
    client.force_login(user)
    passkey = SoftPasskey(origin="http://testserver", rp_id="testserver")
    options = client.post("/settings/two-factor/passkeys/options/").content.decode()
    answer = client.post(
        "/settings/two-factor/passkeys/add/",
        json.dumps({"credential": passkey.create(options), "name": name}),
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    client.logout()
    return passkey


def sign_in(client, passkey: SoftPasskey, next_url: str = ""):
    options = client.post("/login/passkey/options/").content.decode()
    return client.post(
        "/login/passkey/",
        json.dumps({"credential": passkey.get(options), "next": next_url}),
        content_type="application/json",
    )


@pytest.mark.django_db
def test_a_passkey_signs_in_alone_and_is_not_sent_to_totp_enrolment(client, make_user, settings):
    settings.POSTROOM_REQUIRE_2FA = "all"
    user = make_user("ada", Role.ADMIN)
    passkey = register(client, user)
    assert Passkey.objects.get().name == "laptop"
    AuditEntry.objects.all().delete()  # registering logged in with force_login
    answer = sign_in(client, passkey, "/campaigns/")
    assert answer.status_code == 200 and answer.json() == {"redirect": "/campaigns/"}
    assert client.get("/campaigns/").status_code == 200
    assert Passkey.objects.get().last_used_at is not None
    assert AuditEntry.objects.filter(action="login", username="ada").count() == 1
    assert not AuditEntry.objects.filter(action="login_passkey").exists()


@pytest.mark.django_db
def test_a_next_address_on_another_site_is_ignored(client, make_user):
    passkey = register(client, make_user("ada", Role.ADMIN))
    assert sign_in(client, passkey, "https://evil.example/").json() == {"redirect": "/"}


@pytest.mark.django_db
def test_an_answer_sent_twice_is_refused_the_second_time(client, make_user):
    passkey = register(client, make_user("ada", Role.ADMIN))
    options = client.post("/login/passkey/options/").content.decode()
    body = json.dumps({"credential": passkey.get(options)})
    assert client.post("/login/passkey/", body, content_type="application/json").status_code == 200
    client.logout()
    replay = client.post("/login/passkey/", body, content_type="application/json")
    assert replay.status_code == 400 and "expired" in replay.json()["error"]
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_cloned_key_whose_counter_went_back_is_refused(client, make_user):
    passkey = register(client, make_user("ada", Role.ADMIN))
    assert sign_in(client, passkey).status_code == 200
    assert sign_in(client, passkey).status_code == 200
    client.logout()
    passkey.sign_count = 0  # the copy signs with the counter of two sign-ins ago
    refused = sign_in(client, passkey)
    assert refused.status_code == 400 and "does not check out" in refused.json()["error"]


@pytest.mark.django_db
def test_an_answer_made_for_another_site_is_refused(client, make_user):
    passkey = register(client, make_user("ada", Role.ADMIN))
    passkey.origin = "https://postroom.evil.example"
    refused = sign_in(client, passkey)
    assert refused.status_code == 400
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_deactivated_users_passkey_is_refused(client, make_user):
    make_user("boss", Role.OWNER)
    passkey = register(client, make_user("ed", Role.EDITOR))
    services.deactivate("ed")
    refused = sign_in(client, passkey)
    assert refused.status_code == 400 and "deactivated" in refused.json()["error"]


@pytest.mark.django_db
def test_failed_passkey_sign_ins_lock_the_address(client, make_user, settings):
    settings.POSTROOM_LOGIN_MAX_FAILURES_PER_IP = 3
    passkey = register(client, make_user("ada", Role.ADMIN))
    stranger = SoftPasskey(origin="http://testserver", rp_id="testserver")
    for _ in range(3):
        assert sign_in(client, stranger).status_code == 400
    locked = sign_in(client, passkey)
    assert locked.status_code == 400 and "Too many failed log-ins" in locked.json()["error"]
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_passkey_is_removed_by_its_owner_only(client, make_user):
    passkey = register(client, make_user("ada", Role.ADMIN))
    row = Passkey.objects.get()
    client.force_login(make_user("ed", Role.EDITOR))
    client.post(f"/settings/two-factor/passkeys/{row.pk}/remove/")
    assert Passkey.objects.exists()
    client.force_login(row.user)
    client.post(f"/settings/two-factor/passkeys/{row.pk}/remove/")
    assert not Passkey.objects.exists()
    client.logout()
    assert sign_in(client, passkey).status_code == 400
