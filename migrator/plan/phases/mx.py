"""MX cut-over per accepted domain (seed article "Change SMTP mail flow in hybrid scenario")."""

from __future__ import annotations

from migrator.model import DnsZone, Finding, Inventory, MailFlowTarget, Severity
from migrator.plan.phases._common import (
    DEFAULT_OLD_TTL_SECONDS,
    LOWERED_TTL_SECONDS,
    mail_domains,
    minutes,
    runbook,
    step_id,
)
from migrator.plan.phases.mx_recipients import DomainGate, domain_gates
from migrator.plan.steps import READS_ONLY, Action, Owner, Phase, RunsIn, Step

P = Phase.MX
EXO_SPF = "include:spf.protection.outlook.com"


def spf_with_exchange_online(spf: str) -> str:
    """The SPF record with Exchange Online's include, placed before the closing ``all``.

    Every other mechanism stays: on-premises senders keep sending while relay
    clients still go out through them. A record that has the include already
    comes back as it is.
    """
    if EXO_SPF in spf.lower():
        return spf
    terms = spf.split()
    for i, term in enumerate(terms):
        if term.lower().lstrip("+-~?") == "all":
            return " ".join([*terms[:i], EXO_SPF, *terms[i:]])
    return " ".join([*terms, EXO_SPF])


READINESS = step_id(P, "readiness")
"""Id of the go/no-go step every cut-over waits for (the assembler links it to the other phases)."""


def _zones(inv: Inventory) -> dict[str, DnsZone]:
    return {z.domain.lower(): z for z in inv.dns_zones}


LISTED_BLOCKERS = 200
"""Blocking recipients a step or finding names one by one; the rest are counted."""


def _unverified(inv: Inventory, domain: str) -> bool:
    """Whether Exchange Online cannot take the domain's mail: the tenant has not verified it."""
    verified = {d.lower() for d in inv.tenant.verified_domains} if inv.tenant else set()
    return domain not in verified


def mx_domains(inv: Inventory) -> list[str]:
    """The mail domains whose inbound route the MX phase changes.

    Not those the policy keeps on their current route (``plan.mx_keep_route``),
    and, when MX moves to Exchange Online, not those the tenant has not verified:
    Exchange Online accepts no mail for a domain it does not have, so MX steps
    for it would send the domain's mail nowhere (mx_findings makes that an error).
    """
    keep = set(inv.policy.mx_keep_route)
    exo = inv.policy.mail_flow_target is MailFlowTarget.EXCHANGE_ONLINE
    return [d for d in mail_domains(inv) if d not in keep and not (exo and _unverified(inv, d))]


def mx_gates(inv: Inventory, batch_of: dict[str, str] | None = None) -> dict[str, DomainGate]:
    """Per domain moving to Exchange Online: the recipients Directory-Based Edge Blocking would reject."""
    if inv.policy.mail_flow_target is not MailFlowTarget.EXCHANGE_ONLINE:
        return {}
    return domain_gates(inv, mx_domains(inv), batch_of)


def _listed(gate: DomainGate) -> str:
    lines = [b.describe() for b in gate.blockers[:LISTED_BLOCKERS]]
    more = len(gate.blockers) - LISTED_BLOCKERS
    if more > 0:
        lines.append(f"... and {more} more")
    return "\n".join(lines)


