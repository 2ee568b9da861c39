"""Mailbox move waves: who moves when, into which database, and which delegate links break.

The planner works on plain lists and dictionaries (no graph library) so that
300,000 mailboxes with a million permission links plan in seconds:

1. every mailbox gets a target (2016 database, or Exchange Online by the
   ``moves.exchange_online`` rule) and a target database (the site's or
   server's list in ``moves.target_databases``, least-filled first);
2. arbitration mailboxes form wave 0 (the Migration mailbox first);
3. the pilot (``moves.pilot``, else ``moves.pilot_ous``) comes next;
4. the rest are grouped by permission links: connected components (union-find)
   over links whose trustee holds rights on at most ``service_account_cap``
   mailboxes (the others are reported, never used to glue); a component larger
   than a wave is cut in breadth-first order, which keeps neighbours together
   and so cuts few links;
5. groups are packed first-fit (largest first) into waves under every cap;
   a single mailbox larger than a cap gets a wave of its own and a warning;
6. a mailbox pinned by the team (``Wave (override)``) stays in its wave; the
   rest pack around it; an override that breaks a cap is reported.

On-premises, keeping linked mailboxes together is a preference (rights work
between 2010 and 2016); for Exchange Online waves it is a requirement, so a
broken link there is a warning.
"""

from __future__ import annotations

import gc
import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from migrator.errors import Problem
from migrator.mailboxes import Mailbox, MailboxKind, MovesPolicy, Right
from migrator.model import Finding, Inventory, Lifecycle, Severity

GB = 1024**3
ON_PREMISES = "on-premises"
EXCHANGE_ONLINE = "exchange-online"
ARBITRATION_WAVE = 0


@dataclass(frozen=True)
class BrokenLink:
    """A permission link whose two mailboxes move in different waves."""

    with_mailbox: str
    """The other mailbox (primary SMTP)."""
    right: Right
    """The right."""
    holder: bool
    """Whether this mailbox holds the right on the other (else the other holds it on this one)."""


@dataclass(frozen=True)
class MoveAssignment:
    """Where and when one mailbox moves."""

    mailbox: Mailbox
    """The mailbox."""
    target: str
    """``on-premises`` or ``exchange-online``."""
    target_database: str
    """2016 database (empty for Exchange Online)."""
    wave: int
    """Wave number (0 = arbitration mailboxes)."""
    pinned: bool = False
    """Whether the team pinned it with ``Wave (override)``."""
    broken_links: tuple[BrokenLink, ...] = ()
    """Links to mailboxes of other waves."""


@dataclass(frozen=True)
class MoveWave:
    """One wave: mailboxes moved together and completed in one window."""

    number: int
    """Wave number."""
    target: str
    """``on-premises`` or ``exchange-online``."""
    mailboxes: tuple[str, ...]
    """Primary SMTP addresses, in CSV order (Migration mailbox first in wave 0)."""
    size_bytes: int
    """Bytes to copy (primaries and archives)."""
    copy_hours: float
    """Estimated copy time: the slowest source server or target database, in parallel."""
    pilot: bool = False
    """Whether it is a pilot wave."""
    bytes_by_source: tuple[tuple[str, int], ...] = ()
    """(2010 server, bytes) it copies from."""
    bytes_by_target: tuple[tuple[str, int], ...] = ()
    """(2016 database, bytes) it copies into."""

    @property
    def name(self) -> str:
        """``wave-000`` (arbitration), ``wave-001``, ..."""
        return f"wave-{self.number:03d}"

    @property
    def arbitration(self) -> bool:
        """Whether it is the arbitration wave."""
        return self.number == ARBITRATION_WAVE


@dataclass(frozen=True)
class LogForecast:
    """Transaction logs a target database writes during its largest wave."""

    database: str
    """2016 database."""
    copies: int
    """DAG copies (each writes the logs)."""
    largest_wave_bytes: int
    """Log bytes of its largest wave (bytes moved in times copies)."""
    total_bytes: int
    """Log bytes of every wave together (without truncation by backups)."""
    free_bytes: int | None
    """Free space on its log volume, where the inventory has it."""


