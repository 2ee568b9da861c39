"""Benchmark: ``migrator logs scan`` through the CLI against DuckDB's bare count of sessions.

Generates logs with gen_logs.py (unless the folder already holds them), then, in
one run and side by side, each in a fresh process:

- DuckDB's ``read_csv`` counting distinct (connector, session id) per client
  address (the bar: no session rules at all);
- ``migrator logs scan FOLDER -o TMP`` through the CLI's own entry point
  (``migrator.cli.main``, what the ``migrator`` command runs): the whole command,
  imports, numba's cache, the scan, writing relay-evidence.json and the summary.

The first migrator run uses an empty numba cache (``NUMBA_CACHE_DIR`` set to a
new folder): it pays the one-time compile, as the first scan on a machine does.
The rounds after it use that cache (warm). For every run it prints wall time,
CPU time (user + system of the process and all its threads, from
``getrusage(RUSAGE_CHILDREN)`` around it) and peak RSS (the process's own
``ru_maxrss``), then the ratios of migrator to DuckDB (CPU and wall) per round.
The machine may be shared: CPU time is the steadier measure; look at all rounds.
Checks that both count the same sessions per address (the idle rule may split a
session the bare count keeps whole; such addresses are reported).

DuckDB is a benchmark-only dependency (``pip install '.[bench]'``).

    python benchmarks/bench_logs.py /tmp/mlogs-1m --lines 1000000 --rounds 2
    python benchmarks/bench_logs.py /tmp/mlogs --lines 10000000 --rounds 2  # ~1.5 GB
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent

CLI = r"""
import json, resource, sys
from migrator.cli import main
sys.argv = ["migrator", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    if exc.code not in (0, None):
        raise
print(json.dumps({"rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), file=sys.stderr)
"""

DUCKDB = r"""
import json, resource, sys
import duckdb
con = duckdb.connect()
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
print(json.dumps({r[0]: r[1] for r in rows}))
print(json.dumps({"rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), file=sys.stderr)
"""


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak RSS MiB, stdout) of one child process."""
    cpu, t = _cpu(), time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    wall, cpu = time.perf_counter() - t, _cpu() - cpu
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed:\n{proc.stderr[-2000:]}")
    rss = json.loads(proc.stderr.strip().splitlines()[-1])["rss_kib"] / 1024
    return wall, cpu, rss, proc.stdout


def migrator_run(folder: Path, cache: Path, out: Path) -> tuple[float, float, float, Counter[str]]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    argv = [sys.executable, "-c", CLI, "logs", "scan", str(folder), "-o", str(out)]
    wall, cpu, rss, _ = timed([*argv, "--no-progress"], env)
    evidence = json.loads((out / "relay-evidence.json").read_text("utf-8"))
    per: Counter[str] = Counter()
    for connector in evidence["connectors"]:
        for client in connector["clients"]:
            per[client["address"]] += client["sessions"]
    return wall, cpu, rss, per


def duckdb_run(folder: Path) -> tuple[float, float, float, Counter[str]]:
    wall, cpu, rss, out = timed([sys.executable, "-c", DUCKDB, str(folder)], dict(os.environ))
    return wall, cpu, rss, Counter(json.loads(out.strip().splitlines()[-1]))


def line(name: str, wall: float, cpu: float, rss: float, size: int) -> str:
    return (
        f"{name:28s} wall {wall:7.2f} s  CPU {cpu:7.2f} s  peak RSS {rss:6.0f} MiB"
        f"  ({size / 1e6 / wall:4.0f} MB/s wall)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path, help="log folder under /tmp (generated when empty)")
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=2, help="warm rounds after the cold run")
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
    print(f"input: {size / 1e9:.2f} GB of SMTP Receive logs in {args.folder}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as tmp:
        cache, out = Path(tmp, "numba-cache"), Path(tmp, "out")
        cache.mkdir()
        bare = duckdb_run(args.folder)
        print(line("duckdb bare count", *bare[:3], size), flush=True)
        cold = migrator_run(args.folder, cache, out)
        print(line("migrator, empty numba cache", *cold[:3], size), flush=True)
        print(
            f"  first run (cold) / DuckDB: CPU {cold[1] / bare[1]:.2f}, wall {cold[0] / bare[0]:.2f}",
            flush=True,
        )
        results = [("cold", bare, cold)]
        for round_no in range(1, args.rounds + 1):
            bare = duckdb_run(args.folder)
            warm = migrator_run(args.folder, cache, out)
            print(line(f"round {round_no} duckdb bare count", *bare[:3], size))
            print(line(f"round {round_no} migrator (warm)", *warm[:3], size))
            print(
                f"  round {round_no} migrator / DuckDB: CPU {warm[1] / bare[1]:.2f},"
                f" wall {warm[0] / bare[0]:.2f}",
                flush=True,
            )
            results.append((f"round {round_no}", bare, warm))
        if args.rounds:
            print(
                f"compile pause (cold minus mean warm): CPU"
                f" {cold[1] - sum(r[2][1] for r in results[1:]) / args.rounds:.1f} s,"
                f" wall {cold[0] - sum(r[2][0] for r in results[1:]) / args.rounds:.1f} s"
            )
    ref = results[0][1][3]
    for name, b, m in results:
        differ = sorted(k for k in set(ref) | set(m[3]) if ref.get(k) != m[3].get(k))
        same_bare = b[3] == ref
        print(
            f"{name}: sessions per address, migrator vs DuckDB: {len(differ)} of"
            f" {len(ref)} addresses differ{'' if same_bare else ' (DuckDB rounds differ!)'}"
            + (f", e.g. {differ[:3]}" if differ else "")
        )


if __name__ == "__main__":
    main()
