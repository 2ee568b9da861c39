"""The dependency graph of steps: validation, run order, critical path, schedule.

networkx lives here and nowhere else: callers hand in :class:`Step` values and
get a :class:`MigrationPlan` back (ordered steps, dependents, critical path,
earliest starts and waves), never a graph object.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from migrator.errors import PlanError
from migrator.model import MaintenanceWindow
from migrator.plan.schedule import critical_path, schedule_steps
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
    graph = _graph(by_id)
    return [by_id[i] for i in _ordered_ids(graph, by_id)]


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
) -> MigrationPlan:
    """Validate, order and schedule ``steps`` into a :class:`MigrationPlan`.

    Prerequisites of each step come back de-duplicated and in run order;
    ``dependents_of`` is filled from the same graph.
    """
    by_id = _index(steps)
    graph = _graph(by_id)
    ordered_ids = _ordered_ids(graph, by_id)
    position = {step_id: n for n, step_id in enumerate(ordered_ids)}

    def in_order(ids: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted(set(ids), key=position.__getitem__))

    ordered = [_with_prerequisites(by_id[i], in_order(graph.predecessors(i))) for i in ordered_ids]
    dependents = {i: in_order(graph.successors(i)) for i in ordered_ids}
    path = critical_path(ordered)
    schedule = schedule_steps(ordered, start, windows, frozenset(path))
    return MigrationPlan(
        organisation=organisation,
        plan_date=start,
        steps=tuple(ordered),
        schedule=schedule,
        critical_path=path,
        dependents_of={k: v for k, v in dependents.items() if v},
    )


def _with_prerequisites(step: Step, prerequisites: tuple[str, ...]) -> Step:
    if step.prerequisites == prerequisites:
        return step
    return replace(step, prerequisites=prerequisites)
