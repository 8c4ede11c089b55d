"""A file parsed by the pool, range by range, gives exactly the rows of reading it in order."""

import csv
import io
import multiprocessing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postroom.imports import chunks, pipeline
from postroom.imports.detect import detect
from tests.data import DATA


@pytest.fixture(scope="module")
def pool():
    with multiprocessing.get_context("spawn").Pool(2) as workers:
        yield workers


@pytest.fixture
def tiny_ranges(monkeypatch):
    """Ranges of a few dozen bytes: many cuts, many of them inside quoted fields."""
    monkeypatch.setattr(chunks, "CHUNK_BYTES", 48)
    monkeypatch.setattr(chunks, "MAX_CHUNK_BYTES", 1 << 20)
    monkeypatch.setattr(pipeline, "PARALLEL_FROM_BYTES", 0)


def both(path, pool, **options):
    layout = detect(path, **options)
    in_order = list(pipeline.Parsed(path, layout))
    parsed = pipeline.Parsed(path, layout, pool)
    return in_order, list(parsed), parsed


def test_the_sample_files_parse_the_same_on_the_pool(pool, tiny_ranges):
    for name in ("contacts-2100-semicolon.csv", "contacts-500-excel-cp1252.csv"):
        in_order, pooled, parsed = both(DATA / name, pool)
        assert pooled == in_order and len(in_order) in (2100, 500)
        assert parsed.position == (DATA / name).stat().st_size


CELL = st.text(alphabet='ab@.,;"\n\r x', max_size=8)
LINE = st.one_of(
    st.lists(CELL, min_size=1, max_size=4).map(lambda cells: ("cells", cells)),
    st.text(alphabet='ab@.,"x \t', max_size=20).map(lambda raw: ("raw", raw)),  # stray quotes
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(LINE, min_size=1, max_size=40), st.sampled_from(["\n", "\r\n"]))
def test_any_rows_parse_the_same_on_the_pool_as_in_order(pool, tiny_ranges, tmp_path, lines, end):
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator=end)
    writer.writerow(["email", "note"])
    for kind, value in lines:
        if kind == "cells":
            writer.writerow(["jane@example.com", *value])
        else:
            out.write(f"{value}{end}")
    path = tmp_path / "rows.csv"
    path.write_bytes(out.getvalue().encode())
    in_order, pooled, _ = both(path, pool, delimiter=",", mapping={"email": "email"})
    assert pooled == in_order


def test_a_file_with_lone_carriage_returns_is_read_in_order(tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes(b"email\ra@example.com\rb@example.com\r")
    assert chunks.spans(path, "utf-8") is None
    assert chunks.spans(path, "utf-16") is None
    path.write_bytes(b"email\r\na@example.com\r\n")
    assert chunks.spans(path, "utf-8") == [(0, len(path.read_bytes()), 0)]
