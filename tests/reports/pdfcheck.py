"""Reading a PDF back as a person (and a font checker) would: the text by ``pdftotext``, the fonts by ``pdffonts``,
and for every character drawn, its glyph in the embedded font program (fontTools): a character whose code maps
to glyph 0 (.notdef) or to a glyph without an outline is a missing glyph, shown as a box or nothing."""

from __future__ import annotations

import re
import subprocess
import zlib
from io import BytesIO
from pathlib import Path

from fontTools.cffLib import CFFFontSet
from fontTools.ttLib import TTFont


def pdf_text(data: bytes, tmp: Path, *, layout: bool = False) -> str:
    """The text as pdftotext reads it: in the order it was drawn (``-raw``), or as laid out (``-layout``)."""
    path = tmp / "read.pdf"
    path.write_bytes(data)
    args = ["pdftotext", "-enc", "UTF-8", "-layout" if layout else "-raw", str(path), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def pdf_fonts(data: bytes, tmp: Path) -> list[list[str]]:
    """``pdffonts`` rows: name, type, encoding, emb, sub, uni, …"""
    path = tmp / "fonts.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines()[2:]:
        name, rest = line.split(None, 1)
        flags = re.findall(r"\b(yes|no)\b", rest)
        rows.append([name, *flags[:3]])
    return rows


def _objects(data: bytes) -> dict[int, tuple[bytes, bytes]]:
    """Object number → (dictionary, decoded stream or b"")."""
    out: dict[int, tuple[bytes, bytes]] = {}
    for m in re.finditer(rb"(?m)^(\d+) 0 obj(.*?)(stream\r?\n|endobj)", data, re.S):
        number, head = int(m.group(1)), m.group(2)
        body = b""
        if m.group(3).startswith(b"stream"):
            length = int(re.search(rb"/Length (\d+)", head).group(1))  # type: ignore[union-attr]
            body = data[m.end() : m.end() + length]
            if b"/FlateDecode" in head:
                body = zlib.decompress(body)
        out[number] = (head, body)
    return out


def _ref(head: bytes, name: bytes) -> int | None:
    m = re.search(rb"/" + name + rb" (\d+) 0 R", head)
    return int(m.group(1)) if m else None


def _pairs(cmap: bytes, section: bytes) -> dict[int, int]:
    """``begin<section> <code> <value> … end<section>`` as code → value (hex ``<…>`` or decimal)."""
    out: dict[int, int] = {}
    for block in re.findall(rb"begin" + section + rb"(.*?)end" + section, cmap, re.S):
        for code, value in re.findall(rb"<([0-9A-Fa-f]+)>\s*(<[0-9A-Fa-f]+>|\d+)", block):
            v = int(value[1:-1], 16) if value.startswith(b"<") else int(value)
            out[int(code, 16)] = v
    return out


def _utf16(v: int) -> str:
    raw = v.to_bytes(max(2, (v.bit_length() + 15) // 16 * 2), "big")
    return raw.decode("utf-16-be")


def drawn_characters(data: bytes) -> dict[str, list[str]]:
    """Every character a ToUnicode map names, with the fonts (BaseFont) whose glyph for it has an outline;
    a character whose glyph is .notdef or empty maps to an empty list."""
    objs = _objects(data)
    drawn: dict[str, list[str]] = {}
    for head, _body in objs.values():
        if b"/Subtype /Type0" not in head:
            continue
        base = re.search(rb"/BaseFont /(\S+)", head).group(1).decode()  # type: ignore[union-attr]
        to_unicode = _pairs(objs[_ref(head, b"ToUnicode")][1], b"bfchar")  # type: ignore[index]
        descendant = objs[int(re.search(rb"/DescendantFonts \[(\d+) 0 R", head).group(1))][0]  # type: ignore[union-attr]
        descriptor = objs[_ref(descendant, b"FontDescriptor")][0]  # type: ignore[index]
        encoding_ref = _ref(head, b"Encoding")
        code_to_cid = _pairs(objs[encoding_ref][1], b"cidchar") if encoding_ref else {}
        file3, file2 = _ref(descriptor, b"FontFile3"), _ref(descriptor, b"FontFile2")
        outline: dict[int, bool] = {}
        if file3 is not None:
            cff = CFFFontSet()
            cff.decompile(BytesIO(objs[file3][1]), None)
            top = cff.topDictIndex[0]
            strings = top.CharStrings
            for code in to_unicode:
                cid = code_to_cid.get(code, code)
                name = f"cid{cid:05d}"
                outline[code] = cid != 0 and name in strings and strings[name].calcBounds(strings) is not None
        elif file2 is not None:
            font = TTFont(BytesIO(objs[file2][1]))
            order = font.getGlyphOrder()
            gid_map_ref = _ref(descendant, b"CIDToGIDMap")
            gid_map = objs[gid_map_ref][1] if gid_map_ref else b""
            for code in to_unicode:
                gid = int.from_bytes(gid_map[2 * code : 2 * code + 2], "big") if gid_map else code
                glyph = font["glyf"][order[gid]] if 0 < gid < len(order) else None
                outline[code] = glyph is not None and glyph.numberOfContours != 0
        for code, value in to_unicode.items():
            if code == 0:
                continue
            ch = _utf16(value)
            drawn.setdefault(ch, [])
            if outline.get(code):
                drawn[ch].append(base)
    return drawn


def missing_glyphs(data: bytes, text: str) -> set[str]:
    """The characters of ``text`` (spaces aside) that no embedded font draws with a real glyph."""
    drawn = drawn_characters(data)
    return {c for c in text if not c.isspace() and not drawn.get(c)}
