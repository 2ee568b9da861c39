"""Benchmark: what reading ``client-evidence.json`` costs ``migrator plan`` (issue 18 scale, issue-misc).

Reads the file as the plan does (``migrator.pipeline._client_evidence``) in a fresh
process and prints CPU time, wall time and peak RSS, next to a fresh process that
only imports the same modules (the difference is the evidence). Make the file with
the IIS generator and the scan:

    python benchmarks/gen_logs_iis.py /tmp/iis --lines 3000000
    python -m migrator logs scan /tmp/iis -o /tmp/ev --no-progress
    python benchmarks/bench_client_evidence_load.py /tmp/ev/client-evidence.json

The machine may be shared: compare CPU times and RSS, not wall times.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

_CHILD = """
import resource, sys, time
t0, w0 = time.process_time(), time.perf_counter()
from pathlib import Path
from migrator.pipeline import _client_evidence
if sys.argv[1] != "-":
    ev = _client_evidence(Path("."), Path(sys.argv[1]))
    n = sum(len(p.clients) for s in ev.servers for p in s.protocols)
else:
    n = 0
cpu, wall = time.process_time() - t0, time.perf_counter() - w0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{n} clients: {cpu:.2f} s CPU, {wall:.2f} s wall, peak RSS {peak:.0f} MiB")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("evidence", help="a client-evidence.json")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for r in range(args.rounds):
        for label, arg in (("imports only", "-"), ("load", args.evidence)):
            out = subprocess.run(
                [sys.executable, "-c", _CHILD, arg], capture_output=True, text=True, check=True
            )
            print(f"round {r + 1} {label}: {out.stdout.strip()}")


if __name__ == "__main__":
    main()
