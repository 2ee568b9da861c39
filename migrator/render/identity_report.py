"""The identity report (Markdown) and the batch CSVs the identity runbooks read.

The CSVs are data for PowerShell's ``Import-Csv``: UTF-8 with BOM, CRLF,
every field quoted, values exactly as planned. The sourceAnchor travels as a
GUID (``SourceAnchorGuid``); the runbooks compute the ImmutableId from it, so
no base64 value (which may begin with ``+``) sits in a cell a spreadsheet
could take for a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from itertools import repeat
from pathlib import Path

from migrator import __version__
from migrator.fileio import write_text, write_windows_text
from migrator.model import Finding
from migrator.plan.identity import IdentityBatch, IdentityMatch, MatchResult
from migrator.plan.identity_steps import batch_csv_path
from migrator.plan.immutable_id import guids_from_immutable_ids
from migrator.render.templating import render

CSV_COLUMNS = (
    "Batch",
    "CloudUserId",
    "CloudUserPrincipalName",
    "OnPremObjectGuid",
    "OnPremDistinguishedName",
    "SamAccountName",
    "Outcome",
    "Method",
    "SourceAnchorGuid",
    "SetImmutableId",
    "CurrentUserPrincipalName",
    "TargetUserPrincipalName",
    "AddProxyAddresses",
    "MoveToSyncScope",
    "AdminRoles",
)
"""Columns of ``identity/batch-NNN.csv``, in order."""

REPORT_PATH = "identity/identity-report.md"
"""Where the report is written, relative to the output folder."""


def _csv_row(batch: IdentityBatch, r: MatchResult, anchor_guid: str) -> list[str]:
    return [
        batch.name,
        r.cloud_id,
        r.cloud_upn,
        r.onprem_guid,
        r.onprem_dn,
        r.onprem_sam,
        r.outcome.value,
        r.method.value if r.method else "",
        anchor_guid,
        "True" if r.set_immutable_id else "False",
        r.onprem_upn,
        r.target_upn,
        ";".join(r.add_proxy_addresses),
        "True" if r.move_to_ou else "False",
        ";".join(r.admin_roles),
    ]


def batch_csv_text(batch: IdentityBatch) -> str:
    """The CSV text of one batch (LF line ends; the writer makes them CRLF)."""
    # every anchor at once; one that is not a GUID's ImmutableId gives an empty cell
    anchors = guids_from_immutable_ids([r.source_anchor for r in batch.results])
    rows = [CSV_COLUMNS, *map(_csv_row, repeat(batch), batch.results, anchors)]
    return _quoted_csv(rows)


def _quoted_csv(rows: Sequence[Sequence[str]]) -> str:
    """What ``csv.writer(quoting=QUOTE_ALL, lineterminator="\\n")`` writes for rows of text.

    Made as one text: fields joined by U+001F and rows by U+001E, every quote doubled in
    one pass, then the separators become ``","`` and ``"\\n"``. Where a value holds one of
    those separators itself, the csv module writes the rows.
    """
    text = "\x1e".join(map("\x1f".join, rows))
    fields = sum(map(len, rows))
    if (
        not all(rows)
        or text.count("\x1f") != fields - len(rows)
        or text.count("\x1e") != max(len(rows) - 1, 0)
    ):
        buf = io.StringIO()
        csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
        return buf.getvalue()
    text = text.replace('"', '""').replace("\x1f", '","').replace("\x1e", '"\n"')
    return '"' + text + '"\n' if rows else ""


def write_identity_batches(result: IdentityMatch, out_dir: Path) -> list[Path]:
    """Write ``identity/batch-001.csv`` ... below ``out_dir``; return the paths in order."""
    paths: list[Path] = []
    for batch in result.batches:
        path = out_dir / batch_csv_path(batch)
        write_windows_text(path, batch_csv_text(batch))
        paths.append(path)
    return paths


_MARKUP = str.maketrans({ch: "\\" + ch for ch in "\\|*_`<>[]"})
"""Markdown markup (and the backslash itself) escaped by a backslash, in one pass."""


def _md(value: object) -> str:
    """A value safe inside a Markdown table cell: one line, pipes and markup escaped."""
    return " ".join(str(value).split()).translate(_MARKUP)


def _md_many(values: Iterable[str]) -> list[str]:
    """:func:`_md` of each value, the edits made once over all of them (joined by NUL)."""
    texts = list(values)
    joined = "\0".join(texts)
    if joined.count("\0") != max(len(texts) - 1, 0):  # a value holds a NUL itself
        return list(map(_md, texts))
    # leading, trailing, repeated or other whitespace in some value (NUL is not whitespace)
    if "\0 " in joined or " \0" in joined or " ".join(joined.split()) != joined:
        joined = "\0".join(" ".join(t.split()) for t in texts)
    for ch in "\\|*_`<>[]":  # the backslash first: the escapes added after it stay as they are
        if ch in joined:
            joined = joined.replace(ch, "\\" + ch)
    return joined.split("\0") if texts else []


def identity_report_markdown(
    result: IdentityMatch, organisation: str, findings: Sequence[Finding] = ()
) -> str:
    """The Markdown identity report: summary, batches, IdFix findings and every user."""
    batch_of = {r.cloud_id: b.name for b in result.batches for r in b.results}
    ordered = sorted(
        result.results, key=lambda r: (r.outcome.rank, r.cloud_upn.lower(), r.cloud_id)
    )
    # each column escaped all at once; a row is its cells in the template's column order
    columns = [
        _md_many(r.cloud_upn for r in ordered),
        _md_many(r.outcome.value for r in ordered),
        _md_many(r.method.value if r.method else "" for r in ordered),
        _md_many(r.onprem_dn or "; ".join(r.candidates) for r in ordered),
        _md_many(r.source_anchor for r in ordered),
        _md_many(r.current_immutable_id for r in ordered),
        _md_many(batch_of.get(r.cloud_id, "") for r in ordered),
        _md_many(r.reason for r in ordered),
        _md_many(r.fix for r in ordered),
    ]
    rows = list(zip(*columns, strict=True))
    counts = [(o.value, n) for o, n in result.counts().items()]
    batches = [
        {
            "name": b.name,
            "users": len(b.results),
            "hard": sum(1 for r in b.results if r.set_immutable_id),
            "admins": sum(1 for r in b.results if r.admin_roles),
            "csv": _md(batch_csv_path(b)),
        }
        for b in result.batches
    ]
    shown = [
        {
            "severity": f.severity.value,
            "code": _md(f.code),
            "where": _md(f.where),
            "message": _md(f.message),
            "fix": _md(f.fix),
        }
        for f in sorted(findings, key=Finding.sort_key)
    ]
    return render(
        "reports/identity.md.j2",
        organisation=_md(organisation),
        version=__version__,
        source_anchor=result.source_anchor.value,
        sync_scope_ou=_md(result.sync_scope_ou),
        counts=counts,
        total=len(result.results),
        batches=batches,
        findings=shown,
        rows=rows,
    )


def write_identity_report(
    result: IdentityMatch, out_dir: Path, organisation: str, findings: Sequence[Finding] = ()
) -> Path:
    """Write the report to ``identity/identity-report.md`` below ``out_dir``."""
    path = out_dir / REPORT_PATH
    write_text(path, identity_report_markdown(result, organisation, findings))
    return path


__all__ = [
    "CSV_COLUMNS",
    "REPORT_PATH",
    "batch_csv_text",
    "identity_report_markdown",
    "write_identity_batches",
    "write_identity_report",
]
