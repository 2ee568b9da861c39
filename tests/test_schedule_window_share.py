"""A window share (``Step.window_share``): at most n steps of a name start in one window occurrence."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.model import MaintenanceWindow
from migrator.plan.schedule import schedule_steps, soak_end
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


# --------------------------------------------------------------------------- soak between classes (review 3, F3)

SUN = MaintenanceWindow(6, dt.time(6, 0), dt.time(12, 0))


def test_soak_end_is_the_end_of_the_next_whole_business_day() -> None:
    d = dt.datetime
    assert soak_end(d(2026, 12, 16, 21, 30)) == d(
        2026, 12, 17, 18, 0
    )  # Wednesday night -> Thursday
    assert soak_end(d(2026, 12, 19, 23, 0)) == d(2026, 12, 21, 18, 0)  # Saturday -> Monday
    assert soak_end(d(2026, 12, 20, 6, 15)) == d(2026, 12, 21, 18, 0)  # Sunday -> Monday
    assert soak_end(d(2026, 12, 18, 8, 1)) == d(2026, 12, 21, 18, 0)  # Friday, day begun -> Monday
    assert soak_end(d(2026, 12, 14, 7, 0)) == d(2026, 12, 14, 18, 0)  # Monday before work: that day


def test_a_cutover_of_another_class_waits_a_business_day() -> None:
    """Saturday's cut-over is not followed by another class on Sunday (no working day between)."""
    steps = [_cutover("mail-flow", "mail flow"), _cutover("nat", "inbound SMTP")]
    plan = schedule_steps(steps, dt.date(2026, 12, 10), (*WINDOWS, SUN))  # Thursday
    assert plan["servers.mail-flow"].start == dt.datetime(2026, 12, 12, 20, 0)  # Saturday
    assert plan["servers.nat"].start == dt.datetime(2026, 12, 16, 21, 0)  # Wednesday, not Sunday


def test_the_same_class_may_follow_the_next_morning() -> None:
    a = _cutover("wave-a", "wave completion", ("moves.complete", 1))
    b = _cutover("wave-b", "wave completion", ("moves.complete", 1))
    plan = schedule_steps([a, b], dt.date(2026, 12, 10), (*WINDOWS, SUN))
    assert plan[b.id].start == dt.datetime(2026, 12, 13, 6, 0)  # Sunday after Saturday


def _gate(sid: str, minutes: int) -> Step:
    """A step outside windows that holds its dependents back ``minutes`` from the start."""
    return replace(_cutover(sid, ""), duration_minutes=minutes, maintenance_window=False)


def test_a_step_placed_before_an_earlier_scheduled_one_keeps_the_soak() -> None:
    """Run order is not time order: Sunday's cut-over is placed first, and a cut-over of another
    class ready on Saturday may not take Saturday night (no working day before Sunday)."""
    sunday = replace(_cutover("sunday", "SMTP alias"), prerequisites=("servers.gate-sun",))
    saturday = replace(
        _cutover("saturday", "client namespace"), prerequisites=("servers.gate-sat",)
    )
    steps = [_gate("gate-sun", 69 * 60), sunday, _gate("gate-sat", 58 * 60), saturday]
    plan = schedule_steps(steps, dt.date(2026, 12, 10), (*WINDOWS, SUN))  # Thursday 08:00
    assert plan[sunday.id].start == dt.datetime(2026, 12, 13, 6, 0)
    assert plan["servers.gate-sat"].finish == dt.datetime(2026, 12, 12, 18, 0)
    assert plan[saturday.id].start == dt.datetime(2026, 12, 16, 21, 0)  # not Saturday 20:00


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["", "a", "b", "c"]), st.integers(10, 200), st.integers(0, 3000)),
        min_size=1,
        max_size=10,
    ),
    st.booleans(),
)
def test_cutovers_of_two_classes_are_a_business_day_apart(
    specs: list[tuple[str, int, int]], chained: bool
) -> None:
    steps: list[Step] = []
    for k, (kind, minutes, wait) in enumerate(specs):
        steps.append(
            replace(
                _cutover(f"s{k}", kind),
                duration_minutes=minutes,
                wait_minutes=wait,
                prerequisites=(steps[-1].id,) if chained and steps else (),
            )
        )
    plan = schedule_steps(steps, dt.date(2026, 12, 7), (*WINDOWS, SUN))
    cut = sorted((plan[s.id].start, plan[s.id].finish, s.cutover) for s in steps if s.cutover)
    for i, (_s1, f1, k1) in enumerate(cut):
        for s2, _f2, k2 in cut[i + 1 :]:
            if k1 != k2:
                assert s2 >= soak_end(f1)
    for s in steps:
        for p in s.prerequisites:
            assert plan[s.id].start >= plan[p].finish


# --------------------------------------------------------------------------- public holidays (review 5, n5)


def test_a_listed_holiday_is_no_business_day() -> None:
    d = dt.datetime
    christmas = {dt.date(2026, 12, 24), dt.date(2026, 12, 25)}
    # Wednesday night before Christmas Eve and Christmas Day: the next business day is Monday
    assert soak_end(d(2026, 12, 23, 21, 30), christmas) == d(2026, 12, 28, 18, 0)
    assert soak_end(d(2026, 12, 23, 21, 30)) == d(2026, 12, 24, 18, 0)  # unlisted: a business day
    assert soak_end(d(2026, 12, 26, 23, 0), {dt.date(2026, 12, 28)}) == d(2026, 12, 29, 18, 0)


def test_a_cutover_of_another_class_waits_past_the_holidays() -> None:
    steps = [_cutover("mail-flow", "mail flow"), _cutover("nat", "inbound SMTP")]
    off = {dt.date(2026, 12, 14), dt.date(2026, 12, 15), dt.date(2026, 12, 16)}
    plan = schedule_steps(steps, dt.date(2026, 12, 10), (*WINDOWS, SUN), holidays=off)
    assert plan["servers.mail-flow"].start == dt.datetime(2026, 12, 12, 20, 0)  # Saturday
    # Monday to Wednesday are holidays: Thursday is the business day, Saturday the next window
    assert plan["servers.nat"].start == dt.datetime(2026, 12, 19, 20, 0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["", "a", "b"]), st.integers(10, 200), st.integers(0, 3000)),
        min_size=1,
        max_size=8,
    ),
    st.sets(st.integers(0, 40), max_size=12),
)
def test_cutovers_of_two_classes_keep_a_business_day_that_is_no_holiday(
    specs: list[tuple[str, int, int]], offsets: set[int]
) -> None:
    holidays = {dt.date(2026, 12, 7) + dt.timedelta(days=n) for n in offsets}
    steps = [
        replace(_cutover(f"s{k}", kind), duration_minutes=minutes, wait_minutes=wait)
        for k, (kind, minutes, wait) in enumerate(specs)
    ]
    plan = schedule_steps(steps, dt.date(2026, 12, 7), (*WINDOWS, SUN), holidays=holidays)
    cut = sorted((plan[s.id].start, plan[s.id].finish, s.cutover) for s in steps if s.cutover)
    for i, (_s1, f1, k1) in enumerate(cut):
        for s2, _f2, k2 in cut[i + 1 :]:
            if k1 != k2:
                assert s2 >= soak_end(f1, holidays)