def mx_findings(inv: Inventory, batch_of: dict[str, str] | None = None) -> list[Finding]:
    """Problems the MX plan works around (or refuses) that the user should fix in the inventory."""
    out: list[Finding] = []
    keep = set(inv.policy.mx_keep_route)
    for domain in mail_domains(inv):
        if domain in keep:
            out.append(
                Finding(
                    Severity.INFO,
                    "mx.route-kept",
                    domain,
                    f"'{domain}' is left on its current inbound route by policy "
                    "(plan.mx_keep_route): the plan has no mx step for it",
                )
            )
    if inv.policy.mail_flow_target is not MailFlowTarget.EXCHANGE_ONLINE:
        return out
    tenant = inv.tenant
    for domain in mail_domains(inv):
        if domain in keep:
            continue
        if _unverified(inv, domain):
            out.append(
                Finding(
                    Severity.ERROR,
                    "mx.domain-not-verified",
                    domain,
                    f"'{domain}' is not a verified domain of the tenant: exchange online would "
                    "accept no mail for it after the mx change, so the plan has no mx step for it",
                    fix=f"verify '{domain}' in the tenant (Microsoft 365 admin center, Domains), add "
                    "it to the hybrid configuration (rerun the Hybrid Configuration Wizard) and "
                    "list it under tenant.verified_domains; or leave its mail on its current route "
                    "with plan.mx_keep_route in inventory.yaml",
                )
            )
            continue
        if tenant is None or not tenant.mx_host(domain):
            out.append(
                Finding(
                    Severity.WARNING,
                    "mx.host-unknown",
                    domain,
                    f"the tenant reported no exchange online mx host for '{domain}'; the plan reads "
                    "it at cut-over time (mx.mx-host step) instead of computing it",
                    fix=f"add it under tenant.mx_hosts in inventory.yaml "
                    f"(Get-MgDomainServiceConfigurationRecord -DomainId '{domain}')",
                )
            )
    for domain, gate in mx_gates(inv, batch_of).items():
        if not gate.known:
            out.append(
                Finding(
                    Severity.WARNING,
                    "mx.recipients-unknown",
                    domain,
                    "the inventory lists no on-premises recipients (no Get-Recipient export): the "
                    f"plan cannot tell whether every recipient of '{domain}' is in the cloud, so it "
                    f"sets '{domain}' to InternalRelay in exchange online before the mx change",
                    fix="add the Recipients export (migrator collect-script; docs/inventory.md)",
                )
            )
        elif gate.blockers:
            shown = ", ".join(
                f"'{b.recipient.primary_smtp_address or b.recipient.name}' "
                f"({b.recipient.recipient_type_details})"
                for b in gate.blockers[:10]
            )
            more = len(gate.blockers) - 10
            out.append(
                Finding(
                    Severity.WARNING,
                    "mx.recipients-not-in-cloud",
                    domain,
                    f"{len(gate.blockers)} on-premises recipient(s) of '{domain}' would not be in "
                    "the cloud directory when mx moves, and directory-based edge blocking would "
                    f"reject their mail (550 5.4.1): {shown}"
                    + (f" and {more} more" if more > 0 else "")
                    + f"; the plan sets '{domain}' to InternalRelay in exchange online before the mx "
                    f"change (step mx.internal-relay.{domain} lists each one and why)",
                    fix="bring the listed objects into the cloud directory (each one's workaround is "
                    "given); set the domain back to Authoritative in exchange online only when none is left",
                )
            )
    return out


