"""Issue 13, items 1 and 6: aliases/pools reach only servers that carry the connectors, and no
client gains relay the 2010 organisation did not grant."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st
from relay_builders import (
    BASE_CONNECTORS,
    connector,
    inventory,
    relay,
    server,
    with_policy,
)

from migrator.iprange import IPRange
from migrator.model import (
    IPAddress,
    LoadBalancer,
    NatRule,
    RelayOverride,
    Severity,
)
from migrator.plan.connector_match import ServerViews, take
from migrator.plan.phases._common import estate
from migrator.plan.phases.servers import servers_steps
from migrator.plan.relay import load_balancer_pool, plan_relay
from migrator.plan.relay_checks import check_relay
from migrator.plan.relay_steps import relay_steps

SERVERS = (
    server("EX10-01", site="London", ips=("10.1.0.10", "fd00::10")),
    server("EX10-03", site="Dublin", ips=("10.2.0.10",)),
    server("EX16-01", "2016", site="London", ips=("10.1.0.20", "fd00::20")),
    server("EX16-02", "2016", site="Dublin", ips=("10.2.0.20",)),
)
DUBLIN_DEFAULTS = tuple(
    connector(
        c.server.replace("EX10-01", "EX10-03").replace("EX16-01", "EX16-02"),
        c.name.replace("EX10-01", "EX10-03").replace("EX16-01", "EX16-02"),
        tuple(str(r) for r in c.remote_ip_ranges),
        bindings=tuple(str(b) for b in c.bindings),
        groups=c.permission_groups,
        auth=c.auth_mechanism,
        role=c.transport_role,
    )
    for c in BASE_CONNECTORS
)
APPS, APPS_PERM = relay(
    "EX10-01", "Relay Apps", ("10.1.20.15", "fd00:20::/64"), bindings=("0.0.0.0:25", "[::]:25")
)
SCAN = connector(
    "EX10-01",
    "Relay Scanners",
    ("10.1.40.0/26",),
    groups=("ExchangeServers",),
    auth=("Tls", "ExternalAuthoritative"),
)
CRM, CRM_PERM = relay("EX10-03", "Relay CRM", ("10.2.50.0/24",))
INTERNAL = connector("EX10-03", "Internal Apps", ("10.2.50.16/28", "10.2.60.0/24"))


def two_sites(alias: str = "smtp.contoso.test", **kw: object):  # type: ignore[no-untyped-def]
    policy = with_policy(
        targets_by_site=(("London", ("EX16-01",)), ("Dublin", ("EX16-02",))),
        smtp_alias=alias,
        **kw,
    )
    return inventory(
        (*DUBLIN_DEFAULTS, APPS, SCAN, CRM, INTERNAL),
        (APPS_PERM, CRM_PERM),
        servers=SERVERS,
        policy=policy,
    )


def test_alias_puts_every_relay_connector_on_every_server_it_reaches() -> None:
    inv = two_sites()
    plan = plan_relay(inv)
    by_server: dict[str, set[tuple[str, str, tuple[str, ...]]]] = {}
    for p in plan.connectors:
        by_server.setdefault(p.server, set()).add(
            (p.source_identity, p.method.value, tuple(str(r) for r in p.remote_ip_ranges))
        )
    # same sources, methods and ranges on both; IPv6 ranges only where the server has IPv6
    assert by_server["EX16-01"] == {
        ("EX10-01\\Relay Apps", "anonymous", ("10.1.20.15", "fd00:20::/64")),
        ("EX10-01\\Relay Scanners", "externally-secured", ("10.1.40.0/26",)),
        ("EX10-03\\Relay CRM", "anonymous", ("10.2.50.0/24",)),
    }
    assert by_server["EX16-02"] == {
        ("EX10-01\\Relay Apps", "anonymous", ("10.1.20.15",)),
        ("EX10-01\\Relay Scanners", "externally-secured", ("10.1.40.0/26",)),
        ("EX10-03\\Relay CRM", "anonymous", ("10.2.50.0/24",)),
    }
    assert not [f for f in check_relay(inv, plan) if f.severity is Severity.ERROR]
    steps = {s.id: s for s in relay_steps(inv, plan)}
    repoint = steps["relay.repoint.smtp-contoso-test"]
    assert "the new servers EX16-01, EX16-02" in repoint.instructions


def test_without_an_alias_each_site_keeps_its_own_servers() -> None:
    inv = two_sites(alias="")
    plan = plan_relay(inv)
    assert {(p.server, p.source_identity) for p in plan.connectors} == {
        ("EX16-01", "EX10-01\\Relay Apps"),
        ("EX16-01", "EX10-01\\Relay Scanners"),
        ("EX16-02", "EX10-03\\Relay CRM"),
    }


def test_a_pool_across_sites_without_the_connectors_is_an_error() -> None:
    lb = LoadBalancer(
        "LB-SMTP",
        (ipaddress.ip_address("10.1.1.50"),),
        source_nat=False,
        servers=("EX16-01", "EX16-02"),
        ports=(25,),
    )
    nat = NatRule("FW-IN", None, ipaddress.ip_address("10.1.1.50"), source_nat=False)
    inv = two_sites(alias="")
    inv = type(inv)(**{**inv.__dict__, "load_balancers": (lb,), "nat_rules": (nat,)})
    errors = [
        f for f in check_relay(inv, plan_relay(inv)) if f.code == "relay.reach.missing-connector"
    ]
    wheres = {f.where for f in errors}
    assert wheres == {"load balancer 'LB-SMTP'", "NAT rule 'FW-IN' (to load balancer 'LB-SMTP')"}
    lb_errors = sorted(f.message for f in errors if f.where == "load balancer 'LB-SMTP'")
    assert any(
        "can send relay clients to EX16-02, which has no connector like "
        "'EX16-01\\Relay Scanners' (externally secured, '10.1.40.0/26')" in m
        for m in lb_errors
    )
    assert any(
        "to EX16-01, which has no connector like 'EX16-02\\Relay CRM" in m for m in lb_errors
    )
    assert all(f.severity is Severity.ERROR for f in errors)


def test_a_pool_gets_only_the_new_servers_of_its_own_sites() -> None:
    lb = LoadBalancer(
        "LB-LON", (ipaddress.ip_address("10.1.1.50"),), source_nat=False, servers=("EX10-01",)
    )
    inv = two_sites(alias="")
    inv = type(inv)(**{**inv.__dict__, "load_balancers": (lb,)})
    assert [s.name for s in load_balancer_pool(inv, lb)] == ["EX16-01"]
    step = next(
        s for s in servers_steps(inv, estate(inv), set()) if s.id == "servers.load-balancer.LB-LON"
    )
    assert "EX16-01" in step.title and "EX16-02" not in step.title + step.instructions
    assert not [f for f in check_relay(inv, plan_relay(inv)) if f.severity is Severity.ERROR]


def test_an_existing_relay_connector_on_one_server_behind_the_alias_is_an_error() -> None:
    existing, perm = relay("EX16-02", "Relay Backup", ("10.2.70.5",))
    inv = two_sites()
    inv = type(inv)(
        **{
            **inv.__dict__,
            "receive_connectors": (*inv.receive_connectors, existing),
            "ad_permissions": (*inv.ad_permissions, perm),
        }
    )
    errors = [
        f for f in check_relay(inv, plan_relay(inv)) if f.code == "relay.reach.missing-connector"
    ]
    assert [(f.where, f.severity) for f in errors] == [
        ("DNS alias 'smtp.contoso.test'", Severity.ERROR)
    ]
    assert "to EX16-01, which has no connector like 'EX16-02\\Relay Backup'" in errors[0].message


def test_relay_tests_go_through_the_alias_too() -> None:
    inv = two_sites()
    steps = relay_steps(inv, plan_relay(inv))
    through = {s.id: s for s in steps if s.id.startswith("relay.test-alias.")}
    probe = through.pop("relay.test-alias.smtp-contoso-test.from-admin-host")
    assert probe.prerequisites == ("relay.verify-alias.smtp-contoso-test",)
    assert probe.action is not None and probe.action.params["smtp_host"] == "smtp.contoso.test"
    assert probe.action.params["all_addresses"] is True
    assert sorted(through) == [
        "relay.test-alias.smtp-contoso-test.ex10-01-relay-apps",
        "relay.test-alias.smtp-contoso-test.ex10-01-relay-scanners",
        "relay.test-alias.smtp-contoso-test.ex10-03-relay-crm",
    ]
    for s in through.values():
        assert s.prerequisites == (probe.id,)
        assert "smtp.contoso.test" in s.title
    # the observation period (review 4, m7: a wait step before the observe step) follows them
    observe = next(s for s in steps if s.id == "relay.observe-wait.EX10-01")
    assert set(through) <= set(observe.prerequisites)


# --------------------------------------------------------------------------- item 6


def test_internal_only_connector_is_carried_where_a_relay_connector_would_take_its_clients() -> (
    None
):
    inv = two_sites()
    plan = plan_relay(inv)
    carried = {(p.server, p.source_identity, p.relay) for p in plan.internal}
    assert carried == {
        ("EX16-01", "EX10-03\\Internal Apps", False),
        ("EX16-02", "EX10-03\\Internal Apps", False),
    }
    p = next(p for p in plan.internal if p.server == "EX16-02")
    assert [str(r) for r in p.remote_ip_ranges] == ["10.2.50.16/28", "10.2.60.0/24"]
    steps = {s.id: s for s in relay_steps(inv, plan)}
    create = steps["relay.create.EX16-02.internal-apps"]
    assert create.action is not None
    assert create.action.params["permission_groups"] == ["AnonymousUsers"]
    assert create.action.params["transport_role"] == "FrontendTransport"
    assert "relay.permission.EX16-02.internal-apps" not in steps
    findings = check_relay(inv, plan)
    assert not [f for f in findings if f.severity is Severity.ERROR]
    assert not [f for f in findings if f.code.startswith("relay.shadow")]


def test_a_client_that_would_gain_relay_is_an_error_unless_an_override_says_so() -> None:
    # a partner connector is not carried over: its clients inside the CRM range would relay
    partner = connector("EX10-03", "Partner In", ("10.2.50.128/25",), groups=("Partners",))
    base = two_sites(alias="")
    inv = type(base)(**{**base.__dict__, "receive_connectors": (*base.receive_connectors, partner)})
    errors = [f for f in check_relay(inv, plan_relay(inv)) if f.code == "relay.shadow.gains-relay"]
    assert [(f.severity, f.where) for f in errors] == [(Severity.ERROR, "EX10-03\\Partner In")]
    assert "'10.2.50.128/25'" in errors[0].message
    assert "never granted" in errors[0].message

    overridden = type(base)(
        **{
            **inv.__dict__,
            "policy": with_policy(
                targets_by_site=(("London", ("EX16-01",)), ("Dublin", ("EX16-02",))),
                overrides=(
                    RelayOverride(
                        "EX10-03\\Relay CRM", add_ranges=(IPRange.parse("10.2.50.128/25"),)
                    ),
                ),
            ),
        }
    )
    assert not [
        f
        for f in check_relay(overridden, plan_relay(overridden))
        if f.code == "relay.shadow.gains-relay"
    ]


# --------------------------------------------------------------------------- the property


def _relays_before(views: ServerViews, legacy: list[str], address: IPAddress) -> bool:
    return any(
        (w := take(views.before(name), address)[0]) is not None and w.relays for name in legacy
    )


def _relays_after(views: ServerViews, targets: list[str], address: IPAddress) -> bool:
    return any(
        (w := take(views.after(name), address)[0]) is not None and w.relays for name in targets
    )


_octet = st.integers(min_value=0, max_value=255)


@st.composite
def _ranges(draw: st.DrawFn) -> str:
    third = draw(st.integers(min_value=0, max_value=3))
    fourth = draw(_octet)
    prefix = draw(st.sampled_from([32, 30, 28, 26, 24]))
    net = ipaddress.ip_network(f"10.2.{third}.{fourth}/{prefix}", strict=False)
    return str(net)


@settings(max_examples=60, deadline=None)
@given(
    relay_ranges=st.lists(_ranges(), min_size=1, max_size=3),
    internal_ranges=st.lists(_ranges(), min_size=1, max_size=3),
    other_relay=st.lists(_ranges(), min_size=0, max_size=2),
    alias=st.booleans(),
    probes=st.lists(st.integers(min_value=0, max_value=4 * 256 - 1), min_size=8, max_size=8),
)
def test_relay_rights_after_the_plan_are_never_wider_than_before(
    relay_ranges: list[str],
    internal_ranges: list[str],
    other_relay: list[str],
    alias: bool,
    probes: list[int],
) -> None:
    """For every client address: relay after the plan (on any new server) only where some 2010
    server gave it relay, unless the plan is refused with an error (overlaps, gains)."""
    connectors = [connector("EX10-03", "Internal", internal_ranges)]
    perms = []
    rc, perm = relay("EX10-03", "Relay CRM", relay_ranges)
    connectors.append(rc)
    perms.append(perm)
    if other_relay:
        rc2, perm2 = relay("EX10-01", "Relay London", other_relay)
        connectors.append(rc2)
        perms.append(perm2)
    policy = with_policy(
        targets_by_site=(("London", ("EX16-01",)), ("Dublin", ("EX16-02",))),
        smtp_alias="smtp.contoso.test" if alias else "",
    )
    inv = inventory((*DUBLIN_DEFAULTS, *connectors), perms, servers=SERVERS, policy=policy)
    plan = plan_relay(inv)
    if any(f.severity is Severity.ERROR for f in (*plan.findings, *check_relay(inv, plan))):
        return  # refused: nothing is run
    views = ServerViews(inv, plan)
    legacy = ["EX10-01", "EX10-03"]
    targets = ["EX16-01", "EX16-02"]
    addresses = [ipaddress.ip_address(f"10.2.{n // 256}.{n % 256}") for n in probes]
    for r in (*relay_ranges, *internal_ranges, *other_relay):
        net = ipaddress.ip_network(r, strict=False)
        addresses += [net.network_address, net.broadcast_address]
    for a in addresses:
        if _relays_after(views, targets, a):
            assert _relays_before(views, legacy, a), f"{a} gains relay"
