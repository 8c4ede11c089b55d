"""Campaign status changes: one table, one module, races lost cleanly."""

import ast
from pathlib import Path

import pytest

from postroom.campaigns import lifecycle
from postroom.campaigns.models import Campaign
from postroom.errors import InvalidInput

pytestmark = pytest.mark.django_db
Status = Campaign.Status
PACKAGE = Path(__file__).resolve().parents[2] / "postroom"


def _campaign(status: str) -> Campaign:
    return Campaign.objects.create(name="c", subject="s", from_email="a@example.com", status=status)


@pytest.mark.parametrize("action", sorted(lifecycle.TRANSITIONS))
def test_each_action_moves_only_from_the_statuses_its_row_allows(action):
    step = lifecycle.TRANSITIONS[action]
    for status in Status.values:
        campaign = _campaign(status)
        moved = lifecycle.move(campaign.pk, action)
        campaign.refresh_from_db()
        assert moved is (status in step.sources), (action, status)
        assert campaign.status == (step.target if moved else status)


def test_a_refusal_names_the_status_and_changes_nothing():
    campaign = _campaign(Status.FINISHED)
    with pytest.raises(InvalidInput, match=r"is finished; it cannot be paused"):
        lifecycle.require(campaign, "pause", status_reason="should not be written")
    campaign.refresh_from_db()
    assert (campaign.status, campaign.status_reason) == (Status.FINISHED, "")


def test_of_two_racing_actions_only_the_first_wins():
    campaign = _campaign(Status.RUNNING)
    assert lifecycle.move(campaign.pk, "pause", status_reason="operator")
    assert not lifecycle.move(campaign.pk, "finish")  # the worker saw it running a moment ago
    campaign.refresh_from_db()
    assert (campaign.status, campaign.status_reason) == (Status.PAUSED, "operator")


def _status_writes(path: Path) -> list[int]:
    """Lines in `path` that write Campaign.status outside lifecycle."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "update"
            and "Campaign.objects" in ast.unparse(node.func.value)
            and any(k.arg == "status" for k in node.keywords)
        ):
            lines.append(node.lineno)
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Attribute) and t.attr == "status" and "campaign" in ast.unparse(t)
            for t in node.targets
        ):
            value = ast.unparse(node.value)
            if "Status." in value:  # keeping a re-read status is not a change
                lines.append(node.lineno)
    return lines


def test_no_module_but_lifecycle_writes_a_campaign_status():
    writers = {
        str(path.relative_to(PACKAGE)): lines
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts and path.name != "lifecycle.py"
        for lines in [_status_writes(path)]
        if lines
    }
    assert writers == {}


def test_a_transactional_stream_is_never_finished():
    stream = Campaign.objects.create(
        name="tx",
        subject="s",
        from_email="a@example.com",
        status=Status.RUNNING,
        kind=Campaign.Kind.TRANSACTIONAL,
    )
    assert not lifecycle.move(stream.pk, "finish")
    stream.refresh_from_db()
    assert stream.status == Status.RUNNING