def _common_steps(inv: Inventory, tls_name: str) -> list[Step]:
    steps = [
        Step(
            id=READINESS,
            rollback=READS_ONLY,
            phase=P,
            title="go/no-go for the MX cut-over",
            target="mail flow",
            owner=Owner.EXCHANGE_ADMIN,
            runs_in=RunsIn.MANUAL,
            duration_minutes=30,
            maintenance_window=False,
            instructions=(
                "Confirm hybrid mail flow works both ways, the identity batches are synced and "
                "matched, and the change window for DNS is agreed. Every MX step waits for this."
            ),
            verification="test messages on-premises -> cloud and cloud -> on-premises arrive with TLS",
            runbook=runbook(P, "mail-flow"),
        )
    ]
    if inv.policy.mail_flow_target is MailFlowTarget.EXCHANGE_ONLINE:
        steps.append(
            Step(
                id=step_id(P, "eop-port25"),
                phase=P,
                title="let Exchange Online Protection reach the on-premises servers on port 25",
                target="firewall",
                owner=Owner.NETWORK_ADMIN,
                runs_in=RunsIn.MANUAL,
                duration_minutes=30,
                instructions=(
                    "After MX moves, mail for on-premises mailboxes arrives from Exchange Online "
                    "Protection: allow its published address ranges to the hybrid receive path on "
                    "port 25, with TLS untouched."
                ),
                verification="a message from a cloud mailbox to an on-premises mailbox arrives; the receive protocol log shows the EOP address",
                rollback="remove the firewall rule (only after MX points back on-premises)",
                prerequisites=(READINESS,),
                runbook=runbook(P, "mail-flow"),
            )
        )
        steps.append(
            Step(
                id=step_id(P, "check-exo-connectors"),
                rollback=READS_ONLY,
                phase=P,
                title="check the Exchange Online connectors before changing MX",
                target="Exchange Online connectors",
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.EXCHANGE_ONLINE,
                duration_minutes=15,
                maintenance_window=False,
                instructions=(
                    "Read-only check in Exchange Online PowerShell (Connect-ExchangeOnline first)."
                    if tls_name
                    else "In Exchange Online PowerShell check that an enabled on-premises inbound "
                    "connector names the on-premises certificate (TlsSenderCertificateName)."
                ),
                verification="an enabled on-premises inbound and outbound connector exist and name the certificate",
                action=(
                    Action("mx.check-exo-connectors", {"tls_name": tls_name}) if tls_name else None
                ),
                prerequisites=(READINESS,),
                runbook=runbook(P, "exchange-online"),
            )
        )
    return steps


def _internal_relay(domain: str, gate: DomainGate) -> Step:
    why = (
        "The inventory lists no on-premises recipients, so the plan cannot show that every "
        f"recipient of {domain} is in the cloud directory."
        if not gate.known
        else f"These on-premises recipients of {domain} are not in the cloud directory "
        f"({len(gate.blockers)}):\n{_listed(gate)}"
    )
    return Step(
        id=step_id(P, "internal-relay", domain),
        phase=P,
        title=f"set {domain} to InternalRelay in Exchange Online before its MX moves",
        target=domain,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EXCHANGE_ONLINE,
        duration_minutes=15,
        maintenance_window=False,
        instructions=(
            "While a domain is Authoritative in Exchange Online, Directory-Based Edge Blocking "
            "rejects mail to every address that is not in the cloud directory (550 5.4.1). "
            + why
            + "\nThe step checks that an enabled on-premises outbound connector covers the domain "
            "(the hybrid one: unknown recipients go on-premises through it instead of looping "
            "through MX), sets the domain to InternalRelay and reads it back. Set it back to "
            "Authoritative only when every recipient above exists in Exchange Online."
        ),
        verification=f"Get-AcceptedDomain {domain} in Exchange Online shows DomainType InternalRelay",
        rollback=f"Set-AcceptedDomain -Identity {domain} -DomainType Authoritative (Exchange Online)",
        action=Action("mx.internal-relay", {"domain": domain}),
        prerequisites=(READINESS, step_id(P, "check-exo-connectors")),
        runbook=runbook(P, "exchange-online"),
    )


def recipients_csv_path(domain: str) -> str:
    """Where the addresses the cloud directory must hold before the MX change are written."""
    return f"mx/{domain}-recipients.csv"


