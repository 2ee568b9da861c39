"""Mailbox move waves: who moves when, into which database, and which delegate links break.

The planner works on integer arrays (numpy; the loops over links compiled in
:mod:`migrator.plan.moves_kernel`), never on a Python object per link, so that
300,000 mailboxes with a million permission links plan in seconds with the
garbage collector running:

1. every mailbox gets a target (2016 database, or Exchange Online by the
   ``moves.exchange_online`` rule) and a target database (the site's or
   server's list in ``moves.target_databases``, least-filled first);
2. arbitration mailboxes form wave 0 (the Migration mailbox first);
3. the pilot (``moves.pilot``, else ``moves.pilot_ous``) comes next;
4. the rest are grouped by permission links: connected components (union-find)
   over links whose trustee holds rights on at most ``service_account_cap``
   mailboxes (the others are reported, never used to glue); a component larger
   than a wave is cut by greedy graph growing (the mailbox with the most links
   into the piece next), which keeps teams together and so cuts few links;
5. groups are packed first-fit (largest first) into waves under every cap;
   a single mailbox larger than a cap gets a wave of its own and a warning;
6. a mailbox pinned by the team (``Wave (override)``) stays in its wave; the
   rest pack around it; an override that breaks a cap is reported.

On-premises, keeping linked mailboxes together is a preference (rights work
between 2010 and 2016); for Exchange Online waves it is a requirement, so a
broken link there is a warning.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from migrator.errors import Problem
from migrator.mailboxes import Mailbox, MailboxKind, MovesPolicy, Right
from migrator.model import Finding, Inventory, Lifecycle, Severity

GB = 1024**3
ON_PREMISES = "on-premises"
EXCHANGE_ONLINE = "exchange-online"
ARBITRATION_WAVE = 0
LOG_SHARE_PERCENT = 80
"""Share of a log volume's free space the logs of one wave may fill (percent).

The planner packs waves under it (per database: the bytes moved in times its DAG copies, against
the exported free space), ``moves.log-space`` is an error above the whole free space, and the
copy step reads each copy's log volume again before the first request (``Assert-LogVolumeRoom``).
A full log volume dismounts the database: mail stops for every mailbox on it.
"""
_RIGHTS = tuple(Right)
_RIGHT_ORDER = np.array([sorted(r.value for r in _RIGHTS).index(r.value) for r in _RIGHTS])
"""Rank of each right's name (broken links are listed by address, then right)."""


@dataclass(frozen=True, slots=True)
class BrokenLink:
    """A permission link whose two mailboxes move in different waves."""

    with_mailbox: str
    """The other mailbox (primary SMTP)."""
    right: Right
    """The right."""
    holder: bool
    """Whether this mailbox holds the right on the other (else the other holds it on this one)."""


@dataclass(frozen=True, slots=True)
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
    batch_bytes: int = 0
    """Part of ``total_bytes`` from migration batches (it holds the Migration mailbox)."""


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
    """(2010 server or database, observed GB/hour) that replaced the assumption (``migrator moves forecast``)."""

    def wave(self, number: int) -> MoveWave:
        """The wave of that number (KeyError when none)."""
        for w in self.waves:
            if w.number == number:
                return w
        raise KeyError(number)


# --------------------------------------------------------------------------- targets


def _is_online(m: Mailbox, policy: MovesPolicy) -> bool:
    rule = policy.online
    if m.kind is MailboxKind.ARBITRATION or m.kind is MailboxKind.DISCOVERY:
        return False
    if rule.ous and m.distinguished_name.lower().endswith(rule.ous):
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
    return bool(policy.pilot_ous) and m.distinguished_name.lower().endswith(policy.pilot_ous)


