"""Batfish's AWS snapshot layout -> an auditor snapshot -> the model (outside data, read only).

Batfish keeps one AWS API response per file under `aws_configs/`, named by its own conventions
(`Vpcs.json`, `Reservations.json`, `TransitGatewayPropagations.json` ...), in one of three
layouts: flat (`aws_configs/<File>.json`, one account, the region taken from the
availability-zone names), per region (`aws_configs/<region>/`) and per account and region
(`aws_configs/accounts/<account>/<region>/`).

`convert` writes those responses as the call records the collector would have written
(`auditor.snapshot.writer.SnapshotWriter`: a real snapshot folder with its manifest and
hashes), `load` reads the folder back with the tool's own reader (`load_snapshot`, every check
it makes) and builds the model from it (`build_model`): the normal snapshot/model path.

What is not a plain copy of one response is derived, and said so in `Conversion.derived`:

- `TransitGatewayStaticRoutes.json` and `TransitGatewayPropagations.json` (one entry per
  transit gateway route table) become the per-table calls the model reads:
  `ec2:GetTransitGatewayRouteTablePropagations`, and `ec2:SearchTransitGatewayRoutes` holding
  the static routes plus the propagated ones, as AWS installs them: one route per CIDR of the
  VPC of every VPC attachment propagating into the table (type `propagated`). Routes a VPN,
  Direct Connect or Connect attachment propagates are learned over BGP and are in no AWS
  listing: the tables that hold them are named in `Conversion.bgp_tables`.
- `ec2:GetTransitGatewayRouteTableAssociations`, per table, from the association each
  attachment reports in `TransitGatewayAttachments.json`.
- `SecurityGroups.json` also gives `ec2:DescribeSecurityGroupRules` (what the model reads a
  group's rules from): one rule per source (or destination) of each `IpPermissions` /
  `IpPermissionsEgress` entry, as AWS lists them; the rule ids are ours (`sgr-derived-...`).
- `PrefixLists.json` (ec2 `DescribePrefixLists`: AWS's service prefix lists with their CIDRs)
  becomes `ec2:DescribeManagedPrefixLists` plus `ec2:GetManagedPrefixListEntries` per list.

A listing the model does not read is reported in `Conversion.not_used` with the reason, never
dropped silently. A listing the folder lacks is not written: the snapshot says it was not
collected (nothing is invented as "none").
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Mapping

from auditor.errors import SnapshotError
from auditor.model import build_model
from auditor.model.types import Model
from auditor.snapshot.reader import Snapshot, load_snapshot, record_shape_errors
from auditor.snapshot.records import CallRecord
from auditor.snapshot.writer import SnapshotWriter

__all__ = ["AdapterError", "Conversion", "Loaded", "FILES", "NOT_USED", "convert", "load", "layout_of"]

CONFIGS = "aws_configs"
FLAT, PER_REGION, PER_ACCOUNT_REGION = "flat", "per region", "per account and region"
PLACEHOLDER_ACCOUNT = "000000000000"   # a flat or per-region snapshot whose files name no owner

# Batfish's file -> (service, operation, the response's list key) of the call the model reads.
FILES: dict[str, tuple[str, str, str]] = {
    "Vpcs.json": ("ec2", "DescribeVpcs", "Vpcs"),
    "Subnets.json": ("ec2", "DescribeSubnets", "Subnets"),
    "RouteTables.json": ("ec2", "DescribeRouteTables", "RouteTables"),
    "NetworkAcls.json": ("ec2", "DescribeNetworkAcls", "NetworkAcls"),
    "SecurityGroups.json": ("ec2", "DescribeSecurityGroups", "SecurityGroups"),
    "Reservations.json": ("ec2", "DescribeInstances", "Reservations"),
    "NetworkInterfaces.json": ("ec2", "DescribeNetworkInterfaces", "NetworkInterfaces"),
    "Addresses.json": ("ec2", "DescribeAddresses", "Addresses"),
    "InternetGateways.json": ("ec2", "DescribeInternetGateways", "InternetGateways"),
    "NatGateways.json": ("ec2", "DescribeNatGateways", "NatGateways"),
    "VpnGateways.json": ("ec2", "DescribeVpnGateways", "VpnGateways"),
    "VpcPeeringConnections.json": ("ec2", "DescribeVpcPeeringConnections", "VpcPeeringConnections"),
    "VpcEndpoints.json": ("ec2", "DescribeVpcEndpoints", "VpcEndpoints"),
    "VpcEndpointServices.json": ("ec2", "DescribeVpcEndpointServices", "ServiceDetails"),
    "TransitGateways.json": ("ec2", "DescribeTransitGateways", "TransitGateways"),
    "TransitGatewayAttachments.json": ("ec2", "DescribeTransitGatewayAttachments", "TransitGatewayAttachments"),
    "TransitGatewayVpcAttachments.json": ("ec2", "DescribeTransitGatewayVpcAttachments",
                                          "TransitGatewayVpcAttachments"),
    "TransitGatewayRouteTables.json": ("ec2", "DescribeTransitGatewayRouteTables", "TransitGatewayRouteTables"),
    "LoadBalancers.json": ("elbv2", "DescribeLoadBalancers", "LoadBalancers"),
    "RdsInstances.json": ("rds", "DescribeDBInstances", "DBInstances"),
}
# Files turned into other calls (see the module docstring), with their list key.
DERIVED_FROM = {"TransitGatewayPropagations.json": "TransitGatewayPropagations",
                "TransitGatewayStaticRoutes.json": "TransitGatewayStaticRoutes",
                "PrefixLists.json": "PrefixLists"}
# Batfish's files the model does not read, and why.
NOT_USED: dict[str, str] = {
    "AvailabilityZones.json": "the model reads no availability-zone listing (a flat layout's region is taken from it)",
    "CustomerGateways.json": "the model has no customer gateways (the far end of a VPN is on premises)",
    "VpnConnections.json": "the model has no VPN connections (a VGW or a TGW VPN attachment is on premises)",
    "DirectConnectGateways.json": "the model has no Direct Connect gateways (a TGW Direct Connect attachment "
                                  "is on premises)",
    "DirectConnectGatewayAssociations.json": "the model has no Direct Connect gateways",
    "VirtualInterfaces.json": "the model has no Direct Connect virtual interfaces",
    "TargetGroups.json": "the model has no load balancer target groups",
    "LoadBalancerListeners.json": "the model has no load balancer listeners",
    "LoadBalancerAttributes.json": "the model has no load balancer attributes",
    "LoadBalancerTargetHealth.json": "the model has no load balancer target health",
    "ElasticsearchDomains.json": "the model has no Elasticsearch/OpenSearch domains",
    "ClassicLinkInstances.json": "EC2-Classic is not modelled",
    "DhcpOptions.json": "the model has no DHCP options",
    "Hosts.json": "the model has no dedicated hosts",
    "InstanceStatuses.json": "the model reads instance state from DescribeInstances only",
    "MovingAddressStatuses.json": "EC2-Classic address moves are not modelled",
    "PlacementGroups.json": "the model has no placement groups",
    "Tags.json": "tags are read from each resource's own listing",
}
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_AZ = re.compile(r"^([a-z]{2}(?:-[a-z]+)+-\d+)[a-z]+$")
_ACCOUNT = re.compile(r"^\d{12}$")


class AdapterError(Exception):
    """The folder is not a Batfish AWS snapshot this adapter can read (the message says why)."""


@dataclass(frozen=True)
class Folder:
    """One account-region folder of a Batfish snapshot."""

    account: str
    region: str
    path: Path


@dataclass
class Conversion:
    """What `convert` wrote and how: files used (file -> call), not used (file -> reason),
    derived calls, and the transit gateway route tables holding routes learned over BGP
    (table id -> the attachments propagating them), whose full routes no listing holds."""

    layout: str
    folders: tuple[Folder, ...]
    used: list[tuple[str, str]] = field(default_factory=list)
    not_used: list[tuple[str, str]] = field(default_factory=list)
    derived: list[str] = field(default_factory=list)
    bgp_tables: dict[str, tuple[str, ...]] = field(default_factory=dict)
    records: list[CallRecord] = field(default_factory=list)


@dataclass(frozen=True)
class Loaded:
    """A converted snapshot read back: the conversion, the verified snapshot and its model."""

    conversion: Conversion
    snapshot: Snapshot
    model: Model


# -- reading Batfish's folder -------------------------------------------------------------

def _read_json(path: Path, root: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise AdapterError(f"{path.relative_to(root)}: not UTF-8 text ({exc.reason})") from None
    except ValueError as exc:
        raise AdapterError(f"{path.relative_to(root)}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise AdapterError(f"{path.relative_to(root)}: cannot read ({exc.strerror or exc})") from None


def _json_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".json")


def layout_of(snapshot: Path) -> tuple[str, list[tuple[str | None, str | None, Path]]]:
    """The layout of `snapshot/aws_configs` and its folders as (account, region, path);
    account and region are None where the layout does not say (flat, per region)."""
    configs = snapshot / CONFIGS
    if not configs.is_dir():
        raise AdapterError(f"{snapshot.name}: no {CONFIGS}/ folder (not a Batfish AWS snapshot)")
    entries = sorted(configs.iterdir())
    files = [p for p in entries if p.is_file() and p.suffix == ".json"]
    dirs = [p for p in entries if p.is_dir()]
    if files and not dirs:
        return FLAT, [(None, None, configs)]
    if dirs and not files:
        if [d.name for d in dirs] == ["accounts"]:
            out: list[tuple[str | None, str | None, Path]] = []
            for account in sorted(p for p in dirs[0].iterdir()):
                if not account.is_dir() or not _ACCOUNT.match(account.name):
                    raise AdapterError(f"{snapshot.name}: {CONFIGS}/accounts/{account.name} is not a 12-digit "
                                       "account folder (unknown layout)")
                regions = sorted(account.iterdir())
                bad = [r.name for r in regions if not r.is_dir() or not _REGION.match(r.name)]
                if bad or not regions:
                    raise AdapterError(f"{snapshot.name}: {CONFIGS}/accounts/{account.name} holds "
                                       f"{', '.join(bad) or 'no region folder'} (unknown layout: expected region folders)")
                out += [(account.name, r.name, r) for r in regions]
            if not out:
                raise AdapterError(f"{snapshot.name}: {CONFIGS}/accounts/ holds no account folder")
            return PER_ACCOUNT_REGION, out
        bad = [d.name for d in dirs if not _REGION.match(d.name)]
        if bad:
            raise AdapterError(f"{snapshot.name}: {CONFIGS}/{bad[0]} is neither a region nor 'accounts' "
                               "(unknown layout)")
        return PER_REGION, [(None, d.name, d) for d in dirs]
    if not files and not dirs:
        raise AdapterError(f"{snapshot.name}: {CONFIGS}/ is empty")
    raise AdapterError(f"{snapshot.name}: {CONFIGS}/ mixes files and folders (unknown layout)")


def _list(responses: Mapping[str, Any], name: str, key: str) -> list[Any]:
    """The items of one listing, [] when it is absent or not of the API's shape (the shape is
    checked, with its error, where the listing is written)."""
    response = responses.get(name)
    value = response.get(key) if isinstance(response, dict) else None
    return value if isinstance(value, list) else []


def _owner(responses: Mapping[str, Any]) -> str | None:
    """The account that owns most of the VPCs, subnets, route tables and gateways listed."""
    owners: Counter[str] = Counter()
    for name, key, field_name in (("Vpcs.json", "Vpcs", "OwnerId"), ("Subnets.json", "Subnets", "OwnerId"),
                                  ("RouteTables.json", "RouteTables", "OwnerId"),
                                  ("TransitGateways.json", "TransitGateways", "OwnerId"),
                                  ("InternetGateways.json", "InternetGateways", "OwnerId")):
        for item in _list(responses, name, key):
            if isinstance(item, dict) and isinstance(item.get(field_name), str) and _ACCOUNT.match(item[field_name]):
                owners[item[field_name]] += 1
    return owners.most_common(1)[0][0] if owners else None


def _region_from_zones(responses: Mapping[str, Any]) -> str | None:
    zones: set[str] = set()
    for item in _list(responses, "Subnets.json", "Subnets"):
        if isinstance(item, dict) and isinstance(item.get("AvailabilityZone"), str):
            zones.add(item["AvailabilityZone"])
    for item in _list(responses, "AvailabilityZones.json", "AvailabilityZones"):
        if isinstance(item, dict):
            if isinstance(item.get("RegionName"), str) and _REGION.match(item["RegionName"]):
                return str(item["RegionName"])
            if isinstance(item.get("ZoneName"), str):
                zones.add(item["ZoneName"])
    regions = {m.group(1) for z in zones if (m := _AZ.match(z))}
    if len(regions) > 1:
        raise AdapterError(f"availability zones of several regions ({', '.join(sorted(regions))}) in one flat folder")
    return regions.pop() if regions else None


# -- writing the records ------------------------------------------------------------------

def _items(response: Any, key: str, rel: str) -> list[dict[str, Any]]:
    if not isinstance(response, dict) or not isinstance(response.get(key), list):
        raise AdapterError(f"{rel}: expected a JSON object with the list '{key}' (the API response)")
    bad = [i for i, x in enumerate(response[key]) if not isinstance(x, dict)]
    if bad:
        raise AdapterError(f"{rel}: '{key}[{bad[0]}]' is not an object")
    return list(response[key])


def _route_tables_of(response: Any, rel: str, key: str) -> dict[str, dict[str, Any]]:
    """Batfish's per-table files: one entry per table, keyed by TransitGatewayRouteTableId."""
    out: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(_items(response, key, rel)):
        table = entry.get("TransitGatewayRouteTableId")
        if not isinstance(table, str) or not table:
            raise AdapterError(f"{rel}: '{key}[{i}]' names no TransitGatewayRouteTableId")
        out[table] = entry
    return out


