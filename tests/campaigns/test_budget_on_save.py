"""Saving a template bomb: refused with a clear message everywhere, quickly, in little memory."""

import json
import time
import tracemalloc
from pathlib import Path

import pytest
from django.urls import reverse

from postroom.api.models import ApiToken
from postroom.campaigns import layouts, services
from postroom.campaigns.models import Campaign, Layout
from postroom.cli import main
from postroom.mail.errors import TemplateError
from tests.mail.test_budget import DOUBLING_MACRO

# A bomb for every reader but the sample one: it passes the check on save.
HOSTILE = (
    "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}"
    "{% if subscriber.email != 'ada@example.com' %}{{ f(22) }}{% endif %}"
)

BOMBS = {
    "doubling macro": (DOUBLING_MACRO, "took longer than 100 ms to render"),
    "printf width": ('{{ "%50000000s" % "" }}', "output is too large: larger than 2 MB"),
    "join separator": ("{{ range(1000)|join('a' * 100000) }}", "larger than 2 MB"),
}


def _rss_peak_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("name", BOMBS)
def test_saving_a_bomb_is_refused_with_the_field_and_line(news, name):
    source, message = BOMBS[name]
    started = time.perf_counter()
    with pytest.raises(TemplateError) as caught:
        services.create_campaign(
            name="Bomb", subject="Hi", body=f"# News\n\n{source}\n", lists=[news]
        )
    assert time.perf_counter() - started < 5  # 100 ms budgets, not minutes
    problem = caught.value.problems[0]
    assert (problem.field, problem.line) == ("body", 3)
    assert message in problem.message
    assert source[:30] in problem.message  # the line is quoted
    assert not Campaign.objects.filter(name="Bomb").exists()


@pytest.mark.parametrize("name", BOMBS)
def test_saving_a_bomb_never_grows_the_process_by_more_than_100_mb(news, name):
    services.create_campaign(name="Warm-up", subject="Hi", body="Hello", lists=[news])
    source, _ = BOMBS[name]
    # Reset the kernel's peak RSS counter of this process, then measure the save.
    Path("/proc/self/clear_refs").write_text("5")
    before = _rss_kb()
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError):
            services.create_campaign(name="Bomb", subject="Hi", body=source, lists=[news])
        python_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    rss_growth_mb = (_rss_peak_kb() - before) / 1000
    assert python_peak < 20_000_000, f"{python_peak / 1e6:.1f} MB allocated by Python"
    assert rss_growth_mb < 100, f"RSS grew by {rss_growth_mb:.0f} MB"


def test_an_update_with_a_bomb_changes_nothing(campaign):
    before = campaign.body
    with pytest.raises(TemplateError, match="subject, line 1: the template took longer"):
        services.update_campaign(campaign, subject=DOUBLING_MACRO)
    campaign.refresh_from_db()
    assert (campaign.body, campaign.subject) == (
        before,
        "Spring news for {{ subscriber.first_name }}",
    )


def test_a_bomb_that_depends_on_the_reader_passes_the_sample_but_not_the_preview(news, ann):
    hostile = HOSTILE
    campaign = services.create_campaign(name="Sly", subject="Hi", body=hostile, lists=[news])
    assert services.preview(campaign)[1]  # the sample reader sees a normal message
    recipient = services.recipient_by_email(ann.email)
    with pytest.raises(TemplateError, match=r"HTML part, line \d+: the template took longer"):
        services.preview(campaign, recipient)


def test_a_layout_bomb_is_refused(db):
    html = "<html><body>{{ content }}{{ range(1000)|join('a' * 100000) }}</body></html>"
    with pytest.raises(TemplateError, match="layout, line 1: the template's output is too large"):
        layouts.create_layout("Heavy", html)
    assert not Layout.objects.filter(name="Heavy").exists()
    with pytest.raises(TemplateError, match="too large"):
        layouts.preview_layout(html)


def test_the_cli_refuses_a_bomb_in_one_line(news, tmp_path, capsys):
    body = tmp_path / "bomb.md"
    body.write_text('Hi\n{{ "%50000000s" % "" }}\n', encoding="utf-8")
    code = main(
        ["campaign", "create", "--name", "Bomb", "--subject", "Hi", "--list", "News",
         "--body-file", str(body)]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code != 0
    assert out == ""
    assert err.count("\n") == 1
    assert "body, line 2: the template's output is too large: larger than 2 MB" in err
    assert "Traceback" not in err
    assert not Campaign.objects.filter(name="Bomb").exists()


def test_the_api_refuses_a_bomb_with_a_400(client, owner, news):
    _, secret = ApiToken.issue(owner, "tests")
    response = client.post(
        "/api/campaigns",
        {"name": "Bomb", "subject": "s", "body": DOUBLING_MACRO, "lists": ["News"]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 400
    assert "took longer than 100 ms to render" in json.loads(response.content)["detail"]
    assert not Campaign.objects.filter(name="Bomb").exists()


def test_the_editor_and_its_live_preview_show_a_bomb_as_a_problem(owner_client, news):
    data = {
        "name": "Bomb", "subject": "Hi", "from_email": "news@example.org",
        "body_format": "markdown", "body": "ok\n\n" + BOMBS["join separator"][0],
        "lists": [news.pk], "priority": "1", "in_doubt_policy": "hold", "custom_headers": "",
    }  # fmt: skip
    response = owner_client.post(reverse("campaign_new"), data)
    assert response.status_code == 400
    assert b"body, line 3: the template&#x27;s output is too large" in response.content
    assert not Campaign.objects.filter(name="Bomb").exists()
    preview = owner_client.post(reverse("campaign_live_preview"), data)
    assert preview.status_code == 200
    assert b"output is too large" in preview.content
