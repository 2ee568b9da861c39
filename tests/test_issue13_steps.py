"""Issue 13, items 5, 7, 9 and 11: evidence before removing 2010, the soak, Front End log limits,
the IPv6 relay test. Each test failed on the plan as it was before the fix."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re
from pathlib import Path

import pytest
from powershell_check import check_script

from migrator.inventory import load_inventory
from migrator.iprange import IPRange
from migrator.model import SOAK_DAYS_DEFAULT, Inventory, RemainingClient
from migrator.pipeline import build_plan
from migrator.plan.relay import plan_relay
from migrator.plan.relay_steps import relay_rollback_steps
from migrator.plan.steps import MigrationPlan, Step
from migrator.render.runbooks import RunbookContext, helper, render_runbook

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"
CONTEXT = RunbookContext("Contoso", "2026-12-07", "dc01.contoso.com")
DAY = 24 * 60


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return load_inventory(CONTOSO)


@pytest.fixture(scope="module")
def plan(inv: Inventory) -> MigrationPlan:
    return build_plan(inv)


HELPER = helper().data.decode("utf-8-sig")


def _text(step: Step, ps2: bool) -> str:
    text = render_runbook("t", [step], CONTEXT, "t")
    assert check_script(text, ps2=ps2, helper=HELPER) == [], step.id
    return text


def _function(name: str) -> str:
    """One function of the helper file every runbook dot-sources."""
    start = HELPER.index(f"function {name} {{")
    end = HELPER.find("\nfunction ", start + 1)
    return HELPER[start : end if end > 0 else len(HELPER)]


# --------------------------------------------------------------------------- item 7: soak


def test_default_soak_is_at_least_30_days_and_past_a_month_end() -> None:
    assert SOAK_DAYS_DEFAULT >= 30
    # any stretch of that length holds a whole last day of a month and the first of the next
    for offset, minute in ((o, m) for o in range(0, 800) for m in (1, 720, 1439)):
        start = dt.datetime(2026, 1, 1) + dt.timedelta(days=offset, minutes=minute)
        end = start + dt.timedelta(days=SOAK_DAYS_DEFAULT)
        firsts = [
            start.date() + dt.timedelta(days=d)
            for d in range(1, SOAK_DAYS_DEFAULT + 1)
            if (start.date() + dt.timedelta(days=d)).day == 1
        ]
        assert any(
            dt.datetime.combine(f - dt.timedelta(days=1), dt.time()) >= start
            and dt.datetime.combine(f + dt.timedelta(days=1), dt.time()) <= end
            for f in firsts
        ), start


def test_remove_old_waits_for_the_soak_not_five_minutes(plan: MigrationPlan) -> None:
    disable = plan.step("relay.disable-old.EX10-01.relay-apps")
    assert disable.wait_minutes == SOAK_DAYS_DEFAULT * DAY
    soak = plan.step("relay.soak.EX10-01")
    assert disable.id in soak.prerequisites
    assert soak.action is not None and soak.action.kind == "relay.soak-check"
    assert {r["text"] for r in soak.action.params["ranges_hex"]} >= {"10.1.40.0/26", "10.1.20.15"}
    remove = plan.step("relay.remove-old.EX10-01.relay-apps")
    assert "relay.soak.EX10-01" in remove.prerequisites
    assert disable.id not in remove.prerequisites
    gap = plan.schedule[remove.id].start - plan.schedule[disable.id].finish
    assert gap >= dt.timedelta(days=30)


def test_soak_days_come_from_the_policy(inv: Inventory) -> None:
    longer = dataclasses.replace(inv, policy=dataclasses.replace(inv.policy, soak_days=95))
    plan = build_plan(longer)
    assert plan.step("relay.disable-old.EX10-03.relay-legacy-crm").wait_minutes == 95 * DAY


def test_soak_check_reads_refusals_on_every_connector(plan: MigrationPlan) -> None:
    text = _text(plan.step("relay.soak.EX10-03"), ps2=True)
    assert "Assert-SoakClean @step -SoakDays $SoakDays" in text
    assert "Names = @('Relay Legacy CRM')" in text
    body = _function("Assert-NoRefusal")
    assert "550 5\\.7\\.(1|54)" in body
    assert "Protocol logging is off on" in body
    assert "Get-ReceiveLogFolder" in body


def test_rollback_of_a_removal_recreates_the_2010_connector(inv: Inventory) -> None:
    steps = {s.id: s for s in relay_rollback_steps(inv, plan_relay(inv))}
    apps = steps["relay.rollback.recreate-old.EX10-01.relay-apps"]
    assert apps.action is not None
    assert apps.action.params["transport_role"] is None
    assert apps.action.params["grants"] == ["NT AUTHORITY\\ANONYMOUS LOGON"]
    assert apps.action.params["remote_ip_ranges"] == [
        "10.1.20.15",
        "10.1.20.16",
        "10.1.21.0/28",
        "203.0.113.10",
    ]
    text = _text(apps, ps2=True)
    assert "Restore-ReceiveConnector @step" in text
    assert "TransportRole" not in text.split("$step = @{")[1].split("}")[0]
    assert "Grants = @('NT AUTHORITY\\ANONYMOUS LOGON')" in text
    body = _function("Restore-ReceiveConnector")
    assert "if ($TransportRole -ne '') { $optional['TransportRole'] = $TransportRole }" in body
    assert "New-ReceiveConnector -Name $Name -Server $Server -Custom" in body
    assert "Add-ADPermission" in body
    scanners = steps["relay.rollback.recreate-old.EX10-01.relay-scanners"]
    assert scanners.action is not None
    assert scanners.action.params["grants"] == []
    assert scanners.action.params["auth_mechanism"] == ["Tls", "ExternalAuthoritative"]


# --------------------------------------------------------------------------- item 5


def test_every_2010_connector_logs_verbose(plan: MigrationPlan) -> None:
    step = plan.step("prepare.protocol-logging.EX10-03")
    assert step.action is not None and step.action.params["all_connectors"] is True
    assert {"Default EX10-03", "Internal Mail Apps", "Relay Legacy CRM"} <= set(
        step.action.params["connectors"]
    )
    text = _text(step, ps2=True)
    assert "Set-AllConnectorLogging @step" in text
    assert "Get-ReceiveConnector -Server $Server" in _function("Set-AllConnectorLogging")


def test_a_2010_server_is_removed_only_after_its_logs_show_no_client_left(
    plan: MigrationPlan,
) -> None:
    observe = plan.step("decommission.observe-clients.EX10-03")
    assert observe.id in plan.step("decommission.remove.EX10-03").prerequisites
    assert observe.action is not None and observe.action.kind == "decommission.observe-clients"
    params = observe.action.params
    excluded = {r["text"] for r in params["exclude_ranges_hex"]}
    assert {"10.2.1.10", "10.1.1.20"} <= excluded  # Exchange servers' own addresses
    text = _text(observe, ps2=True)
    assert "Assert-NoClientLeft @step -ObservationDays $ObservationDays" in text
    assert "Text = '10.2.1.10'" in text
    body = _function("Assert-NoClientLeft")
    assert "StartsWith($prefix, [System.StringComparison]::OrdinalIgnoreCase)" in body
    assert "Non-Exchange clients still connect to" in body


def test_remaining_clients_in_the_policy_are_accepted(inv: Inventory) -> None:
    accepted = RemainingClient(IPRange.parse("10.2.99.5"), "EX10-03", "monitoring probe")
    other = RemainingClient(IPRange.parse("10.1.99.5"), "EX10-01", "London probe")
    changed = dataclasses.replace(
        inv, policy=dataclasses.replace(inv.policy, remaining_clients=(accepted, other))
    )
    step = build_plan(changed).step("decommission.observe-clients.EX10-03")
    assert step.action is not None
    assert [(a["range"]["text"], a["reason"]) for a in step.action.params["accepted"]] == [
        ("10.2.99.5", "monitoring probe")
    ]
    assert "monitoring probe" in step.instructions


# --------------------------------------------------------------------------- item 9


def test_2016_front_end_log_limits_are_raised(plan: MigrationPlan) -> None:
    for server in ("EX16-01", "EX16-02"):
        step = plan.step(f"servers.protocol-log-limits.{server}")
        assert step.action is not None and step.action.kind == "servers.frontend-log-limits"
        assert step.action.params["max_age_days"] >= SOAK_DAYS_DEFAULT
        text = _text(step, ps2=False)
        assert "Set-FrontEndLogLimit @step" in text
    body = _function("Set-FrontEndLogLimit")
    assert (
        "Set-FrontendTransportService -Identity $Server -ReceiveProtocolLogMaxAge $ageText" in body
    )
    assert "-ReceiveProtocolLogMaxDirectorySize $sizeWanted" in body
    assert "if ($age.TotalDays -lt $MaxAgeDays)" in body  # raise only


def test_a_truncated_observation_is_an_error(plan: MigrationPlan) -> None:
    for sid in ("relay.observe.EX10-01", "onward.relay.observe.EX16-01"):
        _text(plan.step(sid), ps2=sid.startswith("relay."))
    reach = next(line for line in HELPER.splitlines() if "do not reach back" in line)
    assert re.search(r"^\s*(if \(.*\) \{ )?throw \(", reach), reach
    assert "Write-Warning ('The protocol logs" not in HELPER
    for name in ("Assert-NoRelaySession", "Assert-NoClientLeft", "Assert-NoRefusal"):
        assert "Get-ReceiveLogFolder" in _function(name), name


# --------------------------------------------------------------------------- item 11


def test_ipv6_relay_test_uses_an_ipv6_client() -> None:
    # contoso's IPv6 relay connector was unreachable over IPv6 on 2010 and is not migrated (review
    # M6): an IPv6 connector on a 2010 server with an IPv6 address and a [::]:25 binding instead
    from relay_builders import inventory, relay, server

    from migrator.plan.relay_steps import relay_steps

    c, g = relay(
        "EX10-01", "Relay IPv6 Apps", ["2001:db8:10:20::/64"], bindings=("0.0.0.0:25", "[::]:25")
    )
    servers = (
        server("EX10-01", ips=("10.1.0.10", "2001:db8:10:1::10")),
        server("EX16-01", "2016", ips=("10.1.0.20", "2001:db8:10:1::20")),
    )
    inv = inventory([c], [g], servers=servers)
    steps = {s.id: s for s in relay_steps(inv, plan_relay(inv))}
    (step,) = [s for i, s in steps.items() if i.endswith(".from-admin-host")]
    text = _text(step, ps2=False)
    assert "Version = 6" in text and "Test-SmtpRelay @step" in text
    body = _function("Test-SmtpRelay")
    assert "$families += [System.Net.Sockets.AddressFamily]::InterNetworkV6" in body
    assert "$targets = @($resolved | Where-Object { $_.AddressFamily -eq $family })" in body
    assert "Invoke-SmtpDialog -Address $target -Port 25" in body
    # The conversation (shared with Test-SmtpGreeting) uses a TcpClient of the target's family:
    # the parameterless constructor is IPv4 only.
    dialog = _function("Invoke-SmtpDialog")
    assert "[System.Net.IPAddress]$Address" in dialog
    assert (
        "New-Object -TypeName System.Net.Sockets.TcpClient -ArgumentList $Address.AddressFamily"
        in dialog
    )
    assert "$tcp.Connect($Address, $Port)" in dialog
    for text_ in (body, dialog):
        assert "New-Object -TypeName System.Net.Sockets.TcpClient\n" not in text_
        assert "New-Object -TypeName System.Net.Sockets.TcpClient\r\n" not in text_
    assert ipaddress.ip_address("2001:db8:10:1::20")  # EX16-01 has an AAAA address to test
