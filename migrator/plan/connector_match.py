"""Which receive connector takes a client connection: the most-specific-match rule.

Among the connectors of one server that listen on the port a client connects
to, Exchange picks the one whose RemoteIPRanges entry containing the client's
address is the smallest (a single address beats the /24 it sits in, which
beats "all addresses"). Between equally specific entries, a binding to a
specific local address is taken to beat ``0.0.0.0`` / ``::`` (an inference
from Microsoft's "most specific match" wording; it only matters where a
server has connectors bound to specific addresses). A remaining tie between
two connectors is ambiguous: Exchange does not document which one wins, so
the engine breaks it by identity and reports it as a tie.

:func:`partition` computes, for one server, port and address family, the
winner of every stretch of the address space in one sort and one heap sweep
(``O(n log n)`` in range entries), which is what the shadowing check and
``migrator relay which`` use.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from migrator.iprange import ALL_IPV4, ALL_IPV6, IPRange
from migrator.model import Binding, Inventory, IPAddress, ReceiveConnector
from migrator.plan.relay import ConnectorKind, PermissionIndex, PlannedConnector, RelayPlan


@dataclass(frozen=True, slots=True)
class MatchConnector:
    """A receive connector as the matcher sees it (a 2010 one, an existing target one or a planned one)."""

    identity: str
    """``SERVER\\Name``."""
    bindings: tuple[Binding, ...]
    """Local bindings."""
    ranges: tuple[IPRange, ...]
    """RemoteIPRanges."""
    relays: bool
    """Whether anonymous clients that land on it may send to any recipient."""
    kind: str = ""
    """What it is, in words (``anonymous relay``, ``default``, ``planned anonymous relay``)."""
    planned: bool = False
    """Whether it is a connector the plan creates (not one that exists today)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of addresses of one family and the connector that takes it."""

    version: int
    """4 or 6."""
    first: int
    """First address (integer)."""
    last: int
    """Last address (integer, inclusive)."""
    winner: int | None
    """Index of the winning connector in the list given to :func:`partition`; None where none listens."""
    entry: IPRange | None = None
    """The winning RemoteIPRanges entry."""
    tied_with: int | None = None
    """Index of another connector with an equally specific entry (an ambiguous match), if any."""

    @property
    def range(self) -> IPRange:
        """The stretch as an :class:`IPRange`."""
        return IPRange(self.version, self.first, self.last)


def _binding_rank(binding: Binding, port: int, version: int, local: IPAddress | None) -> int | None:
    """0 for a binding to the exact local address, 1 for ``0.0.0.0``/``::``; None when it does not listen there."""
    if binding.port != port or binding.address.version != version:
        return None
    if binding.is_any:
        return 1
    if local is None or binding.address == local:
        return 0
    return None


def best_rank(
    connector: MatchConnector, port: int, version: int, local: IPAddress | None = None
) -> int | None:
    """The most specific rank among the connector's bindings for a connection, None if none listens."""
    ranks = [
        r for b in connector.bindings if (r := _binding_rank(b, port, version, local)) is not None
    ]
    return min(ranks) if ranks else None


def take(
    connectors: Sequence[MatchConnector],
    client: IPAddress,
    port: int = 25,
    local: IPAddress | None = None,
) -> tuple[MatchConnector | None, IPRange | None, MatchConnector | None]:
    """The connector that takes ``client`` on ``port``, the entry that matched, and a tied rival (or None).

    ``local`` is the server address the client connects to; None means "any of
    the server's addresses" (every binding on the port is a candidate).
    """
    scored: list[tuple[int, int, str, int, IPRange]] = []
    for idx, c in enumerate(connectors):
        rank = best_rank(c, port, client.version, local)
        if rank is None:
            continue
        hits = [r for r in c.ranges if r.contains_address(client)]
        if hits:
            smallest = min(hits, key=lambda r: (r.size, r.first))
            scored.append((smallest.size, rank, c.identity.lower(), idx, smallest))
    if not scored:
        return None, None, None
    scored.sort(key=lambda t: t[:4])
    size, rank, _low, idx, entry = scored[0]
    rival = None
    if len(scored) > 1 and scored[1][:2] == (size, rank):
        rival = connectors[scored[1][3]]
    return connectors[idx], entry, rival


