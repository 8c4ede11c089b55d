"""The summary shown before a campaign starts: who gets it, what would be wasted, how long.

`precheck(campaign)` counts the recipients the ledger would hold (the same
query), what de-duplication and suppression removed, the addresses whose
domain cannot receive mail (they would only burn the sender's quota), the time
the send takes at the sender's limits next to the campaigns already sharing
it, and any template problem. It changes nothing. No DNS lookups: Postroom must
work offline, so "cannot receive" means domains reserved by RFC 2606/6761 and
domains that are not valid names; a real MX check is left to the provider's
bounces.
"""

import time
from datetime import UTC, datetime

from email_validator import EmailNotValidError, validate_email

from postroom.audience.models import Subscriber, Subscription
from postroom.campaigns.services import check
from postroom.delivery import eta, ratelimit
from postroom.delivery.ledger import recipients_queryset
from postroom.errors import PostroomError

# Names that can never receive mail from the internet (RFC 2606, RFC 6761, RFC 6762).
RESERVED_DOMAINS = {"example.com", "example.net", "example.org", "example"}
RESERVED_SUFFIXES = (".example", ".test", ".invalid", ".localhost", ".local")


def domain_problem(domain: str) -> str:
    """Why mail to this domain cannot be delivered, or "" when nothing is known against it."""
    domain = domain.lower().rstrip(".")
    if domain in RESERVED_DOMAINS or domain.endswith(tuple("." + d for d in RESERVED_DOMAINS)):
        return "reserved example domain (RFC 2606)"
    if domain in ("test", "invalid", "localhost", "local") or domain.endswith(RESERVED_SUFFIXES):
        return "reserved name that cannot receive mail (RFC 6761)"
    if "." not in domain:
        return "no top-level domain"
    try:
        validate_email(f"postmaster@{domain}", check_deliverability=False)
    except EmailNotValidError as exc:
        return f"invalid domain: {exc}"
    return ""


def undeliverable(emails) -> list[dict]:
    """Addresses grouped by a domain that cannot receive mail: [{domain, count, reason}]."""
    per_domain: dict[str, int] = {}
    for email in emails:
        domain = email.rpartition("@")[2]
        per_domain[domain] = per_domain.get(domain, 0) + 1
    found = []
    for domain, count in per_domain.items():
        reason = domain_problem(domain)
        if reason:
            found.append({"domain": domain, "count": count, "reason": reason})
    return sorted(found, key=lambda row: (-row["count"], row["domain"]))


def _audience(campaign) -> dict:
    recipients = recipients_queryset(campaign)
    mailable = recipients.count()
    lists = list(campaign.lists.all())
    if not lists:
        return {"recipients": mailable, "subscriptions": None, "duplicates": 0, "excluded": None}
    subscriptions = Subscription.objects.filter(mailing_list__in=lists)
    distinct = Subscriber.objects.filter(subscriptions__mailing_list__in=lists).distinct().count()
    return {
        "recipients": mailable,
        "subscriptions": subscriptions.count(),
        # Subscribers on several of the lists get the campaign once.
        "duplicates": subscriptions.count() - distinct,
        # Unsubscribed, unconfirmed (double opt-in), blocklisted, suppressed, outside the segment.
        "excluded": distinct - mailable,
    }


def precheck(campaign, now: float | None = None) -> dict:
    """Everything to confirm before starting; nothing is changed."""

    now = time.time() if now is None else now
    data = _audience(campaign)
    emails = recipients_queryset(campaign).values_list("email", flat=True).iterator(2000)
    bad = undeliverable(emails)
    data["undeliverable"] = sum(row["count"] for row in bad)
    data["undeliverable_domains"] = bad[:20]
    data["dns_checked"] = False

    to_send = data["recipients"] - data["undeliverable"]
    windows = ratelimit.windows_for(campaign.sender_id)
    data["sender"] = campaign.sender.name if campaign.sender_id else "local outbox"
    data["limits"] = [ratelimit.format_rate(c, s) for c, s in windows]
    data["sharing_with"] = len(
        [
            c
            for c, (b, _) in eta.backlogs_on(campaign.sender_id).items()
            if b > 0 and c != campaign.pk
        ]
    )
    seconds = (
        eta.estimate(
            campaign.sender_id, data["recipients"], campaign.priority or 1, campaign.pk, now
        )
        if data["recipients"]
        else 0.0
    )
    data["duration_seconds"] = None if seconds is None else round(seconds)
    data["finish_at"] = (
        None if seconds is None else datetime.fromtimestamp(now + seconds, tz=UTC).isoformat()
    )
    data["duration_text"] = describe_duration(seconds)
    data["deliverable"] = to_send

    try:
        check(campaign)
        data["template_problems"] = []
    except PostroomError as exc:
        problems = getattr(exc, "problems", None)
        data["template_problems"] = [str(p) for p in problems] if problems else [str(exc)]
    data["ok"] = not data["template_problems"] and data["recipients"] > 0
    return data


def describe_duration(seconds: float | None) -> str:
    if seconds is None:
        return "as fast as the server accepts (no rate limit)"
    if seconds < 90:
        return f"about {seconds:.0f} seconds"
    if seconds < 90 * 60:
        return f"about {seconds / 60:.0f} minutes"
    if seconds < 72 * 3600:
        return f"about {seconds / 3600:.1f} hours"
    return f"about {seconds / 86400:.1f} days"


def summary_text(data: dict) -> str:
    """The precheck in plain lines, for `campaign start` and logs."""
    lines = [f"Recipients: {data['recipients']:,}"]
    if data.get("subscriptions") is not None:
        lines.append(
            f"  from {data['subscriptions']:,} subscriptions: {data['duplicates']:,} duplicates "
            f"removed, {data['excluded']:,} unsubscribed, unconfirmed, blocklisted or suppressed"
        )
    if data["undeliverable"]:
        lines.append(
            f"Cannot be delivered: {data['undeliverable']:,} (they would waste the sender's quota)"
        )
        for row in data["undeliverable_domains"][:5]:
            lines.append(f"  {row['count']:,} at {row['domain']}: {row['reason']}")
    limits = ", ".join(data["limits"]) or "no limit"
    sharing = (
        f", shared with {data['sharing_with']} running campaign(s)" if data["sharing_with"] else ""
    )
    lines.append(f"Sender: {data['sender']} ({limits}{sharing})")
    lines.append(f"Duration: {describe_duration(data['duration_seconds'])}")
    if data["finish_at"] and data["duration_seconds"]:
        finish = datetime.fromisoformat(data["finish_at"]).astimezone()
        lines.append(f"Expected to finish: {finish:%a %d %b %Y %H:%M %Z}")
    for problem in data["template_problems"]:
        lines.append(f"Template problem: {problem}")
    return "\n".join(lines)
