"""The removal of a 2010 server is gated on the client-access evidence (none left, or accepted)."""

from __future__ import annotations

import functools
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from migrator.cli import app
from migrator.errors import InventoryError
from migrator.inventory import load_inventory
from migrator.iprange import IPRange
from migrator.logs.client_access import classify, scan_client_access, servers_from
from migrator.logs.client_evidence import ClientEvidence
from migrator.logs.sources import discover
from migrator.model import ExchangeVersion, Inventory, RemainingClientAccess
from migrator.pipeline import analyse, build_plan, check_path
from migrator.plan.steps import MigrationPlan, RunsIn, Step

ROOT = Path(__file__).resolve().parent.parent
CONTOSO = ROOT / "inventories" / "contoso"
LOGS = Path(__file__).parent / "data" / "client-logs"


@functools.cache
def contoso() -> Inventory:
    return load_inventory(CONTOSO)


def evidence(inv: Inventory) -> ClientEvidence:
    servers = servers_from(
        ((s.name, s.version is not ExchangeVersion.EX2010) for s in inv.servers),
        ((str(a), s.name) for s in inv.servers for a in s.ip_addresses),
    )
    found, _, _ = classify(discover([str(LOGS)])[0])
    return scan_client_access(found, servers)


def plan_with(inv: Inventory, ev: ClientEvidence | None) -> MigrationPlan:
    return build_plan(analyse(inv, client_evidence=ev))


def step(plan: MigrationPlan, step_id: str) -> Step:
    return next(s for s in plan.steps if s.id == step_id)


def test_a_server_with_clients_left_is_not_removed() -> None:
    inv = contoso()
    plan = plan_with(inv, evidence(inv))
    gate = step(plan, "decommission.client-access.EX10-01")
    remove = step(plan, "decommission.remove.EX10-01")
    assert gate.runs_in is RunsIn.MANUAL and gate.action is None  # the runbook stops at it
    assert gate.id in remove.prerequisites
    assert "do not remove it" in gate.title
    assert "CONTOSO\\loconnor from 10.1.5.33" in gate.instructions
    assert "HealthMailbox" not in gate.instructions  # monitoring never blocks
    assert remove.title.endswith("(blocked by decommission.client-access.EX10-01)")
    assert remove.instructions.startswith("BLOCKED, do not run")


def test_a_server_with_only_monitoring_left_is_clear() -> None:
    inv = contoso()
    plan = plan_with(inv, evidence(inv))
    gate = step(plan, "decommission.client-access.EX10-03")
    assert "show none left" in gate.title
    assert "2 monitoring accounts left out" in gate.instructions
    assert not step(plan, "decommission.remove.EX10-03").instructions.startswith("BLOCKED")


def test_without_evidence_the_gate_asks_for_the_scan() -> None:
    plan = plan_with(contoso(), None)
    gate = step(plan, "decommission.client-access.EX10-01")
    assert "no client-access evidence was scanned" in gate.title
    assert step(plan, "decommission.remove.EX10-01").instructions.startswith("BLOCKED")
    # Mailbox-only 2010 servers have no client-access logs: no gate.
    assert not [s for s in plan.steps if s.id == "decommission.client-access.EX10-02"]


def test_every_client_accepted_by_an_override_clears_the_gate() -> None:
    inv = contoso()
    accepted = (
        RemainingClientAccess("users move in wave 6 and 7", server="EX10-01", user="bcarter"),
        RemainingClientAccess("users move later", user="CONTOSO\\loconnor"),
        RemainingClientAccess("moves later", user="ghopper@contoso.com"),
        RemainingClientAccess("moves later", user="falsayed"),
        RemainingClientAccess(
            "F5 monitor, removed with the server",
            protocol="OWA",
            remote_range=IPRange.parse("10.1.9.0/24"),
        ),
    )
    inv = replace(inv, policy=replace(inv.policy, remaining_client_access=accepted))
    plan = plan_with(inv, evidence(inv))
    gate = step(plan, "decommission.client-access.EX10-01")
    assert "show none left" in gate.title
    assert "F5 monitor, removed with the server" in gate.instructions
    assert not step(plan, "decommission.remove.EX10-01").instructions.startswith("BLOCKED")
    codes = {f.code for f in analyse(inv, client_evidence=evidence(inv)).findings}
    assert "client-access.clients-left" not in codes


