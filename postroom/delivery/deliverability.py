"""Does the DNS of a sender's domains let its mail in? SPF, DKIM, DMARC, MX and PTR, with fixes.

    report = check(sender, from_email="news@example.org")
    report.checks     # [Check("SPF", "ok", found, fix), Check("DKIM", ...), ...]

The domains: the envelope sender's (MAIL FROM, where bounces go) for SPF and MX, the
DKIM signing domain for DKIM, the From address's for DMARC. The sending IPs are the
sender host's A/AAAA records (or the host itself when it is an address): that is
where mail leaves from for a server of your own; a provider's relay may send from
others, so a failing SPF says which IPs it tried. Queries go to
POSTROOM_DNS_NAMESERVERS (default: the system's resolvers), each with a time limit,
so a slow DNS makes the check slow, never stuck.
"""

import ipaddress
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import dns.exception
import dns.name
import dns.resolver
import dns.reversename
from django.conf import settings
from django.utils.translation import gettext

from postroom.campaigns.models import Campaign
from postroom.delivery.models import Sender
from postroom.errors import InvalidInput
from postroom.mail import dkim

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
SPF_LOOKUP_LIMIT = 10  # RFC 7208 4.6.4: more DNS-querying terms than this is a permanent error
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# A relay on one of these talks to the world from another address: its PTR is not the point.
INTERNAL = [
    ipaddress.ip_network(n)
    for n in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
              "::1/128", "fc00::/7", "fe80::/10")
]  # fmt: skip


@dataclass(frozen=True)
class Check:
    name: str  # SPF | DKIM | DMARC | MX | PTR
    status: str  # ok | warn | fail | skip
    found: str  # what DNS said
    fix: str = ""  # what to publish or change; empty when nothing is to do


@dataclass
class Report:
    sender: str
    envelope_domain: str
    from_domain: str
    ips: list[str]
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["ok"] = self.ok
        return data


# --- DNS ---------------------------------------------------------------------------------


def resolver() -> dns.resolver.Resolver:
    servers = settings.POSTROOM_DNS_NAMESERVERS
    if not servers:
        found = dns.resolver.Resolver()
    else:
        found = dns.resolver.Resolver(configure=False)
        found.nameservers = []
        for server in servers:
            host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
            found.nameservers.append(host or server)
            if port:
                found.nameserver_ports[host] = int(port)
    found.lifetime = settings.POSTROOM_DNS_TIMEOUT_SECONDS
    return found


class Dns:
    """Lookups through one resolver; nothing found (NXDOMAIN, no answer) is an empty list."""

    def __init__(self) -> None:
        self.resolver = resolver()

    def query(self, name: str, kind: str) -> list[str]:
        try:
            answer = self.resolver.resolve(name, kind, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            return []
        except (dns.exception.Timeout, dns.name.LabelTooLong, dns.name.EmptyLabel) as exc:
            raise InvalidInput(
                gettext("DNS lookup of %(name)s %(kind)s failed: %(error)s")
                % {"name": name, "kind": kind, "error": exc}
            ) from None
        if kind == "TXT":
            return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
        return [r.to_text() for r in answer]

    def addresses(self, host: str) -> list[Address]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        found = self.query(host, "A") + self.query(host, "AAAA")
        return [ipaddress.ip_address(a) for a in found]


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().strip(">").lower().rstrip(".")


def _aligned(one: str, other: str, strict: bool) -> bool:
    """DMARC alignment; relaxed compares the organisational domains, taken here as the
    last two labels (a public-suffix list would be exact for co.uk and the like)."""
    if strict:
        return one == other
    return one.split(".")[-2:] == other.split(".")[-2:]


def _tags(record: str) -> dict[str, str]:
    tags = {}
    for part in record.split(";"):
        name, _, value = part.partition("=")
        if name.strip():
            tags[name.strip().lower()] = value.strip()
    return tags


# --- SPF (RFC 7208, the parts a sending check needs) -----------------------------------


class SpfError(Exception):
    pass


def spf_record(lookup: Dns, domain: str) -> str | None:
    records = [t for t in lookup.query(domain, "TXT") if t.lower().startswith("v=spf1")]
    if len(records) > 1:
        raise SpfError(f"{domain} publishes {len(records)} SPF records; receivers reject that")
    return records[0] if records else None


def _in(ip: Address, addresses: Iterable[str], cidr: str) -> bool:
    for address in addresses:
        net = ipaddress.ip_network(f"{address}/{cidr}" if cidr else address, strict=False)
        if ip.version == net.version and ip in net:
            return True
    return False


def spf_result(lookup: Dns, ip: Address, domain: str, budget: list[int] | None = None) -> str:
    """pass | fail | softfail | neutral | none for mail from `ip` with MAIL FROM at `domain`."""
    budget = budget if budget is not None else [SPF_LOOKUP_LIMIT]
    record = spf_record(lookup, domain)
    if record is None:
        return "none"
    redirect = None
    for term in record.split()[1:]:
        if "=" in term and ":" not in term.split("=", 1)[0]:
            name, _, value = term.partition("=")
            if name.lower() == "redirect":
                redirect = value
            continue
        qualifier = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}.get(term[0])
        term = term[1:] if qualifier else term
        mechanism, colon, rest = term.partition(":")
        if colon:
            target, _, cidr = rest.partition("/")
        else:
            mechanism, _, cidr = mechanism.partition("/")
            target = ""
        cidr = cidr.split("/")[0]  # a dual CIDR (a/24//64): the IPv4 length
        mechanism = mechanism.lower()
        if mechanism in ("a", "mx", "include", "exists", "ptr"):
            budget[0] -= 1
            if budget[0] < 0:
                raise SpfError(f"{domain}'s SPF needs more than {SPF_LOOKUP_LIMIT} DNS lookups")
        if mechanism == "all":
            matched = True
        elif mechanism in ("ip4", "ip6"):
            matched = _in(ip, [target], cidr)
        elif mechanism == "a":
            names = [target or domain]
            matched = _in(ip, [str(a) for n in names for a in lookup.addresses(n)], cidr)
        elif mechanism == "mx":
            hosts = [mx.split()[-1].rstrip(".") for mx in lookup.query(target or domain, "MX")]
            matched = _in(ip, [str(a) for h in hosts for a in lookup.addresses(h)], cidr)
        elif mechanism == "include":
            matched = spf_result(lookup, ip, target, budget) == "pass"
        else:  # exists, ptr (deprecated) and anything unknown: no match
            matched = False
        if matched:
            return qualifier or "pass"
    if redirect:
        return spf_result(lookup, ip, redirect, budget)
    return "neutral"


