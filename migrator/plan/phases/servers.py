"""New servers: install 2016 per site, certificates, namespace, load balancer, SMTP alias,
send connectors, outbound addresses and Edge subscriptions."""

from __future__ import annotations

from collections.abc import Sequence

from migrator.checks.certificates import certificate_need, transport_names
from migrator.model import Inventory, SendConnector, Server, TransportRole
from migrator.plan.phases._common import Estate, by_name, runbook, step_id
from migrator.plan.phases.client_access import (
    NAMESPACE,
    client_access_steps,
    server_client_access_steps,
)
from migrator.plan.phases.prepare import SUPPORTED_2016_OS, log_days
from migrator.plan.relay import load_balancer_pool
from migrator.plan.steps import READS_ONLY, Action, Owner, Phase, RunsIn, Step

P = Phase.SERVERS
PREP = Phase.PREPARE


def _site(server: Server) -> str:
    return server.site or "no-site"


certificate_names = transport_names
"""Host names the transport certificate must cover (see :func:`migrator.checks.certificates.transport_names`)."""


def _install(server: Server, est: Estate) -> Step:
    role = "Edge Transport" if server.is_edge else "Mailbox"
    os_note = server.operating_system or "a supported Windows Server (2012, 2012 R2 or 2016)"
    prereqs = [step_id(PREP, "supported-os", server.name), step_id(PREP, "ad-prep")]
    return Step(
        id=step_id(P, "install", server.name),
        phase=P,
        title=f"install Exchange 2016 ({role}) on {server.name} in site {_site(server)}",
        target=server.name,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.MANUAL,
        duration_minutes=240,
        reversible=True,
        rollback=f"uninstall Exchange from {server.name} (Setup.exe /Mode:Uninstall) before any mail flows through it",
        instructions=(
            f"On {server.name} ({os_note}), install the latest Exchange 2016 CU and the latest "
            "hotfix/security update (April 2025 HU or later, which hybrid needs):\n"
            f"Setup.exe /Mode:Install /Roles:{'EdgeTransport' if server.is_edge else 'Mailbox'} "
            "/IAcceptExchangeServerLicenseTerms_DiagnosticDataOFF\n"
            "Restart, then check the server with Get-ExchangeServer and Test-ServiceHealth."
        ),
        verification=f"Get-ExchangeServer {server.name} shows Version 15.1; Test-ServiceHealth shows every required service running",
        prerequisites=(*prereqs, *(step_id(PREP, "coexistence", s.name) for s in est.legacy_2010)),
        runbook=runbook(P, _site(server)),
    )


def _certificate(inv: Inventory, server: Server, hybrid: bool, phase: Phase = P) -> Step:
    need = certificate_need(inv, server)
    listed = ", ".join(need.names) if need.names else "(the inventory names none)"
    if need.missing:
        doing = (
            f"The inventory has no usable certificate for it ({need.missing}): import one from a "
            "third-party CA first; the step then checks it and enables it for IIS and SMTP."
        )
    elif need.import_from:
        legacy = {s.name.lower() for s in inv.legacy_servers}
        via_2010 = (
            f" {need.import_from} is an Exchange 2010 server: if the 2016 shell cannot export "
            "from it, export the certificate in EMS 2010 (Export-ExchangeCertificate "
            "-BinaryEncoded) and import it here with Import-ExchangeCertificate -FileData."
            if need.import_from.lower() in legacy
            else ""
        )
        doing = (
            f"It has no usable certificate: the step exports {need.thumbprint} with its private key "
            f"(which must be exportable) from {need.import_from} (Export-ExchangeCertificate, asks "
            "for a password to protect it in transit), imports "
            f"it on {server.name} (Import-ExchangeCertificate) and enables it for IIS and SMTP."
            + via_2010
        )
    elif need.enable:
        doing = (
            f"Certificate {need.thumbprint} is on it but not enabled for "
            f"{' and '.join(need.enable)}: the step enables it for IIS and SMTP."
        )
    else:
        doing = f"Certificate {need.thumbprint} is on it and enabled for IIS and SMTP: the step checks it."
    return Step(
        id=step_id(phase, "certificate", server.name),
        phase=phase,
        title=f"install the transport/IIS certificate on {server.name}",
        target=server.name,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=45,
        instructions=(
            "Every server behind the namespace answers clients with its IIS certificate and "
            "Exchange Online with its SMTP certificate: it needs a non-self-signed, unexpired "
            f"certificate covering {listed}, enabled for IIS and SMTP "
            "(Enable-ExchangeCertificate -Services IIS,SMTP -Force: without -Force it stops to "
            "ask about replacing the default SMTP certificate). "
            + doing
            + (
                " This server carries hybrid mail: the certificate must come from a third-party CA "
                "(the Hybrid Configuration Wizard refuses private-CA and self-signed ones)."
                if hybrid
                else ""
            )
        ),
        verification=(
            "the step reads the certificate back: not self-signed, unexpired, covers every name, "
            "enabled for IIS and SMTP"
        ),
        rollback="enable the previous certificate again for IIS and SMTP (Enable-ExchangeCertificate -Force)",
        action=Action(
            "servers.certificate",
            {
                "server": server.name,
                "names": list(need.names),
                "thumbprint": need.thumbprint,
                "import_from": need.import_from,
                "enable": bool(need.enable),
                "third_party": hybrid,
                "exclude": [],
            },
        ),
        prerequisites=(step_id(phase, "install", server.name),),
        maintenance_window=True,
        runbook=runbook(phase, server.name),
    )