def partition(
    connectors: Sequence[MatchConnector],
    version: int,
    port: int = 25,
    local: IPAddress | None = None,
) -> list[Segment]:
    """Split one family's address space into stretches, each with the connector that takes it.

    Adjacent stretches with the same winner are joined; stretches no
    connector listens for have ``winner`` None. One sort plus one heap sweep.
    """
    top = (1 << 32) - 1 if version == 4 else (1 << 128) - 1
    # (first, last, size, rank, identity, index, entry)
    entries: list[tuple[int, int, int, int, str, int, IPRange]] = []
    for idx, c in enumerate(connectors):
        rank = best_rank(c, port, version, local)
        if rank is None:
            continue
        low = c.identity.lower()
        for r in c.ranges:
            if r.version == version:
                entries.append((r.first, r.last, r.size, rank, low, idx, r))
    entries.sort(key=lambda e: (e[0], e[1]))
    points = sorted({0, top + 1, *(e[0] for e in entries), *(e[1] + 1 for e in entries)})
    heap: list[tuple[int, int, str, int, int, IPRange]] = []
    # raw stretches (first, last, winner, entry, tie), joined with the previous one where equal
    raw: list[tuple[int, int, int | None, IPRange | None, int | None]] = []
    i = 0
    n = len(entries)
    push, pop = heapq.heappush, heapq.heappop
    for k in range(len(points) - 1):
        p = points[k]
        if p > top:
            break
        while i < n and entries[i][0] <= p:
            _first, last, size, rank, low, idx, rng = entries[i]
            push(heap, (size, rank, low, idx, last, rng))
            i += 1
        while heap and heap[0][4] < p:
            pop(heap)
        seg_last = points[k + 1] - 1
        item: tuple[int, int, int | None, IPRange | None, int | None]
        if heap:
            size, rank, _low, idx, _last, rng = heap[0]
            item = (p, seg_last, idx, rng, _tie(heap, size, rank, idx, p))
        else:
            item = (p, seg_last, None, None, None)
        if raw:
            prev = raw[-1]
            if prev[2] == item[2] and prev[3] == item[3] and prev[4] == item[4]:
                raw[-1] = (prev[0], seg_last, prev[2], prev[3], prev[4])
                continue
        raw.append(item)
    return [Segment(version, a, b, w, e, t) for a, b, w, e, t in raw]


def _tie(
    heap: list[tuple[int, int, str, int, int, IPRange]], size: int, rank: int, idx: int, p: int
) -> int | None:
    """Another live connector whose entry is as specific as the winner's (heap children only)."""
    # A tie sits at heap[1] or heap[2] when it exists among live entries near the top;
    # checking the two children is enough for the common case and keeps the sweep linear.
    for j in (1, 2):
        if j < len(heap):
            s, r, _low, other, last, _rng = heap[j]
            if s == size and r == rank and other != idx and last >= p:
                return other
    return None


def winner_at(segments: Sequence[Segment], address: int) -> Segment | None:
    """The segment containing ``address`` (segments as :func:`partition` returns them)."""
    lo, hi = 0, len(segments) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        s = segments[mid]
        if address < s.first:
            hi = mid - 1
        elif address > s.last:
            lo = mid + 1
        else:
            return s
    return None


# --------------------------------------------------------------------------- views of the servers


def _any_bindings(port: int = 25) -> tuple[Binding, ...]:
    return (
        Binding(ipaddress.IPv4Address("0.0.0.0"), port),
        Binding(ipaddress.IPv6Address("::"), port),
    )


def _connector_relays(c: ReceiveConnector, perms: PermissionIndex) -> bool:
    return bool(perms.anonymous_relay_grants(c.identity)) or "externalauthoritative" in {
        a.lower() for a in c.auth_mechanism
    }


