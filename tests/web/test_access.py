from django.urls import reverse


def test_anonymous_users_are_sent_to_login(client, db):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_outsider_is_refused(client, outsider):
    client.force_login(outsider)
    assert client.get(reverse("dashboard")).status_code == 403


def test_the_owner_sees_the_dashboard(owner_client):
    response = owner_client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert b"Dashboard" in response.content
