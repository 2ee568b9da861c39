"""Identity matching: which on-premises user each cloud user will be joined to by Entra Connect.

For every cloud user the planner finds the on-premises candidates the way
Entra Connect will when the on-premises object enters sync scope: hard match
(the on-premises sourceAnchor equals the cloud ImmutableId), soft match on
the primary SMTP address, and on the UPN when the tenant allows it. It then
decides an outcome (EXCHANGE-RULES, "Directory synchronisation") with the
reason and the fix, and cuts the users that can go ahead into batches.

Everything is hash joins over dictionaries built once: no per-user scan of
the other side, so 300,000 users on each side stay within seconds.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import enum
import gc
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import compress
from operator import attrgetter
from typing import Generic, NamedTuple, TypeVar

from migrator.errors import PlanError
from migrator.model import (
    CloudUser,
    Inventory,
    OnPremUser,
    Policy,
    SourceAnchor,
    Tenant,
    primary_smtp,
)
from migrator.plan.immutable_id import IdentifierError, immutable_id_from_guid


class MatchOutcome(enum.Enum):
    """What will happen to a cloud user; the values are what reports print."""

    ALREADY_SYNCED = "already synced"
    SOFT_MATCH = "clean soft match"
    HARD_MATCH = "hard match needed"
    CLEAN_HARD_MATCH = "clean hard match"
    WARNING = "warning"
    BLOCKED = "blocked"
    CONFLICT = "conflict"
    NO_CANDIDATE = "no candidate"

    @property
    def rank(self) -> int:
        """Sort key: the outcomes that need attention first."""
        return _OUTCOME_RANK[self]


_OUTCOME_RANK = {
    MatchOutcome.CONFLICT: 0,
    MatchOutcome.BLOCKED: 1,
    MatchOutcome.NO_CANDIDATE: 2,
    MatchOutcome.WARNING: 3,
    MatchOutcome.HARD_MATCH: 4,
    MatchOutcome.CLEAN_HARD_MATCH: 5,
    MatchOutcome.SOFT_MATCH: 6,
    MatchOutcome.ALREADY_SYNCED: 7,
}


class MatchMethod(enum.Enum):
    """How Entra Connect will join the two objects."""

    HARD = "hard match"
    SOFT_SMTP = "soft match on primary SMTP"
    SOFT_UPN = "soft match on UPN"


_RECIPIENT_TYPES = {
    "1": "UserMailbox",
    "4": "SharedMailbox",
    "16": "RoomMailbox",
    "32": "EquipmentMailbox",
}
"""msExchRecipientTypeDetails numbers of on-premises mailboxes, by name."""

_METHOD_TEXT = {m: m.value for m in MatchMethod}  # Enum.value is slow in a 300,000-user loop


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The decision for one cloud user, with why and what to do."""

    cloud: CloudUser
    """The cloud user (as inventoried: its ImmutableId there is what a rollback restores)."""
    outcome: MatchOutcome
    """What will happen."""
    reason: str
    """Why (lower case, no trailing period)."""
    fix: str = ""
    """What to do; empty where nothing needs doing."""
    method: MatchMethod | None = None
    """How the objects will be joined, where a single candidate exists."""
    onprem: OnPremUser | None = None
    """The chosen on-premises user, None where there is no single candidate."""
    candidates: tuple[str, ...] = ()
    """DistinguishedNames of every on-premises candidate found, sorted."""
    source_anchor: str = ""
    """The ImmutableId the cloud user will carry once matched (base64)."""
    set_immutable_id: bool = False
    """Whether the Graph runbook must set OnPremisesImmutableId (hard match chosen)."""
    target_upn: str = ""
    """New on-premises userPrincipalName the AD runbook sets, empty to leave it."""
    add_proxy_addresses: tuple[str, ...] = ()
    """``smtp:`` addresses the AD runbook adds on-premises so the cloud addresses survive the match."""
    move_to_ou: bool = False
    """Whether the AD runbook moves the user into the sync scope OU."""
    batchable: bool = False
    """Whether the user goes into a batch (matched, or blocked only by an admin role)."""

    @property
    def cloud_id(self) -> str:
        """Entra object id of the cloud user."""
        return self.cloud.id

    @property
    def cloud_upn(self) -> str:
        """The cloud user's userPrincipalName."""
        return self.cloud.user_principal_name

    @property
    def admin_roles(self) -> tuple[str, ...]:
        """Admin roles to remove before the match and restore after it."""
        return self.cloud.admin_roles

    @property
    def current_immutable_id(self) -> str:
        """The cloud user's ImmutableId before the plan (what undoing "set ImmutableId" restores)."""
        return self.cloud.immutable_id

    @property
    def onprem_dn(self) -> str:
        """DistinguishedName of the chosen on-premises user, empty where none."""
        return self.onprem.distinguished_name if self.onprem else ""

    @property
    def onprem_guid(self) -> str:
        """objectGUID of the chosen on-premises user (the runbooks' identity for it)."""
        return self.onprem.object_guid if self.onprem else ""

    @property
    def onprem_sam(self) -> str:
        """sAMAccountName of the chosen on-premises user."""
        return self.onprem.sam_account_name if self.onprem else ""

    @property
    def onprem_upn(self) -> str:
        """Current userPrincipalName of the chosen on-premises user."""
        return self.onprem.user_principal_name if self.onprem else ""


