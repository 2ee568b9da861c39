"""Benchmark: the tracking workbook for a plan of 100,000 steps.

Measures, each in a fresh child process so peak memory is its own:

- writing ``checklist.xlsx`` with migrator's writer (goal: < 20 s, < 1 GiB);
- writing the same Steps rows with XlsxWriter's constant_memory mode (for the ratio);
- reading it back for ``migrator status`` (read_tracking + progress + report; goal: < 10 s),
  and the whole ``migrator status`` command as a user runs it.

Usage: python benchmarks/bench_workbook.py [--steps N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from migrator.plan.steps import MigrationPlan, Owner, Phase, RunsIn, ScheduledStep, Step
from migrator.tracking.model import STEP_HEADERS

START = dt.datetime(2026, 12, 1, 8, 0)


def make_plan(n: int) -> MigrationPlan:
    """``n`` steps over all phases; each needs the previous one and, every tenth, one further back."""
    phases = list(Phase)
    steps: list[Step] = []
    schedule: dict[str, ScheduledStep] = {}
    dependents: dict[str, list[str]] = {}
    for i in range(n):
        phase = phases[i * len(phases) // n]
        sid = f"{phase.value}.connector.EX16-{i % 7:02d}.relay-{i:06d}"
        pre: tuple[str, ...] = ()
        if steps:
            pre = (steps[-1].id,) + ((steps[-10].id,) if i % 10 == 0 and i >= 10 else ())
        steps.append(
            Step(
                id=sid,
                phase=phase,
                title=f"Create receive connector relay-{i:06d} on EX16-{i % 7:02d} for 10.{i % 250}.0.0/24",
                target=f"EX16-{i % 7:02d}",
                owner=Owner.EXCHANGE_ADMIN if i % 3 else Owner.DNS_ADMIN,
                runs_in=RunsIn.EMS_NEW,
                duration_minutes=15,
                prerequisites=pre,
                runbook=f"runbooks/{phase.number}-{phase.value}/EX16-{i % 7:02d}.ps1",
            )
        )
        start = START + dt.timedelta(minutes=15 * i)
        schedule[sid] = ScheduledStep(
            sid, i + 1, start, start + dt.timedelta(minutes=15), i % 2 == 0
        )
        for p in pre:
            dependents.setdefault(p, []).append(sid)
    return MigrationPlan(
        organisation="Contoso Ltd",
        plan_date=START.date(),
        steps=tuple(steps),
        schedule=schedule,
        critical_path=tuple(s.id for s in steps[::2]),
        dependents_of={k: tuple(v) for k, v in dependents.items()},
    )


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _write_migrator(n: int, path: str, out: Any) -> None:
    from migrator.render.views import WorkbookData
    from migrator.render.workbook import write_workbook

    plan = make_plan(n)
    before = _peak_mib()
    t = time.perf_counter()
    write_workbook(Path(path), WorkbookData(plan=plan))
    out.put({"seconds": time.perf_counter() - t, "peak_mib": _peak_mib(), "plan_mib": before})


def _write_xlsxwriter(n: int, path: str, out: Any) -> None:
    import xlsxwriter

    plan = make_plan(n)
    before = _peak_mib()
    t = time.perf_counter()
    wb = xlsxwriter.Workbook(path, {"constant_memory": True})
    ws = wb.add_worksheet("Steps")
    top = wb.add_format({"valign": "top"})
    wrap = wb.add_format({"valign": "top", "text_wrap": True})
    stamp = wb.add_format({"valign": "top", "num_format": "yyyy-mm-dd hh:mm"})
    day = wb.add_format({"valign": "top", "num_format": "yyyy-mm-dd"})
    for c, h in enumerate(STEP_HEADERS):
        ws.write_string(0, c, h, top)
    for r, s in enumerate(plan.steps, start=1):
        sc = plan.schedule[s.id]
        ws.write_string(r, 0, s.id, top)
        ws.write_string(r, 1, s.phase.value, top)
        ws.write_number(r, 2, sc.wave, top)
        ws.write_string(r, 3, s.title, wrap)
        ws.write_string(r, 4, s.target, wrap)
        ws.write_string(r, 5, s.owner.value, wrap)
        ws.write_string(r, 6, s.runs_in.value, wrap)
        ws.write_string(r, 7, s.runbook, wrap)
        ws.write_string(r, 8, f"region STEP {s.id}", wrap)
        ws.write_string(r, 9, "\n".join(s.prerequisites), wrap)
        ws.write_datetime(r, 10, sc.start, stamp)
        ws.write_datetime(r, 11, sc.finish, stamp)
        if sc.critical:
            ws.write_string(r, 12, "yes", top)
        ws.write_string(r, 13, "Not started", top)
        ws.write_blank(r, 14, None, day)
        ws.write_blank(r, 15, None, top)
        ws.write_blank(r, 16, None, wrap)
    ws.data_validation(
        1,
        13,
        n,
        13,
        {
            "validate": "list",
            "source": ["Not started", "In progress", "Done", "Blocked", "Skipped"],
        },
    )
    ws.freeze_panes(1, 1)
    wb.close()
    out.put({"seconds": time.perf_counter() - t, "peak_mib": _peak_mib(), "plan_mib": before})


def _read(path: str, out: Any) -> None:
    from migrator.cli.commands_status import render_progress
    from migrator.tracking.progress import progress
    from migrator.tracking.read import read_tracking

    t = time.perf_counter()
    tracking = read_tracking(Path(path))
    read_s = time.perf_counter() - t
    lines = render_progress(progress(tracking), path)
    out.put(
        {
            "seconds": time.perf_counter() - t,
            "read_seconds": read_s,
            "peak_mib": _peak_mib(),
            "steps": len(tracking.steps),
            "lines": len(lines),
        }
    )


def _child(target: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    result: dict[str, Any] = q.get()
    p.join()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100_000)
    args = ap.parse_args()
    n = args.steps
    with tempfile.TemporaryDirectory() as tmp:
        ours = str(Path(tmp) / "checklist.xlsx")
        theirs = str(Path(tmp) / "xlsxwriter.xlsx")
        w = _child(_write_migrator, n, ours)
        x = _child(_write_xlsxwriter, n, theirs)
        r = _child(_read, ours)
        t = time.perf_counter()
        cli = subprocess.run(
            [sys.executable, "-m", "migrator", "status", ours],
            capture_output=True,
            text=True,
            check=False,
        )
        cli_s = time.perf_counter() - t
        size = Path(ours).stat().st_size / 2**20
        xsize = Path(theirs).stat().st_size / 2**20

    print(f"steps: {n:,}")
    print(
        f"migrator write:            {w['seconds']:6.2f} s, peak RSS {w['peak_mib']:7.1f} MiB "
        f"(plan alone {w['plan_mib']:.1f} MiB), {size:.1f} MiB file  [goal < 20 s, < 1024 MiB]"
    )
    print(
        f"xlsxwriter constant_memory: {x['seconds']:5.2f} s, peak RSS {x['peak_mib']:7.1f} MiB, "
        f"{xsize:.1f} MiB file (Steps rows only)"
    )
    print(f"ratio migrator / xlsxwriter write time: {w['seconds'] / x['seconds']:.2f}")
    print(
        f"status in-process:         {r['seconds']:6.2f} s (read_tracking {r['read_seconds']:.2f} s), "
        f"peak RSS {r['peak_mib']:.1f} MiB, {r['steps']:,} steps  [goal < 10 s]"
    )
    print(f"migrator status (command): {cli_s:6.2f} s wall, exit code {cli.returncode}")
    ok = w["seconds"] < 20 and w["peak_mib"] < 1024 and r["seconds"] < 10 and cli.returncode == 0
    print("within goals" if ok else "GOALS MISSED")


if __name__ == "__main__":
    main()
