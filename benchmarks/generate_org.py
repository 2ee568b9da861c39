"""Generate a large Exchange organisation as an in-memory :class:`Inventory`.

Default size (the issue's benchmark): 200 servers (120 legacy 2010, 80 target
2016) in 20 sites, 2,000 relay connectors, 100 accepted domains, 300,000 users
(identity batches of 500). ``scale`` divides every count (``scale=10`` is the
10x smaller organisation). Deterministic: no randomness, no clock.

Run it to print the counts:  python benchmarks/generate_org.py [--scale N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress

from migrator.iprange import IPRange
from migrator.model import (
    AcceptedDomain,
    AcceptedDomainType,
    ADPermission,
    Binding,
    CloudUser,
    DnsZone,
    ExchangeVersion,
    Inventory,
    Lifecycle,
    MaintenanceWindow,
    MxRecord,
    OnPremUser,
    Policy,
    ReceiveConnector,
    SendConnector,
    Server,
    ServerRole,
    Site,
    Tenant,
)

ANY25 = Binding(ipaddress.ip_address("0.0.0.0"), 25)


def generate_org(scale: int = 1) -> Inventory:
    """The benchmark organisation, every count divided by ``scale``."""
    n_sites = max(1, 20 // scale)
    n_legacy = max(1, 120 // scale)
    n_target = max(1, 80 // scale)
    n_relay = max(1, 2000 // scale)
    n_domains = max(1, 100 // scale)
    n_users = max(1, 300_000 // scale)
    sites = tuple(Site(f"Site{i:02d}") for i in range(n_sites))
    servers = []
    for i in range(n_legacy):
        servers.append(
            Server(
                name=f"EX10-{i:03d}",
                version=ExchangeVersion.EX2010,
                lifecycle=Lifecycle.LEGACY,
                site=sites[i % n_sites].name,
                fqdn=f"ex10-{i:03d}.corp.example",
                build="14.3.513.0",
                operating_system="Windows Server 2008 R2",
                roles=frozenset(
                    {ServerRole.HUB_TRANSPORT, ServerRole.CLIENT_ACCESS, ServerRole.MAILBOX}
                ),
                ip_addresses=(ipaddress.ip_address(f"10.{i // 250}.{i % 250}.10"),),
                hybrid=(i == 0),
            )
        )
    for i in range(n_target):
        servers.append(
            Server(
                name=f"EX16-{i:03d}",
                version=ExchangeVersion.EX2016,
                lifecycle=Lifecycle.TARGET,
                site=sites[i % n_sites].name,
                fqdn=f"ex16-{i:03d}.corp.example",
                operating_system="Windows Server 2016",
                roles=frozenset({ServerRole.MAILBOX}),
                ip_addresses=(ipaddress.ip_address(f"10.200.{i % 250}.10"),),
            )
        )
    connectors = []
    perms = []
    for i in range(n_relay):
        server = servers[i % n_legacy].name
        name = f"Relay App {i:04d}"
        connectors.append(
            ReceiveConnector(
                server=server,
                name=name,
                bindings=(ANY25,),
                remote_ip_ranges=(IPRange.parse(f"10.{100 + i // 250}.{i % 250}.0/28"),),
                permission_groups=("AnonymousUsers",),
            )
        )
        perms.append(
            ADPermission(
                identity=f"{server}\\{name}",
                user="NT AUTHORITY\\ANONYMOUS LOGON",
                extended_rights=("Ms-Exch-SMTP-Accept-Any-Recipient",),
            )
        )
    domains = tuple(
        AcceptedDomain(
            f"domain{i:03d}", f"domain{i:03d}.example", AcceptedDomainType.AUTHORITATIVE, i == 0
        )
        for i in range(n_domains)
    )
    zones = tuple(
        DnsZone(
            d.domain_name,
            mx=(MxRecord(f"mail.{d.domain_name}", 10, 3600 if i % 2 else 86400),),
            spf="v=spf1 ip4:203.0.113.25 -all",
        )
        for i, d in enumerate(domains)
    )
    send = (
        SendConnector(
            "Internet",
            ("SMTP:*;1",),
            tuple(s.name for s in servers[:n_legacy]),
            fqdn="mail.domain000.example",
        ),
        SendConnector(
            "Outbound to Office 365",
            ("smtp:tenant.mail.onmicrosoft.com;1",),
            (servers[0].name,),
            fqdn="mail.domain000.example",
            cloud_services_mail_enabled=True,
        ),
    )
    users = tuple(
        OnPremUser(
            distinguished_name=f"CN=User {i},OU=Users,DC=corp,DC=example",
            sam_account_name=f"user{i}",
            object_guid=f"00000000-0000-0000-0000-{i:012d}",
            user_principal_name=f"user{i}@domain{i % n_domains:03d}.example",
            mail=f"user{i}@domain{i % n_domains:03d}.example",
            proxy_addresses=(f"SMTP:user{i}@domain{i % n_domains:03d}.example",),
            recipient_type_details="UserMailbox",
        )
        for i in range(n_users)
    )
    # Cloud-only users with the same primary address: each soft-matches one on-premises user,
    # so the identity planner cuts them into batches.
    cloud = tuple(
        CloudUser(
            id=f"10000000-0000-0000-0000-{i:012d}",
            user_principal_name=f"user{i}@domain{i % n_domains:03d}.example",
            mail=f"user{i}@domain{i % n_domains:03d}.example",
            proxy_addresses=(f"SMTP:user{i}@domain{i % n_domains:03d}.example",),
        )
        for i in range(n_users)
    )
    tenant = Tenant(
        initial_domain="tenant.onmicrosoft.com",
        verified_domains=tuple(d.domain_name for d in domains),
        mx_hosts=tuple(
            (d.domain_name, d.domain_name.replace(".", "-") + ".mail.protection.outlook.com")
            for d in domains
        ),
    )
    policy = Policy(
        maintenance_windows=(
            MaintenanceWindow(5, dt.time(20, 0), dt.time(23, 59)),
            MaintenanceWindow(6, dt.time(8, 0), dt.time(18, 0)),
        ),
        start_date=dt.date(2026, 12, 7),
        smtp_alias="smtp.domain000.example",
    )
    return Inventory(
        organisation=f"Benchmark org (1/{scale})" if scale > 1 else "Benchmark org",
        sites=sites,
        servers=tuple(servers),
        receive_connectors=tuple(connectors),
        ad_permissions=tuple(perms),
        accepted_domains=domains,
        send_connectors=send,
        dns_zones=zones,
        onprem_users=users,
        cloud_users=cloud,
        tenant=tenant,
        policy=policy,
    )


def main() -> None:
    """Print the counts of the generated organisation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1, help="divide every count by this")
    args = parser.parse_args()
    inv = generate_org(args.scale)
    print(
        f"{len(inv.servers)} servers, {len(inv.receive_connectors)} relay connectors, "
        f"{len(inv.accepted_domains)} accepted domains, {len(inv.onprem_users)} users"
    )


if __name__ == "__main__":
    main()
