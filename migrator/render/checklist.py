"""Write ``checklist.xlsx`` for a plan, carrying over the tracking of the workbook it replaces.

This drives the reader and the carry-over (``migrator.tracking``) and the
renderer (``migrator.render.workbook``); it is what ``migrator plan`` calls.
It lives with the renderers so imports run one way, ``tracking -> render``. The old file is copied to a backup named after its
own modification time (``checklist.20261201-083000.xlsx``), so a re-run gives
the same name, and an existing backup is never overwritten.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, replace
from pathlib import Path

from migrator.fileio import atomic_write_bytes
from migrator.render.views import WorkbookData
from migrator.tracking.merge import carry_over
from migrator.tracking.read import read_tracking


@dataclass(frozen=True)
class ChecklistResult:
    """What writing the checklist did."""

    path: Path
    """The workbook written."""
    backup: Path | None = None
    """Copy of the workbook it replaced (None when there was none)."""
    carried_from: str | None = None
    """Workbook whose tracking was carried over (None for a first plan)."""
    kept: int = 0
    """Steps whose tracking was carried over."""
    removed: int = 0
    """Old steps listed in the Removed steps sheet."""
    new: int = 0
    """Steps marked new."""


def backup_path(path: Path) -> Path:
    """Where the current ``path`` is kept: named from its own mtime (UTC), never the clock.

    When that name is taken by a different file, ``-2``, ``-3``... are added.
    """
    mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
    stem = f"{path.stem}.{mtime:%Y%m%d-%H%M%S}"
    candidate = path.with_name(f"{stem}{path.suffix}")
    n = 2
    current = path.read_bytes()
    while candidate.exists() and candidate.read_bytes() != current:
        candidate = path.with_name(f"{stem}-{n}{path.suffix}")
        n += 1
    return candidate


def write_checklist(
    path: Path, data: WorkbookData, keep_status: Path | None = None
) -> ChecklistResult:
    """Write the tracking workbook to ``path``.

    Tracking is taken from ``keep_status`` when given, else from ``path`` if it
    exists. A workbook that cannot be read raises
    :class:`~migrator.errors.WorkbookError` and
    nothing is written (the team's file is never replaced by one without their
    tracking). The file being replaced is first copied to :func:`backup_path`.
    """
    source = keep_status if keep_status is not None else (path if path.exists() else None)
    carry = None
    if source is not None:
        old = read_tracking(source)
        carry = carry_over(old, data.plan)
        data = replace(data, carry=carry)
    backup = None
    if path.exists():
        backup = backup_path(path)
        if not backup.exists():
            atomic_write_bytes(backup, path.read_bytes())
            stat = path.stat()
            os.utime(backup, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    from migrator.render.workbook import write_workbook  # openpyxl: imported where it is used

    write_workbook(path, data)
    return ChecklistResult(
        path=path,
        backup=backup,
        carried_from=carry.source if carry else None,
        kept=len(carry.kept) if carry else 0,
        removed=len(carry.removed) if carry else 0,
        new=len(carry.new_step_ids) if carry else 0,
    )
