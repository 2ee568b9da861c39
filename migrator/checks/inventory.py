"""Load-level checks: what a freshly loaded inventory lacks or carries that needs a look."""

from __future__ import annotations

from migrator.model import Finding, Inventory, Severity


def check_inventory_basics(inv: Inventory) -> list[Finding]:
    """The loaders' warnings plus basic gaps: no target servers, ``%zone`` suffixes, no connectors."""
    findings = list(inv.load_findings)
    if not inv.policy.targets_by_site or not any(s for _, s in inv.policy.targets_by_site):
        findings.append(
            Finding(
                Severity.WARNING,
                "inventory.no-targets",
                inv.root,
                (
                    "no relay target servers are defined (relay.targets in inventory.yaml): "
                    "the relay connectors are not carried over to the new servers"
                    if inv.target_servers
                    else "no target servers are defined (servers with lifecycle: target): "
                    "'migrator plan' refuses to plan until there are"
                ),
                "add relay.targets with the target servers per site to inventory.yaml",
            )
        )
    for c in inv.receive_connectors:
        for r in c.remote_ip_ranges:
            if r.zone:
                findings.append(
                    Finding(
                        Severity.WARNING,
                        "inventory.zone-suffix",
                        str(c.source) if c.source else c.identity,
                        f"connector '{c.identity}': range '{r.exchange_text()}%{r.zone}' has the "
                        f"interface zone '%{r.zone}', which is specific to server '{c.server}'",
                        "the zone is kept for this server but never copied to another server",
                    )
                )
    if not inv.receive_connectors:
        findings.append(
            Finding(
                Severity.WARNING,
                "inventory.no-connectors",
                inv.root,
                "no receive connectors were loaded",
                "add a Get-ReceiveConnector export (see docs/inventory.md)",
            )
        )
    return sorted(set(findings), key=Finding.sort_key)
