"""The fast normaliser must be exactly as strict as email-validator, never more lenient."""

import csv

import pytest
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import ATEXT
from hypothesis import given, settings
from hypothesis import strategies as st

from postroom.audience.emails import OPTIONS, InvalidEmail, normalize_email, reference_normalize
from tests.data import DATA


def outcome(fn, value: str) -> tuple[str, str]:
    try:
        return ("ok", fn(value))
    except InvalidEmail as exc:
        return ("invalid", str(exc))


def reference(value: str) -> tuple[str, str]:
    stripped = value.strip()
    if not stripped:
        return ("invalid", "the email address is empty")
    return outcome(reference_normalize, stripped)


LOCAL_CHARS = "abcXYZ019.-_+!#$%&'*/=?^`{|}~\"\\ ()<>[]:;,@éß\u0301\u00a0\u200b\uff20。"
DOMAIN_LABELS = [
    "example",
    "Example",
    "EXAMPLE",
    "com",
    "org",
    "de",
    "xn--exmple-cua",
    "xn--",
    "-bad",
    "bad-",
    "a--b",
    "ab--cd",
    "123",
    "localhost",
    "invalid",
    "test",
    "exämple",
    "ü",
    "x" * 63,
    "x" * 64,
    "",
    "mail",
    "c0m",
    "co.uk",
    "\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25",
    "例え",
    "a_b",
]

addresses = st.builds(
    lambda local, labels, sep, pad: f"{pad}{local}{sep}{'.'.join(labels)}{pad}",
    st.text(alphabet=LOCAL_CHARS, min_size=0, max_size=70),
    st.lists(st.sampled_from(DOMAIN_LABELS), min_size=1, max_size=5),
    st.sampled_from(["@", "@", "@", "@@", " at ", ";", "\uff20"]),
    st.sampled_from(["", " ", "\t", "  "]),
)

TRICKY = [
    "jane@example.com",
    " Jane.Doe@Example.COM ",
    "INFO@example.com",
    "x@xn--exmple-cua.com",
    "a@b",
    "a@b.c",
    "a..b@example.com",
    ".a@example.com",
    "a.@example.com",
    "a@-x.com",
    "a@x-.com",
    "a@x.invalid",
    "a@localhost",
    "a@example.local",
    "a@[127.0.0.1]",
    '"quoted"@example.com',
    '"a b"@example.com',
    "Jane <jane@example.com>",
    "jane@example.com;Jane;Doe",
    "jane@@example.com",
    "jane at example.com",
    "",
    "a" * 64 + "@example.com",
    "a" * 250 + "@example.com",
    "a@" + "b" * 250 + ".com",
    "ü@example.com",
    "jane@exämple.com",
    "jane@EXÄMPLE.com",
    "jane@例え.jp",
    "e\u0301@example.com",
    "jane@example.com.",
    "jane@example..com",
    "jane@ab--cd.com",
    "jane@xn--ab.com",
    "mailto:jane@example.com",
    "jane@example.c0m",
    "jane@example.123",
    "jane@exa_mple.com",
    "x" * 64 + "@" + ".".join(["y" * 63] * 3) + ".com",
    "jane\u200b@example.com",
]


@pytest.mark.parametrize("value", TRICKY)
def test_it_matches_the_reference_on_tricky_addresses(value):
    assert outcome(normalize_email, value) == reference(value)


@settings(max_examples=3000, deadline=None)
@given(addresses)
def test_it_matches_the_reference_on_generated_addresses(value):
    assert outcome(normalize_email, value) == reference(value)


@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=40))
def test_it_matches_the_reference_on_arbitrary_text(value):
    assert outcome(normalize_email, value) == reference(value)


def test_it_lowercases_the_whole_address_and_decodes_punycode():
    assert normalize_email(" Jane.Doe@Example.COM ") == "jane.doe@example.com"
    assert normalize_email("x@xn--exmple-cua.com") == "x@exämple.com"


def test_it_refuses_a_row_jammed_into_the_email_field_with_the_reason():
    with pytest.raises(InvalidEmail) as info:
        normalize_email("jane@example.com;Jane;Doe")
    assert info.value.detail == "The part after the @-sign contains invalid characters: ';'."


def validator(value: str) -> tuple[str, str]:
    """email-validator itself, called as the importer calls it: verdict, form, error class."""
    stripped = value.strip()
    if not stripped:
        return ("invalid", "empty")
    try:
        return ("ok", validate_email(stripped, **OPTIONS).normalized.lower())
    except EmailNotValidError as exc:
        return ("invalid", f"{type(exc).__name__}: {exc}")


def ours(value: str) -> tuple[str, str]:
    try:
        return ("ok", normalize_email(value))
    except InvalidEmail as exc:
        if not value.strip():
            return ("invalid", "empty")
        cause = exc.__context__
        name = type(cause).__name__ if cause is not None else "EmailSyntaxError"
        return ("invalid", f"{name}: {exc.detail}")


