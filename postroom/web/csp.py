"""The Content-Security-Policy every page gets unless its view set its own (/v/ does).

Scripts only from Postroom's own static files: no inline script, no eval, so an
injected `<script>` or `onclick=` does nothing (page behaviours are attached by
data attributes in static/postroom/behaviour.js). Styles allow inline
attributes and `<style>` because the campaign previews show each email as its
reader will see it, inline styles included (a srcdoc frame inherits this
policy); images may come from any http(s) host for the same reason: an
email's images live on its author's servers.

The pages subscribers see (forms, unsubscribe, preferences, the archive
index) show no email, so they get `public_policy`: images from Postroom
itself and from the brand's logo host only.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


def _policy(img_src: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src {img_src}",
            "font-src 'self'",
            "connect-src 'self'",
            "frame-src 'self'",
            "frame-ancestors 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
        ]
    )


POLICY = _policy("'self' data: https: http:")


def public_policy(logo_origin: str = "") -> str:
    """The policy of a public page whose logo (if any) comes from `logo_origin`
    (`https://host[:port]`, from a checked https URL: postroom.public.branding)."""
    return _policy(f"'self' {logo_origin}".strip())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = POLICY
        return response
