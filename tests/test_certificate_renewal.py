"""Certificate renewal in hybrid (review 3, F5): the connectors naming the certificate follow it."""

from __future__ import annotations

import functools
from pathlib import Path

from powershell_check import check_script, function_definitions

from migrator.inventory import load_inventory
from migrator.model import Inventory
from migrator.pipeline import build_plan
from migrator.plan.steps import MigrationPlan
from migrator.render.runbooks import helper

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"
OLD_NAME = (
    "<I>CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1, O=DigiCert Inc, C=US"
    "<S>CN=mail.contoso.com, O=Contoso Ltd, L=London, C=GB"
)


@functools.cache
def contoso() -> Inventory:
    return load_inventory(CONTOSO)


@functools.cache
def contoso_plan() -> MigrationPlan:
    return build_plan(contoso())


def test_renewal_keeps_the_hybrid_connectors_naming_the_certificate() -> None:
    plan = contoso_plan()
    first = plan.step("servers.certificate-renew.EX16-01")
    second = plan.step("servers.certificate-renew.EX16-02")
    assert first.action is not None and second.action is not None
    # the hybrid server's Default Frontend must name it; EX16-02's only where it already names one
    assert first.action.params["frontend"] == "EX16-01\\Default Frontend EX16-01"
    assert first.action.params["frontend_named"] is True
    assert second.action.params["frontend_named"] is False
    for step in (first, second):
        assert step.action is not None
        assert step.action.params["send_connector"] == "Outbound to Office 365"
        assert step.action.params["old_name"] == OLD_NAME
        assert "TlsCertificateName" in step.verification
        assert "Set-SendConnector 'Outbound to Office 365' -TlsCertificateName" in step.rollback
    # the send connector is set once every source server holds the renewed certificate; the last
    # renewal stops where one lacks it; the hybrid server EX16-01 renews last (review 5, n3)
    assert first.action.params["last"] is True and second.action.params["last"] is False
    assert "Hybrid Configuration Wizard need not run again" in first.instructions


def test_a_test_message_each_way_follows_the_renewal_of_the_hybrid_server() -> None:
    plan = contoso_plan()
    test = plan.step("servers.certificate-hybrid-mail.EX16-01")
    assert test.prerequisites == ("servers.certificate-renew.EX16-01",)
    # The renewal's own class: the test runs in its window, right after it (it ran three days later with a
    # class of its own).
    assert (
        test.action is None
        and test.cutover == plan.step("servers.certificate-renew.EX16-01").cutover
    )
    assert (
        plan.schedule[test.id].start.date()
        == plan.schedule["servers.certificate-renew.EX16-01"].start.date()
    )
    assert "X-MS-Exchange-Organization-AuthAs is Internal" in test.instructions
    assert "contoso.mail.onmicrosoft.com" in test.instructions
    # EX16-02 is not on the hybrid mail path: no second test
    assert not any(s.id == "servers.certificate-hybrid-mail.EX16-02" for s in plan.steps)
    start = plan.schedule[test.id].start
    assert plan.schedule["servers.certificate-renew.EX16-01"].finish <= start


def test_the_onward_install_takes_the_renewed_certificate() -> None:
    plan = contoso_plan()
    for name in ("EX-SE-01", "EX-SE-02"):
        install = plan.step(f"onward.install.{name}")
        assert "servers.certificate-renew.EX16-01" in install.prerequisites
        assert "The certificate is the renewed one" in install.instructions
        assert "not 3F8A1C5D92B7E04A6C1D8F2E5B9A70C4D1E6F283" in install.instructions
        assert (
            plan.schedule[install.id].start
            >= plan.schedule["servers.certificate-renew.EX16-01"].finish
        )


def test_the_helper_sets_and_reads_back_both_connectors() -> None:
    text = helper().data.decode("utf-8-sig").replace("\r\n", "\n")
    functions = function_definitions(text)
    assert "set-hybridcertificatename" in functions
    body = text[text.index("function Set-HybridCertificateName") :]
    body = body[: body.index("\nfunction ", 1)]
    assert "'<I>' + [string]$found[0].Issuer + '<S>' + [string]$found[0].Subject" in body
    for cmdlet in ("Set-ReceiveConnector", "Set-SendConnector"):
        assert "$PSCmdlet.ShouldProcess" in body
        assert f"{cmdlet} -Identity" in body
    assert body.count("Verification failed") == 1  # one read-back for both connectors
    assert "neither the old certificate nor the renewed one" in body
    assert "lack the renewed one enabled for SMTP" in body
    assert check_script(body, ps2=False, safety=True) == []
