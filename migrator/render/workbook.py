"""The project-tracking workbook (``checklist.xlsx``), written with openpyxl in write-only mode.

Sheets: Overview (live COUNTIFS formulas over the Steps sheet), Steps (one row
per step in run order, with a status list, conditional formatting and print
setup), Relay, Relay clients, Identities, DNS, Findings, and "Removed steps"
after a re-plan that dropped steps.

Every value that comes from the inventory or from a team's old workbook is
written as a typed value, never a formula: strings are forced to inline
strings, so ``=HYPERLINK(...)`` or ``+cmd|' /C calc'!A0`` stays text. The only
formulas are the Overview's, built here from fixed cell references.

Write-only mode streams rows, so a plan of 100,000 steps fits in little
memory; the file is written to a temporary name beside the target and renamed.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from copy import copy
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.workbook.properties import CalcProperties
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo
from openpyxl.writer.excel import ExcelWriter

from migrator.errors import Problem, WorkbookError
from migrator.fileio import temp_file_beside
from migrator.model import Finding
from migrator.plan.steps import MigrationPlan, Owner, Phase, Step
from migrator.render.views import WorkbookData
from migrator.tracking.model import (
    INLINE_PREREQUISITES,
    MAX_CELL_CHARS,
    MAX_SHEET_ROWS,
    NEW_MARK,
    PREREQUISITES_HEADERS,
    PREREQUISITES_SHEET,
    REMOVED_HEADERS,
    REMOVED_SHEET,
    STATUS_CHOICES,
    STEP_HEADERS,
    STEPS_SHEET,
    CarryOver,
    CellValue,
    Status,
    StepTracking,
    prerequisites_note,
)

# Row types live in migrator.render.views (shared with the HTML report).


# --------------------------------------------------------------------------- sheet layout

_STEP_WIDTHS: dict[str, tuple[float, bool]] = {
    "ID": (38, False),
    "Phase": (13, False),
    "Wave": (7, False),
    "Title": (48, True),
    "Server/domain/object": (28, True),
    "Owner": (20, True),
    "Runs in": (22, True),
    "Runbook": (30, True),
    "Section": (30, True),
    "Prerequisites": (38, True),
    "Planned start": (17, False),
    "Planned finish": (17, False),
    "Critical": (9, False),
    "Status": (13, False),
    "Done date": (12, False),
    "Done by": (16, False),
    "Notes": (40, True),
    "Plan change": (12, False),
    "Removed from": (24, True),
}
"""Width and wrapping per column of the Steps and Removed steps sheets."""

STEP_COLUMNS = tuple((h, *_STEP_WIDTHS[h]) for h in STEP_HEADERS)
"""Steps sheet columns: header, width, wrapped."""
REMOVED_COLUMNS = tuple((h, *_STEP_WIDTHS[h]) for h in REMOVED_HEADERS)
"""Removed steps sheet columns: header, width, wrapped."""
STEPS_TABLE = "StepsTable"
"""Name of the Excel table on the Steps sheet."""

_COL = {name: get_column_letter(i) for i, name in enumerate(STEP_HEADERS, 1)}

_DATE = "yyyy-mm-dd"
_DATETIME = "yyyy-mm-dd hh:mm"
_WRAP = Alignment(wrap_text=True, vertical="top")
_TOP = Alignment(vertical="top")
_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)

# Characters XML 1.0 cannot hold (openpyxl refuses them); they become U+FFFD.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_MAX_CELL = MAX_CELL_CHARS
_MAX_DATA_ROWS = MAX_SHEET_ROWS - 1
_PRESERVE = ' xml:space="preserve"'
_BLOCK_ROWS = 2048
"""Rows made at once, column by column (``_RowStream.extend``)."""
_BLOCKS_BUFFERED = 4
"""Blocks of rows held before they go to the temporary file."""
ZIP_LEVEL = 3
"""zlib level of every part of the workbook. The sheets of a large plan are hundreds of MB
of XML: level 3 deflates them in a quarter of the default level's (6) time for a file about a
tenth larger (300,000 users: 0.43 s and 13.5 MB against 1.63 s and 12.1 MB)."""


def cell_text(value: str) -> str:
    """``value`` made storable in a cell: illegal XML characters replaced, cut at Excel's limit.

    Line ends become LF: XML readers turn a raw CR into LF anyway, so saying so here
    keeps what is written equal to what is read back.
    """
    text = _ILLEGAL.sub("\ufffd", value.replace("\r\n", "\n").replace("\r", "\n"))
    if len(text) > _MAX_CELL:
        text = text[: _MAX_CELL - 1] + "\u2026"
    return text


class _Cells:
    """Makes write-only cells with a shared set of styles (each style is registered once)."""

    def __init__(self, ws: WriteOnlyWorksheet) -> None:
        self.ws = ws
        self._templates: dict[tuple[str, str], Cell] = {}

    def style_id(self, kind: str, fmt: str = "") -> int:
        """Index of the cell format for ``kind`` and number format ``fmt`` (registered once)."""
        template = self._template(kind, fmt)
        sid: int = template.style_id
        return sid

    def _styled(self, kind: str, fmt: str) -> Cell:
        cell = WriteOnlyCell(self.ws)
        cell._style = copy(self._template(kind, fmt)._style)
        return cell

    def _template(self, kind: str, fmt: str) -> Cell:
        template = self._templates.get((kind, fmt))
        if template is None:
            template = WriteOnlyCell(self.ws)
            template.alignment = _WRAP if kind == "wrap" else _TOP
            if kind == "bold":
                template.font = _BOLD
            elif kind == "title":
                template.font = _TITLE
            if fmt:
                template.number_format = fmt
            self._templates[(kind, fmt)] = template
        return template

    def value(
        self, value: CellValue | None, kind: str = "top", fmt: str = "", keep: bool = False
    ) -> Cell | None:
        """A cell holding ``value`` as data (strings never become formulas).

        An empty value gives no cell, or with ``keep`` an empty cell that already
        has the column's style, for the columns the team types into.
        """
        if value is None or value == "":
            return self._styled(kind, fmt) if keep else None
        if isinstance(value, str):
            cell = self._styled(kind, fmt)
            cell.value = cell_text(value)
            # openpyxl takes a leading "=" for a formula and "#N/A" for an error: force text.
            cell.data_type = "s"
            return cell
        if isinstance(value, bool):
            cell = self._styled(kind, fmt)
            cell.value = value
            return cell
        if isinstance(value, dt.datetime):
            cell = self._styled(kind, fmt or _DATETIME)
            cell.value = value.replace(tzinfo=None)
            return cell
        if isinstance(value, dt.date):
            cell = self._styled(kind, fmt or _DATE)
            cell.value = value
            return cell
        cell = self._styled(kind, fmt)
        cell.value = value
        return cell

    def formula(self, formula: str, fmt: str = "", kind: str = "top") -> Cell:
        """A cell holding one of the Overview's own formulas (never inventory data)."""
        cell = self._styled(kind, fmt)
        cell.value = formula
        cell.data_type = "f"
        return cell


