"""Relay mapping: classify every 2010 receive connector and plan its Front End successors.

The plan layer turns the inventory's receive connectors into
:class:`PlannedConnector` objects, one per (relay connector, target server).
Checks (``migrator.plan.relay_checks``) run over the inventory and these planned
connectors; renderers turn them into runbooks and the relay report.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from migrator.iprange import IPRange, merge_ranges
from migrator.model import (
    ADPermission,
    Binding,
    Certificate,
    ExchangeVersion,
    Finding,
    Inventory,
    Lifecycle,
    LoadBalancer,
    ReceiveConnector,
    RelayMethod,
    RelayOverride,
    Server,
    Severity,
    TransportConfig,
    TransportRole,
)
from migrator.relay_rights import anonymous_relay_grants


class ConnectorKind(enum.Enum):
    """What a 2010 receive connector is for; the values are what reports print."""

    DEFAULT = "default"
    ANONYMOUS_RELAY = "anonymous relay"
    EXTERNALLY_SECURED = "externally secured relay"
    INTERNAL_APP = "internal-only application"
    AUTHENTICATED = "authenticated relay"
    PARTNER = "partner/TLS"
    DISABLED = "disabled"
    OTHER = "other"


@dataclass(frozen=True)
class Classification:
    """What one 2010 connector is, why, and whether it gets a successor."""

    connector: ReceiveConnector
    """The 2010 receive connector."""
    kind: ConnectorKind
    """What it is for."""
    reason: str
    """Which property decided it (printed in the report)."""
    migrate: bool
    """Whether a new connector is planned for it."""


@dataclass(frozen=True, slots=True)
class PlannedConnector:
    """A receive connector to create on a target server's Front End Transport service."""

    server: str
    """Target server name."""
    name: str
    """New connector name (at most 64 characters, unique per server)."""
    source_identity: str
    """The 2010 connector's identity ``SERVER\\Name``."""
    bindings: tuple[Binding, ...]
    """``0.0.0.0:25``, and ``[::]:25`` where the server has IPv6."""
    remote_ip_ranges: tuple[IPRange, ...]
    """RemoteIPRanges, merged and normalised, in a stable order."""
    method: RelayMethod
    """Anonymous relay or externally secured."""
    fqdn: str
    """Fqdn the connector announces (the new server's)."""
    max_message_size_bytes: int | None
    """MaxMessageSize in bytes; None leaves the 2016 default (36 MB)."""
    tls_certificate_name: str
    """TlsCertificateName (``<I>issuer<S>subject``); empty where not needed."""
    transport_role: TransportRole = TransportRole.FRONTEND
    """Always Front End Transport for relay."""
    comment: str = ""
    """Comment written on the connector, e.g. ``Created by migrator from EX10-01\\Relay Apps``."""
    method_reason: str = ""
    """Why this relay method was chosen, and what it means (size limits, anti-spam)."""
    merged_from: tuple[str, ...] = ()
    """Further 2010 identities folded into this connector (same name and method on one target)."""
    adopts_existing: bool = False
    """Whether a connector of this name already exists on the target (the runbook updates it)."""
    relay: bool = True
    """False for an internal-only connector carried over (AnonymousUsers, no Accept-Any-Recipient)."""

    @property
    def identity(self) -> str:
        """``SERVER\\Name`` of the new connector."""
        return f"{self.server}\\{self.name}"


@dataclass(frozen=True)
class RelayPlan:
    """The relay mapping: every classification, every planned connector, and planning findings."""

    classifications: tuple[Classification, ...]
    """One per 2010 receive connector, in identity order."""
    connectors: tuple[PlannedConnector, ...]
    """Planned connectors, ordered by server then name."""
    findings: tuple[Finding, ...]
    """Findings raised while planning (e.g. a dropped ``%zone``)."""
    internal: tuple[PlannedConnector, ...] = ()
    """Internal-only 2010 connectors carried over (``relay`` False) where a planned relay
    connector on the same server would otherwise take their clients (most specific match)."""

    def ranges_by_source(self) -> dict[str, tuple[IPRange, ...]]:
        """Ranges the plan gives relay rights to, keyed by each 2010 source connector identity.

        A connector merged from several 2010 servers counts for every one of them.
        """
        out: dict[str, list[IPRange]] = {}
        for pc in self.connectors:
            for source in (pc.source_identity, *pc.merged_from):
                if source:
                    out.setdefault(source, []).extend(pc.remote_ip_ranges)
        return {k: tuple(v) for k, v in out.items()}


# --------------------------------------------------------------------------- vocabulary

MAX_NAME = 64
"""Exchange's limit on a receive connector name."""
EXCHANGE_2016_DEFAULT_MAX_MESSAGE = 36 * 1024 * 1024
"""MaxMessageSize of a new 2016/2019 receive connector."""
EXCHANGE_2010_DEFAULT_MAX_MESSAGE = 10 * 1024 * 1024
"""MaxMessageSize of a new 2010 receive connector."""

TRADE_OFF = {
    RelayMethod.ANONYMOUS: (
        "anonymous relay (PermissionGroups AnonymousUsers plus Ms-Exch-SMTP-Accept-Any-Recipient "
        "for NT AUTHORITY\\ANONYMOUS LOGON): message size limits (connector and organisation) "
        "and anti-spam still apply, and senders are not resolved as internal; the more secure choice"
    ),
    RelayMethod.EXTERNALLY_SECURED: (
        "externally secured (AuthMechanism ExternalAuthoritative, PermissionGroups "
        "ExchangeServers): clients are treated as authenticated Exchange servers, so message "
        "size limits and anti-spam are bypassed (Bypass-Anti-Spam, Bypass-Message-Size-Limit) "
        "and sender addresses are trusted; only for tightly scoped, trusted hosts"
    ),
}
"""What each relay method means, as the plan and the report write it."""


@functools.lru_cache(maxsize=4096)
def default_connector_names(server: str) -> frozenset[str]:
    """Lower-case names of the connectors Exchange setup creates (2010 and 2013+) on a server."""
    names = (
        "Default {s}",
        "Client {s}",
        "Default Frontend {s}",
        "Client Frontend {s}",
        "Outbound Proxy Frontend {s}",
        "Client Proxy {s}",
    )
    return frozenset(n.format(s=server).lower() for n in names)


def _flags(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.strip().lower() for v in values if v.strip())


