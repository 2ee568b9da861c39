"""Mailboxes, their databases and the permission links between them (domain model of the moves).

Plain frozen dataclasses, like :mod:`migrator.model` (which holds them in the
:class:`~migrator.model.Inventory`). Nothing here knows files or PowerShell.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from migrator.model import Location


class MailboxKind(enum.Enum):
    """What a mailbox is (from RecipientTypeDetails, or Get-Mailbox -Arbitration)."""

    USER = "user"
    SHARED = "shared"
    ROOM = "room"
    EQUIPMENT = "equipment"
    LINKED = "linked"
    DISCOVERY = "discovery"
    LEGACY = "legacy"
    ARBITRATION = "arbitration"


RECIPIENT_TYPES: dict[str, MailboxKind] = {
    "usermailbox": MailboxKind.USER,
    "sharedmailbox": MailboxKind.SHARED,
    "roommailbox": MailboxKind.ROOM,
    "equipmentmailbox": MailboxKind.EQUIPMENT,
    "linkedmailbox": MailboxKind.LINKED,
    "discoverymailbox": MailboxKind.DISCOVERY,
    "legacymailbox": MailboxKind.LEGACY,
    "arbitrationmailbox": MailboxKind.ARBITRATION,
}
"""Lower-case RecipientTypeDetails of Exchange 2010 -> kind."""

MIGRATION_MAILBOX = "migration.8f3e7716-2011-43e4-96b1-aba62d229136"
"""Alias/name of the arbitration mailbox migration batches need (moved first)."""


class Right(enum.Enum):
    """A permission that links two mailboxes."""

    FULL_ACCESS = "FullAccess"
    SEND_AS = "SendAs"
    SEND_ON_BEHALF = "SendOnBehalf"
    CALENDAR = "Calendar"

    @property
    def noticed(self) -> str:
        """What the delegate notices while the two mailboxes sit on different sides of a wave."""
        return _NOTICED[self]


_NOTICED = {
    Right.FULL_ACCESS: (
        "the delegate's Outlook opens the other mailbox through the Outlook Anywhere proxy: "
        "auto-mapping may stop, and a restart prompt follows each move"
    ),
    Right.SEND_AS: "Send As keeps working on-premises; the address list may lag a few hours",
    Right.SEND_ON_BEHALF: (
        "Send on Behalf keeps working on-premises; delegate meeting forwarding may lag"
    ),
    Right.CALENDAR: (
        "free/busy and calendar sharing between 2010 and 2016 can show stale data for up to 12 hours"
    ),
}


@dataclass(frozen=True, slots=True)
class Mailbox:
    """One mailbox (user, shared, resource, discovery or arbitration) on a 2010 database."""

    identity: str
    """Identity as Get-Mailbox shows it (``contoso.com/Users/Jane Doe``)."""
    primary_smtp: str
    """Primary SMTP address (lower-case)."""
    kind: MailboxKind
    """What it is."""
    database: str
    """The database it lives on."""
    server: str = ""
    """The server of that database (ServerName)."""
    alias: str = ""
    """Alias."""
    sam_account_name: str = ""
    """SamAccountName (permission exports name trustees DOMAIN\\sam)."""
    distinguished_name: str = ""
    """DN (OU placement)."""
    exchange_guid: str = ""
    """ExchangeGuid (joins Get-MailboxStatistics' MailboxGuid)."""
    archive_guid: str = ""
    """ArchiveGuid; empty without an archive."""
    archive_database: str = ""
    """Archive database; empty without an archive."""
    custom_attributes: tuple[tuple[str, str], ...] = ()
    """(CustomAttributeN lower-case, value) pairs that are set."""
    member_of: tuple[str, ...] = ()
    """Group DNs or names (optional MemberOf column)."""
    size_bytes: int = 0
    """Primary: TotalItemSize + TotalDeletedItemSize."""
    archive_bytes: int = 0
    """Archive: TotalItemSize + TotalDeletedItemSize."""
    item_count: int = 0
    """Items in the primary mailbox."""
    source: Location | None = field(default=None, compare=False)
    """Where it was read."""

    @property
    def has_archive(self) -> bool:
        """Whether it has an on-premises archive."""
        return bool(self.archive_guid or self.archive_database)

    @property
    def total_bytes(self) -> int:
        """Bytes a move copies (primary and archive)."""
        return self.size_bytes + self.archive_bytes

    @property
    def is_migration_mailbox(self) -> bool:
        """Whether it is the Migration.8f3e7716-... arbitration mailbox."""
        low = self.alias.lower() or self.identity.lower()
        return MIGRATION_MAILBOX in low or MIGRATION_MAILBOX in self.identity.lower()


@dataclass(frozen=True, slots=True)
class MailboxDatabase:
    """A mailbox database (Get-MailboxDatabase -Status)."""

    name: str
    """Name."""
    server: str
    """Server hosting its active copy."""
    dag: str = ""
    """DAG name (MasterServerOrAvailabilityGroup when it is a DAG)."""
    copies: int = 1
    """Number of copies (each writes the same logs)."""
    free_bytes: int | None = None
    """Free space on the log volume (LogVolumeFreeBytes), where exported."""
    circular_logging: bool = False
    """CircularLoggingEnabled."""
    rpc_client_access_server: str = ""
    """RpcClientAccessServer (the CAS array or server FQDN RPC/TCP clients use; empty: not exported)."""
    offline_address_book: str | None = None
    """OfflineAddressBook ('' when blank: Exchange's default applies; None: not exported)."""
    source: Location | None = field(default=None, compare=False)
    """Where it was read."""


@dataclass(frozen=True, slots=True)
class MailboxLink:
    """A permission of ``trustee`` on ``mailbox`` (both mailbox identities as the export names them)."""

    mailbox: str
    """The mailbox the right is on."""
    trustee: str
    """Who holds it."""
    right: Right
    """Which right."""
    source: Location | None = field(default=None, compare=False)
    """Where it was read."""


@dataclass(frozen=True)
class OnlineRule:
    """Which mailboxes go to Exchange Online instead of 2016 (any match counts; default none)."""

    ous: tuple[str, ...] = ()
    """DN suffixes (OU=...,DC=...)."""
    groups: tuple[str, ...] = ()
    """Group names or DNs (MemberOf column)."""
    mailboxes: tuple[str, ...] = ()
    """Primary SMTP addresses or aliases."""
    attribute: tuple[str, str] | None = None
    """(CustomAttributeN, value)."""


@dataclass(frozen=True)
class MovesPolicy:
    """``moves:`` in inventory.yaml."""

    target_databases: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(site or 2010 server name, 2016 databases) in the order given."""
    max_mailboxes: int = 250
    """Mailboxes per wave."""
    max_gb: float = 500.0
    """GB per wave."""
    max_per_source_server: int = 100
    """Mailboxes per wave from one source server."""
    max_per_target_database: int = 50
    """Mailboxes per wave into one target database."""
    throughput_gb_per_hour: float = 10.0
    """Assumed copy throughput per source server (an assumption: no Microsoft figure exists)."""
    throughput_by_server: tuple[tuple[str, float], ...] = ()
    """Per-server overrides of the throughput."""
    bad_item_limit: int = 10
    """BadItemLimit of every move (Microsoft recommends at most 10)."""
    pilot: tuple[str, ...] = ()
    """Mailboxes (address or alias) of the pilot wave."""
    pilot_ous: tuple[str, ...] = ()
    """OUs whose mailboxes form the pilot wave when ``pilot`` is empty (IT)."""
    exclude: tuple[str, ...] = ()
    """Mailboxes left out of every wave (each reported)."""
    online: OnlineRule = OnlineRule()
    """Mailboxes that go to Exchange Online."""
    service_account_cap: int = 25
    """A trustee with rights on more mailboxes than this is reported, not used to group waves."""
    waves_per_window: int = 1
    """Waves completed per maintenance window."""
