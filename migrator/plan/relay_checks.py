"""Relay checks: open relays, conflicts on the new servers, shadowing, NAT/load balancers.

These are checks of the plan, not only of the inventory: they run over the
inventory and the relay plan (``migrator.plan.relay``) because they judge the
planned connectors on the new servers, so they live in the planning layer.
Imports run ``model -> checks -> plan.relay -> plan.connector_match ->
plan.relay_checks``, never back (checks of the inventory alone are in
``migrator.checks``; the version checks come from ``migrator.checks.versions``).

Every finding says where (a connector identity, a server, a load balancer),
what is wrong and how to fix it. Any error-level finding stops ``plan``; no
switch lets an open relay through.

The overlap check is one sort and one sweep per server and binding
(``O(n log n + k)`` in range entries, ``k`` the overlaps reported), never a
comparison of every pair.
"""

from __future__ import annotations

import bisect
import dataclasses
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from migrator.checks.versions import check_versions
from migrator.iprange import IPRange, merge_ranges
from migrator.model import (
    Binding,
    Finding,
    Inventory,
    IPAddress,
    RelayMethod,
    Server,
    Severity,
    TransportRole,
)
from migrator.plan.connector_match import (
    MatchConnector,
    Segment,
    ServerViews,
)
from migrator.plan.nat import nat_retargets
from migrator.plan.relay import (
    ONWARD_CODE_PREFIX,
    ConnectorKind,
    PermissionIndex,
    RelayPlan,
    alias_groups,
    default_connector_names,
    load_balancer_pool,
    onward_inventory,
    onward_servers,
    subtract,
)
from migrator.wording import examples

RELAY_KINDS = (ConnectorKind.ANONYMOUS_RELAY, ConnectorKind.EXTERNALLY_SECURED)
FORBIDDEN_RELAY_PORTS = (2525, 465, 587, 717)
"""Ports of the other default connectors (Hub, Client Proxy, Client Frontend, Outbound Proxy)."""
EXAMPLES = 3
"""How many example ranges a finding lists before saying "and N more"."""