class PermissionIndex:
    """AD permissions of receive connectors, indexed by identity (built once, looked up often)."""

    def __init__(self, permissions: Iterable[ADPermission]) -> None:
        self._by_id: dict[str, list[ADPermission]] = {}
        for p in permissions:
            self._by_id.setdefault(p.identity.lower(), []).append(p)

    def anonymous_relay_grants(self, identity: str) -> tuple[str, ...]:
        """Trustees (ANONYMOUS LOGON, Everyone) that hold Accept-Any-Recipient, not cancelled by a Deny
        (the one rule: :func:`migrator.relay_rights.anonymous_relay_grants`)."""
        return anonymous_relay_grants(self._by_id.get(identity.lower(), ()))

    def permissions(self, identity: str) -> tuple[ADPermission, ...]:
        """The AD permissions on one connector identity (case-insensitive)."""
        return tuple(self._by_id.get(identity.lower(), ()))


# --------------------------------------------------------------------------- classification


def _classify_properties(c: ReceiveConnector, grants: tuple[str, ...]) -> tuple[ConnectorKind, str]:
    """The kind of an enabled connector and the property that decided it."""
    groups = _flags(c.permission_groups)
    auth = _flags(c.auth_mechanism)
    if c.name.lower() in default_connector_names(c.server):
        return ConnectorKind.DEFAULT, f"name '{c.name}' is a connector Exchange setup creates"
    if grants:
        via = (
            "PermissionGroups AnonymousUsers"
            if "anonymoususers" in groups
            else "an explicit AD permission"
        )
        return (
            ConnectorKind.ANONYMOUS_RELAY,
            f"Ms-Exch-SMTP-Accept-Any-Recipient granted to {', '.join(grants)} ({via})",
        )
    if "externalauthoritative" in auth:
        return (
            ConnectorKind.EXTERNALLY_SECURED,
            "AuthMechanism ExternalAuthoritative"
            + (" with PermissionGroups ExchangeServers" if "exchangeservers" in groups else ""),
        )
    if "partners" in groups or c.tls_domain_capabilities:
        what = "PermissionGroups Partners" if "partners" in groups else "TlsDomainCapabilities set"
        return ConnectorKind.PARTNER, f"{what}: a partner/domain-secured TLS connector"
    if "anonymoususers" in groups:
        return (
            ConnectorKind.INTERNAL_APP,
            "PermissionGroups AnonymousUsers without Ms-Exch-SMTP-Accept-Any-Recipient: "
            "accepts mail for accepted domains only",
        )
    if "exchangeusers" in groups and auth & {
        "tls",
        "basicauth",
        "basicauthrequiretls",
        "integrated",
    }:
        return (
            ConnectorKind.AUTHENTICATED,
            "PermissionGroups ExchangeUsers with SMTP AUTH: clients log in and belong on "
            "Client Frontend (port 587), no custom connector needed",
        )
    shown = ", ".join(c.permission_groups) or "None"
    return ConnectorKind.OTHER, f"PermissionGroups {shown}: neither relay nor default"


def classify(
    c: ReceiveConnector, grants: tuple[str, ...], override: RelayOverride | None
) -> Classification:
    """Classify one 2010 connector; ``override.migrate`` may force or stop its migration.

    Only relay connectors are migrated; an internal-only connector becomes one
    only where the override also names a method. Forcing a default, partner or
    other connector is refused (a relay would widen what its clients may do).
    """
    kind, reason = _classify_properties(c, grants)
    relay = kind in (ConnectorKind.ANONYMOUS_RELAY, ConnectorKind.EXTERNALLY_SECURED)
    asked = override.migrate if override is not None else None
    by_method = (
        kind is ConnectorKind.INTERNAL_APP and override is not None and override.method is not None
    )
    if not c.enabled:
        if asked and (relay or by_method):
            return Classification(
                c, kind, f"{reason}; disabled on 2010, migrated because the override asks", True
            )
        return Classification(
            c,
            ConnectorKind.DISABLED,
            f"Enabled is False (otherwise: {kind.value}; {reason})",
            False,
        )
    if asked is False and relay:
        return Classification(
            c, kind, f"{reason}; not migrated because the override says so", False
        )
    if asked and by_method:
        return Classification(
            c, kind, f"{reason}; migrated as a relay because the override sets a method", True
        )
    return Classification(c, kind, reason, relay)


# --------------------------------------------------------------------------- names


def fit_name(name: str, suffix: str = "") -> str:
    """``name + suffix`` cut to 64 characters, deterministically (a short stable hash marks a cut)."""
    full = name + suffix
    if len(full) <= MAX_NAME:
        return full
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:6]
    keep = MAX_NAME - len(suffix) - len(digest) - 1
    return name[:keep].rstrip() + "~" + digest + suffix


def _pattern_name(pattern: str, old_name: str, server: str) -> str:
    """Apply the name pattern; a 2010 name that already carries the pattern's words keeps its name.

    ``Relay {name}`` turns ``Scanners`` into ``Relay Scanners`` but leaves
    ``Relay Apps`` as it is (not ``Relay Relay Apps``).
    """
    if pattern.count("{name}") == 1 and "{server}" not in pattern:
        prefix, _, suffix = pattern.partition("{name}")
        low = old_name.lower()
        if low.startswith(prefix.lower()) and low.endswith(suffix.lower()):
            return old_name.strip()
    # str.replace, not str.format: a 2010 name may hold braces
    return pattern.replace("{name}", old_name).replace("{server}", server).strip()


# --------------------------------------------------------------------------- ranges


def subtract(
    ranges: Iterable[IPRange], remove: Iterable[IPRange]
) -> tuple[list[IPRange], set[IPRange]]:
    """Ranges minus ``remove`` (entries are split where needed); also the removals that hit something."""
    current = list(ranges)
    used: set[IPRange] = set()
    for cut in remove:
        nxt: list[IPRange] = []
        for r in current:
            if not r.overlaps(cut):
                nxt.append(r)
                continue
            used.add(cut)
            if r.first < cut.first:
                nxt.append(IPRange(r.version, r.first, cut.first - 1))
            if cut.last < r.last:
                nxt.append(IPRange(r.version, cut.last + 1, r.last))
        current = nxt
    return current, used


# --------------------------------------------------------------------------- certificates


