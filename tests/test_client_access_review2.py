"""Review 2's client-access findings M3, M4, M6 and the probe statuses (m1), on the contoso plan."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from pathlib import Path

from powershell_check import check_script, unknown_commands

from migrator.inventory import load_inventory
from migrator.model import Inventory
from migrator.pipeline import build_plan
from migrator.plan.phases._common import estate
from migrator.plan.phases.client_access import (
    NAMESPACE_SETTLE_MINUTES,
    client_access_rollback_steps,
)
from migrator.plan.steps import MigrationPlan, RunsIn
from migrator.render.runbooks import RunbookContext, group_by_runbook, helper, render_runbook

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"


@functools.cache
def contoso() -> Inventory:
    return load_inventory(CONTOSO)


@functools.cache
def contoso_plan() -> MigrationPlan:
    return build_plan(contoso())


def _helper_function(name: str) -> str:
    text = helper().data.decode("utf-8-sig").replace("\r\n", "\n")
    body = text[text.index(f"function {name} ") :]
    return body[: body.index("\n}\n")]


def _render(steps: list) -> dict[str, str]:  # type: ignore[type-arg]
    ctx = RunbookContext("Contoso Ltd", "2026-12-07", "dc01.contoso.com")
    return {
        rb: render_runbook("t", group, ctx, log_name="t", runbook=rb)
        for rb, group in group_by_runbook(steps).items()
    }


def _checked(steps: list) -> dict[str, str]:  # type: ignore[type-arg]
    helper_text = helper().data.decode("utf-8-sig")
    rendered = _render(steps)
    for rb, text in rendered.items():
        ps2 = "Exchange 2010 Management Shell runs PowerShell 2.0" in text
        assert check_script(text, ps2=ps2, helper=helper_text) == [], rb
        assert unknown_commands(text, helper_text) == [], rb
    return rendered


# --------------------------------------------------------------------------- M3


def test_namespace_rollback_refuses_while_2016_has_production_mailboxes() -> None:
    steps = client_access_rollback_steps(contoso(), estate(contoso()))
    by_id = {s.id: s for s in steps}
    guard = by_id["servers.rollback.namespace-guard"]
    assert guard.runs_in is RunsIn.EMS_NEW and guard.action is not None
    assert guard.action.params == {"servers": ["EX16-01", "EX16-02"]}
    assert by_id["servers.rollback.namespace"].prerequisites == (guard.id,)
    assert "fix forward" in guard.instructions and "move those mailboxes back" in guard.instructions
    rendered = _checked([s for s in steps if s.runbook.endswith("namespace-rollback.ps1")])
    text = rendered["runbooks/10-servers/namespace-rollback.ps1"]
    assert text.index("Assert-No2016Mailbox @step") < text.index("STEP servers.rollback.namespace;")
    body = _helper_function("Assert-No2016Mailbox")
    # read from Exchange, not from the plan; every production recipient type
    assert "Get-Mailbox -Server $name -RecipientTypeDetails $types" in body
    for kind in ("UserMailbox", "SharedMailbox", "RoomMailbox", "EquipmentMailbox"):
        assert kind in body
    assert "throw" in body and "Do not roll back" in body


def test_the_rollback_guard_ignores_the_test_mailbox_and_its_verify_asks_2010_only() -> None:
    # review 3, F2: the namespace test mailbox on 2016 is not a production mailbox, and 2010 Autodiscover
    # cannot answer for a 2016 mailbox once the namespace is back on 2010
    steps = client_access_rollback_steps(contoso(), estate(contoso()))
    text = _checked([s for s in steps if s.runbook.endswith("namespace-rollback.ps1")])[
        "runbooks/10-servers/namespace-rollback.ps1"
    ]
    assert "Assert-No2016Mailbox @step -Exclude @($Mailbox2016) -DomainController" in text
    assert "Test-ClientNamespace @step -Mailbox @($Mailbox2010) -WaitMinutes" in text
    assert "$Mailbox2010, $Mailbox2016" not in text
    body = _helper_function("Assert-No2016Mailbox")
    assert (
        "$found = @($all | Where-Object { $Exclude -notcontains [string]$_.PrimarySmtpAddress })"
        in body
    )
    forward = contoso_plan().step("servers.namespace-verify")
    forward_text = _checked([forward])["runbooks/10-servers/namespace.ps1"]
    assert (
        "Test-ClientNamespace @step -Mailbox @($Mailbox2010, $Mailbox2016) -WaitMinutes"
        in forward_text
    )


def test_namespace_alias_mx_and_first_wave_each_get_their_own_window() -> None:
    plan = contoso_plan()
    first = {
        "servers.namespace": "client namespace",
        "relay.repoint.smtp-contoso-com": "SMTP alias",
        "mx.change.contoso.com": "MX",
        "moves.complete.wave-001": "first wave",
    }
    for sid, kind in first.items():
        assert plan.step(sid).cutover == kind, sid
    waves = {sid: plan.schedule[sid].wave for sid in first}
    assert len(set(waves.values())) == len(first), waves
    # no step of another cut-over kind starts in the window of any of them
    by_wave: dict[int, set[str]] = {}
    for s in plan.steps:
        if s.cutover:
            by_wave.setdefault(plan.schedule[s.id].wave, set()).add(s.cutover)
    assert all(len(kinds) == 1 for kinds in by_wave.values()), by_wave
    # contoso used to put all three on 2026-12-16
    days = {plan.schedule[sid].start.date() for sid in first}
    assert len(days) == len(first)


def test_the_namespace_settles_a_business_day_before_the_first_wave() -> None:
    plan = contoso_plan()
    verify = plan.step("servers.namespace-verify")
    assert verify.wait_minutes == NAMESPACE_SETTLE_MINUTES == 24 * 60
    settled = plan.schedule[verify.id].finish + dt.timedelta(minutes=verify.wait_minutes)
    assert plan.schedule["moves.copy.wave-001"].start >= settled
    assert plan.schedule["moves.complete.wave-001"].start >= settled
    assert "hours of production on the new namespace" in verify.instructions


# --------------------------------------------------------------------------- M4


def test_rpc_over_http_proxy_is_checked_where_outlook_anywhere_gets_enabled() -> None:
    plan = contoso_plan()
    ids = {s.id for s in plan.steps}
    # EX10-03 has no Outlook Anywhere today (no row in OutlookAnywhere.csv); EX10-01 has it
    assert "servers.rpc-over-http.EX10-03" in ids
    assert "servers.rpc-over-http.EX10-01" not in ids
    check = plan.step("servers.rpc-over-http.EX10-03")
    assert check.action is not None and check.runs_in is RunsIn.EMS_2010
    assert check.action.params["path"] == (
        "\\\\EX10-03.contoso.com\\ADMIN$\\System32\\RpcProxy\\RpcProxy.dll"
    )
    assert "Add-WindowsFeature RPC-over-HTTP-proxy" in check.instructions  # the manual part
    assert "servers.rpc-over-http.EX10-03" in plan.prerequisites("servers.outlook-anywhere.EX10-03")
    # Get-WindowsFeature is not in the checked cmdlet reference: the script never calls it
    body = _helper_function("Assert-RpcProxyFeature")
    assert "Test-Path -LiteralPath $Path" in body
    assert "Get-WindowsFeature" not in body


def test_outlook_anywhere_is_probed_on_iis_before_the_namespace_moves() -> None:
    plan = contoso_plan()
    for server in ("EX10-01", "EX10-03"):
        change = plan.step(f"servers.outlook-anywhere.{server}")
        assert change.wait_minutes == 15  # the Service Host applies AD to IIS
        probe = plan.step(f"servers.outlook-anywhere-verify.{server}")
        assert probe.prerequisites == (change.id,)
        assert probe.action is not None
        assert probe.action.params["url"] == f"https://{server}.contoso.com/rpc/rpcproxy.dll"
        assert probe.action.params["client_authentication"] == "Basic"
        assert probe.id in plan.prerequisites("servers.namespace")
    body = _helper_function("Test-LegacyOutlookAnywhere")
    assert "Get-OutlookAnywhere -Server $Server -DomainController" in body  # IIS, not AD only
    assert "ADPropertiesOnly -" not in body and "-ADPropertiesOnly -" not in body
    assert "ClientAuthenticationMethod" in body
    assert "$answer.Status -ne 401 -or $answer.Authenticate -notmatch 'NTLM'" in body
    # review 3, F1: the server's own name is rarely on its certificate (EX10-03: self-signed); the answer is judged
    assert "Invoke-HttpProbe -Url $Url -AnyCertificate" in body
    probe = _helper_function("Invoke-HttpProbe")
    assert (
        "if ($AnyCertificate) { [System.Net.ServicePointManager]::ServerCertificateValidationCallback = { $true } }"
        in probe
    )
    assert (
        "finally { [System.Net.ServicePointManager]::ServerCertificateValidationCallback = $before }"
        in probe
    )
    assert "-AnyCertificate" not in _helper_function(
        "Test-ClientNamespace"
    )  # the namespace keeps full checks
    assert "ClientAuthenticationMethod') -Expected $ClientAuthenticationMethod" in (
        _helper_function("Set-LegacyOutlookAnywhere")
    )
    steps = [s for s in plan.steps if s.runbook.endswith("outlook-anywhere-2010.ps1")]
    text = _checked(steps)["runbooks/10-servers/outlook-anywhere-2010.ps1"]
    assert "Test-LegacyOutlookAnywhere @step" in text and "Assert-RpcProxyFeature @step" in text


# --------------------------------------------------------------------------- M6


def test_client_access_gate_needs_namespace_public_folders_and_the_last_wave() -> None:
    plan = contoso_plan()
    for server in ("EX10-01", "EX10-03"):
        pre = plan.prerequisites(f"decommission.client-access.{server}")
        # wave-009 goes to Exchange Online: wave-008 is the last on-premises wave
        for need in ("servers.namespace-verify", "public-folders.local", "moves.complete.wave-008"):
            assert need in pre, (server, need)


def test_without_public_folders_the_gate_needs_no_go_live() -> None:
    inv = contoso()
    bare = dataclasses.replace(inv, public_folders=(), public_folder_databases=())
    plan = build_plan(bare)
    pre = plan.prerequisites("decommission.client-access.EX10-01")
    assert "servers.namespace-verify" in pre
    assert not any(p.startswith("public-folders.") for p in pre)


def test_the_cas_array_name_leaves_dns_after_the_last_rpc_client_before_2010_goes() -> None:
    plan = contoso_plan()
    retire = plan.step("decommission.cas-array-name.CAS-LON")
    assert retire.target == "outlook.contoso.com"
    assert retire.runs_in is RunsIn.DNS_CONSOLE and retire.action is None  # no DNS cmdlet: manual
    # through the read-back right before it (review 3, F9: no database names the array any more)
    assert retire.prerequisites == ("decommission.cas-array-unused.CAS-LON",)
    assert set(plan.prerequisites("decommission.cas-array-unused.CAS-LON")) >= {
        "decommission.client-access.EX10-01",
        "moves.complete.wave-008",
    }
    assert retire.id in plan.prerequisites("decommission.remove.EX10-01")
    assert "10.1.1.10" in retire.rollback and "outlook.contoso.com" in retire.rollback
    assert "RPC Client Access logs" in retire.instructions
    assert "Do not repoint it" in retire.instructions
    assert plan.schedule[retire.id].start < plan.schedule["decommission.remove.EX10-01"].start


# --------------------------------------------------------------------------- m1: probe statuses


def test_namespace_probes_accept_only_the_expected_statuses() -> None:
    body = _helper_function("Test-ClientNamespace")
    assert "-ge 500" not in body and "-lt 500" not in body
    assert (
        "$owa.Status -eq 200 -or ($owa.Status -eq 302 -and $owa.Location -match '/owa/auth/')"
        in body
    )
    assert "$anonymous.Status -ne 401" in body
    assert "$answer.Status -ne 200 -or $answer.Text -notmatch '<Protocol>'" in body


def test_the_gate_and_the_array_name_wait_for_exchange_online_users_to_leave_the_2010_proxies() -> (
    None
):
    # review 3, F9: Exchange Online users reach 2010 public folders through the proxy mailboxes (whose
    # RpcClientAccessServer may be the CAS array) until the modern hybrid switch, which follows every EXO wave
    plan = contoso_plan()
    modern = "public-folders.hybrid.modern"
    seen, todo = set(), [modern]
    while todo:  # everything the switch waits for
        for pre in plan.prerequisites(todo.pop()):
            if pre not in seen:
                seen.add(pre)
                todo.append(pre)
    assert "moves.complete.wave-009" in seen
    for sid in ("decommission.client-access.EX10-01", "decommission.cas-array-unused.CAS-LON"):
        assert modern in plan.prerequisites(sid), sid
    assert plan.prerequisites("decommission.cas-array-name.CAS-LON") == (
        "decommission.cas-array-unused.CAS-LON",
    )
