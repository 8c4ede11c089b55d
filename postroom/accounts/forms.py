"""The log-in form with throttling: a locked name or address is refused before its
password is even checked."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from postroom.accounts import audit, throttle
from postroom.http import client_ip


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


class ThrottledLoginForm(AuthenticationForm):
    def clean(self):
        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request) if self.request is not None else None
        locked = throttle.locked_for(username, ip)
        if locked is not None:
            what, wait = locked
            audit.record(self.request, "login refused", username=username, detail=f"{what} locked")
            whom = "this account is" if what == "account" else "log-ins from your address are"
            raise forms.ValidationError(
                f"Too many failed log-ins: {whom} locked for {_minutes(wait.total_seconds())}."
                " An owner can unlock an account on the Users page.",
                code="locked",
            )
        try:
            return super().clean()
        except forms.ValidationError:
            if username:
                throttle.record_failure(username, ip)
            raise
