import pytest

from postroom.accounts.models import Profile, Role
from postroom.testing.smtpserver import CaptureServer


@pytest.fixture
def smtp():
    with CaptureServer() as server:
        yield server


@pytest.fixture
def make_user(django_user_model):
    """make_user("ed", Role.EDITOR): an active staff user with that role."""

    def make(username: str, role: Role):
        user = django_user_model.objects.create_user(
            username, f"{username}@example.org", "a long test passphrase", is_staff=True
        )
        Profile.objects.create(user=user, role=role)
        return user

    return make
