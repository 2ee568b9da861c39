"""The onward move 2016 -> Exchange Server SE (review 6, B2): client access, mailboxes, then removal.

On contoso's plan: the SE servers get certificate, Autodiscover SCP and URLs (the first hop's builders,
read back) before a load balancer or the namespace sends them clients; every mailbox type leaves 2016
(arbitration filtered by ``-Database <2016 database>``, OAB generation, users, public folder mailboxes);
each 2016 removal waits for a read-only check that nothing is left on it, one removal a night.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from powershell_check import check_script

from migrator.inventory import load_inventory
from migrator.mailboxes import MailboxDatabase
from migrator.model import Inventory
from migrator.pipeline import build_plan
from migrator.plan.phases._common import estate
from migrator.plan.phases.cutover import CUTOVER_NAMESPACE, CUTOVER_WAVE, removal_cutover
from migrator.plan.phases.onward import onward_rollback_steps
from migrator.plan.schedule import soak_end
from migrator.plan.steps import MigrationPlan, RunsIn
from migrator.render.runbooks import RunbookContext, group_by_runbook, render_runbook

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"
SE = ("EX-SE-01", "EX-SE-02")
OLD = ("EX16-01", "EX16-02")
DB16 = ["DB16-DUB-01", "DB16-LON-01", "DB16-LON-02"]


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return load_inventory(CONTOSO)


@pytest.fixture(scope="module")
def plan(inv: Inventory) -> MigrationPlan:
    return build_plan(inv)


@pytest.fixture(scope="module")
def with_se_databases(inv: Inventory) -> MigrationPlan:
    """Contoso once the admin created the SE databases and exported them again."""
    extra = (
        MailboxDatabase("DBSE-LON-01", "EX-SE-01", "DAGSE", 2, 400 * 1024**3),
        MailboxDatabase("DBSE-DUB-01", "EX-SE-02", "DAGSE", 2, 300 * 1024**3),
    )
    return build_plan(dataclasses.replace(inv, mailbox_databases=(*inv.mailbox_databases, *extra)))


def ancestors(plan: MigrationPlan, step_id: str) -> set[str]:
    seen: set[str] = set()
    todo = list(plan.prerequisites(step_id))
    while todo:
        sid = todo.pop()
        if sid not in seen:
            seen.add(sid)
            todo.extend(plan.prerequisites(sid))
    return seen


def done(plan: MigrationPlan, step_id: str) -> dt.datetime:
    return plan.schedule[step_id].finish + dt.timedelta(minutes=plan.step(step_id).wait_minutes)


def test_se_servers_get_certificate_scp_and_urls_with_the_first_hops_actions(
    plan: MigrationPlan,
) -> None:
    first = plan.step("servers.virtual-directories.EX16-01").action
    for server in SE:
        cert = plan.step(f"onward.certificate.{server}")
        scp = plan.step(f"onward.autodiscover-scp.{server}")
        urls = plan.step(f"onward.virtual-directories.{server}")
        assert cert.action is not None and cert.action.kind == "servers.certificate"
        assert scp.action is not None and scp.action.kind == "servers.client-access-urls"
        assert urls.action is not None and first is not None
        assert urls.action.kind == first.kind
        # the same URLs as the 2016 servers got: one rule, one builder
        assert urls.action.params["urls"] == first.params["urls"]
        assert f"onward.install.{server}" in ancestors(plan, cert.id)
        assert {cert.id, scp.id} <= ancestors(plan, urls.id)
        assert urls.runbook == f"runbooks/70-onward/{server}.ps1"
        assert all(s.runs_in is RunsIn.EMS_NEW for s in (cert, scp, urls))


def test_no_client_is_sent_to_se_before_its_certificate_and_urls(plan: MigrationPlan) -> None:
    ready = {f"onward.{what}.{s}" for s in SE for what in ("certificate", "virtual-directories")}
    assert ready <= ancestors(plan, "onward.load-balancer.LB-LON-SMTP")
    assert ready <= ancestors(plan, "onward.namespace")
    assert plan.step("onward.namespace").cutover == CUTOVER_NAMESPACE
    assert "onward.namespace" in ancestors(plan, "onward.namespace-verify")


def test_the_se_certificate_is_the_renewed_one_when_the_renewal_comes_first(
    plan: MigrationPlan,
) -> None:
    """Contoso's certificate expires during the plan: the SE servers must not import the old one."""
    for server in SE:
        cert = plan.step(f"onward.certificate.{server}")
        assert cert.action is not None
        assert cert.action.params["thumbprint"] == ""  # a read-back only: the renewed one by hand
        assert any(p.startswith("servers.certificate-renew.") for p in ancestors(plan, cert.id))
        assert "renewed" in cert.instructions


