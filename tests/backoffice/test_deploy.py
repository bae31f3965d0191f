"""Deployment settings (issue 9, item 11): MIANSHEN_ENV=production refuses to start without a secret key (one
line, exit 2) and is clean under `mianshen check --deploy`; HTTPS only, HSTS, Secure cookies, a
Content-Security-Policy in every environment, sessions of hours, /admin/ off unless enabled (and then behind the
second factor); the SQLite file is created readable by its owner only.

The production settings are read at start-up, so they are tried in fresh processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db.utils import ConnectionHandler

import mianshen
import mianshen.backoffice

SECRET = "k" * 20 + "-a-long-random-value-only-for-this-test-0123456789"
PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.contrib import admin
from django.test import Client
c = Client()
plain = c.get("/office/login/")
tls = c.get("/office/login/", secure=True)
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location", "")],
    "tls": tls.status_code,
    "hsts": tls.get("Strict-Transport-Security", ""),
    "csp": tls.get("Content-Security-Policy", ""),
    "csrf_cookie_secure": bool(tls.cookies["csrftoken"]["secure"]),
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
    "session_hours": settings.SESSION_COOKIE_AGE / 3600,
    "admin": c.get("/admin/login/", secure=True).status_code,
    "admin_site": admin.site.__class__.__name__,
}))
"""


