"""Django settings, from the environment.

``MIANSHEN_DATABASE_URL`` chooses the database (default: an SQLite file under ``var/``);
``MIANSHEN_VAR_DIR`` where local state lives (default ``./var``); ``MIANSHEN_SECRET_KEY`` and
``MIANSHEN_DEBUG`` the usual.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("MIANSHEN_VAR_DIR", Path.cwd() / "var")).resolve()

SECRET_KEY = os.environ.get("MIANSHEN_SECRET_KEY", "dev-only-not-secret-change-me-in-production")
DEBUG = os.environ.get("MIANSHEN_DEBUG", "0") == "1"
ALLOWED_HOSTS = os.environ.get("MIANSHEN_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "mianshen.core",
    "mianshen.registry",
    "mianshen.audit",
    "mianshen.screening",
    "mianshen.cases",
    "mianshen.payments",
    "mianshen.backoffice",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mianshen.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
WSGI_APPLICATION = "mianshen.wsgi.application"


def _database() -> dict[str, object]:
    url = os.environ.get("MIANSHEN_DATABASE_URL", "")
    if not url:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{VAR_DIR / 'mianshen.sqlite3'}"
    db: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=0))
    if db["ENGINE"] == "django.db.backends.sqlite3":
        # Writers serialise on SQLite: BEGIN IMMEDIATE instead of select_for_update (a no-op there).
        db["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 30}
        db["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
    return db


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

LOGIN_URL = "backoffice:login"

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("MIANSHEN_LOG_LEVEL", "WARNING")},
}