def _name_matches(pattern: str, host: str) -> bool:
    p, h = pattern.strip().lower().rstrip("."), host.strip().lower().rstrip(".")
    if p.startswith("*."):
        head, _, rest = h.partition(".")
        return bool(head) and rest == p[2:]
    return p == h


def _subject_cn(subject: str) -> str:
    for part in subject.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().upper() == "CN":
            return value.strip()
    return ""


def certificate_for(certs: Iterable[Certificate], server: str, host: str) -> Certificate | None:
    """The best certificate on ``server`` that names ``host`` (third-party first, latest expiry)."""
    found = [
        c
        for c in certs
        if c.server.lower() == server.lower()
        and any(
            _name_matches(n, host) for n in (*c.subject_alternative_names, _subject_cn(c.subject))
        )
    ]
    if not found:
        return None
    found.sort(
        key=lambda c: (
            c.self_signed,
            -(c.not_after.toordinal() if c.not_after else 0),
            c.thumbprint,
        )
    )
    return found[0]


def tls_certificate_name(cert: Certificate) -> str:
    """``<I>issuer<S>subject``, the form TlsCertificateName takes."""
    return f"<I>{cert.issuer}<S>{cert.subject}"


# --------------------------------------------------------------------------- planning


@dataclass
class _Draft:
    server: Server
    name: str
    named_by_user: bool
    cls: Classification
    ranges: list[IPRange]
    method: RelayMethod
    method_reason: str
    fqdn: str
    tls: str
    sources: list[str]
    sizes: list[int | None]
    base: str = ""
    alias_added: bool = False
    """Planned here only because the SMTP alias reaches this server (not for its own site)."""
    relay: bool = True
    """False for an internal-only connector carried over."""


def _finding(sev: Severity, code: str, where: str, message: str, fix: str = "") -> Finding:
    return Finding(sev, code, where, message, fix)


def _override_index(
    inventory: Inventory,
) -> tuple[dict[str, RelayOverride], dict[str, RelayOverride], list[RelayOverride]]:
    by_identity: dict[str, RelayOverride] = {}
    by_name: dict[str, RelayOverride] = {}
    for o in inventory.policy.overrides:
        key = o.connector.strip().lower()
        if "\\" in key:
            by_identity[key] = o
        else:
            by_name[key] = o
    return by_identity, by_name, list(inventory.policy.overrides)


def _choose_method(
    cls: Classification, override: RelayOverride | None, policy_method: RelayMethod
) -> tuple[RelayMethod, str]:
    """Pick the relay method and say why (the trade-off is part of the reason)."""
    if override is not None and override.method is not None:
        m = override.method
        return m, f"set by the override for {override.connector}; {TRADE_OFF[m]}"
    if cls.kind is ConnectorKind.EXTERNALLY_SECURED:
        # Like for like: a client that relied on the bypasses (large scans, sender resolved as
        # internal) would break on the day it moves, and a migration should change one thing at
        # a time. Converting to anonymous is recommended as a separate, tested change.
        m = RelayMethod.EXTERNALLY_SECURED
        return m, (
            "kept externally secured as on 2010, so clients keep the behaviour they rely on; "
            "convert it to anonymous relay afterwards (override method: anonymous) once the "
            f"clients are known to stay within the size limits; {TRADE_OFF[m]}"
        )
    m = policy_method
    source = "the policy default" if m is RelayMethod.ANONYMOUS else "the policy (relay.method)"
    return m, f"{source}; {TRADE_OFF[m]}"


def _choose_fqdn(c: ReceiveConnector, legacy: Server | None, target: Server) -> tuple[str, bool]:
    """The Fqdn of the new connector and whether it is a service name (needs TLS by name)."""
    own = target.fqdn or target.name
    alias = c.fqdn.strip()
    if not alias:
        return own, False
    low = alias.lower()
    legacy_names = {legacy.fqdn.lower(), legacy.name.lower()} if legacy else set()
    if low in legacy_names or low.split(".")[0] == c.server.lower():
        return own, False
    if low == own.lower():
        return own, False
    return alias, True


def plan_relay(inventory: Inventory) -> RelayPlan:
    """Classify the legacy receive connectors and plan their successors on the target servers.

    Pure function of the inventory: same inventory, same plan, byte for byte.
    Where Exchange 2010 servers remain next to an Exchange 2016 (or 2013) hop,
    the 2019/SE target servers are not relay targets: they cannot coexist with
    2010 and take the connectors over from 2016 in the onward phase
    (:func:`plan_onward_relay`).
    """
    return _plan_relay(inventory, {})


@dataclass(frozen=True)
class _Carried:
    """What a 2016 connector carries into the onward plan: the name it was derived from."""

    base: str
    """The name the policy's name pattern is applied to (the 2010 connector's name)."""
    user_name: str
    """The override's name where the user chose one (kept as it is)."""


HOP_VERSIONS = frozenset({ExchangeVersion.EX2013, ExchangeVersion.EX2016})
"""Versions that coexist with Exchange 2010 (the hop); 2019 and SE come after it."""


def _final_excluded(inventory: Inventory) -> frozenset[str]:
    """Lower-case names of 2019/SE targets that cannot serve 2010 connectors (a 2010+hop estate)."""
    has_2010 = any(
        s.lifecycle is Lifecycle.LEGACY and s.version is ExchangeVersion.EX2010
        for s in inventory.servers
    )
    targets = inventory.target_servers
    if not has_2010 or not any(s.version in HOP_VERSIONS for s in targets):
        return frozenset()
    return frozenset(s.name.lower() for s in targets if s.version not in HOP_VERSIONS)


