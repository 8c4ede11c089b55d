"""A birthday trigger across time zones, with the engine's clock frozen at chosen instants
(passed in, as the scheduler's planner takes its clock) and the mail sent by a real worker
process to a real SMTP server."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from postroom.audience.emails import email_hash
from postroom.audience.models import Subscriber
from postroom.automations import engine, services
from postroom.automations.models import Enrolment
from postroom.testing.smtpserver import CaptureServer
from tests.delivery.helpers import smtp_sender
from tests.delivery.processes import start_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# A day far from today, so the worker's own (real) clock finds no birthday to start.
DAY = (timezone.now() + timedelta(days=150)).date()
UTC = timezone.get_fixed_timezone(0)


def at(hour: int, days: int = 0) -> datetime:
    """An instant on DAY (UTC), `days` later."""
    return datetime(DAY.year, DAY.month, DAY.day, hour, tzinfo=UTC) + timedelta(days=days)


def person(name: str, zone: str | None, birthday) -> Subscriber:
    attributes = {"birthday": birthday}
    if zone:
        attributes["timezone"] = zone
    email = f"{name.lower()}@example.net"
    return Subscriber.objects.create(
        email=email, email_hash=email_hash(email), name=name, attributes=attributes
    )


def entered(automation) -> set[str]:
    return set(
        Enrolment.objects.filter(automation=automation).values_list("subscriber__name", flat=True)
    )


def tick(now: datetime) -> None:
    engine.enrol_triggered(now, force=True)
    while engine.advance(now):
        pass


def test_birthdays_start_at_nine_local_time_in_each_zone_once_a_year(subprocess_env):
    today = f"{1990}-{DAY:%m-%d}"
    tomorrow = f"{(DAY + timedelta(days=1)):%m-%d}"  # the year may be left out
    person("Aroha", "Pacific/Auckland", today)  # 09:00 there is 20:00/21:00 UTC the day before
    person("Haruto", "Asia/Tokyo", today)  # 00:00 UTC
    person("Greta", "Europe/Berlin", today)  # 07:00/08:00 UTC
    person("Uma", None, today)  # no zone: UTC, 09:00 UTC
    person("Lucia", "America/Los_Angeles", today)  # 16:00/17:00 UTC
    person("Tane", "Pacific/Auckland", tomorrow)  # already tomorrow there from ~11:00 UTC
    person("Nobody", "Europe/Berlin", "not a date")
    server = CaptureServer()
    server.start()
    try:
        sender = smtp_sender(server)
        birthday = services.create(
            name="Birthday", trigger="date:birthday", sender=sender.name, from_email="hi@x.org"
        )
        services.add_step(
            birthday, subject="Happy birthday, {{ subscriber.name }}", body="Many happy returns!"
        )
        services.activate(birthday, now=at(12, days=-1))
        # Activated at 01:00 UTC on the day: Aroha's and Haruto's 09:00 had passed by then.
        late = services.create(name="Late", trigger="date:birthday", from_email="hi@x.org")
        services.add_step(late, kind="tag", tag="birthday")
        services.activate(late, now=at(1))

        tick(at(6))
        assert entered(birthday) == {"Aroha", "Haruto"}
        tick(at(12))
        assert entered(birthday) == {"Aroha", "Haruto", "Greta", "Uma"}
        assert entered(late) == {"Greta", "Uma"}, "only who triggered after activation"
        tick(at(18))
        assert entered(birthday) == {"Aroha", "Haruto", "Greta", "Uma", "Lucia"}
        tick(at(23))
        assert "Tane" in entered(birthday), "her birthday began in Auckland, still DAY in UTC"
        tick(at(23, days=1))
        assert len(entered(birthday)) == 6, "once a year: nobody enters twice"
        cycles = set(Enrolment.objects.filter(automation=birthday).values_list("cycle", flat=True))
        assert cycles == {DAY.year} or cycles == {DAY.year, DAY.year + 1}  # Tane: 31 Dec
        worker = start_worker(subprocess_env, "--until-idle")
        assert worker.wait(120) == 0, worker.stderr.read()
        next_year = at(12).replace(year=DAY.year + 1)
        tick(next_year)  # a year on: a new cycle, the same person again
        again = Enrolment.objects.filter(automation=birthday, subscriber__name="Uma")
        assert sorted(again.values_list("cycle", flat=True)) == [DAY.year, DAY.year + 1]
    finally:
        server.stop()
    received = sorted(rcpt for m in server.messages for rcpt in m.rcpt_to)
    assert received == sorted(
        f"{n}@example.net" for n in ("aroha", "haruto", "greta", "uma", "lucia", "tane")
    )
    assert any(b"Happy birthday, Haruto" in m.data for m in server.messages)


def birthday_sequence():
    automation = services.create(name="Birthday", trigger="date:birthday", from_email="hi@x.org")
    services.add_step(automation, kind="tag", tag="birthday")
    return automation


def test_after_a_three_day_outage_the_dates_in_it_are_caught_up_once():
    person("Uma", None, f"1990-{DAY:%m-%d}")  # 09:00 UTC on DAY
    person("Haruto", "Asia/Tokyo", f"{(DAY + timedelta(days=1)):%m-%d}")  # 00:00 UTC, DAY+1
    person("Later", None, f"{(DAY + timedelta(days=5)):%m-%d}")
    automation = birthday_sequence()
    services.activate(automation, now=at(0, days=-3))
    tick(at(12, days=-2))  # the last scan before the workers went down
    assert entered(automation) == set()

    tick(at(12, days=1))  # three days later
    assert entered(automation) == {"Uma", "Haruto"}
    assert set(Enrolment.objects.values_list("cycle", flat=True)) == {DAY.year}
    status = services.status(services.get(automation.pk))
    assert status["skipped"] is None, "nothing was older than the catch-up limit"
    assert status["scanned_until"] == at(12, days=1).isoformat()
    tick(at(13, days=1))
    assert Enrolment.objects.count() == 2, "caught up once"


def test_after_a_thirty_day_outage_dates_older_than_a_week_are_skipped_and_said(
    run_cli, subprocess_env
):
    person("Uma", None, f"1990-{DAY:%m-%d}")  # 25 days before the return: skipped
    person("Greta", "Europe/Berlin", f"{(DAY + timedelta(days=10)):%m-%d}")  # 15 days: skipped
    person("Lucia", "America/Los_Angeles", f"{(DAY + timedelta(days=20)):%m-%d}")  # 5 days
    automation = birthday_sequence()
    services.activate(automation, now=at(0, days=-10))
    tick(at(12, days=-5))
    back = at(12, days=25)
    tick(back)
    assert entered(automation) == {"Lucia"}
    skipped = services.status(services.get(automation.pk))["skipped"]
    assert skipped == {
        "after": at(12, days=-5).isoformat(),
        "until": (back - engine.CATCH_UP).isoformat(),
        "people": 2,
    }
    tick(back + timedelta(hours=1))
    assert entered(automation) == {"Lucia"}, "the skipped stay skipped"
    assert services.status(services.get(automation.pk))["skipped"] == skipped, "the note stays"
    shown = run_cli("automation", "status", str(automation.pk), env=subprocess_env)
    assert shown.returncode == 0, shown.stderr
    assert "skipped 2 whose date came after" in shown.stdout
