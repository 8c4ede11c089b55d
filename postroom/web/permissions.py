"""Who may see the admin UI: staff users. Everyone else is sent to log in or refused."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django_htmx.middleware import HtmxDetails

View = Callable[..., HttpResponseBase]


class OperatorRequest(HttpRequest):
    """The request a view behind `operator_required` gets, as the type checker should see
    it: a logged-in user (never anonymous), and django-htmx's details from its middleware."""

    user: User
    htmx: HtmxDetails


def operator_required(view: View) -> View:
    """Anonymous users are redirected to the login page; logged-in non-staff get 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if not request.user.is_staff:
            raise PermissionDenied("You have no access to Postroom's admin.")
        return view(request, *args, **kwargs)

    return login_required(wrapper)
