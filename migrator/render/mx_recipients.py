"""``mx/<domain>-recipients.csv``: the addresses Exchange Online must know before a domain's MX moves.

Read by the ``mx.recipients-in-cloud.<domain>`` step (Import-Csv: UTF-8 with
BOM, CRLF, every field quoted), for each domain that stays Authoritative in
Exchange Online (see :mod:`migrator.plan.phases.mx_recipients`).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from migrator.fileio import write_windows_text
from migrator.model import Inventory
from migrator.plan.identity import IdentityMatch
from migrator.plan.phases import batch_of
from migrator.plan.phases.mx import mx_gates, recipients_csv_path


def recipients_csv_text(addresses: tuple[str, ...]) -> str:
    """The CSV text (one column, ``Address``; LF line ends, the writer makes them CRLF)."""
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(["Address"])
    for a in addresses:
        writer.writerow([a])
    return buf.getvalue()


def write_recipient_csvs(
    inv: Inventory, identity: IdentityMatch | None, out_dir: Path
) -> list[Path]:
    """Write the CSV of every domain whose MX change waits for a cloud-recipient check."""
    paths: list[Path] = []
    for domain, gate in mx_gates(inv, batch_of(identity)).items():
        if gate.needs_internal_relay or not gate.addresses:
            continue
        path = out_dir / recipients_csv_path(domain)
        write_windows_text(path, recipients_csv_text(gate.addresses))
        paths.append(path)
    return paths


__all__ = ["recipients_csv_text", "write_recipient_csvs"]
