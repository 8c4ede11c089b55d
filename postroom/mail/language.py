"""The mail core's refusals in the reader's language, without importing Django.

The mail core stays Django-free (see the package docstring), yet its refusals
(a template error, a bad header, a DKIM key) reach pages and the API. So its
modules mark them with this module's `gettext`/`ngettext`, which return the
English text until the host installs a translator: the Django apps install
Django's in an AppConfig.ready(); the mail core alone, its tests and benches
stay English. The names are those `makemessages` extracts and
tests/languages/test_domain_messages.py recognises.
"""

from collections.abc import Callable

Gettext = Callable[[str], str]
Ngettext = Callable[[str, str, int], str]


def _english(text: str) -> str:
    return text


def _english_plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


_gettext: Gettext = _english
_ngettext: Ngettext = _english_plural


def install(gettext: Gettext, ngettext: Ngettext) -> None:
    """Translate the mail core's messages from now on (called once, at start-up)."""
    global _gettext, _ngettext
    _gettext, _ngettext = gettext, ngettext


def gettext(text: str) -> str:
    return _gettext(text)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _ngettext(singular, plural, n)
