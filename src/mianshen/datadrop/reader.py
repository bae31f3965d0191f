"""Reading a data drop's files (contracts §1, "Reading"): where they are, their bytes, their records.

The reader turns each file into a :class:`RawTable`: a ``line`` column plus every schema column of the table,
with the values as they were written (CSV: text; Parquet: the file's own types), and the file's SHA-256. It
raises :class:`~mianshen.datadrop.drop.DropUnusable` when a file cannot be used at all; everything about
individual values is the validator's business (``validate.py``).

CSV, as read here:

- UTF-8 with or without a BOM. A file that is not valid UTF-8 is unusable, unless ``encoding="gb18030"`` is
  given: then such a file (without a UTF-8 BOM) is decoded as GB18030, strictly (bytes that are not GB18030
  make it unusable; never a lossy replacement). A valid UTF-8 file is read as UTF-8 either way, so a drop may
  mix both.
- RFC 4180: comma separated, ``"`` quotes, ``""`` inside quotes, quoted values may hold commas and newlines.
  A record's ``line`` is the 1-based line where the record starts (a record with a quoted newline spans
  several lines; the next record's number counts them). Lines end with LF or CRLF.
- The header is the first non-empty line; names are exact lower case (surrounding spaces are ignored); unknown
  columns are ignored; a schema column named twice, or a required one missing, makes the file unusable. An
  optional column that is absent reads as all empty.
- Empty lines are kept here as rows whose values are all empty; the validator skips such blank rows (a record
  with no value in any of the table's columns, e.g. ``,,,`` or spaces only, is a blank line too).
- A record with fewer fields than the header has its missing fields empty; extra fields are ignored.
- An empty file (0 bytes, or blank lines only) has no header: unusable. A header-only file has no rows.
- A quoted value that is never closed (a file cut inside quotes) makes the file unusable: its records cannot be
  told apart. A last line cut elsewhere is read as a (short) record and its problems are reported.
- Files that Polars' fast reader refuses (stray quotes inside an unquoted value such as ``ACME "Best" Ltd``,
  text after a closing quote) are read again with Python's lenient ``csv`` module, which keeps such quotes as
  text, so one odd value never stops the good rows.

Parquet: the same base name and column names, or a folder ``X/`` of Parquet parts (``part_files``: sorted by
name, Spark's and Hive's markers ignored, every part with the same columns and types), read as the rows of all
its parts in that order. Text columns (ids, codes, enums, months, phones, names) must be
strings; integers any integer type (or text); dates ``DATE`` (or ISO text); ``dispatch`` integer, boolean or
text. A column of any other type (a float for an integer or an id, a timestamp for a date, ...) makes the file
unusable. A row's ``line`` is its index + 2, as if the file had a header line.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from .drop import DropUnusable, SourceFile
from .schema import TABLE_ORDER, TABLES, Column, Table

UTF8_BOM = b"\xef\xbb\xbf"
ENCODINGS = ("utf-8", "gb18030")
FORMATS = ("csv", "parquet")

PART_NAME_MAX = 100  # "table/part name", as the snapshot keeps it beside a rejected row (RejectedRow.file)
_UTF8_CHUNK = 1 << 24
_HEADER_BYTES = 1 << 20
_PLACEHOLDER = "_c{}"
# Errors a third-party reader may raise on a malformed file; a Polars panic is a BaseException.
_READ_ERRORS: tuple[type[BaseException], ...] = (Exception, pl.exceptions.PanicException)


@dataclass(frozen=True)
class RawTable:
    """One file's records as written, before any check.

    ``frame`` has ``line`` (Int64) and every column of ``table`` in schema order: text (``String``) for CSV, the
    file's own types for Parquet (a text column may be ``String`` or ``Null``). ``ascii`` is True when every
    value is known to be ASCII (NFKC can be skipped). ``blank_rows``: rows whose values are all empty are blank
    lines to skip (CSV); in Parquet every row is a record.
    """

    table: Table
    source: SourceFile
    frame: pl.DataFrame
    ascii: bool
    blank_rows: bool


# --- locating files ---------------------------------------------------------------------------------------


def requested_tables(tables: Iterable[str] | None) -> list[str]:
    """The tables to read, in schema order: all by default; ``units`` always (facts are checked against it)."""
    if tables is None:
        return list(TABLE_ORDER)
    wanted = set(tables)
    unknown = wanted - set(TABLES)
    if unknown:
        raise ValueError(f"unknown table(s): {', '.join(sorted(unknown))}")
    wanted.add("units")
    return [t for t in TABLE_ORDER if t in wanted]


def locate(drop: Path, tables: Sequence[str]) -> dict[str, Path]:
    """The file of each requested table present in ``drop`` (``X.csv``, ``X.parquet`` or a folder ``X/`` of
    Parquet parts), in ``tables`` order.

    Unusable: the drop is not a directory, a required file is missing, or more than one of ``X.csv``,
    ``X.parquet`` and ``X/`` exist. An optional file that is absent is left out.
    """
    if not drop.is_dir():
        raise DropUnusable(f"{drop}: the data drop is not a directory")
    found: dict[str, Path] = {}
    for name in tables:
        candidates = [drop / f"{name}.{fmt}" for fmt in FORMATS]
        present = [p for p in candidates if p.exists()]
        folder = drop / name
        if folder.is_dir():
            if present:
                raise DropUnusable(
                    f"{drop}: both {name}/ and {present[0].name} are present; keep only one form of the table"
                )
            found[name] = folder
            continue
        if len(present) > 1:
            raise DropUnusable(f"{drop}: both {name}.csv and {name}.parquet are present; keep only one")
        if not present:
            if TABLES[name].required_file:
                raise DropUnusable(
                    f"{drop}: required file {name}.csv (or {name}.parquet, or a folder {name}/ of Parquet "
                    "parts) is missing"
                )
            continue
        if not present[0].is_file():
            raise DropUnusable(f"{present[0]}: not a regular file")
        found[name] = present[0]
    return found


def part_files(folder: Path) -> list[Path]:
    """The Parquet parts of a table's folder (contracts §1), in sorted name order. Ignored: hidden files,
    ``_SUCCESS``, ``*.crc`` and other names starting with ``_`` or ``.`` (what Spark, Hive and Hadoop leave
    beside the parts). Unusable: a Hive-style ``key=value/`` subfolder (a partitioned table: its column would be
    lost), any other subfolder, or a file that is not ``*.parquet`` (never silently skipped)."""
    parts: list[Path] = []
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise DropUnusable(f"{folder.name}/: cannot be read ({exc.strerror or exc})") from exc
    for entry in entries:
        name = entry.name
        if name.startswith((".", "_")) or name.endswith(".crc"):
            continue
        where = f"{folder.name}/{name}"
        if entry.is_dir():
            if "=" in name:
                raise DropUnusable(
                    f"{where}: Hive-style partition folders (key=value/) are not read; write the table as "
                    "plain Parquet parts with every column inside the files"
                )
            raise DropUnusable(f"{where}: a folder inside a table's folder is not read; keep the parts flat")
        if not name.endswith(".parquet"):
            raise DropUnusable(f"{where}: a table's folder holds only Parquet parts (*.parquet)")
        if len(where) > PART_NAME_MAX:
            raise DropUnusable(
                f"{where}: a part's name is kept with its rows; at most {PART_NAME_MAX} characters"
            )
        if not entry.is_file():
            raise DropUnusable(f"{where}: not a regular file")
        parts.append(entry)
    return parts


def read_table(path: Path, table: Table, *, encoding: str = "utf-8") -> RawTable:
    """Read one table of the drop: a CSV or Parquet file (by its suffix), or a folder of Parquet parts."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unsupported encoding {encoding!r}; use one of {', '.join(ENCODINGS)}")
    if path.is_dir():
        return _read_parts(path, table)
    fmt = path.suffix.lstrip(".")
    try:
        if fmt == "parquet":
            digest = file_sha256(path)
            frame = _parquet_frame(path, table)
            ascii_only, blank_rows = False, False
        else:
            data = path.read_bytes()
            digest = sha256_hex(data)
            frame, ascii_only = _csv_frame(data, path.name, table, encoding)
            blank_rows = True
    except OSError as exc:
        raise DropUnusable(f"{path.name}: cannot be read ({exc.strerror or exc})") from exc
    source = SourceFile(table=table.name, filename=path.name, format=fmt, sha256=digest, rows=frame.height)
    return RawTable(table=table, source=source, frame=frame, ascii=ascii_only, blank_rows=blank_rows)


