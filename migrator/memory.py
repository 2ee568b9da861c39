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


YOUNG_THRESHOLD = 10_000
"""Allocations between two collections of the youngest generation inside :func:`kept_alive`
(Python's default is 700): at 300,000 users the analysis makes 27 collections instead of
about 450, 0.2-0.4 s of CPU at 300,000 users; the collector stays on."""


@contextmanager
def kept_alive() -> Iterator[None]:
    """Inside the block the collector leaves alone every object alive at its start.

    For data that lives to the end of the run (the loaded inventory, the checked
    analysis) while a job builds more on it: the collector stays on for what the
    block makes, but its full passes no longer walk the old data again and again.
    The youngest generation is collected less often meanwhile (:data:`YOUNG_THRESHOLD`).
    Frozen objects are still freed when unreferenced; at the end they go back to
    the collector (with anything a host application froze itself: gc has one
    permanent generation). Not nestable for the same reason: an inner block's end would
    hand everything back early (check_path and plan_folder use it one after the other).
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    # the youngest generation is collected every YOUNG_THRESHOLD allocations instead of 700:
    # the jobs make hundreds of thousands of objects that live to the end (findings, columns),
    # and each collection of the young ones starts the walks of the older generations
    young = thresholds[0] and max(thresholds[0], YOUNG_THRESHOLD)  # 0: the host turned it off
    gc.set_threshold(young, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


__all__ = ["YOUNG_THRESHOLD", "collector_paused", "kept_alive"]
