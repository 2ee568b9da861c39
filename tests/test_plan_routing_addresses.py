"""Review M9: every mailbox that moves to Exchange Online holds its alias@<tenant>.mail.onmicrosoft.com
routing address before its batch starts (the email address policy stamps it only where it applies)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from powershell_check import check_script
from test_plan_remote_mailbox import helper_function

from migrator.inventory import load_inventory
from migrator.pipeline import build_plan
from migrator.plan.steps import MigrationPlan, RunsIn
from migrator.render.runbooks import RunbookContext, render_runbook

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"


@cache
def contoso() -> MigrationPlan:
    return build_plan(load_inventory(CONTOSO))


def test_each_exchange_online_wave_waits_for_its_routing_addresses() -> None:
    plan = contoso()
    cloud_waves = sorted(
        s.id.removeprefix("moves.copy.")
        for s in plan.steps
        if s.action is not None and s.action.kind == "moves.exo-batch"
    )
    assert cloud_waves == ["wave-009"]
    step = plan.step("moves.routing-address.wave-009")
    assert step.id in plan.step("moves.copy.wave-009").prerequisites
    assert step.runs_in is RunsIn.EMS_NEW and step.wait_minutes >= 30  # a sync cycle
    assert step.runbook == "runbooks/55-moves/routing-addresses.ps1"
    assert step.action is not None
    assert step.action.params == {
        "csv": "..\\..\\moves\\wave-009.csv",
        "rows": 4,
        "domain": "contoso.mail.onmicrosoft.com",
    }
    # on-premises waves need none
    assert not [s.id for s in plan.steps if s.id.startswith("moves.routing-address.wave-001")]


def test_the_runbook_adds_the_address_and_reads_it_back() -> None:
    step = contoso().step("moves.routing-address.wave-009")
    text = render_runbook("t", [step], RunbookContext("c", "d", "dc"), "t")
    assert check_script(text, ps2=False) == []
    assert "Add-CloudRoutingAddress @step -Folder $RunbookFolder" in text
    body = helper_function("Add-CloudRoutingAddress")
    assert "Set-Mailbox -Identity $row.EmailAddress -EmailAddresses @{ Add = $address }" in body
    assert "$PSCmdlet.ShouldProcess(" in body
    assert (
        "if ($has.Count -gt 0) { continue }" in body
    )  # idempotent: an address in the domain stays
    assert "Verification failed: " in body  # read back
