"""Why a person left a sequence or a sequence's campaign waits, stored in English and shown
translated on the automation pages (postroom.storedtext)."""

from postroom.storedtext import gettext_noop, template

LAST_STEP_DELETED = template(gettext_noop("its last step was deleted"))
MEMBER_WHEN_ACTIVATED = template(gettext_noop("a member when the sequence was activated"))
SEQUENCE_PAUSED = template(gettext_noop("the sequence is paused"))
# Why a person may no longer be mailed (engine._why, in SQL).
NO_LONGER_SUBSCRIBED = template(gettext_noop("no longer subscribed"))
BLOCKLISTED = template(gettext_noop("blocklisted"))
UNSUBSCRIBED = template(gettext_noop("unsubscribed"))
SUPPRESSED = template(gettext_noop("suppressed (%(reason)s)"))
# A sequence's message not sent (the recipient's row, delivery history).
NOT_SENT = template(gettext_noop("not sent: %(reason)s"))
ERASED = template(gettext_noop("the subscriber was erased"))
STEP_DELETED = template(gettext_noop("the sequence step was deleted"))
