"""Every admin page: anonymous users go to the login page, outsiders get 403."""

import pytest
from django.urls import reverse

SHELL_PAGES = ["dashboard", "settings", "password_change", "ui_kit"]


@pytest.mark.parametrize("name", SHELL_PAGES)
def test_anonymous_users_are_sent_to_login(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={reverse(name)}"


@pytest.mark.parametrize("name", SHELL_PAGES)
def test_an_outsider_is_refused(client, outsider, name):
    client.force_login(outsider)
    response = client.get(reverse(name))
    assert response.status_code == 403
    assert b"No access" in response.content


@pytest.mark.parametrize("name", SHELL_PAGES)
def test_operators_see_the_page(client, teammate, name):
    client.force_login(teammate)
    assert client.get(reverse(name)).status_code == 200


def test_the_owner_sees_the_dashboard(owner_client):
    response = owner_client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert b"<h1>Dashboard</h1>" in response.content
