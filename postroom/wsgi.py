"""WSGI entry point for gunicorn (`postroom serve`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postroom.settings")
application = get_wsgi_application()
