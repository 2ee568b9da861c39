"""What every reader produces: tables of records whose cells are text or lists of text."""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from typing import Any, TypeVar

from migrator.errors import Problem
from migrator.inventory.kinds import TableKind
from migrator.model import Finding, Location

_T = TypeVar("_T")

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


class RawTable:
    """All records of one kind read from one file (or sheet).

    A reader appends :class:`Record` objects to ``records``, or (CSV, the big
    tables) hands over its rows as they are with :meth:`from_rows`: then a
    converter reads whole columns (:meth:`column`, :meth:`locations`) without a
    dictionary and a Record per row, and ``records`` are made from the rows the
    first time something asks for them.
    """

    def __init__(
        self,
        kind: TableKind,
        file: str,
        columns: dict[str, str],
        records: list[Record] | None = None,
    ) -> None:
        self.kind = kind
        """Which table."""
        self.file = file
        """File label."""
        self.columns = columns
        """Lower-case column name -> column name as written."""
        self._records = records if records is not None else []
        self._rows: list[list[str]] | None = None
        self._numbers: list[int] = []
        self._keys: list[str] = []
        self._by_column: dict[str, Sequence[str]] | None = None

    @classmethod
    def from_rows(
        cls,
        kind: TableKind,
        file: str,
        columns: dict[str, str],
        keys: list[str],
        rows: list[list[str]],
        numbers: list[int],
    ) -> RawTable:
        """A table of text rows: ``keys`` (lower-case header) name the cells of each row (every
        row as long as ``keys``), ``numbers`` the row numbers as a spreadsheet shows them."""
        table = cls(kind, file, columns)
        table._rows, table._numbers, table._keys = rows, numbers, keys
        return table

    @property
    def records(self) -> list[Record]:
        """The records in file order."""
        if self._rows is not None:
            keys, file = self._keys, self.file
            self._records = [
                Record(file, n, None, dict(zip(keys, row, strict=True)))
                for n, row in zip(self._numbers, self._rows, strict=True)
            ]
            self._rows = self._by_column = None
        return self._records

    def column(self, key: str) -> Sequence[Cell]:
        """Every record's cell of one column ('' where a record has none)."""
        if self._rows is None:
            return [rec.cells.get(key, "") for rec in self._records]
        if self._by_column is None:
            # all columns in one transposition; of two columns with one name the last one counts,
            # as in the records' dictionaries
            self._by_column = dict(zip(self._keys, zip(*self._rows, strict=True), strict=False))
        found = self._by_column.get(key)
        return found if found is not None else ("",) * len(self._rows)

    def locations(self) -> list[Location]:
        """Every record's location (:meth:`Record.where`)."""
        if self._rows is None:
            return [rec.where() for rec in self._records]
        n = len(self._numbers)
        columns = {
            "file": (self.file,) * n,
            "row": self._numbers,
            "column": (None,) * n,
            "element": (None,) * n,
        }
        return from_columns(Location, columns)

    @property
    def text_only(self) -> bool:
        """Whether every cell is known to be text, never a list (rows a CSV reader handed over)."""
        return self._rows is not None

    def __len__(self) -> int:
        return len(self._rows) if self._rows is not None else len(self._records)


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


def from_columns(
    cls: type[_T], columns: dict[str, Sequence[Any]], failed: bytes | bytearray | None = None
) -> list[_T]:
    """One ``cls`` per row (each row whose ``failed`` is 0, where given), its fields from
    ``columns`` (every field of the frozen, slotted dataclass ``cls``, by name), as
    ``cls(**fields)`` makes it.

    The fields are set column by column through the class's slots, the way the dataclass's own
    ``__init__`` sets them (``object.__setattr__``), in C: the generated ``__init__`` is a Python
    call per object, a third of converting 300,000 users.
    """
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    if set(columns) != names or "__slots__" not in vars(cls) or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} is not built from the columns {sorted(columns)}")
    if failed is None:
        failed = bytes(len(next(iter(columns.values()))))
    for name, column in columns.items():
        if len(column) != len(failed):
            raise ValueError(f"column {name} has {len(column)} values for {len(failed)} rows")
    keep = [not f for f in failed] if 1 in failed else None
    objects = list(map(object.__new__, repeat(cls, len(failed) - sum(failed))))
    for name, column in columns.items():
        values = column if keep is None else compress(column, keep)
        deque(map(getattr(cls, name).__set__, objects, values), maxlen=0)
    return objects


def problem(where: Location | str, message: str) -> Problem:
    """A Problem at a location."""
    return Problem(str(where), message)
