"""A real DNS server on a free loopback UDP port, answering from zone-file text: what the
deliverability tests query instead of a mock resolver.

    with DnsServer('''
        example.org.  300 IN TXT "v=spf1 ip4:192.0.2.25 ~all"
        example.org.  300 IN MX  10 mx.example.org.
    ''') as dns:
        settings.POSTROOM_DNS_NAMESERVERS = [dns.address]     # "127.0.0.1:PORT"

dnslib's server (a test dependency) in a thread; a name it has no record of is NXDOMAIN.
"""

from __future__ import annotations

import socket
import textwrap

from dnslib.server import DNSLogger, DNSServer
from dnslib.zoneresolver import ZoneResolver


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DnsServer:
    def __init__(self, zone: str) -> None:
        self.zone = textwrap.dedent(zone)
        self.port = _free_udp_port()
        self.address = f"127.0.0.1:{self.port}"
        self._server: DNSServer | None = None

    def __enter__(self) -> DnsServer:
        resolver = ZoneResolver(self.zone)
        quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
        self._server = DNSServer(resolver, port=self.port, address="127.0.0.1", logger=quiet)
        self._server.start_thread()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.stop()
            self._server.server.server_close()
