"""The texts delivery stores in English (campaign events, pause reasons, alerts, row notes),
shown translated on the pages (postroom.storedtext)."""

from postroom.storedtext import gettext_noop, template

# Campaign events.
STARTED = template(gettext_noop("%(count)d recipients"))
NOBODY_ELIGIBLE = template(gettext_noop("nobody to send to: no subscriber is eligible"))
PAUSED_BY_OPERATOR = template(gettext_noop("paused by an operator"))
RESUMED = template(gettext_noop("resumed"))
CANCELLED_BY_OPERATOR = template(gettext_noop("cancelled by an operator"))
# The reason is an operator's own words or CANCELLED_BY_OPERATOR.
CANCELLED = template(gettext_noop("%(reason)s; %(count)d recipients skipped"))
FINISHED = template(gettext_noop("finished"))
# A finished campaign's counts, "30 failed, 90 sent": one piece per final state, joined
# by AND_MORE (each piece is translated in its place; the join keeps the English comma).
FINAL_COUNTS = {
    "failed": template(gettext_noop("%(count)d failed")),
    "in_doubt": template(gettext_noop("%(count)d in doubt")),
    "sent": template(gettext_noop("%(count)d sent")),
    "skipped": template(gettext_noop("%(count)d skipped")),
}
AND_MORE = template(gettext_noop("%(first)s, %(rest)s"))
RETRIED = template(gettext_noop("%(count)d recipients queued again"))
RETRIED_IN_DOUBT = template(
    gettext_noop("%(count)d recipients queued again (%(doubtful)d of them in doubt)")
)
RETRIED_MATCHING = template(gettext_noop("%(count)d recipients queued again (matching %(match)s)"))
RETRIED_IN_DOUBT_MATCHING = template(
    gettext_noop(
        "%(count)d recipients queued again (%(doubtful)d of them in doubt) (matching %(match)s)"
    )
)
START_FAILED = template(gettext_noop("could not start at the scheduled time: %(error)s"))
CANNOT_BUILD = template(gettext_noop("the campaign's message cannot be built: %(error)s"))
SENDER_DOWN = template(
    gettext_noop(
        "sender %(name)s cannot be reached: %(error)s; waiting for it, trying again by itself"
    )
)
IN_DOUBT = template(
    gettext_noop(
        "%(count)d recipients in doubt: the server stopped answering after the message was sent"
    )
)
POLICY_REFUSALS = template(
    gettext_noop(
        "%(count)d recipient(s) refused for policy or reputation through sender %(name)s,"
        " not for their address (it stays mailable): %(reply)s"
    )
)
OVER_BUDGET = template(
    gettext_noop(
        "%(count)d messages went over the template budget, the last: %(error)s;"
        " fix the template and resume"
    )
)

# Recipients in doubt settled by hand: the verb is one of the two below.
MARKED_DELIVERED = template(gettext_noop("marked delivered"))
RESENT = template(gettext_noop("resent"))
RESOLVED_ALL = template(gettext_noop("all %(count)d recipients in doubt %(verb)s by %(who)s"))
RESOLVED_ONE = template(gettext_noop("%(count)d recipient in doubt %(verb)s by %(who)s"))
RESOLVED_MANY = template(gettext_noop("%(count)d recipients in doubt %(verb)s by %(who)s"))
RESOLVED_ONE_NAMED = template(
    gettext_noop("%(count)d recipient in doubt %(verb)s by %(who)s: %(emails)s")
)
RESOLVED_MANY_NAMED = template(
    gettext_noop("%(count)d recipients in doubt %(verb)s by %(who)s: %(emails)s")
)
RESOLVED_MANY_NAMED_MORE = template(
    gettext_noop("%(count)d recipients in doubt %(verb)s by %(who)s: %(emails)s and %(more)d more")
)
# A settled row's note; the old text (why it was in doubt) is appended by the database.
RESOLVED_NOTE = template(gettext_noop("%(verb)s by %(who)s on %(when)s; was in doubt: %(error)s"))

# After a worker died: the count back in the queue, then each further count in a chain
# (`more` is the next piece or ""), so every combination reads whole.
RECOVERED = template(
    gettext_noop("%(count)d recipients back in the queue%(more)s after a worker stopped")
)
RECOVERED_IN_DOUBT = template(
    gettext_noop(", %(count)d in doubt (the server may have accepted them)%(more)s")
)
RECOVERED_SETTLED = template(gettext_noop(", %(count)d settled from the worker's journal%(more)s"))
RECOVERED_SPENT = template(
    gettext_noop(", %(count)d spent an attempt (the worker died building it again)%(more)s")
)

# Auto-pause (delivery.autopause); THRESHOLDS is also the campaign page's own sentence.
THRESHOLDS = template(
    gettext_noop(
        "more than %(percent)s%% of the last %(window)s recipients"
        " (once %(outcomes)s have an outcome)"
    )
)
FAILING = template(
    gettext_noop(
        "%(failed)d of the last %(outcomes)d recipients failed permanently;"
        " it pauses itself when %(thresholds)s fail: check the list and the message, then resume"
    )
)

# A recipient's row (Delivery.error).
ROW_CANCELLED = template(gettext_noop("cancelled"))
ROW_ERASED = template(gettext_noop("erased"))
ROW_UNBUILT = template(gettext_noop("could not build the message: %(error)s"))
ROW_IN_DOUBT = template(
    gettext_noop(
        "the server may have accepted this message (no reply after the body was sent): %(reply)s"
    )
)
ROW_DOUBT = template(
    gettext_noop(
        "the worker stopped while this message was with the SMTP server; it may have been delivered"
    )
)

# Alerts (title, then message).
ALERT_PAUSED = template(gettext_noop("campaign “%(name)s” paused itself"))
ALERT_FINISHED = template(gettext_noop("campaign “%(name)s” finished"))
ALERT_WORKER_DIED = template(gettext_noop("a worker stopped without finishing its work"))
ALERT_WORKER_DIED_TEXT = template(
    gettext_noop("Campaign #%(campaign)d: %(recovered)s; another worker carries on.")
)
