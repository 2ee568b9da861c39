"""The onward move carries the relay connectors from 2016 to SE: same mapping, same checks, safe order."""

from __future__ import annotations

import dataclasses
import datetime as dt

import networkx as nx
import pytest
from powershell_check import check_script
from relay_builders import (
    ALL4,
    ALL6,
    connector,
    grant,
    inventory,
    relay,
    server,
    with_policy,
)

from migrator.checks.versions import check_versions
from migrator.errors import PlanError
from migrator.model import Inventory, RelayMethod, RelayOverride, Severity, TransportRole
from migrator.pipeline import build_plan
from migrator.plan.phases import check_coexistence
from migrator.plan.phases._common import estate
from migrator.plan.relay import onward_inventory, plan_onward_relay, plan_relay
from migrator.plan.relay_checks import check_onward_relay, check_relay
from migrator.plan.relay_steps import relay_rollback_steps, relay_steps
from migrator.plan.steps import Phase, RunsIn
from migrator.render.runbooks import RunbookContext, group_by_runbook, render_runbook

SE_DEFAULTS = (
    connector(
        "EX-SE-01",
        "Default Frontend EX-SE-01",
        (ALL4, ALL6),
        bindings=("0.0.0.0:25", "[::]:25"),
        groups=("AnonymousUsers", "ExchangeServers", "ExchangeLegacyServers"),
        auth=("Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer"),
        role=TransportRole.FRONTEND,
    ),
)


def _inv(*extra_connectors, se: bool = True, extra_permissions=(), **policy) -> Inventory:  # type: ignore[no-untyped-def]
    apps, apps_grant = relay("EX10-01", "Relay Apps", ("10.1.5.0/24", "10.1.6.7"), size=10485760)
    scan = connector(
        "EX10-01",
        "Scanners",
        ("10.1.9.0/28",),
        groups=("ExchangeServers",),
        auth=("Tls", "ExternalAuthoritative"),
    )
    servers = [
        server("EX10-01", ips=("10.1.0.10",)),
        server("EX16-01", "2016", ips=("10.1.0.20",)),
    ]
    if se:
        servers.append(server("EX-SE-01", "SE", ips=("10.1.0.30", "fd00:1::30")))
    base = {
        "targets_by_site": (("HQ", ("EX16-01",)),),
        "relay_name_pattern": "{name} {server}",
        "smtp_alias": "smtp.contoso.test",
        "start_date": dt.date(2027, 1, 4),
        "overrides": (RelayOverride("EX10-01\\Scanners", name="MFP Scanners"),),
    }
    base.update(policy)
    return inventory(
        [apps, scan, *(SE_DEFAULTS if se else ()), *extra_connectors],
        [apps_grant, *extra_permissions],
        servers=servers,
        policy=with_policy(**base),
    )


def _graph(steps):  # type: ignore[no-untyped-def]
    g = nx.DiGraph()
    for s in steps:
        g.add_node(s.id)
        for p in s.prerequisites:
            g.add_edge(p, s.id)
    return g


# --------------------------------------------------------------------------- mapping


def test_same_mapping_is_carried_from_2016_to_se() -> None:
    inv = _inv()
    first = plan_relay(inv)
    onward = plan_onward_relay(inv, first)
    assert {p.server for p in first.connectors} == {"EX16-01"}  # SE is no first-hop target
    by_source = {p.source_identity: p for p in onward.connectors}
    assert sorted(by_source) == sorted(p.identity for p in first.connectors)
    for hop in first.connectors:
        se = by_source[hop.identity]
        assert se.server == "EX-SE-01"
        assert se.remote_ip_ranges == hop.remote_ip_ranges
        assert se.method is hop.method
        assert se.max_message_size_bytes == hop.max_message_size_bytes
        assert se.transport_role is TransportRole.FRONTEND
        assert se.fqdn == "ex-se-01.contoso.test"
        assert [str(b) for b in se.bindings] == ["0.0.0.0:25", "[::]:25"]  # SE has IPv6
        assert se.comment == f"Created by migrator from {hop.identity}"
        assert se.method_reason.startswith(f"as planned for {hop.identity}: ")
    names = {p.source_identity: p.name for p in onward.connectors}
    # the policy pattern applied to the 2010 name and the new server; the override's own name kept
    assert names["EX16-01\\Relay Apps EX16-01"] == "Relay Apps EX-SE-01"
    assert names["EX16-01\\MFP Scanners"] == "MFP Scanners"
    methods = {p.name: p.method for p in onward.connectors}
    assert methods == {
        "Relay Apps EX-SE-01": RelayMethod.ANONYMOUS,
        "MFP Scanners": RelayMethod.EXTERNALLY_SECURED,
    }
    assert onward.findings == ()