def test_findings_name_clients_left_and_old_outlook_with_the_wave() -> None:
    inv = contoso()
    findings = analyse(inv, client_evidence=evidence(inv)).findings
    left = [f for f in findings if f.code == "client-access.clients-left"]
    assert [f.where for f in left] == ["EX10-01"]
    assert "5 clients still connect to EX10-01" in left[0].message
    old = {f.where: f for f in findings if f.code == "client-access.outlook-too-old"}
    assert set(old) == {"CONTOSO\\falsayed", "CONTOSO\\loconnor"}
    assert "12.0.6680" in old["CONTOSO\\loconnor"].message
    assert "before its mailbox moves in wave" in old["CONTOSO\\loconnor"].fix


def test_evidence_beside_the_inventory_is_read(tmp_path: Path) -> None:
    inv_dir = tmp_path / "contoso"
    shutil.copytree(CONTOSO, inv_dir)
    result = CliRunner().invoke(
        app,
        [
            "logs",
            "scan",
            str(LOGS),
            "--inventory",
            str(inv_dir),
            "-o",
            str(inv_dir),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    analysis = check_path(inv_dir)
    assert analysis.client_evidence is not None
    assert "client-access.clients-left" in {f.code for f in analysis.findings}


def test_a_broken_evidence_file_stops_with_its_name(tmp_path: Path) -> None:
    inv_dir = tmp_path / "contoso"
    shutil.copytree(CONTOSO, inv_dir)
    (inv_dir / "client-evidence.json").write_text("{", "utf-8")
    with pytest.raises(InventoryError) as info:
        check_path(inv_dir)
    assert "client-evidence.json" in str(info.value)


def test_override_without_user_or_range_is_refused(tmp_path: Path) -> None:
    inv_dir = tmp_path / "contoso"
    shutil.copytree(CONTOSO, inv_dir)
    yaml_file = inv_dir / "inventory.yaml"
    text = yaml_file.read_text("utf-8")
    assert "\nplan:\n" in text
    text = text.replace(
        "\nplan:\n",
        "\nplan:\n  remaining_client_access:\n    - {server: EX10-01, reason: everything}\n"
        "    - {range: 10.1.9.0/24, protocol: OWA, reason: F5 monitor}\n",
        1,
    )
    yaml_file.write_text(text, "utf-8")
    with pytest.raises(InventoryError) as info:
        load_inventory(inv_dir)
    assert "remaining_client_access" in str(info.value)
    assert "names neither a user nor a range" in str(info.value)


@pytest.mark.parametrize("accept", [False, True])
def test_the_scan_finds_what_the_evidence_objects_find(accept: bool) -> None:
    # The scan reads each server's clients as rows from DuckDB; the plan reads the objects
    # of client-evidence.json: the same findings, with and without accepted clients.
    from migrator.logs.client_access import read_client_access
    from migrator.plan.client_access import client_access_findings, findings_of
    from migrator.plan.moves import plan_moves

    inv = contoso()
    if accept:
        accepted = (
            RemainingClientAccess("moves later", user="falsayed"),
            RemainingClientAccess(
                "F5 monitor", protocol="OWA", remote_range=IPRange.parse("10.1.9.0/24")
            ),
        )
        inv = replace(inv, policy=replace(inv.policy, remaining_client_access=accepted))
    servers = servers_from(
        ((s.name, s.version is not ExchangeVersion.EX2010) for s in inv.servers),
        ((str(a), s.name) for s in inv.servers for a in s.ip_addresses),
    )
    found, _, _ = classify(discover([str(LOGS)])[0])
    moves = plan_moves(inv)
    with read_client_access(found, servers) as result:
        rows = findings_of(inv, result.real_clients, result.old_outlook, result.minimum, moves)
        objects = client_access_findings(inv, result.evidence(), moves)
    assert rows == objects
    assert any(f.code == "client-access.clients-left" for f in rows)