certificate_step = _certificate
"""The certificate step of a new server behind the namespace (the onward phase's too, by ``phase``)."""

FRONTEND_LOG_DIRECTORY_MB_PER_DAY = 100
"""Front End receive protocol log space reserved per day of evidence (assumption, as for 2010)."""


def _frontend_log_limits(server: Server, days: int) -> Step:
    """Keep the Front End receive protocol logs as long as the onward observation and soak need.

    Relay connectors on 2013+ live on Front End Transport, whose receive
    protocol logs are capped (250 MB per directory by default) and aged
    (30 days): the onward phase observes the 2016 relay connectors and soaks
    them after disabling from these logs, so both limits are raised (never
    lowered) with Set-FrontendTransportService and read back.
    """
    size_mb = max(250, days * FRONTEND_LOG_DIRECTORY_MB_PER_DAY)
    return Step(
        id=step_id(P, "protocol-log-limits", server.name),
        phase=P,
        title=f"keep {days} days of Front End receive protocol logs on {server.name}",
        target=server.name,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=10,
        verification=(
            f"Get-FrontendTransportService {server.name}: ReceiveProtocolLogMaxAge >= {days} days "
            f"and ReceiveProtocolLogMaxDirectorySize >= {size_mb} MB (read back by the step)"
        ),
        rollback=(
            "set ReceiveProtocolLogMaxAge and ReceiveProtocolLogMaxDirectorySize back to the values "
            "the step printed"
        ),
        instructions=(
            "The Front End Transport receive logs (where relay connectors log on 2013+) are capped "
            "and aged; raise both so the onward observation and soak cover their whole period. "
            "Values are only ever raised."
        ),
        action=Action(
            "servers.frontend-log-limits",
            {"server": server.name, "max_age_days": days, "max_directory_mb": size_mb},
        ),
        prerequisites=(step_id(P, "install", server.name),),
        runbook=runbook(P, server.name),
    )


def _frontend_logging(inv: Inventory, server: Server) -> Step:
    """Verbose protocol logging on every Front End Transport receive connector of a 2016 server.

    The onward soak reads the Front End receive logs of the 2016 server and
    requires each enabled Front End connector to log Verbose (a client refused
    on Default Frontend or Client Frontend leaves evidence only then); 2016 sets
    up some of them with ProtocolLoggingLevel None. Set from the servers phase
    on, so the evidence covers the whole life of the 2016 hop. Hub Transport
    connectors log to another folder the Front End checks do not read.
    """
    low = server.name.lower()
    mine = [
        c
        for c in inv.receive_connectors
        if c.server.lower() == low and c.transport_role is TransportRole.FRONTEND
    ]
    names = sorted((c.name for c in mine), key=str.lower)
    previous = {c.name: c.protocol_logging_level for c in mine}
    return Step(
        id=step_id(P, "protocol-logging", server.name),
        phase=P,
        title=f"enable Verbose protocol logging on every Front End receive connector of {server.name}",
        target=server.name,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=5 + len(names),
        verification=(
            "ProtocolLoggingLevel is Verbose on every FrontendTransport receive connector of the"
            " server (read back by the step)"
        ),
        rollback=(
            "Set-ReceiveConnector -ProtocolLoggingLevel back to the level the inventory shows: "
            + (", ".join(f"{n} {previous[n]}" for n in names) if names else "None on each")
        ),
        instructions=(
            "The onward observation and soak read the Front End receive protocol logs of this"
            " server: a client refused on a Front End connector that does not log leaves no"
            " evidence, and the soak check stops on such a connector. Hub Transport connectors"
            " are left as they are."
        ),
        action=Action("servers.frontend-logging", {"server": server.name, "connectors": names}),
        prerequisites=(step_id(P, "protocol-log-limits", server.name),),
        runbook=runbook(P, server.name),
    )


