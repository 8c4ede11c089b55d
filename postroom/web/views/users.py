"""Users (owners only): invite, change roles, deactivate, unlock; and the public pages
behind the emailed links: choose a password, forgot my password."""

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from postroom.accounts import audit, mail, services
from postroom.accounts.models import ROLE_HELP, Role
from postroom.alerts.services import notification_sender
from postroom.audience.models import MailingList
from postroom.errors import PostroomError
from postroom.web.permissions import OperatorRequest, operator_required

ROLE_CHOICES = [(role.value, format_lazy("{}: {}", role.label, ROLE_HELP[role])) for role in Role]


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=Role.EDITOR.value, label=_("Role"))


@operator_required
def index(request: OperatorRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invite(form.cleaned_data["email"], Role(form.cleaned_data["role"]))
        except PostroomError as exc:
            form.add_error("email", str(exc))
        else:
            mail.send_invitation(user, request.user.get_username(), notification_sender())
            messages.success(
                request,
                _("Invited %(email)s as %(user)s: the link is on its way.")
                % {"email": user.email, "user": repr(user.username)},
            )
            return redirect("users")
    context = {
        "rows": services.rows(),
        "form": form,
        "roles": list(Role),
        "me": request.user,
        "all_lists": MailingList.objects.order_by("name"),
    }
    return render(request, "web/users.html", context)


@require_POST
@operator_required
def edit(request: OperatorRequest) -> HttpResponse:
    username = request.POST.get("username", "")
    operation = request.POST.get("operation", "")
    try:
        if operation == "role":
            role = services.parse_role(request.POST.get("role", ""))
            services.set_role(username, role)
            messages.success(
                request,
                _("%(user)s is now %(role)s.")
                % {"user": repr(username), "role": str(role.label).lower()},
            )
        elif operation == "lists":
            services.set_lists(username, request.POST.getlist("lists"))
            granted = request.POST.getlist("lists")
            if granted:
                done = _("%(user)s now sees and mails only %(lists)s.") % {
                    "user": repr(username),
                    "lists": ", ".join(granted),
                }
            else:
                done = _("%(user)s now sees and mails every list.") % {"user": repr(username)}
            messages.success(request, done)
        elif operation == "deactivate":
            services.deactivate(username)
            messages.success(
                request, _("%(user)s can no longer log in.") % {"user": repr(username)}
            )
        elif operation == "reactivate":
            services.reactivate(username)
            messages.success(request, _("%(user)s may log in again.") % {"user": repr(username)})
        elif operation == "unlock":
            services.unlock(username)
            messages.success(request, _("%(user)s is unlocked.") % {"user": repr(username)})
        else:
            messages.error(
                request, _("Unknown operation %(operation)s.") % {"operation": repr(operation)}
            )
    except PostroomError as exc:
        messages.error(request, str(exc))
    return redirect("users")


class ForgotForm(forms.Form):
    email = forms.EmailField(label=_("Your email address"))


def forgot_password(request: HttpRequest) -> HttpResponse:
    """Always the same answer, whether or not the address belongs to someone."""
    form = ForgotForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.for_reset(form.cleaned_data["email"])
        if user is not None:
            mail.send_reset(user, notification_sender())
            audit.record(request, "password reset asked", user=user)
        return render(
            request, "web/account/forgot_sent.html", {"email": form.cleaned_data["email"]}
        )
    return render(request, "web/account/forgot.html", {"form": form})


class SetPassword(auth_views.PasswordResetConfirmView):
    """The page behind an invitation or reset link: choose a password, then log in."""

    template_name = "web/account/set_password.html"
    success_url = reverse_lazy("login")
    post_reset_login = False

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record(self.request, "password set from emailed link", user=form.user)
        messages.success(self.request, _("Your password is set: log in with it."))
        return response


set_password = SetPassword.as_view()
