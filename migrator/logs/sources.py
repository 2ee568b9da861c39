"""Shared machinery of the log scans: find the files, read their header, hand DuckDB clean files.

Any log engine works in three moves: :func:`discover` expands the paths it was
given (files, folders searched recursively, ``.gz`` files, ``.zip`` archives)
into :class:`Source` objects in natural name order; :func:`probe` reads the
header lines of a source (the ``#`` directives and, for logs that start with a
CSV header row, that row) so a log-type definition can recognise it by its
content, never by its name; :func:`segments` turns a recognised source into
:class:`Segment` files DuckDB can read in one ``read_csv`` call per layout.

A plain file whose ``#Fields`` never change is read where it lies. A
compressed file, a zip member, a file with a byte order mark or with another
``#Fields`` line part-way through (IIS after a restart with other fields) is
split into one temporary file per layout; each keeps the physical line numbers
of the original (the lines before its part are written as empty lines, which DuckDB skips but counts),
so a line DuckDB rejects is reported as ``file, line N`` of the original file.
DuckDB reads every line (no ``comment`` option: it would cut a value at a
``#``); the directive lines it parses or rejects are left out by the engines.
:func:`rejected_lines` turns DuckDB's reject tables into those messages.
"""

from __future__ import annotations

import gzip
import mmap
import os
import re
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from migrator.logs.evidence import SkippedFile

if TYPE_CHECKING:
    import duckdb

HEAD_BYTES = 64 * 1024
"""Bytes read from the start of a file to recognise its type."""
MAX_REJECTS_LISTED = 200
"""Rejected lines listed by file and line; further ones are only counted."""

_NATURAL = re.compile(r"(\d+)")
LOG_SUFFIXES = (".log", ".log.gz", ".gz", ".zip", ".csv")
"""The names :func:`discover` takes inside folders and zip archives by default."""


@dataclass(frozen=True, order=True)
class Source:
    """One log file to read: a plain or gzip file, or a member of a zip archive."""

    path: str
    """File path as found (the archive for a zip member)."""
    member: str = ""
    """Zip member name, empty for a plain or gzip file."""

    @property
    def name(self) -> str:
        """How the file is named in reports (``archive.zip!member`` for members)."""
        return f"{self.path}!{self.member}" if self.member else self.path

    @property
    def compressed(self) -> bool:
        """Whether the bytes must be decompressed before DuckDB can read them in place."""
        return bool(self.member) or _is_gzip(self.path)


@dataclass(frozen=True)
class Header:
    """The header lines of a log file, as a log-type definition sees them."""

    directives: tuple[tuple[str, str], ...]
    """``#Name: value`` directives of the first header block, in order (``Software``, ``Fields``...)."""
    first_line: str
    """The first line that is not a directive (a CSV header row, or the first record)."""

    def directive(self, name: str) -> str:
        """The value of the first directive called ``name`` (case-insensitive), or empty."""
        low = name.lower()
        return next((v for k, v in self.directives if k.lower() == low), "")


@dataclass(frozen=True)
class Segment:
    """A file DuckDB reads: a whole log file, or one layout's part of it (a temporary file)."""

    source: Source
    """The log file the lines come from."""
    read_path: str
    """What DuckDB opens: the file itself, or a temporary copy keeping the line numbers."""
    fields: tuple[str, ...]
    """The column names of its records, from ``#Fields`` (or the header row)."""
    header_row: bool = False
    """Whether the first line is a CSV header row DuckDB must skip."""


def natural_key(text: str) -> tuple[object, ...]:
    """Sort key that puts ``u_ex23010210.log`` after ``u_ex2301029.log``, ``-10`` after ``-9``."""
    return tuple(int(p) if p.isdigit() else p.lower() for p in _NATURAL.split(text))


def _is_gzip(path: str) -> bool:
    if path.lower().endswith(".gz"):
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == b"\x1f\x8b"
    except OSError:
        return False


