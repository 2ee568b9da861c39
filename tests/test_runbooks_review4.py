"""Review 4's moves, identity, hybrid and OAB findings (R3, R4, m1, m2, m5), on the contoso plan."""

from __future__ import annotations

import csv
import functools
import io
import re
from pathlib import Path

import pytest

from migrator.render.runbooks import helper


@functools.cache
def _helper_text() -> str:
    return helper().data.decode("utf-8-sig").replace("\r\n", "\n")


def _helper_function(name: str) -> str:
    text = _helper_text()
    body = text[text.index(f"function {name} ") :]
    return body[: body.index("\n}\n")]


@pytest.fixture(scope="module")
def out(contoso_plan: Path) -> Path:
    """contoso's plan folder, planned once for the session (conftest; read-only)."""
    return contoso_plan


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")


def _region(text: str, step_id: str) -> str:
    start = text.index(f"# region STEP {step_id};")
    end = text.find("# region STEP ", start + 1)
    return text[start : end if end != -1 else len(text)]


# --------------------------------------------------------------------------- R3


def test_a_wave_never_skips_a_mailbox_that_holds_another_batch_s_request() -> None:
    """Before: any existing request was skipped with a message, so a rollback during the 12.5 h the completed
    forward request lives moved nobody and ended without an error."""
    for name in ("New-MoveWave", "Move-ArbitrationMailbox"):
        body = _helper_function(name)
        assert "Clear-OtherMoveRequest -Existing $existing" in body, name
        assert "a move request exists already" not in body, name
    clear = _helper_function("Clear-OtherMoveRequest")
    # The same batch: a re-run, skipped. Another batch: removed only when Completed and not on a 2010 target.
    assert "if ($other -eq $BatchName)" in clear
    assert "if (-not (Test-MoveRequestDone -Status $status)) { throw" in clear
    assert "if (Test-Legacy2010Target -Request $Existing" in clear
    assert clear.index("Test-Legacy2010Target") < clear.index("Remove-MoveRequest")
    assert "$PSCmdlet.ShouldProcess($Name, 'Remove-MoveRequest" in clear
    # One rule for "target on 2010", used by the cleanup too.
    assert "Test-Legacy2010Target -Request $request" in _helper_function("Remove-MoveWaveRequest")


def test_a_wave_ends_with_one_request_per_csv_row() -> None:
    body = _helper_function("New-MoveWave")
    assert body.rstrip().endswith(
        "Assert-BatchRequestCount -BatchName $BatchName -Rows $Rows -DomainController $DomainController"
    )
    count = _helper_function("Assert-BatchRequestCount")
    assert "if ($WhatIfPreference) { return }" in count
    assert "Get-MoveRequest -BatchName $BatchName -ResultSize Unlimited" in count


def test_the_rollback_moves_back_with_the_forward_bad_item_limit(out: Path) -> None:
    """Before: BadItemLimit 0 on the way back, so a mailbox that skipped bad items coming in failed going back."""
    forward = list(csv.DictReader(io.StringIO(_read(out / "moves" / "wave-001.csv"))))
    (limit,) = {int(r["BadItemLimit"]) for r in forward}
    assert limit > 0
    text = _read(out / "runbooks" / "55-moves" / "wave-001-rollback.ps1")
    assert f"BadItemLimit = {limit}" in text
    rows = list(csv.DictReader(io.StringIO(_read(out / "moves" / "wave-001-rollback.csv"))))
    assert rows and {r["BadItemLimit"] for r in rows} == {str(limit)}


# --------------------------------------------------------------------------- R4


def test_no_user_moves_into_sync_scope_before_its_remote_mailbox_is_read_back(out: Path) -> None:
    """Before: ad.ps1 (Identity admin) moved the batch into sync scope whether or not ems.ps1 (Exchange admin)
    had created the remote mailboxes; the first sync then replaced the cloud addresses."""
    region = _region(
        _read(out / "runbooks" / "40-identity" / "ad.ps1"), "identity.prepare.batch-001"
    )
    rows = list(
        csv.DictReader(io.StringIO(_read(out / "identity" / "batch-001-remote-mailboxes.csv")))
    )
    assert "RemoteMailboxCsv = '..\\..\\identity\\batch-001-remote-mailboxes.csv'" in region
    assert f"RemoteMailboxRows = {len(rows)}" in region
    body = _helper_function("Set-BatchUser")
    assert body.index("Assert-RemoteMailboxReady") < body.index("foreach ($row in $all)")
    ready = _helper_function("Assert-RemoteMailboxReady")
    assert "msExchMailboxGuid" in ready and "$row.ExchangeGuid" in ready
    # Each MailboxType the remote-mailbox CSV can hold has its RecipientTypeDetails (review 5, n1).
    for kind, value in (
        ("Regular", "2147483648"),
        ("Shared", "34359738368"),
        ("Room", "8589934592"),
        ("Equipment", "17179869184"),
    ):
        assert f"'{kind}' = '{value}'" in ready
    assert "-ne $types[[string]$row.MailboxType]" in ready
    assert "if ($WhatIfPreference) { Write-Warning $text } else { throw $text }" in ready