class ServerViews:
    """Every server's connectors as the matcher sees them, before (2010) and after the plan.

    Built once per (inventory, plan): connectors are indexed by server and
    views and partitions are cached, so the shadowing check and ``relay
    which`` stay linear in the number of connectors.
    """

    def __init__(self, inventory: Inventory, plan: RelayPlan) -> None:
        self._perms = PermissionIndex(inventory.ad_permissions)
        self._kinds = {cl.connector.identity.lower(): cl.kind for cl in plan.classifications}
        self._by_server: dict[str, list[ReceiveConnector]] = {}
        for c in inventory.receive_connectors:
            self._by_server.setdefault(c.server.lower(), []).append(c)
        self._planned: dict[str, list[PlannedConnector]] = {}
        self._sources: dict[str, set[str]] = {}
        for p in (*plan.connectors, *plan.internal):
            self._planned.setdefault(p.server.lower(), []).append(p)
            for ident in (p.source_identity, *p.merged_from):
                self._sources.setdefault(p.server.lower(), set()).add(ident.split("\\", 1)[0])
        self._before: dict[str, list[MatchConnector]] = {}
        self._after: dict[str, list[MatchConnector]] = {}
        self._parts: dict[tuple[str, str, int], list[Segment]] = {}

    def before(self, legacy: str) -> list[MatchConnector]:
        """The enabled connectors of one legacy server as they take connections today.

        Where the export lacks the server's ``Default <server>`` connector, one
        with every address is assumed (Exchange setup always creates it).
        """
        key = legacy.lower()
        if key not in self._before:
            out: list[MatchConnector] = []
            for c in self._by_server.get(key, ()):
                if not c.enabled:
                    continue
                kind = self._kinds.get(c.identity.lower(), ConnectorKind.OTHER)
                relays = kind in (ConnectorKind.ANONYMOUS_RELAY, ConnectorKind.EXTERNALLY_SECURED)
                out.append(
                    MatchConnector(c.identity, c.bindings, c.remote_ip_ranges, relays, kind.value)
                )
            default = f"{legacy}\\Default {legacy}"
            if not any(m.identity.lower() == default.lower() for m in out):
                out.append(
                    MatchConnector(
                        default, _any_bindings(), (ALL_IPV4, ALL_IPV6), False, "default (assumed)"
                    )
                )
            self._before[key] = out
        return self._before[key]

    def after(self, target: str) -> list[MatchConnector]:
        """The connectors of one target server once the plan has run: existing plus planned ones.

        A planned connector replaces an existing one of the same identity (the
        runbook updates it); ``Default Frontend <server>`` is assumed where the
        export lacks it.
        """
        key = target.lower()
        if key not in self._after:
            planned = self._planned.get(key, [])
            planned_ids = {p.identity.lower() for p in planned}
            out: list[MatchConnector] = []
            for c in self._by_server.get(key, ()):
                if not c.enabled or c.identity.lower() in planned_ids:
                    continue
                relays = _connector_relays(c, self._perms)
                role = c.transport_role.value if c.transport_role else "unknown role"
                out.append(
                    MatchConnector(
                        c.identity, c.bindings, c.remote_ip_ranges, relays, f"existing, {role}"
                    )
                )
            for p in planned:
                out.append(
                    MatchConnector(
                        p.identity,
                        p.bindings,
                        p.remote_ip_ranges,
                        p.relay,
                        f"planned {p.method.value} relay" if p.relay else "planned internal-only",
                        True,
                    )
                )
            default = f"{target}\\Default Frontend {target}"
            if not any(m.identity.lower() == default.lower() for m in out):
                out.append(
                    MatchConnector(
                        default, _any_bindings(), (ALL_IPV4, ALL_IPV6), False, "default (assumed)"
                    )
                )
            self._after[key] = out
        return self._after[key]

    def before_partition(self, legacy: str, version: int) -> list[Segment]:
        """:func:`partition` of :meth:`before` on port 25 (cached)."""
        key = ("before", legacy.lower(), version)
        if key not in self._parts:
            self._parts[key] = partition(self.before(legacy), version)
        return self._parts[key]

    def after_partition(self, target: str, version: int) -> list[Segment]:
        """:func:`partition` of :meth:`after` on port 25 (cached)."""
        key = ("after", target.lower(), version)
        if key not in self._parts:
            self._parts[key] = partition(self.after(target), version)
        return self._parts[key]

    def legacy_sources(self, target: str) -> list[str]:
        """Legacy servers whose relay connectors are planned on ``target`` (sorted)."""
        return sorted(self._sources.get(target.lower(), ()), key=str.lower)


def before_view(inventory: Inventory, plan: RelayPlan, legacy: str) -> list[MatchConnector]:
    """The connectors of one legacy server as they take connections today (see :class:`ServerViews`)."""
    return ServerViews(inventory, plan).before(legacy)


def after_view(inventory: Inventory, plan: RelayPlan, target: str) -> list[MatchConnector]:
    """The connectors of one target server once the plan has run (see :class:`ServerViews`)."""
    return ServerViews(inventory, plan).after(target)


def legacy_sources(plan: RelayPlan, target: str) -> list[str]:
    """Legacy servers whose relay connectors are planned on ``target`` (sorted)."""
    names: set[str] = set()
    for p in plan.connectors:
        if p.server.lower() == target.lower():
            for ident in (p.source_identity, *p.merged_from):
                names.add(ident.split("\\", 1)[0])
    return sorted(names, key=str.lower)


@dataclass(frozen=True)
class WhichAnswer:
    """Which connector takes one client address on one target server, before and after."""

    target: str
    """Target server."""
    after: MatchConnector | None
    """Connector that takes the address on the target once the plan has run."""
    after_entry: IPRange | None
    """The RemoteIPRanges entry that matched."""
    after_tie: MatchConnector | None
    """An equally specific rival (ambiguous match), if any."""
    before: tuple[tuple[str, MatchConnector | None, IPRange | None], ...]
    """(legacy server, connector, entry) for each 2010 server whose relay moves to this target."""


def which(
    inventory: Inventory, plan: RelayPlan, address: IPAddress, port: int = 25
) -> list[WhichAnswer]:
    """For every target server: the connector that takes ``address`` after the plan, and before on 2010.

    The 2010 servers shown are those whose relay connectors move to that
    target; where none does, every legacy server is shown.
    """
    answers: list[WhichAnswer] = []
    views = ServerViews(inventory, plan)
    legacy_all = [s.name for s in inventory.legacy_servers]
    for t in sorted(inventory.target_servers, key=lambda s: s.name.lower()):
        if t.is_edge:
            continue
        winner, entry, tie = take(views.after(t.name), address, port)
        before: list[tuple[str, MatchConnector | None, IPRange | None]] = []
        for legacy in views.legacy_sources(t.name) or sorted(legacy_all, key=str.lower):
            w, e, _ = take(views.before(legacy), address, port)
            before.append((legacy, w, e))
        answers.append(WhichAnswer(t.name, winner, entry, tie, tuple(before)))
    return answers