@dataclass(frozen=True)
class _Column:
    """How one column of a data table is written."""

    kind: str = "top"
    """Cell format: ``top`` or ``wrap``."""
    fmt: str = ""
    """Number format, if any (dates get a date format anyway)."""
    keep: bool = False
    """Write an empty styled cell when there is no value (columns the team types into)."""


class _RowStream:
    """The data rows of one sheet, streamed to a temporary file as SpreadsheetML.

    openpyxl's write-only cells cost about 25 us each, too slow for 100,000
    steps of 18 columns; these rows are formatted directly and spliced into
    the sheet openpyxl writes (header, table, validation, formatting). Every
    string is an inline string and there is no way to write a formula here,
    so inventory text can never become one.
    """

    def __init__(self, cells: _Cells, columns: Sequence[_Column], first_row: int = 2) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by save_workbook)
        self._row = first_row
        self._buffer: list[str] = []
        self._columns = list(columns)
        self._cells = cells
        self._letters = [get_column_letter(i) for i in range(1, len(columns) + 1)]
        self._styles: dict[tuple[int, str], int] = {}
        self._plain: list[int | None] = [None] * len(self._columns)
        """Each column's style id for text (the common case), once known."""
        self._serials: dict[dt.datetime, str] = {}
        """Excel serial (as written) of each naive date and time met."""

    def _sid(self, col: int, value_type: str) -> int:
        key = (col, value_type)
        sid = self._styles.get(key)
        if sid is None:
            c = self._columns[col]
            fmt = c.fmt or {"datetime": _DATETIME, "date": _DATE}.get(value_type, "")
            sid = self._styles[key] = self._cells.style_id(c.kind, fmt)
        return sid

    def append(self, values: Sequence[CellValue | None]) -> None:
        """Write one row (``values`` in column order; None or "" for an empty cell)."""
        self.extend((values,))

    def extend(self, rows: Iterable[Sequence[CellValue | None]]) -> None:
        """Write rows in order (each as :meth:`append` does), a block of rows at a time."""
        it = iter(rows)
        while block := list(islice(it, _BLOCK_ROWS)):
            self._block(block)

    def _block(self, rows: Sequence[Sequence[CellValue | None]]) -> None:
        """Rows as one ``%`` template each, made per column for the block.

        A column whose values in the block are all plain text (non-empty printable
        ASCII within the cell limit, no space at either end: the common case) is tested
        and escaped at once and goes into the template as its cell; any other column's
        cells are made one by one (:meth:`_cell`) and go in whole. Both give the same
        XML for a value.
        """
        first = self._row
        self._row += len(rows)
        numbers = [str(r) for r in range(first, first + len(rows))]
        # rows of unequal length (none of this module's sheets): cell by cell
        columns = list(zip(*rows, strict=True)) if len(set(map(len, rows))) == 1 else None
        template = ['<row r="%s">']
        args: list[Sequence[str]] = [numbers]
        if columns is None:
            template.append("%s")
            args.append(
                [
                    "".join([self._cell(i, r, v) for i, v in enumerate(row)])
                    for r, row in zip(numbers, rows, strict=True)
                ]
            )
        else:
            for i, values in enumerate(columns):
                texts = self._plain_texts(values)
                if texts is None:
                    template.append("%s")
                    if self._columns[i].keep:
                        cells = [self._cell(i, r, v) for r, v in zip(numbers, values, strict=True)]
                    else:  # an empty value is no cell
                        cells = [
                            "" if v is None or v == "" else self._cell(i, r, v)
                            for r, v in zip(numbers, values, strict=True)
                        ]
                    args.append(cells)
                else:
                    ref = f"{self._letters[i]}%s"
                    template.append(
                        f'<c r="{ref}" s="{self._text_sid(i)}" t="inlineStr"><is><t>%s</t></is></c>'
                    )
                    args += [numbers, texts]
        template.append("</row>")
        row = "".join(template)
        self._buffer.append("".join([row % values for values in zip(*args, strict=True)]))
        if len(self._buffer) >= _BLOCKS_BUFFERED:
            self.flush()

    @staticmethod
    def _plain_texts(values: Sequence[CellValue | None]) -> list[str] | None:
        """The values XML-escaped, where every one is plain text (see :meth:`_block`); else None."""
        if set(map(type, values)) != {str} or "" in values:
            return None
        texts: Sequence[str] = values  # type: ignore[assignment]
        flat = "".join(texts)
        if not (flat.isascii() and flat.isprintable()) or max(map(len, texts)) > _MAX_CELL:
            return None
        lines = "\n".join(texts)  # printable ASCII holds no line end: "\n" parts the values
        if lines[:1] == " " or lines[-1:] == " " or "\n " in lines or " \n" in lines:
            return None  # a space at either end of a value: that cell says xml:space="preserve"
        if "&" in flat or "<" in flat or ">" in flat:
            lines = lines.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return lines.split("\n")

    def _text_sid(self, i: int) -> int:
        sid = self._plain[i]
        if sid is None:
            sid = self._plain[i] = self._sid(i, "")
        return sid

    def _cell(self, i: int, r: str, value: CellValue | None) -> str:
        """The cell of ``value`` in column ``i`` of row ``r`` (an empty string for no cell)."""
        if value is None or value == "":
            if self._columns[i].keep:
                return f'<c r="{self._letters[i]}{r}" s="{self._sid(i, "")}"/>'
            return ""
        if type(value) is not str:
            return self._other(i, f"{self._letters[i]}{r}", value)
        sid = self._text_sid(i)
        if value.isascii() and value.isprintable() and len(value) <= _MAX_CELL:
            # the common case: nothing to replace or cut (cell_text would return it as is)
            text = value
            space = text[0] == " " or text[-1] == " "
        else:
            text = cell_text(value)
            space = text != text.strip()
        if "&" in text or "<" in text or ">" in text:
            text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return (
            f'<c r="{self._letters[i]}{r}" s="{sid}" t="inlineStr"><is><t'
            f"{_PRESERVE if space else ''}>{text}</t></is></c>"
        )

    def _other(self, i: int, ref: str, value: CellValue) -> str:
        """The cell of a value that is not a non-empty ``str``."""
        if isinstance(value, str):  # a subclass of str
            text = cell_text(value)
            space = ' xml:space="preserve"' if text != text.strip() else ""
            return (
                f'<c r="{ref}" s="{self._sid(i, "")}" t="inlineStr">'
                f"<is><t{space}>{xml_escape(text)}</t></is></c>"
            )
        if isinstance(value, bool):
            return f'<c r="{ref}" s="{self._sid(i, "")}" t="b"><v>{int(value)}</v></c>'
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:  # a plan's times: many steps share one, made once
                serial = self._serials.get(value)
                if serial is None:
                    serial = self._serials[value] = repr(to_excel(value))
            else:
                serial = repr(to_excel(value.replace(tzinfo=None)))
            return f'<c r="{ref}" s="{self._sid(i, "datetime")}"><v>{serial}</v></c>'
        if isinstance(value, dt.date):
            return f'<c r="{ref}" s="{self._sid(i, "date")}"><v>{to_excel(value)!r}</v></c>'
        if isinstance(value, int) or math.isfinite(value):
            return f'<c r="{ref}" s="{self._sid(i, "")}"><v>{value!r}</v></c>'
        # nan or infinity: Excel has no such number; keep the text
        return f'<c r="{ref}" s="{self._sid(i, "")}" t="inlineStr"><is><t>{value!r}</t></is></c>'

    def flush(self) -> None:
        """Move buffered rows to the temporary file."""
        if self._buffer:
            self.file.write("".join(self._buffer).encode("utf-8"))
            self._buffer.clear()


