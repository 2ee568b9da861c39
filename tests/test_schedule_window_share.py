"""A window share (``Step.window_share``): at most n steps of a name start in one window occurrence."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.model import MaintenanceWindow
from migrator.plan.schedule import schedule_steps
from migrator.plan.steps import Owner, Phase, RunsIn, Step

WINDOWS = (
    MaintenanceWindow(2, dt.time(21, 0), dt.time(23, 30)),
    MaintenanceWindow(5, dt.time(20, 0), dt.time(2, 0)),
)


def _steps(durations: list[int], waits: list[int], share: int, chained: bool) -> list[Step]:
    out: list[Step] = []
    for k, (minutes, wait) in enumerate(zip(durations, waits, strict=True)):
        out.append(
            Step(
                id=f"moves.complete.wave-{k:03d}",
                phase=Phase.MOVES,
                title="complete",
                target=f"wave-{k:03d}",
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.EMS_NEW,
                duration_minutes=minutes,
                wait_minutes=wait,
                maintenance_window=True,
                window_share=("moves.complete", share),
                prerequisites=(out[-1].id,) if chained and out else (),
            )
        )
    return out


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(1, 200), min_size=1, max_size=12).flatmap(
        lambda d: st.tuples(
            st.just(d), st.lists(st.integers(0, 600), min_size=len(d), max_size=len(d))
        )
    ),
    st.integers(1, 4),
    st.booleans(),
)
def test_no_window_occurrence_starts_more_steps_of_a_share_than_allowed(
    durations_waits: tuple[list[int], list[int]], share: int, chained: bool
) -> None:
    durations, waits = durations_waits
    steps = _steps(durations, waits, share, chained)
    plan = schedule_steps(steps, dt.date(2026, 12, 7), WINDOWS)
    per_window = Counter(plan[s.id].wave for s in steps)
    assert max(per_window.values()) <= share
    for s in steps:  # still after every prerequisite
        for p in s.prerequisites:
            assert plan[s.id].start >= plan[p].finish


def test_independent_steps_fill_a_window_up_to_the_share_then_move_on() -> None:
    steps = _steps([30] * 5, [0] * 5, 2, chained=False)
    plan = schedule_steps(steps, dt.date(2026, 12, 7), WINDOWS)
    waves = [plan[s.id].wave for s in steps]
    assert waves == [1, 1, 2, 2, 3]


def _cutover(sid: str, kind: str, share: tuple[str, int] | None = None) -> Step:
    return Step(
        id=f"servers.{sid}",
        phase=Phase.SERVERS,
        title=sid,
        target=sid,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=30,
        maintenance_window=True,
        window_share=share,
        cutover=kind,
    )


def test_one_kind_of_cutover_per_window_occurrence() -> None:
    """Review 2, M3: cut-overs of different kinds never share a window; the same kind may."""
    steps = [
        _cutover("namespace", "client namespace"),
        _cutover("alias-a", "SMTP alias"),
        _cutover("alias-b", "SMTP alias"),
        _cutover("first-wave", "first wave"),
        _cutover("plain", ""),
    ]
    plan = schedule_steps(steps, dt.date(2026, 12, 7), WINDOWS)
    wave = {s.id.removeprefix("servers."): plan[s.id].wave for s in steps}
    assert wave == {"namespace": 1, "alias-a": 2, "alias-b": 2, "first-wave": 3, "plain": 1}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["", "a", "b", "c"]), min_size=1, max_size=10),
    st.integers(1, 3),
)
def test_cutover_kinds_and_shares_hold_together(kinds: list[str], share: int) -> None:
    steps = [
        _cutover(f"s{k}", kind, ("moves.complete", share) if k % 2 else None)
        for k, kind in enumerate(kinds)
    ]
    plan = schedule_steps(steps, dt.date(2026, 12, 7), WINDOWS)
    by_wave: dict[int, set[str]] = {}
    for s in steps:
        if s.cutover:
            by_wave.setdefault(plan[s.id].wave, set()).add(s.cutover)
    assert all(len(v) == 1 for v in by_wave.values())
    shared = Counter(plan[s.id].wave for s in steps if s.window_share is not None)
    assert not shared or max(shared.values()) <= share