def _read_parts(folder: Path, table: Table) -> RawTable:
    """A folder of Parquet parts: the rows of every part in sorted part-name order, numbered across the parts
    (``part_places`` gives each row's part and line back). Every part must have the same columns and types as
    the first; an empty folder is a table with no rows."""
    parts = checked_parts(folder)
    frames: list[pl.DataFrame] = []
    sources: list[SourceFile] = []
    for part, name in parts:
        try:
            digest = file_sha256(part)
        except OSError as exc:
            raise DropUnusable(f"{name}: cannot be read ({exc.strerror or exc})") from exc
        frame = read_part(part, table, name)
        frames.append(frame)
        sources.append(SourceFile(table.name, name, "parquet", digest, frame.height))
    if frames:
        frame = pl.concat(frames, how="vertical", rechunk=False)
    else:
        frame = pl.DataFrame(schema={c.name: pl.String() for c in table.columns})
    frame = frame.insert_column(0, _row_numbers(frame.height, 2))
    digest = sha256_hex("".join(f"{p.filename} {p.sha256}\n" for p in sources).encode("utf-8"))
    source = SourceFile(
        table=table.name, filename=f"{folder.name}/", format="parquet", sha256=digest, rows=frame.height,
        parts=tuple(sources),
    )  # fmt: skip
    return RawTable(table=table, source=source, frame=frame, ascii=False, blank_rows=False)


