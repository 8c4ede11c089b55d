"""Log-ins, failed log-ins and log-outs go to the audit log; a log-in remembers the role."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from postroom.accounts import audit, roles, throttle
from postroom.accounts.languages import language_of

SESSION_ROLE = "postroom_role"
# The language the user chose (Profile.language), kept in the session so that reading it
# costs no query a request: web.languages.UserLanguageMiddleware activates it.
SESSION_LANGUAGE = "postroom_language"


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs) -> None:
    role = roles.role_of(user)
    if request is not None and hasattr(request, "session"):
        # A role change ends the session: permissions.operator_required compares.
        request.session[SESSION_ROLE] = role.value if role else ""
        request.session[SESSION_LANGUAGE] = language_of(user)
    throttle.forget(user.get_username())
    audit.record(request, "login", user=user)
    audit.purge_old()
    throttle.purge_old()


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    username = str(credentials.get("username", ""))
    audit.record(request, "login failed", username=username)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit.record(request, "logout", user=user)
