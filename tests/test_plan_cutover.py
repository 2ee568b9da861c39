"""Production cut-over classes on contoso's plan (review 3, F3 and F4).

Each class is named once (:mod:`migrator.plan.phases.cutover`), the rule is the scheduler's
(:func:`migrator.plan.schedule.schedule_steps`): one class per window occurrence and a whole
business day between cut-overs of two classes. Every test here fails on the plan review 3 read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import pytest

from migrator.inventory import load_inventory
from migrator.model import Inventory
from migrator.pipeline import build_plan
from migrator.plan.phases import plan_findings
from migrator.plan.phases.cutover import (
    CUTOVER_DECOMMISSION,
    CUTOVER_FIRST_WAVE,
    CUTOVER_IDENTITY,
    CUTOVER_INBOUND_NAT,
    CUTOVER_MAIL_FLOW,
    CUTOVER_MX,
    CUTOVER_NAMESPACE,
    CUTOVER_PUBLIC_FOLDERS,
    CUTOVER_RELAY_DISABLE,
    CUTOVER_SMTP_ALIAS,
    CUTOVER_WAVE,
    removal_cutover,
)
from migrator.plan.schedule import holiday_soak_findings, soak_end
from migrator.plan.steps import MigrationPlan

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"


@pytest.fixture(scope="module")
def plan() -> MigrationPlan:
    return build_plan(load_inventory(CONTOSO))


def test_each_production_change_has_its_class(plan: MigrationPlan) -> None:
    kind = {s.id: s.cutover for s in plan.steps}
    assert kind["servers.namespace"] == CUTOVER_NAMESPACE
    assert kind["relay.nat.fw-lon-smtp-in"] == CUTOVER_INBOUND_NAT
    assert kind["mx.change.contoso.com"] == kind["mx.change.fabrikam.com"] == CUTOVER_MX
    assert kind["relay.repoint.smtp-contoso-com"] == CUTOVER_SMTP_ALIAS
    for sid in (
        "servers.send-connector.Internet",
        "servers.send-connector.Partner-Northwind-TLS",
        "hybrid.configure.EX16-01",
        "hybrid.send-connector-add.EX16-01",
        "hybrid.receive-path.EX16-01",
        "hybrid.hcw-rerun",
        "hybrid.send-connector-remove-old",
    ):
        assert kind[sid] == CUTOVER_MAIL_FLOW, sid
    assert kind["identity.remote-mailbox.batch-001"] == CUTOVER_IDENTITY
    assert kind["moves.complete.wave-001"] == CUTOVER_FIRST_WAVE
    for n in range(2, 9):
        assert kind[f"moves.complete.wave-{n:03d}"] == CUTOVER_WAVE
    assert kind["moves.complete.wave-000"] == ""  # the arbitration mailboxes: no users
    assert kind["public-folders.lock"] == CUTOVER_PUBLIC_FOLDERS
    assert kind["servers.certificate-renew.EX16-01"] != kind["servers.certificate-renew.EX16-02"]


def test_cutovers_of_two_classes_never_share_a_night_and_are_a_business_day_apart(
    plan: MigrationPlan,
) -> None:
    cut = sorted(
        (plan.schedule[s.id].start, plan.schedule[s.id].finish, s.cutover, s.id)
        for s in plan.steps
        if s.cutover
    )
    assert len(cut) > 20
    for i, (_s1, f1, k1, a) in enumerate(cut):
        for s2, _f2, k2, b in cut[i + 1 :]:
            if k1 != k2:
                assert s2 >= soak_end(f1), (a, b)


def test_the_namespace_night_holds_no_mail_change(plan: MigrationPlan) -> None:
    """The 2026-12-16 night of review 3 held the namespace, the NAT, the send connectors, the HCW
    and a remote-mailbox batch."""
    night = plan.schedule["servers.namespace"].wave
    others = {
        "relay.nat.fw-lon-smtp-in",
        "servers.send-connector.Internet",
        "servers.send-connector.Partner-Northwind-TLS",
        "hybrid.configure.EX16-01",
        "hybrid.hcw-rerun",
        "identity.remote-mailbox.batch-001",
    }
    assert {sid for sid in others if plan.schedule[sid].wave == night} == set()


def test_the_relay_repoint_night_is_the_alias_alone(plan: MigrationPlan) -> None:
    repoint = plan.schedule["relay.repoint.smtp-contoso-com"]
    remove_old = plan.schedule["hybrid.send-connector-remove-old"]
    assert remove_old.wave != repoint.wave
    for domain in ("contoso.com", "fabrikam.com"):
        mx = plan.schedule[f"mx.change.{domain}"]
        # review 3: MX followed the repoint 10 h later, with no working day between
        assert abs(mx.start - repoint.finish).days >= 1
        assert mx.start >= soak_end(repoint.finish) or repoint.start >= soak_end(mx.finish)


def test_certificate_renewal_shares_no_window_with_a_wave_completion(plan: MigrationPlan) -> None:
    """Review 3, F4: EX16-01's renewal shared 2026-12-26 20:00 with wave-002's completion."""
    # EX16-02 first, the hybrid server EX16-01 last (review 5, n3)
    renew = [plan.schedule[f"servers.certificate-renew.{s}"] for s in ("EX16-02", "EX16-01")]
    waves = {
        plan.schedule[s.id].wave for s in plan.steps if s.id.startswith("moves.complete.wave-")
    }
    assert {r.wave for r in renew} & waves == set()
    first, second = renew
    assert first.wave != second.wave
    # the second after a business day of the first in production
    assert second.start >= soak_end(first.finish)


# --------------------------------------------------------------------------- review 5, N1-N3


def test_relay_disable_and_onward_inbound_path_have_their_classes(plan: MigrationPlan) -> None:
    """Review 5, N2/N3: the disable of the old relay connectors is a class of its own, the onward
    load-balancer move the inbound SMTP path's; read-only checks stay unclassed."""
    kind = {s.id: s.cutover for s in plan.steps}
    disables = [
        sid for sid in kind if sid.startswith(("relay.disable-old.", "onward.relay.disable-old."))
    ]
    assert {sid.split(".")[0] for sid in disables} == {"relay", "onward"}
    for sid in disables:
        assert kind[sid] == CUTOVER_RELAY_DISABLE, sid
    assert kind["onward.load-balancer.LB-LON-SMTP"] == CUTOVER_INBOUND_NAT
    for sid in (
        "onward.nat-verify.fw-lon-smtp-in",
        "relay.nat-verify.fw-lon-smtp-in",
        "relay.observe.EX10-01",
        "onward.relay.verify-alias.smtp-contoso-com",
        "onward.relay.test-alias.smtp-contoso-com.from-admin-host",
    ):
        assert kind[sid] == "", sid


