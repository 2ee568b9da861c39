"""A seeded mutator over inventories/contoso: every damaged inventory ends cleanly.

Each case copies contoso, applies one mutation of one of the classes a hostile world (or a
half-copied export) produces, and runs ``migrator check`` (and for some ``migrator plan``)
through the CLI's own entry point, in this process. The run must end with exit code 0 or 1 and
only the project's messages: no traceback, no abort, no other exit code. The seed is fixed, so
a failure names a case that fails again; ``MIGRATOR_FUZZ_SEED`` tries other seeds.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from migrator.cli import main
from migrator.inventory.powershell_csv import decode

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"
SEED = int(os.environ.get("MIGRATOR_FUZZ_SEED", "19"))
EXPORTS = sorted(p.name for p in CONTOSO.iterdir() if p.suffix in (".csv", ".xml"))
CSVS = [n for n in EXPORTS if n.endswith(".csv")]

Mutation = Callable[[random.Random, Path], str]


def _text(f: Path) -> str:
    return decode(f.read_bytes())[0]


def _any(rng: random.Random, inv: Path) -> Path:
    return inv / rng.choice([*EXPORTS, "inventory.yaml"])


def truncate(rng: random.Random, inv: Path) -> str:
    f = _any(rng, inv)
    data = f.read_bytes()
    f.write_bytes(data[: rng.randrange(1, len(data))])
    return f"truncated {f.name}"


def flip_bytes(rng: random.Random, inv: Path) -> str:
    f = _any(rng, inv)
    data = bytearray(f.read_bytes())
    for _ in range(rng.randint(1, 20)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    f.write_bytes(bytes(data))
    return f"flipped bytes in {f.name}"


def swap_encoding(rng: random.Random, inv: Path) -> str:
    f = inv / rng.choice(CSVS)
    text = _text(f)
    codec = rng.choice(["utf-16", "utf-16-be", "latin-1", "cp1252", "utf-32"])
    f.write_bytes(text.encode(codec, errors="replace"))
    return f"{f.name} as {codec}"


def nul_bytes(rng: random.Random, inv: Path) -> str:
    f = _any(rng, inv)
    data = f.read_bytes()
    at = rng.randrange(len(data))
    f.write_bytes(data[:at] + b"\x00" * rng.randint(1, 64) + data[at:])
    return f"NUL bytes in {f.name}"


def huge_cell(rng: random.Random, inv: Path) -> str:
    f = inv / rng.choice(CSVS)
    lines = f.read_bytes().split(b"\n")
    row = rng.randrange(2, len(lines)) if len(lines) > 2 else 1
    lines[row] = b'"' + b"x" * 1_000_000 + b'",' + lines[row]
    f.write_bytes(b"\n".join(lines))
    return f"1 MB cell in {f.name}"


def xml_attack(rng: random.Random, inv: Path) -> str:
    f = inv / "ReceiveConnectors-EX2010.xml"
    text = f.read_bytes().decode("utf-16")
    if rng.random() < 0.5:
        bomb = '<!DOCTYPE Objs [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        text = '<?xml version="1.0"?>' + bomb + text.replace('<S N="Name">', '<S N="Name">&b;', 1)
        what = "entity bomb"
    else:
        depth = rng.choice([200, 1000, 5000])
        deep = '<Obj N="x"><MS>' * depth + "</MS></Obj>" * depth
        text = text.replace("<Props>", "<Props>" + deep, 1)
        what = f"{depth} nested objects"
    f.write_bytes(text.encode("utf-16"))
    return f"{what} in {f.name}"


def yaml_attack(rng: random.Random, inv: Path) -> str:
    f = inv / "inventory.yaml"
    choice = rng.randrange(4)
    if choice == 0:
        f.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randint(1, 400))))
        return "inventory.yaml garbage"
    if choice == 1:
        f.write_text("organisation: X\nsites: &loop [*loop]\n", "utf-8")
        return "inventory.yaml alias loop"
    if choice == 2:
        lines = ["organisation: X", "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for prev, n in zip("abcdefghi", "bcdefghij", strict=True):
            lines.append(f"{n}: &{n} [" + ", ".join([f"*{prev}"] * 10) + "]")
        f.write_text("\n".join(lines) + "\n", "utf-8")
        return "inventory.yaml alias bomb"
    depth = rng.choice([100, 20_000])
    f.write_text("organisation: X\nsites: " + "[" * depth + "]" * depth + "\n", "utf-8")
    return f"inventory.yaml nested {depth} deep"


def empty_file(rng: random.Random, inv: Path) -> str:
    f = _any(rng, inv)
    f.write_bytes(b"")
    return f"empty {f.name}"


def folder_named_like_file(rng: random.Random, inv: Path) -> str:
    f = _any(rng, inv)
    f.unlink()
    f.mkdir()
    return f"{f.name} is a folder"


def special_file(rng: random.Random, inv: Path) -> str:
    f = _any(rng, inv)
    f.unlink()
    os.mkfifo(f)  # an unreadable kind of file: a read would block for ever
    return f"{f.name} is a FIFO"


def symlink_loop(rng: random.Random, inv: Path) -> str:
    f = _any(rng, inv)
    f.unlink()
    f.symlink_to(f)
    return f"{f.name} is a symbolic link loop"


def bad_ip(rng: random.Random, inv: Path) -> str:
    f = inv / "ReceiveConnectors-EX2016.csv"
    text = _text(f)
    bad = rng.choice(["300.1.1.1", "10.0.0.9-10.0.0.1", "10.0.0.0/33", "::g", "1.2.3"])
    f.write_text(text.replace("10.", bad + ",10.", 1), "utf-8")
    return f"bad range {bad}"


def cr_only(rng: random.Random, inv: Path) -> str:
    f = inv / rng.choice(CSVS)
    f.write_bytes(f.read_bytes().replace(b"\r\n", b"\r").replace(b"\n", b"\r"))
    return f"CR-only {f.name}"


def broken_csv(rng: random.Random, inv: Path) -> str:
    f = inv / rng.choice(CSVS)
    data = f.read_bytes()
    at = rng.randrange(len(data))
    f.write_bytes(data[:at] + b'"' + data[at:])
    return f"stray quote in {f.name}"


def bad_evidence(rng: random.Random, inv: Path) -> str:
    f = inv / "relay-evidence.json"
    choice = rng.randrange(3)
    if choice == 0:
        f.write_text('{"format": ' + "[" * 50_000 + "]" * 50_000 + "}", "utf-8")
    elif choice == 1:
        f.write_bytes(bytes(rng.randrange(256) for _ in range(200)))
    else:
        f.write_text('{"format": "migrator-relay-evidence/1", "scan": 7}', "utf-8")
    return f"bad relay-evidence.json ({choice})"


def bad_xlsx(rng: random.Random, inv: Path) -> str:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Servers"
    ws.append(["Name", "ServerRole", "AdminDisplayVersion", "Site"])
    ws.append(["EX10-09", "Mailbox", "Version 14.3 (Build 123.4)", "London"])
    choice = rng.randrange(3)
    if choice == 0:
        ws["XFD1048576"] = "x"
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    if choice == 1:
        data = data[: rng.randrange(4, len(data))]
    if choice == 2:
        data = b"PK\x03\x04" + bytes(rng.randrange(256) for _ in range(500))
    (inv / "Extra.xlsx").write_bytes(data)
    return f"bad Extra.xlsx ({choice})"


def utf16_odd(rng: random.Random, inv: Path) -> str:
    f = inv / rng.choice(CSVS)
    data = b"\xff\xfe" + _text(f).encode("utf-16-le")
    f.write_bytes(data[: rng.randrange(3, len(data), 2)])
    return f"{f.name} UTF-16 cut at an odd byte"


def invalid_utf8(rng: random.Random, inv: Path) -> str:
    f = inv / rng.choice(CSVS)
    data = f.read_bytes()
    data = data if data.startswith(b"\xef\xbb\xbf") else b"\xef\xbb\xbf" + data
    at = rng.randrange(3, len(data))
    f.write_bytes(data[:at] + b"\xc3\x28\xff" + data[at:])
    return f"{f.name} invalid UTF-8 after a BOM"


MUTATIONS: list[Mutation] = [
    truncate,
    flip_bytes,
    swap_encoding,
    nul_bytes,
    huge_cell,
    xml_attack,
    yaml_attack,
    empty_file,
    folder_named_like_file,
    special_file,
    symlink_loop,
    bad_ip,
    cr_only,
    broken_csv,
    bad_evidence,
    bad_xlsx,
    utf16_odd,
    invalid_utf8,
]
CASES = [(i, MUTATIONS[i % len(MUTATIONS)]) for i in range(2 * len(MUTATIONS))]


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    argv = sys.argv
    sys.argv = ["migrator", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        sys.argv = argv
    got = capsys.readouterr()
    return code, got.out, got.err


@pytest.mark.parametrize(("index", "mutation"), CASES, ids=lambda v: getattr(v, "__name__", v))
def test_mutated_inventory_ends_cleanly(
    index: int, mutation: Mutation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(SEED * 1000 + index)
    inv = tmp_path / "inv"
    shutil.copytree(CONTOSO, inv)
    what = mutation(rng, inv)
    commands = [["check", str(inv)]]
    if index % 4 == 0:  # plan is slower; a quarter of the cases run it too
        commands.append(["plan", str(inv), "-o", str(tmp_path / "plan")])
    for args in commands:
        code, out, err = _run(args, capsys)
        assert code in (0, 1), f"{what}: {args[0]} exited {code}\n{err[-2000:]}"
        assert "Traceback" not in out + err, f"{what}: {args[0]}\n{err[-2000:]}"
        if code == 1 and err:
            # The project's messages only (a value quoted in one may itself hold a line break).
            assert err.startswith(("error: ", "plan refused: ")), f"{what}: {err[:500]!r}"
            last = err.rstrip("\n").rsplit("\n", 1)[-1]
            assert "nothing was written" in last or last.startswith("error: "), (
                f"{what}: {args[0]} ended with {last!r}"
            )
    if mutation in (folder_named_like_file, special_file, symlink_loop) and code == 0:
        assert "inventory.skipped-file" in out or "inventory.yaml" in err + out, what
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