def test_mailboxes_move_after_arbitration_and_the_namespace(plan: MigrationPlan) -> None:
    copy = ancestors(plan, "onward.moves")
    assert {"onward.arbitration", "onward.namespace-verify", "onward.databases"} <= copy
    settle = plan.step("onward.namespace-verify").wait_minutes
    assert settle >= 24 * 60
    assert plan.schedule["onward.moves"].start >= done(plan, "onward.namespace-verify")
    assert plan.step("onward.moves-complete").cutover == CUTOVER_WAVE
    assert "onward.arbitration" in ancestors(plan, "onward.public-folders-move")
    assert "onward.arbitration" in ancestors(plan, "onward.oab-generation")


def test_each_2016_removal_waits_for_every_move_and_a_check_that_nothing_is_left(
    plan: MigrationPlan,
) -> None:
    for server in OLD:
        remove = f"onward.remove-2016.{server}"
        before = ancestors(plan, remove)
        assert {
            f"onward.mailboxes-gone.{server}",
            "onward.moves-complete",
            "onward.arbitration",
            "onward.oab-generation",
            "onward.public-folders-move",
            "onward.namespace-verify",
            "onward.mrsproxy",
            "onward.hybrid",
        } <= before, server
        gone = plan.step(f"onward.mailboxes-gone.{server}")
        assert gone.action is not None and gone.action.kind == "onward.mailboxes-gone"
        assert gone.action.params == {"server": server}
        assert gone.runs_in is RunsIn.EMS_NEW
        assert "Move every mailbox" not in plan.step(remove).instructions


def test_the_two_2016_removals_fall_on_separate_nights_a_business_day_apart(
    plan: MigrationPlan,
) -> None:
    classes = {plan.step(f"onward.remove-2016.{s}").cutover for s in OLD}
    assert classes == {removal_cutover(s) for s in OLD}
    first, second = sorted(plan.schedule[f"onward.remove-2016.{s}"].start for s in OLD)
    assert second.date() > first.date()
    end = min(plan.schedule[f"onward.remove-2016.{s}"].finish for s in OLD)
    assert second >= soak_end(end)


def test_without_se_databases_nothing_is_named_and_the_admin_is_told(plan: MigrationPlan) -> None:
    dbs = plan.step("onward.databases")
    assert dbs.runs_in is RunsIn.MANUAL
    assert "MailboxDatabases.csv" in dbs.instructions
    arbitration = plan.step("onward.arbitration")
    assert arbitration.action is None  # no target database to script it with
    assert "-Database <2016 database>" in arbitration.instructions
    assert "onward.arbitration-verify" not in {s.id for s in plan.steps}
    for s in plan.steps:
        if s.phase.value == "onward" and s.action is not None:
            assert "target_database" not in s.action.params, s.id


def test_with_se_databases_the_arbitration_move_is_scripted_from_the_2016_databases(
    with_se_databases: MigrationPlan,
) -> None:
    plan = with_se_databases
    ids = {s.id for s in plan.steps}
    assert "onward.databases" not in ids
    move = plan.step("onward.arbitration")
    assert move.action is not None and move.action.kind == "moves.arbitration"
    assert move.action.params["source_databases"] == DB16
    assert move.action.params["target_database"] == "DBSE-DUB-01"
    verify = plan.step("onward.arbitration-verify")
    assert verify.action is not None and verify.action.kind == "moves.arbitration-verify"
    for server in OLD:
        assert "onward.arbitration-verify" in ancestors(plan, f"onward.mailboxes-gone.{server}")


def test_onward_runbooks_are_valid_powershell(plan: MigrationPlan, inv: Inventory) -> None:
    steps = [s for s in plan.steps if s.runbook.startswith("runbooks/70-onward/")]
    rollback = onward_rollback_steps(inv, estate(inv))
    assert {s.id for s in rollback} == {
        f"onward.rollback.{s}.{what}" for s in SE for what in ("urls", "scp")
    }
    groups = group_by_runbook([*steps, *rollback])
    assert "runbooks/70-onward/mailboxes.ps1" in groups
    assert "runbooks/70-onward/namespace.ps1" in groups
    context = RunbookContext("Contoso Ltd", "2027-01-04", "dc01.contoso.com")
    for rel, group in sorted(groups.items()):
        text = render_runbook(rel, group, context, log_name="x")
        assert check_script(text, ps2=False) == [], rel
    mailboxes = render_runbook("m", groups["runbooks/70-onward/mailboxes.ps1"], context, "m")
    assert "Assert-NoMailboxOnServer @step" in mailboxes
    namespace = render_runbook("n", groups["runbooks/70-onward/namespace.ps1"], context, "n")
    assert "-Mailbox @($Mailbox2016, $MailboxNew)" in namespace