_RESULT_SETTERS = tuple(
    getattr(MatchResult, f.name).__set__ for f in dataclasses.fields(MatchResult)
)


def _result(
    cloud: CloudUser,
    outcome: MatchOutcome,
    reason: str,
    fix: str,
    method: MatchMethod | None,
    onprem: OnPremUser | None,
    candidates: tuple[str, ...],
    source_anchor: str,
    set_immutable_id: bool,
    target_upn: str,
    add_proxy_addresses: tuple[str, ...],
    move_to_ou: bool,
    batchable: bool,
) -> MatchResult:
    """``MatchResult(...)`` with every field given in order, about twice as fast.

    The generated ``__init__`` of a frozen dataclass sets each field through
    ``object.__setattr__`` looked up per field; this sets the same slots through their
    descriptors (what ``object.__setattr__`` ends up calling). The result is the same
    object: equal, same fields, same class (tests compare both ways of building it).
    """
    r = object.__new__(MatchResult)
    s = _RESULT_SETTERS
    s[0](r, cloud)
    s[1](r, outcome)
    s[2](r, reason)
    s[3](r, fix)
    s[4](r, method)
    s[5](r, onprem)
    s[6](r, candidates)
    s[7](r, source_anchor)
    s[8](r, set_immutable_id)
    s[9](r, target_upn)
    s[10](r, add_proxy_addresses)
    s[11](r, move_to_ou)
    s[12](r, batchable)
    return r


@dataclass(frozen=True)
class IdentityBatch:
    """Users handled together: prepared, synced and verified as one group."""

    number: int
    """1-based batch number."""
    results: tuple[MatchResult, ...]
    """The users in the batch, in report order."""

    @property
    def name(self) -> str:
        """``batch-001``: the CSV name and the step id suffix."""
        return f"batch-{self.number:03d}"


@dataclass(frozen=True)
class IdentityMatch:
    """Every cloud user's decision and the batches, for one inventory."""

    results: tuple[MatchResult, ...]
    """One result per cloud user, sorted by UPN then id."""
    batches: tuple[IdentityBatch, ...]
    """Batches of batchable users, in order."""
    source_anchor: SourceAnchor = SourceAnchor.CONSISTENCY_GUID
    """sourceAnchor attribute of the Entra Connect installation."""
    sync_scope_ou: str = ""
    """OU the AD runbook moves users into (empty: scope managed otherwise)."""

    def counts(self) -> dict[MatchOutcome, int]:
        """Number of users per outcome, every outcome present."""
        c = Counter(r.outcome for r in self.results)
        return {o: c.get(o, 0) for o in MatchOutcome}


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic structures.

    Hundreds of thousands of new objects make the collector rescan everything it
    tracks again and again; nothing built here forms a cycle, so pausing it is safe
    and makes a 300,000-user match about a third faster.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_SMTP_PREFIXES = frozenset(("SMTP:", "smtp:"))


def _smtp_addresses(proxies: Iterable[str]) -> list[str]:
    """Lower-cased SMTP addresses (primary and secondary), without prefix, de-duplicated."""
    out = [
        p[5:].strip().lower()
        for p in proxies
        if p[:5] in _SMTP_PREFIXES or p[:5].lower() == "smtp:"
    ]
    if len(out) < 2 or (len(out) == 2 and out[0] != out[1]):
        return out
    return list(dict.fromkeys(out))


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def onprem_source_anchor(user: OnPremUser, anchor: SourceAnchor) -> str:
    """The ImmutableId Entra Connect gives this user, empty when its GUID is unusable.

    With mS-DS-ConsistencyGuid as sourceAnchor, an empty ConsistencyGuid falls
    back to objectGUID (Entra Connect writes it back at the first export).
    """
    text = user.object_guid
    if anchor is SourceAnchor.CONSISTENCY_GUID and user.consistency_guid.strip():
        text = user.consistency_guid
    try:
        return immutable_id_from_guid(text)
    except IdentifierError:
        return ""


_CANONICAL_GUIDS = re.compile(
    r"(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\n)*"
)
_TO_BYTE_ARRAY = (3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15)
"""Guid.ToByteArray() order: byte k of the result is byte _TO_BYTE_ARRAY[k] of the written GUID."""


