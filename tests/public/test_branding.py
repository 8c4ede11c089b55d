"""Branded public pages: values checked, text readable on the colour, applied per list,
escaped, and a Content-Security-Policy that lets in the logo's host and nothing else."""

import email
import email.policy
import itertools

import pytest

from postroom.accounts.models import Profile, Role
from postroom.audience import services as audience
from postroom.errors import InvalidInput
from postroom.public import branding
from postroom.public.models import Branding
from postroom.tracking import confirmations, links
from tests.public.conftest import BASE_URL

LOGO = "https://cdn.example.net/brand/logo.png"


def img_src(response) -> str:
    policy = response["Content-Security-Policy"]
    return next(d for d in policy.split("; ") if d.startswith("img-src"))


@pytest.mark.parametrize(
    ("given", "stored"),
    [("#1F6FEB", "#1f6feb"), (" #abc ", "#aabbcc"), ("", ""), ("#000000", "#000000")],
)
def test_a_colour_is_stored_as_rrggbb(given, stored):
    assert branding.clean_colour(given) == stored


@pytest.mark.parametrize(
    "bad", ["red", "#12345", "#1234567", "1f6feb", "#ggg000", "#fff;x", "rgb(1,2,3)", "#fff}"]
)
def test_anything_but_a_colour_is_refused(bad):
    with pytest.raises(InvalidInput, match="not a colour"):
        branding.clean_colour(bad)


def test_the_text_on_every_colour_passes_wcag_aa():
    steps = range(0, 256, 17)  # #000, #111 ... #fff: 4,096 colours across the whole cube
    for r, g, b in itertools.product(steps, steps, steps):
        colour = f"#{r:02x}{g:02x}{b:02x}"
        assert branding.contrast(colour, branding.text_on(colour)) >= branding.AA_CONTRAST, colour
    assert branding.text_on("#ffff00") == "#000000"  # yellow gets black text
    assert branding.text_on("#1d4ed8") == "#ffffff"  # dark blue gets white
    assert round(branding.contrast("#000000", "#ffffff"), 1) == 21.0


@pytest.mark.parametrize(
    "bad",
    [
        "http://cdn.example.net/logo.png",  # not https: mixed content, and readable on the way
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "https://",
        "//cdn.example.net/logo.png",
        "https://user:pw@cdn.example.net/logo.png",
        "https://cdn.example.net/logo one.png",
        "https://cdn.example.net;script-src/x.png",  # would add a CSP directive
        "https://cdn.exämple.net/logo.png",
        "https://cdn.example.net:99999/logo.png",
        "https://" + "a" * 500 + ".net/x.png",
    ],
)
def test_a_logo_must_be_a_plain_https_url(bad):
    with pytest.raises(InvalidInput):
        branding.clean_logo_url(bad)


def test_the_postal_address_is_plain_lines_and_bounded():
    assert branding.clean_postal_address("  Acme Ltd \r\n\r\n 1  High St\nLisbon ") == (
        "Acme Ltd\n1 High St\nLisbon"
    )
    with pytest.raises(InvalidInput, match="at most 6 lines"):
        branding.clean_postal_address("\n".join("line" for _ in range(7)))


def test_a_list_overrides_the_installation_field_by_field(db):
    weekly = audience.create_list("Weekly", public=True)
    branding.save(None, {"name": "Acme", "colour": "#112233", "postal_address": "1 High St"})
    branding.save(weekly, {"colour": "#ffcc00", "logo_url": LOGO})

    own = branding.brand_for(weekly)
    base = branding.brand_for(None)

    assert (own.name, own.colour, own.text_colour, own.logo_url) == (
        "Acme", "#ffcc00", "#000000", LOGO,
    )  # fmt: skip
    assert own.postal_address == "1 High St" and own.logo_origin == "https://cdn.example.net"
    assert (base.colour, base.text_colour, base.logo_url) == ("#112233", "#ffffff", "")


def test_bad_input_changes_nothing(db):
    branding.save(None, {"name": "Acme", "colour": "#112233"})
    with pytest.raises(InvalidInput):
        branding.save(None, {"name": "Other", "colour": "blue"})
    row = Branding.objects.get()
    assert (row.name, row.colour) == ("Acme", "#112233")


@pytest.fixture
def weekly(db):
    return audience.create_list("Weekly", public=True, description="Every Monday")


def test_the_settings_page_saves_the_installations_branding(owner_client, weekly):
    response = owner_client.post(
        "/settings/branding/",
        {"name": "Acme News", "logo_url": LOGO, "colour": "#0B5", "postal_address": "Acme\n1 St"},
    )
    assert response.status_code == 302
    row = Branding.objects.get(mailing_list=None)
    assert (row.name, row.colour, row.updated_by.username) == ("Acme News", "#00bb55", "owner")
    page = owner_client.get("/settings/").content.decode()
    assert 'value="Acme News"' in page and 'value="#00bb55"' in page


def test_a_refused_colour_is_said_under_the_field_and_saves_nothing(owner_client, weekly):
    response = owner_client.post("/settings/branding/", {"name": "Acme", "colour": "teal"})
    assert response.status_code == 400
    assert "not a colour: write it as #rrggbb" in response.content.decode()
    assert not Branding.objects.exists()


def test_only_an_owner_changes_the_installations_branding(client, django_user_model, weekly):
    editor = django_user_model.objects.create_user("ed", "ed@example.org", "pw", is_staff=True)
    Profile.objects.create(user=editor, role=Role.ADMIN)
    client.force_login(editor)
    assert client.post("/settings/branding/", {"name": "Mine"}).status_code == 403
    assert not Branding.objects.exists()
    assert "Only an owner can change" in client.get("/settings/").content.decode()