def load_balancer_step(
    inv: Inventory,
    lb_name: str,
    servers: Sequence[Server],
    snat: bool,
    phase: Phase = P,
    replaces: Sequence[Server] = (),
    prerequisites: tuple[str, ...] | None = None,
) -> Step:
    """Add the new servers of the pool's own sites (:func:`load_balancer_pool`) to one load balancer.

    The onward phase uses the same step (``phase``) for the final-version servers, which then take the
    pool over from the hop's servers (``replaces``: drained and taken out once the new ones are healthy).
    """
    names = ", ".join(s.name for s in servers)
    old = ", ".join(s.name for s in replaces)
    return Step(
        id=step_id(phase, "load-balancer", lb_name),
        phase=phase,
        title=f"add {names} to load balancer {lb_name} (SMTP 25 and HTTPS)"
        + (f", then drain and remove {old}" if replaces else ""),
        target=lb_name,
        owner=Owner.NETWORK_ADMIN,
        runs_in=RunsIn.MANUAL,
        duration_minutes=60,
        instructions=(
            f"Add {names} to the SMTP (25) and HTTPS pools of {lb_name}, "
            "with health checks; only these servers: they serve the sites of the servers behind it "
            "and carry every relay connector its clients need (a server without them answers "
            "550 5.7.54). "
            + (
                "It source-NATs: every client appears as the load balancer's address, so relay "
                "connectors cannot tell clients apart behind it; prefer a non-SNAT (transparent) "
                "SMTP virtual server for relay clients."
                if snat
                else "Keep it transparent (no SNAT) so relay connectors see the real client addresses."
            )
            + (
                f" Once they are healthy, drain {old} and take it out of the SMTP pool (Internet and"
                " Exchange Online mail and NAT relay clients then reach only the new servers), and out"
                " of the HTTPS pool no later than its removal; its relay connectors are disabled and"
                " the server removed only after this step."
                if replaces
                else ""
            )
        ),
        verification=f"{lb_name} shows every new server healthy on port 25 and 443"
        + (f" and {old} in no SMTP pool" if replaces else ""),
        rollback=f"remove the new servers from the pools of {lb_name}"
        + (f" and put {old} back" if replaces else ""),
        prerequisites=prerequisites
        if prerequisites is not None
        else tuple(step_id(phase, "install", s.name) for s in servers),
        runbook=runbook(phase, "network"),
    )


def _smtp_alias(inv: Inventory) -> Step:
    aliases = inv.policy.smtp_aliases
    alias = ", ".join(aliases)
    per_site = ", ".join(f"{site}: {a}" for site, a in inv.policy.site_smtp_aliases)
    text = (
        f"Make sure relay clients send to the DNS alias {alias} (not to server names) and lower "
        "its TTL to 300 s, so the relay phase can repoint it in minutes."
        if inv.policy.smtp_alias.strip()
        else f"Make sure the relay clients of each site send to their site's DNS alias ({per_site};"
        " not to server names) and lower each alias's TTL to 300 s, so the relay phase can repoint"
        " them in minutes."
        if aliases
        else "The inventory names no SMTP alias (relay.smtp_alias): create one (e.g. a CNAME "
        "smtp.<your domain>) pointing at the current 2010 relay servers, with a 300 s TTL, and "
        "move relay clients to it, so the relay phase can repoint it in one place."
    )
    return Step(
        id=step_id(P, "smtp-alias"),
        phase=P,
        title=f"prepare the SMTP alias{'es' if len(aliases) > 1 else ''} {alias or '(to be created)'} for relay clients",
        target=alias or "SMTP alias",
        owner=Owner.DNS_ADMIN,
        runs_in=RunsIn.DNS_CONSOLE,
        duration_minutes=20,
        instructions=text,
        verification="Resolve-DnsName for the alias returns the current relay servers with TTL 300",
        rollback="restore the alias TTL",
        runbook=runbook(P, "network"),
    )


