"""DuckDB engine of the protocol-log scan: ``read_csv`` plus SQL, same evidence as the Python scanner.

The Python scanner (:mod:`migrator.logs.scanner`) is the reference; this engine
gives the same :class:`~migrator.logs.evidence.Evidence` (tests/test_logs_engines.py
compares them) with DuckDB parsing the CSV and aggregating in native threads.
See docs/logs.md for measurements: it does not reach the speed of a bare
``read_csv`` session count, and is only somewhat faster than the Python engine.

How the work is split:

1. Every file is *probed* in Python (``bytes.find`` for ``#``, no parsing):
   header lines anywhere in the file, byte order mark, last line end. A plain
   receive log with only default ``#Fields`` lines, receive ``#Log-type`` lines
   and a complete last line is *clean* and is read by DuckDB as it is.
2. Anything else (``.gz`` files, zip members, a ``#Fields`` line with another
   column order, a ``#Log-type`` change mid-file, a byte order mark, a cut last
   line) is parsed by the Python reader, which keeps the reference behaviour
   (warnings with line numbers, malformed lines skipped) and writes its counted
   rows to a clean CSV in a temporary folder, read by DuckDB with the others.
3. DuckDB reads all files in one ``read_csv`` (``#`` lines skipped, explicit
   column names and VARCHAR types, rejected rows stored). A file with a rejected
   row (a malformed line, or an unquoted ``#`` in data that ``comment`` cut
   short), or one the CSV reader gives up on (mixed line ends), is moved to the
   Python reader and the load is run again, so the result never depends on how
   DuckDB would have judged it.
4. SQL rebuilds the sessions per (connector id, session id), ordered by (file,
   sequence number) so a session cut by a roll-over is joined; replies are
   paired with commands first in, first out with window functions (see
   :data:`_PAIRS_SQL`); the per session and per client figures are
   aggregated in SQL and the small result is turned into the evidence by the
   Python scanner's own :func:`~migrator.logs.scanner._finish`.

Memory is bounded by DuckDB's ``memory_limit`` (700 MB): beyond it DuckDB
spills to its temporary folder (under the system temporary folder, deleted at
the end). Zip members and ``.gz`` files are decompressed there too.

Known differences from the Python engine, none on logs as Exchange writes them
except the first: when a per client cap is reached (50 EHLO names or MAIL FROM
domains, 500 recipient domains) the names kept are the first in sorted order,
the Python engine keeps the first seen (same totals, other names under
``(other)``); sessions idle for more than an hour are not split; a session id
that starts again (``+``) or has events after its ``-`` stays one session; a
line with one extra *empty* field at its end is read as a good line (DuckDB
accepts a trailing delimiter); sessions are keyed on a 64-bit hash of
(connector id, session id) (a collision among a million sessions has a
probability below one in ten million).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from migrator.errors import LogScanError
from migrator.logs.evidence import Evidence, FileRecord, SkippedFile
from migrator.logs.scanner import (
    _DEFAULT_FIELDS,
    _RECEIVE,
    MAX_CLIENTS_PER_CONNECTOR,
    MAX_DOMAINS,
    MAX_NAMES,
    OTHER,
    READ_ERRORS,
    Progress,
    Source,
    _bump,
    _ClientTally,
    _DomainTally,
    _FileResult,
    _finish,
    _open,
    _records,
    _source_size,
    classify_unknown,
    discover,
    read_stopped,
)

MEMORY_LIMIT = "700MB"
"""DuckDB's memory limit; beyond it DuckDB spills to its temporary folder."""
_PROBE_CHUNK = 8 << 20
_FIELDS_LINE = ",".join(_DEFAULT_FIELDS)
_COLUMNS = {
    "dt": "VARCHAR",
    "con": "VARCHAR",
    "sid": "VARCHAR",
    "seq": "VARCHAR",
    "lep": "VARCHAR",
    "remote": "VARCHAR",
    "ev": "VARCHAR",
    "data": "VARCHAR",
    "ctx": "VARCHAR",
}


# --------------------------------------------------------------------------- per file


