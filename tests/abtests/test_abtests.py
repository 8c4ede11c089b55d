"""A/B tests: disjoint variants, a winner by human opens or clicks, the rest mailed once."""

import email
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone, translation

from postroom.abtests import services
from postroom.abtests.models import ABTest, Member
from postroom.campaigns.models import Campaign
from postroom.delivery.models import Delivery
from postroom.errors import InvalidInput
from postroom.testing.smtpserver import CaptureServer
from postroom.tracking.models import EngagementEvent
from tests.delivery.helpers import make_audience, make_campaign, run_until_settled, smtp_sender
from tests.delivery.processes import start_worker, wait_for

BODY = '<p>Hello</p><p><a href="https://example.com/spring">Spring</a></p>'
PERSON = "Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 Thunderbird/128.0"
SCANNER = "python-requests/2.31"


def make_test(audience: int = 40, sender=None, **settings) -> ABTest:
    news = make_audience(audience)
    campaign = make_campaign(
        news, sender=sender, subject="Subject A", body=BODY, body_format="html",
        track_opens=True, track_clicks=True,
    )  # fmt: skip
    test = services.make_test(campaign, **{"test_percent": 50, **settings})
    b = services.variants(test)[1].campaign
    Campaign.objects.filter(pk=b.pk).update(subject="Subject B")
    return test


def tracking_urls(data: bytes) -> tuple[str, str]:
    """(open pixel path, click path) of one sent message."""
    html = next(
        p.get_payload(decode=True).decode()
        for p in email.message_from_bytes(data).walk()
        if p.get_content_type() == "text/html"
    )
    pixel = re.search(r'src="https?://[^/"]+(/o/[^"]+)"', html)
    click = re.search(r'href="https?://[^/"]+(/r/[^"]+)"', html)
    assert pixel and click
    return pixel.group(1), click.group(1).replace("&amp;", "&")


@pytest.mark.django_db
def test_variants_get_disjoint_parts_of_the_test_group_by_their_shares():
    test = make_test(audience=40, test_percent=60)
    services.update_test(test, shares={"A": 1, "B": 2})
    assert services.start_test(test) == 24
    a, b = (v.campaign for v in services.variants(test))
    ledger_a = set(Delivery.objects.filter(campaign=a).values_list("subscriber_id", flat=True))
    ledger_b = set(Delivery.objects.filter(campaign=b).values_list("subscriber_id", flat=True))
    assert (len(ledger_a), len(ledger_b)) == (8, 16)
    assert not ledger_a & ledger_b
    assert Member.objects.filter(test=test).count() == 24


@pytest.mark.django_db
def test_the_draw_is_the_same_for_the_same_test_and_different_for_another():
    def drawn(test):
        services.start_test(test)
        return {(m.subscriber.email, m.campaign.subject) for m in test.members.all()}

    first = make_test(audience=30)
    once = drawn(first)
    Member.objects.filter(test=first).delete()
    ABTest.objects.filter(pk=first.pk).update(status="draft")
    for v in services.variants(first):
        Delivery.objects.filter(campaign=v.campaign).delete()
        Campaign.objects.filter(pk=v.campaign_id).update(status="draft")
    assert drawn(ABTest.objects.get(pk=first.pk)) == once


def test_the_leader_has_the_best_rate_and_a_tie_goes_to_the_earlier_variant():
    def result(label, sent, opens, clicks):
        return services.Result(label, Campaign(), 1, sent, sent, opens, clicks, False)

    by_opens, by_clicks = ABTest(metric="opens"), ABTest(metric="clicks")
    found = [result("A", 10, 2, 5), result("B", 5, 2, 1), result("C", 10, 4, 1)]
    assert services.leader(by_opens, found).label == "B"  # B and C both 40 %: the earlier
    assert services.leader(by_clicks, found).label == "A"
    tie = [result("A", 10, 3, 0), result("B", 10, 3, 0)]
    assert services.leader(by_opens, tie).label == "A"


