"""A sequence's refusals in the caller's language: German when asked, English otherwise.

They need the compiled catalogue (scripts/messages) to carry these strings.
"""

import pytest

from postroom.automations.models import Automation
from tests.api.conftest import api, refused, token_for  # noqa: F401

pytestmark = pytest.mark.django_db

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9"}


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        (
            GERMAN,
            "ein Auslöser ist joined:LISTE, confirmed:LISTE, segment:NAME, date:ATTRIBUT"
            " oder api, nicht 'left:x'",
        ),
        (
            {},
            "a trigger is joined:LIST, confirmed:LIST, segment:NAME, date:ATTRIBUTE or api,"
            " not 'left:x'",
        ),
    ],
)
def test_a_wrong_trigger_is_refused_in_the_callers_language(api, headers, said):  # noqa: F811
    response = api.post("/api/automations", {"name": "X", "trigger": "left:x"}, **headers)

    assert refused(response, 400) == said
    assert not Automation.objects.exists()


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        (GERMAN, "Automatisierung %s hat noch keine Schritte"),
        ({}, "automation %s has no steps yet"),
    ],
)
def test_a_sequence_without_steps_is_not_activated(api, headers, said):  # noqa: F811
    made = api.post("/api/automations", {"name": "X", "trigger": "api", "from_email": "a@x.org"})
    ident = made.json()["id"]

    response = api.post(f"/api/automations/{ident}/activate", **headers)

    assert refused(response, 400) == said % ident
    assert Automation.objects.get(pk=ident).status == Automation.Status.DRAFT
