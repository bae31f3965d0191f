"""Django's SQLite backend, except that a database file it is about to create is first created empty with mode
0600 (owner only): SQLite would otherwise create it with the process's umask (usually 0644, readable by every
local user), and its journal and WAL files take the database file's mode."""

from __future__ import annotations

import os
from typing import Any

from django.db.backends.sqlite3 import base


def create_private(name: object) -> None:
    """Create the database file ``name`` empty, owner-only, unless it exists or is not a plain file path (an
    in-memory database, a ``file:`` URI). An empty file is a valid empty SQLite database."""
    path = os.fspath(name) if isinstance(name, str | os.PathLike) else ""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        create_private(conn_params.get("database"))
        return super().get_new_connection(conn_params)
