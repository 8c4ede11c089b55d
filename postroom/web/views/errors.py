"""Friendly 403, 404 and 500 pages in the site's own look."""

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "web/404.html", status=404)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # The role check says which role the action needs; other refusals keep the plain text.
    reason = str(exception) if exception is not None and str(exception) else ""
    return render(request, "web/403.html", {"reason": reason}, status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    # No request context: the database or a context processor may be what failed.
    return HttpResponseServerError(loader.get_template("web/500.html").render())
