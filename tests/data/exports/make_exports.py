"""Write the small export files the migration tests read, shaped as each tool writes them.

    python tests/data/exports/make_exports.py

Headers, quoting, line endings and encodings follow each tool's own export code or
documentation (see docs/migrating.md); the people are made up. Deterministic.
"""

import csv
import io
import json
import unicodedata
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIRST = ["Zoë", "Jürgen", "Łukasz", "Ana", "Mei", "Olu", "Inès", "Ravi", "Sofía", "Tom"]
LAST = ["Müller", "Núñez", "Kowalski", "Okafor", "Tanaka", "Smith", "Dubois", "Rao"]


def person(n: int, domain: str) -> tuple[str, str, str]:
    first, last = FIRST[n % len(FIRST)], LAST[n % len(LAST)]
    plain = unicodedata.normalize("NFKD", first.lower().replace("ł", "l"))
    plain = "".join(c for c in plain if c.isascii())
    return f"{plain[:3]}.{n}@{domain}", first, last


def write(name: str, rows: list[list[str]], encoding="utf-8", **options) -> None:
    out = io.StringIO()
    csv.writer(out, **options).writerows(rows)
    (HERE / name).write_bytes(out.getvalue().encode(encoding))


MAILCHIMP_HEAD = [
    "Email Address",
    "First Name",
    "Last Name",
    "Address",
    "Phone Number",
    "Birthday",
    "MEMBER_RATING",
    "OPTIN_TIME",
    "OPTIN_IP",
    "CONFIRM_TIME",
    "CONFIRM_IP",
    "LATITUDE",
    "LONGITUDE",
    "GMTOFF",
    "DSTOFF",
    "TIMEZONE",
    "CC",
    "REGION",
    "LAST_CHANGED",
]
MAILCHIMP_TAIL = ["LEID", "EUID", "NOTES", "TAGS"]


def mailchimp(section: str, count: int, start: int) -> list[list[str]]:
    extra = {
        "subscribed": [],
        "unsubscribed": [
            "UNSUB_TIME",
            "UNSUB_CAMPAIGN_TITLE",
            "UNSUB_CAMPAIGN_ID",
            "UNSUB_REASON",
            "UNSUB_REASON_OTHER",
        ],
        "cleaned": ["CLEAN_TIME", "CLEAN_CAMPAIGN_TITLE", "CLEAN_CAMPAIGN_ID"],
    }[section]
    rows = [MAILCHIMP_HEAD + extra + MAILCHIMP_TAIL]
    for n in range(start, start + count):
        email, first, last = person(n, "mc.example.com")
        optin = f"2023-0{1 + n % 9}-1{n % 10} 09:{10 + n % 50}:07"
        tags = '"vip","2024 fair"' if n % 3 == 0 else ('"newsletter"' if n % 3 == 1 else "")
        row = [
            email,
            first,
            last,
            "",
            "",
            "",
            str(1 + n % 5),
            optin,
            f"203.0.113.{n % 250}",
            optin.replace("09:", "10:"),
            f"198.51.100.{n % 250}",
            "",
            "",
            "1",
            "2",
            "Europe/Berlin" if n % 2 else "America/New_York",
            "DE" if n % 2 else "US",
            "BE",
            f"2024-05-0{1 + n % 9} 12:00:00",
        ]
        if section == "unsubscribed":
            row += [f"2024-04-0{1 + n % 9} 08:30:00", "Spring news", "abc123", "NORMAL", ""]
        if section == "cleaned":
            row += [f"2024-03-0{1 + n % 9} 17:45:00", "Winter news", "def456"]
        row += [str(100000 + n), f"euid{n}", "", tags]
        rows.append(row)
    return rows


