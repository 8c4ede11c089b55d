"""Deliverability checks against a real DNS server the test starts (dnslib on a UDP port)."""

import json

import pytest

from postroom.delivery import deliverability
from postroom.delivery.deliverability import FAIL, OK, SKIP
from postroom.delivery.models import Sender
from postroom.errors import InvalidInput
from postroom.mail import dkim
from postroom.testing.dnsserver import DnsServer, _free_udp_port

GOOD = """
relay.example.org.            300 IN A   192.0.2.25
example.org.                  300 IN TXT "v=spf1 include:_spf.example.org -all"
_spf.example.org.             300 IN TXT "v=spf1 ip4:192.0.2.0/24 ~all"
example.org.                  300 IN MX  10 mx.example.org.
mx.example.org.               300 IN A   192.0.2.30
_dmarc.example.org.           300 IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.org"
25.2.0.192.in-addr.arpa.      300 IN PTR relay.example.org.
"""
BROKEN = """
relay.broken.example.         300 IN A   192.0.2.26
26.2.0.192.in-addr.arpa.      300 IN PTR somewhere.else.example.
somewhere.else.example.       300 IN A   192.0.2.99
"""


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "dkim.pem"
    dkim.generate_key_file(str(path), 1024)
    return str(path)


def zone_with_dkim(key_file: str, selector: str = "pr1") -> str:
    value = dkim.public_key_record(dkim.load_private_key(key_file))
    return f"{selector}._domainkey.example.org. 300 IN TXT {dkim.txt_strings(value)}\n"


@pytest.fixture
def dns_server(settings, key_file):
    zone = GOOD + BROKEN + zone_with_dkim(key_file)
    with DnsServer(zone) as server:
        settings.POSTROOM_DNS_NAMESERVERS = [server.address]
        settings.POSTROOM_DNS_TIMEOUT_SECONDS = 5
        yield server


@pytest.fixture
def good(db, key_file):
    return Sender.objects.create(
        name="main", host="relay.example.org", envelope_from="bounces@example.org",
        dkim_domain="example.org", dkim_selector="pr1", dkim_key_file=key_file,
    )  # fmt: skip


def by_name(report) -> dict:
    return {c.name: c for c in report.checks}


def test_a_sender_whose_dns_is_right_passes_every_check(dns_server, good):
    report = deliverability.check(good, "news@example.org")

    checks = by_name(report)
    assert {name: c.status for name, c in checks.items()} == {
        "SPF": OK, "DKIM": OK, "DMARC": OK, "MX": OK, "PTR": OK,
    }  # fmt: skip
    assert "passes for 192.0.2.25" in checks["SPF"].found  # through the include
    assert "aligned through SPF and DKIM" in checks["DMARC"].found
    assert "10 mx.example.org." in checks["MX"].found
    assert "192.0.2.25 → relay.example.org" in checks["PTR"].found
    assert report.ok and report.ips == ["192.0.2.25"]


def test_a_sender_whose_dns_is_wrong_fails_each_check_with_its_fix(dns_server, db, key_file):
    other_key = key_file.replace("dkim.pem", "other.pem")
    dkim.generate_key_file(other_key, 1024)
    sender = Sender.objects.create(
        name="broken", host="relay.broken.example", envelope_from="bounces@broken.example",
        dkim_domain="example.org", dkim_selector="pr1", dkim_key_file=other_key,
    )  # fmt: skip

    report = deliverability.check(sender, "news@broken.example")

    checks = by_name(report)
    assert all(c.status == FAIL for c in checks.values()), checks
    assert checks["SPF"].fix == 'publish TXT at broken.example: "v=spf1 ip4:192.0.2.26 ~all"'
    assert "holds another key" in checks["DKIM"].found
    assert dkim.public_key_record(dkim.load_private_key(other_key)) in checks["DKIM"].fix
    assert checks["DMARC"].fix.startswith('publish TXT at _dmarc.broken.example: "v=DMARC1;')
    assert "receives no mail" in checks["MX"].found
    assert "does not resolve back" in checks["PTR"].found
    assert not report.ok


def test_an_spf_record_that_leaves_the_ip_out_suggests_adding_it(dns_server, db, settings):
    sender = Sender.objects.create(name="s", host="198.51.100.7", envelope_from="b@example.org")

    spf = by_name(deliverability.check(sender, "news@example.org"))["SPF"]

    assert spf.status == FAIL and "198.51.100.7: fail" in spf.found
    assert 'include:_spf.example.org ip4:198.51.100.7 -all"' in spf.fix


def test_unsigned_mail_is_a_warning_and_dmarc_then_needs_spf_alignment(dns_server, db):
    sender = Sender.objects.create(
        name="s", host="relay.example.org", envelope_from="b@example.org"
    )

    checks = by_name(deliverability.check(sender, "news@mail.example.org"))

    assert checks["DKIM"].status == "warn" and "dkim-keygen" in checks["DKIM"].fix
    assert checks["DMARC"].status == FAIL  # no _dmarc.mail.example.org record


