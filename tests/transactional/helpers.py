"""Calling the running server over HTTP as a shop would: JSON, multipart, Basic or Bearer."""

import base64
import json
import secrets
import urllib.error
import urllib.request
from typing import Any

from postroom.api.models import ApiToken


class Client:
    """A tiny HTTP client for one server and one credential."""

    def __init__(self, base: str, authorization: str) -> None:
        self.base = base.rstrip("/")
        self.authorization = authorization

    def call(
        self, method: str, path: str, body: bytes | None = None, content_type: str = ""
    ) -> tuple[int, Any]:
        request = urllib.request.Request(self.base + path, data=body, method=method)
        request.add_header("Authorization", self.authorization)
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def post(self, path: str, payload: dict) -> tuple[int, Any]:
        return self.call("POST", path, json.dumps(payload).encode(), "application/json")

    def get(self, path: str) -> tuple[int, Any]:
        return self.call("GET", path)

    def multipart(self, path: str, fields: dict[str, str], files: dict[str, tuple[str, bytes]]):
        boundary = "----postroom" + secrets.token_hex(8)
        chunks = []
        for name, value in fields.items():
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            chunks.append(f"{head}{value}\r\n".encode())
        for name, (filename, data) in files.items():
            chunks.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}";'
                f' filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
                + data
                + b"\r\n"
            )
        chunks.append(f"--{boundary}--\r\n".encode())
        return self.call(
            "POST", path, b"".join(chunks), f"multipart/form-data; boundary={boundary}"
        )


def bearer(base: str, user) -> Client:
    _, secret = ApiToken.issue(user, "shop")
    return Client(base, f"Bearer {secret}")


def basic(base: str, user) -> Client:
    """listmonk's clients: HTTP Basic with api_user:token."""
    _, secret = ApiToken.issue(user, "listmonk-client")
    pair = base64.b64encode(f"{user.get_username()}:{secret}".encode()).decode()
    return Client(base, f"Basic {pair}")


def receipt(to: str, **fields: Any):
    """Queue one transactional message straight through the service (what the API calls)."""
    from postroom.transactional import services

    values: dict[str, Any] = {
        "subject": "Receipt",
        "body": "Thanks.",
        "from_address": "shop@example.org",
    }
    values.update(fields)
    return services.accept(services.TxRequest(to=[to], **values)).messages[0]
