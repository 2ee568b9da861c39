"""Benchmark: where ``migrator plan`` spends memory and time, stage by stage (in process).

Writes contoso with N generated mailboxes (as ``bench_moves_cli.py`` does), or
takes an inventory folder already written (``--inventory``, e.g. one from
``gen_inventory.py``), runs ``plan_folder`` with a progress reporter and
prints, at the start of each stage, the CPU seconds so far, the resident
memory and its peak (VmRSS and VmHWM from /proc, Linux only); at the end, the
CPU seconds of each stage. ``--profile FILE`` writes a cProfile of the run
(slower; for pstats/snakeviz), ``--out DIR`` keeps the plan folder.

    .venv/bin/python benchmarks/bench_plan_stages.py [mailboxes]
    .venv/bin/python benchmarks/bench_plan_stages.py --inventory /tmp/inv-300000 [--out DIR]
"""

from __future__ import annotations

import argparse
import cProfile
import shutil
import sys
import tempfile
import time
from itertools import pairwise
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


def _run(inv: Path, out: Path, profile: Path | None) -> None:
    start = time.process_time()
    marks: list[tuple[str, float]] = []

    def report(stage: str) -> None:
        now = time.process_time() - start
        marks.append((stage, now))
        m = _memory()
        print(
            f"{now:7.1f} s CPU  RSS {m['VmRSS']:6,d} MiB  peak {m['VmHWM']:6,d} MiB  -> {stage}",
            flush=True,
        )

    profiler = cProfile.Profile() if profile is not None else None
    with reporting(report):
        if profiler is not None:
            profiler.enable()
        result = plan_folder(inv, out)
        if profiler is not None:
            profiler.disable()
        report("done")
    if profiler is not None and profile is not None:
        profiler.dump_stats(profile)
    if result.plan is None:
        print("the plan was not written: the inventory has error-level findings", flush=True)
    print("CPU seconds per stage:")
    for (stage, at), (_, after) in pairwise(marks):
        print(f"  {after - at:7.2f}  {stage}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mailboxes", nargs="?", type=int, default=30_000)
    parser.add_argument("--inventory", type=Path, help="an inventory folder to plan as it is")
    parser.add_argument("--out", type=Path, help="plan folder to keep (default: a temporary one)")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the run here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.inventory is not None:
            inv = args.inventory
        else:
            inv = Path(tmp) / "contoso"
            shutil.copytree(ROOT / "inventories" / "contoso", inv)
            bench_moves_cli.write_exports(inv, args.mailboxes)
        _run(inv, args.out or Path(tmp) / "plan", args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
