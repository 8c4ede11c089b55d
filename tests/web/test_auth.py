"""Logging in and out through the real forms, with CSRF checks on."""

from django.test import Client
from django.urls import reverse


def test_an_operator_logs_in_and_lands_on_the_dashboard(client, owner):
    response = client.post(
        reverse("login"), {"username": "owner", "password": "pw-owner-1"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert b"Log out" in response.content


def test_login_returns_to_the_page_asked_for(client, owner):
    next_url = reverse("settings")
    response = client.post(
        reverse("login") + f"?next={next_url}",
        {"username": "owner", "password": "pw-owner-1", "next": next_url},
    )
    assert response["Location"] == next_url


def test_a_wrong_password_shows_an_error(client, owner):
    response = client.post(reverse("login"), {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert "_auth_user_id" not in client.session


def test_a_login_without_csrf_token_is_refused(owner):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "owner", "password": "pw-owner-1"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_logout_ends_the_session(owner_client):
    response = owner_client.post(reverse("logout"))
    assert response.status_code == 302
    assert owner_client.get(reverse("dashboard")).status_code == 302


def test_logout_is_refused_as_a_plain_link(owner_client):
    assert owner_client.get(reverse("logout")).status_code == 405
    assert owner_client.get(reverse("dashboard")).status_code == 200


def test_a_logged_in_operator_is_sent_past_the_login_page(owner_client):
    response = owner_client.get(reverse("login"))
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


def test_an_operator_changes_their_password(owner_client, owner):
    response = owner_client.post(
        reverse("password_change"),
        {
            "old_password": "pw-owner-1",
            "new_password1": "a much better passphrase",
            "new_password2": "a much better passphrase",
        },
        follow=True,
    )
    assert b"Your password was changed." in response.content
    owner.refresh_from_db()
    assert owner.check_password("a much better passphrase")
    assert owner_client.get(reverse("dashboard")).status_code == 200  # still logged in
