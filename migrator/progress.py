"""Where a long run is: the library names its stages, a front end may show them.

The library calls :func:`stage` at the start of each stage of a long job
(loading, checking, matching identities, writing the workbook...). Nothing
happens unless a front end installed a reporter with :func:`reporting`; the
CLI shows a progress display on a terminal (``migrator.cli``), and tests and
library users see nothing. No clock, no output here.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Reporter = Callable[[str], None]
"""Called with a short lower-case description of the stage that starts."""

_CURRENT: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar(
    "migrator_progress", default=None
)


def stage(description: str) -> None:
    """Say that a stage of the current job starts (a no-op without a reporter)."""
    reporter = _CURRENT.get()
    if reporter is not None:
        reporter(description)


@contextmanager
def reporting(reporter: Reporter) -> Iterator[None]:
    """Send the stages of the jobs run inside the block to ``reporter``."""
    token = _CURRENT.set(reporter)
    try:
        yield
    finally:
        _CURRENT.reset(token)


__all__ = ["Reporter", "reporting", "stage"]
