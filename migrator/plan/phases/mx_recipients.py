"""Which on-premises recipients of a domain Exchange Online would reject once MX points at it.

Exchange fact (Microsoft's "Use Directory-Based Edge Blocking to reject
messages sent to invalid recipients"): while an accepted domain is
**Authoritative** in Exchange Online, Directory-Based Edge Blocking rejects
mail to every address of that domain that is not in the cloud directory
("550 5.4.1 Recipient address rejected: Access denied"). Microsoft's advice is
to keep the domain at **InternalRelay** in Exchange Online until every valid
recipient exists there; then unknown recipients go out through the outbound
connector that covers the domain (the hybrid one) to on-premises instead of
being rejected (without such a connector they would loop back through MX).

An on-premises object reaches the cloud directory only by being in Entra
Connect's sync scope and synchronised. Two kinds never get there by sync
scope alone: mail-enabled public folders (only with Entra Connect's
"Exchange Mail Public Folders" option) and dynamic distribution groups (never
synchronised: a mail contact with the same address in Exchange Online is the
workaround).
"""

from __future__ import annotations

from dataclasses import dataclass

from migrator.model import Inventory, MailRecipient, RecipientKind

# Recipients nobody outside sends to (Get-Recipient lists the discovery mailbox).
_NOT_ADDRESSED = frozenset({"discoverymailbox"})


@dataclass(frozen=True)
class Blocker:
    """An on-premises recipient Exchange Online would not know after the MX change."""

    recipient: MailRecipient
    """The recipient."""
    reason: str
    """Why it is not in the cloud directory (lower case, no trailing period)."""
    workaround: str
    """What brings it there (or keeps mail for it flowing)."""

    def describe(self) -> str:
        """``'reception.london@contoso.com' (SharedMailbox): not in sync scope ...``."""
        r = self.recipient
        who = r.primary_smtp_address or r.name
        return f"'{who}' ({r.recipient_type_details}): {self.reason}; {self.workaround}"


@dataclass(frozen=True)
class DomainGate:
    """What must be true of one domain's recipients before its MX moves to Exchange Online."""

    domain: str
    """The accepted domain, lower-case."""
    known: bool
    """Whether the inventory lists the on-premises recipients (a Get-Recipient export)."""
    blockers: tuple[Blocker, ...] = ()
    """Recipients Exchange Online would reject, sorted by address."""
    batches: tuple[str, ...] = ()
    """Identity batches (``batch-001``) that bring recipients of the domain into the cloud."""
    addresses: tuple[str, ...] = ()
    """Every address in the domain of the recipients that should be in the cloud directory, sorted."""

    @property
    def needs_internal_relay(self) -> bool:
        """Whether the domain must be InternalRelay in Exchange Online before MX changes."""
        return not self.known or bool(self.blockers)


def _in_scope(dn: str, scope_suffix: str) -> bool:
    return bool(scope_suffix) and dn.lower().endswith(scope_suffix)


def _blocker(r: MailRecipient, ou: str) -> Blocker:
    kind = r.kind
    if kind is RecipientKind.PUBLIC_FOLDER:
        return Blocker(
            r,
            "mail-enabled public folders are synchronised only with Entra Connect's "
            "'Exchange Mail Public Folders' option",
            "turn that option on (then Directory-Based Edge Blocking knows its addresses) or keep "
            "the domain InternalRelay in Exchange Online",
        )
    if kind is RecipientKind.DYNAMIC_GROUP:
        return Blocker(
            r,
            "dynamic distribution groups are never synchronised",
            "create a mail contact with the same address in Exchange Online (its external address "
            "routed on-premises) or keep the domain InternalRelay in Exchange Online",
        )
    where = f"the sync scope OU '{ou}'" if ou else "the sync scope (relay.sync_scope_ou is not set)"
    return Blocker(
        r,
        f"not in {where}, in no identity batch and not synchronised",
        "bring it into the sync scope and let it synchronise, or keep the domain InternalRelay "
        "in Exchange Online",
    )


def domain_gates(
    inv: Inventory, domains: list[str], batch_of: dict[str, str] | None = None
) -> dict[str, DomainGate]:
    """The gate of each domain: its blocking recipients and the identity batches it waits for.

    ``batch_of`` maps lower-cased on-premises DistinguishedNames of users the
    identity batches bring into sync scope to their batch name.
    """
    batch_of = batch_of or {}
    wanted = {d.lower() for d in domains}
    if inv.mail_recipients is None:
        return {d: DomainGate(d, known=False) for d in sorted(wanted)}
    ou = inv.policy.sync_scope_ou
    scope_suffix = ("," + ou.lower()) if ou else ""
    synced_addresses = {
        a.partition(":")[2].lower()
        for c in inv.cloud_users
        if c.on_premises_sync_enabled
        for a in c.proxy_addresses
        if a.lower().startswith("smtp:")
    }
    blockers: dict[str, list[Blocker]] = {d: [] for d in wanted}
    batches: dict[str, set[str]] = {d: set() for d in wanted}
    expected: dict[str, set[str]] = {d: set() for d in wanted}
    for r in inv.mail_recipients:
        if r.recipient_type_details.strip().lower() in _NOT_ADDRESSED:
            continue
        addresses = r.smtp_addresses
        hit = sorted({a.rpartition("@")[2] for a in addresses} & wanted)
        if not hit:
            continue
        kind = r.kind
        dn = r.distinguished_name.lower()
        batch = batch_of.get(dn, "")
        covered = kind not in (RecipientKind.PUBLIC_FOLDER, RecipientKind.DYNAMIC_GROUP) and (
            bool(batch)
            or _in_scope(dn, scope_suffix)
            or (bool(addresses) and addresses[0] in synced_addresses)
        )
        for d in hit:
            if batch:
                batches[d].add(batch)
            if not covered:
                blockers[d].append(_blocker(r, ou))
            else:
                expected[d].update(a for a in addresses if a.endswith("@" + d))
    return {
        d: DomainGate(
            d,
            known=True,
            blockers=tuple(
                sorted(
                    blockers[d],
                    key=lambda b: (b.recipient.primary_smtp_address, b.recipient.name),
                )
            ),
            batches=tuple(sorted(batches[d])),
            addresses=tuple(sorted(expected[d])),
        )
        for d in sorted(wanted)
    }


__all__ = ["Blocker", "DomainGate", "domain_gates"]
