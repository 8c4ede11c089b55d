"""Users from the CLI and the Users page: add, list, role, deactivate; invitations and
password resets through a signed link that works once."""

import json
import re

import pytest

from postroom.accounts import services
from postroom.accounts.models import Role
from postroom.delivery.models import QueuedMessage

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_cli_adds_lists_and_changes_users(run_cli, subprocess_env):
    added = run_cli(
        "users",
        "add",
        "ed",
        "--email",
        "ed@example.org",
        "--role",
        "editor",
        "--json",
        env=subprocess_env,
    )
    assert added.returncode == 0, added.stderr
    password = json.loads(added.stdout)["password"]
    assert len(password) >= 12
    assert run_cli("users", "role", "ed", "viewer", env=subprocess_env).returncode == 0
    listed = json.loads(run_cli("users", "list", "--json", env=subprocess_env).stdout)
    assert [(u["username"], u["role"], u["active"]) for u in listed] == [("ed", "viewer", True)]
    assert run_cli("users", "deactivate", "ed", env=subprocess_env).returncode == 0
    listed = json.loads(run_cli("users", "list", "--json", env=subprocess_env).stdout)
    assert listed[0]["active"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "add", "x", "--role", "boss"], "'boss' is not a role; choose one of owner"),
        (["users", "role", "ghost", "admin"], "no user named 'ghost'"),
        (["users", "add", "a b", "--role", "viewer"], "without spaces"),
        (["users", "add", "x", "--email", "nope", "--role", "viewer"], "not a valid email"),
    ],
)
def test_bad_cli_input_is_one_line_and_changes_nothing(run_cli, subprocess_env, args, message):
    from django.contrib.auth import get_user_model

    result = run_cli(*args, env=subprocess_env)
    assert result.returncode != 0
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert get_user_model().objects.count() == 0


def test_the_last_owner_can_be_neither_demoted_nor_deactivated(make_user):
    make_user("boss", Role.OWNER)
    with pytest.raises(Exception, match="last owner"):
        services.set_role("boss", Role.ADMIN)
    with pytest.raises(Exception, match="last owner"):
        services.deactivate("boss")
    make_user("second", Role.OWNER)
    services.set_role("boss", Role.ADMIN)  # now allowed


def _link(message: QueuedMessage) -> str:
    body = bytes(message.data).decode()
    return re.search(r"http://\S+/account/set-password/\S+/", body).group(0)


def test_an_invitation_link_sets_a_password_once(client, make_user):
    owner = make_user("boss", Role.OWNER)
    client.force_login(owner)
    response = client.post("/settings/users/", {"email": "newbie@example.org", "role": "editor"})
    assert response.status_code == 302
    queued = QueuedMessage.objects.get(rcpt_to="newbie@example.org")  # left for the worker
    path = "/" + _link(queued).split("/", 3)[3]
    client.logout()
    page = client.get(path, follow=True)
    assert b"Choose your password" in page.content
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else path
    done = client.post(
        form_url, {"new_password1": "brand new passphrase", "new_password2": "brand new passphrase"}
    )
    assert done.status_code == 302
    assert client.login(username="newbie", password="brand new passphrase")
    client.logout()
    again = client.get(path, follow=True)
    assert b"This link no longer works" in again.content
    from django.contrib.auth import get_user_model

    from postroom.accounts.roles import role_of

    assert role_of(get_user_model().objects.get(username="newbie")) == Role.EDITOR


def test_forgot_password_answers_the_same_for_known_and_unknown_addresses(client, make_user):
    make_user("ada", Role.ADMIN)
    known = client.post("/account/forgot/", {"email": "ada@example.org"})
    unknown = client.post("/account/forgot/", {"email": "who@example.org"})
    assert known.status_code == unknown.status_code == 200

    def page(response) -> bytes:  # the CSRF token is masked afresh in each response
        text = response.content.replace(b"ada@example.org", b"").replace(b"who@example.org", b"")
        return re.sub(rb'"X-CSRFToken": "[^"]+"', b"", text)

    assert page(known) == page(unknown)
    assert list(QueuedMessage.objects.values_list("rcpt_to", flat=True)) == ["ada@example.org"]
