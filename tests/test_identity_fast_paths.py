"""The fast paths of identity matching and checks agree with slow, obviously-correct references.

The 300,000-user benchmark needs bulk shortcuts (whole-value regexes, one-pass GUID
conversion, inlined hash lookups); these tests pin that the shortcuts change no result on
random small inventories full of the awkward values (case, whitespace, non-ASCII, X500,
non-routable domains, duplicates, non-canonical GUIDs).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.checks import identity as checks
from migrator.model import (
    CloudUser,
    Finding,
    Inventory,
    OnPremUser,
    Policy,
    SourceAnchor,
    Tenant,
)
from migrator.plan.identity import (
    MatchMethod,
    MatchOutcome,
    MatchResult,
    _match,
    _result,
    _source_anchors,
    match_identities,
    onprem_source_anchor,
)

# Plain values dominate (as in real directories) so that the fast paths run often; the
# awkward ones make sure each rule's slow path runs as well.
LOCALS = st.sampled_from(
    ["ann", "Bob", "c.d", "K", "ann", "Bob", "jürgen", "a b", "x(y)", ".e", "f" * 63, "f" * 64, "Σ"]
)
DOMAINS = st.sampled_from(
    [
        "contoso.com",
        "Contoso.COM",
        "fabrikam.com",
        "corp.local",
        "x.LAN",
        "a.localdomain",
        "d",
        "d" * 43 + ".com",
        "d" * 44 + ".com",
    ]
)
ADDRESSES = st.builds(lambda local, domain: f"{local}@{domain}", LOCALS, DOMAINS)
PROXIES = st.one_of(
    st.builds(
        lambda prefix, address: prefix + address,
        st.sampled_from(["SMTP:", "smtp:", "smtp:", "Smtp:", "SMTP: ", ""]),
        ADDRESSES,
    ),
    st.sampled_from(
        [
            "X500:/o=Contoso/ou=First Group (FYDIBOHF23SPDLT)/cn=ann",
            "SMTP:" + "a" * 245 + "@b.com",
            "smtp:" + "a" * 247 + "@b.com",
        ]
    ),
)
PROXY_LISTS = st.lists(PROXIES, max_size=3).map(tuple)
# One primary and some secondaries: what the fast path takes, unless a value is awkward.
NEARLY_PLAIN_PROXY_LISTS = st.builds(
    lambda primary, secondaries: ("SMTP:" + primary, *("smtp:" + s for s in secondaries)),
    ADDRESSES,
    st.lists(
        st.one_of(ADDRESSES, st.sampled_from(["a" * 239 + "@contoso.com", "a" * 240 + "@b.com"])),
        max_size=2,
    ),
)
GUIDS = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.uuids().map(lambda u: "{" + str(u) + "}"),
    st.sampled_from(["", "not-a-guid", " 3ab39606-c642-489b-84b6-58c038d3ef39"]),
)


@st.composite
def onprem_users(draw: st.DrawFn, most: int = 8) -> list[OnPremUser]:
    users = []
    for n in range(draw(st.integers(0, most))):
        users.append(
            OnPremUser(
                distinguished_name=draw(st.sampled_from([f"CN=u{n},DC=contoso,DC=com", ""])),
                sam_account_name=draw(st.sampled_from([f"u{n}", "a" * 21, "b*"])),
                object_guid=draw(GUIDS),
                user_principal_name=draw(st.one_of(ADDRESSES, st.sampled_from(["", " ann@x.com"]))),
                mail=draw(st.one_of(ADDRESSES, st.just(""), st.just("m" * 257))),
                proxy_addresses=draw(st.one_of(PROXY_LISTS, NEARLY_PLAIN_PROXY_LISTS)),
                consistency_guid=draw(st.one_of(st.just(""), GUIDS)),
                recipient_type_details=draw(st.sampled_from(["", "UserMailbox", "1"])),
            )
        )
    return users


def _slow_check(users: list[OnPremUser]) -> list[Finding]:
    """Every user through the per-object rules: the whole-value fast path switched off."""
    out: list[Finding] = []
    keys: list[str] = []
    key_wheres: list[str] = []
    shown: list[str] = []
    wheres = [u.distinguished_name or u.sam_account_name or u.object_guid for u in users]
    for u, where in zip(users, wheres, strict=True):
        checks._check_user(
            u, where, u.user_principal_name.strip(), u.mail.strip(), out, keys, key_wheres, shown
        )
    out.extend(
        checks._dup_findings(
            "identity.duplicate-proxy-address", "proxyAddress", keys, key_wheres, shown
        )
    )
    for code, attribute, values in (
        ("identity.duplicate-upn", "userPrincipalName", [u.user_principal_name for u in users]),
        ("identity.duplicate-mail", "mail", [u.mail for u in users]),
    ):
        held = [(v.strip(), w) for v, w in zip(values, wheres, strict=True) if v.strip()]
        out.extend(
            checks._dup_findings(
                code,
                attribute,
                [v.lower() for v, _ in held],
                [w for _, w in held],
                [v for v, _ in held],
            )
        )
    return sorted(out, key=Finding.sort_key)


@settings(max_examples=150, deadline=None)
@given(onprem_users())
def test_checks_fast_path_matches_the_per_object_rules(users: list[OnPremUser]) -> None:
    assert sorted(checks._check(users), key=Finding.sort_key) == _slow_check(users)


@settings(max_examples=100, deadline=None)
@given(onprem_users(), st.sampled_from(list(SourceAnchor)))
def test_bulk_source_anchors_match_one_by_one(
    users: list[OnPremUser], anchor: SourceAnchor
) -> None:
    assert _source_anchors(users, anchor) == [onprem_source_anchor(u, anchor) for u in users]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.uuids().map(str), max_size=20), st.sampled_from(list(SourceAnchor)))
def test_bulk_source_anchors_of_canonical_guids(guids: list[str], anchor: SourceAnchor) -> None:
    users = [OnPremUser(f"CN=u{n}", f"u{n}", g, consistency_guid=g) for n, g in enumerate(guids)]
    assert _source_anchors(users, anchor) == [onprem_source_anchor(u, anchor) for u in users]


@st.composite
def inventories(draw: st.DrawFn) -> Inventory:
    onprem = draw(onprem_users())
    anchors = [onprem_source_anchor(u, SourceAnchor.OBJECT_GUID) for u in onprem]
    cloud = []
    for n in range(draw(st.integers(0, 8))):
        cloud.append(
            CloudUser(
                id=f"id{n}",
                user_principal_name=draw(ADDRESSES),
                mail=draw(st.one_of(ADDRESSES, st.just(""))),
                proxy_addresses=draw(st.one_of(PROXY_LISTS, NEARLY_PLAIN_PROXY_LISTS)),
                immutable_id=draw(st.sampled_from(["", "bm90LWEtZ3VpZA==", *anchors])),
                on_premises_sync_enabled=draw(st.booleans()),
                has_mailbox=draw(st.booleans()),
            )
        )
    tenant = Tenant(
        "contoso.onmicrosoft.com",
        ("contoso.com",),
        soft_match_upn=draw(st.booleans()),
        source_anchor=SourceAnchor.OBJECT_GUID,
    )
    return Inventory("T", onprem_users=tuple(onprem), cloud_users=tuple(cloud), tenant=tenant)


@settings(max_examples=150, deadline=None)
@given(inventories())
def test_candidates_match_a_scan_of_every_onprem_user(inv: Inventory) -> None:
    """Hash-join candidates equal a per-user scan of the other side (the definition)."""
    assert inv.tenant is not None
    result = match_identities(inv)
    for r in result.results:
        c = r.cloud
        expected = []
        for u in inv.onprem_users:
            anchor = onprem_source_anchor(u, inv.tenant.source_anchor)
            upn = u.user_principal_name.strip().lower()
            if (
                (c.immutable_id and anchor == c.immutable_id)
                or (c.primary_smtp and u.primary_smtp == c.primary_smtp)
                or (
                    inv.tenant.soft_match_upn
                    and upn
                    and upn == c.user_principal_name.strip().lower()
                )
            ):
                expected.append(u.distinguished_name)
        hard = any(
            c.immutable_id and onprem_source_anchor(u, inv.tenant.source_anchor) == c.immutable_id
            for u in inv.onprem_users
        )
        if c.on_premises_sync_enabled and not hard:
            expected = []  # synced from outside the inventory: no candidate is listed
        assert list(r.candidates) == sorted(expected)


@st.composite
def tenants_and_inventories(draw: st.DrawFn) -> Inventory:
    """Inventories whose two sides share addresses, UPNs and anchors, under every tenant flag."""
    # Mostly distinct, plain on-premises users (the clean cases), plus some awkward ones.
    plain_domains = st.sampled_from(["contoso.com", "contoso.com", "Contoso.COM", "corp.local"])
    onprem = [
        OnPremUser(
            distinguished_name=f"CN=p{n},OU=Synced,DC=contoso,DC=com",
            sam_account_name=f"p{n}",
            object_guid=draw(st.one_of(st.uuids().map(str), GUIDS)),
            user_principal_name=f"p{n}@" + draw(plain_domains),
            mail=f"p{n}@contoso.com",
            proxy_addresses=(
                f"SMTP:p{n}@" + draw(plain_domains),
                *draw(
                    st.lists(st.one_of(ADDRESSES, st.just(f"x{n}@contoso.com")), max_size=2).map(
                        lambda addresses: tuple("smtp:" + a for a in addresses)
                    )
                ),
            ),
            recipient_type_details=draw(st.sampled_from(["", "", "", "UserMailbox"])),
        )
        for n in range(draw(st.integers(0, 6)))
    ]
    onprem += draw(onprem_users(most=3))
    anchor = draw(st.sampled_from(list(SourceAnchor)))
    anchors = [onprem_source_anchor(u, anchor) for u in onprem]
    onprem_values = [u.user_principal_name for u in onprem] + [
        p for u in onprem for p in u.proxy_addresses
    ]
    cloud = []
    # Mostly the twin of an on-premises user (its UPN and addresses, clean flags), so that the
    # clean cases the fast path takes are common; the rest are random.
    for n, u in enumerate(onprem):
        if draw(st.integers(0, 3)) == 0:
            continue
        cloud.append(
            CloudUser(
                id=f"tw{n}",
                user_principal_name=draw(
                    st.sampled_from(
                        [u.user_principal_name.strip() or f"t{n}@contoso.com", f"t{n}@fed.com"]
                    )
                ),
                mail=u.mail,
                proxy_addresses=draw(
                    st.sampled_from(
                        [
                            u.proxy_addresses,
                            (*u.proxy_addresses, f"smtp:t{n}@contoso.com"),
                            (*u.proxy_addresses, f"smtp:t{n}@contoso.onmicrosoft.com"),
                            (*u.proxy_addresses, f"smtp:t{n}@fabrikam.com", "smtp:t@contoso.com"),
                        ]
                    )
                ),
                immutable_id=draw(st.sampled_from(["", "", "", anchors[n], "bm90LWEtZ3VpZA=="])),
                on_premises_sync_enabled=draw(st.sampled_from([False, False, False, True])),
                admin_roles=draw(st.sampled_from([(), (), (), ("Global Administrator",)])),
                has_mailbox=draw(st.sampled_from([False, False, True])),
            )
        )
    for n in range(draw(st.integers(0, 2))):
        cloud.append(
            CloudUser(
                id=f"id{n}",
                user_principal_name=draw(
                    st.one_of(
                        ADDRESSES, st.sampled_from(["k@contoso.onmicrosoft.com", "f@fed.com"])
                    )
                ),
                mail=draw(st.one_of(ADDRESSES, st.just(""))),
                proxy_addresses=draw(
                    st.one_of(
                        PROXY_LISTS,
                        NEARLY_PLAIN_PROXY_LISTS,
                        st.lists(
                            st.sampled_from(onprem_values or ["SMTP:a@b.com"]), max_size=3
                        ).map(lambda ps: tuple(p if ":" in p else "SMTP:" + p for p in ps)),
                    )
                ),
                immutable_id=draw(st.sampled_from(["", "bm90LWEtZ3VpZA==", *anchors])),
                on_premises_sync_enabled=draw(st.booleans()),
                admin_roles=draw(st.sampled_from([(), ("Global Administrator",)])),
                has_mailbox=draw(st.booleans()),
            )
        )
    tenant = Tenant(
        "contoso.onmicrosoft.com",
        draw(st.sampled_from([("contoso.com",), ("contoso.com", "fed.com", "fabrikam.com")])),
        federated_domains=draw(st.sampled_from([(), ("fed.com",)])),
        soft_match_upn=draw(st.booleans()),
        block_soft_match=draw(st.sampled_from([False, False, True])),
        block_hard_match_takeover=draw(st.sampled_from([False, False, True])),
        source_anchor=anchor,
    )
    policy = Policy(sync_scope_ou=draw(st.sampled_from(["", "DC=contoso,DC=com", "OU=Synced"])))
    return Inventory(
        "T", onprem_users=tuple(onprem), cloud_users=tuple(cloud), tenant=tenant, policy=policy
    )


@settings(max_examples=300, deadline=None)
@given(tenants_and_inventories())
def test_decide_fast_path_matches_the_general_path(inv: Inventory) -> None:
    """The clean single-candidate fast path gives exactly what ``_decide`` gives."""
    fast = _match(inv)
    general = _match(inv, fast=False)
    assert fast.results == general.results
    assert [(r.reason, r.fix) for r in fast.results] == [(r.reason, r.fix) for r in general.results]
    assert fast.batches == general.batches


def test_fast_result_constructor_equals_the_dataclass_one() -> None:
    c = CloudUser("id1", "a@contoso.com")
    u = OnPremUser("CN=a,DC=contoso,DC=com", "a", "3ab39606-c642-489b-84b6-58c038d3ef39")
    values = (
        c,
        MatchOutcome.SOFT_MATCH,
        "why",
        "fix",
        MatchMethod.SOFT_SMTP,
        u,
        ("CN=a,DC=contoso,DC=com",),
        "BpY5OkLGm0iEtljAONPvOQ==",
        True,
        "b@contoso.com",
        ("smtp:b@contoso.com",),
        True,
        True,
    )
    fast, slow = _result(*values), MatchResult(*values)
    assert type(fast) is MatchResult
    assert fast == slow
    assert hash(fast) == hash(slow)
    assert repr(fast) == repr(slow)
