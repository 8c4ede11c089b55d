"""Settings: the effective configuration (never its secrets), the operator's password and
language."""

import platform
from collections.abc import Mapping
from typing import Any

import django
from django.conf import settings as conf
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

import postroom
from postroom.accounts import roles
from postroom.accounts.languages import choose_language, language_of
from postroom.accounts.signals import SESSION_LANGUAGE
from postroom.alerts import services as alerts
from postroom.delivery.models import Sender
from postroom.errors import InvalidInput
from postroom.public import branding
from postroom.public.forms import BrandingForm
from postroom.web.languages import browser_language
from postroom.web.permissions import OperatorRequest, operator_required


@operator_required
def index(request: HttpRequest) -> HttpResponse:
    return index_page(request)


def index_page(
    request: HttpRequest, branding_form: BrandingForm | None = None, status: int = 200
) -> HttpResponse:
    """The Settings page; with the branding form as posted when it was refused."""
    role = roles.role_of(request.user)
    context = {
        "facts": effective_configuration(),
        "senders": Sender.objects.all(),
        "notification_sender": alerts.notification_sender(),
        "admins": alerts.admins(),
        "waiting_minutes": conf.POSTROOM_ALERT_SENDER_WAITING_MINUTES,
        "can_manage_users": roles.at_least(role, roles.required_role("users", "GET")),
        "can_audit": roles.at_least(role, roles.required_role("audit", "GET")),
        "can_brand": roles.at_least(role, roles.required_role("branding", "POST")),
        "branding_form": branding_form or BrandingForm.of(branding.stored(None)),
        "languages": conf.LANGUAGES,
        "my_language": language_of(request.user),
    }
    return render(request, "web/settings.html", context, status=status)


def effective_configuration() -> list[tuple[str, str]]:
    """What an operator needs to know to debug a deployment; no keys or passwords."""
    return [
        (_("Postroom version"), postroom.__version__),
        (_("Database"), describe_database(conf.DATABASES["default"])),
        (_("Base URL"), conf.POSTROOM_BASE_URL),
        (_("Data directory"), str(conf.DATA_DIR)),
        (_("Media storage"), describe_media_storage(conf.STORAGES["media"])),
        (_("Allowed hosts"), ", ".join(conf.ALLOWED_HOSTS)),
        (_("CSRF trusted origins"), ", ".join(conf.CSRF_TRUSTED_ORIGINS)),
        (
            _("Secure cookies"),
            _("on") if conf.SESSION_COOKIE_SECURE else _("off (base URL is not https)"),
        ),
        (_("Behind a proxy"), _("yes") if conf.POSTROOM_BEHIND_PROXY else _("no")),
        (_("Debug"), _("on") if conf.DEBUG else _("off")),
        (_("Time zone"), conf.TIME_ZONE),
        (
            _("Health check /health"),
            _("token required") if conf.POSTROOM_HEALTH_TOKEN else _("public"),
        ),
        (_("Log level"), conf.LOG_LEVEL),
        ("Django / Python", f"{django.get_version()} / {platform.python_version()}"),
    ]


def describe_media_storage(storage: Mapping[str, Any]) -> str:
    """Where the media library keeps its files (docs/media.md); never the keys."""
    options = storage.get("OPTIONS", {})
    if "bucket_name" in options:
        where = options.get("endpoint_url") or "AWS"
        return f"s3://{options['bucket_name']}/{options.get('location', '')} ({where})"
    return str(options.get("location", ""))


def describe_database(db: Mapping[str, Any]) -> str:
    if db["ENGINE"].endswith("sqlite3"):
        return f"SQLite, {db['NAME']}"
    host = db.get("HOST") or "local socket"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    user = f"{db['USER']}@" if db.get("USER") else ""
    return f"PostgreSQL, {user}{host}{port}/{db['NAME']}"


@operator_required
def change_password(request: OperatorRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        update_session_auth_hash(request, user)  # stay logged in after the change
        messages.success(request, _("Your password was changed."))
        return redirect("settings")
    return render(request, "web/password_change.html", {"form": form})


@require_POST
@operator_required
def language(request: OperatorRequest) -> HttpResponse:
    """The language this user reads the admin in; empty: as their browser asks."""
    try:
        chosen = choose_language(request.user, request.POST.get("language", ""))
    except InvalidInput as exc:
        messages.error(request, capfirst(str(exc)) + ".")
        return index_page(request, status=400)
    request.session[SESSION_LANGUAGE] = chosen
    # The confirmation already speaks the new language.
    translation.activate(chosen or browser_language(request))
    messages.success(request, _("Your language was saved."))
    return redirect("settings")


@operator_required
def ui_kit(request: HttpRequest) -> HttpResponse:
    """Every building block of the UI on one page, for people writing templates."""
    return render(request, "web/ui_kit.html", {})
