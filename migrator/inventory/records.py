"""What every reader produces: tables of records whose cells are text or lists of text."""

from __future__ import annotations

from dataclasses import dataclass, field

from migrator.errors import Problem
from migrator.inventory.kinds import TableKind
from migrator.model import Finding, Location

Cell = str | tuple[str, ...]
"""A cell: text as PowerShell wrote it, or the items of a multi-valued property (CliXML)."""


@dataclass(frozen=True)
class Record:
    """One exported object: one CSV or sheet row, or one CliXML object."""

    file: str
    """File label (``folder/file.csv`` or ``book.xlsx, sheet 'X'``)."""
    row: int | None
    """Row as a spreadsheet shows it (header is row 1), None for CliXML."""
    element: str | None
    """``object N`` for CliXML, None otherwise."""
    cells: dict[str, Cell]
    """Cells by lower-case column name."""

    def where(self, column: str | None = None) -> Location:
        """Location of this record, optionally of one of its columns."""
        return Location(self.file, self.row, column, self.element)


@dataclass
class RawTable:
    """All records of one kind read from one file (or sheet)."""

    kind: TableKind
    """Which table."""
    file: str
    """File label."""
    columns: dict[str, str]
    """Lower-case column name -> column name as written."""
    records: list[Record] = field(default_factory=list)
    """The records in file order."""


@dataclass
class ReadResult:
    """What reading one file gave: tables, problems (errors) and findings (warnings)."""

    tables: list[RawTable] = field(default_factory=list)
    """Tables found."""
    problems: list[Problem] = field(default_factory=list)
    """Errors."""
    findings: list[Finding] = field(default_factory=list)
    """Warnings and infos."""

    def extend(self, other: ReadResult) -> None:
        """Add another result to this one."""
        self.tables.extend(other.tables)
        self.problems.extend(other.problems)
        self.findings.extend(other.findings)


def problem(where: Location | str, message: str) -> Problem:
    """A Problem at a location."""
    return Problem(str(where), message)
