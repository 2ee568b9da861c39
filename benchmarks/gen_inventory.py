"""Write an inventory folder of N users in the exports' own formats (for the end-to-end benchmark).

What ``migrator check``/``migrator plan`` read at a customer, byte for byte as
PowerShell writes it: ``ExchangeServers.csv`` (Export-Csv, ASCII, ``#TYPE``),
``ReceiveConnectors.csv`` and ``ADPermissions.csv`` (UTF-8 with BOM),
``ADUsers.csv`` (UTF-16 LE with BOM, as ``Export-Csv -Encoding Unicode``),
``CloudUsers.csv`` (PowerShell 7, UTF-8 without BOM), ``AcceptedDomains.csv``
and an ``inventory.yaml``. Every count scales with N: at 300,000 users the
organisation has 2,000 relay connectors, 120 Exchange 2010 and 80 Exchange
2016 servers in 20 sites and 100 accepted domains. One user in eight has a
non-routable UPN suffix (``corp.local``: one warning each, the flood of one
code a real estate gives), one in 5,000 a space in the UPN (an IdFix error
that holds the user back from the batches); every cloud user soft-matches an
on-premises one on the primary SMTP address. Deterministic: no randomness, no clock.

Relay clients use **one SMTP alias per site** (``relay.smtp_alias`` as a mapping
``Site07: smtp-site07.domain000.example``), the way large estates route them: each
alias reaches its own site's new servers, so each relay connector is planned on
its site's servers only and the relay output grows linearly with the estate.
``--org-wide-alias`` writes the old layout instead, one alias in front of every
site: every relay connector is then planned on every new server (2,000 x 80 =
160,000 connectors at 300,000 users), output quadratic by construction; it stays
measurable for comparison.

    python benchmarks/gen_inventory.py OUT_DIR --users 300000 [--org-wide-alias]
"""

from __future__ import annotations

import argparse
from pathlib import Path

CRLF = "\r\n"
FULL_USERS = 300_000


def _q(value: object) -> str:
    """One field as Export-Csv writes it: null empty and unquoted, else quoted."""
    if value is None:
        return ""
    return '"' + str(value).replace('"', '""') + '"'


def _csv(type_name: str | None, header: list[str], rows: list[list[object]]) -> str:
    lines = [f"#TYPE {type_name}"] if type_name else []
    lines.append(",".join(_q(h) for h in header))
    lines.extend(",".join(_q(v) for v in row) for row in rows)
    return CRLF.join(lines) + CRLF


def counts(users: int) -> dict[str, int]:
    """Sizes of the organisation for ``users`` users (the issue's 300k organisation, scaled)."""
    share = users / FULL_USERS
    return {
        "users": users,
        "sites": max(2, round(20 * share)),
        "legacy": max(2, round(120 * share)),
        "target": max(2, round(80 * share)),
        "relay": max(2, round(2000 * share)),
        "domains": max(2, round(100 * share)),
    }