def _recipients_in_cloud(domain: str, gate: DomainGate) -> Step:
    csv = recipients_csv_path(domain)
    rb = runbook(P, "exchange-online")
    up = rb.count("/")
    return Step(
        id=step_id(P, "recipients-in-cloud", domain),
        phase=P,
        title=f"check that every on-premises recipient of {domain} is in the cloud directory",
        target=domain,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EXCHANGE_ONLINE,
        duration_minutes=15,
        maintenance_window=False,
        reversible=False,
        instructions=(
            f"{domain} stays Authoritative in Exchange Online: Directory-Based Edge Blocking will "
            "reject any of its addresses that is not in the cloud directory. Every on-premises "
            f"recipient of the domain is in sync scope or in an identity batch; the step reads "
            f"Exchange Online's recipients and requires each of the {len(gate.addresses)} "
            f"address(es) in {csv}. A missing one is not synced (check Entra Connect's sync "
            f"errors) or needs mx.internal-relay: plan again after fixing."
        ),
        verification=f"every address of {csv} is an address of an Exchange Online recipient",
        action=Action(
            "mx.recipients-in-cloud",
            {
                "domain": domain,
                "csv": "\\".join([".."] * up + csv.split("/")),
                "csv_name": csv,
                "rows": len(gate.addresses),
            },
        ),
        prerequisites=(
            READINESS,
            *(f"identity.verify.{b}" for b in gate.batches),
        ),
        runbook=rb,
    )