@dataclass
class _File:
    """One source and how it reaches DuckDB."""

    source: Source
    index: int
    """Position in natural name order (orders the pieces of a cut session)."""
    size: int
    csv_path: str = ""
    """File DuckDB reads: the original (clean) or a normalised copy."""
    normalised: bool = False
    kind: str = ""
    reason: str = ""
    versions: set[str] = field(default_factory=set)
    lines: int = 0
    bytes_read: int = 0
    warnings: list[str] = field(default_factory=list)


def _probe(path: str, versions: set[str]) -> bool:
    """Whether a plain file may go to DuckDB as it is; adds its ``#Version`` values to ``versions``.

    Clean: no byte order mark, a leading header block naming an SMTP Receive
    protocol log, every header line (also those repeated mid-file after a
    restart) of that log type with the default ``#Fields``, and a complete last
    line. One pass of ``bytes.find`` over the file (DuckDB skips the ``#`` lines).
    """
    try:
        with open(path, "rb") as fh:
            buf = fh.read(_PROBE_CHUNK)
            if not buf.startswith(b"#"):
                return False
            # The leading block must say what the file is before any data line.
            seen_type = False
            for raw in buf.split(b"\n", 64)[:-1]:
                if not raw.startswith(b"#"):
                    break
                seen_type |= _header_ok(raw, set())[1]
            if not seen_type:
                return False
            last = b""
            at_line_start = True
            while buf:
                buf += fh.readline()  # end every chunk at a line end: no header line is cut
                i = buf.find(b"#")
                while i >= 0:
                    if (i == 0 and at_line_start) or buf[i - 1 : i] == b"\n":
                        end = buf.find(b"\n", i)
                        ok, _is_type = _header_ok(buf[i : end if end >= 0 else len(buf)], versions)
                        if not ok:
                            return False
                    i = buf.find(b"#", i + 1)
                last = buf[-1:]
                at_line_start = last == b"\n"
                buf = fh.read(_PROBE_CHUNK)
            return last == b"\n"
    except OSError:
        return False


def _header_ok(raw: bytes, versions: set[str]) -> tuple[bool, bool]:
    """(whether DuckDB's reading handles a ``#`` line, whether it is the ``#Log-type``)."""
    text = raw.decode("utf-8", "replace").strip()
    key, _, value = text[1:].partition(":")
    key, value = key.strip().lower(), value.strip()
    if key == "log-type":
        return value == _RECEIVE, True
    if key == "fields":
        return value == _FIELDS_LINE, False
    if key == "version" and value:
        versions.add(value)
    return True, False


def _normalise(f: _File, target: Path) -> None:
    """Read a source with the Python reader; write its counted rows as clean CSV for DuckDB."""
    result = _FileResult(f.source)
    try:
        stream, _pos = _open(f.source)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        f.kind, f.reason = "unreadable", f"cannot be opened: {exc}"
        return
    try:
        with (
            stream,
            open(target, "w", encoding="utf-8", newline="", errors="surrogateescape") as out,
        ):
            writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
            _copy_rows(stream, result, writer)
    except READ_ERRORS as exc:
        read_stopped(result, exc)
    classify_unknown(result)
    f.kind, f.reason = result.kind, result.reason
    f.versions, f.lines, f.bytes_read = result.versions, result.lines, result.bytes_read
    f.warnings = result.warnings
    f.csv_path, f.normalised = str(target), True


def _copy_rows(stream: object, result: _FileResult, writer: object) -> None:
    """The Python scanner's record reading, writing the rows out instead of tallying them."""
    write = writer.writerow  # type: ignore[attr-defined]
    for lineno, fields, layout, _ in _records(stream, result):  # type: ignore[arg-type]
        # The line number stands for the sequence number: it keeps the file order exactly.
        write(
            (
                fields[layout.ts].decode("utf-8", "replace"),
                fields[layout.con].decode("utf-8", "replace"),
                fields[layout.sid].decode("utf-8", "replace"),
                lineno,
                "",
                fields[layout.remote].decode("utf-8", "replace"),
                fields[layout.ev].decode("utf-8", "replace"),
                fields[layout.data].decode("utf-8", "replace"),
                fields[layout.ctx].rstrip(b"\r").decode("utf-8", "replace"),
            )
        )


# --------------------------------------------------------------------------- SQL