def discover(
    paths: Sequence[str | Path],
    *,
    suffixes: tuple[str, ...] = LOG_SUFFIXES,
    member_suffixes: tuple[str, ...] | None = None,
) -> tuple[list[Source], list[SkippedFile]]:
    """Expand files, folders and zip archives into sources, in natural name order.

    Inside folders only files whose names end with one of ``suffixes`` are
    taken (by default ``.log``, ``.csv``, ``.gz`` and ``.zip``), inside zip
    archives only members ending with one of ``member_suffixes`` (default: the
    same); a file named explicitly is always tried (its header decides).
    """
    members_end = suffixes if member_suffixes is None else member_suffixes
    sources: list[Source] = []
    skipped: list[SkippedFile] = []
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(
                f for f in p.rglob("*") if f.is_file() and f.name.lower().endswith(suffixes)
            )
        elif p.is_file():
            files.append(p)
        else:
            skipped.append(SkippedFile(str(p), "no such file or folder"))
    for f in sorted(set(files), key=lambda f: natural_key(str(f))):
        if f.name.lower().endswith(".zip"):
            try:
                with zipfile.ZipFile(f) as zf:
                    members = [
                        m.filename
                        for m in zf.infolist()
                        if not m.is_dir() and m.filename.lower().endswith(members_end)
                    ]
            except (OSError, zipfile.BadZipFile) as exc:
                skipped.append(SkippedFile(str(f), f"cannot be read as a zip archive: {exc}"))
                continue
            sources.extend(Source(str(f), m) for m in sorted(members, key=natural_key))
        else:
            sources.append(Source(str(f)))
    return sources, skipped


class _OwningGzipFile(gzip.GzipFile):
    """A gzip stream that also closes the stream it reads (``GzipFile`` leaves it open)."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__(fileobj=raw)
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def open_stream(source: Source) -> IO[bytes]:
    """Open a source for binary reading, decompressed; closing it closes everything it opened.

    Raises OSError, zipfile.BadZipFile or KeyError when it cannot be opened.
    """
    if source.member:
        with zipfile.ZipFile(source.path) as zf:
            raw: IO[bytes] = zf.open(source.member)  # stays readable after the archive is closed
        if source.member.lower().endswith(".gz"):
            return cast("IO[bytes]", _OwningGzipFile(raw))  # (typeshed: GzipFile is no IO)
        return raw
    with_gz = _is_gzip(source.path)
    fh = open(source.path, "rb")  # noqa: SIM115 - closed by the caller
    return cast("IO[bytes]", _OwningGzipFile(fh)) if with_gz else fh


def source_size(source: Source) -> int:
    """The bytes a source takes on disk (compressed size for a zip member); 0 when unknown."""
    try:
        if source.member:
            with zipfile.ZipFile(source.path) as zf:
                return zf.getinfo(source.member).compress_size
        return os.path.getsize(source.path)
    except (OSError, KeyError, zipfile.BadZipFile):
        return 0


def read_bytes(source: Source, limit: int | None = None) -> bytes:
    """The (decompressed) bytes of a source, or its first ``limit`` bytes.

    Raises OSError, zipfile.BadZipFile, KeyError, EOFError or zlib.error when it cannot be read.
    """
    with open_stream(source) as stream:
        return stream.read(limit) if limit is not None else stream.read()


READ_ERRORS = (OSError, zipfile.BadZipFile, EOFError, zlib.error, gzip.BadGzipFile)
"""What reading a damaged or unreadable source raises."""


def parse_header(head: bytes) -> Header:
    """The directives of the first header block and the first line that is not one."""
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    directives: list[tuple[str, str]] = []
    first = ""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#"):
            name, _, value = line[1:].partition(":")
            directives.append((name.strip(), value.strip()))
            continue
        if not line.strip():
            continue
        if directives or i == 0:
            first = line
        # A CSV header row first, then the directives (HttpProxy logs): read on.
        if directives:
            break
        if i + 1 < len(lines) and lines[i + 1].startswith("#"):
            continue
        break
    return Header(tuple(directives), first)


def probe(source: Source) -> Header:
    """Read the start of a source and return its header (raises what :func:`read_bytes` raises)."""
    return parse_header(read_bytes(source, HEAD_BYTES))


@dataclass(frozen=True)
class _Block:
    line: int
    """1-based line number of the block's first line."""
    offset: int
    """Byte offset of the block's first line."""
    fields: str
    """Its ``#Fields`` value ('' when the block has none)."""