def _plan_relay(inventory: Inventory, carried: Mapping[str, _Carried]) -> RelayPlan:
    findings: list[Finding] = []
    perms = PermissionIndex(inventory.ad_permissions)
    by_identity, by_name, all_overrides = _override_index(inventory)
    used_overrides: set[int] = set()
    target_names = {s.name.lower() for s in inventory.target_servers}
    servers = {s.name.lower(): s for s in inventory.servers}
    targets_by_site = {site.lower(): names for site, names in inventory.policy.targets_by_site}
    excluded = _final_excluded(inventory)

    legacy_connectors = sorted(
        (c for c in inventory.receive_connectors if c.server.lower() not in target_names),
        key=lambda c: c.identity.lower(),
    )
    classifications: list[Classification] = []
    # First every connector's own targets (override, site policy, same site), then, where relay
    # clients reach the servers through one DNS alias, every server behind it: a client the alias
    # sends to a server without its connector meets Default Frontend and is refused (5.7.54).
    wanted: list[tuple[Classification, RelayOverride | None, list[Server]]] = []
    for c in legacy_connectors:
        override = by_identity.get(c.identity.lower()) or by_name.get(c.name.lower())
        if override is not None:
            used_overrides.add(id(override))
        cls = classify(c, perms.anonymous_relay_grants(c.identity), override)
        classifications.append(cls)
        if override is not None and override.migrate and not cls.migrate:
            findings.append(
                _finding(
                    Severity.WARNING,
                    "relay.override.not-migrated",
                    c.identity,
                    f"the override asks to migrate '{c.identity}', but it is a "
                    f"{cls.kind.value} connector: only relay connectors are migrated",
                    "for an internal-only connector that should relay, set method in the override; "
                    "otherwise remove migrate: true",
                )
            )
        if not cls.migrate:
            continue
        targets = _targets_for(
            inventory, cls, override, servers, targets_by_site, findings, excluded
        )
        if targets:
            wanted.append((cls, override, targets))
    aliases = [connector_alias(inventory, servers, cls.connector.server) for cls, _o, _t in wanted]
    behind_alias = alias_reach(
        inventory, [(a, t) for a, (_c, _o, ts) in zip(aliases, wanted, strict=True) for t in ts]
    )
    drafts: list[_Draft] = []
    for alias, (cls, override, targets) in zip(aliases, wanted, strict=True):
        own = {t.name.lower() for t in targets}
        added = [t for t in behind_alias.get(alias.lower(), []) if t.name.lower() not in own]
        made = _drafts_for(
            inventory,
            cls,
            override,
            sorted([*targets, *added], key=lambda t: t.name.lower()),
            servers,
            findings,
            carried.get(cls.connector.identity.lower()),
            frozenset(t.name.lower() for t in added),
        )
        drafts.extend(made)
        spread = sorted({d.server.name for d in made if d.alias_added}, key=str.lower)
        if spread:
            findings.append(
                _finding(
                    Severity.INFO,
                    "relay.target.alias",
                    cls.connector.identity,
                    f"relay clients reach the new servers through the DNS alias {alias}, which "
                    f"points at every relay server{_behind(inventory, alias)}: the "
                    f"connector is planned on {', '.join(spread)} too, with the same ranges and "
                    "method (IPv4 ranges only where a server has no IPv6 address)",
                    "to keep each site's clients on its own servers, give each site its own alias "
                    "(relay.smtp_alias as a mapping site: alias, see docs/plan.md)"
                    if inventory.policy.smtp_alias.strip()
                    else f"to keep it off {', '.join(spread)}, plan every relay connector of the "
                    "site on the same servers (relay.targets and the overrides' targets)",
                )
            )

    for o in all_overrides:
        if id(o) not in used_overrides:
            findings.append(
                _finding(
                    Severity.WARNING,
                    "relay.override.unmatched",
                    o.connector,
                    f"override for '{o.connector}' matches no 2010 receive connector",
                    "write the connector's identity (SERVER\\Name) or name exactly as the export shows it",
                )
            )
    drafts.extend(_internal_drafts(inventory, classifications, drafts, servers, findings, carried))
    planned = _finalise(inventory, drafts, findings)
    return RelayPlan(
        tuple(classifications),
        tuple(p for p in planned if p.relay),
        tuple(sorted(findings, key=Finding.sort_key)),
        tuple(p for p in planned if not p.relay),
    )


INTERNAL_ONLY_REASON = (
    "internal-only on 2010 (PermissionGroups AnonymousUsers without "
    "Ms-Exch-SMTP-Accept-Any-Recipient): carried over unchanged so that the most specific match "
    "keeps its clients off the relay connector whose ranges contain theirs; they may send to "
    "accepted domains only, as before"
)


def _internal_drafts(
    inventory: Inventory,
    classifications: Iterable[Classification],
    drafts: list[_Draft],
    servers: dict[str, Server],
    findings: list[Finding],
    carried: Mapping[str, _Carried],
) -> list[_Draft]:
    """Internal-only 2010 connectors, carried to each new server where a relay connector overlaps them.

    On 2010 the most specific match gave these clients the internal-only
    connector (no relay) although a relay connector's wider range contains
    them. Without a successor they would land on the relay connector on the
    new server and gain relay, which the 2010 organisation never granted. A
    plan never grants relay the old organisation did not: the connector is
    carried over with its ranges, AnonymousUsers and no Accept-Any-Recipient.
    Where no relay connector overlaps it, Default Frontend takes its clients
    with the same rights (accepted domains only) and nothing is carried.
    """
    by_server: dict[str, list[_Draft]] = {}
    for d in drafts:
        by_server.setdefault(d.server.name.lower(), []).append(d)
    out: list[_Draft] = []
    for cls in classifications:
        c = cls.connector
        if cls.kind is not ConnectorKind.INTERNAL_APP or cls.migrate:
            continue
        ranges = merge_ranges([r for r in c.remote_ip_ranges if not r.zone])
        if not ranges:
            continue
        legacy = servers.get(c.server.lower())
        for key in sorted(by_server):
            relays = [d for d in by_server[key] if d.relay]
            hit = [d for d in relays if any(r.overlaps(x) for r in ranges for x in d.ranges)]
            if not hit:
                continue
            t = hit[0].server
            here = [r for r in ranges if r.version == 4 or t.has_ipv6]
            if not here:
                continue
            fqdn, _alias = _choose_fqdn(c, legacy, t)
            was = carried.get(c.identity.lower())
            base = was.base if was is not None else c.name
            findings.append(
                _finding(
                    Severity.INFO,
                    "relay.internal-only.carried",
                    c.identity,
                    f"'{c.identity}' is carried to {t.name} without relay rights: its clients sit "
                    f"inside the ranges of {', '.join(sorted({d.name for d in hit}))} there and "
                    "would otherwise gain relay",
                )
            )
            out.append(
                _Draft(
                    t,
                    # its 2010 name (it is no relay connector), with the server where the
                    # relay name pattern adds one
                    f"{base} {t.name}"
                    if "{server}" in inventory.policy.relay_name_pattern
                    else base,
                    False,
                    cls,
                    here,
                    RelayMethod.ANONYMOUS,
                    INTERNAL_ONLY_REASON,
                    fqdn,
                    "",
                    [c.identity],
                    [c.max_message_size_bytes],
                    base,
                    False,
                    False,
                )
            )
    return out


