"""Django's SQLite backend, except that a new database file is created readable by its owner only (0600)."""
