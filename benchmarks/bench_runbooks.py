"""Benchmark: ``write_runbooks`` alone, on the steps of a real plan (issue 18).

Plans the inventory once (``plan_folder`` up to the runbooks, whose arguments it
keeps), then writes the runbooks ``--repeat`` times into a fresh folder and
prints the CPU seconds (user+sys of this process) and wall seconds of each
write, and a SHA-256 over every file written (path and bytes, sorted): the same
digest before and after a change means byte-identical runbooks and helpers.

    .venv/bin/python benchmarks/bench_runbooks.py --inventory /tmp/sl-bench/inventory-300000
    .venv/bin/python benchmarks/bench_runbooks.py [mailboxes]      # contoso with N generated mailboxes
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_moves_cli

import migrator.pipeline as pipeline
from migrator.render.runbooks import write_runbooks

ROOT = Path(__file__).resolve().parent.parent


class _Kept(Exception):
    """Stops the plan once the runbooks' arguments are kept."""


def _runbook_arguments(inv: Path, scratch: Path) -> tuple[Any, ...]:
    kept: list[tuple[Any, ...]] = []

    def keep(*args: Any) -> None:
        kept.append(args)
        raise _Kept

    real = pipeline.write_runbooks
    pipeline.write_runbooks = keep  # type: ignore[assignment]
    try:
        pipeline.plan_folder(inv, scratch)
    except _Kept:
        pass
    finally:
        pipeline.write_runbooks = real  # type: ignore[assignment]
    if not kept:
        raise SystemExit("the plan was not written: the inventory has error-level findings")
    return kept[0]


def _digest(folder: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        sha.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mailboxes", nargs="?", type=int, default=30_000)
    parser.add_argument("--inventory", type=Path, help="an inventory folder to plan as it is")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.inventory is not None:
            inv = args.inventory
        else:
            inv = Path(tmp) / "contoso"
            shutil.copytree(ROOT / "inventories" / "contoso", inv)
            bench_moves_cli.write_exports(inv, args.mailboxes)
        steps, _out, context = _runbook_arguments(inv, Path(tmp) / "plan")
        out = Path(tmp) / "runbooks"
        for _ in range(args.repeat):
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            cpu, wall = time.process_time(), time.perf_counter()
            written = write_runbooks(steps, out, context)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            print(
                f"{len(steps):,d} steps, {len(written):,d} runbooks: {cpu:.2f} s CPU, {wall:.2f} s wall",
                flush=True,
            )
        print(f"sha256 of every file written: {_digest(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
