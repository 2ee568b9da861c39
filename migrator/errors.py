"""The one error hierarchy of migrator.

The CLI turns these into messages in exactly one place; nothing else prints
a traceback at the user.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in the user's input: where it is and what is wrong."""

    where: str
    """``file, row N, column 'X'`` (or a key path); sorts problems by location."""
    message: str
    """What is wrong and what was expected (lower case, no trailing period)."""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class MigratorError(Exception):
    """Base class of every error migrator reports to a user."""


class InventoryError(MigratorError):
    """The inventory cannot be loaded; carries every problem found, sorted by location."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(sorted(set(problems), key=_problem_key))
        super().__init__("\n".join(str(p) for p in self.problems))


def _problem_key(p: Problem) -> tuple[str, int, str, str]:
    # Sort "file, row 10" after "file, row 9": split the row number out of the location.
    file, _, rest = p.where.partition(", row ")
    row_text = rest.split(",", 1)[0]
    row = int(row_text) if row_text.isdigit() else -1
    return (file, row, rest, p.message)


class PlanError(MigratorError):
    """The plan cannot be built (a dependency cycle, an unknown step, error findings)."""


class WorkbookError(MigratorError):
    """A tracking workbook cannot be read back; carries every problem found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(sorted(set(problems), key=_problem_key))
        super().__init__("\n".join(str(p) for p in self.problems))


class LogScanError(MigratorError):
    """Protocol logs cannot be scanned at all (no readable file given)."""
