"""Semantic checks of an estate, after the schema has accepted its shape.

The schema cannot say that a name refers to something, that a subnet fits inside its VPC,
or that two things share a name; these checks do, each problem located at the offending
value. They also hold the estate to AWS's own rules where moto is laxer (an interface
endpoint has one subnet per AZ, an EKS cluster spans two AZs ...), so a seeded estate is
one that could exist in AWS.
"""

from __future__ import annotations

import ipaddress
from types import MappingProxyType
from typing import Any
from collections.abc import Mapping

from auditor.emulate.checker import Checker, Path
from auditor.emulate.checks_vpc import GATEWAY_SERVICES, check_vpc
from auditor.errors import Problem
from auditor.partitions import known_regions
from auditor.validation import did_you_mean
from auditor.yamlpos import Located

# The kinds of named things an estate holds, as used in SeedResult keys: names are unique per
# (account, region, kind). The VPC-level ones map to the list in each VPC that holds them.
VPC_KINDS: Mapping[str, str] = MappingProxyType({
    "subnets": "subnet", "route_tables": "route_table", "nat_gateways": "nat_gateway",
    "elastic_ips": "elastic_ip", "security_groups": "security_group", "endpoints": "vpc_endpoint",
    "instances": "instance", "network_interfaces": "network_interface", "network_acls": "network_acl",
    "eks_clusters": "eks_cluster", "rds_instances": "rds_instance", "load_balancers": "load_balancer",
    "lambda_functions": "lambda_function",
})
REGION_KINDS: Mapping[str, str] = MappingProxyType({
    "vpcs": "vpc", "transit_gateways": "transit_gateway", "peerings": "vpc_peering",
    "lambda_functions": "lambda_function", "prefix_lists": "prefix_list",
})


