"""`postroom worker`, `postroom sender …`, `postroom campaign start|pause|…|resolve|deliveries`."""

import argparse
import getpass
import sys

from postroom.cli import CLI, add_json_flag, emit, whole_number
from postroom.errors import InvalidInput


def register(cli: CLI) -> None:
    p = cli.command("worker", "send campaigns (run any number of these)", worker)
    p.add_argument("--until-idle", action="store_true", help="exit when no campaign has work left")

    p = cli.command("add", "add an SMTP sender", sender_add, group="sender")
    p.add_argument("name")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=whole_number(1, 65535), required=True)
    p.add_argument("--tls", choices=["none", "starttls", "tls"], default="starttls")
    p.add_argument("--user", default="", help="SMTP user name")
    p.add_argument(
        "--password-env", default="", metavar="VAR", help="environment variable with the password"
    )
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin and store it encrypted",
    )
    p.add_argument("--max-connections", type=int, default=4, metavar="N")
    p.add_argument(
        "--rate", action="append", default=[], metavar="N/UNIT", help="e.g. 10/second, 35/hour"
    )
    p.add_argument("--no-verify", action="store_true", help="accept any TLS certificate")
    p.add_argument("--envelope-from", default="", metavar="ADDRESS", help="MAIL FROM / bounces")
    p.add_argument(
        "--verp",
        action="store_true",
        help="a MAIL FROM per recipient (local+token@domain), so bounces match for sure",
    )
    _dkim_arguments(p, "--dkim-")
    add_json_flag(p)

    p = cli.command("list", "list senders", sender_list, group="sender")
    add_json_flag(p)
    p = cli.command(
        "status", "senders' health, limits and current use", sender_status, group="sender"
    )
    add_json_flag(p)
    p = cli.command(
        "test", "test the connection: DNS, connect, TLS, auth", sender_test, group="sender"
    )
    p.add_argument("name")
    add_json_flag(p)
    p = cli.command(
        "check",
        "check the DNS of the sender's domains: SPF, DKIM, DMARC, MX, PTR (exit 1 if one fails)",
        sender_check,
        group="sender",
    )
    p.add_argument("name")
    p.add_argument("--from", dest="from_email", default="", metavar="ADDRESS",
                   help="the campaigns' From address (default: the latest campaign's)")  # fmt: skip
    add_json_flag(p)
    p = cli.command("remove", "delete a sender no campaign uses", sender_remove, group="sender")
    p.add_argument("name")
    p = cli.command(
        "dkim", "show the DKIM DNS record to publish, or set DKIM up", sender_dkim, group="sender"
    )
    p.add_argument("name")
    _dkim_arguments(p, "--")
    p.add_argument("--off", action="store_true", help="stop signing this sender's mail")
    add_json_flag(p)
    p = cli.command(
        "dkim-keygen", "write a new DKIM private key file", sender_dkim_keygen, group="sender"
    )
    p.add_argument("file")
    p.add_argument("--bits", type=int, default=2048)
    add_json_flag(p)

    for name, help_text, handler in (
        ("start", "start sending a campaign", start),
        ("pause", "pause a running campaign", pause),
        ("resume", "resume a paused campaign", resume),
        ("cancel", "cancel a campaign: recipients not yet sent are skipped", cancel),
        ("retry-failed", "queue failed recipients again", retry_failed),
    ):
        p = cli.command(name, help_text, handler, group="campaign")
        p.add_argument("id")
        p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        p.add_argument("--reason", default="", metavar="TEXT")
        if name == "retry-failed":
            p.add_argument(
                "--in-doubt", action="store_true", help="also re-send recipients in doubt"
            )
        add_json_flag(p)

    p = cli.command(
        "resolve",
        "settle recipients in doubt: mark them delivered, or send them again",
        resolve,
        group="campaign",
    )
    p.add_argument("id")
    outcome = p.add_mutually_exclusive_group(required=True)
    outcome.add_argument(
        "--delivered", action="store_true", help="the server did accept them: never resend"
    )
    outcome.add_argument(
        "--resend", action="store_true", help="send them again (some may get a second copy)"
    )
    p.add_argument(
        "--email",
        action="append",
        default=None,
        metavar="ADDRESS",
        help="only this recipient (repeat for more); default: every recipient in doubt",
    )
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_json_flag(p)

    p = cli.command("status", "a campaign's progress", status, group="campaign")
    p.add_argument("id")
    add_json_flag(p)

    p = cli.command(
        "deliveries", "the ledger: one line per recipient", deliveries, group="campaign"
    )
    p.add_argument("id")
    p.add_argument(
        "--state",
        choices=["pending", "sending", "sent", "retry", "failed", "skipped", "in_doubt"],
        default="",
    )
    p.add_argument("--search", default="", metavar="TEXT")
    p.add_argument("--csv", action="store_true", help="CSV with a header line")


