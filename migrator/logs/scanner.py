"""Streaming scanner of Exchange SMTP Receive protocol logs.

Reads log files, folders, ``.gz`` and ``.zip`` archives line by line (never a
whole file), rebuilds SMTP sessions keyed by (connector id, session id) while
sessions interleave, and folds each finished session into per connector and
per client address figures. Files are scanned in parallel worker processes;
a session cut by a file roll-over is handed from one file to the next.

Memory stays bounded whatever the input size: a session's state is dropped
when it ends (``-`` event) or after an hour without events, and the per
client sets (EHLO names, domains) and the number of clients per connector are
capped, with a warning when a cap is reached.
"""

from __future__ import annotations

import csv
import datetime as dt
import ipaddress
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from migrator.errors import LogScanError
from migrator.logs.evidence import (
    ClientEvidence,
    ConnectorEvidence,
    DomainCount,
    Evidence,
    FileRecord,
    ScanMetadata,
    ServerWindow,
    SkippedFile,
    domain_is_accepted,
)
from migrator.logs.sources import (
    READ_ERRORS,
    Source,
    natural_key,
    open_stream,
    source_size,
)
from migrator.logs.sources import discover as discover_sources

MAX_NAMES = 50
"""Distinct EHLO names / MAIL FROM domains kept per client."""
MAX_DOMAINS = 500
"""Distinct RCPT TO domains kept per client."""
MAX_CLIENTS_PER_CONNECTOR = 50_000
"""Distinct client addresses kept per connector; further ones fold into ``(other)``."""
MAX_PENDING_EVENTS = 5_000
"""Raw events kept for a session continued from an earlier file."""
MAX_HELD_EVENTS = 200_000
"""Raw events kept per file for all sessions continued from an earlier file."""
MAX_RECORD_LINES = 50
"""Physical lines one quoted record may span before it is declared malformed."""
IDLE_SECONDS = 3600
"""A session without events for this long is closed as incomplete."""
OTHER = "(other)"

