import pytest

from postroom.accounts.models import Profile, Role


@pytest.fixture
def make_user(django_user_model):
    """make_user("ed", Role.EDITOR): an active staff user with that role."""

    def make(username: str, role: Role, password: str = "a long test passphrase"):
        user = django_user_model.objects.create_user(
            username, f"{username}@example.org", password, is_staff=True
        )
        Profile.objects.create(user=user, role=role)
        return user

    return make
