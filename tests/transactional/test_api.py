"""POST /api/tx and GET /api/tx/{id} over HTTP against the running server, sent by a
worker through a real SMTP server."""

import base64
import email
import threading
from email import policy

import pytest

from postroom.accounts.models import Role
from postroom.audience.emails import email_hash
from postroom.audience.models import Subscriber, Suppression
from postroom.delivery.models import Delivery
from postroom.transactional.models import TxMessage, TxTemplate
from tests.delivery.helpers import run_until_idle, smtp_sender
from tests.transactional.helpers import basic, bearer

pytestmark = pytest.mark.django_db(transaction=True)


def parsed(received) -> email.message.EmailMessage:
    return email.message_from_bytes(received.data, policy=policy.default)


def test_it_queues_a_message_sends_it_and_tells_the_servers_reply(live_server, owner, smtp):
    smtp_sender(smtp)
    api = bearer(live_server.url, owner)
    code, accepted = api.post(
        "/api/tx",
        {
            "to": "Ada Lovelace <ada@example.net>",
            "subject": "Your order {{ data.order }}",
            "body": "Thanks **{{ data.name }}**, order {{ data.order }} is on its way.",
            "data": {"order": "A-17", "name": "Ada"},
            "from": "Shop <shop@example.org>",
        },
    )
    assert code == 202 and accepted["status"] == "queued" and accepted["ids"] == [accepted["id"]]
    assert api.get(f"/api/tx/{accepted['id']}")[1]["status"] == "queued"

    run_until_idle()

    code, status = api.get(f"/api/tx/{accepted['id']}")
    assert code == 200 and status["status"] == "sent"
    assert status["reply"].startswith("250") and status["sent_at"] and status["sender"] == "relay"
    [received] = smtp.wait_for(1)
    message = parsed(received)
    assert received.rcpt_to == ["ada@example.net"]
    assert message["Subject"] == "Your order A-17"
    assert message["From"] == "Shop <shop@example.org>"
    assert message["To"] == "Ada Lovelace <ada@example.net>"
    assert message["Message-ID"] == status["message_id"]
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["List-Unsubscribe"] is None  # a receipt is not bulk mail
    assert "<strong>Ada</strong>" in message.get_body(("html",)).get_content()
    assert "order A-17 is on its way" in message.get_body(("plain",)).get_content()


def test_it_takes_listmonks_shape_with_basic_auth_a_numeric_template_and_headers(
    live_server, owner, smtp
):
    smtp_sender(smtp)
    Subscriber.objects.create(email="bob@example.net", email_hash=email_hash("bob@example.net"),
                              name="Bob Stone")  # fmt: skip
    template = TxTemplate.objects.create(
        name="password-reset",
        subject="Reset your password, {{ subscriber.first_name or 'friend' }}",
        body="<p>Use code <b>{{ data.code }}</b>.</p>",
        body_format="html",
        from_email="accounts@example.org",
    )
    client = basic(live_server.url, owner)
    code, accepted = client.post(
        "/api/tx",
        {
            "subscriber_emails": ["bob@example.net", "carol@example.net"],
            "template_id": template.pk,
            "data": {"code": "993 114"},
            "headers": [{"X-Shop-Order": "A-18"}],
            "messenger": "email",
        },
    )
    assert code == 202 and accepted["data"] is True and len(accepted["ids"]) == 2

    run_until_idle()

    by_rcpt = {r.rcpt_to[0]: parsed(r) for r in smtp.wait_for(2)}
    assert by_rcpt["bob@example.net"]["Subject"] == "Reset your password, Bob"
    assert by_rcpt["carol@example.net"]["Subject"] == "Reset your password, friend"
    for message in by_rcpt.values():
        assert message["X-Shop-Order"] == "A-18"
        assert message["From"] == "accounts@example.org"
        assert "<b>993 114</b>" in message.get_body(("html",)).get_content()
    assert set(TxMessage.objects.values_list("source", flat=True)) == {"listmonk"}


def test_the_same_idempotency_key_never_sends_twice(live_server, owner, smtp):
    smtp_sender(smtp)
    api = bearer(live_server.url, owner)
    payload = {"to": "ada@example.net", "subject": "Receipt", "body": "Thanks.",
               "from": "shop@example.org", "idempotency_key": "order-17"}  # fmt: skip
    first = api.post("/api/tx", payload)
    again = api.post("/api/tx", payload)
    other = api.post("/api/tx", {**payload, "body": "Something else."})

    assert first[0] == 202 and first[1]["duplicate"] is False, first
    assert again[0] == 200 and again[1]["duplicate"] is True and again[1]["id"] == first[1]["id"]
    assert other[0] == 409 and "order-17" in other[1]["detail"]
    run_until_idle()
    assert len(smtp.wait_for(1)) == 1
    assert api.post("/api/tx", payload)[1]["id"] == first[1]["id"]  # also once it was sent
    run_until_idle()
    assert len(smtp.messages) == 1


def test_racing_requests_with_one_key_queue_one_message(live_server, owner):
    api = bearer(live_server.url, owner)
    payload = {"to": "ada@example.net", "subject": "Receipt", "body": "Thanks.",
               "idempotency_key": "race-1"}  # fmt: skip
    answers = []
    start = threading.Barrier(8)

    def post():
        start.wait()
        answers.append(api.post("/api/tx", payload))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(code for code, _ in answers).count(202) == 1
    assert {code for code, _ in answers} <= {200, 202}
    assert len({body["id"] for _, body in answers}) == 1
    assert TxMessage.objects.count() == 1 and Delivery.objects.count() == 1


