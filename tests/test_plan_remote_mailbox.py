"""Matched cloud mailboxes get their on-premises remote mailbox before they sync (issue 13, item 3)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

from powershell_check import check_script
from test_plan_phases import make_inventory

from migrator.inventory import load_inventory
from migrator.model import CloudUser, Inventory, OnPremUser, Severity
from migrator.pipeline import build_plan
from migrator.plan.identity import MatchMethod, MatchOutcome, match_identities
from migrator.plan.phases import plan_findings
from migrator.plan.steps import RunsIn
from migrator.render.remote_mailboxes import remote_mailbox_csv_text
from migrator.render.runbooks import RunbookContext, helper, render_runbook

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"
SCOPE = "OU=Synced,DC=contoso,DC=com"


def helper_function(name: str) -> str:
    """The text of one function of the runbook helper file."""
    text = helper().data.decode("utf-8-sig")
    start = text.index(f"function {name} {{")
    end = text.find("\nfunction ", start + 1)
    return text[start : end if end > 0 else len(text)]


LEGACY_DN = "/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=ab12-reception"


def inventory(**cloud: object) -> Inventory:
    inv = make_inventory()
    onprem = OnPremUser(
        distinguished_name="CN=Reception,OU=Users,DC=contoso,DC=com",
        sam_account_name="reception",
        object_guid="0c0a1e55-7c1d-4c5e-9a2b-1f0e3c4d5a6b",
        user_principal_name="reception@contoso.com",
        proxy_addresses=("SMTP:reception@contoso.com",),
    )
    values: dict[str, object] = {
        "id": "11111111-2222-3333-4444-555555555555",
        "user_principal_name": "reception@contoso.com",
        "proxy_addresses": (
            "SMTP:Reception@contoso.com",
            "smtp:front.desk@contoso.com",
            "smtp:reception@contoso.mail.onmicrosoft.com",
            "SPO:SPO_1234",
        ),
        "has_mailbox": True,
        "exchange_guid": "6aeba0dd-b442-553e-8acc-54a819f19ee7",
        "archive_guid": "9d3b1c2a-1111-4222-8333-444455556666",
        "legacy_exchange_dn": LEGACY_DN,
        "mailbox_type": "SharedMailbox",
    }
    values.update(cloud)
    return replace(
        inv,
        onprem_users=(onprem,),
        cloud_users=(CloudUser(**values),),  # type: ignore[arg-type]
        policy=replace(inv.policy, sync_scope_ou=SCOPE),
    )


def test_the_remote_mailbox_step_runs_in_ems_before_the_user_enters_sync_scope() -> None:
    plan = build_plan(inventory())
    step = plan.step("identity.remote-mailbox.batch-001")
    assert step.runs_in is RunsIn.EMS_NEW
    assert step.id in plan.step("identity.prepare.batch-001").prerequisites
    assert "servers.readiness" in step.prerequisites  # a 2016 server's shell
    text = render_runbook("t", [step], RunbookContext("c", "d", "dc"), "t")
    assert check_script(text, ps2=False) == []
    assert "Enable-BatchRemoteMailbox @step -Folder $RunbookFolder" in text
    body = helper_function("Enable-BatchRemoteMailbox")
    assert "Enable-RemoteMailbox @enable -ErrorAction Stop" in body
    assert (
        "-EmailAddressPolicyEnabled $false -EmailAddresses @{ Add = [string[]]$addresses }" in body
    )
    assert "-ExchangeGuid $row.ExchangeGuid" in body and "-ArchiveGuid $row.ArchiveGuid" in body
    assert "Get-RemoteMailbox -Identity $id" in body  # read back


def test_the_csv_holds_the_cloud_values_and_the_x500() -> None:
    match = match_identities(inventory())
    (row,) = csv.DictReader(
        io.StringIO(remote_mailbox_csv_text(match.batches[0], make_inventory().tenant))
    )  # type: ignore[arg-type]
    assert row["PrimarySmtpAddress"] == "Reception@contoso.com"
    assert row["RemoteRoutingAddress"] == "reception@contoso.mail.onmicrosoft.com"
    assert row["MailboxType"] == "Shared"
    assert row["EmailAddresses"].split(";") == [
        "SMTP:Reception@contoso.com",
        "smtp:front.desk@contoso.com",
        "smtp:reception@contoso.mail.onmicrosoft.com",
        f"X500:{LEGACY_DN}",
    ]
    assert row["ExchangeGuid"] == "6aeba0dd-b442-553e-8acc-54a819f19ee7"
    assert row["ArchiveGuid"] == "9d3b1c2a-1111-4222-8333-444455556666"


def test_these_users_are_hard_matched_where_the_tenant_allows() -> None:
    (r,) = match_identities(inventory()).results
    assert r.set_immutable_id and r.outcome is MatchOutcome.HARD_MATCH
    assert r.method is MatchMethod.HARD  # the batch CSV says "hard match", not "soft match ..."
    assert (
        r.method is MatchMethod.HARD
    )  # the batch CSV says "hard match", not "soft match on primary SMTP"
    assert "remote mailbox" in r.fix
    federated = replace(
        inventory(),
        tenant=replace(make_inventory().tenant, federated_domains=("contoso.com",)),  # type: ignore[arg-type]
    )
    (soft,) = match_identities(federated).results
    assert not soft.set_immutable_id and soft.outcome is MatchOutcome.SOFT_MATCH
    assert "identity.remote-mailbox.batch-001" in {s.id for s in build_plan(federated).steps}


def test_no_step_for_users_that_have_exchange_attributes_or_no_cloud_mailbox() -> None:
    plain = inventory(has_mailbox=False, exchange_guid="")
    assert "identity.remote-mailbox.batch-001" not in {s.id for s in build_plan(plain).steps}


def test_a_cloud_mailbox_without_exchangeguid_is_an_error() -> None:
    inv = inventory(exchange_guid="")
    findings = plan_findings(inv, match_identities(inv))
    assert ("identity.remote-mailbox-no-guid", Severity.ERROR) in {
        (f.code, f.severity) for f in findings
    }


def test_contoso_batch_001_gives_its_eight_cloud_mailboxes_a_remote_mailbox() -> None:
    inv = load_inventory(CONTOSO)
    plan = build_plan(inv)
    step = plan.step("identity.remote-mailbox.batch-001")
    assert step.action is not None and step.action.params["rows"] == 8
    verify = render_runbook(
        "t", [plan.step("identity.verify.batch-001")], RunbookContext("c", "d", "dc"), "t"
    )
    assert check_script(verify, ps2=False) == []
    # the cloud object id did not change: another object with the sourceAnchor is a failure
    assert "onPremisesImmutableId eq '" in helper_function("Assert-BatchSynced")
    cloud = {c.user_principal_name: c for c in inv.cloud_users}
    assert cloud["david.jones@contoso.com"].legacy_exchange_dn.startswith("/o=ExchangeLabs/")
    assert cloud["david.jones@contoso.com"].mailbox_type == "UserMailbox"


def test_the_routing_address_is_added_where_the_cloud_lacks_it() -> None:
    # Review M9: the step turns the email address policy off, so no policy stamps
    # alias@<tenant>.mail.onmicrosoft.com; the CSV adds it explicitly and the step reads it back.
    inv = inventory(proxy_addresses=("SMTP:Reception@contoso.com", "smtp:front.desk@contoso.com"))
    match = match_identities(inv)
    (row,) = csv.DictReader(
        io.StringIO(remote_mailbox_csv_text(match.batches[0], make_inventory().tenant))
    )  # type: ignore[arg-type]
    assert row["RemoteRoutingAddress"] == "reception@contoso.mail.onmicrosoft.com"
    assert row["EmailAddresses"].split(";") == [
        "SMTP:Reception@contoso.com",
        "smtp:front.desk@contoso.com",
        f"X500:{LEGACY_DN}",
        "smtp:reception@contoso.mail.onmicrosoft.com",
    ]
    body = helper_function("Enable-BatchRemoteMailbox")
    assert "RemoteRoutingAddress of " in body  # read back, as every address of the row
    assert "foreach ($address in $addresses)" in body


def test_hard_match_preferred_is_decided_by_the_one_matcher() -> None:
    # "One rule, one place": the preference is a matching rule of plan/identity.py's matcher, not a
    # pass over its results in remote_mailbox.py (prefer_hard_match is gone).
    import migrator.plan.remote_mailbox as remote_mailbox

    assert not hasattr(remote_mailbox, "prefer_hard_match")
    (r,) = match_identities(inventory()).results
    assert r.reason.startswith(
        "hard match preferred (a failed soft match would create a second cloud user): "
        "set ImmutableId to '"
    )
    assert "sets the cloud ImmutableId first" in r.fix
    assert "creates its on-premises remote mailbox first" in r.fix
    # Where hard match cannot work the soft match stays, and the batch still creates the mailbox.
    blocked = replace(
        inventory(),
        tenant=replace(make_inventory().tenant, block_hard_match_takeover=True),  # type: ignore[arg-type]
    )
    (soft,) = match_identities(blocked).results
    assert soft.method is MatchMethod.SOFT_SMTP and not soft.set_immutable_id
    assert "creates its on-premises remote mailbox first" in soft.fix