def test_a_strict_dmarc_policy_needs_the_exact_domain(db, settings, key_file):
    strict = '_dmarc.example.org. 300 IN TXT "v=DMARC1; p=reject; aspf=s; adkim=s"'
    zone = "\n".join(
        strict if line.startswith("_dmarc.example.org.") else line for line in GOOD.splitlines()
    )
    zone += "\n" + zone_with_dkim(key_file)
    sender = Sender.objects.create(
        name="s", host="relay.example.org", envelope_from="b@bounce.example.org",
        dkim_domain="example.org", dkim_selector="pr1", dkim_key_file=key_file,
    )  # fmt: skip
    with DnsServer(zone) as server:
        settings.POSTROOM_DNS_NAMESERVERS = [server.address]
        signed = by_name(deliverability.check(sender, "news@example.org"))["DMARC"]
        sender.dkim_domain = ""
        unsigned = by_name(deliverability.check(sender, "news@example.org"))["DMARC"]

    # DKIM's d=example.org is exactly the From domain; the envelope's bounce.example.org
    # would align only under a relaxed policy.
    assert signed.status == OK and "aligned through DKIM" in signed.found
    assert unsigned.status == FAIL and "bounce.example.org" in unsigned.found


def test_an_spf_chain_of_too_many_lookups_is_a_permanent_error(db, settings):
    chain = "".join(
        f'l{i}.example.org. 300 IN TXT "v=spf1 include:l{i + 1}.example.org -all"\n'
        for i in range(12)
    )
    zone = chain + 'loop.example.org. 300 IN TXT "v=spf1 include:l0.example.org -all"\n'
    sender = Sender.objects.create(name="s", host="192.0.2.5", envelope_from="b@loop.example.org")
    with DnsServer(zone) as server:
        settings.POSTROOM_DNS_NAMESERVERS = [server.address]
        spf = by_name(deliverability.check(sender, "n@loop.example.org"))["SPF"]

    assert spf.status == FAIL and "more than 10 DNS lookups" in spf.found


def test_a_relay_on_a_private_address_skips_the_ptr_check(dns_server, db):
    sender = Sender.objects.create(name="s", host="10.1.2.3", envelope_from="b@example.org")

    assert by_name(deliverability.check(sender, "n@example.org"))["PTR"].status == SKIP


def test_a_dns_server_that_does_not_answer_is_a_clear_error(db, settings):
    settings.POSTROOM_DNS_NAMESERVERS = [f"127.0.0.1:{_free_udp_port()}"]
    settings.POSTROOM_DNS_TIMEOUT_SECONDS = 1
    sender = Sender.objects.create(
        name="s", host="relay.example.org", envelope_from="b@example.org"
    )

    with pytest.raises(InvalidInput, match=r"DNS lookup of relay\.example\.org A failed"):
        deliverability.check(sender)


def test_the_cli_prints_each_check_and_exits_1_when_one_fails(
    dns_server, good, subprocess_env, run_cli
):
    env = {**subprocess_env, "POSTROOM_DNS_NAMESERVERS": dns_server.address}
    passing = run_cli("sender", "check", "main", "--from", "news@example.org", "--json", env=env)
    failing = run_cli("sender", "check", "main", "--from", "news@elsewhere.example", env=env)

    assert passing.returncode == 0, passing.stderr
    data = json.loads(passing.stdout)
    assert data["ok"] is True and [c["name"] for c in data["checks"]] == [
        "SPF", "DKIM", "DMARC", "MX", "PTR",
    ]  # fmt: skip
    assert {"status", "found", "fix"} <= set(data["checks"][0])
    assert failing.returncode == 1
    assert "FAIL  DMARC  no DMARC record at _dmarc.elsewhere.example" in failing.stdout
    assert "fix: publish TXT at _dmarc.elsewhere.example" in failing.stdout


def test_the_cli_names_an_unknown_sender_in_one_line(db, subprocess_env, run_cli):
    result = run_cli("sender", "check", "nobody", env=subprocess_env)

    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1


def test_the_sender_page_check_is_for_operators_only(client, outsider, good):
    url = f"/senders/{good.pk}/deliverability/"
    assert client.get(url).status_code == 302
    client.force_login(outsider)

    assert client.get(url).status_code == 403


def test_the_sender_page_check_says_what_failed_in_its_card(owner_client, dns_server, db):
    sender = Sender.objects.create(name="bare", host="relay.example.org")

    page = owner_client.get(f"/senders/{sender.pk}/deliverability/").content.decode()

    assert "has no envelope sender and no From address" in page
