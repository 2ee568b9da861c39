"""SMTP Receive protocol log files: which ones the kernel reads as they are, a clean copy of the rest.

The compiled kernel (:mod:`migrator.logs.kernel`) reads the bytes of a plain
receive log as Exchange writes it: header blocks of that log type with the
default ``#Fields``, quoted fields, multi-line records, malformed lines.
:func:`probe` decides, with ``bytes.find`` over the file and no parsing, whether a
file is such a *clean* file. Everything else (``.gz`` files, zip members,
another ``#Fields`` column order or a ``#Log-type`` change part-way through, a
byte order mark, a cut last line) is read here record by record
(:func:`records`) and written by :func:`normalise` as a clean CSV with the
default columns, which the kernel then reads; the warnings keep the original
file's line numbers.
"""

from __future__ import annotations

import csv
import os
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from migrator.logs.evidence import SkippedFile
from migrator.logs.sources import READ_ERRORS, Source, open_stream
from migrator.logs.sources import discover as discover_sources

RECEIVE = "SMTP Receive Protocol Log"
SEND = "SMTP Send Protocol Log"
DEFAULT_FIELDS = (
    "date-time",
    "connector-id",
    "session-id",
    "sequence-number",
    "local-endpoint",
    "remote-endpoint",
    "event",
    "data",
    "context",
)
"""The ``#Fields`` of Exchange 2010 and 2016 receive logs, the columns the kernel reads."""
FIELDS_LINE = ",".join(DEFAULT_FIELDS)
MAX_RECORD_LINES = 50
"""Physical lines one quoted record may span before it is declared malformed."""
MAX_MALFORMED_LISTED = 5
"""Malformed lines named per file; the rest are counted."""
CHUNK = 16 << 20
"""Bytes the kernel reads at a time from a normalised file."""
WHOLE_LIMIT = 64 << 20
"""Plain log files up to this size are read whole, once, for the probe and the kernel;
larger ones (Exchange rolls at 10 MB by default) are normalised."""
SMTP_SUFFIXES = (".log", ".log.gz", ".gz", ".zip")
"""Names taken inside folders: protocol logs, compressed or zipped."""
SMTP_MEMBER_SUFFIXES = (".log", ".log.gz")
"""Names taken inside zip archives."""


def discover(paths: Sequence[str | Path]) -> tuple[list[Source], list[SkippedFile]]:
    """The protocol-log sources among ``paths`` (:func:`migrator.logs.sources.discover`).

    Inside folders only ``.log``, ``.gz`` and ``.zip`` files are taken, inside
    zip archives only ``.log`` and ``.log.gz`` members; a file named explicitly
    is always tried (its header decides).
    """
    return discover_sources(paths, suffixes=SMTP_SUFFIXES, member_suffixes=SMTP_MEMBER_SUFFIXES)


def smtp_candidates(sources: Sequence[Source], named: Sequence[str | Path]) -> list[Source]:
    """The sources :func:`discover` would take, among those of a wider discovery.

    ``named`` are the files given explicitly (always tried). ``migrator logs
    scan`` discovers once for all log types, then hands the SMTP scan these.
    """
    explicit = {str(Path(p)) for p in named}
    return [
        s
        for s in sources
        if (
            s.member.lower().endswith(SMTP_MEMBER_SUFFIXES)
            if s.member
            else s.path in explicit or s.path.lower().endswith(SMTP_SUFFIXES)
        )
    ]


@dataclass
class FileRead:
    """What reading one source found, besides its records."""

    source: Source
    kind: str = ""
    """``receive``, ``send``, ``unknown`` or ``unreadable``."""
    reason: str = ""
    """Why a source that is not ``receive`` was skipped."""
    versions: set[str] = field(default_factory=set)
    """``#Version`` values of its headers."""
    lines: int = 0
    """Data lines counted."""
    bytes_read: int = 0
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- the probe


