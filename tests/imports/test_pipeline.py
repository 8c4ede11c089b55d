"""The reading side's shortcuts give exactly what the plain way gives."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from postroom.imports.detect import Layout
from postroom.imports.pipeline import SeenAddresses
from postroom.imports.reader import Record
from postroom.imports.rows import Contact, RowParser

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
    seen, first_line = SeenAddresses(), {}
    line = 1
    try:
        for batch in batches:
            contacts, expected = [], []
            for email in batch:
                line += 1
                contacts.append(Contact(line, email, "", "{}", ""))
                expected.append((0, first_line[email]) if email in first_line else None)
                first_line.setdefault(email, line)
            assert seen.first_seen(contacts) == expected
    finally:
        seen.close()