def main() -> None:
    stamp = "4f1c8e2a9b"
    files = {}
    for section, count, start in [
        ("subscribed", 10, 0),
        ("unsubscribed", 20, 100),
        ("cleaned", 5, 200),
    ]:
        name = f"{section}_members_export_{stamp}.csv"
        # Mailchimp quotes only where needed and ends lines with \r\n.
        write(f"mailchimp/{name}", mailchimp(section, count, start), lineterminator="\r\n")
        files[name] = (HERE / "mailchimp" / name).read_bytes()
    with zipfile.ZipFile(HERE / "mailchimp-audience-export.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)

    # listmonk: Go's encoding/csv (quotes where needed, \n); attributes is a JSON object.
    rows = [["uuid", "email", "name", "attributes", "status", "created_at", "updated_at"]]
    statuses = ["enabled"] * 6 + ["blocklisted"] * 3 + ["disabled"]
    for n, status in enumerate(statuses):
        email, first, last = person(n, "lm.example.org")
        attributes = json.dumps({"city": ["Bengaluru", "Lagos"][n % 2], "projects": n})
        rows.append(
            [
                f"8f0c2d7e-0000-4000-8000-{n:012d}",
                email,
                f"{first} {last}",
                attributes,
                status,
                f"2022-11-0{1 + n % 9}T10:00:00.123456+05:30",
                "2024-01-02T03:04:05.000000+05:30",
            ]
        )
    write("listmonk-subscribers.csv", rows, lineterminator="\n")

    # Keila: NimbleCSV RFC 4180 (\r\n); Data is JSON; Status active/unsubscribed/unreachable.
    rows = [["Email", "First name", "Last name", "Data", "Status"]]
    for n, status in enumerate(["active"] * 5 + ["unsubscribed"] * 2 + ["unreachable"]):
        email, first, last = person(n, "keila.example.net")
        data = json.dumps({"plan": "pro"}) if n % 2 else ""
        rows.append([email, first, last, data, status])
    write("keila-contacts.csv", rows, lineterminator="\r\n")

    # Sendy: every field quoted, \n; Status Active/Unconfirmed/Unsubscribed/Bounced/Marked as spam.
    rows = [
        [
            "Name",
            "Email",
            "Joined",
            "Last activity",
            "Added via",
            "Opt-in method",
            "IP address",
            "Country",
            "Country code",
            "Signed up from",
            "Status",
            "GDPR",
        ]
    ]
    statuses = ["Active"] * 4 + [
        "Unconfirmed",
        "Unsubscribed",
        "Unsubscribed",
        "Bounced",
        "Marked as spam",
    ]
    for n, status in enumerate(statuses):
        email, first, last = person(n, "sendy.example.com")
        rows.append(
            [
                f"{first} {last}",
                email,
                f"Mar {1 + n}, 2024 10:2{n}am",
                f"Apr {1 + n}, 2024 9:00pm",
                "Standard subscribe form",
                "Double opt-in",
                f"192.0.2.{n + 1}",
                "Germany",
                "DE",
                "https://example.com/",
                status,
                "No",
            ]
        )
    write("sendy-news-all.csv", rows, lineterminator="\n", quoting=csv.QUOTE_ALL)

    # Brevo: semicolon-separated, upper-case attribute names, blocklist as yes/no.
    rows = [
        [
            "CONTACT ID",
            "EMAIL",
            "FIRSTNAME",
            "LASTNAME",
            "SMS",
            "ADDED_TIME",
            "MODIFIED_TIME",
            "EMAIL_BLACKLISTED",
            "LANGUAGE",
        ]
    ]
    for n in range(8):
        email, first, last = person(n, "brevo.example.fr")
        rows.append(
            [
                str(n + 1),
                email,
                first,
                last,
                "",
                f"2023-06-1{n} 14:00:00",
                "2024-02-02 08:00:00",
                "Yes" if n in (2, 5) else "No",
                "fr",
            ]
        )
    write("brevo-contacts.csv", rows, delimiter=";", lineterminator="\r\n")

    # MailerLite: UTF-8 with a BOM (it opens in Excel); statuses of its API.
    rows = [
        [
            "email",
            "name",
            "last_name",
            "status",
            "subscribed_at",
            "opted_in_at",
            "optin_ip",
            "unsubscribed_at",
            "groups",
        ]
    ]
    statuses = ["active"] * 4 + ["unsubscribed", "unconfirmed", "bounced", "junk"]
    for n, status in enumerate(statuses):
        email, first, last = person(n, "ml.example.lt")
        rows.append(
            [
                email,
                first,
                last,
                status,
                f"2021-08-3{n % 2} 14:22:0{n}",
                f"2021-08-3{n % 2} 14:25:0{n}",
                f"192.0.2.{n + 50}",
                "2024-01-05 10:00:00" if status == "unsubscribed" else "",
                "Readers",
            ]
        )
    write("mailerlite-subscribers.csv", rows, encoding="utf-8-sig", lineterminator="\r\n")

    # Substack: email_disabled true means they turned emails off.
    rows = [
        [
            "email",
            "active_subscription",
            "expiry",
            "plan",
            "email_disabled",
            "created_at",
            "first_payment_at",
        ]
    ]
    for n in range(8):
        email, _, _ = person(n, "substack.example.com")
        paid = n % 4 == 0
        rows.append(
            [
                email,
                "true" if paid else "false",
                "2025-01-01T00:00:00.000Z" if paid else "",
                "yearly" if paid else "",
                "true" if n in (3, 6) else "false",
                f"2022-0{1 + n}-15T12:00:00.000Z",
                "2022-02-01T00:00:00.000Z" if paid else "",
            ]
        )
    write("substack-emails.csv", rows, lineterminator="\n")


if __name__ == "__main__":
    main()