def test_method_chosen_by_an_override_survives_a_different_policy_default() -> None:
    inv = _inv(
        relay_method=RelayMethod.EXTERNALLY_SECURED,
        overrides=(RelayOverride("EX10-01\\Relay Apps", method=RelayMethod.ANONYMOUS),),
    )
    onward = plan_onward_relay(inv, plan_relay(inv))
    assert {p.name: p.method for p in onward.connectors}["Relay Apps EX-SE-01"] is (
        RelayMethod.ANONYMOUS
    )


def test_existing_2016_relay_connector_is_carried_too() -> None:
    own = connector("EX16-01", "Printers", ("10.1.7.0/28",), role=TransportRole.FRONTEND)
    inv = _inv(own, extra_permissions=(grant(own.identity),))
    onward = plan_onward_relay(inv, plan_relay(inv))
    carried = {p.source_identity: p for p in onward.connectors}
    assert carried["EX16-01\\Printers"].remote_ip_ranges == own.remote_ip_ranges
    assert carried["EX16-01\\Printers"].name == "Printers EX-SE-01"


def test_derived_inventory_makes_2016_legacy_and_keeps_no_2010() -> None:
    inv = _inv()
    derived = onward_inventory(inv, plan_relay(inv))
    assert derived is not None
    assert [s.name for s in derived.legacy_servers] == ["EX16-01"]
    assert [s.name for s in derived.target_servers] == ["EX-SE-01"]
    assert not any(c.server == "EX10-01" for c in derived.receive_connectors)
    assert derived.policy.targets_by_site == (("HQ", ("EX-SE-01",)),)
    anonymous = [p for p in derived.ad_permissions if p.identity == "EX16-01\\Relay Apps EX16-01"]
    assert [p.user for p in anonymous] == ["NT AUTHORITY\\ANONYMOUS LOGON"]


def test_no_onward_plan_without_final_servers() -> None:
    inv = _inv(se=False)
    assert onward_inventory(inv, plan_relay(inv)) is None
    assert plan_onward_relay(inv, plan_relay(inv)).connectors == ()


# --------------------------------------------------------------------------- checks


def test_an_existing_se_connector_that_conflicts_is_found() -> None:
    clash = connector("EX-SE-01", "Copiers", ("10.1.5.128-10.1.6.20",), role=TransportRole.FRONTEND)
    inv = _inv(clash)
    first = plan_relay(inv)
    onward = plan_onward_relay(inv, first)
    first_checks = check_relay(inv, first)
    found = check_onward_relay(inv, first, onward, first_checks)
    overlaps = [f for f in found if f.code == "onward.relay.conflict.overlap"]
    assert overlaps and all(f.severity is Severity.ERROR for f in overlaps)
    assert all(f.where.startswith("EX-SE-01\\") for f in overlaps)
    assert "EX-SE-01\\Copiers" in overlaps[0].message
    # the first hop does not see it (its connectors are on EX16-01), and nothing is said twice
    assert not any(f.code == "relay.conflict.overlap" for f in first_checks)
    assert not set(found) & set(first_checks)


