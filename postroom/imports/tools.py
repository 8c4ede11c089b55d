"""What the exports of other newsletter tools mean: their columns, their status words.

People move to Postroom with an export from the tool they leave. Every column a
tool documents is recognised by its header (compared normalised: lower case, no
accents, spaces, dashes, dots or underscores), and every status word it writes
is translated into one of Postroom's states, so that nobody who left there is
made mailable here. No Django, no database: detection and row parsing use this.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils.translation import gettext

from postroom.imports import texts
from postroom.storedtext import gettext_noop

# The states an imported row can carry. Everything but SUBSCRIBED and PENDING means
# the person left, and no import ever makes them mailable.
SUBSCRIBED = "subscribed"
PENDING = "pending"
UNSUBSCRIBED = "unsubscribed"
BOUNCED = "bounced"
BLOCKLISTED = "blocklisted"
COMPLAINED = "complained"
LEFT = (UNSUBSCRIBED, BOUNCED, BLOCKLISTED, COMPLAINED)
STATES = (SUBSCRIBED, PENDING, *LEFT)
# When two columns disagree (listmonk's subscriber status and list status), the one
# furthest from "mailable" wins.
SEVERITY = {
    "": 0,
    SUBSCRIBED: 1,
    PENDING: 2,
    UNSUBSCRIBED: 3,
    BOUNCED: 4,
    BLOCKLISTED: 5,
    COMPLAINED: 6,
}

# English, marked for the pages that say them (imports.services.recognised).
STATE_LABELS = {
    SUBSCRIBED: gettext_noop("subscribed"),
    PENDING: gettext_noop("pending (waiting for the double opt-in confirmation)"),
    UNSUBSCRIBED: gettext_noop("unsubscribed"),
    BOUNCED: gettext_noop("bounced (suppressed)"),
    BLOCKLISTED: gettext_noop("blocklisted"),
    COMPLAINED: gettext_noop("complained (blocklisted)"),
}

# Status words written by Mailchimp, listmonk, Keila, Sendy, Brevo, MailerLite,
# Substack and common spreadsheets, normalised like headers.
_WORDS = {
    SUBSCRIBED: "subscribed active enabled confirmed optedin optin subscriber valid",
    PENDING: "pending unconfirmed notconfirmed awaitingconfirmation doubleoptin waiting",
    UNSUBSCRIBED: (
        "unsubscribed unsubscribe optedout optout disabled archived inactive cancelled "
        "canceled removed nonsubscribed transactional"
    ),
    BOUNCED: "bounced bounce cleaned hardbounce hardbounced unreachable undeliverable invalid",
    BLOCKLISTED: "blocklisted blacklisted blocked suppressed banned denylisted",
    COMPLAINED: "complained complaint markedasspam spam junk abuse spamcomplaint",
}
STATUS_WORDS = {word: state for state, words in _WORDS.items() for word in words.split()}

TRUE_WORDS = {"1", "true", "yes", "y", "x", "t", "ja", "oui", "si", "wahr", "vrai"}
FALSE_WORDS = {"", "0", "false", "no", "n", "f", "nein", "non", "falsch", "faux", "null"}

# Words that make a file "look like people who left" when its name or a header says it.
LEFT_HINTS = re.compile(
    r"unsub|optout|optedout|clean|bounc|block|blacklist|suppress|complain|spam|"
    r"abmeld|desinscri|desabonn|baja"
)

# Mapping targets beyond the subscriber's own fields, each with the header spellings
# the tools use. A flag column marks a row when its value is true; a "left at"
# column marks a row when it holds a time.
COLUMN_ALIASES = {
    "status": "status memberstatus contactstatus subscriberstatus",
    "list_status": "subscriptionstatus liststatus subscriptionliststatus",
    "tags": "tags tag labels",
    "attributes": "attributes attribs data customfields",
    "optin_time": (
        "optintime optedinat optedin optindate optinat joined subscribedat "
        "addedtime timestampsignup timestampopt"
    ),
    "optin_ip": "optinip ipaddress ip signupip ipsignup ipopt optinipaddress",
    "confirm_time": "confirmtime confirmedat confirmationtime confirmationdate confirmeddate",
    "confirm_ip": "confirmip confirmedip confirmationip",
    "unsubscribed_at": (
        "unsubtime unsubscribedat unsubscribetime unsubscribeddate unsubscribedate "
        "optouttime optoutdate optedoutat"
    ),
    "bounced_at": "cleantime cleanedat bouncedat bouncetime bouncedate",
    "unsubscribed_flag": "emaildisabled unsubscribed isunsubscribed optedout",
    "blocklisted_flag": "emailblacklisted blacklisted emailblocklisted blocklisted",
    "attr:timezone": "timezone tz zeitzone fuseau fuseauhoraire zonahoraria",
    "attr:language": "language lang locale sprache langue idioma lingua",
}
COLUMN_FIELDS = {
    alias: target for target, aliases in COLUMN_ALIASES.items() for alias in aliases.split()
}
# What each target means, for the preview's choices and --help.
TARGET_LABELS = {
    "status": "status (subscribed, unsubscribed, bounced, …)",
    "list_status": "list status (confirmed, unconfirmed, unsubscribed)",
    "tags": "tags",
    "attributes": "attributes (a JSON object)",
    "optin_time": "consent: opt-in time",
    "optin_ip": "consent: opt-in IP",
    "confirm_time": "consent: confirmation time",
    "confirm_ip": "consent: confirmation IP",
    "unsubscribed_at": "unsubscribed at (marks the row unsubscribed)",
    "bounced_at": "bounced at (marks the row bounced)",
    "unsubscribed_flag": "unsubscribed (yes/no)",
    "blocklisted_flag": "blocklisted (yes/no)",
}
STATUS_TARGETS = (
    "status",
    "list_status",
    "unsubscribed_at",
    "bounced_at",
    "unsubscribed_flag",
    "blocklisted_flag",
)


def normal_header(cell: str) -> str:
    text = unicodedata.normalize("NFKD", cell.strip().lstrip("\ufeff").lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[\s\-_.:/()*]+", "", text)


def status_of(value: str) -> str | None:
    """The state a status word means, "" for a blank cell, None for a word nobody uses."""
    word = normal_header(value)
    if not word:
        return ""
    return STATUS_WORDS.get(word)


def flag_of(value: str) -> bool | None:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


# Times as the tools write them: ISO 8601 (listmonk, Keila, Substack, MailerLite),
# "2024-03-01 10:22:33" (Mailchimp, in UTC), US and European spreadsheet forms,
# and Sendy's "Mar 1, 2024 10:22am".
_TIME_FORMATS = [
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%b %d, %Y %I:%M%p",
    "%b %d, %Y %I:%M %p",
    "%b %d, %Y",
    "%B %d, %Y",
    "%d %b %Y",
    "%a, %d %b %Y %H:%M:%S",
]


def _read_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    for pattern in _TIME_FORMATS:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def parse_time(value: str) -> str | None:
    """An ISO time in UTC, "" for a blank cell, None when it cannot be read as a time."""
    text = value.strip()
    if not text:
        return ""
    moment = _read_time(text)
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class Tool:
    """An export format: the headers that identify it (all must be present)."""

    name: str
    signatures: tuple[frozenset[str], ...]
    statuses: str = ""  # the status words it writes, for the migration guide

    def matches(self, headers: set[str]) -> bool:
        return any(signature <= headers for signature in self.signatures)


def _sig(*groups: str) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(group.split()) for group in groups)


TOOLS = [
    Tool("Mailchimp", _sig("emailaddress optintime leid", "emailaddress memberrating optintime")),
    Tool("listmonk", _sig("uuid email name attributes status")),
    Tool("Keila", _sig("email firstname lastname data")),
    Tool("Sendy", _sig("name email joined lastactivity optinmethod")),
    Tool("Substack", _sig("email activesubscription emaildisabled", "email subscriptiontype")),
    Tool("MailerLite", _sig("email subscribedat optedinat", "email subscribed optinip")),
    Tool("Brevo", _sig("email addedtime modifiedtime", "email emailblacklisted")),
]


@dataclass(frozen=True)
class Recognition:
    tool: str  # "" when no tool's export
    status: str  # the state of every row when the file itself says it, else ""
    part: str  # "unsubscribed export" and the like, for the preview


# Mailchimp writes one file per section of the audience; Sendy names its exports
# "<list>-unsubscribed.csv" and so on.
_FILE_STATES = [
    (re.compile(r"unsubscribed|optout|opted.out"), UNSUBSCRIBED),
    (re.compile(r"cleaned|bounced"), BOUNCED),
    (re.compile(r"marked.as.spam|complain"), COMPLAINED),
    (re.compile(r"blocklist|blacklist"), BLOCKLISTED),
    (re.compile(r"unconfirmed|pending"), PENDING),
    (re.compile(r"(^|[^n])subscribed|active"), SUBSCRIBED),
]


def state_in_name(file_name: str) -> str:
    name = file_name.lower()
    for pattern, state in _FILE_STATES:
        if pattern.search(name):
            return state
    return ""


def recognise(columns: list[str], file_name: str = "") -> Recognition:
    """Which tool wrote this file, and whether the file itself gives everyone's state."""
    headers = {normal_header(c) for c in columns}
    tool = next((t.name for t in TOOLS if t.matches(headers)), "")
    status = ""
    if tool == "Mailchimp":
        # Only the unsubscribed and cleaned exports have these columns.
        if "unsubtime" in headers:
            status = UNSUBSCRIBED
        elif "cleantime" in headers:
            status = BOUNCED
        else:
            status = state_in_name(file_name) or SUBSCRIBED
    part = ""
    if tool:
        section = "cleaned" if status == BOUNCED and tool == "Mailchimp" else status
        part = texts.SECTION_EXPORTS.get(section, texts.EXPORT) % {"tool": tool}
    return Recognition(tool, status, part)


def looks_like_leavers(columns: list[str], file_name: str) -> str:
    """What makes a file look like a list of people who left ("" when nothing does)."""
    stem = normal_header(file_name.rsplit("/", 1)[-1])
    if LEFT_HINTS.search(stem):
        return gettext("its name %(name)s") % {"name": repr(file_name)}
    for column in columns:
        if LEFT_HINTS.search(normal_header(column)):
            return gettext("its column %(column)s") % {"column": repr(column)}
    return ""