def _spf_fix(record: str | None, ips: list[Address], domain: str) -> str:
    terms = " ".join(f"ip{ip.version}:{ip}" for ip in ips)
    if record is None:
        return f'publish TXT at {domain}: "v=spf1 {terms} ~all"'
    parts = record.split()
    tail = [p for p in parts[1:] if p.lstrip("+-~?").lower() == "all" or p.startswith("redirect=")]
    kept = [p for p in parts[1:] if p not in tail]
    suggested = " ".join(["v=spf1", *kept, terms, *(tail or ["~all"])])
    return f'change the TXT at {domain} to "{suggested}" (or include your provider\'s SPF domain)'


def check_spf(lookup: Dns, domain: str, ips: list[Address]) -> Check:
    if not ips:
        return Check("SPF", WARN, "the sender's host has no address to check", "")
    try:
        record = spf_record(lookup, domain)
        results = {str(ip): spf_result(lookup, ip, domain) for ip in ips}
    except SpfError as exc:
        return Check("SPF", FAIL, str(exc), "publish one SPF record within 10 lookups")
    found = record or f"no SPF record at {domain}"
    if all(r == "pass" for r in results.values()):
        return Check("SPF", OK, f"{found} — passes for {', '.join(results)}")
    failing = [ip for ip in ips if results[str(ip)] != "pass"]
    said = ", ".join(f"{ip}: {results[str(ip)]}" for ip in failing)
    return Check("SPF", FAIL, f"{found} — {said}", _spf_fix(record, failing, domain))


# --- the other checks -------------------------------------------------------------------


def check_dkim(lookup: Dns, sender: Sender) -> Check:
    if not sender.dkim_domain:
        return Check(
            "DKIM", WARN, "messages are not signed",
            "postroom sender dkim-keygen FILE, then postroom sender dkim NAME --domain D "
            "--selector S --key-file FILE, and publish the record it prints",
        )  # fmt: skip
    try:
        signer = dkim.signer_for(sender)
    except InvalidInput as exc:
        return Check("DKIM", FAIL, f"cannot sign: {exc}", "fix the key file on the workers")
    assert signer is not None
    name, value = signer.dns_record()
    published = [t for t in lookup.query(name, "TXT") if "p=" in t]
    fix = f'publish TXT at {name}: "{value}"'
    if not published:
        return Check("DKIM", FAIL, f"no DKIM record at {name}", fix)
    ours = _tags(value)["p"]
    if any("".join(_tags(t).get("p", "").split()) == ours for t in published):
        return Check("DKIM", OK, f"{name} holds the public key of {sender.dkim_key_file}")
    if any(_tags(t).get("p", "") == "" for t in published):
        return Check("DKIM", FAIL, f"{name} revokes the key (empty p=)", fix)
    return Check("DKIM", FAIL, f"{name} holds another key than {sender.dkim_key_file}", fix)