def _source_anchors(onprem: Sequence[OnPremUser], anchor: SourceAnchor) -> list[str]:
    """``onprem_source_anchor`` of every user, in one pass over all of them where possible.

    Inventories hold canonical GUIDs, so the usual case converts all of them at once instead
    of 300,000 calls: the hex of every GUID decodes into one buffer, extended-slice
    assignments reorder the bytes of every GUID into Guid.ToByteArray() order, and each GUID,
    padded to 18 bytes (a multiple of 3), is exactly 24 characters of one base64 text: the
    first 22 are the GUID's own, the last two ('AA', from the padding) become its '=='.
    Anything else (a missing or non-canonical GUID) takes ``onprem_source_anchor`` per user.
    """
    if anchor is SourceAnchor.CONSISTENCY_GUID:
        texts = [
            u.consistency_guid if u.consistency_guid.strip() else u.object_guid for u in onprem
        ]
    else:
        texts = list(map(attrgetter("object_guid"), onprem))
    joined = "\n".join(texts) + "\n"
    if len(joined) != 37 * len(texts) or not _CANONICAL_GUIDS.fullmatch(joined):
        return [onprem_source_anchor(u, anchor) for u in onprem]
    raw = bytes.fromhex(joined.replace("-", "").replace("\n", ""))
    padded = bytearray(18 * len(texts))
    for k, b in enumerate(_TO_BYTE_ARRAY):
        padded[k::18] = raw[b::16]
    encoded = bytearray(base64.b64encode(padded))
    encoded[22::24] = encoded[23::24] = b"=" * len(texts)
    text = encoded.decode("ascii")
    return [text[k : k + 24] for k in range(0, len(text), 24)]


def _onmicrosoft_upn(upn: str, tenant: Tenant) -> str:
    local = upn.partition("@")[0]
    initial = tenant.initial_domain or "<tenant>.onmicrosoft.com"
    return f"{local}@{initial}"


def _remote_routing_domain(tenant: Tenant) -> str:
    initial = tenant.initial_domain.lower()
    if initial.endswith(".onmicrosoft.com"):
        return initial.replace(".onmicrosoft.com", ".mail.onmicrosoft.com")
    return "<tenant>.mail.onmicrosoft.com"


def _join(items: Sequence[str]) -> str:
    return ", ".join(f"'{i}'" for i in items)


K = TypeVar("K", str, int)


class _Multi(Generic[K]):
    """A key -> indexes map that allocates a list only for keys seen more than once."""

    __slots__ = ("first", "more")

    def __init__(self) -> None:
        self.first: dict[K, int] = {}
        self.more: dict[K, list[int]] = {}

    def add(self, key: K, i: int) -> None:
        j = self.first.setdefault(key, i)
        if j != i:
            self.collide(key, j, i)

    def collide(self, key: K, j: int, i: int) -> None:
        """Record ``i`` for a key ``j`` holds already (``add`` inlined by hot loops calls this)."""
        extra = self.more.get(key)
        if extra is None:
            self.more[key] = [j, i]
        elif i not in extra:
            extra.append(i)

    def get(self, key: K) -> tuple[int, ...]:
        extra = self.more.get(key)
        if extra is not None:
            return tuple(extra)
        i = self.first.get(key)
        return () if i is None else (i,)

    def shared(self, key: K) -> bool:
        """Whether more than one index holds the key."""
        return key in self.more

    def other(self, key: K, i: int) -> bool:
        """Whether an index other than ``i`` holds the key."""
        if key in self.more:
            return True
        j = self.first.get(key)
        return j is not None and j != i

    def others(self, key: K, i: int) -> list[int]:
        """The indexes other than ``i`` that hold the key."""
        return [k for k in self.get(key) if k != i]


def _multi(keys: Sequence[str], owners: Sequence[int] | None = None) -> _Multi[str]:
    """Index ``keys[n]`` -> ``owners[n]`` (default ``n``), skipping empty keys.

    Built with ``dict(zip(...))`` and ``Counter`` (both run in C) rather than one Python
    call per key: the maps hold up to 600,000 keys. Each owner must list a key once.
    """
    own: Sequence[int] = owners if owners is not None else range(len(keys))
    m: _Multi[str] = _Multi()
    # Assigning in reverse keeps the first owner of each key.
    m.first = dict(zip(reversed(keys), reversed(own), strict=True))
    m.first.pop("", None)
    empties = keys.count("")
    if len(m.first) + empties < len(keys):
        counts = Counter(keys)
        repeated = set(compress(counts, map((1).__lt__, counts.values())))  # count > 1, in C
        repeated.discard("")
        del counts
        # positions of the repeated keys, found in C (compress over a membership mask)
        for pos in compress(range(len(keys)), map(repeated.__contains__, keys)):
            m.more.setdefault(keys[pos], []).append(own[pos])
    return m


def _upn_lows(users: Sequence[OnPremUser] | Sequence[CloudUser]) -> list[str]:
    """``user_principal_name.strip().lower()`` of every user, mapped in C."""
    return list(map(str.lower, map(str.strip, map(attrgetter("user_principal_name"), users))))


