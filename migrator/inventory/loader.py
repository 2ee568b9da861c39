"""Load an inventory folder (or one export file) into an :class:`~migrator.model.Inventory`."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path

from migrator.errors import InventoryError, Problem
from migrator.fileio import cannot_read, not_a_file
from migrator.inventory.mailbox_inventory import join_mailboxes, moves_policy
from migrator.inventory.public_folder_inventory import join_public_folders
from migrator.inventory.records import ReadResult
from migrator.inventory.sniff import read_export
from migrator.inventory.tables import Converted, convert
from migrator.inventory.yaml_file import YamlInventory, parse_yaml
from migrator.memory import collector_paused
from migrator.model import (
    ExchangeVersion,
    Finding,
    Inventory,
    Lifecycle,
    Location,
    Policy,
    Server,
    Severity,
    Site,
)

EXPORT_SUFFIXES = (".xml", ".csv", ".xlsx")
YAML_NAMES = ("inventory.yaml", "inventory.yml")
TENANT_NAME = "tenant.yaml"
"""What Export-MigratorCloudInventory.ps1 writes; read beside inventory.yaml when present."""


def _label(base: str, rel: str) -> str:
    return f"{base.rstrip('/')}/{rel}" if base not in {"", "."} else rel


def load_inventory(path: Path | str) -> Inventory:
    """Load, validate and normalise an inventory; raise InventoryError with every problem.

    ``path`` is an inventory folder (with an optional ``inventory.yaml`` and
    export files of any names), an ``inventory.yaml`` or a single export file.
    Warnings and infos go to ``Inventory.load_findings``.

    The cyclic garbage collector is paused while loading (:mod:`migrator.memory`).
    """
    with collector_paused():
        return _load(path)


def _load(path: Path | str) -> Inventory:
    given = str(path)
    p = Path(path)
    problems: list[Problem] = []
    findings: list[Finding] = []
    yml: YamlInventory | None = None
    files: list[tuple[Path, str, str]] = []  # (path, label, yaml key path or '')
    if p.is_file() and p.name.lower() in YAML_NAMES:
        p = p.parent
        given = str(Path(given).parent)
    if not p.exists():
        why = not_a_file(p) if p.is_symlink() else None
        raise InventoryError(
            [
                Problem(
                    given,
                    f"{why or 'no such file or folder'}; expected an inventory folder or an export file",
                )
            ]
        )
    if p.is_dir():
        yaml_path = next((p / n for n in YAML_NAMES if os.path.lexists(p / n)), None)
        if yaml_path is not None:
            yml = _read_yaml(p, yaml_path, given, problems)
        if yml is not None and yml.files:
            for i, rel in enumerate(yml.files):
                target = p / rel
                key = f"{_label(given, yaml_path.name if yaml_path else 'inventory.yaml')}, key 'files[{i}]'"
                why = not_a_file(target)
                if why is not None:
                    problems.append(
                        Problem(
                            key,
                            f"file '{rel}' {why} in {given}; expected an export file there",
                        )
                    )
                    continue
                files.append((target, _label(given, Path(rel).as_posix()), key))
        else:
            files.extend(_listed_exports(p, given, problems, findings))
    else:
        why = not_a_file(p)
        if why is not None:
            raise InventoryError(
                [Problem(given, f"{why}; expected an inventory folder or an export file")]
            )
        files.append((p, given, ""))

    result = ReadResult()
    for file_path, label, _key in files:
        try:
            data = file_path.read_bytes()
        except OSError as exc:
            problems.append(Problem(label, cannot_read(exc)))
            continue
        result.extend(read_export(data, label))
    problems.extend(result.problems)
    findings.extend(result.findings)
    converted = Converted()
    tables, result.tables = result.tables, []
    while tables:  # each table's rows are freed once it is converted (hundreds of MB at 300k users)
        convert([tables.pop(0)], converted)
    problems.extend(converted.problems)
    findings.extend(converted.findings)

    yaml_label = _label(given, "inventory.yaml")
    servers = _merge_servers(converted.servers, yml, yaml_label, problems, findings)
    _check_cross(converted, servers, yml, yaml_label, problems, findings)
    mailbox_data = join_mailboxes(converted, problems, findings)
    pf_data = join_public_folders(converted, problems, findings)
    if problems:
        raise InventoryError(problems)

    organisation = yml.organisation if yml is not None else (p.name if p.is_dir() else p.stem)
    sites = list(yml.sites) if yml is not None else []
    known_sites = {s.name.lower() for s in sites}
    for server in servers:
        if server.site and server.site.lower() not in known_sites:
            sites.append(Site(server.site))
            known_sites.add(server.site.lower())
    accepted = sorted(
        {
            d.domain_name.lower(): d
            for d in [*converted.accepted_domains, *(yml.accepted_domains if yml else [])]
        }.values(),
        key=lambda d: d.domain_name.lower(),
    )
    inv = Inventory(
        organisation=organisation,
        root=given,
        sites=tuple(sorted(sites, key=lambda s: s.name.lower())),
        servers=tuple(sorted(servers, key=lambda s: s.name.lower())),
        receive_connectors=tuple(
            sorted(converted.receive_connectors, key=lambda c: (c.server.lower(), c.name.lower()))
        ),
        ad_permissions=tuple(converted.ad_permissions),
        accepted_domains=tuple(accepted),
        send_connectors=tuple(sorted(converted.send_connectors, key=lambda c: c.name.lower())),
        certificates=tuple(
            sorted(converted.certificates, key=lambda c: (c.server.lower(), c.thumbprint))
        ),
        load_balancers=tuple(yml.load_balancers) if yml else (),
        nat_rules=tuple(yml.nat_rules) if yml else (),
        dns_zones=tuple(yml.dns_zones) if yml else (),
        onprem_users=tuple(converted.onprem_users),
        cloud_users=tuple(converted.cloud_users),
        mail_recipients=(
            tuple(
                sorted(
                    converted.mail_recipients,
                    key=lambda r: (r.primary_smtp_address, r.distinguished_name.lower(), r.name),
                )
            )
            if converted.recipients_exported
            else None
        ),
        tenant=yml.tenant if yml else None,
        policy=yml.policy if yml else Policy(),
        host_names=tuple(yml.hosts) if yml else (),
        load_findings=tuple(sorted(set(findings), key=Finding.sort_key)),
        mailboxes=mailbox_data.mailboxes,
        mailbox_databases=tuple(sorted(converted.mailbox_databases, key=lambda d: d.name.lower())),
        mailbox_links=mailbox_data.links,
        moves=moves_policy(yml.raw) if yml is not None else None,
        virtual_directories=tuple(
            sorted(
                converted.virtual_directories,
                key=lambda v: (v.server.lower(), v.kind.value, v.name.lower()),
            )
        ),
        outlook_anywhere=tuple(sorted(converted.outlook_anywhere, key=lambda o: o.server.lower())),
        autodiscover_scps=tuple(
            sorted(converted.autodiscover_scps, key=lambda c: c.server.lower())
        ),
        client_access_arrays=tuple(
            sorted(converted.client_access_arrays, key=lambda a: a.name.lower())
        ),
        organization_config=converted.organization_config,
        public_folder_databases=pf_data.databases,
        public_folders=pf_data.folders,
        mail_public_folders=pf_data.mail_folders,
    )
    if converted.transport_config is not None:
        inv = dataclasses.replace(inv, transport_config=converted.transport_config)
    return inv


def _read_yaml(
    folder: Path, yaml_path: Path, given: str, problems: list[Problem]
) -> YamlInventory | None:
    """Read inventory.yaml (and tenant.yaml beside it); problems go to ``problems``."""
    yaml_label = _label(given, yaml_path.name)
    tenant_path = folder / TENANT_NAME
    tenant_label = _label(given, TENANT_NAME)
    try:
        why = not_a_file(yaml_path)
        if why is not None:
            problems.append(Problem(yaml_label, f"{why}; expected the inventory file"))
            return None
        data = yaml_path.read_bytes()
        tenant = None
        if os.path.lexists(tenant_path):
            why = not_a_file(tenant_path)
            if why is not None:
                problems.append(Problem(tenant_label, f"{why}; expected the tenant file"))
                return None
            tenant = (tenant_path.read_bytes(), tenant_label)
    except OSError as exc:
        where = tenant_label if exc.filename == str(tenant_path) else yaml_label
        problems.append(Problem(where, cannot_read(exc)))
        return None
    yml, yaml_problems = parse_yaml(data, yaml_label, tenant)
    problems.extend(yaml_problems)
    if yml is None and not yaml_problems:
        problems.append(Problem(yaml_label, "cannot be read"))
    return yml


def _listed_exports(
    folder: Path, given: str, problems: list[Problem], findings: list[Finding]
) -> list[tuple[Path, str, str]]:
    """The export files in ``folder``; what looks like one but cannot be read is reported."""
    try:
        children = sorted(folder.iterdir(), key=lambda c: c.name.lower())
    except OSError as exc:
        raise InventoryError(
            [
                Problem(
                    given,
                    f"the folder cannot be read ({exc.strerror or exc}); expected a folder you "
                    "can read: check its permissions",
                )
            ]
        ) from exc
    files: list[tuple[Path, str, str]] = []
    for child in children:
        if child.suffix.lower() not in EXPORT_SUFFIXES or child.name.startswith("~$"):
            continue
        label = _label(given, child.name)
        why = not_a_file(child)
        if why is None:
            files.append((child, label, ""))
            continue
        findings.append(
            Finding(
                Severity.WARNING,
                "inventory.skipped-file",
                label,
                f"{why}, so it was not read; the inventory may be missing a table",
                "replace it with the export file, or move it out of the inventory folder",
            )
        )
    return files


def _merge_servers(
    exported: list[Server],
    yml: YamlInventory | None,
    yaml_label: str,
    problems: list[Problem],
    findings: list[Finding],
) -> list[Server]:
    by_name: dict[str, Server] = {}
    for server in exported:
        key = server.name.lower()
        if key in by_name:
            problems.append(
                Problem(
                    str(server.source),
                    f"duplicate server '{server.name}'; first seen at {by_name[key].source}",
                )
            )
            continue
        by_name[key] = server
    if yml is not None:
        for entry, path in zip(yml.servers, yml.server_keys, strict=True):
            name = entry["name"]
            key = name.lower()
            where = f"{yaml_label}, key '{path}'"
            values = {k: v for k, v in entry.items() if k != "name"}
            if key in by_name:
                base = by_name[key]
                if "version" in values and "lifecycle" not in values:
                    values["lifecycle"] = _default_lifecycle(values["version"])
                by_name[key] = dataclasses.replace(base, **values)
                continue
            if "version" not in values:
                problems.append(
                    Problem(
                        f"{where}.version",
                        f"required key is missing; server '{name}' is in no Get-ExchangeServer export, "
                        "so give its version (2010, 2013, 2016, 2019 or SE)",
                    )
                )
                continue
            values.setdefault("lifecycle", _default_lifecycle(values["version"]))
            by_name[key] = Server(
                name=name, source=Location(yaml_label, element=f"key '{path}'"), **values
            )
    return list(by_name.values())


def _default_lifecycle(version: ExchangeVersion) -> Lifecycle:
    return Lifecycle.LEGACY if version is ExchangeVersion.EX2010 else Lifecycle.TARGET


def _names(items: Iterable[str]) -> str:
    names = sorted(items, key=str.lower)
    shown = ", ".join(names[:12])
    return shown + (", ..." if len(names) > 12 else "")


def _check_cross(
    conv: Converted,
    servers: list[Server],
    yml: YamlInventory | None,
    yaml_label: str,
    problems: list[Problem],
    findings: list[Finding],
) -> None:
    known = {s.name.lower(): s for s in servers}
    # Duplicate connector identities, across every file.
    seen: dict[str, Location | None] = {}
    for c in conv.receive_connectors:
        ident = c.identity.lower()
        if ident in seen:
            where = dataclasses.replace(c.source, column="Identity") if c.source else Location("")
            problems.append(
                Problem(
                    str(where),
                    f"duplicate connector identity '{c.identity}'; first seen at {seen[ident]}",
                )
            )
        else:
            seen[ident] = c.source
    if known:
        for c in conv.receive_connectors:
            if c.server.lower() not in known:
                where = (
                    dataclasses.replace(c.source, column="Identity") if c.source else Location("")
                )
                problems.append(
                    Problem(
                        str(where),
                        f"server '{c.server}' is not a known server; expected one of: {_names(s.name for s in servers)} "
                        "(add it to the Get-ExchangeServer export or to servers in inventory.yaml)",
                    )
                )
    elif conv.receive_connectors:
        findings.append(
            Finding(
                Severity.WARNING,
                "inventory.no-servers",
                conv.receive_connectors[0].source.file if conv.receive_connectors[0].source else "",
                "no servers are known (no Get-ExchangeServer export and no servers in inventory.yaml); "
                "connector servers cannot be checked",
                "add a Get-ExchangeServer export (see docs/inventory.md)",
            )
        )
    if known:
        _check_client_access_servers(conv, servers, known, problems)
    if yml is None:
        return
    site_names = {s.name.lower() for s in yml.sites} | {s.site.lower() for s in servers if s.site}
    for i, entry in enumerate(yml.servers):
        site = entry.get("site", "")
        if site and yml.sites and site.lower() not in {s.name.lower() for s in yml.sites}:
            problems.append(
                Problem(
                    f"{yaml_label}, key 'servers[{i}].site'",
                    f"'{site}' is not a site in sites; expected one of: {_names(s.name for s in yml.sites)}",
                )
            )
    targets = yml.raw.get("relay", {}).get("targets", {})
    for site, names in targets.items():
        if site_names and site.lower() not in site_names:
            problems.append(
                Problem(
                    f"{yaml_label}, key 'relay.targets.{site}'",
                    f"'{site}' is not a known site; expected one of: {_names({s.name for s in yml.sites} | {s.site for s in servers if s.site})}",
                )
            )
        for j, name in enumerate(names):
            _check_target(
                name, known, servers, f"{yaml_label}, key 'relay.targets.{site}[{j}]'", problems
            )
    for site, _alias in yml.policy.site_smtp_aliases:
        if site.lower() not in site_names:
            known_sites = {s.name for s in yml.sites} | {s.site for s in servers if s.site}
            problems.append(
                Problem(
                    f"{yaml_label}, key 'relay.smtp_alias.{site}'",
                    f"'{site}' is not a known site; expected one of: {_names(known_sites)}"
                    if known_sites
                    else f"'{site}' is not a known site; the inventory names no sites (sites in "
                    "inventory.yaml or the Site column of the Get-ExchangeServer export)",
                )
            )
    for i, o in enumerate(yml.raw.get("relay", {}).get("overrides", [])):
        for j, name in enumerate(o.get("targets", [])):
            _check_target(
                name,
                known,
                servers,
                f"{yaml_label}, key 'relay.overrides[{i}].targets[{j}]'",
                problems,
            )
    for i, lb in enumerate(yml.raw.get("load_balancers", [])):
        for j, name in enumerate(lb.get("servers", [])):
            if name.lower() not in known:
                problems.append(
                    Problem(
                        f"{yaml_label}, key 'load_balancers[{i}].servers[{j}]'",
                        f"'{name}' is not a known server; expected one of: {_names(s.name for s in servers)}",
                    )
                )


def _check_client_access_servers(
    conv: Converted, servers: list[Server], known: dict[str, Server], problems: list[Problem]
) -> None:
    """Virtual directories, Outlook Anywhere and SCPs must name servers the inventory knows."""
    rows: list[tuple[str, Location | None, str]] = [
        *((v.server, v.source, "Server") for v in conv.virtual_directories),
        *((o.server, o.source, "Server") for o in conv.outlook_anywhere),
        *((c.server, c.source, "Name") for c in conv.autodiscover_scps),
    ]
    for server, source, column in rows:
        if server.lower() in known:
            continue
        where = dataclasses.replace(source, column=column) if source else Location("")
        problems.append(
            Problem(
                str(where),
                f"server '{server}' is not a known server; expected one of: "
                f"{_names(s.name for s in servers)} (add it to the Get-ExchangeServer export or to "
                "servers in inventory.yaml)",
            )
        )


def _check_target(
    name: str, known: dict[str, Server], servers: list[Server], where: str, problems: list[Problem]
) -> None:
    server = known.get(name.lower())
    if server is None:
        problems.append(
            Problem(
                where,
                f"'{name}' is not a known server; expected one of: {_names(s.name for s in servers)}",
            )
        )
    elif server.lifecycle is not Lifecycle.TARGET:
        problems.append(
            Problem(
                where,
                f"'{name}' is a legacy ({server.version.label}) server; expected a target server",
            )
        )
