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
    """``plan.json`` text: two-space indent, UTF-8 characters kept, trailing newline.

    The text of ``json.dumps(plan_document(plan, extra), indent=2, ensure_ascii=False)``;
    the steps (most of it) are written by :func:`_step_text` rather than by json's indenting
    encoder, which is pure Python (tests compare the two).
    """
    doc = plan_document(plan, extra)
    parts = []
    for key, value in doc.items():
        text = _STRING(key) + ": "
        if key == "steps":
            text += "[\n" + ",\n".join(map(_step_text, value)) + "\n  ]" if value else "[]"
        else:
            text += _indented(value, "  ")
        parts.append("  " + text)
    return "{\n" + ",\n".join(parts) + "\n}\n"


_STRING: Any = (
    getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring
)
"""A JSON string literal, non-ASCII characters kept (``ensure_ascii=False``), in C where it exists."""


def _indented(value: Any, pad: str) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)`` for a value whose line starts at ``pad``."""
    if type(value) is str:
        return str(_STRING(value))
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)
    if type(value) is list and all(type(v) is str for v in value):
        if not value:
            return "[]"
        inner = ",\n" + pad + "  "
        return "[" + inner[1:] + inner.join(map(_STRING, value)) + "\n" + pad + "]"
    # JSON strings hold no raw line break: every line after the first moves by pad
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + pad)


def _step_text(step: dict[str, Any]) -> str:
    return (
        "    {\n"
        + ",\n".join(
            "      " + _STRING(key) + ": " + _indented(value, "      ")
            for key, value in step.items()
        )
        + "\n    }"
    )


def write_plan_json(plan: MigrationPlan, path: Path, extra: dict[str, Any] | None = None) -> None:
    """Write ``plan.json`` atomically (UTF-8, LF)."""
    write_text(path, render_plan_json(plan, extra))