_BGP_TYPES = frozenset({"vpn", "direct-connect-gateway", "connect"})


def convert(snapshot: Path, out: Path, only: Iterable[str] | None = None) -> Conversion:
    """Write Batfish snapshot folder `snapshot` as an auditor snapshot into `out` (a new
    folder). `only`: the files to use, as paths relative to `snapshot` (the listings the
    Batfish test loaded); the other files are reported as not used. AdapterError (or
    SnapshotError from the writer) when the folder cannot be read."""
    layout, where = layout_of(snapshot)
    wanted = {str(p) for p in only} if only is not None else None
    per_folder: list[tuple[str | None, str | None, Path, dict[str, Any]]] = []
    hints: list[dict[str, Any]] = []   # per folder: the listings that name owners and zones, used or not
    conv = Conversion(layout=layout, folders=())
    for account, region, path in where:
        responses: dict[str, Any] = {}
        hint: dict[str, Any] = {}
        for f in _json_files(path):
            rel = str(f.relative_to(snapshot))
            if f.name in ("Vpcs.json", "Subnets.json", "AvailabilityZones.json", "RouteTables.json"):
                hint[f.name] = _read_json(f, snapshot)
            if wanted is not None and rel not in wanted:
                conv.not_used.append((rel, "not loaded by the Batfish test whose answers are compared "
                                           "(extra listing)"))
                continue
            if f.name not in FILES and f.name not in DERIVED_FROM:
                conv.not_used.append((rel, NOT_USED.get(f.name, "not a listing this adapter knows")))
                continue
            responses[f.name] = hint.get(f.name) or _read_json(f, snapshot)
        per_folder.append((account, region, path, responses))
        hints.append(hint | responses)
    # Flat and per-region layouts hold one account: the owner the files name.
    default_account = next((a for h in hints if (a := _owner(h))), PLACEHOLDER_ACCOUNT)
    folders: list[Folder] = []
    for (account, region, path, _), hint in zip(per_folder, hints, strict=True):
        if region is None:
            region = _region_from_zones(hint)
            if region is None:
                raise AdapterError(f"{snapshot.name}: a flat {CONFIGS}/ whose subnets and availability zones name no "
                                   "region")
        folders.append(Folder(account or default_account, region, path))
    conv.folders = tuple(folders)
    if default_account == PLACEHOLDER_ACCOUNT and layout != PER_ACCOUNT_REGION:
        conv.derived.append(f"account: no owner id in the listings; {PLACEHOLDER_ACCOUNT} used")
    # VPC CIDRs of every folder: a VPC attachment may propagate a VPC of another account.
    vpc_cidrs: dict[str, list[str]] = {}
    for _, _, path, responses in per_folder:
        if "Vpcs.json" in responses:
            for v in _items(responses["Vpcs.json"], "Vpcs", str((path / "Vpcs.json").relative_to(snapshot))):
                associated = [a.get("CidrBlock") for a in v.get("CidrBlockAssociationSet") or []
                              if isinstance(a, dict)
                              and (a.get("CidrBlockState") or {}).get("State", "associated") == "associated"]
                cidrs = [c for c in associated if isinstance(c, str)]
                vpc_cidrs[str(v.get("VpcId"))] = cidrs or ([v["CidrBlock"]] if isinstance(v.get("CidrBlock"), str) else [])
    records: list[CallRecord] = []
    for folder, (_, _, _, responses) in zip(folders, per_folder, strict=True):
        records += _folder_records(snapshot, folder, responses, vpc_cidrs, conv)
    conv.records = records
    writer = SnapshotWriter(out)
    for rec in records:
        writer.add(rec)
    writer.finish({
        "converted_from": {"format": "batfish-aws-snapshot", "snapshot": snapshot.name, "layout": layout},
        "accounts": [{"id": a, "source": "batfish-snapshot"} for a in sorted({f.account for f in folders})],
        "regions": sorted({f.region for f in folders}),
    })
    return conv


