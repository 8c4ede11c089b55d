"""Log-in with a second factor, and each person's own enrolment page.

After a right password, a user with an authenticator is not logged in yet: the
session remembers who (for five minutes) and the next page asks for a code.
Wrong codes count toward the same lockout as wrong passwords.
"""

import time

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from postroom.accounts import audit, passkeys, sso, throttle, twofactor
from postroom.accounts.forms import ThrottledLoginForm
from postroom.http import client_ip
from postroom.web.permissions import OperatorRequest, operator_required

PENDING = "postroom_2fa_pending"
PENDING_SECONDS = 300


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True
    authentication_form = ThrottledLoginForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["sso_name"] = settings.POSTROOM_OIDC_NAME if sso.enabled() else ""
        return context

    def form_valid(self, form):
        user = form.get_user()
        if twofactor.active_for(user) is None:
            return super().form_valid(form)
        self.request.session[PENDING] = {
            "user": user.pk,
            "backend": getattr(user, "backend", ""),
            "next": self.get_success_url(),
            "at": time.time(),
        }
        return redirect("login_code")


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your authenticator app (or a recovery code)"),
        max_length=20,
        widget=forms.TextInput({"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


def login_code(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(PENDING)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        messages.info(request, _("Log in again: the code page waits five minutes at most."))
        return redirect("login")
    user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    two_factor = twofactor.active_for(user) if user is not None else None
    if user is None or two_factor is None:
        request.session.pop(PENDING, None)
        return redirect("login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        locked = throttle.locked_for(user.get_username(), ip)
        if locked is not None:
            form.add_error(None, "Too many failed log-ins: try again later.")
        elif twofactor.verify(two_factor, form.cleaned_data["code"]):
            request.session.pop(PENDING, None)
            login(request, user, backend=pending["backend"] or None)
            return redirect(pending["next"])
        else:
            throttle.record_failure(user.get_username(), ip)
            audit.record(request, "login failed", username=user.get_username(), detail="bad code")
            form.add_error("code", "That code is not right (or was used already).")
    return render(request, "web/account/login_code.html", {"form": form})


@operator_required
def enrol(request: OperatorRequest) -> HttpResponse:
    two_factor = twofactor.start_enrolment(request.user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and two_factor.confirmed_at is None:
        codes = twofactor.confirm(two_factor, form.cleaned_data["code"])
        if codes is not None:
            audit.record(request, "two-factor enabled")
            return render(request, "web/account/recovery_codes.html", {"codes": codes})
        form.add_error("code", "That code is not right: check the time on your phone.")
    context = {
        "two_factor": two_factor,
        "form": form,
        "qr": twofactor.qr_svg(two_factor) if two_factor.confirmed_at is None else "",
        "required": twofactor.required_for(request.user),
        "passkeys": passkeys.of(request.user),
    }
    return render(request, "web/account/two_factor.html", context)


@require_POST
@operator_required
def disable(request: OperatorRequest) -> HttpResponse:
    if twofactor.required_for(request.user):
        messages.error(request, _("Two-factor log-in is required for your role here."))
    elif not request.user.check_password(request.POST.get("password", "")):
        messages.error(request, _("That password is not right; two-factor log-in stays on."))
    else:
        twofactor.disable(request.user)
        audit.record(request, "two-factor disabled")
        messages.success(request, _("Two-factor log-in is off."))
    return redirect("two_factor")