_PRIVATE = tuple(
    IPRange.from_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
"""RFC 1918 and IPv6 unique-local space: never reachable from the Internet."""
_LOCAL = tuple(
    IPRange.from_network(n)
    for n in (
        "0.0.0.0/8",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "::/128",
        "::1/128",
        "fe80::/10",
    )
)
"""Loopback, link-local and shared (carrier) space: not the Internet, but not RFC 1918 either."""


# --------------------------------------------------------------------------- address space


def _coalesce(ranges: Iterable[IPRange]) -> dict[int, list[tuple[int, int]]]:
    """Disjoint, sorted intervals per family covering the union of ``ranges`` (adjacent ones joined)."""
    out: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
    for r in sorted(ranges, key=lambda r: (r.version, r.first, r.last)):
        lst = out[r.version]
        if lst and r.first <= lst[-1][1] + 1:
            if r.last > lst[-1][1]:
                lst[-1] = (lst[-1][0], r.last)
        else:
            lst.append((r.first, r.last))
    return out


class AddressSpace:
    """Private, local and declared space, for telling a public address from an inside one."""

    def __init__(self, declared: Iterable[IPRange]) -> None:
        self.inside = _coalesce([*_PRIVATE, *declared])
        self.known = _coalesce([*_PRIVATE, *_LOCAL, *declared])
        self._starts = {v: [a for a, _ in lst] for v, lst in self.known.items()}
        self._inside_starts = {v: [a for a, _ in lst] for v, lst in self.inside.items()}

    def public_parts(self, r: IPRange) -> list[IPRange]:
        """The parts of ``r`` outside private, local and declared space: reachable from the Internet."""
        return _uncovered(r, self.known[r.version], self._starts[r.version])

    def outside_declared(self, r: IPRange) -> list[IPRange]:
        """The parts of ``r`` outside RFC 1918, unique-local and declared space."""
        return _uncovered(r, self.inside[r.version], self._inside_starts[r.version])


def _uncovered(r: IPRange, cover: list[tuple[int, int]], starts: list[int]) -> list[IPRange]:
    out: list[IPRange] = []
    pos = r.first
    i = max(bisect.bisect_right(starts, r.first) - 1, 0)
    while pos <= r.last and i < len(cover):
        a, b = cover[i]
        if b < pos:
            i += 1
            continue
        if a > r.last:
            break
        if a > pos:
            out.append(IPRange(r.version, pos, a - 1))
        pos = max(pos, b + 1)
        i += 1
    if pos <= r.last:
        out.append(IPRange(r.version, pos, r.last))
    return out


def _more(items: Sequence[object], limit: int = EXAMPLES) -> str:
    more = len(items) - limit
    return f" and {more} more" if more > 0 else ""


def _examples(items: Sequence[object], limit: int = EXAMPLES) -> str:
    return examples(items, limit)


# --------------------------------------------------------------------------- context


@dataclass(frozen=True)
class _Relay:
    """A connector that relays, wherever it lives: 2010, existing on a target, or planned."""

    identity: str
    ranges: tuple[IPRange, ...]
    ports: frozenset[int]
    externally_secured: bool
    where_text: str
    planned: bool


def _relays(inventory: Inventory, plan: RelayPlan, perms: PermissionIndex) -> list[_Relay]:
    out: list[_Relay] = []
    for cl in plan.classifications:
        c = cl.connector
        if c.enabled and cl.kind in RELAY_KINDS:
            out.append(
                _Relay(
                    c.identity,
                    c.remote_ip_ranges,
                    frozenset(b.port for b in c.bindings),
                    cl.kind is ConnectorKind.EXTERNALLY_SECURED,
                    f"{cl.kind.value} connector",
                    False,
                )
            )
    targets = {s.name.lower() for s in inventory.target_servers}
    planned_ids = {p.identity.lower() for p in plan.connectors}
    for c in inventory.receive_connectors:
        if c.server.lower() not in targets or not c.enabled or c.identity.lower() in planned_ids:
            continue
        grants = perms.anonymous_relay_grants(c.identity)
        ext = "externalauthoritative" in {a.lower() for a in c.auth_mechanism}
        if (grants or ext) and c.name.lower() not in default_connector_names(c.server):
            out.append(
                _Relay(
                    c.identity,
                    c.remote_ip_ranges,
                    frozenset(b.port for b in c.bindings),
                    ext and not grants,
                    "existing externally secured connector"
                    if ext and not grants
                    else "existing anonymous relay connector",
                    False,
                )
            )
    for p in plan.connectors:
        out.append(
            _Relay(
                p.identity,
                p.remote_ip_ranges,
                frozenset(b.port for b in p.bindings),
                p.method is RelayMethod.EXTERNALLY_SECURED,
                "planned externally secured relay connector"
                if p.method is RelayMethod.EXTERNALLY_SECURED
                else "planned anonymous relay connector",
                True,
            )
        )
    return out


def check_relay(inventory: Inventory, plan: RelayPlan) -> list[Finding]:
    """Every relay check over the inventory and the relay plan, sorted (errors first).

    The plan's own findings (``plan.findings``) are not repeated here.
    """
    perms = PermissionIndex(inventory.ad_permissions)
    space = AddressSpace(inventory.policy.public_ranges)
    relays = _relays(inventory, plan, perms)
    found: list[Finding] = []
    found += _open_relay_ranges(relays, space)
    found += _open_relay_grants(inventory, plan, perms)
    found += _accepted_domains(inventory)
    found += _nat(inventory, relays)
    found += _load_balancers(inventory, relays)
    found += _reach(inventory, plan, relays)
    found += nat_retargets(inventory, plan)[1]
    found += _conflicts(inventory, plan)
    found += _shadowing(inventory, plan)
    found += _exchange_addresses(inventory, relays)
    found += _undeclared(relays, space)
    found += _no_host_name(inventory, plan)
    found += _disabled_and_bindings(plan)
    found += _certificates(inventory, plan)
    found += _default_frontend(inventory, plan)
    found += check_versions(inventory)
    return sorted(set(found), key=Finding.sort_key)


# --------------------------------------------------------------------------- open relay


def _open_relay_ranges(relays: Iterable[_Relay], space: AddressSpace) -> list[Finding]:
    out: list[Finding] = []
    for r in relays:
        whole = [x for x in r.ranges if x.is_all()]
        public = [p for x in r.ranges for p in space.public_parts(x)]
        if not public:
            continue
        if whole:
            what = f"the whole Internet ({_examples(whole)})"
        else:
            what = f"public addresses the organisation has not declared as its own ({_examples(public)})"
        extra = (
            "; senders are also treated as Exchange servers, so anti-spam and size limits are bypassed"
            if r.externally_secured
            else ""
        )
        verb = "would accept" if r.planned else "accepts"
        out.append(
            Finding(
                Severity.ERROR,
                "relay.open-relay",
                r.identity,
                f"{r.where_text} {verb} mail for any recipient from {what}: an open relay{extra}",
                "keep only the clients' own (private) addresses in RemoteIPRanges (override "
                "remove_ranges for the plan, Set-ReceiveConnector -RemoteIPRanges on the live "
                "connector); declare public space the organisation owns under relay.public_ranges",
            )
        )
    return out


def _open_relay_grants(
    inventory: Inventory, plan: RelayPlan, perms: PermissionIndex
) -> list[Finding]:
    """Accept-Any-Recipient for ANONYMOUS LOGON or Everyone on a default connector (the wrong 5.7.54 fix)."""
    out: list[Finding] = []
    for c in inventory.receive_connectors:
        if c.name.lower() not in default_connector_names(c.server):
            continue
        grants = perms.anonymous_relay_grants(c.identity)
        if not grants:
            continue
        users = ", ".join(grants)
        out.append(
            Finding(
                Severity.ERROR,
                "relay.open-relay",
                c.identity,
                f"Ms-Exch-SMTP-Accept-Any-Recipient is granted to {users} on default connector "
                f"'{c.identity}', which accepts every address: an open relay (the classic wrong fix "
                "for 550 5.7.54)",
                f"Get-ReceiveConnector -Identity '{c.identity}' | Remove-ADPermission -User "
                f"'{grants[0]}' -ExtendedRights 'Ms-Exch-SMTP-Accept-Any-Recipient'; give relay "
                "clients a dedicated relay connector restricted to their addresses",
            )
        )
    return out


def _accepted_domains(inventory: Inventory) -> list[Finding]:
    out: list[Finding] = []
    for d in inventory.accepted_domains:
        if d.domain_name.strip() == "*":
            out.append(
                Finding(
                    Severity.ERROR,
                    "relay.open-relay",
                    f"accepted domain '{d.name}'",
                    f"accepted domain '{d.name}' is '*' ({d.domain_type.value}): Exchange accepts "
                    "mail for every domain from anyone, an open relay",
                    f"Remove-AcceptedDomain -Identity '{d.name}'; relay clients need a relay "
                    "connector, not a '*' accepted domain",
                )
            )
    return out


def _nat(inventory: Inventory, relays: Sequence[_Relay]) -> list[Finding]:
    out: list[Finding] = []
    for rule in sorted(inventory.nat_rules, key=lambda n: n.name):
        if not rule.source_nat:
            continue
        for r in relays:
            if rule.port not in r.ports:
                continue
            hit = next((x for x in r.ranges if x.contains_address(rule.inside_address)), None)
            if hit is None:
                continue
            out.append(
                Finding(
                    Severity.ERROR,
                    "relay.open-relay",
                    r.identity,
                    f"firewall rule '{rule.name}' source-NATs Internet SMTP to '{rule.inside_address}', "
                    f"which is inside relay range '{hit}' of the {r.where_text}: an open relay to the Internet",
                    f"take '{rule.inside_address}' out of the relay ranges (override remove_ranges), or "
                    "make the firewall deliver Internet SMTP without source NAT",
                )
            )
    return out


def _load_balancers(inventory: Inventory, relays: Sequence[_Relay]) -> list[Finding]:
    out: list[Finding] = []
    relay_servers = {r.identity.split("\\", 1)[0].lower() for r in relays}
    for lb in sorted(inventory.load_balancers, key=lambda b: b.name):
        if not lb.source_nat or 25 not in lb.ports:
            continue
        behind = [s for s in lb.servers if s.lower() in relay_servers]
        if lb.servers and not behind:
            continue
        addresses = lb.snat_addresses or lb.virtual_addresses
        shown = ", ".join(f"'{a}'" for a in addresses) or "its own address"
        servers = ", ".join(behind) if behind else "the Exchange servers"
        extra = ""
        for a in addresses:
            hit = next(((r, x) for r in relays for x in r.ranges if x.contains_address(a)), None)
            if hit is not None:
                extra = (
                    f"; '{a}' is inside relay range '{hit[1]}' of '{hit[0].identity}', so every client "
                    "that reaches the load balancer can relay"
                )
                break
        out.append(
            Finding(
                Severity.ERROR,
                "relay.load-balancer.snat",
                f"load balancer '{lb.name}'",
                f"load balancer '{lb.name}' source-NATs SMTP to {servers}: every relay client "
                f"appears as {shown}, so per-client RemoteIPRanges mean nothing{extra}",
                "switch the SMTP (port 25) service to transparent mode so clients keep their "
                "addresses, or let relay clients reach the servers directly (a DNS name that "
                "points at the servers, not the virtual address)",
            )
        )
    return out


# --------------------------------------------------------------------------- reach


@dataclass(frozen=True)
class EntryPoint:
    """A name or address that sends relay clients to several new servers."""

    what: str
    """``DNS alias 'smtp.contoso.com'``, ``load balancer 'LB-LON-SMTP'``, ``NAT rule 'FW-IN'``."""
    servers: tuple[Server, ...]
    """The new servers it can send a client to once the plan has run."""
    families: frozenset[int]
    """Address families clients reach it by (4, 6)."""


def entry_points(inventory: Inventory, plan: RelayPlan) -> list[EntryPoint]:
    """Each SMTP alias, every port-25 load balancer pool and every NAT rule that delivers to one.

    An alias reaches every server the relay phase points it at (every
    server with a planned relay connector for the alias's clients, :func:`relay_steps`
    repoints it there: all of them for one org-wide alias, :func:`alias_groups`); a pool reaches :func:`load_balancer_pool`; a NAT rule whose
    inside address is a pool's virtual address reaches that pool.
    """
    out: list[EntryPoint] = []
    for alias, group in alias_groups(inventory, plan.connectors):
        if not alias:
            continue
        planned = {p.server.lower() for p in group}
        servers = tuple(
            s for s in inventory.target_servers if s.name.lower() in planned and not s.is_edge
        )
        out.append(
            EntryPoint(
                f"DNS alias '{alias}'",
                tuple(sorted(servers, key=lambda s: s.name.lower())),
                frozenset({4, 6}),
            )
        )
    pools: dict[IPAddress, tuple[str, tuple[Server, ...]]] = {}
    for lb in sorted(inventory.load_balancers, key=lambda b: b.name.lower()):
        if 25 not in lb.ports:
            continue
        pool = load_balancer_pool(inventory, lb)
        families = frozenset(a.version for a in lb.virtual_addresses) or frozenset({4})
        out.append(EntryPoint(f"load balancer '{lb.name}'", pool, families))
        for a in lb.virtual_addresses:
            pools[a] = (lb.name, pool)
    for rule in sorted(inventory.nat_rules, key=lambda n: n.name.lower()):
        hit = pools.get(rule.inside_address)
        if hit is not None and rule.port == 25:
            out.append(
                EntryPoint(
                    f"NAT rule '{rule.name}' (to load balancer '{hit[0]}')",
                    hit[1],
                    frozenset({rule.inside_address.version}),
                )
            )
    return out


def _reach(inventory: Inventory, plan: RelayPlan, relays: Sequence[_Relay]) -> list[Finding]:
    """Every server an alias, pool or NAT rule reaches carries every relay connector the others do.

    A relay client sent to a server without its connector meets Default
    Frontend: refused with 550 5.7.54 (anonymous relay), or treated as an
    anonymous sender (scanners lose ExternalAuthoritative and its bypasses).
    Compared per address family, by relay method and exact ranges; IPv6 only
    between servers with an IPv6 address (the others have no AAAA record).
    """
    by_server: dict[str, list[_Relay]] = {}
    for r in relays:
        by_server.setdefault(r.identity.split("\\", 1)[0].lower(), []).append(r)

    signatures: dict[tuple[bool, tuple[IPRange, ...], int], tuple[bool, tuple[IPRange, ...]]] = {}

    def signature(r: _Relay, family: int) -> tuple[bool, tuple[IPRange, ...]]:
        key = (r.externally_secured, r.ranges, family)
        if key not in signatures:
            signatures[key] = (
                r.externally_secured,
                tuple(merge_ranges(x for x in r.ranges if x.version == family)),
            )
        return signatures[key]

    out: list[Finding] = []
    for entry in entry_points(inventory, plan):
        if len(entry.servers) < 2:
            continue
        for family in sorted(entry.families):
            reached = [s for s in entry.servers if family == 4 or s.has_ipv6]
            have: dict[str, set[tuple[bool, tuple[IPRange, ...]]]] = {}
            # every signature a reached server carries, with the first connector that has it
            # (a signature a server lacks is carried only by others: its first is on another)
            first: dict[tuple[bool, tuple[IPRange, ...]], _Relay] = {}
            for s in reached:
                mine = have.setdefault(s.name.lower(), set())
                for r in by_server.get(s.name.lower(), ()):
                    sig = signature(r, family)
                    mine.add(sig)
                    if sig[1]:
                        first.setdefault(sig, r)
            for s in reached:
                mine = have[s.name.lower()]
                missing = {sig: r for sig, r in first.items() if sig not in mine}
                for sig, r in sorted(missing.items(), key=lambda kv: kv[1].identity.lower()):
                    method = "externally secured" if sig[0] else "anonymous relay"
                    out.append(
                        Finding(
                            Severity.ERROR,
                            "relay.reach.missing-connector",
                            entry.what,
                            f"{entry.what} can send relay clients to {s.name}, which has no "
                            f"connector like '{r.identity}' ({method}, {_examples(sig[1])}): "
                            f"those clients would meet Default Frontend {s.name} and be refused "
                            "with 550 5.7.54"
                            + (" or lose ExternalAuthoritative" if sig[0] else ""),
                            f"plan the connector on {s.name} as well (relay.targets or the "
                            "override's targets), or send these clients to per-site aliases or "
                            "pools that reach only the servers that carry it",
                        )
                    )
    return out


# --------------------------------------------------------------------------- conflicts


@dataclass(frozen=True)
class _OnTarget:
    identity: str
    bindings: tuple[Binding, ...]
    ranges: tuple[IPRange, ...]
    role: TransportRole | None
    planned: bool
    relays: bool


def _on_target(
    inventory: Inventory, plan: RelayPlan, perms: PermissionIndex
) -> dict[str, list[_OnTarget]]:
    by_server: dict[str, list[_OnTarget]] = {}
    planned_ids = {p.identity.lower() for p in (*plan.connectors, *plan.internal)}
    for s in inventory.target_servers:
        by_server[s.name.lower()] = []
    for c in inventory.receive_connectors:
        key = c.server.lower()
        if key not in by_server or not c.enabled or c.identity.lower() in planned_ids:
            continue
        relays = bool(perms.anonymous_relay_grants(c.identity)) or "externalauthoritative" in {
            a.lower() for a in c.auth_mechanism
        }
        by_server[key].append(
            _OnTarget(c.identity, c.bindings, c.remote_ip_ranges, c.transport_role, False, relays)
        )
    for p in (*plan.connectors, *plan.internal):
        by_server.setdefault(p.server.lower(), []).append(
            _OnTarget(p.identity, p.bindings, p.remote_ip_ranges, p.transport_role, True, p.relay)
        )
    return by_server


def _conflicts(inventory: Inventory, plan: RelayPlan) -> list[Finding]:
    perms = PermissionIndex(inventory.ad_permissions)
    out: list[Finding] = []
    for _server, conns in sorted(_on_target(inventory, plan, perms).items()):
        out += _wrong_place(conns)
        out += _role_conflicts(conns)
        by_binding: dict[Binding, list[_OnTarget]] = {}
        for c in conns:
            for b in c.bindings:
                by_binding.setdefault(b, []).append(c)
        for binding, group in sorted(by_binding.items(), key=lambda kv: str(kv[0])):
            if len(group) > 1:
                out += _identical(binding, group)
                out += overlaps(binding, [(c.identity, c.ranges) for c in group])
    return out


def _wrong_place(conns: Iterable[_OnTarget]) -> list[Finding]:
    out: list[Finding] = []
    for c in conns:
        if not c.relays:
            continue
        if c.role is TransportRole.HUB:
            out.append(
                Finding(
                    Severity.ERROR,
                    "relay.conflict.hub",
                    c.identity,
                    f"relay connector '{c.identity}' is on the Hub Transport service: relay belongs "
                    "on Front End Transport, port 25 (clients are not meant to connect to the Hub service)",
                    "create it with -TransportRole FrontendTransport bound to 0.0.0.0:25",
                )
            )
        bad = sorted({b.port for b in c.bindings if b.port in FORBIDDEN_RELAY_PORTS})
        if bad:
            out.append(
                Finding(
                    Severity.ERROR,
                    "relay.conflict.port",
                    c.identity,
                    f"relay connector '{c.identity}' listens on port {', '.join(map(str, bad))}, "
                    "which belongs to a default connector (2525 Hub, 465 Client Proxy, 587 Client "
                    "Frontend, 717 Outbound Proxy)",
                    "bind relay connectors to port 25 on Front End Transport",
                )
            )
    return out


def _role_conflicts(conns: Sequence[_OnTarget]) -> list[Finding]:
    """Connectors of different transport roles sharing an IP:port (0.0.0.0 shares with every address).

    Linear in connectors: each connector is paired with the first connector
    (by identity) of every other role on the same IP:port.
    """
    out: list[Finding] = []
    # (family, port) -> address (None for any) -> role -> identities
    slots: dict[tuple[int, int], dict[IPAddress | None, dict[TransportRole, set[str]]]] = {}
    for c in conns:
        if c.role is None:
            continue
        for b in c.bindings:
            addr = None if b.is_any else b.address
            slot = slots.setdefault((b.address.version, b.port), {})
            slot.setdefault(addr, {}).setdefault(c.role, set()).add(c.identity)
    seen: set[tuple[str, str]] = set()
    for (family, port), by_addr in sorted(slots.items()):
        any_roles = by_addr.get(None, {})
        for addr in sorted(by_addr, key=lambda a: (a is not None, str(a))):
            roles: dict[TransportRole, set[str]] = {r: set(ids) for r, ids in by_addr[addr].items()}
            if addr is not None:
                for r, ids in any_roles.items():
                    roles.setdefault(r, set()).update(ids)
            if len(roles) < 2:
                continue
            shared = addr
            if shared is None:
                shared = ipaddress.IPv4Address(0) if family == 4 else ipaddress.IPv6Address(0)
            where_addr = str(Binding(shared, port))
            first = {r: min(ids, key=str.lower) for r, ids in roles.items()}
            for r1, ids in sorted(roles.items(), key=lambda kv: kv[0].value):
                for id1 in sorted(ids, key=str.lower):
                    for r2, id2 in sorted(first.items(), key=lambda kv: kv[0].value):
                        if r2 is r1:
                            continue
                        lo, hi = sorted(((id1, r1), (id2, r2)), key=lambda t: t[0].lower())
                        if (lo[0], hi[0]) in seen:
                            continue
                        seen.add((lo[0], hi[0]))
                        out.append(
                            Finding(
                                Severity.ERROR,
                                "relay.conflict.role",
                                hi[0],
                                f"'{lo[0]}' ({lo[1].value}) and '{hi[0]}' ({hi[1].value}) both listen on "
                                f"{where_addr}: connectors of different transport roles must not share "
                                "an IP:port (ReceiveConnectorRoleConflictException; cumulative-update "
                                "setup can fail)",
                                "keep relay on FrontendTransport port 25 and Hub connectors on 2525; "
                                "never copy a 2010 HubTransport connector on port 25 as HubTransport",
                            )
                        )
    return out


def _identical(binding: Binding, group: Sequence[_OnTarget]) -> list[Finding]:
    out: list[Finding] = []
    by_key: dict[tuple[IPRange, ...], list[_OnTarget]] = {}
    for c in group:
        key = tuple(
            sorted(
                {r for r in c.ranges if r.version == binding.address.version},
                key=lambda r: (r.first, r.last),
            )
        )
        if key:
            by_key.setdefault(key, []).append(c)
    for key, same in by_key.items():
        if len(same) < 2:
            continue
        same = sorted(same, key=lambda c: (not c.planned, c.identity.lower()))
        first = same[0]
        for other in same[1:]:
            out.append(
                Finding(
                    Severity.ERROR,
                    "relay.conflict.identical",
                    first.identity,
                    f"'{first.identity}' and '{other.identity}' have identical remote IP ranges "
                    f"({_examples(key)}) on {binding}: each connector must be a unique combination "
                    "of binding and ranges",
                    "merge the two connectors, or give one of them different ranges (override "
                    "add_ranges/remove_ranges, or name the existing one in an override to adopt it)",
                )
            )
    return out


def overlaps(binding: Binding, group: Sequence[tuple[str, Sequence[IPRange]]]) -> list[Finding]:
    """Partial overlaps (neither range contains the other) between connectors on one binding.

    One sort and one sweep: intervals are visited by start; the ones still
    open are kept sorted by end, so the open intervals that end inside the new
    one (the crossings) are a slice found by bisection. Each connector's own
    entries are first joined where they overlap (they do not compete).
    ``O(n log n + k)``; one finding per pair of connectors.
    """
    version = binding.address.version
    items: list[tuple[int, int, int]] = []  # (first, -last, owner)
    names = [g[0] for g in group]
    for owner, (_ident, ranges) in enumerate(group):
        for a, b in _coalesce_overlapping(r for r in ranges if r.version == version):
            items.append((a, -b, owner))
    items.sort()
    open_by_end: list[tuple[int, int, int]] = []  # (last, first, owner)
    pairs: dict[tuple[int, int], tuple[IPRange, IPRange]] = {}
    for first, neg_last, owner in items:
        last = -neg_last
        cut = bisect.bisect_left(open_by_end, (first, -1, -1))
        if cut:
            del open_by_end[:cut]  # ended before this one starts
        lo = 0
        hi = bisect.bisect_left(open_by_end, (last, -1, -1))
        for o_last, o_first, o_owner in open_by_end[lo:hi]:
            if o_first < first and o_owner != owner:
                key = (min(o_owner, owner), max(o_owner, owner))
                pairs.setdefault(
                    key, (IPRange(version, o_first, o_last), IPRange(version, first, last))
                )
        bisect.insort(open_by_end, (last, first, owner))
    out: list[Finding] = []
    for (a, b), (ra, rb) in sorted(pairs.items()):
        # report at the planned side where there is one (planned come last in the group)
        where = names[b]
        inter = IPRange(version, max(ra.first, rb.first), min(ra.last, rb.last))
        out.append(
            Finding(
                Severity.ERROR,
                "relay.conflict.overlap",
                where,
                f"ranges of '{names[a]}' and '{names[b]}' overlap on {binding} without one containing "
                f"the other ('{ra}' and '{rb}'): which connector takes '{inter}' is not defined",
                "change the ranges so that one contains the other or they do not meet (override "
                "add_ranges/remove_ranges)",
            )
        )
    return out


def _coalesce_overlapping(ranges: Iterable[IPRange]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for r in sorted(ranges, key=lambda r: (r.first, r.last)):
        if out and r.first <= out[-1][1]:
            if r.last > out[-1][1]:
                out[-1] = (out[-1][0], r.last)
        else:
            out.append((r.first, r.last))
    return out


# --------------------------------------------------------------------------- shadowing


def _shadowing(inventory: Inventory, plan: RelayPlan) -> list[Finding]:
    out: list[Finding] = []
    successors: dict[str, dict[str, str]] = {}  # target -> 2010 identity -> planned identity
    migrated_somewhere: set[str] = set()
    for p in (*plan.connectors, *plan.internal):
        for ident in (p.source_identity, *p.merged_from):
            successors.setdefault(p.server.lower(), {})[ident.lower()] = p.identity
            migrated_somewhere.add(ident.lower())
    # addresses an override added on purpose: a client there gaining relay is the point of it
    added: dict[str, list[IPRange]] = {}
    for p in plan.connectors:
        for o in inventory.policy.overrides:
            key = o.connector.strip().lower()
            for ident in (p.source_identity, *p.merged_from):
                if key in (ident.lower(), ident.split("\\", 1)[-1].lower()):
                    added.setdefault(p.identity.lower(), []).extend(o.add_ranges)
    views = ServerViews(inventory, plan)
    sources_of = {
        p.identity.lower(): (p.source_identity, *p.merged_from)
        for p in (*plan.connectors, *plan.internal)
    }

    # (2010 identity, IP version) -> the ranges that connector takes on its own server, sorted
    taken: dict[tuple[str, int], tuple[list[int], list[IPRange]]] = {}

    def took_by(ident: str, version: int) -> tuple[list[int], list[IPRange]]:
        key = (ident.lower(), version)
        if key not in taken:
            legacy = ident.split("\\", 1)[0]
            conns = views.before(legacy)
            mine = {c.identity.lower(): i for i, c in enumerate(conns)}.get(key[0])
            ranges = (
                []
                if mine is None
                else [s.range for s in views.before_partition(legacy, version) if s.winner == mine]
            )
            taken[key] = ([r.first for r in ranges], ranges)
        return taken[key]

    def not_granted(after_identity: str, rng: IPRange) -> list[IPRange]:
        """Parts of ``rng`` that no 2010 source of ``after_identity`` took on its own server.

        Relay rights belong to the organisation, not to one server: a client that relayed
        through 'EX10-03\\CRM' keeps relay on a new server the alias sends it to, even though
        on EX10-01 it met Default (no relay).
        """
        left = [rng]
        for ident in sources_of.get(after_identity.lower(), ()):
            starts, ranges = took_by(ident, rng.version)
            # the segments of a partition are disjoint and sorted: only those overlapping rng cut
            i = max(bisect.bisect_right(starts, rng.first) - 1, 0)
            hits: list[IPRange] = []
            while i < len(ranges) and ranges[i].first <= rng.last:
                if ranges[i].last >= rng.first:
                    hits.append(ranges[i])
                i += 1
            if hits:
                left = subtract(left, hits)[0]
        return left

    for t in sorted(inventory.target_servers, key=lambda s: s.name.lower()):
        if t.is_edge:
            continue
        after = views.after(t.name)
        after_index = {c.identity.lower(): i for i, c in enumerate(after)}
        default_after = f"{t.name}\\Default Frontend {t.name}"
        for version in (4, 6):
            if version == 6 and t.ip_addresses and not t.has_ipv6:
                continue  # no IPv6 address: no IPv6 client reaches this server at all
            seg_after = views.after_partition(t.name, version)
            out += _captured(after, seg_after, version)
            out += _ties(after, seg_after)
            # per stretch of this server that a relay connector takes: the addresses none of
            # its 2010 sources took on its own server (the only ones a client can gain relay on)
            gaps: dict[int, list[IPRange]] = {}
            starts = [a.first for a in seg_after]
            for j, seg in enumerate(seg_after):
                if seg.winner is not None and after[seg.winner].relays:
                    left = not_granted(after[seg.winner].identity, seg.range)
                    if left:
                        gaps[j] = left
            for legacy in views.legacy_sources(t.name):
                out += _moved(
                    t.name,
                    views.before(legacy),
                    views.before_partition(legacy, version),
                    after,
                    seg_after,
                    successors.get(t.name.lower(), {}),
                    migrated_somewhere,
                    default_after,
                    added,
                    gaps,
                    after_index,
                    starts,
                )
    return out


def _captured(
    conns: Sequence[MatchConnector], segs: Sequence[Segment], version: int
) -> list[Finding]:
    """Addresses inside a planned connector's ranges that a more specific connector takes."""
    out: list[Finding] = []
    starts = [s.first for s in segs]
    for idx, c in enumerate(conns):
        if not c.planned:
            continue
        lost: dict[int, list[IPRange]] = {}
        for r in c.ranges:
            if r.version != version:
                continue
            i = max(bisect.bisect_right(starts, r.first) - 1, 0)
            while i < len(segs) and segs[i].first <= r.last:
                s = segs[i]
                if s.winner is not None and s.winner != idx and s.last >= r.first:
                    piece = IPRange(version, max(s.first, r.first), min(s.last, r.last))
                    lost.setdefault(s.winner, []).append(piece)
                i += 1
        for w, pieces in sorted(lost.items()):
            other = conns[w]
            if other.planned and not other.relays:
                continue  # an internal-only 2010 connector carried over: keeping them off is its job
            consequence = "" if other.relays else ": those clients cannot relay"
            out.append(
                Finding(
                    Severity.WARNING,
                    "relay.shadow.captured",
                    c.identity,
                    f"the more specific '{other.identity}' ({other.kind}) takes "
                    f"{_examples(pieces)} out of the ranges of '{c.identity}'{consequence}",
                    "intended where those clients should not relay; otherwise remove the narrower "
                    "entries from the other connector",
                )
            )
    return out


def _ties(conns: Sequence[MatchConnector], segs: Sequence[Segment]) -> list[Finding]:
    out: list[Finding] = []
    pairs: dict[tuple[int, int], list[IPRange]] = {}
    for s in segs:
        if s.winner is not None and s.tied_with is not None:
            key = (min(s.winner, s.tied_with), max(s.winner, s.tied_with))
            pairs.setdefault(key, []).append(s.range)
    for (a, b), pieces in sorted(pairs.items()):
        if not (conns[a].planned or conns[b].planned):
            continue
        version = pieces[0].version
        if {r for r in conns[a].ranges if r.version == version} == {
            r for r in conns[b].ranges if r.version == version
        }:
            continue  # identical ranges: relay.conflict.identical says it (an error)
        out.append(
            Finding(
                Severity.WARNING,
                "relay.shadow.tie",
                conns[b].identity if conns[b].planned else conns[a].identity,
                f"'{conns[a].identity}' and '{conns[b].identity}' both list {_examples(pieces)} "
                "with the same specificity: which one takes those clients is not defined",
                "keep each client address in one connector only",
            )
        )
    return out


def _relay_word(c: MatchConnector) -> str:
    return "relay" if c.relays else "no relay"


def _moved(
    target: str,
    before: Sequence[MatchConnector],
    seg_before: Sequence[Segment],
    after: Sequence[MatchConnector],
    seg_after: Sequence[Segment],
    successor: dict[str, str],
    migrated_somewhere: set[str],
    default_after: str,
    added: dict[str, list[IPRange]],
    gaps: dict[int, list[IPRange]],
    after_index: dict[str, int],
    starts: Sequence[int],
) -> list[Finding]:
    """Client addresses whose connector on ``target`` is not the 2010 connector's successor.

    A client that gains relay is an error (a plan never grants relay the 2010
    organisation did not grant), unless an override added its address on
    purpose or the new connector's own 2010 source gave it relay on its server.
    ``gaps``: per index of a segment of ``seg_after`` a relay connector takes, the
    addresses of it that no 2010 source of that connector took (absent: none);
    ``after_index``: lower-case identity -> index in ``after``; ``starts``: first
    address of each segment of ``seg_after``.

    Both partitions cover the family; each 2010 segment is compared with the
    segments of ``target`` it overlaps, in address order. Where the 2010 connector
    does not relay, only the segments in ``gaps`` can make a difference, so only
    those are visited: linear in the 2010 server's segments, not in the target's.
    """
    # expected[i]: index in ``after`` of the successor of before[i]; -1: not comparable here
    expected: list[int] = []
    for c in before:
        key = c.identity.lower()
        succ = successor.get(key)
        if succ is None:
            succ = None if key in migrated_somewhere else default_after
        expected.append(after_index.get(succ.lower(), -2) if succ is not None else -1)
    with_gaps = sorted(gaps)
    gap_starts = [seg_after[j].first for j in with_gaps]
    moves: dict[tuple[int, int], list[IPRange]] = {}
    for b in seg_before:
        bw = b.winner
        if bw is None or expected[bw] == -1:
            continue  # nobody listens, or served by another target server
        want = expected[bw]
        if before[bw].relays:
            lo = max(bisect.bisect_right(starts, b.first) - 1, 0)
            visit: Iterable[int] = range(lo, bisect.bisect_right(starts, b.last))
        else:
            # neither relays, or the client keeps no relay: nothing to say outside ``gaps``
            lo = max(bisect.bisect_right(gap_starts, b.first) - 1, 0)
            visit = with_gaps[lo : bisect.bisect_right(gap_starts, b.last)]
        for j in visit:
            a = seg_after[j]
            first, last = max(b.first, a.first), min(b.last, a.last)
            aw = a.winner
            if first > last or aw is None or aw == want:
                continue  # no overlap, nobody listens, or lands where it should
            if not before[bw].relays and not after[aw].relays:
                continue  # neither relays: where the client lands makes no difference to relay
            rng = IPRange(b.version, first, last)
            if any(x.contains(rng) for x in added.get(after[aw].identity.lower(), ())):
                continue  # the override added these addresses to this connector on purpose
            if before[bw].relays:
                pieces = [rng]
            else:  # gains relay where no 2010 source of the new connector took the client
                pieces = [
                    IPRange(b.version, max(g.first, first), min(g.last, last))
                    for g in gaps[j]
                    if g.first <= last and g.last >= first
                ]
            lst = moves.setdefault((bw, aw), [])
            for piece in pieces:
                if lst and lst[-1].last + 1 == piece.first:
                    lst[-1] = IPRange(b.version, lst[-1].first, piece.last)
                else:
                    lst.append(piece)
    out: list[Finding] = []
    for (bi, ai), pieces in sorted(moves.items()):
        if not pieces:
            continue
        old, new = before[bi], after[ai]
        severity, code = Severity.WARNING, "relay.shadow.moved"
        fix = (
            "check with `migrator relay which ADDRESS`; adjust ranges with an override if the "
            "move is not intended"
        )
        if old.relays and not new.relays:
            effect = "these clients lose relay"
        elif new.relays and not old.relays:
            effect = "these clients gain relay, which the 2010 organisation never granted them"
            severity, code = Severity.ERROR, "relay.shadow.gains-relay"
            fix = (
                "keep those clients off the relay connector (override remove_ranges, or a "
                "connector that takes them with AnonymousUsers only); if they should relay, say "
                "so with add_ranges in the relay connector's override"
            )
        else:
            effect = "these clients move to another relay connector"
        out.append(
            Finding(
                severity,
                code,
                old.identity,
                f"on {target}, client addresses {_examples(pieces)} move from '{old.identity}' "
                f"({old.kind}, {_relay_word(old)}) to '{new.identity}' ({new.kind}, "
                f"{_relay_word(new)}): {effect}",
                fix,
            )
        )
    return out


# --------------------------------------------------------------------------- other


def _exchange_addresses(inventory: Inventory, relays: Sequence[_Relay]) -> list[Finding]:
    own: list[tuple[int, int, str, IPAddress]] = sorted(
        (a.version, int(a), s.name, a) for s in inventory.servers for a in s.ip_addresses
    )
    keys = [(v, n) for v, n, _s, _a in own]
    out: list[Finding] = []
    for r in relays:
        hits: list[str] = []
        for rng in r.ranges:
            i = bisect.bisect_left(keys, (rng.version, rng.first))
            while i < len(own) and own[i][0] == rng.version and own[i][1] <= rng.last:
                hits.append(f"'{own[i][3]}' ({own[i][2]})")
                i += 1
        if hits:
            hits = sorted(set(hits))
            out.append(
                Finding(
                    Severity.WARNING,
                    "relay.range.exchange-server",
                    r.identity,
                    f"relay ranges of the {r.where_text} contain Exchange servers' own addresses: "
                    f"{', '.join(hits[:EXAMPLES])}{_more(hits)}; mail between servers would land on it "
                    "as anonymous",
                    "remove the servers' addresses from the relay ranges (override remove_ranges)",
                )
            )
    return out


def _undeclared(relays: Sequence[_Relay], space: AddressSpace) -> list[Finding]:
    out: list[Finding] = []
    for r in relays:
        if not r.planned:
            continue
        outside = [p for x in r.ranges for p in space.outside_declared(x)]
        public = [p for x in r.ranges for p in space.public_parts(x)]
        if outside and not public:
            out.append(
                Finding(
                    Severity.WARNING,
                    "relay.range.undeclared",
                    r.identity,
                    f"relay ranges include {_examples(outside)}, outside RFC 1918 and the "
                    "organisation's declared space (loopback, link-local or shared address space)",
                    "check these clients; declare the space under relay.public_ranges if it is the "
                    "organisation's, or remove it",
                )
            )
    return out


def _host_ranges(inventory: Inventory) -> list[IPRange]:
    out: list[IPRange] = []
    for text, _host in inventory.host_names:
        try:
            out.append(IPRange.parse(text))
        except ValueError:
            continue
    return out


def _no_host_name(inventory: Inventory, plan: RelayPlan) -> list[Finding]:
    named = _coalesce(_host_ranges(inventory))
    starts = {v: [a for a, _ in lst] for v, lst in named.items()}
    carried: dict[str, tuple[IPRange, ...]] = {}
    for p in plan.connectors:
        for ident in (p.source_identity, *p.merged_from):
            carried.setdefault(ident.lower(), p.remote_ip_ranges)
    out: list[Finding] = []
    for cl in plan.classifications:
        if not cl.migrate:
            continue
        singles: list[str] = []
        ranges = carried.get(cl.connector.identity.lower(), cl.connector.remote_ip_ranges)
        for r in ranges:
            if r.first != r.last or r.zone:
                continue
            i = bisect.bisect_right(starts[r.version], r.first) - 1
            if i >= 0 and named[r.version][i][1] >= r.first:
                continue
            singles.append(str(r))
        if singles:
            out.append(
                Finding(
                    Severity.INFO,
                    "relay.range.no-host",
                    cl.connector.identity,
                    f"single addresses without a host name in the inventory: {_examples(singles)}",
                    "name them under hosts: in inventory.yaml so the relay tests and the log "
                    "evidence can say which client each one is",
                )
            )
    return out


def _disabled_and_bindings(plan: RelayPlan) -> list[Finding]:
    out: list[Finding] = []
    for cl in plan.classifications:
        c = cl.connector
        if cl.kind is ConnectorKind.DISABLED:
            out.append(
                Finding(
                    Severity.INFO,
                    "relay.disabled",
                    c.identity,
                    f"'{c.identity}' is disabled on 2010 and is not migrated",
                    "set migrate: true in an override for it if its clients still need it",
                )
            )
            continue
        if not cl.migrate:
            if cl.kind is ConnectorKind.INTERNAL_APP:
                out.append(
                    Finding(
                        Severity.INFO,
                        "relay.internal-only",
                        c.identity,
                        f"'{c.identity}' lets anonymous clients send to accepted domains only; it is not "
                        "migrated because Default Frontend already accepts that mail",
                        "",
                    )
                )
            elif cl.kind is ConnectorKind.AUTHENTICATED:
                out.append(
                    Finding(
                        Severity.INFO,
                        "relay.authenticated",
                        c.identity,
                        f"clients of '{c.identity}' log in (SMTP AUTH); they submit to Client Frontend "
                        "on port 587 and need no custom connector",
                        "point those clients at the new servers on port 587 with STARTTLS",
                    )
                )
            continue
        specific = [str(b) for b in c.bindings if not b.is_any]
        if specific:
            out.append(
                Finding(
                    Severity.INFO,
                    "relay.binding.specific",
                    c.identity,
                    f"2010 bindings to specific addresses ({_examples(specific)}) are not copied: the "
                    "new connector listens on "
                    "0.0.0.0:25 (and [::]:25 where the server has IPv6), since a binding to an address "
                    "the new server does not own can stop the Transport service from starting",
                    "point the clients that used that address at the new server or the SMTP alias",
                )
            )
        ports = sorted({b.port for b in c.bindings if b.port != 25})
        if ports:
            out.append(
                Finding(
                    Severity.WARNING,
                    "relay.binding.port",
                    c.identity,
                    f"the 2010 connector listens on port {', '.join(map(str, ports))}; the new "
                    "connector listens on port 25",
                    "reconfigure those clients to port 25 when they move to the new servers",
                )
            )
    return out


def _certificates(inventory: Inventory, plan: RelayPlan) -> list[Finding]:
    out: list[Finding] = []
    servers = {s.name.lower(): s for s in inventory.servers}
    for p in plan.connectors:
        s = servers.get(p.server.lower())
        own = {p.server.lower()}
        if s is not None and s.fqdn:
            own.add(s.fqdn.lower())
        if p.fqdn.lower() in own:
            continue
        if p.tls_certificate_name:
            out.append(
                Finding(
                    Severity.INFO,
                    "relay.certificate.by-name",
                    p.identity,
                    f"2010 chose the certificate by the connector's Fqdn '{p.fqdn}'; on {p.server} the "
                    f"connector names it with TlsCertificateName '{p.tls_certificate_name}'",
                )
            )
        else:
            out.append(
                Finding(
                    Severity.WARNING,
                    "relay.certificate.missing",
                    p.identity,
                    f"the connector announces '{p.fqdn}' (the 2010 connector's Fqdn) but no certificate "
                    f"on {p.server} in the inventory names it: clients that use STARTTLS and check the "
                    "name will fail",
                    f"install a certificate whose names include '{p.fqdn}' on {p.server} and re-run the "
                    "plan, which then sets TlsCertificateName",
                )
            )
    return out


def _default_frontend(inventory: Inventory, plan: RelayPlan) -> list[Finding]:
    out: list[Finding] = []
    for p in plan.connectors:
        if p.name.lower() in default_connector_names(p.server):
            out.append(
                Finding(
                    Severity.ERROR,
                    "relay.default-connector",
                    p.identity,
                    f"the plan would change default connector '{p.identity}'; Default Frontend's "
                    "settings (TlsDomainCapabilities set by the HCW, the [::]:25 binding) are never touched",
                    "give the relay connector another name (override name)",
                )
            )
    servers = {s.name.lower(): s for s in inventory.target_servers}
    for c in inventory.receive_connectors:
        s = servers.get(c.server.lower())
        if s is None or c.name.lower() != f"default frontend {s.name}".lower():
            continue
        if s.has_ipv6 and not any(b.address.version == 6 for b in c.bindings):
            out.append(
                Finding(
                    Severity.WARNING,
                    "relay.default-frontend.ipv6",
                    c.identity,
                    f"'{c.identity}' has no [::]:25 binding: the Hybrid Configuration Wizard fails "
                    "with HCW8010 without it",
                    f"Set-ReceiveConnector -Identity '{c.identity}' -Bindings with [::]:25 added; the "
                    "relay runbook leaves Default Frontend alone",
                )
            )
    return out


# --------------------------------------------------------------------------- onward (2016 -> SE)

_ABOUT_THE_NEW_SERVER = frozenset({"relay.shadow.moved"})
"""Codes that name a 2016 connector but judge what happens on the new server."""


def check_onward_relay(
    inventory: Inventory,
    relay_plan: RelayPlan,
    onward_plan: RelayPlan,
    first_hop: Iterable[Finding] = (),
) -> list[Finding]:
    """The relay checks for the onward move (2016 -> final version), codes prefixed ``onward.``.

    The checks run over :func:`~migrator.plan.relay.onward_inventory` and the
    onward plan: conflicts with connectors already on the new servers, shadowing,
    open relay, certificates and the rest. Findings the first hop already made
    (``first_hop``, identical) are left out, and so are findings about the 2016
    connectors themselves (the first hop judged them, or their 2010 sources),
    except where they tell what happens on the new server.
    """
    derived = onward_inventory(inventory, relay_plan)
    if derived is None:
        return []
    hop = {s.name.lower() for s in onward_servers(inventory)[0]}
    seen = set(first_hop)
    out: list[Finding] = []
    for f in check_relay(derived, onward_plan):
        if f in seen or f.code.startswith("version."):
            continue
        if f.where.split("\\", 1)[0].lower() in hop and f.code not in _ABOUT_THE_NEW_SERVER:
            continue
        out.append(dataclasses.replace(f, code=ONWARD_CODE_PREFIX + f.code))
    return sorted(out, key=Finding.sort_key)
