"""Legacy hybrid public folders: the Client Access role (review 3, F6), where the mail sync runs (F7).

Microsoft ("Configure legacy on-premises public folders for a hybrid deployment", Step 2):
the Client Access role on every 2010 server holding a public folder database. contoso's
EX10-02 is Mailbox-only: the plan lists only PFProxy-EX10-03 and first gives PFDB-EX10-03 a
replica of every folder, read back before Exchange Online is pointed at it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from migrator.inventory import load_inventory
from migrator.model import Inventory, ServerRole, Severity
from migrator.pipeline import analyse, build_plan
from migrator.plan.public_folder_hybrid import (
    LEGACY,
    MAIL_SYNC_LEGACY,
    ROLLBACK_MODERN,
    cloud_proxies,
    public_folder_hybrid_findings,
    public_folder_hybrid_rollback_steps,
)
from migrator.plan.steps import MigrationPlan, RunsIn
from migrator.public_folders import ROOT

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"
ADD = "public-folders.hybrid.add-replicas.EX10-03"
CHECK = "public-folders.hybrid.replicas.EX10-03"


@pytest.fixture(scope="module")
def contoso() -> Inventory:
    return load_inventory(CONTOSO)


@pytest.fixture(scope="module")
def plan(contoso: Inventory) -> MigrationPlan:
    return build_plan(contoso)


def _with_roles(inv: Inventory, name: str, roles: frozenset[ServerRole]) -> Inventory:
    return replace(
        inv, servers=tuple(replace(s, roles=roles) if s.name == name else s for s in inv.servers)
    )


def test_contoso_lists_only_the_client_access_server(contoso: Inventory) -> None:
    cp = cloud_proxies(contoso)
    assert cp.servers == ("EX10-03",) and cp.proxies == ["PFProxy-EX10-03"]
    assert cp.without_client_access == ("EX10-02",)
    assert cp.replica_target is not None and cp.replica_target.name == "PFDB-EX10-03"
    assert [f.path for f in cp.missing][:3] == [
        "\\Company",
        "\\Company\\Announcements",
        "\\Company\\Policies",
    ]
    assert "\\Sales" not in {f.path for f in cp.missing}


def test_the_replicas_are_added_and_read_back_before_exchange_online_is_pointed_at_them(
    contoso: Inventory, plan: MigrationPlan
) -> None:
    add, check, legacy = plan.step(ADD), plan.step(CHECK), plan.step(LEGACY)
    assert add.runs_in is RunsIn.MANUAL and "AddReplicaToPFRecursive.ps1" in add.instructions
    assert "-ServerToAdd EX10-03" in add.instructions and add.wait_minutes >= 240
    assert check.runs_in is RunsIn.EMS_2010 and check.prerequisites == (ADD,)
    assert check.action is not None and check.action.kind == "public-folders.replicas"
    assert check.action.params["database"] == "PFDB-EX10-03"
    assert CHECK in legacy.prerequisites
    assert plan.schedule[CHECK].finish <= plan.schedule[LEGACY].start
    assert legacy.action is not None
    assert legacy.action.params["remote_mailboxes"] == ["PFProxy-EX10-03"]
    assert "not those of EX10-02" in legacy.instructions
    # rollback 5 points Exchange Online back at the same proxies, never at EX10-02's
    # (the last step: the first reads the 2010 databases back, review 3 F8)
    rollback = public_folder_hybrid_rollback_steps(contoso, analyse(contoso).moves)[-1]
    assert rollback.id == ROLLBACK_MODERN and rollback.action is not None
    assert rollback.action.params["remote_mailboxes"] == ["PFProxy-EX10-03"]


def test_the_mailbox_only_server_is_a_finding_naming_what_the_plan_does(contoso: Inventory) -> None:
    found = [
        f for f in analyse(contoso).findings if f.code == "public-folders.hybrid-no-client-access"
    ]
    assert [f.severity for f in found] == [Severity.WARNING]
    assert found[0].where.endswith("ExchangeServers.csv, row 3")
    assert "EX10-02 have no Client Access role" in found[0].message
    assert "lists only PFProxy-EX10-03" in found[0].message
    assert ADD in found[0].message


def test_a_complete_replica_on_a_client_access_server_needs_no_replica_step(
    contoso: Inventory,
) -> None:
    full = replace(
        contoso,
        public_folders=tuple(
            replace(f, replicas=(*f.replicas, "PFDB-EX10-03"))
            if f.path != ROOT and "PFDB-EX10-03" not in f.replicas
            else f
            for f in contoso.public_folders
        ),
    )
    cp = cloud_proxies(full)
    assert cp.servers == ("EX10-03",) and cp.replica_target is None
    ids = {s.id for s in build_plan(full).steps}
    assert ADD not in ids and CHECK not in ids


def test_client_access_on_every_public_folder_server_lists_them_all(contoso: Inventory) -> None:
    both = _with_roles(
        contoso, "EX10-02", frozenset({ServerRole.MAILBOX, ServerRole.CLIENT_ACCESS})
    )
    cp = cloud_proxies(both)
    assert cp.proxies == ["PFProxy-EX10-02", "PFProxy-EX10-03"] and cp.replica_target is None
    assert public_folder_hybrid_findings(both, analyse(both).moves) == []


def test_no_public_folder_server_with_client_access_is_an_error(contoso: Inventory) -> None:
    none = _with_roles(
        contoso, "EX10-03", frozenset({ServerRole.MAILBOX, ServerRole.HUB_TRANSPORT})
    )
    moves = analyse(none).moves
    found = public_folder_hybrid_findings(none, moves)
    assert [(f.severity, f.code) for f in found] == [
        (Severity.ERROR, "public-folders.hybrid-no-client-access")
    ]
    assert "install the Client Access role" in found[0].fix
    assert (
        public_folder_hybrid_rollback_steps(none, moves)[-1].action.params["remote_mailboxes"] == []
    )  # type: ignore[union-attr]


def test_the_legacy_mail_sync_runs_in_the_2016_shell_never_on_2010(plan: MigrationPlan) -> None:
    """F7: the script needs the Exchange Online module (PowerShell 5.1); 2010 has PowerShell 2.0."""
    sync = plan.step(MAIL_SYNC_LEGACY)
    assert sync.runs_in is RunsIn.MANUAL and sync.target == "EX16-01"
    assert sync.instructions.startswith("On EX16-01, in the Exchange 2016 Management Shell")
    assert "never on a 2010 server" in sync.instructions
    assert "Add-PSSnapin" not in sync.instructions
    assert "-CsvSummaryFile sync_summary.csv -WhatIf" in sync.instructions
    assert "Never add -FixInconsistencies" in sync.instructions
    assert "not verified by Microsoft" in sync.instructions
