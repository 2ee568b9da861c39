"""Certificates that expire while the plan still runs on them: their renewal, or an error (review 2, M10).

The certificate the plan puts behind the namespace (:func:`certificate_need` of each new
server) is checked against the schedule. Where steps start on or after its NotAfter day,
:func:`migrator.plan.phases.assemble_plan` adds :func:`certificate_renewal_steps` (the CA's
issuance by hand, then a scripted import and enable on each 2016 server, in a window of its
own after the cut-overs) and schedules them, continuing the first schedule (one pass:
:class:`migrator.plan.schedule.Timeline`); :func:`certificate_expiry_findings` then
reports the renewal (info) or, where it cannot run before NotAfter, an error that stops
``plan``: never a warning followed by a plan that runs on an expired certificate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from migrator.checks.certificates import certificate_need
from migrator.model import Certificate, Finding, Inventory, Severity
from migrator.plan.phases._common import estate, runbook, step_id
from migrator.plan.phases.cutover import (
    CUTOVER_CERTIFICATE,
    CUTOVER_DECOMMISSION,
    CUTOVER_PUBLIC_FOLDERS,
    CUTOVER_RELAY_DISABLE,
    CUTOVER_WAVE,
    certificate_cutover,
)
from migrator.plan.phases.hybrid import HybridSetup, hybrid_setup
from migrator.plan.relay import tls_certificate_name
from migrator.plan.steps import Action, MigrationPlan, Owner, Phase, RunsIn, Step

P = Phase.SERVERS
RENEWAL_RUNBOOK = runbook(P, "certificate-renewal")


def expiring_certificates(
    inv: Inventory, plan: MigrationPlan
) -> list[tuple[Certificate, list[str], list[str]]]:
    """Certificates the plan puts behind the namespace that expire while steps remain scheduled.

    Each as (certificate, the new servers that use it, ids of the steps that start on or
    after its NotAfter day, in time order). The one rule behind the renewal steps and the
    finding (review 2, M10).
    """
    users: dict[str, list[str]] = {}
    for server in sorted(inv.target_servers, key=lambda s: s.name.lower()):
        if server.is_edge:
            continue
        need = certificate_need(inv, server)
        if need.thumbprint:
            users.setdefault(need.thumbprint, []).append(server.name)
    out: list[tuple[Certificate, list[str], list[str]]] = []
    for thumb, servers in sorted(users.items()):
        cert = next((c for c in inv.certificates if c.thumbprint == thumb and c.not_after), None)
        if cert is None or cert.not_after is None:
            continue
        expiry = dt.datetime.combine(cert.not_after, dt.time())
        late = sorted(
            (plan.schedule[s.id].start, s.id)
            for s in plan.steps
            if s.id in plan.schedule and plan.schedule[s.id].start >= expiry
        )
        if late:
            out.append((cert, servers, [sid for _, sid in late]))
    return out


_RENEWAL_PARAMETERS = [
    {
        "name": "RenewedCertificatePath",
        "type": "string",
        "default": "",
        "help": "PFX file of the renewed certificate (same names, private key included)",
    },
]


@dataclass(frozen=True)
class _HybridNames:
    """The hybrid connectors that name the renewed certificate (review 3, F5)."""

    send_connector: str
    """Name of the hybrid send connector (``Outbound to Office 365``)."""
    routing_domain: str
    """Its address space (``contoso.mail.onmicrosoft.com``): the test message's way out."""
    old_name: str
    """``<I>issuer<S>subject`` of the certificate being renewed, what both connectors name today."""
    frontend_named: frozenset[str]
    """Servers (lower case) whose Default Frontend must name the certificate: the hybrid server the
    plan configures and any whose connector names one in the inventory."""
    mail_path: frozenset[str]
    """Servers (lower case) hybrid mail passes through, each followed by a test message step."""

    def parameters(self, server: str, last: bool) -> dict[str, object]:
        """The renewal step's data for the helper (``Import-RenewedCertificate``)."""
        return {
            "frontend": f"{server}\\Default Frontend {server}",
            "frontend_named": server.lower() in self.frontend_named,
            "old_name": self.old_name,
            "send_connector": self.send_connector,
            "last": last,
        }


