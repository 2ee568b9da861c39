"""A timeline continued from an earlier one (:class:`migrator.plan.schedule.Timeline`) gives the plan a
full scheduling pass gives: the certificate renewal's single pass (issue 18)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import migrator.plan.phases as phases
from migrator.model import MaintenanceWindow
from migrator.pipeline import build_plan, check_path
from migrator.plan.graph import Draft, draft_plan, make_plan
from migrator.plan.steps import Owner, Phase, RunsIn, Step

ROOT = Path(__file__).resolve().parent.parent
START = dt.date(2026, 12, 7)
WINDOWS = (
    MaintenanceWindow(2, dt.time(21, 0), dt.time(23, 30)),
    MaintenanceWindow(5, dt.time(20, 0), dt.time(2, 0)),
)
PHASES = (Phase.PREPARE, Phase.SERVERS, Phase.RELAY, Phase.MOVES, Phase.DECOMMISSION)


def _step(rng: random.Random, n: int, before: list[Step]) -> Step:
    phase = rng.choice(PHASES)
    pres = rng.sample([s.id for s in before], k=min(len(before), rng.randint(0, 3)))
    return Step(
        id=f"{phase.value}.s{n:03d}",
        phase=phase,
        title="a step",
        target="t",
        owner=rng.choice((Owner.EXCHANGE_ADMIN, Owner.APPLICATION_OWNERS)),
        runs_in=RunsIn.MANUAL,
        duration_minutes=rng.choice((5, 30, 90, 200)),
        wait_minutes=rng.choice((0, 0, 60, 24 * 60)),
        prerequisites=tuple(pres),
        window_share=("share", rng.randint(1, 2)) if rng.random() < 0.15 else None,
        fresh_window=rng.random() < 0.15,
        window_minutes=rng.choice((0, 0, 240)),
        cutover=rng.choice(("", "", "", "a", "b")),
    )


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_a_continued_timeline_gives_the_plan_of_a_full_pass(seed: int, windows: bool) -> None:
    rng = random.Random(seed)
    steps: list[Step] = []
    for n in range(rng.randint(1, 40)):
        steps.append(_step(rng, n, steps))
    wins = WINDOWS if windows else ()
    first = draft_plan("org", steps, START, wins)
    # add steps (after any of the others) and make some of the others wait for them
    more = list(steps)
    for n in range(40, 40 + rng.randint(1, 6)):
        more.append(_step(rng, n, more))
    for k in rng.sample(range(len(steps)), k=min(len(steps), rng.randint(0, 2))):
        extra = more[rng.randrange(len(steps), len(more))].id
        if more[k].id not in _ancestors(more, extra):
            more[k] = replace(more[k], prerequisites=(*more[k].prerequisites, extra))
    again = draft_plan("org", more, START, wins, earlier=first)
    assert again.plan == make_plan("org", more, START, wins)


def _ancestors(steps: list[Step], sid: str) -> set[str]:
    by_id = {s.id: s for s in steps}
    seen: set[str] = set()
    todo = [sid]
    while todo:
        x = todo.pop()
        if x not in seen:
            seen.add(x)
            todo.extend(by_id[x].prerequisites)
    return seen


def test_an_unchanged_plan_is_copied_whole() -> None:
    rng = random.Random(7)
    steps: list[Step] = []
    for n in range(30):
        steps.append(_step(rng, n, steps))
    first = draft_plan("org", steps, START, WINDOWS)
    again = draft_plan("org", steps, START, WINDOWS, earlier=first)
    assert again.timeline.copied == len(steps)
    assert again.plan == first.plan
    # another start date: nothing is copied
    other = draft_plan("org", steps, START + dt.timedelta(days=1), WINDOWS, earlier=first)
    assert other.timeline.copied == 0


def test_contoso_renewal_is_scheduled_once_and_as_two_passes_scheduled_it(monkeypatch) -> None:
    """contoso's certificate expires mid-plan: the renewal continues the first timeline, and
    the plan is the one a second full pass gives (the goldens hold the rest)."""
    seen: list[tuple[Draft, Draft]] = []
    real = phases.draft_plan

    def spy(org, steps, day, windows=(), earlier=None, holidays=()):  # type: ignore[no-untyped-def]
        got = real(org, steps, day, windows, earlier, holidays)
        if earlier is not None:
            seen.append((got, real(org, steps, day, windows, holidays=holidays)))
        return got

    monkeypatch.setattr(phases, "draft_plan", spy)
    plan = build_plan(check_path(ROOT / "inventories" / "contoso"))
    assert len(seen) == 1
    continued, full = seen[0]
    assert continued.plan == full.plan == plan
    assert any(s.id.startswith("servers.certificate-renew.") for s in plan.steps)
    # most steps keep the first pass's place; the renewal's cut-overs and what waits for them do not
    assert 0 < len(plan.steps) - continued.timeline.copied < len(plan.steps) // 2
