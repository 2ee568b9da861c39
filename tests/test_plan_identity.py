"""Identity matching: one small case per outcome, the sourceAnchor rules and batching."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.errors import PlanError
from migrator.model import CloudUser, Inventory, OnPremUser, Policy, SourceAnchor, Tenant
from migrator.plan.identity import (
    MatchMethod,
    MatchOutcome,
    MatchResult,
    match_identities,
    onprem_source_anchor,
)
from migrator.plan.immutable_id import immutable_id_from_guid

OU = "OU=Synced,DC=contoso,DC=com"
TENANT = Tenant(
    initial_domain="contoso.onmicrosoft.com",
    verified_domains=("contoso.com", "fabrikam.com"),
    federated_domains=("fabrikam.com",),
)


def guid(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-{n:012x}"


def onprem(
    name: str,
    n: int,
    *,
    upn: str = "",
    primary: str = "",
    extra: tuple[str, ...] = (),
    **kw: object,
) -> OnPremUser:
    primary = primary or f"{name}@contoso.com"
    return OnPremUser(
        distinguished_name=f"CN={name},{OU}",
        sam_account_name=name,
        object_guid=guid(n),
        user_principal_name=upn or f"{name}@contoso.com",
        mail=primary,
        proxy_addresses=(f"SMTP:{primary}", *extra),
        **kw,  # type: ignore[arg-type]
    )


def cloud(name: str, *, upn: str = "", primary: str = "", **kw: object) -> CloudUser:
    primary = primary or f"{name}@contoso.com"
    return CloudUser(
        id=f"id-{name}",
        user_principal_name=upn or f"{name}@contoso.com",
        mail=primary,
        proxy_addresses=(f"SMTP:{primary}",),
        **kw,  # type: ignore[arg-type]
    )


def run(
    on: list[OnPremUser], cl: list[CloudUser], tenant: Tenant = TENANT, **policy: object
) -> dict[str, MatchResult]:
    inv = Inventory(
        "Contoso",
        onprem_users=tuple(on),
        cloud_users=tuple(cl),
        tenant=tenant,
        policy=Policy(sync_scope_ou=OU, **policy),  # type: ignore[arg-type]
    )
    return {r.cloud_id: r for r in match_identities(inv).results}


# --------------------------------------------------------------------------- outcomes


def test_already_synced() -> None:
    u = onprem("ann", 1)
    r = run(
        [u],
        [cloud("ann", immutable_id=immutable_id_from_guid(guid(1)), on_premises_sync_enabled=True)],
    )["id-ann"]
    assert r.outcome is MatchOutcome.ALREADY_SYNCED
    assert r.onprem_dn == u.distinguished_name
    assert not r.batchable


def test_already_synced_from_outside_the_inventory() -> None:
    r = run(
        [], [cloud("ann", immutable_id="BpazOkLGm0iEtljAONPvOQ==", on_premises_sync_enabled=True)]
    )["id-ann"]
    assert r.outcome is MatchOutcome.ALREADY_SYNCED
    assert "outside the exported scope" in r.reason


def test_clean_soft_match_on_primary_smtp() -> None:
    r = run([onprem("ann", 1, upn="a.nn@contoso.com")], [cloud("ann")])["id-ann"]
    assert r.outcome is MatchOutcome.SOFT_MATCH
    assert r.method is MatchMethod.SOFT_SMTP
    assert r.source_anchor == immutable_id_from_guid(guid(1))
    assert not r.set_immutable_id and r.batchable and not r.move_to_ou
    assert r.reason == f"soft match on primary SMTP with 'CN=ann,{OU}'"


def test_soft_match_on_upn_only_when_the_tenant_allows_it() -> None:
    on = [onprem("ann", 1, primary="ann.other@contoso.com")]
    r = run(on, [cloud("ann")])["id-ann"]
    assert r.outcome is MatchOutcome.SOFT_MATCH and r.method is MatchMethod.SOFT_UPN
    r = run(on, [cloud("ann")], tenant=replace(TENANT, soft_match_upn=False))["id-ann"]
    assert r.outcome is MatchOutcome.NO_CANDIDATE
    assert r.reason == "no on-premises user has the primary SMTP address 'ann@contoso.com'"


def test_hard_match_needed_when_soft_match_is_blocked() -> None:
    u = onprem("ann", 1, consistency_guid=guid(99))
    r = run([u], [cloud("ann")], tenant=replace(TENANT, block_soft_match=True))["id-ann"]
    assert r.outcome is MatchOutcome.HARD_MATCH
    assert r.set_immutable_id and r.method is MatchMethod.HARD
    # sourceAnchor mS-DS-ConsistencyGuid: the ConsistencyGuid, not objectGUID
    assert r.source_anchor == immutable_id_from_guid(guid(99))
    assert "BlockSoftMatchEnabled" in r.reason
    assert "sets the cloud ImmutableId first" in r.fix


def test_hard_match_needed_when_the_cloud_user_has_another_immutable_id() -> None:
    r = run([onprem("ann", 1)], [cloud("ann", immutable_id="BpazOkLGm0iEtljAONPvOQ==")])["id-ann"]
    assert r.outcome is MatchOutcome.HARD_MATCH and r.set_immutable_id
    # found by its primary SMTP address, joined by hard match once the ImmutableId is set
    assert r.method is MatchMethod.HARD
    assert r.current_immutable_id == "BpazOkLGm0iEtljAONPvOQ=="
    assert "already has ImmutableId 'BpazOkLGm0iEtljAONPvOQ=='" in r.reason


def test_clean_hard_match_when_the_anchor_already_equals_the_immutable_id() -> None:
    r = run(
        [onprem("ann", 1, primary="x@contoso.com", upn="x@contoso.com")],
        [cloud("ann", immutable_id=immutable_id_from_guid(guid(1)))],
    )["id-ann"]
    assert r.outcome is MatchOutcome.CLEAN_HARD_MATCH
    assert r.method is MatchMethod.HARD and not r.set_immutable_id and r.batchable


def test_blocked_by_admin_role_goes_into_a_batch_with_role_steps() -> None:
    r = run([onprem("ann", 1)], [cloud("ann", admin_roles=("Global Administrator",))])["id-ann"]
    assert r.outcome is MatchOutcome.BLOCKED
    assert r.batchable and r.admin_roles == ("Global Administrator",)
    assert "admin role(s) 'Global Administrator'" in r.reason
    assert "restore them after" in r.fix


def test_blocked_by_both_tenant_switches() -> None:
    t = replace(TENANT, block_soft_match=True, block_hard_match_takeover=True)
    r = run([onprem("ann", 1)], [cloud("ann")], tenant=t)["id-ann"]
    assert r.outcome is MatchOutcome.BLOCKED and not r.batchable
    assert "BlockCloudObjectTakeoverThroughHardMatchEnabled" in r.reason


def test_blocked_hard_match_takeover_on_a_clean_hard_match() -> None:
    t = replace(TENANT, block_hard_match_takeover=True)
    r = run(
        [onprem("ann", 1)], [cloud("ann", immutable_id=immutable_id_from_guid(guid(1)))], tenant=t
    )["id-ann"]
    assert r.outcome is MatchOutcome.BLOCKED
    assert "InvalidHardMatch" in r.reason


def test_blocked_hard_match_on_a_federated_cloud_upn() -> None:
    t = replace(TENANT, block_soft_match=True)
    r = run([onprem("ann", 1)], [cloud("ann", upn="ann@fabrikam.com")], tenant=t)["id-ann"]
    assert r.outcome is MatchOutcome.BLOCKED and not r.batchable
    assert "federated domain 'fabrikam.com'" in r.reason
    assert "'ann@contoso.onmicrosoft.com'" in r.fix


def test_warning_unverified_upn_suffix_takes_the_cloud_upn() -> None:
    r = run([onprem("ann", 1, upn="ann@contoso.local")], [cloud("ann")])["id-ann"]
    assert r.outcome is MatchOutcome.WARNING and r.batchable
    assert r.method is MatchMethod.SOFT_SMTP
    assert r.target_upn == "ann@contoso.com"
    assert "'contoso.local' is not a verified domain" in r.reason


def test_warning_unverified_upn_suffix_cloud_upn_becomes_onmicrosoft() -> None:
    r = run(
        [onprem("ann", 1, upn="ann@contoso.local")],
        [cloud("ann", upn="ann@contoso.onmicrosoft.com")],
    )["id-ann"]
    assert r.outcome is MatchOutcome.WARNING and not r.target_upn
    assert "becomes 'ann@contoso.onmicrosoft.com'" in r.reason


def test_conflict_two_onprem_objects_claim_the_same_proxy_address() -> None:
    on = [
        onprem("ann", 1, extra=("smtp:sales@contoso.com",)),
        onprem("bob", 2, extra=("smtp:sales@contoso.com",)),
    ]
    r = run(on, [cloud("ann")])["id-ann"]
    assert r.outcome is MatchOutcome.CONFLICT and not r.batchable
    assert "Unable to update this object" in r.reason
    assert "proxyAddress 'smtp:sales@contoso.com' (another on-premises object)" in r.reason


def test_conflict_value_already_on_another_cloud_user() -> None:
    on = [onprem("ann", 1, extra=("smtp:bob@contoso.com",))]
    r = run(on, [cloud("ann"), cloud("bob")])["id-ann"]
    assert r.outcome is MatchOutcome.CONFLICT
    assert "proxyAddress 'smtp:bob@contoso.com' (cloud user 'bob@contoso.com')" in r.reason


def test_conflict_several_candidates() -> None:
    on = [
        onprem("ann", 1, upn="x@contoso.com"),
        onprem("other", 2, upn="ann@contoso.com", primary="o@contoso.com"),
    ]
    r = run(on, [cloud("ann")])["id-ann"]
    assert r.outcome is MatchOutcome.CONFLICT
    assert r.reason.startswith("several on-premises users soft-match it")
    assert r.candidates == (f"CN=ann,{OU}", f"CN=other,{OU}")


def test_conflict_candidate_already_matched_to_another_cloud_user() -> None:
    anchor = immutable_id_from_guid(guid(1))
    on = [onprem("ann", 1)]
    cl = [cloud("ann"), cloud("zed", immutable_id=anchor, on_premises_sync_enabled=True)]
    results = run(on, cl)
    assert results["id-ann"].outcome is MatchOutcome.CONFLICT
    assert "also the match of cloud user(s) 'zed@contoso.com'" in results["id-ann"].reason
    assert results["id-zed"].outcome is MatchOutcome.ALREADY_SYNCED


def test_conflict_mailbox_on_2010_and_in_exchange_online() -> None:
    r = run(
        [onprem("ann", 1, recipient_type_details="UserMailbox")], [cloud("ann", has_mailbox=True)]
    )["id-ann"]
    assert r.outcome is MatchOutcome.CONFLICT
    assert "two mailboxes" in r.reason


def test_no_candidate_needs_a_remote_mailbox_with_the_cloud_exchange_guid() -> None:
    g = "11111111-2222-3333-4444-555555555555"
    r = run([], [cloud("ann", has_mailbox=True, exchange_guid=g)])["id-ann"]
    assert r.outcome is MatchOutcome.NO_CANDIDATE and not r.batchable
    assert f"Set-RemoteMailbox -ExchangeGuid '{g}'" in r.fix
    assert "'ann@contoso.mail.onmicrosoft.com'" in r.fix


# --------------------------------------------------------------------------- details


def test_source_anchor_rules() -> None:
    u = onprem("ann", 1)
    assert onprem_source_anchor(u, SourceAnchor.CONSISTENCY_GUID) == immutable_id_from_guid(guid(1))
    with_cg = replace(u, consistency_guid=guid(7))
    assert onprem_source_anchor(with_cg, SourceAnchor.CONSISTENCY_GUID) == immutable_id_from_guid(
        guid(7)
    )
    assert onprem_source_anchor(with_cg, SourceAnchor.OBJECT_GUID) == immutable_id_from_guid(
        guid(1)
    )
    assert onprem_source_anchor(replace(u, object_guid="junk"), SourceAnchor.OBJECT_GUID) == ""


def test_cloud_addresses_are_added_on_premises_and_user_moved() -> None:
    u = replace(onprem("ann", 1), distinguished_name="CN=ann,OU=Staff,DC=contoso,DC=com")
    c = replace(
        cloud("ann"),
        proxy_addresses=(
            "SMTP:ann@contoso.com",
            "smtp:a.nn@contoso.com",
            "smtp:ann@contoso.onmicrosoft.com",
            "smtp:ann@unverified.org",
        ),
    )
    r = run([u], [c])["id-ann"]
    assert r.outcome is MatchOutcome.SOFT_MATCH
    assert r.add_proxy_addresses == ("smtp:a.nn@contoso.com",)
    assert r.move_to_ou


def test_batches_are_deterministic_and_sized() -> None:
    on = [onprem(f"u{n:02d}", n) for n in range(1, 8)]
    cl = [cloud(f"u{n:02d}") for n in range(1, 8)] + [cloud("nobody")]
    inv = Inventory(
        "C",
        onprem_users=tuple(on),
        cloud_users=tuple(cl),
        tenant=TENANT,
        policy=Policy(identity_batch_size=3),
    )
    a = match_identities(inv)
    shuffled = list(cl)
    random.Random(4).shuffle(shuffled)
    b = match_identities(
        replace(inv, cloud_users=tuple(shuffled), onprem_users=tuple(reversed(on)))
    )
    assert a == b
    assert [x.name for x in a.batches] == ["batch-001", "batch-002", "batch-003"]
    assert [len(x.results) for x in a.batches] == [3, 3, 1]
    assert [r.cloud_upn for r in a.batches[0].results] == [
        "u01@contoso.com",
        "u02@contoso.com",
        "u03@contoso.com",
    ]
    assert a.counts()[MatchOutcome.NO_CANDIDATE] == 1


def test_batch_size_must_be_positive() -> None:
    inv = Inventory("C", policy=Policy(identity_batch_size=0))
    with pytest.raises(
        PlanError, match=re.escape("policy.identity_batch_size: '0' is not a batch size")
    ):
        match_identities(inv)


def test_no_candidate_cloud_only_account_may_stay_cloud_only() -> None:
    r = run([], [cloud("breakglass", upn="breakglass@contoso.onmicrosoft.com")])["id-breakglass"]
    assert r.outcome is MatchOutcome.NO_CANDIDATE
    assert r.fix.startswith("none if it is meant to stay cloud-only")


def test_two_mailboxes_names_the_recipient_type() -> None:
    r = run([onprem("ann", 1, recipient_type_details="1")], [cloud("ann", has_mailbox=True)])[
        "id-ann"
    ]
    assert "has an on-premises mailbox (UserMailbox)" in r.reason


def test_contoso_exercises_every_outcome() -> None:

    from migrator.inventory import load_inventory

    inv = load_inventory(Path(__file__).parent.parent / "inventories" / "contoso")
    counts = match_identities(inv).counts()
    assert all(counts[o] > 0 for o in MatchOutcome), counts


def test_users_whose_onprem_object_would_break_sync_stay_out_of_the_batches() -> None:
    from migrator.checks.identity import check_identity, held_back

    # ann's secondary address has a space: Entra Connect would fail on her object.
    ann = onprem("ann", 1, extra=("smtp:ann lee@contoso.com",))
    bob = onprem("bob", 2)
    inv = Inventory(
        "Contoso",
        onprem_users=(ann, bob),
        cloud_users=(cloud("ann"), cloud("bob")),
        tenant=TENANT,
        policy=Policy(sync_scope_ou=OU),
    )
    held = held_back(check_identity(inv))
    assert held == {ann.distinguished_name.lower()}
    plain = match_identities(inv)
    careful = match_identities(inv, held)
    assert [r.onprem_dn for b in plain.batches for r in b.results] == [
        ann.distinguished_name,
        bob.distinguished_name,
    ]
    assert [r.onprem_dn for b in careful.batches for r in b.results] == [bob.distinguished_name]
    # The outcome stays what matching decided; the reason says why ann waits.
    by_id = {r.cloud_id: r for r in careful.results}
    assert by_id["id-ann"].outcome is MatchOutcome.SOFT_MATCH
    assert "held back from the batches" in by_id["id-ann"].reason


# --------------------------------------------------------------------------- candidates, by definition

LOCALS = st.sampled_from(["ann", "Bob", "c.d", "ann", "Bob", "jürgen", "a b", "Σ"])
DOMAINS = st.sampled_from(["contoso.com", "Contoso.COM", "fabrikam.com", "corp.local"])
ADDRESSES = st.builds(lambda local, domain: f"{local}@{domain}", LOCALS, DOMAINS)
PROXY_LISTS = st.lists(
    st.builds(
        lambda prefix, address: prefix + address,
        st.sampled_from(["SMTP:", "smtp:", "smtp:", "Smtp:", "SMTP: ", ""]),
        ADDRESSES,
    ),
    max_size=3,
).map(tuple)
GUIDS = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: "{" + str(u).upper() + "}"),
    st.sampled_from(["", "not-a-guid", " 3ab39606-c642-489b-84b6-58c038d3ef39"]),
)


@st.composite
def inventories(draw: st.DrawFn) -> Inventory:
    onprem = [
        OnPremUser(
            distinguished_name=f"CN=u{n},DC=contoso,DC=com",
            sam_account_name=f"u{n}",
            object_guid=draw(GUIDS),
            user_principal_name=draw(st.one_of(ADDRESSES, st.sampled_from(["", " ann@x.com"]))),
            proxy_addresses=draw(PROXY_LISTS),
        )
        for n in range(draw(st.integers(0, 6)))
    ]
    anchors = [onprem_source_anchor(u, SourceAnchor.OBJECT_GUID) for u in onprem]
    cloud = [
        CloudUser(
            id=f"id{n}",
            user_principal_name=draw(ADDRESSES),
            mail=draw(st.one_of(ADDRESSES, st.just(""))),
            proxy_addresses=draw(PROXY_LISTS),
            immutable_id=draw(st.sampled_from(["", "bm90LWEtZ3VpZA==", *anchors])),
            on_premises_sync_enabled=draw(st.booleans()),
        )
        for n in range(draw(st.integers(0, 6)))
    ]
    tenant = Tenant(
        "contoso.onmicrosoft.com",
        ("contoso.com",),
        soft_match_upn=draw(st.booleans()),
        source_anchor=SourceAnchor.OBJECT_GUID,
    )
    return Inventory("T", onprem_users=tuple(onprem), cloud_users=tuple(cloud), tenant=tenant)


@settings(max_examples=60, deadline=None)
@given(inventories())
def test_candidates_are_every_onprem_user_matching_by_anchor_smtp_or_upn(inv: Inventory) -> None:
    """The joins find exactly what a scan of every on-premises user finds (the definition)."""
    assert inv.tenant is not None
    for r in match_identities(inv).results:
        c = r.cloud
        hard = [
            u
            for u in inv.onprem_users
            if c.immutable_id
            and onprem_source_anchor(u, inv.tenant.source_anchor) == c.immutable_id
        ]
        soft = [
            u
            for u in inv.onprem_users
            if (c.primary_smtp and u.primary_smtp == c.primary_smtp)
            or (
                inv.tenant.soft_match_upn
                and u.user_principal_name.strip()
                and u.user_principal_name.strip().lower() == c.user_principal_name.strip().lower()
            )
        ]
        expected = sorted({u.distinguished_name for u in hard + soft})
        if c.on_premises_sync_enabled and not hard:
            expected = []  # synced from outside the inventory: no candidate is listed
        assert list(r.candidates) == expected