_STRAY_HASHES = 64
"""``#`` inside records tolerated before :func:`_find_directive` searches for the pair instead."""


def _find_directive(data: bytes | mmap.mmap, start: int) -> int:
    """``data.find(b"\\n#", start)``, several times faster on big logs.

    A one-byte search runs at memory speed (memchr); a ``#`` inside a record
    is skipped, and after a few of them the two-byte search takes over.
    """
    pos = start + 1
    for _ in range(_STRAY_HASHES):
        hit = data.find(b"#", pos)
        if hit < 0:
            return -1
        if data[hit - 1 : hit] == b"\n":
            return hit - 1
        pos = hit + 1
    return data.find(b"\n#", pos - 1)


def _header_blocks(data: bytes | mmap.mmap) -> list[_Block]:
    """Every block of ``#`` lines: where it starts and the ``#Fields`` it sets (C-speed searches)."""
    blocks: list[_Block] = []
    if data[:1] == b"#":
        pos = 0
    else:
        nl = _find_directive(data, 0)
        pos = nl + 1 if nl >= 0 else -1
    line, counted = 1, 0
    while pos >= 0:
        if pos > counted:  # (mmap has no count(): a slice is copied, only for later blocks)
            line += bytes(data[counted:pos]).count(b"\n")
        counted = pos
        start, fields = pos, ""
        while data[pos : pos + 1] == b"#":
            end = data.find(b"\n", pos)
            end = len(data) if end < 0 else end
            text = bytes(data[pos:end]).decode("utf-8", errors="replace").strip()
            if text.lower().startswith("#fields:"):
                fields = text[len("#fields:") :].strip()
            pos = end + 1
        blocks.append(_Block(line, start, fields))
        nl = _find_directive(data, pos - 1) if pos < len(data) else -1
        pos = nl + 1 if nl >= 0 else -1
    return blocks


def segments(
    source: Source,
    header_fields: Callable[[str], tuple[str, ...]],
    tmp: Path,
    *,
    header_row: bool = False,
) -> list[Segment]:
    """The files DuckDB reads for one source, one per ``#Fields`` layout found in it.

    ``header_fields`` splits a ``#Fields`` value (or a CSV header row) into
    column names: the log type knows its delimiter. ``header_row`` logs may
    start with a CSV header row naming the columns (HttpProxy). Records before
    any ``#Fields`` line or header row have no known layout and are left out.
    Raises what :func:`read_bytes` raises.
    """
    if not source.compressed:
        with open(source.path, "rb") as fh:
            if fh.seek(0, 2) == 0:
                return []
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                regions = _regions(mm, _header_blocks(mm), header_fields, header_row)
                if mm[:3] != b"\xef\xbb\xbf" and len(regions) == 1 and regions[0][0] == 0:
                    _, _, _, fields, row = regions[0]
                    return [Segment(source, source.path, fields, row)] if fields else []
                data = bytes(mm)
    else:
        data = read_bytes(source)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # no line end is removed: the line numbers stay
    regions = _regions(data, _header_blocks(data), header_fields, header_row)
    return _write_regions(source, data, regions, tmp)


_Region = tuple[int, int, int, tuple[str, ...], bool]
"""(first byte, end byte, first line, column names, starts with a header row)."""


def _first_line(data: bytes | mmap.mmap) -> str:
    end = data.find(b"\n")
    raw = bytes(data[: end if end >= 0 else len(data)])
    return raw.decode("utf-8", errors="replace").lstrip("\ufeff").strip()


