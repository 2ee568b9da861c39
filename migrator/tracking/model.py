"""What a team typed into the tracking workbook, as plain data.

The writer (:mod:`migrator.render.workbook`) and the reader
(:mod:`migrator.tracking.read`) share these types; neither openpyxl nor
python-calamine appears here.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

CellValue = str | int | float | bool | dt.date | dt.datetime
"""A value a user typed into a cell of their own column (kept as read)."""


class Status(enum.Enum):
    """Status of a step as the team records it in the Steps sheet."""

    NOT_STARTED = "Not started"
    IN_PROGRESS = "In progress"
    DONE = "Done"
    BLOCKED = "Blocked"
    SKIPPED = "Skipped"

    @property
    def resolved(self) -> bool:
        """Whether dependents may start (Done or Skipped)."""
        return self in (Status.DONE, Status.SKIPPED)

    @classmethod
    def parse(cls, text: str) -> Status | None:
        """The status named by ``text`` (case and surrounding blanks ignored; blank = Not started)."""
        wanted = " ".join(text.split()).casefold()
        if not wanted:
            return cls.NOT_STARTED
        for status in cls:
            if status.value.casefold() == wanted:
                return status
        return None


STATUS_CHOICES = ", ".join(s.value for s in Status)
"""The valid statuses, for messages and the data-validation list."""


@dataclass(frozen=True)
class StepTracking:
    """One step's row as the team left it."""

    step_id: str
    """Step id (column ``ID``); empty for a row the team added without an id."""
    phase: str
    """Phase as written in the sheet (``relay``)."""
    title: str
    """Step title as written in the sheet."""
    prerequisites: tuple[str, ...]
    """Ids of the steps it needs, as stored in the sheet."""
    status: Status
    """Recorded status (a blank cell reads as Not started)."""
    done_date: dt.date | None = None
    """Date the step was done, if typed."""
    done_by: str = ""
    """Who did it."""
    notes: str = ""
    """Free notes."""
    extra: tuple[tuple[str, CellValue], ...] = ()
    """Values of the team's own columns (header, value), non-empty cells only."""
    row: int = 0
    """1-based sheet row it was read from (0 when not read from a sheet)."""
    owner: str = ""
    """Owner role as written in the sheet (empty when the column is absent)."""

    @property
    def typed_anything(self) -> bool:
        """Whether the team recorded anything beyond the default status."""
        return bool(
            self.status is not Status.NOT_STARTED
            or self.done_date
            or self.done_by
            or self.notes
            or self.extra
        )


@dataclass(frozen=True)
class Tracking:
    """A tracking workbook read back: every step row and what the team typed."""

    path: str
    """Workbook file as the user named it."""
    steps: tuple[StepTracking, ...]
    """Rows of the Steps sheet with a step id, in sheet order."""
    columns: tuple[str, ...]
    """Headers found in the Steps sheet, in sheet order."""
    extra_columns: tuple[str, ...] = ()
    """Headers of the team's own columns (not written by migrator), in sheet order."""
    removed: tuple[StepTracking, ...] = ()
    """Rows of an earlier "Removed steps" sheet, and Steps rows without an id that hold something."""

    @property
    def by_id(self) -> Mapping[str, StepTracking]:
        """Step id -> row."""
        return {s.step_id: s for s in self.steps}


@dataclass(frozen=True)
class CarryOver:
    """Tracking taken from an old workbook into a new plan."""

    source: str
    """The old workbook the tracking came from."""
    kept: Mapping[str, StepTracking] = field(default_factory=dict)
    """New step id -> the old row for that id (status, done date, done by, notes, own columns)."""
    removed: tuple[StepTracking, ...] = ()
    """Old rows whose step no longer exists (listed in the "Removed steps" sheet)."""
    new_step_ids: tuple[str, ...] = ()
    """Steps of the new plan the old workbook did not have, in run order."""
    extra_columns: tuple[str, ...] = ()
    """The team's own columns, carried over in their old order."""


STEPS_SHEET = "Steps"
"""Name of the sheet with one row per step."""
REMOVED_SHEET = "Removed steps"
"""Name of the sheet listing steps a re-plan dropped."""
PREREQUISITES_SHEET = "Prerequisites"
"""Name of the sheet with one row per edge, for steps whose prerequisite list is long.

Continuation sheets (``Prerequisites (2)``, ...) follow where one sheet's rows do not suffice."""
PREREQUISITES_HEADERS: tuple[str, ...] = ("Step ID", "Prerequisite")
"""Headers of the Prerequisites sheet."""
INLINE_PREREQUISITES = 50
"""Prerequisite lists up to this long are written in the step's cell; longer ones in the sheet."""
MAX_CELL_CHARS = 32_767
"""Excel's limit on the characters of one cell."""
MAX_SHEET_ROWS = 1_048_576
"""Excel's limit on the rows of one sheet (the header row included)."""


def prerequisites_note(count: int) -> str:
    """What a step's Prerequisites cell says when its list is in the Prerequisites sheet."""
    return f"{count} steps: see sheet '{PREREQUISITES_SHEET}'"


def prerequisites_note_count(text: str) -> int | None:
    """The count a :func:`prerequisites_note` gives, or None when ``text`` is not such a note."""
    head, sep, tail = text.strip().partition(" steps: see sheet ")
    if sep and tail == f"'{PREREQUISITES_SHEET}'" and head.isdigit():
        return int(head)
    return None


NEW_MARK = "new"
"""Value of the Plan change column for a step the previous workbook did not have."""

STEP_HEADERS: tuple[str, ...] = (
    "ID",
    "Phase",
    "Wave",
    "Title",
    "Server/domain/object",
    "Owner",
    "Runs in",
    "Runbook",
    "Section",
    "Prerequisites",
    "Planned start",
    "Planned finish",
    "Critical",
    "Status",
    "Done date",
    "Done by",
    "Notes",
    "Plan change",
)
"""Headers of the Steps sheet written by migrator, in order (the team's own columns may follow)."""

REQUIRED_HEADERS: tuple[str, ...] = (
    "ID",
    "Phase",
    "Title",
    "Prerequisites",
    "Status",
    "Done date",
    "Done by",
    "Notes",
)
"""Steps sheet columns the reader needs."""

REMOVED_HEADERS: tuple[str, ...] = (*REQUIRED_HEADERS, "Removed from")
"""Headers of the Removed steps sheet written by migrator."""