def connector_alias(inventory: Inventory, servers: Mapping[str, Server], server: str) -> str:
    """The SMTP alias the relay clients of a 2010 server use: the org-wide alias, its site's
    (``relay.smtp_alias`` as a mapping site -> alias), or '' (clients name the servers).

    ``servers`` maps lower-case server names to servers.
    """
    legacy = servers.get(server.lower())
    return inventory.policy.smtp_alias_for(legacy.site if legacy is not None else "")


def alias_groups(
    inventory: Inventory, connectors: Iterable[PlannedConnector]
) -> list[tuple[str, list[PlannedConnector]]]:
    """Planned connectors by the SMTP alias their clients use (:func:`connector_alias` of each
    2010 server a connector replaces: a merged one can serve several), sorted by alias; the
    connectors whose clients have no alias come last, under ''."""
    servers = {s.name.lower(): s for s in inventory.servers}
    alias_of = {k: connector_alias(inventory, servers, k) for k in servers}
    unknown = connector_alias(inventory, {}, "")  # a server the inventory does not list
    groups: dict[str, tuple[str, list[PlannedConnector]]] = {}
    for pc in connectors:
        aliases = {
            alias_of.get(ident.split("\\", 1)[0].lower(), unknown)
            for ident in (pc.source_identity, *pc.merged_from)
        }
        for alias in aliases:
            groups.setdefault(alias.lower(), (alias, []))[1].append(pc)
    return [groups[k] for k in sorted(groups, key=lambda a: (not a, a))]


def _behind(inventory: Inventory, alias: str) -> str:
    if inventory.policy.smtp_alias.strip():
        return ""
    sites = sorted(s for s, a in inventory.policy.site_smtp_aliases if a.lower() == alias.lower())
    return f" of site {', '.join(sites)}"


def alias_reach(
    inventory: Inventory, relay_targets: Iterable[tuple[str, Server]]
) -> dict[str, list[Server]]:
    """The new servers each SMTP alias (``relay.smtp_alias``) sends relay clients to, by name.

    ``relay_targets`` pairs each relay connector's target server with the alias
    of that connector's clients (:func:`connector_alias`, '' for none). The
    relay phase points an alias at every server that serves relay for its
    clients (``relay.repoint.<alias>``), so every one of them must carry every
    relay connector of those clients. Keyed by lower-case alias; no entry for ''.
    With one org-wide alias that is every relay server; with one alias per site,
    the servers of that site's connectors.
    """
    unique: dict[str, dict[str, Server]] = {}
    for alias, t in relay_targets:
        if alias:
            unique.setdefault(alias.lower(), {})[t.name.lower()] = t
    return {a: [by_name[k] for k in sorted(by_name)] for a, by_name in unique.items()}


def load_balancer_pool(
    inventory: Inventory, lb: LoadBalancer, versions: frozenset[ExchangeVersion] = HOP_VERSIONS
) -> tuple[Server, ...]:
    """The new (hop) servers behind a load balancer once ``servers.load-balancer`` has run, by name.

    The target servers it already lists, plus the hop Mailbox servers of the
    sites of the servers behind it today (a London pool gets the London
    servers, not Dublin's); every hop Mailbox server where it lists no server
    or none with a known site. Relay clients the pool sends to a server need
    their connector there, so this is the one rule the servers phase and the
    relay check share. ``versions``: the onward phase asks for the final-version servers that
    take the pool over from the hop's.
    """
    hop = [s for s in inventory.target_servers if s.version in versions and not s.is_edge]
    listed = {n.lower() for n in lb.servers}
    sites = {s.site.lower() for s in inventory.servers if s.name.lower() in listed and s.site}
    chosen = {
        s.name.lower(): s
        for s in hop
        if s.name.lower() in listed or not sites or s.site.lower() in sites
    }
    return tuple(chosen[k] for k in sorted(chosen))


def _targets_for(
    inventory: Inventory,
    cls: Classification,
    override: RelayOverride | None,
    servers: dict[str, Server],
    targets_by_site: dict[str, tuple[str, ...]],
    findings: list[Finding],
    excluded: frozenset[str] = frozenset(),
) -> list[Server]:
    """The connector's own target servers: the override's, the site policy's, or the same site's."""
    c = cls.connector
    where = c.identity
    legacy = servers.get(c.server.lower())
    # targets: override, else the site policy, else the target servers of the same site
    names: tuple[str, ...]
    if override is not None and override.target_servers:
        names = override.target_servers
    else:
        site = legacy.site if legacy else ""
        names = targets_by_site.get(site.lower(), ()) if site else ()
        if not names and site:
            names = tuple(
                s.name
                for s in inventory.target_servers
                if s.site.lower() == site.lower()
                and not s.is_edge
                and s.name.lower() not in excluded
            )
            if names:
                findings.append(
                    _finding(
                        Severity.INFO,
                        "relay.target.same-site",
                        where,
                        f"no relay.targets entry for site '{site}'; planned on the target servers "
                        f"of that site: {', '.join(sorted(names))}",
                        f"add relay.targets.{site} to inventory.yaml to choose the servers",
                    )
                )
    if not names and not inventory.target_servers:
        # A fresh collection has no targets yet: check warns once (inventory.no-targets)
        # and plan refuses (pipeline), rather than one error per connector here.
        return []
    if not names:
        site_text = (
            f"site '{legacy.site}'" if legacy and legacy.site else "its server's site (unknown)"
        )
        findings.append(
            _finding(
                Severity.ERROR,
                "relay.target.none",
                where,
                f"no target server is planned to serve relay connector '{where}' ({site_text})",
                "add relay.targets for the site in inventory.yaml, or targets in an override for this connector",
            )
        )
        return []
    targets: list[Server] = []
    for n in sorted(set(names), key=str.lower):
        s = servers.get(n.lower())
        if s is not None and n.lower() in excluded:
            findings.append(
                _finding(
                    Severity.ERROR,
                    "relay.target.invalid",
                    where,
                    f"target server '{n}' runs {s.version.label}, which cannot coexist with "
                    "Exchange 2010: it takes the relay connectors over from Exchange 2016 in the "
                    "onward phase",
                    "name an Exchange 2016 server here (relay.targets or the override's targets); "
                    "the onward phase carries the connector on to the servers of the final version",
                )
            )
            continue
        if s is None or s.lifecycle is not Lifecycle.TARGET or s.is_edge:
            what = (
                "is not in the inventory"
                if s is None
                else (
                    "is an Edge Transport server"
                    if s is not None and s.is_edge
                    else "is not a target server"
                )
            )
            findings.append(
                _finding(
                    Severity.ERROR,
                    "relay.target.invalid",
                    where,
                    f"target server '{n}' {what}",
                    "name a 2016/2019/SE Mailbox server with lifecycle target",
                )
            )
            continue
        targets.append(s)

    return targets


