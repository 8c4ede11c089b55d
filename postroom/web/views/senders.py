"""Senders: the SMTP servers campaigns go out through, with a "test connection" button.

A sender's password is never on these pages: the form takes a new one (stored
sealed, see postroom.credentials) or the name of the environment variable that
holds it, and only says whether one is set.
"""

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from postroom.delivery import senders
from postroom.delivery.capacity import sender_report
from postroom.delivery.models import Sender
from postroom.errors import PostroomError
from postroom.mail import dkim
from postroom.web.permissions import operator_required


class SenderForm(forms.Form):
    name = forms.CharField(max_length=100, label=_("Name"))
    host = forms.CharField(
        max_length=255, label=_("Host"), help_text=_("The SMTP server's host name or address.")
    )
    port = forms.IntegerField(
        min_value=1,
        max_value=65535,
        initial=587,
        label=_("Port"),
        help_text=_("587 for STARTTLS, 465 for TLS."),
    )
    tls = forms.ChoiceField(
        choices=Sender.Tls.choices,
        initial="starttls",
        label=_("TLS"),
        help_text=_("STARTTLS upgrades a plain connection; TLS encrypts from the start."),
    )
    verify_certificate = forms.BooleanField(
        required=False,
        initial=True,
        label=_("Verify certificate"),
        help_text=_("Leave on unless the server has a self-signed certificate you trust."),
    )
    username = forms.CharField(max_length=255, required=False, label=_("User name"))
    password = forms.CharField(
        max_length=1000,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        label=_("Password"),
        help_text=_("Stored encrypted and never shown again. Leave empty to keep the current one."),
    )
    clear_password = forms.BooleanField(required=False, label=_("Remove the stored password"))
    password_env = forms.CharField(
        max_length=100,
        required=False,
        label=_("Or: password variable"),
        help_text=_(
            "Instead of a password, the name of an environment variable of the workers"
            " holding it, starting with POSTROOM_SMTP_ (e.g. POSTROOM_SMTP_RELAY)."
        ),
    )
    max_connections = forms.IntegerField(
        min_value=1,
        max_value=100,
        initial=4,
        label=_("Max connections"),
        help_text=_(
            "Connections each worker keeps open. More is faster until the server's own"
            " limit; many providers allow 2 to 10."
        ),
    )
    envelope_from = forms.CharField(
        max_length=320,
        required=False,
        label=_("Envelope sender"),
        help_text=_("MAIL FROM, where bounces go. Empty: the campaign's From address."),
    )
    verp = forms.BooleanField(
        required=False,
        label=_("VERP"),
        help_text=_(
            "A return path per recipient (bounces+b12-345-…@domain): a bounce then names"
            " its recipient even when the report in it is mangled. The envelope sender's mailbox"
            " must accept “+” addresses."
        ),
    )
    dkim_domain = forms.CharField(
        max_length=253,
        required=False,
        label=_("DKIM domain"),
        help_text=_(
            "Sign every message for this domain (d=), usually the From address's."
            " Empty: no DKIM signature."
        ),
    )
    dkim_selector = forms.CharField(
        max_length=63, required=False, label=_("DKIM selector"), help_text=_("e.g. news2025 (s=).")
    )
    dkim_key_file = forms.CharField(
        max_length=1024,
        required=False,
        label=_("DKIM key file"),
        help_text=_(
            "Path of the PEM private key on the worker machines; make one with"
            " “postroom sender dkim-keygen FILE”. The key itself is never stored or shown."
        ),
    )
    rates = forms.CharField(
        required=False,
        label=_("Rate limits"),
        help_text=_(
            "Comma-separated windows the provider allows, e.g. “10/second, 35/hour,"
            " 2000/day”. Every message through this sender counts. Empty: no limit."
        ),
    )


