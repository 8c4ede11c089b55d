"""CORS for /api/public/: a browser page on another website may call it when a list allows
that website, and no other.

A preflight (OPTIONS) carries no body, so it cannot say which lists a sign-up
is for: it is allowed when some public list allows the origin, and the
sign-up itself is then refused (403) unless every list it names allows it
(tracking.signups.accept). No credentials are ever allowed: these calls need
none, and a visitor's Postroom session must never ride along.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from postroom.tracking.signups import any_list_allows

PREFIX = "/api/public/"
MAX_AGE = 600  # seconds a browser may keep a preflight's answer


class PublicCorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PREFIX):
            return self.get_response(request)
        origin = request.headers.get("origin", "")
        preflight = request.method == "OPTIONS" and "access-control-request-method" in (
            request.headers
        )
        response = HttpResponse(status=204) if preflight else self.get_response(request)
        response["Vary"] = "Origin"
        # An answer about somebody's sign-up is never kept by a cache on the way.
        response["Cache-Control"] = "no-store"
        if origin and any_list_allows(origin):
            response["Access-Control-Allow-Origin"] = origin
            if preflight:
                response["Access-Control-Allow-Methods"] = "GET, POST"
                response["Access-Control-Allow-Headers"] = "Content-Type, Accept"
                response["Access-Control-Max-Age"] = str(MAX_AGE)
        return response
