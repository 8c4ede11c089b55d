"""A real OpenID Connect provider for tests: django-oauth-toolkit in a tiny Django project
of its own, run as a second server process (see postroom/testing/oidc.py).

It has its own SQLite file, its own cookie names (the browser shares cookies between
two ports of 127.0.0.1, so Postroom's `sessionid` would otherwise be overwritten), one
client application and the users given in a JSON file. Each user's claims (email,
groups, …) are read from that file at every sign-in, so a test changes a person's
groups at the provider by rewriting the file.
"""