def test_no_window_occurrence_holds_two_classes(plan: MigrationPlan) -> None:
    """Review 5, N2: 2027-01-09 held EX16-02's certificate renewal and the 2010 relay disable;
    N3: 2027-03-21 held the onward load-balancer change and the alias repoint."""
    by_wave: dict[int, set[str]] = {}
    for s in plan.steps:
        if s.cutover:
            by_wave.setdefault(plan.schedule[s.id].wave, set()).add(s.cutover)
    assert {w: k for w, k in by_wave.items() if len(k) > 1} == {}
    disable = plan.schedule["relay.disable-old.EX10-01.relay-apps"].wave
    for server in ("EX16-01", "EX16-02"):
        assert plan.schedule[f"servers.certificate-renew.{server}"].wave != disable
    lb = plan.schedule["onward.load-balancer.LB-LON-SMTP"]
    repoint = plan.schedule["onward.relay.repoint.smtp-contoso-com"]
    assert lb.wave != repoint.wave
    assert lb.start >= soak_end(repoint.finish) or repoint.start >= soak_end(lb.finish)


def test_onward_hybrid_precedes_the_inbound_path_move(plan: MigrationPlan) -> None:
    """Review 5, N1 (ER "Replacing a hybrid server"): configure the new server, rerun the HCW, then
    take the old one out of Exchange Online's inbound path."""
    steps = {s.id: s for s in plan.steps}
    hybrid = steps["onward.hybrid"]
    for sid in ("onward.load-balancer.LB-LON-SMTP", "onward.nat-verify.fw-lon-smtp-in"):
        assert hybrid.id in steps[sid].prerequisites, sid
        assert plan.schedule[sid].start >= plan.schedule[hybrid.id].finish, sid
    # no cycle: the HCW rerun does not wait for the path it comes before
    assert not any(
        p.startswith(("onward.load-balancer.", "onward.nat")) for p in hybrid.prerequisites
    )
    # the SE server's Default Frontend gets the certificate like hybrid.configure.EX16-01 did for 2016
    assert "TlsCertificateName of 'Default Frontend EX-SE-01'" in hybrid.instructions
    assert "hybrid.configure.EX16-01" in hybrid.instructions
    assert "mail.contoso.com" in hybrid.instructions
    assert "AcceptCloudServicesMail" in hybrid.verification
    assert "only after onward.hybrid" in steps["onward.install.EX-SE-01"].instructions


