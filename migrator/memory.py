"""The cyclic garbage collector during the big batch jobs (load, analyse).

Loading 300,000 users makes millions of objects that live as long as the run;
every collection of the oldest generation walks all of them again, a third of
the loading time and a fifth of the analysis. Those jobs build plain data
(tables, records, model objects, findings) without reference cycles, so the
collector is paused while they run: reference counting frees everything as
before, and the collector runs again afterwards (any cycle made meanwhile is
collected then; nothing is leaked).

At the end the objects made meanwhile join the oldest generation directly
(``gc.freeze()`` then ``gc.unfreeze()``, which moves every tracked object there
without walking any): otherwise the first collection afterwards would walk all
of them as young objects, and again on their way up the generations. Nothing
in migrator freezes objects for good, so unfreezing takes nothing from anyone.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector inside the block (nested blocks are fine)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


@contextmanager
def kept_alive() -> Iterator[None]:
    """Inside the block the collector leaves alone every object alive at its start.

    For data that lives to the end of the run (the loaded inventory, the checked
    analysis) while a job builds more on it: the collector stays on for what the
    block makes, but its full passes no longer walk the old data again and again.
    Frozen objects are still freed when unreferenced; at the end they go back to
    the collector (with anything a host application froze itself: gc has one
    permanent generation). Not nestable for the same reason: an inner block's end would
    hand everything back early (check_path and plan_folder use it one after the other).
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


__all__ = ["collector_paused", "kept_alive"]