class _Index:
    """Hash indexes over both sides, built once."""

    def __init__(
        self, onprem: Sequence[OnPremUser], cloud: Sequence[CloudUser], tenant: Tenant
    ) -> None:
        anchor_attr = tenant.source_anchor
        verified = {d.lower() for d in tenant.verified_domains}
        if tenant.initial_domain:
            verified.add(tenant.initial_domain.lower())
        self.verified = frozenset(verified)
        self.federated = frozenset(d.lower() for d in tenant.federated_domains)
        self.anchor: list[str] = _source_anchors(onprem, anchor_attr)
        self.by_anchor = _multi(self.anchor)
        self.upn_low = _upn_lows(onprem)
        self.by_upn = _multi(self.upn_low)
        # OnPremUser.primary_smtp of every user, mapped in C
        self.by_primary = _multi(
            list(map(primary_smtp, map(attrgetter("proxy_addresses"), onprem)))
        )
        self.smtp: list[list[str]] = [_smtp_addresses(u.proxy_addresses) for u in onprem]
        self.proxy = _multi(
            [a for addresses in self.smtp for a in addresses],
            [i for i, addresses in enumerate(self.smtp) for _ in addresses],
        )
        self.cloud_smtp: list[list[str]] = [_smtp_addresses(c.proxy_addresses) for c in cloud]
        self.cloud_proxy = _multi(
            [a for addresses in self.cloud_smtp for a in addresses],
            [j for j, addresses in enumerate(self.cloud_smtp) for _ in addresses],
        )
        self.cloud_upn_low = _upn_lows(cloud)
        self.cloud_upn = _multi(self.cloud_upn_low)
        # On-premises users holding a UPN or address another on-premises object holds too.
        self.onprem_shared = frozenset(
            i for m in (self.by_upn, self.proxy) for owners in m.more.values() for i in owners
        )


class _Candidates(NamedTuple):
    hard: tuple[int, ...]
    smtp: tuple[int, ...]
    upn: tuple[int, ...]
    all: tuple[int, ...]


def _all_candidates(
    cloud: Sequence[CloudUser], idx: _Index, soft_match_upn: bool
) -> list[_Candidates]:
    """Every cloud user's candidates, in ``cloud`` order.

    This loop runs once per cloud user, so ``_Multi.get`` is inlined (a key in ``more`` is in
    ``first`` too: only keys missing from ``first`` skip ``more``), the primary SMTP addresses
    are mapped in C, and each ``_Candidates`` is made by ``tuple.__new__`` (what
    ``NamedTuple._make`` does) rather than through the slower generated ``__new__``.
    """
    primaries = map(primary_smtp, map(attrgetter("proxy_addresses"), cloud))
    anchor_first, anchor_more = idx.by_anchor.first, idx.by_anchor.more
    primary_first, primary_more = idx.by_primary.first, idx.by_primary.more
    upn_first, upn_more = idx.by_upn.first, idx.by_upn.more
    make = tuple.__new__
    out: list[_Candidates] = []
    for c, primary, upn_low in zip(cloud, primaries, idx.cloud_upn_low, strict=True):
        primary = primary or c.mail.lower()  # CloudUser.primary_smtp
        key = c.immutable_id
        hard: tuple[int, ...] = ()
        if key and (i := anchor_first.get(key)) is not None:
            hard = tuple(anchor_more[key]) if key in anchor_more else (i,)
        smtp: tuple[int, ...] = ()
        if primary and (i := primary_first.get(primary)) is not None:
            smtp = tuple(primary_more[primary]) if primary in primary_more else (i,)
        upn: tuple[int, ...] = ()
        if soft_match_upn and (i := upn_first.get(upn_low)) is not None:
            upn = tuple(upn_more[upn_low]) if upn_low in upn_more else (i,)
        if not hard and (upn == smtp or not upn):
            every = smtp
        elif not hard and not smtp:
            every = upn
        else:
            every = tuple(sorted(set(hard) | set(smtp) | set(upn)))
        out.append(make(_Candidates, (hard, smtp, upn, every)))
    return out


# --------------------------------------------------------------------------- matching


def match_identities(
    inventory: Inventory, held_back: frozenset[str] = frozenset()
) -> IdentityMatch:
    """Decide every cloud user's outcome and cut the batches (deterministic).

    ``held_back`` holds lower-cased DistinguishedNames of on-premises objects
    whose attributes would break their sync (the identity checks say which):
    their users keep their outcome but stay out of the batches until fixed.
    """
    # Imported here: remote_mailbox builds on this module's types.
    from migrator.plan.remote_mailbox import prefer_hard_match

    with gc_paused():
        return prefer_hard_match(_match(inventory, held_back), inventory.tenant or Tenant())


