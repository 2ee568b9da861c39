"""Benchmark: the SMTP session rules written in DuckDB SQL (window functions) against a bare count.

Issue 17 asks for one declarative log engine in SQL on DuckDB, if it reaches at
most 2.5x the time of DuckDB's bare ``read_csv`` count of sessions per client
on the benchmark logs. This benchmark measures that formulation before any
engine is built on it. Side by side in one run, each query in a fresh process:

- **bare**: DuckDB ``read_csv`` counting distinct sessions per client address
  (the yardstick of benchmarks/bench_logs.py);
- **rules**: the same ``read_csv``, then the session rules in SQL:
  sessions per (connector, session id) in file and sequence order, split at
  ``+``, after ``-`` and after an hour idle (window 1: ``lag``; window 2: a
  running sum numbers the sessions); FIFO pairing of final replies with
  commands, 334/354/continuation replies skipped, a reply with no command
  waiting dropped (window 3: running counts of commands ``c`` and final
  replies ``r``; window 4: the running minimum of ``c - r``: the queue is the
  walk ``c - r`` reflected at zero, so the k-th reply that finds the queue
  non-empty answers the k-th command); per session, the paired replies are
  looked up in the list of its commands; per client: sessions, incomplete
  sessions, messages, first and last seen, authenticated and TLS sessions,
  recipients accepted (and after authentication), refused as relay
  (5.7.1 / 5.7.54).

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

RULES = f"""
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

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[3])
import bench_logs_sql as b
t = time.perf_counter()
import duckdb
loaded = time.perf_counter() - t
from pathlib import Path
files = sorted(str(p) for p in Path(sys.argv[1]).glob("*/RECV*.LOG"))
con = duckdb.connect()
con.execute("SET memory_limit = '700MB'")
con.execute("SET enable_progress_bar = false")
con.execute("SET preserve_insertion_order = false")
params = {"files": files, "columns": b.COLUMNS}
query = {"bare": b.BARE, "fold": b.FOLD}.get(sys.argv[2], b.RULES)
if sys.argv[2] == "explain":
    print(con.execute("EXPLAIN ANALYZE " + query, params).fetchall()[0][1])
    raise SystemExit
t = time.perf_counter()
cur = con.execute(query, params)
names = [d[0] for d in cur.description]
rows = cur.fetchall()
elapsed = time.perf_counter() - t
print(json.dumps({
    "seconds": elapsed, "import_seconds": loaded,
    "sessions": sum(r[1] if sys.argv[2] == "bare" else r[2] for r in rows) if sys.argv[2] != "fold" else None,
    "messages": rows[0][0] if sys.argv[2] == "fold"
        else sum(r[4] for r in rows) if sys.argv[2] == "rules" else None,
    "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    "rows": [dict(zip(names, r)) for r in rows] if sys.argv[2] == "rules" else [],
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path, help="logs written by gen_logs.py (under /tmp)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--check", type=Path, help="relay-evidence.json of the same folder")
    parser.add_argument("--explain", action="store_true", help="print the rules query's profile")
    parser.add_argument(
        "--fold", action="store_true", help="also time the FIFO pairing as a list_reduce fold"
    )
    args = parser.parse_args()
    if args.explain:
        run(args.folder, "explain")
        return
    last: dict[str, object] = {}
    for round_no in range(1, args.rounds + 1):
        bare = run(args.folder, "bare")
        rules = run(args.folder, "rules")
        timed = [("bare count", bare), ("session rules", rules)]
        if args.fold:
            timed.append(("fold (FIFO)", run(args.folder, "fold")))
        for name, r in timed:
            print(
                f"round {round_no}  {name:14s} {float(str(r['seconds'])):7.2f} s"
                f"  peak RSS {r['rss_mib']} MiB  sessions {r['sessions']}  messages {r['messages']}",
                flush=True,
            )
        for name, r in timed[1:]:
            ratio = float(str(r["seconds"])) / float(str(bare["seconds"]))
            print(f"round {round_no}  {name} / bare count: {ratio:.2f} (bar: 2.5)", flush=True)
        last = rules
    if args.check is not None and last:
        check(list(last["rows"]), args.check)  # type: ignore[call-overload]


if __name__ == "__main__":
    main()