# -- worker -----------------------------------------------------------------


def worker(args: argparse.Namespace) -> int:
    from postroom.delivery.worker import DeliveryWorker

    w = DeliveryWorker()
    print(f"postroom worker {w.id} started", file=sys.stderr, flush=True)
    w.run(until_idle=args.until_idle)
    print(f"postroom worker {w.id} stopped after {w.sent} messages", file=sys.stderr, flush=True)
    return 0


# -- senders ----------------------------------------------------------------


def sender_add(args: argparse.Namespace) -> None:
    from postroom.delivery import senders

    password = ""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InvalidInput("--password-stdin read an empty line; nothing was added")
    sender = senders.create_sender(
        password=password,
        rates=args.rate,
        name=args.name,
        host=args.host,
        port=args.port,
        tls=args.tls,
        username=args.user,
        password_env=args.password_env,
        max_connections=args.max_connections,
        verify_certificate=not args.no_verify,
        envelope_from=args.envelope_from,
        verp=args.verp,
        dkim_domain=args.dkim_domain,
        dkim_selector=args.dkim_selector,
        dkim_key_file=args.dkim_key_file,
    )
    info = senders.describe(sender)
    emit(args, info, f"sender {sender.name!r} added (id {sender.pk})")


def sender_list(args: argparse.Namespace) -> None:
    from postroom.delivery import senders, waiting
    from postroom.delivery.models import Sender

    data = [senders.describe(s) for s in Sender.objects.all()]

    def text() -> str:
        if not data:
            return "no senders: mail goes to the local outbox"
        return "\n".join(
            f"{s['name']:<20} {s['host']}:{s['port']} tls={s['tls']}"
            f" {', '.join(s['rates']) or 'no limit'}"
            + ("" if s["healthy"] else f"  {waiting.waiting_text(s['waiting'])}")
            for s in data
        )

    emit(args, data, text)


def sender_status(args: argparse.Namespace) -> None:
    from postroom.delivery import senders, waiting
    from postroom.delivery.capacity import sender_report
    from postroom.delivery.models import Sender

    data = []
    for sender in Sender.objects.all():
        info = senders.describe(sender)
        info.update(sender_report(sender))
        data.append(info)

    def text() -> str:
        lines = []
        for s in data:
            state = "ok" if s["healthy"] else waiting.waiting_text(s["waiting"])
            lines.append(f"{s['name']}: {s['host']}:{s['port']} — {state}")
            for key, value in s.items():
                if key not in ("name", "host", "port", "healthy", "last_error", "id", "waiting"):
                    lines.append(f"  {key}: {value}")
        return "\n".join(lines) or "no senders: mail goes to the local outbox"

    emit(args, data, text)


def sender_test(args: argparse.Namespace) -> int:
    from postroom.delivery import senders

    report = senders.test_sender(senders.get_sender(args.name))
    data = {"ok": report.ok, "step": report.step, "message": report.message}
    if report.ok:
        emit(args, data, f"ok: {report.message} ({report.seconds:.2f} s)")
        return 0
    if args.json:
        emit(args, data, "")
    else:
        print(f"postroom: {report.step} failed: {report.message}", file=sys.stderr)
    return 1


MARKS = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "skip": "skip"}


def sender_check(args: argparse.Namespace) -> int:
    from postroom.delivery import deliverability, senders

    report = deliverability.check(senders.get_sender(args.name), args.from_email)

    def text() -> str:
        lines = [
            f"sender {report.sender!r}: envelope domain {report.envelope_domain}, From domain "
            f"{report.from_domain}, sending IPs {', '.join(report.ips) or 'unknown'}"
        ]
        for c in report.checks:
            lines.append(f"{MARKS[c.status]}  {c.name:<6} {c.found}")
            if c.fix:
                lines.append(f"            fix: {c.fix}")
        return "\n".join(lines)

    emit(args, report.as_dict(), text)
    return 0 if report.ok else 1