def check_dmarc(lookup: Dns, from_domain: str, envelope_domain: str, dkim_domain: str) -> Check:
    name = f"_dmarc.{from_domain}"
    records = [t for t in lookup.query(name, "TXT") if t.lower().startswith("v=dmarc1")]
    if not records:
        return Check(
            "DMARC", FAIL, f"no DMARC record at {name}",
            f'publish TXT at {name}: "v=DMARC1; p=none; rua=mailto:dmarc@{from_domain}" '
            "(then p=quarantine once reports look right)",
        )  # fmt: skip
    tags = _tags(records[0])
    spf_ok = _aligned(envelope_domain, from_domain, tags.get("aspf") == "s")
    dkim_ok = bool(dkim_domain) and _aligned(dkim_domain, from_domain, tags.get("adkim") == "s")
    policy = tags.get("p", "none")
    found = f"{records[0]} (policy {policy})"
    if spf_ok or dkim_ok:
        how = " and ".join(w for w, ok in (("SPF", spf_ok), ("DKIM", dkim_ok)) if ok)
        return Check("DMARC", OK, f"{found}; aligned through {how}")
    return Check(
        "DMARC", FAIL, f"{found}; neither the envelope domain {envelope_domain} nor the DKIM "
        f"domain {dkim_domain or '(none)'} aligns with the From domain {from_domain}",
        f"sign with DKIM for {from_domain}, or send with an envelope sender at {from_domain}",
    )  # fmt: skip


def check_mx(lookup: Dns, domain: str) -> Check:
    mx = lookup.query(domain, "MX")
    if mx:
        return Check("MX", OK, f"bounces to {domain} go to " + ", ".join(sorted(mx)))
    if lookup.addresses(domain):
        return Check(
            "MX", WARN, f"no MX at {domain}; mail goes to its A record",
            f"publish MX at {domain} naming the server that receives its bounces",
        )  # fmt: skip
    return Check(
        "MX", FAIL, f"{domain} receives no mail: bounces to it are lost, and many receivers "
        "refuse a sender domain without MX",
        f"publish MX at {domain} naming the server (or bounce mailbox) that receives them",
    )  # fmt: skip


def check_ptr(lookup: Dns, ips: list[Address]) -> Check:
    """Receivers look the connecting IP up: no PTR, or one that does not resolve back, is
    a common reason to refuse. A loopback or private address is a relay's business."""
    public = [
        ip for ip in ips if not any(ip in net for net in INTERNAL if ip.version == net.version)
    ]
    if not public:
        why = "not known" if not ips else f"not public ({', '.join(map(str, ips))})"
        return Check("PTR", SKIP, f"the sending IP is {why}")
    problems, names = [], []
    for ip in public:
        ptr = lookup.query(dns.reversename.from_address(str(ip)).to_text(), "PTR")
        name = ptr[0].rstrip(".") if ptr else ""
        if not name:
            problems.append(f"{ip} has no PTR")
        elif ip not in lookup.addresses(name):
            problems.append(f"{ip} → {name}, which does not resolve back to {ip}")
        else:
            names.append(f"{ip} → {name}")
    if problems:
        fix = (
            "ask whoever runs the IP (your host or provider) for a PTR naming a host whose"
            " A/AAAA record is that IP"
        )
        return Check("PTR", FAIL, "; ".join(problems + names), fix)
    return Check("PTR", OK, "; ".join(names))


def check(sender: Sender, from_email: str = "") -> Report:
    """Every check for one sender; `from_email` is the campaigns' From (default: the latest
    campaign's through this sender, else POSTROOM_FROM_EMAIL, else the envelope sender)."""
    from_email = from_email or _usual_from(sender)
    envelope = sender.envelope_from or from_email
    if "@" not in envelope:
        raise InvalidInput(
            gettext(
                "sender %(name)s has no envelope sender and no From address to check:"
                " give --from ADDRESS or set its envelope sender"
            )
            % {"name": repr(sender.name)}
        )
    envelope_domain, from_domain = _domain_of(envelope), _domain_of(from_email or envelope)
    lookup = Dns()
    ips = lookup.addresses(sender.host)
    report = Report(sender.name, envelope_domain, from_domain, [str(ip) for ip in ips])
    report.checks = [
        check_spf(lookup, envelope_domain, ips),
        check_dkim(lookup, sender),
        check_dmarc(lookup, from_domain, envelope_domain, sender.dkim_domain),
        check_mx(lookup, envelope_domain),
        check_ptr(lookup, ips),
    ]
    return report


def _usual_from(sender: Sender) -> str:
    latest = Campaign.objects.filter(sender=sender).exclude(from_email="").order_by("-id").first()
    return latest.from_email if latest is not None else settings.POSTROOM_FROM_EMAIL
