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


def one_day_is_enough(inv: Inventory) -> Inventory:
    """The fixture logs cover one day per server: want only that (the default wants 30)."""
    return replace(inv, policy=replace(inv.policy, log_days_wanted=1))


def test_a_server_with_only_monitoring_left_is_clear() -> None:
    inv = one_day_is_enough(contoso())
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
    inv = one_day_is_enough(inv)
    plan = plan_with(inv, evidence(inv))
    gate = step(plan, "decommission.client-access.EX10-01")
    assert "show none left" in gate.title
    assert "F5 monitor, removed with the server" in gate.instructions
    assert not step(plan, "decommission.remove.EX10-01").instructions.startswith("BLOCKED")
    codes = {f.code for f in analyse(inv, client_evidence=evidence(inv)).findings}
    assert "client-access.clients-left" not in codes


def test_logs_shorter_than_wanted_never_clear_the_gate() -> None:
    """evidence.window-short warns that monthly clients may be missing: no removal on such logs."""
    inv = (
        contoso()
    )  # log_days_wanted 30; the fixture logs of EX10-03 cover one day, monitoring only
    plan = plan_with(inv, evidence(inv))
    gate = step(plan, "decommission.client-access.EX10-03")
    remove = step(plan, "decommission.remove.EX10-03")
    assert gate.title == (
        "prove no client uses EX10-03: the client-access logs cover fewer than 30 days, "
        "do not remove it"
    )
    assert gate.instructions.startswith(
        "The scanned logs of EX10-03 cover 1 day (2023-01-06 to 2023-01-06): clients that "
        "connect monthly may be missing, so they cannot clear EX10-03. Keep 30 days of its logs"
    )
    assert remove.title.endswith("(blocked by decommission.client-access.EX10-03)")
    assert remove.instructions.startswith(
        "BLOCKED, do not run: the client-access logs of EX10-03 cover 1 day (2023-01-06 to "
        "2023-01-06), fewer than the 30 days wanted (decommission.client-access.EX10-03). "
    )
    short = [
        (f.severity.value, f.where, f.message, f.fix)
        for f in analyse(inv, client_evidence=evidence(inv)).findings
        if f.code == "client-access.window-short"
    ]
    assert short == [
        (
            "warning",
            "EX10-01",
            "the client-access logs of EX10-01 cover 1 day (2023-01-05 to 2023-01-05); 30 days"
            " are wanted before its removal: clients that connect monthly may be missing, so the"
            " plan does not remove it on this evidence (decommission.client-access.EX10-01"
            " blocks the removal)",
            "keep 30 days of its IIS and RPC Client Access logs (and the 2016 HttpProxy logs),"
            " scan them with 'migrator logs scan' and re-plan",
        ),
        (
            "warning",
            "EX10-03",
            "the client-access logs of EX10-03 cover 1 day (2023-01-06 to 2023-01-06); 30 days"
            " are wanted before its removal: clients that connect monthly may be missing, so the"
            " plan does not remove it on this evidence (decommission.client-access.EX10-03"
            " blocks the removal)",
            "keep 30 days of its IIS and RPC Client Access logs (and the 2016 HttpProxy logs),"
            " scan them with 'migrator logs scan' and re-plan",
        ),
    ]
    # Enough days: the same evidence clears EX10-03 and no window finding is left.
    enough = one_day_is_enough(inv)
    removal = step(plan_with(enough, evidence(enough)), "decommission.remove.EX10-03")
    assert not removal.instructions.startswith("BLOCKED")
    codes = {f.code for f in analyse(enough, client_evidence=evidence(enough)).findings}
    assert "client-access.window-short" not in codes


def test_a_server_missing_from_the_evidence_is_not_cleared() -> None:
    inv = one_day_is_enough(contoso())
    ev = evidence(inv)
    ev = replace(ev, servers=tuple(s for s in ev.servers if s.server != "EX10-03"))
    remove = step(plan_with(inv, ev), "decommission.remove.EX10-03")
    assert remove.instructions.startswith(
        "BLOCKED, do not run: the client-access logs of EX10-03 cover no day (the evidence has "
        "no record of the server), fewer than the 1 days wanted"
    )


def test_the_receive_log_observation_before_a_removal_reads_the_wanted_days() -> None:
    """observation_days 14 < log_days_wanted 30: decommission.observe-clients reads 30 days."""
    inv = contoso()
    assert (inv.policy.observation_days, inv.policy.log_days_wanted) == (14, 30)
    plan = plan_with(inv, None)
    observe = step(plan, "decommission.observe-clients.EX10-01")
    assert observe.action is not None and observe.action.params["observation_days"] == 30
    assert observe.title.endswith("(30 days)")
    assert observe.wait_minutes == 30 * 24 * 60
    gate = step(plan, "decommission.client-access.EX10-01")
    assert gate.verification.startswith("client-evidence.json of a scan of the last 30 days")
    # A relay connector is never removed after a soak shorter than the evidence window either.
    short_soak = replace(inv, policy=replace(inv.policy, soak_days=7))
    soak = [s for s in plan_with(short_soak, None).steps if s.id.startswith("relay.soak.")]
    assert soak and all(s.action is not None and s.action.params["soak_days"] == 30 for s in soak)


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
        spans = {
            s.server.lower(): (s.first_seen, s.last_seen)
            for s in result.summary(top=None, listed=1).servers
        }
        rows = findings_of(
            inv,
            result.real_clients,
            result.old_outlook,
            result.minimum,
            moves,
            lambda name: spans.get(name.lower()),
        )
        objects = client_access_findings(inv, result.evidence(), moves)
    assert rows == objects
    assert any(f.code == "client-access.window-short" for f in rows)
    assert any(f.code == "client-access.clients-left" for f in rows)


def test_findings_txt_says_the_gate_has_no_evidence_without_a_scan(tmp_path: Path) -> None:
    """Review 3, F9: no client-evidence.json -> a warning naming the gate and the command."""
    from migrator.pipeline import plan_folder
    from migrator.render.findings import FINDINGS_FILE

    result = plan_folder(CONTOSO, tmp_path / "plan")
    assert result.plan is not None
    lines = (tmp_path / "plan" / FINDINGS_FILE).read_text("utf-8").splitlines()
    assert [x for x in lines if "client-access.no-evidence" in x] == [
        f"warning: client-access.no-evidence {CONTOSO}: no client-evidence.json was given, so the"
        " 2010 client-access decommission gate has no log evidence: the removal of EX10-01,"
        " EX10-03 stays blocked (decommission.client-access.<server>) until a scan shows no"
        " client left (fix: copy the IIS logs (W3SVC1) and the RPC Client Access logs of each"
        " 2010 Client Access server and the HttpProxy logs of the 2016 servers, run 'migrator"
        " logs scan LOGDIR... --inventory INVENTORY -o INVENTORY' (client-evidence.json beside"
        " the inventory is read; or pass --client-evidence FILE) and plan again)"
    ]
    # With the evidence the warning is gone (the gate has its evidence, judged on its own).
    inv = contoso()
    codes = {f.code for f in analyse(inv, client_evidence=evidence(inv)).findings}
    assert "client-access.no-evidence" not in codes