def checked_parts(folder: Path) -> list[tuple[Path, str]]:
    """The parts of a table's folder with their names in the drop (``X/part-0.parquet``), in reading order,
    after checking that every part has the columns and types of the first (from the files' footers)."""
    parts = [(part, f"{folder.name}/{part.name}") for part in part_files(folder)]
    first: tuple[str, dict[str, pl.DataType]] | None = None
    for part, name in parts:
        try:
            schema = dict(pl.read_parquet_schema(part))
        except _READ_ERRORS as exc:
            raise DropUnusable(f"{name}: not a readable Parquet file") from exc
        if first is None:
            first = (name, schema)
        elif schema != first[1]:
            raise DropUnusable(f"{name}: its columns or types differ from {first[0]}; every part must match")
    return parts


def read_part(part: Path, table: Table, name: str) -> pl.DataFrame:
    """One Parquet part's rows (every column of ``table``, no ``line``): a folder's rows are numbered across its
    parts by the caller."""
    return _parquet_frame(part, table, name=name).drop("line")


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_hash(files: Iterable[SourceFile]) -> str:
    """The drop's content hash: SHA-256 of the lines ``<filename> <sha256>\\n``, sorted by file name."""
    return content_hash_of({f.filename: f.sha256 for f in files})


def content_hash_of(digests: Mapping[str, str]) -> str:
    """``content_hash`` from each file's SHA-256 by file name."""
    lines = sorted(f"{filename} {sha256}\n" for filename, sha256 in digests.items())
    return sha256_hex("".join(lines).encode("utf-8"))


