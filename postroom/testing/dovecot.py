"""A throwaway Dovecot (IMAP and POP3) for tests, started like the PostgreSQL cluster.

    with DovecotServer() as server:
        username, password = server.new_account()
        ... imaplib.IMAP4(server.host, server.ports["imap"]) ...

It needs only Debian's `dovecot-imapd` and `dovecot-pop3d` (scripts/install-system-deps.sh
installs them): no system Dovecot is used or assumed. Everything lives in a temporary
directory — configuration, a passwd-file of users, Maildirs, a self-signed certificate
for TLS — and it listens on free unprivileged loopback ports: plain IMAP (with
STARTTLS), IMAPS, plain POP3 (with STLS) and POP3S.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from postroom.testing.certs import self_signed_certificate

ACCOUNTS = 100  # written at start; more are added (a second's wait) when they run out
PROTOCOLS = ("imap", "imaps", "pop3", "pop3s")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary() -> str:
    found = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not os.path.exists(found):
        raise RuntimeError(
            "dovecot not found: install Debian's dovecot-imapd and dovecot-pop3d "
            "(scripts/install-system-deps.sh)"
        )
    return found


class DovecotServer:
    """One Dovecot master process and its configuration in a temporary directory."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.root = Path(tempfile.mkdtemp(prefix="postroom-dovecot-"))
        self.ports = {protocol: _free_port() for protocol in PROTOCOLS}
        self.cert_path = self.root / "cert.pem"
        self.users: dict[str, str] = {}
        self._unused: list[str] = []
        # As root, mail is stored as Dovecot's own unprivileged user (it refuses uid 0);
        # as anyone else, everything runs as that user.
        account = pwd.getpwnam("dovecot") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
        self._uid, self._gid, self._user = account.pw_uid, account.pw_gid, account.pw_name
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> DovecotServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _config(self) -> str:
        r = self.root
        p = self.ports
        login_user = "dovenull" if os.geteuid() == 0 else self._user
        unprivileged = "" if os.geteuid() == 0 else f"  user = {self._user}\n"
        return f"""
base_dir = {r}/run
state_dir = {r}/state
instance_name = postroom-test-{p["imap"]}
log_path = {r}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
default_internal_user = {self._user}
default_internal_group = {"dovecot" if os.geteuid() == 0 else self._user}
default_login_user = {login_user}
first_valid_uid = {min(self._uid, 100)}
first_valid_gid = 0
disable_plaintext_auth = no
auth_mechanisms = plain login
ssl = yes
ssl_cert = <{r}/cert.pem
ssl_key = <{r}/key.pem
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/passwd
}}
userdb {{
  driver = static
  args = uid={self._uid} gid={self._gid} home={r}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {p["imap"]}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {p["imaps"]}
    ssl = yes
  }}
{unprivileged}}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {p["pop3"]}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {p["pop3s"]}
    ssl = yes
  }}
{unprivileged}}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
service pop3-login {{
  chroot =
}}
"""

    def new_account(self) -> tuple[str, str]:
        """A mail account no one has used yet: (username, password).

        Accounts are written to the passwd-file at start, because Dovecot looks at the
        file again at most once a second: a user added just after a login was refused.
        """
        if not self._unused:
            self._write_users(len(self.users) + ACCOUNTS)
            time.sleep(1.1)  # Dovecot's next look at the file
        username = self._unused.pop(0)
        home = self.root / "home" / username
        home.mkdir(parents=True, exist_ok=True)
        os.chown(home, self._uid, self._gid)
        return username, self.users[username]

    def _write_users(self, total: int) -> None:
        while len(self.users) < total:
            name = f"user{len(self.users)}"
            self.users[name] = secrets.token_hex(8)
            self._unused.append(name)
        lines = "".join(f"{u}:{{PLAIN}}{pw}::::::\n" for u, pw in self.users.items())
        passwd = self.root / "passwd"
        passwd.write_text(lines)
        passwd.chmod(0o644)  # read by Dovecot's auth process; Postroom's umask makes files 0600

    def start(self, wait: float = 30.0) -> None:
        self.root.chmod(0o755)  # Dovecot's auth process (its own user) reads the passwd-file
        self_signed_certificate(self.cert_path, self.root / "key.pem")
        self._write_users(ACCOUNTS)
        (self.root / "home").mkdir(exist_ok=True)
        os.chown(self.root / "home", self._uid, self._gid)
        config = self.root / "dovecot.conf"
        config.write_text(self._config())
        self._process = subprocess.Popen(
            [_binary(), "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + wait
        while True:
            if self._process.poll() is not None:
                error = self._process.stderr.read().decode() if self._process.stderr else ""
                log = self.root / "dovecot.log"
                raise RuntimeError(
                    f"dovecot exited: {error} {log.read_text() if log.exists() else ''}"
                )
            if all(self._listening(port) for port in self.ports.values()):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dovecot did not listen within {wait} s")
            time.sleep(0.05)

    def _listening(self, port: int) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=1):
                return True
        except OSError:
            return False

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        shutil.rmtree(self.root, ignore_errors=True)