def fresh(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`python -m mianshen ARGS` (or ``-c`` code) in a fresh process with ``env`` added."""
    full = os.environ | {"MIANSHEN_VAR_DIR": str(tmp_path), "MIANSHEN_ALLOWED_HOSTS": "testserver"} | env
    src = str(Path(mianshen.__file__).resolve().parent.parent)  # this tree's sources first
    full["PYTHONPATH"] = os.pathsep.join(filter(None, [src, full.get("PYTHONPATH")]))
    command = [sys.executable, *args] if args[0] == "-c" else [sys.executable, "-m", "mianshen", *args]
    return subprocess.run(command, env=full, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MIANSHEN_ENV": "production"}, "MIANSHEN_ENV=production needs MIANSHEN_SECRET_KEY"),
        ({"MIANSHEN_ENV": "production", "MIANSHEN_SECRET_KEY": " "}, "needs MIANSHEN_SECRET_KEY"),
        (
            {"MIANSHEN_ENV": "production", "MIANSHEN_SECRET_KEY": SECRET, "MIANSHEN_DEBUG": "1"},
            "MIANSHEN_DEBUG=1",
        ),
        ({"MIANSHEN_ENV": "prod"}, "MIANSHEN_ENV='prod': use one of development, production"),
        (  # red team: a wildcard host passes Django's own check --deploy
            {"MIANSHEN_ENV": "production", "MIANSHEN_SECRET_KEY": SECRET, "MIANSHEN_ALLOWED_HOSTS": "*"},
            "MIANSHEN_ALLOWED_HOSTS must name the site's host(s)",
        ),
        (
            {
                "MIANSHEN_ENV": "production",
                "MIANSHEN_SECRET_KEY": SECRET,
                "MIANSHEN_ALLOWED_HOSTS": "a.cn, *",
            },
            "not '*' or nothing",
        ),
        ({"MIANSHEN_SECOND_FACTOR_ROLES": "janitor"}, "unknown role(s) janitor"),
        (  # red team: a deployer could keep staff signed in for a year
            {"MIANSHEN_ENV": "production", "MIANSHEN_SECRET_KEY": SECRET, "MIANSHEN_SESSION_HOURS": "10000"},
            "MIANSHEN_SESSION_HOURS=10000: at most 12 in production",
        ),
        ({"MIANSHEN_SESSION_HOURS": "0"}, "MIANSHEN_SESSION_HOURS='0': a whole number of at least 1"),
        ({"MIANSHEN_DB_CONN_MAX_AGE": "1m"}, "MIANSHEN_DB_CONN_MAX_AGE='1m': a whole number of seconds"),
        ({"MIANSHEN_PORTAL_VIEW_CACHE": "-1"}, "MIANSHEN_PORTAL_VIEW_CACHE='-1': a whole number of views"),
    ],
)
def test_a_refused_configuration_is_one_line_and_exit_2(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    env = {"MIANSHEN_SECRET_KEY": ""} | env
    done = fresh("check", env=env, tmp_path=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and message in done.stderr and "Traceback" not in done.stderr


def test_the_wsgi_application_refuses_too(tmp_path: Path) -> None:
    done = fresh("-c", "import mianshen.wsgi", env={"MIANSHEN_ENV": "production", "MIANSHEN_SECRET_KEY": ""},
                    tmp_path=tmp_path)  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "mianshen: MIANSHEN_ENV=production needs MIANSHEN_SECRET_KEY (a long random value, kept secret: "
        "see docs/operations.md)"
    )


def test_check_deploy_is_clean_in_production(tmp_path: Path) -> None:
    env = {"MIANSHEN_ENV": "production", "MIANSHEN_SECRET_KEY": SECRET}
    done = fresh("check", "--deploy", "--fail-level", "WARNING", env=env, tmp_path=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_development_is_the_default_and_debug_alone_decides_nothing(tmp_path: Path) -> None:
    done = fresh("check", "--deploy", env={"MIANSHEN_ENV": "", "MIANSHEN_DEBUG": "1"}, tmp_path=tmp_path)
    assert done.returncode == 0  # the two commands work without configuration
    assert "security.W004" in done.stderr and "security.W008" in done.stderr  # and say what production adds


def test_production_serves_https_only_with_hsts_csp_and_secure_cookies(tmp_path: Path) -> None:
    env = {"MIANSHEN_ENV": "production", "MIANSHEN_SECRET_KEY": SECRET}
    done = fresh("-c", PROBE, env=env, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    seen: dict[str, Any] = json.loads(done.stdout)
    assert seen["plain"] == [301, "https://testserver/office/login/"]
    assert seen["tls"] == 200
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert "default-src 'none'" in seen["csp"] and "script-src 'self'" in seen["csp"]
    assert "frame-ancestors 'none'" in seen["csp"]
    assert seen["csrf_cookie_secure"] and seen["session_cookie_secure"]
    assert 1 <= seen["session_hours"] <= 12
    assert seen["admin"] == 404  # off unless enabled
    enabled = json.loads(
        fresh("-c", PROBE, env=env | {"MIANSHEN_ADMIN_ENABLED": "1"}, tmp_path=tmp_path).stdout
    )
    assert enabled["admin"] == 200 and enabled["admin_site"] == "OTPAdminSite"


def test_sessions_last_hours_and_end_with_the_browser() -> None:
    assert settings.SESSION_COOKIE_AGE <= 12 * 3600 and settings.SESSION_EXPIRE_AT_BROWSER_CLOSE


@pytest.mark.django_db
def test_every_page_has_the_content_security_policy(client: Any) -> None:
    csp = client.get("/office/login/")["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "'unsafe-inline'" not in csp


def test_the_templates_need_no_inline_script_or_style() -> None:
    """The policy allows no inline code: no <script> without src, no style attribute or element, no on…=
    handler, no hx-on (htmx evaluates it), htmx's own indicator style switched off."""
    root = Path(mianshen.backoffice.__file__).parent / "templates"
    for path in root.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=|hx-on", text), path
    assert '"includeIndicatorStyles":false' in (root / "backoffice" / "base.html").read_text(encoding="utf-8")


def test_a_new_sqlite_file_is_readable_by_its_owner_only(tmp_path: Path, django_db_blocker: Any) -> None:
    old_umask = os.umask(0o022)  # the usual umask: SQLite alone would make the file 0644
    try:
        with django_db_blocker.unblock():
            for engine, name in (("mianshen.core.sqlite_private", "private.sqlite3"),
                                 ("django.db.backends.sqlite3", "plain.sqlite3")):  # fmt: skip
                handler = ConnectionHandler({"default": {"ENGINE": engine, "NAME": str(tmp_path / name)}})
                handler["default"].ensure_connection()
                handler["default"].cursor().execute("CREATE TABLE t (x integer)")
                handler.close_all()
    finally:
        os.umask(old_umask)
    assert (tmp_path / "private.sqlite3").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "plain.sqlite3").stat().st_mode & 0o777 == 0o644  # what it was
    assert settings.DATABASES["default"]["ENGINE"] in {
        "mianshen.core.sqlite_private",
        "django.db.backends.postgresql",
    }
