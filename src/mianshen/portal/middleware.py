"""``?lang=en`` (or ``?lang=zh-hans``) switches the language of the page and remembers it in the language cookie,
after Django's LocaleMiddleware has chosen one from the cookie or ``Accept-Language``."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

ALIASES = {"en": "en", "zh": "zh-hans", "zh-hans": "zh-hans", "zh-cn": "zh-hans"}


class QueryLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = ALIASES.get(str(request.GET.get("lang", "")).strip().lower())
        if chosen:
            translation.activate(chosen)
            request.LANGUAGE_CODE = chosen
        response = self.get_response(request)
        if chosen:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                chosen,
                max_age=365 * 24 * 3600,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response
