"""The certificate every server behind the client namespace needs, and what each one lacks.

Exchange facts (learn.microsoft.com, "Digital certificates and encryption in
Exchange Server" and "Configure mail flow and client access"): once the
namespace (mail, Autodiscover) and the SMTP alias point at the new servers,
every one of them answers clients with the certificate enabled for **IIS**
and announces the one enabled for **SMTP** to Exchange Online and partners.
A server still on its self-signed certificate gives every client a
certificate warning and fails TLS with Exchange Online (the Hybrid
Configuration Wizard refuses self-signed and private-CA certificates). The
organisation's certificate is exported with its key from a server that has
it and imported on each new one, then enabled for IIS and SMTP
(``Enable-ExchangeCertificate -Services IIS,SMTP -Force``: without ``-Force``
it stops to ask whether to replace the default SMTP certificate).
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from migrator.client_access import namespace_of
from migrator.model import Certificate, Finding, Inventory, Server, Severity

NEEDED_SERVICES = ("IIS", "SMTP")
"""Services the namespace certificate must be enabled for."""


def transport_names(inv: Inventory) -> list[str]:
    """Host names the transport certificate must cover: connector FQDNs, hybrid send connector, SMTP alias.

    Taken from the inventory: the FQDNs the 2010 receive connectors announce,
    the FQDN of Internet/hybrid send connectors (the name Exchange Online and
    partners check with TLS), and the SMTP alias relay clients use.
    """
    names: set[str] = set()
    legacy = {s.name.lower() for s in inv.legacy_servers}
    for c in inv.receive_connectors:
        if c.server.lower() in legacy and c.fqdn and "." in c.fqdn:
            names.add(c.fqdn.lower())
    for sc in inv.send_connectors:
        if (sc.is_hybrid or sc.is_internet) and sc.fqdn and "." in sc.fqdn:
            names.add(sc.fqdn.lower())
    names.update(a.lower() for a in inv.policy.smtp_aliases)
    return sorted(names - _server_fqdns(inv))


def _server_fqdns(inv: Inventory) -> set[str]:
    # A server's own FQDN is covered by its self-signed certificate; only shared names count.
    return {s.fqdn.lower() for s in inv.servers if s.fqdn}


def namespace_names(inv: Inventory) -> list[str]:
    """The client namespace (``plan.namespace``), else the names clients reach the 2010 servers by.

    Without ``plan.namespace`` the names are the shared names the 2010 virtual
    directories publish (mail and Autodiscover, where exported) and those of the
    non-self-signed certificates enabled for IIS on the legacy servers (what
    clients trust today), without the servers' own FQDNs.
    """
    if inv.policy.client_namespace:
        return sorted(set(inv.policy.client_namespace))
    legacy = {s.name.lower() for s in inv.legacy_servers}
    # The shared names the 2010 virtual directories publish (migrator/client_access.py), where exported.
    shared = namespace_of(inv)
    published = {shared.mail, shared.autodiscover} if shared is not None else set()
    names = published | {
        n.lower()
        for c in inv.certificates
        if c.server.lower() in legacy and not c.self_signed and _enabled_for(c, "IIS")
        for n in c.subject_alternative_names
        if "." in n
    }
    return sorted(names - _server_fqdns(inv))


def required_names(inv: Inventory) -> list[str]:
    """Every name the certificate of a server behind the namespace must cover."""
    return sorted({*namespace_names(inv), *transport_names(inv)})


def covers(certificate: Certificate, name: str) -> bool:
    """Whether the certificate's names (SAN list, else the CN) cover a host name (one-label wildcards too)."""
    low = name.lower()
    names = {n.lower() for n in certificate.subject_alternative_names}
    if not names:
        cn = [
            p.strip()[3:]
            for p in certificate.subject.split(",")
            if p.strip().lower().startswith("cn=")
        ]
        names = {n.lower() for n in cn}
    if low in names:
        return True
    _, dot, parent = low.partition(".")
    return bool(dot) and f"*.{parent}" in names


def _enabled_for(certificate: Certificate, service: str) -> bool:
    return any(s.strip().upper() == service for s in certificate.services)


def _problems(c: Certificate, names: Sequence[str], day: dt.date | None) -> list[str]:
    """What keeps a certificate from serving the namespace (empty: it can, once enabled)."""
    out = []
    if c.self_signed:
        out.append("is self-signed")
    if day is not None and c.not_after is not None and c.not_after < day:
        out.append(f"expired on {c.not_after.isoformat()}")
    missing = [n for n in names if not covers(c, n)]
    if missing:
        out.append("does not cover " + ", ".join(missing))
    return out


@dataclass(frozen=True)
class CertificateNeed:
    """What one server behind the namespace needs for its certificate."""

    server: str
    """The server."""
    names: tuple[str, ...]
    """Names the certificate must cover."""
    thumbprint: str = ""
    """The organisation certificate the server should use; empty where the inventory has none."""
    import_from: str = ""
    """Server to export it from, where the server lacks it; empty when it has it already."""
    enable: tuple[str, ...] = ()
    """Services (IIS, SMTP) it still has to be enabled for."""
    missing: str = ""
    """Why no certificate of the inventory serves (empty where one does)."""


