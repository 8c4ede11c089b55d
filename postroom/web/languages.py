"""The language of each page: the admin's own choice, or the reader's on public pages.

Django's LocaleMiddleware has already picked the browser's language (Accept-Language,
or the `django_language` cookie) when a request gets here. A logged-in user who chose
a language in Settings gets theirs instead, on every admin page. Public pages decide
for themselves in `render_public` (web.branded): the subscriber's language, else the
list's, else the browser's — never the language of an admin who happens to be logged in.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation

from postroom.accounts.signals import SESSION_LANGUAGE
from postroom.audience.languages import supported


class UserLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = (
            supported(request.session.get(SESSION_LANGUAGE))
            if request.user.is_authenticated
            else None
        )
        if chosen is None:
            return self.get_response(request)
        translation.activate(chosen)
        request.LANGUAGE_CODE = chosen
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", chosen)
        return response


def browser_language(request: HttpRequest) -> str:
    """What the reader's browser asks for, whatever a logged-in user chose for the admin."""
    return translation.get_language_from_request(request)