_EVENTS_SQL = r"""
CREATE OR REPLACE TEMP TABLE e AS
SELECT hash(r.con, r.sid) AS h, f.fi, (f.fi::BIGINT << 32) + TRY_CAST(r.seq AS BIGINT) AS o,
  r.ev, r.dt, r.con, r.remote,
  -- An unquoted inner line of a multi-line reply: counted as a line, otherwise ignored
  -- (the Python reader skips it before it reaches its session).
  coalesce(r.ev = '>' AND starts_with(r.data, '250-')
    AND NOT regexp_matches(r.data || coalesce(r.ctx, ''), '[,"\n]'), false) AS inner_line,
  CASE WHEN r.ev = '<' THEN
    CASE upper(r.data[1:4]) WHEN 'RCPT' THEN 1 WHEN 'MAIL' THEN 2 WHEN 'EHLO' THEN 3
      WHEN 'HELO' THEN 3 WHEN 'DATA' THEN 4
      WHEN 'BDAT' THEN CASE WHEN contains(upper(r.data), 'LAST') THEN 5 ELSE 6 END
      WHEN 'STAR' THEN 7 WHEN 'AUTH' THEN 8 WHEN 'X-EX' THEN 8 WHEN 'X-AN' THEN 9 ELSE 0 END
  END::TINYINT AS verb,
  CASE WHEN r.ev = '<' AND upper(r.data[1:4]) = 'RCPT' THEN
      coalesce(rtrim(lower(nullif(regexp_extract(r.data, '@([^>\s]+)', 1), '')), '.'), '(none)')
    WHEN r.ev = '<' AND upper(r.data[1:4]) = 'MAIL' THEN
      coalesce(rtrim(lower(nullif(regexp_extract(r.data, '@([^>\s]+)', 1), '')), '.'),
               '(null sender)')
    WHEN r.ev = '<' AND upper(r.data[1:4]) IN ('EHLO', 'HELO') THEN
      trim(coalesce(r.data[6:], ''), e' \t\r\n\x0b\x0c')
  END AS arg,
  CASE WHEN r.ev = '>' AND coalesce(r.data[1:3], '') NOT IN ('334', '354')
            AND coalesce(r.data[4:4], '') <> '-' THEN coalesce(r.data[1:3], '') END AS code,
  CASE WHEN r.ev = '>' AND coalesce(r.data[1:1], '') <> '2' THEN
    CASE WHEN contains(r.data, '5.7.54') THEN 2
      WHEN contains(r.data, '5.7.1') AND contains(lower(r.data), 'relay') THEN 1 ELSE 0 END
  END::TINYINT AS relay,
  coalesce(r.ev = '*' AND r.ctx = 'authenticated', false) AS auth_row,
  coalesce(r.ev = '*' AND r.ctx IS DISTINCT FROM 'authenticated'
    AND (contains(r.data, 'negotiation succeeded') OR contains(r.ctx, 'negotiation succeeded')),
    false) AS tls_row
FROM read_csv($files, columns = $columns, auto_detect = false, header = false,
              comment = '#', quote = '"', escape = '"', delim = ',', new_line = '\r\n', store_rejects = true,
              filename = true) AS r
JOIN files AS f ON r.filename = f.path
"""

# FIFO pairing. Per session, in (file, sequence) order: c = commands so far, j = final
# replies so far. With v the number of replies already paired, a reply pairs only when a
# command is waiting (v < c); v after reply j is min(v + 1, c), which unrolls to
# j + min(0, min over replies i <= j of (c_i - i)); so reply j pairs with command number
# p = (j - 1) + min(0, m_{j-1}) + 1 when p <= c.
_PAIRS_SQL = """
CREATE OR REPLACE TEMP TABLE pairs AS
WITH w AS (
  SELECT h, o, verb, arg, code, relay,
    count(verb) OVER win AS c, count(code) OVER win AS j
  FROM e WHERE verb IS NOT NULL OR code IS NOT NULL
  WINDOW win AS (PARTITION BY h ORDER BY o ROWS UNBOUNDED PRECEDING)
), w2 AS (
  SELECT *, min(CASE WHEN code IS NOT NULL THEN c - j END) OVER (
      PARTITION BY h ORDER BY o ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS mprev
  FROM w
), cmds AS (
  SELECT h, c AS k, verb, arg FROM w2 WHERE verb IN (1, 4, 5, 7, 8)
), reps AS (
  SELECT h, o, code, relay, j + least(0, coalesce(mprev, 0)) AS p, c
  FROM w2 WHERE code IS NOT NULL
)
SELECT cmds.h, cmds.verb, cmds.arg, reps.o, reps.code, reps.relay
FROM reps JOIN cmds ON reps.h = cmds.h AND reps.p = cmds.k
WHERE reps.p <= reps.c
"""

