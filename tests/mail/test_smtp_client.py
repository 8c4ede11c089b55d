"""The pipelining SMTP client against a real (aiosmtpd) server."""

import asyncio

import pytest

from postroom.mail.smtp import (
    ServerSettings,
    SmtpConnection,
    SmtpError,
    encode_body,
    make_ssl_context,
)
from postroom.mail.smtp.replies import OutgoingMessage, SendResult
from postroom.testing.smtpserver import CaptureServer

BODY = b"From: a@example.org\r\nSubject: hi\r\nMessage-ID: <1@example.org>\r\n\r\nHello\r\n"


def message(key=1, rcpt="to@example.org", data=BODY, sender="from@example.org"):
    return OutgoingMessage(key, sender, rcpt, data)


def settings(server: CaptureServer, **overrides) -> ServerSettings:
    return ServerSettings(server.host, server.port, **{"timeout": 2.0, **overrides})


def send(server: CaptureServer, messages: list[OutgoingMessage], **overrides) -> list[SendResult]:
    async def run() -> list[SendResult]:
        connection = SmtpConnection(settings(server, **overrides))
        await connection.open()
        try:
            return await connection.send(messages)
        finally:
            connection.close()

    return asyncio.run(run())


def open_error(server: CaptureServer, **overrides) -> SmtpError:
    async def run() -> None:
        connection = SmtpConnection(settings(server, **overrides))
        await connection.open()
        connection.close()

    with pytest.raises(SmtpError) as info:
        asyncio.run(run())
    return info.value


@pytest.fixture
def server():
    with CaptureServer() as s:
        yield s


def test_it_dot_stuffs_and_crlf_normalises_the_body():
    assert encode_body(b".a\n..b\r\nc\rd") == b"..a\r\n...b\r\nc\r\nd\r\n.\r\n"
    assert encode_body(b"") == b".\r\n"


@pytest.mark.parametrize(
    "data", [b".a\r\n..b\r\nc\r\n", b"x\r\n\r\n", b"no final line end", b".\r\n", b""]
)
def test_crlf_data_skips_normalising_but_is_still_dot_stuffed(data):
    assert encode_body(data, crlf=True) == encode_body(data)


@pytest.mark.parametrize("data", [b"a\r\nb\r\n", b"x\r\n\r\n", b"no final line end", b""])
def test_data_vouched_free_of_leading_dots_is_ended_as_the_search_would(data):
    assert encode_body(data, crlf=True, dotted=False) == encode_body(data)


def test_a_crlf_message_is_delivered_byte_exact(server):
    data = BODY + b".starts with a dot\r\nend\r\n"
    [result] = send(server, [OutgoingMessage(1, "from@example.org", "to@example.org", data, True)])
    assert result.ok
    assert server.messages[0].data == data


def test_it_delivers_the_message_byte_exact(server):
    data = BODY + b".starts with a dot\r\n..two dots\r\n.\r\nend\r\n"
    [result] = send(server, [message(data=data)])
    assert result.ok and result.code == 250
    assert result.reply.startswith("250 2.0.0 Ok: queued as")
    [received] = server.messages
    assert received.data == data
    assert received.mail_from == "from@example.org"
    assert received.message_id == "<1@example.org>"


def test_it_turns_bare_newlines_into_crlf(server):
    send(server, [message(data=b"Subject: x\n\nline one\nline two\n")])
    assert server.messages[0].data == b"Subject: x\r\n\r\nline one\r\nline two\r\n"


def test_it_sends_one_envelope_to_several_recipients(server):
    [result] = send(server, [message(rcpt=["a@example.org", "b@example.org"])])
    assert result.ok
    assert server.messages[0].rcpt_to == ["a@example.org", "b@example.org"]


def test_it_pipelines_when_the_server_offers_it(server):
    results = send(server, [message(key=i) for i in range(3)])
    assert [r.key for r in results if r.ok] == [0, 1, 2]
    assert all(m.pipelined for m in server.messages)


def test_it_waits_for_each_reply_when_pipelining_is_not_offered():
    with CaptureServer(pipelining=False) as server:
        results = send(server, [message(key=i) for i in range(3)])
        assert all(r.ok for r in results)
        assert len(server.messages) == 3
        assert not any(m.pipelined for m in server.messages)


