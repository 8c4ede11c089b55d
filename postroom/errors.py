"""Domain errors.

Domain functions raise these; views, the API and the CLI turn them into a
message, a response or an exit code. The message is one line a user can act on.
"""


class PostroomError(Exception):
    """A problem the user can fix, with a one-line explanation."""


class NotFound(PostroomError):
    """A named object (list, campaign, sender, ...) does not exist."""


class InvalidInput(PostroomError):
    """Input that was refused as a whole; nothing was changed."""


class ConfigurationError(PostroomError):
    """The environment or a setting is wrong; the process cannot start."""


class NotAllowed(PostroomError):
    """The caller may not do this (a website not allowed to post to a list, …)."""


class TooMany(PostroomError):
    """Too many requests from one place: wait, then try again."""


class Conflict(PostroomError):
    """The request clashes with the current state (a segment still used by campaigns, …)."""
