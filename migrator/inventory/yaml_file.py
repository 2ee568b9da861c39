"""``inventory.yaml``: parsed with PyYAML, validated against the published JSON Schema.

Every message names the exact key path (``relay.targets.London[0]``). The
schema ships inside the package (``migrator/inventory/inventory.schema.json``);
:func:`schema_path` tells editors and docs where it is.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

from migrator.errors import Problem
from migrator.inventory.tables import parse_host
from migrator.iprange import IPRange, IPRangeError
from migrator.model import (
    AcceptedDomain,
    AcceptedDomainType,
    DnsZone,
    ExchangeVersion,
    Lifecycle,
    LoadBalancer,
    MailFlowTarget,
    MaintenanceWindow,
    MxRecord,
    NatRule,
    Policy,
    RelayMethod,
    RelayOverride,
    RemainingClient,
    RemainingClientAccess,
    ServerRole,
    Site,
    SourceAnchor,
    Tenant,
)

_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def schema_path() -> Path:
    """Where the JSON Schema of inventory.yaml is installed."""
    return Path(str(resources.files("migrator.inventory").joinpath("inventory.schema.json")))


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of inventory.yaml."""
    text = (
        resources.files("migrator.inventory").joinpath("inventory.schema.json").read_text("utf-8")
    )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@dataclass
class YamlInventory:
    """What inventory.yaml says, in model terms (servers stay as override dicts)."""

    organisation: str = ""
    """Organisation name."""
    sites: list[Site] = field(default_factory=list)
    """Sites."""
    servers: list[dict[str, Any]] = field(default_factory=list)
    """Server entries: Server field name -> value, only the keys the file sets."""
    server_keys: list[str] = field(default_factory=list)
    """Key path of each server entry (``servers[0]``)."""
    accepted_domains: list[AcceptedDomain] = field(default_factory=list)
    """Accepted domains given in the file."""
    dns_zones: list[DnsZone] = field(default_factory=list)
    """DNS zones."""
    load_balancers: list[LoadBalancer] = field(default_factory=list)
    """Load balancers."""
    nat_rules: list[NatRule] = field(default_factory=list)
    """NAT rules."""
    tenant: Tenant | None = None
    """Tenant."""
    policy: Policy = field(default_factory=Policy)
    """Policy."""
    has_targets: bool = False
    """Whether relay.targets names any target server."""
    hosts: list[tuple[str, str]] = field(default_factory=list)
    """(address, host name) pairs."""
    files: list[str] = field(default_factory=list)
    """Explicit export file list (relative paths)."""
    raw: dict[str, Any] = field(default_factory=dict)
    """The parsed document (for key-path checks across files)."""


