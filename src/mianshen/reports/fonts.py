"""Chinese fonts for the PDF documents, fast enough to render a letter on request (≤ 1 s).

Parsing the whole Noto Sans CJK collection (65,535 glyphs) costs about a second per document before a line is
drawn, and the Ext-B fallback (HanaMinB, Debian fonts-hanazono) two more. So each font is cut once, on first
use, into *shards* cached on disk: a core shard (ASCII, Latin, punctuation and the 6,763 hanzi of GB2312 — what
nearly every unit name and every letter uses) and shards of at most ``SHARD_SIZE`` further characters in code
point order. A document loads only the shards its text needs; fpdf2 then embeds a subset of each (only the
glyphs used), so every document carries its own small font subset.

Sources, in order: the Chinese font (``pdf.cjk_font``: Noto Sans CJK SC, or ``MIANSHEN_CJK_FONT``) and the
fallbacks found in ``FALLBACK_CANDIDATES`` for characters it lacks (CJK Ext-B and beyond: 𠀀 U+20000). Cache:
``MIANSHEN_FONT_CACHE``, else ``$XDG_CACHE_HOME/mianshen/fonts``, else ``~/.cache/mianshen/fonts``; a change of
source file (size, mtime) makes new shards.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.utils.translation import gettext_lazy as _

from mianshen.core.errors import Refusal

FONT_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # Debian fonts-noto-cjk: index 2 = SC
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),  # fonts-wqy-microhei
)


class FontMissing(Exception):
    """No font with Chinese glyphs is installed."""


def cjk_font() -> tuple[str, int]:
    env = os.environ.get("MIANSHEN_CJK_FONT")
    if env:
        if not Path(env).is_file():
            raise FontMissing(f"MIANSHEN_CJK_FONT={env}: no such font file")
        return env, int(os.environ.get("MIANSHEN_CJK_FONT_INDEX", "0"))
    for path, index in FONT_CANDIDATES:
        if Path(path).is_file():
            return path, index
    raise FontMissing(
        "no Chinese font installed: install fonts-noto-cjk (Debian) or set MIANSHEN_CJK_FONT to a font file"
    )


FALLBACK_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/hanazono/HanaMinA.ttf", 0),  # Debian fonts-hanazono: BMP, Ext-A
    ("/usr/share/fonts/truetype/hanazono/HanaMinB.ttf", 0),  # Debian fonts-hanazono: Ext-B … Ext-F
)
SHARD_SIZE = 3000
SHARD_VERSION = "1"


def cache_dir() -> Path:
    env = os.environ.get("MIANSHEN_FONT_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mianshen" / "fonts"


def _common(cp: int) -> bool:
    """In the core shard: below U+3000 (Latin, punctuation, symbols) or a GB2312 character."""
    if cp < 0x3000:
        return True
    try:
        chr(cp).encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class Shard:
    """Part of one source font: the code points ``cps`` (sorted), cached as ``file`` once built."""

    source: str
    index: int
    number: int
    cps: tuple[int, ...]
    file: Path

    def __contains__(self, cp: object) -> bool:
        i = bisect_right(self.cps, cp) if isinstance(cp, int) else 0
        return i > 0 and self.cps[i - 1] == cp


def _sources() -> list[tuple[str, int]]:
    first = cjk_font()
    return [first] + [(p, i) for p, i in FALLBACK_CANDIDATES if Path(p).is_file() and (p, i) != first]


def _source_key(path: str, index: int) -> str:
    st = Path(path).stat()
    raw = f"{SHARD_VERSION}|{path}|{index}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _cmap(path: str, index: int) -> list[int]:
    from fontTools.ttLib import TTFont

    font = TTFont(path, fontNumber=index, lazy=True)
    return sorted(font.getBestCmap())


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


@lru_cache(maxsize=4)
def _plan(sources: tuple[tuple[str, int], ...], folder: Path) -> tuple[Shard, ...]:
    """The shards of every source: a manifest per source cached beside them (reading a cmap takes a second)."""
    shards: list[Shard] = []
    covered: set[int] = set()
    for path, index in sources:
        key = _source_key(path, index)
        manifest = folder / f"{key}.json"
        if manifest.is_file():
            groups: list[list[int]] = json.loads(manifest.read_text())
        else:
            cps = _cmap(path, index)
            core = [cp for cp in cps if _common(cp)] if not shards else []
            rest = [cp for cp in cps if not (core and _common(cp))]
            groups = ([core] if core else []) + [
                rest[i : i + SHARD_SIZE] for i in range(0, len(rest), SHARD_SIZE)
            ]
            _write_atomic(manifest, json.dumps(groups).encode())
        suffix = ".otf" if path.lower().endswith((".otf", ".ttc")) else ".ttf"
        for number, group in enumerate(groups):
            new = tuple(cp for cp in group if cp not in covered)
            if new:
                shards.append(Shard(path, index, number, new, folder / f"{key}-{number}{suffix}"))
            covered.update(new)
    return tuple(shards)


def shards() -> tuple[Shard, ...]:
    return _plan(tuple(_sources()), cache_dir())


def _build(shard: Shard) -> Path:
    """Cut ``shard`` out of its source font (once; later calls find the file)."""
    if shard.file.is_file():
        return shard.file
    from io import BytesIO

    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(shard.source, fontNumber=shard.index, lazy=True, recalcTimestamp=False)
    options = subset.Options()
    options.hinting = False
    options.layout_features = []
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.glyph_names = False
    options.drop_tables += ["FFTM", "BASE", "VORG", "vhea", "vmtx"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=shard.cps)
    subsetter.subset(font)
    out = BytesIO()
    font.save(out)
    _write_atomic(shard.file, out.getvalue())
    return shard.file


def core_has(text: str) -> bool:
    """Whether the core shard (the main font of every document) draws every character of ``text``."""
    core = shards()[0]
    return all(ord(c) in core for c in text)


class GlyphMissing(Refusal):
    """A character no installed font can draw: the document is refused rather than drawn with an empty box."""


def fonts_for(text: str) -> list[Path]:
    """The shard files that draw ``text``: the core shard first (the document's main font), then each shard
    holding a character of ``text`` that the ones before lack. Raises ``GlyphMissing`` naming any character no
    font has (white space is not drawn and not asked for)."""
    plan = shards()
    chars = sorted({ord(c) for c in text if not c.isspace()})
    needed: list[Shard] = [plan[0]]
    missing: list[int] = []
    for cp in chars:
        if any(cp in s for s in needed):
            continue
        owner = next((s for s in plan if cp in s), None)
        if owner is None:
            missing.append(cp)
        else:
            needed.append(owner)
    if missing:
        listed = " ".join(f"U+{cp:04X}" for cp in missing[:10])
        raise GlyphMissing(_("没有已安装的字体能显示字符 %(chars)s"), chars=listed)
    return [_build(s) for s in needed]


def add_fonts(pdf: Any, text: str) -> str:
    """Register on ``pdf`` (an fpdf2 ``FPDF``) the fonts ``text`` needs, the first as family ``cjk`` and the
    others as its fallbacks, and return ``"cjk"``. ``text`` is every string the document will draw."""
    files = fonts_for(text)
    names = []
    for i, file in enumerate(files):
        name = "cjk" if i == 0 else f"cjk{i}"
        pdf.add_font(name, fname=str(file))
        names.append(name)
    pdf.set_fallback_fonts(names[1:])
    return "cjk"


def prepare_all() -> int:
    """Build every shard now (an operator may warm the cache after installing fonts); returns how many."""
    plan = shards()
    for shard in plan:
        _build(shard)
    return len(plan)
