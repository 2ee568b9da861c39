"""Review M3: the repoint of the SMTP alias is a manual step of the alias runbook, checked by a script
(A and AAAA, exactly the new servers' addresses, IPv6 only where a server has it), with a rollback
to the old servers' records from the inventory."""

from __future__ import annotations

from pathlib import Path

from test_relay_reach import two_sites

from migrator.inventory import load_inventory
from migrator.plan.relay import plan_onward_relay, plan_relay
from migrator.plan.relay_steps import alias_records, relay_rollback_steps, relay_steps
from migrator.plan.steps import Phase, RunsIn
from migrator.render.runbooks import RunbookContext, render_runbook

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"


def _steps():  # type: ignore[no-untyped-def]
    inv = two_sites()
    return inv, {s.id: s for s in relay_steps(inv, plan_relay(inv))}


def test_the_repoint_is_a_manual_step_of_the_alias_runbook() -> None:
    _, steps = _steps()
    repoint = steps["relay.repoint.smtp-contoso-test"]
    # Before: no runbook at all (the step showed in no runbook).
    assert repoint.runbook == "runbooks/20-relay/smtp-contoso-test.ps1"
    assert repoint.action is None and repoint.runs_in is RunsIn.DNS_CONSOLE
    # The exact records: A for both new servers, AAAA only for EX16-01 (the one with IPv6).
    assert "A 10.1.0.20, 10.2.0.20; AAAA fd00::20" in repoint.instructions
    # The rollback names the old records from the inventory (EX10-01 has IPv6, EX10-03 not).
    assert "A 10.1.0.10, 10.2.0.10; AAAA fd00::10" in repoint.rollback


def test_a_scripted_check_follows_the_repoint_and_the_alias_tests_wait_for_it() -> None:
    _, steps = _steps()
    verify = steps["relay.verify-alias.smtp-contoso-test"]
    assert verify.prerequisites == ("relay.repoint.smtp-contoso-test",)
    assert verify.runbook == steps["relay.repoint.smtp-contoso-test"].runbook
    assert verify.action is not None and verify.action.kind == "relay.alias-records"
    assert verify.action.params["ipv4"] == ["10.1.0.20", "10.2.0.20"]
    assert verify.action.params["ipv6"] == ["fd00::20"]
    assert verify.action.params["unknown"] == []
    probe = steps["relay.test-alias.smtp-contoso-test.from-admin-host"]
    assert probe.prerequisites == (verify.id,)
    # the observation period (a wait step, review 4 m7) starts with the repoint
    assert steps["relay.observe.EX10-01"].prerequisites == ("relay.observe-wait.EX10-01",)
    assert "relay.repoint.smtp-contoso-test" in steps["relay.observe-wait.EX10-01"].prerequisites


def test_the_runbook_stops_at_the_repoint_and_goes_on_with_the_check() -> None:
    _, steps = _steps()
    group = [s for s in steps.values() if s.runbook == "runbooks/20-relay/smtp-contoso-test.ps1"]
    assert [s.id for s in group][:2] == [
        "relay.repoint.smtp-contoso-test",
        "relay.verify-alias.smtp-contoso-test",
    ]
    text = render_runbook("t", group, RunbookContext("Contoso", "2026-01-01"), "t")
    assert (
        "Stop-AtManualStep -Id 'relay.repoint.smtp-contoso-test' -Next 'relay.verify-alias.smtp-contoso-test'"
        in text
    )
    assert "IPv4 = @('10.1.0.20', '10.2.0.20'); IPv6 = @('fd00::20')" in text
    assert "Assert-AliasRecord @step" in text


def test_rollback_points_the_alias_back_before_any_new_connector_goes() -> None:
    inv = two_sites()
    rollback = {s.id: s for s in relay_rollback_steps(inv, plan_relay(inv))}
    back = rollback["relay.rollback.repoint.smtp-contoso-test"]
    check = rollback["relay.rollback.verify-alias.smtp-contoso-test"]
    assert back.runbook == check.runbook == "runbooks/20-relay/smtp-contoso-test-rollback.ps1"
    assert check.action is not None
    assert check.action.params["ipv4"] == ["10.1.0.10", "10.2.0.10"]
    assert check.action.params["ipv6"] == ["fd00::10"]
    removals = [s for s in rollback.values() if s.id.startswith("relay.rollback.remove.")]
    direct = {s.id for s in removals if check.id in s.prerequisites}
    # relay connectors directly; internal-only ones after the relay connectors of their server
    assert direct and all(s.id in direct or set(s.prerequisites) <= direct for s in removals)


def test_contoso_onward_repoint_names_the_se_servers_and_rolls_back_to_2016() -> None:
    inv = load_inventory(CONTOSO)
    first = plan_relay(inv)
    onward = plan_onward_relay(inv, first)
    steps = {s.id: s for s in relay_steps(inv, onward, Phase.ONWARD)}
    verify = steps["onward.relay.verify-alias.smtp-contoso-com"]
    assert verify.runbook == "runbooks/70-onward/smtp-contoso-com.ps1"
    assert verify.action is not None
    assert (verify.action.params["ipv4"], verify.action.params["ipv6"]) == (
        ["10.1.1.30", "10.2.1.30"],
        [],  # review 4 B1: no relay range is IPv6, so no AAAA record (EX-SE-01 has IPv6)
    )
    back = {s.id: s for s in relay_rollback_steps(inv, onward, Phase.ONWARD)}[
        "onward.relay.rollback.verify-alias.smtp-contoso-com"
    ]
    assert back.action is not None
    assert (back.action.params["ipv4"], back.action.params["ipv6"]) == (
        ["10.1.1.20", "10.2.1.20"],
        [],
    )
    # the first hop: both 2016 servers, no AAAA (EX16-01 has IPv6, no relay range has)
    first_steps = {s.id: s for s in relay_steps(inv, first)}
    check = first_steps["relay.verify-alias.smtp-contoso-com"]
    assert check.action is not None
    assert (check.action.params["ipv4"], check.action.params["ipv6"]) == (
        ["10.1.1.20", "10.2.1.20"],
        [],
    )


def test_ipv6_only_where_a_server_has_it_and_unknown_servers_are_named() -> None:
    inv = two_sites()
    ex16_01, ex16_02 = inv.server("EX16-01"), inv.server("EX16-02")
    assert ex16_01 is not None and ex16_02 is not None
    assert alias_records([ex16_02]) == (["10.2.0.20"], [], [])
    assert alias_records([ex16_01, "EX99"]) == (["10.1.0.20"], ["fd00::20"], ["EX99"])
