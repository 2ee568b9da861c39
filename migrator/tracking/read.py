"""Read a tracking workbook back with python-calamine (values, not styles).

python-calamine reads 100,000 rows in about a second where openpyxl's
read-only mode takes many times longer, and ``status`` needs only values.
The reader tolerates what teams do to a sheet: rows sorted or filtered into
another order, columns of their own, blank rows. It refuses what would make
progress wrong (an unknown status, a missing required column, a duplicated
step id, a prerequisite naming no step) and names every such cell at once.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from python_calamine import CalamineWorkbook

from migrator.errors import Problem, WorkbookError
from migrator.tracking.model import (
    PREREQUISITES_HEADERS,
    PREREQUISITES_SHEET,
    REMOVED_HEADERS,
    REMOVED_SHEET,
    REQUIRED_HEADERS,
    STATUS_CHOICES,
    STEP_HEADERS,
    STEPS_SHEET,
    CellValue,
    Status,
    StepTracking,
    Tracking,
    prerequisites_note_count,
)
from migrator.xlsx_bounds import oversized, sheet_extents

_STATUS_BY_TEXT = {s.value: s for s in Status} | {"": Status.NOT_STARTED}
_SPLIT_IDS = re.compile(r"[\s,;]+")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$")


def column_letter(index: int) -> str:
    """Spreadsheet column letters for a 0-based column index (0 -> ``A``, 26 -> ``AA``)."""
    letters = ""
    n = index + 1
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _text(value: Any) -> str:
    """A cell as text (numbers typed into a text column keep their visible form)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _cell_value(value: Any) -> CellValue | None:
    """A cell of the team's own column, kept with its type where the workbook can hold it."""
    if value is None or value == "":
        return None
    if isinstance(value, str | bool | int | float | dt.datetime | dt.date):
        return value
    return _text(value)


class _SheetReader:
    """Reads the rows of one step sheet, collecting problems with their cells."""

    def __init__(
        self,
        file: str,
        sheet: str,
        rows: list[list[Any]],
        known: Sequence[str],
        required: Sequence[str],
    ) -> None:
        self.file = file
        self.sheet = sheet
        self.rows = rows
        self.problems: list[Problem] = []
        header = rows[0] if rows else []
        self.columns: dict[str, int] = {}
        self.extra: list[tuple[str, int]] = []
        headers_in_order: list[str] = []
        width = max((len(r) for r in rows), default=0)
        for i in range(width):
            name = _text(header[i]).strip() if i < len(header) else ""
            if not name:
                if not any(i < len(r) and r[i] not in ("", None) for r in rows[1:]):
                    continue
                name = f"Column {column_letter(i)}"
            if name in self.columns or any(name == n for n, _ in self.extra):
                self.problems.append(
                    Problem(self.where(1, i), f"column '{name}' appears twice; rename one of them")
                )
                continue
            headers_in_order.append(name)
            if name in known:
                self.columns[name] = i
            else:
                self.extra.append((name, i))
        self.headers = tuple(headers_in_order)
        self.referred: dict[str, tuple[int, int]] = {}
        """Step id -> (row, count) of the steps whose list is in the Prerequisites sheet."""
        for name in required:
            if name not in self.columns:
                self.problems.append(
                    Problem(
                        f"{file}, sheet '{sheet}', row 1",
                        f"required column '{name}' is missing; the columns migrator needs are "
                        f"{', '.join(required)} (restore the column with its header, "
                        "or keep a copy of the workbook and generate a new one)",
                    )
                )

    def where(self, row: int, col: int) -> str:
        return f"{self.file}, sheet '{self.sheet}', cell {column_letter(col)}{row}"

    def read(self) -> tuple[list[StepTracking], list[StepTracking]]:
        """Rows with a step id, and rows without one that still hold something."""
        keyed: list[StepTracking] = []
        unkeyed: list[StepTracking] = []
        if any(n not in self.columns for n in ("ID", "Status")):
            return keyed, unkeyed
        width = max((len(r) for r in self.rows), default=0)
        # Column positions; -1 (absent column) reads the blank appended to every row below.
        pos = {h: self.columns.get(h, -1) for h in (*STEP_HEADERS, *REMOVED_HEADERS)}
        i_id, i_phase, i_title = pos["ID"], pos["Phase"], pos["Title"]
        i_pre, i_status, i_date = pos["Prerequisites"], pos["Status"], pos["Done date"]
        i_by, i_notes, i_owner = pos["Done by"], pos["Notes"], pos["Owner"]
        extra_cols = self.extra
        for index, row in enumerate(self.rows[1:], start=2):
            if len(row) < width:
                row.extend([""] * (width - len(row)))
            row.append("")
            values = [v if type(v) is str else _text(v) for v in row]
            if not any(values):
                continue
            step_id = values[i_id].strip()
            status_text = values[i_status]
            status = _STATUS_BY_TEXT.get(status_text) or Status.parse(status_text)
            if status is None:
                self.problems.append(
                    Problem(
                        self.where(index, i_status),
                        f"'{status_text}' is not a status; expected one of {STATUS_CHOICES}",
                    )
                )
                status = Status.NOT_STARTED
            pre = values[i_pre]
            listed_apart = prerequisites_note_count(pre) if pre else None
            if listed_apart is not None:
                self.referred[step_id] = (index, listed_apart)
                pre = ""
            step = StepTracking(
                step_id=step_id,
                phase=values[i_phase].strip(),
                title=values[i_title],
                prerequisites=tuple(p for p in _SPLIT_IDS.split(pre) if p) if pre else (),
                status=status,
                done_date=self._date(index, i_date, row[i_date]) if values[i_date] else None,
                done_by=values[i_by],
                notes=values[i_notes],
                extra=tuple(
                    (name, v) for name, i in extra_cols if (v := _cell_value(row[i])) is not None
                )
                if extra_cols
                else (),
                row=index,
                owner=values[i_owner],
            )
            if step_id:
                keyed.append(step)
            else:
                unkeyed.append(step)  # something typed in a row without an id: keep it
        return keyed, unkeyed

    def _date(self, index: int, col: int, value: Any) -> dt.date | None:
        if value in ("", None):
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        text = _text(value).strip()
        if _ISO_DATE.match(text):
            try:
                return dt.date.fromisoformat(text[:10])
            except ValueError:
                pass
        self.problems.append(
            Problem(
                self.where(index, col),
                f"'{text}' is not a date; type a date such as 2026-12-01",
            )
        )
        return None


