"""Why an import rejected a row, and what it repaired, stored in English (the rejects file,
the CLI and the API read them) and shown translated on the import's page
(postroom.storedtext)."""

from postroom.storedtext import gettext_noop, template

# A row of a ZIP archive's file is named by its file (pipeline and chunks prefix the reason).
IN_MEMBER = template(gettext_noop("%(member)s: %(reason)s"))

# The reader.
LINE_TOO_LONG = template(gettext_noop("line %(line)d is longer than %(limit)d characters"))
FIELD_TOO_LONG = template(
    gettext_noop(
        "a field is longer than %(limit)d characters"
        " (an unclosed quote joins every following line into it)"
    )
)
NOT_CSV = template(gettext_noop("the row cannot be read as CSV: %(error)s"))

# The row.
TOO_MANY_FIELDS = template(
    gettext_noop(
        "the row has %(count)d fields but the header has %(width)d:"
        " a value may contain an unquoted %(delimiter)s"
    )
)
NO_EMAIL = template(gettext_noop("no email address"))
WHOLE_ROW_QUOTED = template(
    gettext_noop(
        "this field contains %(shown)s — the file seems to be separated by %(shown)s:"
        " a whole row was quoted into one field"
    )
)
OTHER_DELIMITER = template(
    gettext_noop(
        "this field contains %(shown)s — the file seems to be separated by %(shown)s,"
        " not %(own)s: import it with that delimiter"
    )
)
SEVERAL_VALUES = template(
    gettext_noop(
        "the email field holds %(head)s followed by %(rest)s: several values were typed into"
        " one cell; keep only the address in it"
    )
)
INVALID_EMAIL = template(gettext_noop("not a valid email address: %(detail)s"))
NOT_JSON_OBJECT = template(
    gettext_noop("the %(column)s column must hold a JSON object of attributes")
)
UNKNOWN_STATUS = template(
    gettext_noop(
        "unknown status %(value)s in column %(column)s: it should say subscribed, pending,"
        " unsubscribed, bounced, blocklisted or complained (or a word a newsletter tool uses"
        " for them)"
    )
)
NOT_YES_NO = template(gettext_noop("column %(column)s should say yes or no, not %(value)s"))
# Shown for a tab where other delimiters are shown quoted ('; ').
TAB = template(gettext_noop("tab"))

# What becomes of the person.
PENDING_UNCONFIRMED = template(
    gettext_noop(
        "pending: this person never confirmed the subscription, and none of the lists asks"
        " for a confirmation (double opt-in), so they would be mailed; import them into a"
        " double opt-in list"
    )
)
SUPPRESSED = template(
    gettext_noop(
        "the address is on the suppression list (it unsubscribed, bounced or was blocklisted);"
        " an import never subscribes it again"
    )
)
BLOCKLISTED = template(
    gettext_noop("the subscriber is blocklisted; an import never subscribes it again")
)

# A duplicate, naming the row it repeats (in another file of the archive, or this one).
DUPLICATE = template(gettext_noop("duplicate: the same address as line %(line)d, imported once"))
DUPLICATE_APPLIED = template(
    gettext_noop(
        "duplicate: the same address as line %(line)d, imported once;"
        " its status (the person left) was applied too"
    )
)
DUPLICATE_IN_MEMBER = template(
    gettext_noop("duplicate: the same address as %(member)s, line %(line)d, imported once")
)
DUPLICATE_IN_MEMBER_APPLIED = template(
    gettext_noop(
        "duplicate: the same address as %(member)s, line %(line)d, imported once;"
        " its status (the person left) was applied too"
    )
)

# Why an import stopped (Import.error); it resumes from that row.
STOPPED = template(
    gettext_noop(
        "stopped after row %(row)d: %(error)s. The first %(row)d rows are imported;"
        " start it again to resume from there"
    )
)
INTERRUPTED = template(
    gettext_noop(
        "stopped after row %(row)d (interrupted). The first %(row)d rows are imported;"
        " start it again to resume from there"
    )
)

# Repairs.
FROM_DISPLAY_NAME = template(
    gettext_noop("took the address out of the display-name form: %(email)s")
)
MAILTO_REMOVED = template(gettext_noop("removed the mailto: prefix: %(email)s"))


# What a file was recognised as (kept in the import's layout, shown on its page).
EXPORT = template(gettext_noop("%(tool)s export"))
SECTION_EXPORTS = {
    "subscribed": template(gettext_noop("%(tool)s subscribed export")),
    "unsubscribed": template(gettext_noop("%(tool)s unsubscribed export")),
    "cleaned": template(gettext_noop("%(tool)s cleaned export")),
    "complained": template(gettext_noop("%(tool)s complained export")),
    "blocklisted": template(gettext_noop("%(tool)s blocklisted export")),
    "pending": template(gettext_noop("%(tool)s pending export")),
}
