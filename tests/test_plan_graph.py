"""The dependency graph: order, cycles, unknown steps, critical path, schedule."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.errors import PlanError
from migrator.model import MaintenanceWindow
from migrator.plan.graph import cycle_message, make_plan, order_steps
from migrator.plan.schedule import fit_window
from migrator.plan.steps import Owner, Phase, RunsIn, Step

START = dt.date(2026, 12, 7)  # a Monday


def step(
    sid: str,
    *pre: str,
    phase: Phase | None = None,
    minutes: int = 10,
    wait: int = 0,
    owner: Owner = Owner.APPLICATION_OWNERS,
) -> Step:
    ph = phase or Phase(sid.split(".", 1)[0])
    return Step(
        id=sid,
        phase=ph,
        title=sid,
        target="t",
        owner=owner,
        runs_in=RunsIn.MANUAL,
        duration_minutes=minutes,
        wait_minutes=wait,
        prerequisites=pre,
    )


PHASES = list(Phase)


@st.composite
def dags(draw: st.DrawFn) -> list[Step]:
    """Random acyclic step sets: edges only from a lower to a higher index, ids and phases random."""
    n = draw(st.integers(1, 25))
    phases = draw(st.lists(st.sampled_from(PHASES), min_size=n, max_size=n))
    ids = [f"{phases[i].value}.s{i:02d}" for i in range(n)]
    steps = []
    for i in range(n):
        pre = draw(st.sets(st.integers(0, i - 1), max_size=4)) if i else set()
        minutes = draw(st.integers(0, 300))
        wait = draw(st.integers(0, 600))
        steps.append(step(ids[i], *(ids[j] for j in sorted(pre)), minutes=minutes, wait=wait))
    return draw(st.permutations(steps))


@settings(max_examples=150, deadline=None)
@given(dags())
def test_every_prerequisite_comes_before_its_dependent(steps: list[Step]) -> None:
    plan = make_plan("org", steps, START)
    position = {s.id: n for n, s in enumerate(plan.steps)}
    assert sorted(position) == sorted(s.id for s in steps)
    for s in plan.steps:
        for pre in s.prerequisites:
            assert position[pre] < position[s.id]
            # Waits run in calendar time: a dependent starts after the prerequisite's finish + wait.
            done = plan.schedule[pre].finish + dt.timedelta(minutes=plan.step(pre).wait_minutes)
            assert plan.schedule[s.id].start >= done
            assert s.id in plan.dependents(pre)


@settings(max_examples=100, deadline=None)
@given(dags())
def test_order_is_deterministic_whatever_the_input_order(steps: list[Step]) -> None:
    first = make_plan("org", steps, START)
    again = make_plan("org", list(reversed(steps)), START)
    assert [s.id for s in first.steps] == [s.id for s in again.steps]
    assert first.critical_path == again.critical_path
    assert first.schedule == again.schedule


@settings(max_examples=100, deadline=None)
@given(dags())
def test_critical_path_is_a_chain_of_maximal_length(steps: list[Step]) -> None:
    plan = make_plan("org", steps, START)
    path = plan.critical_path
    assert path
    for a, b in itertools.pairwise(path):
        assert a in plan.prerequisites(b)
    length = sum(plan.step(i).duration_minutes + plan.step(i).wait_minutes for i in path)
    # No single step is longer than the whole critical path.
    assert all(s.duration_minutes + s.wait_minutes <= length for s in plan.steps)
    assert all(plan.schedule[i].critical for i in path)


@st.composite
def with_one_cycle(draw: st.DrawFn) -> tuple[list[Step], list[str]]:
    """A DAG plus one injected cycle; DAG edges only lead into the cycle, so it is the only one."""
    n = draw(st.integers(0, 12))
    k = draw(st.integers(1, 6))
    dag_ids = [f"relay.d{i:02d}" for i in range(n)]
    cycle_ids = draw(
        st.lists(
            st.sampled_from([f"mx.c{j:02d}" for j in range(20)]),
            min_size=k,
            max_size=k,
            unique=True,
        )
    )
    steps = []
    for i, sid in enumerate(dag_ids):
        pre = draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set()
        steps.append(step(sid, *(dag_ids[j] for j in sorted(pre))))
    for j, sid in enumerate(cycle_ids):
        into = draw(st.sets(st.sampled_from(dag_ids), max_size=2)) if dag_ids else set()
        # Edge from the previous cycle node (prerequisite) to this one.
        steps.append(step(sid, cycle_ids[j - 1], *sorted(into)))
    return draw(st.permutations(steps)), cycle_ids


@settings(max_examples=150, deadline=None)
@given(with_one_cycle())
def test_a_cycle_is_reported_whole(case: tuple[list[Step], list[str]]) -> None:
    steps, cycle = case
    start = cycle.index(min(cycle))
    expected = cycle_message(cycle[start:] + cycle[:start])
    with pytest.raises(PlanError) as info:
        order_steps(steps)
    assert str(info.value) == expected
    assert expected.startswith("dependency cycle: ")
    assert expected.endswith(" --> " + min(cycle))


def test_cycle_message_form() -> None:
    steps = [step("relay.b", "relay.a"), step("relay.a", "relay.c"), step("relay.c", "relay.b")]
    with pytest.raises(
        PlanError, match=r"^dependency cycle: relay\.a --> relay\.b --> relay\.c --> relay\.a$"
    ):
        make_plan("org", steps, START)


def test_self_loop_is_a_cycle() -> None:
    with pytest.raises(PlanError, match=r"^dependency cycle: mx\.a --> mx\.a$"):
        order_steps([step("mx.a", "mx.a")])


def test_unknown_prerequisites_are_all_named() -> None:
    steps = [step("mx.a", "mx.nope"), step("mx.b", "relay.gone", "mx.a")]
    with pytest.raises(PlanError) as info:
        order_steps(steps)
    assert str(info.value) == (
        "step 'mx.a' needs unknown step 'mx.nope'\nstep 'mx.b' needs unknown step 'relay.gone'"
    )


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(PlanError, match=r"step id 'mx\.a' is used by more than one step"):
        order_steps([step("mx.a"), step("mx.a")])


def test_ties_break_on_phase_then_id() -> None:
    steps = [step("mx.a"), step("prepare.z"), step("relay.b"), step("prepare.a")]
    assert [s.id for s in order_steps(steps)] == ["prepare.a", "prepare.z", "relay.b", "mx.a"]


SATURDAY_EVENING = MaintenanceWindow(5, dt.time(20, 0), dt.time(23, 59))
OVERNIGHT = MaintenanceWindow(2, dt.time(22, 0), dt.time(2, 0))


def test_windowed_steps_start_inside_a_window_and_fit() -> None:
    steps = [
        step("prepare.check", minutes=30, wait=60),
        step("servers.change", "prepare.check", minutes=120, owner=Owner.EXCHANGE_ADMIN),
    ]
    plan = make_plan("org", steps, START, (SATURDAY_EVENING,))
    check = plan.schedule["prepare.check"]
    change = plan.schedule["servers.change"]
    # Not windowed: starts on the plan date at 08:00.
    assert check.start == dt.datetime(2026, 12, 7, 8, 0)
    # Windowed: the first Saturday window it fits in.
    assert change.start == dt.datetime(2026, 12, 12, 20, 0)
    assert change.finish == dt.datetime(2026, 12, 12, 22, 0)
    assert change.wave > check.wave


def test_a_step_that_does_not_fit_tonight_moves_to_the_next_window() -> None:
    ready = dt.datetime(2026, 12, 12, 23, 0)  # Saturday 23:00, 59 minutes of window left
    start, slot = fit_window(ready, 90, (SATURDAY_EVENING,))
    assert start == dt.datetime(2026, 12, 19, 20, 0)
    assert slot == start


def test_windows_past_midnight() -> None:
    ready = dt.datetime(2026, 12, 10, 1, 0)  # Thursday 01:00, inside Wednesday's 22:00-02:00
    start, slot = fit_window(ready, 30, (OVERNIGHT,))
    assert start == ready
    assert slot == dt.datetime(2026, 12, 9, 22, 0)


def test_explicit_window_flag_wins_over_owner() -> None:
    s = step("mx.read", minutes=5, owner=Owner.EXCHANGE_ADMIN)
    from dataclasses import replace

    plan = make_plan("org", [replace(s, maintenance_window=False)], START, (SATURDAY_EVENING,))
    assert plan.schedule["mx.read"].start == dt.datetime(2026, 12, 7, 8, 0)
