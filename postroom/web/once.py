"""Forms that make something shown once (an API token and its secret) are acted on once.

A browser's reload re-posts the form that made the page; for these forms that
would silently make a second token. Each rendered form carries a random key;
the session remembers the last keys acted on, and a repeat is told so instead.
"""

import secrets

from django import forms
from django.http import HttpRequest

SESSION_KEY = "postroom_once"
REMEMBERED = 50


def new_key() -> str:
    return secrets.token_urlsafe(16)


class OnceField(forms.CharField):
    """Hidden, a fresh key each time the form is drawn. Optional: a script posting
    the form without it is not held back."""

    def __init__(self) -> None:
        super().__init__(widget=forms.HiddenInput, initial=new_key, required=False, max_length=64)


def first_time(request: HttpRequest, key: str) -> bool:
    """False when this key was acted on before in this session (a re-post); records it."""
    if not key:
        return True
    used = list(request.session.get(SESSION_KEY, []))
    if key in used:
        return False
    request.session[SESSION_KEY] = [*used, key][-REMEMBERED:]
    return True