def log_room(inv: Inventory) -> dict[str, int]:
    """Bytes one wave may move into each database (lower-case name) whose log free space is known.

    :data:`LOG_SHARE_PERCENT` of the free space, divided by the DAG copies (MOVES-AND-CLIENT-ACCESS
    G: the log forecast multiplies by the copies).
    """
    return {
        d.name.lower(): d.free_bytes * LOG_SHARE_PERCENT // 100 // max(d.copies, 1)
        for d in inv.mailbox_databases
        if d.free_bytes is not None
    }


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
        self.options: dict[str, list[str] | None] = {}
        self.room = log_room(inv)

    def fits(self, db: str, size: int) -> bool:
        """Whether one mailbox's logs fit in the database's log room (unknown room: yes)."""
        room = self.room.get(db.lower())
        return room is None or size <= room

    def choose(self, m: Mailbox) -> str:
        options = self.options.get(m.server)
        if options is None and m.server not in self.options:
            server = m.server.lower()
            options = self.by_key.get(server) or self.by_key.get(self.site_of.get(server, ""))
            if not options:
                options = next(iter(self.by_key.values()), None) if len(self.by_key) == 1 else None
            self.options[m.server] = options
        if not options:
            return ""
        # Least-filled first among the databases whose log volume has room for this mailbox;
        # when none has, the least-filled (moves.log-space reports it as an error).
        roomy = [d for d in options if self.fits(d, m.total_bytes)] or options
        best = min(roomy, key=self.load.__getitem__)  # the first of equals
        self.load[best] += m.total_bytes
        return best


# --------------------------------------------------------------------------- grouping


class _Wave:
    __slots__ = (
        "bytes",
        "count",
        "log_bytes",
        "members",
        "number",
        "pilot",
        "sources",
        "target",
        "targets",
    )

    def __init__(self, number: int, target: str, pilot: bool = False) -> None:
        self.number = number
        self.target = target
        self.pilot = pilot
        self.members: list[int] = []
        self.count = 0
        self.bytes = 0
        self.sources: dict[str, int] = defaultdict(int)
        self.targets: dict[str, int] = defaultdict(int)
        self.log_bytes: dict[str, int] = defaultdict(int)
        """Bytes moved into each target database (lower-case), for the log room."""


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
        room: Mapping[str, int] | None = None,
        batch_room: int | None = None,
    ) -> None:
        self.room = room or {}
        self.batch_room = batch_room
        """Log room of the database holding the Migration mailbox (Exchange Online waves log there)."""
        self.p = policy
        self.max_bytes = int(policy.max_gb * GB)
        self.sizes = sizes
        self.sources = sources
        self.dbs = dbs
        self.waves = waves
        self.open: list[_Wave] = []
        self.next_free = 1

    def _load(
        self, group: Sequence[int]
    ) -> tuple[int, dict[str, int], dict[str, int], dict[str, int]]:
        """Bytes, mailboxes per source server and per target database, bytes per database."""
        src: dict[str, int] = defaultdict(int)
        tgt: dict[str, int] = defaultdict(int)
        logs: dict[str, int] = defaultdict(int)
        total = 0
        for i in group:
            total += self.sizes[i]
            src[self.sources[i]] += 1
            if self.dbs[i]:
                tgt[self.dbs[i]] += 1
                logs[self.dbs[i].lower()] += self.sizes[i]
        return total, src, tgt, logs

    def _fits(
        self,
        w: _Wave,
        count: int,
        total: int,
        src: dict[str, int],
        tgt: dict[str, int],
        logs: dict[str, int],
    ) -> bool:
        p = self.p
        if w.count + count > p.max_mailboxes or w.bytes + total > self.max_bytes:
            return False
        for s, n in src.items():
            if w.sources[s] + n > p.max_per_source_server:
                return False
        if not all(w.targets[d] + n <= p.max_per_target_database for d, n in tgt.items()):
            return False
        # The logs of one wave stay within LOG_SHARE_PERCENT of each log volume's free space.
        batch = self.batch_room
        if w.target == EXCHANGE_ONLINE and batch is not None and w.bytes + total > batch:
            return False
        room = self.room
        return all(d not in room or w.log_bytes[d] + b <= room[d] for d, b in logs.items())

    def put(self, w: _Wave, group: Sequence[int]) -> None:
        for i in group:
            w.members.append(i)
            w.bytes += self.sizes[i]
            w.sources[self.sources[i]] += 1
            if self.dbs[i]:
                w.targets[self.dbs[i]] += 1
                w.log_bytes[self.dbs[i].lower()] += self.sizes[i]
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
        load = self._load(group)
        for w in self.open:
            if self._fits(w, len(group), *load):
                self.put(w, group)
                return True
        w = self.new_wave(target, pilot)
        if not self._fits(w, len(group), *load) and len(group) > 1:
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