@dataclass(frozen=True)
class MovePlan:
    """Every mailbox's wave, the waves and what the planner found."""

    assignments: tuple[MoveAssignment, ...]
    """One per mailbox moved, in wave order then CSV order."""
    waves: tuple[MoveWave, ...]
    """Waves in run order."""
    excluded: tuple[tuple[str, str], ...] = ()
    """(primary SMTP, reason) of mailboxes left out."""
    findings: tuple[Finding, ...] = ()
    """Warnings and errors."""
    logs: tuple[LogForecast, ...] = ()
    """Log forecast per target database."""
    service_accounts: tuple[tuple[str, int], ...] = ()
    """(trustee, mailboxes it has rights on) above the cap."""
    policy: MovesPolicy = field(default_factory=MovesPolicy)
    """The policy the plan used."""
    observed: tuple[tuple[str, float], ...] = ()
    """(2010 server, observed GB/hour) that replaced the assumption (``migrator moves forecast``)."""

    def wave(self, number: int) -> MoveWave:
        """The wave of that number (KeyError when none)."""
        for w in self.waves:
            if w.number == number:
                return w
        raise KeyError(number)


# --------------------------------------------------------------------------- targets


def _is_online(m: Mailbox, policy: MovesPolicy) -> bool:
    rule = policy.online
    if m.kind in (MailboxKind.ARBITRATION, MailboxKind.DISCOVERY):
        return False
    dn = m.distinguished_name.lower()
    if any(dn.endswith(ou) for ou in rule.ous):
        return True
    if rule.mailboxes and (m.primary_smtp in rule.mailboxes or m.alias.lower() in rule.mailboxes):
        return True
    if rule.groups:
        for g in m.member_of:
            low = g.lower()
            cn = low.split(",", 1)[0].removeprefix("cn=")
            if low in rule.groups or cn in rule.groups:
                return True
    if rule.attribute is not None:
        name, value = rule.attribute
        if (name, value) in m.custom_attributes:
            return True
    return False


def _in_pilot(m: Mailbox, policy: MovesPolicy) -> bool:
    if policy.pilot:
        return m.primary_smtp in policy.pilot or m.alias.lower() in policy.pilot
    dn = m.distinguished_name.lower()
    return any(dn.endswith(ou) for ou in policy.pilot_ous)


class _Targets:
    """Target databases per 2010 server, least-filled first (bytes), deterministic."""

    def __init__(self, inv: Inventory, policy: MovesPolicy) -> None:
        site_of = {s.name.lower(): s.site.lower() for s in inv.servers}
        self.by_key = {k.lower(): list(v) for k, v in policy.target_databases}
        if not self.by_key:
            # No policy: the 2016 databases of the inventory, per site of their server.
            targets = {s.name.lower() for s in inv.servers if s.lifecycle is Lifecycle.TARGET}
            for d in inv.mailbox_databases:
                if d.server.lower() in targets:
                    self.by_key.setdefault(site_of.get(d.server.lower(), ""), []).append(d.name)
        self.site_of = site_of
        self.load: dict[str, int] = defaultdict(int)

    def choose(self, m: Mailbox) -> str:
        server = m.server.lower()
        options = self.by_key.get(server) or self.by_key.get(self.site_of.get(server, ""))
        if not options:
            options = next(iter(self.by_key.values()), None) if len(self.by_key) == 1 else None
        if not options:
            return ""
        best = min(options, key=lambda d: (self.load[d], options.index(d)))
        self.load[best] += m.total_bytes
        return best


# --------------------------------------------------------------------------- grouping


class _Wave:
    __slots__ = ("bytes", "count", "members", "number", "pilot", "sources", "target", "targets")

    def __init__(self, number: int, target: str, pilot: bool = False) -> None:
        self.number = number
        self.target = target
        self.pilot = pilot
        self.members: list[int] = []
        self.count = 0
        self.bytes = 0
        self.sources: dict[str, int] = defaultdict(int)
        self.targets: dict[str, int] = defaultdict(int)


