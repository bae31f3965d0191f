"""Django settings, from the environment.

``MIANSHEN_ENV`` is ``development`` (the default: `make demo` and `make test` need nothing else) or
``production``, which refuses to start without ``MIANSHEN_SECRET_KEY`` (or with ``MIANSHEN_DEBUG=1``) and turns
on HTTPS only: HSTS, the redirect to HTTPS and Secure cookies. ``DEBUG`` alone decides nothing.
``MIANSHEN_DATABASE_URL`` chooses the database (default: an SQLite file under ``var/``, created readable by its
owner only); ``MIANSHEN_VAR_DIR`` where local state lives (default ``./var``). The rest is in
docs/operations.md, with what ``mianshen check --deploy`` expects.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("MIANSHEN_VAR_DIR", Path.cwd() / "var")).resolve()

ENVIRONMENTS = ("development", "production")
MIANSHEN_ENV = os.environ.get("MIANSHEN_ENV", "").strip() or "development"
if MIANSHEN_ENV not in ENVIRONMENTS:
    raise ImproperlyConfigured(f"MIANSHEN_ENV={MIANSHEN_ENV!r}: use one of {', '.join(ENVIRONMENTS)}")
PRODUCTION = MIANSHEN_ENV == "production"

DEVELOPMENT_SECRET_KEY = "dev-only-not-secret-change-me-in-production"
SECRET_KEY = os.environ.get("MIANSHEN_SECRET_KEY", "").strip()
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "MIANSHEN_ENV=production needs MIANSHEN_SECRET_KEY (a long random value, kept secret: "
            "see docs/operations.md)"
        )
    SECRET_KEY = DEVELOPMENT_SECRET_KEY
DEBUG = os.environ.get("MIANSHEN_DEBUG", "0") == "1"
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured(
        "MIANSHEN_DEBUG=1 is refused when MIANSHEN_ENV=production (error pages show data)"
    )
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("MIANSHEN_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")
]
if PRODUCTION and ("*" in ALLOWED_HOSTS or not any(ALLOWED_HOSTS)):
    raise ImproperlyConfigured(
        "MIANSHEN_ALLOWED_HOSTS must name the site's host(s) when MIANSHEN_ENV=production, not '*' or nothing "
        "(any Host header would be believed: links in e-mails, password pages, the CSRF origin)"
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "ninja",
    "mianshen.core",
    "mianshen.staff",
    "mianshen.registry",
    "mianshen.audit",
    "mianshen.screening",
    "mianshen.cases",
    "mianshen.payments",
    "mianshen.reports",
    "mianshen.notify",
    "mianshen.backoffice",
    "mianshen.portal",
    "mianshen.cli",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "mianshen.portal.middleware.QueryLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
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
    # MIANSHEN_DB_CONN_MAX_AGE: seconds a web worker keeps its database connection (0, the default: a new one per
    # request; a server under load sets e.g. 60 — checked before reuse, CONN_HEALTH_CHECKS)
    age = os.environ.get("MIANSHEN_DB_CONN_MAX_AGE", "").strip() or "0"
    if not age.isdigit():
        raise ImproperlyConfigured(f"MIANSHEN_DB_CONN_MAX_AGE={age!r}: a whole number of seconds (0: none)")
    db: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=int(age), conn_health_checks=True))
    if db["ENGINE"] == "django.db.backends.sqlite3":
        # Django's SQLite backend, but a new database file is created readable by its owner only (0600)
        db["ENGINE"] = "mianshen.core.sqlite_private"
        # Writers serialise on SQLite: BEGIN IMMEDIATE instead of select_for_update (a no-op there).
        db["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 30}
        # one test database per test run (process): two runs in one checkout must not share (and delete) it
        db["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
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

# Staff passwords (`mianshen staff add`, the back office's password page, Django's changepassword)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]


def _positive(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip() or str(default)
    if not text.isdigit() or int(text) < 1:
        raise ImproperlyConfigured(f"{name}={text!r}: a whole number of at least 1")
    return int(text)


# Sign-in protections (staff.signin): failed sign-ins are counted in the database per account and per
# client address, in windows of SIGNIN_WINDOW_SECONDS. An account with SIGNIN_ACCOUNT_MAX_FAILURES failures in
# a window is locked until an administrator lifts it (`mianshen staff unlock NAME`, or the back office's staff
# page); an address with SIGNIN_ADDRESS_MAX_FAILURES is answered 429 until its window ends. Behind a reverse
# proxy, REMOTE_ADDR is the proxy's: name the header that carries the client's address (as
# ``HTTP_X_REAL_IP``) in MIANSHEN_CLIENT_ADDRESS_HEADER, and make the proxy overwrite it.
SIGNIN_WINDOW_SECONDS = _positive("MIANSHEN_SIGNIN_WINDOW_SECONDS", 15 * 60)
SIGNIN_ACCOUNT_MAX_FAILURES = _positive("MIANSHEN_SIGNIN_ACCOUNT_MAX_FAILURES", 5)
SIGNIN_ADDRESS_MAX_FAILURES = _positive("MIANSHEN_SIGNIN_ADDRESS_MAX_FAILURES", 20)
SIGNIN_CLIENT_ADDRESS_HEADER = os.environ.get("MIANSHEN_CLIENT_ADDRESS_HEADER", "").strip()

# A second factor (django-otp: TOTP, and single-use recovery codes) is required for city administrators and
# reviewers; MIANSHEN_SECOND_FACTOR_ROLES adds other roles (comma-separated). Staff of other roles who have
# enrolled a device must use it too.
STAFF_ROLES = ("city_admin", "district_officer", "reviewer", "auditor")
SECOND_FACTOR_REQUIRED_ROLES = frozenset(
    {"city_admin", "reviewer"}
    | {r.strip() for r in os.environ.get("MIANSHEN_SECOND_FACTOR_ROLES", "").split(",") if r.strip()}
)
if SECOND_FACTOR_REQUIRED_ROLES - set(STAFF_ROLES):
    raise ImproperlyConfigured(
        f"MIANSHEN_SECOND_FACTOR_ROLES: unknown role(s) {', '.join(sorted(SECOND_FACTOR_REQUIRED_ROLES - set(STAFF_ROLES)))}; "
        f"one of {', '.join(STAFF_ROLES)}"
    )
OTP_TOTP_ISSUER = "mianshen"

# Sessions of hours, not Django's 14 days; ended when the browser closes. In production at most a working day
# and a half (MAX_SESSION_HOURS): a longer staff session is a stolen laptop's open door.
MAX_SESSION_HOURS = 12
SESSION_HOURS = _positive("MIANSHEN_SESSION_HOURS", 8)
if PRODUCTION and SESSION_HOURS > MAX_SESSION_HOURS:
    raise ImproperlyConfigured(
        f"MIANSHEN_SESSION_HOURS={SESSION_HOURS}: at most {MAX_SESSION_HOURS} in production (staff sign in again)"
    )
SESSION_COOKIE_AGE = SESSION_HOURS * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_HTTPONLY = True  # the pages send the token from the template (hx-headers), never from the cookie

# /admin/ (Django's admin, behind the second factor) only when MIANSHEN_ADMIN_ENABLED=1
ADMIN_ENABLED = os.environ.get("MIANSHEN_ADMIN_ENABLED", "0") == "1"

# HTTPS only in production. Behind a proxy that terminates TLS, MIANSHEN_TLS_PROXY=1 trusts its
# X-Forwarded-Proto header (the proxy must overwrite it).
SECURE_SSL_REDIRECT = PRODUCTION
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_HSTS_SECONDS = _positive("MIANSHEN_HSTS_SECONDS", 365 * 24 * 3600) if PRODUCTION else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
if os.environ.get("MIANSHEN_TLS_PROXY", "0") == "1":
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp), in every environment: the pages load their own script (htmx) and
# style sheet and nothing else; no inline script or style, no framing, forms post to this site only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}

# The public portal (mianshen.portal): the policy whose parameters the guide shows (the set in force on today's
# date, or the nearest day of its payment year); page size of the publicity list; who sends one-time codes
# (until the notify outbox exists: a file per message under var/outbox/sms/).
PORTAL_POLICY = os.environ.get("MIANSHEN_PORTAL_POLICY", "").strip() or "beijing-2021"
PORTAL_PAGE_SIZE = _positive("MIANSHEN_PORTAL_PAGE_SIZE", 20)
# How many case views (the progress lookup's, /lookup/ and GET /api/case) a web worker keeps in its own memory,
# each under a key of every fact it shows, so a kept view is never stale (portal.view_cache); 0 turns it off.
_view_cache = os.environ.get("MIANSHEN_PORTAL_VIEW_CACHE", "").strip() or "5000"
if not _view_cache.isdigit():
    raise ImproperlyConfigured(
        f"MIANSHEN_PORTAL_VIEW_CACHE={_view_cache!r}: a whole number of views (0: none)"
    )
PORTAL_VIEW_CACHE = int(_view_cache)
PORTAL_CODE_SENDER = "mianshen.portal.codes.OutboxSender"
PORTAL_ADDRESS_MAX_REQUESTS = _positive("MIANSHEN_PORTAL_ADDRESS_MAX_REQUESTS", 20)
PORTAL_CLIENT_ADDRESS_HEADER = SIGNIN_CLIENT_ADDRESS_HEADER
# Documents uploaded with an application (/apply/): stored outside the web root, served only with a check
# (docs/portal.md "Applications"). Empty: ``VAR_DIR / "uploads"`` at the time of use.
APPLICATION_UPLOAD_DIR = os.environ.get("MIANSHEN_UPLOAD_DIR", "").strip()
APPLICATION_UPLOAD_MAX_BYTES = _positive("MIANSHEN_UPLOAD_MAX_BYTES", 5 * 1024 * 1024)
APPLICATION_UPLOAD_MAX_FILES = 3

# Exports of the back office's lists (backoffice/exports.py): an XLSX worksheet holds 1,048,576 rows, the header
# included; a longer list is offered as CSV only. Lowered in tests.
EXPORT_XLSX_MAX_ROWS = _positive("MIANSHEN_EXPORT_XLSX_MAX_ROWS", 1_048_575)

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("MIANSHEN_LOG_LEVEL", "WARNING")},
}

# Notifications (docs/notify.md): messages go to files under var/outbox/ unless a real sender is configured.
NOTIFY_OUTBOX_DIR = Path(os.environ.get("MIANSHEN_NOTIFY_OUTBOX_DIR", VAR_DIR / "outbox"))
NOTIFY_SMS_GATEWAY_URL = os.environ.get("MIANSHEN_NOTIFY_SMS_URL", "")
NOTIFY_SMS_ACCESS_KEY = os.environ.get("MIANSHEN_NOTIFY_SMS_ACCESS_KEY", "")
NOTIFY_SMS_SECRET = os.environ.get("MIANSHEN_NOTIFY_SMS_SECRET", "")
NOTIFY_SMS_SIGN_NAME = os.environ.get("MIANSHEN_NOTIFY_SMS_SIGN_NAME", "稳岗返还")
NOTIFY_SMTP_HOST = os.environ.get("MIANSHEN_NOTIFY_SMTP_HOST", "")
NOTIFY_SMTP_PORT = int(os.environ.get("MIANSHEN_NOTIFY_SMTP_PORT", "25"))
NOTIFY_SMTP_FROM = os.environ.get("MIANSHEN_NOTIFY_SMTP_FROM", "noreply@mianshen.invalid")
NOTIFY_SMTP_STARTTLS = os.environ.get("MIANSHEN_NOTIFY_SMTP_STARTTLS", "") == "1"
NOTIFY_SMTP_USER = os.environ.get("MIANSHEN_NOTIFY_SMTP_USER", "")
NOTIFY_SMTP_PASSWORD = os.environ.get("MIANSHEN_NOTIFY_SMTP_PASSWORD", "")

# 呼我必回 (notify.callbacks): a call-back is due within this many working days (of 8 working hours, 09:00-17:00
# Beijing time on the calendar's working days); reminders at 50 % and 80 %, escalation at 100 % and 200 %.
CALLBACK_WORKING_DAYS = _positive("MIANSHEN_CALLBACK_WORKING_DAYS", 1)
