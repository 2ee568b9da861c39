"""Benchmark: the SMTP session rules written in DuckDB SQL (window functions) against a bare count.

Issue 17 asks for one declarative log engine in SQL on DuckDB, if it reaches at
most 2.5x the time of DuckDB's bare ``read_csv`` count of sessions per client
on the benchmark logs. This benchmark measures that formulation before any
engine is built on it. Side by side in one run, each query in a fresh process:

- **bare**: DuckDB ``read_csv`` counting distinct sessions per client address
  (the yardstick of benchmarks/bench_logs.py);
- **rules** (:data:`RULES`): the same ``read_csv``, then the session rules in
  SQL with ONE sort of the events: sessions per (connector, session id) in file
  and sequence order, split at ``+``, after ``-`` and after an hour idle; FIFO
  pairing of final replies with commands, 334/354/continuation replies skipped,
  a reply with no command waiting dropped; per client: sessions, incomplete
  sessions, messages, first and last seen, authenticated and TLS sessions,
  recipients accepted (and after authentication), refused as relay
  (5.7.1 / 5.7.54). How, in the docstring of :data:`RULES`.
- with ``--windows4``, **four windows** (:data:`WINDOWS4`): the first
  formulation, four window operators each sorting every event again (window 1:
  ``lag``; window 2: a running sum numbers the sessions; window 3: running
  counts of commands ``c`` and final replies ``r`` per session; window 4: the
  running minimum of ``c - r``: the queue is the walk ``c - r`` reflected at
  zero, so the k-th reply that finds the queue non-empty answers the k-th
  command); per session, the paired replies looked up in its list of commands.

Every query reports its wall time and its CPU time (all DuckDB threads, from
``time.process_time``): on a shared machine the CPU ratio is the steadier one.

With ``--fold`` it also times the same rules written as a fold (``list_reduce``
over each session's ordered events, :data:`FOLD_FULL`) and the FIFO pairing
alone as a fold (:data:`FOLD`, a lower bound).

With ``--check EVIDENCE`` (a relay-evidence.json that ``migrator logs scan``
wrote for the same folder) it checks that the rules query gives the same
figures for every client. ``--explain`` prints DuckDB's profile of the rules
query (EXPLAIN ANALYZE) instead of timing rounds.

    python benchmarks/gen_logs.py /tmp/mlogs --lines 10000000
    python benchmarks/bench_logs_sql.py /tmp/mlogs --rounds 2 --check /tmp/out/relay-evidence.json

The per-client names and recipient domain lists, the header handling, line
numbers and the caps are not in this query: it measures the session rules,
the part that needs ordered window functions.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

COLUMNS = {n: "VARCHAR" for n in ("dt", "con", "sid", "seq", "lep", "remote", "ev", "data", "ctx")}

SOURCE = """read_csv($files, columns = $columns, header = false, comment = '#', quote = '"',
    escape = '"', delim = ',', ignore_errors = true, strict_mode = false, null_padding = true,
    filename = true)"""

CLIENT = r"""CASE WHEN remote LIKE '[%' THEN regexp_extract(remote, '^\[([^\]]*)\]', 1)
    ELSE regexp_replace(remote, ':[0-9]+$', '') END"""

BARE = f"SELECT {CLIENT} AS address, count(DISTINCT (con, sid)) FROM {SOURCE} GROUP BY 1"

WINDOWS4 = f"""
WITH files AS (SELECT unnest($files) AS filename, generate_subscripts($files, 1) AS fi),
e AS (
  SELECT hash(r.con, r.sid) AS key, (f.fi::BIGINT << 32) + TRY_CAST(r.seq AS BIGINT) AS pos,
    epoch_ms(try_strptime(r.dt, '%Y-%m-%dT%H:%M:%S.%gZ')) AS t, r.dt AS ts, r.con,
    {CLIENT.replace("remote", "r.remote")} AS client, r.ev,
    CASE WHEN r.ev = '<' THEN CASE upper(r.data[1:4]) WHEN 'RCPT' THEN 1 WHEN 'MAIL' THEN 2
      WHEN 'EHLO' THEN 3 WHEN 'HELO' THEN 3 WHEN 'DATA' THEN 4
      WHEN 'BDAT' THEN CASE WHEN contains(upper(r.data), 'LAST') THEN 5 ELSE 6 END
      WHEN 'STAR' THEN 7 WHEN 'AUTH' THEN 8 WHEN 'X-EX' THEN 8 WHEN 'X-AN' THEN 9 ELSE 0 END
    END::TINYINT AS cmd,
    CASE WHEN r.ev = '>' AND r.data[1:3] NOT IN ('334', '354') AND coalesce(r.data[4:4], '') <> '-'
      THEN r.data[1:3] END AS code,
    CASE WHEN r.ev = '>' AND r.data[1:1] <> '2' THEN
      CASE WHEN contains(r.data, '5.7.54') THEN 2
        WHEN contains(r.data, '5.7.1') AND contains(lower(r.data), 'relay') THEN 1 ELSE 0 END
    END::TINYINT AS relay,
    r.ev = '*' AND r.ctx = 'authenticated' AS auth_row,
    r.ev = '*' AND coalesce(r.ctx, '') <> 'authenticated'
      AND (contains(r.data, 'negotiation succeeded') OR contains(r.ctx, 'negotiation succeeded'))
      AS tls_row
  FROM {SOURCE} AS r JOIN files AS f USING (filename)
  WHERE NOT (r.ev = '>' AND r.data LIKE '250-%')
),
w1 AS (
  SELECT *, lag(t) OVER k AS pt, lag(ev) OVER k AS pev
  FROM e WINDOW k AS (PARTITION BY key ORDER BY pos)
),
w2 AS (
  SELECT *, sum((pt IS NULL OR ev = '+' OR pev = '-' OR t - pt > 3600000)::INT)
    OVER (PARTITION BY key ORDER BY pos ROWS UNBOUNDED PRECEDING) AS sn
  FROM w1
),
w3 AS (
  SELECT *, count(cmd) OVER s AS c, count(code) OVER s AS r
  FROM w2 WINDOW s AS (PARTITION BY key, sn ORDER BY pos ROWS UNBOUNDED PRECEDING)
),
w4 AS (
  SELECT *, least(0, min(c - r) OVER (PARTITION BY key, sn ORDER BY pos
    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) AS mprev
  FROM w3
),
sess AS (
  SELECT any_value(con) AS con, arg_min(client, pos) AS client,
    arg_min(ts, pos) AS first, arg_max(ts, pos) AS last,
    arg_min(ev, pos) = '+' AS started, bool_or(ev = '-') AS ended,
    list(cmd ORDER BY pos) FILTER (cmd IS NOT NULL) AS cmds,
    list({{'k': r + mprev, 'code': code, 'relay': relay, 'pos': pos}} ORDER BY pos)
      FILTER (code IS NOT NULL AND c - r >= mprev) AS reps,
    min(pos) FILTER (auth_row) AS auth_row_pos, bool_or(tls_row OR cmd = 9) AS tls_rows
  FROM w4 GROUP BY key, sn
),
paired AS (
  SELECT *, list_transform(reps, lambda x: {{'cmd': cmds[x.k], 'code': x.code,
    'relay': x.relay, 'pos': x.pos}}) AS pr
  FROM sess
),
fig AS (
  SELECT con, client, first, last, started, ended,
    len(list_filter(pr, lambda x: x.cmd IN (4, 5) AND x.code[1:1] = '2')) AS messages,
    coalesce(tls_rows, false)
      OR len(list_filter(pr, lambda x: x.cmd = 7 AND x.code = '220')) > 0 AS tls,
    least(auth_row_pos, list_min(list_transform(
      list_filter(pr, lambda x: x.cmd = 8 AND x.code = '235'), lambda x: x.pos))) AS auth_pos,
    list_filter(pr, lambda x: x.cmd = 1) AS rc
  FROM paired
)
SELECT con, client, count(*) AS sessions, count(*) FILTER (NOT (started AND ended)) AS incomplete,
  sum(messages)::BIGINT AS messages, min(first) AS first_seen, max(last) AS last_seen,
  count(*) FILTER (auth_pos IS NOT NULL) AS authenticated, count(*) FILTER (tls) AS tls,
  sum(len(list_filter(rc, lambda x: x.code[1:1] = '2')))::BIGINT AS accepted,
  sum(len(list_filter(rc, lambda x: x.code[1:1] = '2' AND x.pos > auth_pos)))::BIGINT
    AS accepted_authenticated,
  sum(len(list_filter(rc, lambda x: x.relay = 1)))::BIGINT AS relay_refused_5_7_1,
  sum(len(list_filter(rc, lambda x: x.relay = 2)))::BIGINT AS relay_refused_5_7_54
FROM fig GROUP BY con, client
"""

COLUMNS_TS = {**COLUMNS, "dt": "TIMESTAMP"}
"""The columns for :data:`RULES`: the CSV reader parses the time stamps itself."""

RULES = r"""WITH e AS (
  SELECT hash(r.con, r.sid) AS key, (r.file_index::BIGINT << 32) + TRY_CAST(r.seq AS BIGINT) AS pos,
    epoch_ms(r.dt) AS t,
    CASE r.ev WHEN '+' THEN 1 WHEN '-' THEN 2 WHEN '<' THEN 3 WHEN '>' THEN 4 ELSE 5 END::UTINYINT AS ev,
    r.con, r.remote,
    CASE WHEN r.ev = '<' THEN CASE upper(r.data[1:4]) WHEN 'RCPT' THEN 1 WHEN 'MAIL' THEN 2
      WHEN 'EHLO' THEN 3 WHEN 'HELO' THEN 3 WHEN 'DATA' THEN 4
      WHEN 'BDAT' THEN CASE WHEN contains(upper(r.data), 'LAST') THEN 5 ELSE 6 END
      WHEN 'STAR' THEN 7 WHEN 'AUTH' THEN 8 WHEN 'X-EX' THEN 8 WHEN 'X-AN' THEN 9 ELSE 0 END
    END::UTINYINT AS cmd,
    CASE WHEN r.ev = '>' AND r.data[1:3] NOT IN ('334', '354') AND coalesce(r.data[4:4], '') <> '-'
      THEN CASE WHEN r.data[1:3] = '220' THEN 2 WHEN r.data[1:3] = '235' THEN 3
        WHEN r.data[1:1] = '2' THEN 1
        WHEN contains(r.data, '5.7.54') THEN 6
        WHEN contains(r.data, '5.7.1') AND contains(lower(r.data), 'relay') THEN 5 ELSE 4 END END::UTINYINT AS code,
    (r.ev = '*' AND r.ctx = 'authenticated') AS auth_row,
    (r.ev = '*' AND coalesce(r.ctx, '') <> 'authenticated'
      AND (contains(r.data, 'negotiation succeeded') OR contains(r.ctx, 'negotiation succeeded'))) AS tls_row
  FROM read_csv($files, columns = $columns, header = false, comment = '#', quote = '"',
    escape = '"', delim = ',', ignore_errors = true, strict_mode = false, null_padding = true) AS r
  WHERE r.ev IN ('+', '-', '<', '>', '*') AND NOT (r.ev = '>' AND r.data LIKE '250-%')
),
w1 AS MATERIALIZED (
  SELECT key, pos, ev, cmd, code, auth_row, tls_row, c::UINTEGER AS c, r::UINTEGER AS r,
    coalesce(nd, 0)::UINTEGER AS pl, CASE WHEN st OR is_last THEN t END AS t, st, gap,
    CASE WHEN st THEN con END AS con, CASE WHEN st THEN remote END AS remote
  FROM (
    SELECT *, (pt IS NULL OR pev = 2 OR t - pt > 3600000) AS st,
      (nt IS NULL OR ev = 2 OR nt - t > 3600000) AS is_last,
      (pt IS NOT NULL AND t - pt > 3600000 AND pev <> 2) AS gap
    FROM (
      SELECT *, lag(t) OVER k AS pt, lag(ev) OVER k AS pev, lead(t) OVER k AS nt, lead(ev) OVER k AS nev,
        count(cmd) OVER k AS c, count(code) OVER k AS r,
        count(*) FILTER (ev = 2) OVER (PARTITION BY key ORDER BY pos ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS nd
      FROM e WINDOW k AS (PARTITION BY key ORDER BY pos ROWS UNBOUNDED PRECEDING)))
  WHERE st OR is_last OR cmd IS NOT NULL OR code IS NOT NULL OR auth_row OR tls_row
),
gaps AS (SELECT key, pl, list(pos) AS gp FROM w1 WHERE gap GROUP BY key, pl),
lab AS NOT MATERIALIZED (
  SELECT w.*, coalesce(len(list_filter(g.gp, lambda x: x <= w.pos)), 0) AS ig
  FROM w1 AS w LEFT JOIN gaps AS g USING (key, pl)
),
sess AS MATERIALIZED (
  SELECT key, pl, ig, any_value(con) AS con, any_value(remote) AS remote, min(t) AS first, max(t) AS last,
    bool_or(st AND ev = 1) AS started, bool_or(ev = 2) AS ended,
    min(pos) FILTER (auth_row) AS auth_row_pos, bool_or(tls_row OR cmd = 9) AS tls_rows,
    max(CASE WHEN st THEN c - (cmd IS NOT NULL)::INT END) AS cb,
    max(CASE WHEN st THEN r - (code IS NOT NULL)::INT END) AS rb
  FROM lab WHERE t IS NOT NULL OR auth_row OR tls_row OR cmd = 9
  GROUP BY key, pl, ig
),
rep AS MATERIALIZED (
  SELECT l.key, l.pl, l.ig, l.pos, l.code, s.cb, l.r - s.rb AS rs, (l.r - s.rb) - (l.c - s.cb) AS v
  FROM lab AS l JOIN sess AS s USING (key, pl, ig) WHERE l.code IS NOT NULL
),
drops AS (
  SELECT key, pl, ig, list({'pos': fp, 'v': v}) AS dl FROM (
    SELECT key, pl, ig, v, min(pos) AS fp FROM rep WHERE v > 0 GROUP BY key, pl, ig, v)
  GROUP BY key, pl, ig
),
pr AS (
  SELECT p.key, p.pl, p.ig, p.pos, p.code, cm.cmd
  FROM (SELECT rep.*, rep.cb + rep.rs - coalesce(list_max(list_transform(list_filter(d.dl, lambda x: x.pos <= rep.pos), lambda x: x.v)), 0) AS tc
        FROM rep LEFT JOIN drops AS d USING (key, pl, ig)) AS p
  JOIN (SELECT key, c, cmd FROM w1 WHERE cmd IS NOT NULL) AS cm ON cm.key = p.key AND cm.c = p.tc
),
pagg AS (
  SELECT key, pl, ig,
    count(*) FILTER (cmd IN (4, 5) AND code <= 3) AS messages,
    bool_or(cmd = 7 AND code = 2) AS tls_pair,
    min(pos) FILTER (cmd = 8 AND code = 3) AS auth_pair,
    list(pos) FILTER (cmd = 1 AND code <= 3) AS acc,
    count(*) FILTER (cmd = 1 AND code = 5) AS r571,
    count(*) FILTER (cmd = 1 AND code = 6) AS r5754
  FROM pr GROUP BY key, pl, ig
),
fig AS (
  SELECT s.con, CASE WHEN s.remote LIKE '[%' THEN regexp_extract(s.remote, '^\[([^\]]*)\]', 1)
      ELSE regexp_replace(s.remote, ':[0-9]+$', '') END AS client, s.first, s.last, s.started, s.ended,
    coalesce(p.messages, 0) AS messages, coalesce(s.tls_rows OR p.tls_pair, s.tls_rows, false) AS tls,
    least(s.auth_row_pos, p.auth_pair) AS auth_pos, p.acc, coalesce(p.r571, 0) AS r571, coalesce(p.r5754, 0) AS r5754
  FROM sess AS s LEFT JOIN pagg AS p USING (key, pl, ig)
)
SELECT con, client, count(*) AS sessions, count(*) FILTER (NOT (started AND ended)) AS incomplete,
  sum(messages)::BIGINT AS messages,
  strftime(make_timestamp(min(first) * 1000), '%Y-%m-%dT%H:%M:%S.%gZ') AS first_seen,
  strftime(make_timestamp(max(last) * 1000), '%Y-%m-%dT%H:%M:%S.%gZ') AS last_seen,
  count(*) FILTER (auth_pos IS NOT NULL) AS authenticated, count(*) FILTER (tls) AS tls,
  sum(coalesce(len(acc), 0))::BIGINT AS accepted,
  sum(coalesce(len(list_filter(acc, lambda x: x > auth_pos)), 0))::BIGINT AS accepted_authenticated,
  sum(r571)::BIGINT AS relay_refused_5_7_1, sum(r5754)::BIGINT AS relay_refused_5_7_54
FROM fig GROUP BY con, client
"""
"""The session rules with ONE sort of the events (issue 17, second attempt).

- ``e``: one row per event, compact (``key`` = hash of connector and session id,
  ``pos`` = file index << 32 + sequence number, codes as UTINYINT); 2010's
  multi-line reply lines and rows without a known event are dropped, as the
  reference reader does; ``file_index`` (the read_csv virtual column) gives the
  file order without a join on the file name.
- ``w1``: ONE window operator (every function has the same PARTITION BY key ORDER
  BY pos, so DuckDB sorts once): ``lag`` of time and event, running counts of
  commands ``c`` and final replies ``r`` per key, and the running count of ``-``
  rows before the row, ``pl``, which numbers the sessions split after ``-``
  without a second window (a ``+`` for a session still open continues it, as the
  reference reader does); the rows opening
  a session after an hour idle (``gap``, rare) are counted per (key, pl) by a
  left join on the short list of their positions (``ig``): a session is
  (key, pl, ig).
- ``w1`` also gives, from ``lead``, whether a row is the last of its session, and
  keeps only the rows the rest needs (commands, final replies, first and last
  rows of a session, authenticated and TLS rows), with narrow types.
- ``sess``: per session (GROUP BY over its first, last, authenticated and TLS
  rows): client, first and last seen, started/ended, authenticated row, TLS
  rows, and the counts before the session began (``cb``, ``rb``), so that
  ``c - cb`` and ``r - rb`` number commands and replies within the session.
- FIFO pairing without a running minimum: with ``v = (r - rb) - (c - cb)``
  (replies minus commands so far in the session; it moves by one per event), a
  final reply is dropped (no command waiting) exactly when it is the first of
  its session to bring ``v`` to a level ``m >= 1``; so the dropped replies are
  ``min(pos)`` per (session, ``v``), a GROUP BY (``drops``), and the number
  dropped up to a reply is the highest such level at or before it. The k-th
  reply not dropped answers the k-th command: an equi-join on the key-level
  command count ``c = cb + (r - rb) - dropped so far``.
- per session (``pagg``), then per client, with conditional aggregates.
"""

FOLD = f"""
WITH files AS (SELECT unnest($files) AS filename, generate_subscripts($files, 1) AS fi),
e AS (
  SELECT hash(r.con, r.sid) AS key, (f.fi::BIGINT << 32) + TRY_CAST(r.seq AS BIGINT) AS pos,
    CASE WHEN r.ev = '<' THEN CASE upper(r.data[1:4]) WHEN 'RCPT' THEN 1 WHEN 'DATA' THEN 4
      ELSE 0 END END::TINYINT AS cmd,
    CASE WHEN r.ev = '>' THEN r.data[1:1] = '2' END AS ok
  FROM {SOURCE} AS r JOIN files AS f USING (filename)
  WHERE r.ev = '<'
    OR (r.ev = '>' AND r.data[1:3] NOT IN ('334', '354') AND coalesce(r.data[4:4], '') <> '-')
), k AS (
  SELECT list({{'cmd': cmd, 'ok': ok}} ORDER BY pos) AS evs,
    list(cmd ORDER BY pos) FILTER (cmd IS NOT NULL) AS cmds
  FROM e GROUP BY key
)
SELECT sum(list_reduce(evs, lambda acc, x:
    CASE WHEN x.cmd IS NOT NULL THEN {{'q': acc.q + 1, 'h': acc.h, 'm': acc.m}}
      WHEN acc.q > 0 THEN {{'q': acc.q - 1, 'h': acc.h + 1,
        'm': acc.m + (x.ok AND cmds[acc.h + 1] = 4)::INT}}
      ELSE acc END, {{'q': 0, 'h': 0, 'm': 0}}).m)::BIGINT AS messages
FROM k
"""
"""The FIFO pairing alone as a fold (``list_reduce``) over each session's ordered events:
the queue length and the number of replies paired so far are the state; messages
(DATA answered 2xx) are counted. No session split, no recipients: a lower bound
for a fold-based engine."""

FOLD_FULL = (
    WINDOWS4[: WINDOWS4.index("w1 AS (")].rstrip().rstrip(",")
    + """,
k AS (
  SELECT list({'pos': pos, 't': t, 'ts': ts, 'client': client, 'ev': ev, 'cmd': cmd, 'arg': NULL::VARCHAR,
      'code': code, 'relay': relay, 'auth_row': auth_row, 'tls_row': tls_row} ORDER BY pos) AS evs,
    any_value(con) AS con
  FROM e GROUP BY key
),
s AS (
  SELECT con, unnest(list_transform(starts, lambda st, i: evs[st : coalesce(starts[i + 1] - 1, len(evs))])) AS sev
  FROM (SELECT con, evs, list_filter(generate_series(1, len(evs)), lambda i: i = 1 OR evs[i].ev = '+'
          OR evs[i - 1].ev = '-' OR evs[i].t - evs[i - 1].t > 3600000) AS starts FROM k)
),
c AS (SELECT con, sev, list_filter(sev, lambda x: x.cmd IS NOT NULL) AS cmds FROM s),
f AS (
  SELECT con, sev[1].client AS client, sev[1].ts AS first, sev[-1].ts AS last, sev[1].ev = '+' AS started,
    list_bool_or(list_transform(sev, lambda x: x.ev = '-')) AS ended,
    list_reduce(sev, lambda acc, x: {
      'q': CASE WHEN x.cmd IS NOT NULL THEN acc.q + 1 WHEN x.code IS NOT NULL AND acc.q > 0 THEN acc.q - 1 ELSE acc.q END,
      'h': CASE WHEN x.code IS NOT NULL AND acc.q > 0 THEN acc.h + 1 ELSE acc.h END,
      'auth': acc.auth OR x.auth_row OR coalesce(x.code = '235' AND acc.q > 0 AND cmds[acc.h + 1].cmd = 8, false),
      'tls': acc.tls OR x.tls_row OR coalesce(x.cmd = 9, false) OR coalesce(x.code = '220' AND acc.q > 0 AND cmds[acc.h + 1].cmd = 7, false),
      'm': acc.m + coalesce(x.code[1:1] = '2' AND acc.q > 0 AND cmds[acc.h + 1].cmd IN (4, 5), false)::INT,
      'rc': CASE WHEN x.code IS NOT NULL AND acc.q > 0 AND cmds[acc.h + 1].cmd = 1 THEN
          list_append(acc.rc, {'dom': cmds[acc.h + 1].arg, 'ok': x.code[1:1] = '2', 'auth': acc.auth, 'relay': x.relay})
        ELSE acc.rc END},
      {'q': 0, 'h': 0, 'auth': false, 'tls': false, 'm': 0,
       'rc': []::STRUCT(dom VARCHAR, ok BOOLEAN, auth BOOLEAN, relay TINYINT)[]}) AS st
  FROM c
)
SELECT con, client, count(*) AS sessions, count(*) FILTER (NOT (started AND ended)) AS incomplete,
  sum(st.m)::BIGINT AS messages, min(first) AS first_seen, max(last) AS last_seen,
  count(*) FILTER (st.auth) AS authenticated, count(*) FILTER (st.tls) AS tls,
  sum(len(list_filter(st.rc, lambda x: x.ok)))::BIGINT AS accepted,
  sum(len(list_filter(st.rc, lambda x: x.ok AND x.auth)))::BIGINT AS accepted_authenticated,
  sum(len(list_filter(st.rc, lambda x: x.relay = 1)))::BIGINT AS relay_refused_5_7_1,
  sum(len(list_filter(st.rc, lambda x: x.relay = 2)))::BIGINT AS relay_refused_5_7_54
FROM f GROUP BY con, client
"""
)
"""Every rule of WINDOWS4 as a fold: each key's events as an ordered list, cut into sessions
with list functions (start, after end, an hour idle), then one ``list_reduce`` per
session whose state is the queue, the paired commands, authentication, TLS, messages
and the recipients' outcomes."""

CHILD = r"""
import json, resource, sys, tempfile, time
sys.path.insert(0, sys.argv[3])
import bench_logs_sql as b
t = time.perf_counter()
import duckdb
loaded = time.perf_counter() - t
from pathlib import Path
files = sorted(str(p) for p in Path(sys.argv[1]).glob("*/RECV*.LOG"))
mode = sys.argv[2]
con = duckdb.connect()
con.execute("SET memory_limit = '700MB'")
# Spill files under the system's temporary folder, never in the current folder.
con.execute("SET temp_directory = ?", [tempfile.gettempdir() + "/bench-logs-sql.tmp"])
con.execute("SET enable_progress_bar = false")
con.execute("SET preserve_insertion_order = false")
query = {"bare": b.BARE, "fold": b.FOLD, "fold-full": b.FOLD_FULL, "windows4": b.WINDOWS4}.get(
    mode, b.RULES)
params = {"files": files, "columns": b.COLUMNS_TS if query is b.RULES else b.COLUMNS}
if mode == "explain":
    print(con.execute("EXPLAIN ANALYZE " + query, params).fetchall()[0][1])
    raise SystemExit
t = time.perf_counter()
cpu = time.process_time()
cur = con.execute(query, params)
names = [d[0] for d in cur.description]
rows = cur.fetchall()
elapsed = time.perf_counter() - t
cpu = time.process_time() - cpu
full = mode in ("rules", "windows4", "fold-full")
print(json.dumps({
    "seconds": elapsed, "cpu_seconds": cpu, "import_seconds": loaded,
    "sessions": sum(r[1] if mode == "bare" else r[2] for r in rows) if mode != "fold" else None,
    "messages": rows[0][0] if mode == "fold" else sum(r[4] for r in rows) if full else None,
    "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    "rows": [dict(zip(names, r)) for r in rows] if full else [],
}, default=str))
"""


def run(folder: Path, mode: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), mode, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        check=True,
    )
    if mode == "explain":
        print(proc.stdout)
        return {}
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def check(rows: list[dict[str, object]], evidence_path: Path) -> None:
    """Compare the rules query with migrator's relay-evidence.json, client by client."""
    doc = json.loads(evidence_path.read_text(encoding="utf-8"))
    want: dict[tuple[str, str], tuple[object, ...]] = {}
    for ce in doc["connectors"]:
        for c in ce["clients"]:
            doms = c["rcpt_domains"]
            want[(ce["connector"], c["address"])] = (
                c["sessions"],
                c["incomplete_sessions"],
                c["messages"],
                c["first_seen"],
                c["last_seen"],
                c["authenticated_sessions"],
                c["tls_sessions"],
                sum(d["accepted"] for d in doms),
                sum(d["accepted_authenticated"] for d in doms),
                c["relay_refused_5_7_1"],
                c["relay_refused_5_7_54"],
            )
    got = {
        (str(r["con"]), str(r["client"])): tuple(
            int(str(r[k])) if k not in ("first_seen", "last_seen") else r[k]
            for k in (
                "sessions",
                "incomplete",
                "messages",
                "first_seen",
                "last_seen",
                "authenticated",
                "tls",
                "accepted",
                "accepted_authenticated",
                "relay_refused_5_7_1",
                "relay_refused_5_7_54",
            )
        )
        for r in rows
    }
    differ = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
    print(
        f"rules query vs {evidence_path}: {len(want)} clients in the evidence, {len(got)} from SQL,"
        f" {len(differ)} differ"
    )
    for k in differ[:5]:
        print(f"  {k}: evidence {want.get(k)}, SQL {got.get(k)}")


def cases() -> None:
    """Run :data:`RULES` on every log case of the tests and compare with its expected evidence.

    The files are those the expected evidence lists as read, in that order; zip
    members are not readable by ``read_csv`` and are left out, so are files
    ``read_csv`` cannot parse (reported as such): the header handling, the
    type recognition and the rejected-line reporting are not in this query.
    """
    import contextlib
    import io
    import tempfile

    import duckdb

    sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
    from log_cases import CASES, build, read_expected

    root = Path(tempfile.mkdtemp(prefix="bench-logs-sql-cases-"))
    for name in sorted(CASES):
        folder, _ = build(name, root)
        expected = json.loads(read_expected(name))
        files = [
            str(f["path"]).replace("<case>", str(folder)) for f in expected["scan"]["files_read"]
        ]
        if any("!" in f for f in files):
            print(f"{name:36s} not run: zip members")
            continue
        try:
            cur = duckdb.connect().execute(RULES, {"files": files, "columns": COLUMNS_TS})
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        except duckdb.Error as exc:
            print(f"{name:36s} read_csv failed: {str(exc).splitlines()[0][:120]}")
            continue
        evidence = root / f"{name}.json"
        evidence.write_text(json.dumps(expected), encoding="utf-8")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            check(rows, evidence)
        lines = out.getvalue().strip().splitlines()
        print(f"{name:36s} {lines[0].split(': ', 1)[1]}")
        for line in lines[1:3]:
            print(f"    {line.strip()[:200]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "folder", type=Path, nargs="?", help="logs written by gen_logs.py (under /tmp)"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--check", type=Path, help="relay-evidence.json of the same folder")
    parser.add_argument("--explain", action="store_true", help="print the rules query's profile")
    parser.add_argument(
        "--fold", action="store_true", help="also time the FIFO pairing as a list_reduce fold"
    )
    parser.add_argument(
        "--windows4",
        action="store_true",
        help="also time the first formulation (four window operators)",
    )
    parser.add_argument(
        "--cases",
        action="store_true",
        help="compare the rules query with the expected evidence of every test log case",
    )
    args = parser.parse_args()
    if args.cases:
        cases()
        return
    if args.folder is None:
        parser.error("give the folder of the benchmark logs (or --cases)")
    if args.explain:
        run(args.folder, "explain")
        return
    last: dict[str, object] = {}
    for round_no in range(1, args.rounds + 1):
        bare = run(args.folder, "bare")
        rules = run(args.folder, "rules")
        timed = [("bare count", bare), ("session rules", rules)]
        if args.windows4:
            timed.append(("four windows", run(args.folder, "windows4")))
        if args.fold:
            timed.append(("fold (FIFO)", run(args.folder, "fold")))
            timed.append(("fold (rules)", run(args.folder, "fold-full")))
        for name, r in timed:
            print(
                f"round {round_no}  {name:14s} {float(str(r['seconds'])):7.2f} s"
                f" (CPU {float(str(r['cpu_seconds'])):6.2f} s)  peak RSS {r['rss_mib']} MiB  sessions {r['sessions']}  messages {r['messages']}",
                flush=True,
            )
        for name, r in timed[1:]:
            ratio = float(str(r["seconds"])) / float(str(bare["seconds"]))
            cpu_ratio = float(str(r["cpu_seconds"])) / float(str(bare["cpu_seconds"]))
            print(
                f"round {round_no}  {name} / bare count: {ratio:.2f} (CPU time {cpu_ratio:.2f};"
                " bar: 2.5)",
                flush=True,
            )
        last = dict(timed)
    if args.check is not None and last:
        for name in ("session rules", "four windows", "fold (rules)"):
            if name in last:
                print(f"{name}:", end=" ")
                check(list(last[name]["rows"]), args.check)  # type: ignore[call-overload]


if __name__ == "__main__":
    main()
