#!/usr/bin/env python
"""Pre-deploy benchmark: a Terraform plan of 10,000 resources read, modelled and evaluated.

    .venv/bin/python benchmarks/plan_bench.py [--resources 10000] [--keep DIR] [--profile] [--cli] [--json FILE]

Generates a `terraform show -json` plan (format_version 1.2, written to the documented JSON
output format; no Terraform binary runs) into a temporary folder, not measured. The mix, per
VPC: the VPC, 6 subnets over 3 AZs, a public and 3 private route tables with their
associations and `aws_route`s (the default route to the region's transit gateway, to a NAT on
some), 4 VPC endpoints (3 interface with policies set on the endpoint or by
`aws_vpc_endpoint_policy`, one left to the default; an S3 gateway endpoint), 4 security
groups with ingress/egress rules (`aws_vpc_security_group_*_rule` and `aws_security_group_rule`),
a network ACL with inline rules, the transit gateway attachment, 2 instances and an unsupported
resource (a flow log's log group); a fifth of the VPCs have an internet gateway, a NAT gateway
with its Elastic IP and a public instance; every fourth VPC an EKS cluster, every fifth an RDS
instance and its subnet group, every tenth a load balancer. Per plan: a transit gateway, its
route table, routes and associations. Most VPCs are created in the root module (ids known
after apply, resolved through the configuration's references); a tenth sit in a `for_each`
module (`module.spoke["k"]`); a tenth exist already (no-op and update, AWS ids known); some
routes name their NAT gateway through an expression no single reference resolves (unknown:
ERROR findings, as they must be).

Then, in a fresh process (so peaks are its own): read the file and `read_plan` (the Terraform
reader), `build_model` of its records, `evaluate_rules` with every built-in pack (empty
scope: everything), and findings.json written as `auditor scan` writes it (`build_document` +
`iter_text`), each timed. Prints wall and CPU time per phase and in all, peak RSS (VmHWM of
the measuring process), the counts (plan resources, modelled, unsupported, problems, model
resources, findings by status) and the load average. `--cli` also times `auditor plan FILE
--format json --out DIR` end to end in its own process. `--profile` profiles the measured
phases with cProfile and prints the top functions. Issue 15's target: <= 10 s and <= 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peak import RESULT_TAG, run_script_worker, status_kib  # noqa: E402  (shared by the benchmarks)

TODAY = date(2026, 1, 1)
REGION = "eu-west-1"
ACCOUNT = "111122223333"
TARGET_S = 10.0
TARGET_MIB = 1024.0
PROVIDER = "registry.terraform.io/hashicorp/aws"
AZS = ("a", "b", "c")
INTERFACE = ("sts", "ssm", "logs")
FULL_ACCESS = json.dumps({"Version": "2008-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]})
ORG_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*",
     "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123", "aws:ResourceOrgID": "o-abc123"}}}]})

# Attributes each type computes on create (known after apply when the plan does not set them).
COMPUTED: dict[str, tuple[str, ...]] = {
    "aws_vpc": ("arn", "owner_id", "main_route_table_id", "default_route_table_id", "default_security_group_id",
                "default_network_acl_id", "ipv6_association_id", "ipv6_cidr_block"),
    "aws_subnet": ("arn", "owner_id", "availability_zone_id", "ipv6_cidr_block_association_id"),
    "aws_route_table": ("arn", "owner_id", "route"),
    "aws_route": ("state", "origin", "instance_owner_id"),
    "aws_internet_gateway": ("arn", "owner_id"),
    "aws_eip": ("allocation_id", "association_id", "public_ip", "public_dns", "private_ip", "carrier_ip"),
    "aws_nat_gateway": ("private_ip", "public_ip", "network_interface_id", "association_id"),
    "aws_vpc_endpoint": ("arn", "owner_id", "dns_entry", "network_interface_ids", "prefix_list_id", "state",
                         "cidr_blocks", "requester_managed"),
    "aws_security_group": ("arn", "owner_id"),
    "aws_vpc_security_group_ingress_rule": ("arn", "security_group_rule_id"),
    "aws_vpc_security_group_egress_rule": ("arn", "security_group_rule_id"),
    "aws_network_acl": ("arn", "owner_id"),
    "aws_ec2_transit_gateway": ("arn", "owner_id", "association_default_route_table_id",
                                "propagation_default_route_table_id"),
    "aws_ec2_transit_gateway_vpc_attachment": ("vpc_owner_id",),
    "aws_instance": ("arn", "public_ip", "private_ip", "public_dns", "primary_network_interface_id",
                     "availability_zone", "instance_state"),
    "aws_eks_cluster": ("arn", "endpoint", "certificate_authority", "identity", "status", "platform_version"),
    "aws_db_instance": ("arn", "address", "endpoint", "hosted_zone_id", "resource_id", "status"),
    "aws_lb": ("arn", "arn_suffix", "dns_name", "zone_id"),
}


# Attributes that are lists (sets) of ids: a reference to one resource is a one-element list.
LIST_ATTRS = frozenset({"subnet_ids", "security_group_ids", "route_table_ids", "vpc_security_group_ids", "subnets",
                        "security_groups"})


def _put(tree: dict[str, Any], path: str, value: Any) -> None:
    """Set `value` at `path` ("vpc_config.0.subnet_ids") in a tree of dicts and lists."""
    parts = path.split(".")
    node: Any = tree
    for part, following in zip(parts, parts[1:], strict=False):
        if part.isdigit():
            node = node[int(part)]
            continue
        if part not in node:
            node[part] = [{}] if following.isdigit() else {}
        node = node[part]
    node[parts[-1]] = value


class PlanWriter:
    """A plan document built resource by resource: `resource_changes`, `planned_values` (per
    module instance) and `configuration` (per module call: one entry per resource block)."""

    def __init__(self) -> None:
        self.changes: list[dict[str, Any]] = []
        self.planned: dict[str, list[dict[str, Any]]] = {}
        self.prior: list[dict[str, Any]] = []
        self.config: dict[str, dict[str, dict[str, Any]]] = {}
        self.module_inputs: dict[str, dict[str, str]] = {}

    def add(self, type_: str, name: str, values: dict[str, Any], *, refs: dict[str, str] | None = None,
            module: str = "", key: str | None = None, index: int | str | None = None, action: str = "create",
            existing_id: str | None = None, opaque: dict[str, list[str]] | None = None) -> str:
        """One resource instance. `values`: its known values; `refs`: attribute path -> the
        single reference setting it (``aws_vpc.v1.id``: resolvable; a list attribute holds it
        as its one element); `opaque`: attribute -> the references of an expression no single
        one resolves (known after apply, unresolved). An existing resource (`existing_id`) has
        every value known, references included (`refs` then maps to the known value).
        Returns the address."""
        refs, opaque = refs or {}, opaque or {}
        mod_inst = f'module.{module}["{key}"]' if module and key is not None else (f"module.{module}" if module else "")
        idx = "" if index is None else (f'["{index}"]' if isinstance(index, str) else f"[{index}]")
        address = f"{mod_inst + '.' if mod_inst else ''}{type_}.{name}{idx}"
        after = json.loads(json.dumps(values))
        after_unknown: dict[str, Any] = {}
        if existing_id is not None:
            after["id"] = existing_id
            for path, value in refs.items():
                _put(after, path, [value] if path.rsplit(".", 1)[-1] in LIST_ATTRS else value)
            actions = ["no-op"] if action == "no-op" else ["update"]
            before = dict(after, tags={"stale": "true"}) if action == "update" else dict(after)
            self.prior.append({"address": address, "mode": "managed", "type": type_, "name": name,
                               "provider_name": PROVIDER, "schema_version": 0, "values": before,
                               "sensitive_values": {}, **({"index": index} if index is not None else {})})
        else:
            after_unknown["id"] = True
            for path in (*refs, *opaque):
                is_list = path.rsplit(".", 1)[-1] in LIST_ATTRS
                _put(after, path, [None] if is_list else None)
                _put(after_unknown, path, [True] if is_list else True)
                if not is_list:   # an unknown scalar is left out of `after`
                    parent = path.rsplit(".", 1)
                    if len(parent) == 1:
                        after.pop(path)
            for attr in COMPUTED.get(type_, ()):
                if attr not in values:
                    after_unknown[attr] = True
            before, actions = None, ["create"]
        change = {"address": address, "mode": "managed", "type": type_, "name": name, "provider_name": PROVIDER,
                  "change": {"actions": actions, "before": before, "after": after, "after_unknown": after_unknown,
                             "before_sensitive": False if before is None else {}, "after_sensitive": {}}}
        if mod_inst:
            change["module_address"] = mod_inst
        if index is not None:
            change["index"] = index
        self.changes.append(change)
        planned = {"address": address, "mode": "managed", "type": type_, "name": name, "provider_name": PROVIDER,
                   "schema_version": 0, "values": after, "sensitive_values": {}}
        if index is not None:
            planned["index"] = index
        self.planned.setdefault(mod_inst, []).append(planned)
        block = self.config.setdefault(module, {})
        config_address = f"{type_}.{name}"
        if config_address not in block:
            expressions: dict[str, Any] = {}
            for attr, value in values.items():
                if attr == "vpc_config":
                    expressions[attr] = [{k: {"constant_value": x} for k, x in value[0].items()}]
                elif not isinstance(value, list) or not value or not isinstance(value[0], dict):
                    expressions[attr] = {"constant_value": value}
            if existing_id is None:
                for path, ref in refs.items():
                    _put(expressions, path, {"references": [ref, ref.rsplit(".", 1)[0]]})
            for path, many in opaque.items():
                _put(expressions, path, {"references": many})
            entry: dict[str, Any] = {"address": config_address, "mode": "managed", "type": type_, "name": name,
                                     "provider_config_key": "aws", "expressions": expressions, "schema_version": 0}
            if isinstance(index, int):
                entry["count_expression"] = {"references": ["local.az_count"]}
            elif isinstance(index, str):
                entry["for_each_expression"] = {"references": ["local.azs"]}
            block[config_address] = entry
        return address

    def document(self) -> dict[str, Any]:
        def module_values(prefix: str) -> dict[str, Any]:
            children = sorted(m for m in self.planned if m and prefix == "")
            out: dict[str, Any] = {"resources": self.planned.get(prefix, [])}
            if children:
                out["child_modules"] = [{"address": m, "resources": self.planned[m]} for m in children]
            return out

        root_config: dict[str, Any] = {"resources": list(self.config.get("", {}).values())}
        calls = {m: {"source": f"./modules/{m}", "for_each_expression": {"references": ["local.spokes"]},
                     "expressions": {var: {"references": [ref, ref.rsplit(".", 1)[0]]}
                                     for var, ref in self.module_inputs.get(m, {}).items()},
                     "module": {"resources": list(block.values()),
                                "variables": {var: {} for var in self.module_inputs.get(m, {})}}}
                 for m, block in self.config.items() if m}
        if calls:
            root_config["module_calls"] = calls
        return {
            "format_version": "1.2", "terraform_version": "1.9.5",
            "planned_values": {"root_module": module_values("")},
            "resource_changes": self.changes,
            "prior_state": {"format_version": "1.0", "terraform_version": "1.9.5",
                            "values": {"root_module": {"resources": self.prior}}},
            "configuration": {"provider_config": {"aws": {"name": "aws", "full_name": PROVIDER, "expressions": {
                "region": {"constant_value": REGION}}}}, "root_module": root_config},
            "timestamp": "2026-01-01T03:00:00Z", "errored": False,
        }


EXISTING_TGW, EXISTING_TGW_RTB = "tgw-0e1d2c3b4a5968778", "tgw-rtb-0e1d2c3b4a5968779"


def _vpc(plan: PlanWriter, v: int, tgw: str, tgw_rtb: str) -> None:
    """One VPC and everything in it (see the module doc for the mix). `tgw`, `tgw_rtb`: the
    references to the plan's transit gateway and its route table."""
    existing = v % 10 == 9
    module, key = ("spoke", f"s{v:04d}") if v % 10 == 5 else ("", None)
    n = "this" if module else f"v{v:04d}"           # resource names: module-local, else per VPC
    third = v % 256
    cidr = f"10.{third}.0.0/16" if v < 256 else f"172.{16 + (v - 256) // 256}.{third}.0/24"
    public = v % 5 == 0
    aws_ids: Counter[str] = Counter()
    ids: dict[str, str] = {}
    if module:
        # A module reaches the root's transit gateway through its input variables.
        plan.module_inputs[module] = {"transit_gateway_id": tgw, "transit_gateway_route_table_id": tgw_rtb}
        tgw, tgw_rtb = "var.transit_gateway_id", "var.transit_gateway_route_table_id"
    elif existing:
        # What exists already routes to a transit gateway the plan does not manage.
        tgw, tgw_rtb = EXISTING_TGW + ".id", EXISTING_TGW_RTB + ".id"

    def add(type_: str, name: str, values: dict[str, Any], refs: dict[str, str] | None = None, **kw: Any) -> str:
        """A resource of this VPC; an existing VPC's resources have AWS ids and their
        references the ids of what they name."""
        if existing:
            prefix = {"aws_vpc": "vpc", "aws_subnet": "subnet", "aws_route_table": "rtb", "aws_security_group": "sg",
                      "aws_internet_gateway": "igw", "aws_nat_gateway": "nat", "aws_eip": "eipalloc",
                      "aws_vpc_endpoint": "vpce", "aws_network_acl": "acl", "aws_instance": "i",
                      "aws_ec2_transit_gateway_vpc_attachment": "tgw-attach"}.get(type_, "r")
            aws_ids[prefix] += 1
            ident = f"{prefix}-{v:08x}{aws_ids[prefix]:09x}"
            known = {a: ids.get(r.rsplit(".", 1)[0], r.rsplit(".", 1)[0]) for a, r in (refs or {}).items()}
            index = kw.get("index")
            idx = "" if index is None else (f'["{index}"]' if isinstance(index, str) else f"[{index}]")
            ids[f"{type_}.{name}{idx}"] = ident
            return plan.add(type_, name, values, refs=known, existing_id=ident,
                            action="update" if v % 20 == 19 and type_ == "aws_security_group" else "no-op", **kw)
        return plan.add(type_, name, values, refs=refs, module=module, key=key, **kw)

    def ref(type_: str, name: str, attr: str = "id", index: int | str | None = None) -> str:
        idx = "" if index is None else (f'["{index}"]' if isinstance(index, str) else f"[{index}]")
        return f"{type_}.{name}{idx}.{attr}"

    tags = {"Name": f"vpc-{v}", "env": "prod" if v % 2 else "dev", "data-classification": "pci" if v % 4 == 0 else "internal"}
    add("aws_vpc", n, {"cidr_block": cidr, "enable_dns_support": True, "enable_dns_hostnames": True,
                       "instance_tenancy": "default", "tags": tags, "tags_all": tags})
    vpc_id = ref("aws_vpc", n)
    subnets: list[str] = []
    for j in range(6):
        az = AZS[j % 3]
        tier = "app" if j < 3 else "data"
        sub_cidr = f"10.{third}.{j}.0/24" if v < 256 else f"172.{16 + (v - 256) // 256}.{third}.{j * 16}/28"
        add("aws_subnet", f"{n}_{tier}", {"cidr_block": sub_cidr, "availability_zone": f"{REGION}{az}",
                                          "map_public_ip_on_launch": False, "tags": {"tier": tier}},
            {"vpc_id": vpc_id}, index=az if j < 3 else j - 3)
        subnets.append(ref("aws_subnet", f"{n}_{tier}", index=az if j < 3 else j - 3))
    pub_subnets: list[str] = []
    if public:
        add("aws_internet_gateway", n, {"tags": {"Name": f"igw-{v}"}}, {"vpc_id": vpc_id})
        for j, az in enumerate(AZS[:2]):
            add("aws_subnet", f"{n}_pub_{az}", {"cidr_block": f"10.{third}.{100 + j}.0/24",
                                                "availability_zone": f"{REGION}{az}", "map_public_ip_on_launch": True},
                {"vpc_id": vpc_id})
            pub_subnets.append(ref("aws_subnet", f"{n}_pub_{az}"))
        add("aws_eip", n, {"domain": "vpc"})
        add("aws_nat_gateway", n, {"connectivity_type": "public"},
            {"allocation_id": ref("aws_eip", n), "subnet_id": pub_subnets[0]})
        add("aws_route_table", f"{n}_public", {"tags": {"tier": "public"}}, {"vpc_id": vpc_id})
        add("aws_route", f"{n}_public_default", {"destination_cidr_block": "0.0.0.0/0"},
            {"route_table_id": ref("aws_route_table", f"{n}_public"), "gateway_id": ref("aws_internet_gateway", n)})
        for j, s in enumerate(pub_subnets):
            add("aws_route_table_association", f"{n}_public_{j}", {},
                {"route_table_id": ref("aws_route_table", f"{n}_public"), "subnet_id": s})
    for k in range(3):
        rt = f"{n}_private_{k}"
        add("aws_route_table", rt, {"tags": {"tier": "private"}}, {"vpc_id": vpc_id})
        if public and k == 0:
            add("aws_route", f"{rt}_default", {"destination_cidr_block": "0.0.0.0/0"},
                {"route_table_id": ref("aws_route_table", rt), "nat_gateway_id": ref("aws_nat_gateway", n)})
        elif v % 7 == 3 and k == 1 and not existing:
            # element(aws_nat_gateway.shared[*].id, 0): several references, none alone names it.
            plan.add("aws_route", f"{rt}_default", {"destination_cidr_block": "0.0.0.0/0"},
                     refs={"route_table_id": ref("aws_route_table", rt)},
                     opaque={"nat_gateway_id": ["aws_nat_gateway.shared", "count.index"]}, module=module, key=key)
        else:
            add("aws_route", f"{rt}_default", {"destination_cidr_block": "0.0.0.0/0"},
                {"route_table_id": ref("aws_route_table", rt), "transit_gateway_id": tgw})
        add("aws_route", f"{rt}_onprem", {"destination_cidr_block": "192.168.0.0/16"},
            {"route_table_id": ref("aws_route_table", rt), "transit_gateway_id": tgw})
        for s in (subnets[k], subnets[k + 3]):
            add("aws_route_table_association", f"{rt}_{s.split('[')[1][:-4].strip(chr(34))}", {},
                {"route_table_id": ref("aws_route_table", rt), "subnet_id": s})
    # Security groups and rules.
    sgs = {}
    for role in ("app", "data", "endpoints", "lb"):
        add("aws_security_group", f"{n}_{role}", {"name": f"{role}-{v}", "description": role, "ingress": [],
                                                  "egress": [], "revoke_rules_on_delete": False},
            {"vpc_id": vpc_id})
        sgs[role] = ref("aws_security_group", f"{n}_{role}")
    add("aws_vpc_security_group_ingress_rule", f"{n}_app_from_lb", {"ip_protocol": "tcp", "from_port": 8080,
                                                                    "to_port": 8080},
        {"security_group_id": sgs["app"], "referenced_security_group_id": sgs["lb"]})
    add("aws_vpc_security_group_ingress_rule", f"{n}_data_from_app", {"ip_protocol": "tcp", "from_port": 5432,
                                                                      "to_port": 5432},
        {"security_group_id": sgs["data"], "referenced_security_group_id": sgs["app"]})
    add("aws_vpc_security_group_ingress_rule", f"{n}_endpoints_https", {"ip_protocol": "tcp", "from_port": 443,
                                                                        "to_port": 443, "cidr_ipv4": cidr},
        {"security_group_id": sgs["endpoints"]})
    lb_cidr = "0.0.0.0/0" if public else "10.0.0.0/8"
    add("aws_security_group_rule", f"{n}_lb_https", {"type": "ingress", "protocol": "tcp", "from_port": 443,
                                                     "to_port": 443, "cidr_blocks": [lb_cidr]},
        {"security_group_id": sgs["lb"]})
    if public:
        add("aws_security_group_rule", f"{n}_app_ssh", {"type": "ingress", "protocol": "tcp", "from_port": 22,
                                                        "to_port": 22, "cidr_blocks": ["0.0.0.0/0"]},
            {"security_group_id": sgs["app"]})
    for role in ("app", "data", "lb"):
        add("aws_vpc_security_group_egress_rule", f"{n}_{role}_out", {"ip_protocol": "-1", "cidr_ipv4": "0.0.0.0/0"},
            {"security_group_id": sgs[role]})
    # Endpoints: interface ones with policies (on the endpoint, by aws_vpc_endpoint_policy, or
    # left to the default), an S3 gateway endpoint on the private tables.
    for e, service in enumerate(INTERFACE):
        values: dict[str, Any] = {"service_name": f"com.amazonaws.{REGION}.{service}",
                                  "vpc_endpoint_type": "Interface", "private_dns_enabled": True}
        if e == 0:
            values["policy"] = ORG_POLICY if v % 4 else FULL_ACCESS
        add("aws_vpc_endpoint", f"{n}_{service}", values,
                      {"vpc_id": vpc_id, "subnet_ids": subnets[0], "security_group_ids": sgs["endpoints"]})
        if e == 1:
            add("aws_vpc_endpoint_policy", f"{n}_{service}", {"policy": ORG_POLICY},
                {"vpc_endpoint_id": ref("aws_vpc_endpoint", f"{n}_{service}")})
    add("aws_vpc_endpoint", f"{n}_s3", {"service_name": f"com.amazonaws.{REGION}.s3", "vpc_endpoint_type": "Gateway",
                                        "policy": ORG_POLICY},
        {"vpc_id": vpc_id, "route_table_ids": ref("aws_route_table", f"{n}_private_0")})
    # A NACL with inline rules.
    add("aws_network_acl", n, {"ingress": [
        {"rule_no": 100, "action": "allow", "protocol": "tcp", "cidr_block": "10.0.0.0/8", "from_port": 0,
         "to_port": 65535, "icmp_code": 0, "icmp_type": 0, "ipv6_cidr_block": ""},
        {"rule_no": 200, "action": "deny", "protocol": "-1", "cidr_block": "0.0.0.0/0", "from_port": 0,
         "to_port": 0, "icmp_code": 0, "icmp_type": 0, "ipv6_cidr_block": ""}],
        "egress": [{"rule_no": 100, "action": "allow", "protocol": "-1", "cidr_block": "0.0.0.0/0", "from_port": 0,
                    "to_port": 0, "icmp_code": 0, "icmp_type": 0, "ipv6_cidr_block": ""}]},
        {"vpc_id": vpc_id, "subnet_ids": subnets[3]})
    # The transit gateway attachment, its association and its route in the TGW table.
    add("aws_ec2_transit_gateway_vpc_attachment", n, {"transit_gateway_default_route_table_association": False,
                                                               "transit_gateway_default_route_table_propagation": False,
                                                               "dns_support": "enable"},
        {"transit_gateway_id": tgw, "vpc_id": vpc_id, "subnet_ids": subnets[0]})
    add("aws_ec2_transit_gateway_route_table_association", n, {},
        {"transit_gateway_attachment_id": ref("aws_ec2_transit_gateway_vpc_attachment", n),
         "transit_gateway_route_table_id": tgw_rtb})
    add("aws_ec2_transit_gateway_route", n, {"destination_cidr_block": cidr, "blackhole": False},
        {"transit_gateway_attachment_id": ref("aws_ec2_transit_gateway_vpc_attachment", n),
         "transit_gateway_route_table_id": tgw_rtb})
    # Compute and services.
    for i in range(2):
        add("aws_instance", f"{n}_app", {"ami": "ami-0abcdef1234567890", "instance_type": "t3.small",
                                         "associate_public_ip_address": False, "tags": {"role": "app"}},
            {"subnet_id": subnets[i], "vpc_security_group_ids": sgs["app"]}, index=i)
    if public:
        add("aws_instance", f"{n}_bastion", {"ami": "ami-0abcdef1234567890", "instance_type": "t3.micro",
                                             "associate_public_ip_address": True},
            {"subnet_id": pub_subnets[0], "vpc_security_group_ids": sgs["app"]})
    if v % 4 == 0:
        add("aws_eks_cluster", f"{n}_eks", {"name": f"cluster-{v}", "role_arn": f"arn:aws:iam::{ACCOUNT}:role/eks",
                                            "vpc_config": [{"endpoint_public_access": v % 8 == 0,
                                                            "endpoint_private_access": True,
                                                            "public_access_cidrs": ["0.0.0.0/0"]}]},
            {"vpc_config.0.subnet_ids": subnets[0]})
    if v % 5 == 1:
        add("aws_db_subnet_group", f"{n}_db", {"name": f"db-{v}"}, {"subnet_ids": subnets[3]})
        add("aws_db_instance", f"{n}_db", {"identifier": f"db-{v}", "engine": "postgres", "instance_class": "db.t3.small",
                                           "publicly_accessible": False, "db_subnet_group_name": f"db-{v}"},
            {"vpc_security_group_ids": sgs["data"]})
    if v % 10 == 2:
        add("aws_lb", f"{n}_alb", {"name": f"alb-{v}", "internal": True, "load_balancer_type": "application"},
            {"subnets": subnets[0], "security_groups": sgs["lb"]})
    # Not modelled: listed as unsupported (a log group is not a network resource).
    add("aws_cloudwatch_log_group", f"{n}_flow", {"name": f"/vpc/{v}/flow", "retention_in_days": 365})