@dataclass
class _Book:
    """A workbook being built: openpyxl's write-only workbook and the rows streamed per sheet."""

    wb: Workbook
    """The workbook (sheets, styles, tables, validation, formatting, small sheets' cells)."""
    rows: list[tuple[WriteOnlyWorksheet, _RowStream]] = field(default_factory=list)
    """Sheets and their streamed data rows."""
    long_prerequisites: list[tuple[str, str]] = field(default_factory=list)
    """(step id, prerequisite) of the steps whose list is too long for their cell."""

    def stream(
        self, ws: WriteOnlyWorksheet, cells: _Cells, columns: Sequence[_Column]
    ) -> _RowStream:
        """A row stream for ``ws``, spliced into it on save."""
        stream = _RowStream(cells, columns)
        self.rows.append((ws, stream))
        return stream


def _setup_table_sheet(
    ws: WriteOnlyWorksheet, columns: Sequence[tuple[str, float, bool]], landscape: bool = True
) -> None:
    for i, (_, width, _wrap) in enumerate(columns, 1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "B2" if columns and columns[0][0] == "ID" else "A2"
    ws.print_title_rows = "1:1"
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)


def _add_table(
    ws: WriteOnlyWorksheet, name: str, headers: Sequence[str], rows: int, style: str
) -> str:
    """Add an Excel table over the header and ``rows`` data rows; returns its range.

    The table carries its own auto-filter; the sheet gets none, because a
    sheet filter over the same cells makes Excel repair the file.
    """
    last = get_column_letter(len(headers))
    ref = f"A1:{last}{max(rows, 1) + 1}"
    table = Table(displayName=name, ref=ref, autoFilter=AutoFilter(ref=ref))
    # Write-only sheets cannot read headers back, so the columns are named here.
    table.tableColumns = [TableColumn(id=i, name=h) for i, h in enumerate(headers, 1)]
    table.tableStyleInfo = TableStyleInfo(name=style, showRowStripes=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "add table columns manually": done above
        ws.add_table(table)
    return ref


def _table_sheet(
    book: _Book,
    title: str,
    table_name: str,
    columns: Sequence[tuple[str, float, bool]],
    rows: Sequence[Sequence[CellValue | None]],
) -> WriteOnlyWorksheet:
    """A sheet holding one table of plain values.

    Rows beyond one sheet's limit (1,048,575 under the header) go on to
    continuation sheets, ``<title> (2)`` and so on, each with its own table.
    """
    ws: WriteOnlyWorksheet | None = None
    for part, first in enumerate(range(0, max(len(rows), 1), _MAX_DATA_ROWS), start=1):
        chunk = rows[first : first + _MAX_DATA_ROWS]
        sheet = book.wb.create_sheet(title if part == 1 else f"{title} ({part})")
        _setup_table_sheet(sheet, columns)
        name = table_name if part == 1 else f"{table_name}{part}"
        _add_table(sheet, name, [c[0] for c in columns], len(chunk), "TableStyleMedium2")
        cells = _Cells(sheet)
        sheet.append([cells.value(c[0], "bold") for c in columns])
        stream = book.stream(sheet, cells, [_Column("wrap" if c[2] else "top") for c in columns])
        stream.extend(chunk)
        ws = ws or sheet
    assert ws is not None
    return ws


def _lines(values: Iterable[str]) -> str:
    return "\n".join(values)


def _prerequisites_cell(
    step_id: str, prerequisites: Sequence[str], edges: list[tuple[str, str]]
) -> str:
    """The Prerequisites cell of a step: the ids, or a note where they go to the sheet.

    A long list (more than :data:`INLINE_PREREQUISITES` ids, or more than a cell
    holds) is added to ``edges``, one (step, prerequisite) pair per row of the
    Prerequisites sheet, and the cell says how many there are and where.
    """
    text = _lines(prerequisites)
    if len(prerequisites) <= INLINE_PREREQUISITES and len(text) <= _MAX_CELL:
        return text
    edges.extend((step_id, p) for p in prerequisites)
    return prerequisites_note(len(prerequisites))


# --------------------------------------------------------------------------- the sheets


def _next_steps(data: WorkbookData) -> list[Step]:
    """Steps that can start given the carried-over status: all prerequisites Done or Skipped."""
    kept = data.carry.kept if data.carry else {}

    def status(step_id: str) -> Status:
        row = kept.get(step_id)
        return row.status if row else Status.NOT_STARTED

    out = []
    for step in data.plan.steps:
        if status(step.id) is not Status.NOT_STARTED:
            continue
        if all(status(p).resolved for p in step.prerequisites):
            out.append(step)
            if len(out) >= data.max_next_steps:
                break
    return out


def _critical_minutes(plan: MigrationPlan) -> int:
    total = 0
    for step_id in plan.critical_path:
        step = plan.step(step_id)
        total += step.duration_minutes + step.wait_minutes
    return total


def _duration_text(minutes: int) -> str:
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    parts.append(f"{hours} h {mins:02d} min")
    return " ".join(parts)


_STATUS_HEADERS = ("In progress", "Done", "Blocked", "Skipped")


_OVERVIEW_MIN = (12, 8, 8, 8, 8, 8, 8, 8, 20)
"""Narrowest width of each Overview column (A to I)."""
_OVERVIEW_WRAP_MAX = 80
"""Widest a wrapped text column grows."""


def _shown_width(cell: Cell, steps: int) -> int:
    """Characters ``cell`` shows: its text, its date or time format, or the number a formula gives."""
    value = cell.value
    if cell.data_type == "f":
        return 4 if "%" in cell.number_format else len(f"{steps}")
    if isinstance(value, dt.datetime | dt.date):
        return len(cell.number_format)  # "yyyy-mm-dd hh:mm" shows as many characters
    if isinstance(value, str):
        return max((len(line) for line in value.split("\n")), default=0)
    return len(str(value))


def _overview_widths(rows: Sequence[Sequence[Cell | None]], steps: int) -> list[float]:
    """Each column as wide as its longest formatted value (never ``###``).

    A text with nothing to its right on its row flows into the empty cells and
    does not widen its column (the title, the notes); numbers and dates never
    flow, so they always count.
    """
    widths = list(_OVERVIEW_MIN)
    for row in rows:
        for i, cell in enumerate(row):
            if cell is None or i >= len(widths):
                continue
            flows = isinstance(cell.value, str) and cell.data_type == "s"
            if flows and all(c is None for c in row[i + 1 :]):
                continue
            shown = _shown_width(cell, steps) + 2
            if cell.font is not None and cell.font.b:
                shown += 1 + shown // 10  # bold is wider
            if cell.alignment is not None and cell.alignment.wrap_text:
                shown = min(shown, _OVERVIEW_WRAP_MAX)
            widths[i] = max(widths[i], shown)
    return [float(w) for w in widths]


def _write_overview(wb: Workbook, data: WorkbookData) -> None:
    ws: WriteOnlyWorksheet = wb.create_sheet("Overview")
    ws.page_setup.orientation = "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    c = _Cells(ws)
    plan = data.plan
    steps_col = {k: f"{STEPS_SHEET}!${v}:${v}" for k, v in _COL.items()}
    row = 0
    rows: list[list[Cell | None]] = []

    def put(*values: Cell | None) -> int:
        nonlocal row
        rows.append(list(values))
        row += 1
        return row

    put(c.value("Migration checklist", "title"))
    put(c.value("Organisation", "bold"), c.value(plan.organisation))
    put(c.value("Plan date", "bold"), c.value(plan.plan_date))
    put(c.value("Planned finish", "bold"), c.value(plan.finish))
    put(
        c.value("Critical path", "bold"),
        c.value(len(plan.critical_path)),
        c.value(f"steps, {_duration_text(_critical_minutes(plan))} with waits"),
    )
    total_row = put(
        c.value("Steps", "bold"),
        c.formula(f'=COUNTIFS({steps_col["ID"]},"?*")-1'),
    )
    put(
        c.value("Done or skipped", "bold"),
        c.formula(
            f'=COUNTIFS({steps_col["Status"]},"Done")+COUNTIFS({steps_col["Status"]},"Skipped")'
        ),
        c.formula(f"=IF(B{total_row}=0,0,B{total_row + 1}/B{total_row})", "0%"),
    )
    if data.carry is not None:
        put(
            c.value("Since the previous workbook", "bold"),
            c.value(len(data.carry.new_step_ids)),
            c.value("new steps (marked 'new' in column Plan change)"),
        )
        put(
            None,
            c.value(len(data.carry.removed)),
            c.value(f"removed steps (see sheet '{REMOVED_SHEET}')"),
        )
        put(c.value("Tracking carried over from", "bold"), c.value(data.carry.source))
    for label, value in sorted(data.extra.items()):
        put(c.value(label, "bold"), c.value(value))
    put(c.value("Counts update from the Steps sheet; Done and Skipped count as done."))

    def summary(title: str, key_column: str, keys: Sequence[str]) -> None:
        put()
        header = put(
            *(
                c.value(h, "bold")
                for h in (title, "Steps", "Not started", *_STATUS_HEADERS, "% done")
            )
        )
        first = header + 1
        for key in keys:
            r = row + 1
            in_key = f"{steps_col[key_column]},$A{r}"
            counts = [
                c.formula(f"=COUNTIFS({in_key},{steps_col['Status']},{col}${header})")
                for col in "DEFG"
            ]
            put(
                c.value(key),
                c.formula(f"=COUNTIFS({in_key})"),
                c.formula(f"=B{r}-SUM(D{r}:G{r})"),
                *counts,
                c.formula(f"=IF(B{r}=0,0,(E{r}+G{r})/B{r})", "0%"),
            )
        last = row
        r = row + 1
        put(
            c.value("Total", "bold"),
            *(c.formula(f"=SUM({col}{first}:{col}{last})", kind="bold") for col in "BCDEFG"),
            c.formula(f"=IF(B{r}=0,0,(E{r}+G{r})/B{r})", "0%", kind="bold"),
        )

    present_phases = {s.phase for s in plan.steps}
    summary("Phase", "Phase", [p.value for p in Phase if p in present_phases])
    present_owners = {s.owner for s in plan.steps}
    summary("Owner", "Owner", [o.value for o in Owner if o in present_owners])

    put()
    put(
        c.value(
            "Next steps when this workbook was written (run 'migrator status' for the current list)",
            "bold",
        )
    )
    put(
        *(
            c.value(h, "bold")
            for h in ("ID", "Wave", "Planned start", "Owner", "", "", "", "", "Title")
        )
    )
    nexts = _next_steps(data)
    for step in nexts:
        sched = plan.schedule.get(step.id)
        put(
            c.value(step.id),
            c.value(sched.wave if sched else None),
            c.value(sched.start if sched else None),
            c.value(step.owner.value),
            None,
            None,
            None,
            None,
            c.value(step.title, "wrap"),
        )
    if not nexts:
        put(c.value("none: every step is done, skipped, started or waiting for a prerequisite"))
    # Widths first (write-only sheets write their columns before the first row).
    widths = _overview_widths(rows, len(plan.steps))
    for letter, width in zip("ABCDEFGHI", widths, strict=True):
        ws.column_dimensions[letter].width = width
    for values in rows:
        ws.append(values)


def _write_steps(book: _Book, data: WorkbookData) -> None:
    ws: WriteOnlyWorksheet = book.wb.create_sheet(STEPS_SHEET)
    carry = data.carry
    extra_columns = carry.extra_columns if carry else ()
    columns = list(STEP_COLUMNS) + [(name, 18, True) for name in extra_columns]
    headers = [c[0] for c in columns]
    _setup_table_sheet(ws, columns)
    n = len(data.plan.steps)
    if n > _MAX_DATA_ROWS:
        raise WorkbookError(
            [
                Problem(
                    STEPS_SHEET,
                    f"the plan has {n} steps; a sheet holds at most {_MAX_DATA_ROWS} rows "
                    "under its header, so the tracking workbook cannot list them",
                )
            ]
        )
    ref = _add_table(ws, STEPS_TABLE, headers, n, "TableStyleLight9")
    last_row = max(n, 1) + 1

    status = _COL["Status"]
    dv = DataValidation(
        type="list",
        formula1='"' + ",".join(s.value for s in Status) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Unknown status",
        error=f"Choose one of: {STATUS_CHOICES}",
        showInputMessage=False,
    )
    dv.add(f"{status}2:{status}{last_row}")
    ws.data_validations.append(dv)

    done_date = _COL["Done date"]
    date_dv = DataValidation(
        type="date",
        operator="greaterThan",
        formula1="1",
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Not a date",
        error="Type a date such as 2026-12-01",
    )
    date_dv.add(f"{done_date}2:{done_date}{last_row}")
    ws.data_validations.append(date_dv)

    # Green for Done, red for Blocked, amber for a step not finished by its planned finish.
    # TODAY() appears only here, in formatting: the data never depends on the clock.
    whole = ref.replace("A1:", "A2:")
    finish = _COL["Planned finish"]
    rules = (
        (f'${status}2="Done"', "C6EFCE", "006100"),
        (f'${status}2="Blocked"', "FFC7CE", "9C0006"),
        (
            f'AND(${status}2<>"Done",${status}2<>"Skipped",ISNUMBER(${finish}2),${finish}2<TODAY())',
            "FFEB9C",
            "9C5700",
        ),
    )
    for formula, fill, font in rules:
        ws.conditional_formatting.add(
            whole,
            FormulaRule(
                formula=[formula],
                fill=PatternFill(start_color=fill, end_color=fill, fill_type="solid"),
                font=Font(color=font),
                stopIfTrue=True,
            ),
        )

    c = _Cells(ws)
    ws.append([c.value(h, "bold") for h in headers])
    top, wrap = _Column(), _Column("wrap")
    stream = book.stream(
        ws,
        c,
        [
            *(wrap if _STEP_WIDTHS[h][1] else top for h in STEP_HEADERS[:14]),
            _Column(fmt=_DATE, keep=True),  # Done date
            _Column(keep=True),  # Done by
            _Column("wrap", keep=True),  # Notes
            top,  # Plan change
            *(wrap for _ in extra_columns),
        ],
    )
    stream.extend(_step_rows(data, extra_columns, book.long_prerequisites))


def _step_rows(
    data: WorkbookData, extra_columns: Sequence[str], edges: list[tuple[str, str]]
) -> Iterable[list[CellValue | None]]:
    """The Steps sheet's rows in run order (a long prerequisite list goes to ``edges``)."""
    carry = data.carry
    kept = carry.kept if carry else {}
    new_ids = set(carry.new_step_ids) if carry else set()
    not_started = Status.NOT_STARTED.value
    for step in data.plan.steps:
        sched = data.plan.schedule.get(step.id)
        old = kept.get(step.id)
        extras = dict(old.extra) if old else {}
        yield [
            step.id,
            step.phase.value,
            sched.wave if sched else None,
            step.title,
            step.target,
            step.owner.value,
            step.runs_in.value,
            step.runbook,
            f"region STEP {step.id}" if step.runbook else "",
            _prerequisites_cell(step.id, step.prerequisites, edges),
            sched.start if sched else None,
            sched.finish if sched else None,
            "yes" if sched and sched.critical else "",
            old.status.value if old else not_started,
            old.done_date if old else None,
            old.done_by if old else "",
            old.notes if old else "",
            NEW_MARK if step.id in new_ids else "",
            *(extras.get(name) for name in extra_columns),
        ]


def _write_removed(book: _Book, carry: CarryOver) -> None:
    extra_columns = [c for c in carry.extra_columns if c not in REMOVED_HEADERS]
    for row in carry.removed:
        for name, _ in row.extra:
            if name not in extra_columns and name not in REMOVED_HEADERS:
                extra_columns.append(name)
    columns = list(REMOVED_COLUMNS) + [(name, 18, True) for name in extra_columns]

    def cells(s: StepTracking) -> list[CellValue | None]:
        extras = dict(s.extra)
        # A step removed by an earlier re-plan keeps the workbook it was removed from.
        removed_from = extras.get("Removed from") or carry.source
        return [
            s.step_id,
            s.phase,
            s.title,
            _prerequisites_cell(s.step_id, s.prerequisites, book.long_prerequisites),
            s.status.value,
            s.done_date,
            s.done_by,
            s.notes,
            removed_from,
            *(extras.get(name) for name in extra_columns),
        ]

    _table_sheet(
        book, REMOVED_SHEET, "RemovedStepsTable", columns, [cells(s) for s in carry.removed]
    )


def _write_data_sheets(book: _Book, data: WorkbookData) -> None:
    _table_sheet(
        book,
        "Relay",
        "RelayTable",
        (
            ("Old connector", 34, True),
            ("Classification", 24, True),
            ("Why", 40, True),
            ("New connectors", 40, True),
            ("Remote IP ranges", 30, True),
            ("Method", 30, True),
            ("Log evidence", 40, True),
            ("Findings", 60, True),
        ),
        [
            (
                r.old_connector,
                r.kind,
                r.reason,
                _lines(r.new_connectors),
                _lines(r.ranges),
                r.method,
                r.evidence,
                _lines(r.findings),
            )
            for r in data.relay_rows
        ],
    )
    _table_sheet(
        book,
        "Relay clients",
        "RelayClientsTable",
        (
            ("Connector", 34, True),
            ("Address or range", 26, False),
            ("Host names", 36, True),
            ("Last seen", 17, False),
            ("Messages", 11, False),
            ("Note", 50, True),
        ),
        [
            (r.connector, r.address, _lines(r.host_names), r.last_seen, r.messages, r.note)
            for r in data.relay_client_rows
        ],
    )
    _table_sheet(
        book,
        "Identities",
        "IdentitiesTable",
        (
            ("User", 34, True),
            ("On-premises object", 34, True),
            ("Cloud object", 34, True),
            ("Outcome", 20, True),
            ("Fix", 60, True),
        ),
        [(r.user, r.on_premises, r.cloud, r.outcome, r.fix) for r in data.identity_rows],
    )
    _table_sheet(
        book,
        "DNS",
        "DnsTable",
        (
            ("Name", 28, True),
            ("Type", 7, False),
            ("Before", 44, True),
            ("After", 44, True),
            ("TTL before (s)", 14, False),
            ("TTL after (s)", 14, False),
            ("Note", 44, True),
        ),
        [
            (r.name, r.record_type, r.before, r.after, r.ttl_before, r.ttl_after, r.note)
            for r in data.dns_rows
        ],
    )
    _table_sheet(
        book,
        "Findings",
        "FindingsTable",
        (
            ("Severity", 10, False),
            ("Code", 30, False),
            ("Where", 40, True),
            ("Message", 60, True),
            ("Fix", 60, True),
        ),
        [
            (f.severity.value, f.code, f.where, f.message, f.fix)
            for f in sorted(data.findings, key=Finding.sort_key)
        ],
    )


MAILBOX_COLUMNS: tuple[tuple[str, float, bool], ...] = (
    ("Mailbox", 34, True),
    ("Kind", 11, False),
    ("Size (GB)", 10, False),
    ("Source database", 18, False),
    ("Target", 16, False),
    ("Target database", 18, False),
    ("Wave", 7, False),
    ("Wave (override)", 10, False),
    ("Links to other waves", 44, True),
    ("Status", 13, False),
    ("Notes", 40, True),
)
"""Mailboxes sheet: what the team may type is Wave (override), Status and Notes (kept by the next plan)."""


def build_workbook(data: WorkbookData) -> _Book:
    """The whole workbook, ready to save once."""
    book = _Book(Workbook(write_only=True))
    # Excel recomputes the Overview formulas on open (openpyxl stores no cached results).
    book.wb.calculation = CalcProperties(fullCalcOnLoad=True)
    _write_overview(book.wb, data)
    _write_steps(book, data)
    if data.carry is not None and data.carry.removed:
        _write_removed(book, data.carry)
    if data.mailbox_rows:
        _table_sheet(book, "Mailboxes", "MailboxesTable", MAILBOX_COLUMNS, data.mailbox_rows)
    _write_data_sheets(book, data)
    if book.long_prerequisites:
        _table_sheet(
            book,
            PREREQUISITES_SHEET,
            "PrerequisitesTable",
            tuple((h, 38, False) for h in PREREQUISITES_HEADERS),
            book.long_prerequisites,
        )
    return book


class _FixedTimeZip(zipfile.ZipFile):
    """A zip whose entries all carry one timestamp, so the same plan gives the same bytes.

    It also splices each sheet's streamed rows into the sheet openpyxl wrote.
    """

    date_time: tuple[int, int, int, int, int, int] = (1980, 1, 1, 0, 0, 0)
    rows: tuple[tuple[WriteOnlyWorksheet, _RowStream], ...] = ()

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self.date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        # (``compress_level`` from Python 3.13; ``_compresslevel`` is its name before and an alias after)
        info._compresslevel = ZIP_LEVEL  # type: ignore[attr-defined]
        info.external_attr = 0o644 << 16
        return info

    def writestr(  # type: ignore[override]
        self, zinfo_or_arcname: str | zipfile.ZipInfo, data: str | bytes, *args: object
    ) -> None:
        name = zinfo_or_arcname if isinstance(zinfo_or_arcname, str) else zinfo_or_arcname.filename
        super().writestr(self._info(name), data)

    def write(  # type: ignore[override]
        self, filename: str, arcname: str | None = None, *args: object
    ) -> None:
        name = arcname or filename
        # openpyxl numbers the sheet parts while saving, so match them by part name now.
        stream = next((st for ws, st in self.rows if ws.path[1:] == name), None)
        with open(filename, "rb") as src, self.open(self._info(name), "w") as dst:
            if stream is None:
                shutil.copyfileobj(src, dst, 1 << 20)
                return
            # The sheet openpyxl wrote holds the header row only; the data rows go after it.
            head, end, tail = src.read().partition(b"</sheetData>")
            if not end:
                raise RuntimeError(f"no </sheetData> in {name}")  # openpyxl always writes one
            dst.write(head)
            stream.flush()
            stream.file.seek(0)
            shutil.copyfileobj(stream.file, dst, 1 << 20)
            dst.write(end + tail)


def save_workbook(book: _Book, target: str | os.PathLike[str], when: dt.date) -> None:
    """Save ``book`` with ``when`` as its creation/modification time (never the clock)."""
    wb = book.wb
    stamp = dt.datetime(when.year, when.month, when.day)
    wb.properties.creator = "migrator"
    wb.properties.created = stamp
    wb.properties.modified = stamp
    try:
        with _FixedTimeZip(target, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            archive.date_time = (max(when.year, 1980), when.month, when.day, 0, 0, 0)
            archive.rows = tuple(book.rows)
            ExcelWriter(wb, archive).save()
    finally:
        for _, stream in book.rows:
            stream.file.close()


def write_workbook(path: Path, data: WorkbookData) -> None:
    """Write the tracking workbook to ``path`` atomically (temporary file in the same folder + rename).

    An interrupted write leaves the old file (or none) in place, never half a workbook.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    book = build_workbook(data)
    fd, tmp = temp_file_beside(path)
    os.close(fd)
    try:
        save_workbook(book, tmp, data.plan.plan_date)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
