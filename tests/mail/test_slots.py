"""The compiled message (slots filled as bytes) is byte for byte the fully rendered one."""

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postroom.mail import compose, slots
from postroom.mail.budget import Budget
from postroom.mail.compose import CampaignSpec, CompiledCampaign, Recipient, compile_campaign
from postroom.mail.errors import RenderError
from postroom.mail.links import LinkSigner
from postroom.mail.slots import CompiledPart, NotLinear

LINKS = LinkSigner("test-secret", "https://news.example.com")
DATE = re.compile(rb"^Date: [^\r]*\r\n", re.M)

# Template text that stresses the encodings: quoted-printable soft breaks at 76,
# "=" and trailing white space, a dot alone on a line, non-ASCII of two to four
# bytes, lines past 998, CR/LF written by the author.
TEXT = st.lists(
    st.sampled_from([*'ab =.\t\n\n é€😀<&>"', "x" * 80, "y" * 1000, "\r\n"]), max_size=40
).map("".join)
SLOTS = st.sampled_from(
    [
        "{{ subscriber.name }}",
        "{{ subscriber.first_name | default('friend') }}",
        "{{ subscriber.attributes.city }}",
        "{{ subscriber.attributes.note | upper }}",
        "{{ subscriber.email }}",
        "{{ list.name }}",
        "{{ campaign.subject }}",
        "{{ campaign.subject | upper }}",
        "{{ campaign.name }}",
        "{{ unsubscribe_url }}",
        "{{- subscriber.name -}}",
        "{% if list.name %}in {{ list.name }}{% else %}no list{% endif %}",
        "{% if not list.name %}never{% endif %}",
    ]
)
# Per-recipient logic: the whole part must take the full render.
LOGIC = st.sampled_from(
    [
        "{% if subscriber.name %}Dear {{ subscriber.name }}{% else %}Hello{% endif %}",
        "{% for i in range(2) %}{{ i }}{% endfor %}",
        "{% set x = subscriber.email %}{{ x }}",
    ]
)
VALUE = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "Zoë Ångström", "Ann\r\nBcc: x@example.com", "<b>&amp;</b>", "=" * 90]),
    st.just("word " * 300),
    st.just("ä" * 600),
)


# Static, in the slots, rendered in full (a condition on the recipient), and one too
# big for the size budget of the test that sets a small one.
SUBJECT = st.sampled_from(
    [
        "News",
        "News for {{ subscriber.name }}",
        "{{ subscriber.first_name | default('Hi') }}, {{ list.name }} {{ campaign.name }}",
        "{% if subscriber.name %}For {{ subscriber.name }}{% endif %} news",
        "{{ subscriber.name }}" * 40,
    ]
)


def template(linear_only: bool) -> st.SearchStrategy[str]:
    piece = st.one_of(TEXT, SLOTS) if linear_only else st.one_of(TEXT, SLOTS, LOGIC)
    return st.lists(piece, max_size=12).map("".join)


RECIPIENT = st.builds(
    Recipient,
    subscriber_id=st.integers(1, 10**6),
    email=st.sampled_from(["ann@example.org", "zoë@exämple.org", "b.o+b@example.com"]),
    name=VALUE,
    attributes=st.fixed_dictionaries(
        {}, optional={"city": VALUE, "note": VALUE, "first_name": VALUE}
    ),
)


def outcome(compiled: CompiledCampaign, recipient: Recipient) -> bytes | str:
    """The message, Date line aside (it follows the clock), or the error that refused it."""
    try:
        built = compiled.build(recipient)
    except RenderError as exc:
        return f"RenderError: {exc}"
    if not built.dotted:  # the SMTP client will not look for lines to dot-stuff
        assert not built.data.startswith(b".") and b"\n." not in built.data
    return DATE.sub(b"", built.data)


def both(compiled: CompiledCampaign, recipient: Recipient) -> tuple[bytes | str, bytes | str]:
    """(with slots, with today's full render)."""
    fast = outcome(compiled, recipient)
    slots, compiled.slots = compiled.slots, None
    try:
        slow = outcome(compiled, recipient)
    finally:
        compiled.slots = slots
    return fast, slow


def campaign(body: str, text_body: str, **extra) -> CompiledCampaign:
    values = dict(
        campaign_id=7,
        name="Weekly",
        subject="News for {{ subscriber.name }}",
        from_email="news@example.com",
        body=body,
        body_format="html",
        text_body=text_body,
        layout_html="",
        list_name="Weekly news",
    )
    values.update(extra)
    return compile_campaign(CampaignSpec(**values), LINKS)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    template(linear_only=True),
    template(linear_only=True),
    st.lists(RECIPIENT, max_size=3),
    SUBJECT,
)
def test_it_builds_linear_templates_byte_for_byte_as_the_full_render(body, text, people, subject):
    compiled = campaign(body or "x", text or "y", subject=subject)
    assert compiled.html_part is not None and compiled.text_part is not None
    for person in people:
        fast, slow = both(compiled, person)
        assert fast == slow  # also when a header this recipient cannot have refuses both


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(template(linear_only=False), template(linear_only=False), RECIPIENT, st.booleans(), SUBJECT)
def test_it_falls_back_to_the_full_render_for_per_recipient_logic(
    body, text, person, lists, subject
):
    compiled = campaign(
        body or "x", text or "y", list_name="Weekly" if lists else "", subject=subject
    )
    if "{% set" in body or "{% for" in body or "subscriber.name %}" in body:
        assert compiled.html_part is None
    fast, slow = both(compiled, person)
    assert fast == slow


