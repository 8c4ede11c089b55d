"""Send windows on send steps: a step's messages go only inside its hours in each reader's
zone, the rest wait for theirs; people who arrive later in new zones are held too; the CLI
and the services take the campaign's window flags and checks.

The clock is controlled as in tests/delivery/test_send_windows: readers in `Etc/GMT±N`
zones where it is 06:xx now (inside a 00:00-12:00 window) or 18:xx (outside).
"""

from datetime import time

import pytest

from postroom.automations import services
from postroom.automations.models import StepCampaign
from postroom.campaigns.models import Campaign
from postroom.cli import main
from postroom.delivery.models import CampaignRun, Delivery
from postroom.errors import InvalidInput
from postroom.testing.smtpserver import CaptureServer
from tests.automations.helpers import join
from tests.automations.test_engine import run_engine
from tests.delivery.helpers import make_audience, run_until_idle, smtp_sender
from tests.delivery.test_send_windows import zone_at

pytestmark = pytest.mark.django_db(transaction=True)


def windowed_sequence(sender, zone: str = ""):
    automation = services.create(
        name="Morning", trigger="joined:news", sender=sender.name, from_email="a@example.org"
    )
    services.add_step(
        automation,
        subject="Good morning",
        body="Hello.",
        window_start=time(0),
        window_end=time(12),
        window_timezone=zone,
    )
    return services.activate(automation)


def sent_to(server) -> set[str]:
    return {m.rcpt_to[0] for m in server.messages}


def test_a_step_with_a_window_sends_only_inside_it_and_the_rest_wait_for_theirs():
    day, night, other_day = zone_at(6), zone_at(18), zone_at(7)
    server = CaptureServer()
    server.start()
    try:
        news = make_audience(0)
        automation = windowed_sequence(smtp_sender(server), zone=night)
        early = join(news, 2, timezone=day) + join(news, 2, start=2, timezone=night)
        [no_zone] = join(news, 1, start=4)  # follows the step's zone: night
        run_engine()
        run_until_idle()
        assert sent_to(server) == {p.email for p in early[:2]}
        link = StepCampaign.objects.get()
        assert CampaignRun.objects.get(campaign_id=link.campaign_id).zones == sorted({day, night})

        # Later joiners in a zone the ledger did not have yet: held by its window too.
        [late_day] = join(news, 1, start=5, timezone=other_day)
        [late_night] = join(news, 1, start=6, timezone=night)
        run_engine()
        run_until_idle()
        assert sent_to(server) == {p.email for p in early[:2]} | {late_day.email}
        waiting = set(Delivery.objects.filter(state="pending").values_list("email", flat=True))
        assert waiting == {early[2].email, early[3].email, no_zone.email, late_night.email}
        campaign = Campaign.objects.get(pk=link.campaign_id)
        assert campaign.status == "running"

        # The window opens wider (an edit): the waiting go, once each.
        step = automation.steps.get()
        services.edit_step(
            step,
            subject=step.subject,
            body=step.body,
            window_start=time(0),
            window_end=time(23, 59),
            window_timezone=night,
        )
        run_until_idle()
    finally:
        server.stop()
    assert len(server.messages) == 7
    assert len(sent_to(server)) == 7


def test_the_step_list_shows_the_window_and_the_cli_takes_the_campaign_flags(tmp_path, capsys):
    automation = services.create(name="Hours", trigger="api", from_email="a@example.org")
    body = tmp_path / "body.md"
    body.write_text("Hello.", encoding="utf-8")
    args = ["automation", "step", str(automation.pk), "--subject", "Hi", "--body-file", str(body)]
    assert main([*args, "--window", "09:00-17:00", "--window-days", "mon-fri"]) == 0
    step = automation.steps.get()
    assert (step.window_start, step.window_end, step.window_days) == (time(9), time(17), 0b11111)
    assert services.describe_step(step) == (
        "send “Hi” within 09:00-17:00, mon-fri in each reader's time zone"
    )
    shown = services.status(automation)["steps"][0]["window"]
    assert (shown["hours"], shown["days"][0], shown["days"][-1]) == ("09:00-17:00", "mon", "fri")
    capsys.readouterr()
    # The campaign's own parser and checks, the same words.
    assert main([*args, "--window", "17:00-09:00"]) == 1
    assert "must end after it starts" in capsys.readouterr().err
    assert main([*args, "--window-days", "mon-fri"]) == 1
    assert "window days go with window hours" in capsys.readouterr().err
    assert main([*args, "--window", "09:00-17:00", "--window-tz", "Mars/Olympus"]) == 1
    assert "not a known time zone" in capsys.readouterr().err
    assert automation.steps.count() == 1


def test_a_local_time_is_not_a_step_window():
    automation = services.create(name="Hours", trigger="api", from_email="a@example.org")
    with pytest.raises(InvalidInput, match="wait until it"):
        services.add_step(automation, subject="Hi", body="Hello.", local_time=time(9))
    with pytest.raises(InvalidInput, match="needs at least one weekday"):
        services.add_step(
            automation, subject="Hi", body="Hello.", window_start=time(9), window_end=time(17),
            window_days=0,
        )  # fmt: skip
    assert not automation.steps.exists()