def _folder_records(snapshot: Path, folder: Folder, responses: Mapping[str, Any], vpc_cidrs: Mapping[str, list[str]],
                    conv: Conversion) -> list[CallRecord]:
    def rel(name: str) -> str:
        return str((folder.path / name).relative_to(snapshot))

    def record(service: str, operation: str, page: Mapping[str, Any], params: Mapping[str, Any] | None = None) -> CallRecord:
        return CallRecord(folder.account, folder.region, service, operation, dict(params or {}), (dict(page),))

    out: list[CallRecord] = []
    for name, response in sorted(responses.items()):
        if name not in FILES:
            continue
        service, operation, key = FILES[name]
        if name == "VpcEndpointServices.json" and isinstance(response, dict) and "ServiceDetails" not in response:
            conv.not_used.append((rel(name), "holds ServiceNames only, no ServiceDetails (the model reads the details)"))
            continue
        _items(response, key, rel(name))
        out.append(record(service, operation, response))
        if name == "SecurityGroups.json":
            out.append(record("ec2", "DescribeSecurityGroupRules",
                              {"SecurityGroupRules": _sg_rules(response["SecurityGroups"])}))
            conv.used.append((rel(name), "ec2:DescribeSecurityGroups + ec2:DescribeSecurityGroupRules (one rule per "
                                         "source of each IpPermissions / IpPermissionsEgress entry)"))
            conv.derived.append(f"{folder.account}/{folder.region}: security group rules from the groups' "
                                f"IpPermissions (rule ids {DERIVED_RULE}<group>-in|out-<n>)")
            continue
        conv.used.append((rel(name), f"{service}:{operation}"))
    # Transit gateway route tables: routes (static + VPC propagations), propagations, associations.
    if "TransitGatewayRouteTables.json" in responses:
        tables = [str(t.get("TransitGatewayRouteTableId")) for t in _items(
            responses["TransitGatewayRouteTables.json"], "TransitGatewayRouteTables", rel("TransitGatewayRouteTables.json"))]
        static = (_route_tables_of(responses["TransitGatewayStaticRoutes.json"], rel("TransitGatewayStaticRoutes.json"),
                                   "TransitGatewayStaticRoutes")
                  if "TransitGatewayStaticRoutes.json" in responses else None)
        props = (_route_tables_of(responses["TransitGatewayPropagations.json"], rel("TransitGatewayPropagations.json"),
                                  "TransitGatewayPropagations")
                 if "TransitGatewayPropagations.json" in responses else None)
        attachments = (_items(responses["TransitGatewayAttachments.json"], "TransitGatewayAttachments",
                              rel("TransitGatewayAttachments.json"))
                       if "TransitGatewayAttachments.json" in responses else None)
        for table in tables:
            filters = {"TransitGatewayRouteTableId": table,
                       "Filters": [{"Name": "state", "Values": ["active", "blackhole"]}]}
            table_props = None
            if props is not None:
                table_props = [p for p in (props.get(table) or {}).get("TransitGatewayRouteTablePropagations") or []
                               if isinstance(p, dict)]
                out.append(record("ec2", "GetTransitGatewayRouteTablePropagations",
                                  {"TransitGatewayRouteTablePropagations": table_props},
                                  {"TransitGatewayRouteTableId": table}))
            if static is not None and table_props is not None:
                routes = [r for r in (static.get(table) or {}).get("Routes") or [] if isinstance(r, dict)]
                routes = [r for r in routes if r.get("State") in ("active", "blackhole")]
                have = {r.get("DestinationCidrBlock") for r in routes}
                bgp: list[str] = []
                for p in table_props:
                    if p.get("State", "enabled") != "enabled":
                        continue
                    kind = str(p.get("ResourceType", "")).lower()
                    if kind == "vpc":
                        for cidr in vpc_cidrs.get(str(p.get("ResourceId")), []):
                            if cidr in have:
                                continue   # a static route wins over a propagated one for the same CIDR
                            routes.append({"DestinationCidrBlock": cidr, "State": "active", "Type": "propagated",
                                           "TransitGatewayAttachments": [{
                                               "ResourceId": p.get("ResourceId"), "ResourceType": "vpc",
                                               "TransitGatewayAttachmentId": p.get("TransitGatewayAttachmentId")}]})
                    elif kind in _BGP_TYPES:
                        bgp.append(str(p.get("TransitGatewayAttachmentId")))
                if bgp:
                    conv.bgp_tables[table] = tuple(bgp)
                out.append(record("ec2", "SearchTransitGatewayRoutes",
                                  {"Routes": routes, "AdditionalRoutesAvailable": False}, filters))
            if attachments is not None:
                assoc = [{"TransitGatewayAttachmentId": a.get("TransitGatewayAttachmentId"),
                          "ResourceId": a.get("ResourceId"), "ResourceType": a.get("ResourceType"),
                          "State": (a.get("Association") or {}).get("State", "")}
                         for a in attachments
                         if (a.get("Association") or {}).get("TransitGatewayRouteTableId") == table]
                out.append(record("ec2", "GetTransitGatewayRouteTableAssociations", {"Associations": assoc},
                                  {"TransitGatewayRouteTableId": table}))
        if props is not None:
            conv.used.append((rel("TransitGatewayPropagations.json"),
                              "ec2:GetTransitGatewayRouteTablePropagations (per table)"))
        if static is not None:
            if props is not None:
                conv.used.append((rel("TransitGatewayStaticRoutes.json"), "ec2:SearchTransitGatewayRoutes (per table: "
                                  "its static routes, plus one propagated route per CIDR of each propagating VPC)"))
                conv.derived.append(f"{folder.account}/{folder.region}: transit gateway routes = static routes + "
                                    "the CIDRs of each VPC attachment propagating into the table")
            else:
                conv.not_used.append((rel("TransitGatewayStaticRoutes.json"), "without TransitGatewayPropagations.json "
                                      "the table's propagated routes are unknown: its routes are not written"))
        if attachments is not None:
            conv.derived.append(f"{folder.account}/{folder.region}: transit gateway route table associations from the "
                                "association each attachment reports (TransitGatewayAttachments.json)")
    else:
        for name in ("TransitGatewayStaticRoutes.json", "TransitGatewayPropagations.json"):
            if name in responses:
                conv.not_used.append((rel(name), "no TransitGatewayRouteTables.json: the tables it describes are not "
                                      "in the snapshot"))
    if "PrefixLists.json" in responses:
        lists = _items(responses["PrefixLists.json"], "PrefixLists", rel("PrefixLists.json"))
        managed = []
        for pl in lists:
            cidrs = [c for c in pl.get("Cidrs") or [] if isinstance(c, str)]
            family = "IPv6" if cidrs and all(":" in c for c in cidrs) else "IPv4"
            managed.append({"PrefixListId": pl.get("PrefixListId"), "PrefixListName": pl.get("PrefixListName"),
                            "AddressFamily": family, "OwnerId": "AWS"})
            out.append(record("ec2", "GetManagedPrefixListEntries", {"Entries": [{"Cidr": c} for c in cidrs]},
                              {"PrefixListId": pl.get("PrefixListId")}))
        out.append(record("ec2", "DescribeManagedPrefixLists", {"PrefixLists": managed}))
        conv.used.append((rel("PrefixLists.json"), "ec2:DescribeManagedPrefixLists + ec2:GetManagedPrefixListEntries "
                                                   "(from ec2:DescribePrefixLists: same ids and CIDRs)"))
    return out