def ipv6_reachable(c: ReceiveConnector, server: Server | None) -> bool:
    """Whether an IPv6 client could ever reach connector ``c``: an IPv6 binding (``[::]`` or an IPv6
    address) on a server with an IPv6 address (global or unique-local). Its IPv6 ranges granted nothing
    otherwise: an unknown server counts as unreachable too (nothing shows the relay was used)."""
    return (
        server is not None and server.has_ipv6 and any(b.address.version == 6 for b in c.bindings)
    )


def _drafts_for(
    inventory: Inventory,
    cls: Classification,
    override: RelayOverride | None,
    targets: list[Server],
    servers: dict[str, Server],
    findings: list[Finding],
    carried: _Carried | None = None,
    alias_added: frozenset[str] = frozenset(),
) -> list[_Draft]:
    c = cls.connector
    where = c.identity
    legacy = servers.get(c.server.lower())
    # ranges: the 2010 entries without %zone ones, then the override's removals and additions
    ranges: list[IPRange] = []
    v6_reach = ipv6_reachable(c, legacy)
    unreachable = [r for r in c.remote_ip_ranges if r.version == 6 and not r.zone and not v6_reach]
    if unreachable:
        findings.append(
            _finding(
                Severity.WARNING,
                "relay.ipv6.unreachable-on-2010",
                where,
                f"{', '.join(str(r) for r in unreachable)}: no IPv6 client could ever reach this"
                f" connector (bindings {', '.join(str(b) for b in c.bindings) or 'none'},"
                f" {c.server} {'has no IPv6 address' if legacy is not None else 'is not in the inventory'}),"
                " so it never relayed for them; they are not carried over (the new connector would"
                " relay for them for the first time), and a connector left without a range is not"
                " migrated",
                "if these clients must relay now, the owner confirms and adds them (or just the named"
                " hosts) with add_ranges in an override",
            )
        )
    for r in c.remote_ip_ranges:
        if r in unreachable:
            continue
        if r.zone:
            findings.append(
                _finding(
                    Severity.WARNING,
                    "relay.range.zone-dropped",
                    where,
                    f"'{r}%{r.zone}' is bound to interface {r.zone} of {c.server} and is not carried over",
                    "add the client's global or unique-local address with add_ranges in an override",
                )
            )
            continue
        ranges.append(r)
    if override is not None:
        ranges, used = subtract(ranges, override.remove_ranges)
        for cut in override.remove_ranges:
            if cut not in used:
                findings.append(
                    _finding(
                        Severity.WARNING,
                        "relay.override.remove-unused",
                        where,
                        f"remove_ranges entry '{cut}' is not in the connector's ranges",
                        "check the address; nothing was removed",
                    )
                )
        ranges.extend(r for r in override.add_ranges if not r.zone)
    ranges = merge_ranges(ranges)
    if not ranges and unreachable:
        # It relayed for nobody in practice: nothing to carry over (the warning above says why).
        return []
    if not ranges:
        findings.append(
            _finding(
                Severity.ERROR,
                "relay.range.empty",
                where,
                f"no remote IP range is left for '{where}'; a new connector would accept all addresses",
                "keep at least one client range, or set migrate: false in its override",
            )
        )
        return []
    method, why = _choose_method(cls, override, inventory.policy.relay_method)
    out: list[_Draft] = []
    for t in targets:
        here = list(ranges)
        if t.name.lower() in alias_added and not t.has_ipv6:
            # The alias has no AAAA record for a server without IPv6: only IPv4 clients land here.
            here = [r for r in ranges if r.version == 4]
            if not here:
                continue
        fqdn, alias = _choose_fqdn(c, legacy, t)
        tls = ""
        if alias:
            cert = certificate_for(inventory.certificates, t.name, fqdn)
            if cert is not None:
                tls = tls_certificate_name(cert)
        user_name = override.name.strip() if override is not None and override.name.strip() else ""
        base = c.name
        if carried is not None:
            user_name = user_name or carried.user_name
            base = carried.base
        name = user_name or _pattern_name(inventory.policy.relay_name_pattern, base, t.name)
        out.append(
            _Draft(
                t,
                name,
                bool(user_name),
                cls,
                here,
                method,
                why,
                fqdn,
                tls,
                [c.identity],
                [c.max_message_size_bytes],
                base,
                t.name.lower() in alias_added,
            )
        )
    return out


_ANY_V4 = Binding(ipaddress.IPv4Address("0.0.0.0"), 25)
_ANY_V6 = Binding(ipaddress.IPv6Address("::"), 25)


