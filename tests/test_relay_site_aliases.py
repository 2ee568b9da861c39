"""Issue 18: ``relay.smtp_alias`` as a mapping AD site -> alias; each alias reaches only the servers
of its site's relay connectors (no connector is planned on every server of the organisation)."""

from __future__ import annotations

from pathlib import Path

import pytest
from relay_builders import connector, inventory, relay, server, with_policy

from migrator.checks.certificates import transport_names
from migrator.errors import InventoryError
from migrator.inventory import load_inventory
from migrator.model import RelayOverride, Severity
from migrator.plan.phases._common import estate
from migrator.plan.phases.servers import servers_steps
from migrator.plan.relay import alias_groups, plan_relay
from migrator.plan.relay_checks import check_relay, entry_points
from migrator.plan.relay_steps import relay_rollback_steps, relay_steps

SERVERS = (
    server("EX10-01", site="London", ips=("10.1.0.10", "fd00::10")),
    server("EX10-03", site="Dublin", ips=("10.2.0.10",)),
    server("EX16-01", "2016", site="London", ips=("10.1.0.20", "fd00::20")),
    server("EX16-03", "2016", site="London", ips=("10.1.0.21",)),
    server("EX16-02", "2016", site="Dublin", ips=("10.2.0.20",)),
)
APPS, APPS_PERM = relay("EX10-01", "Relay Apps", ("10.1.20.15",))
SCAN = connector(
    "EX10-01",
    "Relay Scanners",
    ("10.1.40.0/26",),
    groups=("ExchangeServers",),
    auth=("Tls", "ExternalAuthoritative"),
)
CRM, CRM_PERM = relay("EX10-03", "Relay CRM", ("10.2.50.0/24",))
PER_SITE = (("Dublin", "smtp-dub.contoso.test"), ("London", "smtp-lon.contoso.test"))


def _inventory(**kw: object):  # type: ignore[no-untyped-def]
    policy = with_policy(
        targets_by_site=(("London", ("EX16-01",)), ("Dublin", ("EX16-02",))),
        **kw,
    )
    return inventory((APPS, SCAN, CRM), (APPS_PERM, CRM_PERM), servers=SERVERS, policy=policy)


def test_each_site_alias_reaches_only_its_sites_servers() -> None:
    inv = _inventory(site_smtp_aliases=PER_SITE)
    plan = plan_relay(inv)
    assert sorted((p.server, p.source_identity) for p in plan.connectors) == [
        ("EX16-01", "EX10-01\\Relay Apps"),
        ("EX16-01", "EX10-01\\Relay Scanners"),
        ("EX16-02", "EX10-03\\Relay CRM"),
    ]
    assert [(a, sorted(p.server for p in g)) for a, g in alias_groups(inv, plan.connectors)] == [
        ("smtp-dub.contoso.test", ["EX16-02"]),
        ("smtp-lon.contoso.test", ["EX16-01", "EX16-01"]),
    ]
    points = {e.what: [s.name for s in e.servers] for e in entry_points(inv, plan)}
    assert points == {
        "DNS alias 'smtp-dub.contoso.test'": ["EX16-02"],
        "DNS alias 'smtp-lon.contoso.test'": ["EX16-01"],
    }
    assert not [f for f in check_relay(inv, plan) if f.severity is Severity.ERROR]


def test_org_wide_alias_still_reaches_every_relay_server() -> None:
    inv = _inventory(smtp_alias="smtp.contoso.test")
    plan = plan_relay(inv)
    assert {p.server for p in plan.connectors} == {"EX16-01", "EX16-02"}
    assert len(plan.connectors) == 6
    assert [a for a, _g in alias_groups(inv, plan.connectors)] == ["smtp.contoso.test"]


