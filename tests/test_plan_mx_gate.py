"""The MX phase (issue 13, items 2 and 8): no MX step for a domain the tenant lacks, and no MX
change while Directory-Based Edge Blocking would reject on-premises recipients."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from powershell_check import check_script
from test_plan_phases import make_inventory

from migrator.inventory import load_inventory
from migrator.model import CloudUser, MailRecipient, OnPremUser, Severity
from migrator.pipeline import analyse, build_plan
from migrator.plan.phases import phase_steps, plan_findings
from migrator.plan.steps import MigrationPlan
from migrator.render.mx_recipients import recipients_csv_text, write_recipient_csvs
from migrator.render.runbooks import RunbookContext, helper, render_runbook

ROOT = Path(__file__).resolve().parent.parent
CONTOSO = ROOT / "inventories" / "contoso"
SCOPE = "OU=Synced,DC=contoso,DC=com"


def helper_function(name: str) -> str:
    """The text of one function of the runbook helper file."""
    text = helper().data.decode("utf-8-sig")
    start = text.index(f"function {name} {{")
    end = text.find("\nfunction ", start + 1)
    return text[start : end if end > 0 else len(text)]


def _recipient(address: str, rtd: str, dn: str) -> MailRecipient:
    return MailRecipient(
        name=address.partition("@")[0],
        recipient_type_details=rtd,
        primary_smtp_address=address,
        email_addresses=(f"SMTP:{address}",),
        distinguished_name=dn,
    )


def _inv(recipients: tuple[MailRecipient, ...] | None, **policy: object) -> object:
    inv = make_inventory()
    return replace(
        inv,
        mail_recipients=recipients,
        policy=replace(inv.policy, sync_scope_ou=SCOPE, **policy),  # type: ignore[arg-type]
    )


def _ids(steps: list) -> set[str]:  # type: ignore[type-arg]
    return {s.id for s in steps}


# --------------------------------------------------------------------------- item 8


def test_a_domain_the_tenant_has_not_verified_gets_no_mx_step_and_an_error() -> None:
    inv = make_inventory()
    inv = replace(inv, tenant=replace(inv.tenant, verified_domains=("contoso.com",)))
    ids = _ids(phase_steps(inv))
    assert not [i for i in ids if i.endswith(".fabrikam.com")]  # no lower-ttl, change, spf...
    assert "mx.change.contoso.com" in ids
    errors = [f for f in plan_findings(inv) if f.severity is Severity.ERROR]
    assert [(f.code, f.where) for f in errors] == [("mx.domain-not-verified", "fabrikam.com")]
    assert "add it to the hybrid configuration" in errors[0].fix


def test_a_domain_kept_on_its_route_by_policy_has_no_mx_step_and_no_error() -> None:
    inv = make_inventory()
    inv = replace(
        inv,
        tenant=replace(inv.tenant, verified_domains=("contoso.com",)),
        policy=replace(inv.policy, mx_keep_route=("fabrikam.com",)),
    )
    assert not [i for i in _ids(phase_steps(inv)) if i.endswith(".fabrikam.com")]
    findings = plan_findings(inv)
    assert not [f for f in findings if f.severity is Severity.ERROR]
    assert ("mx.route-kept", "fabrikam.com") in {(f.code, f.where) for f in findings}


def test_contoso_leaves_partner_contoso_net_alone() -> None:
    plan = build_plan(load_inventory(CONTOSO))
    assert not [s.id for s in plan.steps if "partner.contoso.net" in s.id]


# --------------------------------------------------------------------------- item 2


def test_an_unsynced_mailbox_makes_the_domain_internal_relay_before_mx() -> None:
    inv = _inv(
        (
            _recipient("anna@contoso.com", "UserMailbox", "CN=Anna,OU=Users,DC=contoso,DC=com"),
            _recipient("bob@fabrikam.com", "UserMailbox", f"CN=Bob,{SCOPE}"),
        )
    )
    steps = {s.id: s for s in phase_steps(inv)}  # type: ignore[arg-type]
    relay = steps["mx.internal-relay.contoso.com"]
    assert "mx.internal-relay.contoso.com" in steps["mx.change.contoso.com"].prerequisites
    assert "'anna@contoso.com' (UserMailbox)" in relay.instructions
    assert relay.action is not None and relay.action.params == {"domain": "contoso.com"}
    # every recipient of fabrikam.com is in sync scope: it stays Authoritative
    assert "mx.internal-relay.fabrikam.com" not in steps
    warnings = {(f.code, f.where) for f in plan_findings(inv)}  # type: ignore[arg-type]
    assert ("mx.recipients-not-in-cloud", "contoso.com") in warnings
    assert ("mx.recipients-not-in-cloud", "fabrikam.com") not in warnings


@pytest.mark.parametrize(
    ("rtd", "words"),
    [
        ("PublicFolder", "Exchange Mail Public Folders"),
        ("DynamicDistributionGroup", "mail contact with the same address"),
    ],
)
def test_public_folders_and_dynamic_groups_block_even_in_sync_scope(rtd: str, words: str) -> None:
    inv = _inv((_recipient("x@contoso.com", rtd, f"CN=X,{SCOPE}"),))
    steps = {s.id: s for s in phase_steps(inv)}  # type: ignore[arg-type]
    assert words in steps["mx.internal-relay.contoso.com"].instructions


def test_groups_contacts_and_mail_users_count_too() -> None:
    for rtd in ("MailUniversalDistributionGroup", "MailContact", "MailUser", "SharedMailbox"):
        inv = _inv((_recipient("x@contoso.com", rtd, "CN=X,OU=Other,DC=contoso,DC=com"),))
        assert "mx.internal-relay.contoso.com" in _ids(phase_steps(inv)), rtd  # type: ignore[arg-type]


def test_without_a_recipient_export_the_plan_takes_the_safe_route() -> None:
    inv = _inv(None)
    ids = _ids(phase_steps(inv))  # type: ignore[arg-type]
    assert {"mx.internal-relay.contoso.com", "mx.internal-relay.fabrikam.com"} <= ids
    codes = {f.code for f in plan_findings(inv)}  # type: ignore[arg-type]
    assert "mx.recipients-unknown" in codes


def test_mx_change_waits_for_the_identity_batch_that_syncs_a_recipient() -> None:
    dn = "CN=Anna,OU=Users,DC=contoso,DC=com"
    inv = _inv((_recipient("anna@contoso.com", "UserMailbox", dn),))
    inv = replace(
        inv,  # type: ignore[type-var]
        onprem_users=(
            OnPremUser(
                distinguished_name=dn,
                sam_account_name="anna",
                object_guid="0c0a1e55-7c1d-4c5e-9a2b-1f0e3c4d5a6b",
                user_principal_name="anna@contoso.com",
                proxy_addresses=("SMTP:anna@contoso.com",),
            ),
        ),
        cloud_users=(
            CloudUser(
                id="11111111-2222-3333-4444-555555555555",
                user_principal_name="anna@contoso.com",
                proxy_addresses=("SMTP:anna@contoso.com",),
            ),
        ),
    )
    plan = build_plan(inv)  # type: ignore[arg-type]
    change = plan.step("mx.change.contoso.com")
    assert "identity.verify.batch-001" in change.prerequisites
    assert "mx.internal-relay.contoso.com" not in {s.id for s in plan.steps}


def test_internal_relay_runbook_passes_the_powershell_checks() -> None:
    plan = build_plan(_inv(None))  # type: ignore[arg-type]
    step = plan.step("mx.internal-relay.contoso.com")
    text = render_runbook("t", [step], RunbookContext("c", "d", "dc"), "t")
    assert check_script(text, ps2=False) == []
    assert "$step = @{ Domain = 'contoso.com' }" in text and "Set-CloudDomainRelay @step" in text
    body = helper_function("Set-CloudDomainRelay")
    assert "-DomainType InternalRelay -ErrorAction Stop" in body
    # the hybrid connector must cover the domain first, and the change is read back
    assert body.index("Get-OutboundConnector") < body.index("Set-AcceptedDomain")
    assert "Verification failed" in body


@pytest.fixture(scope="module")
def contoso() -> MigrationPlan:
    return build_plan(analyse(load_inventory(CONTOSO)))


def test_contoso_mx_waits_for_internal_relay_listing_the_2010_mailboxes(
    contoso: MigrationPlan,
) -> None:
    change = contoso.step("mx.change.contoso.com")
    assert "mx.internal-relay.contoso.com" in change.prerequisites
    text = contoso.step("mx.internal-relay.contoso.com").instructions
    for address in (
        "aoife.byrne@contoso.com",
        "noah.fischer@contoso.com",
        "isabella.garcia@contoso.com",
        "mohammed.khan@contoso.com",
        "reception@contoso.com",
        "boardroom.dublin@contoso.com",
        "everyone.dublin@contoso.com",  # dynamic distribution group
        "sales@contoso.com",  # mail-enabled public folder
    ):
        assert f"'{address}'" in text, address
    assert "allstaff.london@contoso.com" not in text  # a group in sync scope


def test_recipients_are_recognised_by_content_in_any_encoding(tmp_path: Path) -> None:
    text = (
        '"Name","RecipientType","RecipientTypeDetails","PrimarySmtpAddress","EmailAddresses","DistinguishedName"\r\n'
        '"Sales","PublicFolder","PublicFolder","sales@contoso.com","SMTP:sales@contoso.com\nsmtp:s@contoso.com",""\r\n'
    )
    (tmp_path / "whatever-name.csv").write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    (tmp_path / "inventory.yaml").write_text("organisation: X\n", encoding="utf-8")
    inv = load_inventory(tmp_path)
    assert inv.mail_recipients is not None
    (r,) = inv.mail_recipients
    assert r.smtp_addresses == ("sales@contoso.com", "s@contoso.com")
    assert r.kind.value == "mail-enabled public folder"


def test_recipients_load_from_clixml(tmp_path: Path) -> None:
    clixml = (
        '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        '<Obj RefId="0"><TN RefId="0">'
        "<T>Deserialized.Microsoft.Exchange.Data.Directory.Management.ReducedRecipient</T>"
        "<T>Deserialized.System.Object</T></TN><Props>"
        '<S N="Name">Everyone</S><S N="RecipientTypeDetails">DynamicDistributionGroup</S>'
        '<S N="PrimarySmtpAddress">everyone@contoso.com</S>'
        '<Obj N="EmailAddresses" RefId="1"><LST><S>SMTP:everyone@contoso.com</S></LST></Obj>'
        '<S N="DistinguishedName">CN=Everyone,DC=contoso,DC=com</S>'
        "</Props></Obj></Objs>"
    )
    (tmp_path / "r.xml").write_bytes(b"\xff\xfe" + clixml.encode("utf-16-le"))
    inv = load_inventory(tmp_path)
    assert inv.mail_recipients is not None
    assert [r.recipient_type_details for r in inv.mail_recipients] == ["DynamicDistributionGroup"]


def test_a_domain_left_authoritative_checks_its_addresses_in_the_cloud_before_mx() -> None:
    inv = _inv(
        (
            _recipient("anna@contoso.com", "UserMailbox", "CN=Anna,OU=Users,DC=contoso,DC=com"),
            _recipient("bob@fabrikam.com", "UserMailbox", f"CN=Bob,{SCOPE}"),
            _recipient("team@fabrikam.com", "MailUniversalDistributionGroup", f"CN=Team,{SCOPE}"),
        )
    )
    plan = build_plan(inv)  # type: ignore[arg-type]
    check = plan.step("mx.recipients-in-cloud.fabrikam.com")
    assert check.id in plan.step("mx.change.fabrikam.com").prerequisites
    assert check.action is not None
    assert check.action.params["rows"] == 2
    assert check.action.params["csv"] == "..\\..\\mx\\fabrikam.com-recipients.csv"
    text = render_runbook("t", [check], RunbookContext("c", "d", "dc"), "t")
    assert check_script(text, ps2=False) == []
    assert "Assert-CloudRecipient @step -Folder $RunbookFolder" in text
    assert "Get-Recipient -ResultSize Unlimited" in helper_function("Assert-CloudRecipient")
    # contoso.com goes InternalRelay instead: no address check for it
    assert "mx.recipients-in-cloud.contoso.com" not in {s.id for s in plan.steps}
    assert recipients_csv_text(("bob@fabrikam.com", "team@fabrikam.com")) == (
        '"Address"\n"bob@fabrikam.com"\n"team@fabrikam.com"\n'
    )


def test_the_recipient_csv_is_written_beside_the_runbooks(tmp_path: Path) -> None:
    inv = _inv((_recipient("bob@fabrikam.com", "UserMailbox", f"CN=Bob,{SCOPE}"),))
    (path,) = [
        p
        for p in write_recipient_csvs(inv, None, tmp_path)  # type: ignore[arg-type]
        if p.name.startswith("fabrikam")
    ]
    assert path == tmp_path / "mx" / "fabrikam.com-recipients.csv"
    assert path.read_bytes() == b'\xef\xbb\xbf"Address"\r\n"bob@fabrikam.com"\r\n'
