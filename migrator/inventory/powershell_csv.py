"""CSV exports as ``Export-Csv`` writes them (PowerShell 2.0 to 7).

Handles the ``#TYPE`` first line, UTF-8 with or without BOM, UTF-16 LE/BE with
BOM and the ANSI code page, quoted cells with line breaks, and spots the two
classic export mistakes: .NET type names instead of values and ``?`` where an
ASCII export lost non-ASCII letters.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from itertools import islice

from migrator.inventory.kinds import (
    SPEC_BY_KIND,
    TableKind,
    kind_of_columns,
    kind_of_type,
    read_columns,
)
from migrator.inventory.records import RawTable, ReadResult, problem
from migrator.model import Finding, Location, Severity

# What a naive Export-Csv writes for a property it cannot turn into text.
_LEFTOVER = re.compile(
    r"^(Microsoft\.Exchange\.Data\.MultiValuedProperty|Microsoft\.Exchange\.Data\.\w*Collection"
    r"|Microsoft\.ActiveDirectory\.Management\.ADPropertyValueCollection"
    r"|System\.Collections\.|System\.Byte\[\]|System\.String\[\]|System\.Object\[\])"
)
# Text every cell _LEFTOVER matches holds: a file without any has no such cell to look for.
_LEFTOVER_TEXT = (
    "Microsoft.Exchange.Data.",
    "Microsoft.ActiveDirectory.Management.ADPropertyValueCollection",
    "System.Collections.",
    "System.Byte[]",
    "System.String[]",
    "System.Object[]",
)
# A '?' glued to a letter: what an ASCII export makes of 'Müller' ('M?ller').
_LOST_LETTER = re.compile(r"[A-Za-z]\?|\?[A-Za-z]")


def decode(data: bytes, errors: str = "strict") -> tuple[str, str]:
    """Decode export bytes; return (text, encoding name as PowerShell calls it).

    Raises UnicodeDecodeError (``errors="strict"``) where the bytes break the
    encoding the BOM announces; :func:`decode_problem` words it for the user.
    """
    # (the bytes after the byte order mark are decoded where they are: a slice of the bytes
    # would copy the whole file first)
    if data.startswith(b"\xff\xfe"):
        return str(memoryview(data)[2:], "utf-16-le", errors), "Unicode"
    if data.startswith(b"\xfe\xff"):
        return str(memoryview(data)[2:], "utf-16-be", errors), "BigEndianUnicode"
    if data.startswith(b"\xef\xbb\xbf"):
        return str(memoryview(data)[3:], "utf-8", errors), "UTF8"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "Default"
    return text, "ASCII" if data.isascii() else "UTF8NoBOM"


def decode_problem(exc: UnicodeDecodeError, data: bytes) -> str:
    """What is wrong with undecodable export bytes, for a :class:`Problem` message."""
    bom = 2 if exc.encoding.startswith("utf-16") else 3
    offset = exc.start + bom
    newline = b"\n\x00" if exc.encoding == "utf-16-le" else b"\x00\n" if bom == 2 else b"\n"
    line = data[:offset].count(newline) + 1
    if bom == 2 and exc.reason == "truncated data":
        return (
            f"line {line}: the UTF-16 text ends in the middle of a character (an odd number of "
            "bytes), so the file is cut short, e.g. copied while still being written; expected "
            "a complete export: export it again and copy the whole file"
        )
    name = "UTF-16" if bom == 2 else "UTF-8"
    return (
        f"line {line}, byte offset {offset}: not valid {name} text although the file starts with a "
        f"{name} byte order mark (damaged or cut short); expected a complete export: export it "
        "again and copy the whole file"
    )


def split_type_line(text: str) -> tuple[str, str]:
    """Split off a ``#TYPE`` first line; return (type name or '', rest)."""
    if text.startswith("#TYPE"):
        first, _, rest = text.partition("\n")
        return first[5:].strip(), rest
    return "", text


_OTHER_LINE_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
"""What ``str.splitlines`` breaks lines at besides ``\\r`` and ``\\n`` (ASCII ones first)."""


def _lines(text: str, start: int) -> Iterable[str]:
    """The lines of ``text[start:]`` with their ends, exactly as ``io.StringIO(text[start:],
    newline="")`` gives them to the CSV reader (a line ends at ``\\r\\n``, ``\\r`` or ``\\n``).

    ``start`` is 0 or just after a ``\\n``. ``str.splitlines`` makes the same lines in one pass
    without a copy of the text (``StringIO`` holds four bytes per character) unless the text
    holds one of the other characters it breaks lines at: then ``StringIO`` reads it.
    """
    others = _OTHER_LINE_BREAKS[:5] if text.isascii() else _OTHER_LINE_BREAKS
    if any(other in text for other in others):
        return io.StringIO(text[start:], newline="")
    lines = text.splitlines(keepends=True)
    skip = 0
    while start > 0:  # the lines before start (it is a line end: a "\n" precedes it)
        start -= len(lines[skip])
        skip += 1
    return islice(lines, skip, None)


