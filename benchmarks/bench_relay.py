"""Benchmark: relay mapping and checks for a large organisation.

2,000 relay connectors with 50,000 RemoteIPRanges entries in all, spread over
100 Exchange 2010 servers in 50 sites, and 100 target servers (two per site,
so every relay connector is planned on two servers: 4,000 planned connectors,
100,000 planned entries). Some ranges nest (shadowing) and every 2010 server
has an internal-only connector, so the shadowing and overlap sweeps do real
work. Measures ``plan_relay`` + ``check_relay`` wall time and the process's
peak RSS (``resource.getrusage``), each size in a fresh process; prints the
same at 10x fewer connectors and entries to show the growth.

    /work/venv/bin/python benchmarks/bench_relay.py

Goal (issue 3): under 10 s and 1 GiB at full size.
"""

from __future__ import annotations

import argparse
import ipaddress
import resource
import subprocess
import sys
import time

from migrator.iprange import IPRange
from migrator.model import (
    ADPermission,
    Binding,
    ExchangeVersion,
    Inventory,
    Lifecycle,
    Policy,
    ReceiveConnector,
    Server,
    TransportRole,
)

ANY4 = Binding.parse("0.0.0.0:25")
ANY6 = Binding.parse("[::]:25")
ALL = (IPRange.parse("0.0.0.0-255.255.255.255"), IPRange.parse("::/0"))


def build(connectors: int, entries: int, targets: int = 100, sites: int = 50) -> Inventory:
    """A synthetic organisation of the given size (deterministic)."""
    legacy_per_site = 2
    servers: list[Server] = []
    rcs: list[ReceiveConnector] = []
    perms: list[ADPermission] = []
    for s in range(sites):
        for j in range(legacy_per_site):
            name = f"EX10-{s:02d}{j}"
            servers.append(
                Server(
                    name,
                    ExchangeVersion.EX2010,
                    Lifecycle.LEGACY,
                    site=f"Site{s:02d}",
                    fqdn=f"{name.lower()}.contoso.test",
                    build="14.3.513.0",
                    ip_addresses=(ipaddress.ip_address(f"10.200.{s}.{10 + j}"),),
                )
            )
            rcs.append(
                ReceiveConnector(
                    name,
                    f"Default {name}",
                    (ANY4, ANY6),
                    ALL,
                    permission_groups=("ExchangeUsers", "ExchangeServers"),
                )
            )
            # an internal-only connector nested inside the relay ranges of this server
            rcs.append(
                ReceiveConnector(
                    name,
                    "Internal App",
                    (ANY4,),
                    (IPRange.parse(f"172.20.{s}.{j}"),),
                    permission_groups=("AnonymousUsers",),
                )
            )
    per_target_site = max(targets // sites, 1)
    targets_by_site: list[tuple[str, tuple[str, ...]]] = []
    for s in range(sites):
        names = []
        for j in range(per_target_site):
            name = f"EX16-{s:02d}{j}"
            names.append(name)
            servers.append(
                Server(
                    name,
                    ExchangeVersion.EX2016,
                    Lifecycle.TARGET,
                    site=f"Site{s:02d}",
                    fqdn=f"{name.lower()}.contoso.test",
                    ip_addresses=(ipaddress.ip_address(f"10.201.{s}.{10 + j}"),),
                )
            )
            rcs.append(
                ReceiveConnector(
                    name,
                    f"Default Frontend {name}",
                    (ANY4, ANY6),
                    ALL,
                    transport_role=TransportRole.FRONTEND,
                )
            )
            rcs.append(
                ReceiveConnector(
                    name,
                    f"Default {name}",
                    (Binding.parse("0.0.0.0:2525"),),
                    ALL,
                    transport_role=TransportRole.HUB,
                )
            )
        targets_by_site.append((f"Site{s:02d}", tuple(names)))
    legacy = [s for s in servers if s.lifecycle is Lifecycle.LEGACY]
    per_connector = entries // connectors
    for k in range(connectors):
        srv = legacy[k % len(legacy)]
        site_index = int(srv.site[4:])
        ranges = [IPRange.parse(f"172.20.{site_index}.0/24")] if k % 7 == 0 else []
        base = (10 << 24) + (k << 12)  # a /20 of 10.0.0.0/8 per connector, no two connectors meet
        while len(ranges) < per_connector:
            i = len(ranges)
            if i % 5 == 0:
                ranges.append(IPRange(4, base + i * 64, base + i * 64 + 63))
            else:
                ranges.append(IPRange(4, base + i * 64 + 1, base + i * 64 + 1))
        rc = ReceiveConnector(
            srv.name,
            f"Relay {k:04d}",
            (ANY4,),
            tuple(ranges),
            auth_mechanism=("Tls",),
            permission_groups=("AnonymousUsers",),
            max_message_size_bytes=10 * 1024 * 1024,
        )
        rcs.append(rc)
        perms.append(
            ADPermission(
                rc.identity, "NT AUTHORITY\\ANONYMOUS LOGON", ("Ms-Exch-SMTP-Accept-Any-Recipient",)
            )
        )
    return Inventory(
        "Bench Org",
        servers=tuple(servers),
        receive_connectors=tuple(rcs),
        ad_permissions=tuple(perms),
        policy=Policy(targets_by_site=tuple(targets_by_site)),
    )


def run_one(connectors: int, entries: int, targets: int) -> None:
    """Build, plan and check one size in this process; print one line."""
    from migrator.plan.relay import plan_relay
    from migrator.plan.relay_checks import check_relay

    inv = build(connectors, entries, targets)
    n_entries = sum(
        len(c.remote_ip_ranges) for c in inv.receive_connectors if c.name.startswith("Relay")
    )
    t0 = time.perf_counter()
    plan = plan_relay(inv)
    t1 = time.perf_counter()
    findings = check_relay(inv, plan)
    t2 = time.perf_counter()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    errors = sum(1 for f in findings if f.severity.value == "error")
    print(
        f"connectors={connectors} entries={n_entries} targets={targets} "
        f"planned={len(plan.connectors)} planned_entries={sum(len(p.remote_ip_ranges) for p in plan.connectors)} "
        f"findings={len(findings) + len(plan.findings)} errors={errors} "
        f"plan={t1 - t0:.2f}s check={t2 - t1:.2f}s plan+check={t2 - t0:.2f}s peak_rss={peak_mib:.0f}MiB"
    )


def main() -> None:
    """Run the full size and the 10x smaller one, each in a fresh process."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--one", nargs=3, type=int, metavar=("CONNECTORS", "ENTRIES", "TARGETS"))
    args = ap.parse_args()
    if args.one:
        run_one(*args.one)
        return
    for connectors, entries in ((200, 5_000), (2_000, 50_000)):
        subprocess.run(
            [sys.executable, __file__, "--one", str(connectors), str(entries), "100"], check=True
        )


if __name__ == "__main__":
    main()
