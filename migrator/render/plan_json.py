"""``plan.json``: the migration plan, machine-readable (documented in docs/plan.md).

Deterministic: steps in run order, keys in a fixed order, no clock; the same
plan always gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import chain
from operator import attrgetter, methodcaller
from pathlib import Path
from typing import Any

from migrator.fileio import write_text
from migrator.plan.schedule import needs_window
from migrator.plan.steps import MigrationPlan, Step
from migrator.render.inventory_json import JSON_STRING as _STRING
from migrator.render.inventory_json import scalar_column_json

FORMAT_VERSION = 2
"""Bumped when a field changes meaning or disappears (adding fields keeps it)."""


def _step_columns(plan: MigrationPlan, steps: Sequence[Step]) -> dict[str, list[Any]]:
    """Each field of plan.json's steps (in the document's key order) over ``steps``, in order."""
    ids = [step.id for step in steps]
    sched = list(map(plan.schedule.__getitem__, ids))
    minutes = methodcaller("isoformat", timespec="minutes")
    return {
        "id": ids,
        "phase": list(map(attrgetter("phase.value"), steps)),
        "title": list(map(attrgetter("title"), steps)),
        "prerequisites": list(map(list, map(attrgetter("prerequisites"), steps))),
        "dependents": list(map(list, map(plan.dependents, ids))),
        "owner": list(map(attrgetter("owner.value"), steps)),
        "runs_in": list(map(attrgetter("runs_in.value"), steps)),
        "target": list(map(attrgetter("target"), steps)),
        "duration_minutes": list(map(attrgetter("duration_minutes"), steps)),
        "wait_minutes": list(map(attrgetter("wait_minutes"), steps)),
        "reversible": list(map(attrgetter("reversible"), steps)),
        "maintenance_window": list(map(needs_window, steps)),
        "runbook": list(map(attrgetter("runbook"), steps)),
        "action": [s.action.kind if s.action is not None else None for s in steps],
        "start": list(map(minutes, map(attrgetter("start"), sched))),
        "finish": list(map(minutes, map(attrgetter("finish"), sched))),
        "wave": list(map(attrgetter("wave"), sched)),
        "critical": list(map(attrgetter("critical"), sched)),
        "verification": list(map(attrgetter("verification"), steps)),
        "rollback": list(map(attrgetter("rollback"), steps)),
        "instructions": list(map(attrgetter("instructions"), steps)),
    }


def _document(plan: MigrationPlan, steps: Any, extra: dict[str, Any] | None) -> dict[str, Any]:
    finish = plan.finish
    doc = {
        "format_version": FORMAT_VERSION,
        "organisation": plan.organisation,
        "plan_date": plan.plan_date.isoformat(),
        "finish": finish.isoformat(timespec="minutes") if finish is not None else None,
        "critical_path": list(plan.critical_path),
        "step_waves": {str(k): list(v) for k, v in plan.waves.items()},
        "steps": steps,
    }
    doc.update(extra or {})
    return doc


def plan_document(plan: MigrationPlan, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The plan as plain JSON-ready data; ``extra`` adds top-level keys (``mailboxes``, ``waves``)."""
    columns = _step_columns(plan, plan.steps)
    steps = [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    return _document(plan, steps, extra)


def render_plan_json(plan: MigrationPlan, extra: dict[str, Any] | None = None) -> str:
    """``plan.json`` text: two-space indent, UTF-8 characters kept, trailing newline.

    The text of ``json.dumps(plan_document(plan, extra), indent=2, ensure_ascii=False)``;
    the steps (most of it) are written column by column (:func:`_steps_pieces`) rather
    than by json's indenting encoder, which is pure Python (tests compare the two).
    """
    columns = _step_columns(plan, plan.steps)
    pieces = ["{\n"]
    for n, (key, value) in enumerate(_document(plan, columns, extra).items()):
        pieces += [",\n  " if n else "  ", _STRING(key), ": "]
        if value is columns:
            pieces += _steps_pieces(columns, len(plan.steps))
        else:
            pieces.append(_indented(value, "  "))
    pieces.append("\n}\n")
    return "".join(pieces)  # the only copy of the whole text


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
    if type(value) is list or type(value) is tuple:
        if not value:
            return "[]"
        inner = ",\n" + pad + "  "
        if all(type(v) is str for v in value):
            items = inner.join(map(_STRING, value))
        else:
            items = inner.join([_indented(v, pad + "  ") for v in value])
        return "[" + inner[1:] + items + "\n" + pad + "]"
    if type(value) is dict and all(type(k) is str for k in value):
        if not value:
            return "{}"
        inner = ",\n" + pad + "  "
        items = inner.join([_STRING(k) + ": " + _indented(v, pad + "  ") for k, v in value.items()])
        return "{" + inner[1:] + items + "\n" + pad + "}"
    # JSON strings hold no raw line break: every line after the first moves by pad
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + pad)


def _column_text(values: list[Any], pad: str) -> list[str]:
    """:func:`_indented` of each value, the common kinds a whole column at a time."""
    scalar = scalar_column_json(values)
    if scalar is not None:
        return scalar
    kinds = set(map(type, values))
    if kinds == {list} and set(map(type, chain.from_iterable(values))) <= {str}:
        inner = ",\n" + pad + "  "
        head, tail = "[" + inner[1:], "\n" + pad + "]"
        return [head + inner.join(map(_STRING, v)) + tail if v else "[]" for v in values]
    return [_indented(v, pad) for v in values]


def _steps_pieces(columns: dict[str, list[Any]], count: int) -> list[str]:
    """The ``steps`` array from its columns, in pieces: the keys interleaved with the values."""
    if not count:
        return ["[]"]
    pad = "      "
    width = 2 * len(columns) + 1  # per step: (text before, value) per key, then the close
    flat: list[str] = [""] * (width * count)
    for n, (key, values) in enumerate(columns.items()):
        before = ("    {\n" if n == 0 else ",\n") + pad + _STRING(key) + ": "
        flat[2 * n :: width] = [before] * count
        flat[2 * n + 1 :: width] = _column_text(values, pad)
    flat[width - 1 :: width] = ["\n    },\n"] * count
    flat[-1] = "\n    }\n  ]"
    return ["[\n", *flat]


def write_plan_json(plan: MigrationPlan, path: Path, extra: dict[str, Any] | None = None) -> None:
    """Write ``plan.json`` atomically (UTF-8, LF)."""
    write_text(path, render_plan_json(plan, extra))