def _hybrid_connectors(
    inv: Inventory, setup: HybridSetup | None, cert: Certificate, mine: list[str]
) -> _HybridNames | None:
    """What the renewal of ``cert`` on ``mine`` must keep in step with, or None without hybrid.

    Exchange Online matches the on-premises certificate by name, which the renewal keeps; the
    on-premises connectors name it by issuer and subject, which a renewal may change (another
    intermediate, OV to DV): then neither finds a certificate and hybrid mail queues.
    """
    if setup is None or setup.send_connector is None:
        return None
    send = setup.send_connector
    low = {s.lower() for s in mine}
    named = {setup.new.name.lower()} | {
        c.server.lower()
        for c in inv.receive_connectors
        if c.tls_certificate_name and c.name.lower() == f"default frontend {c.server}".lower()
    }
    path = (named | {s.lower() for s in send.source_transport_servers}) & low
    domains = [a.split(":", 1)[-1].split(";", 1)[0] for a in send.address_spaces]
    return _HybridNames(
        send_connector=send.name,
        routing_domain=next((d for d in domains if d), ""),
        old_name=send.tls_certificate_name or tls_certificate_name(cert),
        frontend_named=frozenset(named & low),
        mail_path=frozenset(path or {mine[-1].lower()}),
    )


def _hybrid_instructions(hybrid: _HybridNames | None, server: str, last: bool) -> str:
    if hybrid is None:
        return ""
    send = (
        f" and the hybrid send connector '{hybrid.send_connector}' (once every one of its source "
        "servers holds the renewed certificate"
        + ("; this is the last renewal, so it stops if one lacks it)" if last else ")")
    )
    return (
        f" Then compares <I>issuer<S>subject of the renewed certificate with the TlsCertificateName "
        f"of 'Default Frontend {server}'{send}, which name '{hybrid.old_name}' today: where the "
        "issuer or subject changed, it sets them to the renewed certificate and reads them back "
        "(Microsoft's procedure for a renewed hybrid certificate; the Exchange Online connectors "
        "match on the certificate's name, which the renewal keeps, so the Hybrid Configuration "
        "Wizard need not run again). A connector naming neither certificate stops it, unchanged."
    )


def _hybrid_mail_test(hybrid: _HybridNames, server: str, after: str) -> Step:
    """A test message each way through ``server`` after its renewal (review 3, F5)."""
    return Step(
        id=step_id(P, "certificate-hybrid-mail", server),
        phase=P,
        title=f"test hybrid mail both ways through {server} with the renewed certificate",
        target=server,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.MANUAL,
        duration_minutes=20,
        instructions=(
            "Send a message from an Exchange Online mailbox to an on-premises mailbox, and one back "
            f"(out through '{hybrid.send_connector}' to {hybrid.routing_domain or 'the tenant'}). "
            "In the headers of each as received (Outlook: File > Properties > Internet headers, or "
            "the Message Header Analyzer) check: the Received line of the hop between Exchange "
            f"Online and {server} shows TLS (version=TLS1_2 or later), and "
            "X-MS-Exchange-Organization-AuthAs is Internal (Anonymous means the hybrid connector "
            "did not recognise the certificate). On the on-premises servers Get-Queue shows no "
            "message waiting for the tenant's routing domain."
        ),
        verification="both messages arrive within minutes, over TLS, with AuthAs Internal",
        rollback=(
            f"set TlsCertificateName of 'Default Frontend {server}' and '{hybrid.send_connector}' "
            f"back to '{hybrid.old_name}' (the old certificate is still valid), then rerun the "
            "Hybrid Configuration Wizard with the renewed certificate"
        ),
        prerequisites=(after,),
        runbook=RENEWAL_RUNBOOK,
        # The renewal's own class: the test runs in the same window, right after it.
        cutover=certificate_cutover(server),
    )


