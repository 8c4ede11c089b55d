"""The branding form's refusals in the reader's language: German when asked, English otherwise.

They need the compiled catalogue (scripts/messages) to carry these strings.
"""

import html

import pytest

from postroom.public.models import Branding

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9"}


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        (GERMAN, "'teal' ist keine Farbe: schreiben Sie sie als #rrggbb, z. B. #1f6feb"),
        ({}, "'teal' is not a colour: write it as #rrggbb, e.g. #1f6feb"),
    ],
)
def test_a_refused_colour_is_said_in_the_readers_language(owner_client, headers, said):
    response = owner_client.post("/settings/branding/", {"colour": "teal"}, **headers)

    assert response.status_code == 400
    assert said in html.unescape(response.content.decode())
    assert not Branding.objects.exists()


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        (GERMAN, "die Logo-URL darf keinen Benutzernamen und kein Passwort enthalten"),
        ({}, "the logo URL may not carry a user name or password"),
    ],
)
def test_a_logo_with_credentials_is_refused_in_the_readers_language(owner_client, headers, said):
    logo = {"logo_url": "https://me:secret@cdn.example.org/logo.png"}

    response = owner_client.post("/settings/branding/", logo, **headers)

    assert response.status_code == 400
    assert said in html.unescape(response.content.decode())
    assert not Branding.objects.exists()
