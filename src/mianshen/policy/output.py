"""Writing decisions (the shell around the engine): decisions.csv and decisions.parquet, byte-exact.

contracts §2.2: UTF-8 without BOM, a header row, LF line endings and a final newline, RFC 4180 quoting only where
a value needs it (a comma, a double quote, CR or LF), empty fields as empty strings; integers in plain decimal;
decimals as text the engine formatted itself. Parquet: the same columns, integers Int64 (null where empty), the
rest strings (null where empty). Files are written beside their target and renamed over it, so a reader never sees
half a file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from .codes import DECISION_COLUMNS, DECISION_INT_COLUMNS


def contract_frame(
    decisions: pl.DataFrame,
    columns: tuple[str, ...] = DECISION_COLUMNS,
    int_columns: frozenset[str] = DECISION_INT_COLUMNS,
) -> pl.DataFrame:
    """The decision columns in contract order and types; an empty string becomes null (an empty field).
    ``columns``/``int_columns``: a policy family's own decisions file (default: the refund's, contracts §2.2)."""
    missing = [c for c in columns if c not in decisions.columns]
    if missing:
        raise ValueError(f"decisions lack columns {missing}")
    return decisions.select(
        pl.col(c).cast(pl.Int64) if c in int_columns else pl.col(c).cast(pl.String).replace("", None)
        for c in columns
    )


def _replace(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv(frame: pl.DataFrame, path: Path) -> None:
    """RFC 4180 with minimal quoting, LF, UTF-8 without BOM; null as an empty field (never ``""``)."""
    if any(
        frame.get_column(c).dtype == pl.String and (frame.get_column(c) == "").any() for c in frame.columns
    ):
        frame = frame.with_columns(pl.col(pl.String).replace("", None))

    def write(tmp: Path) -> None:
        frame.write_csv(
            tmp,
            include_header=True,
            separator=",",
            line_terminator="\n",
            quote_char='"',
            quote_style="necessary",
            null_value="",
            include_bom=False,
        )

    _replace(path, write)


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    _replace(
        path, lambda tmp: frame.write_parquet(tmp, compression="zstd", compression_level=1, statistics=True)
    )


def write_decisions(
    decisions: pl.DataFrame,
    outdir: Path,
    columns: tuple[str, ...] = DECISION_COLUMNS,
    int_columns: frozenset[str] = DECISION_INT_COLUMNS,
) -> tuple[Path, Path]:
    """``OUTDIR/decisions.csv`` and ``OUTDIR/decisions.parquet`` (OUTDIR created when missing)."""
    frame = contract_frame(decisions, columns, int_columns)
    csv_path, parquet_path = outdir / "decisions.csv", outdir / "decisions.parquet"
    with ThreadPoolExecutor(max_workers=2) as pool:  # both writers release the GIL
        done = [pool.submit(write_csv, frame, csv_path), pool.submit(write_parquet, frame, parquet_path)]
    for future in done:
        future.result()
    return csv_path, parquet_path