def test_without_listed_se_servers_the_removal_is_still_gated() -> None:
    """Placeholder SE names: no client access step for them, but no 2016 removal before the check."""
    from test_plan_onward_relay import _inv

    plan = build_plan(_inv(se=False))
    ids = {s.id for s in plan.steps}
    assert not any(i.startswith(("onward.certificate.", "onward.namespace")) for i in ids)
    assert "onward.mailboxes-gone.EX16-01" in ancestors(plan, "onward.remove-2016.EX16-01")
    assert plan.step("onward.databases").action is None


def test_the_se_certificate_read_back_never_passes_on_the_expiring_certificate() -> None:
    """Review 8, M6: without a thumbprint the read-back took the first certificate that qualified, which
    could be the one the renewal replaces (3F8A1C5D..., expiring three days after the step)."""
    from migrator.render.runbooks import helper

    plan = build_plan(load_inventory(CONTOSO))
    renewed = sorted(
        str(s.action.params["replaces"])
        for s in plan.steps
        if s.id.startswith("servers.certificate-renew.") and s.action is not None
    )
    assert renewed
    for server in ("EX-SE-01", "EX-SE-02"):
        action = plan.step(f"onward.certificate.{server}").action
        assert action is not None and action.params["thumbprint"] == ""
        assert sorted(set(action.params["exclude"])) == sorted(set(renewed))
    first = plan.step("servers.certificate.EX16-01").action
    assert first is not None and first.params["exclude"] == []
    text = helper().data.decode("utf-8-sig").replace("\r\n", "\n")
    body = text[text.index("function Set-ServerCertificate {") :]
    body = body[: body.index("\n}\n")]
    assert "[string[]]$Exclude = @()" in body
    assert "if ($Exclude -contains [string]$item.Thumbprint) { $lacks +=" in body


def test_no_new_mailbox_lands_on_2016_once_the_final_databases_exist() -> None:
    """Review 8, M2: nothing excluded the 2016 databases from provisioning, so new hires and offboarded
    users could land there after the moves (and the no-mailbox check before each removal would find them)."""
    from migrator.render.runbooks import RunbookContext, helper, render_runbook

    plan = build_plan(load_inventory(CONTOSO))
    step = plan.step("onward.exclude-provisioning")
    assert step.action is not None
    assert step.action.params == {
        "databases": ["DB16-DUB-01", "DB16-LON-01", "DB16-LON-02"],
        "excluded": True,
    }
    assert "onward.arbitration" in step.prerequisites  # the final version's databases exist by then
    for gate in (s for s in plan.steps if s.id.startswith("onward.mailboxes-gone.")):
        assert step.id in gate.prerequisites, gate.id
    text = render_runbook("t", [step], RunbookContext("c", "d", "dc"), "t")
    assert check_script(text, ps2=False) == []
    body = helper().data.decode("utf-8-sig").replace("\r\n", "\n")
    body = body[body.index("function Set-DatabaseProvisioning {") :]
    body = body[: body.index("\n}\n")]
    assert (
        "if ($PSCmdlet.ShouldProcess($name, 'Set-MailboxDatabase -IsExcludedFromProvisioning '"
        in body
    )
    assert "Assert-Equal -What ('IsExcludedFromProvisioning of ' + $name)" in body


def test_a_rehearsal_of_the_no_mailbox_check_warns_instead_of_failing() -> None:
    """Review 8, m3: under -WhatIf before the moves, the read-only gate threw, so every rehearsal looked
    like a failure; the real run still stops."""
    from migrator.render.runbooks import helper

    body = helper().data.decode("utf-8-sig").replace("\r\n", "\n")
    body = body[body.index("function Assert-NoMailboxOnServer {") :]
    body = body[: body.index("\n}\n")]
    rehearsal = body.index("if ($WhatIfPreference) { Write-Warning (")
    assert rehearsal < body.index("throw ($what + ': move them")
