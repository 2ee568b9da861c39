"""Review 3 leftovers in the runbook helper and the routing-address step: F10, m4 and m5."""

from __future__ import annotations

import functools
from pathlib import Path

from powershell_check import check_script

from migrator.inventory import load_inventory
from migrator.pipeline import build_plan
from migrator.plan.steps import MigrationPlan
from migrator.render.runbooks import helper

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"


@functools.cache
def contoso_plan() -> MigrationPlan:
    return build_plan(load_inventory(CONTOSO))


def _function(name: str) -> str:
    text = helper().data.decode("utf-8-sig").replace("\r\n", "\n")
    body = text[text.index(f"function {name} ") :]
    return body[: body.index("\nfunction ", 1)]


def test_the_snapshot_reads_folders_and_permissions_from_the_source_server() -> None:
    """F10: a replica elsewhere may differ (\\Sales\\EMEA in contoso); every read is pinned."""
    body = _function("Export-PublicFolderSnapshot")
    for cmdlet in (
        "Get-PublicFolder",
        "Get-PublicFolderStatistics",
        "Get-PublicFolderClientPermission",
    ):
        calls = [line for line in body.splitlines() if f"{cmdlet} " in line]
        assert calls and all("-Server $Server" in line for line in calls), cmdlet
    assert check_script(body, ps2=True, safety=True) == []


def test_a_whatif_run_never_writes_the_rollback_baseline() -> None:
    """m5: the "before" export is written on a real run only, never over an earlier one."""
    guard = _function("Test-RollbackExport")
    assert "return ($kept.Count -eq 0 -and -not $WhatIfPreference)" in guard
    assert guard.index("Get-ChildItem -LiteralPath $Path") < guard.index(
        "elseif ($WhatIfPreference)"
    )
    assert check_script(guard, ps2=True, safety=True) == []
    for name in ("Set-ClientAccessUrl", "Set-LegacyOutlookAnywhere"):
        body = _function(name)
        assert "if (Test-RollbackExport -Path $ExportPath) {" in body, name
        assert "-WhatIf:$false" not in body, name


def test_the_routing_addresses_wait_for_the_hybrid_configuration() -> None:
    """m4: the HCW's email address policy stamps the address first where it applies."""
    plan = contoso_plan()
    routing = plan.step("moves.routing-address.wave-009")
    # the hybrid phase's last step (after the HCW rerun and the Exchange Online connector check)
    assert "hybrid.send-connector-remove-old" in routing.prerequisites
    assert plan.schedule["hybrid.hcw-rerun"].finish <= plan.schedule[routing.id].start


def test_a_routing_address_another_recipient_holds_stops_the_step_unchanged() -> None:
    """m4: every address checked (valid SMTP, no other holder in the forest) before any change."""
    body = _function("Add-CloudRoutingAddress")
    assert "Get-Recipient -Filter ('EmailAddresses -eq ''smtp:'" in body
    assert "is not a valid SMTP local part" in body
    assert body.index("throw ([string]$problems.Count") < body.index("Set-Mailbox -Identity")
    assert check_script(body, ps2=False, safety=True) == []