def test_onward_findings_do_not_repeat_the_first_hop() -> None:
    inv = _inv()
    first = plan_relay(inv)
    first_checks = check_relay(inv, first)
    found = check_onward_relay(inv, first, plan_onward_relay(inv, first), first_checks)
    assert all(f.code.startswith("onward.") for f in found)
    # e.g. the first hop's "single address without a host name" is not said again for EX16-01
    assert any(f.code == "relay.range.no-host" for f in first_checks)
    assert not any(f.code == "onward.relay.range.no-host" for f in found)


def test_site_without_se_server_is_an_onward_error() -> None:
    inv = _inv()
    inv = dataclasses.replace(
        inv,
        servers=tuple(
            dataclasses.replace(s, site="Branch") if s.name == "EX-SE-01" else s
            for s in inv.servers
        ),
    )
    onward = plan_onward_relay(inv, plan_relay(inv))
    assert onward.connectors == ()
    assert {f.code for f in onward.findings} == {"onward.relay.target.none"}
    assert all(f.severity is Severity.ERROR for f in onward.findings)


def test_se_is_never_a_first_hop_target_while_2010_remains() -> None:
    inv = _inv(targets_by_site=())  # site fallback: only the 2016 server of the site
    assert {p.server for p in plan_relay(inv).connectors} == {"EX16-01"}
    named = _inv(targets_by_site=(("HQ", ("EX16-01", "EX-SE-01")),))
    plan = plan_relay(named)
    assert {p.server for p in plan.connectors} == {"EX16-01"}
    invalid = [f for f in plan.findings if f.code == "relay.target.invalid"]
    assert invalid and "cannot coexist with Exchange 2010" in invalid[0].message


def test_se_next_to_2010_is_fine_with_a_2016_hop_and_an_error_without() -> None:
    inv = _inv()
    versions = check_versions(inv)
    assert not [f for f in versions if f.severity is Severity.ERROR]
    assert [f.code for f in versions if f.where == "EX-SE-01"] == ["version.onward"]
    check_coexistence(inv, estate(inv))  # no error
    only_se = dataclasses.replace(inv, servers=tuple(s for s in inv.servers if s.name != "EX16-01"))
    errors = [f for f in check_versions(only_se) if f.severity is Severity.ERROR]
    assert [f.code for f in errors] == ["version.coexistence"]
    with pytest.raises(PlanError, match="cannot coexist with exchange 2010"):
        check_coexistence(only_se, estate(only_se))


# --------------------------------------------------------------------------- steps and order


def test_every_onward_relay_step_waits_for_2010_gone_and_se_installed() -> None:
    inv = _inv()
    plan = build_plan(inv)
    order = [s.id for s in plan.steps]
    g = _graph(plan.steps)
    onward = [s for s in plan.steps if s.id.startswith("onward.relay.")]
    assert onward
    assert not any(s.id.startswith("onward.relay-carry.") for s in plan.steps)
    for s in onward:
        ancestors = nx.ancestors(g, s.id)
        assert "decommission.remove.EX10-01" in ancestors, s.id
        assert "decommission.verify-no-2010" in ancestors, s.id
        assert order.index("decommission.remove.EX10-01") < order.index(s.id)
        if s.target.startswith("EX-SE-01") or s.id.startswith("onward.relay.create."):
            assert "onward.install.EX-SE-01" in ancestors, s.id
            assert order.index("onward.install.EX-SE-01") < order.index(s.id)
    # every step that touches SE is in the onward phase
    assert all(s.phase is Phase.ONWARD for s in plan.steps if "EX-SE-01" in s.target)


def test_2016_connectors_are_removed_only_after_the_observation() -> None:
    inv = _inv()
    plan = build_plan(inv)
    order = [s.id for s in plan.steps]
    g = _graph(plan.steps)
    removes = [s for s in plan.steps if s.id.startswith("onward.relay.remove-old.")]
    assert {s.target for s in removes} == {
        "EX16-01\\Relay Apps EX16-01",
        "EX16-01\\MFP Scanners",
    }
    for s in removes:
        assert "onward.relay.observe.EX16-01" in nx.ancestors(g, s.id)
        assert order.index("onward.relay.observe.EX16-01") < order.index(s.id)
        assert s.runs_in is RunsIn.EMS_NEW  # EMS on the new servers, not the 2010 shell
        assert s.runbook == "runbooks/70-onward/EX16-01-after-soak.ps1"
        assert s.id in nx.ancestors(g, "onward.remove-2016.EX16-01")
    observe = plan.step("onward.relay.observe.EX16-01")
    assert observe.action is not None and observe.action.params["frontend"] is True
    assert "onward.relay.repoint.smtp-contoso-test" in nx.ancestors(g, observe.id)


