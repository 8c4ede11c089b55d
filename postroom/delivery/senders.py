"""Sender profiles: create, change, test. The CLI and the UI both call these.

A password is either typed in (the UI's form, `--password-stdin`) and stored
sealed with POSTROOM_CREDENTIALS_KEY (postroom.credentials), or named as an
environment variable; no page, API answer or log ever shows it back.
"""

import ipaddress
import re
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils.translation import gettext
from email_validator import EmailNotValidError, validate_email

from postroom import credentials
from postroom.delivery import ratelimit, scheduler, waiting
from postroom.delivery.models import Sender
from postroom.delivery.ratelimit import format_rate, windows_for
from postroom.delivery.transports import transport_for
from postroom.errors import InvalidInput, NotFound
from postroom.integers import as_id
from postroom.mail import dkim
from postroom.mail.errors import HeaderError
from postroom.mail.mime import ascii_domain
from postroom.mail.smtp import CheckReport

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FIELDS = (
    "name", "host", "port", "tls", "username", "password_env", "max_connections",
    "envelope_from", "verify_certificate", "dkim_domain", "dkim_selector", "dkim_key_file",
    "verp",
)  # fmt: skip


def get_sender(name_or_id: str | int) -> Sender:
    try:
        pk = as_id(name_or_id)
        if pk is not None:
            found = Sender.objects.filter(pk=pk).first()
            if found is not None:
                return found
        return Sender.objects.get(name=str(name_or_id))
    except Sender.DoesNotExist:
        raise NotFound(
            gettext("sender %(name)s does not exist") % {"name": repr(name_or_id)}
        ) from None


_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


def _checked_host(raw: str) -> str:
    """A host name (international names allowed) or an IP address, else a clear refusal.

    Checked here so that a sender's test or its first send never meets a name
    the resolver cannot even encode.
    """
    host = raw.strip()
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host.strip("[]")
    except ValueError:
        pass
    try:
        ascii_name = ascii_domain(host)
    except HeaderError:
        ascii_name = ""
    labels = ascii_name.rstrip(".").split(".")
    if not ascii_name or len(ascii_name) > 253 or not all(_LABEL.match(x) for x in labels):
        raise InvalidInput(
            gettext("the host must be a host name or an IP address, not %(host)s")
            % {"host": repr(raw)}
        )
    return host


def _clean(values: dict) -> dict:
    cleaned = {k: v for k, v in values.items() if k in FIELDS and v is not None}
    password = values.get("password") or ""
    if password and cleaned.get("password_env"):
        raise InvalidInput(gettext("give the password or the name of its variable, not both"))
    if password:
        cleaned["password_sealed"] = credentials.seal(password)
        cleaned["password_env"] = ""
    elif values.get("clear_password") or cleaned.get("password_env"):
        cleaned["password_sealed"] = ""
    if "name" in cleaned:
        cleaned["name"] = cleaned["name"].strip()
        if not cleaned["name"]:
            raise InvalidInput(gettext("a sender needs a name"))
    if "host" in cleaned:
        cleaned["host"] = _checked_host(cleaned["host"])
    if "port" in cleaned and not 1 <= int(cleaned["port"]) <= 65535:
        raise InvalidInput(
            gettext("the port must be between 1 and 65535, not %(port)s")
            % {"port": cleaned["port"]}
        )
    if "tls" in cleaned and cleaned["tls"] not in Sender.Tls.values:
        raise InvalidInput(
            gettext("tls must be one of none, starttls, tls, not %(tls)s")
            % {"tls": repr(cleaned["tls"])}
        )
    if "max_connections" in cleaned and not 1 <= int(cleaned["max_connections"]) <= 100:
        raise InvalidInput(gettext("max connections must be between 1 and 100"))
    if cleaned.get("password_env") and not _ENV_NAME.match(cleaned["password_env"]):
        raise InvalidInput(
            gettext(
                "%(name)s is not an environment variable name"
                " (give the variable's name, never the password itself)"
            )
            % {"name": repr(cleaned["password_env"])}
        )
    if cleaned.get("password_env"):
        credentials.check_password_env(cleaned["password_env"])
    if (cleaned.get("password_env") or password) and not cleaned.get("username"):
        raise InvalidInput(gettext("a password needs a user name (--user)"))
    if cleaned.get("envelope_from"):
        try:
            validate_email(cleaned["envelope_from"], check_deliverability=False)
        except EmailNotValidError as exc:
            raise InvalidInput(
                gettext("the envelope sender is not a valid address: %(error)s") % {"error": exc}
            ) from None
    return cleaned


