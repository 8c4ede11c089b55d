"""A small HTTPS server on a free loopback port that serves fixed bodies and remembers
what was asked: it stands in for Amazon SNS's certificate and subscription hosts.

    with HttpsServer(tmp_path) as server:
        server.routes["/cert.pem"] = pem_bytes
        url = server.url("/cert.pem")       # https://127.0.0.1:PORT/cert.pem
        ...
        server.requests                     # ["/cert.pem", ...]

Its certificate is self-signed: trust `server.cert_path` (POSTROOM_TLS_CA_FILE).
"""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from postroom.testing.certs import self_signed_certificate


class HttpsServer:
    def __init__(self, folder: Path) -> None:
        self.cert_path = folder / "https-cert.pem"
        self._key_path = folder / "https-key.pem"
        self.routes: dict[str, bytes] = {}
        self.requests: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> HttpsServer:
        self_signed_certificate(self.cert_path, self._key_path)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(self.path)
                body = owner.routes.get(self.path.split("?", 1)[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self._key_path)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def url(self, path: str) -> str:
        assert self._server is not None
        return f"https://127.0.0.1:{self._server.server_address[1]}{path}"