def sender_remove(args: argparse.Namespace) -> None:
    from postroom.delivery import senders

    sender = senders.get_sender(args.name)
    senders.delete_sender(sender)
    print(f"sender {args.name!r} removed")


def _dkim_arguments(p: argparse.ArgumentParser, prefix: str) -> None:
    p.add_argument(
        f"{prefix}domain", dest="dkim_domain", default="", help="DKIM d=, e.g. the From domain"
    )
    p.add_argument(f"{prefix}selector", dest="dkim_selector", default="", help="DKIM s=")
    p.add_argument(
        f"{prefix}key-file", dest="dkim_key_file", default="", metavar="FILE",
        help="PEM private key (see `sender dkim-keygen`)",
    )  # fmt: skip


def sender_dkim(args: argparse.Namespace) -> None:
    from postroom.delivery import senders
    from postroom.mail import dkim

    sender = senders.get_sender(args.name)
    if args.off:
        senders.update_sender(sender, dkim_domain="", dkim_selector="", dkim_key_file="")
        emit(args, {"dkim": False}, f"sender {sender.name!r}: DKIM signing off")
        return
    changes = {
        key: getattr(args, key)
        for key in ("dkim_domain", "dkim_selector", "dkim_key_file")
        if getattr(args, key)
    }
    if changes:
        senders.update_sender(sender, **changes)
    signer = dkim.signer_for(sender)
    if signer is None:
        raise InvalidInput(
            f"sender {sender.name!r} does not sign with DKIM;"
            " set it up with --domain D --selector S --key-file F"
        )
    name, value = signer.dns_record()
    data = {"name": name, "type": "TXT", "value": value, "key_file": sender.dkim_key_file}
    emit(
        args,
        data,
        f"Publish this DNS record, then mail from {sender.name!r} is signed for {signer.domain}:\n"
        f"{name}. IN TXT {dkim.txt_strings(value)}",
    )


def sender_dkim_keygen(args: argparse.Namespace) -> None:
    from postroom.mail import dkim

    key = dkim.generate_key_file(args.file, args.bits)
    value = dkim.public_key_record(key)
    emit(
        args,
        {"file": args.file, "bits": args.bits, "value": value},
        f"wrote a {args.bits}-bit private key to {args.file} (keep it secret)\n"
        f"public key TXT value: {value}\n"
        f"next: postroom sender dkim SENDER --domain D --selector S --key-file {args.file}",
    )


# -- campaign control -------------------------------------------------------


def _campaign(args: argparse.Namespace):
    from postroom.campaigns.services import get_campaign

    return get_campaign(args.id)


def _confirm(args: argparse.Namespace, question: str) -> None:
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise InvalidInput(f"{question} — add --yes to confirm without a terminal")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise InvalidInput("nothing changed")


def start(args: argparse.Namespace) -> None:
    campaign = _campaign(args)
    if not args.yes:
        from postroom.delivery.precheck import precheck, summary_text

        summary = precheck(campaign)  # the pre-send check: counts, waste, duration
        print(summary_text(summary))
        count = summary["recipients"]
        through = campaign.sender.name if campaign.sender else "the local outbox"
        _confirm(args, f"Send {campaign.name!r} to {count} recipients through {through}?")
    from postroom.delivery import control

    count = control.start(campaign)
    emit(
        args,
        {"id": campaign.pk, "status": campaign.status, "recipients": count},
        f"campaign {campaign.pk} {campaign.status}: {count} recipients"
        + ("" if count == 0 else "; `postroom worker` sends it"),
    )


def pause(args: argparse.Namespace) -> None:
    from postroom.delivery import control

    campaign = _campaign(args)
    control.pause(campaign, args.reason)
    emit(args, {"id": campaign.pk, "status": campaign.status}, f"campaign {campaign.pk} paused")


def resume(args: argparse.Namespace) -> None:
    from postroom.delivery import control

    campaign = _campaign(args)
    control.resume(campaign)
    emit(args, {"id": campaign.pk, "status": campaign.status}, f"campaign {campaign.pk} resumed")


