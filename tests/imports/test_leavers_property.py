"""For any mix of statuses in any order of files: nobody whose last known state was
"left" is mailable after the imports.

Each example imports a few files, one after the other, each giving some people a
status (in a status column, a Mailchimp-style UNSUB_TIME column, a yes/no flag,
or through the status chosen for the whole file), sometimes twice in one file.
Mailable is what campaigns use: audience.eligibility.mailable_subscribers.
"""

import csv
import io
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postroom.audience.eligibility import mailable_subscribers
from postroom.audience.models import MailingList, Subscriber, Subscription, Suppression, Tag
from postroom.imports import tools
from postroom.imports.models import Import
from tests.imports.conftest import run

PEOPLE = [f"p{n}@example.com" for n in range(6)]
WORDS = {
    tools.SUBSCRIBED: ["subscribed", "active", "enabled", "Active"],
    tools.PENDING: ["pending", "unconfirmed", "Unconfirmed"],
    tools.UNSUBSCRIBED: ["unsubscribed", "disabled", "Unsubscribed", "opted out"],
    tools.BOUNCED: ["cleaned", "bounced", "unreachable", "Bounced"],
    tools.BLOCKLISTED: ["blocklisted", "blacklisted"],
    tools.COMPLAINED: ["complained", "Marked as spam", "junk"],
}
ROW = st.tuples(st.sampled_from(PEOPLE), st.sampled_from(tools.STATES))
FILE = st.tuples(
    st.lists(ROW, min_size=1, max_size=8),
    st.sampled_from(["status", "unsub_time", "flag", "whole-file"]),
    st.data(),
)


def _file(rows, kind, data, number: int, tmp_path):
    """A CSV giving `rows` their states in one of the ways exports do, and the status
    to choose for the file (the import's --status), and the state each row means."""
    out = io.StringIO()
    writer = csv.writer(out)
    meant = []
    chosen = None
    if kind == "status":
        writer.writerow(["Email", "Status"])
        for email, state in rows:
            writer.writerow([email, data.draw(st.sampled_from(WORDS[state]))])
            meant.append((email, state))
    elif kind == "unsub_time":
        writer.writerow(["Email Address", "UNSUB_TIME"])
        for email, state in rows:
            left = state in tools.LEFT
            writer.writerow([email, "2024-04-02 08:30:00" if left else ""])
            meant.append((email, tools.UNSUBSCRIBED if left else tools.SUBSCRIBED))
    elif kind == "flag":
        writer.writerow(["email", "EMAIL_BLACKLISTED"])
        for email, state in rows:
            left = state in tools.LEFT
            writer.writerow([email, "Yes" if left else "No"])
            meant.append((email, tools.BLOCKLISTED if left else tools.SUBSCRIBED))
    else:
        chosen = rows[0][1]
        writer.writerow(["email"])
        for email, _ in rows:
            writer.writerow([email])
            meant.append((email, chosen))
    path = tmp_path / f"file-{number}.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path, chosen, meant


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    files=st.lists(FILE, min_size=1, max_size=4),
    double=st.booleans(),
    mode=st.sampled_from(["subscribe", "update", "skip-existing"]),
)
def test_nobody_whose_last_known_state_is_left_is_mailable(db, tmp_path, files, double, mode):
    for model in (Import, Subscription, Subscriber, Suppression, Tag, MailingList):
        model.objects.all().delete()
    target = MailingList.objects.create(name="News", optin="double" if double else "single")
    last: dict[str, str] = {}  # the last state each person was given, file after file
    ever: dict[str, set[str]] = {}
    counter = itertools.count()
    for rows, kind, data in files:
        path, chosen, meant = _file(rows, kind, data, next(counter), tmp_path)
        imp = run(path, mode=mode, status=chosen, confirmed=True)
        assert imp.rows == imp.created + imp.updated + imp.unchanged + imp.duplicates + imp.rejected
        for email, state in meant:
            last[email] = state
            ever.setdefault(email, set()).add(state)
    mailable = set(mailable_subscribers([target]).values_list("email", flat=True))
    left_last = {email for email, state in last.items() if state in tools.LEFT}
    assert not mailable & left_last, (mailable & left_last, last)
    # Stronger, as an import never subscribes again someone who left (without the
    # override): whoever left at any point stays off.
    left_ever = {email for email, states in ever.items() if states & set(tools.LEFT)}
    assert not mailable & left_ever
    # And whoever was only ever pending waits for a confirmation.
    only_pending = {email for email, states in ever.items() if states == {tools.PENDING}}
    assert not mailable & only_pending
