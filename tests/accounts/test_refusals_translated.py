"""The accounts' refusals in the admin's language: the one chosen in Settings, else the
browser's, else English.

They need the compiled catalogue (scripts/messages) to carry these strings.
"""

import pytest
from django.utils import translation

from postroom.accounts import access, services
from postroom.accounts.models import Profile, Role
from postroom.errors import NotFound

pytestmark = pytest.mark.django_db

INVITE = {"email": "ada@example.org", "role": "editor"}


@pytest.fixture
def boss(make_user):
    boss = make_user("boss", Role.OWNER)
    services.invite(INVITE["email"], Role.EDITOR)
    return boss


def test_a_second_invitation_is_refused_in_the_language_the_admin_chose(client, boss):
    Profile.objects.filter(user=boss).update(language="de")
    client.force_login(boss)  # the log-in puts the chosen language in the session

    page = client.post("/settings/users/", INVITE).content.decode()

    assert "ein Benutzer mit der Adresse ada@example.org existiert bereits" in page


def test_the_same_refusal_follows_the_browser_and_is_english_without_one(client, boss):
    client.force_login(boss)

    french = client.post("/settings/users/", INVITE, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    english = client.post("/settings/users/", INVITE).content.decode()

    assert "un utilisateur avec l\u2019adresse ada@example.org existe déjà" in french
    assert "a user with the address ada@example.org already exists" in english


def test_an_object_outside_the_grant_is_named_whole_in_each_language():
    """One sentence per kind of object, not "no such" + an English word."""
    from postroom.audience import services as audience

    news, other = audience.create_list("news"), audience.create_list("other")
    grant = access.Access(list_ids=frozenset({news.pk}))

    with translation.override("de"), pytest.raises(NotFound) as german:
        grant.check_route("list_detail", {"list_id": other.pk})
    with pytest.raises(NotFound) as english:
        grant.check_route("list_detail", {"list_id": other.pk})

    assert (str(german.value), str(english.value)) == ("keine solche Liste", "no such list")
