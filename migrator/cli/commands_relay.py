"""``migrator relay which``: which connector takes a client address, before (2010) and after (new servers)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from migrator.cli import out, relay_app

if TYPE_CHECKING:
    from migrator.iprange import IPRange
    from migrator.plan.connector_match import MatchConnector


def _describe(c: MatchConnector | None, entry: IPRange | None) -> str:
    if c is None:
        return "no connector listens for it (the connection is refused)"
    relay = "may relay" if c.relays else "no relay"
    return f"'{c.identity}' ({c.kind}; {relay}) via '{entry}'"


@relay_app.command("which")
def which_command(
    address: Annotated[str, typer.Argument(help="Client IP address (IPv4 or IPv6).")],
    path: Annotated[
        Path, typer.Argument(readable=False, help="Inventory folder (inventory.yaml and exports).")
    ],
    port: Annotated[int, typer.Option("--port", help="Port the client connects to.")] = 25,
) -> None:
    """Show, for each new server, which receive connector takes ADDRESS before (2010) and after the plan."""
    from migrator.inventory import load_inventory
    from migrator.plan.connector_match import which
    from migrator.plan.relay import onward_inventory, onward_servers, plan_onward_relay, plan_relay

    try:
        client = ipaddress.ip_address(address.strip())
    except ValueError:
        raise typer.BadParameter(
            f"'{address}' is not an IP address; expected e.g. 10.1.20.15 or fd00::15",
            param_hint="ADDRESS",
        ) from None
    inv = load_inventory(path)
    plan = plan_relay(inv)
    answers = which(inv, plan, client, port)
    # Servers of the final version (SE) take their connectors over from 2016, not from 2010.
    derived = onward_inventory(inv, plan)
    if derived is not None:
        finals = {s.name.lower() for s in onward_servers(inv)[1]}
        answers = [a for a in answers if a.target.lower() not in finals]
        answers += which(derived, plan_onward_relay(inv, plan), client, port)
    if not answers:
        out.print("the inventory has no target server", markup=False)
        return
    for a in answers:
        out.print(f"{a.target}:", markup=False)
        out.print(f"  after:  {_describe(a.after, a.after_entry)}", markup=False)
        if a.after_tie is not None:
            out.print(
                f"          tie: '{a.after_tie.identity}' is as specific; which one wins is not defined",
                markup=False,
            )
        for legacy, c, entry in a.before:
            out.print(f"  before: on {legacy}: {_describe(c, entry)}", markup=False)
            before_relays = c.relays if c is not None else False
            after_relays = a.after.relays if a.after is not None else False
            if before_relays != after_relays:
                change = "gains relay" if after_relays else "loses relay"
                out.print(f"          change: {client} {change} on {a.target}", markup=False)
