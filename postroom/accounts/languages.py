"""Each user's own language for the admin: chosen in Settings, kept on their profile."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser

from postroom.accounts.models import Profile
from postroom.accounts.roles import stored_role
from postroom.audience.languages import clean_language, supported


def language_of(user: AbstractBaseUser | AnonymousUser) -> str:
    """The language the user chose; empty for "as my browser says"."""
    if user.pk is None:
        return ""
    code = Profile.objects.filter(user_id=user.pk).values_list("language", flat=True).first()
    return supported(code) or ""


def choose_language(user: AbstractBaseUser, code: str) -> str:
    """Keep `code` (empty: the browser's) as the user's language; InvalidInput if unknown."""
    language = clean_language(code)
    # Users from before roles have no profile: made here with the role they have now.
    profile, _ = Profile.objects.get_or_create(
        user_id=user.pk, defaults={"role": stored_role(user)}
    )
    profile.language = language
    profile.save(update_fields=["language"])
    return language