def _movable(sc: SendConnector, legacy: set[str], has_edge: bool) -> bool:
    if sc.is_hybrid:
        return False  # the hybrid phase moves it, with the HCW
    if has_edge and sc.name.lower().startswith("edgesync"):
        return False  # recreated by the new Edge subscription
    return any(s.lower() in legacy for s in sc.source_transport_servers)


def _successors(sc: SendConnector, inv: Inventory, est: Estate) -> list[str]:
    sources = [inv.server(n) for n in sc.source_transport_servers]
    sites = {s.site.lower() for s in sources if s is not None and s.site}
    same_site = [s for s in est.hop_mailbox if s.site.lower() in sites]
    chosen = same_site or list(est.hop_mailbox)
    return [s.name for s in by_name(chosen)]


def send_connector_steps(inv: Inventory, est: Estate) -> list[Step]:
    """Add the new servers to every non-hybrid send connector the 2010 servers source."""
    legacy = {s.name.lower() for s in est.legacy_2010}
    out = []
    outbound = [step_id(P, "outbound-ip")]
    for sc in sorted(inv.send_connectors, key=lambda c: c.name.lower()):
        if not _movable(sc, legacy, est.has_edge):
            continue
        add = _successors(sc, inv, est)
        if not add:
            continue
        kind = "Internet" if sc.is_internet else "partner/other"
        out.append(
            Step(
                id=step_id(P, "send-connector", sc.name),
                phase=P,
                title=f"add {', '.join(add)} to the source servers of send connector {sc.name} ({kind})",
                target=sc.name,
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.EMS_NEW,
                duration_minutes=15,
                instructions=(
                    "The new servers send alongside the 2010 ones for now; the decommission phase "
                    "removes the 2010 servers from this connector."
                ),
                verification="SourceTransportServers read back includes the new servers (checked by the step); a test message to an external address leaves through a new server (message tracking)",
                rollback=f"Set-SendConnector '{sc.name}' -SourceTransportServers back to {', '.join(sc.source_transport_servers)}",
                action=Action(
                    "servers.send-connector-add",
                    {"connector": sc.name, "add": add, "remove": []},
                ),
                prerequisites=(
                    *outbound,
                    *(step_id(P, "certificate", n) for n in add),
                ),
                runbook=runbook(P, "send-connectors"),
            )
        )
    return out


def _outbound_ip(inv: Inventory, est: Estate, partner_connectors: list[str]) -> Step:
    addresses = ", ".join(
        f"{s.name} ({', '.join(str(a) for a in s.ip_addresses) or 'address not in inventory'})"
        for s in est.hop_mailbox
    )
    zones = sorted(z.domain.lower() for z in inv.dns_zones if z.spf)
    partner_text = (
        " Ask the partners behind " + ", ".join(partner_connectors) + " to allow the new addresses."
        if partner_connectors
        else ""
    )
    return Step(
        id=step_id(P, "outbound-ip"),
        phase=P,
        title="publish the new outbound addresses: SPF, PTR and partner allow-lists",
        target="outbound mail addresses",
        owner=Owner.DNS_ADMIN,
        runs_in=RunsIn.DNS_CONSOLE,
        duration_minutes=60,
        wait_minutes=60,
        instructions=(
            f"New servers: {addresses}. For the public address each one sends from (after NAT), "
            "add it to SPF"
            + (f" ({', '.join(zones)})" if zones else "")
            + ", create a PTR record matching the send connector FQDN, and keep every existing "
            "on-premises address in SPF while relay clients still send out through them."
            + partner_text
        ),
        verification="Resolve-DnsName -Type TXT shows the new addresses in SPF; the PTR of each new public address resolves to the connector FQDN",
        rollback="remove the added SPF entries and PTR records",
        prerequisites=tuple(step_id(P, "install", s.name) for s in est.hop_mailbox),
        runbook=runbook(P, "dns"),
    )


