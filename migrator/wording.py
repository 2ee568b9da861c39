"""Wording shared by findings and step texts (one place for the rules of how lists are shown)."""

from __future__ import annotations

from collections.abc import Sequence


def examples(items: Sequence[object], limit: int, quoted: bool = True) -> str:
    """The first ``limit`` items, comma-separated (each in single quotes unless ``quoted`` is
    false), then `` and N more`` for the rest: ``'a', 'b' and 3 more``."""
    shown = ", ".join(f"'{x}'" if quoted else str(x) for x in items[:limit])
    more = len(items) - limit
    return shown + (f" and {more} more" if more > 0 else "")