def test_onward_runbooks_are_valid_powershell_for_ems_on_the_new_servers() -> None:
    inv = _inv()
    first = plan_relay(inv)
    onward = plan_onward_relay(inv, first)
    steps = relay_steps(inv, onward, Phase.ONWARD)
    rollback = relay_rollback_steps(inv, onward, Phase.ONWARD)
    assert all(s.id.startswith("onward.relay.") for s in (*steps, *rollback))
    assert all(s.runs_in is not RunsIn.EMS_2010 for s in (*steps, *rollback))
    context = RunbookContext("Contoso Test", "2027-01-04", "dc01.contoso.test")
    groups = {**group_by_runbook(steps), **group_by_runbook(rollback)}
    assert set(groups) == {
        "runbooks/70-onward/EX-SE-01.ps1",
        "runbooks/70-onward/EX-SE-01-rollback.ps1",
        "runbooks/70-onward/EX16-01-decommission.ps1",
        "runbooks/70-onward/EX16-01-after-soak.ps1",
        "runbooks/70-onward/EX16-01-rollback.ps1",
        "runbooks/70-onward/smtp-contoso-test.ps1",
        "runbooks/70-onward/smtp-contoso-test-rollback.ps1",
    }
    for rel, group in sorted(groups.items()):
        text = render_runbook(rel, group, context, log_name="x")
        assert check_script(text, ps2=False) == [], rel
    decommission = render_runbook(
        "d", groups["runbooks/70-onward/EX16-01-decommission.ps1"], context, "d"
    )
    # 2013+ relay connectors log in the Front End logs: the helper function that reads them.
    assert "Assert-FrontEndRelayUnused @step" in decommission
    assert "Assert-RelayUnused" not in decommission


def test_without_listed_se_servers_only_a_manual_step_names_placeholders() -> None:
    inv = _inv(se=False)
    plan = build_plan(inv)
    carry = [s for s in plan.steps if s.id.startswith("onward.relay-carry.")]
    assert [s.id for s in carry] == ["onward.relay-carry.EX16-01"]
    assert carry[0].runs_in is RunsIn.MANUAL and carry[0].action is None
    assert "placeholder" in carry[0].instructions
    assert not any(s.id.startswith("onward.relay.") for s in plan.steps)
    # no scripted step targets the suggested name
    assert not any(s.action is not None and "EX16-01-SE" in s.target for s in plan.steps)


def test_merged_sources_are_each_observed_disabled_and_removed() -> None:
    a, ga = relay("EX10-01", "Relay Apps", ("10.1.5.0/24",))
    b, gb = relay("EX10-02", "Relay Apps", ("10.1.6.0/24",))
    inv = inventory(
        [a, b],
        [ga, gb],
        servers=[
            server("EX10-01", ips=("10.1.0.10",)),
            server("EX10-02", ips=("10.1.0.11",)),
            server("EX16-01", "2016", ips=("10.1.0.20",)),
        ],
        policy=with_policy(smtp_alias="smtp.contoso.test"),
    )
    plan = plan_relay(inv)
    assert [p.merged_from for p in plan.connectors] == [("EX10-02\\Relay Apps",)]
    ids = {s.id for s in relay_steps(inv, plan)}
    assert "relay.remove-old.EX10-02.relay-apps" in ids
    assert "relay.observe.EX10-02" in ids
    rollback = {s.id for s in relay_rollback_steps(inv, plan)}
    assert "relay.rollback.enable-old.EX10-02.relay-apps" in rollback
