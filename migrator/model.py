"""The domain model: an Exchange organisation as the loaders found it.

Plain frozen dataclasses and enums. This module knows nothing of files,
PowerShell, Excel or graphs; every other layer speaks in these types.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from migrator.iprange import IPRange

if TYPE_CHECKING:
    from migrator.client_access import (
        AutodiscoverScp,
        ClientAccessArray,
        OrganizationConfig,
        OutlookAnywhere,
        VirtualDirectory,
    )
    from migrator.mailboxes import Mailbox, MailboxDatabase, MailboxLink, MovesPolicy
    from migrator.public_folders import MailPublicFolder, PublicFolder, PublicFolderDatabase

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# --------------------------------------------------------------------------- locations, findings


@dataclass(frozen=True, order=True, slots=True)
class Location:
    """Where a value came from: a file and, where known, a row, column, element or key path."""

    file: str
    """Path of the file as the user named it (relative to the inventory folder where possible)."""
    row: int | None = None
    """1-based data row (CSV and sheet rows count the header as row 1, as a spreadsheet shows them)."""
    column: str | None = None
    """Column or property name."""
    element: str | None = None
    """CliXML element or object (e.g. ``object 3``) or a YAML key path (``policy.targets[0]``)."""

    def __str__(self) -> str:
        parts = [self.file]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.element:
            parts.append(self.element)
        if self.column:
            parts.append(f"column '{self.column}'")
        return ", ".join(parts)


class Severity(enum.Enum):
    """How bad a finding is; ``error`` stops ``plan``."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for errors, 1 for warnings, 2 for infos (sort key)."""
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a check noticed, with where it is and how to fix it."""

    severity: Severity
    """Error, warning or info."""
    code: str
    """Stable machine-readable code, e.g. ``relay.open-relay``."""
    where: str
    """The object or file location the finding is about."""
    message: str
    """What is wrong, lower case, no trailing period."""
    fix: str = ""
    """How to fix it (empty where nothing needs doing)."""

    def sort_key(self) -> tuple[int, str, str, str]:
        """Sort errors first, then by location, code and message."""
        return (self.severity.rank, self.where, self.code, self.message)


# --------------------------------------------------------------------------- enums


class ExchangeVersion(enum.Enum):
    """Major Exchange version."""

    EX2010 = "2010"
    EX2013 = "2013"
    EX2016 = "2016"
    EX2019 = "2019"
    SE = "SE"

    @property
    def label(self) -> str:
        """Human name, e.g. ``Exchange 2016`` or ``Exchange SE``."""
        return f"Exchange {self.value}"


class ServerRole(enum.Enum):
    """Exchange server roles (2010 names; 2016+ servers are Mailbox or Edge)."""

    MAILBOX = "Mailbox"
    CLIENT_ACCESS = "ClientAccess"
    HUB_TRANSPORT = "HubTransport"
    UNIFIED_MESSAGING = "UnifiedMessaging"
    EDGE = "Edge"


class Lifecycle(enum.Enum):
    """Whether a server is being migrated away from or to."""

    LEGACY = "legacy"
    TARGET = "target"


class TransportRole(enum.Enum):
    """The transport service a receive connector belongs to (2013+)."""

    HUB = "HubTransport"
    FRONTEND = "FrontendTransport"


class AcceptedDomainType(enum.Enum):
    """Accepted domain type as Exchange names it."""

    AUTHORITATIVE = "Authoritative"
    INTERNAL_RELAY = "InternalRelay"
    EXTERNAL_RELAY = "ExternalRelay"


class RelayMethod(enum.Enum):
    """How a relay connector lets clients send outside (EXCHANGE-RULES, two ways to relay)."""

    ANONYMOUS = "anonymous"
    """AnonymousUsers + Ms-Exch-SMTP-Accept-Any-Recipient for ANONYMOUS LOGON (default, more secure)."""
    EXTERNALLY_SECURED = "externally-secured"
    """ExternalAuthoritative + ExchangeServers (bypasses anti-spam and size limits)."""


class SourceAnchor(enum.Enum):
    """The attribute Entra Connect uses as sourceAnchor."""

    OBJECT_GUID = "objectGUID"
    CONSISTENCY_GUID = "mS-DS-ConsistencyGuid"


class MailFlowTarget(enum.Enum):
    """Where MX points after the cut-over."""

    EXCHANGE_ONLINE = "exchange-online"
    ON_PREMISES = "on-premises"
    GATEWAY = "gateway"


# --------------------------------------------------------------------------- organisation


@dataclass(frozen=True)
class Site:
    """An Active Directory site."""

    name: str
    """Site name as AD shows it."""
    subnets: tuple[IPRange, ...] = ()
    """Subnets assigned to the site, where known."""


@dataclass(frozen=True)
class Server:
    """An Exchange server, old or new."""

    name: str
    """NetBIOS name (``EX10-01``)."""
    version: ExchangeVersion
    """Major version."""
    lifecycle: Lifecycle
    """Legacy (migrated away from) or target (migrated to)."""
    site: str = ""
    """AD site name."""
    fqdn: str = ""
    """Fully qualified name."""
    build: str = ""
    """Build number: for 2010 the ``ExSetup.exe`` file version (shows the update rollup), e.g. ``14.3.513.0``."""
    operating_system: str = ""
    """Operating system, e.g. ``Windows Server 2012 R2``."""
    roles: frozenset[ServerRole] = frozenset()
    """Installed roles."""
    ip_addresses: tuple[IPAddress, ...] = ()
    """The server's own addresses (IPv4 and IPv6)."""
    hybrid: bool = False
    """Whether the server is (or will be) the hybrid server."""
    source: Location | None = field(default=None, compare=False)
    """Where the server was defined."""

    @functools.cached_property
    def has_ipv6(self) -> bool:
        """Whether the server has a global or unique-local IPv6 address."""
        return any(a.version == 6 and not a.is_link_local for a in self.ip_addresses)

    @property
    def is_edge(self) -> bool:
        """Whether the server is an Edge Transport server."""
        return ServerRole.EDGE in self.roles