def _exo_domain(
    inv: Inventory, domain: str, zone: DnsZone | None, gate: DomainGate | None = None
) -> list[Step]:
    tenant_host = inv.tenant.mx_host(domain) if inv.tenant is not None else ""
    old_hosts = sorted({r.host.lower().rstrip(".") for r in zone.mx}) if zone else []
    old_ttl = max((r.ttl_seconds for r in zone.mx), default=0) if zone else 0
    if not old_ttl:
        old_ttl = DEFAULT_OLD_TTL_SECONDS
    if old_ttl > 3600:
        old_ttl = 3600  # the prepare phase lowered it to 3600 (prepare.mx-ttl.<domain>)
    rb = runbook(P, domain)
    host_id = step_id(P, "mx-host", domain)
    lower_id = step_id(P, "lower-ttl", domain)
    change_id = step_id(P, "change", domain)
    verify_id = step_id(P, "verify", domain)
    new_host = tenant_host or f"the host step {host_id} printed"
    lower_prereqs = [READINESS]
    if zone is not None and max((r.ttl_seconds for r in zone.mx), default=0) > 3600:
        lower_prereqs.append(step_id(Phase.PREPARE, "mx-ttl", domain))
    old_text = (
        ", ".join(f"{r.preference} {r.host} (TTL {r.ttl_seconds})" for r in zone.mx)
        if zone
        else "not in the inventory"
    )
    steps = [
        Step(
            id=host_id,
            rollback=READS_ONLY,
            phase=P,
            title=f"read the Exchange Online MX host of {domain} from the tenant",
            target=domain,
            owner=Owner.IDENTITY_ADMIN,
            runs_in=RunsIn.GRAPH,
            duration_minutes=5,
            maintenance_window=False,
            instructions=(
                "The Exchange Online MX host is not computable (older domains use "
                "<domain>.mail.protection.outlook.com, newer ones <domain>.<id>.mx.microsoft): read "
                "it from the tenant (Connect-MgGraph -Scopes Domain.Read.All first)."
            ),
            verification=(
                f"the tenant reports {tenant_host}" if tenant_host else "the step prints the host"
            ),
            action=Action("mx.mx-host", {"domain": domain, "expected": tenant_host}),
            prerequisites=(READINESS,),
            runbook=runbook(P, "graph"),
        ),
        Step(
            id=lower_id,
            phase=P,
            title=f"lower the MX TTL of {domain} to {LOWERED_TTL_SECONDS} s and wait the old TTL",
            target=domain,
            owner=Owner.DNS_ADMIN,
            runs_in=RunsIn.DNS_CONSOLE,
            duration_minutes=10,
            wait_minutes=minutes(old_ttl),
            instructions=(
                f"Set the TTL of the MX records of {domain} ({old_text}) to {LOWERED_TTL_SECONDS} s, "
                f"then wait at least the old TTL ({old_ttl} s) before changing MX."
                + (
                    f" The plan counts on prepare.mx-ttl.{domain} having lowered it to 3600 s: read the TTL "
                    f"on the authoritative server first (Resolve-DnsName -Name {domain} -Type MX -Server "
                    "<authoritative name server>); if it is still higher, wait that TTL instead."
                    if len(lower_prereqs) > 1
                    else ""
                )
            ),
            verification=f"Resolve-DnsName -Name {domain} -Type MX against the authoritative server shows TTL {LOWERED_TTL_SECONDS}",
            rollback=f"set the TTL back to {old_ttl} s",
            prerequisites=tuple(lower_prereqs),
            runbook=rb,
        ),
        Step(
            id=change_id,
            phase=P,
            title=f"point the MX of {domain} at Exchange Online ({tenant_host or 'host read from the tenant'})",
            target=domain,
            owner=Owner.DNS_ADMIN,
            runs_in=RunsIn.DNS_CONSOLE,
            duration_minutes=15,
            wait_minutes=max(60, minutes(LOWERED_TTL_SECONDS)),
            instructions=(
                f"Replace the MX records of {domain} ({old_text}) by one MX record, preference 0, "
                f"host {new_host}, TTL {LOWERED_TTL_SECONDS} s."
                + (
                    f" MX pointed at gateway {zone.gateway}: leave it in place for outbound mail until its rules are moved."
                    if zone and zone.gateway
                    else ""
                )
                + " Then watch the queues for an hour."
            ),
            verification="new mail for the domain arrives through Exchange Online (message trace)",
            rollback=f"restore the old MX records ({old_text})",
            prerequisites=(
                lower_id,
                host_id,
                step_id(P, "eop-port25"),
                step_id(P, "check-exo-connectors"),
                *(
                    (step_id(P, "internal-relay", domain),)
                    if gate is None or gate.needs_internal_relay
                    else ((step_id(P, "recipients-in-cloud", domain),) if gate.addresses else ())
                ),
                # Recipients of the domain the identity batches bring into the cloud directory.
                *(f"identity.verify.{b}" for b in (gate.batches if gate else ())),
            ),
            runbook=rb,
        ),
    ]
    if gate is None or gate.needs_internal_relay:
        steps.insert(0, _internal_relay(domain, gate or DomainGate(domain, known=False)))
    elif gate.addresses:
        steps.insert(0, _recipients_in_cloud(domain, gate))
    expected = [tenant_host.lower()] if tenant_host else []
    stale = [h for h in old_hosts if h not in expected]
    verify_action = (
        Action("mx.verify", {"domain": domain, "expected": expected, "old": stale})
        if expected or stale
        else None
    )
    steps.append(
        Step(
            id=verify_id,
            rollback=READS_ONLY,
            phase=P,
            title=f"verify the MX of {domain} by DNS query and a test message",
            target=domain,
            owner=Owner.DNS_ADMIN,
            runs_in=RunsIn.DNS_CONSOLE,
            duration_minutes=20,
            maintenance_window=False,
            instructions=(
                f"The step queries MX of {domain} (Resolve-DnsName). Then send a test message from an "
                f"external mailbox to an on-premises and to a cloud mailbox in {domain} and check "
                "both arrive (message trace in Exchange Online, message tracking on-premises)."
            ),
            verification=f"MX of {domain} is {tenant_host or 'the tenant host'} and no old host remains; both test messages arrive",
            action=verify_action,
            prerequisites=(change_id,),
            runbook=rb,
        )
    )
    steps.append(
        Step(
            id=step_id(P, "restore-ttl", domain),
            phase=P,
            title=f"restore the MX TTL of {domain} to {old_ttl} s",
            target=domain,
            owner=Owner.DNS_ADMIN,
            runs_in=RunsIn.DNS_CONSOLE,
            duration_minutes=10,
            instructions=f"Set the TTL of the new MX record of {domain} to {old_ttl} s.",
            verification=f"Resolve-DnsName -Name {domain} -Type MX against the authoritative server shows TTL {old_ttl}",
            rollback=f"set it to {LOWERED_TTL_SECONDS} s again",
            prerequisites=(verify_id,),
            runbook=rb,
        )
    )
    if zone is None or EXO_SPF not in zone.spf.lower():
        current = zone.spf if zone and zone.spf else "no SPF record in the inventory"
        steps.append(
            Step(
                id=step_id(P, "spf", domain),
                phase=P,
                title=f"add {EXO_SPF} to the SPF record of {domain}",
                target=domain,
                owner=Owner.DNS_ADMIN,
                runs_in=RunsIn.DNS_CONSOLE,
                duration_minutes=15,
                instructions=(
                    f"SPF follows outbound mail, not MX: before the first mailbox of {domain} sends "
                    f"from Exchange Online, add {EXO_SPF} (current: {current}). Keep every "
                    "on-premises sending address while relay clients still send out through them."
                ),
                verification=f"Resolve-DnsName -Name {domain} -Type TXT shows {EXO_SPF} and the on-premises addresses",
                rollback=f"remove {EXO_SPF} again",
                runbook=runbook(P, "spf"),
            )
        )
    return steps


