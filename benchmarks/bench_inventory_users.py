"""Benchmark: load 300,000 AD users from an Export-Csv file (UTF-8 BOM, CRLF, quoted cells).

Run: python benchmarks/bench_inventory_users.py [count]
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from pathlib import Path

from migrator.inventory import load_inventory


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    header = '"DistinguishedName","SamAccountName","ObjectGUID","UserPrincipalName","mail","proxyAddresses","Enabled"'
    lines = [header]
    for i in range(count):
        guid = uuid.UUID(int=i + 1)
        lines.append(
            f'"CN=User {i},OU=Staff,DC=contoso,DC=com","user{i}","{guid}","user{i}@contoso.com",'
            f'"user{i}@contoso.com","SMTP:user{i}@contoso.com;smtp:u{i}@contoso.net","True"'
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ADUsers.csv"
        path.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode("utf-8"))
        start = time.perf_counter()
        inv = load_inventory(path)
        elapsed = time.perf_counter() - start
    print(
        f"loaded {len(inv.onprem_users)} AD users in {elapsed:.2f} s ({len(inv.onprem_users) / elapsed:,.0f} users/s)"
    )


if __name__ == "__main__":
    main()