def generate_plan(resources: int) -> tuple[dict[str, Any], int]:
    """A plan document of about `resources` resource instances, and its VPC count."""
    plan = PlanWriter()
    tgw = plan.add("aws_ec2_transit_gateway", "hub", {"description": "hub", "default_route_table_association": "disable",
                                                      "default_route_table_propagation": "disable"})
    plan.add("aws_ec2_transit_gateway_route_table", "hub", {"tags": {"Name": "hub"}},
             refs={"transit_gateway_id": f"{tgw}.id"})
    tgw_rtb = "aws_ec2_transit_gateway_route_table.hub.id"
    v = 0
    while len(plan.changes) < resources:
        _vpc(plan, v, f"{tgw}.id", tgw_rtb)
        v += 1
    return plan.document(), v


# ----------------------------------------------------------------------------------------
# the measurement (in a fresh process)
# ----------------------------------------------------------------------------------------
def _phase(out: dict[str, Any], name: str, t0: float, c0: float) -> tuple[float, float]:
    out[f"{name}_s"], out[f"{name}_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
    return time.perf_counter(), time.process_time()


def measure(path: Path, out_dir: Path, profile_top: int = 0) -> dict[str, Any]:
    """read_plan + build_model + evaluate_rules + findings.json, each timed; every figure."""
    import cProfile
    import io
    import pstats

    from auditor.config import Scope
    from auditor.iac.terraform import read_plan
    from auditor.model import build_model
    from auditor.results import RunInfo, build_document, iter_text
    from auditor.rules.engine import evaluate_rules
    from auditor.rules.packs import load_packs

    packs = load_packs([])
    prof = cProfile.Profile() if profile_top else None
    out: dict[str, Any] = {"rss_start_kib": status_kib().get("VmRSS", 0), "rules": len(packs.rules)}
    if prof:
        prof.enable()
    t_all, c_all = time.perf_counter(), time.process_time()
    t0, c0 = t_all, c_all
    data = path.read_bytes()
    source = read_plan(data, str(path), account=ACCOUNT, region=REGION)
    t0, c0 = _phase(out, "read", t0, c0)
    model = build_model(source.records)
    t0, c0 = _phase(out, "model", t0, c0)
    ev = evaluate_rules(model, packs, Scope(), today=TODAY)
    t0, c0 = _phase(out, "evaluate", t0, c0)
    doc = build_document(ev, packs, RunInfo(manifest={}, manifest_sha256="sha256:" + "0" * 64), lazy=True)
    with open(out_dir / "findings.json", "w", encoding="utf-8") as f:
        for piece in iter_text(doc):
            f.write(piece)
    t0, c0 = _phase(out, "findings_json", t0, c0)
    out["total_s"], out["total_cpu_s"] = time.perf_counter() - t_all, time.process_time() - c_all
    if prof:
        prof.disable()
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf).strip_dirs()
        stats.sort_stats("cumulative").print_stats(profile_top)
        stats.sort_stats("tottime").print_stats(profile_top)
        out["profile"] = buf.getvalue()
    statuses = Counter(f.status for f in ev.findings)
    counts = model.counts()
    actions = Counter(d.action for d in source.resources)
    out.update({
        "plan_bytes": len(data), "declared": len(source.resources), "actions": dict(sorted(actions.items())),
        "unsupported": len(source.unsupported), "unsupported_network": sum(1 for u in source.unsupported
                                                                         if _network(u.type)),
        "problems": len(source.problems), "records": len(source.records),
        "model_resources": sum(counts.values()), "findings": len(ev.findings), "statuses": dict(sorted(statuses.items())),
        "unknown_errors": sum(1 for f in ev.findings if f.status == "ERROR" and "before deploy" in json.dumps(
            f.to_json())),
        "findings_json_bytes": (out_dir / "findings.json").stat().st_size,
        "peak_kib": status_kib().get("VmHWM", 0) or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss})
    return out


