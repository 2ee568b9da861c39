"""Benchmark: ``migrator moves forecast`` over 50,000 Get-MoveRequestStatistics rows (target < 5 s).

Times reading the export (UTF-8 with BOM, text sizes) and fitting the throughput
per server, against a generated 300,000-mailbox inventory (model objects).
The re-plan that follows is the wave planner (bench_moves.py).

    .venv/bin/python benchmarks/bench_forecast.py [rows]
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_moves import generate

from migrator.inventory.move_stats import read_move_stats
from migrator.plan.forecast import fit_throughput


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 50_000
    rnd = random.Random(5)
    inv = generate(300_000, 10)
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
            f'"DB-{server}-0","{b / 1024**3:.1f} GB ({b:,} bytes)","{span}"'
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "MoveStatistics.csv"
        path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))
        t0 = time.perf_counter()
        stats = read_move_stats([path])
        t1 = time.perf_counter()
        fitted = fit_throughput(inv, stats)
        t2 = time.perf_counter()
    print(
        f"rows {len(stats):,}: read {t1 - t0:.2f} s, fit {t2 - t1:.2f} s, total {t2 - t0:.2f} s (target < 5 s)"
    )
    print(f"servers fitted {len(fitted)}, e.g. {fitted[0].server} {fitted[0].gb_per_hour} GB/h")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