def _finalise(
    inventory: Inventory, drafts: list[_Draft], findings: list[Finding]
) -> list[PlannedConnector]:
    """Merge drafts that meet on one target under one name, make names fit and unique, build connectors."""
    # Only the same 2010 connector name on several legacy servers is folded together (the usual
    # "one relay connector per server" setup); different connectors keep their own successor.
    merged: dict[tuple[str, str, RelayMethod, str, str, str, bool], _Draft] = {}
    for d in drafts:
        key = (
            d.server.name.lower(),
            d.name.lower(),
            d.method,
            d.fqdn.lower(),
            d.tls,
            (d.base or d.cls.connector.name).lower(),
            d.relay,
        )
        have = merged.get(key)
        if have is None:
            merged[key] = _Draft(
                d.server,
                d.name,
                d.named_by_user,
                d.cls,
                list(d.ranges),
                d.method,
                d.method_reason,
                d.fqdn,
                d.tls,
                list(d.sources),
                list(d.sizes),
                d.base,
                d.alias_added,
                d.relay,
            )
        else:
            have.alias_added = have.alias_added and d.alias_added
            have.ranges = merge_ranges([*have.ranges, *d.ranges])
            have.sources.extend(d.sources)
            have.sizes.extend(d.sizes)

    existing: dict[str, dict[str, ReceiveConnector]] = {}
    for rc in inventory.receive_connectors:
        existing.setdefault(rc.server.lower(), {})[rc.name.lower()] = rc

    out: list[PlannedConnector] = []
    taken: dict[str, set[str]] = {}
    for d in sorted(
        merged.values(), key=lambda d: (d.server.name.lower(), d.sources[0].lower(), d.name.lower())
    ):
        server = d.server.name
        srv_key = server.lower()
        on_server = existing.get(srv_key, {})
        used = taken.get(srv_key)
        if used is None:
            used = taken[srv_key] = set(default_connector_names(server))
        source = d.sources[0]
        name = fit_name(d.name)
        if name != d.name:
            findings.append(
                _finding(
                    Severity.INFO,
                    "relay.name.shortened",
                    source,
                    f"'{d.name}' is longer than {MAX_NAME} characters; the connector on {server} is named '{name}'",
                    "set a shorter name in an override if you prefer",
                )
            )
        adopts = False
        there = on_server.get(name.lower())
        if (
            there is not None
            and name.lower() not in used
            and there.transport_role is TransportRole.FRONTEND
        ):
            adopts = True
            findings.append(
                _finding(
                    Severity.INFO,
                    "relay.name.adopts-existing",
                    f"{server}\\{name}",
                    f"a Front End connector named '{name}' already exists on {server}; the runbook "
                    "compares it with the plan and changes only what differs",
                )
            )
        elif name.lower() in used or there is not None:
            n = 2
            while True:
                candidate = fit_name(d.name, f" {n}")
                if candidate.lower() not in used and candidate.lower() not in on_server:
                    break
                n += 1
            findings.append(
                _finding(
                    Severity.INFO if not d.named_by_user else Severity.WARNING,
                    "relay.name.renamed",
                    source,
                    f"'{name}' is already taken on {server}; the new connector is named '{candidate}'",
                    "set a unique name in an override to choose it yourself",
                )
            )
            name = candidate
        used.add(name.lower())

        bindings = [_ANY_V4]
        if d.server.has_ipv6:
            bindings.append(_ANY_V6)
        elif any(r.version == 6 for r in d.ranges) and not d.alias_added:
            # (where only the alias brings clients here, IPv6 clients cannot: the server has
            # no AAAA record behind the alias)
            findings.append(
                _finding(
                    Severity.WARNING,
                    "relay.ipv6.no-binding",
                    source,
                    f"the connector carries IPv6 ranges but {server} has no IPv6 address in the "
                    "inventory, so no [::]:25 binding is planned and IPv6 clients would fall "
                    "through to Default Frontend",
                    f"add {server}'s IPv6 address to the inventory, or remove the IPv6 ranges",
                )
            )
        sizes = [s for s in d.sizes if s is not None]
        size = max(sizes) if sizes else None
        if len(set(d.sizes)) > 1:
            findings.append(
                _finding(
                    Severity.WARNING,
                    "relay.max-size.merged",
                    f"{server}\\{name}",
                    "the 2010 connectors merged into it have different MaxMessageSize values; "
                    f"the largest ({_mb(size)}) is planned",
                    "set the size you want on the new connector after creation if it should be smaller",
                )
            )
        out.append(
            PlannedConnector(
                server=server,
                name=name,
                source_identity=source,
                bindings=tuple(bindings),
                remote_ip_ranges=tuple(d.ranges),
                method=d.method,
                fqdn=d.fqdn,
                max_message_size_bytes=size,
                tls_certificate_name=d.tls,
                transport_role=TransportRole.FRONTEND,
                comment=f"Created by migrator from {source}",
                method_reason=d.method_reason,
                merged_from=tuple(d.sources[1:]),
                adopts_existing=adopts,
                relay=d.relay,
            )
        )
    out.sort(key=lambda p: (p.server.lower(), p.name.lower()))
    return out


def _mb(size: int | None) -> str:
    if size is None:
        return "unlimited or unknown"
    mb = size / (1024 * 1024)
    text = f"{mb:.0f}" if mb == int(mb) else f"{mb:.1f}"
    return f"{text} MB ({size:,} bytes)"


def describe_size(size: int | None) -> str:
    """A message size as people read it: ``10 MB (10,485,760 bytes)``."""
    return _mb(size)


def size_note(planned: PlannedConnector, org: TransportConfig) -> str:
    """What MaxMessageSize means for this connector: 2010 value, 2016 default, organisation limit."""
    size = planned.max_message_size_bytes
    parts: list[str] = []
    if size is None:
        parts.append(
            f"2010 value unlimited or unknown: the new connector keeps the 2016 default {_mb(EXCHANGE_2016_DEFAULT_MAX_MESSAGE)}"
        )
    elif size == EXCHANGE_2016_DEFAULT_MAX_MESSAGE:
        parts.append("2010 value equals the 2016 default")
    else:
        default_2010 = ", the 2010 default," if size == EXCHANGE_2010_DEFAULT_MAX_MESSAGE else ""
        parts.append(
            f"carries the 2010 value {_mb(size)}{default_2010} instead of the 2016 default "
            f"{_mb(EXCHANGE_2016_DEFAULT_MAX_MESSAGE)}"
        )
    org_limit = min(
        (v for v in (org.max_send_size_bytes, org.max_receive_size_bytes) if v is not None),
        default=None,
    )
    if planned.method is RelayMethod.ANONYMOUS:
        if org_limit is not None:
            effective = org_limit if size is None else min(size, org_limit)
            parts.append(
                f"the organisation limit {_mb(org_limit)} still applies to anonymous relay: "
                f"messages above {_mb(effective)} are refused"
            )
    else:
        parts.append("externally secured: size limits are bypassed")
    return "; ".join(parts)


# --------------------------------------------------------------------------- onward (2016 -> SE)

ONWARD_CODE_PREFIX = "onward."
"""Prefix of the codes of findings about the onward relay plan (``onward.relay.target.none``)."""
ANONYMOUS_LOGON = "NT AUTHORITY\\ANONYMOUS LOGON"
ACCEPT_ANY_RECIPIENT_RIGHT = "Ms-Exch-SMTP-Accept-Any-Recipient"


