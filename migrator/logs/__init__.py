"""SMTP protocol log evidence: scan Receive logs, write and read ``relay-evidence.json``."""

from typing import TYPE_CHECKING

from migrator.logs.evidence import Evidence, load_evidence, write_evidence

if TYPE_CHECKING:
    from migrator.logs.smtp import scan_logs

__all__ = ["Evidence", "load_evidence", "scan_logs", "write_evidence"]


def __getattr__(name: str) -> object:
    # The scan loads its compiled kernel: imported on first use, not with the package.
    if name == "scan_logs":
        from migrator.logs.smtp import scan_logs

        return scan_logs
    raise AttributeError(name)
