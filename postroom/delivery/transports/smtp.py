"""Sending through an SMTP server: the pipelining pool (delivery.smtp), set up from a Sender row."""

import concurrent.futures

from django.utils.translation import gettext

from postroom import credentials
from postroom.delivery.models import Sender
from postroom.errors import InvalidInput
from postroom.mail.smtp import CheckReport, Journal, OutgoingMessage, SmtpPool


class SmtpTransport:
    def __init__(
        self, sender: Sender, timeout: float = 30.0, journal: Journal | None = None
    ) -> None:
        password = None
        if sender.password_sealed:
            password = credentials.unseal(sender.password_sealed)
        elif sender.password_env:
            # Checked again here for rows stored before the rule.
            credentials.check_password_env(sender.password_env)
            password = credentials.from_environment(sender.password_env)
            if password is None:
                raise InvalidInput(
                    gettext(
                        "sender %(name)s: the environment variable %(variable)s"
                        " holding its password is not set"
                    )
                    % {"name": repr(sender.name), "variable": sender.password_env}
                )
        self.pool = SmtpPool(
            sender.host,
            sender.port,
            tls=sender.tls,
            username=sender.username or None,
            password=password,
            max_connections=sender.max_connections,
            timeout=timeout,
            verify_tls=sender.verify_certificate,
            journal=journal,
        )

    def submit(
        self, messages: list[OutgoingMessage], campaign_id: int | None = None
    ) -> concurrent.futures.Future:
        return self.pool.submit(messages)

    def check(self) -> CheckReport:
        return self.pool.check()

    def close(self) -> None:
        self.pool.close()
