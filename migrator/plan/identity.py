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
which of its values another object holds; ``_decide`` then turns each cloud
user's row of facts into the outcome and the reason and fix text.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, compress, count, product, repeat
from operator import attrgetter, itemgetter, methodcaller
from typing import Any, NamedTuple

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


def _codes(*columns: Sequence[str]) -> tuple[list[Codes], int]:
    """Every column's values as integer codes shared by all the columns (equal values, equal
    codes), and how many codes there are; the empty value (nothing to match on) is -1.

    Joins and counts then work on integers, each string hashed once.
    """
    values = np.fromiter(chain.from_iterable(columns), dtype=object, count=sum(map(len, columns)))
    codes, uniques = pd.factorize(values)
    codes = codes.astype(np.int64)
    codes[np.isin(codes, np.flatnonzero(uniques == ""))] = -1
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
    """What the joins found for one cloud user: everything ``_decide`` needs."""

    cloud: CloudUser
    onprem: OnPremUser | None
    """The candidate it would be joined to: the single one chosen, or (already synced) the
    first by DistinguishedName whose sourceAnchor is its ImmutableId."""
    via: int
    """``_HARD | _SMTP | _UPN`` bits of that candidate."""
    anchor: str
    """That candidate's sourceAnchor (ImmutableId form), empty where its GUID is unusable."""
    candidates: tuple[str, ...]
    """DistinguishedNames of every candidate, sorted."""
    hard_dns: tuple[str, ...]
    """DistinguishedNames of the candidates whose sourceAnchor is its ImmutableId, sorted."""
    other_claims: tuple[str, ...]
    """UPNs of the other cloud users the chosen candidate would be joined to."""
    duplicates: tuple[str, ...]
    """The chosen candidate's values another object holds (what sync would refuse)."""
    onprem_upn_verified: bool
    """Whether the chosen candidate's UPN suffix is a verified domain."""
    cloud_upn_federated: bool
    """Whether the cloud UPN is in a federated domain."""
    cloud_upn_free: bool
    """Whether the on-premises user can take the cloud UPN (verified, not onmicrosoft.com,
    no on-premises user holds it)."""
    add: tuple[str, ...]
    """Cloud addresses the AD runbook adds on-premises (``smtp:...``)."""
    move: bool
    """Whether the chosen candidate is outside the sync scope OU."""
    held_back: bool
    """Whether the chosen candidate's attributes would break its sync (identity findings)."""