def generate(out: Path, users: int, *, org_wide_alias: bool = False) -> dict[str, int]:
    """Write the inventory folder ``out``; return its counts.

    ``org_wide_alias``: one SMTP alias for every site (quadratic relay output) instead
    of one per site.
    """
    n = counts(users)
    out.mkdir(parents=True, exist_ok=True)
    sites = [f"Site{i:02d}" for i in range(n["sites"])]
    legacy = [(f"EX10-{i:03d}", sites[i % len(sites)]) for i in range(n["legacy"])]
    target = [(f"EX16-{i:03d}", sites[i % len(sites)]) for i in range(n["target"])]
    domains = [f"domain{i:03d}.example" for i in range(n["domains"])]

    # inventory.yaml: what Get-ExchangeServer does not know, plus policy.
    y = [
        "organisation: Benchmark org",
        "plan:",
        "  start: 2026-12-07",
        "  mail_flow_target: exchange-online",
        "  identity_batch_size: 500",
        "  maintenance_windows:",
        '    - {day: Saturday, start: "20:00", end: "23:59"}',
        '    - {day: Sunday, start: "08:00", end: "18:00"}',
        "sites:",
    ]
    for i, s in enumerate(sites):
        y += [f"  - name: {s}", f"    subnets: [10.{i}.0.0/16]"]
    y.append("servers:")
    for j, (name, site) in enumerate(legacy):
        i = sites.index(site)
        y += [
            f"  - name: {name}",
            f"    site: {site}",
            '    version: "2010"',
            "    os: Windows Server 2008 R2",
            f"    ip: [10.{i}.1.{10 + j // len(sites)}]",
            "    lifecycle: legacy",
        ]
        if j == 0:
            y.append("    hybrid: true")
    for j, (name, site) in enumerate(target):
        i = sites.index(site)
        y += [
            f"  - name: {name}",
            f"    site: {site}",
            '    version: "2016"',
            "    os: Windows Server 2016",
            f"    ip: [10.{i}.2.{10 + j // len(sites)}]",
            "    lifecycle: target",
        ]
        if j == 0:
            y.append("    hybrid: true")
    y.append("dns:")
    for k, d in enumerate(domains):
        y += [
            f"  - domain: {d}",
            f"    mx: [{{host: mail.{domains[0]}, preference: 10, ttl: {3600 if k % 2 else 86400}}}]",
            '    spf: "v=spf1 ip4:203.0.113.25 include:spf.protection.outlook.com -all"',
            "    spf_ttl: 3600",
        ]
    y += [
        "tenant:",
        "  initial_domain: tenant.onmicrosoft.com",
        f"  verified_domains: [{', '.join([*domains, 'tenant.onmicrosoft.com'])}]",
        "  mx_hosts:",
        *(f"    {d}: {d.replace('.', '-')}.mail.protection.outlook.com" for d in domains),
        "  source_anchor: mS-DS-ConsistencyGuid",
        "  soft_match_upn: true",
        "relay:",
        "  method: anonymous",
        '  name: "{name} {server}"',
        "  targets:",
        *(f"    {s}: [{', '.join(t for t, ts in target if ts == s)}]" for s in sites),
        "  public_ranges: [203.0.113.0/28]",
        *(
            [f"  smtp_alias: smtp.{domains[0]}"]
            if org_wide_alias
            else ["  smtp_alias:", *(f"    {s}: smtp-{s.lower()}.{domains[0]}" for s in sites)]
        ),
    ]
    (out / "inventory.yaml").write_text("\n".join(y) + "\n", encoding="utf-8")

    servers = [
        [
            name,
            f"{name}.corp.example",
            "Mailbox, ClientAccess, HubTransport",
            f"corp.example/Configuration/Sites/{site}",
            "Version 14.3 (Build 123.4)",
            "Enterprise",
            "14.03.0513.000",
        ]
        for name, site in legacy
    ] + [
        [
            name,
            f"{name}.corp.example",
            "Mailbox",
            f"corp.example/Configuration/Sites/{site}",
            "Version 15.1 (Build 2507.6)",
            "Standard",
            "15.01.2507.055",
        ]
        for name, site in target
    ]
    (out / "ExchangeServers.csv").write_bytes(
        _csv(
            "Selected.Microsoft.Exchange.Data.Directory.Management.ExchangeServer",
            [
                "Name",
                "Fqdn",
                "ServerRole",
                "Site",
                "AdminDisplayVersion",
                "Edition",
                "ExSetupVersion",
            ],
            servers,
        ).encode("ascii")
    )

    rc_header = [
        "Identity",
        "Server",
        "Name",
        "TransportRole",
        "Bindings",
        "RemoteIPRanges",
        "AuthMechanism",
        "PermissionGroups",
        "MaxMessageSize",
        "Fqdn",
        "Enabled",
        "ProtocolLoggingLevel",
        "Comment",
    ]
    rc: list[list[object]] = []
    perms: list[list[object]] = []
    for name, _site in legacy:
        rc.append(
            [
                f"{name}\\Default {name}",
                name,
                f"Default {name}",
                "HubTransport",
                "0.0.0.0:25",
                "0.0.0.0-255.255.255.255",
                "Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer",
                "ExchangeUsers, ExchangeServers, ExchangeLegacyServers",
                "10 MB (10,485,760 bytes)",
                f"{name}.corp.example",
                "True",
                "None",
                "",
            ]
        )
    in_site = dict.fromkeys(sites, 0)  # relay connectors so far per site: unique /28 ranges
    for k in range(n["relay"]):
        name, site = legacy[k % len(legacy)]
        i = sites.index(site)
        c = in_site[site]
        in_site[site] += 1
        conn = f"Relay App {k:04d}"
        rc.append(
            [
                f"{name}\\{conn}",
                name,
                conn,
                "HubTransport",
                "0.0.0.0:25",
                f"10.{i}.{100 + c // 16}.{(c % 16) * 16}/28",
                "Tls",
                "AnonymousUsers",
                "10 MB (10,485,760 bytes)",
                f"{name}.corp.example",
                "True",
                "None",
                f"application {k}",
            ]
        )
        perms.append(
            [
                f"{name}\\{conn}",
                "NT AUTHORITY\\ANONYMOUS LOGON",
                "ExtendedRight",
                "ms-Exch-SMTP-Accept-Any-Recipient",
                "False",
                "False",
                "All",
            ]
        )
    (out / "ReceiveConnectors.csv").write_bytes(
        _csv(
            "Selected.Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector",
            rc_header,
            rc,
        ).encode("utf-8-sig")
    )
    (out / "ADPermissions.csv").write_bytes(
        _csv(
            "Selected.Microsoft.Exchange.Management.RecipientTasks.ADAcePresentationObject",
            [
                "Identity",
                "User",
                "AccessRights",
                "ExtendedRights",
                "Deny",
                "IsInherited",
                "InheritanceType",
            ],
            perms,
        ).encode("utf-8-sig")
    )
    (out / "AcceptedDomains.csv").write_bytes(
        _csv(
            "Selected.Microsoft.Exchange.Data.Directory.SystemConfiguration.AcceptedDomain",
            ["Name", "DomainName", "DomainType", "Default"],
            [[d, d, "Authoritative", "True" if k == 0 else "False"] for k, d in enumerate(domains)],
        ).encode("ascii")
    )

    ad_rows: list[list[object]] = []
    cloud_rows: list[list[object]] = []
    for u in range(users):
        d = domains[u % len(domains)]
        mail = f"user{u}@{d}"
        upn = f"user{u}@corp.local" if u % 8 == 3 else mail
        if u % 5000 == 4999:
            upn = f"user {u}@{d}"
        guid = f"00000000-0000-4000-8000-{u:012d}"
        ad_rows.append(
            [
                f"User {u}",
                guid,
                f"user{u}",
                f"CN=User {u},OU=Users,OU=Site{u % len(sites):02d},DC=corp,DC=example",
                upn,
                mail,
                f"SMTP:{mail}",
                None,
                "1",
                f"10000000-0000-4000-8000-{u:012d}",
                None,
                "True",
            ]
        )
        cloud_rows.append(
            [
                f"20000000-0000-4000-8000-{u:012d}",
                f"User {u}",
                f"user{u}@{d}",
                f"user{u}@{d}",
                f"SMTP:user{u}@{d}",
                "",
                "",
                "",
                "False",
                "",
            ]
        )
    (out / "ADUsers.csv").write_bytes(
        b"\xff\xfe"
        + _csv(
            "Selected.Microsoft.ActiveDirectory.Management.ADUser",
            [
                "Name",
                "ObjectGUID",
                "SamAccountName",
                "DistinguishedName",
                "UserPrincipalName",
                "mail",
                "proxyAddresses",
                "mS-DS-ConsistencyGuid",
                "msExchRecipientTypeDetails",
                "msExchMailboxGuid",
                "targetAddress",
                "Enabled",
            ],
            ad_rows,
        ).encode("utf-16-le")
    )
    (out / "CloudUsers.csv").write_bytes(
        _csv(
            None,
            [
                "Id",
                "DisplayName",
                "UserPrincipalName",
                "Mail",
                "ProxyAddresses",
                "OnPremisesImmutableId",
                "OnPremisesSyncEnabled",
                "AdminRoles",
                "HasMailbox",
                "ExchangeGuid",
            ],
            cloud_rows,
        ).encode("utf-8")
    )
    return n


def main() -> None:
    """Write one inventory folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--users", type=int, default=FULL_USERS)
    parser.add_argument(
        "--org-wide-alias",
        action="store_true",
        help="one SMTP alias in front of every site (every relay connector on every new server)",
    )
    args = parser.parse_args()
    print(generate(args.out, args.users, org_wide_alias=args.org_wide_alias))


if __name__ == "__main__":
    main()