def test_it_upgrades_with_starttls_when_verification_is_off():
    with CaptureServer(tls="starttls") as server:
        [result] = send(
            server, [message()], tls="starttls", ssl_context=make_ssl_context(verify=False)
        )
        assert result.ok
        assert len(server.messages) == 1


def test_it_verifies_a_certificate_it_was_told_to_trust():
    with CaptureServer(tls="starttls") as server:
        [result] = send(
            server, [message()], tls="starttls", ssl_context=server.client_ssl_context()
        )
        assert result.ok


def test_it_fails_clearly_on_an_untrusted_certificate():
    with CaptureServer(tls="starttls") as server:
        error = open_error(server, tls="starttls")
        assert error.stage == "tls"
        assert error.message.startswith("TLS certificate verify failed: ")
        assert "self-signed" in error.message or "self signed" in error.message
        assert server.messages == []


def test_it_speaks_implicit_tls():
    with CaptureServer(tls="tls") as server:
        [result] = send(server, [message()], tls="tls", ssl_context=server.client_ssl_context())
        assert result.ok


def test_it_refuses_starttls_mode_when_the_server_does_not_offer_it(server):
    error = open_error(server, tls="starttls", ssl_context=make_ssl_context(verify=False))
    assert error.stage == "tls"
    assert "does not offer STARTTLS" in error.message


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_it_authenticates(mechanism):
    with CaptureServer(auth={"alice": "s3cret"}, auth_mechanisms=(mechanism,)) as server:
        [result] = send(server, [message()], username="alice", password="s3cret")
        assert result.ok
        assert len(server.messages) == 1


def test_a_wrong_password_is_an_auth_error():
    with CaptureServer(auth={"alice": "s3cret"}) as server:
        error = open_error(server, username="alice", password="wrong")
        assert error.stage == "auth"
        assert error.message.startswith("authentication failed: 535")
        result = error.result("k")
        assert (result.outcome, result.sender_error, result.code) == ("error", True, 535)


def test_an_unknown_recipient_fails_permanently():
    with CaptureServer(rcpt_reply={"bad@example.org": "550 5.1.1 no such user"}) as server:
        [result] = send(server, [message(rcpt="bad@example.org")])
        assert result.outcome == "permanent"
        assert (result.stage, result.code, result.reply) == ("rcpt", 550, "550 5.1.1 no such user")
        assert not result.sender_error
        assert server.messages == []


def test_a_busy_mailbox_is_deferred():
    with CaptureServer(rcpt_reply={"busy@example.org": "451 4.3.0 try later"}) as server:
        [result] = send(server, [message(rcpt="busy@example.org")])
        assert (result.outcome, result.stage, result.code) == ("temporary", "rcpt", 451)
        assert result.retryable and not result.sender_error


def test_one_refused_recipient_does_not_stop_the_others():
    with CaptureServer(rcpt_reply={"bad@example.org": "550 5.1.1 no such user"}) as server:
        [result] = send(server, [message(rcpt=["bad@example.org", "good@example.org"])])
        assert result.ok
        assert result.rejected == {"bad@example.org": "550 5.1.1 no such user"}
        assert server.messages[0].rcpt_to == ["good@example.org"]


def test_the_connection_stays_usable_after_a_failed_transaction():
    with CaptureServer(rcpt_reply={"bad@example.org": "550 5.1.1 no such user"}) as server:
        results = send(
            server,
            [
                message(1, "bad@example.org"),
                message(2, "ok@example.org"),
                message(3, "bad@example.org"),
            ],
        )
        assert [r.outcome for r in results] == ["permanent", "accepted", "permanent"]
        assert server.connections == 1


def test_a_refused_sender_is_a_sender_error():
    with CaptureServer(mail_reply={"from@example.org": "553 5.7.1 sender not allowed"}) as server:
        [result] = send(server, [message()])
        assert (result.outcome, result.stage, result.sender_error) == ("permanent", "mail", True)


def test_content_rejected_after_data_is_permanent_for_that_message():
    with CaptureServer(data_reply={"*": "554 5.7.1 looks like spam"}) as server:
        [result] = send(server, [message()])
        assert (result.outcome, result.stage, result.code) == ("permanent", "data", 554)


def test_a_421_is_temporary_and_ends_the_session():
    with CaptureServer(fail_first={"to@example.org": (1, "421 4.3.2 shutting down")}) as server:
        results = send(server, [message(1), message(2)])
        assert (results[0].outcome, results[0].code, results[0].sender_error) == (
            "temporary",
            421,
            True,
        )
        # The second one was pulled ahead but never answered: safe to resend.
        assert (results[1].outcome, results[1].stage, results[1].code) == ("error", "mail", None)
        assert server.messages == []