def _match(
    inventory: Inventory, held_back: frozenset[str] = frozenset(), fast: bool = True
) -> IdentityMatch:
    """``match_identities``; ``fast=False`` sends every user through ``_decide`` (for tests)."""
    tenant = inventory.tenant or Tenant()
    policy = inventory.policy
    if policy.identity_batch_size < 1:
        raise PlanError(
            f"policy.identity_batch_size: '{policy.identity_batch_size}' is not a batch size; "
            "expected a whole number of users from 1 up"
        )
    # On-premises order never shows in the result (candidates and names are sorted where
    # listed), so only the cloud side is sorted: results come out in UPN order.
    onprem = inventory.onprem_users
    cloud = sorted(inventory.cloud_users, key=lambda c: (c.user_principal_name.lower(), c.id))
    idx = _Index(onprem, cloud, tenant)

    found = _all_candidates(cloud, idx, tenant.soft_match_upn)
    # Which cloud users each on-premises object would be joined to (its anchor equals their
    # ImmutableId, or it is their single candidate): two claims are a conflict for both.
    claims: _Multi[int] = _Multi()
    for j, cand in enumerate(found):
        if cloud[j].on_premises_sync_enabled:
            for i in cand.hard:
                claims.add(i, j)
            continue
        chosen = cand.hard if cand.hard else cand.all
        if len(chosen) == 1:
            claims.add(chosen[0], j)

    scope_suffix = ("," + policy.sync_scope_ou.lower()) if policy.sync_scope_ou else ""
    results = _decide_all(cloud, onprem, found, idx, claims, tenant, policy, scope_suffix, fast)
    del found, claims, idx
    if held_back:
        results = [
            dataclasses.replace(
                r,
                batchable=False,
                reason=r.reason + "; held back from the batches: its on-premises attributes would "
                "break sync (see the identity findings)",
            )
            if r.batchable and r.onprem_dn.lower() in held_back
            else r
            for r in results
        ]
    batchable = [r for r in results if r.batchable]
    size = policy.identity_batch_size
    batches = tuple(
        IdentityBatch(n + 1, tuple(batchable[k : k + size]))
        for n, k in enumerate(range(0, len(batchable), size))
    )
    return IdentityMatch(tuple(results), batches, tenant.source_anchor, policy.sync_scope_ou)


def _decide_all(
    cloud: Sequence[CloudUser],
    onprem: Sequence[OnPremUser],
    found: Sequence[_Candidates],
    idx: _Index,
    claims: _Multi[int],
    tenant: Tenant,
    policy: Policy,
    scope_suffix: str,
    fast: bool = True,
) -> list[MatchResult]:
    """``_decide`` for every cloud user, with a fast path for the clean single-candidate case.

    Most users of a real migration have one candidate and nothing wrong: a clean soft
    match, a clean hard match or a soft match that needs its ImmutableId set. The fast path
    below decides those without the lists ``_decide`` collects conflicts, blocks and
    warnings in. It takes a user only when every test ``_decide`` makes (the same lookups;
    none has a side effect, so their order does not matter) comes out the way that leads to
    no conflict, no block and no warning, and it builds the same reason and fix text; every
    other user goes through ``_decide``. tests/test_identity_fast_paths.py compares both.
    """
    block_takeover = tenant.block_hard_match_takeover
    soft_blocked = tenant.block_soft_match
    anchor_name = tenant.source_anchor.value
    anchors, upn_lows, smtp_of, cloud_smtp = idx.anchor, idx.upn_low, idx.smtp, idx.cloud_smtp
    claims_first, claims_more = claims.first, claims.more
    shared = idx.onprem_shared
    upn_first, upn_more = idx.cloud_upn.first, idx.cloud_upn.more
    proxy_first, proxy_more = idx.cloud_proxy.first, idx.cloud_proxy.more
    onprem_proxy = idx.proxy.first
    verified, federated = idx.verified, idx.federated
    move_text = f"moves the user into '{policy.sync_scope_ou}'"
    soft_smtp_text, soft_upn_text = (
        _METHOD_TEXT[MatchMethod.SOFT_SMTP],
        _METHOD_TEXT[MatchMethod.SOFT_UPN],
    )
    results: list[MatchResult] = []
    append = results.append
    for j, c in enumerate(cloud):
        cand = found[j]
        every = cand.all
        if fast and len(every) == 1 and not c.on_premises_sync_enabled and not c.admin_roles:
            # _decide with one candidate and no synced flag: ``chosen`` is that candidate
            i = every[0]
            u = onprem[i]
            anchor = anchors[i]
            upn_low = upn_lows[i]
            owned = smtp_of[i]
            # _decide's ``needs_hard``: a soft match that must become a hard one
            needs_hard = ""
            if not cand.hard and c.immutable_id:
                needs_hard = (
                    f"the cloud user already has ImmutableId '{c.immutable_id}', "
                    "so soft match will not join it"
                )
            elif not cand.hard and soft_blocked:
                needs_hard = "the tenant has BlockSoftMatchEnabled"
            if (
                # no block: a hard match (chosen, or needed to set the ImmutableId) blocks
                # only under the takeover block, setting the ImmutableId also in a federated
                # cloud UPN domain; a plain soft match is never blocked (no admin roles here)
                not block_takeover
                if cand.hard
                else not needs_hard
                or not (block_takeover or _domain(c.user_principal_name) in federated)
            ) and (
                # none of _decide's conflicts: no other claim, an anchor, no duplicate values
                # (i not in onprem_shared: no other on-premises object holds its UPN or
                # addresses), no cloud user other than j holding them, not two mailboxes
                anchor
                and i not in claims_more
                and claims_first.get(i, j) == j
                and i not in shared
                and not (upn_low and (upn_first.get(upn_low, j) != j or upn_low in upn_more))
                and not (c.has_mailbox and u.has_mailbox)
                # no warning: the on-premises UPN suffix is verified
                and _domain(u.user_principal_name) in verified
            ):
                for a in owned:  # as _decide: no address of i held by a cloud user other than j
                    if proxy_first.get(a, j) != j or a in proxy_more:
                        break
                else:
                    dn = u.distinguished_name
                    if cand.hard:
                        method = MatchMethod.HARD
                        outcome = MatchOutcome.CLEAN_HARD_MATCH
                        how = f"ImmutableId already equals the {anchor_name} of '{dn}'"
                    else:
                        if i in cand.smtp:
                            method, how = MatchMethod.SOFT_SMTP, f"{soft_smtp_text} with '{dn}'"
                        else:
                            method, how = MatchMethod.SOFT_UPN, f"{soft_upn_text} with '{dn}'"
                        if needs_hard:
                            outcome = MatchOutcome.HARD_MATCH
                            how = (
                                f"{needs_hard}: set ImmutableId to '{anchor}' "
                                f"({anchor_name} of '{dn}')"
                            )
                        else:
                            outcome = MatchOutcome.SOFT_MATCH
                    # _decide's ``extra``, without building an (almost always empty) list
                    add: tuple[str, ...] = ()
                    for a in cloud_smtp[j]:
                        if (
                            a not in owned
                            and not a.endswith(".onmicrosoft.com")
                            and a not in onprem_proxy
                            and _domain(a) in verified
                        ):
                            add += (f"smtp:{a}",)
                    move = bool(scope_suffix) and not dn.lower().endswith(scope_suffix)
                    # _decide's ``actions`` and ``plan_text``
                    actions = []
                    if add:
                        actions.append(
                            f"adds {_join(add)} on-premises so the cloud addresses survive the match"
                        )
                    if move:
                        actions.append(move_text)
                    if needs_hard:
                        actions.append("sets the cloud ImmutableId first")
                    fix = ("the batch " + ", ".join(actions)) if actions else ""
                    set_id = bool(needs_hard)
                    append(
                        _result(
                            c,
                            outcome,
                            how,
                            fix,
                            method,
                            u,
                            (dn,),
                            anchor,
                            set_id,
                            "",
                            add,
                            move,
                            True,
                        )
                    )
                    continue
        append(_decide(j, cloud, onprem, cand, idx, claims, tenant, policy, scope_suffix))
    return results


