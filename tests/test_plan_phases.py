"""Phase step builders and the assembled plan, on inventories built in Python."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import replace
from pathlib import Path

import pytest

from migrator.errors import PlanError
from migrator.iprange import IPRange
from migrator.model import (
    AcceptedDomain,
    AcceptedDomainType,
    ADPermission,
    Binding,
    DnsZone,
    ExchangeVersion,
    Inventory,
    Lifecycle,
    MailFlowTarget,
    MaintenanceWindow,
    MxRecord,
    Policy,
    ReceiveConnector,
    SendConnector,
    Server,
    ServerRole,
    Tenant,
)
from migrator.pipeline import build_plan
from migrator.plan.phases import assemble_plan, phase_steps, plan_findings
from migrator.plan.steps import MigrationPlan, Phase, RunsIn

ANY25 = Binding(ipaddress.ip_address("0.0.0.0"), 25)
ALL_ROLES = frozenset({ServerRole.HUB_TRANSPORT, ServerRole.CLIENT_ACCESS, ServerRole.MAILBOX})


def server(name: str, version: ExchangeVersion, **kw: object) -> Server:
    lifecycle = Lifecycle.LEGACY if version is ExchangeVersion.EX2010 else Lifecycle.TARGET
    defaults: dict[str, object] = {"site": "London", "fqdn": f"{name.lower()}.contoso.local"}
    defaults.update(kw)
    return Server(name=name, version=version, lifecycle=lifecycle, **defaults)  # type: ignore[arg-type]


def make_inventory(**kw: object) -> Inventory:
    """A small hybrid organisation: two 2010 servers, two 2016 servers, one relay connector."""
    servers = (
        server("EX10-01", ExchangeVersion.EX2010, build="14.3.513.0", roles=ALL_ROLES, hybrid=True),
        server(
            "EX10-02",
            ExchangeVersion.EX2010,
            build="14.3.248.2",
            roles=frozenset({ServerRole.MAILBOX}),
        ),
        server(
            "EX16-01", ExchangeVersion.EX2016, operating_system="Windows Server 2016", hybrid=True
        ),
        server("EX16-02", ExchangeVersion.EX2016, operating_system="Windows Server 2008 R2"),
    )
    relay = ReceiveConnector(
        server="EX10-01",
        name="Relay Apps",
        bindings=(ANY25,),
        remote_ip_ranges=(IPRange.parse("10.1.20.0/28"),),
        permission_groups=("AnonymousUsers",),
    )
    perm = ADPermission(
        identity="EX10-01\\Relay Apps",
        user="NT AUTHORITY\\ANONYMOUS LOGON",
        extended_rights=("Ms-Exch-SMTP-Accept-Any-Recipient",),
    )
    values: dict[str, object] = {
        "organisation": "Contoso",
        "servers": servers,
        "receive_connectors": (relay,),
        "ad_permissions": (perm,),
        "accepted_domains": (
            AcceptedDomain("contoso.com", "contoso.com", AcceptedDomainType.AUTHORITATIVE, True),
            AcceptedDomain("fabrikam.com", "fabrikam.com", AcceptedDomainType.AUTHORITATIVE),
            AcceptedDomain("all", "*", AcceptedDomainType.INTERNAL_RELAY),
        ),
        "send_connectors": (
            SendConnector(
                "Internet", ("SMTP:*;1",), ("EX10-01", "EX10-02"), fqdn="mail.contoso.com"
            ),
            SendConnector(
                "Outbound to Office 365",
                ("smtp:contoso.mail.onmicrosoft.com;1",),
                ("EX10-01",),
                fqdn="mail.contoso.com",
                cloud_services_mail_enabled=True,
            ),
        ),
        "dns_zones": (
            DnsZone(
                "contoso.com", mx=(MxRecord("mail.contoso.com", 10, 3600),), spf="v=spf1 mx -all"
            ),
            DnsZone("fabrikam.com", mx=(MxRecord("mx.fabrikam.com", 10, 86400),)),
        ),
        "tenant": Tenant(
            initial_domain="contoso.onmicrosoft.com",
            verified_domains=("contoso.com", "fabrikam.com", "contoso.onmicrosoft.com"),
            mx_hosts=(("contoso.com", "contoso-com.mail.protection.outlook.com"),),
        ),
        "policy": Policy(
            start_date=dt.date(2026, 12, 7),
            maintenance_windows=(MaintenanceWindow(5, dt.time(20, 0), dt.time(23, 59)),),
            smtp_alias="smtp.contoso.com",
        ),
    }
    values.update(kw)
    return Inventory(**values)  # type: ignore[arg-type]


def position(plan: MigrationPlan) -> dict[str, int]:
    return {s.id: n for n, s in enumerate(plan.steps)}


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


@pytest.fixture(scope="module")
def plan() -> MigrationPlan:
    return build_plan(make_inventory())


def test_every_step_id_starts_with_its_phase_and_names_a_runbook(plan: MigrationPlan) -> None:
    for s in plan.steps:
        assert s.id.startswith(s.phase.value + ".")
        if s.phase in (Phase.RELAY, Phase.IDENTITY):
            continue  # built by the relay and identity planners
        assert s.runbook.startswith(f"runbooks/{s.phase.number}-{s.phase.value}/")
        assert s.runbook.endswith(".ps1")
        if s.action is not None:
            assert s.action.kind.startswith(s.phase.value + ".")
        if s.action is None:
            assert s.instructions, f"manual step {s.id} has no instructions"


def test_plan_is_derived_from_the_inventory(plan: MigrationPlan) -> None:
    ids = {s.id for s in plan.steps}
    assert {
        "prepare.coexistence.EX10-01",
        "prepare.coexistence.EX10-02",
        "prepare.protocol-logging.EX10-01",
        "prepare.mx-ttl.fabrikam.com",
        "servers.install.EX16-01",
        "servers.send-connector.Internet",
        "hybrid.hcw-rerun",
        "hybrid.send-connector-add.EX16-01",
        "hybrid.send-connector-remove-old",
        "mx.change.contoso.com",
        "mx.change.fabrikam.com",
        "decommission.remove.EX10-01",
        "decommission.verify-no-2010",
        "onward.install.EX16-01-SE",
    } <= ids
    assert not any("*" in i for i in ids)  # the wildcard accepted domain gets no MX steps
    assert "prepare.mx-ttl.contoso.com" not in ids  # already 3600 s
    assert "prepare.protocol-logging.EX10-02" not in ids  # no transport role, no connector there
    old = plan.step("prepare.coexistence.EX10-02")
    assert "Update Rollup 11 (14.3.266.2)" in old.title and "14.3.248.2" in old.title


@pytest.mark.parametrize(
    ("build", "meets"),
    [
        ("14.3.266.2", True),  # RU11 itself (14.03.0266.002)
        ("14.03.0266.002", True),
        ("14.3.279.2", True),  # RU12
        ("14.3.294.0", True),  # RU13
        ("14.3.301.0", True),  # RU14
        ("14.3.248.2", False),  # RU10
        ("14.3.266.1", False),
    ],
)
def test_coexistence_minimum_is_sp3_ru11_14_3_266_2(build: str, meets: bool) -> None:
    """SP3 RU11 is 14.3.266.2 (14.3.301.0 is RU14); titles print the minimum, not the build found."""
    inv = make_inventory()
    servers = tuple(replace(s, build=build) if s.name == "EX10-02" else s for s in inv.servers)
    steps = {s.id: s for s in phase_steps(replace(inv, servers=servers))}
    step = steps["prepare.coexistence.EX10-02"]
    assert step.title.startswith("confirm " if meets else "bring ")
    assert "Exchange 2010 SP3 Update Rollup 11 (14.3.266.2) or later" in step.title
    assert f"build {build}" in step.title
    assert "14.3.301.0" not in step.verification and "14.3.266.2" in step.verification


def test_unsupported_os_is_said_in_the_step(plan: MigrationPlan) -> None:
    assert "does not support" in plan.step("prepare.supported-os.EX16-02").instructions


def test_2019_target_next_to_2010_is_a_coexistence_error() -> None:
    inv = make_inventory()
    servers = (
        *tuple(s for s in inv.servers if s.version is ExchangeVersion.EX2010),
        server("EX19-01", ExchangeVersion.EX2019),
    )
    with pytest.raises(
        PlanError, match=r"exchange 2019 cannot coexist with exchange 2010 .*EX19-01"
    ):
        assemble_plan(replace(inv, servers=servers))


def test_se_servers_listed_next_to_2016_go_to_the_onward_phase() -> None:
    inv = make_inventory()
    inv = replace(inv, servers=(*inv.servers, server("EXSE-01", ExchangeVersion.SE)))
    plan = assemble_plan(inv)
    install = "onward.install.EXSE-01"
    assert plan.step(install).phase is Phase.ONWARD
    assert "decommission.verify-no-2010" in ancestors(plan, install)
    for s in plan.steps:
        if s.id.startswith("decommission.remove."):
            assert s.id in ancestors(plan, install)


def test_mx_change_never_precedes_the_ttl_wait(plan: MigrationPlan) -> None:
    for domain in ("contoso.com", "fabrikam.com"):
        change = f"mx.change.{domain}"
        lower = f"mx.lower-ttl.{domain}"
        assert lower in ancestors(plan, change)
        assert plan.schedule[change].start >= done(plan, lower)
        # The wait covers the old TTL (fabrikam's 86400 s was lowered to 3600 s in prepare).
        assert plan.step(lower).wait_minutes >= 60
        assert "prepare.mx-ttl.fabrikam.com" in ancestors(plan, "mx.change.fabrikam.com")
        restore = f"mx.restore-ttl.{domain}"
        assert f"mx.verify.{domain}" in ancestors(plan, restore)


def test_mx_host_comes_from_the_tenant_never_computed(plan: MigrationPlan) -> None:
    known = plan.step("mx.mx-host.contoso.com")
    assert known.action is not None
    assert known.action.params["expected"] == "contoso-com.mail.protection.outlook.com"
    unknown = plan.step("mx.mx-host.fabrikam.com")
    assert unknown.action is not None and unknown.action.params["expected"] == ""
    assert "mail.protection.outlook.com" not in plan.step("mx.change.fabrikam.com").title
    verify = plan.step("mx.verify.fabrikam.com")
    assert verify.action is not None and verify.action.params["expected"] == []
    assert verify.action.params["old"] == ["mx.fabrikam.com"]
    codes = {(f.code, f.where) for f in plan_findings(make_inventory())}
    assert ("mx.host-unknown", "fabrikam.com") in codes


def test_mx_waits_for_hybrid_and_spf_follows_the_hcw(plan: MigrationPlan) -> None:
    assert "hybrid.hcw-rerun" in ancestors(plan, "mx.readiness")
    assert "hybrid.hcw-rerun" in ancestors(plan, "mx.spf.fabrikam.com")
    assert "mx.spf.contoso.com" in {s.id for s in plan.steps}


def test_decommission_never_precedes_a_step_that_uses_the_old_server(plan: MigrationPlan) -> None:
    legacy = {"ex10-01": "EX10-01", "ex10-02": "EX10-02"}
    checked = 0
    for s in plan.steps:
        if s.phase in (Phase.DECOMMISSION, Phase.ONWARD):
            continue
        name = legacy.get(s.target.split("\\", 1)[0].lower())
        if name is None:
            continue
        remove = f"decommission.remove.{name}"
        assert s.id in ancestors(plan, remove), f"{s.id} is not before {remove}"
        assert plan.schedule[remove].start >= done(plan, s.id)
        checked += 1
    assert checked >= 5
    for s in plan.steps:
        if s.id.startswith("relay.remove-old.EX10-01"):
            assert s.id in ancestors(plan, "decommission.remove.EX10-01")
    # Org-wide moves wait for every MX step and every relay step.
    arbitration = ancestors(plan, "decommission.arbitration-mailboxes")
    assert {"mx.restore-ttl.contoso.com", "hybrid.send-connector-remove-old"} <= arbitration


def test_relay_removal_never_precedes_the_observation(plan: MigrationPlan) -> None:
    removals = [s.id for s in plan.steps if s.id.startswith("relay.remove-old.")]
    assert removals
    for rid in removals:
        assert any(a.startswith("relay.observe.") for a in ancestors(plan, rid))
        assert "prepare.protocol-logging.EX10-01" in ancestors(plan, rid)


def test_relay_waits_for_the_new_server_and_its_certificate(plan: MigrationPlan) -> None:
    creates = [s for s in plan.steps if s.id.startswith("relay.create.")]
    assert creates
    for s in creates:
        target = s.target.split("\\", 1)[0]
        assert f"servers.install.{target}" in ancestors(plan, s.id)
        assert f"servers.certificate.{target}" in ancestors(plan, s.id)


def test_2010_changes_run_in_the_2010_shell(plan: MigrationPlan) -> None:
    for sid in (
        "prepare.protocol-log-limits.EX10-01",
        "prepare.protocol-logging.EX10-01",
    ):
        assert plan.step(sid).runs_in is RunsIn.EMS_2010


def test_removal_order_keeps_the_hybrid_server_last(plan: MigrationPlan) -> None:
    pos = position(plan)
    assert pos["decommission.remove.EX10-02"] < pos["decommission.remove.EX10-01"]
    assert "decommission.remove.EX10-02" in plan.prerequisites("decommission.remove.EX10-01")
    assert "decommission.databases.EX10-02" in ancestors(plan, "decommission.remove.EX10-02")


def test_final_2016_has_no_onward_phase_and_warns() -> None:
    inv = make_inventory()
    inv = replace(inv, policy=replace(inv.policy, final_version=ExchangeVersion.EX2016))
    steps = phase_steps(inv)
    assert not [s for s in steps if s.phase is Phase.ONWARD]
    assert "plan.lands-on-2016" in {f.code for f in plan_findings(inv)}


def test_on_premises_mail_flow_changes_nat_not_mx() -> None:
    inv = make_inventory()
    inv = replace(inv, policy=replace(inv.policy, mail_flow_target=MailFlowTarget.ON_PREMISES))
    plan = assemble_plan(inv)
    ids = {s.id for s in plan.steps}
    assert "mx.change.contoso.com" in ids
    assert "mx.lower-ttl.contoso.com" not in ids
    assert "servers.readiness" in ancestors(plan, "mx.change.contoso.com")


def test_no_start_date_is_an_error() -> None:
    inv = make_inventory()
    inv = replace(inv, policy=replace(inv.policy, start_date=None))
    with pytest.raises(PlanError, match="no start date"):
        assemble_plan(inv)
    assert assemble_plan(inv, start=dt.date(2027, 1, 4)).plan_date == dt.date(2027, 1, 4)


def test_same_inventory_same_plan() -> None:
    a = build_plan(make_inventory())
    b = build_plan(make_inventory())
    assert a.steps == b.steps
    assert a.schedule == b.schedule


def test_generated_runbooks_pass_the_powershell_checks(plan: MigrationPlan) -> None:
    from powershell_check import check_script, unknown_commands

    from migrator.render.runbooks import RunbookContext, group_by_runbook, render_runbook

    context = RunbookContext("Contoso", "2026-12-07", "dc01.contoso.local")
    kinds = set()
    for rel, group in sorted(group_by_runbook(plan.steps).items()):
        if group[0].phase in (Phase.RELAY, Phase.IDENTITY):
            continue
        kinds |= {s.action.kind for s in group if s.action is not None}
        text = render_runbook(rel, group, context, Path(rel).stem)
        ps2 = any(s.runs_in.powershell_2 for s in group)
        assert check_script(text, ps2=ps2) == [], rel
        assert unknown_commands(text) == [], rel
    assert {
        "prepare.protocol-log-limits",
        "prepare.relay-logging",
        "servers.certificate",
        "servers.send-connector-add",
        "hybrid.send-connector-add",
        "hybrid.send-connector-remove-old",
        "hybrid.check-exo-connectors",
        "mx.check-exo-connectors",
        "mx.mx-host",
        "mx.verify",
        "decommission.send-connector-remove-old",
        "decommission.verify-no-2010",
    } <= kinds


def test_hostile_names_stay_quoted() -> None:
    inv = make_inventory()
    evil = "Relay '; Remove-Mailbox -Identity x; '\u2019"
    rc = replace(inv.receive_connectors[0], name=evil)
    perm = replace(inv.ad_permissions[0], identity=f"EX10-01\\{evil}")
    plan = assemble_plan(replace(inv, receive_connectors=(rc,), ad_permissions=(perm,)))
    from powershell_check import check_script

    from migrator.render.runbooks import RunbookContext, render_runbook

    step = plan.step("prepare.protocol-logging.EX10-01")
    text = render_runbook("t", [step], RunbookContext("c", "d", "dc"), "t")
    assert "'Relay ''; Remove-Mailbox -Identity x; ''\u2019\u2019'" in text
    assert check_script(text, ps2=True) == []


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            "v=spf1 ip4:203.0.113.25 -all",
            "v=spf1 ip4:203.0.113.25 include:spf.protection.outlook.com -all",
        ),
        ("v=spf1 mx ~all", "v=spf1 mx include:spf.protection.outlook.com ~all"),
        ("v=spf1 a ?all", "v=spf1 a include:spf.protection.outlook.com ?all"),
        ("v=spf1 ip4:10.0.0.1", "v=spf1 ip4:10.0.0.1 include:spf.protection.outlook.com"),
        (
            "v=spf1 include:spf.protection.outlook.com -all",
            "v=spf1 include:spf.protection.outlook.com -all",
        ),
    ],
)
def test_spf_gets_exchange_online_before_all_and_keeps_on_premises_senders(
    before: str, after: str
) -> None:
    from migrator.plan.phases.mx import spf_with_exchange_online

    assert spf_with_exchange_online(before) == after
