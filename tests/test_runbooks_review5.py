"""Review 5's N4 and N7 (the lead's part), on the contoso plan built in memory."""

from __future__ import annotations

import functools
from pathlib import Path

from migrator.inventory import load_inventory
from migrator.pipeline import build_plan
from migrator.plan.steps import MigrationPlan

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"


@functools.cache
def _plan() -> MigrationPlan:
    return build_plan(load_inventory(CONTOSO))


def _step(step_id: str):  # type: ignore[no-untyped-def]
    return next(s for s in _plan().steps if s.id == step_id)


def test_the_hybrid_receive_path_changes_no_rule_when_the_internet_smtp_rule_carries_exchange_online() -> (
    None
):
    """Before: it asked the network admin to change 'the rule that delivers Exchange Online's SMTP' on the
    mail-flow night, while relay.nat.fw-lon-smtp-in moves that very rule on a night of its own."""
    step = _step("hybrid.receive-path.EX16-01")
    assert step.title == "confirm the inbound path from Exchange Online (port 25) for EX16-01"
    assert "NAT rule FW-LON-SMTP-IN (203.0.113.25)" in step.instructions
    assert "Do not add or change a rule here" in step.instructions
    assert step.reversible is False
    assert any(s.id == "relay.nat.fw-lon-smtp-in" for s in _plan().steps)


def test_the_nat_rollback_says_it_moves_exchange_online_s_inbound_mail_too(
    contoso_plan: Path,
) -> None:
    """Before: pointing FW-LON-SMTP-IN back at EX10-01 (review 4, R2) said nothing of the inbound mail it carries."""
    text = (contoso_plan / "runbooks" / "20-relay" / "network-rollback.ps1").read_text("utf-8-sig")
    region = text[text.index("# region STEP relay.rollback.nat.fw-lon-smtp-in;") :]
    assert (
        "all mail Exchange Online (and the Internet) delivers to on-premises recipients" in region
    )
    assert "otherwise fix forward" in region


# --------------------------------------------------------------------------- review 5, minors


def _helper_function(name: str) -> str:
    from migrator.render.runbooks import helper

    text = helper().data.decode("utf-8-sig").replace("\r\n", "\n")
    body = text[text.index(f"function {name} ") :]
    return body[: body.index("\n}\n")]


def test_a_completed_wave_rollback_names_the_way_to_run_the_wave_again(contoso_plan: Path) -> None:
    """Review 5, n2: after wave-001's rollback completed, running wave-001 again stopped with "it
    expires 30 days after completion" and nothing else. Remove-MoveRequest on a request whose target
    is on 2010 stays manual (not verified for 2016 -> 2010): the step names the exact command, only
    for the wave's own rollback and only while the mailbox is where that rollback put it."""
    clear = _helper_function("Clear-OtherMoveRequest")
    legacy = clear[clear.index("if (Test-Legacy2010Target") :]
    legacy = legacy[: legacy.index("\n    }\n")]
    assert (
        "if ($other -ne ($BatchName + '-rollback')) { throw ($why + '; it expires 30 days after completion') }"
        in legacy
    )
    assert "Get-Mailbox -Identity ([string]$Existing.Identity)" in legacy
    assert "if ($on -ne [string]$Existing.TargetDatabase) { throw" in legacy
    # the command to paste, the identity quoted for PowerShell (liam.o'connor)
    assert (
        "Remove-MoveRequest -Identity ''' + ([string]$Existing.Identity).Replace(\"'\", \"''\")"
        in legacy
    )
    # never run by the helper: every path of the 2010 branch throws before the ShouldProcess
    assert "ShouldProcess" not in legacy
    assert legacy.count("throw (") == 3
    text = (contoso_plan / "runbooks" / "55-moves" / "wave-001-rollback.ps1").read_text("utf-8-sig")
    assert "To run the wave again later" in text and "Remove-MoveRequest command" in text


def test_rollback_5_requires_rollbacks_1_to_4(contoso_plan: Path) -> None:
    """Review 5, n4: rollback 5 checked only that the 2010 databases exist; run alone after the go-live
    it pointed Exchange Online users at locked or stale 2010 public folders."""
    guard = _helper_function("Assert-LegacyPublicFolderDatabase")
    assert "[switch]$RolledBack" in guard
    flags = guard[guard.index("if ($RolledBack) {") :]
    assert "Get-OrganizationConfig -DomainController $DomainController" in flags
    assert (
        "foreach ($flag in @('PublicFoldersLockedForMigration', 'PublicFolderMigrationComplete'))"
        in flags
    )
    assert "[string]$config.PublicFoldersEnabled -ne 'Remote'" in flags
    # checked before anything is read or recorded
    assert guard.index("if ($RolledBack) {") < guard.index("Get-PublicFolderDatabase")
    assert "RolledBack = [bool]$RolledBack" in guard
    cloud = _helper_function("Set-CloudPublicFolderAccess")
    assert "if (-not $seen.RolledBack) { throw" in cloud
    folder = contoso_plan / "runbooks" / "58-public-folders"
    five = (folder / "rollback-5-check-legacy-databases.ps1").read_text("utf-8-sig")
    two = (folder / "rollback-2-remove-mailboxes.ps1").read_text("utf-8-sig")
    assert "-DomainController $DomainController -RolledBack\n" in five
    assert "Assert-LegacyPublicFolderDatabase" in two and "-RolledBack" not in two
