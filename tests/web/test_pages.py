"""The shell's own pages: errors, settings, navigation, static files, the public layout."""

from django.conf import settings
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from postroom.web.views.errors import server_error
from postroom.web.views.settings import describe_database


def render(source: str, path: str = "/") -> str:
    request = RequestFactory().get(path)
    return Template("{% load postroom_ui %}" + source).render(Context({"request": request}))


def test_an_unknown_address_shows_the_404_page(owner_client):
    response = owner_client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"Page not found" in response.content
    assert b"Log out" in response.content  # in the app's layout


def test_anonymous_visitors_get_the_404_page_without_navigation(client, db):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"Page not found" in response.content
    assert b"nav-link" not in response.content


def test_the_500_page_needs_no_request_context():
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert b"Something went wrong" in response.content


def test_settings_show_the_configuration_without_secrets(owner_client):
    response = owner_client.get(reverse("settings"))
    content = response.content.decode()
    assert settings.POSTROOM_BASE_URL in content
    assert str(settings.DATA_DIR) in content
    assert ("SQLite" in content) or ("PostgreSQL" in content)
    assert settings.SECRET_KEY not in content


def test_a_database_password_is_never_described():
    db = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "postroom",
        "USER": "mailer",
        "PASSWORD": "s3cret",
        "HOST": "db.internal",
        "PORT": 5432,
    }
    assert describe_database(db) == "PostgreSQL, mailer@db.internal:5432/postroom"


def test_navigation_hides_pages_that_do_not_exist_yet():
    assert render('{% nav_link "no_such_page" "Nowhere" %}') == ""


def test_navigation_marks_the_current_area_active():
    html = render('{% nav_link "settings" "Settings" %}', path="/settings/password/")
    assert 'class="nav-link active"' in html
    assert 'aria-current="page"' in html
    assert 'class="nav-link"' in render('{% nav_link "settings" "Settings" %}', path="/")


def test_the_dashboard_link_is_active_only_on_the_dashboard():
    assert "active" in render('{% nav_link "dashboard" "Dashboard" %}', path="/")
    assert "active" not in render('{% nav_link "dashboard" "Dashboard" %}', path="/settings/")


def test_a_progress_bar_survives_an_empty_total():
    assert "width: 0.0%" in render("{% progress 0 0 %}")
    assert "width: 100.0%" in render("{% progress 12 10 %}")
    assert 'aria-valuenow="44"' in render('{% progress 438 1000 "warn" %}')


def test_the_layout_loads_the_vendored_htmx_and_stylesheet(owner_client):
    content = owner_client.get(reverse("dashboard")).content
    assert b'src="/static/postroom/htmx.min.js"' in content
    assert b'href="/static/postroom/app.css"' in content
    assert b"X-CSRFToken" in content


def test_static_files_are_served_without_collectstatic(client, db):
    response = client.get("/static/postroom/htmx.min.js")
    assert response.status_code == 200
    assert b"htmx" in b"".join(response.streaming_content)


def test_the_public_layout_has_no_admin_navigation(rf, db):
    from django.template.loader import render_to_string

    from postroom.public import branding

    branding.save(None, {"name": "The Weekly <Digest>"})
    html = render_to_string(
        "web/public_base.html", {"brand": branding.brand_for(None)}, request=rf.get("/")
    )
    assert "The Weekly &lt;Digest&gt;" in html
    assert "nav-link" not in html
    assert "noindex" in html


def test_every_layout_names_a_favicon_that_exists(owner_client, client):
    import re

    for page in (owner_client.get("/").content, client.get("/subscribe/").content):
        href = re.search(rb'<link rel="icon" href="([^"]+)"', page).group(1).decode()
        response = client.get(href)
        assert response.status_code == 200 and b"<svg" in b"".join(response.streaming_content)