def drop_files(drop: Path) -> list[Path]:
    """The regular files in ``drop`` named as a table's file (``X.csv``, ``X.parquet``, and the ``*.parquet``
    parts of a folder ``X/``), in schema order: what a drop holds even when it cannot be used (to identify a
    refused drop). Empty when ``drop`` is no directory."""
    if not drop.is_dir():
        return []
    found: list[Path] = []
    for name in TABLE_ORDER:
        found += [drop / f"{name}.{fmt}" for fmt in FORMATS if (drop / f"{name}.{fmt}").is_file()]
        folder = drop / name
        if folder.is_dir():
            try:
                found += sorted(p for p in folder.iterdir() if p.name.endswith(".parquet") and p.is_file())
            except OSError:
                continue
    return found


# --- CSV --------------------------------------------------------------------------------------------------


def _csv_frame(data: bytes, filename: str, table: Table, encoding: str) -> tuple[pl.DataFrame, bool]:
    utf8 = _as_utf8(data, filename, encoding)
    ascii_only = utf8.isascii()
    frame = _polars_csv(utf8, filename, table)
    if frame is None:
        frame = _python_csv(utf8.decode("utf-8"), filename, table)
    return frame, ascii_only


def _as_utf8(data: bytes, filename: str, encoding: str) -> bytes:
    """The file's bytes as UTF-8 without BOM; unusable when they are not valid in the encoding."""
    if data.startswith(UTF8_BOM):
        data, declared_utf8 = data[len(UTF8_BOM) :], True
    else:
        declared_utf8 = False
    if data.isascii():
        return data
    if encoding == "utf-8" or declared_utf8:
        _check_utf8(data, filename)
        return data
    if _is_utf8(data):
        return data  # --encoding gb18030 is for the files that are not valid UTF-8
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DropUnusable(f"{filename}: not valid GB18030 text (line {line})") from exc
    return text.removeprefix("\ufeff").encode("utf-8")


def _is_utf8(data: bytes) -> bool:
    try:
        _check_utf8(data, "")
    except DropUnusable:
        return False
    return True


def _check_utf8(data: bytes, filename: str) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    for start in range(0, len(data), _UTF8_CHUNK):
        chunk = view[start : start + _UTF8_CHUNK]
        pending = len(decoder.getstate()[0])  # bytes of an incomplete sequence held from the last chunk
        try:
            decoder.decode(chunk, final=start + _UTF8_CHUNK >= len(data))
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, max(start - pending + exc.start, 0)) + 1
            raise DropUnusable(
                f"{filename}: not valid UTF-8 (near line {line}); if it is GB18030, use --encoding gb18030"
            ) from exc


def _leading_empty_lines(data: bytes) -> int:
    count, pos = 0, 0
    while True:
        if data.startswith(b"\n", pos):
            pos += 1
        elif data.startswith(b"\r\n", pos):
            pos += 2
        else:
            return count
        count += 1