@settings(max_examples=60, deadline=None)
@given(RECIPIENT)
def test_it_builds_the_default_layout_and_a_markdown_body_with_tracking_as_before(person):
    compiled = campaign(
        "# Hi {{ subscriber.first_name | default('friend') }}\n\nSee [the story]"
        "(https://example.com/a?b=1) — café, naïve.\n\n" + "Long line. " * 40,
        "",
        body_format="markdown",
        layout_html=None,
        track_opens=True,
        track_clicks=True,
        preheader="For {{ subscriber.name }}",
    )
    assert compiled.html_part is not None and compiled.text_part is not None
    fast, slow = both(compiled, person)
    assert fast == slow


def test_it_keeps_non_ascii_in_a_style_block_as_utf8_not_character_references():
    compiled = campaign(
        "<html><head><style>p::before { content: 'é'; }</style></head>"
        "<body><p>Hé {{ subscriber.name }}</p></body></html>",
        "Hé {{ subscriber.name }}",
    )
    assert compiled.template.html_charrefs is False
    fast, slow = both(compiled, Recipient(1, "ann@example.org", "Zoë"))
    assert fast == slow and isinstance(fast, bytes) and "Zoë".encode() not in fast  # QP


def test_it_renders_each_distinct_expression_once_per_recipient():
    part = CompiledPart(
        "{{ subscriber.name }}, {{ subscriber.name }}! {{ subscriber.email }} {{ list.name }}",
        html=False,
        constants={"list": {"name": "News"}},
        boundary=b"==_b",
    )
    assert part.slot_count == 2 and sorted(part.multiplicity) == [1, 2]


def test_it_refuses_slots_for_a_condition_on_the_recipient():
    source = "{% if subscriber.attributes.vip %}VIP{% endif %}"
    try:
        CompiledPart(source, html=True, constants={"list": {}}, boundary=b"")
    except NotLinear:
        return
    raise AssertionError("a condition on the recipient was compiled into slots")


def test_it_takes_the_full_render_when_repeated_values_pass_the_size_budget():
    compiled = campaign(
        "{{ subscriber.name }}" * 50, "{{ subscriber.name }}", budget=Budget(max_chars=10_000)
    )
    try:
        compiled.build(Recipient(1, "ann@example.org", "x" * 300))
    except RenderError as exc:
        assert "too large" in str(exc)
    else:
        raise AssertionError("50 x 300 characters passed a 10,000-character budget")


def test_it_refuses_a_subject_over_the_size_budget_as_the_full_render_does():
    compiled = campaign(
        "{{ subscriber.name }}",
        "{{ subscriber.name }}",
        subject="{{ subscriber.name }}" * 50,
        budget=Budget(max_chars=10_000),
    )
    assert compiled.slots is not None and compiled.slots.subject is not None
    fast, slow = both(compiled, Recipient(1, "ann@example.org", "x" * 300))
    assert fast == slow and isinstance(fast, str) and "too large" in fast


def test_it_renders_the_subject_and_both_parts_in_one_pass(monkeypatch):
    calls = []
    real = slots.render_pieces
    monkeypatch.setattr(slots, "render_pieces", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(compose, "render", lambda *a, **k: calls.append("full"))
    compiled = campaign(
        "<title>{{ campaign.subject }}</title> {{ subscriber.name }}",
        "{{ campaign.subject }}: {{ subscriber.name }} {{ unsubscribe_url }}",
    )
    message = compiled.build(Recipient(1, "ann@example.org", "Ann & Bob")).data
    assert calls == [1]
    assert b"<title>News for Ann &amp; Bob</title>" in message
    assert b"News for Ann & Bob: Ann & Bob https://" in message


def test_lines_kept_for_readers_with_the_same_values_are_their_bytes(monkeypatch):
    """Lines whose values repeat are kept, the others merged once enough readers passed;
    every message stays the full render's, before and after."""
    monkeypatch.setattr(slots, "REGROUP_AFTER", 20)
    compiled = campaign(
        "<p>Hi {{ subscriber.first_name }}, q=1 " + "x" * 90 + "</p>\n"
        "<p>{{ subscriber.name }}</p>\n<p>Bye {{ subscriber.first_name }}</p>\n",
        "Hi {{ subscriber.first_name }}, café\n{{ subscriber.name }}\n"
        "Again {{ subscriber.first_name }} " + "y" * 80 + "\n",
    )
    firsts = ["Ann", "Zoë", "Bob = B"]
    for i in range(60):
        person = Recipient(i, "ann@example.org", f"Reader {i} ü", {"first_name": firsts[i % 3]})
        fast, slow = both(compiled, person)
        assert fast == slow, i
    text = compiled.text_part
    assert text is not None
    kept = {group.held: group.keep for group in text.groups}
    assert len(kept) == 2 and sorted(kept.values()) == [False, True]  # first_name is kept