def test_attachments_arrive_from_base64_json_and_from_a_listmonk_multipart_post(
    live_server, owner, smtp, settings
):
    settings.POSTROOM_FROM_EMAIL = "shop@example.org"
    smtp_sender(smtp)
    api = bearer(live_server.url, owner)
    pdf = b"%PDF-1.4 invoice\x00\x01\x02"
    code, _ = api.post(
        "/api/tx",
        {
            "to": "ada@example.net", "subject": "Invoice", "body": "Attached.",
            "attachments": [{"filename": "invoice.pdf",
                             "content": base64.b64encode(pdf).decode()}],
        },
    )  # fmt: skip
    assert code == 202
    code, _ = api.multipart(
        "/api/tx",
        {"data": '{"subscriber_email": "bob@example.net", "subject": "Log", "body": "See file."}'},
        {"file": ("log.txt", b"line one\nline two\n")},
    )
    assert code == 202

    run_until_idle()

    by_rcpt = {r.rcpt_to[0]: parsed(r) for r in smtp.wait_for(2)}
    [invoice] = list(by_rcpt["ada@example.net"].iter_attachments())
    assert invoice.get_filename() == "invoice.pdf"
    assert invoice.get_content_type() == "application/pdf"
    assert invoice.get_content() == pdf
    [log] = list(by_rcpt["bob@example.net"].iter_attachments())
    assert (log.get_filename(), log.get_content()) == ("log.txt", b"line one\nline two\n")


@pytest.mark.parametrize(
    ("payload", "code", "says"),
    [
        ({"to": "ada@example.net;Ada", "subject": "S", "body": "B"}, 400, "not valid"),
        ({"to": "ada@example.net", "subject": "S", "body": "{{ data.x "}, 400, "body, line 1"),
        ({"to": "ada@example.net", "subject": "S", "body": "{{ secrets }}"}, 400, "secrets"),
        ({"to": "ada@example.net", "template_id": 999}, 404, "no transactional template"),
        ({"to": "ada@example.net", "template": "nope"}, 404, "no transactional template"),
        ({"to": "ada@example.net"}, 400, "give `subject` and `body`"),
        ({"subject": "S", "body": "B"}, 400, "give a recipient"),
        (
            {
                "to": "ada@example.net",
                "subject": "S",
                "body": "B",
                "headers": {"Bcc": "eve@example.net"},
            },
            400,
            "set by Postroom",
        ),
        ({"to": "ada@example.net", "subject": "S", "body": "B", "sender": "x"}, 400, "no sender"),
        ({"to": 5, "subject": "S", "body": "B"}, 422, "to"),
        (
            {
                "to": "ada@example.net",
                "subject": "S",
                "body": "B",
                "attachments": [{"filename": "a.pdf", "content": "%%%"}],
            },
            400,
            "not base64",
        ),
    ],
)
def test_bad_input_gets_a_clear_answer_and_queues_nothing(live_server, owner, payload, code, says):
    answer, body = bearer(live_server.url, owner).post("/api/tx", payload)
    assert answer == code, body
    assert says in body["detail"]
    assert not TxMessage.objects.exists() and not Delivery.objects.exists()


def test_a_receipt_goes_to_an_unsubscribed_address_but_not_to_a_bounced_one(
    live_server, owner, smtp
):
    smtp_sender(smtp, envelope_from="bounces@example.org")
    for address, reason in (("left@example.net", "unsubscribed"), ("gone@example.net", "bounced")):
        Suppression.objects.create(email_hash=email_hash(address), reason=reason)
    api = bearer(live_server.url, owner)
    ids = {}
    for address in ("left@example.net", "gone@example.net"):
        code, body = api.post("/api/tx", {"to": address, "subject": "Receipt", "body": "Thanks."})
        assert code == 202
        ids[address] = body["id"]

    run_until_idle()

    assert [r.rcpt_to for r in smtp.wait_for(1)] == [["left@example.net"]]
    assert api.get(f"/api/tx/{ids['left@example.net']}")[1]["status"] == "sent"
    gone = api.get(f"/api/tx/{ids['gone@example.net']}")[1]
    assert gone["status"] == "failed" and "the address bounced" in gone["error"]


def test_a_refusal_by_the_server_is_failed_with_its_reply(live_server, owner):
    with CaptureRefusing() as smtp:
        smtp_sender(smtp, envelope_from="bounces@example.org")
        api = bearer(live_server.url, owner)
        _, body = api.post("/api/tx", {"to": "nobody@example.net", "subject": "S", "body": "B"})
        run_until_idle()
        status = api.get(f"/api/tx/{body['id']}")[1]
    assert status["status"] == "failed" and "550" in status["reply"]


def CaptureRefusing():
    from postroom.testing.smtpserver import CaptureServer

    return CaptureServer(rcpt_reply={"nobody@example.net": "550 5.1.1 no such user"})


def test_a_viewer_may_read_but_not_send_and_a_wrong_token_is_401(live_server, make_user, owner):
    viewer = bearer(live_server.url, make_user("vera", Role.VIEWER))
    code, body = viewer.post("/api/tx", {"to": "ada@example.net", "subject": "S", "body": "B"})
    assert code == 403 and "Editor" in body["detail"]
    assert not TxMessage.objects.exists()
    editor = bearer(live_server.url, make_user("ed", Role.EDITOR))
    code, body = editor.post("/api/tx", {"to": "ada@example.net", "subject": "S", "body": "B"})
    assert code == 202
    assert viewer.get(f"/api/tx/{body['id']}")[0] == 200
    assert viewer.get("/api/tx?status=queued")[1]["items"][0]["id"] == body["id"]
    forged = bearer(live_server.url, owner)
    forged.authorization = "Bearer pr_forged"
    assert forged.post("/api/tx", {"to": "a@example.net", "subject": "S", "body": "B"})[0] == 401
    assert viewer.get("/api/tx/999999")[0] == 404
