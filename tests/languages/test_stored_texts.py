"""Stored English texts are shown in the reader's language (postroom.storedtext)."""

import pytest
from django.template import Context, Template
from django.utils import translation
from django.utils.translation import gettext

from postroom import storedtext

# A template the catalogues already translate (a waiting sender's reason).
WAITING = "waiting for sender %(sender)s since %(clock)s (%(ago)s)"
AGO = "%(amount)s ago"


@pytest.fixture(autouse=True)
def registry():
    """Each test's templates leave with it."""
    kept = dict(storedtext._shapes)
    yield
    storedtext._shapes.clear()
    storedtext._shapes.update(kept)
    storedtext.forget()


def test_a_text_made_from_a_template_is_translated_with_its_values_kept():
    storedtext.template(WAITING)
    text = WAITING % {"sender": "'relay'", "clock": "14:02", "ago": "3 min"}
    with translation.override("de"):
        shown = storedtext.translated(text)
        assert shown == gettext(WAITING) % {"sender": "'relay'", "clock": "14:02", "ago": "3 min"}
    assert shown != text and "'relay'" in shown and "14:02" in shown


def test_a_value_that_is_itself_a_stored_text_is_translated_too():
    storedtext.template(WAITING)
    storedtext.template(AGO)
    text = WAITING % {"sender": "'relay'", "clock": "14:02", "ago": AGO % {"amount": "3 min"}}
    with translation.override("fr"):
        expected = gettext(WAITING) % {
            "sender": "'relay'",
            "clock": "14:02",
            "ago": gettext(AGO) % {"amount": "3 min"},
        }
        assert storedtext.translated(text) == expected


def test_a_text_no_template_made_is_shown_as_it_is():
    with translation.override("de"):
        assert storedtext.translated("550 5.1.1 user unknown") == "550 5.1.1 user unknown"
        assert storedtext.translated("") == ""


def test_numbers_come_back_as_numbers_and_must_be_numbers():
    storedtext.template("%(count)d of %(total)d failed")
    assert storedtext.translated("3 of 20 failed") == "3 of 20 failed"
    # Not digits where the template has %(count)d: not made from it, shown as it is.
    assert storedtext.translated("some of 20 failed") == "some of 20 failed"


def test_the_most_literal_template_wins():
    storedtext.template("%(what)s")
    storedtext.template(AGO)
    with translation.override("es"):
        assert storedtext.translated("5 s ago") == gettext(AGO) % {"amount": "5 s"}


def test_the_filter_escapes_what_it_shows():
    storedtext.template(AGO)
    html = Template("{% load postroom_ui %}{{ text|stored_text }}").render(
        Context({"text": AGO % {"amount": "<b>5 s</b>"}})
    )
    assert "&lt;b&gt;5 s&lt;/b&gt;" in html


def test_a_percent_sign_in_a_template_reads_as_one_when_filled():
    storedtext.template("more than %(percent)s%% failed")
    text = "more than 20% failed"
    assert storedtext._match(text) is not None
    with translation.override("de"):
        assert storedtext.translated(text) == gettext("more than %(percent)s%% failed") % {
            "percent": "20"
        }


def test_what_runs_in_english_makes_english_whatever_language_is_active():
    made = storedtext.in_english(lambda: gettext(WAITING))
    with translation.override("de"):
        assert gettext(WAITING) != WAITING  # the catalogue does translate it
        assert made() == WAITING
        assert translation.get_language() == "de"  # and the caller's language is back
