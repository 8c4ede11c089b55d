"""The provider's claims: each user's entry in the users file, read at every sign-in."""

import json
from pathlib import Path
from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator

# Set by __main__ from --users before the server starts.
USERS_FILE = Path("users.json")


def users_file() -> dict[str, dict[str, Any]]:
    return json.loads(USERS_FILE.read_text())


class FileClaimsValidator(OAuth2Validator):
    # Which scope releases which claim; `groups` comes with `profile`, as with Authentik.
    oidc_claim_scope = {
        **OAuth2Validator.oidc_claim_scope,
        "groups": "profile",
        "email_verified": "email",
    }

    def get_additional_claims(self, request) -> dict[str, Any]:
        entry = users_file().get(request.user.username, {})
        claims = {"preferred_username": request.user.username, "email": entry.get("email", "")}
        claims["email_verified"] = bool(entry.get("email_verified", True))
        claims["groups"] = list(entry.get("groups", []))
        claims.update(entry.get("claims", {}))
        return claims