class _Packer:
    """First-fit over the recently opened waves under every cap."""

    LOOKBACK = 24

    def __init__(
        self,
        policy: MovesPolicy,
        sizes: Sequence[int],
        sources: Sequence[str],
        dbs: Sequence[str],
        waves: dict[int, _Wave],
    ) -> None:
        self.p = policy
        self.max_bytes = int(policy.max_gb * GB)
        self.sizes = sizes
        self.sources = sources
        self.dbs = dbs
        self.waves = waves
        self.open: list[_Wave] = []
        self.next_free = 1

    def fits(self, w: _Wave, group: Sequence[int]) -> bool:
        p = self.p
        if w.count + len(group) > p.max_mailboxes:
            return False
        if w.bytes + sum(self.sizes[i] for i in group) > self.max_bytes:
            return False
        src: dict[str, int] = defaultdict(int)
        tgt: dict[str, int] = defaultdict(int)
        for i in group:
            src[self.sources[i]] += 1
            if self.dbs[i]:
                tgt[self.dbs[i]] += 1
        for s, n in src.items():
            if w.sources[s] + n > p.max_per_source_server:
                return False
        return all(w.targets[d] + n <= p.max_per_target_database for d, n in tgt.items())

    def put(self, w: _Wave, group: Sequence[int]) -> None:
        for i in group:
            w.members.append(i)
            w.bytes += self.sizes[i]
            w.sources[self.sources[i]] += 1
            if self.dbs[i]:
                w.targets[self.dbs[i]] += 1
        w.count += len(group)

    def new_wave(self, target: str, pilot: bool) -> _Wave:
        number = self.next_free
        while number in self.waves:
            number += 1
        self.next_free = number + 1
        w = _Wave(number, target, pilot)
        self.waves[number] = w
        return w

    def pack(self, group: Sequence[int], target: str, pilot: bool = False) -> bool:
        """Place a group; False when it fits no empty wave (the caller splits it)."""
        for w in self.open:
            if self.fits(w, group):
                self.put(w, group)
                return True
        w = self.new_wave(target, pilot)
        if not self.fits(w, group) and len(group) > 1:
            del self.waves[w.number]
            self.next_free = w.number
            return False
        self.put(w, group)  # a single mailbox over a cap: its own wave
        self.open.append(w)
        if len(self.open) > self.LOOKBACK:
            self.open.pop(0)
        return True

    def close(self) -> None:
        self.open = []


def _split(group: list[int], adj: Mapping[int, list[int]], packer: _Packer) -> list[list[int]]:
    """Cut a component into pieces that each fit an empty wave, cutting few links.

    Greedy graph growing: a piece starts at the first mailbox left and takes,
    one at a time, the mailbox with the most links into the piece (a heap
    with lazy updates), skipping one a cap refuses; when the piece's
    neighbourhood is used up it goes on from the next mailbox left. Dense
    teams therefore end up whole in one piece and the cuts fall on the few
    links between them. O(links log links).
    """
    p = packer.p
    remaining = set(group)
    seeds = sorted(group)  # a sorted list is a heap: the next seed is the lowest index left
    pieces: list[list[int]] = []
    while remaining:
        piece: list[int] = []
        count = 0
        total = 0
        src: dict[str, int] = defaultdict(int)
        tgt: dict[str, int] = defaultdict(int)
        gain: dict[int, int] = {}
        refused: set[int] = set()
        heap: list[tuple[int, int]] = []
        while count < p.max_mailboxes:
            if not heap:
                seed = -1
                while seeds:
                    i = heapq.heappop(seeds)
                    if i in remaining and i not in refused:
                        seed = i
                        break
                if seed < 0:
                    break
                gain[seed] = 0
                heap.append((0, seed))
            neg, i = heapq.heappop(heap)
            if i not in remaining or i in refused or -neg != gain.get(i):
                continue
            size, s, d = packer.sizes[i], packer.sources[i], packer.dbs[i]
            if piece and (
                total + size > packer.max_bytes
                or src[s] + 1 > p.max_per_source_server
                or (d and tgt[d] + 1 > p.max_per_target_database)
            ):
                refused.add(i)
                if len(refused) > 4 * p.max_mailboxes:
                    break
                continue
            piece.append(i)
            remaining.discard(i)
            count += 1
            total += size
            src[s] += 1
            if d:
                tgt[d] += 1
            for j in adj.get(i, ()):
                if j in remaining and j not in refused:
                    gain[j] = gain.get(j, 0) + 1
                    heapq.heappush(heap, (-gain[j], j))
        for i in refused:
            if i in remaining:
                heapq.heappush(seeds, i)  # another piece takes it
        pieces.append(piece)
    return pieces


def _find(parent: list[int], i: int) -> int:
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        parent[i], i = root, parent[i]
    return root


