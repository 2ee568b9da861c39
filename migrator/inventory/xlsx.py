"""The same tables as sheets of one ``.xlsx`` workbook, read with python-calamine.

Each sheet is recognised by its header row exactly like a CSV; a sheet whose
header matches no table is reported, an empty sheet is skipped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from python_calamine import CalamineWorkbook

from migrator.inventory.kinds import SPEC_BY_KIND, kind_of_columns
from migrator.inventory.powershell_csv import missing_columns, scan_leftovers
from migrator.inventory.records import Cell, RawTable, ReadResult, Record, problem
from migrator.xlsx_bounds import oversized, sheet_extents


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def read_xlsx(path_bytes: bytes, label: str) -> ReadResult:
    """Read every sheet of a workbook as a table."""
    result = ReadResult()
    try:
        book = CalamineWorkbook.from_filelike(_BytesReader(path_bytes))
        extents = sheet_extents(path_bytes)
    except Exception as exc:  # calamine raises its own error types for broken zips
        result.problems.append(problem(label, f"not a readable .xlsx workbook ({exc})"))
        return result
    for sheet_name in book.sheet_names:
        sheet_label = f"{label}, sheet '{sheet_name}'"
        too_big = oversized(extents, sheet_name)
        if too_big is not None:
            result.problems.append(problem(sheet_label, too_big))
            continue
        try:
            raw = _all_rows(book, sheet_name)
        except Exception as exc:  # python_calamine.XmlError and kin: a damaged sheet
            result.problems.append(
                problem(
                    sheet_label,
                    f"the sheet cannot be read ({exc}); expected a workbook saved whole by "
                    "Excel: save it again, or export the table as CSV",
                )
            )
            continue
        rows = [r for r in raw if any(_text(c).strip() for c in r)] if raw else []
        if not rows:
            continue
        header = [_text(c).strip() for c in rows[0]]
        kind = kind_of_columns(header)
        if kind is None:
            result.problems.append(
                problem(
                    sheet_label,
                    f"not a recognised table (columns {', '.join(h for h in header[:6] if h)}); "
                    "expected the columns of one of the tables in docs/inventory.md",
                )
            )
            continue
        spec = SPEC_BY_KIND[kind]
        columns = {h.lower(): h for h in header if h}
        missing = missing_columns(kind, columns)
        if missing:
            for col in missing:
                result.problems.append(
                    problem(
                        sheet_label,
                        f"column '{col}' is missing; a {kind.value} table needs the columns "
                        f"{', '.join(spec.required)}",
                    )
                )
            continue
        keys = [h.lower() for h in header]
        table = RawTable(kind, sheet_label, columns)
        for index, row in enumerate(raw[1:], start=2):  # loaded once, above
            texts = [_text(c) for c in row]
            if not any(t.strip() for t in texts):
                continue
            cells: dict[str, Cell] = {k: v for k, v in zip(keys, texts, strict=False) if k}
            table.records.append(Record(sheet_label, index, None, cells))
        scan_leftovers(table, result)
        result.tables.append(table)
    return result


def _all_rows(book: Any, sheet_name: str) -> list[list[Any]]:
    rows: list[list[Any]] = book.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
    return rows


class _BytesReader:
    """A minimal binary file object over bytes (calamine wants ``read``/``seek``)."""

    def __init__(self, data: bytes) -> None:
        import io

        self._buf = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._buf.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._buf.seek(offset, whence)

    def tell(self) -> int:
        return self._buf.tell()
