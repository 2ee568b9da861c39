"""The ``migrator`` command: a thin Typer layer over the library.

Each command converts its options, makes one library call and prints a
summary. Library errors become messages in exactly one place, :func:`main`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from migrator import __version__
from migrator.errors import InventoryError, MigratorError, WorkbookError

if TYPE_CHECKING:
    from migrator.model import Finding

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


ALL_UP_TO = 40
"""Up to this many findings are printed in full; above it they are grouped by code."""


def print_findings(
    findings: tuple[Finding, ...], *, show_all: bool = False, full_list: str | None = None
) -> tuple[int, int]:
    """Print the findings; return (errors, warnings).

    Up to :data:`ALL_UP_TO` findings (or all with ``show_all``) are printed
    whole: a table on a terminal, one line each when piped. More are grouped
    by code, errors first: the count, the first few (:func:`~migrator.render.findings.group_by_code`) and where
    the full list is (``full_list``, a findings file) or how to get it.
    Output to a pipe or file is always plain lines, never a table.
    """
    from migrator.model import Severity
    from migrator.render.findings import finding_line

    if findings and (show_all or len(findings) <= ALL_UP_TO):
        if out.is_terminal:
            from rich.table import Table
            from rich.text import Text

            table = Table("severity", "code", "where", "message", "fix", show_lines=False)
            for f in findings:
                # Text, not str: inventory values such as '[::1]:25' or 'CN=[Bob]' are not markup.
                table.add_row(
                    *(Text(v) for v in (f.severity.value, f.code, f.where, f.message, f.fix))
                )
            out.print(table)
        else:
            # Redirected to a file or a pipe: whole lines that grep and diff can use.
            for f in findings:
                out.print(finding_line(f), markup=False, soft_wrap=True)
    elif findings:
        _print_grouped(findings, full_list)
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = sum(1 for f in findings if f.severity is Severity.WARNING)
    return errors, warnings


def _print_grouped(findings: tuple[Finding, ...], full_list: str | None) -> None:
    from migrator.render.findings import SHOWN_PER_CODE, group_by_code

    groups = group_by_code(findings)  # sorted errors first, so the groups are too
    styles = {"error": "bold red", "warning": "yellow"}
    terminal = out.is_terminal
    for group in groups:
        severity = group.severity.value
        n = len(group.findings)
        header = f"{severity}: {group.code}: {n} finding{'s' if n != 1 else ''}"
        out.print(
            header, markup=False, soft_wrap=True, style=styles.get(severity) if terminal else None
        )
        for f in group.shown:
            fix = f" (fix: {f.fix})" if f.fix else ""
            out.print(f"  {f.where}: {f.message}{fix}", markup=False, soft_wrap=True)
        if group.hidden:
            out.print(f"  ... and {group.hidden} more", markup=False)
    where = (
        f"every finding is listed in {full_list}"
        if full_list
        else "--all prints every finding, --findings FILE writes them to a file"
    )
    out.print(
        f"{len(findings)} findings in {len(groups)} codes (first {SHOWN_PER_CODE} of each shown); "
        f"{where}",
        markup=False,
        soft_wrap=True,
    )


PROGRESS_AFTER_SECONDS = 1.0
"""A progress display (plan, check, logs scan) appears only once a job has run this long, on a terminal."""


@contextmanager
def progress_display(total: int) -> Iterator[None]:
    """A progress bar on stderr for the library's stages (:mod:`migrator.progress`).

    Shown only on a terminal and only once the job has run for a second;
    silent when stderr is a pipe or a file. ``total`` is the number of stages
    the job is expected to report.
    """
    from migrator.progress import reporting

    if not err.is_terminal:
        yield
        return
    import threading

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    lock = threading.Lock()
    state: dict[str, object] = {"done": 0, "stage": "starting"}
    shown: list[Progress] = []

    def start() -> None:
        with lock:
            bar = Progress(
                TextColumn("{task.description:<36}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} stages"),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            )
            bar.add_task(str(state["stage"]), total=total, completed=int(str(state["done"])))
            bar.start()
            shown.append(bar)

    def report(stage: str) -> None:
        with lock:
            if state["stage"] != "starting":
                state["done"] = int(str(state["done"])) + 1
            state["stage"] = stage
            for bar in shown:
                task = bar.task_ids[0]
                bar.update(task, description=stage, completed=min(int(str(state["done"])), total))

    timer = threading.Timer(PROGRESS_AFTER_SECONDS, start)
    timer.daemon = True
    timer.start()
    try:
        with reporting(report):
            yield
    finally:
        timer.cancel()
        with lock:
            for bar in shown:
                bar.stop()


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
    "PROGRESS_AFTER_SECONDS",
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
    "progress_display",
    "relay_app",
]
