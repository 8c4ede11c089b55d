"""The synchronous SMTP pool: persistent connections, order, recovery, check()."""

import concurrent.futures
import json
import subprocess
import sys
import time

import pytest

from postroom.mail.smtp import OutgoingMessage, SmtpPool
from postroom.testing.smtpserver import CaptureServer
from postroom.testing.smtpsink import SmtpSink


def messages(count: int, start: int = 0, rcpt=None) -> list[OutgoingMessage]:
    return [
        OutgoingMessage(
            i,
            "news@example.org",
            rcpt(i) if rcpt else f"user{i}@example.org",
            b"Message-ID: <%d@example.org>\r\nSubject: n\r\n\r\nbody %d\r\n" % (i, i),
        )
        for i in range(start, start + count)
    ]


def pool_for(server, **options) -> SmtpPool:
    return SmtpPool(server.host, server.port, **{"timeout": 2.0, **options})


def test_results_come_back_in_input_order():
    bad = {"user3@example.org": "550 5.1.1 no such user", "user7@example.org": "451 4.3.0 later"}
    with CaptureServer(rcpt_reply=bad) as server, pool_for(server, max_connections=3) as pool:
        results = pool.send(messages(20))
        assert [r.key for r in results] == list(range(20))
        outcomes = {r.key: r.outcome for r in results if not r.ok}
        assert outcomes == {3: "permanent", 7: "temporary"}
        assert len(server.messages) == 18


def test_it_reuses_connections_across_calls():
    with CaptureServer() as server, pool_for(server, max_connections=2) as pool:
        first = pool.send(messages(30))
        second = pool.send(messages(30, start=30))
        assert all(r.ok for r in first + second)
        assert len(server.messages) == 60
        assert server.connections <= 2
        assert pool.connections_opened == server.connections


def test_it_spreads_a_batch_over_several_connections():
    with CaptureServer() as server, pool_for(server, max_connections=3) as pool:
        pool.send(messages(60))
        assert {m.connection for m in server.messages} == {1, 2, 3}


def test_submit_returns_before_the_batch_is_sent():
    with CaptureServer(delay={"DATA": 0.2}) as server, pool_for(server) as pool:
        future = pool.submit(messages(2))
        assert isinstance(future, concurrent.futures.Future)
        assert not future.done()
        assert [r.ok for r in future.result(timeout=5)] == [True, True]


def test_after_a_421_it_reconnects_and_carries_on():
    shutdown = {"user0@example.org": (1, "421 4.3.2 service shutting down")}
    with CaptureServer(fail_first=shutdown) as server, pool_for(server, max_connections=1) as pool:
        results = pool.send(messages(5))
        assert (results[0].outcome, results[0].code, results[0].sender_error) == (
            "temporary",
            421,
            True,
        )
        assert [r.ok for r in results[1:]] == [True] * 4
        assert server.connections == 2
        # The deferred one goes through when the engine retries it.
        assert pool.send(messages(1))[0].ok


def test_a_message_dropped_during_data_is_reported_and_the_rest_go_through():
    with (
        CaptureServer(drop_data={"user2@example.org": 1}) as server,
        pool_for(server, max_connections=1) as pool,
    ):
        results = pool.send(messages(5))
        dropped = results[2]
        assert (dropped.outcome, dropped.stage, dropped.maybe_delivered) == ("error", "data", True)
        assert dropped.retryable
        assert [r.ok for i, r in enumerate(results) if i != 2] == [True] * 4
        assert pool.send([messages(3)[2]])[0].ok


def test_it_recovers_when_the_server_hangs_up_on_idle_connections():
    with CaptureServer() as server, pool_for(server, max_connections=2) as pool:
        assert all(r.ok for r in pool.send(messages(10)))
        server.disconnect_all()
        assert all(r.ok for r in pool.send(messages(10, start=10)))
        assert len(server.messages) == 20


