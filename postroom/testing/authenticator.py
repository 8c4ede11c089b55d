"""A software passkey for tests without a browser: a real P-256 key that answers
WebAuthn ceremonies the way an authenticator and browser together would.

    passkey = SoftPasskey(origin="http://testserver", rp_id="testserver")
    credential = passkey.create(options_json)     # registration: the browser's JSON
    credential = passkey.get(options_json)        # sign-in: the next signature

It signs with "none" attestation and reports the user as verified. `sign_count`
can be set back to play a cloned key; `origin` can be changed to play a phishing site.
The browser tests use chromium's own virtual authenticator instead.
"""

import hashlib
import json
import os
import struct
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import bytes_to_base64url

UP, UV, AT = 0x01, 0x04, 0x40  # user present, user verified, attested credential data


class SoftPasskey:
    def __init__(self, origin: str, rp_id: str) -> None:
        self.origin = origin
        self.rp_id = rp_id
        self.sign_count = 0
        self.credential_id = os.urandom(16)
        self.user_handle = b""
        self._key = ec.generate_private_key(ec.SECP256R1())

    @property
    def id(self) -> str:
        return bytes_to_base64url(self.credential_id)

    def _public_cose(self) -> bytes:
        numbers = self._key.public_key().public_numbers()
        # COSE_Key: kty EC2, alg ES256, crv P-256, x, y (RFC 9053).
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _client_data(self, kind: str, options: dict[str, Any]) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": options["challenge"], "origin": self.origin}
        ).encode()

    def _authenticator_data(self, attested: bool) -> bytes:
        flags = UP | UV | (AT if attested else 0)
        data = hashlib.sha256(self.rp_id.encode()).digest()
        data += bytes([flags]) + struct.pack(">I", self.sign_count)
        if attested:
            data += bytes(16)  # AAGUID: none
            data += struct.pack(">H", len(self.credential_id)) + self.credential_id
            data += self._public_cose()
        return data

    def create(self, options_json: str) -> dict[str, Any]:
        options = json.loads(options_json)
        self.user_handle = options["user"]["id"].encode()
        client = self._client_data("webauthn.create", options)
        attestation = cbor2.dumps(
            {"fmt": "none", "attStmt": {}, "authData": self._authenticator_data(attested=True)}
        )
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": bytes_to_base64url(client),
                "attestationObject": bytes_to_base64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        }

    def get(self, options_json: str) -> dict[str, Any]:
        options = json.loads(options_json)
        self.sign_count += 1
        client = self._client_data("webauthn.get", options)
        data = self._authenticator_data(attested=False)
        signature = self._key.sign(
            data + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": bytes_to_base64url(client),
                "authenticatorData": bytes_to_base64url(data),
                "signature": bytes_to_base64url(signature),
                "userHandle": self.user_handle.decode(),
            },
            "clientExtensionResults": {},
        }
