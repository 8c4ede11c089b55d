"""The mail core: templating, content, MIME, link signing, compose, DKIM, the SMTP client.

Bytes in, bytes out: nothing here imports Django, reads settings or touches a
database (tests/mail/test_no_django.py checks it), so it can be read, tested
and benchmarked on its own. The Django apps feed it plain data (a
`compose.CampaignSpec`, a `links.LinkSigner`) and store what it returns.
"""
