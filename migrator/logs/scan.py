"""``scan_logs``: the one entry point of the protocol-log scan; it chooses the engine.

Both engines depend on :mod:`migrator.logs.scanner` (the reference reader and the
evidence finisher); neither imports the other, and the compiled engine (numba)
is imported only when it is used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from migrator.errors import LogScanError
from migrator.logs.evidence import Evidence
from migrator.logs.scanner import Progress, scan_logs_python

ENGINES = ("compiled", "python")


def scan_logs(
    paths: Sequence[str | Path],
    accepted_domains: Iterable[str] = (),
    *,
    progress: Progress | None = None,
    workers: int | None = None,
    engine: str = "compiled",
) -> Evidence:
    """Scan protocol logs (files, folders, .gz, .zip) and return the relay evidence.

    ``engine`` is ``compiled`` (default: the numba-compiled single pass of
    :mod:`migrator.logs.fast`; ``workers`` threads, each taking the files of
    some servers) or ``python`` (the streaming reader of
    :mod:`migrator.logs.scanner`, the reference; ``workers`` processes). Both
    give the same evidence.

    Raises :class:`LogScanError` when no SMTP Receive protocol log could be read.
    """
    if engine == "compiled":
        from migrator.logs.fast import scan_logs_fast

        return scan_logs_fast(paths, accepted_domains, progress=progress, workers=workers)
    if engine == "python":
        return scan_logs_python(paths, accepted_domains, progress=progress, workers=workers)
    raise LogScanError(
        f"engine '{engine}' is not known; expected {' or '.join(repr(e) for e in ENGINES)}"
    )
