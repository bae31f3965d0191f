"""`mianshen generate`: a deterministic, Beijing-like synthetic data drop (contracts §1).

``generate(units=N, seed=S, out=DIR, fmt="csv"|"parquet")`` writes every refund table of ``schema.TABLES``
(``TABLES``: not the retention-training family's ``risk_areas`` and ``person_months``, which it does not generate) with
exactly the schema's columns in schema order and returns the rows written per table. The same seed gives
byte-identical files (on the same platform and library versions); every value is a function of the seed and
the unit index only (``synth.rng``), so the first ``n`` units of a larger drop are the units of a drop of ``n``.
Units are generated in batches of ``BATCH_UNITS`` and appended, so memory stays flat whatever ``N``.

What the data look like (``synth`` modules hold the details and the numbers):

- ``units``: the 16 districts (朝阳, 海淀 biggest), every unit type (mostly enterprises), industries covering
  every row of the 2017 size table, 11-digit unit numbers ``11…``, valid USCCs (GB 32100, district of the
  unit), Chinese names, size indicators and declared classes consistent with each other but often missing
  (every ``size_basis`` outcome occurs), deregistrations around the 2021-07-01 as-of date, mobile phones.
- ``headcount`` 2019-01 … 2020-12 (units first insured in 2019, 2020 or 2021, gaps at 2020-12, zeros),
  ``separations`` by all 7 reasons derived from the headcount path, ``contributions`` 2019-01 … 2021-06 with
  arrears, late (2021) payments of 2020 periods and over-payments. Calibrated so that the ``beijing-2021``
  rule at 2021-07-01 finds about 70% of SMEs eligible with a mean refund near ¥2,000 (see the tests).
- ``bank_accounts`` (most units), ``credit_flags`` (three lists, some removed, some for unknown credit
  codes), ``dispatch_confirmations`` for half the labour-dispatch firms.

Account fate — which payments a bank will reject — is a documented function of the account number:
``account_fate(account_no)`` returns ``AC01`` (wrong number), ``AC04`` (closed), ``BE01`` (name mismatch;
exactly these accounts carry an ``account_name`` that differs from the unit's name) or ``None``. The rule:
``k = (int(account_no) * 32 + len(account_no)) mod 2**64``, ``m = splitmix64_finaliser(k XOR 0x6D69616E7368656E)
mod 10000``; ``m < 150`` AC01, ``m < 250`` AC04, ``m < 300`` BE01 (about 3% of accounts fail).

Files: CSV is UTF-8 without BOM, LF, a header, RFC 4180 quoting only where needed, empty for null; Parquet
holds text as strings, integers (and ``dispatch`` 0/1) as Int64, dates as DATE, months as ``YYYY-MM`` strings,
nulls for absent optional values. Files are written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, cast

import polars as pl

from .schema import TABLES as SCHEMA_TABLES
from .schema import Table
from .synth import activity, ids, partners
from .synth import units as unit_synth
from .synth.partners import account_fate

__all__ = ["BATCH_UNITS", "MAX_PARTS", "MAX_UNITS", "GenerateError", "Progress", "account_fate", "generate"]

# The tables generated (the refund's); the retention-training family's tables are not generated yet.
TABLES: dict[str, Table] = {
    name: table for name, table in SCHEMA_TABLES.items() if name not in ("risk_areas", "person_months")
}

BATCH_UNITS = 250_000
MAX_UNITS = 20_000_000
FORMATS = ("csv", "parquet")
_PARTIAL = ".partial"

Progress = Callable[[str, int, int], None]  # (table, units done, rows written so far)


class GenerateError(ValueError):
    """Bad arguments or an unusable output directory: one line for the user."""


def generate(
    *,
    units: int,
    seed: int,
    out: Path,
    fmt: str = "csv",
    parts: int = 0,
    progress: bool = False,
    on_progress: Progress | None = None,
) -> dict[str, int]:
    """Write a synthetic drop of ``units`` units into ``out``; return the rows written per table.

    ``parts`` > 0 writes each table as a folder ``X/`` of that many Parquet part files (contracts §1; Parquet
    only): the units are split into ``parts`` contiguous ranges and every row goes to the part of its unit (a
    credit-code listing of no unit goes to the last part), so a unit never spans two parts.

    ``progress`` shows rich progress bars (one per table) on stderr; ``on_progress(table, units done, rows so
    far)`` is an alternative plain callback. Raises ``GenerateError`` for bad arguments or an unusable ``out``.
    """
    _check_args(units, seed, fmt, parts)
    out = Path(out)
    stale = prepare_output(out, fmt, parts)
    write = functools.partial(_write_drop, units=units, seed=seed, out=out, fmt=fmt, parts=parts, stale=stale)
    if progress and on_progress is None:
        with _rich_progress(units) as report:
            return write(on_progress=report)
    return write(on_progress=on_progress)


def _write_drop(
    *, units: int, seed: int, out: Path, fmt: str, parts: int, stale: list[Path], on_progress: Progress | None
) -> dict[str, int]:
    writers: dict[str, _Writer | _PartsWriter] = {}
    try:
        for name, table in TABLES.items():
            writers[name] = _PartsWriter(out, table, parts, units) if parts else _Writer(out, table, fmt)
        _fill(writers, units=units, seed=seed, on_progress=on_progress)
        for writer in writers.values():
            writer.commit()
    except OSError as exc:
        raise GenerateError(f"cannot write the drop into {out}: {exc.strerror or exc}") from exc
    finally:
        for writer in writers.values():
            writer.discard()
    for path in stale:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    return {name: writer.rows for name, writer in writers.items()}


def _batch_tables(
    plan: pl.DataFrame, seed: int, *, last: bool, units: int
) -> Iterator[tuple[str, pl.DataFrame]]:
    """The rows of every table for one batch of units, table by table (built one at a time)."""
    months = activity.unit_months(plan, seed)
    yield "units", plan
    yield "headcount", activity.headcount(months)
    yield "separations", activity.separations(months, seed)
    yield "contributions", activity.contributions(months, seed)
    del months
    yield "bank_accounts", partners.bank_accounts(plan, seed)
    flags = partners.unit_flags(plan, seed)
    yield "credit_flags", pl.concat([flags, partners.orphan_flags(seed, units)]) if last else flags
    yield "dispatch_confirmations", partners.dispatch_confirmations(plan, seed)


def _fill(
    writers: Mapping[str, _Writer | _PartsWriter], *, units: int, seed: int, on_progress: Progress | None
) -> None:
    number = ids.unit_number_start(seed)
    for start in range(0, units, BATCH_UNITS):
        stop = min(units, start + BATCH_UNITS)
        plan = unit_synth.unit_plan(seed, start, stop, number)
        number = int(plan["unit_id"][-1])
        ordinals = plan.select(
            "unit_id", "credit_code", pl.int_range(start, stop, dtype=pl.Int64).alias("ordinal")
        )
        for name, frame in _batch_tables(plan, seed, last=stop == units, units=units):
            writers[name].write(frame, ordinals)
            if on_progress is not None:
                on_progress(name, stop, writers[name].rows)


MAX_PARTS = 1024


def _check_args(units: int, seed: int, fmt: str, parts: int = 0) -> None:
    if isinstance(units, bool) or not isinstance(units, int) or not 1 <= units <= MAX_UNITS:
        raise GenerateError(f"--units must be a whole number from 1 to {MAX_UNITS:,}, not {units!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
        raise GenerateError(f"--seed must be a whole number from 0 to 2**64-1, not {seed!r}")
    if fmt not in FORMATS:
        raise GenerateError(f"--format must be csv or parquet, not {fmt!r}")
    if isinstance(parts, bool) or not isinstance(parts, int) or not 0 <= parts <= MAX_PARTS:
        raise GenerateError(f"--parts must be a whole number from 1 to {MAX_PARTS:,}, not {parts!r}")
    if parts and fmt != "parquet":
        raise GenerateError("--parts writes Parquet part files: add --format parquet")


def _own_names() -> set[str]:
    names = {f"{t}.{ext}" for t in TABLES for ext in FORMATS} | set(TABLES)
    return names | {f".{n}{_PARTIAL}" for n in names} | {f".{t}.old" for t in TABLES}


def _own_folder(folder: Path) -> bool:
    """A table folder this generator wrote: Parquet parts (and nothing else)."""
    return folder.is_dir() and all(p.is_file() and p.name.endswith(".parquet") for p in folder.iterdir())


def prepare_output(out: Path, fmt: str, parts: int = 0) -> list[Path]:
    """Make ``out`` ready for a drop; return the stale drop files to remove once the new drop is written.

    A missing directory is created; an empty one is used; a previous drop (holding ``units.csv`` or
    ``units.parquet``, or only files of our own names) is overwritten file by file, and its files of the other
    format are removed after success so the drop never holds both ``X.csv`` and ``X.parquet``. Any other
    non-empty directory is refused; files we did not write are never deleted.
    """
    if out.exists() and not out.is_dir():
        raise GenerateError(f"--out {out} exists and is not a directory")
    if not out.exists():
        try:
            out.mkdir(parents=True)
        except OSError as exc:
            raise GenerateError(f"cannot create --out {out}: {exc.strerror or exc}") from exc
    entries = {p.name for p in out.iterdir()}
    own = _own_names()
    previous = bool(entries & {"units.csv", "units.parquet"}) or _own_folder(out / "units") or entries <= own
    if entries and not previous:
        raise GenerateError(
            f"--out {out} is not empty and holds no data drop; choose a new or empty directory"
        )
    if not os.access(out, os.W_OK | os.X_OK):
        raise GenerateError(f"--out {out} is not writable")
    folders = [out / t for t in TABLES if t in entries]
    for folder in folders:
        if not _own_folder(folder):
            raise GenerateError(
                f"--out {out}: {folder.name}/ holds files this generator did not write; move it"
            )
    if parts:  # a previous drop's single files go (its folders are replaced part file by part file)
        return [out / f"{t}.{ext}" for t in TABLES for ext in FORMATS if f"{t}.{ext}" in entries]
    other = "parquet" if fmt == "csv" else "csv"
    return [out / f"{t}.{other}" for t in TABLES if f"{t}.{other}" in entries] + folders


def _arrow_schema(table: Table) -> Any:
    import pyarrow as pa

    kinds = {"int": pa.int64(), "flag01": pa.int64(), "date": pa.date32()}
    return pa.schema([pa.field(c.name, kinds.get(c.kind, pa.string())) for c in table.columns])


def _polars_dtypes(table: Table) -> dict[str, pl.DataType]:
    kinds: dict[str, pl.DataType] = {"int": pl.Int64(), "flag01": pl.Int64(), "date": pl.Date()}
    return {c.name: kinds.get(c.kind, pl.String()) for c in table.columns}


class _Writer:
    """Appends batches of one table to ``.<file>.partial``; ``commit`` renames it into place."""

    def __init__(self, out: Path, table: Table, fmt: str, *, name: str = "") -> None:
        self.table = table
        self.fmt = fmt
        self.final = out / (name or f"{table.name}.{fmt}")
        self.partial = out / f".{self.final.name}{_PARTIAL}"
        self.rows = 0
        self._dtypes = _polars_dtypes(table)
        self._file: IO[bytes] | None = None
        self._parquet: Any = None
        self._open()

    def _open(self) -> None:
        if self.fmt == "csv":
            self._file = self.partial.open("wb")
            self._write_csv(self._empty(), header=True)
        else:
            import pyarrow.parquet as pq

            self._parquet = pq.ParquetWriter(self.partial, _arrow_schema(self.table), compression="zstd")

    def _empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self._dtypes)

    def _write_csv(self, frame: pl.DataFrame, *, header: bool) -> None:
        assert self._file is not None
        frame.write_csv(
            self._file,
            include_header=header,
            separator=",",
            line_terminator="\n",
            quote_style="necessary",
            null_value="",
            date_format="%Y-%m-%d",
        )

    def write(self, frame: pl.DataFrame, ordinals: pl.DataFrame | None = None) -> None:
        frame = frame.select([pl.col(n).cast(d) for n, d in self._dtypes.items()])
        if frame.height == 0:
            return
        if self.fmt == "csv":
            self._write_csv(frame, header=False)
        else:
            self._parquet.write_table(frame.to_arrow().cast(_arrow_schema(self.table)))
        self.rows += frame.height

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None

    def commit(self) -> None:
        self._close()
        os.replace(self.partial, self.final)

    def discard(self) -> None:
        self._close()
        self.partial.unlink(missing_ok=True)


class _PartsWriter:
    """A table as a folder of ``parts`` Parquet files, written into ``.X.partial/`` and moved into place on
    ``commit``: the rows of the units of ordinal range k (``k * units // parts`` …) go to ``part-0000k``."""

    def __init__(self, out: Path, table: Table, parts: int, units: int) -> None:
        self.table = table
        self.final = out / table.name
        self.partial = out / f".{table.name}{_PARTIAL}"
        shutil.rmtree(self.partial, ignore_errors=True)
        self.partial.mkdir()
        self.parts, self.units = parts, units
        self.writers = [
            _Writer(self.partial, table, "parquet", name=f"part-{k:05d}.parquet") for k in range(parts)
        ]
        self.rows = 0

    def write(self, frame: pl.DataFrame, ordinals: pl.DataFrame | None = None) -> None:
        assert ordinals is not None
        key = "unit_id" if "unit_id" in frame.columns else "credit_code"
        part = (pl.col("ordinal") * self.parts // self.units).alias("_part")
        placed = frame.join(
            ordinals.select(key, part).unique(key, keep="first", maintain_order=True),
            on=key, how="left", maintain_order="left",
        ).with_columns(pl.col("_part").fill_null(self.parts - 1))  # fmt: skip
        for (k,), rows in placed.partition_by("_part", as_dict=True, maintain_order=True).items():
            self.writers[int(cast(int, k))].write(rows.drop("_part"))
        self.rows += frame.height

    def commit(self) -> None:
        for writer in self.writers:
            writer.commit()
        old = self.final.with_name(f".{self.table.name}.old")
        if self.final.exists():
            os.replace(self.final, old)
        os.replace(self.partial, self.final)
        shutil.rmtree(old, ignore_errors=True)

    def discard(self) -> None:
        for writer in self.writers:
            writer.discard()
        shutil.rmtree(self.partial, ignore_errors=True)


@contextlib.contextmanager
def _rich_progress(units: int) -> Iterator[Progress]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rows]:>12,} rows"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        tasks = {name: bar.add_task(name, total=units, rows=0) for name in TABLES}

        def report(table: str, done: int, rows: int) -> None:
            bar.update(tasks[table], completed=done, rows=rows)

        yield report
