"""A real OpenID Connect provider on a free loopback port, as a second server process.

    with OidcProvider(tmp_path, [redirect_uri]) as provider:
        provider.set_user("alice", "pw", email="alice@example.org", groups=["editors"])
        provider.issuer          # http://127.0.0.1:PORT/o  (discovery below it)
        provider.client_id, provider.client_secret

It is django-oauth-toolkit (postroom/testing/oidc_provider/), never a mock: Postroom
discovers its endpoints, sends the browser to its log-in page, trades the code for
tokens and checks the ID token's signature against its published keys.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

STARTUP_SECONDS = 60.0  # it migrates a fresh SQLite file first: seconds on a loaded machine


class OidcProvider:
    def __init__(self, folder: Path, redirect_uris: list[str]) -> None:
        self.folder = folder
        self.redirect_uris = redirect_uris
        self.client_id = "postroom-" + secrets.token_hex(4)
        self.client_secret = secrets.token_urlsafe(24)
        self.users_path = folder / "provider-users.json"
        self.port = 0
        self._users: dict[str, dict[str, Any]] = {}
        self._process: subprocess.Popen | None = None
        self._log = folder / "provider.log"

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}/o"

    def set_user(
        self, username: str, password: str, email: str, groups: list[str], **claims: Any
    ) -> None:
        """Add or change a person at the provider; their claims apply from the next sign-in.
        A new user name needs a restart (the provider stores users at start)."""
        self._users[username] = {
            "password": password,
            "email": email,
            "groups": groups,
            "claims": claims,
        }
        self.users_path.write_text(json.dumps(self._users))

    def __enter__(self) -> OidcProvider:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        if not self.users_path.exists():
            self.users_path.write_text(json.dumps(self._users))
        # NAME=VALUE: a generated secret may start with "-", which argparse would take
        # for an option.
        command = [
            sys.executable, "-m", "postroom.testing.oidc_provider",
            f"--db={self.folder / 'provider.sqlite3'}",
            f"--users={self.users_path}",
            f"--client-id={self.client_id}",
            f"--client-secret={self.client_secret}",
            f"--redirect-uri={' '.join(self.redirect_uris)}",
        ]  # fmt: skip
        log = self._log.open("wb")
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().decode()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"the OIDC provider did not start: {self.output()}")
        self.port = int(line.split()[-1])
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                with urllib.request.urlopen(self.discovery_url, timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the OIDC provider does not answer: {self.output()}")
            time.sleep(0.1)

    @property
    def discovery_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"

    def sign_in(self, authorize_url: str, username: str, password: str) -> str:
        """What a browser does at the provider, over real HTTP: open the authorisation URL,
        log in on its form, and return where the provider sends the browser back to
        (Postroom's callback with a code), without following it."""
        agent = requests.Session()
        form = agent.get(authorize_url, timeout=30)
        form.raise_for_status()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token is not None, form.text
        answer = agent.post(
            form.url,
            data={
                "csrfmiddlewaretoken": token.group(1),
                "username": username,
                "password": password,
                "next": parse_qs(urlsplit(form.url).query)["next"][0],
            },
            headers={"Referer": form.url},
            allow_redirects=False,
            timeout=30,
        )
        # After the log-in form, the provider redirects (through the authorisation page)
        # to Postroom; follow only the provider's own redirects.
        while answer.is_redirect:
            target = urljoin(answer.url, answer.headers["Location"])
            if not target.startswith(f"http://127.0.0.1:{self.port}/"):
                return target
            answer = agent.get(target, allow_redirects=False, timeout=30)
        raise AssertionError(f"the provider did not send the browser back: {answer.text[:500]}")

    def output(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process is not None and self._process.stdout is not None:
            self._process.stdout.close()
        self._process = None
