"""The namespace certificate (issue 13, item 4): every server behind the namespace needs a CA
certificate, unexpired, covering the namespace, Autodiscover, SMTP alias and hybrid names, enabled
for IIS and SMTP; the plan imports and enables it where it can and errors where it cannot."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from powershell_check import check_script
from test_plan_phases import make_inventory

from migrator.checks.certificates import certificate_need, check_certificates, covers
from migrator.inventory import load_inventory
from migrator.model import Certificate, Inventory, Severity
from migrator.pipeline import build_plan, check_path
from migrator.render.runbooks import RunbookContext, helper, render_runbook

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"
NAMES = "mail.contoso.com;autodiscover.contoso.com;smtp.contoso.com"
CA = "CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1, O=DigiCert Inc, C=US"


def helper_function(name: str) -> str:
    """The text of one function of the runbook helper file."""
    text = helper().data.decode("utf-8-sig")
    start = text.index(f"function {name} {{")
    end = text.find("\nfunction ", start + 1)
    return text[start : end if end > 0 else len(text)]


def cert(server: str, thumb: str, services: str, **kw: object) -> Certificate:
    values: dict[str, object] = {
        "server": server,
        "thumbprint": thumb,
        "subject": "CN=mail.contoso.com",
        "issuer": CA,
        "subject_alternative_names": tuple(NAMES.split(";")),
        "not_after": dt.date(2028, 1, 1),
        "services": tuple(s.strip() for s in services.split(",")),
    }
    values.update(kw)
    return Certificate(**values)  # type: ignore[arg-type]


def inventory(*certs: Certificate) -> Inventory:
    inv = make_inventory()
    return replace(
        inv,
        certificates=certs,
        policy=replace(
            inv.policy, client_namespace=("autodiscover.contoso.com", "mail.contoso.com")
        ),
    )


def test_covers_exact_names_and_one_label_wildcards() -> None:
    c = cert("EX16-01", "A", "SMTP", subject_alternative_names=("*.contoso.com", "contoso.com"))
    assert covers(c, "mail.contoso.com") and covers(c, "contoso.com")
    assert not covers(c, "a.b.contoso.com")


def test_a_certificate_bound_to_smtp_only_is_enabled_for_iis_too() -> None:
    inv = inventory(cert("EX16-01", "A", "SMTP"), cert("EX16-02", "A", "IIS, SMTP"))
    need = certificate_need(inv, inv.server("EX16-01"))  # type: ignore[arg-type]
    assert (need.thumbprint, need.import_from, need.enable) == ("A", "", ("IIS",))
    ok = certificate_need(inv, inv.server("EX16-02"))  # type: ignore[arg-type]
    assert ok.enable == () and not ok.missing


def test_a_server_without_the_certificate_gets_it_imported_from_a_new_server_first() -> None:
    inv = inventory(cert("EX10-01", "A", "IIS, SMTP"), cert("EX16-01", "A", "SMTP"))
    need = certificate_need(inv, inv.server("EX16-02"))  # type: ignore[arg-type]
    assert (need.thumbprint, need.import_from, need.enable) == ("A", "EX16-01", ("IIS", "SMTP"))
    assert "smtp.contoso.com" in need.names and "autodiscover.contoso.com" in need.names
    assert not [
        f for f in check_certificates(inv, inv.target_servers) if f.severity is Severity.ERROR
    ]


def test_no_usable_certificate_is_an_error_naming_the_server_and_what_is_missing() -> None:
    inv = inventory(
        cert("EX16-01", "SELF", "IIS, SMTP", self_signed=True, issuer="CN=EX16-01"),
        cert("EX16-01", "OLD", "IIS, SMTP", not_after=dt.date(2026, 1, 1)),
        cert("EX16-01", "SHORT", "IIS, SMTP", subject_alternative_names=("mail.contoso.com",)),
    )
    errors = [
        f
        for f in check_certificates(inv, inv.target_servers)
        if f.severity is Severity.ERROR and f.where == "servers.certificate.EX16-01"
    ]
    (e,) = errors
    assert e.code == "servers.certificate-missing"
    assert "SELF (CN=mail.contoso.com) is self-signed" in e.message
    assert "OLD (CN=mail.contoso.com) expired on 2026-01-01" in e.message
    assert "does not cover autodiscover.contoso.com, smtp.contoso.com" in e.message


def test_the_step_imports_and_enables_inside_the_shouldprocess_gate_and_reads_back() -> None:
    inv = inventory(cert("EX16-01", "A", "SMTP"))
    plan = build_plan(inv)
    context = RunbookContext("c", "d", "dc")
    imported = render_runbook("t", [plan.step("servers.certificate.EX16-02")], context, "t")
    assert check_script(imported, ps2=False) == []
    assert "Server = 'EX16-02'; Thumbprint = 'A'; From = 'EX16-01'" in imported
    assert imported.index("Import-ServerCertificate @step") < imported.index(
        "Set-ServerCertificate @step -DomainController $DomainController"
    )
    enabled = render_runbook("t", [plan.step("servers.certificate.EX16-01")], context, "t")
    assert check_script(enabled, ps2=False) == []
    assert "Import-ServerCertificate" not in enabled and "Enable = $true" in enabled
    imports = helper_function("Import-ServerCertificate")
    assert "Export-ExchangeCertificate -Server $From -Thumbprint $Thumbprint" in imports
    assert "Import-ExchangeCertificate -Server $Server" in imports
    body = helper_function("Set-ServerCertificate")
    gate = body.index("ShouldProcess($Server, 'Enable-ExchangeCertificate")
    assert gate < body.index("-Services 'IIS, SMTP' -Force") < body.index("Verification failed on")


def test_contoso_checks_clean_and_plans_the_import_for_ex16_02() -> None:
    analysis = check_path(CONTOSO)
    assert [f for f in analysis.findings if f.severity is Severity.ERROR] == []
    codes = {(f.code, f.where) for f in analysis.findings}
    assert ("servers.certificate-import", "servers.certificate.EX16-02") in codes
    assert ("servers.certificate-enable", "servers.certificate.EX16-01") in codes
    plan = build_plan(load_inventory(CONTOSO))
    params = plan.step("servers.certificate.EX16-02").action.params  # type: ignore[union-attr]
    assert params["import_from"] == "EX16-01"
    assert params["names"] == ["autodiscover.contoso.com", "mail.contoso.com", "smtp.contoso.com"]
