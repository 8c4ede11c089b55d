"""Bounce mailboxes on the Bounces page: add, change, poll now, remove.

The password field is write-only: it is never put back into the page, and left
empty it keeps the password stored.
"""

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from postroom.delivery.models import Sender
from postroom.errors import PostroomError
from postroom.tracking import mailboxes
from postroom.tracking.models import BounceMailbox
from postroom.web.permissions import OperatorRequest, operator_required


class MailboxForm(forms.ModelForm):
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        label=_("Password"),
        help_text=_("Stored for the poller only, never shown again. Empty: keep the one stored."),
    )

    class Meta:
        model = BounceMailbox
        fields = [
            "name", "protocol", "host", "port", "tls", "verify_certificate", "username",
            "password", "folder", "processed", "move_to", "sender", "interval_seconds", "enabled",
        ]  # fmt: skip
        labels = {
            "name": _("Name"),
            "protocol": _("Protocol"),
            "host": _("Host"),
            "port": _("Port"),
            "tls": _("TLS"),
            "verify_certificate": _("Verify certificate"),
            "username": _("User name"),
            "folder": _("Folder"),
            "processed": _("Processed messages"),
            "move_to": _("Move to"),
            "sender": _("Sender"),
            "interval_seconds": _("Poll every (seconds)"),
            "enabled": _("Enabled"),
        }
        help_texts = {
            "port": _("993 IMAPS, 143 IMAP (STARTTLS), 995 POP3S, 110 POP3 (STARTTLS)."),
            "folder": _("The IMAP folder bounces arrive in."),
            "processed": _("What to do with a message once recorded. POP3 can only delete."),
            "move_to": _("IMAP folder for processed messages; created when missing."),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        sender = self.fields["sender"]
        assert isinstance(sender, forms.ModelChoiceField)
        sender.queryset = Sender.objects.all()
        sender.empty_label = "every sender"


def _mailbox(mailbox_id: int) -> BounceMailbox:
    try:
        return BounceMailbox.objects.get(pk=mailbox_id)
    except BounceMailbox.DoesNotExist:
        raise Http404("No such mailbox") from None


def _edit(request: OperatorRequest, box: BounceMailbox | None) -> HttpResponse:
    form = MailboxForm(request.POST or None, instance=box)
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in MailboxForm.Meta.fields}
        try:
            if box is None:
                if not values["password"]:
                    raise PostroomError(gettext("give the mailbox's password"))
                box = mailboxes.create_mailbox(**values)
                messages.success(
                    request,
                    _("Mailbox “%(name)s” added; a worker polls it next.") % {"name": box.name},
                )
            else:
                box = mailboxes.update_mailbox(box, **values)
                messages.success(
                    request, _("Mailbox “%(name)s” saved; it is polled next.") % {"name": box.name}
                )
            return redirect("bounces")
        except PostroomError as exc:
            form.add_error(None, str(exc))
    status = 400 if form.errors else 200
    return render(
        request, "web/tracking/mailbox_edit.html", {"form": form, "box": box}, status=status
    )


@operator_required
def new(request: OperatorRequest) -> HttpResponse:
    return _edit(request, None)


@operator_required
def edit(request: OperatorRequest, mailbox_id: int) -> HttpResponse:
    return _edit(request, _mailbox(mailbox_id))


@operator_required
@require_POST
def poll(request: OperatorRequest, mailbox_id: int) -> HttpResponse:
    box = _mailbox(mailbox_id)
    try:
        summary = mailboxes.poll(box)
    except PostroomError as exc:
        messages.error(
            request,
            _("“%(name)s” could not be read: %(reason)s") % {"name": box.name, "reason": exc},
        )
    else:
        messages.success(
            request,
            _(
                "“%(name)s”: %(messages)s message(s), %(bounces)s bounce(s) or complaint(s)"
                " recorded, %(suppressed)s address(es) suppressed."
            )
            % {
                "name": box.name,
                "messages": summary.messages,
                "bounces": summary.bounces,
                "suppressed": summary.suppressed,
            },
        )
    return redirect("bounces")


@operator_required
@require_POST
def delete(request: OperatorRequest, mailbox_id: int) -> HttpResponse:
    box = _mailbox(mailbox_id)
    box.delete()
    messages.success(
        request, _("Mailbox “%(name)s” removed; its bounces stay recorded.") % {"name": box.name}
    )
    return redirect("bounces")
