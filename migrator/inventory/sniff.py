"""Recognising an export by its content, never by its name."""

from __future__ import annotations

import enum
import re

from migrator.inventory.clixml import read_clixml
from migrator.inventory.powershell_csv import decode, read_csv
from migrator.inventory.records import ReadResult, problem
from migrator.inventory.xlsx import read_xlsx


class FileFormat(enum.Enum):
    """The container format of an export file."""

    CLIXML = "clixml"
    CSV = "csv"
    XLSX = "xlsx"
    EMPTY = "empty"
    OTHER = "other"


_BLANK = re.compile(rb"[ \t\r\n\x00\xef\xbb\xbf\xff\xfe]*\Z")
"""Bytes of a file that holds nothing: white space, NULs and byte order marks."""


def sniff(data: bytes) -> FileFormat:
    """Tell CliXML, CSV, a workbook, an empty file and anything else apart by the bytes."""
    if data.startswith(b"PK\x03\x04"):
        return FileFormat.XLSX
    if _BLANK.match(data):  # (a match stops at the first other byte; a strip copies the file)
        return FileFormat.EMPTY
    # Only the head is looked at: a character cut at byte 4096, or a damaged byte, is no
    # reason to call a CSV something else (the reader reports bad bytes where they are).
    text, _ = decode(data[:4096], errors="replace")
    head = text.lstrip("\ufeff \t\r\n")
    if head.startswith("#< CLIXML") or head.startswith("<Objs") or head.startswith("<?xml"):
        return FileFormat.CLIXML
    if "\x00" in head or head.startswith("<"):
        return FileFormat.OTHER
    return FileFormat.CSV


def read_export(data: bytes, label: str) -> ReadResult:
    """Read one export file, whatever its format, into tables, problems and findings."""
    fmt = sniff(data)
    if fmt is FileFormat.XLSX:
        return read_xlsx(data, label)
    if fmt is FileFormat.CLIXML:
        return read_clixml(data, label)
    if fmt is FileFormat.CSV:
        return read_csv(data, label)
    result = ReadResult()
    if fmt is FileFormat.EMPTY:
        result.problems.append(
            problem(
                label,
                "the file is empty; expected a PowerShell export (Export-Csv or Export-Clixml)",
            )
        )
    else:
        result.problems.append(
            problem(
                label,
                "not a recognised export (neither CliXML, CSV nor .xlsx); expected an Export-Csv "
                "or Export-Clixml file of one of the tables in docs/inventory.md",
            )
        )
    return result