def key_path(path: list[str | int] | tuple[str | int, ...]) -> str:
    """``['relay', 'targets', 'London', 0]`` -> ``relay.targets.London[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _where(label: str, path: list[str | int] | tuple[str | int, ...]) -> str:
    return f"{label}, key '{key_path(path)}'" if path else label


def _dates_to_text(node: Any) -> Any:
    # YAML 1.1 turns 2026-12-07 into a date; the schema speaks JSON, so give it text.
    if isinstance(node, dict):
        return {str(k): _dates_to_text(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_dates_to_text(v) for v in node]
    if isinstance(node, dt.date | dt.datetime):
        return node.isoformat()
    return node


def _message(error: ValidationError) -> tuple[list[str | int], str]:
    path: list[str | int] = list(error.absolute_path)
    value = error.instance
    shown = json.dumps(value, default=str) if not isinstance(value, str) else f"'{value}'"
    validator = error.validator
    schema_part: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    if validator == "additionalProperties":
        allowed = sorted(schema_part.get("properties", {}))
        extra = sorted(set(value) - set(allowed)) if isinstance(value, dict) else []
        key = extra[0] if extra else ""
        expected = f"expected one of: {', '.join(allowed)}" if allowed else "expected no other keys"
        return [*path, key], f"unknown key '{key}'; {expected}"
    if validator == "required":
        missing = str(error.message).split("'")[1] if "'" in str(error.message) else ""
        return [*path, missing], "required key is missing"
    if validator == "enum":
        choices = ", ".join(str(c) for c in schema_part.get("enum", []) if isinstance(c, str))
        return path, f"{shown} is not allowed; expected one of: {choices}"
    if validator == "type":
        wanted = error.validator_value
        if path and str(path[-1]) in {"start", "end"} and isinstance(value, int):
            return (
                path,
                f'{shown} is not a time; write it quoted, e.g. "20:00" (YAML reads 20:00 as a number)',
            )
        return path, f"{shown} is not {_a(wanted)}"
    if validator == "pattern":
        return path, f'{shown} is not a time; expected HH:MM such as "20:00"'
    if validator == "format":
        return path, f"{shown} is not a date; expected yyyy-mm-dd"
    if validator in {"minimum", "maximum"}:
        return path, f"{shown} is out of range; expected {validator} {error.validator_value}"
    if validator == "minLength":
        return path, "empty value; expected a non-empty text"
    if validator == "minItems":
        return path, "empty list; expected at least one entry"
    return path, str(error.message).lower()


def _a(wanted: Any) -> str:
    names = {
        "object": "a mapping",
        "array": "a list",
        "string": "a text",
        "integer": "a whole number",
        "boolean": "true or false",
    }
    if isinstance(wanted, list):
        return " or ".join(_a(w) for w in wanted)
    return names.get(str(wanted), f"of type {wanted}")


class _DuplicateKey(yaml.YAMLError):
    """A mapping names one key twice (PyYAML would silently keep the last one)."""

    def __init__(self, key: object, first: yaml.Mark, again: yaml.Mark) -> None:
        super().__init__(f"key '{key}' appears twice (lines {first.line + 1} and {again.line + 1})")
        self.problem = f"key '{key}' appears twice, on lines {first.line + 1} and {again.line + 1}; merge them into one"
        self.problem_mark = again


MAX_DEPTH = 32
"""Deepest nesting of lists and mappings read (inventory.yaml needs 6)."""
MAX_ALIAS_VALUES = 10_000
"""Most values all aliases (``*name``) together may stand for: refuses alias bombs."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, alias loops and bombs, and deep nesting.

    While the document is composed, the loader counts how deep it is and how
    many values each anchored node stands for, so an alias that refers to
    its own ancestor (``a: &x [*x]``), aliases that would expand to more than
    :data:`MAX_ALIAS_VALUES` values, and nesting past :data:`MAX_DEPTH` are
    refused before anything is built.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._open_anchors: list[str | None] = []
        self._values = 0
        self._alias_values = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event: Any = self.peek_event()  # type: ignore[no-untyped-call]
            if event.anchor in self._open_anchors:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"alias *{event.anchor} refers to the list or mapping it is in, which makes "
                    "a loop; write the values out instead",
                    event.start_mark,
                )
            node = super().compose_node(parent, index)
            size = self._sizes.get(id(node), 1)
            self._values += size
            self._alias_values += size
            if self._alias_values > MAX_ALIAS_VALUES:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"aliases expand to more than {MAX_ALIAS_VALUES:,} values, an alias bomb; "
                    "write the values out instead of repeating aliases",
                    event.start_mark,
                )
            return node
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if len(self._open_anchors) >= MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"nested more than {MAX_DEPTH} levels deep, far more than inventory.yaml "
                "needs; see docs/inventory.md",
                event.start_mark,
            )
        before = self._values
        self._open_anchors.append(event.anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._open_anchors.pop()
        self._values += 1
        if event.anchor is not None:
            self._sizes[id(node)] = self._values - before
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        seen: dict[object, yaml.Mark] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise _DuplicateKey(key, seen[key], key_node.start_mark)
            if isinstance(key, str | int | float | bool):
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _timestamp(loader: _StrictLoader, node: yaml.Node) -> object:
    """A YAML date or time, or its text where it is none (``2026-12-32``): the schema's ``date``
    format then names the value and its place, where PyYAML would stop with a traceback."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)  # type: ignore[arg-type]
    except ValueError:
        return loader.construct_scalar(node)  # type: ignore[arg-type]


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def _load(data: bytes, label: str) -> tuple[Any, list[Problem]]:
    """One YAML document with the strict loader, or the problems that stop it."""
    try:
        # _StrictLoader is a SafeLoader that also refuses duplicate keys.
        return yaml.load(data.decode("utf-8-sig"), Loader=_StrictLoader), []
    except UnicodeDecodeError:
        return None, [Problem(label, "not UTF-8 text; save it as UTF-8")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{label}, line {mark.line + 1}" if mark is not None else label
        what = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(where, f"not valid YAML ({what})")]


def parse_yaml(
    data: bytes, label: str, tenant: tuple[bytes, str] | None = None
) -> tuple[YamlInventory | None, list[Problem]]:
    """Parse and validate inventory.yaml; return it and every problem found.

    ``tenant`` is a ``tenant.yaml`` beside it (bytes, label), as the cloud
    collector writes it: a document with the single key ``tenant``, used when
    inventory.yaml has no ``tenant`` section of its own.
    """
    doc, problems = _load(data, label)
    if problems:
        return None, problems
    if doc is None:
        return None, [Problem(label, "the file is empty; expected at least 'organisation: <name>'")]
    doc = _dates_to_text(doc)
    if not isinstance(doc, dict):
        return None, [
            Problem(label, "expected a mapping of keys (organisation, servers, ...) at the top")
        ]
    tenant_label = label
    if tenant is not None:
        tenant_bytes, tenant_label = tenant
        extra, problems = _load(tenant_bytes, tenant_label)
        if problems:
            return None, problems
        if not isinstance(extra, dict) or set(extra) != {"tenant"}:
            return None, [
                Problem(
                    tenant_label,
                    "expected one key, 'tenant:', as Export-MigratorCloudInventory.ps1 writes it",
                )
            ]
        if "tenant" in doc:
            return None, [
                Problem(
                    tenant_label,
                    "inventory.yaml has a tenant section too; keep one of them (delete this file "
                    "or the tenant: key in inventory.yaml)",
                )
            ]
        doc["tenant"] = _dates_to_text(extra["tenant"])
    # jsonschema is imported where it is used (keeps the CLI's start fast).
    from jsonschema import Draft202012Validator, FormatChecker

    validator = Draft202012Validator(schema(), format_checker=FormatChecker())
    for error in validator.iter_errors(doc):
        path, message = _message(error)
        where_label = tenant_label if path and path[0] == "tenant" else label
        problems.append(Problem(_where(where_label, path), message))
    if problems:
        return None, problems
    inv = _build(doc, label, problems)
    return (inv if not problems else None), problems


def _ranges(
    items: list[str], label: str, path: list[str | int], problems: list[Problem]
) -> tuple[IPRange, ...]:
    out: list[IPRange] = []
    for i, text in enumerate(items):
        try:
            out.append(IPRange.parse(text))
        except IPRangeError as exc:
            problems.append(Problem(_where(label, [*path, i]), str(exc)))
    return tuple(out)


def _address(text: str, label: str, path: list[str | int], problems: list[Problem]) -> Any:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        problems.append(Problem(_where(label, path), f"'{text}' is not an IP address"))
        return None


def _build(doc: dict[str, Any], label: str, problems: list[Problem]) -> YamlInventory:
    inv = YamlInventory(organisation=str(doc["organisation"]), raw=doc)
    for i, site in enumerate(doc.get("sites", [])):
        inv.sites.append(
            Site(
                site["name"],
                _ranges(site.get("subnets", []), label, ["sites", i, "subnets"], problems),
            )
        )
    for i, srv in enumerate(doc.get("servers", [])):
        entry: dict[str, Any] = {"name": srv["name"]}
        if "version" in srv:
            entry["version"] = ExchangeVersion(str(srv["version"]))
        for src, dst in (
            ("site", "site"),
            ("build", "build"),
            ("os", "operating_system"),
            ("fqdn", "fqdn"),
            ("hybrid", "hybrid"),
        ):
            if src in srv:
                entry[dst] = srv[src]
        if "roles" in srv:
            entry["roles"] = frozenset(ServerRole(r) for r in srv["roles"])
        if "lifecycle" in srv:
            entry["lifecycle"] = Lifecycle(srv["lifecycle"])
        if "ip" in srv:
            addrs = [
                _address(a, label, ["servers", i, "ip", j], problems)
                for j, a in enumerate(srv["ip"])
            ]
            entry["ip_addresses"] = tuple(a for a in addrs if a is not None)
        inv.servers.append(entry)
        inv.server_keys.append(f"servers[{i}]")
    for d in doc.get("accepted_domains", []):
        inv.accepted_domains.append(
            AcceptedDomain(
                d.get("name") or d["domain"],
                d["domain"],
                AcceptedDomainType(d["type"]),
                bool(d.get("default", False)),
            )
        )
    for z in doc.get("dns", []):
        inv.dns_zones.append(
            DnsZone(
                z["domain"],
                tuple(MxRecord(m["host"], m["preference"], m["ttl"]) for m in z.get("mx", [])),
                z.get("spf", ""),
                z.get("spf_ttl"),
                z.get("gateway", ""),
            )
        )
    for i, lb in enumerate(doc.get("load_balancers", [])):
        vips = [
            _address(a, label, ["load_balancers", i, "virtual_addresses", j], problems)
            for j, a in enumerate(lb["virtual_addresses"])
        ]
        snat = [
            _address(a, label, ["load_balancers", i, "snat_addresses", j], problems)
            for j, a in enumerate(lb.get("snat_addresses", []))
        ]
        inv.load_balancers.append(
            LoadBalancer(
                lb["name"],
                tuple(a for a in vips if a is not None),
                lb["source_nat"],
                tuple(lb.get("servers", [])),
                tuple(a for a in snat if a is not None),
                tuple(lb.get("ports", [25])),
            )
        )
    for i, rule in enumerate(doc.get("nat", [])):
        public = (
            _address(rule["public"], label, ["nat", i, "public"], problems)
            if rule.get("public")
            else None
        )
        inside = _address(rule["inside"], label, ["nat", i, "inside"], problems)
        if inside is not None:
            inv.nat_rules.append(
                NatRule(
                    rule["name"], public, inside, rule.get("source_nat", True), rule.get("port", 25)
                )
            )
    if "tenant" in doc:
        t = doc["tenant"]
        inv.tenant = Tenant(
            initial_domain=t.get("initial_domain", ""),
            verified_domains=tuple(t.get("verified_domains", [])),
            federated_domains=tuple(t.get("federated_domains", [])),
            mx_hosts=tuple(sorted(t.get("mx_hosts", {}).items())),
            source_anchor=SourceAnchor(t.get("source_anchor", "mS-DS-ConsistencyGuid")),
            soft_match_upn=t.get("soft_match_upn", True),
            block_soft_match=t.get("block_soft_match", False),
            block_hard_match_takeover=t.get("block_hard_match_takeover", False),
        )
    inv.policy = _policy(doc, label, problems)
    inv.has_targets = any(v for v in doc.get("relay", {}).get("targets", {}).values())
    inv.hosts = sorted((str(k), str(v)) for k, v in doc.get("hosts", {}).items())
    inv.files = list(doc.get("files", []))
    return inv


def _policy(doc: dict[str, Any], label: str, problems: list[Problem]) -> Policy:
    plan = doc.get("plan", {})
    relay = doc.get("relay", {})
    windows: list[MaintenanceWindow] = []
    for w in plan.get("maintenance_windows", []):
        windows.append(
            MaintenanceWindow(
                _DAYS.index(w["day"]),
                dt.time.fromisoformat(_pad(w["start"])),
                dt.time.fromisoformat(_pad(w["end"])),
            )
        )
    overrides: list[RelayOverride] = []
    for i, o in enumerate(relay.get("overrides", [])):
        base: list[str | int] = ["relay", "overrides", i]
        overrides.append(
            RelayOverride(
                connector=o["connector"],
                method=RelayMethod(o["method"]) if "method" in o else None,
                target_servers=tuple(o.get("targets", [])),
                name=o.get("name", ""),
                add_ranges=_ranges(o.get("add_ranges", []), label, [*base, "add_ranges"], problems),
                remove_ranges=_ranges(
                    o.get("remove_ranges", []), label, [*base, "remove_ranges"], problems
                ),
                migrate=o.get("migrate"),
            )
        )
    kwargs: dict[str, Any] = {}
    if "start" in plan:
        kwargs["start_date"] = dt.date.fromisoformat(plan["start"])
    if "holidays" in plan:  # dates checked by the schema (format "date")
        kwargs["holidays"] = tuple(
            sorted({dt.date.fromisoformat(str(d)) for d in plan["holidays"]})
        )
    if "final_version" in plan:
        kwargs["final_version"] = ExchangeVersion(str(plan["final_version"]))
    if "mail_flow_target" in plan:
        kwargs["mail_flow_target"] = MailFlowTarget(plan["mail_flow_target"])
    for key in ("observation_days", "identity_batch_size", "log_days_wanted", "soak_days"):
        if key in plan:
            kwargs[key] = plan[key]
    if "public_folder_mailbox_gb" in plan:
        kwargs["public_folder_mailbox_gb"] = float(plan["public_folder_mailbox_gb"])
    if "mx_keep_route" in plan:
        kwargs["mx_keep_route"] = tuple(
            sorted({str(d).strip().lower() for d in plan["mx_keep_route"]})
        )
    if "namespace" in plan:
        kwargs["client_namespace"] = tuple(
            sorted({str(n).strip().lower().rstrip(".") for n in plan["namespace"]})
        )
    remaining: list[RemainingClient] = []
    for i, rc in enumerate(plan.get("remaining_clients", [])):
        try:
            r = IPRange.parse(str(rc["range"]))
        except IPRangeError as exc:
            problems.append(
                Problem(_where(label, ["plan", "remaining_clients", i, "range"]), str(exc))
            )
            continue
        remaining.append(RemainingClient(r, str(rc.get("server", "")), str(rc.get("reason", ""))))
    kwargs["remaining_clients"] = tuple(remaining)
    accepted_access: list[RemainingClientAccess] = []
    for i, rc in enumerate(plan.get("remaining_client_access", [])):
        where: list[str | int] = ["plan", "remaining_client_access", i]
        access_range = None
        if "range" in rc:
            try:
                access_range = IPRange.parse(str(rc["range"]))
            except IPRangeError as exc:
                problems.append(Problem(_where(label, [*where, "range"]), str(exc)))
                continue
        if access_range is None and not str(rc.get("user", "")).strip():
            problems.append(
                Problem(
                    _where(label, where),
                    "names neither a user nor a range; expected 'user', 'range' or both "
                    "(an entry may not accept every client of a server)",
                )
            )
            continue
        accepted_access.append(
            RemainingClientAccess(
                str(rc.get("reason", "")),
                str(rc.get("server", "")),
                str(rc.get("protocol", "")),
                str(rc.get("user", "")).strip(),
                access_range,
            )
        )
    kwargs["remaining_client_access"] = tuple(accepted_access)
    if "method" in relay:
        kwargs["relay_method"] = RelayMethod(relay["method"])
    if "name" in relay:
        kwargs["relay_name_pattern"] = relay["name"]
    for key in ("sync_scope_ou", "domain_controller"):
        if key in relay:
            kwargs[key] = relay[key]
    alias = relay.get("smtp_alias", "")
    if isinstance(alias, dict):
        kwargs["site_smtp_aliases"] = _site_aliases(alias, label, problems)
    elif alias:
        kwargs["smtp_alias"] = alias
    return Policy(
        targets_by_site=tuple(
            sorted((site, tuple(servers)) for site, servers in relay.get("targets", {}).items())
        ),
        overrides=tuple(overrides),
        public_ranges=_ranges(
            relay.get("public_ranges", []), label, ["relay", "public_ranges"], problems
        ),
        maintenance_windows=tuple(windows),
        **kwargs,
    )


def _site_aliases(
    given: dict[str, str], label: str, problems: list[Problem]
) -> tuple[tuple[str, str], ...]:
    """``relay.smtp_alias`` as a mapping AD site -> DNS alias: one alias per site, one site per alias.

    (Whether each site is known is checked with the servers, in the loader.)
    """
    out: list[tuple[str, str]] = []
    sites: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for site, alias in given.items():
        where = _where(label, ["relay", "smtp_alias", site])
        name = alias.strip().rstrip(".")
        if not name:
            continue  # the schema reports the empty value
        try:
            parse_host(name)
        except ValueError as exc:
            problems.append(Problem(where, str(exc).replace(", or an empty cell", "")))
            continue
        if site.lower() in sites:
            problems.append(
                Problem(
                    where,
                    f"site '{site}' is given twice (also as '{sites[site.lower()]}'); "
                    "expected each site once",
                )
            )
            continue
        if name.lower() in aliases:
            problems.append(
                Problem(
                    where,
                    f"alias '{name}' is also the alias of site '{aliases[name.lower()]}'; expected "
                    "one alias per site (for one alias in front of every site write "
                    f"smtp_alias: {name})",
                )
            )
            continue
        sites[site.lower()] = site
        aliases[name.lower()] = site
        out.append((site, name))
    return tuple(sorted(out, key=lambda p: p[0].lower()))


def _pad(text: str) -> str:
    hour, _, minute = text.partition(":")
    return f"{int(hour):02d}:{minute}"