def _onprem_domain(inv: Inventory, domain: str, zone: DnsZone | None) -> list[Step]:
    gateway = zone.gateway if zone and zone.gateway else ""
    nat = ", ".join(sorted(r.name for r in inv.nat_rules))
    via = (
        f"gateway {gateway}"
        if gateway
        else (f"NAT rule(s) {nat}" if nat else "the firewall/NAT rule behind the MX host")
    )
    target = "gateway" if inv.policy.mail_flow_target is MailFlowTarget.GATEWAY else "on-premises"
    change_id = step_id(P, "change", domain)
    return [
        Step(
            id=change_id,
            phase=P,
            title=f"deliver inbound mail for {domain} to the Exchange 2016 servers ({target}: {via})",
            target=domain,
            owner=Owner.NETWORK_ADMIN,
            runs_in=RunsIn.MANUAL,
            duration_minutes=30,
            wait_minutes=60,
            instructions=(
                f"MX of {domain} stays as it is; change {via} so inbound SMTP is delivered to the "
                "Exchange 2016 servers (or their load balancer) instead of the 2010 servers. Do not "
                "source-NAT Internet senders into an address that sits in a relay range."
            ),
            verification="the 2016 receive protocol log shows Internet senders; the 2010 logs show none",
            rollback=f"point {via} back at the 2010 servers",
            prerequisites=(READINESS,),
            runbook=runbook(P, domain),
        ),
        Step(
            id=step_id(P, "verify", domain),
            rollback=READS_ONLY,
            phase=P,
            title=f"verify inbound mail for {domain} with a test message",
            target=domain,
            owner=Owner.EXCHANGE_ADMIN,
            runs_in=RunsIn.MANUAL,
            duration_minutes=20,
            maintenance_window=False,
            instructions=(
                f"Send a test message from an external mailbox to a mailbox in {domain}; message "
                "tracking on the 2016 servers shows it received."
            ),
            verification="the message arrives and tracking shows a 2016 server received it",
            prerequisites=(change_id,),
            runbook=runbook(P, domain),
        ),
    ]


def mx_steps(inv: Inventory, tls_name: str, batch_of: dict[str, str] | None = None) -> list[Step]:
    """Every MX step: a go/no-go, then one cut-over per accepted domain that receives mail.

    ``batch_of`` maps lower-cased DistinguishedNames of the users the identity
    batches bring into the cloud to their batch (``batch-001``): a domain's MX
    change waits for those batches.
    """
    domains = mx_domains(inv)
    if not domains:
        return []
    zones = _zones(inv)
    steps = _common_steps(inv, tls_name)
    exo = inv.policy.mail_flow_target is MailFlowTarget.EXCHANGE_ONLINE
    gates = mx_gates(inv, batch_of)
    for domain in domains:
        zone = zones.get(domain)
        if exo:
            steps.extend(_exo_domain(inv, domain, zone, gates.get(domain)))
        else:
            steps.extend(_onprem_domain(inv, domain, zone))
    return steps