# The form in groups, most asked-about first: sixteen loose fields hid the limits at the
# bottom. (legend, field names); a field missing from the form (no stored password to
# clear) is left out.
FIELD_GROUPS = (
    (_("Server"), ("name", "host", "port", "tls", "verify_certificate")),
    (_("Speed and limits"), ("rates", "max_connections")),
    (_("Log-in"), ("username", "password", "clear_password", "password_env")),
    (_("Envelope and bounces"), ("envelope_from", "verp")),
    (_("DKIM signing"), ("dkim_domain", "dkim_selector", "dkim_key_file")),
)


def field_groups(form: forms.Form) -> list[tuple[str, list[forms.BoundField]]]:
    return [
        (str(legend), [form[name] for name in names if name in form.fields])
        for legend, names in FIELD_GROUPS
    ]


def _sender(sender_id: int) -> Sender:
    try:
        return Sender.objects.get(pk=sender_id)
    except Sender.DoesNotExist:
        raise Http404("No such sender") from None


def _rates(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


@operator_required
def index(request: HttpRequest) -> HttpResponse:
    rows = [senders.describe(s) for s in Sender.objects.all()]
    return render(request, "web/delivery/senders.html", {"rows": rows})


def _edit(request: HttpRequest, sender: Sender | None) -> HttpResponse:
    initial = {}
    if sender is not None:
        info = senders.describe(sender)
        initial = {field: getattr(sender, field) for field in senders.FIELDS}
        initial["rates"] = ", ".join(info["rates"])
    form = SenderForm(request.POST or None, initial=initial)
    if sender is not None and sender.password_sealed:
        form.fields[
            "password"
        ].help_text = "A password is stored (encrypted). Leave empty to keep it."
    else:
        del form.fields["clear_password"]
    if request.method == "POST" and form.is_valid():
        values = dict(form.cleaned_data)
        rates = _rates(values.pop("rates"))
        try:
            if sender is None:
                sender = senders.create_sender(rates=rates, **values)
                messages.success(
                    request,
                    _("Sender “%(name)s” added. Test its connection.") % {"name": sender.name},
                )
            else:
                senders.update_sender(sender, rates=rates, **values)
                messages.success(request, _("Sender saved; running campaigns use it from now on."))
            return redirect("senders")
        except PostroomError as exc:
            form.add_error(None, str(exc))
    status = 400 if form.errors else 200
    context: dict[str, Any] = {"form": form, "sender": sender, "groups": field_groups(form)}
    if sender is not None:  # limits, their use and the campaigns sharing it
        context["capacity"] = sender_report(sender)
        context["dkim"] = _dkim_record(sender)
    return render(request, "web/delivery/sender_edit.html", context, status=status)


def _dkim_record(sender: Sender) -> dict | None:
    """The DNS record to publish for a signing sender, or why it cannot sign."""

    try:
        signer = dkim.signer_for(sender)
    except PostroomError as exc:
        return {"error": str(exc)}
    if signer is None:
        return None
    name, value = signer.dns_record()
    return {"name": name, "value": value}


@operator_required
def new(request: HttpRequest) -> HttpResponse:
    return _edit(request, None)


@operator_required
def edit(request: HttpRequest, sender_id: int) -> HttpResponse:
    return _edit(request, _sender(sender_id))


@operator_required
@require_POST
def delete(request: HttpRequest, sender_id: int) -> HttpResponse:
    sender = _sender(sender_id)
    try:
        senders.delete_sender(sender)
    except PostroomError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Sender “%(name)s” deleted.") % {"name": sender.name})
    return redirect("senders")


@operator_required
@require_POST
def test(request: HttpRequest, sender_id: int) -> HttpResponse:
    sender = _sender(sender_id)
    report = senders.test_sender(sender)
    if report.ok:
        messages.success(
            request,
            _("“%(name)s”: %(result)s (%(seconds)s s).")
            % {"name": sender.name, "result": report.message, "seconds": f"{report.seconds:.2f}"},
        )
    else:
        messages.error(
            request,
            _("“%(name)s”: %(step)s failed: %(reason)s")
            % {"name": sender.name, "step": report.step, "reason": report.message},
        )
    return redirect("senders")