def test_an_editor_brands_a_list_on_its_page(client, django_user_model, weekly):
    editor = django_user_model.objects.create_user("ed", "ed@example.org", "pw", is_staff=True)
    Profile.objects.create(user=editor, role=Role.EDITOR)
    client.force_login(editor)
    response = client.post(f"/lists/{weekly.pk}/branding/", {"colour": "#ffcc00"})
    assert response.status_code == 302
    assert Branding.objects.get(mailing_list=weekly).colour == "#ffcc00"
    bad = client.post(f"/lists/{weekly.pk}/branding/", {"colour": "#ffcc00", "logo_url": "x"})
    assert bad.status_code == 400 and "is not an https URL" in bad.content.decode()
    assert Branding.objects.get(mailing_list=weekly).logo_url == ""


def test_the_subscribe_page_wears_the_lists_brand_and_lets_in_only_its_logo(client, weekly):
    branding.save(None, {"name": "Acme", "postal_address": "Acme <Ltd>\n1 High St"})
    branding.save(weekly, {"colour": "#ffcc00", "logo_url": LOGO})

    response = client.get(f"/subscribe/{weekly.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert f'src="{LOGO}"' in html and "Acme" in html
    assert "--brand: #ffcc00; --on-brand: #000000;" in html
    assert "Acme &lt;Ltd&gt;<br>1 High St" in html  # escaped, its lines kept
    assert img_src(response) == "img-src 'self' https://cdn.example.net"
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_without_a_logo_public_pages_load_images_only_from_postroom(client, weekly):
    response = client.get(f"/subscribe/{weekly.pk}/")
    assert img_src(response) == "img-src 'self'"
    assert 'class="brand-bar"' not in response.content.decode()  # nothing set: no bar


def test_another_list_gets_the_installations_brand(client, weekly):
    branding.save(None, {"name": "Acme", "colour": "#112233"})
    branding.save(weekly, {"colour": "#ffcc00"})
    other = audience.create_list("Other", public=True)
    html = client.get(f"/subscribe/{other.pk}/").content.decode()
    assert "--brand: #112233; --on-brand: #ffffff;" in html


def test_the_unsubscribe_and_archive_pages_wear_the_brand(client, weekly, send):
    branding.save(weekly, {"name": "Weekly Co", "colour": "#ffcc00", "logo_url": LOGO})
    zoe = audience.add_subscriber("zoe@example.com", lists=[weekly])
    campaign = send("June", lists=[weekly])
    unsubscribe = links.unsubscribe_url(campaign.pk, zoe.pk).removeprefix(BASE_URL)
    for url in (unsubscribe, f"/archive/{weekly.uuid}/"):
        response = client.get(url)
        assert "Weekly Co" in response.content.decode(), url
        assert img_src(response) == "img-src 'self' https://cdn.example.net", url
    entry = client.get(f"/archive/{weekly.uuid}/{campaign.pk}/").content.decode()
    assert "background:#ffcc00;color:#000000" in entry and f'src="{LOGO}"' in entry


def test_a_name_with_markup_is_escaped_everywhere(client, weekly, send):
    branding.save(None, {"name": '<img src=x onerror="alert(1)">'})
    campaign = send("June", lists=[weekly])
    for url in (f"/subscribe/{weekly.pk}/", f"/archive/{weekly.uuid}/"):
        html = client.get(url).content.decode()
        assert "<img src=x" not in html and "&lt;img src=x" in html, url
    assert client.get(f"/archive/{weekly.uuid}/{campaign.pk}/").status_code == 200


def test_a_value_written_past_the_checks_is_never_used(client, weekly):
    """Into CSS and a header, where escaping does not help: checked again when shown.
    (Seven characters: PostgreSQL, unlike SQLite, refuses a longer value for the column.)"""
    Branding.objects.create(mailing_list=None, colour="0;}p{x:", logo_url="https://a;script-src *")
    brand = branding.brand_for(weekly)
    assert (brand.colour, brand.logo_url, brand.chosen) == (branding.DEFAULT_COLOUR, "", False)
    response = client.get(f"/subscribe/{weekly.pk}/")
    assert "0;}p{x:" not in response.content.decode()
    assert img_src(response) == "img-src 'self'"


def html_of(built) -> str:
    mail = email.message_from_bytes(built.data, policy=email.policy.default)
    return mail.get_body(("html",)).get_content()


def test_the_confirmation_email_wears_the_lists_brand(weekly):
    branding.save(None, {"name": "Acme & Co", "postal_address": "1 High St\nLeeds"})
    branding.save(weekly, {"colour": "#ffcc00", "logo_url": LOGO})
    person = audience.add_subscriber("zoe@example.com")
    html = html_of(confirmations.build_confirmation(person, weekly))

    assert f'src="{LOGO}"' in html and "Acme &amp; Co" in html
    assert "background:#ffcc00; color:#000000" in html  # the button in the brand, readable
    assert "1 High St<br>Leeds" in html


def test_without_a_brand_the_confirmation_keeps_postroom_s_colour(weekly):
    body = html_of(
        confirmations.build_confirmation(audience.add_subscriber("a@example.com"), weekly)
    )
    assert f"background:{branding.DEFAULT_COLOUR}; color:#ffffff" in body
    assert "<img" not in body
