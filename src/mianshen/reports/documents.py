"""Kept documents (``models.Document``): made once on request, stored with their SHA-256, served unchanged; each
keeping and each download is an audit event (850 kept, 851 a staff download, 852 a unit's own download)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record

from .models import Document


def document_keep(*, key: str, render: Callable[[], bytes], actor: str, actor_id: int | None = None,
                  **fields: Any) -> Document:  # fmt: skip
    """The document named ``key``: the kept one, else ``render()`` it and keep it (with ``fields``: kind, case,
    notice, district, lang, filename). Rendering happens outside any transaction; two requests at once keep one
    document and both get it."""
    kept = Document.objects.filter(key=key).first()
    if kept is not None:
        return kept
    data = render()
    digest = hashlib.sha256(data).hexdigest()
    try:
        with transaction.atomic():
            doc = Document.objects.create(key=key, content=data, sha256=digest, size=len(data), created_by=actor,
                                          **fields)  # fmt: skip
            audit_record(actor=actor, actor_id=actor_id, action=Action.DOCUMENT_KEPT, obj_type="document",
                         obj_id=doc.pk, after={"key": key, "kind": doc.kind, "sha256": digest, "size": len(data),
                                               "case": doc.case_id, "notice": doc.notice_id,
                                               "district": doc.district, "lang": doc.lang})  # fmt: skip
    except IntegrityError:  # kept by a concurrent request meanwhile: serve that one
        return Document.objects.get(key=key)
    return doc


def document_content(doc: Document) -> bytes:
    """The kept bytes, checked against the SHA-256 kept with them."""
    data = bytes(doc.content)
    if hashlib.sha256(data).hexdigest() != doc.sha256:
        raise ValueError(f"document {doc.pk}: content does not match its SHA-256")
    return data


def document_download(*, doc: Document, actor: str, actor_id: int | None = None, unit_id: str = "",
                      reason: str = "") -> bytes:  # fmt: skip
    """The document's bytes for a download, the download recorded first in the same transaction: by a staff
    member (851), or by the unit ``unit_id`` signed in on the portal (852)."""
    action = Action.DOCUMENT_UNIT_DOWNLOADED if unit_id else Action.DOCUMENT_DOWNLOADED
    with transaction.atomic():
        audit_record(actor=actor, actor_id=actor_id, action=action, obj_type="document", obj_id=doc.pk,
                     after={"key": doc.key, "sha256": doc.sha256, "case": doc.case_id, "unit_id": unit_id},
                     reason=reason)  # fmt: skip
        return document_content(doc)