def onward_servers(inventory: Inventory) -> tuple[tuple[Server, ...], tuple[Server, ...]]:
    """(hop servers, final-version servers) of the onward move, by name; either may be empty.

    The hop is the 2013/2016 target servers; the final servers are the target
    servers of ``policy.final_version`` (2019 or SE) that are not Edge servers.
    """
    final = inventory.policy.final_version
    targets = sorted(inventory.target_servers, key=lambda s: s.name.lower())
    hop = tuple(s for s in targets if s.version in HOP_VERSIONS)
    finals: tuple[Server, ...] = ()
    if final in (ExchangeVersion.EX2019, ExchangeVersion.SE):
        finals = tuple(s for s in targets if s.version is final and not s.is_edge)
    return hop, finals


def _as_connector(pc: PlannedConnector) -> ReceiveConnector:
    """A planned Front End connector as it will exist on its 2016 server once the relay phase ran."""
    anonymous = pc.method is RelayMethod.ANONYMOUS or not pc.relay
    return ReceiveConnector(
        server=pc.server,
        name=pc.name,
        bindings=pc.bindings,
        remote_ip_ranges=pc.remote_ip_ranges,
        auth_mechanism=("Tls",) if anonymous else ("Tls", "ExternalAuthoritative"),
        permission_groups=("AnonymousUsers",) if anonymous else ("ExchangeServers",),
        transport_role=TransportRole.FRONTEND,
        max_message_size_bytes=pc.max_message_size_bytes,
        fqdn=pc.fqdn,
        tls_certificate_name=pc.tls_certificate_name,
        enabled=True,
        protocol_logging_level="Verbose",
        comment=pc.comment,
    )


def onward_inventory(inventory: Inventory, relay_plan: RelayPlan) -> Inventory | None:
    """The organisation as the onward move sees it, or None where there is no onward move.

    The 2016 (hop) servers are the legacy servers and the final-version servers
    the targets; the 2010 servers and their connectors are gone. The 2016
    receive connectors are the ones the relay plan creates (anonymous ones with
    their Accept-Any-Recipient grant for ANONYMOUS LOGON) plus those the
    inventory lists on the 2016 servers; connectors listed on the final-version
    servers stay as they are. Relay targets per site are the final-version
    servers of that site: ``relay.targets`` in inventory.yaml names the first
    hop's servers only, and the 2010 connectors' overrides were applied by the
    first hop already (their effect is carried in the planned connectors).
    """
    hop, finals = onward_servers(inventory)
    if not hop or not finals:
        return None
    hop_names = {s.name.lower() for s in hop}
    final_names = {s.name.lower() for s in finals}
    keep = hop_names | final_names
    planned = [pc for pc in relay_plan.connectors if pc.server.lower() in hop_names]
    internal = [pc for pc in relay_plan.internal if pc.server.lower() in hop_names]
    planned_ids = {pc.identity.lower() for pc in (*planned, *internal)}
    connectors = [_as_connector(pc) for pc in (*planned, *internal)]
    connectors += [
        c
        for c in inventory.receive_connectors
        if c.server.lower() in keep and c.identity.lower() not in planned_ids
    ]
    permissions = [
        p for p in inventory.ad_permissions if p.identity.split("\\", 1)[0].lower() in keep
    ]
    permissions += [
        ADPermission(
            pc.identity, ANONYMOUS_LOGON, (ACCEPT_ANY_RECIPIENT_RIGHT,), ("ExtendedRight",)
        )
        for pc in planned
        if pc.method is RelayMethod.ANONYMOUS and pc.relay
    ]
    sites: dict[str, list[str]] = {}
    for s in finals:
        if s.site:
            sites.setdefault(s.site.lower(), []).append(s.name)
    by_site = tuple(
        (s.site, tuple(sites[s.site.lower()]))
        for s in sorted({s.site.lower(): s for s in hop if s.site}.values(), key=lambda s: s.site)
        if s.site.lower() in sites
    )
    # The method each 2016 connector was planned with is kept, whatever the policy default says.
    overrides = tuple(RelayOverride(pc.identity, method=pc.method) for pc in planned)
    servers = tuple(
        dataclasses.replace(s, lifecycle=Lifecycle.LEGACY) if s.name.lower() in hop_names else s
        for s in inventory.servers
        if s.name.lower() in keep
    )
    policy = dataclasses.replace(inventory.policy, targets_by_site=by_site, overrides=overrides)
    return dataclasses.replace(
        inventory,
        servers=servers,
        receive_connectors=tuple(connectors),
        ad_permissions=tuple(permissions),
        policy=policy,
        load_findings=(),
    )


def plan_onward_relay(inventory: Inventory, relay_plan: RelayPlan) -> RelayPlan:
    """Carry the 2016 relay connectors (planned and existing) on to the final-version servers.

    The same planner runs over :func:`onward_inventory`, so the mapping is the
    first hop's: the same ranges, relay method, size limit and FQDN rule; names
    follow the policy's pattern applied to the 2010 connector's name and the new
    server (an override's own name is kept). An empty plan where the inventory
    lists no hop or no server of the final version. Finding codes start with
    ``onward.``.
    """
    derived = onward_inventory(inventory, relay_plan)
    if derived is None:
        return RelayPlan((), (), ())
    hop_names = {s.name.lower() for s in onward_servers(inventory)[0]}
    users = {o.connector.strip().lower(): o.name.strip() for o in inventory.policy.overrides}
    carried: dict[str, _Carried] = {}
    sources: dict[str, PlannedConnector] = {}
    for pc in (*relay_plan.connectors, *relay_plan.internal):
        if pc.server.lower() not in hop_names:
            continue
        _old_server, _, old_name = pc.source_identity.partition("\\")
        user = users.get(pc.source_identity.lower()) or users.get(old_name.lower()) or ""
        carried[pc.identity.lower()] = _Carried(old_name, user)
        sources[pc.identity.lower()] = pc
    plan = _plan_relay(derived, carried)
    connectors = []
    for p in plan.connectors:
        src = sources.get(p.source_identity.lower())
        if src is not None:
            p = dataclasses.replace(
                p, method_reason=f"as planned for {src.identity}: {src.method_reason}"
            )
        connectors.append(p)
    findings = tuple(
        sorted(
            (
                dataclasses.replace(f, code=ONWARD_CODE_PREFIX + f.code)
                for f in plan.findings
                if f.code != "relay.override.unmatched"
            ),
            key=Finding.sort_key,
        )
    )
    return RelayPlan(plan.classifications, tuple(connectors), findings, plan.internal)