class EstateChecker(Checker):
    """Walks one estate document, adding every semantic problem (see `semantic_problems`)."""

    # -- the walk ------------------------------------------------------------------------
    def run(self) -> None:
        regions = known_regions()
        seen: dict[str, int] = {}
        for i, acct in enumerate(self.doc.data["accounts"]):
            if acct["id"] in seen:
                self.add(("accounts", i, "id"), f"account {acct['id']} is listed twice "
                         f"(first as accounts[{seen[acct['id']]}])")
            seen.setdefault(acct["id"], i)
            for region, spec in acct["regions"].items():
                path: Path = ("accounts", i, "regions", region)
                if region not in regions:
                    self.add(path, f"'{region}' is not a known AWS region name"
                             f"{did_you_mean(region, regions)}", key=True)
                self.region(path, spec)

    def region(self, path: Path, spec: Mapping[str, Any]) -> None:
        self.unique_names(path, spec)
        vpcs = {v["name"]: v for v in spec.get("vpcs", [])}
        attached: dict[str, set[str]] = {}  # transit gateway -> attached VPCs
        for t, tgw in enumerate(spec.get("transit_gateways", [])):
            attached[tgw["name"]] = self.transit_gateway(path + ("transit_gateways", t), tgw, vpcs)
        peered: dict[str, set[str]] = {}  # peering -> its two VPCs
        for p, peering in enumerate(spec.get("peerings", [])):
            peered[peering["name"]] = self.peering(path + ("peerings", p), peering, vpcs, peered)
        prefix_lists: dict[str, int] = {}  # name -> IP version
        for p, plist in enumerate(spec.get("prefix_lists", [])):
            prefix_lists[plist["name"]] = self.prefix_list(path + ("prefix_lists", p), plist)
        for v, vpc in enumerate(spec.get("vpcs", [])):
            check_vpc(self, path + ("vpcs", v), vpc, attached, peered, prefix_lists)
        bpa = spec.get("block_public_access", {})
        subnets = {s["name"] for vpc in vpcs.values() for s in vpc.get("subnets", [])}
        excluded: set[str] = set()
        for e, excl in enumerate(bpa.get("exclusions", [])):
            kind = "vpc" if "vpc" in excl else "subnet"
            where = path + ("block_public_access", "exclusions", e, kind)
            self.ref(where, excl[kind], vpcs if kind == "vpc" else subnets, kind, "in this account and region")
            if f"{kind}:{excl[kind]}" in excluded:
                self.add(where, f"{kind} '{excl[kind]}' already has an exclusion")
            excluded.add(f"{kind}:{excl[kind]}")

    def unique_names(self, path: Path, spec: Mapping[str, Any]) -> None:
        first: dict[tuple[str, str], Path] = {}

        def note(kind: str, name: str, where: Path) -> None:
            if (kind, name) in first:
                line = self.doc.where(first[(kind, name)])[0]
                self.add(where, f"duplicate {kind.replace('_', ' ')} name '{name}' in this account and "
                         f"region (first given at line {line})")
            else:
                first[(kind, name)] = where

        for key, kind in REGION_KINDS.items():
            for i, item in enumerate(spec.get(key, [])):
                note(kind, item["name"], path + (key, i, "name"))
        for v, vpc in enumerate(spec.get("vpcs", [])):
            for key, kind in VPC_KINDS.items():
                for i, item in enumerate(vpc.get(key, [])):
                    note(kind, item["name"], path + ("vpcs", v, key, i, "name"))
        for t, tgw in enumerate(spec.get("transit_gateways", [])):
            for i, vpn in enumerate(tgw.get("vpn_attachments", [])):
                note("vpn_connection", vpn["name"], path + ("transit_gateways", t, "vpn_attachments", i, "name"))
            for i, table in enumerate(tgw.get("route_tables", [])):
                note("transit_gateway_route_table", table["name"], path + ("transit_gateways", t, "route_tables", i, "name"))

    def transit_gateway(self, path: Path, tgw: Mapping[str, Any], vpcs: Mapping[str, Any]) -> set[str]:
        attached: set[str] = set()
        for a, att in enumerate(tgw.get("attachments", [])):
            if not self.ref(path + ("attachments", a, "vpc"), att["vpc"], vpcs, "VPC",
                            "in this account and region (a transit gateway attaches VPCs of its own region)"):
                continue
            if att["vpc"] in attached:
                self.add(path + ("attachments", a, "vpc"), f"VPC '{att['vpc']}' is attached twice")
            attached.add(att["vpc"])
            self.subnet_refs(path + ("attachments", a, "subnets"), att["subnets"], vpcs[att["vpc"]],
                             one_per_az=True, minimum=1)
        vpns: set[str] = set()
        for v, vpn in enumerate(tgw.get("vpn_attachments", [])):
            where = path + ("vpn_attachments", v)
            if vpn["name"] in attached:
                self.add(where + ("name",), f"'{vpn['name']}' already names an attached VPC of transit gateway "
                         f"'{tgw['name']}'; routes and associations could not tell them apart")
            vpns.add(vpn["name"])
            if "customer_gateway_ip" in vpn:
                try:
                    ip = ipaddress.ip_address(str(vpn["customer_gateway_ip"]))
                except ValueError:
                    ip = None
                if ip is None or ip.version != 4:
                    self.add(where + ("customer_gateway_ip",),
                             f"'{vpn['customer_gateway_ip']}' is not an IPv4 address")
        targets = attached | vpns
        what = "attached VPC or VPN attachment"
        associated: set[str] = set()
        for r, table in enumerate(tgw.get("route_tables", [])):
            for i, name in enumerate(table.get("associations", [])):
                where = path + ("route_tables", r, "associations", i)
                if self.ref(where, name, targets, what, f"on transit gateway '{tgw['name']}'"):
                    if name in associated:
                        self.add(where, f"'{name}' is already associated with another route table "
                                 "(an attachment has one)")
                    associated.add(name)
            dests: set[str] = set()
            for i, route in enumerate(table.get("routes", [])):
                where = path + ("route_tables", r, "routes", i)
                net = self.network(where + ("destination",), route["destination"])
                if net is not None and str(net) in dests:
                    self.add(where + ("destination",), f"{net} has two routes in this table")
                dests.add(str(net))
                if "attachment" in route:
                    self.ref(where + ("attachment",), route["attachment"], targets, what,
                             f"on transit gateway '{tgw['name']}'")
        return attached

    def prefix_list(self, path: Path, plist: Mapping[str, Any]) -> int:
        """Check a customer-managed prefix list; its IP version (4 or 6; 0 when unknown)."""
        if plist["name"] in GATEWAY_SERVICES:
            self.add(path + ("name",), f"'{plist['name']}' is the AWS-managed prefix list's name (pl:{plist['name']}); "
                     "call this one something else")
        versions = set()
        for i, cidr in enumerate(plist["cidrs"]):
            net = self.network(path + ("cidrs", i), cidr)
            if net is not None:
                versions.add(net.version)
        if len(versions) > 1:
            self.add(path + ("cidrs",), "a prefix list holds either IPv4 or IPv6 CIDRs, not both")
        return versions.pop() if len(versions) == 1 else 0

    def peering(self, path: Path, peering: Mapping[str, Any], vpcs: Mapping[str, Any],
                done: Mapping[str, set[str]]) -> set[str]:
        ends = {peering["requester"], peering["accepter"]}
        ok = all([self.ref(path + (side,), peering[side], vpcs, "VPC", "in this account and region")
                  for side in ("requester", "accepter")])
        if len(ends) == 1:
            self.add(path + ("accepter",), "a VPC cannot peer with itself")
        elif ok:
            if ends in done.values():
                self.add(path, f"VPCs {' and '.join(sorted(ends))} are already peered")
            a, b = (ipaddress.ip_network(vpcs[n]["cidr"], strict=False) for n in (peering["requester"], peering["accepter"]))
            if a.overlaps(b):
                self.add(path + ("accepter",), f"cannot peer VPCs with overlapping CIDRs ({a} and {b})")
        return ends


def semantic_problems(doc: Located) -> list[Problem]:
    """Every semantic problem in a schema-valid estate document, sorted by position."""
    checker = EstateChecker(doc)
    checker.run()
    return sorted(set(checker.problems))
