"""Client access: virtual directories, Outlook Anywhere, Autodiscover SCPs, CAS arrays, org config.

Plain frozen dataclasses, like :mod:`migrator.model` (which holds them in the
:class:`~migrator.model.Inventory`), and the few rules over them that several
layers ask about (the shared namespace, the HTTP names). Nothing here knows
files or PowerShell.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from migrator.model import Inventory, Location


class VdirKind(enum.Enum):
    """Which virtual directory (the ``Get-<noun>VirtualDirectory`` that returns it)."""

    OWA = "Owa"
    ECP = "Ecp"
    EWS = "WebServices"
    ACTIVESYNC = "ActiveSync"
    OAB = "Oab"
    MAPI = "Mapi"
    AUTODISCOVER = "Autodiscover"

    @property
    def path(self) -> str:
        """The URL path Exchange gives this directory (empty for Autodiscover: it gets no URLs)."""
        return _PATHS[self]


_PATHS = {
    VdirKind.OWA: "/owa",
    VdirKind.ECP: "/ecp",
    VdirKind.EWS: "/EWS/Exchange.asmx",
    VdirKind.ACTIVESYNC: "/Microsoft-Server-ActiveSync",
    VdirKind.OAB: "/OAB",
    VdirKind.MAPI: "/mapi",
    VdirKind.AUTODISCOVER: "",
}

VDIR_NAMES: dict[str, VdirKind] = {
    "owa": VdirKind.OWA,
    "ecp": VdirKind.ECP,
    "ews": VdirKind.EWS,
    "microsoft-server-activesync": VdirKind.ACTIVESYNC,
    "oab": VdirKind.OAB,
    "mapi": VdirKind.MAPI,
    "autodiscover": VdirKind.AUTODISCOVER,
}
"""Lower-case directory name (``owa`` of ``owa (Default Web Site)``) -> kind."""


def vdir_kind(name: str) -> VdirKind | None:
    """The kind of ``owa (Default Web Site)``, ``EX10-01\\EWS (Default Web Site)``; None if unknown."""
    base = name.split("\\")[-1].split("(")[0].strip().lower()
    return VDIR_NAMES.get(base)


def url_host(url: str) -> str:
    """Lower-case host name of an absolute http(s) URL, or '' for anything else."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in {"http", "https"}:
        return ""
    return (parts.hostname or "").lower()


@dataclass(frozen=True)
class VirtualDirectory:
    """One virtual directory (Get-*VirtualDirectory -ADPropertiesOnly)."""

    server: str
    """Server name (short)."""
    name: str
    """Name, e.g. ``owa (Default Web Site)``."""
    kind: VdirKind
    """Which directory."""
    internal_url: str = ""
    """InternalUrl (empty where not set)."""
    external_url: str = ""
    """ExternalUrl (empty where not set)."""
    internal_authentication: tuple[str, ...] = ()
    """InternalAuthenticationMethods."""
    external_authentication: tuple[str, ...] = ()
    """ExternalAuthenticationMethods."""
    source: Location | None = field(default=None, compare=False)
    """Where it was read."""


@dataclass(frozen=True)
class OutlookAnywhere:
    """Outlook Anywhere (RPC over HTTP) of one server (Get-OutlookAnywhere -ADPropertiesOnly)."""

    server: str
    """Server name (short)."""
    external_hostname: str = ""
    """ExternalHostname (empty: not set)."""
    internal_hostname: str = ""
    """InternalHostname (2013+)."""
    client_authentication: str = ""
    """ClientAuthenticationMethod (2010) or ExternalClientAuthenticationMethod (2013+)."""
    iis_authentication: tuple[str, ...] = ()
    """IISAuthenticationMethods."""
    ssl_offloading: bool = False
    """SSLOffloading."""
    source: Location | None = field(default=None, compare=False)
    """Where it was read."""


@dataclass(frozen=True)
class AutodiscoverScp:
    """The Autodiscover service connection point of one Client Access server."""

    server: str
    """Server name (short)."""
    internal_uri: str
    """AutoDiscoverServiceInternalUri (empty: not set)."""
    source: Location | None = field(default=None, compare=False)
    """Where it was read."""


@dataclass(frozen=True)
class ClientAccessArray:
    """An Exchange 2010 Client Access array (Get-ClientAccessArray)."""

    name: str
    """Name."""
    fqdn: str
    """Fqdn: the name RPC/TCP clients connect to (databases' RpcClientAccessServer)."""
    site: str = ""
    """AD site."""
    source: Location | None = field(default=None, compare=False)
    """Where it was read."""


@dataclass(frozen=True)
class OrganizationConfig:
    """The Get-OrganizationConfig values the plan reads."""

    mapi_http_enabled: bool | None = None
    """MapiHttpEnabled (None: not exported)."""
    public_folders_enabled: str = ""
    """PublicFoldersEnabled (Local, Remote, None; empty: not exported)."""
    public_folders_locked_for_migration: bool | None = None
    """PublicFoldersLockedForMigration."""
    public_folder_migration_complete: bool | None = None
    """PublicFolderMigrationComplete."""
    remote_public_folder_mailboxes: tuple[str, ...] = ()
    """RemotePublicFolderMailboxes."""
    default_public_folder_mailbox: str = ""
    """DefaultPublicFolderMailbox, where the export has it."""
    source: Location | None = field(default=None, compare=False)
    """Where it was read."""