def certificate_renewal_steps(inv: Inventory, plan: MigrationPlan) -> list[Step]:
    """A renewal before NotAfter for each certificate that expires while steps remain (M10).

    The CA's issuance is a manual step; each 2016 server that uses the certificate then
    imports the renewed one and enables it for IIS and SMTP (scripted, read back), in a window
    of its own after the production cut-overs scheduled before NotAfter. Servers of
    the final version get their certificate after 2010 is gone, so the renewed one.
    """
    est = estate(inv)
    hop = {s.name.lower() for s in est.hop}
    setup = hybrid_setup(inv, est)
    out: list[Step] = []
    for cert, servers, _late in expiring_certificates(inv, plan):
        day = cert.not_after.isoformat() if cert.not_after else ""
        # After the first hop's cut-overs that come before NotAfter, so the renewal takes no
        # window of theirs; the onward phase's come after it (its servers take the renewed one).
        # Not after every wave completion and the public folder go-live: waiting for those made
        # a later start miss NotAfter; the scheduler's soak rule keeps the renewal out of their
        # nights anyway (review 3, F4). Nor after the relay disable, which follows the
        # observation period (review 5, N2), nor after the decommission, which follows the
        # last wave.
        expiry = dt.datetime.combine(cert.not_after or dt.date.max, dt.time())
        cutovers = sorted(
            s.id
            for s in plan.steps
            if s.cutover
            and s.phase is not Phase.ONWARD
            and s.cutover
            not in (
                CUTOVER_WAVE,
                CUTOVER_PUBLIC_FOLDERS,
                CUTOVER_RELAY_DISABLE,
                CUTOVER_DECOMMISSION,
            )
            and plan.schedule[s.id].start < expiry
        )
        # A server of the final version installed before the renewal (its install is a
        # prerequisite of a cut-over it waits for) got the old certificate: renewed here too.
        # The others are installed after it, with the renewed one (renewal_links, review 3, F5).
        before = _ancestors(plan, cutovers)
        mine = [
            s for s in servers if s.lower() in hop or step_id(Phase.ONWARD, "install", s) in before
        ]
        if not mine:
            continue
        mine = _hybrid_last(setup, mine)
        first = next(s for s in inv.target_servers if s.name == mine[0])
        names = list(certificate_need(inv, first).names)
        request = Step(
            id=step_id(P, "certificate-request", cert.thumbprint[:8]),
            phase=P,
            title=f"renew certificate {cert.thumbprint[:8]}... ({cert.subject}) before {day}",
            target=cert.subject,
            owner=Owner.EXCHANGE_ADMIN,
            runs_in=RunsIn.MANUAL,
            duration_minutes=60,
            wait_minutes=2 * 24 * 60,  # the CA's issuance
            maintenance_window=False,
            instructions=(
                f"Certificate {cert.thumbprint} expires on {day}, while the plan still runs on it: "
                f"request its renewal with the same names ({', '.join(names)}) from the CA (New-"
                f"ExchangeCertificate -GenerateRequest on {mine[0]}, or the CA's portal), have the "
                "CA issue it (manual, its lead time is the wait here), complete the request on "
                f"{mine[0]} (Import-ExchangeCertificate) and export it with its private key to a "
                "PFX file the next steps read (-RenewedCertificatePath)."
            ),
            verification="the CA issued a certificate with the same names and a later NotAfter",
            rollback="nothing to undo (the old certificate stays enabled until the next steps)",
            prerequisites=tuple(step_id(P, "certificate", s) for s in mine),
            runbook=RENEWAL_RUNBOOK,
        )
        out.append(request)
        previous: tuple[str, ...] = ()
        hybrid = _hybrid_connectors(inv, setup, cert, mine)
        for server in mine:
            # One server per window, each after the one before (review 3, F4): a renewed
            # certificate that breaks IIS or SMTP breaks one server, and the next waits for it.
            out.append(
                Step(
                    id=step_id(P, "certificate-renew", server),
                    phase=P,
                    title=f"import the renewed certificate on {server} and enable it for IIS and SMTP",
                    target=server,
                    owner=Owner.EXCHANGE_ADMIN,
                    runs_in=RunsIn.EMS_NEW,
                    duration_minutes=20,
                    instructions=(
                        f"Before {day}: imports the PFX (-RenewedCertificatePath; it asks for its "
                        "password) where the server lacks it, enables it for IIS and SMTP (-Force) "
                        "and reads it back (CA-issued, unexpired, every name, later than "
                        f"{day})." + _hybrid_instructions(hybrid, server, server == mine[-1])
                    ),
                    verification="Get-ExchangeCertificate shows the renewed certificate enabled for IIS and SMTP (read back)"
                    + (
                        "; the hybrid connectors' TlsCertificateName names it (read back)"
                        if hybrid
                        else ""
                    ),
                    rollback=(
                        f"Enable-ExchangeCertificate {cert.thumbprint} -Services IIS,SMTP -Force "
                        "(the old one, while it is still valid), then Remove-ExchangeCertificate the"
                        " renewed one (keep its PFX): with the same names transport would keep"
                        " offering the newer certificate"
                        + (
                            f"; Set-ReceiveConnector '{server}\\Default Frontend {server}' and "
                            f"Set-SendConnector '{hybrid.send_connector}' -TlsCertificateName "
                            f"'{hybrid.old_name}' where the step changed them"
                            if hybrid
                            else ""
                        )
                    ),
                    action=Action(
                        "servers.certificate-renew",
                        {
                            "server": server,
                            "names": names,
                            "after": day,
                            "replaces": cert.thumbprint,
                            "runbook_parameters": _RENEWAL_PARAMETERS,
                            **(hybrid.parameters(server, server == mine[-1]) if hybrid else {}),
                        },
                    ),
                    prerequisites=(request.id, *cutovers, *previous),
                    runbook=RENEWAL_RUNBOOK,
                    # A class per server: the next server's renewal follows a business day of
                    # this one in production (review 3, F4), and no other cut-over shares it.
                    cutover=certificate_cutover(server),
                    window_share=(CUTOVER_CERTIFICATE, 1),
                )
            )
            previous = (out[-1].id,)
            if hybrid and server.lower() in hybrid.mail_path:
                out.append(_hybrid_mail_test(hybrid, server, out[-1].id))
    return out


