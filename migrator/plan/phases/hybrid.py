"""Hybrid server replacement (seed article "Upgrade Hybrid Server to Exchange 2016")."""

from __future__ import annotations

from dataclasses import dataclass

from migrator.model import Certificate, Inventory, SendConnector, Server
from migrator.plan.phases._common import Estate, runbook, step_id
from migrator.plan.steps import READS_ONLY, Action, Owner, Phase, RunsIn, Step

P = Phase.HYBRID
S = Phase.SERVERS


@dataclass(frozen=True)
class HybridSetup:
    """Which servers hand the hybrid role over, and through which connector."""

    old: tuple[Server, ...]
    """Legacy hybrid server(s)."""
    new: Server
    """The 2016 server taking the hybrid role."""
    send_connector: SendConnector | None
    """The hybrid send connector, where the inventory has one."""
    tls_name: str
    """Name Exchange Online checks on the on-premises certificate (TlsSenderCertificateName)."""
    chosen_by_plan: bool
    """True when the inventory marked no 2016 server as hybrid and the plan picked one."""


def hybrid_setup(inv: Inventory, est: Estate) -> HybridSetup | None:
    """The hybrid hand-over, or None when the organisation is not hybrid (or has no 2016 server)."""
    hybrid_connector = next(
        (c for c in sorted(inv.send_connectors, key=lambda c: c.name.lower()) if c.is_hybrid), None
    )
    old = tuple(s for s in est.legacy_2010 if s.hybrid)
    if hybrid_connector is None and not old and inv.tenant is None:
        return None
    candidates = list(est.hop_mailbox)
    if not candidates:
        return None
    marked = [s for s in candidates if s.hybrid]
    new = marked[0] if marked else None
    chosen = new is None
    if new is None:
        old_sites = {s.site.lower() for s in old}
        same_site = [s for s in candidates if s.site.lower() in old_sites]
        new = (same_site or candidates)[0]
    tls_name = ""
    if hybrid_connector is not None and hybrid_connector.fqdn:
        tls_name = hybrid_connector.fqdn.lower()
    elif old:
        tls_name = _cert_name(inv.certificates, old[0].name)
    return HybridSetup(old, new, hybrid_connector, tls_name, chosen)


def _cert_name(certs: tuple[Certificate, ...], server: str) -> str:
    for c in sorted(certs, key=lambda c: c.thumbprint):
        if (
            c.server.lower() == server.lower()
            and not c.self_signed
            and "SMTP" in {x.upper() for x in c.services}
        ):
            for part in c.subject.split(","):
                key, _, value = part.strip().partition("=")
                if key.upper() == "CN":
                    return value.strip().lower()
    return ""


