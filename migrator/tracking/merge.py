"""Carry a team's tracking from an old workbook into a new plan, losing nothing they typed."""

from __future__ import annotations

from dataclasses import replace

from migrator.plan.steps import MigrationPlan
from migrator.tracking.model import CarryOver, StepTracking, Tracking


def carry_over(old: Tracking, new_plan: MigrationPlan) -> CarryOver:
    """Match old rows to the new plan by step id.

    Every step id that still exists keeps its status, done date, done by,
    notes and the team's own columns. Old rows whose step is gone, and rows
    of an earlier "Removed steps" sheet, are returned as removed (a removed
    step that comes back takes its old row back). Steps the old workbook
    did not have are listed as new.
    """
    new_ids = {s.id for s in new_plan.steps}
    kept: dict[str, StepTracking] = {}
    removed: list[StepTracking] = []
    for row in old.steps:
        if row.step_id in new_ids:
            kept[row.step_id] = row
        else:
            removed.append(row)
    for row in old.removed:
        if row.step_id and row.step_id in new_ids and row.step_id not in kept:
            extra = tuple((k, v) for k, v in row.extra if k != "Removed from")
            kept[row.step_id] = replace(row, extra=extra)
        else:
            removed.append(row)
    extra_columns = list(old.extra_columns)
    for row in kept.values():
        extra_columns += [k for k, _ in row.extra if k not in extra_columns]
    known_before = {r.step_id for r in old.steps} | {r.step_id for r in old.removed}
    return CarryOver(
        source=old.path,
        kept=kept,
        removed=tuple(removed),
        new_step_ids=tuple(s.id for s in new_plan.steps if s.id not in known_before),
        extra_columns=tuple(extra_columns),
    )
