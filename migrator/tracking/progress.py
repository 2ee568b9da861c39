"""Progress of a migration from its tracking: per phase, done, blocked (and what that holds up), next."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from migrator.plan.steps import MigrationPlan, Phase
from migrator.tracking.model import Status, StepTracking, Tracking


@dataclass(frozen=True)
class PhaseProgress:
    """Counts for one phase."""

    phase: str
    """Phase name as in the Steps sheet."""
    counts: Mapping[Status, int]
    """Steps per status (every status present, zero where none)."""

    @property
    def total(self) -> int:
        """Steps in the phase."""
        return sum(self.counts.values())

    @property
    def resolved(self) -> int:
        """Steps Done or Skipped."""
        return self.counts[Status.DONE] + self.counts[Status.SKIPPED]

    @property
    def percent_done(self) -> int:
        """Done or Skipped as a whole percentage (rounded down, 100 only when all are)."""
        return self.resolved * 100 // self.total if self.total else 0


@dataclass(frozen=True)
class BlockedStep:
    """A blocked step and everything waiting on it."""

    step: StepTracking
    """The blocked step (with its notes)."""
    blocks: tuple[str, ...]
    """Ids of the unfinished steps that need it, directly or through other steps."""


@dataclass(frozen=True)
class Progress:
    """Where the migration stands."""

    phases: tuple[PhaseProgress, ...]
    """Per phase, in phase order (phases the plan does not know come last, sorted)."""
    done: tuple[StepTracking, ...]
    """Steps Done, in sheet order."""
    in_progress: tuple[StepTracking, ...]
    """Steps In progress."""
    blocked: tuple[BlockedStep, ...]
    """Steps Blocked, with what they hold up."""
    can_start: tuple[StepTracking, ...]
    """Steps Not started whose prerequisites are all Done or Skipped."""

    @property
    def total(self) -> int:
        """All steps."""
        return sum(p.total for p in self.phases)

    @property
    def resolved(self) -> int:
        """Steps Done or Skipped."""
        return sum(p.resolved for p in self.phases)


def _phase_key(name: str) -> tuple[int, str]:
    known = {p.value: p.order for p in Phase}
    return (known.get(name, len(known)), name)


def _rows_of_plan(plan: MigrationPlan) -> tuple[StepTracking, ...]:
    return tuple(
        StepTracking(
            step_id=s.id,
            phase=s.phase.value,
            title=s.title,
            prerequisites=s.prerequisites,
            status=Status.NOT_STARTED,
            owner=s.owner.value,
        )
        for s in plan.steps
    )


def progress(source: MigrationPlan | Tracking) -> Progress:
    """Progress of a plan (every step Not started) or of a workbook read back."""
    rows: Sequence[StepTracking] = (
        _rows_of_plan(source) if isinstance(source, MigrationPlan) else source.steps
    )
    by_id = {r.step_id: r for r in rows}
    order = {r.step_id: i for i, r in enumerate(rows)}
    dependents: dict[str, list[str]] = {}
    for r in rows:
        for p in r.prerequisites:
            dependents.setdefault(p, []).append(r.step_id)

    counts: dict[str, dict[Status, int]] = {}
    for r in rows:
        phase_counts = counts.get(r.phase)
        if phase_counts is None:
            phase_counts = counts[r.phase] = dict.fromkeys(Status, 0)
        phase_counts[r.status] += 1

    def holds_up(step_id: str) -> tuple[str, ...]:
        seen: set[str] = set()
        queue = deque(dependents.get(step_id, ()))
        while queue:
            d = queue.popleft()
            if d in seen or d == step_id:
                continue
            seen.add(d)
            queue.extend(dependents.get(d, ()))
        waiting = [d for d in seen if d in by_id and not by_id[d].status.resolved]
        return tuple(sorted(waiting, key=order.__getitem__))

    def ready(r: StepTracking) -> bool:
        return r.status is Status.NOT_STARTED and all(
            p in by_id and by_id[p].status.resolved for p in r.prerequisites
        )

    return Progress(
        phases=tuple(
            PhaseProgress(phase=name, counts=counts[name])
            for name in sorted(counts, key=_phase_key)
        ),
        done=tuple(r for r in rows if r.status is Status.DONE),
        in_progress=tuple(r for r in rows if r.status is Status.IN_PROGRESS),
        blocked=tuple(
            BlockedStep(step=r, blocks=holds_up(r.step_id))
            for r in rows
            if r.status is Status.BLOCKED
        ),
        can_start=tuple(r for r in rows if ready(r)),
    )