def _physical_lines(data: bytes) -> int:
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _polars_csv(data: bytes, filename: str, table: Table) -> pl.DataFrame | None:
    """The fast path. None when Polars refuses the file or its rows cannot be matched to lines."""
    width: list[int] = []

    def placeholders(names: list[str]) -> list[str]:
        width[:] = [len(names)]
        return [_PLACEHOLDER.format(i) for i in range(len(names))]

    try:
        pl.read_csv(data, has_header=True, infer_schema=False, n_rows=0, with_column_names=placeholders)
    except pl.exceptions.NoDataError:
        raise DropUnusable(f"{filename}: the file is empty (no header row)") from None
    except _READ_ERRORS:
        return None
    header = _header(data)  # as written: Polars renames a repeated name
    if header is None or [len(header)] != width:
        return None
    positions = column_positions(header, filename, table)
    has_quote = b'"' in data
    try:
        raw = pl.read_csv(
            data,
            has_header=True,
            infer_schema=False,
            # with quotes, every column is read: a quoted newline anywhere moves the following lines
            columns=None if has_quote else sorted(set(positions.values())),
            with_column_names=placeholders,
            truncate_ragged_lines=True,
            raise_if_empty=False,
        )
    except _READ_ERRORS:
        return None
    first_line = _leading_empty_lines(data) + 2
    line = _row_numbers(raw.height, first_line)
    spanned = 0
    if has_quote:  # a record's line: the first line, plus one per record before, plus their quoted newlines
        newlines = raw.select(
            pl.sum_horizontal(
                pl.col(c).str.count_matches("\n", literal=True).fill_null(0).cast(pl.Int64)
                for c in raw.columns
            )
        ).to_series()
        line = line + newlines.cum_sum() - newlines
        spanned = int(newlines.sum())
    if first_line - 1 + raw.height + spanned != _physical_lines(data):
        return None  # Polars saw the records differently from the line structure: use the exact slow path
    selected = [
        (
            pl.col(_PLACEHOLDER.format(positions[c.name])) if c.name in positions else pl.lit(None, pl.String)
        ).alias(c.name)
        for c in table.columns
    ]
    return raw.select(selected).insert_column(0, line.alias("line"))


def _row_numbers(height: int, first: int) -> pl.Series:
    """``first``, ``first + 1``, ... as Int64 (an eager range is much cheaper than a row index and a cast)."""
    return pl.int_range(first, first + height, dtype=pl.Int64, eager=True).alias("line")


def _header(data: bytes) -> list[str] | None:
    """The first record of the file, read by Python's ``csv`` from the file's first MiB."""
    head = data[:_HEADER_BYTES]
    if len(data) > _HEADER_BYTES:
        head = head[: head.rfind(b"\n") + 1]
    try:
        for record in csv.reader(io.StringIO(head.decode("utf-8", errors="replace"), newline="\n")):
            if record:
                return record
    except csv.Error:
        return None  # the exact reader says where
    return None


def column_positions(header: Sequence[str], filename: str, table: Table) -> dict[str, int]:
    """Position in the header of each schema column present; unusable when a required one is missing."""
    positions: dict[str, int] = {}
    known = set(table.column_names)
    for i, raw_name in enumerate(header):
        name = raw_name.strip()
        if name not in known:
            continue
        if name in positions:
            raise DropUnusable(f"{filename}: column '{name}' appears twice in the header")
        positions[name] = i
    missing = [c for c in table.required_columns if c not in positions]
    if missing:
        hint = ""
        lowered = {h.strip().lower() for h in header}
        if any(m in lowered for m in missing):
            hint = " (header names are exact lower case)"
        raise DropUnusable(f"{filename}: required column(s) missing: {', '.join(missing)}{hint}")
    return positions


def _python_csv(text: str, filename: str, table: Table) -> pl.DataFrame:
    """The exact, lenient slow path: Python's ``csv`` module, record by record."""
    reader = csv.reader(io.StringIO(text, newline="\n"), strict=False)
    header: list[str] | None = None
    last_start = 1
    starts: list[int] = []
    records: list[list[str]] = []
    try:
        while True:
            start = reader.line_num + 1
            record = next(reader, None)
            if record is None:
                break
            if not record:
                continue  # an empty line
            last_start = start
            if header is None:
                header = record
            else:
                starts.append(start)
                records.append(record)
    except csv.Error as exc:
        raise DropUnusable(f"{filename}: line {reader.line_num}: cannot be read as CSV ({exc})") from exc
    if header is None:
        raise DropUnusable(f"{filename}: the file is empty (no header row)")
    _check_closed_quotes(text, filename, last_start, reader.line_num)
    positions = column_positions(header, filename, table)
    columns: dict[str, pl.Series] = {"line": pl.Series("line", starts, dtype=pl.Int64)}
    for column in table.columns:
        columns[column.name] = _field_series(column, positions.get(column.name), records)
    return pl.DataFrame(columns)


