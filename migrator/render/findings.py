"""The findings as plain lines: what ``check``/``plan`` print when piped, and ``findings.txt``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from migrator.fileio import write_text
from migrator.model import Finding

FINDINGS_FILE = "findings.txt"
"""Name of the full findings list in the plan folder."""


def finding_line(f: Finding) -> str:
    """One finding as one line: ``severity: code where: message (fix: ...)``."""
    fix = f" (fix: {f.fix})" if f.fix else ""
    return f"{f.severity.value}: {f.code} {f.where}: {f.message}{fix}"


def write_findings(findings: Iterable[Finding], path: Path) -> None:
    """Write every finding, one line each, in the order given (errors first)."""
    write_text(path, "".join(finding_line(f) + "\n" for f in findings))


__all__ = ["FINDINGS_FILE", "finding_line", "write_findings"]
