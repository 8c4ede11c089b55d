"""The alert texts the workers and the supervisor store in English, shown translated on
the dashboard (postroom.storedtext); the campaign alerts' are in delivery.texts."""

from postroom.storedtext import gettext_noop, template

SENDER_WAITING = template(
    gettext_noop("sender “%(name)s” has been unreachable for %(minutes)d minutes")
)
SENDER_WAITING_TEXT = template(
    gettext_noop(
        "Campaigns on it are waiting since %(since)s and carry on by themselves when it is"
        " back. Last error: %(error)s"
    )
)
RESTARTED = template(
    gettext_noop("the %(name)s of postroom run stopped unexpectedly and was restarted")
)
RESTARTED_TEXT = template(
    gettext_noop("It exited (%(how)s); postroom run starts it again after %(delay)s s.")
)
# The processes `postroom run` restarts, named in RESTARTED.
WEB_SERVER = template(gettext_noop("web server"))
WORKER = template(gettext_noop("worker"))
