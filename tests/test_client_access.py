"""Client access: inventory tables, the RPC name check, the steps, their ordering rules (section F) and runbooks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import shutil
from pathlib import Path

from powershell_check import check_script, unknown_commands

from migrator.checks.client_access import check_client_access
from migrator.client_access import ClientAccessArray, VdirKind, namespace_of
from migrator.inventory import load_inventory
from migrator.model import Inventory, Severity
from migrator.pipeline import PlanOutput, build_plan, plan_folder
from migrator.plan.phases._common import estate
from migrator.plan.phases.client_access import client_access_rollback_steps
from migrator.plan.steps import MigrationPlan
from migrator.render.runbooks import RunbookContext, group_by_runbook, helper, render_runbook

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"
NS = "http://schemas.microsoft.com/powershell/2004/04"


@functools.cache
def contoso() -> Inventory:
    return load_inventory(CONTOSO)


@functools.cache
def contoso_plan() -> MigrationPlan:
    return build_plan(contoso())


# --------------------------------------------------------------------------- inventory


def test_contoso_client_access_tables_load() -> None:
    inv = contoso()
    owa = [v for v in inv.virtual_directories if v.kind is VdirKind.OWA]
    assert [(v.server, v.external_url) for v in owa] == [
        ("EX10-01", "https://mail.contoso.com/owa"),
        ("EX10-03", ""),
        ("EX16-01", ""),
        ("EX16-02", ""),
    ]
    # the UTF-16 export of the 2016 shell carries the MAPI directories
    assert {v.server for v in inv.virtual_directories if v.kind is VdirKind.MAPI} == {
        "EX16-01",
        "EX16-02",
    }
    assert next((o.server, o.iis_authentication) for o in inv.outlook_anywhere) == (
        "EX10-01",
        ("Basic",),
    )
    assert [a.fqdn for a in inv.client_access_arrays] == ["outlook.contoso.com"]
    assert inv.organization_config is not None and inv.organization_config.mapi_http_enabled
    oab = {d.name: d.offline_address_book for d in inv.mailbox_databases}
    assert oab["DB10-LON-02"] == "" and oab["DB10-LON-01"] == "Default Offline Address Book"
    ns = namespace_of(inv)
    assert ns is not None and (ns.mail, ns.autodiscover) == (
        "mail.contoso.com",
        "autodiscover.contoso.com",
    )


def _obj(ref: int, type_name: str, props: str) -> str:
    return (
        f'<Obj RefId="{ref}"><TN RefId="{ref}"><T>Deserialized.{type_name}</T>'
        f"<T>Deserialized.System.Object</T></TN><Props>{props}</Props></Obj>"
    )


def test_clixml_exports_of_every_client_access_kind(tmp_path: Path) -> None:
    folder = tmp_path / "inv"
    folder.mkdir()
    shutil.copy(CONTOSO / "ExchangeServers.csv", folder)
    sc = "Microsoft.Exchange.Data.Directory.SystemConfiguration"
    objs = [
        _obj(
            0,
            f"{sc}.ADOwaVirtualDirectory",
            '<S N="Server">EX10-01</S><S N="Name">owa (Default Web Site)</S>'
            '<S N="InternalUrl">https://ex10-01.contoso.com/owa</S>'
            '<S N="ExternalUrl">https://mail.contoso.com/owa</S>'
            '<Obj N="InternalAuthenticationMethods" RefId="9"><LST><S>Basic</S><S>Fba</S></LST></Obj>',
        ),
        _obj(
            1,
            f"{sc}.ADRpcHttpVirtualDirectory",
            '<S N="Server">EX10-01</S><S N="ExternalHostname">mail.contoso.com</S>'
            '<S N="ClientAuthenticationMethod">Ntlm</S><B N="SSLOffloading">false</B>',
        ),
        _obj(
            2,
            "Microsoft.Exchange.Data.Directory.Management.ClientAccessServer",
            '<S N="Name">EX10-01</S>'
            '<S N="AutoDiscoverServiceInternalUri">https://autodiscover.contoso.com/Autodiscover/Autodiscover.xml</S>',
        ),
        _obj(
            3,
            f"{sc}.ClientAccessArray",
            '<S N="Name">CAS-LON</S><S N="Fqdn">outlook.contoso.com</S>',
        ),
        _obj(
            4,
            "Microsoft.Exchange.Data.Directory.Management.OrganizationConfig",
            '<B N="MapiHttpEnabled">false</B><S N="PublicFoldersEnabled">Remote</S>'
            '<Obj N="RemotePublicFolderMailboxes" RefId="8"><LST><S>PFProxy1</S></LST></Obj>',
        ),
    ]
    for i, o in enumerate(objs):
        xml = f'<Objs Version="1.1.0.1" xmlns="{NS}">{o}</Objs>'
        (folder / f"export{i}.xml").write_bytes(b"\xff\xfe" + xml.encode("utf-16-le"))
    inv = load_inventory(folder)
    (vd,) = inv.virtual_directories
    assert (vd.kind, vd.external_url, vd.internal_authentication) == (
        VdirKind.OWA,
        "https://mail.contoso.com/owa",
        ("Basic", "Fba"),
    )
    assert [(o.server, o.client_authentication) for o in inv.outlook_anywhere] == [
        ("EX10-01", "Ntlm")
    ]
    assert inv.autodiscover_scps[0].internal_uri.startswith("https://autodiscover.")
    assert inv.client_access_arrays[0].fqdn == "outlook.contoso.com"
    config = inv.organization_config
    assert config is not None
    assert (config.mapi_http_enabled, config.public_folders_enabled) == (False, "Remote")
    assert config.remote_public_folder_mailboxes == ("PFProxy1",)


# --------------------------------------------------------------------------- the RPC name check


def test_contoso_has_no_rpc_name_collision() -> None:
    assert [f for f in check_client_access(contoso()) if f.severity is Severity.ERROR] == []


def test_cas_array_named_like_the_http_namespace_is_an_error() -> None:
    inv = contoso()
    bad = dataclasses.replace(
        inv,
        client_access_arrays=(ClientAccessArray("CAS-LON", "mail.contoso.com", "London"),),
        mailbox_databases=tuple(
            dataclasses.replace(d, rpc_client_access_server="autodiscover.contoso.com")
            if d.name == "DB10-DUB-01"
            else d
            for d in inv.mailbox_databases
        ),
    )
    errors = [f for f in check_client_access(bad) if f.severity is Severity.ERROR]
    assert [(f.code, f.message) for f in errors] == [
        (
            "client-access.rpc-name-collision",
            "RpcClientAccessServer of database DB10-DUB-01 is 'autodiscover.contoso.com', which is "
            "also an HTTP namespace name (the Autodiscover name): RPC/TCP Outlook clients break "
            "when that name moves to Exchange 2016",
        ),
        (
            "client-access.rpc-name-collision",
            "the Client Access array CAS-LON is 'mail.contoso.com', which is also an HTTP namespace "
            "name (the shared namespace): RPC/TCP Outlook clients break when that name moves to "
            "Exchange 2016",
        ),
    ]
    assert all("Set-ClientAccessArray -Fqdn" in f.fix for f in errors)


def test_the_collision_stops_plan(tmp_path: Path) -> None:
    folder = tmp_path / "contoso"
    shutil.copytree(CONTOSO, folder)
    arrays = folder / "ClientAccessArrays.csv"
    arrays.write_bytes(arrays.read_bytes().replace(b"outlook.contoso.com", b"mail.contoso.com"))
    out = plan_folder(folder, tmp_path / "out")
    assert out.plan is None
    assert [f.code for f in out.analysis.errors] == ["client-access.rpc-name-collision"]
    assert not (tmp_path / "out" / "runbooks").exists()


def test_without_virtual_directories_the_steps_stay_manual() -> None:
    inv = dataclasses.replace(contoso(), virtual_directories=())
    findings = check_client_access(inv)
    assert [f.code for f in findings] == ["client-access.no-namespace"]
    plan = build_plan(inv)
    step = plan.step("servers.virtual-directories.EX16-01")
    assert step.action is None
    assert "servers.autodiscover-scp.EX16-01" not in {s.id for s in plan.steps}


# --------------------------------------------------------------------------- ordering rules (section F)


def _before(plan: MigrationPlan, first: str, then: str) -> bool:
    """Whether ``first`` is an ancestor of ``then`` (a prerequisite, direct or not)."""
    seen: set[str] = set()
    todo = [then]
    while todo:
        for p in plan.prerequisites(todo.pop()):
            if p == first:
                return True
            if p not in seen:
                seen.add(p)
                todo.append(p)
    return False


def test_f1_oab_is_assigned_before_every_2016_install() -> None:
    plan = contoso_plan()
    for server in ("EX16-01", "EX16-02"):
        assert "prepare.offline-address-book" in plan.prerequisites(f"servers.install.{server}")
    oab = plan.step("prepare.offline-address-book")
    assert oab.action is not None
    assert oab.action.params["databases"] == ["DB10-LON-02"]
    assert oab.action.params["offline_address_book"] == "Default Offline Address Book"


def test_f1_no_oab_step_when_every_database_has_one() -> None:
    inv = contoso()
    full = dataclasses.replace(
        inv,
        mailbox_databases=tuple(
            dataclasses.replace(d, offline_address_book="Default Offline Address Book")
            for d in inv.mailbox_databases
        ),
    )
    assert "prepare.offline-address-book" not in {s.id for s in build_plan(full).steps}


def test_f2_outlook_client_check_before_the_namespace() -> None:
    assert "servers.outlook-clients" in contoso_plan().prerequisites("servers.namespace")


def test_f3_urls_scp_and_certificate_before_the_namespace() -> None:
    plan = contoso_plan()
    for server in ("EX16-01", "EX16-02"):
        for what in ("autodiscover-scp", "certificate", "virtual-directories"):
            assert _before(plan, f"servers.{what}.{server}", "servers.namespace"), (what, server)
    # the SCP right after the install, before the certificate step needs it
    assert plan.prerequisites("servers.autodiscover-scp.EX16-01") == ("servers.install.EX16-01",)


def test_f4_outlook_anywhere_on_every_2010_cas_before_the_namespace() -> None:
    plan = contoso_plan()
    pre = plan.prerequisites("servers.namespace")
    # the namespace waits for the probe of /rpc, which waits for the change (review 2, M4)
    assert {
        "servers.outlook-anywhere-verify.EX10-01",
        "servers.outlook-anywhere-verify.EX10-03",
    } <= set(pre)
    for server in ("EX10-01", "EX10-03"):
        assert _before(plan, f"servers.outlook-anywhere.{server}", "servers.namespace")
    # EX10-02 is a Mailbox-only server: no Outlook Anywhere
    assert "servers.outlook-anywhere.EX10-02" not in {s.id for s in plan.steps}


def test_f5_namespace_verified_before_the_first_user_wave() -> None:
    plan = contoso_plan()
    copies = [s.id for s in plan.steps if s.id.startswith("moves.copy.") and "wave-008" not in s.id]
    assert copies[0] == "moves.copy.wave-001"
    for sid in copies:
        assert _before(plan, "servers.namespace-verify", sid), sid
    assert not _before(plan, "servers.namespace-verify", "moves.arbitration")


def test_f7_mapi_urls_and_certificates_before_any_2016_mailbox() -> None:
    plan = contoso_plan()
    pre = plan.prerequisites("moves.arbitration")
    for server in ("EX16-01", "EX16-02"):
        assert f"servers.virtual-directories.{server}" in pre
        assert f"servers.certificate.{server}" in pre
    urls = plan.step("servers.virtual-directories.EX16-01").action
    assert urls is not None
    kinds = {row["Kind"]: row for row in urls.params["urls"]}
    assert kinds["Mapi"]["InternalUrl"] == "https://mail.contoso.com/mapi"
    assert kinds["Owa"]["InternalUrl"] == kinds["Owa"]["ExternalUrl"]
    assert kinds["Ecp"]["InternalUrl"] == "https://mail.contoso.com/ecp"
    assert "Autodiscover" not in kinds  # the Autodiscover directory gets no URL


def test_the_plan_orders_the_rules() -> None:
    order = [s.id for s in contoso_plan().steps]
    assert order.index("prepare.offline-address-book") < order.index("servers.install.EX16-01")
    assert order.index("servers.outlook-anywhere.EX10-01") < order.index("servers.namespace")
    assert order.index("servers.namespace-verify") < order.index("moves.copy.wave-001")


def test_namespace_verify_expects_the_2016_addresses() -> None:
    step = contoso_plan().step("servers.namespace-verify")
    assert step.action is not None
    assert step.action.params["expected"] == ["10.1.1.20", "10.2.1.20", "2001:db8:10:1::20"]
    assert step.action.params["names"] == ["mail.contoso.com", "autodiscover.contoso.com"]


# --------------------------------------------------------------------------- runbooks


def _render(steps: list) -> dict[str, str]:  # type: ignore[type-arg]
    ctx = RunbookContext("Contoso Ltd", "2026-12-07", "dc01.contoso.com")
    return {
        rb: render_runbook("t", group, ctx, log_name="t", runbook=rb)
        for rb, group in group_by_runbook(steps).items()
    }


def _client_access_steps(plan: MigrationPlan) -> list:  # type: ignore[type-arg]
    wanted = (
        "prepare.offline-address-book",
        "servers.autodiscover-scp.",
        "servers.virtual-directories.",
        "servers.outlook-anywhere",
        "servers.rpc-over-http.",
        "servers.namespace",
        "servers.certificate-re",
        "decommission.cas-array-name.",
    )
    return [s for s in plan.steps if s.id.startswith(wanted)]


def test_client_access_runbooks_pass_the_checker() -> None:
    helper_text = helper().data.decode("utf-8-sig")
    plan = contoso_plan()
    steps = _client_access_steps(plan) + client_access_rollback_steps(contoso(), estate(contoso()))
    rendered = _render(steps)
    assert len(rendered) >= 7
    for rb, text in rendered.items():
        ps2 = "Exchange 2010 Management Shell runs PowerShell 2.0" in text
        assert check_script(text, ps2=ps2, helper=helper_text) == [], rb
        assert unknown_commands(text, helper_text) == [], rb


def test_runbook_content() -> None:
    plan = contoso_plan()
    rendered = _render(_client_access_steps(plan))
    oa = rendered["runbooks/10-servers/outlook-anywhere-2010.ps1"]
    assert "Exchange 2010 Management Shell runs PowerShell 2.0" in oa
    assert "IISAuthenticationMethods = @('Basic', 'NTLM')" in oa
    assert "ExternalHostname = 'mail.contoso.com'" in oa
    assert "'EX10-01-outlook-anywhere-before.xml'" in oa
    oab = rendered["runbooks/00-prepare/offline-address-book.ps1"]
    assert "Database = @('DB10-LON-02')" in oab
    assert "Set-DatabaseOfflineAddressBook @step" in oab
    ns = rendered["runbooks/10-servers/namespace.ps1"]
    assert "[string]$Mailbox2010 = ''" in ns and "[int]$WaitMinutes = 60" in ns
    assert ns.index("servers.outlook-clients") < ns.index("Test-ClientNamespace @step")


def test_rollback_runbooks_read_the_exported_values() -> None:
    steps = client_access_rollback_steps(contoso(), estate(contoso()))
    rendered = _render(steps)
    assert sorted(rendered) == [
        "runbooks/00-prepare/offline-address-book-rollback.ps1",
        "runbooks/10-servers/EX16-01-rollback.ps1",
        "runbooks/10-servers/EX16-02-rollback.ps1",
        "runbooks/10-servers/namespace-rollback.ps1",
        "runbooks/10-servers/outlook-anywhere-2010-rollback.ps1",
    ]
    ex16 = rendered["runbooks/10-servers/EX16-01-rollback.ps1"]
    assert (
        "Import-Clixml -Path (Join-Path -Path $RunbookFolder -ChildPath 'EX16-01-urls-before.xml')"
        in ex16
    )
    assert "Clear = $true" in rendered["runbooks/00-prepare/offline-address-book-rollback.ps1"]
    back = rendered["runbooks/10-servers/namespace-rollback.ps1"]
    assert "Expected = @('10.1.1.10', '10.2.1.10')" in back


def test_helper_functions_gate_every_change() -> None:
    text = helper().data.decode("utf-8-sig")
    for name in (
        "Set-ClientAccessUrl",
        "Set-LegacyOutlookAnywhere",
        "Set-DatabaseOfflineAddressBook",
    ):
        body = text[text.index(f"function {name} ") :]
        body = body[: body.index("\n}\n") if "\n}\n" in body else len(body)]
        assert "SupportsShouldProcess = $true" in body, name
        assert "$PSCmdlet.ShouldProcess" in body, name
        assert "if ($WhatIfPreference)" in body, name  # no read-back under -WhatIf


# --------------------------------------------------------------------------- certificate expiry (M10), plan.namespace


def test_certificate_expiring_mid_plan_is_renewed_before_it_expires(
    contoso_plan: Path, contoso_output: PlanOutput
) -> None:
    """Review 2, M10: no warning followed by a plan that runs on the expired certificate."""
    out = contoso_output  # contoso planned once for the session (conftest)
    assert out.plan is not None
    late = [f for f in out.analysis.findings if f.code.startswith("servers.certificate-re")]
    assert [f.code for f in late] == ["servers.certificate-renewal"]
    assert late[0].severity is Severity.INFO
    assert late[0].where.endswith("ExchangeCertificates.csv, row 2")
    assert "expires on 2027-03-24 while" in late[0].message
    # (the onward phase's steps: its alias repoint night 2027-03-24 is NotAfter's day)
    assert "onward.relay.repoint.smtp-contoso-com" in late[0].message
    assert "the plan renews it first" in late[0].message
    expiry = dt.datetime(2027, 3, 24)
    for server in ("EX16-01", "EX16-02"):
        renew = out.plan.step(f"servers.certificate-renew.{server}")
        assert out.plan.schedule[renew.id].start < expiry
        assert "servers.certificate-request.3F8A1C5D" in renew.prerequisites
        assert renew.action is not None and renew.action.params["after"] == "2027-03-24"
    # review 3, F4: one server per window, the second after the first; the hybrid server EX16-01
    # last (review 5, n3)
    first, second = (
        out.plan.schedule[f"servers.certificate-renew.{s}"] for s in ("EX16-02", "EX16-01")
    )
    assert first.wave != second.wave and first.finish <= second.start
    assert (
        "servers.certificate-renew.EX16-02"
        in out.plan.step("servers.certificate-renew.EX16-01").prerequisites
    )
    request = out.plan.step("servers.certificate-request.3F8A1C5D")
    assert request.action is None and "have the CA issue it (manual" in request.instructions
    assert "servers.certificate-renewal" in (contoso_plan / "findings.txt").read_text(
        encoding="utf-8"
    )
    text = (contoso_plan / "runbooks/10-servers/certificate-renewal.ps1").read_bytes()
    assert b"Import-RenewedCertificate @step -Path $RenewedCertificatePath" in text


def test_certificate_that_expires_before_its_renewal_can_run_is_an_error(tmp_path: Path) -> None:
    """Review 2, M10: where the renewal cannot be scheduled before NotAfter, nothing is written."""
    from migrator.plan.phases.certificate_renewal import certificate_expiry_findings

    inv = contoso()
    soon = dataclasses.replace(
        inv,
        certificates=tuple(
            dataclasses.replace(c, not_after=dt.date(2026, 12, 18)) if c.not_after else c
            for c in inv.certificates
        ),
    )
    found = certificate_expiry_findings(soon, build_plan(soon))
    assert [(f.severity, f.code) for f in found] == [
        (Severity.ERROR, "servers.certificate-expires-mid-plan")
    ]
    assert "the plan cannot renew it in time" in found[0].message
    assert "Import-ExchangeCertificate" in found[0].fix
    # through plan_folder: the error stops the plan, nothing is written
    root = tmp_path / "contoso"
    shutil.copytree(CONTOSO, root)
    csv = root / "ExchangeCertificates.csv"
    csv.write_bytes(csv.read_bytes().replace(b'"2027-03-24"', b'"2026-12-18"'))
    out = plan_folder(root, tmp_path / "out")
    assert out.plan is None
    assert "servers.certificate-expires-mid-plan" in {f.code for f in out.analysis.errors}
    assert not (tmp_path / "out").exists()


def test_no_expiry_warning_when_the_certificate_outlives_the_plan() -> None:
    from migrator.plan.phases.certificate_renewal import certificate_expiry_findings

    inv = contoso()
    renewed = dataclasses.replace(
        inv,
        certificates=tuple(
            dataclasses.replace(c, not_after=c.not_after.replace(year=2030)) if c.not_after else c
            for c in inv.certificates
        ),
    )
    assert certificate_expiry_findings(renewed, build_plan(renewed)) == []


def test_plan_namespace_of_inventory_yaml_wins() -> None:
    inv = contoso()
    given = dataclasses.replace(
        inv,
        policy=dataclasses.replace(inv.policy, client_namespace=("webmail.contoso.com",)),
    )
    ns = namespace_of(given)
    assert ns is not None
    assert (ns.mail, ns.autodiscover_uri) == (
        "webmail.contoso.com",
        "https://autodiscover.contoso.com/Autodiscover/Autodiscover.xml",
    )


def test_the_namespace_change_keeps_internal_addresses_out_of_public_dns() -> None:
    """Review 2, B1: mail.contoso.com is also the MX host until the MX steps, and public DNS must
    never get the servers' internal addresses: the change is internal DNS plus the HTTPS publishing rule."""
    rollback = client_access_rollback_steps(contoso(), estate(contoso()))
    steps = {s.id: s for s in (*contoso_plan().steps, *rollback)}
    for sid in ("servers.namespace", "servers.rollback.namespace"):
        text = steps[sid].instructions
        assert "internal DNS" in text, sid
        assert "external DNS" not in text, sid
        assert "HTTPS (TCP 443)" in text, sid


def test_outlook_anywhere_on_2016_uses_ntlm_while_2010_remains() -> None:
    """Review 2, M1: 2016 proxies 2010 users over Outlook Anywhere; Negotiate only once 2010 is gone."""
    step = next(s for s in contoso_plan().steps if s.id == "servers.virtual-directories.EX16-01")
    assert step.action is not None
    rows = [r for r in step.action.params["urls"] if r["Kind"] == "OutlookAnywhere"]
    assert [(r["Auth"], r["InternalAuth"]) for r in rows] == [("Ntlm", "Ntlm")]
    assert "-ExternalClientAuthenticationMethod $want.Auth" in helper().data.decode("utf-8-sig")
