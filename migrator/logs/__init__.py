"""SMTP protocol log evidence: scan Receive logs, write and read ``relay-evidence.json``."""

from migrator.logs.evidence import Evidence, load_evidence, write_evidence
from migrator.logs.scan import scan_logs

__all__ = ["Evidence", "load_evidence", "scan_logs", "write_evidence"]