def load_whole(path: str, data: bytearray) -> tuple[bytearray, int] | None:
    """The whole of a plain file of 1 byte to WHOLE_LIMIT, read into ``data`` (or a bigger array).

    One read serves both the probe (``bytearray.find``) and the kernel (a NumPy
    view of the same bytes). None for an empty, larger or unreadable file.
    """
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if not 0 < size <= WHOLE_LIMIT:
                return None
            if len(data) < size:
                data = bytearray((size + CHUNK - 1) // CHUNK * CHUNK)
            n = 0
            with memoryview(data) as view:
                while n < size:
                    got = fh.readinto(view[n:size])
                    if not got:
                        break
                    n += got
            return data, n
    except OSError:
        return None


def probe(data: bytearray, n: int, versions: set[str]) -> bool:
    """Whether data[:n], a whole file, may go to the kernel as it is; adds its ``#Version`` values.

    Clean: no byte order mark, a leading header block naming an SMTP Receive
    protocol log, every header line (also those repeated mid-file after a
    restart) of that log type with the default ``#Fields``, and a complete last
    line. ``find`` over the bytes, no copy of them.
    """
    if n == 0 or data[:1] != b"#" or data[n - 1 : n] != b"\n":
        return False
    # The leading block must say what the file is before any data line.
    seen_type = False
    for raw in data[: min(n, 1 << 16)].split(b"\n", 64)[:-1]:
        if not raw.startswith(b"#"):
            break
        seen_type |= header_ok(bytes(raw), set())[1]
    if not seen_type:
        return False
    i = 0  # a '#' at a line start (one-byte find: memchr speed)
    while i >= 0:
        if i == 0 or data[i - 1] == 10:
            end = data.find(b"\n", i, n)
            if not header_ok(bytes(data[i:end]), versions)[0]:
                return False
        i = data.find(b"#", i + 1, n)
    return True


def header_ok(raw: bytes, versions: set[str]) -> tuple[bool, bool]:
    """(whether the kernel's reading handles a ``#`` line, whether it is the ``#Log-type``)."""
    text = raw.decode("utf-8", "replace").strip()
    key, _, value = text[1:].partition(":")
    key, value = key.strip().lower(), value.strip()
    if key == "log-type":
        return value == RECEIVE, True
    if key == "fields":
        return value == FIELDS_LINE, False
    if key == "version" and value:
        versions.add(value)
    return True, False


# --------------------------------------------------------------------------- the clean copy


def normalise(result: FileRead, target: Path) -> None:
    """Read ``result.source`` record by record; write its counted rows to ``target`` as clean CSV.

    The kernel reads the copy; ``result`` gets what the reading found (its
    ``kind`` is ``receive`` when there are rows to read). The sequence-number
    column holds the original line number.
    """
    source = result.source
    try:
        stream = open_stream(source)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        result.kind, result.reason = "unreadable", f"cannot be opened: {exc}"
        return
    try:
        with (
            stream,
            open(target, "w", encoding="utf-8", newline="", errors="surrogateescape") as out,
        ):
            writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
            write = writer.writerow
            for lineno, fields, layout in records(stream, result):
                write(
                    (
                        _text(fields[layout.ts]),
                        _text(fields[layout.con]),
                        _text(fields[layout.sid]),
                        lineno,
                        "",
                        _text(fields[layout.remote]),
                        _text(fields[layout.ev]),
                        _text(fields[layout.data]),
                        _text(fields[layout.ctx].rstrip(b"\r")),
                    )
                )
    except READ_ERRORS as exc:
        if result.kind == "receive":
            result.warnings.append(
                f"{source.name}: reading stopped after line {result.lines}: {exc};"
                " figures up to there are kept"
            )
        else:
            result.kind, result.reason = "unreadable", f"cannot be read: {exc}"
    if not result.kind:
        result.kind, result.reason = (
            "unknown",
            "no '#Log-type' header found; not an Exchange protocol log",
        )


def _text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------- records


_QUOTED_TAIL = re.compile(rb'"((?:[^"]|"")*)"(?:,|\r?$)|([^,"]*)(?:,|\r?$)', re.DOTALL)


def parse_quoted(record: bytes, width: int = 9) -> list[bytes]:
    """Split a record holding quotes (CSV: quoted fields, doubled quotes inside).

    Fast path: the first fields of an Exchange log line (time, ids, endpoints,
    event) are never quoted, so only the tail is parsed with a regular
    expression; anything unusual falls back to the csv module.
    """
    head = record.split(b",", width - 2)
    if len(head) == width - 1 and b'"' not in b"".join(head[:-1]):
        tail = head.pop().rstrip(b"\r\n")
        out = head
        pos = 0
        end = len(tail)
        while pos <= end and len(out) < width:
            m = _QUOTED_TAIL.match(tail, pos)
            if m is None:
                break
            quoted = m.group(1)
            out.append(quoted.replace(b'""', b'"') if quoted is not None else m.group(2))
            pos = m.end()
            if pos == end and tail[end - 1 : end] != b",":
                break
        if len(out) == width and pos >= end:
            return out
    text = record.decode("utf-8", "surrogateescape").rstrip("\r\n")
    row = next(csv.reader([text], strict=False), [])
    return [f.encode("utf-8", "surrogateescape") for f in row]


class _Layout:
    """Column positions from the ``#Fields`` line."""

    def __init__(self, names: Sequence[str]) -> None:
        idx = {n: i for i, n in enumerate(names)}
        self.width = len(names)
        self.ts = idx["date-time"]
        self.con = idx["connector-id"]
        self.sid = idx["session-id"]
        self.remote = idx["remote-endpoint"]
        self.ev = idx["event"]
        self.data = idx["data"]
        self.ctx = idx["context"]


def _header(
    result: FileRead, lineno: int, raw: bytes, layout: _Layout
) -> tuple[bool | None, _Layout]:
    """Apply one ``#`` line; return (counting state or None to keep it, layout)."""
    text = raw.decode("utf-8", "replace").strip()
    key, _, value = text[1:].partition(":")
    key, value = key.strip().lower(), value.strip()
    if key == "log-type":
        if value == RECEIVE:
            result.kind = "receive"
            return True, layout
        if result.kind != "receive":
            result.kind = "send" if value == SEND else "unknown"
            result.reason = (
                "SMTP Send protocol log (not counted)"
                if value == SEND
                else f"log type '{value}' is not an SMTP Receive protocol log"
            )
        return False, layout
    if key == "version" and value:
        result.versions.add(value)
    elif key == "fields":
        names = [n.strip().lower() for n in value.split(",")]
        missing = [n for n in DEFAULT_FIELDS if n not in names]
        if not missing:
            return None, _Layout(names)
        result.warnings.append(
            f"{result.source.name}, line {lineno}: '#Fields' line lacks {', '.join(missing)};"
            " kept the previous layout"
        )
    return None, layout


def _lines(stream: IO[bytes], result: FileRead) -> Iterator[list[bytes]]:
    """Yield lists of complete lines (without the line feed), reading 1 MiB at a time.

    A last piece without its line feed (a file cut short or still being
    written) is reported and dropped.
    """
    rest = b""
    lines_before = 0
    first = True
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        result.bytes_read += len(chunk)
        if first:
            first = False
            if chunk.startswith(b"\xef\xbb\xbf"):
                chunk = chunk[3:]  # a UTF-8 byte order mark (files copied through an editor)
        if rest:
            chunk = rest + chunk
        lines = chunk.split(b"\n")
        rest = lines.pop()
        lines_before += len(lines)
        yield lines
    if rest.strip():
        result.warnings.append(
            f"{result.source.name}, line {lines_before + 1}: last line is incomplete (file cut"
            " short or still being written); it was skipped"
        )


_CHUNK = 1 << 20


def records(stream: IO[bytes], result: FileRead) -> Iterator[tuple[int, list[bytes], _Layout]]:
    """Yield ``(line number, fields, layout)`` for every data row of a receive log.

    The rules the kernel applies to clean files, for the other ones: quoted fields
    that run over several lines, ``#`` header blocks (also repeated mid-file
    after a restart), the inner lines of multi-line replies, and malformed
    lines (reported, then skipped). Stops early on a file that is no SMTP
    Receive log; on a normal end it adds the lines it read to ``result.lines``.
    """
    layout = _Layout(DEFAULT_FIELDS)
    counting = False
    malformed = 0
    lineno = 0
    n = 0
    buffered: list[bytes] = []
    start = 0
    for lines in _lines(stream, result):
        for line in lines:
            lineno += 1
            if buffered:
                buffered.append(line)
                line = b"\n".join(buffered)
                if line.count(b'"') % 2:
                    if len(buffered) >= MAX_RECORD_LINES:
                        result.warnings.append(
                            f"{result.source.name}, line {start}: quoted field never closed within"
                            f" {MAX_RECORD_LINES} lines; the record was skipped"
                        )
                        buffered = []
                    continue
                buffered = []
                fields = parse_quoted(line, layout.width)
            elif line[:1] == b"#":
                state, layout = _header(result, lineno, line, layout)
                if state is not None:
                    counting = state
                    if not state and result.kind != "receive":
                        return
                continue
            elif b'"' not in line:
                fields = line.split(b",")
            else:
                if line.count(b'"') % 2:
                    buffered = [line]
                    start = lineno
                    continue
                fields = parse_quoted(line, layout.width)
            if not counting:
                if not result.kind:
                    result.kind, result.reason = "unknown", "data before any '#Log-type' header"
                    return
                continue
            if len(fields) != layout.width:
                if not line.strip():
                    continue
                malformed += 1
                if malformed <= MAX_MALFORMED_LISTED:
                    result.warnings.append(
                        f"{result.source.name}, line {lineno}: {len(fields)} fields where"
                        f" {layout.width} were expected; the line was skipped"
                    )
                continue
            n += 1
            if fields[layout.ev] == b">" and fields[layout.data][:4] == b"250-":
                continue  # the inner line of a multi-line reply: a counted line, no event
            yield lineno, fields, layout
    if buffered:
        result.warnings.append(
            f"{result.source.name}, line {start}: quoted field never closed at end of file;"
            " the record was skipped"
        )
    result.lines += n
    if malformed > MAX_MALFORMED_LISTED:
        result.warnings.append(f"{result.source.name}: {malformed} malformed lines skipped in all")
