"""Which language a reader gets: their own, their list's, else their browser's.

Subscribers carry theirs as the `language` attribute (imports map a "language",
"locale" or "Sprache" column to it; the API and forms set attributes too), in
whatever form people write it: "de", "de-AT", "zh_CN", "FR". A list may fix the
language of its pages and confirmations. Anything that is not one of the shipped
languages (settings.LANGUAGES) counts as not given, so an unknown code never
shows a half-translated page: the next source decides.
"""

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from postroom.audience.models import MailingList, Subscriber
from postroom.errors import InvalidInput

# Longer than any real tag ("zh-hans-cn"); a longer value is input to refuse, not to parse.
_MAX_CODE = 35


def supported(code: object) -> str | None:
    """The shipped language a code names ("de-AT" → "de", "zh-CN" → "zh-hans"), or None."""
    if not isinstance(code, str) or not code.strip() or len(code) > _MAX_CODE:
        return None
    try:
        return translation.get_supported_language_variant(code.strip().replace("_", "-").lower())
    except LookupError:
        return None


def clean_language(code: str) -> str:
    """A language setting as given (empty: none), or InvalidInput naming the choices."""
    if not code.strip():
        return ""
    found = supported(code)
    if found is None:
        choices = ", ".join(c for c, _ in settings.LANGUAGES)
        raise InvalidInput(
            _("%(code)r is not a language Postroom speaks (%(choices)s)")
            % {"code": code.strip(), "choices": choices}
        )
    return found


def of_subscriber(subscriber: Subscriber | None) -> str | None:
    if subscriber is None or not isinstance(subscriber.attributes, dict):
        return None
    return supported(subscriber.attributes.get("language"))


def of_list(mailing_list: MailingList | None) -> str | None:
    return supported(mailing_list.language) if mailing_list is not None else None


def for_reader(
    subscriber: Subscriber | None = None, mailing_list: MailingList | None = None
) -> str | None:
    """The subscriber's language, else the list's; None leaves it to the browser."""
    return of_subscriber(subscriber) or of_list(mailing_list)
