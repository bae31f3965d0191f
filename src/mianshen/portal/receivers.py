"""What the portal does when the cases app announces something (connected in ``apps.PortalConfig.ready``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.dispatch import receiver

from mianshen.cases.models import Notice
from mianshen.cases.signals import notice_opened

from .publicity_index import index_notice


@receiver(notice_opened, dispatch_uid="portal.index_notice")
def publicity_searchable(
    sender: type[Notice], *, notice: Notice, case_ids: Sequence[int], actor: str, **kwargs: Any
) -> int:
    """A new notice's names go into the search index in the transaction that opens it."""
    return index_notice(notice.pk)