@pytest.mark.django_db
def test_bad_settings_are_refused_and_nothing_changes():
    news = make_audience(4)
    campaign = make_campaign(news)
    with pytest.raises(InvalidInput, match="2 to 4"):
        services.make_test(campaign, count=5)
    with pytest.raises(InvalidInput, match="percent"):
        services.make_test(campaign, test_percent=0)
    with pytest.raises(InvalidInput, match="opens, clicks or manual"):
        services.make_test(campaign, metric="likes")
    assert not ABTest.objects.exists() and Campaign.objects.count() == 1
    test = services.make_test(campaign, count=4, test_count=3)
    with pytest.raises(InvalidInput, match="too small for 4 variants"):
        services.start_test(test)
    assert not Member.objects.exists() and not Delivery.objects.exists()
    with pytest.raises(InvalidInput, match="share is 1 to 100"):
        services.update_test(test, shares={"A": 0})
    with pytest.raises(InvalidInput, match="variant A is the campaign"):
        services.remove_variant(test, "A")
    services.delete_test(test)
    assert list(Campaign.objects.all()) == [campaign]


@pytest.mark.django_db(transaction=True)
def test_a_winner_by_hand_goes_to_everyone_not_in_the_test_once(settings):
    server = CaptureServer()
    server.start()
    try:
        test = make_test(audience=20, sender=smtp_sender(server), metric="manual")
        services.start_test(test)
        for variant in services.variants(test):
            run_until_settled(variant.campaign)
        assert not services.background_step(), "a manual test waits for a person"
        rest = services.decide(test, "B", by_hand=True)
        with pytest.raises(InvalidInput, match="decided"):
            services.decide(test, "A", by_hand=True)
        run_until_settled(rest)
    finally:
        server.stop()
    assert rest.subject == "Subject B"
    recipients = [m.rcpt_to[0] for m in server.messages]
    assert len(recipients) == len(set(recipients)) == 20


@pytest.mark.slow
def test_a_real_worker_sends_the_winner_by_human_opens_to_the_rest(subprocess_env, settings):
    """Opens through the real pixel endpoint; a scanner's many opens of A do not count."""
    settings.POSTROOM_MACHINE_OPEN_SECONDS = 0  # the test opens right after delivery
    server = CaptureServer()
    server.start()
    worker = None
    try:
        test = make_test(audience=40, sender=smtp_sender(server), window_minutes=60)
        services.start_test(test)
        a, b = (v.campaign for v in services.variants(test))
        worker = start_worker(subprocess_env)
        finished = Campaign.Status.FINISHED
        assert wait_for(
            lambda: Campaign.objects.filter(pk__in=[a.pk, b.pk], status=finished).count() == 2,
            90,
        )
        client = Client()
        by_subject = {"Subject A": [], "Subject B": []}
        for m in server.messages:
            subject = email.message_from_bytes(m.data)["Subject"]
            by_subject[subject].append(tracking_urls(m.data))
        for pixel, _ in by_subject["Subject A"]:
            for _ in range(3):
                assert client.get(pixel, HTTP_USER_AGENT=SCANNER).status_code == 200
        assert client.get(by_subject["Subject A"][0][0], HTTP_USER_AGENT=PERSON).status_code == 200
        for pixel, _ in by_subject["Subject B"][:4]:
            assert client.get(pixel, HTTP_USER_AGENT=PERSON).status_code == 200
        assert ABTest.objects.get(pk=test.pk).status == "testing", "the window is still open"
        ABTest.objects.filter(pk=test.pk).update(decide_at=timezone.now() - timedelta(seconds=1))
        assert wait_for(
            lambda: Campaign.objects.filter(abtest_rest__pk=test.pk, status=finished).exists(), 90
        )
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        server.stop()
    test.refresh_from_db()
    assert test.winner.label == "B" and not test.decided_by_hand
    assert test.rest.subject == "Subject B"
    figures = {r.label: r for r in services.results(test)}
    assert (figures["A"].sent, figures["A"].opens) == (10, 1)
    assert (figures["B"].sent, figures["B"].opens) == (10, 4)
    recipients = [m.rcpt_to[0] for m in server.messages]
    assert len(recipients) == len(set(recipients)) == 40, "each person mailed exactly once"
    rest_subjects = [email.message_from_bytes(m.data)["Subject"] for m in server.messages]
    assert rest_subjects.count("Subject B") == 30


