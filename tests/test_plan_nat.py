"""Review M8: an inbound NAT rule that delivers to a 2010 server is pointed at new servers that carry
its relay connectors (never at one without them), checked through the public address, and the 2010
connectors' disable and the server's removal wait for it."""

from __future__ import annotations

import dataclasses
import ipaddress
from functools import cache
from pathlib import Path

from powershell_check import check_script
from test_relay_reach import two_sites

from migrator.inventory import load_inventory
from migrator.model import LoadBalancer, NatRule, RelayOverride, Severity
from migrator.pipeline import build_plan
from migrator.plan.nat import nat_retargets, nat_steps
from migrator.plan.relay import plan_relay
from migrator.plan.relay_checks import check_relay
from migrator.plan.steps import MigrationPlan, Owner, RunsIn
from migrator.render.runbooks import RunbookContext, render_runbook

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"


@cache
def contoso() -> MigrationPlan:
    return build_plan(load_inventory(CONTOSO))


def _rule(inside: str = "10.1.0.10") -> NatRule:
    return NatRule(
        "FW-IN",
        ipaddress.ip_address("203.0.113.25"),
        ipaddress.ip_address(inside),
        source_nat=False,
    )


def test_contoso_retargets_its_inbound_nat_rule_to_the_london_pool() -> None:
    plan = contoso()
    change = plan.step("relay.nat.fw-lon-smtp-in")
    assert change.owner is Owner.NETWORK_ADMIN and change.action is None  # manual: the runner stops
    assert change.runbook == "runbooks/20-relay/network.ps1"
    assert (
        "from 10.1.1.10 (EX10-01, Exchange 2010) to load balancer 'LB-LON-SMTP' (10.1.1.50: EX16-01)"
        in (change.instructions)
    )
    assert change.rollback == "point FW-LON-SMTP-IN back at 10.1.1.10 (EX10-01)"
    # the pool holds the new server and its connectors are tested before anyone is sent there
    assert "servers.load-balancer.LB-LON-SMTP" in change.prerequisites
    assert "relay.test.EX16-01.relay-mfp-scanners.from-admin-host" in change.prerequisites
    verify = plan.step("relay.nat-verify.fw-lon-smtp-in")
    assert verify.prerequisites == (change.id,) and verify.runs_in is RunsIn.OUTSIDE
    assert verify.action is not None and verify.action.params == {
        "rule": "FW-LON-SMTP-IN",
        "address": "203.0.113.25",
        "port": 25,
        "expected": ["EX16-01.contoso.com"],
        "old": ["EX10-01.contoso.com"],
    }
    text = render_runbook("t", [change, verify], RunbookContext("c", "d", "dc"), "t")
    assert check_script(text, ps2=False) == []
    assert "Test-SmtpGreeting @step" in text


def test_the_2010_side_waits_for_the_nat_rule() -> None:
    plan = contoso()
    waits = [s.id for s in plan.steps if "relay.nat-verify.fw-lon-smtp-in" in s.prerequisites]
    assert "relay.disable-old.EX10-01.relay-apps" in waits
    assert "relay.disable-old.EX10-01.relay-scanners" in waits
    assert "decommission.remove.EX10-01" in waits
    # EX10-03 is not behind the rule
    assert not [w for w in waits if "EX10-03" in w]


def test_a_pool_with_a_server_lacking_the_connectors_is_never_the_target() -> None:
    # The pool holds EX16-02 (Dublin), which carries none of EX10-01's relay connectors (no alias).
    lb = LoadBalancer(
        "LB-ALL", (ipaddress.ip_address("10.9.9.9"),), False, servers=("EX16-02",), ports=(25,)
    )
    inv = dataclasses.replace(two_sites(alias=""), nat_rules=(_rule(),), load_balancers=(lb,))
    (rt,), errors = nat_retargets(inv, plan_relay(inv))
    assert errors == []
    assert (rt.load_balancer, str(rt.address), [s.name for s in rt.servers]) == (
        "",
        "10.1.0.20",
        ["EX16-01"],
    )


def test_no_server_carrying_every_connector_is_an_error_and_no_step() -> None:
    inv = two_sites(alias="")
    policy = dataclasses.replace(
        inv.policy,
        overrides=(RelayOverride("EX10-01\\Relay Scanners", target_servers=("EX16-02",)),),
    )
    inv = dataclasses.replace(inv, policy=policy, nat_rules=(_rule(),))
    plan = plan_relay(inv)
    errors = [f for f in check_relay(inv, plan) if f.code == "relay.nat.no-target"]
    assert [(f.severity, f.where) for f in errors] == [(Severity.ERROR, "NAT rule 'FW-IN'")]
    assert "EX10-01\\Relay Apps, EX10-01\\Relay Scanners" in errors[0].message
    assert nat_steps(inv, plan, "servers.readiness") == []


def test_a_rule_to_a_new_server_needs_no_step() -> None:
    inv = dataclasses.replace(two_sites(), nat_rules=(_rule("10.1.0.20"),))
    assert nat_retargets(inv, plan_relay(inv)) == ([], [])
