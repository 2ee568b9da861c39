"""``client-evidence.md``: the client-access evidence for people (who still uses each 2010 server).

Per server and protocol the clients (user, address, agent or Outlook build,
proxy, requests, last seen), then the users whose Outlook is older than the
Exchange 2016 minimum, with the wave their mailbox moves in where known.
Log text is data: Markdown table cells have ``|`` and line ends escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from migrator.fileio import atomic_write_bytes
from migrator.logs.client_evidence import EvidenceSummary, user_key

LISTED_PER_PROTOCOL = 50
"""Clients listed per server and protocol (busiest first); client-evidence.json has them all."""


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def client_evidence_markdown(
    evidence: EvidenceSummary, waves: Mapping[str, int] | None = None
) -> str:
    """The Markdown text (``waves``: user name part -> move wave, from the moves plan)."""
    lines = ["# Client access evidence of the 2010 servers", ""]
    scan = evidence.scan
    lines.append(
        f"{len(scan.files_read)} files read, {scan.records} records, {scan.counted} client requests"
        f" counted, {scan.rejected} malformed lines skipped,"
        f" {scan.proxied_explained} proxied requests replaced by their HttpProxy records."
    )
    lines.append("")
    for s in evidence.servers:
        lines += [f"## {s.server}", "", f"Seen from {s.first_seen} to {s.last_seen}.", ""]
        lines.append(
            "| protocol | user | client address | user agent / client | Outlook build | via | log"
            " | requests | last seen | monitoring |"
        )
        lines.append("|---|---|---|---|---|---|---|---:|---|---|")
        hidden = 0
        for p in s.protocols:
            hidden += max(0, p.entries - LISTED_PER_PROTOCOL)
            for c in p.busiest[:LISTED_PER_PROTOCOL]:
                lines.append(
                    "| "
                    + " | ".join(
                        _cell(v)
                        for v in (
                            p.protocol,
                            c.user or "(anonymous)",
                            c.client_ip,
                            c.user_agent,
                            c.outlook_build,
                            c.via,
                            c.log,
                            str(c.requests),
                            c.last_seen,
                            "yes" if c.monitoring else "",
                        )
                    )
                    + " |"
                )
        lines.append("")
        if hidden:
            lines += [
                f"{hidden} more clients (beyond the busiest {LISTED_PER_PROTOCOL} of each"
                " protocol) are in client-evidence.json.",
                "",
            ]
    lines += [
        f"## Outlook older than {evidence.outlook_minimum} (Outlook 2010 SP2)",
        "",
        "Exchange 2016 supports Outlook 2010 SP2 with KB2956191 and KB2965295 and later;"
        " update these users before their mailbox moves.",
        "",
    ]
    if not evidence.old_outlook:
        lines += ["No user was seen with an older Outlook.", ""]
    else:
        lines += ["| user | builds | servers | last seen | wave |", "|---|---|---|---|---:|"]
        for o in evidence.old_outlook:
            wave = (waves or {}).get(user_key(o.user))
            lines.append(
                "| "
                + " | ".join(
                    _cell(v)
                    for v in (
                        o.user,
                        ", ".join(o.builds),
                        ", ".join(o.servers),
                        o.last_seen,
                        "" if wave is None else str(wave),
                    )
                )
                + " |"
            )
        lines.append("")
    if scan.warnings or scan.rejected_lines:
        lines += ["## Warnings", ""]
        lines += [f"- {_cell(w)}" for w in (*scan.warnings, *scan.rejected_lines)]
        if scan.rejected > len(scan.rejected_lines):
            lines.append(f"- and {scan.rejected - len(scan.rejected_lines)} more malformed lines")
        lines.append("")
    return "\n".join(lines)


def write_client_evidence_report(
    evidence: EvidenceSummary, path: Path, waves: Mapping[str, int] | None = None
) -> None:
    """Write ``client-evidence.md`` (UTF-8, LF)."""
    atomic_write_bytes(path, client_evidence_markdown(evidence, waves).encode("utf-8"))