@pytest.mark.django_db(transaction=True)
def test_a_decision_cut_short_leaves_nothing_and_the_next_step_decides_once(monkeypatch):
    """A worker dying inside the decision (here: its start of the rest fails) rolls it all
    back; the next side-work step decides, and no later step makes a second rest."""
    test = make_test(audience=10, window_minutes=1)
    services.start_test(test)
    for variant in services.variants(test):
        run_until_settled(variant.campaign)
    ABTest.objects.filter(pk=test.pk).update(decide_at=timezone.now() - timedelta(seconds=1))
    real_start = services.control.start

    def dies(campaign):
        raise RuntimeError("killed")

    monkeypatch.setattr(services.control, "start", dies)
    with pytest.raises(RuntimeError):
        services.background_step()
    test.refresh_from_db()
    assert test.status == "testing" and test.rest is None and test.winner is None
    assert Campaign.objects.count() == 2, "no rest campaign left behind"
    monkeypatch.setattr(services.control, "start", real_start)
    assert services.background_step()
    assert not services.background_step()
    assert ABTest.objects.get(pk=test.pk).status == "decided"
    assert Campaign.objects.filter(abtest_rest__isnull=False).count() == 1


def opened(campaign: Campaign, count: int) -> None:
    """`count` of the campaign's recipients opened it (people, not machines)."""
    for row in Delivery.objects.filter(campaign=campaign).order_by("pk")[:count]:
        EngagementEvent.objects.create(campaign=campaign, subscriber_id=row.subscriber_id,
                                       kind="open")  # fmt: skip


def started_with_opens(a_opens: int, b_opens: int, audience: int = 120) -> ABTest:
    test = make_test(audience=audience, test_percent=100)
    services.start_test(test)
    a, b = (v.campaign for v in services.variants(test))
    for campaign in (a, b):
        run_until_settled(campaign)
    opened(a, a_opens)
    opened(b, b_opens)
    return test


@pytest.mark.django_db(transaction=True)
def test_the_results_say_how_sure_the_leader_is_against_each_variant():
    """By hand: A 30 of 60 (50 %), B 12 of 60 (20 %); pooled 42/120 = 0.35, error
    sqrt(0.35 * 0.65 * 2/60) = 0.08708, z = 0.30 / 0.08708 = 3.445: two-sided 0.9994."""
    data = services.as_json(started_with_opens(30, 12))
    a, b = data["variants"]
    assert data["leader"] == "A"
    assert (a["open_rate"], b["open_rate"]) == (0.5, 0.2)  # the keys there before stay
    assert a["compared_with"] is None and a["confidence"] is None
    assert (b["compared_with"], b["behind_points"]) == ("A", 30.0)
    assert b["confidence"] == pytest.approx(0.9994, abs=0.0001)
    assert b["confidence_summary"] == "A leads B by 30.0 points; 99 % confidence"


@pytest.mark.django_db(transaction=True)
def test_a_small_group_is_too_early_to_tell_and_a_draft_has_no_figure():
    data = services.as_json(started_with_opens(2, 6, audience=20))  # 10 people each
    assert data["leader"] == "B"
    a = data["variants"][0]
    assert (a["compared_with"], a["confidence"]) == ("B", None)
    assert a["confidence_summary"] == "B leads A by 40.0 points; too early to tell"
    draft = services.as_json(make_test(audience=10))
    assert draft["leader"] is None
    assert {v["confidence_summary"] for v in draft["variants"]} == {None}


@pytest.mark.django_db(transaction=True)
def test_an_automatic_pick_at_low_confidence_is_noted_and_still_wins(caplog):
    test = started_with_opens(12, 10, audience=120)  # 20 % against 16.7 %: could be chance
    ABTest.objects.filter(pk=test.pk).update(decide_at=timezone.now() - timedelta(seconds=1))
    with caplog.at_level("WARNING", logger="postroom.abtests"):
        assert services.background_step()
    assert ABTest.objects.get(pk=test.pk).winner.label == "A"
    noted = "variant A picked at low confidence: A leads B by 3.3 points; 36 % confidence"
    assert noted + " (could be chance)" in caplog.text


@pytest.mark.django_db
def test_why_a_test_is_not_decided_yet_is_said_in_the_active_language():
    test = make_test(window_minutes=60)

    with translation.override("de"):
        draft = services.waiting_for(test)
        services.start_test(test)
        test.refresh_from_db()
        window_open = services.waiting_for(test)

    assert (draft, window_open) == ("der Test ist ein Entwurf", "das Testfenster ist noch offen")
    assert services.waiting_for(test) == "the test window is still open"
