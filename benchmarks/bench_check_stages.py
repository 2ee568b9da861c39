"""Benchmark: where ``migrator check`` spends CPU time, stage by stage (in process).

For an inventory folder (``gen_inventory.py`` writes one), prints CPU seconds
(``time.process_time``) of: reading each export file (decode + CSV parse) and
converting each table into model objects, on their own (diagnostic, with the
garbage collector running); then ``check_path`` as ``migrator check`` runs it,
each stage as :mod:`migrator.progress` names it ("loading the inventory" is the
whole ``load_inventory``: read, convert, cross checks, joins), and the peak
resident memory. Imports and printing the findings are not in these figures
(``bench_cli.py`` times the command).

    .venv/bin/python benchmarks/bench_check_stages.py INVENTORY_DIR
"""

from __future__ import annotations

import itertools
import resource
import sys
import time
from pathlib import Path

from migrator.inventory.sniff import read_export
from migrator.inventory.tables import convert
from migrator.pipeline import check_path
from migrator.progress import reporting


def main(argv: list[str]) -> int:
    folder = Path(argv[0])
    print("loader parts (measured on their own):")
    tables = []
    for f in sorted(folder.glob("*.csv")):
        t = time.process_time()
        result = read_export(f.read_bytes(), f.name)
        print(f"  read    {f.name:<24} {time.process_time() - t:7.2f} s")
        tables.extend(result.tables)
    for table in tables:
        t = time.process_time()
        convert([table])
        print(f"  convert {table.kind.value:<24} {time.process_time() - t:7.2f} s")
    del tables

    print("\ncheck stages (check_path, as `migrator check` runs it):")
    marks: list[tuple[str, float]] = []
    with reporting(lambda s: marks.append((s, time.process_time()))):
        check_path(folder)
    marks.append(("end", time.process_time()))
    for (name, start), (_n, end) in itertools.pairwise(marks):
        print(f"  {end - start:7.2f} s  {name}")
    total = marks[-1][1] - marks[0][1]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  {total:7.2f} s  total (load + analyse), peak RSS {peak:,.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
