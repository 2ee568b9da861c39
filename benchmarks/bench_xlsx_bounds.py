"""Benchmark: what measuring a sheet before calamine loads it costs (migrator/xlsx_bounds.py).

Writes an AD users sheet of N rows x 30 text columns with XlsxWriter, then times, each in a
fresh child process:

- ``sheet_extents`` alone (unzip the sheet XML and find its last row and column);
- calamine loading the sheet (``to_python``), what the reader did before;
- the whole ``read_xlsx`` of the inventory reader (the measurement plus the load);
- a sheet with one value in XFD1048576, refused by the measurement (before: SIGABRT).

Usage: python benchmarks/bench_xlsx_bounds.py [--rows N]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

COLUMNS = ["SamAccountName", "UserPrincipalName", "DistinguishedName", "ObjectGUID", "Mail"]
COLUMNS += [f"Extra{i}" for i in range(25)]


def make_book(path: Path, rows: int, far_value: bool = False) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("ADUsers")
    for c, h in enumerate(COLUMNS):
        ws.write_string(0, c, h)
    for r in range(1, rows + 1):
        for c in range(len(COLUMNS)):
            ws.write_string(r, c, f"value-{r}-{c}")
    if far_value:
        ws.write_string(1_048_575, 16_383, "x")
    wb.close()


def _extents(path: str) -> Any:
    from migrator.xlsx_bounds import sheet_extents

    return sheet_extents(Path(path).read_bytes())


def _calamine(path: str) -> Any:
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(path).get_sheet_by_name("ADUsers").to_python()
    return len(rows)


def _read_xlsx(path: str) -> Any:
    from migrator.inventory.xlsx import read_xlsx

    result = read_xlsx(Path(path).read_bytes(), "users.xlsx")
    return (sum(len(t.records) for t in result.tables), [str(p)[:80] for p in result.problems])


def _child(job: str, path: str, queue: Any) -> None:
    started = time.perf_counter()
    got = {"extents": _extents, "calamine": _calamine, "read_xlsx": _read_xlsx}[job](path)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((seconds, peak, got))


def timed(job: str, path: Path) -> None:
    queue: Any = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(target=_child, args=(job, str(path), queue))
    proc.start()
    seconds, peak, got = queue.get()
    proc.join()
    print(f"{job:>10}: {seconds:6.2f} s, peak {peak:7.0f} MiB  -> {got}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "users.xlsx"
        make_book(book, args.rows)
        print(f"{args.rows:,} rows x {len(COLUMNS)} columns, {book.stat().st_size:,} bytes")
        for job in ("extents", "calamine", "read_xlsx"):
            timed(job, book)
        far = Path(tmp) / "far.xlsx"
        make_book(far, 10, far_value=True)
        print("one value in XFD1048576:")
        timed("read_xlsx", far)


if __name__ == "__main__":
    main()
