"""The dependency graph of steps: validation, run order, critical path, schedule.

networkx lives here and nowhere else: callers hand in :class:`Step` values and
get a :class:`MigrationPlan` back (ordered steps, dependents, critical path,
earliest starts and waves), never a graph object.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from migrator.errors import PlanError
from migrator.model import MaintenanceWindow
from migrator.plan.schedule import Timeline, critical_path
from migrator.plan.steps import MigrationPlan, Step

if TYPE_CHECKING:
    import networkx as nx


def _key(step: Step) -> tuple[int, str]:
    return (step.phase.order, step.id)


def _index(steps: Iterable[Step]) -> dict[str, Step]:
    by_id: dict[str, Step] = {}
    duplicates: set[str] = set()
    for step in steps:
        if step.id in by_id:
            duplicates.add(step.id)
        by_id[step.id] = step
    if duplicates:
        raise PlanError(
            "\n".join(f"step id '{d}' is used by more than one step" for d in sorted(duplicates))
        )
    return by_id


def _graph(by_id: dict[str, Step]) -> nx.DiGraph:
    import networkx as nx  # imported where it is used (keeps the CLI's start fast)

    unknown = sorted(
        (step_id, pre)
        for step_id, step in by_id.items()
        for pre in step.prerequisites
        if pre not in by_id
    )
    if unknown:
        raise PlanError("\n".join(f"step '{s}' needs unknown step '{p}'" for s, p in unknown))
    graph = nx.DiGraph()
    graph.add_nodes_from(sorted(by_id, key=lambda i: _key(by_id[i])))
    for step_id in sorted(by_id):
        for pre in sorted(set(by_id[step_id].prerequisites)):
            graph.add_edge(pre, step_id)
    return graph


def _cycles(graph: nx.DiGraph) -> list[list[str]]:
    """One cycle per strongly connected knot, each starting at its smallest id."""
    import networkx as nx  # imported where it is used (keeps the CLI's start fast)

    cycles: list[list[str]] = []
    for component in nx.strongly_connected_components(graph):
        if len(component) == 1:
            (node,) = component
            if graph.has_edge(node, node):
                cycles.append([node])
            continue
        sub = graph.subgraph(component)
        edges = nx.find_cycle(sub, source=min(component))
        nodes = [u for u, _v in edges]
        start = nodes.index(min(nodes))
        cycles.append(nodes[start:] + nodes[:start])
    return sorted(cycles)


def cycle_message(cycle: Sequence[str]) -> str:
    """``dependency cycle: a --> b --> a`` for a cycle given as its nodes in order."""
    return "dependency cycle: " + " --> ".join([*cycle, cycle[0]])


def order_steps(steps: Sequence[Step]) -> list[Step]:
    """The steps in run order: every prerequisite first, ties broken by (phase, id).

    Raises :class:`PlanError` for duplicate ids, unknown prerequisites (naming
    each) and dependency cycles (naming every step of each cycle).
    """
    by_id = _index(steps)
    ordered_ids, _, _ = _run_order(by_id)
    return [by_id[i] for i in ordered_ids]


def _run_order(
    by_id: dict[str, Step],
) -> tuple[list[str], dict[str, set[str]], dict[str, list[str]]]:
    """Ids in run order, each step's prerequisites (a set) and dependents.

    The order networkx's ``lexicographical_topological_sort`` gives with the key
    (phase, id), which is unique per step: of the steps whose prerequisites are all
    placed, the smallest key goes next. Made here with a heap (at 300,000 users the
    graph object and its sort cost seconds); on unknown prerequisites or a cycle the
    networkx graph is built and explains them.
    """
    before = {step_id: set(step.prerequisites) for step_id, step in by_id.items()}
    after: dict[str, list[str]] = {step_id: [] for step_id in by_id}
    for step_id, pres in before.items():
        for pre in pres:
            found = after.get(pre)
            if found is None:
                _ordered_ids(_graph(by_id), by_id)  # raises: names every unknown prerequisite
                raise AssertionError("an unknown prerequisite passed the graph")  # pragma: no cover
            found.append(step_id)
    waiting = {step_id: len(pres) for step_id, pres in before.items()}
    ready = [(_key(by_id[i]), i) for i, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    ordered: list[str] = []
    while ready:
        _, step_id = heapq.heappop(ready)
        ordered.append(step_id)
        for nxt in after[step_id]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                heapq.heappush(ready, (_key(by_id[nxt]), nxt))
    if len(ordered) < len(by_id):
        _ordered_ids(_graph(by_id), by_id)  # raises: names every step of each cycle
        raise AssertionError("a cycle passed the graph")  # pragma: no cover
    return ordered, before, after


def _ordered_ids(graph: nx.DiGraph, by_id: dict[str, Step]) -> list[str]:
    import networkx as nx  # imported where it is used (keeps the CLI's start fast)

    try:
        return list(nx.lexicographical_topological_sort(graph, key=lambda i: _key(by_id[i])))
    except nx.NetworkXUnfeasible:
        raise PlanError("\n".join(cycle_message(c) for c in _cycles(graph))) from None


def make_plan(
    organisation: str,
    steps: Sequence[Step],
    start: dt.date,
    windows: Sequence[MaintenanceWindow] = (),
    holidays: Collection[dt.date] = (),
) -> MigrationPlan:
    """Validate, order and schedule ``steps`` into a :class:`MigrationPlan`.

    Prerequisites of each step come back de-duplicated and in run order;
    ``dependents_of`` is filled from the same graph.
    """
    return draft_plan(organisation, steps, start, windows, holidays=holidays).plan


@dataclass(frozen=True)
class Draft:
    """A plan and the timeline it was scheduled on (:func:`draft_plan` can continue it)."""

    plan: MigrationPlan
    timeline: Timeline


def draft_plan(
    organisation: str,
    steps: Sequence[Step],
    start: dt.date,
    windows: Sequence[MaintenanceWindow] = (),
    earlier: Draft | None = None,
    holidays: Collection[dt.date] = (),
) -> Draft:
    """:func:`make_plan`, keeping its timeline; with ``earlier`` (a draft of some of these steps),
    the head of the run order they share keeps its schedule (:class:`Timeline`): the same plan
    as :func:`make_plan` gives, in one scheduling pass."""
    by_id = _index(steps)
    ordered_ids, before, after = _run_order(by_id)
    position = {step_id: n for n, step_id in enumerate(ordered_ids)}

    def in_order(ids: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted(set(ids), key=position.__getitem__))

    ordered = [_with_prerequisites(by_id[i], in_order(before[i])) for i in ordered_ids]
    dependents = {i: in_order(after[i]) for i in ordered_ids}
    path = critical_path(ordered)
    timeline = Timeline.of(
        ordered, start, windows, earlier.timeline if earlier is not None else None, holidays
    )
    plan = MigrationPlan(
        organisation=organisation,
        plan_date=start,
        steps=tuple(ordered),
        schedule=timeline.scheduled(frozenset(path)),
        critical_path=path,
        dependents_of={k: v for k, v in dependents.items() if v},
    )
    return Draft(plan, timeline)


def _with_prerequisites(step: Step, prerequisites: tuple[str, ...]) -> Step:
    if step.prerequisites == prerequisites:
        return step
    return replace(step, prerequisites=prerequisites)