def test_a_connection_dropped_during_data_is_not_accepted_and_retryable():
    with CaptureServer(drop_data={"to@example.org": 1}) as server:
        [result] = send(server, [message()])
        assert (result.outcome, result.stage, result.sender_error) == ("error", "data", True)
        assert result.retryable and result.maybe_delivered
        assert "not accepted" in result.message
        assert server.messages == []


def test_a_slow_reply_times_out():
    with CaptureServer(delay={"DATA": 1.0}) as server:
        [result] = send(server, [message()], timeout=0.3)
        assert (result.outcome, result.stage) == ("error", "data")
        assert result.message.startswith("timed out after 0.3s waiting for the reply to")


def test_a_slow_greeting_times_out_at_connect():
    with CaptureServer(delay={"CONNECT": 1.0}) as server:
        error = open_error(server, timeout=0.3)
        assert error.stage == "connect"
        assert "timed out" in error.message


def test_a_refused_connection_names_the_address(server):
    server.stop()
    error = open_error(server)
    assert (error.stage, error.message) == (
        "connect",
        f"connection refused by 127.0.0.1:{server.port}",
    )
    assert error.result("k").sender_error


def test_a_busy_greeting_is_a_temporary_connect_failure():
    with CaptureServer(banner="421 4.7.0 too many connections") as server:
        error = open_error(server)
        result = error.result("k")
        assert (result.outcome, result.stage, result.code) == ("temporary", "connect", 421)


def test_it_uses_smtputf8_for_a_non_ascii_address(server):
    [result] = send(server, [message(rcpt="jürgen@exämple.org")])
    assert result.ok
    assert server.messages[0].rcpt_to == ["jürgen@exämple.org"]
    assert "SMTPUTF8" in server.messages[0].mail_options


def test_it_refuses_a_non_ascii_address_when_the_server_lacks_smtputf8():
    with CaptureServer(smtputf8=False) as server:
        [result] = send(server, [message(rcpt="jürgen@example.org")])
        assert (result.outcome, result.stage, result.sender_error) == ("permanent", "rcpt", False)
        assert "does not offer SMTPUTF8" in result.message
        assert server.messages == []


def test_it_declares_8bit_bodies(server):
    data = "Subject: x\r\n\r\nGrüße\r\n".encode()
    send(server, [message(data=data)])
    assert "BODY=8BITMIME" in server.messages[0].mail_options
    assert server.messages[0].data == data


def test_it_refuses_addresses_that_would_inject_commands(server):
    [result] = send(server, [message(rcpt="x@example.org>\r\nRCPT TO:<evil@example.org")])
    assert (result.outcome, result.stage) == ("permanent", "rcpt")
    assert server.messages == []
    assert server.rcpt_attempts == {}


def test_settings_never_show_the_password():
    assert "hunter2" not in repr(ServerSettings("h", 25, username="u", password="hunter2"))


def test_a_slow_reply_after_another_slow_one_is_waited_for_its_own_full_timeout():
    # One timer per connection: the second wait starts before the first wait's
    # deadline, which must then move, not end the second wait early.
    with CaptureServer(delay={"DATA": 0.3}) as server:
        results = send(server, [message(key=1), message(key=2)], timeout=0.5)
        assert [r.ok for r in results] == [True, True]


class RecordingJournal:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def dot(self, key):
        self.events.append(("dot", key))

    def reply(self, result):
        self.events.append(("reply", result.key))

    def reply_and_dot(self, result, key):
        self.events += [("reply", result.key), ("dot", key)]


def test_every_reply_is_journaled_after_its_dot_and_before_the_next_one():
    journal = RecordingJournal()

    async def run() -> list[SendResult]:
        connection = SmtpConnection(settings(server), journal)
        await connection.open()
        try:
            return await connection.send([message(key=i) for i in range(3)])
        finally:
            connection.close()

    with CaptureServer() as server:
        results = asyncio.run(run())
    assert all(r.ok for r in results)
    # The last reply too, although no dot follows it: written when the connection stops.
    assert journal.events == [
        ("dot", 0), ("reply", 0), ("dot", 1), ("reply", 1), ("dot", 2), ("reply", 2)
    ]  # fmt: skip
