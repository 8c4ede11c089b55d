"""The first run: the one-time password is the last thing printed and the UI asks to
change it until it is; the empty dashboard shows the first steps, ticked as done."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from postroom.delivery.models import Sender
from postroom.web.cli import banner, ensure_first_admin

pytestmark = pytest.mark.django_db


def test_the_banner_ends_with_the_password_and_how_to_stop():
    text = banner("http://127.0.0.1:8000", "s3cret-once")
    lines = [line for line in text.splitlines() if line.strip()]
    assert "one-time password" in lines[2] and lines[3].strip() == "s3cret-once"
    assert lines[-2].strip() == "Press Ctrl-C to stop." and set(lines[-1]) == {"="}


def test_the_ui_asks_to_change_the_one_time_password_until_it_is_changed():
    password = ensure_first_admin()
    client = Client()
    assert client.login(username="admin", password=password)
    assert "change-password-prompt" in client.get(reverse("dashboard")).content.decode()

    response = client.post(
        reverse("password_change"),
        {"old_password": password, "new_password1": "a much better pass 42",
         "new_password2": "a much better pass 42"},
    )  # fmt: skip
    assert response.status_code == 302
    assert "change-password-prompt" not in client.get(reverse("dashboard")).content.decode()


def test_an_admin_made_otherwise_is_not_asked(owner_client):
    assert "change-password-prompt" not in owner_client.get(reverse("dashboard")).content.decode()
    assert get_user_model().objects.filter(username="owner").exists()


def test_the_empty_dashboard_shows_the_first_steps_ticked_as_they_are_done(owner_client):
    page = owner_client.get(reverse("dashboard")).content.decode()
    assert "Get started" in page
    assert f'href="{reverse("sender_new")}">Add a sender' in page

    Sender.objects.create(name="relay", host="relay.example.org")
    page = owner_client.get(reverse("dashboard")).content.decode()
    assert "<s>Add a sender</s>" in page
    assert f'href="{reverse("import_new")}">Import contacts' in page