def test_a_site_alias_spreads_its_connectors_over_its_own_targets_only() -> None:
    # the scanners go to EX16-03 by override: London's alias then reaches EX16-01 and EX16-03,
    # so London's other relay connector is planned on EX16-03 too; Dublin's stays on EX16-02
    inv = _inventory(
        site_smtp_aliases=PER_SITE,
        overrides=(RelayOverride("EX10-01\\Relay Scanners", target_servers=("EX16-03",)),),
    )
    plan = plan_relay(inv)
    assert sorted((p.server, p.source_identity) for p in plan.connectors) == [
        ("EX16-01", "EX10-01\\Relay Apps"),
        ("EX16-01", "EX10-01\\Relay Scanners"),
        ("EX16-02", "EX10-03\\Relay CRM"),
        ("EX16-03", "EX10-01\\Relay Apps"),
        ("EX16-03", "EX10-01\\Relay Scanners"),
    ]
    spread = [f for f in plan.findings if f.code == "relay.target.alias"]
    assert spread and all("smtp-lon.contoso.test" in f.message for f in spread)
    assert all("every relay server of site London:" in f.message for f in spread)


def test_repoint_verify_and_rollback_per_alias() -> None:
    inv = _inventory(site_smtp_aliases=PER_SITE)
    plan = plan_relay(inv)
    steps = {s.id: s for s in relay_steps(inv, plan)}
    lon = steps["relay.repoint.smtp-lon-contoso-test"]
    dub = steps["relay.repoint.smtp-dub-contoso-test"]
    assert "the new servers EX16-01)" in lon.instructions
    assert "the new servers EX16-02)" in dub.instructions
    # each alias waits for the tests of its own connectors only
    assert all("ex16-02" not in p for p in lon.prerequisites), lon.prerequisites
    assert all("ex16-01" not in p for p in dub.prerequisites), dub.prerequisites
    assert "relay.verify-alias.smtp-lon-contoso-test" in steps
    assert "relay.verify-alias.smtp-dub-contoso-test" in steps
    # each 2010 server is observed after the repoint of its own site's alias
    # (the observation period, review 4 m7: a wait step before each observe step)
    observe_lon = steps["relay.observe-wait.EX10-01"].prerequisites
    observe_dub = steps["relay.observe-wait.EX10-03"].prerequisites
    assert "relay.repoint.smtp-lon-contoso-test" in observe_lon
    assert not any("smtp-dub" in p for p in observe_lon)
    assert "relay.repoint.smtp-dub-contoso-test" in observe_dub
    assert not any("smtp-lon" in p for p in observe_dub)
    rollback = {s.id for s in relay_rollback_steps(inv, plan)}
    assert {
        "relay.rollback.repoint.smtp-lon-contoso-test",
        "relay.rollback.repoint.smtp-dub-contoso-test",
    } <= rollback


def test_a_site_without_alias_gets_the_manual_repoint() -> None:
    inv = _inventory(site_smtp_aliases=(("London", "smtp-lon.contoso.test"),))
    plan = plan_relay(inv)
    steps = {s.id: s for s in relay_steps(inv, plan)}
    manual = steps["relay.repoint.applications"]
    assert "EX10-03" not in manual.instructions and "ex16-02" in manual.instructions.lower()
    assert steps["relay.observe-wait.EX10-03"].prerequisites == ("relay.repoint.applications",)


def test_servers_phase_prepares_every_site_alias() -> None:
    inv = _inventory(site_smtp_aliases=PER_SITE)
    step = next(s for s in servers_steps(inv, estate(inv), set()) if s.id == "servers.smtp-alias")
    assert step.title == (
        "prepare the SMTP aliases smtp-dub.contoso.test, smtp-lon.contoso.test for relay clients"
    )
    assert "Dublin: smtp-dub.contoso.test, London: smtp-lon.contoso.test" in step.instructions


# --------------------------------------------------------------------------- inventory.yaml

SERVERS_CSV = (
    b'\xef\xbb\xbf"Name","ServerRole","Site","AdminDisplayVersion","ExSetupVersion"\r\n'
    b'"EX10-01","Mailbox, ClientAccess, HubTransport","London","Version 14.3 (Build 123.4)","14.3.513.0"\r\n'
    b'"EX10-03","Mailbox, ClientAccess, HubTransport","Dublin","Version 14.3 (Build 123.4)","14.3.513.0"\r\n'
)
YAML = """organisation: Contoso Ltd
relay:
  smtp_alias:
{aliases}
"""