def _field_series(column: Column, position: int | None, records: list[list[str]]) -> pl.Series:
    if position is None:
        return pl.Series(column.name, [None] * len(records), dtype=pl.String)
    values = [r[position] if position < len(r) else None for r in records]
    return pl.Series(column.name, values, dtype=pl.String)


def _check_closed_quotes(text: str, filename: str, last_start: int, total_lines: int) -> None:
    """Unusable when the last record ends inside a quoted value (the lenient reader took the rest as text)."""
    newlines_after = total_lines - last_start + (1 if text.endswith("\n") else 0)
    pos = len(text)
    for _ in range(newlines_after + 1):
        pos = text.rfind("\n", 0, pos)
        if pos < 0:
            break
    tail = text[pos + 1 :]
    try:
        for _ in csv.reader(io.StringIO(tail, newline="\n"), strict=True):
            pass
    except csv.Error as exc:
        if "end of data" in str(exc):
            raise DropUnusable(
                f"{filename}: line {last_start}: a quoted value is never closed (is the file truncated?)"
            ) from exc


# --- Parquet ----------------------------------------------------------------------------------------------

_TEXT_KINDS = frozenset({"id", "text", "enum", "code", "month", "phone"})


def read_parquet_slice(
    path: Path, table: Table, offset: int, length: int, *, name: str | None = None
) -> pl.DataFrame:
    """Rows ``offset`` … ``offset + length - 1`` of a table's Parquet file or part (``name``: the part's name in
    the drop), every column of ``table``, no ``line``; checked and typed as ``read_table`` and ``read_part`` read
    the whole file: a large file read in pieces."""
    return _parquet_frame(path, table, name=name, rows=(offset, length)).drop("line")


def _parquet_frame(
    path: Path, table: Table, *, name: str | None = None, rows: tuple[int, int] | None = None
) -> pl.DataFrame:
    filename = name or path.name
    try:
        schema = pl.read_parquet_schema(path)
    except _READ_ERRORS as exc:
        raise DropUnusable(f"{filename}: not a readable Parquet file") from exc
    positions = column_positions(list(schema), filename, table)
    present = [c for c in table.columns if c.name in positions]
    for column in present:
        _check_parquet_type(filename, column, schema[column.name])
    try:
        if rows is None:
            raw = pl.read_parquet(path, columns=[c.name for c in present])
        else:
            raw = pl.scan_parquet(path).select([c.name for c in present]).slice(*rows).collect()
    except _READ_ERRORS as exc:
        raise DropUnusable(f"{filename}: not a readable Parquet file") from exc
    selected = []
    for column in table.columns:
        if column.name not in positions:
            selected.append(pl.lit(None, pl.String).alias(column.name))
        elif _is_text_type(raw.schema[column.name]):
            selected.append(pl.col(column.name).cast(pl.String))
        else:
            selected.append(pl.col(column.name))
    return raw.select(selected).insert_column(0, _row_numbers(raw.height, 2))


def _is_text_type(dtype: pl.DataType) -> bool:
    return dtype == pl.String or dtype == pl.Null or isinstance(dtype, pl.Categorical | pl.Enum)


def _check_parquet_type(filename: str, column: Column, dtype: pl.DataType) -> None:
    if _is_text_type(dtype):
        return
    if column.kind == "int" and dtype.is_integer():
        return
    if column.kind == "date" and dtype == pl.Date:
        return
    if column.kind == "flag01" and (dtype.is_integer() or dtype == pl.Boolean):
        return
    expected = {
        "int": "an integer type or text",
        "date": "DATE or ISO text",
        "flag01": "an integer, a boolean or text",
    }.get(column.kind, "text (a string)")
    raise DropUnusable(
        f"{filename}: column '{column.name}' is of type {dtype}, which cannot hold its values; "
        f"it must be {expected}"
    )