def hybrid_steps(inv: Inventory, setup: HybridSetup) -> list[Step]:
    """The hybrid server replacement, in the order of the seed article."""
    new = setup.new.name
    old_names = [s.name for s in setup.old]
    rb = runbook(P, "hybrid")
    note = (
        f" (the inventory marks no 2016 server as hybrid; the plan picked {new}: set hybrid: true "
        "on the server you want in inventory.yaml)"
        if setup.chosen_by_plan
        else ""
    )
    steps: list[Step] = []
    hotfix = Step(
        id=step_id(P, "hotfix-level", new),
        rollback="none needed: it only compares the build (an installed update stays)",
        phase=P,
        title=f"confirm {new} runs the April 2025 hotfix update or later{note}",
        target=new,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.MANUAL,
        duration_minutes=15,
        maintenance_window=False,
        instructions=(
            "Hybrid with Exchange Online needs servers on the April 2025 hotfix update (HU) or "
            "later. Compare the ExSetup.exe file version with Microsoft's Exchange build numbers "
            f"page (build {setup.new.build or 'not in the inventory'}); install the newest HU if older."
        ),
        verification="ExSetup.exe file version is that of the April 2025 HU or a later update",
        prerequisites=(step_id(S, "readiness"),),
        runbook=rb,
    )
    publish = Step(
        id=step_id(P, "publish-ews", new),
        phase=P,
        title=f"publish EWS and Autodiscover on {new} to the Internet",
        target=new,
        owner=Owner.NETWORK_ADMIN,
        runs_in=RunsIn.MANUAL,
        duration_minutes=60,
        instructions=(
            f"Point the firewall/reverse-proxy rule for EWS (/EWS/Exchange.asmx) and Autodiscover "
            f"at {new} (or its load balancer), so Exchange Online reaches them for free/busy and "
            "mailbox moves. Keep the federation trust while 2010 mailboxes remain."
        ),
        verification="from outside, https://<ews name>/EWS/Exchange.asmx answers with 401 from the new server; the Microsoft Remote Connectivity Analyzer EWS test passes",
        rollback=f"point the rule back at {', '.join(old_names) or 'the old server'}",
        prerequisites=(hotfix.id,),
        runbook=rb,
    )
    configure = Step(
        id=step_id(P, "configure", new),
        phase=P,
        title=f"configure {new} like the old hybrid server (certificate on Default Frontend, limits)",
        target=new,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=45,
        instructions=(
            f"Enable the third-party transport certificate (CN/SAN {setup.tls_name or 'the hybrid mail name'}) "
            f"for SMTP on {new}; set TlsCertificateName of 'Default Frontend {new}' to "
            "<I>issuer<S>subject of that certificate; copy message size limits and remote domain "
            "settings from the old hybrid server. Keep the [::]:25 binding on Default Frontend (HCW8010)."
        ),
        verification=f"Get-ReceiveConnector 'Default Frontend {new}' shows the TlsCertificateName and Bindings 0.0.0.0:25 and [::]:25",
        rollback="set TlsCertificateName back to the previous value",
        prerequisites=(hotfix.id,),
        runbook=rb,
    )
    app = Step(
        id=step_id(P, "hybrid-application"),
        phase=P,
        title="set up the dedicated Exchange hybrid application",
        target="Exchange hybrid application",
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.MANUAL,
        duration_minutes=45,
        instructions=(
            "EWS calls through the shared service principal are blocked since 31 October 2025: "
            "create the dedicated Exchange hybrid application (Microsoft's "
            "ConfigureExchangeHybridApplication.ps1, with a Global Administrator) and configure "
            f"the servers, {new} included, to use it."
        ),
        verification="the script's -ValidateOnly check passes; free/busy works both ways",
        rollback="the application can stay; revert the server configuration with the script's reset option",
        prerequisites=(hotfix.id,),
        runbook=rb,
    )
    steps += [hotfix, publish, configure, app]
    add_ids: list[str] = []
    if setup.send_connector is not None:
        sc = setup.send_connector
        add = Step(
            id=step_id(P, "send-connector-add", new),
            phase=P,
            title=f"add {new} to the source servers of hybrid send connector {sc.name}",
            target=sc.name,
            owner=Owner.EXCHANGE_ADMIN,
            runs_in=RunsIn.EMS_NEW,
            duration_minutes=10,
            verification="SourceTransportServers read back includes the new server (checked by the step)",
            rollback=f"remove {new} from the connector's source servers",
            action=Action(
                "hybrid.send-connector-add", {"connector": sc.name, "add": [new], "remove": []}
            ),
            prerequisites=(configure.id,),
            runbook=rb,
        )
        steps.append(add)
        add_ids.append(add.id)
    smtp_rules = [r for r in inv.nat_rules if r.port == 25]
    names = ", ".join(
        r.name + (f" ({r.public_address})" if r.public_address else "") for r in smtp_rules
    )
    # Where an Internet SMTP NAT rule exists, Exchange Online comes in through it like any sender: the
    # relay phase's nat.<rule> moves it on a night of its own (review 5, N4); nothing to change here.
    receive = Step(
        id=step_id(P, "receive-path", new),
        phase=P,
        title=(
            f"confirm the inbound path from Exchange Online (port 25) for {new}"
            if smtp_rules
            else f"route inbound mail from Exchange Online (port 25) to {new}"
        ),
        target=new,
        owner=Owner.NETWORK_ADMIN,
        runs_in=RunsIn.MANUAL,
        duration_minutes=30 if smtp_rules else 45,
        reversible=not smtp_rules,
        instructions=(
            f"Exchange Online delivers to on-premises through NAT rule {names}, the Internet SMTP "
            "path. Do not add or change a rule here: relay.nat.<rule> moves it to the new servers "
            "on its own night (until then Exchange Online keeps delivering to the server behind it, "
            "as today), and a separate rule for Exchange Online's ranges would bypass that move and "
            f"the later one to the final version. Confirm only that {names} keeps TLS intact (no "
            "SMTP inspection that strips STARTTLS) and that no other rule sends Exchange Online "
            "Protection's ranges elsewhere."
            if smtp_rules
            else "Change the firewall/NAT rule that delivers Exchange Online's SMTP (port 25, the "
            f"Exchange Online Protection address ranges) to {new}, keeping TLS intact (no SMTP "
            "inspection that strips STARTTLS)."
        ),
        verification=(
            "the firewall shows no rule for Exchange Online's ranges besides the Internet SMTP rule; STARTTLS passes"
            if smtp_rules
            else f"Test-NetConnection from outside (or the Remote Connectivity Analyzer inbound SMTP test) reaches {new} on port 25 with STARTTLS"
        ),
        rollback=(
            "none needed: nothing is changed"
            if smtp_rules
            else "point the rule back at the old hybrid server"
        ),
        prerequisites=(configure.id,),
        runbook=rb,
    )
    steps.append(receive)
    hcw = Step(
        id=step_id(P, "hcw-rerun"),
        phase=P,
        title=f"rerun the Hybrid Configuration Wizard with {new} as the hybrid server",
        target="hybrid configuration",
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.MANUAL,
        duration_minutes=60,
        wait_minutes=30,
        instructions=(
            f"Run the Microsoft 365 Hybrid Configuration Wizard from {new}; choose {new} for the "
            "receive and send connector configuration and the third-party transport certificate "
            f"({setup.tls_name or 'the hybrid mail name'}). Leave TlsDomainCapabilities on Default "
            "Frontend as the HCW sets it. HCW8010: Default Frontend lacks [::]:25; HCW8011: "
            "duplicate send connectors for one address space."
        ),
        verification="the HCW completes without errors; Get-HybridConfiguration lists the new server",
        rollback="rerun the HCW with the old server selected",
        prerequisites=(publish.id, configure.id, app.id, receive.id, *add_ids),
        runbook=rb,
    )
    steps.append(hcw)
    check = Step(
        id=step_id(P, "check-exo-connectors"),
        rollback=READS_ONLY,
        phase=P,
        title="check the Exchange Online inbound/outbound connectors name the on-premises certificate",
        target="Exchange Online connectors",
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EXCHANGE_ONLINE,
        duration_minutes=15,
        maintenance_window=False,
        verification=f"the on-premises inbound connector's TlsSenderCertificateName matches {setup.tls_name or 'the certificate name'}",
        instructions=(
            "Read-only check in Exchange Online PowerShell (Connect-ExchangeOnline first)."
            if setup.tls_name
            else "The inventory names no hybrid certificate (no hybrid send connector FQDN, no "
            "third-party SMTP certificate on the old hybrid server): in Exchange Online PowerShell "
            "compare Get-InboundConnector's TlsSenderCertificateName with the certificate's name."
        ),
        action=(
            Action("hybrid.check-exo-connectors", {"tls_name": setup.tls_name})
            if setup.tls_name
            else None
        ),
        prerequisites=(hcw.id,),
        runbook=runbook(P, "exchange-online"),
    )
    steps.append(check)
    if setup.send_connector is not None and old_names:
        sc = setup.send_connector
        steps.append(
            Step(
                id=step_id(P, "send-connector-remove-old"),
                phase=P,
                title=f"remove {', '.join(old_names)} from hybrid send connector {sc.name}",
                target=sc.name,
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.EMS_NEW,
                duration_minutes=10,
                verification="SourceTransportServers read back no longer lists the old servers (checked by the step)",
                rollback=f"add {', '.join(old_names)} back to the connector's source servers",
                action=Action(
                    "hybrid.send-connector-remove-old",
                    {"connector": sc.name, "add": [], "remove": old_names},
                ),
                prerequisites=(check.id,),
                runbook=rb,
            )
        )
    return steps
