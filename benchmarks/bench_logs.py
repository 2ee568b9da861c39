"""Benchmark: ``migrator logs scan`` against DuckDB's read_csv on the same log files.

Generates logs with gen_logs.py (unless the folder already holds them), then, in
one run and side by side, times

- the migrator scanner (full session rebuild and relay figures), and
- DuckDB's ``read_csv`` counting sessions per remote address (the same count),

each in its own process so that peak memory (max RSS of the process and of its
worker processes) is measured separately. Prints both, and checks that the two
agree on the number of sessions per address.

    python benchmarks/bench_logs.py /tmp/mlogs --lines 10000000     # full size (~1.5-2 GB)
    python benchmarks/bench_logs.py /tmp/mlogs-small --lines 500000  # quick run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

MIGRATOR = r"""
import json, resource, sys, time
from migrator.logs.scanner import scan_logs
t = time.perf_counter()
ev = scan_logs([sys.argv[1]], ("contoso.com", "*.contoso.com"))
elapsed = time.perf_counter() - t
per = {}
for ce in ev.connectors:
    for c in ce.clients:
        per[c.address] = per.get(c.address, 0) + c.sessions
print(json.dumps({
    "seconds": elapsed,
    "lines": ev.scan.lines,
    "sessions": ev.scan.sessions,
    "per_address": per,
    "rss_self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "rss_children_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
}))
"""

DUCKDB = r"""
import json, resource, sys, time
import duckdb
t = time.perf_counter()
con = duckdb.connect()
con.execute("SET memory_limit='900MB'")
con.execute("SET enable_progress_bar = false")
columns = {n: "VARCHAR" for n in ("dt", "connector", "sid", "seq", "local_ep", "remote", "event", "data", "context")}
rows = con.execute(
    '''
    SELECT CASE WHEN remote LIKE '[%' THEN regexp_extract(remote, '^\[([^\]]*)\]', 1)
                ELSE regexp_replace(remote, ':[0-9]+$', '') END AS address,
           count(DISTINCT (connector, sid)) AS sessions
    FROM read_csv(?, columns = ?, header = false, comment = '#', quote = '"', escape = '"',
                  delim = ',', ignore_errors = true, strict_mode = false, null_padding = true)
    GROUP BY 1
    ''',
    [sys.argv[1] + "/*/RECV*.LOG", columns],
).fetchall()
elapsed = time.perf_counter() - t
print(json.dumps({
    "seconds": elapsed,
    "sessions": sum(r[1] for r in rows),
    "per_address": {r[0]: r[1] for r in rows},
    "rss_self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "rss_children_kib": 0,
}))
"""


def run(code: str, folder: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", code, str(folder)], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path, help="log folder under /tmp (generated when empty)")
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternate the two engines this many times"
    )
    args = parser.parse_args()
    if not any(args.folder.glob("*/RECV*.LOG")):
        t = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                str(HERE / "gen_logs.py"),
                str(args.folder),
                "--lines",
                str(args.lines),
            ],
            check=True,
        )
        print(f"generated in {time.perf_counter() - t:.1f} s")
    size = sum(p.stat().st_size for p in args.folder.rglob("RECV*.LOG"))
    print(f"input: {size / 1e9:.2f} GB of SMTP Receive logs in {args.folder}")
    best: dict[str, dict[str, object]] = {}
    for _ in range(args.rounds):
        for name, code in (("duckdb read_csv", DUCKDB), ("migrator scan", MIGRATOR)):
            r = run(code, args.folder)
            if name not in best or float(r["seconds"]) < float(best[name]["seconds"]):  # type: ignore[arg-type]
                best[name] = r
    for name, r in best.items():
        rss = (int(r["rss_self_kib"]) + int(r["rss_children_kib"])) / 1024  # type: ignore[call-overload]
        print(
            f"{name:16s} {float(r['seconds']):7.2f} s  {size / 1e6 / float(r['seconds']):6.0f} MB/s"  # type: ignore[arg-type]
            f"  peak RSS {rss:6.0f} MiB (process {int(r['rss_self_kib']) // 1024} MiB"  # type: ignore[call-overload]
            f" + largest worker {int(r['rss_children_kib']) // 1024} MiB)  sessions {r['sessions']}"  # type: ignore[call-overload]
        )
    a, b = best["migrator scan"]["per_address"], best["duckdb read_csv"]["per_address"]
    diff = {k for k in set(a) | set(b) if a.get(k) != b.get(k)}  # type: ignore[union-attr, attr-defined]
    print(
        f"sessions per address agree: {not diff}"
        + (f" (differ for {len(diff)} addresses)" if diff else "")
    )
    ratio = float(best["duckdb read_csv"]["seconds"]) / float(best["migrator scan"]["seconds"])  # type: ignore[arg-type]
    print(
        f"migrator / duckdb speed: {ratio:.2f}x ({'at least as fast' if ratio >= 1 else 'slower'})"
    )


if __name__ == "__main__":
    main()