def _network(type_name: str) -> bool:
    from auditor.iac.base import network_relevant

    return network_relevant(type_name)


def cli_run(path: Path, out_dir: Path) -> dict[str, Any]:
    """`auditor plan FILE --format json --out DIR` end to end in its own process: wall time,
    CPU time, exit code and peak RSS (the child's rusage from wait4)."""
    cmd = [str(Path(sys.executable).parent / "auditor"), "plan", str(path), "--account", ACCOUNT, "--region", REGION,
           "--format", "json", "--out", str(out_dir), "--quiet"]
    log = out_dir.parent / f"{out_dir.name}.stderr"
    with open(log, "w", encoding="utf-8") as sink:     # a file, not a pipe: nothing can fill up and block
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=sink)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    err = log.read_text(encoding="utf-8")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "exit": code, "peak_kib": usage.ru_maxrss,
            "stderr": err[-2000:]}


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    if spec["mode"] == "cli":
        return cli_run(Path(spec["plan"]), Path(spec["out"]))
    return measure(Path(spec["plan"]), Path(spec["out"]), spec.get("profile_top", 0))


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "-"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Time auditor plan's work on a generated Terraform plan.")
    p.add_argument("--resources", type=int, default=10_000, help="resource instances in the plan (default 10000)")
    p.add_argument("--keep", type=Path, help="write the plan and findings.json here and keep them")
    p.add_argument("--profile", action="store_true", help="also profile the measured phases (cProfile)")
    p.add_argument("--cli", action="store_true", help="also time `auditor plan FILE --format json` end to end")
    p.add_argument("--json", type=Path, help="write every figure to this file")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(RESULT_TAG + json.dumps(worker(json.loads(args.worker))), flush=True)
        return 0

    with tempfile.TemporaryDirectory(prefix="plan-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        document, vpcs = generate_plan(args.resources)
        plan_path = folder / "plan.json"
        plan_path.write_text(json.dumps(document), encoding="utf-8")
        gen_s = time.perf_counter() - t0
        n = len(document["resource_changes"])
        types = Counter(c["type"] for c in document["resource_changes"])
        del document
        print(f"Plan: {n} resource instances ({vpcs} VPCs, {len(types)} types), "
              f"{plan_path.stat().st_size / 2**20:.1f} MiB, generated in {gen_s:.1f} s (not measured)")
        print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average before: {_load()}")
        (folder / "lib").mkdir(exist_ok=True)
        spec = {"mode": "library", "plan": str(plan_path), "out": str(folder / "lib"),
                "profile_top": 25 if args.profile else 0}
        r = run_script_worker(str(Path(__file__).resolve()), json.dumps({**spec, "profile_top": 0}))
        r["load_after"] = _load()
        print(f"\nread_plan        {r['read_s']:6.2f} s  (CPU {r['read_cpu_s']:.2f} s)  {r['plan_bytes'] / 2**20:.1f} MiB: "
              f"{r['declared']} modelled {r['actions']}, {r['unsupported']} unsupported "
              f"({r['unsupported_network']} network), {r['problems']} problems")
        print(f"build_model      {r['model_s']:6.2f} s  (CPU {r['model_cpu_s']:.2f} s)  {r['model_resources']} model resources "
              f"from {r['records']} records")
        print(f"evaluate_rules   {r['evaluate_s']:6.2f} s  (CPU {r['evaluate_cpu_s']:.2f} s)  {r['rules']} rules, "
              f"{r['findings']} findings {r['statuses']}, {r['unknown_errors']} ERROR 'unknown before deploy'")
        print(f"findings.json    {r['findings_json_s']:6.2f} s  (CPU {r['findings_json_cpu_s']:.2f} s)  "
              f"{r['findings_json_bytes'] / 2**20:.1f} MiB")
        print(f"total            {r['total_s']:6.2f} s  (CPU {r['total_cpu_s']:.2f} s)   peak RSS {r['peak_kib'] / 1024:.0f} MiB"
              f"   load average after: {r['load_after']}")
        ok_t, ok_m = r["total_s"] <= TARGET_S, r["peak_kib"] / 1024 <= TARGET_MIB
        print(f"target (<= {TARGET_S:.0f} s, <= {TARGET_MIB:.0f} MiB): time {'met' if ok_t else 'MISSED'}, "
              f"memory {'met' if ok_m else 'MISSED'}")
        result: dict[str, Any] = {"resources": n, "vpcs": vpcs, "types": dict(types), "library": r}
        if args.cli:
            (folder / "cli").mkdir(exist_ok=True)
            c = run_script_worker(str(Path(__file__).resolve()), json.dumps(
                {"mode": "cli", "plan": str(plan_path), "out": str(folder / "cli")}))
            print(f"\nauditor plan --format json (own process, imports included): {c['wall_s']:.2f} s "
                  f"(CPU {c['cpu_s']:.2f} s), exit {c['exit']}, peak RSS {c['peak_kib'] / 1024:.0f} MiB")
            if c["stderr"].strip():
                print("  stderr: " + c["stderr"].strip().replace("\n", "\n  "))
            result["cli"] = c
        if args.profile:
            prof = run_script_worker(str(Path(__file__).resolve()), json.dumps(spec))
            print("\nProfile of the measured phases (cProfile overhead included):\n" + prof["profile"])
            result["profile"] = prof["profile"]
        if args.json:
            args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
