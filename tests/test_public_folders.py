"""Legacy public folders: the exports, the checks, the map forecast, the phase and its order."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from powershell_check import check_script, unknown_commands

from migrator.checks.public_folders import check_public_folders
from migrator.inventory import load_inventory
from migrator.inventory.kinds import TableKind, kind_of_columns
from migrator.inventory.public_folder_inventory import tree_order
from migrator.model import ExchangeVersion, Inventory, Lifecycle, Location, Server, Severity
from migrator.pipeline import PlanOutput, analyse, build_plan
from migrator.plan.public_folder_map import forecast_map
from migrator.plan.public_folder_steps import (
    BATCH,
    BATCH_NAME,
    CHECK_2010,
    FINALISE,
    LOCK,
    REMOTE_ACCESS,
    ROLLBACK_DAYS,
    VERIFY_REMOVED,
    public_folder_rollback_steps,
)
from migrator.plan.schedule import needs_window
from migrator.plan.steps import MigrationPlan, Phase
from migrator.public_folders import (
    ROOT,
    PublicFolder,
    PublicFolderDatabase,
    folder_path,
    safe_name,
)

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"
GB = 1024**3


@pytest.fixture(scope="module")
def contoso() -> Inventory:
    return load_inventory(CONTOSO)


@pytest.fixture(scope="module")
def plan(contoso: Inventory) -> MigrationPlan:
    return build_plan(contoso)


# --------------------------------------------------------------------------- inventory


def test_contoso_has_a_small_realistic_tree(contoso: Inventory) -> None:
    paths = [f.path for f in contoso.public_folders]
    assert paths[0] == ROOT
    assert len(paths) == 15
    assert "\\IT\\Hardware/Software" in paths
    assert [f.path for f in contoso.public_folders if f.mail_enabled] == [
        "\\Sales\\Sales Enquiries"
    ]
    assert [m.primary_smtp for m in contoso.mail_public_folders] == ["sales@contoso.com"]
    assert [(d.name, d.server) for d in contoso.public_folder_databases] == [
        ("PFDB-EX10-02", "EX10-02"),
        ("PFDB-EX10-03", "EX10-03"),
    ]
    emea = next(f for f in contoso.public_folders if f.path == "\\Sales\\EMEA")
    # Two replicas (EX10-02 and EX10-03): the larger statistics row is the folder's size.
    assert emea.size_bytes == 750 * 1024**2 + 12_345
    assert emea.item_count == 6_015


@pytest.mark.parametrize(
    ("columns", "kind"),
    [
        (["Name", "Server", "ProhibitPostQuota", "MaxItemSize"], TableKind.PUBLIC_FOLDER_DATABASES),
        (["Identity", "Name", "ParentPath", "MailEnabled"], TableKind.PUBLIC_FOLDERS),
        (
            ["FolderPath", "Name", "ItemCount", "TotalItemSize", "TotalItemSizeBytes"],
            TableKind.PUBLIC_FOLDER_STATISTICS,
        ),
        (
            ["Identity", "PrimarySmtpAddress", "EmailAddresses", "ExternalEmailAddress"],
            TableKind.MAIL_PUBLIC_FOLDERS,
        ),
        # The mailbox tables that share columns are still recognised as before.
        (
            ["MailboxGuid", "ItemCount", "TotalItemSize", "TotalItemSizeBytes"],
            TableKind.MAILBOX_STATISTICS,
        ),
        (
            [
                "Name",
                "RecipientType",
                "RecipientTypeDetails",
                "PrimarySmtpAddress",
                "EmailAddresses",
            ],
            TableKind.RECIPIENTS,
        ),
    ],
)
def test_tables_are_recognised_by_their_columns(columns: list[str], kind: TableKind) -> None:
    assert kind_of_columns(columns) is kind


STATS_HEADER = '"FolderPath","Name","ItemCount","TotalItemSize"\r\n'
STATS_ROWS = (
    '"Sales","Sales","3","1.50 MB (1,572,864 bytes)"\r\n"Sales\\EMEA","EMEA","1,204","2 KB"\r\n'
)


@pytest.mark.parametrize(
    ("prefix", "encoding"),
    [
        ("", "utf-8-sig"),
        ("", "utf-8"),
        ("#TYPE Selected.Microsoft.Exchange.Data.Mapi.PublicFolderStatistics\r\n", "ascii"),
        ("#TYPE Selected.Microsoft.Exchange.Data.Mapi.PublicFolderStatistics\r\n", "utf-16"),
    ],
    ids=["utf8-bom", "utf8", "ascii-type", "utf16-type"],
)
def test_statistics_in_every_csv_encoding_use_the_mailbox_size_parser(
    tmp_path: Path, prefix: str, encoding: str
) -> None:
    (tmp_path / "PublicFolderDatabases.csv").write_text(
        '"Name","Server","ProhibitPostQuota","ReplicationPeriod"\r\n"PFDB1","EX10-01","","15"\r\n',
        encoding="utf-8",
    )
    (tmp_path / "Stats.csv").write_bytes((prefix + STATS_HEADER + STATS_ROWS).encode(encoding))
    inv = load_inventory(tmp_path)
    got = {f.path: (f.size_bytes, f.item_count, f.parent_path) for f in inv.public_folders}
    # No Get-PublicFolder export: the tree comes from the statistics, the root is added.
    assert got == {
        ROOT: (0, 0, ""),
        "\\Sales": (1_572_864, 3, ROOT),
        "\\Sales\\EMEA": (2048, 1204, "\\Sales"),
    }


CLIXML_OBJECTS = {
    "PublicFolders.xml": """<Obj RefId="0">
    <TN RefId="0"><T>Deserialized.Microsoft.Exchange.Data.Mapi.PublicFolder</T><T>Deserialized.System.Object</T></TN>
    <ToString>\\Sales</ToString>
    <Props><S N="Identity">\\Sales</S><S N="Name">Sales</S><S N="ParentPath">\\</S><B N="MailEnabled">true</B></Props>
  </Obj>""",
    "PublicFolderStatistics.xml": """<Obj RefId="0">
    <TN RefId="0"><T>Deserialized.Microsoft.Exchange.Data.Mapi.PublicFolderStatistics</T><T>Deserialized.System.Object</T></TN>
    <ToString>Sales</ToString>
    <Props><S N="FolderPath">Sales</S><S N="Name">Sales</S><I32 N="ItemCount">7</I32>
      <Obj N="TotalItemSize" RefId="1"><TN RefId="1"><T>Deserialized.Microsoft.Exchange.Data.ByteQuantifiedSize</T></TN><ToString>10 MB (10,485,760 bytes)</ToString></Obj>
    </Props>
  </Obj>""",
    "PublicFolderDatabases.xml": """<Obj RefId="0">
    <TN RefId="0"><T>Deserialized.Microsoft.Exchange.Data.Directory.SystemConfiguration.PublicFolderDatabase</T></TN>
    <ToString>PFDB1</ToString>
    <Props><S N="Name">PFDB1</S><S N="Server">EX10-01</S></Props>
  </Obj>""",
}


def test_clixml_exports_are_read_by_their_type_names(tmp_path: Path) -> None:
    for name, obj in CLIXML_OBJECTS.items():
        text = (
            '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">\r\n  '
            + obj
            + "\r\n</Objs>\r\n"
        )
        (tmp_path / name).write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    inv = load_inventory(tmp_path)
    sales = next(f for f in inv.public_folders if f.path == "\\Sales")
    assert (sales.mail_enabled, sales.size_bytes, sales.item_count) == (True, 10_485_760, 7)
    assert [d.server for d in inv.public_folder_databases] == ["EX10-01"]


def test_no_public_folder_export_plans_no_public_folder_step(contoso: Inventory) -> None:
    bare = replace(contoso, public_folder_databases=(), public_folders=(), mail_public_folders=())
    p = build_plan(bare)
    assert [s.id for s in p.steps if s.phase is Phase.PUBLIC_FOLDERS] == []
    assert public_folder_rollback_steps(bare) == []
    assert not [f for f in analyse(bare).findings if f.code.startswith("public-folders.")]
    # The old manual step at decommission is gone for good.
    assert "decommission.public-folders" not in {s.id for s in p.steps}


def test_paths_and_names() -> None:
    assert folder_path("Sales\\EMEA") == "\\Sales\\EMEA"
    assert folder_path(" \\ ") == ROOT
    assert folder_path("\\Sales\\") == "\\Sales"
    assert safe_name("R&D\\Lab/2") == "R&D-Lab-2"


# --------------------------------------------------------------------------- checks


def _inv(*folders: PublicFolder, server: str = "EX10-01", version: str = "2010") -> Inventory:
    srv = Server(
        server, site="London", version=ExchangeVersion(version), lifecycle=Lifecycle.LEGACY
    )
    root = PublicFolder(ROOT, "IPM_SUBTREE", "", source=Location("PublicFolders.csv", 2))
    return Inventory(
        organisation="Fabrikam",
        root="inv",
        servers=(srv,),
        public_folder_databases=(
            PublicFolderDatabase("PFDB1", "EX10-01", Location("PublicFolderDatabases.csv", 2)),
        ),
        public_folders=tuple(tree_order([root, *folders])),
    )


def _pf(path: str, row: int, **kw: object) -> PublicFolder:
    parent = path.rsplit("\\", 1)[0] or ROOT
    name = str(kw.pop("name", path.rsplit("\\", 1)[-1]))
    return PublicFolder(path, name, parent, source=Location("PublicFolders.csv", row), **kw)  # type: ignore[arg-type]


def _messages(inv: Inventory, code: str) -> list[tuple[Severity, str, str]]:
    return [
        (f.severity, f"{f.where}: {f.message}", f.fix)
        for f in check_public_folders(inv)
        if f.code == code
    ]


def test_a_name_with_a_separator_is_renamed_by_the_plan() -> None:
    inv = _inv(_pf("\\IT", 3), _pf("\\IT\\A/B", 4, name="A/B"))
    assert _messages(inv, "public-folders.name-separator") == [
        (
            Severity.WARNING,
            "PublicFolders.csv, row 4: public folder '\\IT\\A/B' has '\\' or '/' in its name "
            "'A/B', which the batch migration refuses: the plan renames it to 'A-B' (step "
            "public-folders.rename) before the migration; links and favourites to the old path "
            "stop working",
            "agree the new name with the folder's owners, or rename it yourself in EMS 2010 "
            "(Set-PublicFolder) and export the public folders again",
        )
    ]


def test_a_rename_onto_a_sibling_is_an_error() -> None:
    inv = _inv(_pf("\\A-B", 3), _pf("\\A/B", 4, name="A/B"))
    assert _messages(inv, "public-folders.name-separator") == [
        (
            Severity.ERROR,
            "PublicFolders.csv, row 4: public folder '\\A/B' has '\\' or '/' in its name 'A/B', "
            "which the batch migration refuses, and the name the plan would give it, 'A-B', is "
            "taken by '\\A-B'",
            "rename '\\A/B' in EMS 2010 (Set-PublicFolder -Identity '\\A/B' -Name <a name without "
            "\\ or />) and export the public folders again",
        )
    ]


def test_limits_of_a_folder() -> None:
    kids = [_pf(f"\\Big\\k{i}", 10 + i) for i in range(10_001)]
    deep = [_pf("\\d" + "\\d" * i, 20_000 + i) for i in range(301)]
    inv = _inv(
        _pf("\\Big", 3),
        _pf("\\Items", 4, item_count=1_000_001),
        _pf("\\Huge", 5, size_bytes=11 * GB),
        *kids,
        *deep,
    )
    got = [m[1] for m in _messages(inv, "public-folders.limit")]
    assert got == [
        "PublicFolders.csv, row 3: public folder '\\Big' has 10,001 subfolders; exchange 2016 "
        "allows at most 10,000 (public folder limits "
        "(learn.microsoft.com/exchange/collaboration/public-folders/limits))",
        "PublicFolders.csv, row 20300: public folder '" + "\\d" * 301 + "' is 301 levels deep; "
        "exchange 2016 allows at most 300 (public folder limits "
        "(learn.microsoft.com/exchange/collaboration/public-folders/limits))",
        "PublicFolders.csv, row 5: public folder '\\Huge' holds 11.0 GB; exchange 2016 allows "
        "at most 10 GB (public folder limits "
        "(learn.microsoft.com/exchange/collaboration/public-folders/limits))",
        "PublicFolders.csv, row 4: public folder '\\Items' holds 1,000,001 items; exchange 2016 "
        "allows at most 1,000,000 (public folder limits "
        "(learn.microsoft.com/exchange/collaboration/public-folders/limits))",
    ]


def test_too_many_folders_for_a_batch_from_2010(monkeypatch: pytest.MonkeyPatch) -> None:
    import migrator.checks.public_folders as checks

    monkeypatch.setattr(checks, "MAX_FOLDERS_2010_BATCH", 3)
    inv = _inv(_pf("\\a", 3), _pf("\\b", 4), _pf("\\c", 5))
    assert [m[1] for m in _messages(inv, "public-folders.limit")] == [
        "inv: 4 public folders; a batch migration from exchange 2010 moves at most 3 (exchange "
        "2016 holds at most 1,000,000)"
    ]


def test_a_database_off_a_2010_server_is_an_error() -> None:
    inv = replace(_inv(_pf("\\a", 3)), servers=())
    assert _messages(inv, "public-folders.database-server") == [
        (
            Severity.ERROR,
            "PublicFolderDatabases.csv, row 2: public folder database 'PFDB1' is on 'EX10-01', "
            "which is not in the inventory; expected a legacy exchange 2010 server",
            "add the server to ExchangeServers.csv and inventory.yaml (lifecycle: legacy), or "
            "export Get-PublicFolderDatabase from the right organisation",
        )
    ]


def test_the_2010_build_rule_is_the_coexistence_one() -> None:
    # Public folder migration needs 2010 SP3 RU8 (14.3.224.x); coexistence with 2016 needs RU11,
    # which every 2010 server is checked against already: one rule, stricter.
    from migrator.versions import MIN_2010_BUILD

    assert MIN_2010_BUILD >= (14, 3, 224, 2)


def test_contoso_findings(contoso: Inventory) -> None:
    got = {
        (f.severity, f.code)
        for f in analyse(contoso).findings
        if f.code.startswith("public-folders.")
    }
    assert got == {
        (Severity.WARNING, "public-folders.name-separator"),
        (
            Severity.WARNING,
            "public-folders.replicas",
        ),  # \Sales\EMEA differs by 12 KB (review 2, m2)
        (Severity.INFO, "public-folders.summary"),
        (Severity.INFO, "public-folders.forecast"),
        # review 3, F6: EX10-02 is Mailbox-only; Exchange Online lists only PFProxy-EX10-03
        (Severity.WARNING, "public-folders.hybrid-no-client-access"),
    }


# --------------------------------------------------------------------------- map forecast


@st.composite
def trees(draw: st.DrawFn) -> list[PublicFolder]:
    n = draw(st.integers(0, 40))
    folders = [PublicFolder(ROOT, "IPM_SUBTREE", "", size_bytes=draw(st.integers(0, 50)))]
    for i in range(n):
        parent = folders[draw(st.integers(0, len(folders) - 1))].path
        path = ("" if parent == ROOT else parent) + f"\\f{i}"
        folders.append(PublicFolder(path, f"f{i}", parent, size_bytes=draw(st.integers(0, 120))))
    return tree_order(folders)


@settings(max_examples=300, deadline=None)
@given(trees(), st.integers(1, 100))
def test_the_map_respects_the_cap(folders: list[PublicFolder], cap: int) -> None:
    fm = forecast_map(folders, cap)
    assert [r.path for r in fm.rows] == [f.path for f in folders]  # each folder exactly once
    assert fm.rows[0].path == ROOT and fm.rows[0].mailbox == "Mailbox1"
    for mailbox in fm.mailboxes:
        rows = [r for r in fm.rows if r.mailbox == mailbox]
        if fm.bytes_of(mailbox) > cap:
            # Only a single folder larger than the cap, alone in its mailbox (and warned about).
            assert len(rows) == 1 and rows[0].size_bytes > cap and rows[0].path in fm.oversized
    assert set(fm.oversized) == {f.path for f in folders if f.size_bytes > cap}
    # Mailboxes are filled in tree order: numbers never go back.
    numbers = [int(r.mailbox.removeprefix("Mailbox")) for r in fm.rows]
    assert numbers == sorted(numbers) and numbers[0] == 1


def test_an_oversized_folder_gets_its_own_mailbox_and_a_warning(contoso: Inventory) -> None:
    inv = replace(contoso, policy=replace(contoso.policy, public_folder_mailbox_gb=5))
    fm = forecast_map(inv.public_folders, 5 * GB)
    assert fm.oversized == ("\\Projects\\Archive 2015",)
    own = next(r.mailbox for r in fm.rows if r.path == "\\Projects\\Archive 2015")
    assert [r.path for r in fm.rows if r.mailbox == own] == ["\\Projects\\Archive 2015"]
    warned = [f for f in analyse(inv).findings if f.code == "public-folders.over-cap"]
    assert [(f.severity, f.where, f.message) for f in warned] == [
        (
            Severity.WARNING,
            f"{CONTOSO}/PublicFolders.csv, row 9",
            "public folder '\\Projects\\Archive 2015' holds 6.5 GB, more than the 5 GB per "
            "public folder mailbox of the forecast: it gets a mailbox of its own",
        )
    ]


def test_the_cap_must_be_positive() -> None:
    with pytest.raises(ValueError, match="the mailbox cap must be positive, not 0"):
        forecast_map([], 0)


# --------------------------------------------------------------------------- the phase and its order


def _ids(plan: MigrationPlan) -> list[str]:
    return [s.id for s in plan.steps if s.phase is Phase.PUBLIC_FOLDERS]


def test_steps_follow_microsofts_order(plan: MigrationPlan) -> None:
    order = [s.id for s in plan.steps]
    want = [
        "public-folders.proxy-mailbox.EX10-02",
        REMOTE_ACCESS,
        "public-folders.rename.IT-Hardware-Software",
        CHECK_2010,
        "public-folders.replicas",
        "public-folders.snapshot",
        "public-folders.map",
        "public-folders.compare-map",
        "public-folders.check-2016",
        "public-folders.create-mailboxes",
        BATCH,
        "public-folders.synced",
        LOCK,
        FINALISE,
        "public-folders.verify",
        "public-folders.unlock",
        # review 3, F8: Exchange Online users switch right after the unlock, before 2010 completes
        "public-folders.hybrid.mail-sync-modern",
        "public-folders.hybrid.modern",
        "public-folders.complete-2010",
        "public-folders.local",
        "public-folders.mail-enabled",
        "public-folders.remove-databases",
        VERIFY_REMOVED,
    ]
    assert [i for i in order if i in want] == want
    hybrid_legacy = {
        "public-folders.hybrid.mail-sync-legacy",
        "public-folders.hybrid.legacy",
        # review 3, F6: every folder replicated to the Client Access public folder server first
        "public-folders.hybrid.add-replicas.EX10-03",
        "public-folders.hybrid.replicas.EX10-03",
    }
    assert set(_ids(plan)) == {*want, "public-folders.proxy-mailbox.EX10-03", *hybrid_legacy}
    # Each step waits for the one before it (the chain is in the graph, not only in the listing).
    for before, after in itertools.pairwise(want[2:]):
        assert before in plan.prerequisites(after), after


def test_one_batch_name_throughout(plan: MigrationPlan) -> None:
    names = {
        s.action.params["batch_name"]
        for s in plan.steps
        if s.action is not None
        and "batch_name" in s.action.params
        and s.phase is Phase.PUBLIC_FOLDERS
    }
    assert names == {BATCH_NAME}


def test_legacy_access_before_the_first_user_wave(plan: MigrationPlan) -> None:
    assert REMOTE_ACCESS in plan.prerequisites("moves.copy.wave-001")
    assert plan.schedule[REMOTE_ACCESS].finish <= plan.schedule["moves.copy.wave-001"].start


def test_f6_the_batch_waits_for_the_arbitration_mailboxes(plan: MigrationPlan) -> None:
    assert "moves.complete.wave-000" in plan.prerequisites(BATCH)


def test_f6_without_waves_the_batch_waits_for_the_decommission_arbitration_step(
    contoso: Inventory,
) -> None:
    p = build_plan(replace(contoso, mailboxes=()))
    assert "decommission.arbitration-mailboxes" in p.prerequisites(BATCH)


def test_f10_every_on_premises_wave_before_the_migration_and_the_lock(
    plan: MigrationPlan,
) -> None:
    onprem = [f"moves.complete.wave-{n:03d}" for n in range(1, 8)]
    assert set(onprem) <= set(plan.prerequisites(LOCK))
    assert set(onprem) <= set(plan.prerequisites("public-folders.rename.IT-Hardware-Software"))
    last = max(plan.schedule[w].finish for w in onprem)
    assert plan.schedule[LOCK].start >= last


def test_f11_lock_and_finalise_outside_mx_and_transport_cut_over(plan: MigrationPlan) -> None:
    transport = [s.id for s in plan.steps if s.phase in (Phase.MX, Phase.HYBRID)]
    assert transport
    end = max(plan.schedule[t].finish for t in transport)
    for sid in (LOCK, FINALISE):
        assert plan.schedule[sid].start >= end, sid
        assert needs_window(plan.step(sid))
    assert {"mx.restore-ttl.contoso.com", "hybrid.send-connector-remove-old"} <= set(
        plan.prerequisites(LOCK)
    )


def test_f12_no_2010_server_goes_before_the_public_folder_databases(plan: MigrationPlan) -> None:
    for srv in ("EX10-01", "EX10-02", "EX10-03"):
        assert VERIFY_REMOVED in plan.prerequisites(f"decommission.remove.{srv}"), srv
    for srv in ("EX10-02", "EX10-03"):
        assert VERIFY_REMOVED in plan.prerequisites(f"decommission.databases.{srv}"), srv


def test_n5_the_2010_databases_stay_for_a_rollback_period_of_business_days(
    plan: MigrationPlan,
) -> None:
    # Review 5, N5: every rollback needs the 2010 public folder databases; they used to go
    # 1 h 45 min after the go-live, before the first business day on 2016.
    live = plan.schedule["public-folders.local"].finish
    gone = plan.schedule["public-folders.remove-databases"].start
    assert gone - live >= dt.timedelta(days=ROLLBACK_DAYS)
    days = (gone.date() - live.date()).days
    between = [live.date() + dt.timedelta(days=n) for n in range(1, days)]
    assert sum(d.weekday() < 5 for d in between) >= 5  # five whole business days of real use
    # what needs the removal follows it, so the whole decommission chain waits too
    for sid in plan.step("public-folders.remove-databases").prerequisites:
        assert plan.schedule[sid].finish <= gone
    for srv in ("EX10-02", "EX10-03"):
        assert plan.schedule[f"decommission.databases.{srv}"].start >= gone
    assert plan.schedule["decommission.cas-array-unused.CAS-LON"].start >= gone
    # the go-live runbook says what a rollback costs (MCA E)
    local = plan.step("public-folders.local")
    assert "lost" in local.rollback and "since the go-live" in local.instructions


def test_the_lock_window_steps_run_in_maintenance_windows(plan: MigrationPlan) -> None:
    for sid in (LOCK, FINALISE, "public-folders.verify", "public-folders.unlock"):
        assert needs_window(plan.step(sid)), sid
    assert not needs_window(plan.step(BATCH))


# --------------------------------------------------------------------------- output


def test_plan_folder_writes_runbooks_and_the_forecast(
    contoso_plan: Path, contoso_output: PlanOutput
) -> None:
    # contoso planned once for the session (conftest), from the start its inventory.yaml names.
    assert contoso_output.plan is not None
    assert contoso_output.plan.plan_date == dt.date(2026, 12, 7)
    folder = contoso_plan / "runbooks" / "58-public-folders"
    # The folder's helper beside its runbooks (docs/runbooks.md), checked in test_runbook_size.
    assert (folder / "Migrator.Runbook.ps1").is_file()
    runbooks = [p for p in folder.glob("*.ps1") if p.name != "Migrator.Runbook.ps1"]
    names = sorted(p.name for p in runbooks)
    assert names == [
        "complete-2010.ps1",
        "finalise.ps1",
        "go-live-exchange-online.ps1",
        "go-live.ps1",
        "hybrid-legacy.ps1",
        "legacy-access-2010.ps1",
        "legacy-access.ps1",
        "lock-2010.ps1",
        "migrate.ps1",
        "prepare-2010.ps1",
        "remove-2010.ps1",
        "rollback-1-unlock-2010.ps1",
        "rollback-2-remove-mailboxes.ps1",
        "rollback-3-complete-2010.ps1",
        "rollback-4-remote-access.ps1",
        "rollback-5-check-legacy-databases.ps1",
        "rollback-5-hybrid-legacy.ps1",
    ]
    for p in runbooks:
        text = p.read_bytes().decode("utf-8-sig")
        assert "\r\n" in text
        text = text.replace("\r\n", "\n")
        ps2 = "Exchange 2010 Management Shell runs PowerShell 2.0" in text
        assert ps2 == ("2010" in p.name), p.name
        assert check_script(text, ps2=ps2) == [], p.name
        assert unknown_commands(text) == [], p.name
    data = (contoso_plan / "public-folders" / "map-forecast.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").split("\r\n")
    assert lines[0] == '"FolderPath","TargetMailbox","Bytes"'
    assert lines[1] == '"\\","Mailbox1","0"'
    # Paths as Microsoft's script will see them: after the plan's rename.
    assert '"\\IT\\Hardware-Software","Mailbox1","440411107"' in lines
    assert len([x for x in lines if x]) == 16


def test_the_collector_asks_for_every_folder_and_row() -> None:
    # Defaults are 10,000 folders (Get-PublicFolder) and 1,000 rows (statistics): never rely on them.
    from powershell_check import command_calls

    script = (
        Path(__file__).resolve().parent.parent / "templates/collect/Export-MigratorInventory.ps1"
    )
    text = script.read_text(encoding="utf-8")
    calls = [
        c
        for c in command_calls(text)
        if c.name in {"Get-PublicFolder", "Get-PublicFolderStatistics", "Get-MailPublicFolder"}
    ]
    assert sorted(c.name for c in calls) == [
        "Get-MailPublicFolder",
        "Get-PublicFolder",
        "Get-PublicFolderStatistics",
    ]
    src = text.encode("utf-8")
    for c in calls:
        named = {n.lower(): a for n, a, _ in c.named}
        arg = named.get("resultsize")
        assert arg is not None and src[arg.start_byte : arg.end_byte] == b"Unlimited", c.name
    assert "recurse" in {
        n.lower() for n, _a, _l in next(c for c in calls if c.name == "Get-PublicFolder").named
    }


def test_the_forecast_names_folders_as_they_are_after_the_renames() -> None:
    from migrator.plan.public_folder_steps import renamed_paths

    inv = _inv(_pf("\\IT", 3), _pf("\\IT\\A/B", 4, name="A/B"), _pf("\\IT\\A/B\\C", 5))
    assert renamed_paths(inv) == {"\\IT\\A/B": "\\IT\\A-B", "\\IT\\A/B\\C": "\\IT\\A-B\\C"}


def test_a_proxy_on_a_mailbox_only_server_names_a_client_access_server(plan: MigrationPlan) -> None:
    """Review 2, M5: EX10-02 has no Client Access role, so its proxy database's
    RpcClientAccessServer must be the CAS array or a 2010 CAS of its site, never EX10-02."""
    steps = {s.id: s for s in plan.steps}
    ex02 = steps["public-folders.proxy-mailbox.EX10-02"].instructions
    assert "outlook.contoso.com, EX10-01> (EX10-02 has no Client Access role)" in ex02
    assert (
        "<the CAS array of its site, or EX10-03>"
        in steps["public-folders.proxy-mailbox.EX10-03"].instructions
    )


def test_rollback_2_reads_the_2010_databases_back_before_it_deletes_anything(
    contoso: Inventory,
) -> None:
    """Found by the cut-over branch: rollback 2 removed the 2016 public folder mailboxes permanently even
    after the 2010 databases were gone, deleting the only copy. Its runbook now starts with the read-back
    that refuses then (the same helper function as rollback 5's guard)."""
    steps = [s for s in public_folder_rollback_steps(contoso) if "rollback-2-" in s.runbook]
    assert [s.id for s in steps] == [
        "public-folders.rollback.check-legacy-databases",
        "public-folders.rollback.remove-mailboxes",
        "public-folders.rollback.remove-batch",
    ]
    check = steps[0]
    assert check.action is not None and check.action.kind == "public-folders.legacy-databases"
    assert check.action.params["servers"] == ["EX10-02", "EX10-03"]
