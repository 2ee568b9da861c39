"""The Mailboxes sheet of a tracking workbook: what the team typed (Wave (override), Status, Notes).

The next ``migrator plan`` into the same folder reads it before planning:
a mailbox with a wave typed in ``Wave (override)`` is pinned to that wave,
Status and Notes are carried into the new sheet. A bad cell is a problem
with its sheet cell (``checklist.xlsx, sheet 'Mailboxes', cell H7``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from migrator.errors import Problem, WorkbookError
from migrator.tracking.read import column_letter, sheet_rows

SHEET = "Mailboxes"


@dataclass(frozen=True)
class MailboxTyped:
    """What one row of the old sheet says."""

    wave: int | None
    """The wave the previous plan gave it."""
    override: int | None
    """The wave typed in Wave (override), if any."""
    status: str = ""
    """Status typed by the team."""
    notes: str = ""
    """Notes typed by the team."""
    where: str = ""
    """The override cell (for messages)."""


@dataclass
class MailboxSheet:
    """The old sheet: rows by primary SMTP address, the waves it had, problems."""

    rows: dict[str, MailboxTyped] = field(default_factory=dict)
    """Primary SMTP (lower-case) -> what the row says."""
    waves: set[int] = field(default_factory=set)
    """Wave numbers of the previous plan."""
    problems: list[Problem] = field(default_factory=list)
    """Bad cells."""

    @property
    def overrides(self) -> dict[str, int]:
        """Primary SMTP -> pinned wave."""
        return {k: v.override for k, v in self.rows.items() if v.override is not None}

    def overrides_where(self) -> dict[str, MailboxTyped]:
        """Primary SMTP -> the row, for rows with an override."""
        return {k: v for k, v in self.rows.items() if v.override is not None}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _wave(text: str) -> int | None:
    raw = text.strip().lower().removeprefix("wave-").removeprefix("wave ").strip()
    if not raw:
        return None
    if raw.isdigit():
        return int(raw)
    raise ValueError(text)


def read_mailbox_sheet(path: Path, display: str | None = None) -> MailboxSheet:
    """The Mailboxes sheet of ``path`` (empty when the workbook has none)."""
    out = MailboxSheet()
    file = display or str(path)
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception:  # the Steps reader reports an unreadable workbook
        return out
    try:
        if SHEET not in wb.sheet_names:
            return out
        rows = sheet_rows(wb, SHEET, file, path)  # bounded: never a 2^34-cell allocation
    except WorkbookError as exc:  # oversized or damaged: said with the file and sheet
        out.problems.extend(exc.problems)
        return out
    finally:
        wb.close()
    if not rows:
        return out
    header = {_text(h): i for i, h in enumerate(rows[0])}
    need = ("Mailbox", "Wave", "Wave (override)")
    missing = [h for h in need if h not in header]
    if missing:
        out.problems.append(
            Problem(
                f"{file}, sheet '{SHEET}'",
                f"column(s) {', '.join(repr(m) for m in missing)} missing; expected the columns "
                "migrator wrote (restore them, or delete the sheet to drop the overrides)",
            )
        )
        return out
    col = header["Wave (override)"]
    for r, row in enumerate(rows[1:], start=2):

        def cell(name: str, row: list[Any] = row) -> str:
            i = header.get(name)
            return _text(row[i]) if i is not None and i < len(row) else ""

        smtp = cell("Mailbox").lower()
        if not smtp:
            continue
        where = f"{file}, sheet '{SHEET}', cell {column_letter(col)}{r}"
        try:
            wave = _wave(cell("Wave"))
        except ValueError:
            wave = None
        try:
            override = _wave(cell("Wave (override)"))
        except ValueError:
            out.problems.append(
                Problem(
                    where,
                    f"'{cell('Wave (override)')}' is not a wave; expected a wave number such as 3",
                )
            )
            override = None
        if wave is not None:
            out.waves.add(wave)
        out.rows[smtp] = MailboxTyped(wave, override, cell("Status"), cell("Notes"), where)
    return out
