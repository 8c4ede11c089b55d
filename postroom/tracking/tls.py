"""The TLS context Postroom uses to reach servers it reads from (bounce mailboxes, SNS
certificates): the system's CAs plus POSTROOM_TLS_CA_FILE, a private CA or a test's."""

import ssl

from django.conf import settings


def tls_context(verify: bool = True) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if settings.POSTROOM_TLS_CA_FILE:
        context.load_verify_locations(cafile=settings.POSTROOM_TLS_CA_FILE)
    return context