def _facts(
    onprem: Sequence[OnPremUser],
    cloud: Sequence[CloudUser],
    tenant: Tenant,
    policy: Policy,
    held_back: frozenset[str],
) -> Iterable[_Facts]:
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
    synced = np.fromiter((c.on_premises_sync_enabled for c in cloud), dtype=bool, count=n_cloud)
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
    candidates = _groups(pair_j, list(map(dns.__getitem__, pairs["i"].tolist())), n_cloud)
    hard_i = pairs["i"].to_numpy()[hard].tolist()
    hard_dns = _groups(pair_j[hard], list(map(dns.__getitem__, hard_i)), n_cloud)

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

    # ---- cloud addresses the on-premises user lacks: no on-premises object has them, in a
    # verified domain other than onmicrosoft.com
    missing = np.flatnonzero(addr_owners[cl_addr] == 0)
    adds = list(map(cl_addrs.__getitem__, cl_addr_row[missing].tolist()))
    wanted = [
        not a.endswith(".onmicrosoft.com") and d in verified
        for a, d in zip(adds, _domains(adds), strict=True)
    ]
    add = _groups(
        cl_addr_owner[missing[np.array(wanted, dtype=bool)]],
        [f"smtp:{a}" for a in compress(adds, wanted)],
        n_cloud,
    )

    # ---- the rest, per user
    cloud_domain = _domains(cloud_upns)
    upn_taken = (upn_owners[cl_upn] > 0).tolist()
    cloud_upn_free = [
        d in verified and not d.endswith(".onmicrosoft.com") and not taken
        for d, taken in zip(cloud_domain, upn_taken, strict=True)
    ]
    scope = ("," + policy.sync_scope_ou.lower()) if policy.sync_scope_ou else ""

    # Per cloud user, the chosen on-premises user's values (-1, none chosen: the last item).
    at = chosen_i.tolist()

    def chosen(column: Iterable[Any], default: Any) -> list[Any]:
        return list(map([*column, default].__getitem__, at))

    return map(
        _Facts,
        cloud,
        chosen(onprem, None),
        via.tolist(),
        chosen(anchors, ""),
        candidates,
        hard_dns,
        other_claims,
        duplicates,
        chosen(map(verified.__contains__, _domains(on_upns)), False),
        list(map(federated.__contains__, cloud_domain)),
        cloud_upn_free,
        add,
        chosen((bool(scope) and not dn.endswith(scope) for dn in dn_lows), False),
        chosen((dn in held_back for dn in dn_lows), False),
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
    # listed), so only the cloud side is sorted: results come out in UPN order.
    users = inventory.cloud_users
    upns = map(str.lower, map(attrgetter("user_principal_name"), users))
    keys = sorted(zip(upns, map(attrgetter("id"), users), count()))  # the count breaks ties
    cloud = list(map(users.__getitem__, map(itemgetter(2), keys)))
    facts = _facts(inventory.onprem_users, cloud, tenant, policy, held_back)
    results = [_decide(f, tenant, policy) for f in facts]
    batchable = [r for r in results if r.batchable]
    size = policy.identity_batch_size
    batches = tuple(
        IdentityBatch(n + 1, tuple(batchable[k : k + size]))
        for n, k in enumerate(range(0, len(batchable), size))
    )
    return IdentityMatch(tuple(results), batches, tenant.source_anchor, policy.sync_scope_ou)


_HELD_BACK = (
    "; held back from the batches: its on-premises attributes would break sync "
    "(see the identity findings)"
)


def _decide(f: _Facts, tenant: Tenant, policy: Policy) -> MatchResult:
    """The outcome, reason and fix of one cloud user from what the joins found."""
    c, u = f.cloud, f.onprem
    if c.on_premises_sync_enabled:
        if u is not None:
            return MatchResult(
                cloud=c,
                outcome=MatchOutcome.ALREADY_SYNCED,
                reason="OnPremisesSyncEnabled is true and its ImmutableId is the sourceAnchor "
                f"of '{u.distinguished_name}'",
                method=MatchMethod.HARD,
                onprem=u,
                candidates=f.candidates,
                source_anchor=c.immutable_id,
            )
        return MatchResult(
            cloud=c,
            outcome=MatchOutcome.ALREADY_SYNCED,
            reason=f"OnPremisesSyncEnabled is true; no user in the inventory has its ImmutableId "
            f"'{c.immutable_id}' as sourceAnchor (synced from outside the exported scope)",
            source_anchor=c.immutable_id,
        )
    if not f.candidates:
        return _no_candidate(c, tenant)
    if u is None:
        how = "have its ImmutableId as sourceAnchor" if f.hard_dns else "soft-match it"
        return MatchResult(
            cloud=c,
            outcome=MatchOutcome.CONFLICT,
            candidates=f.candidates,
            reason=f"several on-premises users {how}: {_join(f.hard_dns or f.candidates)}",
            fix="keep exactly one candidate: change the primary SMTP address or UPN of the "
            "others (or remove them from sync scope), then plan again",
        )
    dn = u.distinguished_name
    anchor_name = tenant.source_anchor.value
    if f.via & _HARD:
        method = MatchMethod.HARD
    elif f.via & _SMTP:
        method = MatchMethod.SOFT_SMTP
    else:
        method = MatchMethod.SOFT_UPN

    # ---- conflicts: the data must change before anything can match
    conflicts: list[str] = []
    fixes: list[str] = []
    if f.other_claims:
        conflicts.append(
            f"candidate '{dn}' is also the match of cloud user(s) {_join(f.other_claims)}"
        )
        fixes.append(
            "decide which cloud user this on-premises user belongs to and change the other's "
            "address, UPN or ImmutableId"
        )
    if not f.anchor:
        conflicts.append(f"candidate '{dn}' has no usable {anchor_name} ('{u.object_guid}')")
        fixes.append("re-export the user; its GUID must be a GUID")
    if f.duplicates:
        conflicts.append(
            "sync would fail with 'Unable to update this object because the following attributes "
            "associated with this object have values that may already be associated with another "
            "object': " + "; ".join(f.duplicates)
        )
        fixes.append(
            "remove the duplicate value from one of the two objects (IdFix shows them), then plan again"
        )
    if c.has_mailbox and u.has_mailbox:
        kind = _RECIPIENT_TYPES.get(u.recipient_type_details, u.recipient_type_details)
        conflicts.append(
            f"'{dn}' has an on-premises mailbox ({kind}) "
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
            source_anchor=f.anchor,
            onprem=u,
            candidates=f.candidates,
        )

    # ---- hard or soft, and what blocks it
    remote_mailbox = needs_remote_mailbox(c, u)
    blocks: list[str] = []
    block_fixes: list[str] = []
    needs_hard = ""
    if method is MatchMethod.HARD:
        how = f"ImmutableId already equals the {anchor_name} of '{dn}'"
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
        how = f"{method.value} with '{dn}'"
        if c.immutable_id:
            needs_hard = f"the cloud user already has ImmutableId '{c.immutable_id}', so soft match will not join it"
        elif tenant.block_soft_match:
            needs_hard = "the tenant has BlockSoftMatchEnabled"
        elif (
            remote_mailbox
            and not tenant.block_hard_match_takeover
            and not f.cloud_upn_federated
            and not c.admin_roles
            and not f.held_back
        ):
            # Hard match preferred where it can work: a failed soft match would create a second
            # cloud user (and, licensed, a second mailbox); the ImmutableId joins exactly this pair.
            needs_hard = (
                "hard match preferred (a failed soft match would create a second cloud user)"
            )
    set_id = bool(needs_hard)
    if set_id:
        # The plan sets the ImmutableId: Entra Connect joins the two by hard match.
        method = MatchMethod.HARD
        how = f"{needs_hard}: set ImmutableId to '{f.anchor}' ({anchor_name} of '{dn}')"
        if tenant.block_hard_match_takeover:
            blocks.append(
                "soft match is unavailable and the tenant has "
                "BlockCloudObjectTakeoverThroughHardMatchEnabled, so hard match fails too"
            )
            block_fixes.append(
                "turn BlockSoftMatchEnabled or BlockCloudObjectTakeoverThroughHardMatchEnabled "
                "off with Update-MgDirectoryOnPremiseSynchronization for the migration"
            )
        if f.cloud_upn_federated:
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
    if not f.onprem_upn_verified:
        upn_domain = _domain(u.user_principal_name)
        if f.cloud_upn_free:
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
    actions = []
    if f.add:
        actions.append(f"adds {_join(f.add)} on-premises so the cloud addresses survive the match")
    if f.move:
        actions.append(f"moves the user into '{policy.sync_scope_ou}'")
    if set_id:
        actions.append("sets the cloud ImmutableId first")
    if remote_mailbox and not f.held_back:
        actions.append(
            "creates its on-premises remote mailbox first (identity.remote-mailbox: "
            "Enable-RemoteMailbox, the cloud addresses and X500, ExchangeGuid), before it syncs"
        )
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
        if set_id:
            outcome = MatchOutcome.HARD_MATCH
        elif method is MatchMethod.HARD:
            outcome = MatchOutcome.CLEAN_HARD_MATCH
        else:
            outcome = MatchOutcome.SOFT_MATCH
        reason, fix, batchable = how, plan_text, True
    if batchable and f.held_back:
        batchable = False
        reason += _HELD_BACK
    return MatchResult(
        cloud=c,
        outcome=outcome,
        reason=reason,
        fix=fix,
        method=method,
        onprem=u,
        candidates=f.candidates,
        source_anchor=f.anchor,
        set_immutable_id=set_id,
        target_upn=target_upn,
        add_proxy_addresses=f.add,
        move_to_ou=f.move,
        batchable=batchable,
    )


def _no_candidate(c: CloudUser, tenant: Tenant) -> MatchResult:
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
    return MatchResult(cloud=c, outcome=MatchOutcome.NO_CANDIDATE, reason=reason, fix=fix)


__all__ = [
    "IdentityBatch",
    "IdentityMatch",
    "MatchMethod",
    "MatchOutcome",
    "MatchResult",
    "match_identities",
    "onprem_source_anchor",
]
