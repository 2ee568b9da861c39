"""Preparation: coexistence prerequisites, AD prep, 2010 protocol logging, MX TTLs."""

from __future__ import annotations

from migrator.model import Inventory, ReceiveConnector, Server
from migrator.plan.phases._common import (
    Estate,
    by_name,
    is_hub,
    minutes,
    runbook,
    step_id,
)
from migrator.plan.phases.mx import mx_domains
from migrator.plan.steps import READS_ONLY, Action, Owner, Phase, RunsIn, Step
from migrator.versions import MIN_2010_BUILD_TEXT, MIN_2010_LABEL, meets_2010_minimum

P = Phase.PREPARE

SUPPORTED_2016_OS = ("windows server 2012", "windows server 2012 r2", "windows server 2016")
"""Operating systems Exchange 2016 runs on (EXCHANGE-RULES, versions and coexistence)."""

LOG_DIRECTORY_MB_PER_DAY = 100
"""Receive protocol log space reserved per day of evidence on a 2010 server (assumption, documented)."""


def _coexistence(server: Server) -> Step:
    """Confirm (or bring) a 2010 server to the minimum build; the title names the minimum, not the build found."""
    sid = step_id(P, "coexistence", server.name)
    found = (
        f"the inventory shows build {server.build}"
        if server.build
        else "no ExSetup.exe build in the inventory"
    )
    common = {
        "id": sid,
        "phase": P,
        "target": server.name,
        "owner": Owner.EXCHANGE_ADMIN,
        "runbook": runbook(P, "coexistence"),
        "verification": (
            f"(Get-Command ExSetup.exe).FileVersionInfo.FileVersion on {server.name} "
            f"is {MIN_2010_BUILD_TEXT} or later"
        ),
    }
    if meets_2010_minimum(server.build):
        return Step(
            title=f"confirm {server.name} is on {MIN_2010_LABEL} or later ({found})",
            runs_in=RunsIn.MANUAL,
            duration_minutes=10,
            maintenance_window=False,
            rollback="none needed: it checks the build",
            instructions=(
                f"Exchange 2016 coexists only with {MIN_2010_LABEL} or later; {found} on "
                f"{server.name}, which meets it. Confirm the file version of ExSetup.exe on the "
                "server before installing Exchange 2016."
            ),
            **common,  # type: ignore[arg-type]
        )
    return Step(
        title=f"bring {server.name} to {MIN_2010_LABEL} or later ({found})",
        runs_in=RunsIn.MANUAL,
        duration_minutes=90,
        reversible=False,
        rollback="",
        instructions=(
            f"Exchange 2016 coexists only with {MIN_2010_LABEL} or later. "
            f"For {server.name} {found} (AdminDisplayVersion does not show the "
            "update rollup). Read the ExSetup.exe file version on the server; if it is older, "
            "install the latest Exchange 2010 SP3 update rollup and restart the server."
        ),
        **common,  # type: ignore[arg-type]
    )


def _supported_os(server: Server) -> Step:
    os_name = server.operating_system.strip()
    known_ok = os_name.lower().removeprefix("microsoft ").strip() in SUPPORTED_2016_OS
    if os_name and not known_ok:
        verdict = f"the inventory says '{os_name}', which Exchange 2016 does not support: pick one of them"
    elif os_name:
        verdict = f"the inventory says '{os_name}'"
    else:
        verdict = "the inventory does not name it"
    return Step(
        id=step_id(P, "supported-os", server.name),
        rollback=READS_ONLY,
        phase=P,
        title=f"confirm {server.name} runs a supported operating system for Exchange 2016",
        target=server.name,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.MANUAL,
        duration_minutes=15,
        maintenance_window=False,
        instructions=(
            "Exchange 2016 runs on Windows Server 2012, 2012 R2 or 2016 only; "
            f"for {server.name} {verdict}."
        ),
        verification="the server's operating system is Windows Server 2012, 2012 R2 or 2016",
        runbook=runbook(P, "coexistence"),
    )


def _ad_prep(est: Estate) -> Step:
    return Step(
        id=step_id(P, "ad-prep"),
        phase=P,
        title="extend the AD schema and prepare AD for Exchange 2016",
        target="Active Directory forest",
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.MANUAL,
        duration_minutes=60,
        wait_minutes=120,
        reversible=False,
        instructions=(
            "From the Exchange 2016 media (the CU you will install), as a member of Schema Admins "
            "and Enterprise Admins, on a machine in the schema master's site run:\n"
            "Setup.exe /PrepareSchema /IAcceptExchangeServerLicenseTerms_DiagnosticDataOFF\n"
            "Setup.exe /PrepareAD /IAcceptExchangeServerLicenseTerms_DiagnosticDataOFF\n"
            "Setup.exe /PrepareAllDomains /IAcceptExchangeServerLicenseTerms_DiagnosticDataOFF\n"
            "Then let AD replication converge before installing servers (the wait)."
        ),
        verification=(
            "rangeUpper of ms-Exch-Schema-Version-Pt matches the CU's schema version on every "
            "domain controller"
        ),
        prerequisites=tuple(step_id(P, "coexistence", s.name) for s in est.legacy_2010),
        runbook=runbook(P, "coexistence"),
    )