def sheet_rows(wb: CalamineWorkbook, name: str, file: str, path: Path) -> list[list[Any]]:
    """The cells of sheet ``name``; an oversized or damaged sheet is a :class:`WorkbookError`."""
    # A value typed far away (XFD1048576) would make calamine allocate the whole range.
    try:
        too_big = oversized(sheet_extents(path), name)
    except (OSError, ValueError, zipfile.BadZipFile, ElementTree.ParseError, KeyError):
        too_big = None  # calamine opened it; let it report what is wrong
    if too_big is not None:
        raise WorkbookError([Problem(f"{file}, sheet '{name}'", too_big)])
    try:
        # skip_empty_area=False keeps row 1 and column A where they are, so cell names stay right.
        rows: list[list[Any]] = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
    except Exception as exc:  # python_calamine.XmlError and kin: a damaged sheet
        raise WorkbookError(
            [
                Problem(
                    f"{file}, sheet '{name}'",
                    f"the sheet cannot be read ({exc}); expected a workbook saved whole by "
                    "Excel: save it again, or restore the backup beside it",
                )
            ]
        ) from exc
    return rows


def _read_prerequisites(
    file: str,
    path: Path,
    wb: CalamineWorkbook,
    names: list[str],
    referred: dict[str, tuple[int, int]],
) -> tuple[dict[str, tuple[str, ...]], list[Problem]]:
    """The long prerequisite lists of the Prerequisites sheet(s), checked against their notes."""
    sheets = [
        n for n in names if n == PREREQUISITES_SHEET or n.startswith(f"{PREREQUISITES_SHEET} (")
    ]
    problems: list[Problem] = []
    if not sheets:
        row, count = next(iter(referred.values()))
        return {}, [
            Problem(
                f"{file}, sheet '{STEPS_SHEET}', row {row}",
                f"the Prerequisites cell points at sheet '{PREREQUISITES_SHEET}' "
                f"({count} steps), but the workbook has no such sheet; restore it from a copy "
                "of the workbook or re-plan with --keep-status",
            )
        ]
    found: dict[str, list[str]] = {}
    for name in sheets:
        reader = _SheetReader(
            file,
            name,
            sheet_rows(wb, name, file, path),
            PREREQUISITES_HEADERS,
            PREREQUISITES_HEADERS,
        )
        problems += reader.problems
        if reader.problems:
            continue
        i_step, i_pre = (reader.columns[h] for h in PREREQUISITES_HEADERS)
        for cells in reader.rows[1:]:
            step_id = _text(cells[i_step]).strip() if i_step < len(cells) else ""
            pre = _text(cells[i_pre]).strip() if i_pre < len(cells) else ""
            if step_id and pre:
                found.setdefault(step_id, []).append(pre)
    for step_id, (row, count) in referred.items():
        got = len(found.get(step_id, ()))
        if got != count:
            problems.append(
                Problem(
                    f"{file}, sheet '{STEPS_SHEET}', row {row}",
                    f"step '{step_id}' has {count} prerequisites by its note, but sheet "
                    f"'{PREREQUISITES_SHEET}' lists {got}; restore the rows of that sheet",
                )
            )
    return {k: tuple(v) for k, v in found.items()}, problems


