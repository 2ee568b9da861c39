"""The ``migrator`` command: a thin Typer layer over the library.

Each command converts its options, makes one library call and prints a
summary. Library errors become messages in exactly one place, :func:`main`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from migrator import __version__
from migrator.errors import InventoryError, MigratorError, WorkbookError
from migrator.model import Finding, Severity

app = typer.Typer(
    name="migrator",
    help="Plan an Exchange 2010 -> 2016/2019/SE (and hybrid) migration from a PowerShell inventory.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
inventory_app = typer.Typer(help="Look at a loaded inventory.", no_args_is_help=True)
relay_app = typer.Typer(help="Relay connector tools.", no_args_is_help=True)
identity_app = typer.Typer(help="Azure AD Connect soft/hard match tools.", no_args_is_help=True)
logs_app = typer.Typer(help="SMTP protocol log evidence.", no_args_is_help=True)
moves_app = typer.Typer(help="Mailbox move waves.", no_args_is_help=True)
app.add_typer(inventory_app, name="inventory")
app.add_typer(relay_app, name="relay")
app.add_typer(identity_app, name="identity")
app.add_typer(logs_app, name="logs")
app.add_typer(moves_app, name="moves")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        out.print(f"migrator {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Plan an Exchange 2010 -> 2016/2019/SE (and hybrid) migration from a PowerShell inventory."""


def print_findings(findings: tuple[Finding, ...]) -> tuple[int, int]:
    """Print the findings: a table on a terminal, one line each when piped; return (errors, warnings)."""
    if findings and out.is_terminal:
        table = Table("severity", "code", "where", "message", "fix", show_lines=False)
        for f in findings:
            # Text, not str: inventory values such as '[::1]:25' or 'CN=[Bob]' are not markup.
            table.add_row(*(Text(v) for v in (f.severity.value, f.code, f.where, f.message, f.fix)))
        out.print(table)
    elif findings:
        # Redirected to a file or a pipe: whole lines that grep and diff can use.
        for f in findings:
            fix = f" (fix: {f.fix})" if f.fix else ""
            out.print(
                f"{f.severity.value}: {f.code} {f.where}: {f.message}{fix}",
                markup=False,
                soft_wrap=True,
            )
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = sum(1 for f in findings if f.severity is Severity.WARNING)
    return errors, warnings


# Commands live in one module per area (kept apart so each stays small);
# importing them attaches them to the apps above.
from migrator.cli import (  # noqa: E402, F401 (imported for their commands)
    commands_collect,
    commands_graph,
    commands_identity,
    commands_inventory,
    commands_logs,
    commands_moves,
    commands_relay,
    commands_status,
)


def unexpected_failure(exc: BaseException) -> str:
    """A failure of reading or writing no reader words itself, as one line: file, what, fix."""
    if isinstance(exc, OSError):
        name = exc.filename if exc.filename is not None else "a file"
        return (
            f"{name}: {exc.strerror or exc}; expected a file or folder migrator can read and "
            "write (check the path, its permissions and free space); nothing half-written was "
            "left behind"
        )
    if isinstance(exc, UnicodeError):
        return f"an input is not text in the expected encoding ({exc}); expected UTF-8 or UTF-16"
    what = "nested too deep" if isinstance(exc, RecursionError) else "too large"
    return (
        f"an input is {what} to process; expected an inventory as the collector scripts "
        "export it (see docs/inventory.md)"
    )


def main() -> None:
    """Console entry point: run the app, turn migrator errors into messages and exit code 1.

    Typer handles its own usage errors and exit codes; only library errors
    arrive here, and nothing below prints a traceback at the user: an
    ``OSError``, a decoder error or a recursion or memory limit that no reader
    caught is still a one-line message and exit code 1.
    """
    try:
        app()
    except (InventoryError, WorkbookError) as exc:
        for problem in exc.problems:
            err.print(f"error: {problem}", markup=False)
        n = len(exc.problems)
        err.print(f"{n} problem{'s' if n != 1 else ''} found; nothing was written", markup=False)
        sys.exit(1)
    except MigratorError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(1)
    except (OSError, UnicodeError, RecursionError, MemoryError) as exc:
        # The last line of defence: every reader and writer reports its own failures with
        # the file and a fix; anything that still escapes is worded here, never a traceback.
        err.print(f"error: {unexpected_failure(exc)}", markup=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted; nothing half-written was left behind", markup=False)
        sys.exit(130)


__all__ = [
    "Path",
    "app",
    "err",
    "identity_app",
    "inventory_app",
    "logs_app",
    "main",
    "moves_app",
    "out",
    "print_findings",
    "relay_app",
]
