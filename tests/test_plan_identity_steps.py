"""Identity steps per batch, the rendered runbooks (goldens), the batch CSVs and the report."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from golden_files import check_golden
from powershell_check import check_script, unknown_commands

from migrator.model import CloudUser, Finding, Inventory, OnPremUser, Policy, Severity, Tenant
from migrator.plan.identity import IdentityMatch, MatchOutcome, match_identities
from migrator.plan.identity_steps import SYNC_CYCLE_WAIT_MINUTES, identity_steps
from migrator.plan.steps import Phase, RunsIn, Step
from migrator.render import identity_report
from migrator.render.identity_report import (
    CSV_COLUMNS,
    USERS_COLUMNS,
    USERS_PATH,
    identity_report_markdown,
    write_identity_batches,
    write_identity_report,
)
from migrator.render.runbooks import RunbookContext, write_runbooks

GOLDEN = Path(__file__).parent / "golden" / "identity"
OU = "OU=Synced,DC=contoso,DC=com"


def _inventory() -> Inventory:
    on = (
        OnPremUser(
            "CN=Ann,OU=Staff,DC=contoso,DC=com",
            "ann",
            "3ab39606-c642-489b-84b6-58c038d3ef39",
            "ann@contoso.local",
            "ann@contoso.com",
            ("SMTP:ann@contoso.com",),
        ),
        OnPremUser(
            f"CN=Bob O'Neil,{OU}",
            "bob",
            "8c4ac332-975f-4717-ad7b-ba4a4e968fff",
            "bob@contoso.com",
            "bob@contoso.com",
            ("SMTP:bob@contoso.com",),
            consistency_guid="53e32701-9863-de11-bd66-0015178a5e3c",
        ),
        OnPremUser(
            f"CN=Cat,{OU}",
            "cat",
            "46e23144-8377-483e-a87e-b6769db62eed",
            "cat@contoso.com",
            "cat@contoso.com",
            ("SMTP:cat@contoso.com",),
        ),
    )
    cl = (
        CloudUser(
            "id-ann",
            "ann@contoso.com",
            "ann@contoso.com",
            ("SMTP:ann@contoso.com", "smtp:=SUM(A1)@contoso.com"),
        ),
        CloudUser(
            "id-bob",
            "bob@contoso.com",
            "bob@contoso.com",
            ("SMTP:bob@contoso.com",),
            immutable_id="+uIQYE6l4kCJgJL5y5r1kg==",
            admin_roles=("Exchange Administrator",),
        ),
        CloudUser("id-cat", "cat@contoso.com", "cat@contoso.com", ("SMTP:cat@contoso.com",)),
        CloudUser(
            "id-dan",
            "dan@contoso.com",
            "dan@contoso.com",
            ("SMTP:dan@contoso.com",),
            has_mailbox=True,
        ),
    )
    return Inventory(
        "Contoso",
        onprem_users=on,
        cloud_users=cl,
        tenant=Tenant("contoso.onmicrosoft.com", ("contoso.com",)),
        policy=Policy(sync_scope_ou=OU, identity_batch_size=2, domain_controller="dc1.contoso.com"),
    )


@pytest.fixture(scope="module")
def planned() -> tuple[Inventory, IdentityMatch, list[Step]]:
    inv = _inventory()
    result = match_identities(inv)
    return inv, result, identity_steps(inv, result)


def test_outcomes_of_the_fixture(planned: tuple[Inventory, IdentityMatch, list[Step]]) -> None:
    _, result, _ = planned
    got = {r.cloud_id: r.outcome for r in result.results}
    assert got == {
        "id-ann": MatchOutcome.WARNING,
        "id-bob": MatchOutcome.BLOCKED,
        "id-cat": MatchOutcome.SOFT_MATCH,
        "id-dan": MatchOutcome.NO_CANDIDATE,
    }


def test_steps_per_batch(planned: tuple[Inventory, IdentityMatch, list[Step]]) -> None:
    _, _, steps = planned
    ids = [s.id for s in steps]
    assert ids == [
        "identity.remove-roles.batch-001",
        "identity.set-immutable-id.batch-001",
        "identity.prepare.batch-001",
        "identity.sync.batch-001",
        "identity.verify.batch-001",
        "identity.restore-roles.batch-001",
        "identity.prepare.batch-002",
        "identity.sync.batch-002",
        "identity.verify.batch-002",
    ]
    by_id = {s.id: s for s in steps}
    assert all(s.phase is Phase.IDENTITY for s in steps)
    assert by_id["identity.sync.batch-002"].wait_minutes == SYNC_CYCLE_WAIT_MINUTES == 30
    assert by_id["identity.sync.batch-002"].prerequisites == ("identity.prepare.batch-002",)
    assert by_id["identity.verify.batch-002"].prerequisites == ("identity.sync.batch-002",)
    assert by_id["identity.prepare.batch-002"].prerequisites == ()
    assert by_id["identity.prepare.batch-001"].prerequisites == (
        "identity.remove-roles.batch-001",
        "identity.set-immutable-id.batch-001",
    )
    assert by_id["identity.restore-roles.batch-001"].prerequisites == ("identity.verify.batch-001",)
    assert by_id["identity.remove-roles.batch-001"].action is None  # manual
    assert (
        "bob@contoso.com: Exchange Administrator"
        in by_id["identity.remove-roles.batch-001"].instructions
    )
    runbooks = {s.id.split(".")[1]: (s.runbook, s.runs_in) for s in steps}
    assert runbooks["prepare"] == ("runbooks/40-identity/ad.ps1", RunsIn.AD_POWERSHELL)
    assert runbooks["sync"] == ("runbooks/40-identity/adsync.ps1", RunsIn.ADSYNC)
    assert runbooks["verify"] == ("runbooks/40-identity/graph.ps1", RunsIn.GRAPH)
    assert runbooks["set-immutable-id"] == ("runbooks/40-identity/graph.ps1", RunsIn.GRAPH)


def _write_all(planned: tuple[Inventory, IdentityMatch, list[Step]], out: Path) -> list[Path]:
    inv, result, steps = planned
    ctx = RunbookContext("Contoso", "2026-01-05", inv.policy.domain_controller)
    paths = write_runbooks(steps, out, ctx)
    paths += write_identity_batches(result, out)
    paths.append(write_identity_report(result, out, inv.organisation))
    paths.append(out / USERS_PATH)  # written with the report
    return paths


def test_golden_outputs(
    planned: tuple[Inventory, IdentityMatch, list[Step]], tmp_path: Path
) -> None:
    written = _write_all(planned, tmp_path)
    names = sorted(p.relative_to(tmp_path).as_posix() for p in written)
    assert names == [
        "identity/batch-001.csv",
        "identity/batch-002.csv",
        "identity/identity-report.md",
        "identity/identity-users.csv",
        "runbooks/40-identity/ad.ps1",
        "runbooks/40-identity/adsync.ps1",
        "runbooks/40-identity/graph.ps1",
    ]
    for rel in names:
        check_golden(GOLDEN / rel.replace("/", "__"), (tmp_path / rel).read_bytes())


@pytest.mark.parametrize("name", ["ad", "graph", "adsync"])
def test_runbooks_parse_and_use_documented_cmdlets(
    planned: tuple[Inventory, IdentityMatch, list[Step]], tmp_path: Path, name: str
) -> None:
    _write_all(planned, tmp_path)
    raw = (tmp_path / f"runbooks/40-identity/{name}.ps1").read_bytes()
    assert (
        raw.startswith(b"\xef\xbb\xbf")
        and b"\r\n" in raw
        and b"\n" not in raw.replace(b"\r\n", b"")
    )
    text = raw.decode("utf-8-sig")
    assert check_script(text, ps2=False) == []
    assert unknown_commands(text) == []
    assert "MsolUser" not in text and "MSOnline" not in text
    # data-driven: the users are in the CSV, never unrolled into the script
    assert "bob@contoso.com" not in text.replace("bob@contoso.com: Exchange Administrator", "")
    # ... which the helper function reads: the step names the file and its row count.
    assert "Csv = '..\\..\\identity\\batch-001.csv'; Rows = 2" in text or name == "adsync"


def test_graph_runbook_sets_immutable_id_with_graph(
    planned: tuple[Inventory, IdentityMatch, list[Step]], tmp_path: Path
) -> None:
    _write_all(planned, tmp_path)
    text = (tmp_path / "runbooks/40-identity/graph.ps1").read_bytes().decode("utf-8-sig")
    assert "Set-BatchImmutableId @step -Folder $RunbookFolder" in text
    adsync = (tmp_path / "runbooks/40-identity/adsync.ps1").read_bytes().decode("utf-8-sig")
    assert "Start-BatchSync @step" in adsync
    # The functions they call, in the helper written beside them.
    helper = (
        (tmp_path / "runbooks/40-identity/Migrator.Runbook.ps1").read_bytes().decode("utf-8-sig")
    )
    assert (
        "Update-MgUser -UserId $row.CloudUserId -OnPremisesImmutableId $expected -ErrorAction Stop"
        in helper
    )
    assert "$PSCmdlet.ShouldProcess($row.CloudUserPrincipalName" in helper
    assert "-cne $expected" in helper  # base64 compared case-sensitively
    assert "Start-ADSyncSyncCycle -PolicyType 'Delta' -ErrorAction Stop" in helper
    assert "MsolUser" not in helper and "MSOnline" not in helper.replace("retired MSOnline", "")


def test_batch_csv(planned: tuple[Inventory, IdentityMatch, list[Step]], tmp_path: Path) -> None:
    _, result, _ = planned
    [first, _second] = write_identity_batches(result, tmp_path)
    raw = first.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert text.count("\r\n") == 3 and "\n" not in text.replace("\r\n", "")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    ann = rows[0]
    assert ann["CloudUserPrincipalName"] == "ann@contoso.com"
    assert ann["TargetUserPrincipalName"] == "ann@contoso.com"
    assert ann["CurrentUserPrincipalName"] == "ann@contoso.local"
    assert ann["SourceAnchorGuid"] == "3ab39606-c642-489b-84b6-58c038d3ef39"
    assert ann["MoveToSyncScope"] == "True"
    # a value that looks like a formula stays data, exactly as planned, in a quoted field
    assert ann["AddProxyAddresses"] == "smtp:=sum(a1)@contoso.com"
    assert ann["Method"] == "soft match on primary SMTP"
    assert text.splitlines()[0].startswith('"Batch","CloudUserId"')
    bob = rows[1]
    assert bob["SetImmutableId"] == "True"
    # found by soft match on SMTP, but the runbook sets his ImmutableId: Entra Connect hard-matches
    assert bob["Method"] == "hard match"
    assert bob["SourceAnchorGuid"] == "53e32701-9863-de11-bd66-0015178a5e3c"  # ConsistencyGuid
    assert bob["OnPremDistinguishedName"] == f"CN=Bob O'Neil,{OU}"
    assert bob["AdminRoles"] == "Exchange Administrator"


def test_report_lists_every_user_with_reason_and_fix(
    planned: tuple[Inventory, IdentityMatch, list[Step]],
) -> None:
    _, result, _ = planned
    text = identity_report_markdown(result, "Contoso | Ltd")
    assert "# Identity matching: Contoso \\| Ltd" in text
    for r in result.results:
        assert r.cloud_upn in text
    assert "| no candidate | 1 |" in text
    assert "Set-RemoteMailbox -ExchangeGuid" in text
    assert "+uIQYE6l4kCJgJL5y5r1kg==" in text  # the ImmutableId before the plan (rollback value)
    lines = [
        line for line in text.splitlines() if line.startswith("| ") and "@contoso.com |" in line
    ]
    assert len(lines) == 4
    assert all(line.count(" | ") == 8 for line in lines)  # pipes inside values are escaped


def test_users_csv_lists_every_user_in_report_order_with_reason_and_fix(
    planned: tuple[Inventory, IdentityMatch, list[Step]], tmp_path: Path
) -> None:
    inv, result, _ = planned
    write_identity_report(result, tmp_path, inv.organisation)
    raw = (tmp_path / USERS_PATH).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\n" not in raw.replace(b"\r\n", b"")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert tuple(rows[0]) == USERS_COLUMNS
    by_id = {r.cloud_id: r for r in result.results}
    # attention-needing outcomes first, as the report lists them
    assert [row["CloudUserId"] for row in rows] == ["id-bob", "id-dan", "id-ann", "id-cat"]
    for row in rows:
        r = by_id[row["CloudUserId"]]
        assert (row["Outcome"], row["Reason"], row["Fix"]) == (r.outcome.value, r.reason, r.fix)
    bob = rows[0]
    assert bob["Batch"] == "batch-001"
    assert bob["SourceAnchorGuid"] == "53e32701-9863-de11-bd66-0015178a5e3c"
    # the rollback value as the GUID it encodes (no base64 that may begin with '+' in a cell)
    assert bob["CurrentImmutableIdGuid"] == "6010e2fa-a54e-40e2-8980-92f9cb9af592"
    assert not any(v.startswith("+") for row in rows for v in row.values())
    assert rows[1]["Batch"] == "" and rows[1]["OnPremUser"] == ""


def test_report_groups_users_by_outcome_above_the_limit(
    planned: tuple[Inventory, IdentityMatch, list[Step]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above USERS_LISTED_UP_TO users: per outcome a count and the first few, the CSV named."""
    _, result, _ = planned
    monkeypatch.setattr(identity_report, "USERS_LISTED_UP_TO", 3)
    monkeypatch.setattr(identity_report, "SHOWN_PER_OUTCOME", 1)
    text = identity_report_markdown(result, "Contoso")
    assert "4 cloud users: too many to list one by one here" in text
    for outcome in ("blocked", "no candidate", "warning", "clean soft match"):
        assert f"### {outcome}: 1 user\n" in text
    assert "identity/identity-users.csv" in text
    rows = [
        line for line in text.splitlines() if line.startswith("| ") and "@contoso.com |" in line
    ]
    assert len(rows) == 4 and all(line.count(" | ") == 8 for line in rows)
    assert "more" not in text.split("## Users")[1]  # one user per outcome: nothing hidden
    monkeypatch.setattr(identity_report, "USERS_LISTED_UP_TO", 0)
    monkeypatch.setattr(identity_report, "SHOWN_PER_OUTCOME", 0)
    hidden = identity_report_markdown(result, "Contoso").split("## Users")[1]
    assert "… and 1 more blocked (in `identity/identity-users.csv`)." in hidden
    assert "@contoso.com" not in hidden


def test_report_groups_findings_by_code_above_the_limit(
    planned: tuple[Inventory, IdentityMatch, list[Step]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, result, _ = planned
    findings = [
        Finding(Severity.WARNING, "identity.upn-suffix-local", f"CN=U{i}", f"problem {i}", "fix")
        for i in range(7)
    ]
    listed = identity_report_markdown(result, "Contoso", findings)
    assert all(f"| CN=U{i} |" in listed for i in range(7))
    monkeypatch.setattr(identity_report, "FINDINGS_LISTED_UP_TO", 6)
    grouped = identity_report_markdown(result, "Contoso", findings)
    assert "7 findings in 1 codes" in grouped
    assert "**7 findings**" in grouped
    assert sum(f"| CN=U{i} |" in grouped for i in range(7)) == 5  # SHOWN_PER_CODE
    assert "… and 2 more (in `findings.txt`)" in grouped
