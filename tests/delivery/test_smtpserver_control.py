"""The subprocess SMTP server obeys commands on stdin while clients are connected."""

import json
import smtplib
import time

import pytest

from tests.delivery.processes import RecordingServer, wait_for

MESSAGE = "Subject: hi\r\n\r\nhello\r\n"


@pytest.fixture
def server(tmp_path):
    server = RecordingServer(tmp_path / "received.jsonl")
    yield server
    if server.process.poll() is None:
        server.stop()


def send(server: RecordingServer, to: str) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=10) as client:
        client.sendmail("news@example.org", [to], MESSAGE)


def test_it_refuses_connections_during_an_outage_and_accepts_them_again_on_the_same_port(server):
    send(server, "before@example.net")
    server.control("refuse")
    with pytest.raises(ConnectionRefusedError):
        send(server, "during@example.net")
    server.control("accept")
    send(server, "after@example.net")
    assert server.received() == {"before@example.net": 1, "after@example.net": 1}


def test_it_greets_with_the_banner_it_is_given_until_it_is_switched_off(server):
    server.control("banner 421 4.3.2 too busy")
    with pytest.raises(smtplib.SMTPConnectError) as refused:
        send(server, "storm@example.net")
    assert refused.value.smtp_code == 421
    server.control("banner off")
    send(server, "calm@example.net")
    assert server.received() == {"calm@example.net": 1}


def test_it_waits_before_answering_data_while_a_delay_is_set(server):
    server.control("delay DATA 0.6")
    started = time.monotonic()
    send(server, "slow@example.net")
    assert time.monotonic() - started >= 0.6
    server.control("delay DATA 0")
    assert server.received() == {"slow@example.net": 1}


def test_it_hangs_up_before_the_354_so_the_message_is_never_accepted(server):
    server.control("drop-before 1")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        send(server, "dropped@example.net")
    send(server, "next@example.net")  # only the next one was dropped
    assert server.received() == {"next@example.net": 1}
    stats = json.loads(server.control("stats"))
    assert [kind for kind, _ in stats["dropped"]] == ["before"]


def test_it_records_the_message_and_hangs_up_before_the_reply_after_the_dot(server):
    server.control("drop-after 1")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        send(server, "accepted@example.net")
    assert server.received() == {"accepted@example.net": 1}
    stats = json.loads(server.control("stats"))
    assert [kind for kind, _ in stats["dropped"]] == ["after"]
    assert stats["received"] == 1


def test_it_hangs_up_on_open_connections_when_told_to_disconnect(server):
    client = smtplib.SMTP(server.host, server.port, timeout=10)
    assert wait_for(lambda: json.loads(server.control("stats"))["open"] == 1, 10)
    peers = json.loads(server.control("stats"))["peers"]
    assert peers == {str(client.sock.getsockname()[1]): 1}  # JSON keys are strings
    server.control("disconnect")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.noop()
    client.close()


def test_it_answers_a_bad_command_with_the_reason_and_keeps_running(server):
    with pytest.raises(RuntimeError, match="unknown command 'explode'"):
        server.control("explode")
    with pytest.raises(RuntimeError, match="delay needs one of"):
        server.control("delay QUIT 1")
    send(server, "still@example.net")
    assert server.received() == {"still@example.net": 1}


def test_it_stops_when_its_parent_closes_stdin(server):
    server.process.stdin.close()
    assert server.process.wait(10) == 0