# Shaped like what real files hold: role accounts, sub-addressing, old ISPs,
# country TLDs, special-use and reserved names, punycode, and the limits.
REAL_WORLD = [
    "postmaster@example.com",
    "Postmaster@Example.com",
    "abuse@mail.example.co.uk",
    "john.smith+newsletter@gmail.com",
    "o'brien@example.ie",
    "first_last@sub-domain.example.org",
    "user%relay@example.com",
    "{braces}@example.com",
    "a/b=c?d@example.com",
    "~tilde@example.com",
    "#hash@example.com",
    "x@example.museum",
    "x@example.xn--p1ai",
    "x@xn--80ak6aa92e.com",
    "x@xn--d1acufc.xn--p1ai",
    "x@xn--bcher-kva.de",
    "x@XN--BCHER-KVA.DE",
    "x@localhost.localdomain",
    "x@example.test",
    "x@example.example",
    "x@example.onion",
    "x@example.arpa",
    "x@example.home.arpa",
    "x@example.internal",
    "x@example.lan",
    "x@example.corp",
    "x@example.local",
    "x@127.0.0.1",
    "x@[IPv6:::1]",
    "x@[192.168.0.1]",
    "x@1.com",
    "x@example.com1",
    "x@e.x",
    "x@example.c",
    "x@-example.com",
    "x@example-.com",
    "x@exa--mple.com",
    "x@xn--a.com",
    "x@example.com-",
    "x@.example.com",
    "x@example..com",
    "x.@example.com",
    "x..y@example.com",
    ".x@example.com",
    "x@example.com.",
    "x@" + "a" * 63 + ".com",
    "x@" + "a" * 64 + ".com",
    "x@" + ".".join(["a" * 63] * 4),
    "x@" + ".".join(["a" * 49] * 5) + ".com",
    "a" * 64 + "@example.com",
    "a" * 65 + "@example.com",
    "a" * 242 + "@example.com",
    "a" * 243 + "@example.com",
    "a" * 230 + "@xn--bcher-kva.de",
    "a" * 240 + "@xn--bcher-kva.de",
    "a" * 241 + "@xn--bcher-kva.de",
    "jane doe@example.com",
    "jane@example com",
    "jane@exam_ple.com",
    "jane@example.com>",
    "<jane@example.com>",
    "jane@example.com (Jane)",
    "(comment)jane@example.com",
    "jane\\@example.com",
    "jane@@example.com",
    "jane@example@com",
    '"jane"@example.com',
    "jane@[example.com]",
    "JANE@EXAMPLE.COM",
    "jane@example.COM",
    "müller@example.de",
    "jane@müller.de",
    "ﬁ@example.com",
    "jane@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com",  # full-width letters
    "jane\u00a0@example.com",
    "@example.com",
    "jane@",
    "@",
    "jane",
]


@pytest.mark.parametrize("value", REAL_WORLD)
def test_it_gives_email_validators_verdict_form_and_error_on_real_world_addresses(value):
    assert ours(value) == validator(value)


PLAIN_LOCAL = st.text(alphabet=ATEXT.replace("\\", "") + ".", min_size=1, max_size=80)
LABEL = st.text(alphabet="abcxyzABC019-", min_size=1, max_size=64)
TLD = st.sampled_from(
    ["com", "org", "de", "CO", "xn--p1ai", "test", "invalid", "local", "localhost", "onion",
     "arpa", "example", "c0m", "1", "x", "museum"]
)  # fmt: skip
PLAIN = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join([*labels, tld])}",
    PLAIN_LOCAL,
    st.lists(LABEL, min_size=0, max_size=4),
    TLD,
)


@settings(max_examples=4000, deadline=None)
@given(PLAIN)
def test_it_gives_email_validators_verdict_on_generated_plain_ascii_addresses(value):
    assert ours(value) == validator(value)


@settings(max_examples=1000, deadline=None)
@given(st.integers(1, 260), st.integers(0, 4), st.sampled_from(["com", "xn--p1ai", "de"]))
def test_it_gives_email_validators_verdict_around_the_length_limits(local, labels, tld):
    value = "a" * local + "@" + "".join(f"{'b' * 60}." for _ in range(labels)) + tld
    assert ours(value) == validator(value)


def _sample_file_cells() -> list[str]:
    """Every cell of the messy sample files under tests/data (addresses, jammed rows,
    names, dates): the fast path must agree with email-validator on all of them."""
    files = [
        (DATA / "contacts-2100-semicolon.csv", ";", "utf-8"),
        (DATA / "contacts-500-excel-cp1252.csv", ",", "cp1252"),
        *((path, ",", "utf-8") for path in sorted((DATA / "exports").rglob("*.csv"))),
    ]
    cells: set[str] = set()
    for path, delimiter, encoding in files:
        with path.open(encoding=encoding, newline="") as f:
            for row in csv.reader(f, delimiter=delimiter):
                cells.update(row)
    return sorted(cells)


SAMPLE_CELLS = _sample_file_cells()


def test_the_sample_files_hold_thousands_of_cells_to_compare():
    assert len(SAMPLE_CELLS) > 3000
    assert sum("@" in cell for cell in SAMPLE_CELLS) > 2000


@pytest.mark.parametrize("chunk", range(8))
def test_it_gives_email_validators_verdict_on_every_cell_of_the_sample_files(chunk):
    for value in SAMPLE_CELLS[chunk::8]:
        assert ours(value) == validator(value), value