def _adjacency(
    n: int, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """CSR adjacency (both directions) of the links ``a[k] - b[k]``."""
    src = np.concatenate((a, b))
    dst = np.concatenate((b, a))
    order = np.argsort(src, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return indptr, dst[order].astype(np.int64)


def _mark(waves: Mapping[int, _Wave], wave_of: npt.NDArray[np.int64]) -> None:
    """Record the wave of every member not yet placed."""
    for w in waves.values():
        members = np.array(w.members, dtype=np.int64)
        if members.size:
            new = members[wave_of[members] < 0]
            wave_of[new] = w.number


def _broken_links(
    a: npt.NDArray[np.int64],
    b: npt.NDArray[np.int64],
    r: npt.NDArray[np.int8],
    wave_of: npt.NDArray[np.int64],
    rank: npt.NDArray[np.int64],
    smtps: Sequence[str],
) -> dict[int, tuple[BrokenLink, ...]]:
    """Links whose two mailboxes move in different waves, on both sides, by address then right."""
    cut = (wave_of[a] >= 0) & (wave_of[b] >= 0) & (wave_of[a] != wave_of[b])
    a, b, r = a[cut], b[cut], r[cut]
    owner = np.concatenate((a, b))
    other = np.concatenate((b, a))
    right = np.concatenate((r, r))
    holder = np.concatenate((np.zeros(a.size, np.bool_), np.ones(b.size, np.bool_)))
    seen = np.concatenate((np.arange(a.size), np.arange(b.size)))  # ties: in link order
    order = np.lexsort((seen, _RIGHT_ORDER[right], rank[other], owner))
    out: dict[int, tuple[BrokenLink, ...]] = {}
    if not order.size:
        return out
    owner_s = owner[order]
    starts = np.flatnonzero(np.r_[True, owner_s[1:] != owner_s[:-1]]).tolist()
    other_l = other[order].tolist()
    right_l = right[order].tolist()
    holder_l = holder[order].tolist()
    owners = owner_s.tolist()
    ends = [*starts[1:], len(owners)]
    for s, e in zip(starts, ends, strict=True):
        out[owners[s]] = tuple(
            BrokenLink(smtps[other_l[k]], _RIGHTS[right_l[k]], holder_l[k]) for k in range(s, e)
        )
    return out


# --------------------------------------------------------------------------- the planner


def plan_moves(
    inv: Inventory,
    overrides: Mapping[str, int] | None = None,
    throughput: Mapping[str, float] | None = None,
) -> MovePlan:
    """Plan the waves of every mailbox of the inventory.

    ``overrides`` maps primary SMTP addresses to the wave the team pinned them
    to; ``throughput`` (GB/hour per 2010 server or per 2010 database) replaces
    the policy's assumption, as ``migrator moves forecast`` measures it: a
    wave copies as long as its slowest server or measured database takes.
    """
    # numba (about 0.3 s CPU to import) only where mailboxes are planned, not on every check
    from migrator.plan import moves_kernel

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
    n = len(mailboxes)
    sizes = [m.total_bytes for m in mailboxes]
    server_case = {s.name.lower(): s.name for s in inv.servers}
    sources = [server_case.get(m.server.lower(), m.server) for m in mailboxes]
    smtps = [m.primary_smtp for m in mailboxes]
    rank = [0] * n  # position of each mailbox in address order
    for r, i in enumerate(sorted(range(n), key=smtps.__getitem__)):
        rank[i] = r
    online_arr = np.array(online, dtype=np.bool_) if n else np.zeros(0, dtype=np.bool_)

    # Links as integer arrays: (mailbox, trustee, right); service accounts do not glue.
    links = inv.mailbox_links
    holder_names = pd.Series([link.trustee for link in links], dtype=object)
    per_trustee = holder_names.value_counts(sort=False)
    cap = policy.service_account_cap
    service = {str(t): int(c) for t, c in per_trustee[per_trustee > cap].items()}
    known = pd.Index(smtps)
    a_all = known.get_indexer(pd.Index([link.mailbox for link in links], dtype=object))
    b_all = known.get_indexer(pd.Index(holder_names))
    rights = np.array([link.right for link in links], dtype=object)
    r_all = np.zeros(len(links), dtype=np.int8)
    for code, right in enumerate(_RIGHTS):
        r_all[rights == right] = code
    del rights
    del holder_names
    found = (a_all >= 0) & (b_all >= 0)
    pair_a = a_all[found].astype(np.int64)
    pair_b = b_all[found].astype(np.int64)
    pair_r = r_all[found]
    del a_all, b_all, r_all
    is_service = np.zeros(n, dtype=np.bool_)
    service_idx = [index[t] for t in service if t in index]
    is_service[service_idx] = True
    glue = ~is_service[pair_b] & (online_arr[pair_a] == online_arr[pair_b])
    glue_a, glue_b = pair_a[glue], pair_b[glue]
    indptr, indices = _adjacency(n, glue_a, glue_b)
    for trustee, count in sorted(service.items()):
        findings.append(
            Finding(
                Severity.WARNING,
                "moves.service-account",
                "mailbox permissions",
                f"'{trustee}' holds rights on {count} mailboxes (more than moves.service_account_cap "
                f"{policy.service_account_cap}): it does not tie waves together; check it works "
                "against both 2010 and 2016 during the moves",
                "raise moves.service_account_cap to group by it anyway",
            )
        )

    waves: dict[int, _Wave] = {}
    wave_of = np.full(n, -1, dtype=np.int64)
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
        wave_of[arbitration] = ARBITRATION_WAVE
    # Pinned mailboxes first: their waves exist before packing.
    pinned: set[int] = set()
    for smtp, number in sorted(overrides.items()):
        pin = index.get(smtp.lower())
        if pin is None or wave_of[pin] >= 0:
            continue
        i = pin
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
            w.log_bytes[dbs[i].lower()] += sizes[i]
        wave_of[i] = number
        pinned.add(i)
    batch_db = next(
        (dbs[i] for i in arbitration if mailboxes[i].is_migration_mailbox and dbs[i]), ""
    )
    packer = _Packer(
        policy, sizes, sources, dbs, waves, targets.room, targets.room.get(batch_db.lower())
    )
    if policy.pilot or policy.pilot_ous:
        pilot = [i for i, m in enumerate(mailboxes) if wave_of[i] < 0 and _in_pilot(m, policy)]
        for i in pilot:
            packer.pack([i], EXCHANGE_ONLINE if online[i] else ON_PREMISES, pilot=True)
    packer.close()
    _mark(waves, wave_of)

    size_arr = np.array(sizes, dtype=np.int64)
    src_codes: dict[str, int] = {}
    src_arr = np.array([src_codes.setdefault(s, len(src_codes)) for s in sources], dtype=np.int64)
    db_codes: dict[str, int] = {}
    db_arr = np.array(
        [db_codes.setdefault(d, len(db_codes)) if d else -1 for d in dbs], dtype=np.int64
    )
    rank_arr = np.array(rank, dtype=np.int64)
    for cloud in (False, True):
        target = EXCHANGE_ONLINE if cloud else ON_PREMISES
        # Reuse pinned waves of this target that still have room.
        packer.open = [
            w for num, w in sorted(waves.items()) if num and w.target == target and not w.pilot
        ][-24:]
        active = (online_arr == cloud) & (wave_of < 0)
        todo = np.flatnonzero(active)
        if not todo.size:
            continue
        root = moves_kernel.components(n, glue_a, glue_b, active)[todo]
        # Groups: largest first (mailboxes, then bytes), then the address of the lowest number.
        roots, group_of, counts = np.unique(root, return_inverse=True, return_counts=True)
        group_bytes = np.bincount(group_of, weights=size_arr[todo])
        first_rank = rank_arr[roots]  # a component is named by its lowest mailbox number
        group_order = np.lexsort((first_rank, -group_bytes, -counts))
        position = np.empty_like(group_order)
        position[group_order] = np.arange(group_order.size)
        ordered = todo[np.lexsort((rank_arr[todo], position[group_of]))]
        bounds = np.concatenate(([0], np.cumsum(counts[group_order]))).tolist()
        member_list = ordered.tolist()
        for g in range(len(bounds) - 1):
            group = member_list[bounds[g] : bounds[g + 1]]
            if packer.pack(group, target):
                continue
            pieces, starts = moves_kernel.split_group(
                np.array(group, dtype=np.int64),
                indptr,
                indices,
                size_arr,
                src_arr,
                db_arr,
                len(src_codes),
                len(db_codes),
                policy.max_mailboxes,
                packer.max_bytes,
                policy.max_per_source_server,
                policy.max_per_target_database,
            )
            piece_list = pieces.tolist()
            cuts = starts.tolist()
            for k in range(len(cuts) - 1):
                piece = piece_list[cuts[k] : cuts[k + 1]]
                if not packer.pack(piece, target):
                    # Over the log room (the split knows the other caps only): one by one.
                    for i in piece:
                        packer.pack([i], target)
        packer.close()
        _mark(waves, wave_of)

    max_bytes = int(policy.max_gb * GB)
    big = np.flatnonzero((wave_of >= 0) & (size_arr > max_bytes)).tolist()
    for i in big:
        m = mailboxes[i]
        if m.kind is MailboxKind.ARBITRATION:
            continue
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
    for num, w in sorted(waves.items()):
        if num == ARBITRATION_WAVE or not any(i in pinned for i in w.members):
            continue
        over = _over_caps(w, policy, sizes, sources, dbs)
        if over and len(w.members) > 1:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "moves.override-over-cap",
                    "checklist.xlsx, sheet 'Mailboxes'",
                    f"the Wave (override) values put wave {num:03d} over {over}",
                    "move a pinned mailbox to another wave or raise the cap",
                )
            )

    broken = _broken_links(pair_a, pair_b, pair_r, wave_of, rank_arr, smtps)
    cross = np.flatnonzero(
        (wave_of[pair_a] >= 0)
        & (wave_of[pair_b] >= 0)
        & (wave_of[pair_a] != wave_of[pair_b])
        & (online_arr[pair_a] | online_arr[pair_b])
    ).tolist()
    for k in cross:
        a, b, right = int(pair_a[k]), int(pair_b[k]), _RIGHTS[pair_r[k]]
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
    by_server = {k.lower(): v for k, v in policy.throughput_by_server}
    out_waves: list[MoveWave] = []
    assignments: list[MoveAssignment] = []
    for old in order:
        w = waves[old]
        number = old
        members = w.members if old == ARBITRATION_WAVE else sorted(w.members, key=rank.__getitem__)
        by_src: dict[str, int] = defaultdict(int)
        by_db: dict[str, int] = defaultdict(int)
        by_source_db: dict[str, int] = defaultdict(int)
        for i in members:
            by_src[sources[i]] += sizes[i]
            if dbs[i]:
                by_db[dbs[i]] += sizes[i]
            if throughput:
                by_source_db[mailboxes[i].database.lower()] += sizes[i]
        hours = 0.0
        for s, b in by_src.items():
            rate = throughput.get(s.lower()) or by_server.get(
                s.lower(), policy.throughput_gb_per_hour
            )
            hours = max(hours, b / GB / rate)
        for d, b in by_source_db.items():  # a database measured slower than its server
            rate = throughput.get(d, 0.0)
            if rate > 0:
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
                    broken.get(i, ()),
                )
            )
    logs = _log_forecast(inv, out_waves, migration_database(assignments))
    findings += _rollback_log_findings(inv, assignments)
    for lf in logs:
        if (
            lf.free_bytes is None
            or lf.largest_wave_bytes * 100 <= lf.free_bytes * LOG_SHARE_PERCENT
        ):
            continue
        full = lf.largest_wave_bytes > lf.free_bytes
        findings.append(
            Finding(
                Severity.ERROR if full else Severity.WARNING,
                "moves.log-space",
                lf.database,
                f"database '{lf.database}' writes about {lf.largest_wave_bytes / GB:.0f} GB of "
                f"transaction logs in its largest wave ({lf.copies} DAG copies"
                + (
                    "; it also logs for the migration batches: it holds the Migration mailbox"
                    if lf.batch_bytes
                    else ""
                )
                + (
                    f"), more than the {lf.free_bytes / GB:.0f} GB free on its log volume: a full "
                    "log volume dismounts the database and mail stops for every mailbox on it"
                    if full
                    else f"), more than {LOG_SHARE_PERCENT}% of the {lf.free_bytes / GB:.0f} GB "
                    "free on its log volume; the copy step reads each copy's log volume before "
                    "the first request and stops when the wave does not fit"
                ),
                "add log space, list a database with room for its largest mailbox in "
                "moves.target_databases, or lower moves.max_gb"
                if full
                else "run a full backup between waves (it truncates the logs), add log space or "
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


def migration_database(assignments: Iterable[MoveAssignment]) -> str:
    """The 2016 database wave 0 moves the Migration arbitration mailbox to ("" if none)."""
    return next((a.target_database for a in assignments if a.mailbox.is_migration_mailbox), "")


def wave_log_load(w: MoveWave, migration_database: str) -> dict[str, int]:
    """Bytes of transaction logs one wave writes per 2016 database (before DAG copies).

    Its target databases, and for a migration batch (Exchange Online wave) also the database
    holding the Migration arbitration mailbox (how much is not documented: the bytes moved
    again, the safe side). The log forecast sums these; the schedule keeps the copies of two
    waves that write to one database apart (``moves_steps``).
    """
    load: dict[str, int] = defaultdict(int)
    for db, b in w.bytes_by_target:
        load[db] += b
    if w.target == EXCHANGE_ONLINE and migration_database:
        load[migration_database] += w.size_bytes
    return load


def rollback_bytes(assignments: Iterable[MoveAssignment]) -> dict[int, dict[str, int]]:
    """Per on-premises wave, the bytes its rollback moves back into each 2010 database."""
    back: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for a in assignments:
        if a.target == ON_PREMISES and a.wave != ARBITRATION_WAVE:
            back[a.wave][a.mailbox.database] += a.mailbox.total_bytes
    return {wave: dict(into) for wave, into in back.items()}


def _rollback_log_findings(inv: Inventory, assignments: Sequence[MoveAssignment]) -> list[Finding]:
    """Waves whose rollback moves more into a 2010 database than its log room holds (review 7).

    The rollback step reads the log volumes and stops (``Assert-LogVolumeRoom``): said before the
    wave, so that log space is added while there is time, not found during a rollback.
    """
    room = log_room(inv)
    out = []
    for wave, into in sorted(rollback_bytes(assignments).items()):
        for db, moved in sorted(into.items()):
            free = room.get(db.lower())
            if free is not None and moved > free:
                out.append(
                    Finding(
                        Severity.WARNING,
                        "moves.rollback-log-space",
                        db,
                        f"the rollback of wave-{wave:03d} moves about {moved / GB:.1f} GB back into "
                        f"'{db}', more than its log volume's room ({LOG_SHARE_PERCENT}% of the free "
                        "space, over its DAG copies): that rollback step stops at its log check",
                        "add log space to that database's log volume before the wave, or plan to roll "
                        "back its mailboxes one by one",
                    )
                )
    return out


def _log_forecast(
    inv: Inventory, waves: Sequence[MoveWave], migration_database: str
) -> list[LogForecast]:
    """Log bytes per target database: the bytes each wave moves into it, times its DAG copies.

    Migration batches (Exchange Online waves) also write logs on the database
    holding the Migration arbitration mailbox (moved to ``migration_database``
    by wave 0). How much is not documented: the forecast counts the bytes
    each batch moves again there (the safe side).
    """
    dbs = {d.name.lower(): d for d in inv.mailbox_databases}
    per_wave: list[dict[str, int]] = []
    batch: dict[str, int] = defaultdict(int)
    for w in waves:
        load = wave_log_load(w, migration_database)
        if w.target == EXCHANGE_ONLINE and migration_database:
            batch[migration_database] += w.size_bytes
        per_wave.append(load)
    largest: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for load in per_wave:
        for db, b in load.items():
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
                batch.get(name, 0) * copies,
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