def _decide(
    j: int,
    cloud: Sequence[CloudUser],
    onprem: Sequence[OnPremUser],
    cand: _Candidates,
    idx: _Index,
    claims: _Multi[int],
    tenant: Tenant,
    policy: Policy,
    scope_suffix: str,
) -> MatchResult:
    c = cloud[j]
    every = cand.all
    if len(every) == 1:
        dns: tuple[str, ...] = (onprem[every[0]].distinguished_name,)
    else:
        dns = tuple(sorted(onprem[i].distinguished_name for i in every))

    if c.on_premises_sync_enabled:
        if cand.hard:
            u = min((onprem[i] for i in cand.hard), key=lambda x: x.distinguished_name.lower())
            reason = f"OnPremisesSyncEnabled is true and its ImmutableId is the sourceAnchor of '{u.distinguished_name}'"
            return _result(
                c,
                MatchOutcome.ALREADY_SYNCED,
                reason,
                "",
                MatchMethod.HARD,
                u,
                dns,
                c.immutable_id,
                False,
                "",
                (),
                False,
                False,
            )
        reason = (
            f"OnPremisesSyncEnabled is true; no user in the inventory has its ImmutableId "
            f"'{c.immutable_id}' as sourceAnchor (synced from outside the exported scope)"
        )
        return MatchResult(
            cloud=c,
            outcome=MatchOutcome.ALREADY_SYNCED,
            reason=reason,
            source_anchor=c.immutable_id,
        )

    if not every:
        return _no_candidate(c, tenant)

    chosen = cand.hard if cand.hard else every
    if len(chosen) > 1:
        names = _join(sorted(onprem[i].distinguished_name for i in chosen))
        how = "have its ImmutableId as sourceAnchor" if cand.hard else "soft-match it"
        return MatchResult(
            cloud=c,
            outcome=MatchOutcome.CONFLICT,
            candidates=dns,
            reason=f"several on-premises users {how}: {names}",
            fix="keep exactly one candidate: change the primary SMTP address or UPN of the "
            "others (or remove them from sync scope), then plan again",
        )

    i = chosen[0]
    u = onprem[i]
    anchor = idx.anchor[i]
    if cand.hard:
        method = MatchMethod.HARD
    elif i in cand.smtp:
        method = MatchMethod.SOFT_SMTP
    else:
        method = MatchMethod.SOFT_UPN
    # ---- conflicts: the data must change before anything can match
    conflicts: list[str] = []
    fixes: list[str] = []
    others = claims.others(i, j) if i in claims.more or claims.first.get(i, j) != j else []
    if others:
        names = _join([cloud[k].user_principal_name for k in others])
        conflicts.append(
            f"candidate '{u.distinguished_name}' is also the match of cloud user(s) {names}"
        )
        fixes.append(
            "decide which cloud user this on-premises user belongs to and change the other's "
            "address, UPN or ImmutableId"
        )
    if not anchor:
        conflicts.append(
            f"candidate '{u.distinguished_name}' has no usable {tenant.source_anchor.value} "
            f"('{u.object_guid}')"
        )
        fixes.append("re-export the user; its GUID must be a GUID")
    dup_values: list[str] = []
    upn_low = idx.upn_low[i]
    if i in idx.onprem_shared:
        if upn_low and idx.by_upn.shared(upn_low):
            dup_values.append(
                f"userPrincipalName '{u.user_principal_name}' (another on-premises object)"
            )
        dup_values.extend(
            f"proxyAddress 'smtp:{a}' (another on-premises object)"
            for a in idx.smtp[i]
            if idx.proxy.shared(a)
        )
    # Values held by another cloud user (dictionary lookups inlined: this runs for every user).
    cloud_first, cloud_more = idx.cloud_upn.first, idx.cloud_upn.more
    if upn_low and (cloud_first.get(upn_low, j) != j or upn_low in cloud_more):
        holder = cloud[idx.cloud_upn.others(upn_low, j)[0]].user_principal_name
        dup_values.append(f"userPrincipalName '{u.user_principal_name}' (cloud user '{holder}')")
    cloud_first, cloud_more = idx.cloud_proxy.first, idx.cloud_proxy.more
    for a in idx.smtp[i]:
        if cloud_first.get(a, j) != j or a in cloud_more:
            holder = cloud[idx.cloud_proxy.others(a, j)[0]].user_principal_name
            dup_values.append(f"proxyAddress 'smtp:{a}' (cloud user '{holder}')")
    if dup_values:
        conflicts.append(
            "sync would fail with 'Unable to update this object because the following attributes "
            "associated with this object have values that may already be associated with another "
            "object': " + "; ".join(dup_values)
        )
        fixes.append(
            "remove the duplicate value from one of the two objects (IdFix shows them), then plan again"
        )
    if c.has_mailbox and u.has_mailbox:
        conflicts.append(
            f"'{u.distinguished_name}' has an on-premises mailbox "
            f"({_RECIPIENT_TYPES.get(u.recipient_type_details, u.recipient_type_details)}) "
            "and the cloud user has an Exchange Online mailbox: two mailboxes for one person"
        )
        fixes.append(
            "keep one mailbox: move the 2010 mailbox's content into the cloud mailbox (export/import) "
            "and convert the on-premises user to a remote mailbox whose ExchangeGuid is the cloud "
            "mailbox's, or remove the cloud mailbox before matching"
        )
    if conflicts:
        return MatchResult(
            cloud=c,
            outcome=MatchOutcome.CONFLICT,
            reason="; ".join(conflicts),
            fix="; ".join(fixes),
            method=method,
            source_anchor=anchor,
            onprem=u,
            candidates=dns,
        )

    # ---- hard or soft, and what blocks it
    set_id = False
    blocks: list[str] = []
    block_fixes: list[str] = []
    if method is MatchMethod.HARD:
        how = f"ImmutableId already equals the {tenant.source_anchor.value} of '{u.distinguished_name}'"
        if tenant.block_hard_match_takeover:
            blocks.append(
                "the tenant has BlockCloudObjectTakeoverThroughHardMatchEnabled: the hard "
                "match would fail with InvalidHardMatch"
            )
            block_fixes.append(
                "turn BlockCloudObjectTakeoverThroughHardMatchEnabled off with "
                "Update-MgDirectoryOnPremiseSynchronization for the migration, on again after"
            )
    else:
        how = f"{_METHOD_TEXT[method]} with '{u.distinguished_name}'"
        needs_hard = ""
        if c.immutable_id:
            needs_hard = f"the cloud user already has ImmutableId '{c.immutable_id}', so soft match will not join it"
        elif tenant.block_soft_match:
            needs_hard = "the tenant has BlockSoftMatchEnabled"
        if needs_hard:
            set_id = True
            how = f"{needs_hard}: set ImmutableId to '{anchor}' ({tenant.source_anchor.value} of '{u.distinguished_name}')"
            if tenant.block_hard_match_takeover:
                blocks.append(
                    "soft match is unavailable and the tenant has "
                    "BlockCloudObjectTakeoverThroughHardMatchEnabled, so hard match fails too"
                )
                block_fixes.append(
                    "turn BlockSoftMatchEnabled or BlockCloudObjectTakeoverThroughHardMatchEnabled "
                    "off with Update-MgDirectoryOnPremiseSynchronization for the migration"
                )
            if _domain(c.user_principal_name) in idx.federated:
                blocks.append(
                    f"ImmutableId cannot be set while the cloud UPN is in the federated domain "
                    f"'{_domain(c.user_principal_name)}'"
                )
                block_fixes.append(
                    f"change the cloud UPN to '{_onmicrosoft_upn(c.user_principal_name, tenant)}' "
                    "with Update-MgUser -UserPrincipalName, plan again, and change it back after the match"
                )
    role_only = not blocks and bool(c.admin_roles)
    if c.admin_roles:
        blocks.append(
            f"the cloud user holds admin role(s) {_join(c.admin_roles)}, which block soft and hard match"
        )
        block_fixes.append(
            "remove the role(s) before the user syncs and restore them after the match is verified "
            "(manual steps of the batch)"
        )

    # ---- what the prepare step changes on-premises
    target_upn = ""
    warnings: list[str] = []
    upn_domain = _domain(u.user_principal_name)
    if upn_domain not in idx.verified:
        cloud_domain = _domain(c.user_principal_name)
        can_take = (
            cloud_domain in idx.verified
            and not cloud_domain.endswith(".onmicrosoft.com")
            and not idx.by_upn.get(c.user_principal_name.strip().lower())
        )
        if can_take:
            target_upn = c.user_principal_name
            warnings.append(
                f"on-premises UPN suffix '{upn_domain}' is not a verified domain: the cloud UPN would "
                f"become the onmicrosoft.com one; the prepare step sets the on-premises UPN to '{target_upn}'"
            )
        else:
            warnings.append(
                f"on-premises UPN suffix '{upn_domain}' is not a verified domain: matching works but "
                f"the cloud UPN becomes '{_onmicrosoft_upn(u.user_principal_name, tenant)}'"
            )
    owned = idx.smtp[i]
    extra = [
        a
        for a in idx.cloud_smtp[j]
        if a not in owned and not a.endswith(".onmicrosoft.com") and a not in idx.proxy.first
    ]
    add = tuple(f"smtp:{a}" for a in extra if _domain(a) in idx.verified) if extra else ()
    move = bool(scope_suffix) and not u.distinguished_name.lower().endswith(scope_suffix)
    actions = []
    if add:
        actions.append(f"adds {_join(add)} on-premises so the cloud addresses survive the match")
    if move:
        actions.append(f"moves the user into '{policy.sync_scope_ou}'")
    if set_id:
        actions.append("sets the cloud ImmutableId first")
    plan_text = ("the batch " + ", ".join(actions)) if actions else ""

    if blocks:
        outcome = MatchOutcome.BLOCKED
        reason = "; ".join([*blocks, f"once unblocked: {how}", *warnings])
        fix = "; ".join([*block_fixes, plan_text] if role_only and plan_text else block_fixes)
        batchable = role_only
    elif warnings:
        outcome = MatchOutcome.WARNING
        reason = f"{how}; " + "; ".join(warnings)
        fix = plan_text or "none needed to match; fix the UPN suffix to keep a verified UPN"
        batchable = True
    else:
        if method is MatchMethod.HARD:
            outcome = MatchOutcome.CLEAN_HARD_MATCH
        elif set_id:
            outcome = MatchOutcome.HARD_MATCH
        else:
            outcome = MatchOutcome.SOFT_MATCH
        reason, fix, batchable = how, plan_text, True
    return _result(
        c, outcome, reason, fix, method, u, dns, anchor, set_id, target_upn, add, move, batchable
    )


