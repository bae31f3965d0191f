"""The WSGI application (gunicorn `mianshen.wsgi:application`; see docs/operations.md). A configuration that is
refused (production without MIANSHEN_SECRET_KEY, …) stops the server with that one line."""

import os

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mianshen.settings")
try:
    application = get_wsgi_application()
except ImproperlyConfigured as exc:
    raise SystemExit(f"mianshen: {exc}") from None
