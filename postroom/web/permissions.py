"""Who may see and change what in the admin UI: the role table in accounts.roles.

Anonymous users are sent to log in; a user whose role does not reach what the
route needs gets 403 with the reason, and one granted some lists only
(accounts.access) gets 403 on whole-audience pages and 404 for an object
outside those lists; views read the grant from `request.access`. A session
opened under another role (the role was changed since) is ended, so a demotion
takes effect at once.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django_htmx.middleware import HtmxDetails

from postroom.accounts import roles, twofactor
from postroom.accounts.access import Access, access_for
from postroom.accounts.signals import SESSION_ROLE
from postroom.errors import NotAllowed, NotFound

View = Callable[..., HttpResponseBase]


class OperatorRequest(HttpRequest):
    """The request a view behind `operator_required` gets, as the type checker should see
    it: a logged-in user (never anonymous), and django-htmx's details from its middleware."""

    user: User
    htmx: HtmxDetails
    access: Access


def operator_required(view: View) -> View:
    """Anonymous users are redirected to the login page; a role too low gets 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        role = roles.role_of(request.user)
        remembered = request.session.get(SESSION_ROLE)
        if role is not None and remembered is not None and remembered != role.value:
            logout(request)
            return redirect_to_login(request.get_full_path())
        route = request.resolver_match.url_name if request.resolver_match else None
        strong = request.session.get(twofactor.STRONG_LOGIN)
        if route not in roles.SELF_ROUTES and not strong and twofactor.missing_for(request.user):
            return redirect("two_factor")
        needed = roles.required_role(route, request.method or "GET")
        if not roles.at_least(role, needed):
            raise PermissionDenied(roles.refusal(role, needed))
        request.access = access_for(request.user)  # type: ignore[attr-defined]
        try:
            request.access.check_route(route, kwargs)  # type: ignore[attr-defined]
        except NotAllowed as exc:
            raise PermissionDenied(str(exc)) from None
        except NotFound as exc:
            raise Http404(str(exc)) from None
        return view(request, *args, **kwargs)

    return login_required(wrapper)
