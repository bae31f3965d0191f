"""Documents uploaded with an application: checked by their content (PDF, JPEG, PNG — the first bytes, never the
name), limited in size, stored outside the web root under a random name (``settings.APPLICATION_UPLOAD_DIR``,
default ``VAR_DIR / "uploads"``), read back only through :func:`document_open` (the caller checks who may)."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mianshen.core.errors import Refusal

# (magic bytes, content type, what people call it)
SIGNATURES = (
    (b"%PDF-", "application/pdf", "PDF"),
    (b"\xff\xd8\xff", "image/jpeg", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "PNG"),
)


class DocumentRefused(Refusal):
    """A file the application channel does not take (type by content, size, count)."""


@dataclass(frozen=True)
class StoredDocument:
    """A document stored on disk, not yet attached to an application (kept in the form's draft)."""

    name: str
    content_type: str
    size: int
    sha256: str
    stored_as: str


def upload_dir() -> Path:
    configured = getattr(settings, "APPLICATION_UPLOAD_DIR", "")
    return Path(configured) if configured else Path(settings.VAR_DIR) / "uploads"


def max_bytes() -> int:
    return int(getattr(settings, "APPLICATION_UPLOAD_MAX_BYTES", 5 * 1024 * 1024))


def sniff(head: bytes) -> str:
    """The content type the first bytes show; "" when none of the accepted ones."""
    for magic, content_type, _label in SIGNATURES:
        if head.startswith(magic):
            return content_type
    return ""


def clean_name(name: str) -> str:
    """A file name as given, safe to show: no folders, no control characters, at most 100 characters."""
    name = unicodedata.normalize("NFKC", str(name or "")).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip() or "document"
    return name[-100:]


def document_check(name: str, data: bytes) -> str:
    """The content type of ``data`` if the channel takes it, else :class:`DocumentRefused` (one line)."""
    if not data:
        raise DocumentRefused(_("文件 %(name)s 是空的"), name=clean_name(name))
    if len(data) > max_bytes():
        raise DocumentRefused(
            _("文件 %(name)s 超过 %(limit)s MB 的上限"),
            name=clean_name(name),
            limit=max_bytes() // (1024 * 1024) or 1,
        )
    content_type = sniff(data[:16])
    if not content_type:
        raise DocumentRefused(
            _("文件 %(name)s 不是 PDF、JPEG 或 PNG 文件（按文件内容判断，不看文件名）"), name=clean_name(name)
        )
    return content_type


def document_store(name: str, data: bytes) -> StoredDocument:
    """Check ``data`` and write it under a random name in the upload dir (created, owner-only)."""
    content_type = document_check(name, data)
    folder = upload_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stored_as = secrets.token_hex(16) + ".bin"
    path = folder / stored_as
    with open(path, "xb") as out:  # never overwrite
        out.write(data)
    path.chmod(0o600)
    return StoredDocument(
        clean_name(name), content_type, len(data), hashlib.sha256(data).hexdigest(), stored_as
    )


def document_bytes(stored_as: str, sha256: str) -> bytes:
    """The stored bytes of a document, checked against its SHA-256 (a changed or missing file refuses)."""
    if not stored_as or "/" in stored_as or "\\" in stored_as or stored_as.startswith("."):
        raise DocumentRefused(_("文件不存在"))
    path = upload_dir() / stored_as
    try:
        data = path.read_bytes()
    except OSError:
        raise DocumentRefused(_("文件不存在")) from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise DocumentRefused(_("文件已被改动，不能提供"))
    return data


DRAFT_LIFETIME = timedelta(days=1)


def documents_sweep(now: datetime | None = None) -> int:
    """Delete the stored files no application names (uploaded on a question page whose application was never
    submitted) once they are a day old; returns how many. Files an ``ApplicationDocument`` names are kept."""
    from .models import ApplicationDocument

    folder = upload_dir()
    if not folder.is_dir():
        return 0
    cutoff = (now or timezone.now()) - DRAFT_LIFETIME
    deleted = 0
    for path in folder.glob("*.bin"):
        try:
            old = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC) < cutoff
        except OSError:
            continue
        if old and not ApplicationDocument.objects.filter(stored_as=path.name).exists():
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted
