"""``migrator status CHECKLIST``: progress of a migration from its tracking workbook."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from migrator.cli import app, out

if TYPE_CHECKING:
    from migrator.tracking.model import StepTracking
    from migrator.tracking.progress import BlockedStep, Progress

_MAX_LISTED = 50


def _listed(ids: tuple[str, ...], limit: int = 10) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def render_progress(p: Progress, name: str) -> list[str]:
    """The report ``status`` prints, as lines (plain text, no markup)."""
    from migrator.tracking.model import Status

    lines = [f"{name}: {p.resolved} of {p.total} steps done or skipped"]
    lines.append("")
    lines.append("progress per phase:")
    width = max((len(ph.phase) for ph in p.phases), default=5)
    for ph in p.phases:
        c = ph.counts
        lines.append(
            f"  {ph.phase:<{width}}  {ph.resolved:>6}/{ph.total:<6} {ph.percent_done:>3}%  "
            f"done {c[Status.DONE]}, skipped {c[Status.SKIPPED]}, in progress {c[Status.IN_PROGRESS]}, "
            f"blocked {c[Status.BLOCKED]}, not started {c[Status.NOT_STARTED]}"
        )

    def section(title: str, items: list[list[str]]) -> None:
        lines.append("")
        lines.append(f"{title} ({len(items)}):" if items else f"{title}: none")
        for item in items[:_MAX_LISTED]:
            lines.extend(item)
        if len(items) > _MAX_LISTED:
            lines.append(f"  ... and {len(items) - _MAX_LISTED} more")

    def done_line(s: StepTracking) -> list[str]:
        who = ", ".join(x for x in (s.done_date.isoformat() if s.done_date else "", s.done_by) if x)
        return [f"  {s.step_id}" + (f" ({who})" if who else "")]

    def blocked_lines(b: BlockedStep) -> list[str]:
        rows = [f"  {b.step.step_id}: {b.step.title}"]
        if b.step.notes:
            rows.append(f"    notes: {' '.join(b.step.notes.split())}")
        if b.blocks:
            rows.append(f"    blocks {len(b.blocks)}: {_listed(b.blocks)}")
        else:
            rows.append("    blocks no other step")
        return rows

    section("done", [done_line(s) for s in p.done])
    section("blocked", [blocked_lines(b) for b in p.blocked])
    section("in progress", [[f"  {s.step_id}: {s.title}"] for s in p.in_progress])
    section(
        "can start now",
        [[f"  {s.step_id}: {s.title}" + (f" [{s.owner}]" if s.owner else "")] for s in p.can_start],
    )
    return lines


@app.command("status")
def status(
    checklist: Annotated[
        Path,
        typer.Argument(
            readable=False, help="The tracking workbook (checklist.xlsx) the team works in."
        ),
    ],
) -> None:
    """Show progress from a tracking workbook: per phase, done, blocked (and what it blocks), next."""
    from migrator.tracking.progress import progress
    from migrator.tracking.read import read_tracking

    tracking = read_tracking(checklist, display=str(checklist))
    for line in render_progress(progress(tracking), str(checklist)):
        out.print(line, markup=False)
