"""Benchmark: ``migrator logs scan`` against DuckDB's read_csv on the same log files.

Generates logs with gen_logs.py (unless the folder already holds them), then, in
one run and side by side, times

- DuckDB's ``read_csv`` counting sessions per remote address (the bar),
- ``migrator logs scan`` with the compiled engine (the default: full session
  rebuild, FIFO reply pairing and relay figures), and
- with ``--python``, also the Python engine (the reference, several times slower),

each in its own process so that peak memory (max RSS of the process plus that
of its largest worker process) is measured separately. The compiled engine's
machine code is built once before the rounds (numba caches it; the first run on
a machine pays about 20 s for it, reported as "compile"). Each timed round runs
in a fresh process; the clock covers the whole ``scan_logs`` call. The imports
happen before the clock starts, for both alike: ``import duckdb`` loads DuckDB's
native library, and importing the engine loads its compiled kernel from numba's
cache. Their times are printed beside each round. Engines alternate for
``--rounds`` rounds; every round is printed (the machine may be shared: look at
all of them, not only the best). Checks that all agree on the number of
sessions per address, and that the engines give the same evidence.

DuckDB is a benchmark-only dependency (``pip install '.[bench]'``).

    python benchmarks/bench_logs.py /tmp/mlogs --lines 10000000 --rounds 2  # full size (~1.5 GB)
    python benchmarks/bench_logs.py /tmp/mlogs-small --lines 1000000 --python
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import cast

HERE = Path(__file__).resolve().parent

MIGRATOR = r"""
import hashlib, json, resource, sys, time
from dataclasses import asdict
from migrator.logs.scan import scan_logs
t = time.perf_counter()
if sys.argv[2] == "compiled":
    import migrator.logs.fast  # loads the compiled kernel, outside the clock as `import duckdb` is
loaded = time.perf_counter() - t
t = time.perf_counter()
ev = scan_logs([sys.argv[1]], ("contoso.com", "*.contoso.com"), engine=sys.argv[2])
elapsed = time.perf_counter() - t
digest = hashlib.sha256(json.dumps(asdict(ev), sort_keys=True).encode()).hexdigest()
per = {}
for ce in ev.connectors:
    for c in ce.clients:
        per[c.address] = per.get(c.address, 0) + c.sessions
print(json.dumps({
    "seconds": elapsed,
    "import_seconds": loaded,
    "lines": ev.scan.lines,
    "sessions": ev.scan.sessions,
    "per_address": per,
    "rss_self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "rss_children_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    "evidence_sha256": digest,
}))
"""

COMPILE = r"""
import pathlib, tempfile
from migrator.logs.scan import scan_logs
with tempfile.TemporaryDirectory() as tmp:
    log = pathlib.Path(tmp, "RECV2023010200-1.LOG")
    log.write_bytes(
        b"#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n"
        b"#Log-type: SMTP Receive Protocol Log\r\n#Date: 2023-01-02T00:00:00.000Z\r\n"
        b"#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
        b"remote-endpoint,event,data,context\r\n"
        b"2023-01-02T00:00:00.000Z,EX\\Relay,08DB000000000001,0,10.0.0.1:25,10.0.0.2:5000,+,,\r\n"
    )
    scan_logs([tmp], engine="compiled")
"""

DUCKDB = r"""
import json, resource, sys, time
t = time.perf_counter()
import duckdb
loaded = time.perf_counter() - t
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
    "import_seconds": loaded,
    "sessions": sum(r[1] for r in rows),
    "per_address": {r[0]: r[1] for r in rows},
    "rss_self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "rss_children_kib": 0,
}))
"""


def run(code: str, folder: Path, *extra: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", code, str(folder), *extra],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path, help="log folder under /tmp (generated when empty)")
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternate the engines this many times"
    )
    parser.add_argument("--python", action="store_true", help="also time the Python engine (slow)")
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
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", COMPILE], check=True)
    print(f"compile (or load from numba's cache): {time.perf_counter() - t:.1f} s")
    runs: list[tuple[str, str, tuple[str, ...]]] = [
        ("duckdb read_csv", DUCKDB, ()),
        ("migrator compiled", MIGRATOR, ("compiled",)),
    ]
    if args.python:
        runs.append(("migrator python", MIGRATOR, ("python",)))
    results: dict[str, list[dict[str, object]]] = {name: [] for name, _c, _e in runs}
    for round_no in range(1, args.rounds + 1):
        for name, code, extra in runs:
            r = run(code, args.folder, *extra)
            results[name].append(r)
            rss = (int(r["rss_self_kib"]) + int(r["rss_children_kib"])) / 1024  # type: ignore[call-overload]
            print(
                f"round {round_no}  {name:16s} {float(r['seconds']):7.2f} s"  # type: ignore[arg-type]
                f"  {size / 1e6 / float(r['seconds']):5.0f} MB/s"  # type: ignore[arg-type]
                f"  peak RSS {rss:6.0f} MiB (process {int(r['rss_self_kib']) // 1024} MiB"  # type: ignore[call-overload]
                f" + largest child {int(r['rss_children_kib']) // 1024} MiB)"  # type: ignore[call-overload]
                f"  sessions {r['sessions']}"
                f"  (import before the clock {float(r['import_seconds']):.2f} s)",  # type: ignore[arg-type]
                flush=True,
            )
        base = float(results["duckdb read_csv"][-1]["seconds"])  # type: ignore[arg-type]
        mine = float(results["migrator compiled"][-1]["seconds"])  # type: ignore[arg-type]
        print(
            f"round {round_no}  migrator compiled / read_csv time: {mine / base:.2f}"
            f" ({'at least as fast' if mine <= base else 'slower'})",
            flush=True,
        )
    ref = cast(dict[str, int], results["duckdb read_csv"][0]["per_address"])
    for name, rs in results.items():
        for r in rs:
            per = cast(dict[str, int], r["per_address"])
            diff = {k for k in set(ref) | set(per) if ref.get(k) != per.get(k)}
            if diff:
                print(
                    f"{name}: sessions per address differ from read_csv for {len(diff)} addresses"
                )
    agree = all(r["per_address"] == ref for rs in results.values() for r in rs)
    print(f"sessions per address agree across all runs: {agree}")
    digests = {
        str(r["evidence_sha256"]) for n, rs in results.items() if n != "duckdb read_csv" for r in rs
    }
    print(f"evidence identical across engines and rounds: {len(digests) == 1}")
    best = {n: min(float(r["seconds"]) for r in rs) for n, rs in results.items()}  # type: ignore[arg-type]
    print(
        "best of rounds: "
        + ", ".join(f"{n} {t:.2f} s" for n, t in best.items())
        + f"; migrator compiled / read_csv: {best['migrator compiled'] / best['duckdb read_csv']:.2f}"
    )


if __name__ == "__main__":
    main()
