"""Mailbox exports -> model: sizes joined by GUID, permission names resolved, ``moves:`` read.

Called by the loader after every table is converted. Problems (a mailbox on a
database the inventory does not list, a right on an unknown mailbox) stop the
load; a trustee that is no mailbox (a service account, a group) is a warning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from migrator.errors import Problem
from migrator.inventory.tables import Converted
from migrator.mailboxes import Mailbox, MailboxLink, MovesPolicy, OnlineRule
from migrator.model import Finding, Severity


@dataclass(frozen=True)
class MailboxData:
    """The joined mailbox tables."""

    mailboxes: tuple[Mailbox, ...]
    """Mailboxes with sizes, sorted by primary SMTP address."""
    links: tuple[MailboxLink, ...]
    """Links with both ends as primary SMTP addresses, deduplicated, sorted."""


def mailbox_keys(m: Mailbox) -> Iterable[str]:
    """Every lower-case name a permission export may use for a mailbox."""
    yield m.primary_smtp
    yield m.identity.lower()
    if m.alias:
        yield m.alias.lower()
    if m.distinguished_name:
        yield m.distinguished_name.lower()
    if m.sam_account_name:
        yield m.sam_account_name.lower()


def _lookup_key(name: str) -> str:
    low = name.strip().lower()
    if "\\" in low and "@" not in low and "=" not in low:
        low = low.rsplit("\\", 1)[1]  # CONTOSO\jdoe -> jdoe
    return low


def join_mailboxes(
    converted: Converted, problems: list[Problem], findings: list[Finding]
) -> MailboxData:
    """Sizes into mailboxes, links resolved; problems and findings appended."""
    seen: dict[str, Mailbox] = {}
    for m in converted.mailboxes:
        first = seen.get(m.primary_smtp)
        if first is not None:
            problems.append(
                Problem(
                    str(m.source),
                    f"'{m.primary_smtp}' is listed twice (first at {first.source}); "
                    "expected each mailbox once (export Get-Mailbox once, plus -Arbitration)",
                )
            )
            continue
        seen[m.primary_smtp] = m
    stats: dict[tuple[str, bool], tuple[int, int]] = {}
    for st in converted.mailbox_stats:
        old = stats.get((st.guid, st.archive), (0, 0))
        stats[(st.guid, st.archive)] = (old[0] + st.size_bytes, old[1] + st.item_count)
    known_dbs = {d.name.lower() for d in converted.mailbox_databases}
    missing_sizes = 0
    mailboxes: list[Mailbox] = []
    for m in seen.values():
        if known_dbs:
            for column, db in (("Database", m.database), ("ArchiveDatabase", m.archive_database)):
                if db and db.lower() not in known_dbs:
                    where = replace(m.source, column=column) if m.source else column
                    problems.append(
                        Problem(
                            str(where),
                            f"'{db}' is not a database of the inventory; expected one of the "
                            "databases in the Get-MailboxDatabase export (export every database)",
                        )
                    )
        primary = stats.get((m.exchange_guid, False))
        archive = stats.get((m.archive_guid, True), (0, 0)) if m.archive_guid else (0, 0)
        if primary is None and converted.mailbox_stats:
            missing_sizes += 1
        size, items = primary or (0, 0)
        mailboxes.append(replace(m, size_bytes=size, item_count=items, archive_bytes=archive[0]))
    if missing_sizes:
        findings.append(
            Finding(
                Severity.WARNING,
                "moves.size-unknown",
                "mailbox statistics",
                f"{missing_sizes} mailbox(es) have no Get-MailboxStatistics row (never logged "
                "on, or the export missed a database): planned as 0 bytes",
                "export Get-MailboxStatistics -Database for every database",
            )
        )
    index: dict[str, str] = {}
    for m in mailboxes:
        for key in mailbox_keys(m):
            index.setdefault(key, m.primary_smtp)
    links: set[tuple[str, str, Any]] = set()
    sources: dict[tuple[str, str, Any], MailboxLink] = {}
    not_mailboxes: Counter[str] = Counter()
    for link in converted.mailbox_links:
        owner = index.get(_lookup_key(link.mailbox))
        trustee = index.get(_lookup_key(link.trustee))
        if owner is None:
            where = replace(link.source, column="Mailbox") if link.source else "Mailbox"
            problems.append(
                Problem(
                    str(where),
                    f"'{link.mailbox}' is not a mailbox of the inventory; expected a mailbox "
                    "of the Get-Mailbox export (identity, address, alias or DN)",
                )
            )
            continue
        if trustee is None:
            not_mailboxes[link.trustee] += 1
            continue
        if trustee == owner:
            continue
        lk = (owner, trustee, link.right)
        if lk not in links:
            links.add(lk)
            sources[lk] = replace(link, mailbox=owner, trustee=trustee)
    if not_mailboxes:
        shown = ", ".join(f"{n} ({c})" for n, c in sorted(not_mailboxes.items())[:10])
        more = f" and {len(not_mailboxes) - 10} more" if len(not_mailboxes) > 10 else ""
        findings.append(
            Finding(
                Severity.INFO,
                "moves.trustee-not-mailbox",
                "mailbox permissions",
                f"{len(not_mailboxes)} trustee(s) hold rights but have no mailbox in the "
                f"inventory (groups, service accounts): {shown}{more}; they do not tie waves",
                "",
            )
        )
    return MailboxData(
        tuple(sorted(mailboxes, key=lambda m: m.primary_smtp)),
        tuple(sources[k] for k in sorted(links, key=lambda k: (k[0], k[1], k[2].value))),
    )


def moves_policy(doc: dict[str, Any]) -> MovesPolicy:
    """``moves:`` of a schema-checked inventory.yaml (defaults where absent)."""
    raw = doc.get("moves")
    if not isinstance(raw, dict):
        return MovesPolicy()
    online = raw.get("exchange_online", {})
    attribute = online.get("attribute")
    kwargs: dict[str, Any] = {}
    for key in (
        "max_mailboxes",
        "max_per_source_server",
        "max_per_target_database",
        "bad_item_limit",
        "service_account_cap",
        "waves_per_window",
    ):
        if key in raw:
            kwargs[key] = int(raw[key])
    for key in ("max_gb", "throughput_gb_per_hour"):
        if key in raw:
            kwargs[key] = float(raw[key])
    return MovesPolicy(
        target_databases=tuple(
            (str(k), tuple(str(d) for d in v)) for k, v in raw.get("target_databases", {}).items()
        ),
        throughput_by_server=tuple(
            sorted((str(k), float(v)) for k, v in raw.get("throughput_by_server", {}).items())
        ),
        pilot=tuple(str(x).lower() for x in raw.get("pilot", [])),
        pilot_ous=tuple(str(x).lower() for x in raw.get("pilot_ous", [])),
        exclude=tuple(str(x).lower() for x in raw.get("exclude", [])),
        online=OnlineRule(
            ous=tuple(str(x).lower() for x in online.get("ous", [])),
            groups=tuple(str(x).lower() for x in online.get("groups", [])),
            mailboxes=tuple(str(x).lower() for x in online.get("mailboxes", [])),
            attribute=(str(attribute["name"]).lower(), str(attribute["value"]))
            if attribute
            else None,
        ),
        **kwargs,
    )
