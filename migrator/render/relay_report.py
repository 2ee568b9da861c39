"""The relay report (Markdown): classification with reasons, the old -> new mapping, methods, sizes, findings.

Every value from the inventory passes through :func:`md` before it reaches a
table cell, so a connector name with ``|`` or markup cannot break the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from migrator import __version__
from migrator.fileio import write_text
from migrator.model import Finding, Inventory, RelayMethod, Severity
from migrator.plan.relay import (
    EXCHANGE_2016_DEFAULT_MAX_MESSAGE,
    TRADE_OFF,
    RelayPlan,
    describe_size,
    size_note,
)
from migrator.render.templating import render

REPORT_PATH = "relay-report.md"
"""Where the report is written, relative to the output folder."""
PREFIXES = ("relay.", "version.", "evidence.", "inventory.", "onward.relay.")
"""Finding codes the relay report shows; other areas' findings belong in their own reports."""


def md(value: object) -> str:
    """A value safe inside a Markdown table cell: one line, pipes and markup escaped."""
    text = " ".join(str(value).split())
    for ch in ("\\", "|", "*", "_", "`", "<", ">", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text


def _mapping(inventory: Inventory, plan: RelayPlan) -> list[dict[str, str]]:
    mapping: list[dict[str, str]] = []
    for p in sorted(
        (*plan.connectors, *plan.internal),
        key=lambda p: (p.source_identity.lower(), p.server.lower(), p.name.lower()),
    ):
        sources = ", ".join([p.source_identity, *p.merged_from])
        cert = f"; TlsCertificateName {p.tls_certificate_name}" if p.tls_certificate_name else ""
        mapping.append(
            {
                "old": md(sources),
                "new": md(p.identity) + (" (exists, updated)" if p.adopts_existing else ""),
                "ranges": md(", ".join(str(r) for r in p.remote_ip_ranges)),
                "method": md(p.method.value if p.relay else "internal-only, no relay"),
                "bindings": md(", ".join(str(b) for b in p.bindings)),
                "fqdn": md(p.fqdn + cert),
                "size": md(describe_size(p.max_message_size_bytes)),
                "why": md(p.method_reason),
                "size_note": md(
                    size_note(p, inventory.transport_config)
                    if p.relay
                    else "as on 2010; accepted domains only"
                ),
            }
        )
    return mapping


def relay_report_markdown(
    inventory: Inventory,
    plan: RelayPlan,
    findings: Sequence[Finding],
    onward: RelayPlan | None = None,
) -> str:
    """The Markdown relay report; ``findings`` are the plan's and the checks' (sorted here).

    Findings of other areas (e.g. ``identity.*``) may be passed in and are left out.
    """
    ordered = sorted({f for f in findings if f.code.startswith(PREFIXES)}, key=Finding.sort_key)
    classifications = [
        {
            "identity": md(c.connector.identity),
            "kind": md(c.kind.value),
            "migrate": "yes" if c.migrate else "no",
            "reason": md(c.reason),
        }
        for c in sorted(plan.classifications, key=lambda c: c.connector.identity.lower())
    ]
    mapping = _mapping(inventory, plan)
    onward_mapping = _mapping(inventory, onward) if onward is not None else []
    used = sorted({p.method for p in plan.connectors}, key=lambda m: m.value)
    methods = [{"name": m.value, "text": md(TRADE_OFF[m])} for m in (used or list(RelayMethod))]
    counts = {s: sum(1 for f in ordered if f.severity is s) for s in Severity}
    rows = [
        {
            "severity": f.severity.value,
            "code": md(f.code),
            "where": md(f.where),
            "message": md(f.message),
            "fix": md(f.fix),
        }
        for f in ordered
    ]
    tc = inventory.transport_config
    return render(
        "reports/relay.md.j2",
        organisation=md(inventory.organisation),
        version=__version__,
        classifications=classifications,
        mapping=mapping,
        relay_count=len(plan.connectors),
        internal_count=len(plan.internal),
        onward_mapping=onward_mapping,
        methods=methods,
        targets=sorted({p.server for p in plan.connectors}, key=str.lower),
        errors=counts[Severity.ERROR],
        warnings=counts[Severity.WARNING],
        infos=counts[Severity.INFO],
        findings=rows,
        org_send=md(describe_size(tc.max_send_size_bytes)),
        org_receive=md(describe_size(tc.max_receive_size_bytes)),
        default_2016=md(describe_size(EXCHANGE_2016_DEFAULT_MAX_MESSAGE)),
    )


def write_relay_report(
    path: Path,
    inventory: Inventory,
    plan: RelayPlan,
    findings: Sequence[Finding],
    onward: RelayPlan | None = None,
) -> Path:
    """Write the report to ``path`` (atomically, UTF-8, LF) and return the path.

    The pipeline writes it as ``<output>/relay-report.md`` (:data:`REPORT_PATH`).
    """
    write_text(path, relay_report_markdown(inventory, plan, findings, onward))
    return path
