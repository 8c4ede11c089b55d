"""Shared pieces of the sign-up tests: lists, posts, a solved captcha."""

import base64
import json

from altcha import solve_challenge_v1

from postroom.tracking import captcha

SITE = "https://shop.example"


def post_json(client, body: dict, ip: str = "203.0.113.7", **headers):
    return client.post(
        "/api/public/subscription",
        json.dumps(body),
        content_type="application/json",
        REMOTE_ADDR=ip,
        headers=headers,
    )


def solved_captcha() -> str:
    """A genuine solution, found the way the browser finds it."""
    c = captcha.challenge()
    solution = solve_challenge_v1(c["challenge"], c["salt"], c["algorithm"], c["maxnumber"])
    assert solution is not None
    payload = {**{k: c[k] for k in ("algorithm", "challenge", "salt", "signature")}}
    payload["number"] = solution.number
    return base64.b64encode(json.dumps(payload).encode()).decode()
