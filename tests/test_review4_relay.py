"""Review 4, relay and onward findings: B1 (AAAA record of the relay alias), R1 (log retention and the
soak evidence), R2 (relay rollback order on the new servers), R5 (the onward NAT/load-balancer path),
m6 (onward Front End log path), m7 (the wait before the observe steps)."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

import pytest
from powershell_check import check_script

from migrator import build_plan
from migrator.inventory import load_inventory
from migrator.iprange import IPRange
from migrator.model import Inventory, NatRule
from migrator.plan.relay import plan_onward_relay, plan_relay
from migrator.plan.relay_steps import alias_families, relay_rollback_steps, relay_steps
from migrator.plan.steps import MigrationPlan, Phase, Step
from migrator.render.runbooks import RunbookContext, helper, render_runbook

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"
CONTEXT = RunbookContext("Contoso", "2026-12-07", "dc01.contoso.com")
HELPER = helper().data.decode("utf-8-sig")


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return load_inventory(CONTOSO)


@pytest.fixture(scope="module")
def plan(inv: Inventory) -> MigrationPlan:
    return build_plan(inv)


def _function(name: str) -> str:
    """One function of the helper file every runbook dot-sources."""
    start = HELPER.index(f"function {name} {{")
    end = HELPER.find("\nfunction ", start + 1)
    return HELPER[start : end if end > 0 else len(HELPER)]


def _text(step: Step, ps2: bool = False) -> str:
    text = render_runbook("t", [step], CONTEXT, "t")
    assert check_script(text, ps2=ps2, helper=HELPER) == [], step.id
    return text


def _by_id(plan: MigrationPlan) -> dict[str, Step]:
    return {s.id: s for s in plan.steps}


# --------------------------------------------------------------------------- B1: AAAA on the relay alias


def test_contoso_alias_gets_no_aaaa_record_without_an_ipv6_relay_range(plan: MigrationPlan) -> None:
    steps = _by_id(plan)
    for pre in ("relay", "onward.relay"):
        verify = steps[f"{pre}.verify-alias.smtp-contoso-com"]
        assert verify.action is not None
        # before: AAAA 2001:db8:10:1::20 (first hop) and 2001:db8:10:1::30 (onward)
        assert verify.action.params["ipv6"] == [], pre
        repoint = steps[f"{pre}.repoint.smtp-contoso-com"]
        assert "AAAA 2001:db8" not in repoint.instructions
        assert "no AAAA record" in repoint.instructions
        assert "no relay range behind smtp.contoso.com is IPv6" in repoint.instructions
    # the onward rollback gives back what the first hop published: A only
    inv = load_inventory(CONTOSO)
    onward = plan_onward_relay(inv, plan_relay(inv))
    back = {s.id: s for s in relay_rollback_steps(inv, onward, Phase.ONWARD)}[
        "onward.relay.rollback.verify-alias.smtp-contoso-com"
    ]
    assert back.action is not None and back.action.params["ipv6"] == []


def test_an_ipv6_relay_range_brings_the_aaaa_record_back(inv: Inventory) -> None:
    relay_policy = inv.policy
    crm = next(o for o in relay_policy.overrides if o.connector == "EX10-03\\Relay Legacy CRM")
    widened = dataclasses.replace(
        crm, add_ranges=(*crm.add_ranges, IPRange.parse("2001:db8:10:21::15"))
    )
    policy = dataclasses.replace(
        relay_policy,
        overrides=tuple(widened if o is crm else o for o in relay_policy.overrides),
    )
    changed = dataclasses.replace(inv, policy=policy)
    relay_plan = plan_relay(changed)
    assert alias_families(relay_plan.connectors) == frozenset({4, 6})
    steps = {s.id: s for s in relay_steps(changed, relay_plan)}
    verify = steps["relay.verify-alias.smtp-contoso-com"]
    assert verify.action is not None and verify.action.params["ipv6"] == ["2001:db8:10:1::20"]
    assert "No AAAA record although" not in steps["relay.repoint.smtp-contoso-com"].instructions


def test_alias_smtp_test_tries_every_family_the_alias_resolves_to() -> None:
    body = _function("Test-SmtpRelay")
    # before: only the families of the ranges (IPv4 here), so the AAAA address was never tried
    assert "if ($AllAddresses) {" in body
    assert "$families += $address.AddressFamily" in body


# --------------------------------------------------------------------------- R1: log retention


def test_log_retention_exceeds_the_soak_with_slack(plan: MigrationPlan, inv: Inventory) -> None:
    from migrator.plan.phases.prepare import LOG_MARGIN_DAYS, log_days

    soak = inv.policy.soak_days
    assert log_days(inv) == soak + LOG_MARGIN_DAYS  # 47 for Contoso; before: 33, the soak itself
    steps = _by_id(plan)
    for sid in (
        "prepare.protocol-log-limits.EX10-01",
        "prepare.protocol-log-limits.EX10-03",
        "servers.protocol-log-limits.EX16-01",
        "servers.protocol-log-limits.EX16-02",
    ):
        action = steps[sid].action
        assert action is not None and action.params["max_age_days"] > soak + 2, sid
    # the scheduled distance between a disable and its soak check fits in the kept logs
    schedule = plan.schedule
    for s in plan.steps:
        if s.id.startswith("relay.soak."):
            check = schedule[s.id].start
            disabled = max(schedule[p].finish for p in s.prerequisites)
            assert (check - disabled).days < log_days(inv), s.id


def test_soak_check_needs_the_logs_back_to_the_disable_and_prints_the_period() -> None:
    body = _function("Assert-NoRefusal")
    # before: -Days $SoakDays only (now - 33 days), which a 33-day retention can never satisfy
    assert (
        "Get-ReceiveLogFolder -Server $Server -LogPath $LogPath -Days $SoakDays -Since $since"
        in body
    )
    folder = _function("Get-ReceiveLogFolder")
    assert "if ($null -ne $Since) { $from = [datetime]$Since }" in folder
    assert "period covered: " in folder


# --------------------------------------------------------------------------- m7: the wait before observe


def test_observe_runs_after_the_observation_period_not_at_its_start(
    plan: MigrationPlan, inv: Inventory
) -> None:
    days = inv.policy.observation_days
    steps = _by_id(plan)
    schedule = plan.schedule
    for pre, server, alias in (
        ("relay", "EX10-01", "relay.repoint.smtp-contoso-com"),
        ("relay", "EX10-03", "relay.repoint.smtp-contoso-com"),
        ("onward.relay", "EX16-01", "onward.relay.repoint.smtp-contoso-com"),
        ("onward.relay", "EX16-02", "onward.relay.repoint.smtp-contoso-com"),
    ):
        observe = steps[f"{pre}.observe.{server}"]
        wait = steps[f"{pre}.observe-wait.{server}"]
        # before: the observe step carried the wait after itself, scheduled 2 h after the repoint
        assert observe.wait_minutes == 0
        assert wait.id in observe.prerequisites
        assert wait.wait_minutes == days * 24 * 60 and wait.action is None
        assert alias in wait.prerequisites
        gap = schedule[observe.id].start - schedule[alias].finish
        assert gap.days >= days, (observe.id, gap)
        # the disable follows the observe in the same night
        disable = next(s for s in plan.steps if s.id.startswith(f"{pre}.disable-old.{server}."))
        assert (schedule[disable.id].start - schedule[observe.id].start).days == 0


# --------------------------------------------------------------------------- m6: Front End log path


def test_frontend_log_path_is_read_from_the_frontend_transport_service() -> None:
    body = _function("Get-FrontEndLogPath")
    # before: the Transport service's path with \Hub\ProtocolLog\ replaced (a no-op on a customised path)
    assert "Get-FrontendTransportService -Identity $Server" in body
    assert "ReceiveProtocolLogPath" in body
    assert "-replace" not in body and "Get-TransportService" not in body


def test_frontend_observe_and_soak_need_a_line_of_a_frontend_connector() -> None:
    control = _function("Get-FrontEndConnectorId")
    assert "[string]$_.TransportRole -eq 'FrontendTransport'" in control
    observe = _function("Assert-FrontEndRelayUnused")
    assert "-Control $control" in observe
    for name in ("Assert-NoRelaySession", "Assert-NoRefusal"):
        body = _function(name)
        assert "Assert-ControlSeen -Server $Server" in body, name
        assert "$seen = $seen + 1" in body, name
    soak = _function("Assert-NoRefusal")
    assert "if ($FrontEndOnly) { $control = @(Get-FrontEndConnectorId" in soak


def test_observations_count_only_the_lines_of_their_period() -> None:
    """Review 6, M3: 2010 starts a receive log a day, so a file written after the repoint also holds
    the sessions before it; the files are chosen by LastWriteTime, each line by its own time."""
    for name in ("Assert-NoRelaySession", "Assert-NoClientLeft", "Assert-NoRefusal"):
        body = _function(name)
        assert "$_.LastWriteTime -ge $since" in body, name
        assert "[datetime]$_.DateTime -ge $since" in body, name


def test_onward_observe_and_soak_runbooks_pass_the_powershell_check(plan: MigrationPlan) -> None:
    for s in plan.steps:
        if s.id.startswith(
            ("onward.relay.observe.", "onward.relay.soak.", "relay.observe.", "relay.soak.")
        ):
            _text(s, ps2=s.id.startswith("relay."))


# --------------------------------------------------------------------------- R2: rollback order on the new servers


@pytest.mark.parametrize(
    ("ranges", "source_nat", "expected"),
    [
        (["10.2.50.0/24", "192.168.7.9", "172.20.0.1-172.20.0.9"], False, False),
        (["10.0.0.0/7"], False, True),  # wider than RFC 1918's 10/8: holds public addresses
        (["203.0.113.10"], False, True),  # a documentation block stands for a public address
        (["fd00::/64", "fe80::1"], False, False),
        (["2001:db8::1"], False, True),
        (
            ["10.1.1.1"],
            True,
            True,
        ),  # the rule's inside address: every Internet sender appears as it
        (["10.1.1.1"], False, False),
    ],
)
def test_which_relay_clients_can_come_through_a_nat_rule(
    ranges: list[str], source_nat: bool, expected: bool
) -> None:
    from migrator.plan.nat import reachable_through

    rule = NatRule("fw", None, ipaddress.ip_address("10.1.1.1"), source_nat)
    assert reachable_through(rule, [IPRange.parse(r) for r in ranges]) is expected


def _relay_rollback(inv: Inventory) -> dict[str, Step]:
    from migrator.plan.nat import with_nat_rollback

    relay_plan = plan_relay(inv)
    return {
        s.id: s for s in with_nat_rollback(inv, relay_plan, relay_rollback_steps(inv, relay_plan))
    }


def test_revoke_waits_for_the_alias_the_nat_rule_and_the_old_connectors(inv: Inventory) -> None:
    steps = _relay_rollback(inv)
    revoke = steps["relay.rollback.permission.EX16-01.relay-apps-ex16-01"]
    remove = steps["relay.rollback.remove.EX16-01.relay-apps-ex16-01"]
    # before: "after: none", the first step of EX16-01-rollback.ps1
    for step in (revoke, remove):
        assert "relay.rollback.verify-alias.smtp-contoso-com" in step.prerequisites, step.id
        assert "relay.rollback.nat-verify.fw-lon-smtp-in" in step.prerequisites, step.id
        assert "relay.rollback.enable-old.EX10-01.relay-apps" in step.prerequisites, step.id
    # Only connectors whose clients can come through the rule wait for its rollback (review 6, M4): the
    # rule also carries Exchange Online's inbound mail after the MX change. Relay Apps holds the public
    # 203.0.113.10; the CRM and scanner ranges are private and cannot arrive through it.
    for step_id, through in (
        ("relay.rollback.remove.EX16-01.relay-legacy-crm-ex16-01", False),
        ("relay.rollback.remove.EX16-01.relay-mfp-scanners", False),
        ("relay.rollback.remove.EX16-01.internal-mail-apps-ex16-01", False),
        ("relay.rollback.remove.EX16-01.relay-apps-ex16-01", True),
    ):
        nat = "relay.rollback.nat-verify.fw-lon-smtp-in" in steps[step_id].prerequisites
        assert nat is through, step_id
    # EX16-02 is behind no NAT rule: it waits for the alias only
    other = steps["relay.rollback.permission.EX16-02.relay-apps-ex16-02"]
    assert "relay.rollback.nat-verify.fw-lon-smtp-in" not in other.prerequisites
    assert "relay.rollback.verify-alias.smtp-contoso-com" in other.prerequisites
    # the NAT rule goes back once the 2010 connectors it delivers to are enabled, then is checked from outside
    nat = steps["relay.rollback.nat.fw-lon-smtp-in"]
    assert set(nat.prerequisites) == {
        "relay.rollback.enable-old.EX10-01.relay-apps",
        "relay.rollback.enable-old.EX10-01.relay-scanners",
    }
    check = steps["relay.rollback.nat-verify.fw-lon-smtp-in"]
    assert check.action is not None
    assert check.action.params["expected"] == ["EX10-01.contoso.com"]
    assert check.action.params["old"] == ["EX16-01.contoso.com"]
    assert check.runbook == nat.runbook == "runbooks/20-relay/network-rollback.ps1"
    # the alias goes back only to enabled old connectors
    back = steps["relay.rollback.repoint.smtp-contoso-com"]
    assert "relay.rollback.enable-old.EX10-03.relay-legacy-crm" in back.prerequisites


def test_rollback_on_a_new_server_refuses_while_the_alias_points_here(inv: Inventory) -> None:
    steps = _relay_rollback(inv)
    revoke = steps["relay.rollback.permission.EX16-01.relay-apps-ex16-01"]
    assert revoke.action is not None
    assert revoke.action.params["aliases"] == ["smtp.contoso.com"]
    assert revoke.action.params["addresses"] == ["10.1.1.20", "2001:db8:10:1::20"]
    assert revoke.action.params["successors"] == ["EX10-01\\Relay Apps"]
    text = _text(revoke)
    assert "Successors = @('EX10-01\\Relay Apps')" in text
    remove = steps["relay.rollback.remove.EX16-01.internal-mail-apps-ex16-01"]
    assert "Successors = @('EX10-03\\Internal Mail Apps')" in _text(remove)
    guard = _function("Assert-ClientsBack")
    assert "Resolve-DnsName -Name $alias -Type $type -DnsOnly" in guard
    assert "-not [bool]$old[0].Enabled" in guard
    for name in ("Revoke-RelayPermission", "Undo-RelayConnector"):
        assert "Assert-ClientsBack -Identity" in _function(name), name
    # the onward rollback carries the same guard (2016 connectors as successors)
    onward = plan_onward_relay(inv, plan_relay(inv))
    back = {s.id: s for s in relay_rollback_steps(inv, onward, Phase.ONWARD)}
    se = back["onward.relay.rollback.permission.EX-SE-01.relay-apps-ex-se-01"]
    assert se.action is not None
    assert se.action.params["successors"] == [
        "EX16-01\\Relay Apps EX16-01",
        "EX16-02\\Relay Apps EX16-02",
    ]
    assert "onward.relay.rollback.verify-alias.smtp-contoso-com" in se.prerequisites


# --------------------------------------------------------------------------- R5: onward NAT/load-balancer path


def test_onward_moves_the_inbound_smtp_path_to_se_before_2016_goes(plan: MigrationPlan) -> None:
    steps = _by_id(plan)
    # before: no onward counterpart of servers.load-balancer / relay.nat-verify
    lb = steps["onward.load-balancer.LB-LON-SMTP"]
    assert lb.runbook == "runbooks/70-onward/network.ps1"
    assert "add EX-SE-01 to load balancer LB-LON-SMTP" in lb.title
    assert "drain and remove EX16-01" in lb.title
    # the new pool carries its relay clients' connectors (tested) before anyone is sent there
    assert "onward.install.EX-SE-01" in lb.prerequisites
    assert any(p.startswith("onward.relay.test.EX-SE-01.") for p in lb.prerequisites)
    # the same builder as the first hop's step
    first = steps["servers.load-balancer.LB-LON-SMTP"]
    assert first.instructions.split(". Once")[0] in lb.instructions.replace("EX-SE-01", "EX16-01")
    verify = steps["onward.nat-verify.fw-lon-smtp-in"]
    assert verify.action is not None and verify.action.kind == "relay.nat-verify"
    assert verify.action.params["expected"] == ["EX-SE-01.contoso.com"]
    assert verify.action.params["old"] == ["EX16-01.contoso.com"]
    assert verify.prerequisites[0] == lb.id or lb.id in verify.prerequisites
    # the rule keeps pointing at the load balancer: no onward.nat change step
    assert "onward.nat.fw-lon-smtp-in" not in steps
    for sid in (
        "onward.relay.observe-wait.EX16-01",
        "onward.relay.disable-old.EX16-01.relay-apps-ex16-01",
        "onward.remove-2016.EX16-01",
    ):
        assert {lb.id, verify.id} <= set(steps[sid].prerequisites), sid
    # Dublin's server is behind neither
    assert lb.id not in steps["onward.relay.disable-old.EX16-02.relay-apps-ex16-02"].prerequisites
    _text(verify)


def test_onward_nat_rule_to_a_server_gets_a_change_step(inv: Inventory) -> None:
    from migrator.plan.nat import onward_retargets, retarget_steps

    no_lb = dataclasses.replace(inv, load_balancers=())
    first = plan_relay(no_lb)
    onward = plan_onward_relay(no_lb, first)
    (rt,) = onward_retargets(no_lb, first, onward)
    assert [s.name for s in rt.servers] == ["EX-SE-01"]  # the hybrid/same-site carrier
    assert [s.name for s in rt.old_servers] == ["EX16-01"]
    assert str(rt.current_address) == "10.1.1.20" and str(rt.address) == "10.1.1.30"
    made = {s.id: s for s in retarget_steps(rt, Phase.ONWARD, ["onward.install.EX-SE-01"])}
    change = made["onward.nat.fw-lon-smtp-in"]
    assert "from 10.1.1.20 (EX16-01, Exchange 2016) to EX-SE-01 (10.1.1.30)" in change.instructions
    assert made["onward.nat-verify.fw-lon-smtp-in"].prerequisites == (change.id,)


def test_an_inherited_relay_grant_is_never_taken_as_already_granted() -> None:
    """Review 6, m9: an inherited Accept-Any-Recipient for ANONYMOUS LOGON comes from a container and applies to
    every receive connector below it (Default Frontend too): the step stops instead of printing "already has"."""
    body = _function("Grant-RelayPermission")
    explicit = body.index("$explicit = Test-RelayPermission")
    inherited = body.index("only by inheritance")
    grant = body.index("Add-ADPermission -Identity $dn")
    assert "-Explicit" in body[explicit : body.index("\n", explicit)]
    assert explicit < inherited < grant
    readback = body[body.index("Verification failed") - 200 :]
    assert "-Explicit" in readback.split("Verification failed")[0]
