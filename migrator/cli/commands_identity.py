"""``migrator identity immutable-id``, ``identity guid`` and ``identity match``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from migrator.cli import identity_app, out

if TYPE_CHECKING:
    from rich.table import Table

    from migrator.plan.identity import IdentityMatch

_DEFAULT_LIMIT = 200


@identity_app.command("immutable-id")
def immutable_id(
    guid: Annotated[
        str, typer.Argument(help="objectGUID or mS-DS-ConsistencyGuid, any usual form.")
    ],
) -> None:
    """Print the ImmutableId (sourceAnchor) of a GUID, as Entra Connect computes it."""
    from migrator.plan.immutable_id import immutable_id_from_guid

    out.print(immutable_id_from_guid(guid), markup=False)


@identity_app.command("guid")
def guid(
    immutable_id: Annotated[str, typer.Argument(help="OnPremisesImmutableId (base64).")],
) -> None:
    """Print the GUID (objectGUID / mS-DS-ConsistencyGuid) an ImmutableId stands for."""
    from migrator.plan.immutable_id import guid_from_immutable_id

    out.print(guid_from_immutable_id(immutable_id), markup=False)


def match_table(result: IdentityMatch, limit: int) -> Table:
    """The match table: one row per cloud user (up to ``limit``), attention-needing outcomes first."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Identity matching", show_lines=False)
    for column in ("Cloud user", "Outcome", "Method", "On-premises user", "Reason"):
        table.add_column(column, overflow="fold")
    results = result.results
    for r in map(results.__getitem__, result.report_order()[:limit]):
        # Text(), not str: inventory values such as '[admin]' must not be read as rich markup.
        table.add_row(
            Text(r.cloud_upn),
            Text(r.outcome.value),
            Text(r.method.value if r.method else ""),
            Text(r.onprem_dn or "; ".join(r.candidates)),
            Text(r.reason),
        )
    return table


@identity_app.command("match")
def match(
    inventory: Annotated[
        Path, typer.Argument(readable=False, help="Inventory folder or inventory.yaml.")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Folder to write identity/ (report and batch CSVs) into."
        ),
    ] = Path("."),
    limit: Annotated[
        int, typer.Option(help="Rows of the table to print (the report has every user).")
    ] = _DEFAULT_LIMIT,
) -> None:
    """Match cloud users to on-premises users, print the table and write the report and batch CSVs."""
    from migrator.checks.identity import check_identity, held_back
    from migrator.inventory import load_inventory
    from migrator.plan.identity import match_identities
    from migrator.render.identity_report import write_identity_batches, write_identity_report

    inv = load_inventory(inventory)
    findings = check_identity(inv)
    held = held_back(findings)
    result = match_identities(inv, held)
    out.print(match_table(result, limit))
    if len(result.results) > limit:
        out.print(f"... {len(result.results) - limit} more user(s) in the report", markup=False)
    counts = ", ".join(f"{o.value} {n}" for o, n in result.counts().items() if n)
    out.print(f"{len(result.results)} cloud user(s): {counts or 'none'}", markup=False)
    out.print(
        f"{len(findings)} on-premises attribute finding(s); {len(held)} object(s) held back "
        "from the batches until fixed",
        markup=False,
    )
    batches = write_identity_batches(result, output)
    report = write_identity_report(result, output, inv.organisation, findings)
    out.print(f"wrote {report} and {len(batches)} batch file(s)", markup=False)
