"""Whatever the rows and the delimiter: every row is accounted for, no invalid address stored."""

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postroom.audience.emails import InvalidEmail, normalize_email, reference_normalize
from postroom.audience.models import MailingList, Subscriber
from postroom.errors import InvalidInput
from postroom.imports.models import Import
from tests.imports.conftest import run

GOOD = st.sampled_from(
    [
        "jane@example.com",
        "Jane@Example.COM",
        " bob@example.org ",
        "zoë@example.de",
        "x@exämple.com",
        "info@example.net",
        "a.b+c@mail.example.net",
    ]
)
BAD = st.sampled_from(
    [
        "",
        "jane",
        "jane@",
        "@example.com",
        "a@@example.com",
        "a b@example.com",
        "jane@example",
        "jane@example.com;Jane;Doe",
        "jane@example.com,Jane",
        "a@example.invalid",
        "x" * 300,
        '"Jane" <jane@example.com>',
        "mailto:bob@example.org",
        "a\tb@example.com",
        "a|b@example.com",
    ]
)
CELL = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)
ROW = st.tuples(st.one_of(GOOD, BAD, st.text(max_size=30)), CELL, CELL)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(ROW, min_size=1, max_size=40), delimiter=st.sampled_from([",", ";", "\t", "|"])
)
def test_every_row_is_accounted_for_and_nothing_invalid_is_stored(db, tmp_path, rows, delimiter):
    MailingList.objects.get_or_create(name="News")
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(["email", "name", "note"])
    writer.writerows(rows)
    path = tmp_path / "random.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    before, imports = Subscriber.objects.count(), Import.objects.count()
    try:
        imp = run(path)
    except InvalidInput:  # only a refusal of the whole file is allowed, and it writes nothing
        assert (Subscriber.objects.count(), Import.objects.count()) == (before, imports)
        return
    assert imp.rows == imp.created + imp.updated + imp.unchanged + imp.duplicates + imp.rejected
    assert imp.rejected == imp.rejected_rows.count()
    assert Subscriber.objects.count() == before + imp.created
    for email in Subscriber.objects.values_list("email", flat=True):
        assert reference_normalize(email) == email  # valid, and already canonical
    for row in imp.rejected_rows.all():
        if (
            row.raw
            and "fields but the header" not in row.reason
            and "suppression" not in row.reason
        ):
            try:
                normalize_email(row.raw)
            except InvalidEmail:
                continue
            raise AssertionError(f"a valid address was rejected: {row.raw!r}: {row.reason}")
