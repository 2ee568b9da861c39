"""Benchmark: ``migrator moves forecast`` over 50,000 Get-MoveRequestStatistics rows (target < 5 s).

1. In process: reading the export (UTF-8 with BOM, text sizes) and fitting the
   throughput per server and per source database, against a generated
   300,000-mailbox inventory (model objects).
2. End to end (CLI, subprocess): ``migrator moves forecast PLAN_DIR stats.csv``
   on a plan of contoso, (a) from the plan folder alone (the inventory it was
   made from is gone: re-estimated, nothing rewritten) and (b) re-planning
   contoso in place (``--inventory``). Wall time, CPU time and peak RSS of the
   child.

    .venv/bin/python benchmarks/bench_forecast.py [rows]
"""

from __future__ import annotations

import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_moves import generate

from migrator.inventory.move_stats import read_move_stats
from migrator.plan.forecast import fit_throughput

ROOT = Path(__file__).resolve().parent.parent


def write_stats(path: Path, n: int) -> None:
    rnd = random.Random(5)
    lines = [
        '"Identity","BatchName","Status","SourceServer","SourceDatabase","BytesTransferred","TotalInProgressDuration"'
    ]
    for i in range(n):
        b = int(rnd.lognormvariate(21.5, 1.2))
        sec = max(1, int(b / (rnd.gauss(3.0, 0.5) * 1024**3) * 3600))
        server = f"EX10-{i % 20:02d}"
        span = f"{sec // 86400}.{sec % 86400 // 3600:02d}:{sec % 3600 // 60:02d}:{sec % 60:02d}"
        lines.append(
            f'"user{i:06d}@contoso.com","wave-{i // 500:03d}","Completed","{server}.contoso.com",'
            f'"DB-{server}-{i % 3}","{b / 1024**3:.1f} GB ({b:,} bytes)","{span}"'
        )
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))


def run_cli(args: list[str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "migrator", *args], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 50_000
    inv = generate(300_000, 10)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "MoveStatistics.csv"
        write_stats(path, n)
        t0, c0 = time.perf_counter(), time.process_time()
        stats = read_move_stats([path])
        t1 = time.perf_counter()
        fitted = fit_throughput(inv, stats)
        t2, c2 = time.perf_counter(), time.process_time()
        print(
            f"in process, rows {len(stats):,}: read {t1 - t0:.2f} s, fit {t2 - t1:.2f} s, "
            f"total {t2 - t0:.2f} s wall, {c2 - c0:.2f} s CPU (target < 5 s); {len(fitted)} rates "
            f"(servers and databases), e.g. {fitted[0].name} {fitted[0].gb_per_hour} GB/h"
        )
        inventory = Path(tmp) / "contoso"
        shutil.copytree(ROOT / "inventories" / "contoso", inventory)
        plan = Path(tmp) / "plan"
        wall, cpu, proc = run_cli(["plan", str(inventory), "-o", str(plan)])
        assert proc.returncode == 0, proc.stderr[-2000:]
        # (a) The inventory is gone: the plan folder alone.
        doc = json.loads((plan / "inventory.json").read_text(encoding="utf-8"))
        doc["root"] = str(Path(tmp) / "gone")
        (plan / "inventory.json").write_text(json.dumps(doc), encoding="utf-8")
        wall, cpu, proc = run_cli(["moves", "forecast", str(plan), str(path)])
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(
            f"CLI from the plan folder alone: {wall:.2f} s wall, {cpu:.2f} s CPU, exit "
            f"{proc.returncode} (target < 5 s); peak RSS of the children so far {peak:,.0f} MiB"
        )
        # (b) Re-planning contoso in place.
        wall, cpu, proc = run_cli(
            ["moves", "forecast", str(plan), str(path), "--inventory", str(inventory)]
        )
        print(
            f"CLI with --inventory (re-plans contoso): {wall:.2f} s wall, {cpu:.2f} s CPU, exit "
            f"{proc.returncode}"
        )
        if proc.returncode:
            print(proc.stdout[-1500:], proc.stderr[-1500:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