_SESSIONS_SQL = r"""
CREATE OR REPLACE TEMP TABLE sess AS
WITH s AS (
  SELECT h, any_value(con) AS con, min(dt) AS first, max(dt) AS last,
    trim(arg_min(remote, o)) AS remote, arg_min(ev, o) = '+' AS started,
    bool_or(ev = '-') AS ended, min(fi) AS fi0, max(fi) AS fi1,
    min(o) FILTER (auth_row) AS auth_o, bool_or(tls_row OR verb = 9) AS tls
  FROM e WHERE NOT inner_line GROUP BY h
), p AS (
  SELECT h,
    min(o) FILTER (verb = 8 AND code = '235') AS auth_o,
    bool_or(verb = 7 AND code = '220') AS tls,
    count(*) FILTER (verb IN (4, 5) AND code[1:1] = '2') AS messages
  FROM pairs GROUP BY h
)
SELECT s.h, s.con, s.first, s.last, s.started, s.ended, s.fi0, s.fi1,
  CASE WHEN s.remote LIKE '[%' THEN
      CASE WHEN contains(s.remote, ']') THEN s.remote[2:strpos(s.remote, ']') - 1]
        ELSE s.remote[2:] END
    WHEN length(s.remote) - length(replace(s.remote, ':', '')) = 1
      THEN split_part(s.remote, ':', 1)
    ELSE s.remote END AS client,
  least(s.auth_o, p.auth_o) AS auth_o,
  coalesce(s.tls OR p.tls, s.tls, false) AS tls,
  coalesce(p.messages, 0) AS messages
FROM s LEFT JOIN p USING (h)
"""

_CLIENTS_SQL = """
SELECT con, client, count(*) AS sessions,
  count(*) FILTER (NOT (started AND ended)) AS incomplete, sum(messages) AS messages,
  min(first) AS first, max(last) AS last,
  count(*) FILTER (auth_o IS NOT NULL) AS auth, count(*) FILTER (tls) AS tls
FROM sess GROUP BY con, client
"""

_NAMES_SQL = """
SELECT s.con, s.client, e.verb, e.arg, count(DISTINCT e.h) AS n
FROM e JOIN sess AS s USING (h) WHERE e.verb IN (2, 3)
GROUP BY s.con, s.client, e.verb, e.arg
"""

_RCPT_SQL = """
SELECT s.con, s.client, p.arg,
  count(*) FILTER (p.code[1:1] = '2') AS accepted,
  count(*) FILTER (p.code[1:1] = '2' AND s.auth_o < p.o) AS accepted_auth,
  count(*) FILTER (p.code[1:1] <> '2') AS refused,
  count(*) FILTER (p.relay > 0) AS relay_refused,
  count(*) FILTER (p.relay = 1) AS r571,
  count(*) FILTER (p.relay = 2) AS r5754
FROM pairs AS p JOIN sess AS s USING (h) WHERE p.verb = 1
GROUP BY s.con, s.client, p.arg
"""

_DAYS_SQL = """
SELECT DISTINCT CASE WHEN contains(con, '\\') THEN split_part(con, '\\', 1) ELSE '' END, d
FROM (SELECT con, first[1:10] AS d FROM sess UNION ALL SELECT con, last[1:10] FROM sess)
"""

_VERSION_FILES_SQL = """
SELECT DISTINCT CASE WHEN contains(con, '\\') THEN split_part(con, '\\', 1) ELSE '' END, fi0
FROM sess WHERE started AND ended AND fi0 = fi1
"""

_FILE_IN_ERROR = re.compile(r"^\s*file = (.+)$", re.MULTILINE)
_LINES_SQL = "SELECT fi, count(*) FROM e GROUP BY fi"


