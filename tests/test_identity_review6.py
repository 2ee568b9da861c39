"""Review 6, identity: M6 (a directory role back before the sync scope move) and m4 (mS-DS-ConsistencyGuid, the
ImmutableId rollback that must send a JSON null)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from migrator.pipeline import plan_folder
from migrator.render.runbooks import helper

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"


def _helper_function(name: str) -> str:
    text = helper().data.decode("utf-8-sig").replace("\r\n", "\n")
    body = text[text.index(f"function {name} ") :]
    return body[: body.index("\n}\n")]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("review6id") / "plan"
    assert plan_folder(CONTOSO, folder).plan is not None
    return folder


def _steps(out: Path) -> dict[str, dict[str, object]]:
    return {s["id"]: s for s in json.loads((out / "plan.json").read_text("utf-8"))["steps"]}


def test_an_admin_row_that_moves_into_sync_scope_reaches_the_role_check(out: Path) -> None:
    """Before: priya.raman (AdminRoles 'Exchange Administrator', blocked) was moved into sync scope 12 days after
    the manual role removal, and nothing read the role again."""
    text = (out / "identity" / "batch-001.csv").read_bytes().decode("utf-8-sig")
    admins = [r for r in csv.DictReader(io.StringIO(text)) if r["AdminRoles"]]
    assert admins
    # The check keys on the row's cloud user id: every admin row has one.
    assert all(r["CloudUserId"] for r in admins)
    body = _helper_function("Set-BatchUser")
    check = body.index("Get-BatchUserRefusal -Row $row -User $user")
    # Refused before any change of that row, and the loop goes on with the next row.
    assert check < body.index("Set-ADUser") < body.index("Move-ADObject")
    assert "if ($why -ne '') { $refused += " in body and "; continue }" in body
    assert "if ($WhatIfPreference) { Write-Warning $text } else { throw $text }" in body
    refusal = _helper_function("Get-BatchUserRefusal")
    assert "Get-MgUserMemberOf -UserId $Row.CloudUserId -All -ErrorAction Stop" in refusal
    assert "'#microsoft.graph.directoryRole'" in refusal
    # Read only: the check changes nothing.
    assert "Set-" not in refusal.replace("Set-StrictMode", "") and "Update-" not in refusal
    steps = _steps(out)
    assert "Connect-MgGraph -Scopes 'Directory.Read.All'" in str(
        steps["identity.prepare.batch-001"]["instructions"]
    )


def test_a_stamped_consistency_guid_other_than_the_object_guid_is_refused() -> None:
    body = _helper_function("Set-BatchUser")
    assert "'mS-DS-ConsistencyGuid'" in body
    refusal = _helper_function("Get-BatchUserRefusal")
    # Empty passes; otherwise the bytes must equal the objectGUID's, compared case-sensitively in base64.
    assert (
        "if ($stamped -and [System.Convert]::ToBase64String([byte[]]$stamped) -cne "
        "[System.Convert]::ToBase64String($User.ObjectGUID.ToByteArray()))"
    ) in refusal


def test_the_immutable_id_rollback_says_how_to_send_a_null(out: Path) -> None:
    rollback = str(_steps(out)["identity.set-immutable-id.batch-001"]["rollback"])
    assert "Update-MgUser cannot send a JSON null" in rollback
    assert "PATCH https://graph.microsoft.com/v1.0/users/<CloudUserId>" in rollback
    assert '{"onPremisesImmutableId": null}' in rollback
