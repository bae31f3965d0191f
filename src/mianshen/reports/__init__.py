"""Outcome statistics (contracts §5): what the refund achieved, from the cases, payments and rounds, computed by the
database (``selectors``), written out as table, CSV, JSON or XLSX (``exports``)."""
