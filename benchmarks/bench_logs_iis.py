"""Benchmark: ``migrator logs scan`` on IIS logs against the SMTP log scan, per line, side by side.

Generates (unless the folders already hold them) 2010 IIS logs with
gen_logs_iis.py and SMTP Receive protocol logs with gen_logs.py, the same
number of lines each, then times, alternating for ``--rounds`` rounds, the
whole CLI (``python -m migrator logs scan DIR -o OUT --no-progress``) on each,
each in its own process: wall time, CPU time (user + system of the process and
its children) and peak RSS. The SMTP compiled engine's machine code is built
once before the rounds (numba caches it). Prints every round and the time per
line of each; the bar (issue 15) is that the IIS scan is at least as fast per
line as the SMTP scan.

    python benchmarks/bench_logs_iis.py /tmp/bench-iis /tmp/bench-smtp --lines 3000000 --rounds 3

The machine may be shared: look at every round and at the CPU times, not only the best.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _lines(folder: Path) -> int:
    n = 0
    for f in folder.rglob("*"):
        if f.is_file():
            with f.open("rb") as fh:
                n += sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    return n


def _run(folder: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as out:
        began = time.perf_counter()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "migrator",
                "logs",
                "scan",
                str(folder),
                "-o",
                out,
                "--no-progress",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - began
        stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        if status != 0:
            raise SystemExit(f"scan of {folder} failed ({status}): {stderr[-2000:]}")
        files = sorted(Path(out).glob("*.json"))
        summary = {f.name: json.loads(f.read_text("utf-8"))["scan"] for f in files}
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,
        "summary": summary,  # type: ignore[dict-item]
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("iis", type=Path, help="folder of IIS logs (generated when empty)")
    ap.add_argument("smtp", type=Path, help="folder of SMTP logs (generated when empty)")
    ap.add_argument("--lines", type=int, default=3_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    for folder, script in ((args.iis, "gen_logs_iis.py"), (args.smtp, "gen_logs.py")):
        if not folder.exists() or not any(folder.rglob("*")):
            print(f"generating {args.lines} lines into {folder} ({script})", flush=True)
            subprocess.run(
                [sys.executable, str(HERE / script), str(folder), "--lines", str(args.lines)],
                check=True,
            )
    lines = {"iis": _lines(args.iis), "smtp": _lines(args.smtp)}
    print(f"lines: IIS {lines['iis']:,}, SMTP {lines['smtp']:,}", flush=True)
    print("warming up (numba cache of the SMTP engine, DuckDB import)", flush=True)
    _run(args.smtp)
    _run(args.iis)
    per_line: dict[str, list[float]] = {"iis": [], "smtp": []}
    for r in range(1, args.rounds + 1):
        for name, folder in (("smtp", args.smtp), ("iis", args.iis)):
            res = _run(folder)
            us_wall = res["wall"] / lines[name] * 1e6
            us_cpu = res["cpu"] / lines[name] * 1e6
            per_line[name].append(us_wall)
            print(
                f"round {r} {name:4}: {res['wall']:6.2f} s wall ({us_wall:.3f} us/line),"
                f" {res['cpu']:6.2f} s CPU ({us_cpu:.3f} us/line), peak RSS {res['rss_mib']:.0f} MiB",
                flush=True,
            )
    for r, (i, s) in enumerate(zip(per_line["iis"], per_line["smtp"], strict=True), 1):
        print(f"round {r}: IIS / SMTP time per line = {i / s:.2f}")


if __name__ == "__main__":
    main()
