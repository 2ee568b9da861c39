"""Identity matching: which on-premises user each cloud user will be joined to by Entra Connect.

For every cloud user the planner finds the on-premises candidates the way
Entra Connect will when the on-premises object enters sync scope: hard match
(the on-premises sourceAnchor equals the cloud ImmutableId), soft match on
the primary SMTP address, and on the UPN when the tenant allows it. It then
decides an outcome (EXCHANGE-RULES, "Directory synchronisation") with the
reason and the fix, and cuts the users that can go ahead into batches.

Matching is written once, as joins over tables (pandas): one row per user and
per SMTP address on each side. The joins give every cloud user's candidates,
the on-premises object it would be joined to, who else claims that object and
which of its values another object holds. ``_decide`` then works over those
columns too: each case is a mask of cloud users. The decision is kept as those
columns (``_Decided``); the results, one named tuple per cloud user with the
reason and fix each case adds (made from those users' values), are made the
first time something asks for them: ``check`` needs only the batches' users.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain, compress, product, repeat
from operator import attrgetter, is_not, itemgetter, methodcaller, not_
from typing import Any, NamedTuple, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

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
from migrator.plan.immutable_id import immutable_ids_from_guids


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


class MatchResult(NamedTuple):
    """The decision for one cloud user, with why and what to do.

    A named tuple (immutable, like the frozen dataclasses elsewhere): the matcher makes one
    per cloud user from its columns, hundreds of thousands at a time, at the cost of a tuple.
    """

    cloud: CloudUser
    """The cloud user (as inventoried: its ImmutableId there is what a rollback restores)."""
    outcome: MatchOutcome
    """What will happen."""
    reason: str
    """Why (lower case, no trailing period)."""
    fix: str = ""
    """What to do; empty where nothing needs doing."""
    method: MatchMethod | None = None
    """How the objects will be joined, where a single candidate exists (hard match wherever
    the plan sets the ImmutableId, whichever attribute found the candidate)."""
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


@dataclass(frozen=True, eq=False)
class IdentityBatch:
    """Users handled together: prepared, synced and verified as one group."""

    number: int
    """1-based batch number."""
    decided: _Decided = field(repr=False)
    """The decisions of every cloud user (the match's columns)."""
    rows: Rows = field(repr=False)
    """The batch's users: their rows in the decisions, in report order."""

    @property
    def name(self) -> str:
        """``batch-001``: the CSV name and the step id suffix."""
        return f"batch-{self.number:03d}"

    @cached_property
    def results(self) -> tuple[MatchResult, ...]:
        """The users in the batch, in report order."""
        return tuple(map(self.decided.results.__getitem__, self.rows.tolist()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IdentityBatch):
            return NotImplemented
        return (self.number, self.results) == (other.number, other.results)

    def __hash__(self) -> int:
        return hash(self.number)

    @property
    def onprem_users(self) -> list[OnPremUser]:
        """The on-premises user each user is matched to, in report order (from the columns: no
        result is made; a batched user always has one)."""
        onprem = cast(list[OnPremUser], self.decided.facts.onprem)
        return list(map(onprem.__getitem__, self.rows.tolist()))

    @property
    def remote_mailbox_pairs(self) -> list[tuple[CloudUser, OnPremUser]]:
        """Each user that needs an on-premises remote mailbox (:func:`needs_remote_mailbox`, asked
        once per matched user when deciding): its cloud user and the on-premises user it is
        matched to, in report order (from the columns: no result is made)."""
        cloud = self.decided.facts.cloud
        onprem = cast(list[OnPremUser], self.decided.facts.onprem)
        at = self.rows[self.decided.remote_mailbox[self.rows]].tolist()
        return list(zip(map(cloud.__getitem__, at), map(onprem.__getitem__, at), strict=True))


@dataclass(frozen=True, eq=False)
class IdentityMatch:
    """Every cloud user's decision and the batches, for one inventory.

    The decisions are kept as columns (``_Decided``): the results, with their reasons and
    fixes, are made the first time something asks for them (the reports and runbooks of
    ``plan``), not by ``check``, which needs only the batches' users.
    """

    decided: _Decided = field(repr=False)
    """Every cloud user's decision, as columns."""
    source_anchor: SourceAnchor = SourceAnchor.CONSISTENCY_GUID
    """sourceAnchor attribute of the Entra Connect installation."""
    sync_scope_ou: str = ""
    """OU the AD runbook moves users into (empty: scope managed otherwise)."""

    @property
    def results(self) -> tuple[MatchResult, ...]:
        """One result per cloud user, sorted by UPN then id."""
        return self.decided.results

    @cached_property
    def batches(self) -> tuple[IdentityBatch, ...]:
        """Batches of batchable users, in order."""
        rows = np.flatnonzero(self.decided.batchable)
        size = self.decided.policy.identity_batch_size
        return tuple(
            IdentityBatch(n + 1, self.decided, rows[k : k + size])
            for n, k in enumerate(range(0, len(rows), size))
        )

    def __eq__(self, other: object) -> bool:
        """The same results, batches, sourceAnchor and sync scope (made to compare)."""
        if not isinstance(other, IdentityMatch):
            return NotImplemented
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash((self.source_anchor, self.sync_scope_ou))

    def _compared(self) -> tuple[object, ...]:
        return (self.results, self.batches, self.source_anchor, self.sync_scope_ou)

    def counts(self) -> dict[MatchOutcome, int]:
        """Number of users per outcome, every outcome present."""
        outcome = self.decided.outcome
        return {o: int(np.count_nonzero(outcome == o)) for o in MatchOutcome}

    def by_outcome(self) -> dict[MatchOutcome, list[int]]:
        """Positions in :attr:`results` of each outcome's users, the outcomes that need
        attention first (by rank), every outcome present; within one, the results' order."""
        outcome = self.decided.outcome
        return {
            o: np.flatnonzero(outcome == o).tolist()
            for o in sorted(MatchOutcome, key=attrgetter("rank"))
        }

    def report_order(self) -> list[int]:
        """Positions in :attr:`results` in the order reports list the users: by outcome rank,
        then UPN (lower case) and id (the results are sorted so)."""
        return list(chain.from_iterable(self.by_outcome().values()))

    def batch_names(self) -> list[str]:
        """Each result's batch name (``batch-001``), empty for a user in no batch."""
        names = np.full(len(self.decided.outcome), "", dtype=object)
        for batch in self.batches:
            names[batch.rows] = batch.name
        out: list[str] = names.tolist()
        return out


# --------------------------------------------------------------------------- helpers


def onprem_source_anchor(user: OnPremUser, anchor: SourceAnchor) -> str:
    """The ImmutableId Entra Connect gives this user, empty when its GUID is unusable.

    With mS-DS-ConsistencyGuid as sourceAnchor, an empty ConsistencyGuid falls
    back to objectGUID (Entra Connect writes it back at the first export).
    """
    return immutable_ids_from_guids(_anchor_guids((user,), anchor))[0]


def _anchor_guids(users: Sequence[OnPremUser], anchor: SourceAnchor) -> list[str]:
    """The GUID each user's sourceAnchor is made of (see ``onprem_source_anchor``)."""
    if anchor is SourceAnchor.CONSISTENCY_GUID:
        return [u.consistency_guid if u.consistency_guid.strip() else u.object_guid for u in users]
    return list(map(attrgetter("object_guid"), users))


def _domains(addresses: Iterable[str]) -> list[str]:
    """The domain of each address or UPN (after its last '@'), lower case (mapped in C)."""
    return list(map(str.lower, map(itemgetter(2), map(methodcaller("rpartition", "@"), addresses))))


def _domain(address: str) -> str:
    return _domains((address,))[0]


def _onmicrosoft_upn(upn: str, tenant: Tenant) -> str:
    local = upn.partition("@")[0]
    initial = tenant.initial_domain or "<tenant>.onmicrosoft.com"
    return f"{local}@{initial}"


def needs_remote_mailbox(cloud: CloudUser, onprem: OnPremUser | None) -> bool:
    """Whether a matched pair needs an on-premises remote mailbox created before it syncs.

    The cloud user has an Exchange Online mailbox and the on-premises user has no
    Exchange attributes at all (no mailbox, no remote mailbox, no mailbox GUID, no
    target address): ``migrator.plan.remote_mailbox`` says why and what it gets.
    """
    return (
        cloud.has_mailbox
        and onprem is not None
        and not onprem.recipient_type_details
        and not onprem.exchange_guid
        and not onprem.target_address
    )


def remote_routing_domain(tenant: Tenant) -> str:
    """``<tenant>.mail.onmicrosoft.com``: the domain of every remote routing address."""
    initial = tenant.initial_domain.lower()
    if initial.endswith(".onmicrosoft.com"):
        return initial.replace(".onmicrosoft.com", ".mail.onmicrosoft.com")
    return "<tenant>.mail.onmicrosoft.com"


def _join(items: Iterable[str]) -> str:
    return ", ".join(f"'{i}'" for i in items)


# --------------------------------------------------------------------------- tables

_HARD, _SMTP, _UPN = 1, 2, 4
"""Bits of a candidate pair's ``via``: which attribute joined the two users."""


def _lows(values: Iterable[str]) -> list[str]:
    """Each value stripped and lower-cased (how UPNs are compared)."""
    return list(map(str.lower, map(str.strip, values)))


Codes = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]
Rows = npt.NDArray[np.intp]


def _flags(values: Iterable[object], n: int) -> Mask:
    """The truth of each of ``n`` values as a boolean array (built in C)."""
    return np.fromiter(map(bool, values), dtype=bool, count=n)


def _objects(values: Sequence[Any]) -> npt.NDArray[np.object_]:
    """The values as an object array, each kept as it is (no conversion to numpy strings)."""
    return np.fromiter(values, dtype=object, count=len(values))


def _codes(*columns: Sequence[str]) -> tuple[list[Codes], int]:
    """Every column's values as integer codes shared by all the columns (equal values, equal
    codes), and how many codes there are; the empty value (nothing to match on) is -1.

    Joins and counts then work on integers, each string hashed once (the empty ones not at all).
    """
    total = sum(map(len, columns))
    values = np.fromiter(chain.from_iterable(columns), dtype=object, count=total)
    present = _flags(values, total)
    codes = np.full(total, -1, dtype=np.int64)
    found, uniques = pd.factorize(values[present])
    codes[present] = found
    return np.split(codes, np.cumsum([len(c) for c in columns])[:-1]), len(uniques)


def _equi_join(left: Codes, right: Codes) -> tuple[Codes, Codes]:
    """Row numbers ``(l, r)`` of every pair with ``left[l] == right[r]`` (an inner join; -1
    joins nothing)."""
    lt = pd.DataFrame({"key": left, "l": np.arange(len(left))})
    rt = pd.DataFrame({"key": right, "r": np.arange(len(right))})
    joined = lt[lt["key"] >= 0].merge(rt[rt["key"] >= 0], on="key")
    return joined["l"].to_numpy(), joined["r"].to_numpy()


def _smtp_table(proxies: Sequence[tuple[str, ...]]) -> tuple[Codes, list[str]]:
    """Every user's SMTP addresses (``SMTP:`` and ``smtp:``), lower case and without prefix,
    one row per address: its user's row number and the address (mapped in C, not per user)."""
    flat = list(chain.from_iterable(proxies))
    owners = np.repeat(np.arange(len(proxies), dtype=np.int64), list(map(len, proxies)))
    smtp = np.fromiter(map(str.startswith, flat, repeat(_SMTP_TYPES)), dtype=bool, count=len(flat))
    # strip and lower the address alone: lower-casing is context-sensitive (final sigma)
    addresses = map(str.lower, map(str.strip, map(_AFTER_PREFIX, compress(flat, smtp))))
    return owners[smtp], list(addresses)


_SMTP_TYPES = tuple(
    sorted(
        {"".join(spelling) for spelling in product("Ss", "Mm", "Tt", "Pp", ":")},
        key=lambda t: (t not in ("SMTP:", "smtp:"), t),
    )
)
"""The type prefix ``smtp:`` in every mix of cases (the usual two tried first)."""
_AFTER_PREFIX = itemgetter(slice(5, None))


def _once_per_owner(owners: Codes, codes: Codes) -> Codes:
    """Row numbers of the first row of each (owner, code), in order, leaving out the empty
    address (code -1): a user holds an address once."""
    rows = np.flatnonzero(codes >= 0)
    keys = owners[rows] * (codes.max(initial=0) + 1) + codes[rows]
    return rows[np.sort(np.unique(keys, return_index=True)[1])]


def _place(owners: Codes) -> Codes:
    """Each row's place among its owner's rows (owners ascending): 0, 1, ... per owner."""
    starts = np.flatnonzero(np.diff(owners, prepend=-1))
    sizes = np.diff(np.append(starts, len(owners)))
    return np.arange(len(owners)) - np.repeat(starts, sizes)


def _verified_domains(tenant: Tenant) -> frozenset[str]:
    verified = {d.lower() for d in tenant.verified_domains}
    if tenant.initial_domain:
        verified.add(tenant.initial_domain.lower())
    return frozenset(verified)


def _groups(keys: Codes, values: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """``n`` tuples: at place ``j``, the ``values`` of the rows whose key is ``j``, in row order.

    The rows are sorted by key: each group is one slice.
    """
    out = np.empty(n, dtype=object)
    out.fill(())
    if len(keys):
        starts = np.flatnonzero(np.diff(keys, prepend=-1))
        sizes = np.diff(np.append(starts, len(keys)))
        # groups of one value (most): 1-tuples made by zip, placed at once
        one = starts[sizes == 1]
        out[keys[one]] = np.fromiter(zip(map(values.__getitem__, one.tolist())), object, len(one))
        many = sizes > 1
        for j, start, size in zip(
            keys[starts][many].tolist(), starts[many].tolist(), sizes[many].tolist(), strict=True
        ):
            out[j] = tuple(values[start : start + size])
    result: list[tuple[str, ...]] = out.tolist()
    return result


def _by_name(rows: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """``rows`` (columns ``j`` and ``i``) sorted by ``j``, then ``names[i]``, then ``i``.

    Names are compared only within the (few) groups of several rows.
    """
    rows = rows.sort_values(["j", "i"])
    many = rows["j"].duplicated(keep=False).to_numpy()
    if not many.any():
        return rows
    several = rows[many]
    several = several.assign(name=[names[i] for i in several["i"].tolist()])
    several = several.sort_values(["j", "name", "i"]).drop(columns="name")
    return pd.concat([rows[~many], several]).sort_values("j", kind="stable")


class _Facts(NamedTuple):
    """What the joins found, one column per fact and one row per cloud user (``cloud`` order):
    everything ``_decide`` needs."""

    cloud: Sequence[CloudUser]
    synced: Mask
    """OnPremisesSyncEnabled."""
    onprem: list[OnPremUser | None]
    """The candidate it would be joined to: the single one chosen, or (already synced) the
    first by DistinguishedName whose sourceAnchor is its ImmutableId."""
    via: Codes
    """``_HARD | _SMTP | _UPN`` bits of that candidate."""
    anchor: list[str]
    """That candidate's sourceAnchor (ImmutableId form), empty where its GUID is unusable."""
    has_candidates: Mask
    """Whether any on-premises user is a candidate."""
    other_claims: list[tuple[str, ...]]
    """UPNs of the other cloud users the chosen candidate would be joined to."""
    duplicates: list[tuple[str, ...]]
    """The chosen candidate's values another object holds (what sync would refuse)."""
    onprem_upn_verified: Mask
    """Whether the chosen candidate's UPN suffix is a verified domain."""
    cloud_upn_federated: Mask
    """Whether the cloud UPN is in a federated domain."""
    cloud_upn_free: Mask
    """Whether the on-premises user can take the cloud UPN (verified, not onmicrosoft.com,
    no on-premises user holds it)."""
    move: Mask
    """Whether the chosen candidate is outside the sync scope OU."""
    held_back: Mask
    """Whether the chosen candidate's attributes would break its sync (identity findings)."""
    lists: list[Callable[[], _Lists]]
    """The lists only the results show: the function that makes them, called once when the
    results are made and then dropped (with the join tables it holds)."""


class _Lists(NamedTuple):
    """What the joins found that only the results show, one row per cloud user."""

    candidates: list[tuple[str, ...]]
    """DistinguishedNames of every candidate, sorted."""
    hard_dns: list[tuple[str, ...]]
    """DistinguishedNames of the candidates whose sourceAnchor is its ImmutableId, sorted."""
    add: list[tuple[str, ...]]
    """Cloud addresses the AD runbook adds on-premises (``smtp:...``)."""


def _facts(
    onprem: Sequence[OnPremUser],
    cloud: Sequence[CloudUser],
    tenant: Tenant,
    policy: Policy,
    held_back: frozenset[str],
) -> _Facts:
    """Every cloud user's facts, in ``cloud`` order, from joins over the two sides' tables.

    The tables: on-premises users (row ``i``), cloud users (row ``j``) and each side's SMTP
    addresses (one row per user and address). Values are compared as integer codes.
    """
    n_cloud = len(cloud)
    verified = _verified_domains(tenant)
    federated = frozenset(d.lower() for d in tenant.federated_domains)
    dns = list(map(attrgetter("distinguished_name"), onprem))
    dn_lows = list(map(str.lower, dns))
    on_upns = list(map(attrgetter("user_principal_name"), onprem))
    cloud_upns = list(map(attrgetter("user_principal_name"), cloud))
    anchors = immutable_ids_from_guids(_anchor_guids(onprem, tenant.source_anchor))
    on_addr_owner, on_addrs = _smtp_table(list(map(attrgetter("proxy_addresses"), onprem)))
    cl_addr_owner, cl_addrs = _smtp_table(list(map(attrgetter("proxy_addresses"), cloud)))
    (on_anchor, cl_anchor), _ = _codes(anchors, list(map(attrgetter("immutable_id"), cloud)))
    (on_upn, cl_upn), n_upns = _codes(_lows(on_upns), _lows(cloud_upns))
    (on_primary, cl_primary, on_addr, cl_addr), n_addrs = _codes(
        list(map(primary_smtp, map(attrgetter("proxy_addresses"), onprem))),
        list(map(attrgetter("primary_smtp"), cloud)),
        on_addrs,
        cl_addrs,
    )
    synced = _flags(map(attrgetter("on_premises_sync_enabled"), cloud), n_cloud)
    # Each side's address table: owner, code and row in on_addrs / cl_addrs, each address once
    # per user.
    on_addr_row = _once_per_owner(on_addr_owner, on_addr)
    on_addr_owner, on_addr = on_addr_owner[on_addr_row], on_addr[on_addr_row]
    cl_addr_row = _once_per_owner(cl_addr_owner, cl_addr)
    cl_addr_owner, cl_addr = cl_addr_owner[cl_addr_row], cl_addr[cl_addr_row]

    # ---- candidates: one row per (cloud user j, on-premises user i) joined by any attribute
    joins = [(_HARD, cl_anchor, on_anchor), (_SMTP, cl_primary, on_primary)]
    if tenant.soft_match_upn:
        joins.append((_UPN, cl_upn, on_upn))
    found = []
    for bit, left, right in joins:
        j, i = _equi_join(left, right)
        found.append(pd.DataFrame({"j": j, "i": i, "via": bit}))
    pairs = _by_name(pd.concat(found).groupby(["j", "i"])["via"].sum().reset_index(), dns)
    pair_j = pairs["j"].to_numpy()
    hard = (pairs["via"].to_numpy() & _HARD) != 0
    n_all = np.bincount(pair_j, minlength=n_cloud)
    n_hard = np.bincount(pair_j[hard], minlength=n_cloud)
    pair_i = pairs["i"].to_numpy()

    # The candidate each user would be joined to: a hard match wins over soft ones, and only a
    # single one is chosen (several are a conflict); a user already synced is joined to its
    # hard match (the first by DistinguishedName).
    n_chosen = np.where(n_hard > 0, n_hard, n_all)
    in_chosen_set = hard | (n_hard[pair_j] == 0)
    pick = pairs[
        (synced[pair_j] & hard) | (~synced[pair_j] & in_chosen_set & (n_chosen[pair_j] == 1))
    ]
    pick = _by_name(pick, dn_lows).drop_duplicates("j")
    chosen_i = np.full(n_cloud, -1, dtype=np.int64)
    chosen_i[pick["j"].to_numpy()] = pick["i"].to_numpy()
    via = np.zeros(n_cloud, dtype=np.int64)
    via[pick["j"].to_numpy()] = pick["via"].to_numpy()

    # ---- claims: the cloud users each on-premises object would be joined to; two are a conflict
    sel = pick.loc[~synced[pick["j"].to_numpy()], ["j", "i"]]
    claims = pd.concat([pairs.loc[synced[pair_j] & hard, ["i", "j"]], sel]).drop_duplicates()
    rivals = sel.merge(claims, on="i", suffixes=("", "_other"))
    rivals = rivals[rivals["j_other"] != rivals["j"]].sort_values(["j", "j_other"])
    other_claims = _groups(
        rivals["j"].to_numpy(), [cloud_upns[k] for k in rivals["j_other"].tolist()], n_cloud
    )

    # ---- values of the chosen object another object holds, listed in this order: its UPN
    # on-premises, its addresses on-premises, its UPN in the cloud, its addresses in the cloud
    upn_owners = np.bincount(on_upn[on_upn >= 0], minlength=n_upns + 1)
    addr_owners = np.bincount(on_addr, minlength=n_addrs + 1)
    later = len(on_addrs) + 1  # sorts after every on-premises address
    rows: list[tuple[int, int, str]] = []  # (j, order, text)
    sel_j, sel_i = sel["j"].to_numpy(), sel["i"].to_numpy()
    dup_upn = upn_owners[on_upn[sel_i]] > 1  # code -1 reads the extra last count: 0
    rows += [
        (j, 0, f"userPrincipalName '{on_upns[i]}' (another on-premises object)")
        for j, i in zip(sel_j[dup_upn].tolist(), sel_i[dup_upn].tolist(), strict=True)
    ]
    on_addr_rows = pd.DataFrame(
        {
            "i": on_addr_owner,
            "k": _place(on_addr_owner),
            "addr": on_addr,
            "row": on_addr_row,
        }
    )
    sel_addr = sel.merge(on_addr_rows, on="i")
    shared = sel_addr[addr_owners[sel_addr["addr"].to_numpy()] > 1]
    rows += [
        (j, 1 + k, f"proxyAddress 'smtp:{on_addrs[row]}' (another on-premises object)")
        for j, k, row in zip(*(shared[c].tolist() for c in ("j", "k", "row")), strict=True)
    ]
    holder_j, holder_i = _equi_join(cl_upn, on_upn)
    by_upn = pd.DataFrame({"holder": holder_j, "i": holder_i}).merge(sel, on="i")
    by_upn = by_upn[by_upn["holder"] != by_upn["j"]]
    by_upn = by_upn.sort_values(["j", "holder"]).drop_duplicates("j")
    rows += [
        (j, later, f"userPrincipalName '{on_upns[i]}' (cloud user '{cloud_upns[holder]}')")
        for j, i, holder in zip(*(by_upn[c].tolist() for c in ("j", "i", "holder")), strict=True)
    ]
    by_addr = sel_addr.merge(pd.DataFrame({"holder": cl_addr_owner, "addr": cl_addr}), on="addr")
    by_addr = by_addr[by_addr["holder"] != by_addr["j"]]
    by_addr = by_addr.sort_values(["j", "k", "holder"]).drop_duplicates(["j", "k"])
    rows += [
        (j, later + 1 + k, f"proxyAddress 'smtp:{on_addrs[row]}' (cloud user '{cloud_upns[h]}')")
        for j, k, row, h in zip(
            *(by_addr[c].tolist() for c in ("j", "k", "row", "holder")), strict=True
        )
    ]
    rows.sort(key=lambda r: (r[0], r[1]))
    duplicates = _groups(
        np.array([r[0] for r in rows], dtype=np.int64), [r[2] for r in rows], n_cloud
    )

    # ---- cloud addresses the on-premises user lacks: no on-premises object has them
    missing = np.flatnonzero(addr_owners[cl_addr] == 0)
    missing_owner, missing_row = cl_addr_owner[missing], cl_addr_row[missing]

    def lists() -> _Lists:
        """The lists only the results show, made when they are asked for."""
        candidates = _groups(pair_j, list(map(dns.__getitem__, pair_i.tolist())), n_cloud)
        hard_dns = _groups(pair_j[hard], list(map(dns.__getitem__, pair_i[hard].tolist())), n_cloud)
        # the cloud addresses the on-premises user lacks in a verified domain other than
        # onmicrosoft.com
        adds = list(map(cl_addrs.__getitem__, missing_row.tolist()))
        wanted = [
            not a.endswith(".onmicrosoft.com") and d in verified
            for a, d in zip(adds, _domains(adds), strict=True)
        ]
        add = _groups(
            missing_owner[np.array(wanted, dtype=bool)],
            [f"smtp:{a}" for a in compress(adds, wanted)],
            n_cloud,
        )
        return _Lists(candidates, hard_dns, add)

    # ---- the rest, per user
    cloud_domain = _domains(cloud_upns)
    cloud_upn_free = (
        _flags(map(verified.__contains__, cloud_domain), n_cloud)
        & ~_flags(map(str.endswith, cloud_domain, repeat(".onmicrosoft.com")), n_cloud)
        & (upn_owners[cl_upn] == 0)  # code -1 reads the extra last count: 0
    )
    scope = ("," + policy.sync_scope_ou.lower()) if policy.sync_scope_ou else ""
    n_onprem = len(onprem)

    # Per cloud user, the chosen on-premises user's values (-1, none chosen: the last item).
    at = chosen_i.tolist()

    def chosen(column: Iterable[Any], default: Any) -> list[Any]:
        return list(map([*column, default].__getitem__, at))

    def chosen_flag(flags: Iterable[bool]) -> Mask:
        return np.append(_flags(flags, n_onprem), False)[chosen_i]

    return _Facts(
        cloud,
        synced,
        chosen(onprem, None),
        via,
        chosen(anchors, ""),
        n_all > 0,
        other_claims,
        duplicates,
        chosen_flag(map(verified.__contains__, _domains(on_upns))),
        _flags(map(federated.__contains__, cloud_domain), n_cloud),
        cloud_upn_free,
        chosen_flag(map(not_, map(str.endswith, dn_lows, repeat(scope))))
        if scope
        else np.zeros(n_cloud, dtype=bool),
        chosen_flag(map(held_back.__contains__, dn_lows)),
        [lists],
    )


# --------------------------------------------------------------------------- matching


def match_identities(
    inventory: Inventory, held_back: frozenset[str] = frozenset()
) -> IdentityMatch:
    """Decide every cloud user's outcome and cut the batches (deterministic).

    ``held_back`` holds lower-cased DistinguishedNames of on-premises objects
    whose attributes would break their sync (the identity checks say which):
    their users keep their outcome but stay out of the batches until fixed.
    """
    tenant = inventory.tenant or Tenant()
    policy = inventory.policy
    if policy.identity_batch_size < 1:
        raise PlanError(
            f"policy.identity_batch_size: '{policy.identity_batch_size}' is not a batch size; "
            "expected a whole number of users from 1 up"
        )
    # On-premises order never shows in the result (candidates and names are sorted where
    # listed), so only the cloud side is sorted: results come out in UPN order, then id, then
    # inventory order (two stable sorts, the second key first).
    users = inventory.cloud_users
    upns = list(map(str.lower, map(attrgetter("user_principal_name"), users)))
    ids = list(map(attrgetter("id"), users))
    order = sorted(sorted(range(len(users)), key=ids.__getitem__), key=upns.__getitem__)
    cloud = list(map(users.__getitem__, order))
    decided = _decide(
        _facts(inventory.onprem_users, cloud, tenant, policy, held_back), tenant, policy
    )
    return IdentityMatch(decided, tenant.source_anchor, policy.sync_scope_ou)


class _Text:
    """One text per row, made of parts joined by ``sep``: each part is added for the rows of a
    mask (one text for all of them, or one per row), and a row's parts keep the order added."""

    def __init__(self, n: int, sep: str) -> None:
        self.n = n
        self.sep = sep
        self.parts: list[npt.NDArray[np.object_]] = []
        self.which = np.zeros(n, dtype=np.int64)
        """Bit ``k`` of a row: part ``k`` applies to it (``_decide`` adds about 20 parts, well
        under the 63 bits)."""

    def add(self, mask: Mask, texts: str | Sequence[str]) -> None:
        if not mask.any():
            return
        column = np.empty(self.n, dtype=object)
        column[mask] = texts if isinstance(texts, str) else np.fromiter(texts, object, len(texts))
        self.which[mask] |= 1 << len(self.parts)
        self.parts.append(column)

    def texts(self, prefix: str = "") -> list[str]:
        """Every row's text after ``prefix``, empty where no part applies."""
        out = np.full(self.n, "", dtype=object)
        for key in np.unique(self.which[self.which > 0]).tolist():
            rows = np.flatnonzero(self.which == key)
            columns = [p[rows].tolist() for k, p in enumerate(self.parts) if key >> k & 1]
            joined = map(prefix.__add__, map(self.sep.join, zip(*columns, strict=True)))
            out[rows] = np.fromiter(joined, object, len(rows))
        texts: list[str] = out.tolist()
        return texts


_HELD_BACK = (
    "held back from the batches: its on-premises attributes would break sync "
    "(see the identity findings)"
)
_TWO_CLAIMS_FIX = (
    "decide which cloud user this on-premises user belongs to and change the other's "
    "address, UPN or ImmutableId"
)
_DUPLICATE = (
    "sync would fail with 'Unable to update this object because the following attributes "
    "associated with this object have values that may already be associated with another "
    "object': "
)
_TWO_MAILBOXES_FIX = (
    "keep one mailbox: move the 2010 mailbox's content into the cloud mailbox (export/import) "
    "and convert the on-premises user to a remote mailbox whose ExchangeGuid is the cloud "
    "mailbox's, or remove the cloud mailbox before matching"
)
_REMOTE_MAILBOX_FIRST = (
    "creates its on-premises remote mailbox first (identity.remote-mailbox: "
    "Enable-RemoteMailbox, the cloud addresses and X500, ExchangeGuid), before it syncs"
)


@dataclass(frozen=True, eq=False)
class _Decided:
    """Every cloud user's decision as columns, one row per cloud user (results order): the
    facts, the outcome and method, and the mask of each case ``_decide`` tells apart. The
    results, with the reasons and fixes those cases add, are made from them when asked for."""

    facts: _Facts
    tenant: Tenant
    policy: Policy
    outcome: npt.NDArray[np.object_]
    method: npt.NDArray[np.object_]
    known: Mask
    outside: Mask
    alone: Mask
    several: Mask
    one: Mask
    hard: Mask
    by_smtp: Mask
    by_upn: Mask
    claimed: Mask
    no_anchor: Mask
    duplicated: Mask
    mailboxes: Mask
    go: Mask
    remote_mailbox: Mask
    has_roles: Mask
    has_id: Mask
    soft_blocked: Mask
    preferred: Mask
    set_id: Mask
    takeover_hard: Mask
    takeover_set: Mask
    federated: Mask
    role_only: Mask
    blocked: Mask
    unverified: Mask
    take: Mask
    keep: Mask
    batchable: Mask

    @cached_property
    def results(self) -> tuple[MatchResult, ...]:
        """One result per cloud user (made once, the first time they are asked for)."""
        return tuple(_results(self))


def _decide(f: _Facts, tenant: Tenant, policy: Policy) -> _Decided:
    """Every cloud user's outcome from what the joins found.

    Decided over the columns: each case is a mask of users. ``_results`` adds each case's
    part of the reason and of the fix, made from those users' values.
    """
    n = len(f.cloud)
    takeover_blocked = tenant.block_hard_match_takeover

    def attr(objects: Sequence[Any], name: str, mask: Mask) -> list[Any]:
        return list(map(attrgetter(name), map(objects.__getitem__, np.flatnonzero(mask).tolist())))

    outcome = np.full(n, MatchOutcome.SOFT_MATCH, dtype=object)
    method = np.full(n, None, dtype=object)
    has_u = _flags(map(is_not, f.onprem, repeat(None)), n)

    # ---- already synced: joined to its hard match, if the inventory holds it
    synced = f.synced
    known = synced & has_u
    outside = synced & ~has_u
    outcome[synced] = MatchOutcome.ALREADY_SYNCED
    method[known] = MatchMethod.HARD

    # ---- no candidate, or several
    alone = ~synced & ~f.has_candidates
    outcome[alone] = MatchOutcome.NO_CANDIDATE
    several = ~synced & f.has_candidates & ~has_u
    outcome[several] = MatchOutcome.CONFLICT

    # ---- one candidate: how it will be joined
    one = ~synced & has_u
    hard = one & ((f.via & _HARD) != 0)
    by_smtp = one & ~hard & ((f.via & _SMTP) != 0)
    by_upn = one & ~hard & ~by_smtp
    method[hard] = MatchMethod.HARD
    method[by_smtp] = MatchMethod.SOFT_SMTP
    method[by_upn] = MatchMethod.SOFT_UPN

    # ---- conflicts: the data must change before anything can match
    claimed = one & _flags(f.other_claims, n)
    no_anchor = one & ~_flags(f.anchor, n)
    duplicated = one & _flags(f.duplicates, n)
    mailboxes = one & _flags(map(attrgetter("has_mailbox"), f.cloud), n)
    mailboxes[mailboxes] = _flags(attr(f.onprem, "has_mailbox", mailboxes), int(mailboxes.sum()))
    conflict = claimed | no_anchor | duplicated | mailboxes
    outcome[conflict] = MatchOutcome.CONFLICT

    # ---- the others: hard or soft, and what blocks it
    go = one & ~conflict
    rows = np.flatnonzero(go).tolist()
    remote_mailbox = np.zeros(n, dtype=bool)
    remote_mailbox[go] = _flags(
        map(needs_remote_mailbox, map(f.cloud.__getitem__, rows), map(f.onprem.__getitem__, rows)),
        len(rows),
    )
    has_roles = _flags(map(attrgetter("admin_roles"), f.cloud), n)
    soft = go & ~hard
    has_id = soft & _flags(map(attrgetter("immutable_id"), f.cloud), n)
    soft_blocked = soft & ~has_id & tenant.block_soft_match
    preferred = (
        soft
        & ~has_id
        & (not tenant.block_soft_match)
        & remote_mailbox
        & (not takeover_blocked)
        & ~f.cloud_upn_federated
        & ~has_roles
        & ~f.held_back
    )
    set_id = has_id | soft_blocked | preferred
    method[set_id] = MatchMethod.HARD
    takeover_hard = go & hard & takeover_blocked
    takeover_set = set_id & takeover_blocked
    federated = set_id & f.cloud_upn_federated
    blocked = takeover_hard | takeover_set | federated
    role_only = go & ~blocked & has_roles
    blocked |= go & has_roles

    # ---- the on-premises UPN: a suffix that is not verified
    unverified = go & ~f.onprem_upn_verified
    take = unverified & f.cloud_upn_free
    keep = unverified & ~f.cloud_upn_free

    outcome[go] = MatchOutcome.SOFT_MATCH
    outcome[go & hard] = MatchOutcome.CLEAN_HARD_MATCH
    outcome[set_id] = MatchOutcome.HARD_MATCH
    outcome[unverified] = MatchOutcome.WARNING
    outcome[go & blocked] = MatchOutcome.BLOCKED
    batchable = role_only | (go & ~blocked)
    return _Decided(
        f,
        tenant,
        policy,
        outcome,
        method,
        known,
        outside,
        alone,
        several,
        one,
        hard,
        by_smtp,
        by_upn,
        claimed,
        no_anchor,
        duplicated,
        mailboxes,
        go,
        remote_mailbox,
        has_roles,
        has_id,
        soft_blocked,
        preferred,
        set_id,
        takeover_hard,
        takeover_set,
        federated,
        role_only,
        blocked,
        unverified,
        take,
        keep,
        batchable & ~f.held_back,
    )


def _results(m: _Decided) -> list[MatchResult]:
    """Every cloud user's result: the decision with its reason and fix, each case adding its
    part (in this order) for its users, made from their values."""
    f, tenant, policy = m.facts, m.tenant, m.policy
    lists = f.lists.pop()()  # (once: _Decided.results is cached)
    n = len(f.cloud)
    anchor_name = tenant.source_anchor.value
    go, set_id, blocked = m.go, m.set_id, m.blocked

    def pick(column: Sequence[Any], mask: Mask) -> list[Any]:
        return list(map(column.__getitem__, np.flatnonzero(mask).tolist()))

    def attr(objects: Sequence[Any], name: str, mask: Mask) -> list[Any]:
        return list(map(attrgetter(name), pick(objects, mask)))

    cloud_ids = list(map(attrgetter("immutable_id"), f.cloud))
    roles = list(map(attrgetter("admin_roles"), f.cloud))
    has_u = m.known | m.one
    dn = np.full(n, "", dtype=object)
    dn[has_u] = _objects(attr(f.onprem, "distinguished_name", has_u))
    reason, fix = _Text(n, "; "), _Text(n, "; ")

    # ---- already synced
    known = m.known
    reason.add(
        known,
        [
            f"OnPremisesSyncEnabled is true and its ImmutableId is the sourceAnchor of '{d}'"
            for d in dn[known]
        ],
    )
    outside = m.outside
    reason.add(
        outside,
        [
            f"OnPremisesSyncEnabled is true; no user in the inventory has its ImmutableId "
            f"'{i}' as sourceAnchor (synced from outside the exported scope)"
            for i in pick(cloud_ids, outside)
        ],
    )

    # ---- no candidate, or several
    alone = m.alone
    texts = [_no_candidate(c, tenant) for c in pick(f.cloud, alone)]
    reason.add(alone, list(map(itemgetter(0), texts)))
    fix.add(alone, list(map(itemgetter(1), texts)))
    several = m.several
    reason.add(
        several,
        [
            "several on-premises users "
            f"{'have its ImmutableId as sourceAnchor' if hard else 'soft-match it'}: "
            f"{_join(hard or candidates)}"
            for hard, candidates in zip(
                pick(lists.hard_dns, several), pick(lists.candidates, several), strict=True
            )
        ],
    )
    fix.add(
        several,
        "keep exactly one candidate: change the primary SMTP address or UPN of the "
        "others (or remove them from sync scope), then plan again",
    )

    # ---- conflicts
    claimed = m.claimed
    reason.add(
        claimed,
        [
            f"candidate '{d}' is also the match of cloud user(s) {_join(others)}"
            for d, others in zip(dn[claimed], pick(f.other_claims, claimed), strict=True)
        ],
    )
    fix.add(claimed, _TWO_CLAIMS_FIX)
    no_anchor = m.no_anchor
    reason.add(
        no_anchor,
        [
            f"candidate '{d}' has no usable {anchor_name} ('{guid}')"
            for d, guid in zip(dn[no_anchor], attr(f.onprem, "object_guid", no_anchor), strict=True)
        ],
    )
    fix.add(no_anchor, "re-export the user; its GUID must be a GUID")
    duplicated = m.duplicated
    reason.add(duplicated, [_DUPLICATE + "; ".join(d) for d in pick(f.duplicates, duplicated)])
    fix.add(
        duplicated,
        "remove the duplicate value from one of the two objects (IdFix shows them), then plan again",
    )
    mailboxes = m.mailboxes
    reason.add(
        mailboxes,
        [
            f"'{d}' has an on-premises mailbox ({_RECIPIENT_TYPES.get(kind, kind)}) "
            "and the cloud user has an Exchange Online mailbox: two mailboxes for one person"
            for d, kind in zip(
                dn[mailboxes], attr(f.onprem, "recipient_type_details", mailboxes), strict=True
            )
        ],
    )
    fix.add(mailboxes, _TWO_MAILBOXES_FIX)

    # ---- the others: how it will be joined, and what blocks it
    hard = m.hard
    how = np.full(n, "", dtype=object)
    how[go & hard] = _objects(
        [f"ImmutableId already equals the {anchor_name} of '{d}'" for d in dn[go & hard]]
    )
    for mask, how_soft in ((m.by_smtp, MatchMethod.SOFT_SMTP), (m.by_upn, MatchMethod.SOFT_UPN)):
        rows = go & mask & ~set_id
        how[rows] = _objects([f"{how_soft.value} with '{d}'" for d in dn[rows]])
    needs_hard = np.full(n, "", dtype=object)
    needs_hard[m.has_id] = _objects(
        [
            f"the cloud user already has ImmutableId '{i}', so soft match will not join it"
            for i in pick(cloud_ids, m.has_id)
        ]
    )
    needs_hard[m.soft_blocked] = "the tenant has BlockSoftMatchEnabled"
    needs_hard[m.preferred] = (
        "hard match preferred (a failed soft match would create a second cloud user)"
    )
    how[set_id] = _objects(
        [
            f"{why}: set ImmutableId to '{a}' ({anchor_name} of '{d}')"
            for why, a, d in zip(
                needs_hard[set_id], pick(f.anchor, set_id), dn[set_id], strict=True
            )
        ]
    )
    reason.add(
        m.takeover_hard,
        "the tenant has BlockCloudObjectTakeoverThroughHardMatchEnabled: the hard "
        "match would fail with InvalidHardMatch",
    )
    fix.add(
        m.takeover_hard,
        "turn BlockCloudObjectTakeoverThroughHardMatchEnabled off with "
        "Update-MgDirectoryOnPremiseSynchronization for the migration, on again after",
    )
    reason.add(
        m.takeover_set,
        "soft match is unavailable and the tenant has "
        "BlockCloudObjectTakeoverThroughHardMatchEnabled, so hard match fails too",
    )
    fix.add(
        m.takeover_set,
        "turn BlockSoftMatchEnabled or BlockCloudObjectTakeoverThroughHardMatchEnabled "
        "off with Update-MgDirectoryOnPremiseSynchronization for the migration",
    )
    federated = m.federated
    federated_upns = attr(f.cloud, "user_principal_name", federated)
    reason.add(
        federated,
        [
            f"ImmutableId cannot be set while the cloud UPN is in the federated domain '{d}'"
            for d in _domains(federated_upns)
        ],
    )
    fix.add(
        federated,
        [
            f"change the cloud UPN to '{_onmicrosoft_upn(upn, tenant)}' with Update-MgUser "
            "-UserPrincipalName, plan again, and change it back after the match"
            for upn in federated_upns
        ],
    )
    with_roles = go & m.has_roles
    reason.add(
        with_roles,
        [
            f"the cloud user holds admin role(s) {_join(r)}, which block soft and hard match"
            for r in pick(roles, with_roles)
        ],
    )
    fix.add(
        with_roles,
        "remove the role(s) before the user syncs and restore them after the match is verified "
        "(manual steps of the batch)",
    )
    reason.add(go & blocked, ["once unblocked: " + h for h in how[go & blocked]])
    reason.add(go & ~blocked, how[go & ~blocked].tolist())

    # ---- the on-premises UPN: a suffix that is not verified
    take = m.take
    target_upn = np.full(n, "", dtype=object)
    target_upn[take] = _objects(attr(f.cloud, "user_principal_name", take))
    reason.add(
        take,
        [
            f"on-premises UPN suffix '{d}' is not a verified domain: the cloud UPN would "
            f"become the onmicrosoft.com one; the prepare step sets the on-premises UPN to '{t}'"
            for d, t in zip(
                _domains(attr(f.onprem, "user_principal_name", take)), target_upn[take], strict=True
            )
        ],
    )
    keep_upns = attr(f.onprem, "user_principal_name", m.keep)
    reason.add(
        m.keep,
        [
            f"on-premises UPN suffix '{d}' is not a verified domain: matching works but "
            f"the cloud UPN becomes '{_onmicrosoft_upn(upn, tenant)}'"
            for d, upn in zip(_domains(keep_upns), keep_upns, strict=True)
        ],
    )

    # ---- what the prepare step changes on-premises
    actions = _Text(n, ", ")
    adds = go & _flags(lists.add, n)
    actions.add(
        adds,
        [
            f"adds {_join(a)} on-premises so the cloud addresses survive the match"
            for a in pick(lists.add, adds)
        ],
    )
    actions.add(go & f.move, f"moves the user into '{policy.sync_scope_ou}'")
    actions.add(set_id, "sets the cloud ImmutableId first")
    actions.add(go & m.remote_mailbox & ~f.held_back, _REMOTE_MAILBOX_FIRST)
    with_actions = actions.which > 0
    plan_text = actions.texts("the batch ")
    planned = with_actions & (m.role_only | (go & ~blocked))
    fix.add(planned, pick(plan_text, planned))
    fix.add(
        m.unverified & ~blocked & ~with_actions,
        "none needed to match; fix the UPN suffix to keep a verified UPN",
    )
    reason.add((m.role_only | (go & ~blocked)) & f.held_back, _HELD_BACK)

    # ---- the results
    candidates = list(lists.candidates)
    for row in np.flatnonzero(outside).tolist():
        candidates[row] = ()  # synced from outside the inventory: none listed
    source_anchor = np.full(n, "", dtype=object)
    source_anchor[f.synced] = _objects(pick(cloud_ids, f.synced))
    source_anchor[m.one] = _objects(pick(f.anchor, m.one))
    add = [a if g else () for a, g in zip(lists.add, go.tolist(), strict=True)]
    columns = (
        f.cloud,
        m.outcome.tolist(),
        reason.texts(),
        fix.texts(),
        m.method.tolist(),
        f.onprem,
        candidates,
        source_anchor.tolist(),
        set_id.tolist(),
        target_upn.tolist(),
        add,
        (go & f.move).tolist(),
        m.batchable.tolist(),
    )
    # MatchResult._make for each row, called in C
    return cast(
        list[MatchResult], list(map(tuple.__new__, repeat(MatchResult), zip(*columns, strict=True)))
    )


def _no_candidate(c: CloudUser, tenant: Tenant) -> tuple[str, str]:
    """The reason and the fix for a cloud user no on-premises user matches."""
    smtp = c.primary_smtp or c.user_principal_name.lower()
    if c.has_mailbox:
        guid = c.exchange_guid or "<ExchangeGuid of the cloud mailbox>"
        fix = (
            f"create the on-premises user (UPN '{c.user_principal_name}') in the sync scope OU with a remote "
            f"mailbox: New-RemoteMailbox (or Enable-RemoteMailbox) with primary SMTP address '{smtp}' and "
            f"-RemoteRoutingAddress '{smtp.partition('@')[0]}@{remote_routing_domain(tenant)}', then "
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
    return reason, fix


__all__ = [
    "IdentityBatch",
    "IdentityMatch",
    "MatchMethod",
    "MatchOutcome",
    "MatchResult",
    "match_identities",
    "onprem_source_anchor",
]
