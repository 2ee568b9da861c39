"""The findings as plain lines: what ``check``/``plan`` print when piped, and ``findings.txt``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from migrator.fileio import write_text
from migrator.model import Finding, Severity

FINDINGS_FILE = "findings.txt"
"""Name of the full findings list in the plan folder."""


def finding_line(f: Finding) -> str:
    """One finding as one line: ``severity: code where: message (fix: ...)``."""
    fix = f" (fix: {f.fix})" if f.fix else ""
    return f"{f.severity.value}: {f.code} {f.where}: {f.message}{fix}"


SHOWN_PER_CODE = 5
"""How many findings of one code are shown where they are grouped (terminal, report.html)."""


@dataclass(frozen=True)
class FindingGroup:
    """The findings of one code, where too many are listed to show them one by one."""

    code: str
    """The code (``relay.unused``...)."""
    findings: tuple[Finding, ...]
    """Every finding of the code, in the order given."""

    @property
    def severity(self) -> Severity:
        """The severity of the group's first finding (the findings come sorted, errors first)."""
        return self.findings[0].severity

    @property
    def shown(self) -> tuple[Finding, ...]:
        """The first :data:`SHOWN_PER_CODE` findings."""
        return self.findings[:SHOWN_PER_CODE]

    @property
    def hidden(self) -> int:
        """How many findings are not shown."""
        return max(0, len(self.findings) - SHOWN_PER_CODE)


def group_by_code(findings: Iterable[Finding]) -> list[FindingGroup]:
    """The findings grouped by code, each group where its code first appears (errors first)."""
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.code, []).append(f)
    return [FindingGroup(code, tuple(items)) for code, items in groups.items()]


def write_findings(findings: Iterable[Finding], path: Path) -> None:
    """Write every finding, one line each, in the order given (errors first)."""
    write_text(path, "".join(finding_line(f) + "\n" for f in findings))


__all__ = [
    "FINDINGS_FILE",
    "SHOWN_PER_CODE",
    "FindingGroup",
    "finding_line",
    "group_by_code",
    "write_findings",
]
