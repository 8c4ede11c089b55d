"""Names for copies: "Copy of X", then "Copy of X (2)", "Copy of X (3)" — never two alike.

Two duplicates of one campaign with the same name cannot be told apart in a
list, a filter or an alert, so every copy gets the first free name.
"""

from collections.abc import Callable

COPY_PREFIX = "Copy of "


def copy_name(name: str, taken: Callable[[str], bool], max_length: int = 200) -> str:
    """The first of "Copy of NAME", "Copy of NAME (2)", … for which `taken` is False."""
    base = f"{COPY_PREFIX}{name}"[: max_length - 6]  # room for " (99)" and more
    candidate, n = base, 2
    while taken(candidate):
        candidate, n = f"{base} ({n})", n + 1
    return candidate