def _hybrid_last(setup: HybridSetup | None, servers: list[str]) -> list[str]:
    """``servers`` in renewal order: the ones hybrid mail passes through last (review 5, n3).

    The hybrid server (the HCW's, usually also the namespace and inbound SMTP server) and the
    hybrid send connector's source servers carry Exchange Online's mail: a bad PFX (a missing
    intermediate, say) shows on another server first, a business day before the hybrid path is
    touched. Otherwise the inventory's order.
    """
    if setup is None:
        return servers
    hybrid = {setup.new.name.lower()}
    sources = {
        s.lower()
        for s in (setup.send_connector.source_transport_servers if setup.send_connector else ())
    }
    return sorted(servers, key=lambda s: (s.lower() in hybrid, s.lower() in sources))


def _ancestors(plan: MigrationPlan, ids: list[str]) -> set[str]:
    """``ids`` and every step they wait for, directly or not."""
    by_id = {s.id: s for s in plan.steps}
    seen: set[str] = set()
    todo = list(ids)
    while todo:
        sid = todo.pop()
        if sid not in seen and sid in by_id:
            seen.add(sid)
            todo.extend(by_id[sid].prerequisites)
    return seen


def renewal_links(steps: list[Step], renew: list[Step]) -> list[Step]:
    """``steps`` with each install of a final-version server after the renewal (review 3, F5), and
    its certificate step (``onward.certificate.<s>``) reading back the renewed certificate.

    The onward install copies the certificate of the 2016 servers; once they are renewed that
    is the renewed one, not the expiring one. A server the renewal itself covers (installed
    before it) keeps its place.
    """
    done = [s for s in renew if s.id.startswith(step_id(P, "certificate-renew") + ".")]
    if not done:
        return steps
    covered = {s.target.lower() for s in done}
    last = done[-1]
    old = sorted({str(s.action.params["replaces"]) for s in done if s.action is not None})
    out: list[Step] = []
    for s in steps:
        if (
            s.id.startswith(step_id(Phase.ONWARD, "install") + ".")
            and s.target.lower() not in covered
        ):
            s = replace(
                s,
                prerequisites=(*s.prerequisites, last.id),
                instructions=s.instructions
                + f" The certificate is the renewed one ({last.id} and the steps before it "
                f"enabled it on the 2016 servers: export it from {last.target} with its private "
                f"key), not {', '.join(old)}, which expires.",
            )
        elif (
            s.id.startswith(step_id(Phase.ONWARD, "certificate") + ".")
            and s.target.lower() not in covered
            and s.action is not None
        ):
            # its thumbprint is the renewal's, unknown when planning: import by hand, the step checks
            # (review 6, B2)
            s = replace(
                s,
                prerequisites=(*s.prerequisites, last.id),
                instructions=(
                    "Every server behind the namespace answers clients with its IIS certificate and "
                    "Exchange Online with its SMTP certificate. Its certificate is the renewed one, "
                    "whose thumbprint the plan cannot know: export it with its private key from "
                    f"{last.target} ({last.id} enabled it there), import it on {s.target} "
                    "(Import-ExchangeCertificate) and enable it for IIS and SMTP "
                    "(Enable-ExchangeCertificate -Services IIS,SMTP -Force) by hand, not "
                    f"{', '.join(old)}, which expires. The step then reads back that a certificate "
                    f"on {s.target} is not self-signed, unexpired, covers every name and is enabled "
                    "for IIS and SMTP."
                ),
                action=replace(
                    s.action,
                    params={
                        **s.action.params,
                        "thumbprint": "",
                        "import_from": "",
                        "enable": False,
                        # the read-back never passes on the expiring certificate (review 8, M6)
                        "exclude": old,
                    },
                ),
            )
        out.append(s)
    return out


