"""``identity/batch-NNN-remote-mailboxes.csv``: the remote mailboxes the identity EMS step creates.

Data for PowerShell's ``Import-Csv`` (UTF-8 with BOM, CRLF, every field quoted),
one row per matched cloud mailbox whose on-premises user has no Exchange
attributes (see :mod:`migrator.plan.remote_mailbox`).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from migrator.fileio import write_windows_text
from migrator.model import Tenant
from migrator.plan.identity import IdentityBatch, IdentityMatch
from migrator.plan.identity_steps import remote_mailbox_csv_path
from migrator.plan.remote_mailbox import remote_mailbox_rows

COLUMNS = (
    "Batch",
    "CloudUserId",
    "CloudUserPrincipalName",
    "OnPremObjectGuid",
    "OnPremDistinguishedName",
    "PrimarySmtpAddress",
    "RemoteRoutingAddress",
    "MailboxType",
    "EmailAddresses",
    "ExchangeGuid",
    "ArchiveGuid",
)
"""Columns of the remote-mailbox CSV, in order."""


def remote_mailbox_csv_text(batch: IdentityBatch, tenant: Tenant) -> str:
    """The CSV text of one batch's remote mailboxes (LF line ends; the writer makes them CRLF)."""
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in remote_mailbox_rows(batch, tenant):
        r = row.result
        writer.writerow(
            [
                batch.name,
                r.cloud_id,
                r.cloud_upn,
                r.onprem_guid,
                r.onprem_dn,
                row.primary_smtp_address,
                row.remote_routing_address,
                row.mailbox_type,
                ";".join(row.email_addresses),
                row.exchange_guid,
                row.archive_guid,
            ]
        )
    return buf.getvalue()


def write_remote_mailbox_csvs(result: IdentityMatch, tenant: Tenant, out_dir: Path) -> list[Path]:
    """Write the remote-mailbox CSV of every batch that has one; return the paths in order."""
    paths: list[Path] = []
    for batch in result.batches:
        if not remote_mailbox_rows(batch, tenant):
            continue
        path = out_dir / remote_mailbox_csv_path(batch)
        write_windows_text(path, remote_mailbox_csv_text(batch, tenant))
        paths.append(path)
    return paths


__all__ = ["COLUMNS", "remote_mailbox_csv_text", "write_remote_mailbox_csvs"]