def _regions(
    data: bytes | mmap.mmap,
    blocks: Sequence[_Block],
    header_fields: Callable[[str], tuple[str, ...]],
    header_row: bool,
) -> list[_Region]:
    """Runs of lines under one layout, merged where the layout does not change."""
    regions: list[_Region] = []
    first_end = blocks[0].offset if blocks else len(data)
    current: tuple[str, ...] = ()
    if first_end > 0 and header_row:
        current = header_fields(_first_line(data))
        regions.append((0, first_end, 1, current, True))
    for i, b in enumerate(blocks):
        end = blocks[i + 1].offset if i + 1 < len(blocks) else len(data)
        fields = header_fields(b.fields) if b.fields else current
        if regions and fields == regions[-1][3]:
            regions[-1] = (*regions[-1][:1], end, *regions[-1][2:])
        else:
            regions.append((b.offset, end, b.line, fields, False))
        current = fields
    return [r for r in regions if r[3]]


def _write_regions(source: Source, data: bytes, regions: list[_Region], tmp: Path) -> list[Segment]:
    """One temporary file per region, the lines before it written as empty lines.

    DuckDB skips empty lines but counts them, so its line numbers stay those of
    the original file.
    """
    newline = b"\r\n" if b"\r\n" in data[:HEAD_BYTES] else b"\n"
    tmp.mkdir(parents=True, exist_ok=True)
    out: list[Segment] = []
    for start, end, line, fields, row in regions:
        fd, target = tempfile.mkstemp(suffix=".log", dir=tmp)
        # The region's own directive lines become empty lines too: after thousands of
        # empty lines DuckDB reports a rejected directive without its text.
        skip = start
        while data[skip : skip + 1] == b"#":
            nl = data.find(b"\n", skip, end)
            skip = end if nl < 0 else nl + 1
            line += 1
        with os.fdopen(fd, "wb") as fh:
            fh.write(newline * (line - 1))
            fh.write(data[skip:end])
        out.append(Segment(source, target, fields, row))
    return out


def source_of(read_paths: Mapping[str, Segment], path: str) -> str:
    """The name of the log file a DuckDB file name came from."""
    seg = read_paths.get(path)
    return seg.source.name if seg is not None else path


def rejected_lines(
    con: duckdb.DuckDBPyConnection, read_paths: Mapping[str, Segment]
) -> tuple[list[str], int]:
    """Lines DuckDB rejected, as ``file, line N: reason ('text')``, and how many there were.

    At most :data:`MAX_REJECTS_LISTED` are listed, in file and line order; the
    count covers them all.
    """
    try:
        rows = con.sql(
            "SELECT s.file_path, e.line, e.error_type, e.csv_line, e.error_message"
            " FROM reject_errors e JOIN reject_scans s USING (scan_id, file_id)"
        ).fetchall()
    except Exception:
        return [], 0
    listed: list[tuple[tuple[object, ...], int, str]] = []
    seen: set[tuple[str, int]] = set()
    for path, line, kind, text, message in rows:
        shown = str(text or "").strip()
        if not shown or shown.startswith("#"):
            continue  # a header directive (the engines leave those out on purpose)
        name = source_of(read_paths, str(path))
        if (name, int(line or 0)) in seen:
            continue  # one message per line (DuckDB reports each missing column)
        seen.add((name, int(line or 0)))
        if len(shown) > 120:
            shown = shown[:117] + "..."
        reason = {
            "MISSING COLUMNS": "fewer fields than its #Fields line names",
            "TOO MANY COLUMNS": "more fields than its #Fields line names",
            "UNQUOTED VALUE": "a quote inside an unquoted field",
            "INVALID UNICODE": "not UTF-8 text",
        }.get(str(kind), str(message))
        listed.append(
            (
                natural_key(name),
                int(line or 0),
                f"{name}, line {line}: {reason} ('{shown}'); skipped",
            )
        )
    listed.sort(key=lambda r: (r[0], r[1]))
    return [m for _, _, m in listed[:MAX_REJECTS_LISTED]], len(listed)


def sql_list(values: Iterable[str]) -> str:
    """A SQL list literal of strings (quotes doubled): ``['a', 'b''c']``."""
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def sql_text(value: str) -> str:
    """A SQL string literal (quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"