def _log_limits(server: Server, days: int) -> Step:
    size_mb = max(250, days * LOG_DIRECTORY_MB_PER_DAY)
    return Step(
        id=step_id(P, "protocol-log-limits", server.name),
        phase=P,
        title=f"keep {days} days of receive protocol logs on {server.name}",
        target=server.name,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_2010,
        duration_minutes=10,
        verification=(
            f"Get-TransportServer {server.name}: ReceiveProtocolLogMaxAge >= {days} days and "
            f"ReceiveProtocolLogMaxDirectorySize >= {size_mb} MB"
        ),
        rollback="set ReceiveProtocolLogMaxAge and ReceiveProtocolLogMaxDirectorySize back to the values the step printed",
        instructions=(
            "Protocol logs are capped (250 MB per directory by default) and aged; raise both so the "
            "relay evidence covers the observation period. Values are only ever raised."
        ),
        action=Action(
            "prepare.protocol-log-limits",
            {"server": server.name, "max_age_days": days, "max_directory_mb": size_mb},
        ),
        runbook=runbook(P, server.name),
    )


def _protocol_logging(
    server: Server, connectors: list[ReceiveConnector], relays: list[str]
) -> Step:
    """Verbose protocol logging on every receive connector of a 2010 server, not only the relay ones.

    Custom connectors log nothing by default (``ProtocolLoggingLevel None``),
    and the Default connectors of 2010 do not log either: a non-Exchange client
    of an internal-only or Default connector would otherwise leave no trace,
    and removing the server would cut it off silently. The same logs feed the
    relay observation, the soak check after disabling a relay connector, and
    the check before the server is removed.
    """
    names = sorted((c.name for c in connectors), key=str.lower)
    previous = {c.name: c.protocol_logging_level for c in connectors}
    return Step(
        id=step_id(P, "protocol-logging", server.name),
        phase=P,
        title=f"enable Verbose protocol logging on every receive connector of {server.name}",
        target=server.name,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_2010,
        duration_minutes=5 + len(names),
        verification="ProtocolLoggingLevel is Verbose on every receive connector of the server (read back by the step)",
        rollback=(
            "Set-ReceiveConnector -ProtocolLoggingLevel back to the level the inventory shows: "
            + (", ".join(f"{n} {previous[n]}" for n in names) if names else "None on each")
        ),
        instructions=(
            "Custom connectors and the 2010 Default connectors log nothing by default; Verbose "
            "logging on every connector of the server collects the evidence of which clients "
            f"still use it (relay connectors: {', '.join(relays) if relays else 'none'}), for the "
            "relay observation, the soak after disabling, and the check before the server is removed."
        ),
        action=Action(
            "prepare.relay-logging",
            {"server": server.name, "connectors": names, "all_connectors": True},
        ),
        prerequisites=(step_id(P, "protocol-log-limits", server.name),),
        runbook=runbook(P, server.name),
    )


def _mx_ttl(inv: Inventory, domain: str, ttl: int) -> Step:
    return Step(
        id=step_id(P, "mx-ttl", domain),
        phase=P,
        title=f"lower the MX TTL of {domain} from {ttl} s to 3600 s",
        target=domain,
        owner=Owner.DNS_ADMIN,
        runs_in=RunsIn.DNS_CONSOLE,
        duration_minutes=15,
        wait_minutes=minutes(ttl),
        rollback=f"set the MX TTL of {domain} back to {ttl} s",
        instructions=(
            f"The MX records of {domain} have a TTL of {ttl} s. Lower it to 3600 s now, so the "
            "cut-over later only has to wait an hour for caches; the mx phase lowers it further "
            "just before the change."
        ),
        verification=f"Resolve-DnsName -Name {domain} -Type MX against the authoritative server shows TTL 3600",
        runbook=runbook(P, "dns"),
    )


LOG_MARGIN_DAYS = 14
"""Days of receive protocol logs kept beyond the longest period a check reads: the soak check runs
when the schedule reaches it, after the soak (35 days after the disable in the Contoso plan for a
33-day soak), and reads back to the disable. A retention of exactly the soak length makes Exchange
delete the first days after the disable, when forgotten clients fail (review 4, R1)."""


def log_days(inv: Inventory) -> int:
    """Days of receive protocol logs every observation needs (the one rule; ``MaxAgeDays`` of the
    prepare and servers phases): the evidence window, the observation before disabling a relay
    connector and the soak after it, whichever is longest, plus :data:`LOG_MARGIN_DAYS` for the
    scheduling slack."""
    p = inv.policy
    return max(p.log_days_wanted, p.observation_days, p.soak_days) + LOG_MARGIN_DAYS


def prepare_steps(inv: Inventory, est: Estate) -> list[Step]:
    """Every preparation step the inventory calls for."""
    steps: list[Step] = [_coexistence(s) for s in est.legacy_2010]
    steps.extend(_supported_os(s) for s in est.hop)
    if est.hop:
        steps.append(_ad_prep(est))
    relay_by_server: dict[str, list[str]] = {}
    for c in est.relay_connectors:
        relay_by_server.setdefault(c.server.lower(), []).append(c.name)
    days = log_days(inv)
    for server in by_name(est.legacy_2010):
        relays = relay_by_server.get(server.name.lower(), [])
        connectors = list(inv.connectors_on(server.name))
        if not (is_hub(server) or connectors) or server.is_edge:
            continue
        steps.append(_log_limits(server, days))
        steps.append(_protocol_logging(server, connectors, relays))
    moving = set(mx_domains(inv))  # no TTL work for a domain whose MX the plan leaves alone
    for zone in sorted(inv.dns_zones, key=lambda z: z.domain.lower()):
        ttl = max((r.ttl_seconds for r in zone.mx), default=0)
        if ttl > 3600 and zone.domain.lower() in moving:
            steps.append(_mx_ttl(inv, zone.domain.lower(), ttl))
    return steps
