"""Rows the renderers show: plain view models shared by the workbook and the HTML report.

The pipeline builds them once from the relay plan, identity matching and the
inventory; each renderer lays them out its own way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from migrator.model import Finding
from migrator.plan.steps import MigrationPlan
from migrator.tracking.model import CarryOver, CellValue


@dataclass(frozen=True)
class RelayRow:
    """One old relay connector and what replaces it."""

    old_connector: str
    """The 2010 connector, ``SERVER\\Name``."""
    new_connectors: tuple[str, ...]
    """Connectors created for it on the new servers, ``SERVER\\Name``."""
    ranges: tuple[str, ...]
    """Remote IP ranges carried over (as written in the inventory)."""
    method: str
    """How relay is granted (anonymous relay permission, externally secured, authenticated)."""
    findings: tuple[str, ...] = ()
    """Findings about this connector, one line each."""
    kind: str = ""
    """How the 2010 connector was classified (anonymous relay, default, ...)."""
    reason: str = ""
    """Which property decided the classification."""
    evidence: str = ""
    """What the protocol logs showed, where they were scanned."""


@dataclass(frozen=True)
class RelayClientRow:
    """A client (range or address) that relays through a connector."""

    connector: str
    """Connector it uses, ``SERVER\\Name``."""
    address: str
    """IP address, range or CIDR block."""
    host_names: tuple[str, ...] = ()
    """Host names known for it (reverse DNS, inventory)."""
    last_seen: dt.datetime | None = None
    """Last time the scanned protocol logs show it (None where logs were not scanned)."""
    messages: int | None = None
    """Messages seen in the scanned logs (None where logs were not scanned)."""
    note: str = ""
    """Anything else to know (e.g. not seen in logs: candidate to drop)."""


class IdentityRow(NamedTuple):
    """Soft/hard match outcome for one user.

    A named tuple, not a dataclass: one is made per user (300,000 in a large estate), and a
    frozen dataclass costs several times a tuple to make (issue 18).
    """

    user: str
    """User principal name (or the best identifier known)."""
    on_premises: str
    """On-premises object (sAMAccountName or distinguished name)."""
    cloud: str
    """Matching Entra ID object, or empty."""
    outcome: str
    """Match outcome (soft match, hard match, conflict, no match...)."""
    fix: str = ""
    """What to change before synchronisation, or empty."""


@dataclass(frozen=True)
class DnsRow:
    """One DNS record before and after the cut-over."""

    name: str
    """Record name (``contoso.com``)."""
    record_type: str
    """``MX``, ``TXT`` (SPF), ``A``, ``CNAME``..."""
    before: str
    """Value before the change."""
    after: str
    """Value after the change."""
    ttl_before: int | None = None
    """TTL in seconds before (None where unknown)."""
    ttl_after: int | None = None
    """TTL in seconds to set (None where unchanged)."""
    note: str = ""
    """When and why (e.g. lower the TTL two days before)."""


@dataclass(frozen=True)
class WorkbookData:
    """Everything the tracking workbook shows."""

    plan: MigrationPlan
    """The plan: steps in run order and their schedule."""
    findings: Sequence[Finding] = ()
    """Every check finding."""
    relay_rows: Sequence[RelayRow] = ()
    """Old relay connector -> new connectors."""
    relay_client_rows: Sequence[RelayClientRow] = ()
    """Relay clients per connector."""
    identity_rows: Sequence[IdentityRow] = ()
    """Per-user identity match outcome."""
    dns_rows: Sequence[DnsRow] = ()
    """DNS records before and after."""
    carry: CarryOver | None = None
    """Tracking carried over from an old workbook (None for a first plan)."""
    mailbox_rows: Sequence[Sequence[CellValue | None]] = ()
    """Rows of the Mailboxes sheet (``MAILBOX_COLUMNS``; issue 14), empty without mailboxes."""
    max_next_steps: int = 25
    """How many next steps the Overview lists."""
    extra: Mapping[str, str] = field(default_factory=dict)
    """Further Overview facts (label -> value), e.g. the inventory folder."""
