"""Benchmark: where ``migrator plan`` spends memory and time, stage by stage (in process).

Writes contoso with N generated mailboxes (as ``bench_moves_cli.py`` does), runs
``plan_folder`` with a progress reporter and prints, at the start of each
stage, the CPU seconds so far, the resident memory and its peak (VmRSS and
VmHWM from /proc, Linux only).

    .venv/bin/python benchmarks/bench_plan_stages.py [mailboxes]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_moves_cli

from migrator.pipeline import plan_folder
from migrator.progress import reporting

ROOT = Path(__file__).resolve().parent.parent


def _memory() -> dict[str, int]:
    out = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                out[key] = int(value.split()[0]) // 1024
    return out


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 30_000
    with tempfile.TemporaryDirectory() as tmp:
        inv = Path(tmp) / "contoso"
        shutil.copytree(ROOT / "inventories" / "contoso", inv)
        bench_moves_cli.write_exports(inv, n)
        start = time.process_time()

        def report(stage: str) -> None:
            m = _memory()
            print(
                f"{time.process_time() - start:7.1f} s CPU  RSS {m['VmRSS']:6,d} MiB  "
                f"peak {m['VmHWM']:6,d} MiB  -> {stage}",
                flush=True,
            )

        with reporting(report):
            plan_folder(inv, Path(tmp) / "plan")
        report("done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