# --------------------------------------------------------------------------- review 5, minors


def test_identity_match_is_a_night_of_its_own_with_the_roles_off_for_minutes(
    plan: MigrationPlan,
) -> None:
    """Review 5, n6: the identity match shared the mail-flow night (HCW, send connectors); n7: the
    admin roles came off on the plan's first day, 12 days before the sync, and the tenant's
    matching switches were read as long before it."""
    remote = plan.schedule["identity.remote-mailbox.batch-001"]
    hcw = plan.schedule["hybrid.hcw-rerun"]
    assert remote.wave != hcw.wave
    assert remote.start >= soak_end(hcw.finish) or hcw.start >= soak_end(remote.finish)
    off = plan.schedule["identity.remove-roles.batch-001"]
    back = plan.schedule["identity.restore-roles.batch-001"]
    immutable = plan.schedule["identity.set-immutable-id.batch-001"]
    sync = plan.schedule["identity.sync.batch-001"]
    assert off.start >= remote.finish
    assert (back.finish - off.start).total_seconds() <= 3 * 3600
    assert immutable.start >= off.finish and (sync.start - immutable.finish).total_seconds() <= 3600


def test_decommission_is_a_class_apart_from_the_next_phase(plan: MigrationPlan) -> None:
    """Lead's note (review 5 follow-up): the 2010 removals had no class, so the last uninstall
    (Saturday) and the onward alias repoint (Sunday) shared one business day of evidence."""
    kind = {s.id: s.cutover for s in plan.steps}
    for sid in (
        "decommission.arbitration-mailboxes",
        "decommission.oab-generation",
        "decommission.send-connector.Internet",
        "decommission.databases.EX10-02",
        "decommission.cas-array-name.CAS-LON",
        "decommission.remove.EX10-01",
    ):
        assert kind[sid] == CUTOVER_DECOMMISSION, sid
    # each 2016 removal a class of its own (review 6, B2): the two fall on separate nights
    assert kind["onward.remove-2016.EX16-01"] == removal_cutover("EX16-01")
    for sid in ("decommission.cas-array-unused.CAS-LON", "decommission.verify-no-2010"):
        assert kind[sid] == "", sid  # reads only
    last = plan.schedule["decommission.remove.EX10-01"]
    repoint = plan.schedule["onward.relay.repoint.smtp-contoso-com"]
    assert repoint.start >= soak_end(last.finish)


@pytest.mark.parametrize("pre", ["relay", "onward.relay"])
def test_alias_tests_run_right_after_the_repoint(plan: MigrationPlan, pre: str) -> None:
    """Review 5, N3 (rest): the onward alias tests waited 3 days for the next window while relay
    clients already used the new servers; the probe reads only, so it runs when the alias
    resolves to them, in both hops."""
    repoint = plan.schedule[f"{pre}.repoint.smtp-contoso-com"]
    tests = [
        plan.schedule[s.id]
        for s in plan.steps
        if s.id.startswith(f"{pre}.test-alias.smtp-contoso-com.")
    ]
    assert len(tests) == 4
    for t in tests:
        assert (t.finish - repoint.finish).total_seconds() <= 3 * 3600, t.step_id


