"""Small MigrationPlans built in Python for the workbook, tracking and status tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from migrator.plan.steps import MigrationPlan, Owner, Phase, RunsIn, ScheduledStep, Step

START = dt.datetime(2026, 12, 1, 8, 0)


def step(
    step_id: str,
    prerequisites: Sequence[str] = (),
    title: str = "",
    owner: Owner = Owner.EXCHANGE_ADMIN,
    target: str = "EX16-01",
    minutes: int = 30,
) -> Step:
    """A step whose phase is taken from its id."""
    phase = Phase(step_id.split(".", 1)[0])
    return Step(
        id=step_id,
        phase=phase,
        title=title or f"Do {step_id}",
        target=target,
        owner=owner,
        runs_in=RunsIn.EMS_NEW if owner is Owner.EXCHANGE_ADMIN else RunsIn.MANUAL,
        duration_minutes=minutes,
        prerequisites=tuple(prerequisites),
        runbook=f"runbooks/{phase.number}-{phase.value}/EX16-01.ps1"
        if owner is Owner.EXCHANGE_ADMIN
        else "",
    )


def plan_of(steps: Sequence[Step], organisation: str = "Contoso Ltd") -> MigrationPlan:
    """A plan of ``steps`` (already in run order), scheduled one after another in waves of depth."""
    schedule: dict[str, ScheduledStep] = {}
    wave: dict[str, int] = {}
    finish: dict[str, dt.datetime] = {}
    dependents: dict[str, list[str]] = {}
    for s in steps:
        w = 1 + max((wave[p] for p in s.prerequisites), default=0)
        start = max((finish[p] for p in s.prerequisites), default=START)
        wave[s.id] = w
        finish[s.id] = start + dt.timedelta(minutes=s.duration_minutes)
        schedule[s.id] = ScheduledStep(s.id, w, start, finish[s.id], critical=False)
        for p in s.prerequisites:
            dependents.setdefault(p, []).append(s.id)
    # The critical path: walk back from the step that finishes last.
    path: list[str] = []
    by_id = {s.id: s for s in steps}
    if steps:
        current: str | None = max(steps, key=lambda s: (finish[s.id], s.id)).id
        while current is not None:
            path.append(current)
            pres = list(by_id[current].prerequisites)
            current = max(pres, key=lambda p: (finish[p], p)) if pres else None
    path.reverse()
    for sid in path:
        old = schedule[sid]
        schedule[sid] = ScheduledStep(sid, old.wave, old.start, old.finish, critical=True)
    return MigrationPlan(
        organisation=organisation,
        plan_date=START.date(),
        steps=tuple(steps),
        schedule=schedule,
        critical_path=tuple(path),
        dependents_of={k: tuple(v) for k, v in dependents.items()},
    )


def sample_plan(organisation: str = "Contoso Ltd") -> MigrationPlan:
    """Eight steps over five phases with a fork and a join."""
    return plan_of(
        [
            step("prepare.schema"),
            step("prepare.certificates", ["prepare.schema"]),
            step("servers.install.EX16-01", ["prepare.schema"]),
            step("relay.create.EX16-01.apps", ["servers.install.EX16-01", "prepare.certificates"]),
            step("relay.create.EX16-01.printers", ["servers.install.EX16-01"]),
            step("mx.lower-ttl", [], owner=Owner.DNS_ADMIN, target="contoso.com", minutes=5),
            step(
                "mx.switch",
                ["relay.create.EX16-01.apps", "relay.create.EX16-01.printers", "mx.lower-ttl"],
                owner=Owner.DNS_ADMIN,
                target="contoso.com",
            ),
            step("decommission.EX10-01", ["mx.switch"]),
        ],
        organisation,
    )


def chain_plan(n: int, prefix: str = "step") -> MigrationPlan:
    """``n`` steps in one chain, spread over the phases (for the benchmark and large tests)."""
    phases = list(Phase)
    steps = []
    previous: list[str] = []
    for i in range(n):
        phase = phases[i * len(phases) // max(n, 1)]
        sid = f"{phase.value}.{prefix}{i:06d}"
        owner = Owner.EXCHANGE_ADMIN if i % 3 else Owner.DNS_ADMIN
        steps.append(step(sid, previous, owner=owner, target=f"EX16-{i % 4:02d}"))
        previous = [sid]
    return plan_of(steps)
