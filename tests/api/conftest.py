"""The API tests' cast: a token per role (optionally narrowed), and a JSON client."""

import json

import pytest
from django.test import Client

from postroom.accounts.models import Profile, Role
from postroom.api.models import ApiToken


class Api:
    """A test client that sends one token with every call and speaks JSON."""

    def __init__(self, secret: str, user=None) -> None:
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
        self.user = user

    def _send(self, method: str, path: str, body=None, **extra):
        data = None if body is None else json.dumps(body)
        return getattr(self.client, method)(path, data, content_type="application/json", **extra)

    def get(self, path: str, params: dict | None = None, **extra):
        return self.client.get(path, params or {}, **extra)

    def post(self, path: str, body=None, **extra):
        return self._send("post", path, body, **extra)

    def patch(self, path: str, body=None, **extra):
        return self._send("patch", path, body, **extra)

    def put(self, path: str, body=None, **extra):
        return self._send("put", path, body, **extra)

    def delete(self, path: str, **extra):
        return self.client.delete(path, **extra)


@pytest.fixture
def token_for(django_user_model):
    """token_for(Role.EDITOR, scopes=["read"], lists=[ml]): an Api for a new user's token."""
    made = []

    def make(role: Role = Role.OWNER, scopes=None, lists=()) -> Api:
        name = f"{role.value}{len(made)}"
        user = django_user_model.objects.create_user(name, f"{name}@example.org", is_staff=True)
        Profile.objects.create(user=user, role=role)
        made.append(user)
        return Api(ApiToken.issue(user, "tests", scopes=scopes, lists=lists)[1], user)

    return make


@pytest.fixture
def api(token_for) -> Api:
    """An owner's full token."""
    return token_for(Role.OWNER)


def refused(response, status: int) -> str:
    """The refusal's detail, after checking its status and the one error shape."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) <= {"detail", "errors"} and isinstance(body["detail"], str), body
    assert body["detail"]
    return body["detail"]
