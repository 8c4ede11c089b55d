"""Who may see the admin UI: staff users. Everyone else is sent to log in or refused."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

View = Callable[..., HttpResponse]


def operator_required(view: View) -> View:
    """Anonymous users are redirected to the login page; logged-in non-staff get 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("You have no access to Postroom's admin.")
        return view(request, *args, **kwargs)

    return login_required(wrapper)
