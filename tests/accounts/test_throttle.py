"""Log-in throttling: wrong passwords lock the account (even against the right one), the
count is shared by every web process, and an owner's unlock lifts it at once."""

import http.cookiejar
import re
import urllib.parse
import urllib.request

import pytest

from postroom.accounts.models import Role
from tests.web.test_cli_servers import free_port, start, wait_for_port

RIGHT = "a long test passphrase"


def log_in(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(client, make_user):
    make_user("ada", Role.ADMIN)
    for _ in range(5):
        assert b"Please enter a correct username and password" in log_in(client, "ada", "x").content
    response = log_in(client, "ada", RIGHT)
    assert response.status_code == 200
    assert b"Too many failed log-ins: this account is locked for 15 minutes" in response.content
    assert "_auth_user_id" not in client.session


def test_an_unlock_lets_the_right_password_in_at_once(client, make_user):
    from postroom.accounts import services

    make_user("ada", Role.ADMIN)
    for _ in range(5):
        log_in(client, "ada", "x")
    assert services.unlock("ada") == 5
    response = log_in(client, "ada", RIGHT)
    assert response.status_code == 302 and client.session["_auth_user_id"]


def test_one_address_guessing_many_names_is_locked_too(client, settings, make_user):
    settings.POSTROOM_LOGIN_MAX_FAILURES_PER_IP = 6
    make_user("ada", Role.ADMIN)
    for n in range(6):
        log_in(client, f"nobody{n}", "x")
    response = log_in(client, "ada", RIGHT)
    assert b"log-ins from your address are locked" in response.content


def test_the_users_page_shows_the_lock_and_unlocks(client, make_user):
    owner = make_user("boss", Role.OWNER)
    make_user("ada", Role.ADMIN)
    for _ in range(5):
        log_in(client, "ada", "x")
    client.force_login(owner)
    assert b"locked" in client.get("/settings/users/").content
    client.post("/settings/users/edit/", {"username": "ada", "operation": "unlock"})
    client.logout()
    assert log_in(client, "ada", RIGHT).status_code == 302


class Browser:
    """A cookie-keeping HTTP client for one real server process."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def log_in(self, username: str, password: str) -> str:
        page = self.opener.open(self.base + "/login/", timeout=20).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": token}
        ).encode()
        request = urllib.request.Request(
            self.base + "/login/", data=form, headers={"Referer": self.base + "/login/"}
        )
        with self.opener.open(request, timeout=20) as response:
            return response.geturl() + "\n" + response.read().decode()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_count_holds_across_two_web_processes(subprocess_env, make_user):
    make_user("ada", Role.ADMIN)
    servers, browsers = [], []
    try:
        for _ in range(2):
            port = free_port()
            servers.append(start(["serve", "--port", str(port), "--workers", "1"], subprocess_env))
            wait_for_port(port)
            browsers.append(Browser(port))
        for attempt in range(5):  # alternating: neither process saw more than 3
            assert "correct username" in browsers[attempt % 2].log_in("ada", "wrong")
        answer = browsers[1].log_in("ada", RIGHT)
        assert "this account is locked" in answer
        assert "/login/" in answer.splitlines()[0]
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