def test_the_verify_step_checks_the_cloud_primary_address_of_remote_mailboxes(out: Path) -> None:
    region = _region(
        _read(out / "runbooks" / "40-identity" / "graph.ps1"), "identity.verify.batch-001"
    )
    assert "RemoteMailboxCsv = '..\\..\\identity\\batch-001-remote-mailboxes.csv'" in region
    body = _helper_function("Assert-BatchSynced")
    assert "'mail'" in body
    assert "[string]$cloud.Mail -ne $primary[[string]$row.CloudUserId]" in body


# --------------------------------------------------------------------------- m1


def test_a_manual_stop_names_the_other_runbooks_step_the_next_one_waits_for(out: Path) -> None:
    """Before: the HCW rerun's stop sent the operator to -From hybrid.send-connector-remove-old, whose
    prerequisite (the Exchange Online connector check) is in another runbook."""
    region = _region(_read(out / "runbooks" / "30-hybrid" / "hybrid.ps1"), "hybrid.hcw-rerun")
    assert (
        "Write-Host '    Before -From hybrid.send-connector-remove-old: it also waits for"
        " hybrid.check-exo-connectors (other runbooks); make sure they are done.'\n"
        "        Stop-AtManualStep -Id 'hybrid.hcw-rerun' -Next 'hybrid.send-connector-remove-old'"
    ) in region


def test_rollback_runbook_is_named_only_where_one_exists(out: Path) -> None:
    """Before: checks, reads and readiness gates said 'rollback: see the rollback runbook' in folders with none."""
    missing = []
    for path in sorted((out / "runbooks").rglob("*.ps1")):
        if path.name.endswith("-rollback.ps1") or path.name == "Migrator.Runbook.ps1":
            continue
        text = _read(path)
        if (
            "see the rollback runbook" in text
            and not path.with_name(path.stem + "-rollback.ps1").exists()
        ):
            missing += re.findall(
                r"# region STEP ([^;]+);[^\n]*\n[^\n]*see the rollback runbook", text
            )
    assert missing == []


# --------------------------------------------------------------------------- m2


def test_the_oab_rollback_clears_only_its_own_oab_and_never_once_2016_exists() -> None:
    body = _helper_function("Set-DatabaseOfflineAddressBook")
    guard = body.index("if ($Clear) {")
    assert "Get-ExchangeServer -DomainController $DomainController" in body[guard:]
    assert body.index("Get-ExchangeServer") < body.index("foreach ($name in $Database)")
    assert "$ours = ($oab -eq '') -or ($now.TrimStart('\\') -eq $oab.TrimStart('\\'))" in body
    assert "if ($Clear -and $now -ne '' -and $ours)" in body


# --------------------------------------------------------------------------- m5


def test_the_moves_report_example_uses_the_wave_s_own_window(out: Path) -> None:
    report = _read(out / "moves-report.md")
    start = re.search(r"\| wave-001 \| [^\n]*\| (\d{4}-\d\d-\d\dT\d\d:\d\d) \|", report)
    assert start is not None
    assert f"-Only moves.copy.wave-001 -CompleteAfterUtc {start.group(1)}:00Z`" in report


# --------------------------------------------------------------------------- m4


def test_the_tenant_s_matching_switches_are_read_before_immutable_ids_are_set() -> None:
    """Before: BlockSoftMatchEnabled / BlockCloudObjectTakeoverThroughHardMatchEnabled came from the inventory only."""
    body = _helper_function("Set-BatchImmutableId")
    assert body.index("Assert-TenantMatching -Row $all") < body.index("Update-MgUser")
    check = _helper_function("Assert-TenantMatching")
    assert "Get-MgDirectoryOnPremiseSynchronization -ErrorAction Stop" in check
    assert "BlockCloudObjectTakeoverThroughHardMatchEnabled -eq $true" in check
    assert "BlockSoftMatchEnabled -eq $true" in check


# --------------------------------------------------------------------------- m3


def test_the_mx_ttl_step_says_to_read_the_ttl_when_the_plan_counts_on_an_earlier_lowering(
    out: Path,
) -> None:
    """fabrikam.com's MX has TTL 86400 in the inventory; the plan waits 3600 s because prepare lowers it first."""
    fabrikam = _region(
        _read(out / "runbooks" / "50-mx" / "fabrikam.com.ps1"), "mx.lower-ttl.fabrikam.com"
    )
    assert (
        "Resolve-DnsName -Name fabrikam.com -Type MX -Server <authoritative name server>"
        in fabrikam
    )
    contoso = _region(
        _read(out / "runbooks" / "50-mx" / "contoso.com.ps1"), "mx.lower-ttl.contoso.com"
    )
    assert "authoritative name server" not in contoso