def _load(tmp_path: Path, aliases: str):  # type: ignore[no-untyped-def]
    (tmp_path / "inventory.yaml").write_text(YAML.format(aliases=aliases), encoding="utf-8")
    (tmp_path / "servers.csv").write_bytes(SERVERS_CSV)
    return load_inventory(tmp_path)


def test_yaml_mapping_of_site_aliases(tmp_path: Path) -> None:
    inv = _load(tmp_path, "    London: smtp-lon.contoso.com\n    Dublin: SMTP-DUB.contoso.com.")
    assert inv.policy.smtp_alias == ""
    assert inv.policy.site_smtp_aliases == (
        ("Dublin", "SMTP-DUB.contoso.com"),
        ("London", "smtp-lon.contoso.com"),
    )
    assert inv.policy.smtp_alias_for("london") == "smtp-lon.contoso.com"
    assert inv.policy.smtp_alias_for("Paris") == ""
    assert inv.policy.smtp_aliases == ("SMTP-DUB.contoso.com", "smtp-lon.contoso.com")


def test_yaml_single_alias_is_org_wide(tmp_path: Path) -> None:
    (tmp_path / "inventory.yaml").write_text(
        "organisation: Contoso Ltd\nrelay:\n  smtp_alias: smtp.contoso.com\n", encoding="utf-8"
    )
    (tmp_path / "servers.csv").write_bytes(SERVERS_CSV)
    inv = load_inventory(tmp_path)
    assert inv.policy.smtp_alias == "smtp.contoso.com"
    assert inv.policy.smtp_alias_for("Dublin") == "smtp.contoso.com"
    assert inv.policy.site_smtp_aliases == ()


BAD = [
    (
        "    London: smtp-lon.contoso.com\n    Paris: smtp-par.contoso.com",
        "inventory.yaml, key 'relay.smtp_alias.Paris': 'Paris' is not a known site; "
        "expected one of: Dublin, London",
    ),
    (
        "    London: smtp.contoso.com\n    Dublin: SMTP.contoso.com",
        "inventory.yaml, key 'relay.smtp_alias.Dublin': alias 'SMTP.contoso.com' is also the "
        "alias of site 'London'; expected one alias per site (for one alias in front of every "
        "site write smtp_alias: SMTP.contoso.com)",
    ),
    (
        "    London: smtp-lon.contoso.com\n    london: smtp-lon2.contoso.com",
        "inventory.yaml, key 'relay.smtp_alias.london': site 'london' is given twice (also as "
        "'London'); expected each site once",
    ),
    (
        "    London: smtp lon.contoso.com",
        "inventory.yaml, key 'relay.smtp_alias.London': 'smtp lon.contoso.com' is not a host "
        "name; expected e.g. mail.contoso.com",
    ),
    (
        "    London: ''",
        "inventory.yaml, key 'relay.smtp_alias.London': empty value; expected a non-empty text",
    ),
    (
        "    London: [smtp-lon.contoso.com]",
        "inventory.yaml, key 'relay.smtp_alias.London': [\"smtp-lon.contoso.com\"] is not a text",
    ),
    (
        "    - smtp-lon.contoso.com",
        "inventory.yaml, key 'relay.smtp_alias': [\"smtp-lon.contoso.com\"] is not a text or a "
        "mapping",
    ),
]


@pytest.mark.parametrize(("aliases", "expected"), BAD)
def test_bad_site_aliases(tmp_path: Path, aliases: str, expected: str) -> None:
    with pytest.raises(InventoryError) as info:
        _load(tmp_path, aliases)
    messages = [str(p).replace(str(tmp_path) + "/", "") for p in info.value.problems]
    assert messages == [expected]


def test_site_alias_is_a_certificate_name() -> None:
    inv = _inventory(site_smtp_aliases=PER_SITE)
    names = transport_names(inv)
    assert {"smtp-dub.contoso.test", "smtp-lon.contoso.test"} <= set(names)