def test_the_hybrid_server_renews_last(plan: MigrationPlan) -> None:
    """Review 5, n3 (review 3, F4): EX16-01 is the hybrid server and the only SMTP pool member; a
    bad PFX must show on EX16-02 a business day before it reaches the hybrid path."""
    first = plan.schedule["servers.certificate-renew.EX16-02"]
    hybrid = plan.schedule["servers.certificate-renew.EX16-01"]
    steps = {s.id: s for s in plan.steps}
    assert (
        "servers.certificate-renew.EX16-02"
        in steps["servers.certificate-renew.EX16-01"].prerequisites
    )
    assert hybrid.start >= soak_end(first.finish)
    # the hybrid mail test follows the hybrid server's renewal, the send connector changes with the last
    test = steps["servers.certificate-hybrid-mail.EX16-01"]
    assert test.prerequisites == ("servers.certificate-renew.EX16-01",)
    params = steps["servers.certificate-renew.EX16-01"].action.params  # type: ignore[union-attr]
    assert params["last"] is True
    assert steps["servers.certificate-renew.EX16-02"].action.params["last"] is False  # type: ignore[union-attr]


def _without_holidays() -> Inventory:
    inv = load_inventory(CONTOSO)
    return dataclasses.replace(inv, policy=dataclasses.replace(inv.policy, holidays=()))


def test_without_holidays_a_soak_only_over_christmas_is_reported() -> None:
    """Review 5, n5: the soak between the NAT (12-23) and the alias (12-26) was Christmas Eve and
    Christmas Day, and nothing in findings.txt or report.html said so. (contoso lists its sites'
    holidays since review 7: here they are taken out.)"""
    plan = build_plan(_without_holidays())
    found = holiday_soak_findings(plan, ())
    assert {f.code for f in found} == {"schedule.holiday-soak"}
    alias = next(f for f in found if f.where == "relay.repoint.smtp-contoso-com")
    assert alias.message.startswith(
        "the only business day(s) between relay.nat.fw-lon-smtp-in (inbound SMTP (NAT), 2026-12-23)"
        " and relay.repoint.smtp-contoso-com (SMTP alias, 2026-12-26) are Thu 2026-12-24, "
        "Fri 2026-12-25, between 24 December and 1 January"
    )
    assert "plan.holidays" in alias.fix
    assert holiday_soak_findings(plan, (dt.date(2026, 12, 25),)) == []  # the admin's list rules
    info = [f for f in plan_findings(_without_holidays()) if f.code == "schedule.no-holidays"]
    assert len(info) == 1 and info[0].where == "policy.holidays"


def test_listed_holidays_are_kept_out_of_every_soak(tmp_path: Path) -> None:
    """plan.holidays in inventory.yaml: the business day between cut-overs of two classes is never one."""
    inv = tmp_path / "contoso"
    shutil.copytree(CONTOSO, inv)
    text = (inv / "inventory.yaml").read_text("utf-8")
    start = text.index("  holidays: [")
    end = text.index("]", start) + 1
    text = (
        text[:start]
        + "  holidays: [2026-12-24, 2026-12-25, 2026-12-28, 2026-12-31, 2027-01-01]"
        + text[end:]
    )
    (inv / "inventory.yaml").write_text(text, "utf-8")
    inventory = load_inventory(inv)
    off = inventory.policy.holidays
    assert off == tuple(
        dt.date(*d)
        for d in ((2026, 12, 24), (2026, 12, 25), (2026, 12, 28), (2026, 12, 31), (2027, 1, 1))
    )
    plan = build_plan(inventory)
    cut = sorted(
        (plan.schedule[s.id].start, plan.schedule[s.id].finish, s.cutover)
        for s in plan.steps
        if s.cutover
    )
    for i, (_s1, f1, k1) in enumerate(cut):
        for s2, _f2, k2 in cut[i + 1 :]:
            if k1 != k2:
                assert s2 >= soak_end(f1, off)
    # the alias no longer follows the NAT over Christmas alone
    nat = plan.schedule["relay.nat.fw-lon-smtp-in"]
    alias = plan.schedule["relay.repoint.smtp-contoso-com"]
    assert alias.start >= soak_end(nat.finish, off) > soak_end(nat.finish)
    assert not any(f.code == "schedule.no-holidays" for f in plan_findings(inventory))