def _usable(c: Certificate, names: Sequence[str], day: dt.date | None) -> bool:
    return not _problems(c, names, day)


_NAMES_OF: list[tuple[weakref.ref[Inventory], tuple[str, ...]]] = []
"""The last inventory asked about and its :func:`required_names` (see :func:`_names_of`)."""


def _names_of(inv: Inventory) -> tuple[str, ...]:
    """:func:`required_names` of ``inv``, made once per inventory (an inventory is immutable).

    Every new server asks, in the server steps, the renewal rule and its finding; each time
    it walked every receive connector (2,000 relay connectors at 300,000 users).
    """
    if _NAMES_OF and _NAMES_OF[0][0]() is inv:
        return _NAMES_OF[0][1]
    names = tuple(required_names(inv))
    _NAMES_OF[:] = [(weakref.ref(inv), names)]
    return names


def certificate_need(inv: Inventory, server: Server) -> CertificateNeed:
    """The certificate the server should serve the namespace with, and what is missing for it."""
    names = _names_of(inv)
    day = inv.policy.start_date
    low = server.name.lower()
    own = [c for c in inv.certificates if c.server.lower() == low]
    # Prefer one already enabled for the most services, then the latest expiry, then thumbprint.
    good = sorted(
        (c for c in own if _usable(c, names, day)),
        key=lambda c: (
            -sum(_enabled_for(c, s) for s in NEEDED_SERVICES),
            -(c.not_after or dt.date.min).toordinal(),
            c.thumbprint,
        ),
    )
    if good:
        c = good[0]
        return CertificateNeed(
            server.name,
            names,
            c.thumbprint,
            "",
            tuple(s for s in NEEDED_SERVICES if not _enabled_for(c, s)),
        )
    targets = {s.name.lower() for s in inv.target_servers}
    elsewhere = sorted(
        (c for c in inv.certificates if c.server.lower() != low and _usable(c, names, day)),
        key=lambda c: (
            c.server.lower() not in targets,  # export from a new server first
            -(c.not_after or dt.date.min).toordinal(),
            c.server.lower(),
            c.thumbprint,
        ),
    )
    if elsewhere:
        c = elsewhere[0]
        return CertificateNeed(server.name, names, c.thumbprint, c.server, NEEDED_SERVICES)
    if own:
        details = "; ".join(
            f"{c.thumbprint} ({c.subject}) " + ", ".join(_problems(c, names, day))
            for c in sorted(own, key=lambda c: c.thumbprint)
        )
    else:
        details = "the inventory lists no certificate on it"
    return CertificateNeed(
        server.name,
        names,
        missing=f"no certificate of the inventory is from a CA, unexpired and covers "
        f"{', '.join(names) or 'the namespace'}: {details}",
    )


def check_certificates(inv: Inventory, servers: Sequence[Server]) -> list[Finding]:
    """Findings for each server behind the namespace whose certificate the plan cannot provide or must fix."""
    out: list[Finding] = []
    if servers and not inv.certificates:
        return [
            Finding(
                Severity.WARNING,
                "servers.certificate-unknown",
                "certificates",
                "the inventory lists no exchange certificate, so the plan cannot tell which of "
                f"{', '.join(s.name for s in servers)} lack the namespace certificate; each "
                "servers.certificate step checks at run time and stops where it is missing",
                fix="add the Get-ExchangeCertificate export (Certificates.csv, migrator collect-script)",
            )
        ]
    for server in servers:
        need = certificate_need(inv, server)
        where = f"servers.certificate.{server.name}"
        if need.missing:
            out.append(
                Finding(
                    Severity.ERROR,
                    "servers.certificate-missing",
                    where,
                    f"{server.name} would serve the namespace with no usable certificate: "
                    f"{need.missing}",
                    fix=f"import a certificate from a third-party CA whose names cover "
                    f"{', '.join(need.names)} on {server.name} (or any server, the plan copies it), "
                    "enable it for IIS and SMTP and export the certificates again",
                )
            )
        elif need.import_from:
            out.append(
                Finding(
                    Severity.INFO,
                    "servers.certificate-import",
                    where,
                    f"{server.name} has no usable certificate for the namespace: the plan exports "
                    f"{need.thumbprint} from {need.import_from}, imports it and enables it for IIS and SMTP",
                )
            )
        elif need.enable:
            out.append(
                Finding(
                    Severity.INFO,
                    "servers.certificate-enable",
                    where,
                    f"certificate {need.thumbprint} on {server.name} covers the names but is not "
                    f"enabled for {' and '.join(need.enable)}: the plan enables it for IIS and SMTP",
                )
            )
    return out


__all__ = [
    "NEEDED_SERVICES",
    "CertificateNeed",
    "certificate_need",
    "check_certificates",
    "covers",
    "namespace_names",
    "required_names",
    "transport_names",
]
