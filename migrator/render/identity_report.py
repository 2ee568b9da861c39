"""The identity report (Markdown) and the batch CSVs the identity runbooks read.

The CSVs are data for PowerShell's ``Import-Csv``: UTF-8 with BOM, CRLF,
every field quoted, values exactly as planned. The sourceAnchor travels as a
GUID (``SourceAnchorGuid``); the runbooks compute the ImmutableId from it, so
no base64 value (which may begin with ``+``) sits in a cell a spreadsheet
could take for a formula.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from operator import attrgetter, is_not
from pathlib import Path
from typing import Any

from migrator import __version__
from migrator.fileio import BOM, atomic_write_bytes, write_text
from migrator.model import Finding
from migrator.plan.identity import IdentityBatch, IdentityMatch, MatchMethod, MatchOutcome
from migrator.plan.identity_steps import batch_csv_path
from migrator.plan.immutable_id import guids_from_immutable_ids
from migrator.render.findings import FINDINGS_FILE, SHOWN_PER_CODE, group_by_code
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


# Looked up by id(): an enum's own hash is a Python-level call, an int's is not.
_OUTCOME_TEXT = {id(o): o.value for o in MatchOutcome}
_METHOD_TEXT = {id(None): "", **{id(m): m.value for m in MatchMethod}}
_FLAG_TEXT = {True: "True", False: "False"}


def _of(objects: Sequence[Any], name: str) -> list[str]:
    """Attribute ``name`` of each object, empty text where the object is None."""
    if all(map(is_not, objects, repeat(None))):
        return list(map(attrgetter(name), objects))
    return [getattr(o, name) if o is not None else "" for o in objects]


def _texts(table: dict[int, str], values: Iterable[object]) -> list[str]:
    """Each enum member (or None) of ``values`` as its text in ``table``."""
    return list(map(table.__getitem__, map(id, values)))


def _batch_columns(batches: Sequence[IdentityBatch]) -> list[list[str]]:
    """The :data:`CSV_COLUMNS` of every user of ``batches``, in order: one list per column."""
    results = list(chain.from_iterable(b.results for b in batches))
    cloud = list(map(attrgetter("cloud"), results))
    onprem = list(map(attrgetter("onprem"), results))
    return [
        list(chain.from_iterable(repeat(b.name, len(b.results)) for b in batches)),
        list(map(attrgetter("id"), cloud)),
        list(map(attrgetter("user_principal_name"), cloud)),
        _of(onprem, "object_guid"),
        _of(onprem, "distinguished_name"),
        _of(onprem, "sam_account_name"),
        _texts(_OUTCOME_TEXT, map(attrgetter("outcome"), results)),
        _texts(_METHOD_TEXT, map(attrgetter("method"), results)),
        # every anchor at once; one that is not a GUID's ImmutableId gives an empty cell
        guids_from_immutable_ids(list(map(attrgetter("source_anchor"), results))),
        list(map(_FLAG_TEXT.__getitem__, map(attrgetter("set_immutable_id"), results))),
        _of(onprem, "user_principal_name"),
        list(map(attrgetter("target_upn"), results)),
        list(map(";".join, map(attrgetter("add_proxy_addresses"), results))),
        list(map(_FLAG_TEXT.__getitem__, map(attrgetter("move_to_ou"), results))),
        list(map(";".join, map(attrgetter("admin_roles"), cloud))),
    ]


def batch_csv_text(batch: IdentityBatch) -> str:
    """The CSV text of one batch as written (CRLF line ends), without the BOM."""
    header = windows_csv_pieces([[name] for name in CSV_COLUMNS])
    return "".join(header + windows_csv_pieces(_batch_columns([batch])))


def _windows_values(column: Sequence[str]) -> Sequence[str]:
    """Each value as it sits between its quotes in a Windows CSV: quotes doubled, every line
    end (CR LF, CR or LF) made CR LF, as ``windows_text`` makes the line ends of a text."""
    joined = "".join(column)
    if '"' not in joined and "\r" not in joined and "\n" not in joined:
        return column
    return [
        v.replace('"', '""').replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
        for v in column
    ]


def windows_csv_pieces(columns: Sequence[Sequence[str]]) -> list[str]:
    """The rows given as ``columns`` (one list per column, all as long) as a Windows CSV's text:
    what ``csv.writer(quoting=QUOTE_ALL)`` writes with LF line ends, made CRLF by
    ``windows_text``, in ``2 * len(columns) + 1`` pieces per row (``"`` or ``","``, then a
    value, per column; ``"`` CR LF last), so that rows can be cut out of it by position.

    Made column by column (one check of a whole column for quotes and line ends), never
    row by row.
    """
    count = len(columns[0])
    width = 2 * len(columns) + 1
    pieces = [""] * (count * width)
    for k, column in enumerate(columns):
        pieces[2 * k :: width] = ['"' if k == 0 else '","'] * count
        pieces[2 * k + 1 :: width] = _windows_values(column)
    pieces[width - 1 :: width] = ['"\r\n'] * count
    return pieces


def _windows_csv(header: Sequence[str], pieces: Sequence[str]) -> bytes:
    """The bytes of a CSV the runbooks read: UTF-8 with BOM, ``header``, then ``pieces``."""
    head = windows_csv_pieces([[name] for name in header])
    return (BOM + "".join(head) + "".join(pieces)).encode("utf-8")


def write_identity_batches(result: IdentityMatch, out_dir: Path) -> list[Path]:
    """Write ``identity/batch-001.csv`` ... below ``out_dir``; return the paths in order.

    Every batch's rows are made at once, column by column, then cut into the files.
    """
    batches = result.batches
    pieces = windows_csv_pieces(_batch_columns(batches)) if batches else []
    width = 2 * len(CSV_COLUMNS) + 1
    paths: list[Path] = []
    start = 0
    for batch in batches:
        end = start + len(batch.results) * width
        path = out_dir / batch_csv_path(batch)
        atomic_write_bytes(path, _windows_csv(CSV_COLUMNS, pieces[start:end]))
        paths.append(path)
        start = end
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


USERS_PATH = "identity/identity-users.csv"
"""Every cloud user with the report's columns (data for scripts), relative to the output folder."""

USERS_COLUMNS = (
    "CloudUserPrincipalName",
    "CloudUserId",
    "Outcome",
    "Method",
    "OnPremUser",
    "SourceAnchorGuid",
    "CurrentImmutableIdGuid",
    "Batch",
    "Reason",
    "Fix",
)
"""Columns of :data:`USERS_PATH`, in order (users in report order)."""

USERS_LISTED_UP_TO = 1000
"""Above this many cloud users the report groups its users by outcome (the CSV lists every one)."""

SHOWN_PER_OUTCOME = 20
"""Users shown per outcome where the report groups them."""

FINDINGS_LISTED_UP_TO = 1000
"""Above this many findings the report groups them by code (as report.html does)."""


@dataclass(frozen=True)
class _UserGroup:
    """The users of one outcome where the report groups them: the first few, and a count."""

    outcome: str
    count: int
    rows: list[tuple[str, ...]]

    @property
    def hidden(self) -> int:
        return self.count - len(self.rows)


def _user_cells(
    result: IdentityMatch, at: list[int], batch_names: list[str]
) -> list[tuple[str, ...]]:
    """The report's nine cells (escaped for Markdown) of the users at ``at``, in order."""
    results = result.results
    chosen = list(map(results.__getitem__, at))
    columns = [
        _md_many(r.cloud_upn for r in chosen),
        _md_many(r.outcome.value for r in chosen),
        _md_many(r.method.value if r.method else "" for r in chosen),
        _md_many(r.onprem_dn or "; ".join(r.candidates) for r in chosen),
        _md_many(r.source_anchor for r in chosen),
        _md_many(r.current_immutable_id for r in chosen),
        _md_many(map(batch_names.__getitem__, at)),
        _md_many(r.reason for r in chosen),
        _md_many(r.fix for r in chosen),
    ]
    return list(zip(*columns, strict=True))


def identity_report_markdown(
    result: IdentityMatch, organisation: str, findings: Sequence[Finding] = ()
) -> str:
    """The Markdown identity report: summary, batches, IdFix findings and the users.

    Up to :data:`USERS_LISTED_UP_TO` cloud users, every user is a row; above it, each
    outcome shows its count and its first :data:`SHOWN_PER_OUTCOME` users, and
    :data:`USERS_PATH` lists every one. Findings are grouped by code the same way above
    :data:`FINDINGS_LISTED_UP_TO`.
    """
    batch_names = result.batch_names()
    order = result.report_order()
    groups: list[_UserGroup] | None = None
    rows: list[tuple[str, ...]] = []
    if len(order) > USERS_LISTED_UP_TO:
        groups = []
        by_outcome = result.by_outcome()
        for outcome, at in by_outcome.items():
            if at:
                shown = _user_cells(result, at[:SHOWN_PER_OUTCOME], batch_names)
                groups.append(_UserGroup(outcome.value, len(at), shown))
    else:
        rows = _user_cells(result, order, batch_names)
    counts = [(o.value, n) for o, n in result.counts().items()]
    batches = [
        {
            "name": b.name,
            "users": len(b.results),
            "hard": sum(map(attrgetter("set_immutable_id"), b.results)),
            "admins": sum(map(bool, map(attrgetter("cloud.admin_roles"), b.results))),
            "csv": _md(batch_csv_path(b)),
        }
        for b in result.batches
    ]
    ordered_findings = sorted(findings, key=Finding.sort_key)
    finding_groups = None
    if len(ordered_findings) > FINDINGS_LISTED_UP_TO:
        finding_groups = [
            {
                "severity": g.severity.value,
                "code": _md(g.code),
                "count": len(g.findings),
                "shown": [_finding_cells(f) for f in g.shown],
                "hidden": g.hidden,
            }
            for g in group_by_code(ordered_findings)
        ]
    return render(
        "reports/identity.md.j2",
        organisation=_md(organisation),
        version=__version__,
        source_anchor=result.source_anchor.value,
        sync_scope_ou=_md(result.sync_scope_ou),
        counts=counts,
        total=len(order),
        batches=batches,
        findings=[] if finding_groups is not None else list(map(_finding_cells, ordered_findings)),
        finding_count=len(ordered_findings),
        finding_groups=finding_groups,
        findings_file=FINDINGS_FILE,
        shown_per_code=SHOWN_PER_CODE,
        rows=rows,
        groups=groups,
        shown_per_outcome=SHOWN_PER_OUTCOME,
        users_csv=USERS_PATH,
    )


def _finding_cells(f: Finding) -> dict[str, str]:
    return {
        "severity": f.severity.value,
        "code": _md(f.code),
        "where": _md(f.where),
        "message": _md(f.message),
        "fix": _md(f.fix),
    }


def identity_users_csv(result: IdentityMatch) -> bytes:
    """The CSV of every cloud user (:data:`USERS_COLUMNS`, report order), as written: UTF-8
    with BOM, CRLF.

    Values are as planned, not escaped; the ImmutableIds are given as the GUIDs they encode
    (empty where one is not a GUID's: the reason then quotes it), as in the batch CSVs.
    """
    results = result.results
    order = result.report_order()
    chosen = list(map(results.__getitem__, order))
    cloud = list(map(attrgetter("cloud"), chosen))
    onprem = list(map(attrgetter("onprem"), chosen))
    dns = _of(onprem, "distinguished_name")
    candidates = list(map(attrgetter("candidates"), chosen))
    batch_names = result.batch_names()
    columns = [
        list(map(attrgetter("user_principal_name"), cloud)),
        list(map(attrgetter("id"), cloud)),
        _texts(_OUTCOME_TEXT, map(attrgetter("outcome"), chosen)),
        _texts(_METHOD_TEXT, map(attrgetter("method"), chosen)),
        [d or "; ".join(c) for d, c in zip(dns, candidates, strict=True)],
        guids_from_immutable_ids(list(map(attrgetter("source_anchor"), chosen))),
        guids_from_immutable_ids(list(map(attrgetter("immutable_id"), cloud))),
        list(map(batch_names.__getitem__, order)),
        list(map(attrgetter("reason"), chosen)),
        list(map(attrgetter("fix"), chosen)),
    ]
    return _windows_csv(USERS_COLUMNS, windows_csv_pieces(columns) if chosen else [])


def write_identity_report(
    result: IdentityMatch, out_dir: Path, organisation: str, findings: Sequence[Finding] = ()
) -> Path:
    """Write the report to ``identity/identity-report.md`` below ``out_dir``, and every user to
    ``identity/identity-users.csv`` (UTF-8 with BOM, CRLF, as the batch CSVs)."""
    path = out_dir / REPORT_PATH
    write_text(path, identity_report_markdown(result, organisation, findings))
    atomic_write_bytes(out_dir / USERS_PATH, identity_users_csv(result))
    return path


__all__ = [
    "CSV_COLUMNS",
    "FINDINGS_LISTED_UP_TO",
    "REPORT_PATH",
    "SHOWN_PER_OUTCOME",
    "USERS_COLUMNS",
    "USERS_LISTED_UP_TO",
    "USERS_PATH",
    "batch_csv_text",
    "identity_report_markdown",
    "identity_users_csv",
    "windows_csv_pieces",
    "write_identity_batches",
    "write_identity_report",
]