def read_csv(data: bytes, label: str) -> ReadResult:
    """Read one CSV export into a table, with problems and findings."""
    result = ReadResult()
    try:
        text, encoding = decode(data)
    except UnicodeDecodeError as exc:
        result.problems.append(problem(label, decode_problem(exc, data)))
        return result
    if not text or text.isspace():
        result.problems.append(
            problem(
                label,
                "the file is empty; expected a PowerShell export (Export-Csv or Export-Clixml)",
            )
        )
        return result
    # The #TYPE line as split_type_line splits it, the rest read where it is (no copy).
    type_name, start = "", 0
    if text.startswith("#TYPE"):
        end = text.find("\n")
        type_name, start = text[5 : end if end >= 0 else len(text)].strip(), len(text)
        if end >= 0:
            start = end + 1
    reader = csv.reader(_lines(text, start))
    try:
        header = next(reader)
    except StopIteration:
        header = []
    except csv.Error as exc:
        result.problems.append(problem(label, f"not a readable CSV file ({exc})"))
        return result
    header = [h.strip() for h in header]
    kind = kind_of_type([type_name]) if type_name else None
    if kind is None:
        kind = kind_of_columns(header)
    if kind is None:
        shown = ", ".join(header[:6]) if any(header) else "no columns"
        what = f"type '{type_name}'" if type_name else f"columns {shown}"
        result.problems.append(
            problem(
                label,
                f"not a recognised export ({what}); expected an Export-Csv or Export-Clixml file "
                "of one of the tables in docs/inventory.md",
            )
        )
        return result
    spec = SPEC_BY_KIND[kind]
    columns = {h.lower(): h for h in header if h}
    missing = missing_columns(kind, columns)
    if missing:
        for col in missing:
            result.problems.append(
                problem(
                    label,
                    f"column '{col}' is missing; a {kind.value} export needs the columns "
                    f"{', '.join(spec.required)}; export with: {spec.command}",
                )
            )
        return result
    keys = [h.lower() for h in header]
    width = len(keys)
    try:
        rows = list(reader)
    except csv.Error as exc:
        result.problems.append(problem(label, f"not a readable CSV file ({exc})"))
        return result
    numbers = list(range(2, len(rows) + 2))
    if width <= 1 or set(map(len, rows)) - {width}:
        rows, numbers = _even_rows(rows, width)
    table = RawTable.from_rows(kind, label, columns, keys, rows, numbers)
    result.tables.append(table)
    _scan(table, encoding, text, start, result)
    return result


def _even_rows(rows: list[list[str]], width: int) -> tuple[list[list[str]], list[int]]:
    """Rows without blank lines, each as wide as the header, with their row numbers."""
    out: list[list[str]] = []
    numbers: list[int] = []
    for index, row in enumerate(rows):
        if len(row) <= 1 and not (row and row[0].strip()):
            continue  # a blank line
        if len(row) != width:
            # cells past the header are not read; missing ones are empty
            row = row[:width] if len(row) > width else row + [""] * (width - len(row))
        out.append(row)
        numbers.append(index + 2)
    return out, numbers


def is_leftover(value: str) -> bool:
    """Whether a cell holds a .NET type name that a naive Export-Csv wrote instead of values."""
    return bool(value) and value[0] in "MS" and _LEFTOVER.match(value) is not None


def missing_columns(kind: TableKind, columns: dict[str, str]) -> list[str]:
    """Required columns of the table that ``columns`` (lower-case name -> header) lacks.

    A receive connector table without Identity is complete when it has Server
    and Name instead (the identity is ``SERVER\\Name``).
    """
    missing = [c for c in SPEC_BY_KIND[kind].required if c.lower() not in columns]
    if (
        kind is TableKind.RECEIVE_CONNECTORS
        and "Identity" in missing
        and "server" in columns
        and "name" in columns
    ):
        missing.remove("Identity")
    return missing


def scan_leftovers(table: RawTable, result: ReadResult) -> None:
    """Report .NET type names left in cells instead of values (one problem per column)."""
    spec = SPEC_BY_KIND[table.kind]
    wanted = read_columns(table.kind)
    for key, name in table.columns.items():
        if key not in wanted:
            continue  # a column migrator does not read may hold anything
        for rec in table.records:
            value = rec.cells.get(key, "")
            if isinstance(value, str) and is_leftover(value):
                if value.startswith("System.Byte[]"):
                    msg = (
                        f"'{value}' is what Export-Csv writes for a byte array, not the value; "
                        "export it as base64 with a calculated property, "
                        f"e.g.: {spec.command}"
                    )
                else:
                    msg = (
                        f"'{value}' is a .NET type name, not the values; a plain Export-Csv cannot "
                        "write multi-valued properties: join them with a calculated property, "
                        f"e.g.: {spec.command}"
                    )
                result.problems.append(problem(rec.where(name), msg))
                break


def _scan(table: RawTable, encoding: str, text: str, start: int, result: ReadResult) -> None:
    # (the cell by cell searches run only where the file's text after the #TYPE line, from
    # start, holds what they look for)
    def holds(part: str) -> bool:
        return text.find(part, start) >= 0

    if (holds("Microsoft.") or holds("System.")) and any(map(holds, _LEFTOVER_TEXT)):
        scan_leftovers(table, result)
    if encoding != "ASCII" or not holds("?"):
        return
    for rec in table.records:
        for key, value in rec.cells.items():
            if isinstance(value, str) and "?" in value and _LOST_LETTER.search(value):
                spec = SPEC_BY_KIND[table.kind]
                where = Location(rec.file, rec.row, table.columns.get(key, key))
                result.findings.append(
                    Finding(
                        Severity.WARNING,
                        "inventory.ascii-export",
                        str(where),
                        f"'{value}' looks like an ASCII export that replaced non-ASCII letters "
                        "with '?' (Windows PowerShell's default Export-Csv encoding)",
                        f"re-export with -Encoding UTF8: {spec.command}",
                    )
                )
                return
