"""Public folders for Exchange Online users (review 2, M2) and the replica minors (review 2, m2).

Every ordering rule of :func:`migrator.plan.public_folder_hybrid.hybrid_links` is an
edge held here, as are the lock's window rules (no Exchange Online wave completes in
the public folder lock window; the downtime in one window occurrence) and the
choice of the map's source database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
from powershell_check import check_script, unknown_commands

from migrator.checks.public_folders import check_public_folders
from migrator.inventory import load_inventory
from migrator.model import Inventory, Location, MaintenanceWindow, Severity
from migrator.pipeline import PlanOutput, analyse, build_plan
from migrator.plan.moves import EXCHANGE_ONLINE
from migrator.plan.public_folder_hybrid import (
    LEGACY,
    MAIL_SYNC_LEGACY,
    MAIL_SYNC_MODERN,
    MODERN,
    ROLLBACK_MODERN,
    hybrid_links,
    public_folder_hybrid_rollback_steps,
    public_folder_hybrid_steps,
)
from migrator.plan.public_folder_steps import LOCK, public_folder_steps
from migrator.plan.schedule import schedule_steps
from migrator.plan.steps import MigrationPlan, Owner, Phase, RunsIn, Step
from migrator.public_folders import (
    PublicFolder,
    PublicFolderDatabase,
    map_source,
    missing_replicas,
)

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"
EXO_WAVE = "wave-009"


@pytest.fixture(scope="module")
def contoso() -> Inventory:
    return load_inventory(CONTOSO)


@pytest.fixture(scope="module")
def plan(contoso: Inventory) -> MigrationPlan:
    return build_plan(contoso)


def _slot(plan: MigrationPlan, sid: str) -> int:
    return plan.schedule[sid].wave


# --------------------------------------------------------------------------- which steps


def test_contoso_plans_legacy_then_modern_hybrid_public_folders(plan: MigrationPlan) -> None:
    legacy = plan.step(LEGACY)
    assert legacy.runs_in is RunsIn.EXCHANGE_ONLINE
    assert legacy.action is not None
    # review 3, F6: only the public folder server with the Client Access role
    assert legacy.action.params["remote_mailboxes"] == ["PFProxy-EX10-03"]
    assert legacy.action.params["addresses"] == ["sales@contoso.com"]
    # Microsoft's legacy script runs outside migrator's 2010 shell: a manual step with the command.
    sync = plan.step(MAIL_SYNC_LEGACY)
    assert sync.action is None and "Sync-MailPublicFolders.ps1" in sync.instructions
    modern = plan.step(MODERN)
    assert modern.action is not None and modern.action.params["map_csv"] == "FolderToMailbox.csv"
    assert plan.step(MAIL_SYNC_MODERN).runs_in is RunsIn.EMS_NEW


def test_no_exchange_online_wave_plans_no_hybrid_step(contoso: Inventory) -> None:
    analysis = analyse(contoso)
    assert analysis.moves is not None
    onprem = replace(
        analysis.moves,
        waves=tuple(w for w in analysis.moves.waves if w.target != EXCHANGE_ONLINE),
    )
    assert public_folder_hybrid_steps(contoso, onprem) == []
    assert public_folder_hybrid_rollback_steps(contoso, onprem) == []
    assert public_folder_hybrid_steps(contoso, None) == []
    assert hybrid_links(contoso, onprem, public_folder_steps(contoso, "x"), []) == {}


def test_no_public_folders_plans_no_hybrid_step(contoso: Inventory) -> None:
    bare = replace(contoso, public_folder_databases=(), public_folders=(), mail_public_folders=())
    p = build_plan(bare)
    assert not [s.id for s in p.steps if s.id.startswith("public-folders.")]
    assert public_folder_hybrid_rollback_steps(bare, analyse(bare).moves) == []


# --------------------------------------------------------------------------- the edges


def test_legacy_hybrid_before_the_first_exchange_online_wave(plan: MigrationPlan) -> None:
    assert LEGACY in plan.prerequisites(f"moves.copy.{EXO_WAVE}")
    assert plan.schedule[LEGACY].finish <= plan.schedule[f"moves.copy.{EXO_WAVE}"].start


def test_legacy_hybrid_after_the_proxy_mailboxes_and_the_sync(plan: MigrationPlan) -> None:
    pre = set(plan.prerequisites(LEGACY))
    assert {
        "public-folders.proxy-mailbox.EX10-02",
        "public-folders.proxy-mailbox.EX10-03",
        MAIL_SYNC_LEGACY,
    } <= pre


def test_legacy_sync_after_the_hybrid_and_identity_steps(plan: MigrationPlan) -> None:
    pre = set(plan.prerequisites(MAIL_SYNC_LEGACY))
    assert any(p.startswith("hybrid.") for p in pre), pre
    assert any(p.startswith("identity.") for p in pre), pre


def test_the_lock_waits_for_every_exchange_online_wave(plan: MigrationPlan) -> None:
    assert f"moves.complete.{EXO_WAVE}" in plan.prerequisites(LOCK)


def test_no_exchange_online_wave_completes_in_the_lock_window(plan: MigrationPlan) -> None:
    # Review 2, M2: the Exchange Online wave completed the night of the lock.
    lock_window = {
        _slot(plan, s)
        for s in (LOCK, "public-folders.finalise", "public-folders.verify", "public-folders.unlock")
    }
    assert _slot(plan, f"moves.complete.{EXO_WAVE}") not in lock_window
    assert plan.schedule[f"moves.complete.{EXO_WAVE}"].finish <= plan.schedule[LOCK].start


def test_the_downtime_from_lock_to_unlock_sits_in_one_window(plan: MigrationPlan) -> None:
    slots = {
        _slot(plan, s)
        for s in (LOCK, "public-folders.finalise", "public-folders.verify", "public-folders.unlock")
    }
    assert len(slots) == 1


def test_modern_hybrid_right_after_the_unlock_before_2010_completes(plan: MigrationPlan) -> None:
    """Review 3, F8: Exchange Online users leave the 2010 proxies as soon as 2016 serves the
    hierarchy, before 2010 is marked complete (the old plan switched them after
    ``public-folders.local``, an hour of writes to the stale 2010 copy after the unlock)."""
    assert "public-folders.unlock" in plan.prerequisites(MAIL_SYNC_MODERN)
    assert MAIL_SYNC_MODERN in plan.prerequisites(MODERN)
    assert MODERN in plan.prerequisites("public-folders.complete-2010")
    s = plan.schedule
    assert s["public-folders.unlock"].finish <= s[MAIL_SYNC_MODERN].start
    assert s[MODERN].finish <= s["public-folders.complete-2010"].start
    assert s[MODERN].finish <= s["public-folders.local"].start
    # the whole go-live, lock to the Exchange Online switch, in the lock's window occurrence
    assert _slot(plan, MODERN) == _slot(plan, LOCK) == _slot(plan, "public-folders.local")
    assert plan.step(MODERN).maintenance_window and plan.step(MAIL_SYNC_MODERN).maintenance_window


def test_the_lock_tells_exchange_online_users_of_the_outage(plan: MigrationPlan) -> None:
    text = plan.step(LOCK).instructions
    assert f"Users in Exchange Online ({EXO_WAVE})" in text and MODERN in text


def test_the_proxy_mailboxes_stay_until_the_modern_switch(plan: MigrationPlan) -> None:
    assert MODERN in plan.prerequisites("public-folders.remove-databases")


# --------------------------------------------------------------------------- window rules


def _step(sid: str, minutes: int, *pre: str, **more: object) -> Step:
    return Step(
        id=sid,
        phase=Phase.PUBLIC_FOLDERS,
        title=sid,
        target="t",
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=minutes,
        maintenance_window=True,
        prerequisites=pre,
        **more,  # type: ignore[arg-type]
    )


WINDOWS = (
    MaintenanceWindow(5, dt.time(20, 0), dt.time(23, 59)),  # Saturday
    MaintenanceWindow(6, dt.time(6, 0), dt.time(12, 0)),  # Sunday
)


def test_a_fresh_window_step_never_shares_an_occurrence_with_its_prerequisites() -> None:
    a = _step("public-folders.a", 30)
    b = _step("public-folders.b", 30, a.id)
    fresh = _step("public-folders.c", 30, a.id, fresh_window=True)
    got = schedule_steps([a, b, fresh], dt.date(2026, 12, 7), WINDOWS)
    assert got[b.id].wave == got[a.id].wave  # without the flag: the same night
    assert got[fresh.id].wave != got[a.id].wave
    assert got[fresh.id].start == dt.datetime(2026, 12, 13, 6, 0)


def test_window_minutes_keeps_a_chain_in_one_occurrence() -> None:
    # Ready Saturday 20:00; 300 minutes do not fit in Saturday's 239: Sunday 06:00.
    lock = _step("public-folders.lock", 15, window_minutes=300)
    got = schedule_steps([lock], dt.date(2026, 12, 7), WINDOWS)
    assert got[lock.id].start == dt.datetime(2026, 12, 13, 6, 0)


def test_the_lock_needs_the_whole_downtime_in_one_window(plan: MigrationPlan) -> None:
    chain = [
        LOCK,
        "public-folders.finalise",
        "public-folders.verify",
        "public-folders.unlock",
        MAIL_SYNC_MODERN,  # with Exchange Online users, their switch too (review 3, F8)
        MODERN,
    ]
    lock = plan.step(LOCK)
    assert lock.fresh_window
    assert lock.window_minutes == sum(
        plan.step(s).duration_minutes + plan.step(s).wait_minutes for s in chain
    )


# --------------------------------------------------------------------------- replicas (m2)


def _db(name: str, server: str) -> PublicFolderDatabase:
    return PublicFolderDatabase(name, server, Location("PublicFolderDatabases.csv", 2))


def _f(path: str, *replicas: str) -> PublicFolder:
    parent = path.rsplit("\\", 1)[0] or "\\"
    return PublicFolder(path, path.rsplit("\\", 1)[-1], parent, replicas=replicas)


def test_the_map_source_is_the_database_with_every_replica() -> None:
    dbs = [_db("PFDB-A", "EX10-A"), _db("PFDB-B", "EX10-B")]
    folders = [
        PublicFolder("\\", "IPM_SUBTREE", ""),
        _f("\\One", "PFDB-A", "PFDB-B"),
        _f("\\Two", "EX10-B\\Second Storage Group\\PFDB-B"),
    ]
    source = map_source(dbs, folders)
    assert source is not None and source.name == "PFDB-B"
    assert missing_replicas("PFDB-B", folders) == []
    assert [f.path for f in missing_replicas("PFDB-A", folders)] == ["\\Two"]
    assert map_source([], folders) is None
    # Without Replicas in the export: the first by name (the runbook step checks).
    assert map_source(dbs, [_f("\\One")]) == dbs[0]


def test_contoso_maps_and_migrates_from_the_complete_replica(plan: MigrationPlan) -> None:
    replicas = plan.step("public-folders.replicas")
    assert replicas.runs_in is RunsIn.EMS_2010
    assert replicas.action is not None
    assert replicas.action.params == {
        "database": "PFDB-EX10-02",
        "server": "EX10-02",
        "servers": ["EX10-02", "EX10-03"],
    }
    assert "public-folders.replicas" in plan.prerequisites("public-folders.snapshot")
    snapshot = plan.step("public-folders.snapshot").action
    assert snapshot is not None and snapshot.params["server"] == "EX10-02"
    batch = plan.step("public-folders.batch").action
    assert batch is not None and batch.params["source_server"] == "EX10-02"


def test_one_public_folder_database_needs_no_replica_step(contoso: Inventory) -> None:
    one = replace(contoso, public_folder_databases=contoso.public_folder_databases[:1])
    assert "public-folders.replicas" not in {s.id for s in public_folder_steps(one, "x")}


def test_a_folder_without_a_replica_on_the_source_is_a_warning(contoso: Inventory) -> None:
    folders = tuple(
        replace(f, replicas=("PFDB-EX10-03",)) if f.path == "\\Sales\\EMEA" else f
        for f in contoso.public_folders
    )
    found = [
        f
        for f in check_public_folders(replace(contoso, public_folders=folders))
        if f.code == "public-folders.replicas" and "no replica" in f.message
    ]
    assert len(found) == 1 and found[0].severity is Severity.WARNING
    assert "'\\Sales\\EMEA'" in found[0].message and "PFDB-EX10-02" in found[0].message


def test_replicas_that_differ_at_export_are_a_warning(contoso: Inventory) -> None:
    found = [
        f
        for f in check_public_folders(contoso)
        if f.code == "public-folders.replicas" and "differ" in f.message
    ]
    assert len(found) == 1
    assert "'\\Sales\\EMEA' (EX10-02: 6,015 items, 786,444,345 bytes" in found[0].message


# --------------------------------------------------------------------------- runbooks


def test_the_hybrid_runbooks_pass_the_checks(
    contoso_plan: Path, contoso_output: PlanOutput
) -> None:
    # contoso planned once for the session (conftest), from the start its inventory.yaml names.
    assert contoso_output.plan is not None
    assert contoso_output.plan.plan_date == dt.date(2026, 12, 7)
    folder = contoso_plan / "runbooks" / "58-public-folders"
    texts = {
        name: (folder / name).read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
        for name in (
            "hybrid-legacy.ps1",
            "go-live-exchange-online.ps1",
            "rollback-5-check-legacy-databases.ps1",
            "rollback-5-hybrid-legacy.ps1",
            "go-live.ps1",
            "finalise.ps1",
            "prepare-2010.ps1",
            "rollback-2-remove-mailboxes.ps1",
        )
    }
    for name, text in texts.items():
        ps2 = name.endswith("2010.ps1")
        assert check_script(text, ps2=ps2) == [], name
        assert unknown_commands(text) == [], name
    assert (
        "$step = @{ RemoteMailbox = @('PFProxy-EX10-03'); Address = @('sales@contoso.com') }"
        in texts["hybrid-legacy.ps1"]
    )
    assert (
        "Set-CloudPublicFolderAccess @step -Folder $PFMigrationFolder"
        in texts["go-live-exchange-online.ps1"]
    )
    # Review 3, F8: rollback 5 refuses once no 2010 public folder database exists: the 2016 shell
    # reads them back (and throws when one is gone), the Exchange Online step requires that record.
    assert (
        "$step = @{ Server = @('EX10-02', 'EX10-03'); Record = 'legacy-databases.xml' }\n"
        "        Assert-LegacyPublicFolderDatabase @step -Folder $PFMigrationFolder"
        in texts["rollback-5-check-legacy-databases.ps1"]
    )
    assert "LegacyRecord = 'legacy-databases.xml'" in texts["rollback-5-hybrid-legacy.ps1"]
    assert (
        "Set-CloudPublicFolderAccess @step -Folder $PFMigrationFolder\n"
        in texts["rollback-5-hybrid-legacy.ps1"]
    )
    assert (
        "Invoke-ModernMailPublicFolderSync -SummaryCsv 'sync_summary.csv'" in texts["finalise.ps1"]
    )
    assert "Export-PublicFolderSnapshot -Server 'EX10-02'" in texts["prepare-2010.ps1"]
    assert "Assert-PublicFolderReplicas @step" in texts["prepare-2010.ps1"]
    # Review 2, m3: the rollback reads back the manual mailbox removal and removes the batch.
    assert (
        "Remove-PublicFolderBatch -BatchName 'PFMigration'"
        in texts["rollback-2-remove-mailboxes.ps1"]
    )
    helper = (
        (folder / "Migrator.Runbook.ps1").read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    )
    # The snapshot's statistics name the server (2010's parameter; the default is the local one).
    assert "Get-PublicFolderStatistics -Server $Server -ResultSize Unlimited" in helper
    # Microsoft's modern script runs from the work folder, checked to be there, behind ShouldProcess.
    assert "'Sync-ModernMailPublicFolders.ps1' -Exists" in helper
    assert "Remove-MigrationBatch -Identity $BatchName -Confirm:$false" in helper
    guard = helper[helper.index("function Assert-LegacyPublicFolderDatabase") :]
    guard = guard[: guard.index("\n}\n")]
    assert "Get-PublicFolderDatabase -Server $name" in guard
    assert "if ($db.Count -eq 0) {" in guard and "do not roll back, fix forward" in guard
    # only "not found" means no database; any other error stops the step instead (review 5, n4)
    assert (
        "catch { if ($_.Exception.GetType().Name -notmatch 'NotFound') { throw }; $db = @() }"
        in guard
    )
    cloud = helper[helper.index("function Set-CloudPublicFolderAccess") :]
    cloud = cloud[: cloud.index("Set-OrganizationConfig")]
    assert "$age.TotalMinutes -gt 60" in cloud
    assert "if (@($seen.Databases).Count -eq 0) { throw" in cloud
    rollback = [s for s in contoso_output.plan.steps if s.id == ROLLBACK_MODERN]
    assert rollback == []  # a rollback runbook, not a step of the plan's graph
