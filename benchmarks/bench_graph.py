"""Benchmark: build, order and schedule the migration graph of a large organisation.

Generates the organisation (benchmarks/generate_org.py), builds the relay and
identity steps with their planners, then times :func:`build_plan` (phase
steps, cross-phase links, validation, topological order, critical path,
schedule with maintenance windows). Prints each stage and the growth from the
10x smaller organisation. Target: build_plan under 10 s at full size.

    /work/venv/bin/python benchmarks/bench_graph.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_org import generate_org

from migrator.plan.identity import match_identities
from migrator.plan.identity_steps import identity_steps
from migrator.plan.phases import assemble_plan
from migrator.plan.relay import plan_relay
from migrator.plan.relay_steps import relay_steps


def run(scale: int) -> tuple[float, int]:
    """Time one organisation; return (build_plan seconds, number of steps)."""
    t0 = time.perf_counter()
    inv = generate_org(scale)
    t1 = time.perf_counter()
    extra = relay_steps(inv, plan_relay(inv))
    t2 = time.perf_counter()
    extra += identity_steps(inv, match_identities(inv))
    t3 = time.perf_counter()
    plan = assemble_plan(inv, extra)
    t4 = time.perf_counter()
    edges = sum(len(s.prerequisites) for s in plan.steps)
    print(
        f"1/{scale:<3} {len(inv.servers):>4} servers {len(inv.receive_connectors):>5} relay connectors "
        f"{len(inv.accepted_domains):>4} domains {len(inv.onprem_users):>7} users | "
        f"generate {t1 - t0:6.2f} s, relay steps {t2 - t1:6.2f} s, identity steps {t3 - t2:6.2f} s | "
        f"build_plan {t4 - t3:6.2f} s: {len(plan.steps)} steps, {edges} edges, "
        f"{len(plan.waves)} waves, critical path {len(plan.critical_path)} steps, finish {plan.finish}"
    )
    return t4 - t3, len(plan.steps)


def main() -> None:
    """Run the 10x smaller and the full organisation and print the growth."""
    small, small_steps = run(10)
    full, full_steps = run(1)
    print(
        f"growth 10x: steps x{full_steps / small_steps:.1f}, build_plan time x{full / max(small, 1e-9):.1f}"
    )
    verdict = "ok" if full < 10 else "TOO SLOW"
    print(f"build_plan at full size: {full:.2f} s (target < 10 s): {verdict}")


if __name__ == "__main__":
    main()
