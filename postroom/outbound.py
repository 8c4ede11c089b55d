"""HTTP to addresses that people typed in (webhook endpoints, feeds): never to this
machine or its private network unless the operator allows it.

Checking the URL is not enough: any name can resolve to 127.0.0.1 or to a cloud's
metadata address, and can resolve differently between a check and the connect. So
the check sits where the socket connects, on the very address it connects to.
Addresses that are not globally routable (loopback, private, link-local, shared,
reserved, multicast) are refused unless a network in POSTROOM_OUTBOUND_ALLOW
holds them.
"""

import http.client
import ipaddress
import socket
import ssl
import urllib.request

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(OSError):
    """The URL leads to an address Postroom may not connect to."""


def allowed(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in settings.POSTROOM_OUTBOUND_ALLOW):
        return True
    return address.is_global and not address.is_multicast


def connect(host: str, port: int, timeout: float | None) -> socket.socket:
    """A socket to the first allowed address `host` resolves to; Refused if it
    resolves to none but forbidden ones."""
    refused: list[str] = []
    last_error: OSError | None = None
    for family, kind, proto, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if not allowed(address):
            refused.append(str(address))
            continue
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        return sock
    if last_error is not None:
        raise last_error
    raise Refused(
        f"{host} resolves to {', '.join(refused)}, a private or local address "
        "(allow it with POSTROOM_OUTBOUND_ALLOW)"
    )


class _HTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        self.sock = connect(self.host, self.port, self.timeout)


class _HTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        sock = connect(self.host, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        context = context or ssl.create_default_context()
        super().__init__(context=context)
        self._guarded_context = context

    def https_open(self, req):
        return self.do_open(_HTTPSConnection, req, context=self._guarded_context)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a 3xx is an answer, not a new address
        return None


def opener(follow_redirects: bool = True) -> urllib.request.OpenerDirector:
    """A urllib opener whose every connection, redirects included, is checked."""
    handlers: list[urllib.request.BaseHandler] = [_HTTPHandler(), _HTTPSHandler()]
    if not follow_redirects:
        handlers.append(_NoRedirects())
    return urllib.request.build_opener(*handlers)
