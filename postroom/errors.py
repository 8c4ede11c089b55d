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