_RECEIVE = "SMTP Receive Protocol Log"
_SEND = "SMTP Send Protocol Log"
_DEFAULT_FIELDS = (
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
_ADDR_RE = re.compile(rb"@([^>\s]+)")


# --------------------------------------------------------------------------- sources

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


# --------------------------------------------------------------------------- figures


@dataclass
class _DomainTally:
    accepted: int = 0
    accepted_authenticated: int = 0
    refused: int = 0
    relay_refused: int = 0


@dataclass
class _ClientTally:
    """Mutable per (connector, client) figures; merged across workers."""

    sessions: int = 0
    incomplete_sessions: int = 0
    messages: int = 0
    first_seen: str = ""
    last_seen: str = ""
    ehlo: dict[str, int] = field(default_factory=dict)
    mail_from: dict[str, int] = field(default_factory=dict)
    rcpt: dict[str, _DomainTally] = field(default_factory=dict)
    refused_571: int = 0
    refused_5754: int = 0
    authenticated_sessions: int = 0
    tls_sessions: int = 0
    truncated: bool = False

    def merge(self, other: _ClientTally) -> None:
        self.sessions += other.sessions
        self.incomplete_sessions += other.incomplete_sessions
        self.messages += other.messages
        self.first_seen = _min_ts(self.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)
        for name, n in other.ehlo.items():
            self.truncated |= _bump(self.ehlo, name, n, MAX_NAMES)
        for name, n in other.mail_from.items():
            self.truncated |= _bump(self.mail_from, name, n, MAX_NAMES)
        for dom, t in other.rcpt.items():
            mine = self.rcpt.get(dom)
            if mine is None:
                if len(self.rcpt) >= MAX_DOMAINS:
                    self.truncated = True
                    mine = self.rcpt.setdefault(OTHER, _DomainTally())
                else:
                    mine = self.rcpt[dom] = _DomainTally()
            mine.accepted += t.accepted
            mine.accepted_authenticated += t.accepted_authenticated
            mine.refused += t.refused
            mine.relay_refused += t.relay_refused
        self.refused_571 += other.refused_571
        self.refused_5754 += other.refused_5754
        self.authenticated_sessions += other.authenticated_sessions
        self.tls_sessions += other.tls_sessions
        self.truncated |= other.truncated


def _min_ts(a: str, b: str) -> str:
    if not a:
        return b
    if not b:
        return a
    return min(a, b)


def _bump(d: dict[str, int], key: str, n: int, cap: int) -> bool:
    if key in d:
        d[key] += n
        return False
    if len(d) >= cap:
        d[OTHER] = d.get(OTHER, 0) + n
        return True
    d[key] = n
    return False


# --------------------------------------------------------------------------- sessions


class _Session:
    """State of one SMTP session while its events arrive."""

    __slots__ = (
        "authenticated",
        "client",
        "connector",
        "ehlo",
        "ended",
        "first",
        "last",
        "mail_from",
        "messages",
        "pending",
        "rcpt",
        "refused_571",
        "refused_5754",
        "started",
        "tls",
    )

    def __init__(self, connector: str, client: str, ts: bytes, started: bool) -> None:
        self.connector = connector
        self.client = client
        self.first = ts
        self.last = ts
        self.started = started
        self.ended = False
        self.authenticated = False
        self.tls = False
        self.messages = 0
        self.refused_571 = 0
        self.refused_5754 = 0
        self.ehlo: list[str] = []
        self.mail_from: list[str] = []
        self.rcpt: dict[str, _DomainTally] = {}
        self.pending: list[tuple[bytes, str]] = []

    def feed(self, event: bytes, data: bytes, context: bytes) -> None:
        """Apply one event; the reply to a command is matched first in, first out."""
        if event == b">":
            code = data[:3]
            # Skip a 2010 multi-line reply's inner lines, AUTH challenges, the DATA
            # go-ahead and replies with no command waiting (the greeting banner).
            if self.pending and code != b"334" and code != b"354" and data[3:4] != b"-":
                self.reply(code, data)
        elif event == b"<":
            self.command(data)
        elif event == b"*":
            low = context.lower()
            if low == b"authenticated" or data.lower() == b"authenticated":
                self.authenticated = True
            elif b"negotiation succeeded" in data or b"negotiation succeeded" in context:
                self.tls = True
        elif event == b"-":
            self.ended = True

    def reply(self, code: bytes, data: bytes) -> None:
        """A final reply: it answers the oldest command still waiting."""
        verb, arg = self.pending.pop(0)
        ok = code[:1] == b"2"
        if verb == b"RCPT":
            t = self.rcpt.get(arg)
            if t is None:
                t = self.rcpt[arg] = _DomainTally()
            if ok:
                t.accepted += 1
                if self.authenticated:
                    t.accepted_authenticated += 1
            else:
                t.refused += 1
                if b"5.7.54" in data:
                    self.refused_5754 += 1
                    t.relay_refused += 1
                elif b"5.7.1" in data and b"relay" in data.lower():
                    self.refused_571 += 1
                    t.relay_refused += 1
        elif verb == b"DATA" or verb == b"BDATL":
            if ok:
                self.messages += 1
        elif verb == b"STARTTLS":
            if code == b"220":
                self.tls = True
        elif verb == b"AUTH" and code == b"235":
            self.authenticated = True

    def command(self, data: bytes) -> None:
        """A command from the client: remember what it was until its reply comes."""
        verb = data[:4].upper()
        if verb == b"RCPT":
            m = _ADDR_RE.search(data)
            dom = m.group(1).decode("utf-8", "replace").lower().rstrip(".") if m else "(none)"
            self.pending.append((b"RCPT", dom))
        elif verb == b"MAIL":
            m = _ADDR_RE.search(data)
            dom = (
                m.group(1).decode("utf-8", "replace").lower().rstrip(".") if m else "(null sender)"
            )
            if dom not in self.mail_from and len(self.mail_from) < MAX_NAMES:
                self.mail_from.append(dom)
            self.pending.append((b"MAIL", ""))
        elif verb == b"EHLO" or verb == b"HELO":
            name = data[5:].strip().decode("utf-8", "replace")
            if name not in self.ehlo and len(self.ehlo) < MAX_NAMES:
                self.ehlo.append(name)
            self.pending.append((b"EHLO", ""))
        elif verb == b"DATA":
            self.pending.append((b"DATA", ""))
        elif verb == b"BDAT":
            self.pending.append((b"BDATL" if b"LAST" in data.upper() else b"BDAT", ""))
        elif verb == b"STAR":
            self.pending.append((b"STARTTLS", ""))
        elif verb == b"AUTH" or verb == b"X-EX":
            self.pending.append((b"AUTH", ""))
        elif verb == b"X-AN":
            self.tls = True  # X-ANONYMOUSTLS between Exchange servers
            self.pending.append((b"OTHER", ""))
        else:
            self.pending.append((b"OTHER", ""))

    def tally_into(self, tally: _ClientTally) -> None:
        tally.sessions += 1
        if not (self.started and self.ended):
            tally.incomplete_sessions += 1
        tally.messages += self.messages
        first = self.first.decode("ascii", "replace")
        last = self.last.decode("ascii", "replace")
        tally.first_seen = _min_ts(tally.first_seen, first)
        tally.last_seen = max(tally.last_seen, last)
        for name in self.ehlo:
            tally.truncated |= _bump(tally.ehlo, name, 1, MAX_NAMES)
        for dom in self.mail_from:
            tally.truncated |= _bump(tally.mail_from, dom, 1, MAX_NAMES)
        rcpt = tally.rcpt
        for dom, d in self.rcpt.items():
            mine = rcpt.get(dom)
            if mine is None:
                if len(rcpt) >= MAX_DOMAINS:
                    tally.truncated = True
                    mine = rcpt.setdefault(OTHER, _DomainTally())
                else:
                    mine = rcpt[dom] = _DomainTally()
            mine.accepted += d.accepted
            mine.accepted_authenticated += d.accepted_authenticated
            mine.refused += d.refused
            mine.relay_refused += d.relay_refused
        tally.refused_571 += self.refused_571
        tally.refused_5754 += self.refused_5754
        tally.authenticated_sessions += self.authenticated
        tally.tls_sessions += self.tls


# --------------------------------------------------------------------------- one file


@dataclass
class _FileResult:
    """What one worker found in one source."""

    source: Source
    kind: str = ""
    """``receive``, ``send``, ``unknown`` or ``unreadable``."""
    reason: str = ""
    versions: set[str] = field(default_factory=set)
    lines: int = 0
    bytes_read: int = 0
    tallies: dict[tuple[str, str], _ClientTally] = field(default_factory=dict)
    open_sessions: dict[tuple[str, str], _Session] = field(default_factory=dict)
    continued: dict[tuple[str, str], list[tuple[bytes, str, bytes, bytes, bytes]]] = field(
        default_factory=dict
    )
    days: dict[str, set[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _client_address(endpoint: bytes) -> str:
    """``10.1.2.3:5123`` -> ``10.1.2.3``; ``[2001:db8::5]:51234`` -> ``2001:db8::5``."""
    text = endpoint.decode("ascii", "replace").strip()
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text[1:]
    if text.count(":") == 1:
        return text.split(":", 1)[0]
    return text


def _server_of(connector: str) -> str:
    return connector.split("\\", 1)[0] if "\\" in connector else ""


def _cutoff(ts: bytes) -> bytes:
    """The timestamp an hour before ``ts`` (same text form, so plain comparison works)."""
    try:
        when = dt.datetime.fromisoformat(ts.decode("ascii").rstrip("Z"))
    except (ValueError, UnicodeDecodeError):
        return b""
    return (
        (when - dt.timedelta(seconds=IDLE_SECONDS)).isoformat(timespec="milliseconds") + "Z"
    ).encode()


def _note_days(days: dict[str, set[str]], s: _Session) -> None:
    """Record the days a session touched (sessions are short: first and last day suffice)."""
    server = _server_of(s.connector)
    got = days.get(server)
    if got is None:
        got = days[server] = set()
    got.add(s.first[:10].decode("ascii", "replace"))
    got.add(s.last[:10].decode("ascii", "replace"))


_QUOTED_TAIL = re.compile(rb'"((?:[^"]|"")*)"(?:,|\r?$)|([^,"]*)(?:,|\r?$)', re.DOTALL)


def _parse_quoted(record: bytes, width: int = 9) -> list[bytes]:
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


def scan_source(source: Source) -> _FileResult:
    """Scan one source; never raises for bad content (problems become warnings or a skip)."""
    result = _FileResult(source)
    try:
        stream = open_stream(source)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        result.kind, result.reason = "unreadable", f"cannot be opened: {exc}"
        return result
    try:
        with stream:
            _scan_stream(stream, result)
    except READ_ERRORS as exc:
        read_stopped(result, exc)
    classify_unknown(result)
    return result


def read_stopped(result: _FileResult, exc: BaseException) -> None:
    """Record a read that broke off: keep a receive log's figures so far, else mark it unreadable."""
    if result.kind == "receive":
        result.warnings.append(
            f"{result.source.name}: reading stopped after line {result.lines}: {exc};"
            " figures up to there are kept"
        )
    else:
        result.kind, result.reason = "unreadable", f"cannot be read: {exc}"


def classify_unknown(result: _FileResult) -> None:
    """A file read to the end without any ``#Log-type`` header is not a protocol log."""
    if not result.kind:
        result.kind, result.reason = (
            "unknown",
            "no '#Log-type' header found; not an Exchange protocol log",
        )


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
    result: _FileResult, lineno: int, raw: bytes, layout: _Layout
) -> tuple[bool | None, _Layout]:
    """Apply one ``#`` line; return (counting state or None to keep it, layout)."""
    text = raw.decode("utf-8", "replace").strip()
    key, _, value = text[1:].partition(":")
    key, value = key.strip().lower(), value.strip()
    if key == "log-type":
        if value == _RECEIVE:
            result.kind = "receive"
            return True, layout
        if result.kind != "receive":
            result.kind = "send" if value == _SEND else "unknown"
            result.reason = (
                "SMTP Send protocol log (not counted)"
                if value == _SEND
                else f"log type '{value}' is not an SMTP Receive protocol log"
            )
        return False, layout
    if key == "version" and value:
        result.versions.add(value)
    elif key == "fields":
        names = [n.strip().lower() for n in value.split(",")]
        missing = [n for n in _DEFAULT_FIELDS if n not in names]
        if not missing:
            return None, _Layout(names)
        result.warnings.append(
            f"{result.source.name}, line {lineno}: '#Fields' line lacks {', '.join(missing)};"
            " kept the previous layout"
        )
    return None, layout


def _lines(stream: IO[bytes], result: _FileResult) -> Iterator[list[bytes]]:
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


def _records(
    stream: IO[bytes], result: _FileResult
) -> Iterator[tuple[int, list[bytes], _Layout, bytes]]:
    """Yield ``(line number, fields, layout, line)`` for every data row of a receive log.

    One place for what both engines need from the raw bytes: quoted fields
    that run over several lines, ``#`` header blocks (also repeated mid-file
    after a restart), the inner lines of multi-line replies, and malformed
    lines (reported, then skipped). Stops early on a file that is no SMTP
    Receive log; on a normal end it adds the lines it read to ``result.lines``.
    """
    layout = _Layout(_DEFAULT_FIELDS)
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
                fields = _parse_quoted(line, layout.width)
            elif line[:1] == b"#":
                state, layout = _header(result, lineno, line, layout)
                if state is not None:
                    counting = state
                    if not state and result.kind != "receive":
                        return
                continue
            elif b'"' not in line:
                # Unquoted data holds no comma, so ",>,250-" can only be the event and data
                # fields: the inner line of a 2010 multi-line reply, which changes nothing.
                if b",>,250-" in line:
                    n += 1
                    continue
                fields = line.split(b",")
            else:
                if line.count(b'"') % 2:
                    buffered = [line]
                    start = lineno
                    continue
                fields = _parse_quoted(line, layout.width)
            if not counting:
                if not result.kind:
                    result.kind, result.reason = "unknown", "data before any '#Log-type' header"
                    return
                continue
            if len(fields) != layout.width:
                if not line.strip():
                    continue
                malformed += 1
                if malformed <= 5:
                    result.warnings.append(
                        f"{result.source.name}, line {lineno}: {len(fields)} fields where"
                        f" {layout.width} were expected; the line was skipped"
                    )
                continue
            n += 1
            yield lineno, fields, layout, line
    if buffered:
        result.warnings.append(
            f"{result.source.name}, line {start}: quoted field never closed at end of file;"
            " the record was skipped"
        )
    result.lines += n
    if malformed > 5:
        result.warnings.append(f"{result.source.name}: {malformed} malformed lines skipped in all")


def _scan_stream(stream: IO[bytes], result: _FileResult) -> None:
    """Read one stream, rebuilding sessions and folding ended ones into the tallies."""
    sessions: dict[bytes, _Session] = {}
    cont = result.continued
    tallies = result.tallies
    days = result.days
    layout = _Layout(_DEFAULT_FIELDS)
    i_ts, i_sid, i_ev, i_data = layout.ts, layout.sid, layout.ev, layout.data
    next_sweep = 65_536
    connectors: dict[bytes, str] = {}
    n = 0
    held = 0
    for _, fields, lay, line in _records(stream, result):
        if lay is not layout:  # a new '#Fields' line changed the column order
            layout = lay
            i_ts, i_sid, i_ev, i_data = layout.ts, layout.sid, layout.ev, layout.data
        n += 1
        event = fields[i_ev]
        sid = fields[i_sid]
        s = sessions.get(sid)
        if s is None:
            con_b = fields[layout.con]
            connector = connectors.get(con_b)
            if connector is None:
                connector = connectors[con_b] = con_b.decode("utf-8", "replace")
            if event != b"+" and held < MAX_HELD_EVENTS:
                # A session begun in an earlier file: keep its events for the hand-over.
                skey = (connector, sid.decode("ascii", "replace"))
                pend = cont.get(skey)
                if pend is None:
                    pend = cont[skey] = []
                if len(pend) < MAX_PENDING_EVENTS:
                    held += 1
                    pend.append(
                        (
                            fields[i_ts],
                            _client_address(fields[layout.remote]),
                            event,
                            fields[i_data],
                            fields[layout.ctx].rstrip(b"\r"),
                        )
                    )
                continue
            s = sessions[sid] = _Session(
                connector, _client_address(fields[layout.remote]), fields[i_ts], event == b"+"
            )
            if event == b"+":
                continue
            # Too many sessions begun elsewhere (a file whose start is lost): count this
            # one from here on, as an incomplete session, rather than hold its events.
        s.last = fields[i_ts]
        if event == b">":
            if s.pending:
                data = fields[i_data]
                code = data[:3]
                if code != b"334" and code != b"354" and data[3:4] != b"-":
                    s.reply(code, data)
        elif event == b"<":
            s.command(fields[i_data])
        elif event == b"*":
            ctx = fields[layout.ctx].rstrip(b"\r")
            if ctx == b"authenticated" or b"negotiation succeeded" in line:
                s.feed(event, fields[i_data], ctx)
        elif event == b"-":
            del sessions[sid]
            s.ended = True
            _fold(tallies, s, days)
        if n >= next_sweep:
            next_sweep += 65_536
            cutoff = _cutoff(s.last)
            for k in [k for k, v in sessions.items() if v.last < cutoff]:
                _fold(tallies, sessions.pop(k), days)
    result.open_sessions = {
        (s.connector, k.decode("ascii", "replace")): s for k, s in sessions.items()
    }


def _fold(
    tallies: dict[tuple[str, str], _ClientTally], s: _Session, days: dict[str, set[str]]
) -> None:
    _note_days(days, s)
    key = (s.connector, s.client)
    t = tallies.get(key)
    if t is None:
        t = tallies[key] = _ClientTally()
    s.tally_into(t)


# --------------------------------------------------------------------------- the whole scan

MAX_WARNINGS = 200
"""Warnings kept in the evidence file; the rest are counted."""

Progress = Callable[[int, int, str], None]
"""Called as (bytes done, bytes in all, file name) after each file."""


def _results(sources: list[Source], workers: int) -> Iterator[_FileResult]:
    if workers <= 1 or len(sources) <= 1:
        for s in sources:
            yield scan_source(s)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # map keeps the order, which the hand-over of cut sessions relies on.
        yield from pool.map(scan_source, sources, chunksize=1)


def scan_logs_python(
    paths: Sequence[str | Path],
    accepted_domains: Iterable[str] = (),
    *,
    progress: Progress | None = None,
    workers: int | None = None,
) -> Evidence:
    """Scan protocol logs with this module's streaming reader (``workers`` processes).

    The reference engine; :func:`migrator.logs.scan.scan_logs` chooses between it
    and the compiled engine. Raises :class:`LogScanError` when no SMTP Receive
    protocol log could be read.
    """
    accepted = tuple(sorted({d.strip().lower() for d in accepted_domains if d.strip()}))
    sources, skipped = discover(paths)
    if workers is None:
        workers = min(os.cpu_count() or 1, 8)
    sizes = [source_size(s) for s in sources]
    total = sum(sizes)
    done = 0
    tallies: dict[tuple[str, str], _ClientTally] = {}
    clients_per_connector: dict[str, int] = {}
    carry: dict[tuple[str, str], _Session] = {}
    days: dict[str, set[str]] = {}
    latest: dict[str, str] = {}
    versions: dict[str, set[str]] = {}
    read: list[FileRecord] = []
    warnings: list[str] = []
    lines = 0

    def fold(key: tuple[str, str], t: _ClientTally) -> None:
        mine = tallies.get(key)
        if mine is None:
            n = clients_per_connector.get(key[0], 0)
            if n >= MAX_CLIENTS_PER_CONNECTOR:
                key = (key[0], OTHER)
                mine = tallies.get(key)
            if mine is None:
                clients_per_connector[key[0]] = n + 1
                mine = tallies[key] = _ClientTally()
        mine.merge(t)

    def fold_session(s: _Session) -> None:
        _note_days(days, s)
        t = _ClientTally()
        s.tally_into(t)
        fold((s.connector, s.client), t)

    for source, size, res in zip(sources, sizes, _results(sources, workers), strict=True):
        done += size
        if progress is not None:
            progress(done, total, source.name)
        warnings.extend(res.warnings)
        if res.kind != "receive":
            skipped.append(SkippedFile(source.name, res.reason))
            continue
        lines += res.lines
        read.append(FileRecord(source.name, res.lines, res.bytes_read, tuple(sorted(res.versions))))
        for key, t in res.tallies.items():
            fold(key, t)
        for server, ds in res.days.items():
            days.setdefault(server, set()).update(ds)
            versions.setdefault(server, set()).update(res.versions)
        for skey, events in res.continued.items():
            s = carry.pop(skey, None)
            if s is None:
                s = _Session(skey[0], events[0][1], events[0][0], False)
            for ts, _client, event, data, context in events:
                s.last = ts
                s.feed(event, data, context)
                if s.ended:
                    break
            if s.ended:
                fold_session(s)
            else:
                carry[skey] = s
        for skey, s in res.open_sessions.items():
            carry[skey] = s
        # Close sessions idle for an hour of the server's own time: bounded memory.
        for t_key, t in res.tallies.items():
            server = _server_of(t_key[0])
            if t.last_seen > latest.get(server, ""):
                latest[server] = t.last_seen
        cutoffs = {server: _cutoff(ts.encode()) for server, ts in latest.items()}
        for skey in [
            k for k, s in carry.items() if s.last < cutoffs.get(_server_of(s.connector), b"")
        ]:
            fold_session(carry.pop(skey))
    for s in carry.values():
        fold_session(s)
    if not read:
        named = "; ".join(f"{s.path}: {s.reason}" for s in skipped) or "no files found"
        raise LogScanError(f"no SMTP Receive protocol log could be read ({named})")
    return _finish(
        tallies, clients_per_connector, days, versions, accepted, read, skipped, lines, warnings
    )


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
"""What ``ipaddress.IPv4Address`` accepts (no leading zeros): the common case, without it."""


def _ip_version(address: str) -> int:
    if _DOTTED_QUAD.fullmatch(address):
        return 4
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).version
    except ValueError:
        return 0


def _finish(
    tallies: dict[tuple[str, str], _ClientTally],
    clients_per_connector: dict[str, int],
    days: dict[str, set[str]],
    versions: dict[str, set[str]],
    accepted: tuple[str, ...],
    read: list[FileRecord],
    skipped: list[SkippedFile],
    lines: int,
    warnings: list[str],
) -> Evidence:
    """The evidence from the tallies of either engine, with the warnings about capped figures."""
    warnings = list(warnings)
    for (connector, client), t in sorted(tallies.items()):
        if t.truncated:
            warnings.append(
                f"{connector}, client {client}: more than {MAX_NAMES} EHLO names or MAIL FROM domains,"
                f" or more than {MAX_DOMAINS} recipient domains; the rest are counted as '{OTHER}'"
            )
    for connector, n in sorted(clients_per_connector.items()):
        if n > MAX_CLIENTS_PER_CONNECTOR:
            warnings.append(
                f"{connector}: more than {MAX_CLIENTS_PER_CONNECTOR} client addresses; the rest are"
                f" counted together as '{OTHER}'"
            )
    if len(warnings) > MAX_WARNINGS:
        extra = len(warnings) - MAX_WARNINGS
        warnings = [*warnings[:MAX_WARNINGS], f"{extra} more warnings not listed"]
    by_connector: dict[str, list[ClientEvidence]] = {}
    is_accepted: dict[str, bool] = {}
    for (connector, client), t in tallies.items():
        doms = []
        internal = external = external_anon = 0
        for dom, d in sorted(t.rcpt.items()):
            inside: bool | None = None
            if accepted and dom != OTHER:
                inside = is_accepted.get(dom)
                if inside is None:
                    inside = is_accepted[dom] = domain_is_accepted(dom, accepted)
                if inside:
                    internal += d.accepted
                else:
                    external += d.accepted
                    external_anon += d.accepted - d.accepted_authenticated
            doms.append(
                DomainCount(
                    dom, d.accepted, d.accepted_authenticated, d.refused, d.relay_refused, inside
                )
            )
        by_connector.setdefault(connector, []).append(
            ClientEvidence(
                address=client,
                ip_version=_ip_version(client),
                sessions=t.sessions,
                incomplete_sessions=t.incomplete_sessions,
                messages=t.messages,
                first_seen=t.first_seen,
                last_seen=t.last_seen,
                ehlo_names=tuple(sorted(t.ehlo)),
                mail_from_domains=tuple(sorted(t.mail_from)),
                rcpt_domains=tuple(doms),
                internal_recipients=internal,
                external_recipients=external,
                external_recipients_anonymous=external_anon,
                relay_refused_5_7_1=t.refused_571,
                relay_refused_5_7_54=t.refused_5754,
                authenticated_sessions=t.authenticated_sessions,
                tls_sessions=t.tls_sessions,
                capped=t.truncated,
            )
        )
    connectors = []
    spans: dict[str, tuple[str, str]] = {}
    for connector, clients in sorted(by_connector.items(), key=lambda kv: kv[0].lower()):
        clients.sort(key=lambda c: (-c.sessions, c.ip_version, c.address))
        first = min(c.first_seen for c in clients)
        last = max(c.last_seen for c in clients)
        server = _server_of(connector)
        f0, l0 = spans.get(server, ("", ""))
        spans[server] = (_min_ts(f0, first), max(l0, last))
        connectors.append(
            ConnectorEvidence(
                connector=connector,
                server=server,
                sessions=sum(c.sessions for c in clients),
                messages=sum(c.messages for c in clients),
                first_seen=first,
                last_seen=last,
                clients=tuple(clients),
            )
        )
    servers = []
    for server, (first, last) in sorted(spans.items(), key=lambda kv: kv[0].lower()):
        try:
            covered = (
                dt.date.fromisoformat(last[:10]) - dt.date.fromisoformat(first[:10])
            ).days + 1
        except ValueError:
            covered = len(days.get(server, ()))
        servers.append(
            ServerWindow(
                server=server,
                first_seen=first,
                last_seen=last,
                days_covered=covered,
                days_with_data=len(days.get(server, ())),
                versions=tuple(sorted(versions.get(server, ()))),
            )
        )
    scan = ScanMetadata(
        files_read=tuple(read),
        files_skipped=tuple(sorted(skipped, key=lambda s: natural_key(s.path))),
        lines=lines,
        sessions=sum(c.sessions for c in connectors),
        accepted_domains=accepted,
        warnings=tuple(warnings),
    )
    return Evidence(scan, tuple(servers), tuple(connectors))