@dataclass(frozen=True, slots=True)
class Binding:
    """A receive connector's local binding (``0.0.0.0:25``, ``[::]:25``)."""

    address: IPAddress
    """Local address; ``0.0.0.0`` or ``::`` mean all."""
    port: int
    """TCP port."""

    @classmethod
    def parse(cls, text: str) -> Binding:
        """Parse ``0.0.0.0:25`` or ``[::]:25``; raise ``ValueError`` otherwise."""
        raw = text.strip()
        if raw.startswith("["):
            addr, _, port = raw[1:].partition("]:")
        else:
            addr, _, port = raw.rpartition(":")
        if not addr or not port.isdigit():
            raise ValueError(
                f"'{raw}' is not a binding; expected address:port such as 0.0.0.0:25 or [::]:25"
            )
        number = int(port)
        if not 0 < number < 65536:
            raise ValueError(f"'{raw}' has port {number}; expected a port from 1 to 65535")
        return cls(ipaddress.ip_address(addr), number)

    @property
    def is_any(self) -> bool:
        """Whether the binding is to all addresses of its family."""
        return int(self.address) == 0

    def __str__(self) -> str:
        return _binding_text(self.address, self.port)


@functools.lru_cache(maxsize=1024)
def _binding_text(address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> str:
    """:meth:`Binding.__str__` (cached: every planned connector binds the same few, 30,000 times at the largest)."""
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


@dataclass(frozen=True, slots=True)
class ReceiveConnector:
    """A receive connector as ``Get-ReceiveConnector`` shows it."""

    server: str
    """Server name (the part of the identity before the backslash)."""
    name: str
    """Connector name."""
    bindings: tuple[Binding, ...]
    """Local bindings."""
    remote_ip_ranges: tuple[IPRange, ...]
    """RemoteIPRanges as written in the export (not merged)."""
    auth_mechanism: tuple[str, ...] = ()
    """AuthMechanism flags, e.g. ``('Tls', 'ExternalAuthoritative')``; ``()`` means None."""
    permission_groups: tuple[str, ...] = ()
    """PermissionGroups flags, e.g. ``('AnonymousUsers',)``; ``()`` means None."""
    transport_role: TransportRole | None = None
    """TransportRole on 2013+; None on 2010 (the parameter does not exist there)."""
    max_message_size_bytes: int | None = None
    """MaxMessageSize in bytes; None when unknown or Unlimited."""
    fqdn: str = ""
    """Fqdn the connector announces."""
    tls_certificate_name: str = ""
    """TlsCertificateName (``<I>issuer<S>subject``), 2013+ only."""
    tls_domain_capabilities: tuple[str, ...] = ()
    """TlsDomainCapabilities, e.g. what the HCW sets on Default Frontend."""
    enabled: bool = True
    """Whether the connector is enabled."""
    protocol_logging_level: str = "None"
    """ProtocolLoggingLevel: None or Verbose."""
    comment: str = ""
    """Comment, where the admin wrote one."""
    source: Location | None = field(default=None, compare=False)
    """Where the connector was read."""

    @property
    def identity(self) -> str:
        """``SERVER\\Name``, Exchange's identity of a receive connector."""
        return f"{self.server}\\{self.name}"


@dataclass(frozen=True)
class ADPermission:
    """One access control entry from ``Get-ADPermission`` on a receive connector."""

    identity: str
    """The connector's identity (``SERVER\\Name``)."""
    user: str
    """Trustee, e.g. ``NT AUTHORITY\\ANONYMOUS LOGON``."""
    extended_rights: tuple[str, ...] = ()
    """Extended rights, e.g. ``('Ms-Exch-SMTP-Accept-Any-Recipient',)``."""
    access_rights: tuple[str, ...] = ()
    """Access rights, e.g. ``('ExtendedRight',)``."""
    deny: bool = False
    """True for a Deny entry."""
    inherited: bool = False
    """True when inherited from a parent object."""
    source: Location | None = field(default=None, compare=False)
    """Where the entry was read."""


@dataclass(frozen=True)
class AcceptedDomain:
    """An accepted domain."""

    name: str
    """Display name of the accepted domain object."""
    domain_name: str
    """The SMTP domain (``contoso.com``, ``*.contoso.com`` or ``*``)."""
    domain_type: AcceptedDomainType
    """Authoritative, InternalRelay or ExternalRelay."""
    default: bool = False
    """Whether it is the default domain."""
    source: Location | None = field(default=None, compare=False)
    """Where it was read."""


@dataclass(frozen=True)
class SendConnector:
    """A send connector."""

    name: str
    """Connector name."""
    address_spaces: tuple[str, ...]
    """Address spaces (``SMTP:*;1`` style as Exchange shows them, or bare domains)."""
    source_transport_servers: tuple[str, ...]
    """Server names that send through it."""
    smart_hosts: tuple[str, ...] = ()
    """Smart hosts, empty for DNS routing."""
    enabled: bool = True
    """Whether it is enabled."""
    fqdn: str = ""
    """Fqdn announced in HELO."""
    cloud_services_mail_enabled: bool = False
    """True on the hybrid send connector (``Outbound to Office 365``)."""
    tls_certificate_name: str = ""
    """TlsCertificateName, where set."""
    max_message_size_bytes: int | None = None
    """MaxMessageSize in bytes."""
    source: Location | None = field(default=None, compare=False)
    """Where it was read."""

    @property
    def is_hybrid(self) -> bool:
        """Whether this is the hybrid (Exchange Online) send connector."""
        return self.cloud_services_mail_enabled or any(
            "mail.onmicrosoft.com" in a.lower() for a in self.address_spaces
        )

    @property
    def is_internet(self) -> bool:
        """Whether it carries mail for all domains (``*``)."""
        return any(a.split(":")[-1].split(";")[0].strip() == "*" for a in self.address_spaces)


@dataclass(frozen=True)
class Certificate:
    """An Exchange certificate as ``Get-ExchangeCertificate`` shows it."""

    server: str
    """Server the certificate is installed on."""
    thumbprint: str
    """SHA-1 thumbprint."""
    subject: str
    """Subject (``CN=mail.contoso.com, ...``)."""
    issuer: str
    """Issuer."""
    subject_alternative_names: tuple[str, ...] = ()
    """DNS names (SAN list, ``CertificateDomains``)."""
    not_after: dt.date | None = None
    """Expiry date."""
    services: tuple[str, ...] = ()
    """Services the certificate is enabled for (``SMTP``, ``IIS``...)."""
    self_signed: bool = False
    """IsSelfSigned."""
    source: Location | None = field(default=None, compare=False)
    """Where it was read."""


@dataclass(frozen=True)
class LoadBalancer:
    """A load balancer in front of Exchange SMTP."""

    name: str
    """Name."""
    virtual_addresses: tuple[IPAddress, ...]
    """Virtual addresses clients connect to."""
    source_nat: bool
    """True when it replaces the client's address with its own (SNAT)."""
    servers: tuple[str, ...] = ()
    """Exchange servers behind it."""
    snat_addresses: tuple[IPAddress, ...] = ()
    """Addresses it uses as source when it source-NATs (defaults to the virtual addresses)."""
    ports: tuple[int, ...] = (25,)
    """Ports it balances."""


@dataclass(frozen=True)
class NatRule:
    """A firewall rule that delivers Internet SMTP to an inside address."""

    name: str
    """Name."""
    public_address: IPAddress | None
    """Outside address (where MX points), if known."""
    inside_address: IPAddress
    """Address the connection appears to come from, or is delivered to, inside."""
    source_nat: bool = True
    """True when Internet senders appear inside as ``inside_address`` (the dangerous case)."""
    port: int = 25
    """Port."""


@dataclass(frozen=True)
class MxRecord:
    """One MX record."""

    host: str
    """Mail exchanger host name."""
    preference: int
    """MX preference."""
    ttl_seconds: int
    """TTL in seconds."""


@dataclass(frozen=True)
class DnsZone:
    """The mail-related DNS records of one domain."""

    domain: str
    """Domain name."""
    mx: tuple[MxRecord, ...] = ()
    """MX records."""
    spf: str = ""
    """The SPF TXT record, empty where there is none."""
    spf_ttl_seconds: int | None = None
    """TTL of the SPF record."""
    gateway: str = ""
    """Name of a gateway or firewall that MX points at, where MX does not point at Exchange."""


@dataclass(frozen=True)
class TransportConfig:
    """Organisation-wide transport limits (``Get-TransportConfig``)."""

    max_send_size_bytes: int | None = 10 * 1024 * 1024
    """MaxSendSize."""
    max_receive_size_bytes: int | None = 10 * 1024 * 1024
    """MaxReceiveSize."""


# --------------------------------------------------------------------------- identities


def primary_smtp(proxy_addresses: tuple[str, ...]) -> str:
    """The address of the ``SMTP:`` (capital: primary) proxyAddress, lower-cased; empty where none."""
    for p in proxy_addresses:
        if p.startswith("SMTP:"):
            return p[5:].lower()
    return ""


@dataclass(frozen=True, slots=True)
class OnPremUser:
    """An on-premises AD user (``Get-ADUser`` plus Exchange attributes)."""

    distinguished_name: str
    """DistinguishedName."""
    sam_account_name: str
    """sAMAccountName."""
    object_guid: str
    """objectGUID as a canonical lower-case GUID string."""
    user_principal_name: str = ""
    """userPrincipalName."""
    mail: str = ""
    """mail attribute."""
    proxy_addresses: tuple[str, ...] = ()
    """proxyAddresses exactly as stored (``SMTP:`` primary, ``smtp:`` secondary, ``X500:``...)."""
    consistency_guid: str = ""
    """mS-DS-ConsistencyGuid as a canonical GUID string, empty where unset."""
    recipient_type_details: str = ""
    """msExchRecipientTypeDetails as a name (``UserMailbox``, ``RemoteUserMailbox``...) or number."""
    exchange_guid: str = ""
    """msExchMailboxGuid as a canonical GUID string."""
    target_address: str = ""
    """targetAddress (``SMTP:user@tenant.mail.onmicrosoft.com`` for remote mailboxes)."""
    enabled: bool = True
    """Whether the account is enabled."""
    source: Location | None = field(default=None, compare=False)
    """Where it was read."""

    @property
    def primary_smtp(self) -> str:
        """The ``SMTP:`` proxyAddress without prefix, lower-cased; empty where none."""
        return primary_smtp(self.proxy_addresses)

    @property
    def has_mailbox(self) -> bool:
        """Whether the user has an on-premises mailbox (not a remote mailbox)."""
        rtd = self.recipient_type_details
        return rtd in {
            "UserMailbox",
            "1",
            "SharedMailbox",
            "4",
            "RoomMailbox",
            "16",
            "EquipmentMailbox",
            "32",
        }


@dataclass(frozen=True, slots=True)
class CloudUser:
    """A Microsoft Entra / Exchange Online user (``Get-MgUser``)."""

    id: str
    """Entra object id."""
    user_principal_name: str
    """userPrincipalName."""
    mail: str = ""
    """mail."""
    proxy_addresses: tuple[str, ...] = ()
    """proxyAddresses."""
    immutable_id: str = ""
    """OnPremisesImmutableId (base64), empty where unset."""
    on_premises_sync_enabled: bool = False
    """OnPremisesSyncEnabled."""
    admin_roles: tuple[str, ...] = ()
    """Directory roles the user holds (admin roles block matching)."""
    has_mailbox: bool = False
    """Whether an Exchange Online mailbox exists."""
    exchange_guid: str = ""
    """ExchangeGuid of the cloud mailbox."""
    archive_guid: str = ""
    """ArchiveGuid of the cloud mailbox, empty where it has no archive."""
    legacy_exchange_dn: str = ""
    """LegacyExchangeDN of the cloud mailbox (an on-premises ``X500:`` address keeps replies working)."""
    mailbox_type: str = ""
    """RecipientTypeDetails of the cloud mailbox: UserMailbox, SharedMailbox, RoomMailbox, EquipmentMailbox."""
    source: Location | None = field(default=None, compare=False)
    """Where it was read."""

    @property
    def primary_smtp(self) -> str:
        """Primary SMTP address, lower-cased (the mail attribute where no ``SMTP:`` is set)."""
        return primary_smtp(self.proxy_addresses) or self.mail.lower()


class RecipientKind(enum.Enum):
    """What kind of mail-enabled object an on-premises recipient is (from RecipientTypeDetails)."""

    MAILBOX = "mailbox"
    """A mailbox of any type on-premises (user, shared, room, equipment, linked)."""
    REMOTE_MAILBOX = "remote mailbox"
    """A remote mailbox: an on-premises mail user whose mailbox is in Exchange Online."""
    MAIL_USER = "mail user"
    """A mail user (external address)."""
    GROUP = "group"
    """A mail-enabled distribution or security group."""
    DYNAMIC_GROUP = "dynamic distribution group"
    """A dynamic distribution group: never synchronised by Entra Connect."""
    CONTACT = "contact"
    """A mail contact."""
    PUBLIC_FOLDER = "mail-enabled public folder"
    """A mail-enabled public folder: synchronised only with Entra Connect's public folder option."""
    OTHER = "other"
    """Anything else that receives mail (system and discovery mailboxes are not listed)."""


@dataclass(frozen=True, slots=True)
class MailRecipient:
    """An on-premises mail-enabled object as ``Get-Recipient`` shows it."""

    name: str
    """Name."""
    recipient_type_details: str
    """RecipientTypeDetails (``UserMailbox``, ``MailUniversalDistributionGroup``, ``PublicFolder``...)."""
    primary_smtp_address: str
    """PrimarySmtpAddress, lower-cased."""
    email_addresses: tuple[str, ...] = ()
    """EmailAddresses as stored (``SMTP:``/``smtp:``/``X500:``...)."""
    distinguished_name: str = ""
    """DistinguishedName (empty for public folders, which live outside AD's OUs)."""
    source: Location | None = field(default=None, compare=False)
    """Where it was read."""

    @property
    def kind(self) -> RecipientKind:
        """The recipient's kind, from its RecipientTypeDetails."""
        return recipient_kind(self.recipient_type_details)

    @property
    def smtp_addresses(self) -> tuple[str, ...]:
        """Every SMTP address (primary first), lower-cased."""
        out = [self.primary_smtp_address] if self.primary_smtp_address else []
        for a in self.email_addresses:
            head, sep, rest = a.partition(":")
            if sep and head.lower() == "smtp" and rest.lower() not in out:
                out.append(rest.lower())
        return tuple(out)


_RECIPIENT_KINDS = {
    "usermailbox": RecipientKind.MAILBOX,
    "sharedmailbox": RecipientKind.MAILBOX,
    "roommailbox": RecipientKind.MAILBOX,
    "equipmentmailbox": RecipientKind.MAILBOX,
    "linkedmailbox": RecipientKind.MAILBOX,
    "legacymailbox": RecipientKind.MAILBOX,
    "remoteusermailbox": RecipientKind.REMOTE_MAILBOX,
    "remotesharedmailbox": RecipientKind.REMOTE_MAILBOX,
    "remoteroommailbox": RecipientKind.REMOTE_MAILBOX,
    "remoteequipmentmailbox": RecipientKind.REMOTE_MAILBOX,
    "mailuser": RecipientKind.MAIL_USER,
    "mailuniversaldistributiongroup": RecipientKind.GROUP,
    "mailuniversalsecuritygroup": RecipientKind.GROUP,
    "mailnonuniversalgroup": RecipientKind.GROUP,
    "roomlist": RecipientKind.GROUP,
    "dynamicdistributiongroup": RecipientKind.DYNAMIC_GROUP,
    "mailcontact": RecipientKind.CONTACT,
    "publicfolder": RecipientKind.PUBLIC_FOLDER,
}


def recipient_kind(recipient_type_details: str) -> RecipientKind:
    """The kind of a RecipientTypeDetails name (any case); OTHER where not known."""
    return _RECIPIENT_KINDS.get(recipient_type_details.strip().lower(), RecipientKind.OTHER)


@dataclass(frozen=True)
class Tenant:
    """The Microsoft 365 tenant."""

    initial_domain: str = ""
    """``contoso.onmicrosoft.com``."""
    verified_domains: tuple[str, ...] = ()
    """Verified domains."""
    federated_domains: tuple[str, ...] = ()
    """Federated domains (subset of verified)."""
    mx_hosts: tuple[tuple[str, str], ...] = ()
    """(domain, Exchange Online MX host) pairs as the tenant reports them; never computed."""
    source_anchor: SourceAnchor = SourceAnchor.CONSISTENCY_GUID
    """sourceAnchor attribute of the Entra Connect installation."""
    soft_match_upn: bool = True
    """Whether soft match on UPN is enabled."""
    block_soft_match: bool = False
    """BlockSoftMatchEnabled."""
    block_hard_match_takeover: bool = False
    """BlockCloudObjectTakeoverThroughHardMatchEnabled."""

    def mx_host(self, domain: str) -> str:
        """The Exchange Online MX host for a domain, empty where the tenant did not report one."""
        for d, host in self.mx_hosts:
            if d.lower() == domain.lower():
                return host
        return ""


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class RelayOverride:
    """A per-connector override of the relay plan, from ``inventory.yaml``."""

    connector: str
    """Identity of the 2010 connector (``SERVER\\Name``) or its name."""
    method: RelayMethod | None = None
    """Relay method for this connector."""
    target_servers: tuple[str, ...] = ()
    """Target servers that should serve it (instead of the site policy)."""
    name: str = ""
    """Name of the new connector."""
    add_ranges: tuple[IPRange, ...] = ()
    """Ranges to add."""
    remove_ranges: tuple[IPRange, ...] = ()
    """Ranges to drop."""
    migrate: bool | None = None
    """Force migrating (True, e.g. a disabled connector) or skipping (False)."""


@dataclass(frozen=True)
class RemainingClient:
    """A non-Exchange SMTP client accepted in a 2010 server's logs when the server is removed."""

    remote_range: IPRange
    """The client's address or range."""
    server: str = ""
    """The 2010 server it applies to; empty for every one."""
    reason: str = ""
    """Why it may remain (printed by the step), e.g. ``monitoring probe, retired with the server``."""


@dataclass(frozen=True)
class RemainingClientAccess:
    """A client of a 2010 server's client access (IIS, RPC Client Access) accepted when the server is removed."""

    reason: str
    """Why it may remain (shown in the decommission step), e.g. ``load balancer probe, removed with the server``."""
    server: str = ""
    """The 2010 server it applies to; empty for every one."""
    protocol: str = ""
    """The protocol as the evidence names it (``OWA``, ``RPC/HTTP``...); empty for every one."""
    user: str = ""
    """The user (``CONTOSO\\jdoe``, ``jdoe@contoso.com`` or ``jdoe``: compared on the name part); empty for any."""
    remote_range: IPRange | None = None
    """The client's address or range; None for any."""


SOAK_DAYS_DEFAULT = 33
"""Days a disabled 2010 relay connector stays before it is removed: at least 30, and any 33-day
stretch, whenever it starts, holds a whole last day of a month and the whole first day of the next
(32 days do not: 28 February 00:01 to 1 April 00:01), so month-end jobs show up."""


@dataclass(frozen=True)
class MaintenanceWindow:
    """A recurring weekly window in which changes may run."""

    weekday: int
    """0 = Monday ... 6 = Sunday."""
    start: dt.time
    """Start time."""
    end: dt.time
    """End time (may be past midnight: then end < start)."""


@dataclass(frozen=True)
class Policy:
    """How the migration should be planned."""

    targets_by_site: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(site, target servers) that take over relay for that site's legacy servers."""
    relay_method: RelayMethod = RelayMethod.ANONYMOUS
    """Default relay method."""
    relay_name_pattern: str = "Relay {name}"
    """Name of the new connector; ``{name}`` is the 2010 name, ``{server}`` the new server."""
    overrides: tuple[RelayOverride, ...] = ()
    """Per-connector overrides."""
    public_ranges: tuple[IPRange, ...] = ()
    """Public address space the organisation owns (allowed in relay ranges)."""
    maintenance_windows: tuple[MaintenanceWindow, ...] = ()
    """Weekly maintenance windows."""
    start_date: dt.date | None = None
    """First day of the plan (the plan never reads the clock)."""
    final_version: ExchangeVersion = ExchangeVersion.SE
    """The version the migration ends on."""
    mail_flow_target: MailFlowTarget = MailFlowTarget.EXCHANGE_ONLINE
    """Where MX points after the cut-over."""
    observation_days: int = 14
    """How long to watch the old relay connectors before removing them."""
    identity_batch_size: int = 500
    """Users per identity batch."""
    sync_scope_ou: str = ""
    """OU that Entra Connect syncs, where users are moved to start matching."""
    domain_controller: str = ""
    """Domain controller to pin for read-back."""
    smtp_alias: str = ""
    """One DNS alias all relay clients use (``smtp.contoso.com``); empty with per-site aliases."""
    site_smtp_aliases: tuple[tuple[str, str], ...] = ()
    """(AD site, DNS alias) pairs: each site's relay clients use their own alias (``relay.smtp_alias``
    as a mapping), which reaches only the servers that take over that site's relay connectors."""
    log_days_wanted: int = 30
    """How many days of protocol log evidence are wanted."""
    mx_keep_route: tuple[str, ...] = ()
    """Mail domains (lower-case) whose inbound route the MX phase leaves as it is."""
    client_namespace: tuple[str, ...] = ()
    """Client access host names (``mail.contoso.com``, ``autodiscover.contoso.com``) the new servers serve."""
    soak_days: int = SOAK_DAYS_DEFAULT
    """Days between disabling a 2010 relay connector and removing it (see :data:`SOAK_DAYS_DEFAULT`)."""
    remaining_clients: tuple[RemainingClient, ...] = ()
    """Non-Exchange clients accepted in a 2010 server's logs at its removal (``plan.remaining_clients``)."""
    public_folder_mailbox_gb: float = 10.0
    """Byte cap (GB) of one public folder mailbox in migrator's map forecast (``plan.public_folder_mailbox_gb``):
    migrator's choice, a tenth of the 100 GB limit per public folder mailbox, room to grow."""
    remaining_client_access: tuple[RemainingClientAccess, ...] = ()
    """Client-access clients accepted at a 2010 server's removal (``plan.remaining_client_access``)."""
    holidays: tuple[dt.date, ...] = ()
    """Public holidays (``plan.holidays``, sorted): no business days, so the day the scheduler keeps
    between cut-overs of two classes is never one of them (review 5, n5)."""

    def smtp_alias_for(self, site: str) -> str:
        """The DNS alias the relay clients of ``site`` use: the org-wide one, the site's own, or ''."""
        if self.smtp_alias.strip():
            return self.smtp_alias.strip()
        low = site.lower()
        return next((a for s, a in self.site_smtp_aliases if s.lower() == low and low), "")

    @property
    def smtp_aliases(self) -> tuple[str, ...]:
        """Every SMTP alias of the relay clients (the org-wide one or each site's), sorted."""
        if self.smtp_alias.strip():
            return (self.smtp_alias.strip(),)
        return tuple(sorted({a for _s, a in self.site_smtp_aliases}, key=str.lower))


# --------------------------------------------------------------------------- inventory


@dataclass(frozen=True)
class Inventory:
    """Everything known about the organisation, as loaded and normalised."""

    organisation: str
    """Organisation name."""
    root: str = ""
    """Folder or file the inventory was loaded from."""
    sites: tuple[Site, ...] = ()
    """AD sites."""
    servers: tuple[Server, ...] = ()
    """Exchange servers, legacy and target."""
    receive_connectors: tuple[ReceiveConnector, ...] = ()
    """Receive connectors on all servers (legacy and those already on targets)."""
    ad_permissions: tuple[ADPermission, ...] = ()
    """AD permissions on receive connectors."""
    accepted_domains: tuple[AcceptedDomain, ...] = ()
    """Accepted domains."""
    send_connectors: tuple[SendConnector, ...] = ()
    """Send connectors."""
    certificates: tuple[Certificate, ...] = ()
    """Exchange certificates."""
    load_balancers: tuple[LoadBalancer, ...] = ()
    """Load balancers in front of SMTP."""
    nat_rules: tuple[NatRule, ...] = ()
    """Firewall NAT rules delivering Internet SMTP inside."""
    dns_zones: tuple[DnsZone, ...] = ()
    """DNS zones (MX, SPF)."""
    transport_config: TransportConfig = TransportConfig()
    """Organisation-wide limits."""
    onprem_users: tuple[OnPremUser, ...] = ()
    """On-premises AD users."""
    cloud_users: tuple[CloudUser, ...] = ()
    """Cloud users."""
    mail_recipients: tuple[MailRecipient, ...] | None = None
    """On-premises mail-enabled objects (Get-Recipient); None where the inventory has no such export."""
    tenant: Tenant | None = None
    """Tenant, where hybrid/cloud is in scope."""
    policy: Policy = Policy()
    """Planning policy."""
    host_names: tuple[tuple[str, str], ...] = ()
    """(address or range text, host name) of known relay clients."""
    load_findings: tuple[Finding, ...] = ()
    """Warnings and infos the loaders produced (errors raise instead)."""
    mailboxes: tuple[Mailbox, ...] = ()
    """Mailboxes on the legacy databases (Get-Mailbox, -Arbitration, with statistics)."""
    mailbox_databases: tuple[MailboxDatabase, ...] = ()
    """Mailbox databases (Get-MailboxDatabase -Status)."""
    mailbox_links: tuple[MailboxLink, ...] = ()
    """FullAccess, Send As, Send on Behalf and calendar rights between mailboxes."""
    moves: MovesPolicy | None = None
    """``moves:`` of inventory.yaml (None: the defaults of :class:`MovesPolicy`)."""
    virtual_directories: tuple[VirtualDirectory, ...] = ()
    """Virtual directories of every server (Get-*VirtualDirectory -ADPropertiesOnly)."""
    outlook_anywhere: tuple[OutlookAnywhere, ...] = ()
    """Outlook Anywhere settings per server."""
    autodiscover_scps: tuple[AutodiscoverScp, ...] = ()
    """Autodiscover SCP per Client Access server."""
    client_access_arrays: tuple[ClientAccessArray, ...] = ()
    """Exchange 2010 Client Access arrays."""
    organization_config: OrganizationConfig | None = None
    """Get-OrganizationConfig values (None: not exported)."""
    public_folder_databases: tuple[PublicFolderDatabase, ...] = ()
    """2010 public folder databases (Get-PublicFolderDatabase); empty: no public folder steps."""
    public_folders: tuple[PublicFolder, ...] = ()
    """Legacy public folders in tree order (root first, children by name), sizes joined."""
    mail_public_folders: tuple[MailPublicFolder, ...] = ()
    """Mail-enabled public folders (Get-MailPublicFolder)."""

    def server(self, name: str) -> Server | None:
        """The server of that name (case-insensitive), or None."""
        return self._servers_by_name.get(name.lower())

    @functools.cached_property
    def _servers_by_name(self) -> dict[str, Server]:
        # the first of a name, as a scan would find it (asked once per planned connector)
        out: dict[str, Server] = {}
        for s in self.servers:
            out.setdefault(s.name.lower(), s)
        return out

    @property
    def legacy_servers(self) -> tuple[Server, ...]:
        """Servers being migrated away from."""
        return tuple(s for s in self.servers if s.lifecycle is Lifecycle.LEGACY)

    @property
    def target_servers(self) -> tuple[Server, ...]:
        """Servers being migrated to."""
        return tuple(s for s in self.servers if s.lifecycle is Lifecycle.TARGET)

    def connectors_on(self, server: str) -> tuple[ReceiveConnector, ...]:
        """Receive connectors of one server."""
        low = server.lower()
        return tuple(c for c in self.receive_connectors if c.server.lower() == low)

    def permissions_for(self, identity: str) -> tuple[ADPermission, ...]:
        """AD permissions on one connector identity (case-insensitive)."""
        return self._permissions_by_identity.get(identity.lower(), ())

    @functools.cached_property
    def _permissions_by_identity(self) -> dict[str, tuple[ADPermission, ...]]:
        # in inventory order per identity (asked once per 2010 relay connector)
        out: dict[str, list[ADPermission]] = {}
        for p in self.ad_permissions:
            out.setdefault(p.identity.lower(), []).append(p)
        return {key: tuple(found) for key, found in out.items()}
