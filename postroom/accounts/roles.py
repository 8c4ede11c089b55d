"""What each role may do, in one table, and the check every admin view and API call makes.

The rule reads the route's name and the HTTP method, so a new page is covered
the moment it is routed: reading needs `viewer`, changing needs `editor`, and the
areas below need more. tests/accounts/test_role_walk.py walks every route for
every role against this table.
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Model
from django.utils.translation import gettext

from postroom.accounts.models import Profile, Role

# Most powerful first: a role may do what any role after it may do.
ORDER = [Role.OWNER, Role.ADMIN, Role.EDITOR, Role.VIEWER]

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Users and installation-wide settings: owners only.
OWNER_ROUTES = frozenset({"users", "user_edit", "notification_sender", "branding"})
# Senders, bounce mailboxes and webhooks (their credentials and URLs decide where mail
# and data go, and what is read) and the audit log: admins.
ADMIN_ROUTES = frozenset(
    {
        "sender_new", "sender_edit", "sender_test", "sender_delete",
        "mailbox_new", "mailbox_edit", "mailbox_poll", "mailbox_delete",
        "webhooks", "webhook_detail", "webhook_test", "webhook_rotate", "webhook_delete",
        "audit", "audit_csv",
    }
)  # fmt: skip
# Files of personal data: not for viewers.
EXPORT_ROUTES = frozenset(
    {"export", "import_rejects", "campaign_deliveries_csv", "outbox_raw", "automation_positions"}
)
# A person's own account: any role, even to change it.
SELF_ROUTES = frozenset(
    {
        "password_change", "language", "logout", "two_factor", "two_factor_disable",
        "passkey_register_options", "passkey_add", "passkey_remove",
    }
)  # fmt: skip
# A person's own API tokens: any role, since a token acts as its user and never does more
# than their role allows. Unlike SELF_ROUTES they wait for a required second factor: a
# token must not be a way round it. Admins and owners also see and revoke everyone's.
TOKEN_ROUTES = frozenset({"api_tokens", "api_token_revoke"})
EVERYONES_TOKENS = Role.ADMIN


def role_of(user: AbstractBaseUser | AnonymousUser) -> Role | None:
    """The user's role; None for anyone who may not use the admin at all.

    Staff users from before roles existed have no profile: a superuser (made by
    `createadmin`) is an owner, other staff were full operators and stay admins.
    """
    if not (user.is_authenticated and user.is_active and getattr(user, "is_staff", False)):
        return None
    return stored_role(user)


def stored_role(user: AbstractBaseUser | AnonymousUser) -> Role:
    """The role on record, also for a deactivated user (what they get back if reactivated)."""
    if user.pk is None or not isinstance(user, Model):
        return Role.VIEWER
    # Joined in when the user was read (the API's token query): no second query.
    if Profile._meta.get_field("user").remote_field.is_cached(user):
        try:
            profile: Profile | None = user.postroom_profile  # type: ignore[attr-defined]
        except Profile.DoesNotExist:
            profile = None
    else:
        profile = Profile.objects.filter(user_id=int(user.pk)).only("role").first()
    if profile is not None:
        return Role(profile.role)
    return Role.OWNER if getattr(user, "is_superuser", False) else Role.ADMIN


def at_least(role: Role | None, needed: Role) -> bool:
    return role is not None and ORDER.index(role) <= ORDER.index(needed)


def required_role(route: str | None, method: str) -> Role:
    """The least role that may call this route with this method."""
    name = route or ""
    if name in OWNER_ROUTES:
        return Role.OWNER
    if name in ADMIN_ROUTES:
        return Role.ADMIN
    if name in SELF_ROUTES or name in TOKEN_ROUTES:
        return Role.VIEWER
    if name in EXPORT_ROUTES or method.upper() not in READ_METHODS:
        return Role.EDITOR
    return Role.VIEWER


def refusal(role: Role | None, needed: Role) -> str:
    """Why a request was refused, in words the person can act on."""
    if role is None:
        return gettext("You have no access to Postroom's admin.")
    return gettext("Your role (%(role)s) cannot do this: it needs %(needed)s or above.") % {
        "role": role.label,
        "needed": Role(needed).label,
    }