DERIVED_RULE = "sgr-derived-"


def _sg_rules(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """DescribeSecurityGroupRules' items for the groups' IpPermissions (ingress) and
    IpPermissionsEgress: one rule per source or destination of each permission, as AWS splits
    them (a CIDR, an IPv6 CIDR, a prefix list or a referenced group); ids are ours."""
    rules: list[dict[str, Any]] = []
    for g in groups:
        gid = str(g.get("GroupId", ""))
        for egress, key in ((False, "IpPermissions"), (True, "IpPermissionsEgress")):
            n = 0
            for perm in g.get(key) or []:
                if not isinstance(perm, dict):
                    continue
                base: dict[str, Any] = {"GroupId": gid, "GroupOwnerId": g.get("OwnerId", ""), "IsEgress": egress,
                                        "IpProtocol": str(perm.get("IpProtocol", "-1"))}
                for port in ("FromPort", "ToPort"):
                    if isinstance(perm.get(port), int):
                        base[port] = perm[port]
                targets: list[dict[str, Any]] = []
                targets += [{"CidrIpv4": r["CidrIp"], "Description": r.get("Description", "")}
                            for r in perm.get("IpRanges") or [] if isinstance(r, dict) and r.get("CidrIp")]
                targets += [{"CidrIpv6": r["CidrIpv6"], "Description": r.get("Description", "")}
                            for r in perm.get("Ipv6Ranges") or [] if isinstance(r, dict) and r.get("CidrIpv6")]
                targets += [{"PrefixListId": r["PrefixListId"], "Description": r.get("Description", "")}
                            for r in perm.get("PrefixListIds") or [] if isinstance(r, dict) and r.get("PrefixListId")]
                targets += [{"ReferencedGroupInfo": {"GroupId": r["GroupId"]}, "Description": r.get("Description", "")}
                            for r in perm.get("UserIdGroupPairs") or [] if isinstance(r, dict) and r.get("GroupId")]
                for t in targets:
                    n += 1
                    rules.append({"SecurityGroupRuleId": f"{DERIVED_RULE}{gid}-{'out' if egress else 'in'}-{n}",
                                  **base, **t})
    return rules


def load(snapshot: Path, only: Iterable[str] | None = None, out: Path | None = None) -> Loaded:
    """Convert `snapshot` (into `out`, else a temporary folder removed afterwards), read it
    back with the tool's reader and build its model. AdapterError for a folder that cannot
    be read, whatever the step."""
    try:
        if out is not None:
            conv = convert(snapshot, out, only)
            return _read_back(conv, out)
        with tempfile.TemporaryDirectory(prefix="batfish-") as tmp:
            folder = Path(tmp) / "snapshot"
            conv = convert(snapshot, folder, only)
            return _read_back(conv, folder)
    except SnapshotError as exc:
        raise AdapterError(f"{snapshot.name}: {exc}") from None
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        # A value of a type AWS never sends where the derivations above read it.
        raise AdapterError(f"{snapshot.name}: a listing holds data of a shape AWS never returns "
                           f"({type(exc).__name__}: {str(exc)[:200]})") from None


def _read_back(conv: Conversion, folder: Path) -> Loaded:
    snap = load_snapshot(folder)
    with record_shape_errors(snap):
        model = build_model(snap.records, snap.manifest.get("files"))
    return Loaded(conv, snap, model)