def certificate_expiry_findings(inv: Inventory, plan: MigrationPlan) -> list[Finding]:
    """Per certificate that expires while steps remain: its renewal planned in time (info), else an error.

    With :func:`certificate_renewal_steps` in the plan, the renewal of each 2016 server must
    start before NotAfter; a renewal scheduled too late (or none: no 2016 server uses the
    certificate) is an error, so no plan runs on an expired certificate (review 2, M10).
    """
    out: list[Finding] = []
    for cert, servers, late in expiring_certificates(inv, plan):
        assert cert.not_after is not None
        day = cert.not_after.isoformat()
        expiry = dt.datetime.combine(cert.not_after, dt.time())
        renew = sorted(
            s.id
            for s in plan.steps
            if s.id.startswith(step_id(P, "certificate-renew") + ".") and s.target in servers
        )
        in_time = bool(renew) and all(plan.schedule[r].start < expiry for r in renew)
        waiting = [sid for sid in late if sid not in renew]
        shown = ", ".join(waiting[:5]) + (", ..." if len(waiting) > 5 else "")
        where = str(cert.source) if cert.source else f"certificate {cert.thumbprint}"
        what = (
            f"certificate {cert.thumbprint} ({cert.subject}), which the plan uses on "
            f"{', '.join(servers)}, expires on {day} while {len(waiting)} steps are scheduled on "
            f"or after that day: {shown}"
        )
        if in_time:
            last = max(plan.schedule[r].start for r in renew).date().isoformat()
            out.append(
                Finding(
                    Severity.INFO,
                    "servers.certificate-renewal",
                    where,
                    f"{what}; the plan renews it first ({', '.join(renew)}, by {last}: "
                    f"{RENEWAL_RUNBOOK})",
                )
            )
        else:
            out.append(
                Finding(
                    Severity.ERROR,
                    "servers.certificate-expires-mid-plan",
                    where,
                    f"{what}; the plan cannot renew it in time",
                    fix=f"renew it with the same names now (before {day}), import it on every "
                    "server behind the namespace and enable it for IIS and SMTP "
                    "(Import-ExchangeCertificate, Enable-ExchangeCertificate -Services IIS,SMTP "
                    "-Force), then export the certificates again and plan",
                )
            )
    return out


__all__ = [
    "RENEWAL_RUNBOOK",
    "certificate_expiry_findings",
    "certificate_renewal_steps",
    "expiring_certificates",
    "renewal_links",
]
