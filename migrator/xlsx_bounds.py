"""How big a workbook's sheets are, measured from their XML before python-calamine loads them.

calamine holds a sheet's whole used range in memory (rows x columns cells,
about 32 bytes each): one value typed in XFD1048576 makes it allocate 512 GB
and abort the process. :func:`sheet_extents` streams each sheet's XML out of
the zip and finds its last row and column with regular expressions that only
look for a reference above the highest seen so far, so a sheet is measured in
about the time it takes to unzip; :func:`oversized` words the refusal.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

MAX_CELLS = 16_777_216
"""Largest sheet read (its used range, rows x columns): calamine holds every cell of it in memory."""


def oversized(extents: dict[str, tuple[int, int]], sheet: str) -> str | None:
    """Why ``sheet`` is too big to read (None when it is not), from :func:`sheet_extents`."""
    rows, columns = extents.get(sheet, (0, 0))
    return _too_big(rows, columns) if rows * columns > MAX_CELLS else None


def _too_big(rows: int, columns: int) -> str:
    return (
        f"the sheet's cells reach row {rows:,} and column {_column_name(columns)} "
        f"({rows * columns:,} cells); expected at most {MAX_CELLS:,} cells (rows x columns): "
        "delete the rows and columns past the table (a value far away, e.g. in XFD1048576), "
        "or copy the table into a new sheet"
    )


def _column_name(number: int) -> str:
    name = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def _column_number(letters: bytes) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + ch - ord("A") + 1
    return number


_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_CHUNK = 1 << 22
_LAST_ROW = re.compile(rb'<c r="[A-Z]{1,3}([0-9]{1,9})"[^>]*>')
_R_NOT_FIRST = re.compile(rb"<c\s(?!r=)[^>]*\br=")


def sheet_extents(data: bytes | Path) -> dict[str, tuple[int, int]]:
    """Sheet name -> (last row, last column) any cell or row names, read without calamine.

    The sheet XML is streamed and scanned by regular expressions that look
    only for a row or column past the highest seen so far, so a sheet is
    measured in about the time it takes to unzip, before calamine allocates
    its whole used range (rows x columns cells).
    """
    out: dict[str, tuple[int, int]] = {}
    with zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data) as z:
        names = set(z.namelist())
        for name, part in _sheet_parts(z).items():
            if part in names:
                with z.open(part) as fh:
                    out[name] = _extent(fh)
    return out


def _sheet_parts(z: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its part in the zip (``xl/worksheets/sheet1.xml``)."""
    book = ElementTree.fromstring(z.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels}
    parts: dict[str, str] = {}
    for sheet in book.iter():
        rel = sheet.get(_REL)
        if sheet.tag.endswith("}sheet") and rel in targets:
            target = targets[rel]
            path = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
            parts[sheet.get("name", "")] = posixpath.normpath(path)
    return parts


def _extent(fh: Any) -> tuple[int, int]:
    last_row, last_column, tail = 0, 1, b""
    slow = False
    while chunk := fh.read(_CHUNK):
        text = tail + chunk
        # Excel and every writer put r= first; a cell that does not is read the slow way.
        slow = slow or _R_NOT_FIRST.search(text) is not None
        for m in _LAST_ROW.finditer(text, max(0, len(text) - 8192)):
            if not m.group(0).endswith(b"/>"):
                last_row = max(last_row, int(m.group(1)))  # rows come in order: near the end
        last_row = _highest(text, last_row, _row_pattern(slow), int)
        last_column = _highest(text, last_column, _column_pattern(slow), _column_number)
        tail = text[-64:]
    return last_row, last_column


def _highest(text: bytes, start: int, pattern: Any, value: Any) -> int:
    """Raise ``start`` to the highest value in a cell with a value that ``pattern(n)`` finds.

    ``pattern(n)`` finds cell references above ``n``; a self-closing cell
    (``<c r="XFD1" s="1"/>``, formatting only) holds no value and is passed over.
    """
    best, pos = start, 0
    while (m := pattern(best).search(text, pos)) is not None:
        pos = m.end()
        end = text.find(b">", pos)
        if end > 0 and text[end - 1 : end] != b"/":
            best = max(best, value(m.group(1)))
    return best


def _row_pattern(slow: bool) -> Any:
    head = rb'<c\s[^>]*?\br="[A-Z]{1,3}(' if slow else rb'<c r="[A-Z]{1,3}('

    def above(n: int) -> re.Pattern[bytes]:
        return re.compile(head + _above(str(n), b"0123456789", 9) + rb')"')

    return above


def _column_pattern(slow: bool) -> Any:
    head = rb'<c\s[^>]*?\br="(' if slow else rb'<c r="('

    def above(n: int) -> re.Pattern[bytes]:
        letters = _above(_column_name(n), b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 3)
        return re.compile(head + letters + rb")[0-9]")

    return above


def _above(text: str, alphabet: bytes, longest: int) -> bytes:
    """A regex for the words over ``alphabet`` (no leading first letter) above ``text``.

    Longer words are above; of the same length, those above in alphabet order.
    """
    first, last = alphabet[:1], alphabet[-1:]
    lead = alphabet[1:] if first == b"0" else alphabet
    options = (
        [
            b"["
            + lead[:1]
            + b"-"
            + last
            + b"]["
            + first
            + b"-"
            + last
            + b"]{"
            + str(len(text)).encode()
            + b","
            + str(longest - 1).encode()
            + b"}"
        ]
        if len(text) < longest
        else []
    )
    for i, ch in enumerate(text.encode()):
        higher = alphabet[alphabet.index(ch) + 1 :]
        if higher:
            rest = len(text) - i - 1
            options.append(
                re.escape(text[:i].encode())
                + b"["
                + higher[:1]
                + b"-"
                + last
                + b"]"
                + (b"[" + first + b"-" + last + b"]{" + str(rest).encode() + b"}" if rest else b"")
            )
    return b"(?:" + b"|".join(options) + b")" if options else b"(?!)"
