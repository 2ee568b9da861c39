"""On-premises remote mailboxes for cloud mailboxes that are matched to users without Exchange attributes.

Exchange facts (Microsoft support, "Mailbox exists in Exchange Online and on-premises"
/ hybrid remote mailboxes): when a cloud user that already has an Exchange Online
mailbox is matched to an on-premises user with no Exchange attributes, on-premises
Exchange (authoritative for the domain) has no recipient for it: senders on-premises
get NDRs and the object cannot be managed. Worse, once the user syncs, the
on-premises values (empty) replace the cloud ones, so the cloud addresses are lost.
The fix has to run in the Exchange Management Shell **before the user first syncs**:

- ``Enable-RemoteMailbox -PrimarySmtpAddress <cloud primary> -RemoteRoutingAddress
  <alias>@<tenant>.mail.onmicrosoft.com`` (``-Shared``/``-Room``/``-Equipment`` where
  the cloud mailbox is one);
- every cloud proxy address, plus ``X500:<cloud LegacyExchangeDN>`` (replies to mail
  the cloud mailbox sent and cached recipients resolve through it), the email
  address policy off so Exchange keeps them; with the policy off nothing stamps the
  ``alias@<tenant>.mail.onmicrosoft.com`` routing address as a proxy address (the
  hybrid's policy entry would), so it is added explicitly and read back;
- ``Set-RemoteMailbox -ExchangeGuid <cloud ExchangeGuid>`` (and ``-ArchiveGuid``
  where the cloud mailbox has an archive): without it, moves and the hybrid's
  "one mailbox" checks fail.

A hard match is preferred for these users: a failed soft match would create a
second cloud user, and licensing it a second mailbox. That is a matching rule, so
it lives in the one matcher (``migrator.plan.identity``, with :func:`needs_remote_mailbox`).
"""

from __future__ import annotations

from dataclasses import dataclass

from migrator.model import Finding, Severity, Tenant
from migrator.plan.identity import (
    IdentityBatch,
    IdentityMatch,
    MatchResult,
    needs_remote_mailbox,
    remote_routing_domain,
)

_TYPES = {"sharedmailbox": "Shared", "roommailbox": "Room", "equipmentmailbox": "Equipment"}


@dataclass(frozen=True)
class RemoteMailboxRow:
    """One remote mailbox the identity EMS step creates (a row of its CSV)."""

    result: MatchResult
    """The match it belongs to."""
    primary_smtp_address: str
    """The cloud mailbox's primary SMTP address."""
    remote_routing_address: str
    """``alias@<tenant>.mail.onmicrosoft.com``."""
    mailbox_type: str
    """Regular, Shared, Room or Equipment (the Enable-RemoteMailbox switch)."""
    email_addresses: tuple[str, ...]
    """Every cloud SMTP/X500 proxy address, the X500 of the cloud LegacyExchangeDN and the remote
    routing address (``smtp:alias@<tenant>.mail.onmicrosoft.com``) where the cloud lacks it."""
    exchange_guid: str
    """The cloud mailbox's ExchangeGuid."""
    archive_guid: str
    """The cloud archive's GUID, empty where there is none."""


def remote_mailbox_row(r: MatchResult, tenant: Tenant) -> RemoteMailboxRow:
    """The remote mailbox a matched cloud mailbox needs on-premises."""
    c = r.cloud
    routing_domain = remote_routing_domain(tenant)
    addresses: list[str] = []
    for p in c.proxy_addresses:
        head = p.partition(":")[0].lower()
        if head in ("smtp", "x500") and p not in addresses:
            addresses.append(p)
    if c.legacy_exchange_dn:
        x500 = f"X500:{c.legacy_exchange_dn}"
        if x500.lower() not in {a.lower() for a in addresses}:
            addresses.append(x500)
    routing = next(
        (
            a.partition(":")[2]
            for a in addresses
            if a.lower().endswith("@" + routing_domain) and a.lower().startswith("smtp:")
        ),
        f"{c.primary_smtp.partition('@')[0]}@{routing_domain}",
    )
    # The routing address as a proxy address too, explicitly: the step turns the email address
    # policy off (it would replace the cloud addresses), so no policy stamps it (review M9).
    if f"smtp:{routing}".lower() not in {a.lower() for a in addresses}:
        addresses.append(f"smtp:{routing}")
    primary = next((p[5:] for p in c.proxy_addresses if p.startswith("SMTP:")), c.primary_smtp)
    return RemoteMailboxRow(
        result=r,
        primary_smtp_address=primary,
        remote_routing_address=routing,
        mailbox_type=_TYPES.get(c.mailbox_type.strip().lower(), "Regular"),
        email_addresses=tuple(addresses),
        exchange_guid=c.exchange_guid,
        archive_guid=c.archive_guid,
    )


def remote_mailbox_rows(batch: IdentityBatch, tenant: Tenant) -> list[RemoteMailboxRow]:
    """The remote mailboxes of one batch, in batch order."""
    return [
        remote_mailbox_row(r, tenant)
        for r in batch.results
        if needs_remote_mailbox(r.cloud, r.onprem)
    ]


def remote_mailbox_findings(match: IdentityMatch | None) -> list[Finding]:
    """Matched cloud mailboxes whose remote mailbox the inventory lacks data for."""
    if match is None:
        return []
    out: list[Finding] = []
    for batch in match.batches:
        # (the users, not the results: check makes no result)
        for c, onprem in batch.remote_mailbox_pairs:
            if not c.exchange_guid:
                out.append(
                    Finding(
                        Severity.ERROR,
                        "identity.remote-mailbox-no-guid",
                        c.user_principal_name,
                        f"the cloud mailbox of '{c.user_principal_name}' has no ExchangeGuid in the "
                        f"inventory: the on-premises remote mailbox of '{onprem.distinguished_name}' cannot be "
                        "given it (Set-RemoteMailbox -ExchangeGuid) before the user syncs",
                        fix="export CloudUsers.csv again with Exchange Online PowerShell connected "
                        "(Export-MigratorCloudInventory.ps1 fills ExchangeGuid from Get-EXOMailbox)",
                    )
                )
            elif not c.legacy_exchange_dn:
                out.append(
                    Finding(
                        Severity.WARNING,
                        "identity.remote-mailbox-no-x500",
                        c.user_principal_name,
                        f"the cloud mailbox of '{c.user_principal_name}' has no LegacyExchangeDN in "
                        "the inventory: its remote mailbox gets no X500 address, so replies to mail "
                        "it sent from Exchange Online may bounce",
                        fix="export CloudUsers.csv again with Exchange Online PowerShell connected",
                    )
                )
    return out


__all__ = [
    "RemoteMailboxRow",
    "needs_remote_mailbox",
    "remote_mailbox_findings",
    "remote_mailbox_row",
    "remote_mailbox_rows",
]
