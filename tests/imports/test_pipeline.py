"""The reading side's shortcuts give exactly what the plain way gives."""

import json
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postroom.imports import chunks, pipeline
from postroom.imports.detect import Layout, detect
from postroom.imports.pipeline import SeenAddresses
from postroom.imports.reader import Record
from postroom.imports.rows import Contact, RowParser
from tests.data import DATA

CELL = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


def parser(mapping: list[str]) -> RowParser:
    columns = [f"c{i}" for i in range(len(mapping))]
    return RowParser(Layout("utf-8", ",", True, columns, mapping))


@settings(max_examples=500, deadline=None)
@given(st.lists(CELL, min_size=4, max_size=4))
def test_the_attribute_json_is_what_json_dumps_writes(cells):
    row = parser(["email", "first_name", "attr:city", "attr:note"])
    contact = row.parse(Record(2, ["jane@example.com", *cells[1:]]))
    assert isinstance(contact, Contact)
    keys = ["first_name", "city", "note"]
    expected = {k: v.strip() for k, v in zip(keys, cells[1:], strict=True) if v.strip()}
    assert contact.attributes_json == json.dumps(expected)


@settings(max_examples=200, deadline=None)
@given(st.lists(CELL, min_size=3, max_size=3))
def test_two_columns_with_one_attribute_key_keep_the_last_value_as_before(cells):
    row = parser(["email", "attr:city", "attr:city"])
    contact = row.parse(Record(2, ["jane@example.com", *cells[1:]]))
    expected = {}
    for value in cells[1:]:
        if value.strip():
            expected["city"] = value.strip()
    assert contact.attributes_json == json.dumps(expected)


def test_a_contact_survives_the_trip_between_processes_as_a_plain_tuple():
    contact = parser(["email", "name"]).parse(Record(7, ["Jane@Example.com", "Jane"]))
    packed = contact.pack()
    assert type(packed) is tuple
    assert Contact.unpack(packed) == contact
    assert Contact.unpack(packed).email == "jane@example.com"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=30), max_size=6))
def test_seen_addresses_name_the_row_that_had_each_address_first_in_file_order(batches):
    directory = tempfile.TemporaryDirectory()
    seen, first_line = SeenAddresses(directory.name), {}
    line = 1
    try:
        for batch in batches:
            lines, expected = [], {}
            for index, email in enumerate(batch):
                line += 1
                lines.append(line)
                if email in first_line:
                    expected[index] = (0, first_line[email])
                first_line.setdefault(email, line)
            assert seen.earlier(batch, lines, [0] * len(batch)) == expected
    finally:
        seen.close()
        directory.cleanup()


def _items(read: list) -> set[tuple]:
    """What the writer is given for each record: new, rejected (with why) or duplicate."""
    found: set[tuple] = set()
    for batch in read:
        found |= {("new", c.line) for c in batch.contacts}
        found |= {("rejected", r.line, r.reason) for r in batch.rejections}
        found |= {("duplicate", d.line, d.first_line) for d in batch.duplicate_rows}
    return found


@pytest.mark.parametrize("parallel", [False, True])
def test_a_read_resumed_at_any_record_gives_the_rest_of_a_whole_read(monkeypatch, parallel):
    path = DATA / "contacts-2100-semicolon.csv"
    layout, size = detect(path).as_dict(), path.stat().st_size
    if parallel:  # a pool reads ranges of ~40 rows, taken back a range at a time
        monkeypatch.setattr(pipeline, "PARALLEL_FROM_BYTES", 0)
        monkeypatch.setattr(chunks, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(pipeline, "BATCH", 1)
    one_by_one = list(pipeline.batches(path, layout, 0, size))
    assert len(one_by_one) == 2100
    monkeypatch.setattr(pipeline, "BATCH", 500)
    for skip in (0, 1, 499, 500, 1234, 2099):
        resumed = list(pipeline.batches(path, layout, skip, size))
        rest = 2100 - skip
        assert [b.records for b in resumed] == [500] * (rest // 500) + [rest % 500] * (
            rest % 500 > 0
        )
        assert _items(resumed) == _items(one_by_one[skip:])
        assert resumed[-1].position == size
