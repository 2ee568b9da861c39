"""The compiled SMTP session engine: one pass over the bytes, sessions rebuilt as they go.

The session rules, per (connector id, session id): a reply answers the oldest
command still waiting (first in, first out; 334 and 354 replies and the inner
lines of multi-line replies answer nothing); a RCPT's outcome counts for its
domain, with the authenticated state at the time of its reply; a DATA or BDAT
LAST answered by 2xx is a message; STARTTLS (220), X-ANONYMOUSTLS and TLS
``*`` events mark TLS, AUTH (235) and ``authenticated`` events mark
authentication; ``-`` ends a session; a session without an event for more than
an hour is over, and the next event of its session id opens a new session
(the idle rule). docs/logs.md states them in full; tests/smtp_reference.py is
a small Python reading of the same rules the tests compare this engine with.

Compiled with numba (``cache=True``: the machine code is kept beside this file,
or in ``NUMBA_CACHE_DIR``, so only the first scan on a machine pays for
compiling). :mod:`migrator.logs.smtp` drives it.

Everything lives in preallocated NumPy arrays (the :class:`State` fields), so
the kernel never allocates: when a table is nearly full it stops at the start
of a record and asks the driver to grow that table (:data:`GROW`), then carries
on. Tables:

- strings: every connector id, client address, EHLO name and domain, interned
  once (``sbuf`` bytes, ``soff`` offsets, ``sidx`` open-addressing index);
- clients: one row per (connector, client address) with its figures;
- tallies: one row per (client, kind, name) for recipient domains, EHLO names
  and MAIL FROM domains;
- sessions: one slot per open session, keyed by (connector, session id), with
  the commands still waiting for their reply (a ring of :data:`QCAP`);
- pairs: the (connector, day) and (connector, file) sets behind the days per
  server and the versions per server.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from migrator.jit import jit, jit_as
from migrator.logs.figures import MAX_CLIENTS_PER_CONNECTOR as MAX_CLIENTS
from migrator.logs.figures import MAX_DOMAINS, MAX_NAMES
from migrator.logs.smtp_files import MAX_MALFORMED_LISTED, MAX_RECORD_LINES

_jit = jit


# ------------------------------------------------------------------ constants

QCAP = 64
"""Commands one session may have waiting for replies; more are counted in ``K_QOVER``."""
TSW = 40
"""Bytes kept of a timestamp."""
MAX_FIELDS = 16
SWEEP_EVERY = 65_536
"""Lines between two sweeps of idle sessions (memory only: the idle rule is applied per event)."""
IDLE_MS = 3_600_000
"""A gap longer than this between two events of a session ends it (the idle rule)."""
FOLD_TALLIES = 4 * MAX_NAMES + 4
"""Tally rows one record may add: a reply's domain, or the names of two folded sessions
(one closed by the idle rule, the new one ended by the same record)."""

OK = 0
"""Status: every complete record of the buffer was read; the rest waits for more bytes."""
GROW = 1
"""Status: a table is nearly full; grow the one named in ``cnt[K_GROW]`` and call again."""
SWEEP = 2
"""Status: 65,536 lines since the last sweep of idle sessions; sweep, then call again."""

# Counters (cnt)
K_NSTR, K_SBUF, K_NCLI, K_NTAL, K_NPAIR, K_LIVE, K_LINES = range(7)
K_LINENO, K_MALFORMED, K_NWARN, K_SINCE_SWEEP, K_QOVER, K_GROW, K_NFREE = range(7, 14)
K_SIZE = 16
# What to grow (cnt[K_GROW])
G_STR, G_SBUF, G_CLI, G_TAL, G_SESS, G_PAIR, G_WARN = range(1, 8)
# Client columns (cnum)
C_CON, C_ADDR, C_SESSIONS, C_INCOMPLETE, C_MESSAGES, C_R571, C_R5754 = range(7)
C_AUTH, C_TLS, C_TRUNC, C_NEHLO, C_NMAIL, C_NRCPT, C_FIRSTLEN, C_LASTLEN = range(7, 15)
C_SIZE = 15
# Session columns (xnum)
X_CLIENT, X_STARTED, X_AUTH, X_TLS, X_QHEAD, X_QLEN = range(6)
X_FILE, X_CON, X_SKEY, X_SID, X_FIRSTLEN, X_LASTLEN, X_ENDED, X_SERVER = range(6, 14)
X_NEHLO, X_NMAIL, X_LASTMS = 14, 15, 16
X_SIZE = 17
# Tally kinds and columns (tnum)
T_RCPT, T_EHLO, T_MAIL = 0, 1, 2
T_ACC, T_ACC_AUTH, T_REF, T_RELAY = range(4)
T_SIZE = 4
# Pair kinds
P_DAY, P_FILE = 0, 1
# Warning kinds (warn rows: kind, line, value)
W_MALFORMED, W_UNCLOSED, W_UNCLOSED_EOF = 1, 2, 3
# Waiting commands
V_OTHER, V_RCPT, V_DATA, V_BDATL, V_STARTTLS, V_AUTH = range(6)
# Reserved strings, interned first by the driver in this order.
S_OTHER, S_NONE, S_NULL_SENDER = 0, 1, 2
RESERVED = ("(other)", "(none)", "(null sender)")


def _lit(text: str) -> np.ndarray[Any, np.dtype[np.uint8]]:
    return np.frombuffer(text.encode(), dtype=np.uint8).copy()


_AUTHENTICATED = _lit("authenticated")
_NEGOTIATED = _lit("negotiation succeeded")
_R5754 = _lit("5.7.54")
_R571 = _lit("5.7.1")
_RELAY = _lit("relay")
_LAST = _lit("last")


# ------------------------------------------------------------------ byte helpers


@_jit
def _hash(buf, a, b):
    h = np.int64(-3750763034362895579)  # FNV-1a offset basis
    for i in range(a, b):
        h = (h ^ np.int64(buf[i])) * np.int64(1099511628211)
    return h


@_jit
def _mix(x, y):
    h = (x * np.int64(-7046029254386353131)) ^ (y + np.int64(0x632BE59BD9B4E019))
    h = (h ^ (h >> np.int64(29))) * np.int64(-4658895280553007687)
    return h ^ (h >> np.int64(32))


@_jit
def _lower(c):
    return c + 32 if 65 <= c <= 90 else c


@_jit
def _find(buf, a, b, lit):
    """Whether ``lit`` occurs in buf[a:b]."""
    m = lit.size
    first = lit[0]
    for i in range(a, b - m + 1):
        if buf[i] == first:
            j = 1
            while j < m and buf[i + j] == lit[j]:
                j += 1
            if j == m:
                return True
    return False


@_jit
def _find_folded(buf, a, b, lit):
    """Whether ``lit`` (lower case) occurs in buf[a:b], ASCII case ignored."""
    m = lit.size
    for i in range(a, b - m + 1):
        j = 0
        while j < m and _lower(buf[i + j]) == lit[j]:
            j += 1
        if j == m:
            return True
    return False


@_jit
def _equals(buf, a, b, lit):
    if b - a != lit.size:
        return False
    for i in range(lit.size):
        if buf[a + i] != lit[i]:
            return False
    return True


@_jit
def _equals_folded(buf, a, b, lit):
    if b - a != lit.size:
        return False
    for i in range(lit.size):
        if _lower(buf[a + i]) != lit[i]:
            return False
    return True


@_jit
def _is_space(c):
    # bytes.strip(): space, \t, \n, \v, \f, \r
    return c == 32 or 9 <= c <= 13


@jit_as("int64(uint8[::1], int64, int64)")
def _digits(buf, a, n):
    """The decimal number in buf[a:a+n], or -1."""
    x = np.int64(0)
    for i in range(a, a + n):
        c = buf[i]
        if c < 48 or c > 57:
            return np.int64(-1)
        x = x * 10 + (c - 48)
    return x


@_jit
def _millis(buf, a, b):
    """``YYYY-MM-DDTHH:MM:SS[.fff...]`` as milliseconds since 1970, or -1."""
    if b - a < 19:
        return np.int64(-1)
    y = _digits(buf, a, 4)
    m = _digits(buf, a + 5, 2)
    d = _digits(buf, a + 8, 2)
    hh = _digits(buf, a + 11, 2)
    mm = _digits(buf, a + 14, 2)
    ss = _digits(buf, a + 17, 2)
    if y < 0 or m < 0 or d < 0 or hh < 0 or mm < 0 or ss < 0:
        return np.int64(-1)
    ms = np.int64(0)
    if b - a >= 23 and buf[a + 19] == 46:
        ms = _digits(buf, a + 20, 3)
        if ms < 0:
            ms = np.int64(0)
    # days from civil (Howard Hinnant's algorithm)
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return ((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + ms


@jit_as("boolean(uint8[::1], int64, int64, uint8[::1], int64, int64)")
def _ts_less(x, xo, xl, y, yo, yl):
    """Whether timestamp bytes x[xo:xo+xl] sort before y[yo:yo+yl] (as Python compares strings)."""
    n = min(xl, yl)
    for i in range(n):
        if x[xo + i] != y[yo + i]:
            return x[xo + i] < y[yo + i]
    return xl < yl


# ------------------------------------------------------------------ strings


@jit_as(
    "int64(uint8[::1], int64, int64, int64, uint8[::1], int64[::1], int64[::1], int64[::1], int64[::1], boolean)"
)
def _intern(buf, a, b, how, sbuf, soff, shash, sidx, cnt, insert):
    """Id of the string buf[a:b] (``how`` 1: ASCII lower case); -1 when absent and not ``insert``.

    The driver guarantees room for the bytes and one more string.
    """
    h = np.int64(-3750763034362895579)
    for i in range(a, b):
        c = buf[i]
        if how == 1:
            c = _lower(c)
        h = (h ^ np.int64(c)) * np.int64(1099511628211)
    mask = sidx.size - 1
    s = h & mask
    while True:
        e = sidx[s]
        if e < 0:
            break
        if shash[e] == h and soff[e + 1] - soff[e] == b - a:
            o = soff[e]
            same = True
            for i in range(b - a):
                c = buf[a + i]
                if how == 1:
                    c = _lower(c)
                if sbuf[o + i] != c:
                    same = False
                    break
            if same:
                return e
        s = (s + 1) & mask
    if not insert:
        return np.int64(-1)
    e = cnt[K_NSTR]
    o = cnt[K_SBUF]
    for i in range(b - a):
        c = buf[a + i]
        if how == 1:
            c = _lower(c)
        sbuf[o + i] = c
    soff[e] = o
    soff[e + 1] = o + b - a
    shash[e] = h
    sidx[s] = e
    cnt[K_NSTR] = e + 1
    cnt[K_SBUF] = o + b - a
    return e


@_jit
def intern_text(text, sbuf, soff, shash, sidx, cnt):
    """Intern a whole byte array (the driver's reserved names)."""
    return _intern(text, 0, text.size, 0, sbuf, soff, shash, sidx, cnt, True)


@_jit
def reindex_strings(shash, n, sidx):
    sidx[:] = -1
    mask = sidx.size - 1
    for e in range(n):
        s = shash[e] & mask
        while sidx[s] >= 0:
            s = (s + 1) & mask
        sidx[s] = e


# ------------------------------------------------------------------ int64-keyed tables


@_jit
def _lookup(idx, keys, key, h):
    """(entry, index position): entry -1 when absent, position where it would go."""
    mask = idx.size - 1
    s = h & mask
    while True:
        e = idx[s]
        if e < 0:
            return np.int64(-1), s
        if keys[e] == key:
            return e, s
        s = (s + 1) & mask


@_jit
def reindex_keys(keys, n, idx):
    idx[:] = -1
    mask = idx.size - 1
    for e in range(n):
        s = _mix(keys[e], np.int64(0)) & mask
        while idx[s] >= 0:
            s = (s + 1) & mask
        idx[s] = e


@jit_as("void(int64, int64, int64, int64[::1], int64[::1], int64[::1])")
def _pair(kind, con, value, pkey, pidx, cnt):
    key = (np.int64(kind) << np.int64(62)) | (np.int64(con) << np.int64(31)) | np.int64(value)
    e, s = _lookup(pidx, pkey, key, _mix(key, np.int64(0)))
    if e < 0:
        e = cnt[K_NPAIR]
        pkey[e] = key
        pidx[s] = e
        cnt[K_NPAIR] = e + 1


# ------------------------------------------------------------------ sessions


@_jit
def _session_hash(flag, sid):
    return _mix(flag, sid)


@_jit
def _session_find(xidx, xnum, flag, sid, buf, ca, cb, sbuf, soff):
    """(slot, index position) of the session (sid, connector buf[ca:cb]); slot -1 when absent."""
    mask = xidx.size - 1
    s = _session_hash(flag, sid) & mask
    while True:
        e = xidx[np.uint64(s)]
        if e < 0:
            return np.int64(-1), s
        row = np.uint64(e)
        if xnum[row, X_SID] == sid and xnum[row, X_SKEY] == flag:
            con = np.uint64(xnum[row, X_CON])
            o = soff[con]
            if soff[con + np.uint64(1)] - o == cb - ca:
                same = True
                for i in range(cb - ca):
                    if sbuf[np.uint64(o + i)] != buf[np.uint64(ca + i)]:
                        same = False
                        break
                if same:
                    return e, s
        s = (s + 1) & mask


@_jit
def _session_delete(xidx, xnum, slot):
    """Remove a slot from the index (linear probing, backward-shift deletion)."""
    mask = xidx.size - 1
    i = _session_hash(xnum[slot, X_SKEY], xnum[slot, X_SID]) & mask
    while xidx[i] != slot:
        if xidx[i] < 0:
            return
        i = (i + 1) & mask
    j = i
    while True:
        j = (j + 1) & mask
        f = xidx[j]
        if f < 0:
            break
        home = _session_hash(xnum[f, X_SKEY], xnum[f, X_SID]) & mask
        # Move f back to i when its home is not cyclically within (i, j].
        if (j > i and (home <= i or home > j)) or (j < i and (home <= i and home > j)):
            xidx[i] = f
            i = j
    xidx[i] = -1


@_jit
def reindex_sessions(xnum, live, xidx):
    xidx[:] = -1
    mask = xidx.size - 1
    for e in range(live.size):
        if live[e]:
            s = _session_hash(xnum[e, X_SKEY], xnum[e, X_SID]) & mask
            while xidx[s] >= 0:
                s = (s + 1) & mask
            xidx[s] = e


# ------------------------------------------------------------------ folding a session


@_jit
def _fold(slot, tables):
    """A session ended (or went idle, or the logs ended): add it to its client, free its slot."""
    xnum, xts, xidx, xfree, xlive, cnum, cts, sbuf, soff, shash, sidx, pkey, pidx, cnt, xnames, tkey, tidx, tnum = tables  # fmt: skip
    c = xnum[slot, X_CLIENT]
    con = xnum[slot, X_CON]
    if not (xnum[slot, X_STARTED] and xnum[slot, X_ENDED]):
        cnum[c, C_INCOMPLETE] += 1
    cnum[c, C_AUTH] += xnum[slot, X_AUTH]
    cnum[c, C_TLS] += xnum[slot, X_TLS]
    # The session's EHLO names and MAIL FROM domains reach the client now, once per
    # session (which decides the names kept once a client passes its cap).
    for i in range(xnum[slot, X_NEHLO]):
        t = _tally(c, T_EHLO, xnames[slot, i], 0, cnum, tkey, tnum, tidx, cnt)
        tnum[t, T_ACC] += 1
    for i in range(xnum[slot, X_NMAIL]):
        t = _tally(c, T_MAIL, xnames[slot, MAX_NAMES + i], 0, cnum, tkey, tnum, tidx, cnt)
        tnum[t, T_ACC] += 1
    fl = xnum[slot, X_FIRSTLEN]
    ll = xnum[slot, X_LASTLEN]
    if cnum[c, C_FIRSTLEN] == 0 or _ts_less(xts[slot], 0, fl, cts[c], 0, cnum[c, C_FIRSTLEN]):
        for i in range(fl):
            cts[c, i] = xts[slot, i]
        cnum[c, C_FIRSTLEN] = fl
    if _ts_less(cts[c], TSW, cnum[c, C_LASTLEN], xts[slot], TSW, ll):
        for i in range(TSW, TSW + ll):
            cts[c, i] = xts[slot, i]
        cnum[c, C_LASTLEN] = ll
    # Days: the first ten characters of the first and last timestamps, as strings.
    d1 = _intern(xts[slot], 0, min(fl, 10), 0, sbuf, soff, shash, sidx, cnt, True)
    _pair(P_DAY, con, d1, pkey, pidx, cnt)
    d2 = _intern(xts[slot], TSW, TSW + min(ll, 10), 0, sbuf, soff, shash, sidx, cnt, True)
    _pair(P_DAY, con, d2, pkey, pidx, cnt)
    _session_delete(xidx, xnum, slot)
    xlive[slot] = False
    xfree[cnt[K_NFREE]] = slot
    cnt[K_NFREE] += 1
    cnt[K_LIVE] -= 1


SWEEP_IDLE, SWEEP_ALL = 0, 1


@_jit
def sweep(
    mode,
    srv_latest,
    xnum,
    xts,
    xidx,
    xfree,
    xlive,
    cnum,
    cts,
    sbuf,
    soff,
    shash,
    sidx,
    pkey,
    pidx,
    cnt,
    xnames,
    tkey,
    tidx,
    tnum,
):
    """Fold the sessions whose idle hour has passed, to keep memory bounded.

    - ``SWEEP_IDLE`` (every 65,536 lines and after each file): every open
      session whose last event is more than an hour before the latest event of
      its server. Any later event of such a session would open a new session
      anyway (the idle rule, applied per event by :func:`scan`), so folding it
      now changes no figure as long as each server's events are read in time
      order (its files in name order);
    - ``SWEEP_ALL``: every open session (the end of the logs).

    Needs room for two strings and three pairs per open session (the driver checks).
    """
    tables = (xnum, xts, xidx, xfree, xlive, cnum, cts, sbuf, soff, shash, sidx, pkey, pidx, cnt, xnames, tkey, tidx, tnum)  # fmt: skip
    for slot in range(xlive.size):
        if not xlive[slot]:
            continue
        if mode == SWEEP_IDLE:
            last = xnum[slot, X_LASTMS]
            if last < 0 or srv_latest[xnum[slot, X_SERVER]] - last <= IDLE_MS:
                continue
        _fold(slot, tables)


# ------------------------------------------------------------------ names and domains


@_jit
def _domain(buf, a, b):
    """Bounds of ``@([^>\\s]+)`` in buf[a:b] without trailing dots, or (-1, -1)."""
    for i in range(a, b):
        if buf[i] == 64:
            j = i + 1
            while j < b and buf[j] != 62 and not _is_space(buf[j]):
                j += 1
            if j > i + 1:
                while j > i + 1 and buf[j - 1] == 46:
                    j -= 1
                return i + 1, j
    return np.int64(-1), np.int64(-1)


@jit_as("void(int64[:, ::1], int64[:, ::1], int64, int64, int64, int64)")
def _session_name(xnames, xnum, slot, col, base, name):
    """Remember a name for the session: its first MAX_NAMES distinct ones.

    ``(other)`` stands for a name the client's cap kept from being interned: such
    names are all kept (each counts once under ``(other)`` when the session folds).
    """
    n = xnum[slot, col]
    if n >= MAX_NAMES:
        return
    if name != S_OTHER:
        for i in range(n):
            if xnames[slot, base + i] == name:
                return
    xnames[slot, base + n] = name
    xnum[slot, col] = n + 1


@jit_as(
    "int64(int64, int64, int64, int64, int64[:, ::1], int64[::1], int64[:, ::1], int64[::1], int64[::1])"
)
def _tally(c, kind, name, serial, cnum, tkey, tnum, tidx, cnt):
    """Row of (client, kind, name), created unless the client's cap is reached (then ``(other)``)."""
    key = (np.int64(c) << np.int64(34)) | (np.int64(kind) << np.int64(32)) | np.int64(name)
    e, s = _lookup(tidx, tkey, key, _mix(key, np.int64(0)))
    if e >= 0:
        return e
    col = C_NRCPT if kind == T_RCPT else (C_NEHLO if kind == T_EHLO else C_NMAIL)
    cap = MAX_DOMAINS if kind == T_RCPT else MAX_NAMES
    if cnum[c, col] >= cap or name == S_OTHER:
        cnum[c, C_TRUNC] = 1
        key = (np.int64(c) << np.int64(34)) | (np.int64(kind) << np.int64(32)) | np.int64(S_OTHER)
        e, s = _lookup(tidx, tkey, key, _mix(key, np.int64(0)))
        if e >= 0:
            return e
    else:
        cnum[c, col] += 1
    e = cnt[K_NTAL]
    tkey[e] = key
    tnum[e, :] = 0
    tidx[s] = e
    cnt[K_NTAL] = e + 1
    return e


@jit_as(
    "int64(uint8[::1], int64, int64, int64, int64, int64, uint8[::1], int64[::1], int64[::1], int64[::1], int64[::1], int64[:, ::1])"
)
def _name(buf, a, b, how, c, kind, sbuf, soff, shash, sidx, cnt, cnum):
    """String id of a name for client c; past the client's cap only known names, else (other)."""
    col = C_NRCPT if kind == T_RCPT else (C_NEHLO if kind == T_EHLO else C_NMAIL)
    cap = MAX_DOMAINS if kind == T_RCPT else MAX_NAMES
    e = _intern(buf, a, b, how, sbuf, soff, shash, sidx, cnt, cnum[c, col] < cap)
    return S_OTHER if e < 0 else e


# ------------------------------------------------------------------ the scan

_ONES = np.uint64(0x0101010101010101)
_HIGHS = np.uint64(0x8080808080808080)
_COMMAS = np.uint64(0x2C2C2C2C2C2C2C2C)
_NEWLINES = np.uint64(0x0A0A0A0A0A0A0A0A)
_ZERO = np.uint64(0)


_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_QUOTES = np.uint64(0x2222222222222222)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
_SHIFT58 = np.uint64(58)


def _byte_of_bit() -> np.ndarray[Any, np.dtype[np.int64]]:
    """De Bruijn table: (isolated bit * _DEBRUIJN) >> 58 -> index of the byte holding the bit."""
    table = np.zeros(64, np.int64)
    for bit in range(64):
        table[((1 << bit) * 0x03F79D71B4CB0A89 % (1 << 64)) >> 58] = bit >> 3
    return table


_BYTE_OF_BIT = _byte_of_bit()


@_jit
def _zero_bytes(x):
    """0x80 in each byte of x that is zero, 0 elsewhere (exact: no borrow between bytes)."""
    y = (x & _LOW7) + _LOW7
    return ~(y | x | _LOW7)


@_jit
def _split_words(buf, buf64, p, n, fs, fe):
    """Split the record at p into fields eight bytes at a time: (fields, position of its line feed).

    For records without a quote only: (0, 0) when a quote shows up in the words
    the record spans, or the record runs past the last whole word before n; the
    byte-wise tokenizer then takes the record.
    """
    nf = 0
    start = p
    i = p >> 3
    off = p & 7
    while (i + 1) * 8 <= n:
        # Unsigned indices: numba adds no negative-index wraparound for them.
        w = buf64[np.uint64(i)]
        quotes = _zero_bytes(w ^ _QUOTES)
        newlines = _zero_bytes(w ^ _NEWLINES)
        delims = _zero_bytes(w ^ _COMMAS) | newlines
        if off:
            keep = _ALL << np.uint64(8 * off)
            quotes &= keep
            delims &= keep
            off = 0
        if quotes != _ZERO:
            return 0, 0
        while delims != _ZERO:
            low = delims & (~delims + np.uint64(1))
            pos = i * 8 + _BYTE_OF_BIT[(low * _DEBRUIJN) >> _SHIFT58]
            if nf < MAX_FIELDS:
                fs[np.uint64(nf)] = start
                fe[np.uint64(nf)] = pos
            nf += 1
            if low & newlines:
                return nf, pos
            start = pos + 1
            delims &= delims - np.uint64(1)
        i += 1
    return 0, 0


@_jit
def _field_end(buf, buf64, q, n):
    """Position of the first comma or line feed at or after q (n when none).

    Eight bytes at a time where aligned: a word holds neither byte when
    ``(x - 0x01..) & ~x & 0x80..`` is zero for x = word XOR the byte repeated.
    """
    while q < n:
        if q & 7 == 0 and q + 8 <= n:
            w = buf64[q >> 3]
            x = w ^ _COMMAS
            y = w ^ _NEWLINES
            if ((x - _ONES) & ~x & _HIGHS) | ((y - _ONES) & ~y & _HIGHS) == _ZERO:
                q += 8
                continue
        c = buf[q]
        if c == 44 or c == 10:
            return q
        q += 1
    return q


@_jit
def _unescape(buf, a, b):
    """Unescape a quoted field in place (``""`` -> ``"``, a lone ``"`` dropped); new end."""
    w = a
    i = a
    while i < b:
        c = buf[i]
        if c == 34:
            if i + 1 < b and buf[i + 1] == 34:
                buf[w] = 34
                w += 1
                i += 2
                continue
            i += 1
            continue
        buf[w] = c
        w += 1
        i += 1
    return w


@_jit
def scan(
    buf,
    buf64,
    p,
    n,
    final,
    fileidx,
    cnt,
    warn,
    srv_latest,
    con_clients,
    sbuf,
    soff,
    shash,
    sidx,
    ckey,
    cidx,
    cnum,
    cts,
    tkey,
    tidx,
    tnum,
    xidx,
    xnum,
    xts,
    xq,
    xfree,
    xlive,
    pkey,
    pidx,
    xnames,
):
    """Read the records of buf[p:n]; return (status, position of the first record not read)."""
    fs = np.empty(MAX_FIELDS, np.int64)
    fe = np.empty(MAX_FIELDS, np.int64)
    fq = np.empty(MAX_FIELDS, np.int64)
    # What folding a session updates.
    tables = (xnum, xts, xidx, xfree, xlive, cnum, cts, sbuf, soff, shash, sidx, pkey, pidx, cnt, xnames, tkey, tidx, tnum)  # fmt: skip
    while p < n:
        # ---- room for this record's inserts
        if cnt[K_NSTR] + 16 >= soff.size - 1 or 2 * (cnt[K_NSTR] + 16) >= sidx.size:
            cnt[K_GROW] = G_STR
            return GROW, p
        if cnt[K_NCLI] + 2 >= cnum.shape[0] or 2 * (cnt[K_NCLI] + 2) >= cidx.size:
            cnt[K_GROW] = G_CLI
            return GROW, p
        if (
            cnt[K_NTAL] + FOLD_TALLIES >= tnum.shape[0]
            or 2 * (cnt[K_NTAL] + FOLD_TALLIES) >= tidx.size
        ):
            cnt[K_GROW] = G_TAL
            return GROW, p
        if cnt[K_NFREE] < 1:
            cnt[K_GROW] = G_SESS
            return GROW, p
        if cnt[K_NPAIR] + 8 >= pkey.size or 2 * (cnt[K_NPAIR] + 8) >= pidx.size:
            cnt[K_GROW] = G_PAIR
            return GROW, p
        if cnt[K_NWARN] + 2 >= warn.shape[0]:
            cnt[K_GROW] = G_WARN
            return GROW, p
        if cnt[K_SINCE_SWEEP] >= SWEEP_EVERY:
            # The driver makes room and runs sweep(SWEEP_IDLE, ...), then calls again.
            cnt[K_SINCE_SWEEP] = 0
            return SWEEP, p
        # ---- a header line (only at a record start)
        if buf[p] == 35:
            q = p
            while q < n and buf[q] != 10:
                q += 1
            if q >= n and not final:
                return OK, p
            cnt[K_LINENO] += 1
            p = q + 1
            continue
        # ---- split the record into fields
        rec_start = p
        nf = 0
        q = p
        newlines = 0
        quoted_any = False
        status = 0  # 0 record, 1 need more bytes, 2 never closed
        fast_nf, fast_end = _split_words(buf, buf64, p, n, fs, fe)
        if fast_nf > 0:
            nf = fast_nf
            q = fast_end
            for i in range(min(nf, MAX_FIELDS)):
                fq[i] = 0
        else:
            while True:
                if q < n and buf[q] == 34:
                    quoted_any = True
                    a = q + 1
                    q += 1
                    esc = False
                    while True:
                        if q >= n:
                            status = 1
                            break
                        c = buf[q]
                        if c == 34:
                            if q + 1 >= n and not final:
                                status = 1
                                break
                            if q + 1 < n and buf[q + 1] == 34:
                                esc = True
                                q += 2
                                continue
                            break
                        if c == 10:
                            newlines += 1
                            if newlines >= MAX_RECORD_LINES:
                                status = 2
                                break
                        q += 1
                    if status:
                        break
                    b = q  # the closing quote
                    q += 1
                    # Anything up to the next comma after the closing quote joins the field
                    # (as Python's csv module reads it), except the line's own carriage return.
                    r = q
                    while q < n and buf[q] != 44 and buf[q] != 10:
                        q += 1
                    if q > r and not (q == r + 1 and buf[r] == 13 and (q >= n or buf[q] == 10)):
                        esc = True
                        b = q
                    if q >= n and not final:
                        status = 1
                        break
                    if nf < MAX_FIELDS:
                        fs[nf] = a
                        fe[nf] = b
                        fq[nf] = 2 if esc else 1
                else:
                    a = q
                    q = _field_end(buf, buf64, q, n)
                    if q >= n and not final:
                        status = 1
                        break
                    if nf < MAX_FIELDS:
                        fs[nf] = a
                        fe[nf] = q
                        fq[nf] = 0
                nf += 1
                if q < n and buf[q] == 44:
                    q += 1
                    continue
                break
        if status == 1:
            if final:
                # A quoted field still open at the end of the file.
                warn[cnt[K_NWARN], 0] = W_UNCLOSED_EOF
                warn[cnt[K_NWARN], 1] = cnt[K_LINENO] + 1
                cnt[K_NWARN] += 1
                cnt[K_LINENO] += newlines + 1
                return OK, n
            return OK, p
        if status == 2:
            warn[cnt[K_NWARN], 0] = W_UNCLOSED
            warn[cnt[K_NWARN], 1] = cnt[K_LINENO] + 1
            cnt[K_NWARN] += 1
            cnt[K_LINENO] += newlines
            p = q + 1
            continue
        rec_end = q
        cnt[K_LINENO] += newlines + 1
        p = q + 1
        if nf == 9 and fq[8] == 0:
            while fe[8] > fs[8] and buf[fe[8] - 1] == 13:
                fe[8] -= 1
        if nf != 9:
            blank = True
            for i in range(rec_start, rec_end):
                if not _is_space(buf[i]):
                    blank = False
                    break
            if blank:
                continue
            cnt[K_MALFORMED] += 1
            if cnt[K_MALFORMED] <= MAX_MALFORMED_LISTED:
                warn[cnt[K_NWARN], 0] = W_MALFORMED
                warn[cnt[K_NWARN], 1] = cnt[K_LINENO]
                warn[cnt[K_NWARN], 2] = nf
                cnt[K_NWARN] += 1
            continue
        # ---- the inner line of a multi-line reply (250-...): a counted line, no event
        if (
            fe[6] - fs[6] == 1
            and buf[fs[6]] == 62
            and fe[7] - fs[7] >= 4
            and buf[fs[7]] == 50
            and buf[fs[7] + 1] == 53
            and buf[fs[7] + 2] == 48
            and buf[fs[7] + 3] == 45
        ):
            cnt[K_LINES] += 1
            continue
        if cnt[K_SBUF] + 2 * (rec_end - rec_start) + 64 >= sbuf.size:
            cnt[K_GROW] = G_SBUF
            cnt[K_LINENO] -= newlines + 1
            return GROW, rec_start
        cnt[K_LINES] += 1
        cnt[K_SINCE_SWEEP] += 1
        if quoted_any:
            for k in range(9):
                if fq[k] == 2:
                    fe[k] = _unescape(buf, fs[k], fe[k])
        ev = buf[fs[6]] if fe[6] - fs[6] == 1 else 0
        # ---- the session
        sid = np.int64(0)
        hexsid = 0 < fe[2] - fs[2] <= 16
        for i in range(fs[2], fe[2]):
            c = buf[i]
            if 48 <= c <= 57:
                v = c - 48
            elif 65 <= c <= 70:
                v = c - 55
            elif 97 <= c <= 102:
                v = c - 87
            else:
                hexsid = False
                break
            sid = (sid << np.int64(4)) | np.int64(v)
        flag = 0
        if not hexsid:
            sid = _intern(buf, fs[2], fe[2], 0, sbuf, soff, shash, sidx, cnt, True)
            flag = 1
        tl = min(fe[0] - fs[0], TSW)
        ms = _millis(buf, fs[0], fe[0])
        slot, pos = _session_find(xidx, xnum, flag, sid, buf, fs[1], fe[1], sbuf, soff)
        if (
            slot >= 0
            and ms >= 0
            and xnum[slot, X_LASTMS] >= 0
            and ms - xnum[slot, X_LASTMS] > IDLE_MS
        ):
            # The idle rule: more than an hour since this session's previous event. That
            # session is over (incomplete); this event opens a new one.
            _fold(slot, tables)
            slot, pos = _session_find(xidx, xnum, flag, sid, buf, fs[1], fe[1], sbuf, soff)
        if slot < 0:
            # A new session: its client is (connector, address without the port).
            a, b = fs[5], fe[5]
            while a < b and (_is_space(buf[a]) or 28 <= buf[a] <= 31):
                a += 1
            while b > a and (_is_space(buf[b - 1]) or 28 <= buf[b - 1] <= 31):
                b -= 1
            if b > a and buf[a] == 91:  # [v6]:port
                a += 1
                for i in range(a, b):
                    if buf[i] == 93:
                        b = i
                        break
            else:
                colons = 0
                at = b
                for i in range(a, b):
                    if buf[i] == 58:
                        colons += 1
                        at = i
                if colons == 1:
                    b = at
            con = _intern(buf, fs[1], fe[1], 0, sbuf, soff, shash, sidx, cnt, True)
            addr = _intern(buf, a, b, 0, sbuf, soff, shash, sidx, cnt, True)
            key = (np.int64(con) << np.int64(32)) | np.int64(addr)
            c, cpos = _lookup(cidx, ckey, key, _mix(key, np.int64(0)))
            if c < 0:
                # At most MAX_CLIENTS per connector; the rest together as (other).
                if con_clients[con] >= MAX_CLIENTS:
                    key = (np.int64(con) << np.int64(32)) | np.int64(S_OTHER)
                    c, cpos = _lookup(cidx, ckey, key, _mix(key, np.int64(0)))
                    addr = S_OTHER
                if c < 0:
                    c = cnt[K_NCLI]
                    ckey[c] = key
                    cidx[cpos] = c
                    cnum[c, :] = 0
                    cnum[c, C_CON] = con
                    cnum[c, C_ADDR] = addr
                    cnt[K_NCLI] = c + 1
                    con_clients[con] += 1
            cnum[c, C_SESSIONS] += 1
            cnt[K_NFREE] -= 1
            slot = xfree[cnt[K_NFREE]]
            xlive[slot] = True
            cnt[K_LIVE] += 1
            xidx[pos] = slot
            xnum[slot, :] = 0
            xnum[slot, X_CLIENT] = c
            xnum[slot, X_STARTED] = ev == 43
            # Begun in this file, or (no '+') continued from logs not read.
            # The files holding a server's events give its versions.
            xnum[slot, X_FILE] = fileidx
            _pair(P_FILE, con, fileidx, pkey, pidx, cnt)
            server = 0
            ca = fs[1]
            for i in range(fs[1], fe[1]):
                if buf[i] == 92:
                    ca = i
                    break
            server = _intern(buf, fs[1], ca, 0, sbuf, soff, shash, sidx, cnt, True)
            xnum[slot, X_SERVER] = server
            xnum[slot, X_CON] = con
            xnum[slot, X_SKEY] = flag
            xnum[slot, X_SID] = sid
            xnum[slot, X_FIRSTLEN] = tl
            xnum[slot, X_LASTLEN] = tl
            xnum[slot, X_LASTMS] = ms
            srv_latest[server] = max(srv_latest[server], ms)
            a = fs[0]
            row = np.uint64(slot)
            for i in range(tl):
                c8 = buf[np.uint64(a + i)]
                xts[row, np.uint64(i)] = c8
                xts[row, np.uint64(TSW + i)] = c8
            if ev == 43:
                continue
        else:
            xnum[slot, X_LASTLEN] = tl
            if xnum[slot, X_FILE] != fileidx:
                xnum[slot, X_FILE] = fileidx
                _pair(P_FILE, xnum[slot, X_CON], fileidx, pkey, pidx, cnt)
            if ms >= 0:
                xnum[slot, X_LASTMS] = ms
                server = xnum[slot, X_SERVER]
                srv_latest[server] = max(srv_latest[server], ms)
            a = fs[0]
            row = np.uint64(slot)
            for i in range(tl):
                xts[row, np.uint64(TSW + i)] = buf[np.uint64(a + i)]
        c = xnum[slot, X_CLIENT]
        da, db = fs[7], fe[7]
        if ev == 62:  # '>' a reply
            if xnum[slot, X_QLEN] > 0:
                code_ok = True
                if db - da >= 3:
                    if buf[da] == 51 and buf[da + 1] == 51 and buf[da + 2] == 52:
                        code_ok = False  # 334
                    if buf[da] == 51 and buf[da + 1] == 53 and buf[da + 2] == 52:
                        code_ok = False  # 354
                if db - da >= 4 and buf[da + 3] == 45:
                    code_ok = False
                if code_ok:
                    h = xnum[slot, X_QHEAD]
                    item = xq[slot, h]
                    xnum[slot, X_QHEAD] = (h + 1) % QCAP
                    xnum[slot, X_QLEN] -= 1
                    verb = item & 255
                    ok = db > da and buf[da] == 50
                    if verb == V_RCPT:
                        t = _tally(c, T_RCPT, item >> 8, 0, cnum, tkey, tnum, tidx, cnt)
                        if ok:
                            tnum[t, T_ACC] += 1
                            if xnum[slot, X_AUTH]:
                                tnum[t, T_ACC_AUTH] += 1
                        else:
                            tnum[t, T_REF] += 1
                            if _find(buf, da, db, _R5754):
                                cnum[c, C_R5754] += 1
                                tnum[t, T_RELAY] += 1
                            elif _find(buf, da, db, _R571) and _find_folded(buf, da, db, _RELAY):
                                cnum[c, C_R571] += 1
                                tnum[t, T_RELAY] += 1
                    elif verb == V_DATA or verb == V_BDATL:
                        if ok:
                            cnum[c, C_MESSAGES] += 1
                    elif verb == V_STARTTLS:
                        if (
                            db - da >= 3
                            and buf[da] == 50
                            and buf[da + 1] == 50
                            and buf[da + 2] == 48
                        ):
                            xnum[slot, X_TLS] = 1
                    elif verb == V_AUTH:
                        if (
                            db - da >= 3
                            and buf[da] == 50
                            and buf[da + 1] == 51
                            and buf[da + 2] == 53
                        ):
                            xnum[slot, X_AUTH] = 1
        elif ev == 60:  # '<' a command
            v0 = _lower(buf[da]) if db - da > 0 else 0
            v1 = _lower(buf[da + 1]) if db - da > 1 else 0
            v2 = _lower(buf[da + 2]) if db - da > 2 else 0
            v3 = _lower(buf[da + 3]) if db - da > 3 else 0
            verb = V_OTHER
            arg = 0
            if v0 == 114 and v1 == 99 and v2 == 112 and v3 == 116:  # rcpt
                verb = V_RCPT
                a, b = _domain(buf, da, db)
                if a < 0:
                    arg = S_NONE
                else:
                    arg = _name(buf, a, b, 1, c, T_RCPT, sbuf, soff, shash, sidx, cnt, cnum)
            elif v0 == 109 and v1 == 97 and v2 == 105 and v3 == 108:  # mail
                a, b = _domain(buf, da, db)
                if a < 0:
                    name = S_NULL_SENDER
                else:
                    name = _name(buf, a, b, 1, c, T_MAIL, sbuf, soff, shash, sidx, cnt, cnum)
                _session_name(xnames, xnum, slot, X_NMAIL, MAX_NAMES, name)
            elif (
                ((v0 == 101 and v1 == 104) or (v0 == 104 and v1 == 101)) and v2 == 108 and v3 == 111
            ):
                a = min(da + 5, db)
                b = db
                while a < b and _is_space(buf[a]):
                    a += 1
                while b > a and _is_space(buf[b - 1]):
                    b -= 1
                name = _name(buf, a, b, 0, c, T_EHLO, sbuf, soff, shash, sidx, cnt, cnum)
                _session_name(xnames, xnum, slot, X_NEHLO, 0, name)
            elif v0 == 100 and v1 == 97 and v2 == 116 and v3 == 97:  # data
                verb = V_DATA
            elif v0 == 98 and v1 == 100 and v2 == 97 and v3 == 116:  # bdat
                verb = V_BDATL if _find_folded(buf, da, db, _LAST) else V_OTHER
            elif v0 == 115 and v1 == 116 and v2 == 97 and v3 == 114:  # star(ttls)
                verb = V_STARTTLS
            elif (v0 == 97 and v1 == 117 and v2 == 116 and v3 == 104) or (
                v0 == 120 and v1 == 45 and v2 == 101 and v3 == 120
            ):  # auth, x-ex(ps)
                verb = V_AUTH
            elif v0 == 120 and v1 == 45 and v2 == 97 and v3 == 110:  # x-an(onymoustls)
                xnum[slot, X_TLS] = 1
            if xnum[slot, X_QLEN] < QCAP:
                h = (xnum[slot, X_QHEAD] + xnum[slot, X_QLEN]) % QCAP
                xq[slot, h] = verb | (np.int64(arg) << np.int64(8))
                xnum[slot, X_QLEN] += 1
            else:
                cnt[K_QOVER] += 1
        elif ev == 42:  # '*'
            ca, cb = fs[8], fe[8]
            if _equals(buf, ca, cb, _AUTHENTICATED):
                xnum[slot, X_AUTH] = 1
            elif _find(buf, da, db, _NEGOTIATED) or _find(buf, ca, cb, _NEGOTIATED):
                if _equals_folded(buf, ca, cb, _AUTHENTICATED) or _equals_folded(
                    buf, da, db, _AUTHENTICATED
                ):
                    xnum[slot, X_AUTH] = 1
                else:
                    xnum[slot, X_TLS] = 1
        elif ev == 45:  # '-'
            xnum[slot, X_ENDED] = 1
            _fold(slot, tables)
    return OK, p
