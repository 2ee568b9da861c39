"""``plan.json``: the migration plan, machine-readable (documented in docs/plan.md).

Deterministic: steps in run order, keys in a fixed order, no clock; the same
plan always gives the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from migrator.fileio import write_text
from migrator.plan.schedule import needs_window
from migrator.plan.steps import MigrationPlan, Step

FORMAT_VERSION = 2
"""Bumped when a field changes meaning or disappears (adding fields keeps it)."""


def _step(plan: MigrationPlan, step: Step) -> dict[str, Any]:
    sched = plan.schedule[step.id]
    return {
        "id": step.id,
        "phase": step.phase.value,
        "title": step.title,
        "prerequisites": list(step.prerequisites),
        "dependents": list(plan.dependents(step.id)),
        "owner": step.owner.value,
        "runs_in": step.runs_in.value,
        "target": step.target,
        "duration_minutes": step.duration_minutes,
        "wait_minutes": step.wait_minutes,
        "reversible": step.reversible,
        "maintenance_window": needs_window(step),
        "runbook": step.runbook,
        "action": step.action.kind if step.action is not None else None,
        "start": sched.start.isoformat(timespec="minutes"),
        "finish": sched.finish.isoformat(timespec="minutes"),
        "wave": sched.wave,
        "critical": sched.critical,
        "verification": step.verification,
        "rollback": step.rollback,
        "instructions": step.instructions,
    }


def plan_document(plan: MigrationPlan, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The plan as plain JSON-ready data; ``extra`` adds top-level keys (``mailboxes``, ``waves``)."""
    finish = plan.finish
    doc = {
        "format_version": FORMAT_VERSION,
        "organisation": plan.organisation,
        "plan_date": plan.plan_date.isoformat(),
        "finish": finish.isoformat(timespec="minutes") if finish is not None else None,
        "critical_path": list(plan.critical_path),
        "step_waves": {str(k): list(v) for k, v in plan.waves.items()},
        "steps": [_step(plan, s) for s in plan.steps],
    }
    doc.update(extra or {})
    return doc


def render_plan_json(plan: MigrationPlan, extra: dict[str, Any] | None = None) -> str:
    """``plan.json`` text: two-space indent, UTF-8 characters kept, trailing newline."""
    return json.dumps(plan_document(plan, extra), indent=2, ensure_ascii=False) + "\n"


def write_plan_json(plan: MigrationPlan, path: Path, extra: dict[str, Any] | None = None) -> None:
    """Write ``plan.json`` atomically (UTF-8, LF)."""
    write_text(path, render_plan_json(plan, extra))
