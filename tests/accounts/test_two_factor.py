"""Two-factor log-in: enrolment with a first code, log-in with a code or a recovery code
(each once), wrong codes locked out like passwords, and enrolment enforced per role."""

import re

import pyotp
import pytest

from postroom.accounts import twofactor
from postroom.accounts.models import Role, TwoFactor

PASSWORD = "a long test passphrase"


def enrol(client, user) -> tuple[str, list[str]]:
    client.force_login(user)
    page = client.get("/settings/two-factor/").content.decode()
    assert "<svg" in page  # the QR code, inline
    secret = re.search(r'id="tf-secret">([A-Z2-7]+)<', page).group(1)
    done = client.post("/settings/two-factor/", {"code": pyotp.TOTP(secret).now()})
    codes = re.findall(r"<li>([0-9a-f]{8}-[0-9a-f]{8})</li>", done.content.decode())
    client.logout()
    return secret, codes


def password_step(client, username="ada"):
    response = client.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/login/code/"
    assert "_auth_user_id" not in client.session  # not logged in yet


def test_enrolment_then_log_in_with_a_code(client, make_user):
    secret, codes = enrol(client, make_user("ada", Role.ADMIN))
    assert len(codes) == 10
    password_step(client)
    TwoFactor.objects.update(last_step=0)  # the enrolment used this step's code
    response = client.post("/login/code/", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302 and client.session["_auth_user_id"]


def test_a_code_works_once_and_a_wrong_one_is_refused(client, make_user):
    secret, _ = enrol(client, make_user("ada", Role.ADMIN))
    password_step(client)
    # The code the enrolment used (its step is remembered) cannot log in again.
    used = pyotp.TOTP(secret).generate_otp(TwoFactor.objects.get().last_step)
    again = client.post("/login/code/", {"code": used})
    assert b"not right (or was used already)" in again.content
    wrong = client.post("/login/code/", {"code": "000000"})
    assert b"not right" in wrong.content and "_auth_user_id" not in client.session


def test_a_recovery_code_logs_in_once(client, make_user):
    _, codes = enrol(client, make_user("ada", Role.ADMIN))
    password_step(client)
    assert client.post("/login/code/", {"code": codes[0]}).status_code == 302
    client.logout()
    password_step(client)
    assert b"not right" in client.post("/login/code/", {"code": codes[0]}).content


def test_wrong_codes_lock_the_account_like_wrong_passwords(client, make_user):
    secret, _ = enrol(client, make_user("ada", Role.ADMIN))
    password_step(client)
    for _ in range(5):
        client.post("/login/code/", {"code": "123456"})
    TwoFactor.objects.update(last_step=0)
    locked = client.post("/login/code/", {"code": pyotp.TOTP(secret).now()})
    assert b"Too many failed log-ins" in locked.content
    assert "_auth_user_id" not in client.session


def test_a_role_that_requires_it_is_led_to_enrolment(client, settings, make_user):
    settings.POSTROOM_REQUIRE_2FA = "owner,admin"
    client.force_login(make_user("ada", Role.ADMIN))
    response = client.get("/campaigns/")
    assert response.status_code == 302 and response["Location"] == "/settings/two-factor/"
    assert b"required for your role" in client.get("/settings/two-factor/").content
    client.force_login(make_user("ed", Role.EDITOR))
    assert client.get("/campaigns/").status_code == 200


@pytest.mark.django_db
def test_a_code_from_the_neighbouring_step_counts_but_not_further(make_user):
    two_factor = TwoFactor.objects.create(
        user=make_user("ada", Role.ADMIN), secret=pyotp.random_base32()
    )
    totp = pyotp.TOTP(two_factor.secret)
    now = 1_800_000_000
    assert twofactor._matching_step(two_factor, totp.at(now - 30), now) is not None
    assert twofactor._matching_step(two_factor, totp.at(now - 90), now) is None


@pytest.mark.django_db(transaction=True)
def test_reset_2fa_at_a_shell_brings_back_the_password_only_log_in(
    client, make_user, run_cli, subprocess_env
):
    enrol(client, make_user("ada", Role.ADMIN))
    result = run_cli("users", "reset-2fa", "ada", env=subprocess_env)
    assert result.returncode == 0, result.stderr
    response = client.post("/login/", {"username": "ada", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