# --------------------------------------------------------------------------- the planner


def plan_moves(
    inv: Inventory,
    overrides: Mapping[str, int] | None = None,
    throughput: Mapping[str, float] | None = None,
) -> MovePlan:
    """Plan the waves of every mailbox of the inventory (see :func:`_plan_moves`).

    The cyclic garbage collector is paused meanwhile: the planner allocates
    millions of small acyclic objects (tuples, lists, dict entries) for a large
    organisation, and each collector pass over them costs more than it frees.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _plan_moves(inv, overrides, throughput)
    finally:
        if enabled:
            gc.enable()


def _plan_moves(
    inv: Inventory,
    overrides: Mapping[str, int] | None = None,
    throughput: Mapping[str, float] | None = None,
) -> MovePlan:
    """Plan the waves of every mailbox of the inventory.

    ``overrides`` maps primary SMTP addresses to the wave the team pinned them
    to; ``throughput`` (GB/hour per 2010 server, lower-case) replaces the
    policy's assumption, as ``migrator moves forecast`` measures it.
    """
    policy = inv.moves or MovesPolicy()
    overrides = overrides or {}
    findings: list[Finding] = []
    excluded: list[tuple[str, str]] = []
    mailboxes: list[Mailbox] = []
    exclude = set(policy.exclude)
    for m in inv.mailboxes:
        if m.primary_smtp in exclude or m.alias.lower() in exclude:
            excluded.append((m.primary_smtp, "excluded by moves.exclude"))
        else:
            mailboxes.append(m)
    for m in [m for m in inv.mailboxes if m.primary_smtp in exclude]:
        findings.append(
            Finding(
                Severity.WARNING,
                "moves.excluded",
                str(m.source or m.primary_smtp),
                f"mailbox '{m.primary_smtp}' is excluded by moves.exclude: it stays on "
                f"{m.database}, which blocks that database's removal until it is moved or removed",
                "move or remove it before decommissioning the database",
            )
        )
    targets = _Targets(inv, policy)
    online_rule = policy.online
    no_online = not (online_rule.ous or online_rule.groups or online_rule.mailboxes)
    if not targets.by_key and no_online and online_rule.attribute is None:
        # A fresh collection: no 2016 database known yet. One finding, no waves.
        return MovePlan(
            (),
            (),
            tuple((m.primary_smtp, "no 2016 database known yet") for m in mailboxes),
            (
                Finding(
                    Severity.WARNING,
                    "moves.no-target-databases",
                    "moves.target_databases",
                    f"{len(mailboxes)} mailbox(es) are not planned into waves: no 2016 "
                    "database is known (none in moves.target_databases, none of a target "
                    "server in the database export)",
                    "list the 2016 databases per site in moves.target_databases (docs/moves.md)",
                ),
                *findings,
            ),
            policy=policy,
        )
    index = {m.primary_smtp: i for i, m in enumerate(mailboxes)}
    online = [_is_online(m, policy) for m in mailboxes]
    dbs: list[str] = []
    for m, cloud in zip(mailboxes, online, strict=True):
        db = "" if cloud else targets.choose(m)
        if not cloud and not db:
            findings.append(
                Finding(
                    Severity.ERROR,
                    "moves.no-target-database",
                    str(m.source or m.primary_smtp),
                    f"no 2016 database for mailbox '{m.primary_smtp}' on {m.server or m.database}",
                    "list the 2016 databases per site or server in moves.target_databases",
                )
            )
        dbs.append(db)
    if any(online) and not (inv.tenant and inv.tenant.initial_domain):
        findings.append(
            Finding(
                Severity.ERROR,
                "moves.exchange-online-without-tenant",
                "moves.exchange_online",
                f"{sum(online)} mailbox(es) go to Exchange Online but inventory.yaml has no "
                "tenant.initial_domain: the batches need <tenant>.mail.onmicrosoft.com as "
                "target delivery domain",
                "add the tenant (tenant.yaml from Export-MigratorCloudInventory.ps1) or narrow "
                "moves.exchange_online",
            )
        )
    known_dbs = {d.name.lower() for d in inv.mailbox_databases}
    if known_dbs:
        for key, names in policy.target_databases:
            for name in names:
                if name.lower() not in known_dbs:
                    findings.append(
                        Finding(
                            Severity.WARNING,
                            "moves.target-database-unknown",
                            f"moves.target_databases.{key}",
                            f"'{name}' is not in the database export: create it before its "
                            "first wave (or export Get-MailboxDatabase from 2016 too)",
                        )
                    )
    sizes = [m.total_bytes for m in mailboxes]
    server_case = {s.name.lower(): s.name for s in inv.servers}
    sources = [server_case.get(m.server.lower(), m.server) for m in mailboxes]

    # Links: adjacency between mailboxes of the same target; service accounts do not glue.
    per_trustee: Counter[str] = Counter(link.trustee for link in inv.mailbox_links)
    cap = policy.service_account_cap
    service = {t: n for t, n in per_trustee.items() if n > cap}
    service_idx = {index[t] for t in service if t in index}
    adj: dict[int, list[int]] = defaultdict(list)
    pairs: list[tuple[int, int, Right]] = []
    get = index.get
    for link in inv.mailbox_links:
        a, b = get(link.mailbox), get(link.trustee)
        if a is None or b is None:
            continue
        pairs.append((a, b, link.right))
        if b in service_idx or online[a] != online[b]:
            continue
        adj[a].append(b)
        adj[b].append(a)
    for trustee, n in sorted(service.items()):
        findings.append(
            Finding(
                Severity.WARNING,
                "moves.service-account",
                "mailbox permissions",
                f"'{trustee}' holds rights on {n} mailboxes (more than moves.service_account_cap "
                f"{policy.service_account_cap}): it does not tie waves together; check it works "
                "against both 2010 and 2016 during the moves",
                "raise moves.service_account_cap to group by it anyway",
            )
        )

    waves: dict[int, _Wave] = {}
    wave_of: dict[int, int] = {}
    arbitration = [
        i for i, m in enumerate(mailboxes) if m.kind is MailboxKind.ARBITRATION and not online[i]
    ]
    arbitration.sort(
        key=lambda i: (not mailboxes[i].is_migration_mailbox, mailboxes[i].primary_smtp)
    )
    if arbitration:
        w0 = _Wave(ARBITRATION_WAVE, ON_PREMISES)
        waves[ARBITRATION_WAVE] = w0
        w0.members = list(arbitration)
        w0.count = len(arbitration)
        w0.bytes = sum(sizes[i] for i in arbitration)
        for i in arbitration:
            wave_of[i] = ARBITRATION_WAVE
    # Pinned mailboxes first: their waves exist before packing.
    pinned: set[int] = set()
    for smtp, number in sorted(overrides.items()):
        found = index.get(smtp.lower())
        if found is None or found in wave_of:
            continue
        i = found
        w = waves.get(number)
        if w is None:
            w = _Wave(number, EXCHANGE_ONLINE if online[i] else ON_PREMISES)
            waves[number] = w
        w.members.append(i)
        w.count += 1
        w.bytes += sizes[i]
        w.sources[sources[i]] += 1
        if dbs[i]:
            w.targets[dbs[i]] += 1
        wave_of[i] = number
        pinned.add(i)
    packer = _Packer(policy, sizes, sources, dbs, waves)
    pilot = [i for i, m in enumerate(mailboxes) if i not in wave_of and _in_pilot(m, policy)]
    for i in pilot:
        packer.pack([i], EXCHANGE_ONLINE if online[i] else ON_PREMISES, pilot=True)
    packer.close()
    for w in waves.values():
        for i in w.members:
            wave_of.setdefault(i, w.number)

    for cloud in (False, True):
        target = EXCHANGE_ONLINE if cloud else ON_PREMISES
        # Reuse pinned waves of this target that still have room.
        packer.open = [
            w for n, w in sorted(waves.items()) if n and w.target == target and not w.pilot
        ][-24:]
        todo = [i for i in range(len(mailboxes)) if online[i] == cloud and i not in wave_of]
        parent = list(range(len(mailboxes)))
        todo_set = set(todo)
        for i in todo:
            for j in adj.get(i, ()):
                if j > i and j in todo_set:
                    ri = i
                    while parent[ri] != ri:
                        parent[ri] = parent[parent[ri]]
                        ri = parent[ri]
                    rj = j
                    while parent[rj] != rj:
                        parent[rj] = parent[parent[rj]]
                        rj = parent[rj]
                    if ri != rj:
                        if ri < rj:
                            parent[rj] = ri
                        else:
                            parent[ri] = rj
        groups: dict[int, list[int]] = defaultdict(list)
        for i in todo:
            groups[_find(parent, i)].append(i)
        ordered = sorted(
            groups.values(),
            key=lambda g: (-len(g), -sum(sizes[i] for i in g), mailboxes[min(g)].primary_smtp),
        )
        for group in ordered:
            group.sort(key=lambda i: mailboxes[i].primary_smtp)
            if not packer.pack(group, target):
                for piece in _split(group, adj, packer):
                    packer.pack(piece, target)
        packer.close()
        for w in waves.values():
            for i in w.members:
                wave_of.setdefault(i, w.number)

    max_bytes = int(policy.max_gb * GB)
    for i, m in enumerate(mailboxes):
        if i in wave_of and m.kind is not MailboxKind.ARBITRATION and sizes[i] > max_bytes:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "moves.over-cap",
                    str(m.source or m.primary_smtp),
                    f"mailbox '{m.primary_smtp}' ({sizes[i] / GB:.1f} GB) is larger than a wave "
                    f"(moves.max_gb {policy.max_gb:g}): it moves alone in wave "
                    f"{wave_of[i]:03d}",
                    "plan extra copy time; consider archiving old items first",
                )
            )
    for n, w in sorted(waves.items()):
        if n == ARBITRATION_WAVE or not any(i in pinned for i in w.members):
            continue
        over = _over_caps(w, policy, sizes, sources, dbs)
        if over and len(w.members) > 1:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "moves.override-over-cap",
                    "checklist.xlsx, sheet 'Mailboxes'",
                    f"the Wave (override) values put wave {n:03d} over {over}",
                    "move a pinned mailbox to another wave or raise the cap",
                )
            )

    # Broken links, both ways.
    broken: dict[int, list[BrokenLink]] = defaultdict(list)
    for a, b, right in pairs:
        if wave_of.get(a) is None or wave_of.get(b) is None or wave_of[a] == wave_of[b]:
            continue
        broken[a].append(BrokenLink(mailboxes[b].primary_smtp, right, holder=False))
        broken[b].append(BrokenLink(mailboxes[a].primary_smtp, right, holder=True))
        if online[a] or online[b]:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "moves.cross-premises-link",
                    str(mailboxes[a].source or mailboxes[a].primary_smtp),
                    f"{right.value} of '{mailboxes[b].primary_smtp}' on "
                    f"'{mailboxes[a].primary_smtp}' spans waves where one side is Exchange "
                    "Online: cross-premises rights need the on-premises side on 2016 "
                    "(FullAccess, Send on Behalf) and folder rights never work across premises",
                    "pin both mailboxes to one wave (Wave (override)) or raise the caps",
                )
            )

    order = _wave_order(waves)
    observed = tuple(sorted((throughput or {}).items(), key=lambda kv: kv[0].lower()))
    throughput = {k.lower(): v for k, v in (throughput or {}).items()}
    out_waves: list[MoveWave] = []
    assignments: list[MoveAssignment] = []
    for old in order:
        w = waves[old]
        number = old
        members = (
            w.members
            if old == ARBITRATION_WAVE
            else sorted(w.members, key=lambda i: mailboxes[i].primary_smtp)
        )
        by_src: dict[str, int] = defaultdict(int)
        by_db: dict[str, int] = defaultdict(int)
        for i in members:
            by_src[sources[i]] += sizes[i]
            if dbs[i]:
                by_db[dbs[i]] += sizes[i]
        hours = 0.0
        for s, b in by_src.items():
            rate = throughput.get(s.lower()) or dict(
                (k.lower(), v) for k, v in policy.throughput_by_server
            ).get(s.lower(), policy.throughput_gb_per_hour)
            hours = max(hours, b / GB / rate)
        for b in by_db.values():
            hours = max(hours, b / GB / policy.throughput_gb_per_hour)
        out_waves.append(
            MoveWave(
                number,
                w.target,
                tuple(mailboxes[i].primary_smtp for i in members),
                sum(sizes[i] for i in members),
                math.ceil(hours * 10) / 10,
                w.pilot,
                tuple(sorted(by_src.items())),
                tuple(sorted(by_db.items())),
            )
        )
        for i in members:
            assignments.append(
                MoveAssignment(
                    mailboxes[i],
                    EXCHANGE_ONLINE if online[i] else ON_PREMISES,
                    dbs[i],
                    number,
                    i in pinned,
                    tuple(sorted(broken[i], key=lambda b: (b.with_mailbox, b.right.value)))
                    if i in broken
                    else (),
                )
            )
    logs = _log_forecast(inv, out_waves)
    for lf in logs:
        if lf.free_bytes is not None and lf.largest_wave_bytes > lf.free_bytes * 0.8:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "moves.log-space",
                    lf.database,
                    f"database '{lf.database}' writes about {lf.largest_wave_bytes / GB:.0f} GB of "
                    f"transaction logs in its largest wave ({lf.copies} DAG copies), more than 80% "
                    f"of the {lf.free_bytes / GB:.0f} GB free on its log volume",
                    "run a full backup between waves (it truncates the logs), add log space or "
                    "lower moves.max_gb",
                )
            )
    return MovePlan(
        tuple(assignments),
        tuple(out_waves),
        tuple(excluded),
        tuple(sorted(set(findings), key=Finding.sort_key)),
        tuple(logs),
        tuple(sorted(service.items())),
        policy,
        observed,
    )


def _over_caps(
    w: _Wave, p: MovesPolicy, sizes: Sequence[int], sources: Sequence[str], dbs: Sequence[str]
) -> str:
    out = []
    if len(w.members) > p.max_mailboxes:
        out.append(f"moves.max_mailboxes ({len(w.members)} > {p.max_mailboxes})")
    total = sum(sizes[i] for i in w.members)
    if total > p.max_gb * GB:
        out.append(f"moves.max_gb ({total / GB:.1f} > {p.max_gb:g})")
    src: dict[str, int] = defaultdict(int)
    tgt: dict[str, int] = defaultdict(int)
    for i in w.members:
        src[sources[i]] += 1
        if dbs[i]:
            tgt[dbs[i]] += 1
    for s, n in sorted(src.items()):
        if n > p.max_per_source_server:
            out.append(f"moves.max_per_source_server on {s} ({n})")
    for d, n in sorted(tgt.items()):
        if n > p.max_per_target_database:
            out.append(f"moves.max_per_target_database on {d} ({n})")
    return ", ".join(out)


def _wave_order(waves: Mapping[int, _Wave]) -> list[int]:
    """Arbitration, pilot, on-premises, then Exchange Online waves (numbers kept within each)."""

    def rank(n: int) -> tuple[int, int]:
        w = waves[n]
        if n == ARBITRATION_WAVE:
            return (0, n)
        if w.pilot:
            return (1, n)
        return (2 if w.target == ON_PREMISES else 3, n)

    return sorted((n for n, w in waves.items() if w.members), key=rank)


def _log_forecast(inv: Inventory, waves: Iterable[MoveWave]) -> list[LogForecast]:
    dbs = {d.name.lower(): d for d in inv.mailbox_databases}
    largest: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for w in waves:
        for db, b in w.bytes_by_target:
            largest[db] = max(largest[db], b)
            total[db] += b
    out = []
    for name in sorted(total):
        d = dbs.get(name.lower())
        copies = d.copies if d is not None else 1
        out.append(
            LogForecast(
                name,
                copies,
                largest[name] * copies,
                total[name] * copies,
                d.free_bytes if d is not None else None,
            )
        )
    return out


def override_problems(
    overrides: Mapping[str, tuple[int, str]], inv: Inventory, known_waves: Iterable[int]
) -> list[Problem]:
    """Overrides naming a mailbox or a wave that does not exist (``where`` is the cell)."""
    known = set(known_waves)
    smtps = {m.primary_smtp for m in inv.mailboxes}
    out = []
    for smtp, (wave, where) in sorted(overrides.items()):
        if smtp not in smtps:
            out.append(Problem(where, f"'{smtp}' is not a mailbox of the inventory"))
        elif wave == ARBITRATION_WAVE:
            out.append(
                Problem(
                    where, f"'{wave}' is the arbitration wave; expected a wave of user mailboxes"
                )
            )
        elif wave not in known:
            shown = ", ".join(str(n) for n in sorted(known) if n)
            out.append(
                Problem(where, f"'{wave}' is not a wave of this plan; expected one of {shown}")
            )
    return out