def cancel(args: argparse.Namespace) -> None:
    from postroom.delivery import control

    campaign = _campaign(args)
    _confirm(args, f"Cancel {campaign.name!r}? Recipients not yet sent will be skipped")
    skipped = control.cancel(campaign, args.reason)
    emit(
        args,
        {"id": campaign.pk, "status": campaign.status, "skipped": skipped},
        f"campaign {campaign.pk} cancelled; {skipped} recipients skipped",
    )


def retry_failed(args: argparse.Namespace) -> None:
    from postroom.delivery import control

    campaign = _campaign(args)
    count = control.retry_failed(campaign, args.reason, in_doubt=args.in_doubt)
    campaign.refresh_from_db()
    emit(
        args,
        {"id": campaign.pk, "status": campaign.status, "requeued": count},
        f"{count} recipients queued again; campaign {campaign.pk} is {campaign.status}",
    )


def resolve(args: argparse.Namespace) -> None:
    from postroom.delivery import doubt

    campaign = _campaign(args)
    if args.email is None:  # all of them: as destructive as a cancel, so confirmed the same way
        count = doubt.rows_in_doubt(campaign).count()
        if count == 0:
            raise InvalidInput(f"nothing is in doubt in campaign {campaign.pk}")
        _confirm(
            args,
            f"Mark all {count} recipients in doubt in {campaign.name!r} as delivered?"
            if args.delivered
            else f"Send all {count} recipients in doubt in {campaign.name!r} again?",
        )
    count = doubt.resolve(campaign, args.delivered, emails=args.email, by=_operator())
    campaign.refresh_from_db()
    outcome = "delivered" if args.delivered else "resend"
    after = ""
    if args.resend and campaign.status == campaign.Status.PAUSED:
        after = " (paused: they go out once it is resumed)"
    emit(
        args,
        {"id": campaign.pk, "status": campaign.status, "outcome": outcome, "resolved": count},
        f"{count} recipient{'s' if count != 1 else ''} in doubt"
        f" {'marked delivered' if args.delivered else 'queued again'};"
        f" campaign {campaign.pk} is {campaign.status}{after}",
    )


def _operator() -> str:
    """Who to name in the note: the account running the command."""
    try:
        return f"{getpass.getuser()} (command line)"
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return "the command line"


def status(args: argparse.Namespace) -> None:
    from postroom.delivery import progress, sendwindows, waiting
    from postroom.delivery.autopause import thresholds_text

    campaign = _campaign(args)
    data = progress.summary(campaign)

    def text() -> str:
        c = data["counts"]
        lines = [
            f"campaign {campaign.pk} {campaign.name!r}: {data['status']}"
            + (f" ({data['status_reason']})" if data["status_reason"] else ""),
            f"  {c['sent']} sent, {c['pending']} pending, {c['failed']} failed,"
            f" {c['skipped']} skipped, {c['in_doubt']} in doubt (of {data['total']})",
            f"  rate: {data['rate']}/s" + (f", ETA {data['eta']}" if data["eta"] else ""),
        ]
        if data["waiting"]:
            lines.append(f"  {waiting.waiting_text(data['waiting'])}")
        if data["window"]:
            window = data["window"]
            lines.append(
                f"  {sendwindows.waiting_text(window)}"
                if window["waiting"]
                else f"  send window: {window['description']}"
            )
        if data["stalled"]:
            lines.append(f"  STALLED: {data['stalled']}")
        threshold = data["error_threshold"]
        lines.append(
            "  pauses itself when "
            + thresholds_text(threshold["percent"], threshold["window"])
            + " fail permanently"
        )
        return "\n".join(lines)

    emit(args, data, text)


def deliveries(args: argparse.Namespace) -> None:
    from postroom.delivery import export

    campaign = _campaign(args)
    if args.csv:
        for line in export.csv_lines(campaign.pk, args.state, args.search):
            sys.stdout.write(line)
        return
    for row in export.rows(campaign.pk, args.state, args.search):
        email, state, sent_at, attempts, sender, reply, _, error, updated_at = row
        # A sent row's error is empty unless an operator marked it delivered: then the note.
        detail = error or reply
        print(f"{email}\t{state}\t{sent_at or updated_at}\t{attempts}\t{sender}\t{detail}")
