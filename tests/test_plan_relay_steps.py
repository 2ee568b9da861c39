"""Relay-phase steps: stable ids, safe order (remove only after observe), rollback kept apart."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import networkx as nx
import pytest
from relay_sample import sample_inventory, sample_plan

from migrator.errors import PlanError
from migrator.inventory import load_inventory
from migrator.iprange import IPRange
from migrator.model import Inventory, RelayMethod
from migrator.pipeline import build_plan, check_path
from migrator.plan.connector_match import MatchConnector, ServerViews, partition
from migrator.plan.relay import RelayPlan
from migrator.plan.relay_steps import relay_rollback_steps, relay_steps, slug
from migrator.plan.steps import Phase, RunsIn

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"


def _graph(steps):  # type: ignore[no-untyped-def]
    g = nx.DiGraph()
    ids = {s.id for s in steps}
    for s in steps:
        g.add_node(s.id)
        for p in s.prerequisites:
            assert p in ids, f"{s.id} needs unknown step {p}"
            g.add_edge(p, s.id)
    return g


def test_ids_are_stable_and_readable() -> None:
    inv = sample_inventory()
    plan = sample_plan(inv)
    first = [s.id for s in relay_steps(inv, plan)]
    assert first == [s.id for s in relay_steps(inv, plan)]
    assert len(first) == len(set(first))
    for expected in (
        "relay.create.EX16-01.relay-relay-apps",
        "relay.permission.EX16-01.relay-relay-apps",
        "relay.test.EX16-01.relay-relay-apps.10-1-5-0-24",
        "relay.test.EX16-01.relay-relay-apps.10-1-6-7",
        "relay.test.EX16-01.relay-relay-apps.from-admin-host",
        "relay.create.EX16-02.relay-scanner-s-relay",
        "relay.test.EX16-02.relay-scanner-s-relay.10-1-9-1-10-1-9-20",
        "relay.repoint.smtp-fabrikam-test",
        "relay.observe.EX10-01",
        "relay.disable-old.EX10-01.relay-apps",
        "relay.remove-old.EX10-01.scanner-s-relay",
    ):
        assert expected in first
    # The planned order of connectors does not change the ids or their order.
    shuffled = dataclasses.replace(plan, connectors=tuple(reversed(plan.connectors)))
    assert [s.id for s in relay_steps(inv, shuffled)] == first


def test_permission_only_for_anonymous_relay() -> None:
    inv = sample_inventory()
    plan = sample_plan(inv)
    steps = {s.id: s for s in relay_steps(inv, plan)}
    for pc in plan.connectors:
        key = f"{pc.server}.{slug(pc.name)}"
        has_permission = f"relay.permission.{key}" in steps
        assert has_permission == (pc.method is RelayMethod.ANONYMOUS)
        create = steps[f"relay.create.{key}"]
        assert create.action is not None
        assert create.action.params["transport_role"] == "FrontendTransport"
        if pc.method is RelayMethod.EXTERNALLY_SECURED:
            assert create.action.params["auth_mechanism"] == ["Tls", "ExternalAuthoritative"]
            assert create.action.params["permission_groups"] == ["ExchangeServers"]
        else:
            assert create.action.params["permission_groups"] == ["AnonymousUsers"]


def test_remove_old_never_before_observe() -> None:
    inv = sample_inventory()
    steps = relay_steps(inv, sample_plan(inv))
    g = _graph(steps)
    assert nx.is_directed_acyclic_graph(g)
    order = list(nx.lexicographical_topological_sort(g))
    removes = [s for s in steps if s.id.startswith("relay.remove-old.")]
    assert removes
    for s in removes:
        server = s.id.split(".")[2]
        observe = f"relay.observe.{server}"
        disable = s.id.replace("remove-old", "disable-old")
        assert observe in nx.ancestors(g, s.id)
        assert disable in nx.ancestors(g, s.id)
        soak = f"relay.soak.{server}"
        assert order.index(observe) < order.index(disable) < order.index(soak) < order.index(s.id)
        # the rollback recreates the removed connector as the inventory shows it
        assert s.reversible is True and "recreates it" in s.rollback
    # the observation period is a wait step before the observe step (review 4, m7)
    wait_step = next(s for s in steps if s.id == "relay.observe-wait.EX10-01")
    assert wait_step.wait_minutes == 14 * 24 * 60
    # Observation starts only after the repoint, which waits for every relay test.
    tests = {s.id for s in steps if s.id.startswith("relay.test.")}
    assert tests <= nx.ancestors(g, "relay.observe.EX10-01")


def test_runbooks_and_shells() -> None:
    inv = sample_inventory()
    for s in relay_steps(inv, sample_plan(inv)):
        assert s.phase is Phase.RELAY
        if s.id.startswith("relay.observe-wait."):
            # the observation period before the observe step (review 4, m7): a wait, no shell
            assert s.runs_in is RunsIn.MANUAL and s.action is None
            assert s.runbook == "runbooks/20-relay/EX10-01-decommission.ps1"
        elif s.id.startswith(("relay.observe.", "relay.disable-old.")):
            assert s.runs_in is RunsIn.EMS_2010
            assert s.runbook == "runbooks/20-relay/EX10-01-decommission.ps1"
        elif s.id.startswith(("relay.soak.", "relay.remove-old.")):
            assert s.runs_in is RunsIn.EMS_2010
            assert s.runbook == "runbooks/20-relay/EX10-01-after-soak.ps1"
        elif s.id.startswith(("relay.repoint.", "relay.verify-alias.", "relay.test-alias.")):
            # the DNS change (manual: the runner stops there), its scripted check and the tests
            # through the alias, in the alias runbook (review M3: the repoint was in no runbook)
            # tests through the alias run once it points at the new servers, from their own runbook
            assert s.runbook == "runbooks/20-relay/smtp-fabrikam-test.ps1"
        else:
            assert s.runbook in {"runbooks/20-relay/EX16-01.ps1", "runbooks/20-relay/EX16-02.ps1"}


def test_repoint_without_alias_goes_to_application_owners() -> None:
    inv = sample_inventory(smtp_alias="")
    ids = [s.id for s in relay_steps(inv, sample_plan(inv))]
    assert "relay.repoint.applications" in ids


def test_rollback_steps_stay_outside_the_main_order() -> None:
    inv = sample_inventory()
    plan = sample_plan(inv)
    main = relay_steps(inv, plan)
    rollback = relay_rollback_steps(inv, plan)
    rollback_ids = {s.id for s in rollback}
    assert all(i.startswith("relay.rollback.") for i in rollback_ids)
    # prerequisites only inside the rollback (an internal-only removal waits for the relay removals)
    assert all(set(s.prerequisites) <= rollback_ids for s in rollback)
    for s in main:  # no step of the main order waits for a rollback step
        assert not rollback_ids & set(s.prerequisites)
    assert [s.id for s in rollback if "EX16-01" in s.id] == [
        "relay.rollback.permission.EX16-01.relay-relay-apps",
        "relay.rollback.remove.EX16-01.relay-relay-apps",
        "relay.rollback.remove.EX16-01.relay-scanner-s-relay",
    ]
    assert {s.runbook for s in rollback} == {
        "runbooks/20-relay/EX16-01-rollback.ps1",
        "runbooks/20-relay/EX16-02-rollback.ps1",
        "runbooks/20-relay/EX10-01-rollback.ps1",
        "runbooks/20-relay/smtp-fabrikam-test-rollback.ps1",  # the alias back first (review M3)
    }


def test_no_connectors_no_steps() -> None:
    inv = sample_inventory()
    plan = dataclasses.replace(sample_plan(inv), connectors=())
    assert relay_steps(inv, plan) == []
    assert relay_rollback_steps(inv, plan) == []


def test_a_connector_for_every_address_is_refused() -> None:
    inv = sample_inventory()
    plan = sample_plan(inv)
    wide = dataclasses.replace(plan.connectors[0], remote_ip_ranges=(IPRange.parse("0.0.0.0/0"),))
    with pytest.raises(
        PlanError,
        match=r"open relay refused: planned connector 'EX16-01\\Relay Relay Apps' would relay for every address: '0\.0\.0\.0/0'",
    ):
        relay_steps(inv, dataclasses.replace(plan, connectors=(wide,)))
    empty = dataclasses.replace(plan.connectors[0], remote_ip_ranges=())
    with pytest.raises(PlanError, match="has no remote IP ranges"):
        relay_steps(inv, dataclasses.replace(plan, connectors=(empty,)))


def test_no_runbook_runs_the_soak_check_or_a_removal_in_the_run_that_disables() -> None:
    """The soak check and the removals are never in the runbook of the disable (both hops): one run cannot
    disable and remove back to back, the soak lies between them, whatever -ConfirmObserved says."""
    inv = load_inventory(CONTOSO)
    plan = build_plan(inv)
    kinds = {"disable-old", "soak", "remove-old"}
    by_runbook: dict[str, set[str]] = {}
    for s in plan.steps:
        parts = s.id.removeprefix("onward.").split(".")
        if parts[0] == "relay" and parts[1] in kinds:
            by_runbook.setdefault(s.runbook, set()).add(parts[1])
    assert len(by_runbook) >= 4  # 2010 and 2016 servers, decommission and after-soak runbooks
    for runbook, found in by_runbook.items():
        assert not ("disable-old" in found and found & {"soak", "remove-old"}), runbook
    soak_days = inv.policy.soak_days
    disables = [s for s in plan.steps if ".disable-old." in s.id]
    assert disables and all(s.wait_minutes == soak_days * 24 * 60 for s in disables)
    # the removal tells the helper how long the connector must have been disabled
    removes = [s for s in plan.steps if ".remove-old." in s.id]
    assert removes
    for s in removes:
        assert s.action is not None and s.action.params["soak_days"] == soak_days


def _relayed(view: list[MatchConnector]) -> dict[int, list[tuple[int, int]]]:
    """Per address family, the stretches whose connector relays (most specific match)."""
    out: dict[int, list[tuple[int, int]]] = {}
    for version in (4, 6):
        out[version] = [
            (seg.first, seg.last)
            for seg in partition(view, version)
            if seg.winner is not None and view[seg.winner].relays
        ]
    return out


def _within(inner: list[tuple[int, int]], outer: list[tuple[int, int]]) -> bool:
    return all(any(a <= first and last <= b for a, b in outer) for first, last in inner)


def _rollback_cases() -> list[tuple[str, Inventory, RelayPlan, Phase]]:
    inv = sample_inventory()
    cases = [("sample", inv, sample_plan(inv), Phase.RELAY)]
    analysis = check_path(CONTOSO)
    cases.append(("contoso", analysis.inventory, analysis.relay, Phase.RELAY))
    if analysis.onward_relay is not None:
        cases.append(("contoso-onward", analysis.inventory, analysis.onward_relay, Phase.ONWARD))
    return cases


@pytest.mark.parametrize("case", _rollback_cases(), ids=lambda c: c[0])
def test_every_prefix_of_a_rollback_relays_no_wider_than_before(
    case: tuple[str, Inventory, RelayPlan, Phase],
) -> None:
    """The rollback can stop after any step (a failed read-back, a "No" at the prompt, -Only): at every
    point, the addresses a new server relays for are a subset of those it relayed for before it began.

    Most specific match decides which connector takes each address; revoking a grant ends relay on an
    anonymous connector, removing a connector hands its addresses to the next most specific one.
    """
    _name, inv, plan, phase = case
    rollback = relay_rollback_steps(inv, plan, phase)
    views = ServerViews(inv, plan)
    servers = sorted({pc.server for pc in (*plan.connectors, *plan.internal)}, key=str.lower)
    assert servers
    checked = 0
    for server in servers:
        view = list(views.after(server))
        start = _relayed(view)
        ids = {c.identity.lower(): i for i, c in enumerate(view)}
        for step in rollback:
            if step.runs_in is not RunsIn.EMS_NEW or step.target.split("\\")[0].lower() != (
                server.lower()
            ):
                continue
            at = ids[step.target.lower()]
            if ".rollback.permission." in step.id:
                view[at] = dataclasses.replace(view[at], relays=False)
            elif ".rollback.remove." in step.id:
                view[at] = dataclasses.replace(view[at], ranges=())
            now = _relayed(view)
            for version in (4, 6):
                assert _within(now[version], start[version]), (server, step.id)
            checked += 1
        # at the end nothing migrator made relays any more
        assert all(not c.relays for c in view if c.planned and c.ranges)
    assert checked
    # -Only cannot break the order either: an internal-only removal names the relay connectors of its
    # server, and the helper refuses while one of them is there
    relay_names = {(pc.server.lower(), pc.name) for pc in plan.connectors}
    for pc in plan.internal:
        step = next(s for s in rollback if s.target == pc.identity and ".rollback.remove." in s.id)
        assert step.action is not None
        wanted = sorted(n for srv, n in relay_names if srv == pc.server.lower())
        assert sorted(step.action.params["gone_first"]) == wanted
        assert len(step.prerequisites) == len(wanted)


@pytest.mark.parametrize("case", _rollback_cases(), ids=lambda c: c[0])
def test_rollback_recreates_an_old_connector_before_enabling_it(
    case: tuple[str, Inventory, RelayPlan, Phase],
) -> None:
    """Review M4: the enable needs the connector; after relay.remove-old it is gone until recreated."""
    _name, inv, plan, phase = case
    rollback = relay_rollback_steps(inv, plan, phase)
    order = [s.id for s in rollback]
    enables = [s for s in rollback if ".rollback.enable-old." in s.id]
    assert enables
    recreated = 0
    for enable in enables:
        recreate = enable.id.replace(".enable-old.", ".recreate-old.")
        if recreate in order:
            recreated += 1
            assert order.index(recreate) < order.index(enable.id)
            assert next(s for s in rollback if s.id == recreate).runbook == enable.runbook
    assert recreated


@pytest.mark.parametrize("case", _rollback_cases(), ids=lambda c: c[0])
def test_an_old_connector_is_recreated_with_its_ranges_as_written(
    case: tuple[str, Inventory, RelayPlan, Phase],
) -> None:
    """Review M5: "as it was" means every RemoteIPRanges entry of the export, a ``%zone`` one included (it
    is the same server's interface), in the export's own text."""
    _name, inv, plan, phase = case
    exported = {c.identity.lower(): c for c in inv.receive_connectors}
    seen = 0
    for s in relay_rollback_steps(inv, plan, phase):
        if ".rollback.recreate-old." not in s.id or s.target.lower() not in exported:
            continue
        assert s.action is not None
        wanted = [r.as_written() for r in exported[s.target.lower()].remote_ip_ranges]
        assert s.action.params["remote_ip_ranges"] == wanted
        seen += 1
    # onward, the old connectors are the plan's own 2016 ones (never a zone: it is never copied)
    assert seen or phase is Phase.ONWARD


def test_a_zone_range_comes_back_with_the_recreated_connector() -> None:
    """Review M5 on a connector that is migrated: the new connector never gets the ``%zone`` entry, the
    recreated old one does."""
    from relay_builders import inventory, relay

    from migrator.plan.relay import plan_relay

    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24", "fe80::a1b2:c3ff:fed4:e5f6%11"])
    inv = inventory([c], [g])
    plan = plan_relay(inv)
    (pc,) = plan.connectors
    assert [str(r) for r in pc.remote_ip_ranges] == ["10.1.20.0/24"]
    recreate = next(s for s in relay_rollback_steps(inv, plan) if ".recreate-old." in s.id)
    assert recreate.action is not None
    assert recreate.action.params["remote_ip_ranges"] == [
        "10.1.20.0/24",
        "fe80::a1b2:c3ff:fed4:e5f6%11",
    ]


def test_every_front_end_connector_a_soak_check_reads_logs_verbose_before_it() -> None:
    """Review M7: the onward soak refuses while an enabled Front End connector of the 2016 server does not
    log Verbose; a scripted step before it sets every one of them (the inventory shows some at None)."""
    inv = load_inventory(CONTOSO)
    plan = build_plan(inv)
    g = _graph(plan.steps)
    soaks = [s for s in plan.steps if s.id.startswith("onward.relay.soak.")]
    assert soaks
    for soak in soaks:
        assert soak.action is not None and soak.action.params["frontend"] is True
        server = soak.target.lower()
        logging = [
            s
            for s in plan.steps
            if s.action is not None
            and s.action.kind == "servers.frontend-logging"
            and s.target.lower() == server
        ]
        assert len(logging) == 1, soak.id
        assert logging[0].id in nx.ancestors(g, soak.id)
        quiet = {
            c.name
            for c in inv.receive_connectors
            if c.server.lower() == server
            and c.transport_role is not None
            and c.transport_role.value == "FrontendTransport"
        }
        assert quiet and quiet <= set(logging[0].action.params["connectors"])


def test_the_go_no_go_comes_before_the_namespace_cut_over() -> None:
    """Review M2: servers.readiness is a prerequisite of servers.namespace, never the other way round."""
    plan = build_plan(load_inventory(CONTOSO))
    g = _graph(plan.steps)
    assert "servers.readiness" in nx.ancestors(g, "servers.namespace")
    assert "servers.namespace" not in nx.ancestors(g, "servers.readiness")
    assert plan.schedule["servers.readiness"].start < plan.schedule["servers.namespace"].start
