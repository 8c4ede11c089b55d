"""Importing files end to end: exact counts, specific reasons, modes, resumption."""

import csv

import pytest
from email_validator import EmailNotValidError, validate_email

from postroom.audience.emails import email_hash
from postroom.audience.models import MailingList, Subscriber, Subscription, Suppression
from postroom.errors import InvalidInput, NotFound
from postroom.imports import pipeline, services, upsert
from postroom.imports.models import Import
from postroom.imports.reader import MAX_FIELD, MAX_LINE
from tests.data import DATA
from tests.imports.conftest import run, write


def expected_counts(path, delimiter, encoding) -> dict:
    """The counts computed independently: the csv module and email-validator, nothing of ours."""
    seen, counts = set(), dict(rows=0, created=0, duplicates=0, rejected=0)
    with open(path, encoding=encoding, newline="") as f:
        rows = list(csv.reader(f, delimiter=delimiter))[1:]
    for row in rows:
        counts["rows"] += 1
        try:
            email = validate_email(row[0].strip(), check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            counts["rejected"] += 1
            continue
        if email in seen:
            counts["duplicates"] += 1
        else:
            seen.add(email)
            counts["created"] += 1
    return counts


def counts(imp: Import) -> dict:
    return {key: getattr(imp, key) for key in ("rows", "created", "duplicates", "rejected")}


def test_it_imports_the_semicolon_file_with_exact_counts(news):
    imp = run(DATA / "contacts-2100-semicolon.csv")
    expected = expected_counts(DATA / "contacts-2100-semicolon.csv", ";", "utf-8")
    assert counts(imp) == expected == dict(rows=2100, created=2073, duplicates=5, rejected=22)
    assert imp.status == "finished" and (imp.updated, imp.unchanged) == (0, 0)
    assert Subscriber.objects.count() == 2073
    assert (
        Subscription.objects.filter(
            mailing_list=news, status="confirmed", consent_source="import"
        ).count()
        == 2073
    )
    jane = Subscriber.objects.get(email="katarzyna.eriksson.0@post.example.de")
    assert jane.name == "Katarzyna Eriksson"
    assert jane.email_hash == email_hash(jane.email)
    assert jane.attributes == {
        "first_name": "Katarzyna",
        "last_name": "Eriksson",
        "city": "Berlin",
        "plan": "free",
        "signup_date": "2019-06-19",
    }


def test_it_explains_each_rejected_row_of_the_semicolon_file(news):
    imp = run(DATA / "contacts-2100-semicolon.csv")
    rejected = {r.line: r for r in imp.rejected_rows.all()}
    assert len(rejected) == 22
    assert rejected[51].raw == "yusuf.dubois.49 at post.example.de"
    assert rejected[51].reason == "not a valid email address: An email address must have an @-sign."
    assert rejected[201].reason.endswith(
        "The part after the @-sign contains invalid characters: '@'."
    )
    assert rejected[401].raw == "katarzyna.novak.399@example.org;Katarzyna;Novak"
    assert rejected[401].reason.startswith(
        "this field contains ';' — the file seems to be separated by ';'"
    )


def test_it_imports_the_excel_cp1252_file_with_exact_counts(news):
    imp = run(DATA / "contacts-500-excel-cp1252.csv")
    expected = expected_counts(DATA / "contacts-500-excel-cp1252.csv", ",", "cp1252")
    assert counts(imp) == expected == dict(rows=500, created=491, duplicates=0, rejected=9)
    assert (
        Subscriber.objects.filter(name="Chloé Dubois").exists()
        or Subscriber.objects.filter(name__contains="é").exists()
    )
    assert not Subscriber.objects.filter(name__contains="\ufffd").exists()


def test_a_comma_read_of_a_semicolon_file_gets_the_delimiter_hint(news, tmp_path):
    path = write(tmp_path, "email;first;last\njane@example.com;Jane;Doe\n")
    imp = run(path, delimiter=",", mapping={"email;first;last": "email"})
    row = imp.rejected_rows.get()
    assert (imp.rejected, row.line, row.raw) == (1, 2, "jane@example.com;Jane;Doe")
    assert row.reason == (
        "this field contains ';' — the file seems to be separated by ';', not ',': "
        "import it with that delimiter"
    )
    assert Subscriber.objects.count() == 0


def test_it_repairs_display_names_and_mailto_and_reports_it(news, tmp_path):
    text = (
        'email,name\n"""Jane Doe"" <Jane@Example.org>",\nmailto:bob@example.org,Bob\n'
        '"Two <a@example.org>, <b@example.org>",\n'
    )
    imp = run(write(tmp_path, text))
    assert (imp.rows, imp.created, imp.repaired, imp.rejected) == (3, 2, 2, 1)
    assert Subscriber.objects.get(email="jane@example.org").name == "Jane Doe"
    notes = list(imp.repaired_rows.values_list("line", "note"))
    assert notes == [
        (2, "took the address out of the display-name form: jane@example.org"),
        (3, "removed the mailto: prefix: bob@example.org"),
    ]
    assert imp.rejected_rows.get().line == 4


def test_quoted_newlines_keep_the_line_numbers_of_the_original_file(news, tmp_path):
    text = 'email,note\na@example.com,"two\nlines"\nnot-an-address,x\nb@example.com,y\n'
    imp = run(write(tmp_path, text))
    assert (imp.rows, imp.created, imp.rejected) == (3, 2, 1)
    assert imp.rejected_rows.get().line == 4
    assert Subscriber.objects.get(email="a@example.com").attributes["note"] == "two\nlines"


def test_crlf_files_and_blank_lines_are_read(news, tmp_path):
    imp = run(write(tmp_path, "email\r\n\r\na@example.com\r\n\r\nb@example.com\r\n"))
    assert (imp.rows, imp.created) == (2, 2)


def test_one_enormous_field_or_line_is_rejected_and_the_rest_imported(news, tmp_path):
    huge_field = '"' + "x" * (MAX_FIELD + 10) + '"'
    huge_line = "y" * (MAX_LINE * 3)
    text = f"email,note\na@example.com,{huge_field}\n{huge_line}\nb@example.com,ok\n"
    imp = run(write(tmp_path, text))
    assert (imp.rows, imp.created, imp.rejected) == (3, 1, 2)
    reasons = dict(imp.rejected_rows.values_list("line", "reason"))
    assert "longer than" in reasons[2] and "longer than" in reasons[3]
    assert Subscriber.objects.get().email == "b@example.com"


def test_a_row_with_more_fields_than_the_header_is_rejected(news, tmp_path):
    imp = run(write(tmp_path, "email,name\na@example.com,Doe, Jane\nb@example.com,Bob,\n"))
    assert (imp.rows, imp.created, imp.rejected) == (2, 1, 1)
    assert "the row has 3 fields but the header has 2" in imp.rejected_rows.get().reason


def test_duplicates_are_merged_by_normalised_address(news, tmp_path):
    imp = run(write(tmp_path, "email\nJane@Example.com\n jane@example.com \nJANE@EXAMPLE.COM\n"))
    assert (imp.rows, imp.created, imp.duplicates) == (3, 1, 2)


def test_a_second_import_counts_existing_subscribers_as_unchanged(news):
    run(DATA / "contacts-2100-semicolon.csv")
    again = run(DATA / "contacts-2100-semicolon.csv")
    assert (again.created, again.updated, again.unchanged, again.duplicates) == (0, 0, 2073, 5)


def test_new_people_are_inserted_before_any_lookup_and_known_ones_looked_up(
    news, tmp_path, monkeypatch
):
    monkeypatch.setattr(pipeline, "BATCH", 10)
    asked: list[int] = []  # how many addresses each lookup of existing subscribers was given
    lookup = upsert.existing
    monkeypatch.setattr(
        upsert, "existing", lambda emails: asked.append(len(emails)) or lookup(emails)
    )
    known = [f"p{i}@example.com" for i in range(40)]
    run(write(tmp_path, "email\n" + "\n".join(known) + "\n", name="first.csv"))
    assert asked == [0, 0, 0, 0]  # every row was new: nothing to look up
    # A batch half new, then known ones (looked up from the third batch on), then new ones.
    rows = [f"n{i}@example.com" for i in range(5)] + known[:25]
    rows += [f"n{i}@example.com" for i in range(5, 15)]
    asked.clear()
    again = run(write(tmp_path, "email\n" + "\n".join(rows) + "\n", name="second.csv"))
    assert asked == [10, 10, 10, 10]
    assert (again.created, again.updated, again.unchanged) == (15, 0, 25)
    assert Subscriber.objects.count() == 55
    assert Subscription.objects.filter(mailing_list=news, status="confirmed").count() == 55


def test_addresses_with_array_literal_characters_are_found_again(news, tmp_path):
    # A batch is bound as one array literal on PostgreSQL (imports/sql.array): braces,
    # quotes and the word NULL are legal in an address and must stay data.
    emails = ["{brace}@example.com", "o'neil@example.com", "null@example.com", "a}b@example.com"]
    path = write(tmp_path, "email,name\n" + "".join(f"{e},N\n" for e in emails))
    first = run(path)
    assert (first.created, first.rejected) == (4, 0)
    Subscription.objects.filter(subscriber__email=emails[0]).delete()
    again = run(path)
    assert (again.created, again.updated, again.unchanged) == (0, 1, 3)
    assert Subscription.objects.filter(mailing_list=news).count() == 4


def test_subscribe_mode_adds_existing_subscribers_to_another_list(news, tmp_path):
    MailingList.objects.create(name="Other")
    path = write(tmp_path, "email,name\na@example.com,A\nb@example.com,B\n")
    run(path)
    imp = run(write(tmp_path, "email,name\na@example.com,New name\n", "2.csv"), lists=["Other"])
    assert (imp.created, imp.updated, imp.unchanged) == (0, 1, 0)
    assert Subscriber.objects.get(email="a@example.com").name == "A"  # details untouched
    assert Subscription.objects.filter(mailing_list__name="Other").count() == 1


def test_update_mode_updates_names_and_merges_attributes(news, tmp_path):
    run(write(tmp_path, "email,name,city\na@example.com,A,Berlin\nb@example.com,B,Paris\n"))
    imp = run(
        write(tmp_path, "email,name,plan\na@example.com,Anna,pro\nb@example.com,,\n", "2.csv"),
        mode="update",
    )
    assert (imp.created, imp.updated, imp.unchanged) == (0, 1, 1)
    anna = Subscriber.objects.get(email="a@example.com")
    assert (anna.name, anna.attributes) == ("Anna", {"city": "Berlin", "plan": "pro"})


def test_skip_existing_mode_leaves_existing_subscribers_untouched(news, tmp_path):
    run(write(tmp_path, "email,name\na@example.com,A\n"))
    MailingList.objects.create(name="Other")
    imp = run(
        write(tmp_path, "email,name\na@example.com,Anna\nc@example.com,C\n", "2.csv"),
        lists=["Other"],
        mode="skip-existing",
    )
    assert (imp.created, imp.updated, imp.unchanged) == (1, 0, 1)
    assert not Subscription.objects.filter(
        subscriber__email="a@example.com", mailing_list__name="Other"
    ).exists()


def test_suppressed_and_blocklisted_addresses_are_never_resubscribed(news, tmp_path):
    Suppression.objects.create(email_hash=email_hash("gone@example.com"), reason="unsubscribed")
    Subscriber.objects.create(
        email="blocked@example.com",
        email_hash=email_hash("blocked@example.com"),
        status="blocklisted",
    )
    imp = run(write(tmp_path, "email\ngone@example.com\nblocked@example.com\nok@example.com\n"))
    assert (imp.rows, imp.created, imp.rejected, imp.suppressed) == (3, 1, 2, 2)
    assert "suppression list" in imp.rejected_rows.get(line=2).reason
    assert "blocklisted" in imp.rejected_rows.get(line=3).reason
    assert not Subscriber.objects.filter(email="gone@example.com").exists()
    assert not Subscription.objects.filter(subscriber__email="blocked@example.com").exists()


def test_an_unsubscribed_subscription_stays_unsubscribed(news, tmp_path):
    run(write(tmp_path, "email\na@example.com\n"))
    Subscription.objects.update(status="unsubscribed")
    imp = run(write(tmp_path, "email\na@example.com\n", "2.csv"), confirmed=True)
    assert (imp.updated, imp.unchanged) == (0, 1)
    assert Subscription.objects.get().status == "unsubscribed"


def test_double_optin_lists_get_unconfirmed_unless_given_as_confirmed(db, tmp_path):
    MailingList.objects.create(name="Double", optin="double")
    path = write(tmp_path, "email\na@example.com\n")
    run(path, lists=["Double"])
    assert Subscription.objects.get().status == "unconfirmed"
    imp = run(path, lists=["Double"], confirmed=True)
    assert (imp.updated, Subscription.objects.get().status) == (1, "confirmed")


def test_blocklist_mode_suppresses_every_address(news, tmp_path):
    run(write(tmp_path, "email\na@example.com\n"))
    imp = run(
        write(tmp_path, "email\na@example.com\nb@example.com\nbad\n", "2.csv"),
        lists=[],
        mode="blocklist",
    )
    assert (imp.rows, imp.created, imp.updated, imp.rejected) == (3, 1, 1, 1)
    assert Subscriber.objects.get(email="a@example.com").status == "blocklisted"
    assert Suppression.objects.filter(email_hash=email_hash("b@example.com")).exists()
    assert not Subscriber.objects.filter(email="b@example.com").exists()


def test_subscribe_mode_needs_a_list_and_known_lists(db, tmp_path):
    path = write(tmp_path, "email\na@example.com\n")
    with pytest.raises(InvalidInput, match="at least one list"):
        services.prepare(path, lists=[])
    with pytest.raises(NotFound, match="no list named 'Nope'"):
        services.prepare(path, lists=["Nope"])
    assert Import.objects.count() == 0


def test_a_dry_run_counts_the_whole_file_and_writes_nothing(news):
    imp = services.prepare(DATA / "contacts-2100-semicolon.csv", lists=["News"])
    counts = services.preview(imp)
    assert (counts["rows"], counts["created"], counts["duplicates"], counts["rejected"]) == (
        2100,
        2073,
        5,
        22,
    )
    assert Subscriber.objects.count() == 0
    imp.refresh_from_db()
    assert (imp.rows, imp.status) == (0, "draft")


def test_an_interrupted_import_says_how_far_it_got_and_resumes_from_there(news, monkeypatch):
    monkeypatch.setattr(pipeline, "BATCH", 500)
    imp = services.prepare(DATA / "contacts-2100-semicolon.csv", lists=["News"])
    services.start(imp)
    claimed = services.claim(imp.pk)

    def crash(progress_imp):
        if progress_imp.rows_done >= 1000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        services.execute(claimed, progress=crash)
    imp.refresh_from_db()
    assert (imp.status, imp.rows_done) == ("failed", 1000)
    assert "stopped after row 1000" in imp.error
    assert Subscriber.objects.count() == imp.created > 0

    services.start(imp)
    resumed = services.execute(services.claim(imp.pk))
    assert (resumed.status, resumed.resumed) == ("finished", 1)
    assert counts(resumed) == dict(rows=2100, created=2073, duplicates=5, rejected=22)
    assert resumed.rejected_rows.count() == 22
    assert Subscriber.objects.count() == 2073


def test_a_crashed_worker_import_is_picked_up_by_run_pending(news, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    imp = services.prepare(write(tmp_path, "email\na@example.com\n"), lists=["News"])
    Import.objects.filter(pk=imp.pk).update(
        status="running", heartbeat_at=timezone.now() - timedelta(minutes=10)
    )
    assert services.run_pending() is True
    imp.refresh_from_db()
    assert (imp.status, imp.created) == ("finished", 1)
    assert services.run_pending() is False


def test_a_big_file_is_read_by_a_second_process_with_the_same_result(news, monkeypatch):
    monkeypatch.setattr(pipeline, "PARALLEL_FROM_BYTES", 0)
    imp = run(DATA / "contacts-2100-semicolon.csv")
    assert counts(imp) == dict(rows=2100, created=2073, duplicates=5, rejected=22)
    assert imp.rejected_rows.count() == 22


def test_progress_is_reported_and_committed_batch_by_batch(news, monkeypatch):
    monkeypatch.setattr(pipeline, "BATCH", 500)
    path = DATA / "contacts-2100-semicolon.csv"
    imp = services.prepare(path, lists=["News"])
    services.start(imp)
    seen = []

    def progress(running):
        stored = Import.objects.get(pk=running.pk)  # what the UI's progress page reads
        seen.append((stored.rows_done, stored.bytes_done, stored.progress))

    services.execute(services.claim(imp.pk), progress=progress)
    assert [rows for rows, _, _ in seen] == [500, 1000, 1500, 2000, 2100]
    assert [b for _, b, _ in seen] == sorted(b for _, b, _ in seen)
    assert 0 < seen[0][2] < seen[-2][2] < 100
    assert seen[-1][1] == path.stat().st_size
