"""A list's sign-up settings: its uuid (also for lists made before it existed), allowed
websites, captcha and custom fields, through the CLI and the UI."""

import json
import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from postroom.audience.models import MailingList
from postroom.cli import main

pytestmark = pytest.mark.django_db


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_lists_add_takes_the_sign_up_settings_and_list_shows_the_uuid(capsys):
    code, out, err = run(
        capsys,
        "lists", "add", "News", "--public", "--optin", "double",
        "--allow-origin", "https://Shop.Example/", "--allow-origin", "http://localhost:3000",
        "--captcha", "--json",
    )  # fmt: skip
    assert code == 0, err
    created = json.loads(out)
    assert created["allowed_origins"] == ["https://shop.example", "http://localhost:3000"]
    assert created["captcha"] is True and created["public"] is True
    listed = json.loads(run(capsys, "lists", "list", "--json")[1])
    assert listed[0]["uuid"] == created["uuid"] == str(MailingList.objects.get().uuid)
    assert listed[0]["id"] == created["id"]
    assert created["uuid"] in run(capsys, "lists", "list")[1]


def test_lists_edit_changes_only_what_it_is_given(capsys):
    run(capsys, "lists", "add", "News", "--allow-origin", "https://a.example")
    before = MailingList.objects.get()
    fields = '[{"name": "plan", "type": "choice", "choices": ["free", "pro"], "required": true}]'
    code, _, err = run(
        capsys, "lists", "edit", "News", "--public", "--allow-origin", "https://b.example",
        "--fields", fields, "--json",
    )  # fmt: skip
    assert code == 0, err
    after = MailingList.objects.get()
    assert after.allowed_origins == ["https://a.example", "https://b.example"]
    assert after.is_public and after.optin == "single" and after.uuid == before.uuid
    assert after.form_fields[0]["label"] == "Plan"
    run(capsys, "lists", "edit", "News", "--no-origins", "--no-captcha", "--private")
    after = MailingList.objects.get()
    assert (after.allowed_origins, after.captcha, after.is_public) == ([], False, False)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--allow-origin", "https://shop.example/signup"], "is not an origin"),
        (["--allow-origin", "shop.example"], "is not a website origin"),
        (["--fields", "[{"], "the form fields are not valid JSON"),
        (["--fields", '[{"name": "email"}]'], "not a reserved word"),
        (["--fields", '[{"name": "x", "type": "colour"}]'], "type must be one of"),
        (["--fields", '[{"name": "x", "type": "choice"}]'], "a choice field needs its choices"),
    ],
)
def test_bad_sign_up_settings_are_one_line_and_change_nothing(capsys, argv, message):
    run(capsys, "lists", "add", "News")
    code, _, err = run(capsys, "lists", "edit", "News", *argv)
    assert code == 1
    assert message in err and err.count("\n") == 1
    news = MailingList.objects.get()
    assert (news.allowed_origins, news.form_fields) == ([], [])
    code, _, err = run(capsys, "lists", "add", "Other", *argv)
    assert code == 1 and message in err
    assert MailingList.objects.count() == 1


def test_lists_edit_with_nothing_to_change_says_so(capsys):
    run(capsys, "lists", "add", "News")
    code, _, err = run(capsys, "lists", "edit", "News")
    assert code == 1 and "nothing to change" in err


def test_the_snippet_posts_to_the_public_endpoint_with_the_list_uuid(capsys, settings):
    settings.POSTROOM_BASE_URL = "https://news.example.org"
    fields = '[{"name": "plan", "label": "Your <plan>", "type": "choice", "choices": ["a&b"]}]'
    run(capsys, "lists", "add", "News", "--public", "--captcha", "--fields", fields)
    code, html, _ = run(capsys, "lists", "snippet", "News")
    assert code == 0
    news = MailingList.objects.get()
    assert 'action="https://news.example.org/api/public/subscription"' in html
    assert f'name="lists" value="{news.uuid}"' in html
    assert 'data-captcha="https://news.example.org/api/public/captcha"' in html
    assert 'src="https://news.example.org/static/postroom/signup.js"' in html
    assert 'name="attributes.plan"' in html and "Your &lt;plan&gt;" in html
    assert "<option>a&amp;b</option>" in html
    assert 'name="website"' in html  # the honeypot


def test_the_list_page_shows_the_uuid_and_the_snippet_and_saves_the_settings(owner_client):
    news = MailingList.objects.create(name="News", visibility="public")
    page = owner_client.get(f"/lists/{news.pk}/").content.decode()
    assert str(news.uuid) in page
    assert "/api/public/subscription" in page
    response = owner_client.post(
        f"/lists/{news.pk}/",
        {
            "name": "News",
            "optin": "double",
            "public": "on",
            "captcha": "on",
            "origins": "https://shop.example\nhttps://blog.example/",
            "fields_json": '[{"name": "city"}]',
        },
    )
    assert response.status_code == 302
    news.refresh_from_db()
    assert news.allowed_origins == ["https://shop.example", "https://blog.example"]
    assert news.captcha and news.form_fields[0]["name"] == "city"
    refused = owner_client.post(
        f"/lists/{news.pk}/",
        {"name": "News", "optin": "double", "origins": "ftp://x", "fields_json": "[]"},
    )
    assert refused.status_code == 400
    assert "is not a website origin" in refused.content.decode()
    news.refresh_from_db()
    assert news.allowed_origins == ["https://shop.example", "https://blog.example"]


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_every_existing_list_its_own_uuid():
    executor = MigrationExecutor(connection)
    before = [("audience", "0001_initial")]
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    OldList = old_apps.get_model("audience", "MailingList")
    for name in ("a", "b", "c"):
        OldList.objects.create(name=name)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    uuids = list(MailingList.objects.values_list("uuid", flat=True))
    assert len(uuids) == 3 and len(set(uuids)) == 3
    assert all(isinstance(value, uuid.UUID) for value in uuids)


def test_the_api_creates_and_changes_a_list_s_sign_up_settings(client, owner):
    from postroom.api.models import ApiToken

    auth = {"authorization": f"Bearer {ApiToken.issue(owner, 't')[1]}"}
    created = client.post(
        "/api/lists",
        {"name": "News", "public": True, "allowed_origins": ["https://Shop.example"]},
        content_type="application/json",
        headers=auth,
    )
    assert created.status_code == 201
    body = created.json()
    assert body["allowed_origins"] == ["https://shop.example"] and body["uuid"]
    changed = client.patch(
        f"/api/lists/{body['id']}",
        {"captcha": True, "form_fields": [{"name": "city"}]},
        content_type="application/json",
        headers=auth,
    )
    assert changed.status_code == 200
    assert changed.json()["captcha"] is True
    assert changed.json()["allowed_origins"] == ["https://shop.example"]  # untouched
    refused = client.patch(
        f"/api/lists/{body['id']}",
        {"allowed_origins": ["shop"]},
        content_type="application/json",
        headers=auth,
    )
    assert refused.status_code == 400
    assert (
        client.patch(
            "/api/lists/999", {}, content_type="application/json", headers=auth
        ).status_code
        == 404
    )
