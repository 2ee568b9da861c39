"""Every log case (tests/log_cases.py) gives exactly its expected relay-evidence.json.

The expected files are regenerated only on purpose (see tests/log_cases.py); any
difference in any figure, warning, file name or order fails here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from log_cases import CASES, build, expected_path, normalised_json, read_expected

from migrator.logs.evidence import evidence_to_json
from migrator.logs.smtp import scan_logs


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_gives_expected_evidence(name: str, tmp_path: Path) -> None:
    folder, accepted = build(name, tmp_path)
    evidence = scan_logs([folder], accepted, workers=1)
    got = normalised_json(evidence_to_json(evidence), folder)
    if os.environ.get("MIGRATOR_REGEN_LOG_EXPECTED"):
        target = expected_path(name)
        if target.suffix == ".gz":
            import gzip

            target.write_bytes(gzip.compress(got.encode("utf-8"), mtime=0))
        else:
            target.write_text(got, encoding="utf-8", newline="")
    assert got == read_expected(name)
