"""API tokens (Settings → API tokens): anyone makes tokens that act as themselves, each
secret shown in the one answer that made it; admins also see and revoke everyone's.

Tokens are made for oneself only: a token made for someone else would act with their
role, which may be above one's own.
"""

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from postroom.accounts import audit, roles
from postroom.api import tokens
from postroom.api.models import SCOPES, ApiToken
from postroom.audience.models import MailingList
from postroom.errors import NotFound, PostroomError
from postroom.web import once
from postroom.web.once import OnceField
from postroom.web.permissions import OperatorRequest, operator_required


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label=_("Name"),
        help_text=_("What it is for, so you can tell it apart: “shop”, “backups”."),
    )
    scopes = forms.MultipleChoiceField(
        choices=[(key, format_lazy("{} — {}", key, _(text))) for key, text in SCOPES.items()],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=_("Only for"),
        help_text=_("None ticked: everything your role allows."),
    )
    lists = forms.ModelMultipleChoiceField(
        queryset=MailingList.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=_("Only these lists"),
        help_text=_("None ticked: every list you may see. Ticked: it sees and mails only these."),
    )
    once = OnceField()


def _sees_everyones(request: OperatorRequest) -> bool:
    return roles.at_least(roles.role_of(request.user), roles.EVERYONES_TOKENS)


def _form(request: OperatorRequest, data=None) -> TokenForm:
    """The form, offering the lists this person may see (no such field when there are none)."""
    form = TokenForm(data)
    visible = request.access.lists().order_by("name")
    if visible.exists():
        form.fields["lists"].queryset = visible  # type: ignore[attr-defined]
    else:
        del form.fields["lists"]
    return form


def _page(request: OperatorRequest, form: TokenForm, status: int = 200, **extra) -> HttpResponse:
    everyone = _sees_everyones(request)
    shown = tokens.of(None if everyone else request.user)
    context = {
        "form": form,
        "rows": [(token, tokens.summary(token, gettext)) for token in shown],
        "everyone": everyone,
        **extra,
    }
    return render(request, "web/api_tokens.html", context, status=status)


@operator_required
def index(request: OperatorRequest) -> HttpResponse:
    form = _form(request, request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if not once.first_time(request, data["once"]):
            messages.info(
                request,
                _(
                    "That form was sent already and its token made (a reload sends it again). "
                    "Its secret was shown once: if it is lost, revoke the token and make a new one."
                ),
            )
            return redirect("api_tokens")
        try:
            token, secret = tokens.create(
                request.user, data["name"], data["scopes"], data.get("lists", ())
            )
        except PostroomError as exc:
            form.add_error(None, str(exc))
        else:
            audit.record(
                request, "API token created", target=token.name, detail=tokens.summary(token)
            )
            messages.success(request, _("Token “%(name)s” created.") % {"name": token.name})
            # The secret is in this answer only: never stored, never on a later page.
            response = _page(request, _form(request), status=201, secret=secret, new=token)
            add_never_cache_headers(response)
            return response
    return _page(request, form, status=400 if form.errors else 200)


@require_POST
@operator_required
def revoke(request: OperatorRequest, token_id: int) -> HttpResponse:
    """Someone else's token is 404 to a non-admin: they do not learn which tokens exist."""
    mine_only = None if _sees_everyones(request) else request.user
    try:
        token = tokens.of(mine_only).get(pk=token_id)
        tokens.revoke(token.pk, mine_only)
    except (ApiToken.DoesNotExist, NotFound):
        raise Http404("no such token") from None
    whose = token.user.get_username()
    audit.record(request, "API token revoked", target=f"{token.name} ({whose})")
    messages.success(
        request,
        _("Token “%(name)s” of %(user)s revoked: it no longer works.")
        % {"name": token.name, "user": whose},
    )
    return redirect("api_tokens")