def _no_candidate(c: CloudUser, tenant: Tenant) -> MatchResult:
    smtp = c.primary_smtp or c.user_principal_name.lower()
    if c.has_mailbox:
        guid = c.exchange_guid or "<ExchangeGuid of the cloud mailbox>"
        fix = (
            f"create the on-premises user (UPN '{c.user_principal_name}') in the sync scope OU with a remote "
            f"mailbox: New-RemoteMailbox (or Enable-RemoteMailbox) with primary SMTP address '{smtp}' and "
            f"-RemoteRoutingAddress '{smtp.partition('@')[0]}@{_remote_routing_domain(tenant)}', then "
            f"Set-RemoteMailbox -ExchangeGuid '{guid}'; it then soft-matches on '{smtp}'"
        )
    elif c.user_principal_name.lower().endswith(".onmicrosoft.com"):
        fix = (
            "none if it is meant to stay cloud-only (emergency-access and service accounts in the "
            "onmicrosoft.com domain usually are); to manage it on-premises, create a user with UPN "
            f"'{c.user_principal_name}' and primary SMTP address '{smtp}' in the sync scope OU"
        )
    else:
        fix = (
            f"create the on-premises user with UPN '{c.user_principal_name}' and primary SMTP address "
            f"'{smtp}' in the sync scope OU; it then soft-matches"
        )
    upn_note = " or UPN" if tenant.soft_match_upn else ""
    reason = f"no on-premises user has the primary SMTP address '{smtp}'{upn_note}"
    if c.immutable_id:
        reason += f" or the sourceAnchor '{c.immutable_id}'"
    return MatchResult(cloud=c, outcome=MatchOutcome.NO_CANDIDATE, reason=reason, fix=fix)


__all__ = [
    "IdentityBatch",
    "IdentityMatch",
    "MatchMethod",
    "MatchOutcome",
    "MatchResult",
    "gc_paused",
    "match_identities",
    "onprem_source_anchor",
]
