"""Times and waits as people read them, in the admin's language: relative times, plurals,
month names and a waiting sender's reason (the CLI, with no language chosen, stays English)."""

import time
from datetime import UTC, datetime, timedelta

from django.utils import timezone, translation

from postroom.delivery import waiting
from postroom.web.templatetags.postroom_ui import moment


def ago(**delta) -> datetime:
    return timezone.now() - timedelta(**delta)


def test_a_past_moment_in_german_and_chinese():
    with translation.override("de"):
        assert ", vor 3 Min.</time>" in moment(ago(minutes=3, seconds=5))
        assert "vor 1 Tag</time>" in moment(ago(days=1, hours=1))
        assert "vor 4 Tagen</time>" in moment(ago(days=4, hours=1))
    with translation.override("zh-hans"):
        assert "\uff0c3 分钟前</time>" in moment(ago(minutes=3, seconds=5))  # a full-width comma


def test_a_coming_moment_is_relative_first_in_every_language():
    soon = timezone.now() + timedelta(hours=2, minutes=5, seconds=30)
    with translation.override("fr"):
        assert ">dans 2 h 5 min (" in moment(soon)
    with translation.override("es"):
        assert ">dentro de 2 h 5 min (" in moment(soon)
    with translation.override("en"):
        assert ">in 2 h 5 min (" in moment(soon)


def test_an_older_moment_names_the_month_in_the_readers_language():
    march = datetime(2026, 3, 5, 14, 2, tzinfo=UTC)
    with timezone.override("UTC"), translation.override("de"):
        assert "5 Mär 2026 14:02" in moment(march)
    with timezone.override("UTC"), translation.override("en"):
        assert "5 Mar 2026 14:02" in moment(march)


def test_a_waiting_senders_reason_in_german_and_in_english_for_the_cli():
    now = time.time()
    info = {
        "sender": "relay",
        "since": datetime.fromtimestamp(now - 185, tz=UTC).isoformat(),
        "next_try": datetime.fromtimestamp(now + 12, tz=UTC).isoformat(),
        "error": "connection refused",
    }
    with translation.override("de"):
        text = waiting.waiting_text(info, now=now)
    assert text.startswith("wartet seit ")
    assert (
        "(vor 3 Min.) auf Absender 'relay', nächster Versuch in 12 s — connection refused" in text
    )
    english = waiting.waiting_text(info, now=now)  # no language chosen: the CLI's English
    assert "(3 min ago), next try in 12 s — connection refused" in english