def test_a_refused_connection_fails_every_message_as_a_sender_error():
    server = CaptureServer()
    server.start()
    server.stop()
    with pool_for(server, max_connections=2) as pool:
        results = pool.send(messages(3))
        for result in results:
            assert (result.outcome, result.stage, result.sender_error) == ("error", "connect", True)
            assert result.message == f"connection refused by 127.0.0.1:{server.port}"


def test_a_wrong_password_fails_the_batch_at_auth():
    with (
        CaptureServer(auth={"alice": "s3cret"}) as server,
        pool_for(server, username="alice", password="nope") as pool,
    ):
        results = pool.send(messages(2))
        assert {(r.outcome, r.stage, r.code) for r in results} == {("error", "auth", 535)}


def test_skipping_auth_on_a_server_that_requires_it_is_a_sender_error():
    with CaptureServer(auth={"alice": "s3cret"}) as server, pool_for(server) as pool:
        [result] = pool.send(messages(1))
        assert (result.outcome, result.stage, result.code, result.sender_error) == (
            "permanent",
            "mail",
            530,
            True,
        )


def test_a_slow_server_times_out():
    with CaptureServer(delay={"RCPT": 1.0}) as server, pool_for(server, timeout=0.3) as pool:
        [result] = pool.send(messages(1))
        assert (result.outcome, result.stage) == ("error", "rcpt")
        assert "timed out" in result.message


def test_check_reports_the_banner_and_extensions():
    with CaptureServer() as server, pool_for(server) as pool:
        report = pool.check()
        assert report.ok and report.step == "ok"
        assert report.banner.startswith("220 capture.test")
        assert "PIPELINING" in report.extensions


def test_check_names_the_failing_step():
    with SmtpPool("nonexistent.invalid", 25, timeout=2) as pool:
        report = pool.check()
        assert (report.ok, report.step) == (False, "dns")
        assert report.message.startswith("DNS lookup failed for nonexistent.invalid")
    with CaptureServer(tls="starttls") as server, pool_for(server, tls="starttls") as pool:
        report = pool.check()
        assert report.step == "tls" and "certificate verify failed" in report.message
    with (
        CaptureServer(tls="starttls", auth={"alice": "s3cret"}) as server,
        pool_for(server, tls="starttls", verify_tls=False, username="alice", password="x") as pool,
    ):
        report = pool.check()
        assert report.step == "auth" and report.message.startswith("authentication failed: 535")


def test_the_capture_server_runs_as_a_subprocess_and_records_messages(tmp_path):
    record = tmp_path / "received.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "postroom.testing.smtpserver", "--record", str(record)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready, host, port = process.stdout.readline().split()
        assert ready == "READY"
        with SmtpPool(host, int(port), timeout=5) as pool:
            assert all(r.ok for r in pool.send(messages(3)))
    finally:
        process.terminate()
        process.wait(5)
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [line["message_id"] for line in lines] == [f"<{i}@example.org>" for i in range(3)]
    assert lines[0]["rcpt_to"] == ["user0@example.org"]
    assert isinstance(lines[0]["time"], float)


def test_smtp_sink_counts_what_the_pool_sends():
    with SmtpSink() as sink, SmtpPool(sink.host, sink.port, max_connections=2) as pool:
        results = pool.send(messages(200))
        assert all(r.ok for r in results)
        deadline = time.monotonic() + 5
        while sink.received() < 200 and time.monotonic() < deadline:
            time.sleep(0.01)  # smtp-sink prints its counter asynchronously
        assert sink.received() == 200


@pytest.mark.parametrize("max_connections", [0, -1])
def test_it_refuses_a_pool_without_connections(max_connections):
    with pytest.raises(ValueError):
        SmtpPool("127.0.0.1", 25, max_connections=max_connections)


def test_close_lets_a_batch_in_flight_finish():
    with CaptureServer(delay={"DATA": 0.2}) as server:
        pool = pool_for(server)
        future = pool.submit(messages(2))
        pool.close()
        assert [r.ok for r in future.result(timeout=0)] == [True, True]
        with pytest.raises(RuntimeError):
            pool.submit(messages(1))