def _edge(edge: Server, est: Estate) -> Step:
    return Step(
        id=step_id(P, "edge-subscription", edge.name),
        phase=P,
        title=f"recreate the Edge subscription of {edge.name} for the Exchange 2016 servers",
        target=edge.name,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.MANUAL,
        duration_minutes=60,
        instructions=(
            f"On {edge.name} run New-EdgeSubscription -FileName C:\\edge.xml; on a 2016 Mailbox "
            "server import it with New-EdgeSubscription -FileData ([IO.File]::ReadAllBytes(...)) "
            "-Site <site>, then Start-EdgeSynchronization. The EdgeSync send connectors then "
            "source from the new servers."
        ),
        verification="Test-EdgeSynchronization shows SyncStatus Normal for the new servers",
        rollback="Remove-EdgeSubscription for the new subscription and restore the old one",
        prerequisites=tuple(step_id(P, "install", s.name) for s in est.hop_mailbox)
        + ((step_id(P, "install", edge.name),) if edge in est.hop else ()),
        runbook=runbook(P, "edge"),
    )


def _readiness(prereqs: list[str]) -> Step:
    return Step(
        id=step_id(P, "readiness"),
        rollback=READS_ONLY,
        phase=P,
        title="go/no-go: the Exchange 2016 servers are ready for production mail",
        target="Exchange 2016 servers",
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.MANUAL,
        duration_minutes=30,
        maintenance_window=False,
        instructions=(
            "Confirm every new server is installed, patched, has its certificate and virtual "
            "directory URLs and sits behind the load balancer; Test-ServiceHealth and "
            "Test-Mailflow pass. The client namespace moves to the new servers only after this "
            "checkpoint, as do the relay, hybrid and MX steps."
        ),
        verification="Test-ServiceHealth and Test-Mailflow succeed on each new server",
        prerequisites=tuple(prereqs),
        runbook=runbook(P, "readiness"),
    )


def servers_steps(inv: Inventory, est: Estate, hybrid_names: set[str]) -> list[Step]:
    """Every step of the servers phase (empty when no 2016 server is planned)."""
    if not est.hop:
        return []
    steps: list[Step] = []
    for server in est.hop:
        steps.append(_install(server, est))
        if server.is_edge:
            continue
        steps.append(_certificate(inv, server, server.name.lower() in hybrid_names))
        steps.extend(server_client_access_steps(inv, server))
        steps.append(_frontend_log_limits(server, log_days(inv)))
        steps.append(_frontend_logging(inv, server))
    mailbox = list(est.hop_mailbox)
    client_access = client_access_steps(inv, est)
    org_wide = {s.id for s in client_access if s.phase is P} - {NAMESPACE}
    steps.extend(s for s in client_access if s.phase is P)
    for lb in sorted(inv.load_balancers, key=lambda b: b.name.lower()):
        pool = list(load_balancer_pool(inv, lb))
        if pool:
            steps.append(load_balancer_step(inv, lb.name, pool, lb.source_nat))
    steps.append(_smtp_alias(inv))
    connectors = send_connector_steps(inv, est)
    moved = {s.target.lower() for s in connectors}
    partners = sorted(
        sc.name
        for sc in inv.send_connectors
        if not sc.is_internet and not sc.is_hybrid and sc.name.lower() in moved
    )
    if mailbox:
        steps.append(_outbound_ip(inv, est, partners))
    steps.extend(connectors)
    edges = by_name(s for s in (*est.legacy_2010, *est.hop) if s.is_edge)
    steps.extend(_edge(e, est) for e in edges)
    # go/no-go before the namespace cut-over, which then waits for it (review M2)
    gate = [
        s.id
        for s in steps
        if not s.id.startswith(step_id(P, "send-connector"))
        and s.id != NAMESPACE
        and s.id not in org_wide
    ]
    steps.append(_readiness(gate))
    # the prepare-phase part (the OAB of the 2010 databases) goes with the servers it precedes
    steps.extend(s for s in client_access if s.phase is not P)
    return steps


__all__ = [
    "SUPPORTED_2016_OS",
    "certificate_names",
    "certificate_step",
    "load_balancer_step",
    "servers_steps",
]