@dataclass(frozen=True)
class Namespace:
    """The shared client namespace the 2010 Client Access servers publish today."""

    mail: str
    """The HTTP host name of OWA, EWS, ActiveSync, OAB, MAPI and Outlook Anywhere (``mail.contoso.com``)."""
    autodiscover_uri: str
    """The Autodiscover SCP value (``https://autodiscover.contoso.com/Autodiscover/Autodiscover.xml``)."""

    @property
    def autodiscover(self) -> str:
        """Host name of the Autodiscover URI."""
        return url_host(self.autodiscover_uri)

    def url(self, kind: VdirKind) -> str:
        """The URL a directory of this kind gets (empty for Autodiscover)."""
        return f"https://{self.mail}{kind.path}" if kind.path else ""


def _most_common(values: Iterable[str]) -> str:
    counts = Counter(v for v in values if v)
    if not counts:
        return ""
    best = max(counts.values())
    return min(v for v, n in counts.items() if n == best)


def shared_namespace(
    vdirs: Iterable[VirtualDirectory],
    scps: Iterable[AutodiscoverScp],
    legacy: Iterable[str],
    server_fqdns: Iterable[str],
) -> Namespace | None:
    """The namespace of the 2010 servers ``legacy``: their most common OWA ExternalUrl host and SCP.

    Server FQDNs are no shared namespace. None when the 2010 OWA directories publish
    no shared external name. Without a usable 2010 SCP the Autodiscover URI is
    ``https://autodiscover.<domain of the mail name>/Autodiscover/Autodiscover.xml``.
    """
    names = {n.lower() for n in legacy}
    fqdns = {f.lower() for f in server_fqdns if f}

    def shared(host: str) -> str:
        if not host or host in fqdns or host.split(".")[0] in names or "." not in host:
            return ""
        return host

    mine = [v for v in vdirs if v.server.lower() in names]
    mail = _most_common(shared(url_host(v.external_url)) for v in mine if v.kind is VdirKind.OWA)
    if not mail:
        return None
    uris = [s.internal_uri for s in scps if s.server.lower() in names]
    uri = _most_common(u for u in uris if shared(url_host(u)))
    if not uri:
        uri = f"https://autodiscover.{mail.split('.', 1)[1]}/Autodiscover/Autodiscover.xml"
    return Namespace(mail, uri)


def namespace_of(inv: Inventory) -> Namespace | None:
    """The shared namespace: ``plan.namespace`` of inventory.yaml, else what the 2010 servers publish.

    From ``plan.namespace`` the first name not starting with ``autodiscover.`` is the
    mail name and the first that does is the Autodiscover name (default
    ``autodiscover.<domain of the mail name>``). Without it, :func:`shared_namespace`
    of the 2010 servers' exports; None when neither gives a name.
    """
    given = [n.lower() for n in inv.policy.client_namespace]
    mail = next((n for n in given if not n.startswith("autodiscover.") and "." in n), "")
    if mail:
        auto = next(
            (n for n in given if n.startswith("autodiscover.")),
            f"autodiscover.{mail.split('.', 1)[1]}",
        )
        return Namespace(mail, f"https://{auto}/Autodiscover/Autodiscover.xml")
    legacy = [s.name for s in inv.legacy_servers]
    return shared_namespace(
        inv.virtual_directories,
        inv.autodiscover_scps,
        legacy,
        (s.fqdn for s in inv.servers),
    )


def http_names(inv: Inventory) -> dict[str, str]:
    """Every shared HTTP host name the clients use -> where it comes from (server FQDNs left out)."""
    fqdns = {s.fqdn.lower() for s in inv.servers if s.fqdn}
    short = {s.name.lower() for s in inv.servers}
    out: dict[str, str] = {}

    def put(host: str, where: str) -> None:
        if host and host not in fqdns and host.split(".")[0] not in short:
            out.setdefault(host, where)

    ns = namespace_of(inv)
    if ns is not None:
        put(ns.mail, "the shared namespace")
        put(ns.autodiscover, "the Autodiscover name")
    for v in inv.virtual_directories:
        put(url_host(v.external_url), f"{v.server}\\{v.name} ExternalUrl")
        put(url_host(v.internal_url), f"{v.server}\\{v.name} InternalUrl")
    for o in inv.outlook_anywhere:
        put(o.external_hostname, f"Outlook Anywhere of {o.server}")
    for c in inv.autodiscover_scps:
        put(url_host(c.internal_uri), f"the Autodiscover SCP of {c.server}")
    return out


__all__ = [
    "AutodiscoverScp",
    "ClientAccessArray",
    "Namespace",
    "OrganizationConfig",
    "OutlookAnywhere",
    "VdirKind",
    "VirtualDirectory",
    "http_names",
    "namespace_of",
    "shared_namespace",
    "url_host",
    "vdir_kind",
]
