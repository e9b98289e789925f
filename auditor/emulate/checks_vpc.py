"""Semantic checks inside one VPC of an estate: CIDRs, routes, and every name reference.

Split from `auditor.emulate.checks` only for size; `check_vpc` is called from there with
the region-level facts a VPC's routes depend on (transit gateway attachments, peerings), and
adds its problems to the same `auditor.emulate.checker.Checker`.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

from auditor.emulate.checker import Checker, Path
from auditor.validation import did_you_mean

GATEWAY_SERVICES = ("s3", "dynamodb")  # gateway endpoints and AWS-managed prefix lists exist for these
_PREFIX_LEN = (16, 28)  # AWS's limits for VPC and subnet IPv4 blocks


def _names(vpc: Mapping[str, Any], key: str) -> list[str]:
    return [item["name"] for item in vpc.get(key, [])]


def check_vpc(c: Checker, path: Path, vpc: Mapping[str, Any], attached: Mapping[str, set[str]],
              peered: Mapping[str, set[str]], prefix_lists: Mapping[str, int] | None = None) -> None:
    """Add every problem inside `vpc` (at `path`) to checker `c`.

    `prefix_lists` are the region's customer-managed prefix lists (name -> IP version).
    """
    prefix_lists = prefix_lists or {}
    where_vpc = f"in VPC '{vpc['name']}'"
    block = c.network(path + ("cidr",), vpc["cidr"], v4_only=True)
    if block is not None and not _PREFIX_LEN[0] <= block.prefixlen <= _PREFIX_LEN[1]:
        c.add(path + ("cidr",), f"a VPC block must be between /16 and /28, not /{block.prefixlen}")
    _subnets(c, path, vpc, block)
    instances = _names(vpc, "instances")
    for i, table in enumerate(vpc.get("route_tables", [])):
        _routes(c, path + ("route_tables", i), table, vpc, attached, peered, prefix_lists)
    mains = [i for i, t in enumerate(vpc.get("route_tables", [])) if t.get("main")]
    for i in mains[1:]:
        c.add(path + ("route_tables", i, "main"), "a VPC has only one main route table")
    for i, nat in enumerate(vpc.get("nat_gateways", [])):
        c.subnet_refs(path + ("nat_gateways", i, "subnet"), [nat["subnet"]], vpc)
    for i, eip in enumerate(vpc.get("elastic_ips", [])):
        if "instance" in eip:
            c.ref(path + ("elastic_ips", i, "instance"), eip["instance"], instances, "instance", where_vpc)
    for g, group in enumerate(vpc.get("security_groups", [])):
        for direction in ("ingress", "egress"):
            for r, rule in enumerate(group.get(direction, [])):
                _sg_rule(c, path + ("security_groups", g, direction, r), rule, vpc, prefix_lists)
    for e, endpoint in enumerate(vpc.get("endpoints", [])):
        _endpoint(c, path + ("endpoints", e), endpoint, vpc)
    for key in ("instances", "network_interfaces"):
        for i, item in enumerate(vpc.get(key, [])):
            c.subnet_refs(path + (key, i, "subnet"), [item["subnet"]], vpc)
            c.group_refs(path + (key, i, "security_groups"), item.get("security_groups", []), vpc)
    in_acl: dict[str, str] = {}
    for a, acl in enumerate(vpc.get("network_acls", [])):
        c.subnet_refs(path + ("network_acls", a, "subnets"), acl.get("subnets", []), vpc)
        for i, name in enumerate(acl.get("subnets", [])):
            if name in in_acl:
                c.add(path + ("network_acls", a, "subnets", i),
                      f"subnet '{name}' is already associated with network ACL '{in_acl[name]}'")
            in_acl.setdefault(name, acl["name"])
        rules: set[tuple[int, str]] = set()
        for i, entry in enumerate(acl.get("entries", [])):
            where = path + ("network_acls", a, "entries", i)
            if (entry["rule"], entry["direction"]) in rules:
                c.add(where + ("rule",), f"rule {entry['rule']} is used twice for {entry['direction']}")
            rules.add((entry["rule"], entry["direction"]))
            c.network(where + ("cidr",), entry["cidr"])
            c.ports(where, entry)
    for key, two_azs in (("eks_clusters", True), ("rds_instances", True), ("lambda_functions", False)):
        for i, item in enumerate(vpc.get(key, [])):
            c.subnet_refs(path + (key, i, "subnets"), item["subnets"], vpc, minimum=1, two_azs=two_azs)
            c.group_refs(path + (key, i, "security_groups"), item.get("security_groups", []), vpc)
    for i, lb in enumerate(vpc.get("load_balancers", [])):
        c.subnet_refs(path + ("load_balancers", i, "subnets"), lb["subnets"], vpc, one_per_az=True,
                      minimum=1, two_azs=lb["type"] == "application")
        c.group_refs(path + ("load_balancers", i, "security_groups"), lb.get("security_groups", []), vpc)


def _subnets(c: Checker, path: Path, vpc: Mapping[str, Any], block: Any) -> None:
    tables = _names(vpc, "route_tables")
    placed: list[tuple[Any, str]] = []
    for i, subnet in enumerate(vpc.get("subnets", [])):
        where = path + ("subnets", i)
        if "route_table" in subnet:
            c.ref(where + ("route_table",), subnet["route_table"], tables, "route table", f"in VPC '{vpc['name']}'")
        if subnet.get("ipv6") and not vpc.get("ipv6"):
            c.add(where + ("ipv6",), f"VPC '{vpc['name']}' has no IPv6 block to take the subnet's from (add ipv6: true)")
        net = c.network(where + ("cidr",), subnet["cidr"], v4_only=True)
        if net is None:
            continue
        if not _PREFIX_LEN[0] <= net.prefixlen <= _PREFIX_LEN[1]:
            c.add(where + ("cidr",), f"a subnet block must be between /16 and /28, not /{net.prefixlen}")
        if block is not None and not net.subnet_of(block):
            c.add(where + ("cidr",), f"{net} is not inside the VPC's block {block}")
        for other, name in placed:
            if net.overlaps(other):
                c.add(where + ("cidr",), f"{net} overlaps subnet '{name}' ({other})")
        placed.append((net, subnet["name"]))


def _routes(c: Checker, path: Path, table: Mapping[str, Any], vpc: Mapping[str, Any],
            attached: Mapping[str, set[str]], peered: Mapping[str, set[str]], prefix_lists: Mapping[str, int]) -> None:
    seen: set[str] = set()
    for r, route in enumerate(table.get("routes", [])):
        where = path + ("routes", r)
        dest = str(route["destination"])
        if dest.startswith("pl:"):
            known = [*GATEWAY_SERVICES, *prefix_lists]
            if dest[3:] not in known:
                c.add(where + ("destination",), f"'{dest}' is neither an AWS-managed prefix list nor one of the "
                      f"region's prefix_lists; use one of {', '.join('pl:' + s for s in known)}"
                      f"{did_you_mean(dest[3:], known)}")
            elif prefix_lists.get(dest[3:]) == 6 and not vpc.get("ipv6"):
                c.add(where + ("destination",), f"prefix list '{dest[3:]}' is IPv6 but VPC '{vpc['name']}' has no "
                      "IPv6 block (ipv6: true)")
        else:
            net = c.network(where + ("destination",), dest)
            if net is not None and net.version == 6 and not vpc.get("ipv6"):
                c.add(where + ("destination",), f"{net} is IPv6 but VPC '{vpc['name']}' has no IPv6 block (ipv6: true)")
            dest = str(net)
        if dest in seen:
            c.add(where + ("destination",), f"{dest} has two routes in this table")
        seen.add(dest)
        _target(c, where + ("target",), str(route["target"]), vpc, attached, peered)


def _target(c: Checker, where: Path, target: str, vpc: Mapping[str, Any],
            attached: Mapping[str, set[str]], peered: Mapping[str, set[str]]) -> None:
    kind, _, name = target.partition(":")
    own = {"igw": ("internet_gateway", "internet_gateway: true"),
           "eigw": ("egress_only_internet_gateway", "egress_only_internet_gateway: true"),
           "vgw": ("vpn_gateway", "vpn_gateway: true"),
           "cagw": ("carrier_gateway", "carrier_gateway: true")}
    if kind in own:
        key, fix = own[kind]
        if not vpc.get(key):
            c.add(where, f"VPC '{vpc['name']}' has no {key.replace('_', ' ')} (add {fix})")
        return
    where_vpc = f"in VPC '{vpc['name']}'"
    if kind == "nat":
        c.ref(where, name, _names(vpc, "nat_gateways"), "NAT gateway", where_vpc)
    elif kind == "instance":
        c.ref(where, name, _names(vpc, "instances"), "instance", where_vpc)
    elif kind == "eni":
        c.ref(where, name, _names(vpc, "network_interfaces"), "network interface", where_vpc)
    elif kind == "vpce":
        gwlb = [e["name"] for e in vpc.get("endpoints", []) if e["type"] == "GatewayLoadBalancer"]
        c.ref(where, name, gwlb, "GatewayLoadBalancer endpoint", where_vpc)
    elif kind == "tgw":
        if c.ref(where, name, attached, "transit gateway", "in this account and region") \
                and vpc["name"] not in attached[name]:
            c.add(where, f"VPC '{vpc['name']}' is not attached to transit gateway '{name}'")
    elif kind == "pcx":
        if c.ref(where, name, peered, "peering", "in this account and region") and vpc["name"] not in peered[name]:
            c.add(where, f"peering '{name}' does not connect VPC '{vpc['name']}'")


def _sg_rule(c: Checker, where: Path, rule: Mapping[str, Any], vpc: Mapping[str, Any],
             prefix_lists: Mapping[str, int]) -> None:
    c.ports(where, rule)
    if "cidr" in rule:
        c.network(where + ("cidr",), rule["cidr"])
    if "group" in rule:
        c.ref(where + ("group",), rule["group"], _names(vpc, "security_groups"), "security group",
              f"in VPC '{vpc['name']}'")
    known = [*GATEWAY_SERVICES, *prefix_lists]
    if "prefix_list" in rule and rule["prefix_list"] not in known:
        c.add(where + ("prefix_list",), f"'{rule['prefix_list']}' is neither an AWS-managed prefix list nor one of "
              f"the region's prefix_lists; use one of {', '.join(known)}{did_you_mean(rule['prefix_list'], known)}")


def _endpoint(c: Checker, where: Path, endpoint: Mapping[str, Any], vpc: Mapping[str, Any]) -> None:
    kind, service = endpoint["type"], str(endpoint["service"])
    allowed = {"Interface": {"subnets", "security_groups", "private_dns"},
               "Gateway": {"route_tables"}, "GatewayLoadBalancer": {"subnets"}}[kind]
    for key in ("subnets", "security_groups", "route_tables", "private_dns"):
        if key in endpoint and key not in allowed:
            article = "an" if kind == "Interface" else "a"
            c.add(where + (key,), f"{article} {kind} endpoint has no {key.replace('_', ' ')}", key=True)
    if kind == "Gateway":
        if "traffic" in endpoint:
            c.add(where + ("traffic",), "a Gateway endpoint has no traffic metrics (AWS publishes CloudWatch "
                  "metrics for Interface and GatewayLoadBalancer endpoints only)", key=True)
        if service.rsplit(".", 1)[-1] not in GATEWAY_SERVICES:
            c.add(where + ("service",), f"gateway endpoints exist only for {' and '.join(GATEWAY_SERVICES)}")
        tables = _names(vpc, "route_tables")
        for i, name in enumerate(endpoint.get("route_tables", [])):
            c.ref(where + ("route_tables", i), name, tables, "route table", f"in VPC '{vpc['name']}'")
    elif kind == "GatewayLoadBalancer":
        if "vpce-svc-" not in service:
            c.add(where + ("service",), "a GatewayLoadBalancer endpoint needs the full endpoint service name "
                  "(com.amazonaws.vpce.<region>.vpce-svc-...)")
        c.subnet_refs(where + ("subnets",), endpoint.get("subnets", []), vpc, minimum=1)
        if len(endpoint.get("subnets", [])) > 1:
            c.add(where + ("subnets",), "a GatewayLoadBalancer endpoint has exactly one subnet")
    else:
        c.subnet_refs(where + ("subnets",), endpoint.get("subnets", []), vpc, one_per_az=True, minimum=1)
        c.group_refs(where + ("security_groups",), endpoint.get("security_groups", []), vpc)
