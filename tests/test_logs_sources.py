"""File discovery and opening: one implementation (logs/sources.py) for every log scan."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

from migrator.logs import smtp_files
from migrator.logs.evidence import SkippedFile
from migrator.logs.sources import Source, discover, open_stream, read_bytes


def _tree(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    (logs / "sub").mkdir(parents=True)
    (logs / "RECV2023010200-10.LOG").write_bytes(b"ten\n")
    (logs / "RECV2023010200-9.LOG").write_bytes(b"nine\n")
    (logs / "sub" / "u_ex230102.csv").write_bytes(b"csv\n")
    (logs / "notes.txt").write_bytes(b"not a log\n")
    with gzip.open(logs / "RECV2023010300-1.LOG.gz", "wb") as gz:
        gz.write(b"gzipped\n")
    with zipfile.ZipFile(logs / "old.zip", "w") as zf:
        zf.writestr("b-10.log", "b10\n")
        zf.writestr("b-9.log", "b9\n")
        zf.writestr("c.gz", gzip.compress(b"c\n"))
        zf.writestr("d.csv", "d\n")
    return logs


def _names(sources: list[Source]) -> list[str]:
    return [Path(s.path).name + (f"!{s.member}" if s.member else "") for s in sources]


_ALL = [
    "old.zip!b-9.log",
    "old.zip!b-10.log",
    "old.zip!c.gz",
    "old.zip!d.csv",
    "RECV2023010200-9.LOG",
    "RECV2023010200-10.LOG",
    "RECV2023010300-1.LOG.gz",
    "u_ex230102.csv",
]
"""What the default rule takes from :func:`_tree`, in natural order (-9 before -10)."""


def test_default_rule_takes_csv_and_every_log_member(tmp_path: Path) -> None:
    logs = _tree(tmp_path)
    sources, skipped = discover([logs, tmp_path / "missing"])
    assert _names(sources) == _ALL
    assert skipped == [SkippedFile(str(tmp_path / "missing"), "no such file or folder")]


def test_smtp_rule_is_the_same_discovery_with_its_names(tmp_path: Path) -> None:
    logs = _tree(tmp_path)
    sources, skipped = smtp_files.discover([logs, tmp_path / "missing"])
    # No .csv files, and only .log / .log.gz members of a zip archive.
    assert _names(sources) == [n for n in _ALL if not n.endswith((".csv", "!c.gz"))]
    assert skipped == [SkippedFile(str(tmp_path / "missing"), "no such file or folder")]
    # A file named explicitly is always tried, whatever its name.
    named, _ = smtp_files.discover([logs / "notes.txt"])
    assert named == [Source(str(logs / "notes.txt"))]


def test_open_stream_decompresses_and_closes_what_it_opened(tmp_path: Path) -> None:
    logs = _tree(tmp_path)
    gz_member = Source(str(logs / "old.zip"), "c.gz")
    stream = open_stream(gz_member)
    assert stream.read() == b"c\n"
    stream.close()
    assert stream.closed
    assert read_bytes(Source(str(logs / "RECV2023010300-1.LOG.gz"))) == b"gzipped\n"
    assert read_bytes(Source(str(logs / "RECV2023010200-9.LOG")), 2) == b"ni"


def test_directive_search_finds_what_the_pair_search_finds() -> None:
    from migrator.logs.sources import _find_directive

    samples = [
        b"",
        b"#a\nb\n#c",
        b"x#y#z\n#Fields: a\n",
        b"a#" * 100 + b"\n#Fields: b\n",  # many '#' inside records: the pair search takes over
        b"\n#",
        b"no directive at all\n",
    ]
    for data in samples:
        for start in range(len(data) + 1):
            assert _find_directive(data, start) == data.find(b"\n#", start)