def _connect(tmp: Path, workers: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    spill = tmp / "duckdb"
    spill.mkdir(exist_ok=True)
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute(f"SET temp_directory = '{str(spill).replace(chr(39), chr(39) * 2)}'")
    con.execute(f"SET threads = {max(1, workers)}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    return con


def _run_events(con: duckdb.DuckDBPyConnection, files: list[_File]) -> set[int]:
    """Load the events of all files into table ``e``; return the files with rejected lines.

    ``#`` lines are skipped (``comment``); an unquoted ``#`` inside data cuts its
    line short, which DuckDB rejects, so that file goes to the Python reader too.
    """
    paths = [f.csv_path for f in files]
    by_path = {f.csv_path: f for f in files}
    con.execute(
        "CREATE OR REPLACE TEMP TABLE files AS"
        " SELECT unnest($p::VARCHAR[]) AS path, unnest($i::INTEGER[]) AS fi",
        {"p": paths, "i": [f.index for f in files]},
    )
    con.execute(_EVENTS_SQL, {"files": paths, "columns": _COLUMNS})
    odd: set[int] = set()
    for (path,) in con.execute(
        "SELECT DISTINCT s.file_path FROM reject_errors AS r"
        " JOIN reject_scans AS s USING (scan_id, file_id)"
    ).fetchall():
        f = by_path.get(str(path))
        if f is not None:
            odd.add(f.index)
    return odd


# --------------------------------------------------------------------------- the whole scan


def scan_logs_duckdb(
    paths: Sequence[str | Path],
    accepted_domains: Iterable[str] = (),
    *,
    progress: Progress | None = None,
    workers: int | None = None,
) -> Evidence:
    """Scan protocol logs with DuckDB; same result and errors as the Python scanner.

    ``workers`` is the number of DuckDB threads (default: one per CPU).
    """
    accepted = tuple(sorted({d.strip().lower() for d in accepted_domains if d.strip()}))
    sources, skipped = discover(paths)
    threads = workers if workers else (os.cpu_count() or 1)
    tmp = Path(tempfile.mkdtemp(prefix="migrator-logscan-"))
    try:
        return _scan(sources, skipped, accepted, progress, threads, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _scan(
    sources: list[Source],
    skipped: list[SkippedFile],
    accepted: tuple[str, ...],
    progress: Progress | None,
    threads: int,
    tmp: Path,
) -> Evidence:
    files = [_File(s, i, _source_size(s)) for i, s in enumerate(sources)]
    total = sum(f.size for f in files)
    done = 0
    for f in files:
        plain = not f.source.member and not f.source.path.lower().endswith(".gz")
        if plain and _probe(f.source.path, f.versions):
            f.kind, f.bytes_read, f.csv_path = "receive", f.size, f.source.path
        else:
            f.versions = set()
            _normalise(f, tmp / f"{f.index}.csv")
        done += f.size
        if progress is not None:
            progress(done, total, f.source.name)
    warnings: list[str] = []
    for f in files:
        if f.kind != "receive":
            warnings.extend(f.warnings)
            skipped.append(SkippedFile(f.source.name, f.reason))
    readable = [f for f in files if f.kind == "receive"]
    if not readable:
        named = "; ".join(f"{s.path}: {s.reason}" for s in skipped) or "no files found"
        raise LogScanError(f"no SMTP Receive protocol log could be read ({named})")
    con = _connect(tmp, threads)
    try:
        _load(con, readable, tmp)
        con.execute(_PAIRS_SQL)
        con.execute(_SESSIONS_SQL)
        return _collect(con, files, readable, skipped, accepted)
    finally:
        con.close()


def _load(con: duckdb.DuckDBPyConnection, readable: list[_File], tmp: Path) -> None:
    """Load the events; files DuckDB cannot read exactly as Python does go to the Python reader."""
    for _attempt in range(len(readable) + 1):
        try:
            odd = _run_events(con, readable)
        except duckdb.Error as exc:
            # The CSV reader gave up (mixed line ends, a broken quote...): its message names
            # the file; without a name every file not yet normalised goes to Python.
            named = _FILE_IN_ERROR.search(str(exc))
            culprit = named.group(1).strip() if named else None
            odd = {
                f.index
                for f in readable
                if not f.normalised and (culprit is None or f.csv_path == culprit)
            }
            if not odd:
                raise LogScanError(f"DuckDB could not read the logs: {exc}") from exc
        if not odd:
            return
        for f in readable:
            if f.index in odd:
                if f.normalised:
                    raise LogScanError(
                        "internal error: DuckDB refused rows the Python reader wrote"
                    )
                f.versions = set()
                _normalise(f, tmp / f"{f.index}.csv")
    raise LogScanError("internal error: the logs could not be loaded into DuckDB")


def _collect(
    con: duckdb.DuckDBPyConnection,
    files: list[_File],
    readable: list[_File],
    skipped: list[SkippedFile],
    accepted: tuple[str, ...],
) -> Evidence:
    # Warnings in file order, as the Python scanner gives them.
    warnings = [w for f in files for w in f.warnings]
    by_index = {f.index: f for f in readable}
    for fi, n in con.execute(_LINES_SQL).fetchall():
        f = by_index[int(fi)]
        if not f.normalised:
            f.lines = int(n)
    tallies: dict[tuple[str, str], _ClientTally] = {}
    for row in con.execute(_CLIENTS_SQL).fetchall():
        connector, client, sessions, incomplete, messages, first, last, auth, tls = row
        tallies[(str(connector), str(client))] = _ClientTally(
            sessions=int(sessions),
            incomplete_sessions=int(incomplete),
            messages=int(messages),
            first_seen=str(first),
            last_seen=str(last),
            authenticated_sessions=int(auth),
            tls_sessions=int(tls),
        )
    for connector, client, verb, name, n in sorted(
        con.execute(_NAMES_SQL).fetchall(), key=lambda r: (r[0], r[1], r[2], r[3])
    ):
        t = tallies[(str(connector), str(client))]
        target = t.ehlo if verb == 3 else t.mail_from
        t.truncated |= _bump(target, str(name), int(n), MAX_NAMES)
    for connector, client, dom, acc, acc_auth, ref, rel, r571, r5754 in sorted(
        con.execute(_RCPT_SQL).fetchall(), key=lambda r: (r[0], r[1], r[2])
    ):
        t = tallies[(str(connector), str(client))]
        d = t.rcpt.get(str(dom))
        if d is None:
            if len(t.rcpt) >= MAX_DOMAINS:
                t.truncated = True
                d = t.rcpt.setdefault(OTHER, _DomainTally())
            else:
                d = t.rcpt[str(dom)] = _DomainTally()
        d.accepted += int(acc)
        d.accepted_authenticated += int(acc_auth)
        d.refused += int(ref)
        d.relay_refused += int(rel)
        t.refused_571 += int(r571)
        t.refused_5754 += int(r5754)
    tallies, counts = _cap_clients(tallies)
    days: dict[str, set[str]] = {}
    for server, day in con.execute(_DAYS_SQL).fetchall():
        days.setdefault(str(server), set()).add(str(day))
    versions: dict[str, set[str]] = {}
    for server, fi in con.execute(_VERSION_FILES_SQL).fetchall():
        versions.setdefault(str(server), set()).update(by_index[int(fi)].versions)
    read = [
        FileRecord(f.source.name, f.lines, f.bytes_read, tuple(sorted(f.versions)))
        for f in readable
    ]
    lines = sum(f.lines for f in readable)
    return _finish(tallies, counts, days, versions, accepted, read, skipped, lines, warnings)


def _cap_clients(
    tallies: dict[tuple[str, str], _ClientTally],
) -> tuple[dict[tuple[str, str], _ClientTally], dict[str, int]]:
    """At most MAX_CLIENTS_PER_CONNECTOR clients per connector (most sessions first)."""
    counts: dict[str, int] = {}
    for connector, _client in tallies:
        counts[connector] = counts.get(connector, 0) + 1
    if all(n <= MAX_CLIENTS_PER_CONNECTOR for n in counts.values()):
        return tallies, counts
    kept: dict[tuple[str, str], _ClientTally] = {}
    seen: dict[str, int] = {}
    for key, t in sorted(tallies.items(), key=lambda kv: (kv[0][0], -kv[1].sessions, kv[0][1])):
        n = seen.get(key[0], 0)
        if n >= MAX_CLIENTS_PER_CONNECTOR:
            kept.setdefault((key[0], OTHER), _ClientTally()).merge(t)
        else:
            seen[key[0]] = n + 1
            kept[key] = t
    return kept, counts