def create_sender(rates: Iterable[str] = (), **values) -> Sender:
    """A new sender with its rate limits, all or nothing."""

    cleaned = _clean(values)
    try:
        with transaction.atomic():
            sender = Sender(**cleaned)
            dkim.check_sender(sender)
            sender.save()
            ratelimit.set_limits(sender, list(rates))
    except IntegrityError:
        raise _name_taken(cleaned) from None
    return sender


def update_sender(sender: Sender, rates: Iterable[str] | None = None, **values) -> Sender:
    """Change a sender; running campaigns pick the change up with their next batch."""

    cleaned = _clean(values)
    try:
        with transaction.atomic():
            for key, value in cleaned.items():
                setattr(sender, key, value)
            dkim.check_sender(sender)
            sender.save()
            if rates is not None:
                ratelimit.set_limits(sender, list(rates))
    except IntegrityError:
        raise _name_taken(cleaned) from None
    return sender


def _name_taken(cleaned: dict) -> InvalidInput:
    return InvalidInput(
        gettext("a sender named %(name)s already exists") % {"name": repr(cleaned.get("name"))}
    )


def delete_sender(sender: Sender) -> None:
    from django.db.models import ProtectedError

    try:
        sender.delete()
    except ProtectedError:
        raise InvalidInput(
            gettext("sender %(name)s is used by campaigns; point them at another sender first")
            % {"name": repr(sender.name)}
        ) from None


def test_sender(sender: Sender) -> CheckReport:
    """Connect, go through TLS and AUTH, and say exactly which step failed.

    A success ends the sender's wait at once: the workers are woken and its
    campaigns carry on, without waiting for the next try.
    """

    try:
        transport = transport_for(sender)
    except InvalidInput as exc:
        return CheckReport(False, "auth", str(exc))
    try:
        report = transport.check()
    finally:
        transport.close()
    if report.ok and waiting.recovered(sender.pk):
        scheduler.notify()
        sender.refresh_from_db()
    return report


def describe(sender: Sender) -> dict:
    """What may be shown of a sender: everything but secrets (the variable's name only)."""

    return {
        "id": sender.pk,
        "name": sender.name,
        "kind": sender.kind,
        "host": sender.host,
        "port": sender.port,
        "tls": sender.tls,
        "verify_certificate": sender.verify_certificate,
        "username": sender.username,
        "password_env": sender.password_env,
        "password_set": bool(sender.password_sealed or sender.password_env),
        "max_connections": sender.max_connections,
        "envelope_from": sender.envelope_from,
        "verp": sender.verp,
        "dkim_domain": sender.dkim_domain,
        "dkim_selector": sender.dkim_selector,
        "dkim_key_file": sender.dkim_key_file,
        "rates": [format_rate(c, s) for c, s in windows_for(sender.pk)],
        "healthy": not sender.is_waiting,
        "backing_off": sender.is_backing_off,
        "last_error": sender.last_error if sender.is_waiting else "",
        # {"sender", "since", "next_try", "error"} while it cannot be reached, else None.
        "waiting": waiting.state(sender),
        # Recipients refused for policy or reputation (5.7.x): the sender's, not theirs.
        "policy_rejections": sender.policy_rejections,
        "last_policy_rejection": sender.last_policy_rejection,
    }