def _with_listed(
    steps: list[StepTracking], listed: dict[str, tuple[str, ...]]
) -> list[StepTracking]:
    return [
        replace(s, prerequisites=listed[s.step_id]) if s.step_id in listed else s for s in steps
    ]


def read_tracking(path: Path, display: str | None = None) -> Tracking:
    """Read the Steps (and any Removed steps) sheet of a tracking workbook.

    ``display`` is the file name used in messages (defaults to ``path`` as given).
    Raises :class:`WorkbookError` with every problem found.
    """
    file = display if display is not None else str(path)
    if not path.is_file():
        raise WorkbookError([Problem(file, "file not found")])
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own types for every kind of unreadable file
        raise WorkbookError(
            [Problem(file, f"cannot be read as an Excel workbook (.xlsx): {exc}")]
        ) from exc
    try:
        names = list(wb.sheet_names)
        if STEPS_SHEET not in names:
            raise WorkbookError(
                [
                    Problem(
                        file,
                        f"no sheet '{STEPS_SHEET}'; this is not a migrator tracking workbook "
                        f"(sheets found: {', '.join(repr(n) for n in names) or 'none'})",
                    )
                ]
            )
        steps_reader = _SheetReader(
            file,
            STEPS_SHEET,
            sheet_rows(wb, STEPS_SHEET, file, path),
            STEP_HEADERS,
            REQUIRED_HEADERS,
        )
        steps, unkeyed = steps_reader.read()
        problems = list(steps_reader.problems)
        removed: list[StepTracking] = []
        if REMOVED_SHEET in names:
            removed_reader = _SheetReader(
                file,
                REMOVED_SHEET,
                sheet_rows(wb, REMOVED_SHEET, file, path),
                # "Removed from" stays with the row as one of its own columns, so a later
                # re-plan still says which workbook the step was dropped from.
                [h for h in REMOVED_HEADERS if h != "Removed from"],
                ("ID", "Status"),
            )
            old_removed, old_unkeyed = removed_reader.read()
            removed = old_removed + old_unkeyed
            problems += removed_reader.problems
        referred = {**steps_reader.referred}
        if REMOVED_SHEET in names:
            referred |= removed_reader.referred
        if referred:
            listed, more = _read_prerequisites(file, path, wb, names, referred)
            problems += more
            steps = _with_listed(steps, listed)
            removed = _with_listed(removed, listed)
    finally:
        wb.close()

    seen: dict[str, int] = {}
    id_col = steps_reader.columns.get("ID", 0)
    for s in steps:
        if s.step_id in seen:
            problems.append(
                Problem(
                    steps_reader.where(s.row, id_col),
                    f"step id '{s.step_id}' also appears in row {seen[s.step_id]}; "
                    "each step has one row (delete the copy)",
                )
            )
        else:
            seen[s.step_id] = s.row
    pre_col = steps_reader.columns.get("Prerequisites", 0)
    for s in steps:
        for p in s.prerequisites:
            if p not in seen:
                problems.append(
                    Problem(
                        steps_reader.where(s.row, pre_col),
                        f"prerequisite '{p}' is not a step id in this sheet",
                    )
                )
    if problems:
        raise WorkbookError(problems)
    return Tracking(
        path=file,
        steps=tuple(steps),
        columns=steps_reader.headers,
        extra_columns=tuple(name for name, _ in steps_reader.extra),
        removed=tuple(unkeyed) + tuple(removed),
    )
