"""The site: the public portal at / (its JSON API at /api/), the back office at /office/; Django's admin at /admin/ only when MIANSHEN_ADMIN_ENABLED=1, and
then behind the second factor (django-otp's admin site: a verified session only)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from django_otp.admin import OTPAdminSite

from mianshen.portal.api import api


def _admin() -> list[URLPattern | URLResolver]:
    if not settings.ADMIN_ENABLED:
        return []
    admin.site.__class__ = OTPAdminSite  # django-otp's documented way: the registered models stay
    return [path("admin/", admin.site.urls)]


urlpatterns = [
    *_admin(),
    path("office/", include("mianshen.backoffice.urls")),
    path("api/", api.urls),
    path("", include("mianshen.portal.urls")),
]
