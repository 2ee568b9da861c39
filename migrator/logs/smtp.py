"""The SMTP Receive protocol-log scan: files to the compiled kernel, its tables to relay evidence.

The session rules live in the kernel (:mod:`migrator.logs.kernel`); this module
drives it:

1. Every file is *probed* (:func:`migrator.logs.smtp_files.probe`): a plain
   receive log as Exchange writes it goes to the kernel as it is; anything else
   (``.gz`` files, zip members, another ``#Fields`` order or a ``#Log-type``
   change part-way through, a byte order mark, a cut last line) is first written
   as a clean CSV by :func:`migrator.logs.smtp_files.normalise`.
2. Files are grouped by server (sessions never cross servers) and the groups
   dealt to threads; within a thread the files are read in natural name order,
   in chunks of :data:`~migrator.logs.smtp_files.CHUNK` bytes, so a session cut
   by a file roll-over simply goes on in the next file.
3. When a thread has read its files, its tables become per client tallies
   (:class:`~migrator.logs.figures.ClientTally`), and
   :func:`~migrator.logs.figures.build_evidence` makes the evidence.

Memory stays bounded whatever the input size: the chunk buffer, the open
sessions (those whose idle hour has passed are folded at sweeps), and per
client at most 50 EHLO names and MAIL FROM domains and 500 recipient domains,
per connector at most 50,000 clients (beyond, ``(other)``). Past a client's
cap the ``(other)`` bucket of EHLO names and MAIL FROM domains counts sessions;
a session with more than 64 commands waiting for replies stops queueing (a
warning says so).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from migrator.errors import LogScanError
from migrator.logs import kernel as k
from migrator.logs.evidence import Evidence, FileRecord, SkippedFile
from migrator.logs.figures import (
    MAX_NAMES,
    OTHER,
    ClientTally,
    DomainTally,
    build_evidence,
    server_of,
)
from migrator.logs.smtp_files import (
    CHUNK,
    DEFAULT_FIELDS,
    MAX_MALFORMED_LISTED,
    MAX_RECORD_LINES,
    FileRead,
    discover,
    load_whole,
    normalise,
    probe,
)
from migrator.logs.sources import READ_ERRORS, Source, open_stream, source_size

Progress = Callable[[int, int, str], None]
"""Called as (bytes done, bytes in all, file name) after each file."""

I64 = np.dtype(np.int64)
Array = np.ndarray[Any, Any]


# --------------------------------------------------------------------------- per file


@dataclass
class _File(FileRead):
    """One source, what reading it found, and how it reaches the kernel."""

    index: int = 0
    """Position in natural name order."""
    size: int = 0
    path: str = ""
    """File the kernel reads: the original (clean) or a normalised copy."""
    normalised: bool = False

    def normalised_from(self, target: Path) -> bool:
        """Normalise the source into ``target``; whether the kernel has rows to read there."""
        self.versions = set()
        normalise(self, target)
        self.path, self.normalised = str(target), True
        return self.kind == "receive"


# --------------------------------------------------------------------------- kernel state


def _pow2(n: int) -> int:
    return 1 << max(4, (n - 1).bit_length())


class _State:
    """The kernel's tables (see :mod:`migrator.logs.kernel`), grown on request."""

    sbuf: Array
    soff: Array
    shash: Array
    sidx: Array
    srv_latest: Array
    con_clients: Array
    ckey: Array
    cidx: Array
    cnum: Array
    cts: Array
    tkey: Array
    tidx: Array
    tnum: Array
    xnum: Array
    xts: Array
    xq: Array
    xlive: Array
    xfree: Array
    xidx: Array
    xnames: Array
    pkey: Array
    pidx: Array

    def __init__(self) -> None:
        self.cnt = np.zeros(k.K_SIZE, I64)
        self.warn = np.zeros((256, 3), I64)
        self._strings(4096, 1 << 20)
        self._clients(4096)
        self._tallies(16384)
        self._sessions(4096)
        self._pairs(4096)
        for name in k.RESERVED:
            k.intern_text(
                np.frombuffer(name.encode(), np.uint8).copy(),
                self.sbuf,
                self.soff,
                self.shash,
                self.sidx,
                self.cnt,
            )

    # ---- allocation and growth (contents kept)

    def _strings(self, cap: int, nbytes: int) -> None:
        old = getattr(self, "shash", None)
        n = int(self.cnt[k.K_NSTR])
        self.shash = _grown(old, (cap,), I64, n)
        self.soff = _grown(getattr(self, "soff", None), (cap + 1,), I64, n + 1)
        self.srv_latest = _grown(getattr(self, "srv_latest", None), (cap,), I64, n, fill=-1)
        self.con_clients = _grown(getattr(self, "con_clients", None), (cap,), I64, n)
        used = int(self.cnt[k.K_SBUF])
        self.sbuf = _grown(getattr(self, "sbuf", None), (nbytes,), np.dtype(np.uint8), used)
        self.sidx = np.full(_pow2(2 * cap), -1, I64)
        k.reindex_strings(self.shash, n, self.sidx)

    def _clients(self, cap: int) -> None:
        n = int(self.cnt[k.K_NCLI])
        self.ckey = _grown(getattr(self, "ckey", None), (cap,), I64, n)
        self.cnum = _grown(getattr(self, "cnum", None), (cap, k.C_SIZE), I64, n)
        self.cts = _grown(getattr(self, "cts", None), (cap, 2 * k.TSW), np.dtype(np.uint8), n)
        self.cidx = np.full(_pow2(2 * cap), -1, I64)
        k.reindex_keys(self.ckey, n, self.cidx)

    def _tallies(self, cap: int) -> None:
        n = int(self.cnt[k.K_NTAL])
        self.tkey = _grown(getattr(self, "tkey", None), (cap,), I64, n)
        self.tnum = _grown(getattr(self, "tnum", None), (cap, k.T_SIZE), I64, n)
        self.tidx = np.full(_pow2(2 * cap), -1, I64)
        k.reindex_keys(self.tkey, n, self.tidx)

    def _sessions(self, cap: int) -> None:
        old = 0 if getattr(self, "xnum", None) is None else self.xnum.shape[0]
        self.xnum = _grown(getattr(self, "xnum", None), (cap, k.X_SIZE), I64, old)
        self.xts = _grown(getattr(self, "xts", None), (cap, 2 * k.TSW), np.dtype(np.uint8), old)
        self.xq = _grown(getattr(self, "xq", None), (cap, k.QCAP), I64, old)
        self.xnames = _grown(getattr(self, "xnames", None), (cap, 2 * MAX_NAMES), I64, old)
        self.xlive = _grown(getattr(self, "xlive", None), (cap,), np.dtype(np.bool_), old)
        free = int(self.cnt[k.K_NFREE])
        stack = np.zeros(cap, I64)
        if free:
            stack[:free] = self.xfree[:free]
        new = np.arange(cap - 1, old - 1, -1, dtype=np.int64)
        stack[free : free + new.size] = new
        self.xfree = stack
        self.cnt[k.K_NFREE] = free + new.size
        self.xidx = np.full(_pow2(2 * cap), -1, I64)
        k.reindex_sessions(self.xnum, self.xlive, self.xidx)

    def _pairs(self, cap: int) -> None:
        n = int(self.cnt[k.K_NPAIR])
        self.pkey = _grown(getattr(self, "pkey", None), (cap,), I64, n)
        self.pidx = np.full(_pow2(2 * cap), -1, I64)
        k.reindex_keys(self.pkey, n, self.pidx)

    def grow(self, what: int) -> None:
        if what == k.G_STR:
            self._strings(2 * self.shash.size, self.sbuf.size)
        elif what == k.G_SBUF:
            self._strings(self.shash.size, 2 * self.sbuf.size)
        elif what == k.G_CLI:
            self._clients(2 * self.ckey.size)
        elif what == k.G_TAL:
            self._tallies(2 * self.tkey.size)
        elif what == k.G_SESS:
            self._sessions(2 * self.xnum.shape[0])
        elif what == k.G_PAIR:
            self._pairs(2 * self.pkey.size)
        elif what == k.G_WARN:
            self.warn = _grown(self.warn, (2 * self.warn.shape[0], 3), I64, self.warn.shape[0])
        else:  # pragma: no cover - the kernel names one of the above
            raise LogScanError(f"internal error: unknown table {what} to grow")

    def room_for_sweep(self) -> None:
        """Grow until folding every open session fits (two strings, three pairs, its names)."""
        live = int(self.cnt[k.K_LIVE])
        open_rows = self.xnum[self.xlive]
        names = int(open_rows[:, k.X_NEHLO].sum() + open_rows[:, k.X_NMAIL].sum())
        while (
            int(self.cnt[k.K_NTAL]) + names + 4 >= self.tkey.size
            or 2 * (int(self.cnt[k.K_NTAL]) + names + 4) >= self.tidx.size
        ):
            self._tallies(2 * self.tkey.size)
        while (
            int(self.cnt[k.K_NSTR]) + 2 * live + 8 >= self.shash.size
            or 2 * (int(self.cnt[k.K_NSTR]) + 2 * live + 8) >= self.sidx.size
        ):
            self._strings(2 * self.shash.size, self.sbuf.size)
        while int(self.cnt[k.K_SBUF]) + 20 * live + 64 >= self.sbuf.size:
            self._strings(self.shash.size, 2 * self.sbuf.size)
        while (
            int(self.cnt[k.K_NPAIR]) + 3 * live + 4 >= self.pkey.size
            or 2 * (int(self.cnt[k.K_NPAIR]) + 3 * live + 4) >= self.pidx.size
        ):
            self._pairs(2 * self.pkey.size)

    # ---- calls into the kernel

    def scan(self, buf: Array, p: int, n: int, final: bool, fileidx: int) -> tuple[int, int]:
        status, pos = k.scan(
            buf, buf[: buf.size // 8 * 8].view(np.uint64), p, n, final, fileidx, self.cnt, self.warn, self.srv_latest, self.con_clients,
            self.sbuf, self.soff, self.shash, self.sidx, self.ckey, self.cidx, self.cnum, self.cts,
            self.tkey, self.tidx, self.tnum, self.xidx, self.xnum, self.xts, self.xq, self.xfree,
            self.xlive, self.pkey, self.pidx, self.xnames,
        )  # fmt: skip
        return int(status), int(pos)

    def sweep(self, mode: int) -> None:
        self.room_for_sweep()
        k.sweep(
            mode, self.srv_latest, self.xnum, self.xts, self.xidx, self.xfree,
            self.xlive, self.cnum, self.cts, self.sbuf, self.soff, self.shash, self.sidx,
            self.pkey, self.pidx, self.cnt, self.xnames, self.tkey, self.tidx, self.tnum,
        )  # fmt: skip

    def text(self, i: int, encoding: str = "utf-8") -> str:
        return bytes(self.sbuf[self.soff[i] : self.soff[i + 1]]).decode(encoding, "replace")


def _grown(
    old: Array | None, shape: tuple[int, ...], dtype: np.dtype[Any], keep: int, fill: int = 0
) -> Array:
    new = np.full(shape, fill, dtype=dtype) if fill else np.zeros(shape, dtype=dtype)
    if old is not None and keep:
        new[:keep] = old[:keep]
    return new


# --------------------------------------------------------------------------- reading one file


def _feed(state: _State, buf: Array, p: int, n: int, final: bool, fileidx: int) -> int:
    """Run the kernel over buf[p:n], growing tables and sweeping as it asks; where it stopped."""
    while True:
        status, p = state.scan(buf, p, n, final, fileidx)
        if status == k.GROW:
            state.grow(int(state.cnt[k.K_GROW]))
        elif status == k.SWEEP:
            state.sweep(k.SWEEP_IDLE)
        else:
            return p


def _read_whole(state: _State, f: _File, data: bytearray, n: int) -> None:
    """Feed a clean file, already in memory, to the kernel in one call."""
    marks = _begin_file(state)
    _feed(state, np.frombuffer(data, np.uint8), 0, n, True, f.index)
    _end_file(state, f, marks)


def _read_file(state: _State, f: _File, buf: Array) -> Array:
    """Feed a (normalised) file to the kernel in chunks; return the (maybe grown) buffer."""
    marks = _begin_file(state)
    keep = 0
    try:
        with open(f.path, "rb") as fh:
            while True:
                if buf.size - keep < CHUNK:
                    bigger = np.empty((keep + 2 * CHUNK + 7) // 8 * 8, np.uint8)
                    bigger[:keep] = buf[:keep]
                    buf = bigger
                got = fh.readinto(memoryview(buf)[keep : keep + CHUNK])  # type: ignore[arg-type]
                n = keep + (got or 0)
                final = not got
                p = _feed(state, buf, 0, n, final, f.index)
                keep = n - p
                if keep:
                    buf[:keep] = buf[p:n].copy()
                if final:
                    break
    except OSError as exc:
        f.warnings.append(f"{f.source.name}: reading stopped: {exc}; figures up to there are kept")
    _end_file(state, f, marks)
    return buf


def _begin_file(state: _State) -> tuple[int, int, int]:
    cnt = state.cnt
    cnt[k.K_LINENO] = 0
    cnt[k.K_MALFORMED] = 0
    cnt[k.K_SINCE_SWEEP] = 0
    return int(cnt[k.K_NWARN]), int(cnt[k.K_LINES]), int(cnt[k.K_QOVER])


def _end_file(state: _State, f: _File, marks: tuple[int, int, int]) -> None:
    """After a file: a sweep of idle sessions, the file's lines and warnings."""
    cnt = state.cnt
    warn_from, lines_from, qover_from = marks
    state.sweep(k.SWEEP_IDLE)
    if not f.normalised:
        f.lines = int(cnt[k.K_LINES]) - lines_from
        f.bytes_read = f.size
    name = f.source.name
    for kind, line, value in state.warn[warn_from : int(cnt[k.K_NWARN])].tolist():
        if kind == k.W_MALFORMED:
            f.warnings.append(
                f"{name}, line {line}: {value} fields where {len(DEFAULT_FIELDS)} were expected;"
                " the line was skipped"
            )
        elif kind == k.W_UNCLOSED:
            f.warnings.append(
                f"{name}, line {line}: quoted field never closed within {MAX_RECORD_LINES} lines;"
                " the record was skipped"
            )
        else:
            f.warnings.append(
                f"{name}, line {line}: quoted field never closed at end of file;"
                " the record was skipped"
            )
    malformed = int(cnt[k.K_MALFORMED])
    if malformed > MAX_MALFORMED_LISTED:
        f.warnings.append(f"{name}: {malformed} malformed lines skipped in all")
    over = int(cnt[k.K_QOVER]) - qover_from
    if over:
        f.warnings.append(
            f"{name}: {over} commands found {k.QCAP} commands of their session already waiting"
            " for replies; they were not paired with a reply"
        )


# --------------------------------------------------------------------------- the whole scan


def scan_logs(
    paths: Sequence[str | Path],
    accepted_domains: Iterable[str] = (),
    *,
    progress: Progress | None = None,
    workers: int | None = None,
) -> Evidence:
    """Scan protocol logs (files, folders, .gz, .zip) and return the relay evidence.

    ``workers`` threads (default: one per CPU) each take the files of some
    servers. Raises :class:`LogScanError` when no SMTP Receive protocol log
    could be read.
    """
    sources, skipped = discover(paths)
    return scan_sources(
        sources, accepted_domains, skipped=skipped, progress=progress, workers=workers
    )


def scan_sources(
    sources: Sequence[Source],
    accepted_domains: Iterable[str] = (),
    *,
    skipped: Iterable[SkippedFile] = (),
    progress: Progress | None = None,
    workers: int | None = None,
) -> Evidence:
    """:func:`scan_logs` of sources already found; ``skipped`` are listed in the evidence as such."""
    accepted = tuple(sorted({d.strip().lower() for d in accepted_domains if d.strip()}))
    threads = workers if workers else (os.cpu_count() or 1)
    tmp = Path(tempfile.mkdtemp(prefix="migrator-logscan-"))
    try:
        return _scan(list(sources), list(skipped), accepted, progress, max(1, threads), tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_HEAD = 1 << 13
"""Bytes read from each file to find its server: the header block and a first line."""


def _first_server(source: Source) -> str:
    """The server named by the first data line's connector id (how files are shared out).

    Reads 8 KiB, and up to 64 KiB when the first data line is not in them yet.
    """
    try:
        stream = open_stream(source)
        with stream:
            head = stream.read(_HEAD)
            found = _server_in(head)
            if found is None and len(head) == _HEAD:
                found = _server_in(head + stream.read((1 << 16) - _HEAD))
    except (*READ_ERRORS, KeyError):
        return ""
    return found or ""


def _server_in(head: bytes) -> str | None:
    """The server of the first data line among the complete lines of ``head``, if any."""
    con = 1
    for raw in head.split(b"\n")[:-1]:
        if raw.startswith(b"#"):
            key, _, value = raw[1:].decode("utf-8", "replace").partition(":")
            if key.strip().lower() == "fields":
                names = [n.strip().lower() for n in value.split(",")]
                con = names.index("connector-id") if "connector-id" in names else 1
            continue
        fields = raw.split(b",")
        if len(fields) > con:
            return server_of(fields[con].decode("utf-8", "replace").strip('"'))
    return None


def _share(files: list[_File], threads: int) -> list[list[_File]]:
    """Files grouped by server, the groups dealt to threads by size (biggest first).

    Sessions never cross servers, so each thread rebuilds its sessions alone;
    within a thread files stay in natural name order, so a session cut by a
    roll-over is joined.
    """
    groups: dict[str, list[_File]] = {}
    for f in files:
        groups.setdefault(_first_server(f.source), []).append(f)
    shares: list[list[_File]] = [[] for _ in range(min(threads, len(groups)) or 1)]
    sizes = [0] * len(shares)
    for group in sorted(groups.values(), key=lambda g: (-sum(f.size for f in g), g[0].index)):
        i = sizes.index(min(sizes))
        shares[i].extend(group)
        sizes[i] += sum(f.size for f in group)
    for share in shares:
        share.sort(key=lambda f: f.index)
    return [s for s in shares if s]


def _scan(
    sources: list[Source],
    skipped: list[SkippedFile],
    accepted: tuple[str, ...],
    progress: Progress | None,
    threads: int,
    tmp: Path,
) -> Evidence:
    files = [_File(s, index=i, size=source_size(s)) for i, s in enumerate(sources)]
    total = sum(f.size for f in files)
    done = [0]
    lock = threading.Lock()

    def run(share: list[_File]) -> _Figures:
        state = _State()
        buf = np.empty(2 * CHUNK, np.uint8)
        data = bytearray(CHUNK)
        for f in share:
            plain = not f.source.member and not f.source.path.lower().endswith(".gz")
            loaded = load_whole(f.source.path, data) if plain else None
            if loaded is not None:
                data, n = loaded
                if probe(data, n, f.versions):
                    f.kind, f.path = "receive", f.source.path
                    _read_whole(state, f, data, n)
            if not f.kind and f.normalised_from(tmp / f"{f.index}.csv"):
                buf = _read_file(state, f, buf)
            if f.normalised and os.path.exists(f.path):
                os.remove(f.path)
            with lock:
                done[0] += f.size
                if progress is not None:
                    progress(done[0], total, f.source.name)
        state.sweep(k.SWEEP_ALL)
        # Collected here, so one thread's Python work overlaps the other's kernel work.
        return _collect(state, {f.index: f for f in share if f.kind == "receive"})

    shares = _share(files, threads)
    if len(shares) <= 1:
        parts = [run(shares[0] if shares else [])]
    else:
        with ThreadPoolExecutor(max_workers=len(shares)) as pool:
            parts = list(pool.map(run, shares))
    warnings = [w for f in files for w in f.warnings]
    for f in files:
        if f.kind != "receive":
            skipped.append(SkippedFile(f.source.name, f.reason))
    readable = [f for f in files if f.kind == "receive"]
    if not readable:
        named = "; ".join(f"{s.path}: {s.reason}" for s in skipped) or "no files found"
        raise LogScanError(f"no SMTP Receive protocol log could be read ({named})")
    figures = parts[0]
    for part in parts[1:]:
        figures.add(part)
    read = [
        FileRecord(f.source.name, f.lines, f.bytes_read, tuple(sorted(f.versions)))
        for f in readable
    ]
    lines = sum(f.lines for f in readable)
    return build_evidence(
        figures.tallies,
        figures.counts,
        figures.days,
        figures.versions,
        accepted,
        read,
        skipped,
        lines,
        warnings,
    )


@dataclass
class _Figures:
    """What :func:`build_evidence` takes, gathered from one or more kernel states."""

    tallies: dict[tuple[str, str], ClientTally] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    days: dict[str, set[str]] = field(default_factory=dict)
    versions: dict[str, set[str]] = field(default_factory=dict)

    def tally(self, key: tuple[str, str], t: ClientTally) -> ClientTally:
        """Add a client's figures; the tally now holding them."""
        known = self.tallies.get(key)
        if known is None:
            self.tallies[key] = t
            return t
        known.merge(t)  # two byte strings that read as the same text, or two threads
        return known

    def add(self, other: _Figures) -> None:
        for key, t in other.tallies.items():
            self.tally(key, t)
        for connector, n in other.counts.items():
            self.counts[connector] = self.counts.get(connector, 0) + n
        for mine, theirs in ((self.days, other.days), (self.versions, other.versions)):
            for server, values in theirs.items():
                mine.setdefault(server, set()).update(values)


def _collect(state: _State, by_index: dict[int, _File]) -> _Figures:
    """One kernel state's tables as per client tallies, clients per connector, days and versions."""
    figures = _Figures()
    counts, days, versions = figures.counts, figures.days, figures.versions
    names: dict[int, str] = {}

    def text(i: int) -> str:
        got = names.get(i)
        if got is None:
            got = names[i] = state.text(i)
        return got

    ncli = int(state.cnt[k.K_NCLI])
    cnum = state.cnum[:ncli].tolist()
    cts = state.cts[:ncli]
    by_id: list[ClientTally] = []
    for c, row in enumerate(cnum):
        connector = text(row[k.C_CON])
        address = OTHER if row[k.C_ADDR] == k.S_OTHER else state.text(row[k.C_ADDR], "ascii")
        t = ClientTally(
            sessions=row[k.C_SESSIONS],
            incomplete_sessions=row[k.C_INCOMPLETE],
            messages=row[k.C_MESSAGES],
            first_seen=bytes(cts[c, : row[k.C_FIRSTLEN]]).decode("ascii", "replace"),
            last_seen=bytes(cts[c, k.TSW : k.TSW + row[k.C_LASTLEN]]).decode("ascii", "replace"),
            refused_571=row[k.C_R571],
            refused_5754=row[k.C_R5754],
            authenticated_sessions=row[k.C_AUTH],
            tls_sessions=row[k.C_TLS],
            truncated=bool(row[k.C_TRUNC]),
        )
        by_id.append(figures.tally((connector, address), t))
    for con_id in sorted({row[k.C_CON] for row in cnum}):
        connector = text(con_id)
        counts[connector] = counts.get(connector, 0) + int(state.con_clients[con_id])
    # The kernel kept each client within its caps, so merging names that read the same
    # only shrinks the dicts: plain sums, no cap checks.
    ntal = int(state.cnt[k.K_NTAL])
    keys = state.tkey[:ntal]
    kinds = (keys >> 32) & 3
    tnum = state.tnum[:ntal]
    for kind, attr in ((k.T_EHLO, "ehlo"), (k.T_MAIL, "mail_from")):
        sel = kinds == kind
        lower = kind == k.T_MAIL
        for key, n in zip(keys[sel].tolist(), tnum[sel, k.T_ACC].tolist(), strict=True):
            name = text(key & 0xFFFFFFFF)
            if lower:
                name = name.lower()
            d: dict[str, int] = getattr(by_id[key >> 34], attr)
            d[name] = d.get(name, 0) + n
    sel = kinds == k.T_RCPT
    for key, acc, acc_auth, ref, relay in zip(
        keys[sel].tolist(),
        tnum[sel, k.T_ACC].tolist(),
        tnum[sel, k.T_ACC_AUTH].tolist(),
        tnum[sel, k.T_REF].tolist(),
        tnum[sel, k.T_RELAY].tolist(),
        strict=True,
    ):
        dom = text(key & 0xFFFFFFFF).lower()
        rcpt = by_id[key >> 34].rcpt
        dt = rcpt.get(dom)
        if dt is None:
            dt = rcpt[dom] = DomainTally()
        dt.accepted += acc
        dt.accepted_authenticated += acc_auth
        dt.refused += ref
        dt.relay_refused += relay
    for key in state.pkey[: int(state.cnt[k.K_NPAIR])].tolist():
        kind = key >> 62
        server = server_of(text((key >> 31) & 0x7FFFFFFF))
        value = key & 0x7FFFFFFF
        if kind == k.P_DAY:
            days.setdefault(server, set()).add(state.text(value, "ascii"))
        else:
            versions.setdefault(server, set()).update(by_index[value].versions)
    return figures


def _load_kernel() -> None:
    """Load the compiled kernel now (from numba's cache, or compile it once), as importing
    a native library would: the first scan then starts at full speed."""
    state = _State()
    buf = np.zeros(64, np.uint8)
    _feed(state, buf, 0, 0, True, 0)
    state.sweep(k.SWEEP_ALL)


_load_kernel()
