#!/usr/bin/env python
"""Rule-engine benchmark: `evaluate_rules` on generated models of 10k, 50k and 100k resources.

    .venv/bin/python benchmarks/evaluate_bench.py [--sizes 10000,50000,100000] [--profile]

No emulator: the estate is written directly as the AWS API responses the collector records
(`CallRecord`s, the shapes auditor/model/normalise.py reads), one page per 1000 items,
every call of the collector's catalog recorded for every account-region (an empty answer
where there is nothing) so that coverage is complete, as in auditor/rules/fixtures.py.
`build_model` turns them into the model and every loaded rule (the built-in packs, plus
`--packs`) is evaluated twice: with an empty scope (everything) and with the tag scope
``data-classification: pci`` (about half of the VPCs).

Each VPC of the estate gets 3 AZs with 6 private subnets, a main and 3 private route tables
(routes to a TGW, a NAT, a VGW or nowhere), 5 security groups with 12 rules, a default
NACL (and a custom one in PCI VPCs), 2 to 6 interface endpoints with policies and security
groups (one interface per AZ each) and an S3 gateway endpoint on every private table, 4
instances, an RDS instance, a load balancer, 2 Lambda functions and their interfaces, a
flow log on most VPCs, an EKS cluster on every fourth, and on a fifth of them (half in the
PCI scope) an internet gateway, 2 public subnets, a NAT gateway, its Elastic IP and public
instance addresses -- the FAILs. Per account-region: a transit gateway with its route
table, routes, associations and propagations, the S3 and DynamoDB prefix lists, 20
endpoint services, VPC Block Public Access options and a Lambda function outside any VPC.
Sizes are total resources of the built model (printed from `model.counts()`); the number
of VPCs is scaled to reach them (10 VPCs per account-region, 3 regions per account).

Each size runs in a fresh Python process (so peaks do not accumulate): generate records
(not measured), `build_model` (measured), then per scope `evaluate_rules` and the findings'
JSON (findings.json as `auditor scan` writes it, streamed by `auditor.results.iter_text`), each measured.

Columns (see also benchmarks/README.md):
  resources     resources in the built model (sum of model.counts())
  rules         rules evaluated (all loaded packs)
  in scope      resources the engine evaluated (sum of Evaluation.in_scope)
  findings      findings, then by status: PASS FAIL ERROR WAIVED N/A
  ok            findings == sum over rules of in-scope resources of its type x for_each items,
                plus the account-region ERRORs (resource *): every finding accounted for
  build s       build_model() wall time (records -> linked model)
  eval s        evaluate_rules() wall time; cpu s is its process CPU time; gc s the part spent
                in the garbage collector (gc.callbacks)
  findings/s    findings / eval s
  json s        findings.json as auditor scan writes it (build_document + iter_text), wall time; MiB is its size
  RSS MiB       rss rec / rss mdl: RSS after generating the records / after build_model;
                bld pk: peak of generation + build_model (ru_maxrss); eval pk: peak during that
                evaluation + JSON alone (the high-water mark is reset just before it through
                /proc/self/clear_refs; it includes the model and the records, which stay alive
                as they would in `auditor scan --snapshot`); peak: the process's whole-life
                peak (the reset lowers ru_maxrss too, so it is the largest of the phases')
  load          1-minute load average before the size ran (other work on the machine)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import signal
import sys
import time
import itertools
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peak import RESULT_TAG, reset_peak, run_script_worker, status_kib  # noqa: E402  (shared by the benchmarks)

HERE = Path(__file__).resolve().parent
TODAY = date(2026, 1, 1)
REGIONS = ("us-east-1", "eu-west-1", "eu-central-1", "us-west-2", "ap-southeast-2")
STATUSES = ("PASS", "FAIL", "ERROR", "WAIVED", "NOT_APPLICABLE")
# Scope tag selectors by name: "all" is the empty scope (everything).
SCOPES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {"all": (), "pci": (("data-classification", ("pci",)),)}
PAGE_SIZE = 1000          # items per page, as DescribeInstances & co. return at most
CALIBRATION_VPCS = 420    # a multiple of every period in the generator's mix (3, 4, 5, 7, 10, 12)
TARGET_EVAL_S = 10.0      # the targets at 100k resources
TARGET_RSS_MIB = 1536.0


def csv_ints(text: str) -> list[int]:
    return [int(x.replace("k", "000")) for x in text.split(",") if x.strip()]


# ----------------------------------------------------------------------------------------
# the estate, as API responses (not measured)
# ----------------------------------------------------------------------------------------
INTERFACE_SERVICES = ("sts", "ssm", "logs", "kms", "ecr.api", "ecr.dkr")
ENDPOINT_SERVICES = INTERFACE_SERVICES + (
    "ec2", "ec2messages", "ssmmessages", "secretsmanager", "sqs", "sns", "monitoring", "elasticloadbalancing",
    "autoscaling", "eks", "lambda", "rds")
AZS = ("a", "b", "c")
FULL_ACCESS = json.dumps({"Version": "2008-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]})


def _org_policy(org: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowRequestsByOrgsIdentitiesToOrgsResources", "Effect": "Allow", "Principal": "*",
         "Action": "*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": org, "aws:ResourceOrgID": org}}},
        {"Sid": "AllowRequestsByAWSServicePrincipals", "Effect": "Allow", "Principal": "*", "Action": "*",
         "Resource": "*", "Condition": {"Bool": {"aws:PrincipalIsAWSService": "true"}}}]})


def _tags(**kv: str) -> list[dict[str, str]]:
    return [{"Key": k.replace("_", "-"), "Value": v} for k, v in kv.items()]


class _Ids:
    """AWS-looking ids, unique within one generated estate: vpc-0000000000000001a."""

    def __init__(self) -> None:
        self.n: Counter[str] = Counter()

    def __call__(self, prefix: str) -> str:
        self.n[prefix] += 1
        return f"{prefix}-{self.n[prefix]:017x}"


class _Region:
    """The API responses of one (account, region), item by item."""

    def __init__(self, account: str, region: str) -> None:
        self.account, self.region = account, region
        self.lists: dict[tuple[str, str, str], list[Any]] = {}  # (service, op, response key) -> items
        self.per_item: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []  # service, op, params, page

    def add(self, service: str, op: str, key: str, item: Any) -> None:
        self.lists.setdefault((service, op, key), []).append(item)

    def call(self, service: str, op: str, params: dict[str, Any], page: dict[str, Any]) -> None:
        self.per_item.append((service, op, params, page))

    def records(self, catalog: Iterable[Any]) -> Iterator[Any]:
        from auditor.snapshot.records import CallRecord

        made: set[tuple[str, str]] = set()
        for (service, op, key), items in self.lists.items():
            pages = [items[i:i + PAGE_SIZE] for i in range(0, len(items), PAGE_SIZE)]
            yield CallRecord(self.account, self.region, service, op, {},
                             tuple({key: p, **({"NextToken": f"page-{n + 1}"} if n + 1 < len(pages) else {})}
                                   for n, p in enumerate(pages)))
            made.add((service, op))
        for service, op, params, page in self.per_item:
            yield CallRecord(self.account, self.region, service, op, params, (page,))
            made.add((service, op))
        # Every other catalogued call succeeded with nothing to report (fixtures.records_for
        # does the same): coverage is complete, so a rule's ERROR would be the engine's.
        for spec in catalog:
            if (spec.service, spec.operation) not in made:
                yield CallRecord(self.account, self.region, spec.service, spec.operation, {}, ({},))


def _sg_permissions(rules: list[dict[str, Any]], egress: bool) -> list[dict[str, Any]]:
    """DescribeSecurityGroups' IpPermissions(Egress) for the rules DescribeSecurityGroupRules lists."""
    out = []
    for r in rules:
        if r["IsEgress"] != egress:
            continue
        perm: dict[str, Any] = {"IpProtocol": r["IpProtocol"], "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
                                "UserIdGroupPairs": []}
        if "FromPort" in r:
            perm.update(FromPort=r["FromPort"], ToPort=r["ToPort"])
        if "CidrIpv4" in r:
            perm["IpRanges"].append({"CidrIp": r["CidrIpv4"], "Description": r["Description"]})
        if "ReferencedGroupInfo" in r:
            perm["UserIdGroupPairs"].append({"GroupId": r["ReferencedGroupInfo"]["GroupId"],
                                             "UserId": r["GroupOwnerId"]})
        out.append(perm)
    return out


class _Vpc:
    """One VPC and everything in it, written into its account-region's responses.

    `g` numbers VPCs across the estate and picks the mix: half are PCI (tag
    data-classification=pci), a fifth are internet-facing (half of those PCI); `x` numbers
    them within the account-region and picks the CIDR 10.x.0.0/16."""

    def __init__(self, reg: _Region, ids: _Ids, g: int, x: int, tgw: dict[str, Any] | None) -> None:
        self.reg, self.ids, self.g, self.x = reg, ids, g, x
        self.a, self.region = reg.account, reg.region
        self.id, self.cidr = ids("vpc"), f"10.{x}.0.0/16"
        self.pci = g % 2 == 0
        self.public = g % 10 in (3, 6)
        self.egress = "nat" if self.public else ("tgw" if tgw is not None and g % 3 != 0 else "none")
        self.tgw = tgw
        self.env = ("prod", "staging", "dev")[g % 3]
        self.name = f"{'pci' if self.pci else 'internal'}-{self.env}-{g}"
        self.igw: str | None = None
        self.nat: str | None = None
        self.vgw = ids("vgw") if g % 12 == 7 else None
        self.groups = {role: ids("sg") for role in ("default", "app", "db", "endpoints", "lambda")}
        self.vpc()
        self.app = [self.subnet(10 + i, az, "app") for i, az in enumerate(AZS)]
        self.data = [self.subnet(20 + i, az, "data") for i, az in enumerate(AZS)]
        self.pub = [self.subnet(i, az, "public") for i, az in enumerate(AZS[:2])] if self.public else []
        self.gateways()
        self.security_groups()
        self.endpoints_and_routes()
        self.nacls()
        self.instances()
        self.services()
        self.flow_log()

    def summary(self) -> dict[str, Any]:
        """What the region-wide parts (TGW attachments, peerings) need to know."""
        return {"VpcId": self.id, "CidrBlock": self.cidr, "app": [s["SubnetId"] for s in self.app],
                "egress": self.egress}

    def eni(self, subnet: dict[str, Any], host: int, groups: list[str], kind: str, description: str, *,
            instance: str | None = None, requester: bool = False, public_ip: str | None = None,
            eni: str | None = None) -> str:
        eni = eni or self.ids("eni")
        ip = f"10.{self.x}.{subnet['CidrBlock'].split('.')[2]}.{host}"
        private: dict[str, Any] = {"Primary": True, "PrivateIpAddress": ip}
        raw: dict[str, Any] = {
            "NetworkInterfaceId": eni, "VpcId": self.id, "SubnetId": subnet["SubnetId"],
            "AvailabilityZone": subnet["AvailabilityZone"], "InterfaceType": kind, "Description": description,
            "PrivateIpAddress": ip, "PrivateIpAddresses": [private], "Ipv6Addresses": [],
            "Groups": [{"GroupId": gid, "GroupName": gid} for gid in groups], "RequesterManaged": requester,
            "SourceDestCheck": True, "Status": "in-use", "OwnerId": self.a,
            "MacAddress": f"0a:{self.g % 256:02x}:{host:02x}:00:00:01", "TagSet": []}
        if public_ip:
            raw["Association"] = private["Association"] = {"PublicIp": public_ip, "IpOwnerId": "amazon"}
        if instance:
            raw["Attachment"] = {"InstanceId": instance, "AttachmentId": f"eni-attach-{eni[4:]}", "DeviceIndex": 0,
                                 "Status": "attached"}
        self.reg.add("ec2", "DescribeNetworkInterfaces", "NetworkInterfaces", raw)
        return eni

    def vpc(self) -> None:
        self.reg.add("ec2", "DescribeVpcs", "Vpcs", {
            "VpcId": self.id, "CidrBlock": self.cidr, "State": "available", "OwnerId": self.a, "IsDefault": False,
            "InstanceTenancy": "default", "DhcpOptionsId": self.ids("dopt"),
            "CidrBlockAssociationSet": [{"AssociationId": self.ids("vpc-cidr-assoc"), "CidrBlock": self.cidr,
                                         "CidrBlockState": {"State": "associated"}}],
            "Tags": _tags(Name=self.name, data_classification="pci" if self.pci else "internal",
                          environment=self.env, cost_center=f"cc-{self.g % 17}")})
        for attr, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
            value = not (attr == "enableDnsHostnames" and self.g % 9 == 4)
            self.reg.call("ec2", "DescribeVpcAttribute", {"VpcId": self.id, "Attribute": attr},
                          {"VpcId": self.id, key: {"Value": value}})

    def subnet(self, j: int, az: str, tier: str) -> dict[str, Any]:
        sid = self.ids("subnet")
        zone = "".join(part[0] for part in self.region.split("-")[:2]) + self.region[-1]  # us-east-1 -> ue1
        s = {"SubnetId": sid, "VpcId": self.id, "CidrBlock": f"10.{self.x}.{j}.0/24", "State": "available",
             "AvailabilityZone": f"{self.region}{az}", "AvailabilityZoneId": f"{zone}-az{AZS.index(az) + 1}",
             "AvailableIpAddressCount": 240, "MapPublicIpOnLaunch": tier == "public",
             "AssignIpv6AddressOnCreation": False, "DefaultForAz": False, "OwnerId": self.a,
             "SubnetArn": f"arn:aws:ec2:{self.region}:{self.a}:subnet/{sid}", "Ipv6CidrBlockAssociationSet": [],
             "Tags": _tags(Name=f"{self.name}-{tier}-{az}", tier=tier)}
        self.reg.add("ec2", "DescribeSubnets", "Subnets", s)
        return s

    def gateways(self) -> None:
        """Internet-facing VPCs: an IGW and a public NAT gateway with its Elastic IP. Some
        VPCs have a VPN gateway to on-premises."""
        if self.public:
            self.igw, self.nat = self.ids("igw"), self.ids("nat")
            alloc, nat_eni = self.ids("eipalloc"), self.ids("eni")
            public_ip = f"54.{self.g % 250}.{self.x}.{10 + self.g % 200}"
            private_ip = f"10.{self.x}.0.5"
            self.reg.add("ec2", "DescribeInternetGateways", "InternetGateways", {
                "InternetGatewayId": self.igw, "OwnerId": self.a,
                "Attachments": [{"State": "available", "VpcId": self.id}], "Tags": _tags(Name=f"{self.name}-igw")})
            self.reg.add("ec2", "DescribeNatGateways", "NatGateways", {
                "NatGatewayId": self.nat, "VpcId": self.id, "SubnetId": self.pub[0]["SubnetId"],
                "State": "available", "ConnectivityType": "public", "CreateTime": "2025-06-01T10:00:00Z",
                "NatGatewayAddresses": [{"AllocationId": alloc, "NetworkInterfaceId": nat_eni,
                                         "PrivateIp": private_ip, "PublicIp": public_ip, "IsPrimary": True,
                                         "Status": "succeeded"}],
                "Tags": _tags(Name=f"{self.name}-nat")})
            self.reg.add("ec2", "DescribeAddresses", "Addresses", {
                "AllocationId": alloc, "PublicIp": public_ip, "Domain": "vpc", "NetworkInterfaceId": nat_eni,
                "PrivateIpAddress": private_ip, "AssociationId": self.ids("eipassoc"),
                "NetworkInterfaceOwnerId": self.a, "PublicIpv4Pool": "amazon", "NetworkBorderGroup": self.region,
                "Tags": _tags(Name=f"{self.name}-nat-eip")})
            self.eni(self.pub[0], 5, [], "nat_gateway", f"Interface for NAT Gateway {self.nat}", requester=True,
                     public_ip=public_ip, eni=nat_eni)
        if self.vgw:
            self.reg.add("ec2", "DescribeVpnGateways", "VpnGateways", {
                "VpnGatewayId": self.vgw, "State": "available", "Type": "ipsec.1", "AmazonSideAsn": 64512,
                "VpcAttachments": [{"State": "attached", "VpcId": self.id}], "Tags": _tags(Name=f"{self.name}-vgw")})

    def security_groups(self) -> None:
        """5 groups, 12 rules (DescribeSecurityGroupRules lists them one by one); internet-facing
        VPCs open SSH to the world."""
        rules: dict[str, list[dict[str, Any]]] = {role: [] for role in self.groups}

        def rule(role: str, egress: bool, proto: str, ports: tuple[int, int] | None, *, cidr: str | None = None,
                 ref: str | None = None, desc: str = "") -> None:
            r: dict[str, Any] = {
                "SecurityGroupRuleId": self.ids("sgr"), "GroupId": self.groups[role], "GroupOwnerId": self.a,
                "IsEgress": egress, "IpProtocol": proto, "FromPort": ports[0] if ports else -1,
                "ToPort": ports[1] if ports else -1, "Description": desc, "Tags": []}
            arn = f"arn:aws:ec2:{self.region}:{self.a}:security-group-rule/{r['SecurityGroupRuleId']}"
            r["SecurityGroupRuleArn"] = arn
            if cidr is not None:
                r["CidrIpv4"] = cidr
            if ref is not None:
                r["ReferencedGroupInfo"] = {"GroupId": self.groups[ref], "UserId": self.a}
            rules[role].append(r)

        rule("default", False, "-1", None, ref="default", desc="default: members reach each other")
        rule("default", True, "-1", None, cidr="0.0.0.0/0")
        rule("app", False, "tcp", (443, 443), cidr="10.0.0.0/8", desc="https from the corporate network")
        rule("app", False, "tcp", (8080, 8080), ref="app", desc="service mesh")
        rule("app", False, "tcp", (22, 22), cidr="0.0.0.0/0" if self.public else "10.255.0.0/16", desc="ssh")
        rule("app", True, "-1", None, cidr="0.0.0.0/0")
        rule("db", False, "tcp", (5432, 5432), ref="app", desc="postgres from the app tier")
        rule("db", False, "tcp", (5432, 5432), ref="lambda", desc="postgres from lambda")
        rule("endpoints", False, "tcp", (443, 443), cidr=self.cidr, desc="https from the VPC")
        rule("endpoints", True, "-1", None, cidr=self.cidr)
        rule("lambda", True, "tcp", (443, 443), cidr="0.0.0.0/0")
        rule("lambda", True, "tcp", (5432, 5432), ref="db")
        for role, gid in self.groups.items():
            self.reg.add("ec2", "DescribeSecurityGroups", "SecurityGroups", {
                "GroupId": gid, "GroupName": role if role == "default" else f"{self.name}-{role}", "VpcId": self.id,
                "OwnerId": self.a, "Description": "default VPC security group" if role == "default" else f"{role} tier",
                "IpPermissions": _sg_permissions(rules[role], False),
                "IpPermissionsEgress": _sg_permissions(rules[role], True),
                "Tags": [] if role == "default" else _tags(Name=f"{self.name}-{role}")})
            for r in rules[role]:
                self.reg.add("ec2", "DescribeSecurityGroupRules", "SecurityGroupRules", r)

    def endpoints_and_routes(self) -> None:
        """2 to 6 interface endpoints (one interface per AZ; a full-access policy on a quarter
        of the VPCs, an organisation-scoped one elsewhere), the route tables (the main one,
        which the data subnets use implicitly, one per AZ for the app subnets, a public one)
        and the S3 gateway endpoint on every private table."""
        org = f"o-{self.a[-6:]}abcd"
        for svc in INTERFACE_SERVICES[:2 + self.g % 5]:
            vpce = self.ids("vpce")
            host = 100 + INTERFACE_SERVICES.index(svc)
            enis = [self.eni(sn, host, [self.groups["endpoints"]], "vpc_endpoint", f"VPC Endpoint Interface {vpce}",
                             requester=True) for sn in self.app]
            self.reg.add("ec2", "DescribeVpcEndpoints", "VpcEndpoints", {
                "VpcEndpointId": vpce, "VpcEndpointType": "Interface", "VpcId": self.id, "OwnerId": self.a,
                "ServiceName": f"com.amazonaws.{self.region}.{svc}", "State": "available",
                "PolicyDocument": FULL_ACCESS if self.g % 4 == 1 else _org_policy(org), "RouteTableIds": [],
                "SubnetIds": [s["SubnetId"] for s in self.app],
                "Groups": [{"GroupId": self.groups["endpoints"], "GroupName": f"{self.name}-endpoints"}],
                "IpAddressType": "ipv4", "DnsOptions": {"DnsRecordIpType": "ipv4"},
                "PrivateDnsEnabled": not (svc == "logs" and self.g % 6 == 2), "RequesterManaged": False,
                "NetworkInterfaceIds": enis, "CreationTimestamp": "2025-05-01T09:00:00Z",
                "DnsEntries": [{"DnsName": f"{vpce}.{svc}.{self.region}.vpce.amazonaws.com",
                                "HostedZoneId": "Z7HUB22UULQXV"}],
                "Tags": _tags(Name=f"{self.name}-{svc}")})

        s3_vpce = self.ids("vpce")
        route = {"Origin": "CreateRoute", "State": "active"}
        s3_list = _prefix_list(self.region, "s3")
        private: list[dict[str, Any]] = [{"DestinationPrefixListId": s3_list, "GatewayId": s3_vpce, **route}]
        if self.egress == "nat":
            private.append({"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": self.nat, **route})
        elif self.egress == "tgw":
            assert self.tgw is not None
            private.append({"DestinationCidrBlock": "0.0.0.0/0", "TransitGatewayId": self.tgw["TransitGatewayId"],
                            **route})
        if self.vgw:
            private.append({"DestinationCidrBlock": "192.168.0.0/16", "GatewayId": self.vgw, **route})
        private_tables = [self.route_table(True, [], private, "main")]
        private_tables += [self.route_table(False, [sn], private, f"app-{sn['AvailabilityZone'][-1]}")
                           for sn in self.app]
        if self.public:
            self.route_table(False, self.pub, [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": self.igw, **route}],
                             "public")
        self.reg.add("ec2", "DescribeVpcEndpoints", "VpcEndpoints", {
            "VpcEndpointId": s3_vpce, "VpcEndpointType": "Gateway", "VpcId": self.id, "OwnerId": self.a,
            "ServiceName": f"com.amazonaws.{self.region}.s3", "State": "available",
            "PolicyDocument": _org_policy(org), "RouteTableIds": private_tables, "SubnetIds": [], "Groups": [],
            "NetworkInterfaceIds": [], "PrivateDnsEnabled": False, "RequesterManaged": False,
            "IpAddressType": "ipv4", "DnsEntries": [], "CreationTimestamp": "2025-05-01T09:00:00Z",
            "Tags": _tags(Name=f"{self.name}-s3")})

    def route_table(self, main: bool, subnets: list[dict[str, Any]], routes: list[dict[str, Any]], tier: str) -> str:
        rt = self.ids("rtb")
        assoc = [{"Main": True, "RouteTableAssociationId": self.ids("rtbassoc"), "RouteTableId": rt,
                  "AssociationState": {"State": "associated"}}] if main else []
        assoc += [{"Main": False, "RouteTableAssociationId": self.ids("rtbassoc"), "RouteTableId": rt,
                   "SubnetId": s["SubnetId"], "AssociationState": {"State": "associated"}} for s in subnets]
        local = {"DestinationCidrBlock": self.cidr, "GatewayId": "local", "Origin": "CreateRouteTable",
                 "State": "active"}
        self.reg.add("ec2", "DescribeRouteTables", "RouteTables", {
            "RouteTableId": rt, "VpcId": self.id, "OwnerId": self.a, "Associations": assoc,
            "Routes": [local, *(dict(r) for r in routes)], "PropagatingVgws": [],
            "Tags": _tags(Name=f"{self.name}-{tier}")})
        return rt

    def nacls(self) -> None:
        """The default NACL on every subnet; PCI VPCs put the data tier behind a tighter one."""
        def entry(n: int, egress: bool, action: str, cidr: str, proto: str = "-1",
                  ports: tuple[int, int] | None = None) -> dict[str, Any]:
            e: dict[str, Any] = {"RuleNumber": n, "Egress": egress, "Protocol": proto, "RuleAction": action,
                                 "CidrBlock": cidr}
            if ports:
                e["PortRange"] = {"From": ports[0], "To": ports[1]}
            return e

        def nacl(default: bool, subnets: list[dict[str, Any]], entries: list[dict[str, Any]]) -> None:
            acl = self.ids("acl")
            self.reg.add("ec2", "DescribeNetworkAcls", "NetworkAcls", {
                "NetworkAclId": acl, "VpcId": self.id, "IsDefault": default, "OwnerId": self.a, "Entries": entries,
                "Associations": [{"NetworkAclAssociationId": self.ids("aclassoc"), "NetworkAclId": acl,
                                  "SubnetId": s["SubnetId"]} for s in subnets], "Tags": []})

        deny_all = [entry(32767, False, "deny", "0.0.0.0/0"), entry(32767, True, "deny", "0.0.0.0/0")]
        nacl(True, self.app + self.pub + ([] if self.pci else self.data),
             [entry(100, False, "allow", "0.0.0.0/0"), entry(100, True, "allow", "0.0.0.0/0"), *deny_all])
        if self.pci:
            nacl(False, self.data, [entry(100, False, "allow", self.cidr, "6", (5432, 5432)),
                                    entry(110, False, "allow", self.cidr, "6", (1024, 65535)),
                                    entry(100, True, "allow", self.cidr, "6", (1024, 65535)), *deny_all])

    def instances(self) -> None:
        """4 instances in the app tier; internet-facing VPCs have one in a public subnet,
        with a public address."""
        for k in range(4):
            sn = self.pub[0] if self.public and k == 0 else self.app[k % 3]
            inst = self.ids("i")
            host = 20 + k
            ip = f"10.{self.x}.{sn['CidrBlock'].split('.')[2]}.{host}"
            pub_ip = f"3.{self.g % 250}.{self.x}.{host}" if self.public and k == 0 else None
            eni = self.eni(sn, host, [self.groups["app"]], "interface", "", instance=inst, public_ip=pub_ip)
            raw: dict[str, Any] = {
                "InstanceId": inst, "ImageId": "ami-0abcdef1234567890", "InstanceType": "m7g.large",
                "VpcId": self.id, "SubnetId": sn["SubnetId"], "State": {"Code": 16, "Name": "running"},
                "PrivateIpAddress": ip,
                "PrivateDnsName": f"ip-{ip.replace('.', '-')}.{self.region}.compute.internal",
                "Placement": {"AvailabilityZone": sn["AvailabilityZone"], "Tenancy": "default"},
                "SecurityGroups": [{"GroupId": self.groups["app"], "GroupName": f"{self.name}-app"}],
                "SourceDestCheck": True,
                "NetworkInterfaces": [{"NetworkInterfaceId": eni, "SubnetId": sn["SubnetId"], "VpcId": self.id,
                                       "PrivateIpAddress": ip, "Ipv6Addresses": [], "Status": "in-use",
                                       "Attachment": {"DeviceIndex": 0, "Status": "attached"}}],
                "IamInstanceProfile": {"Arn": f"arn:aws:iam::{self.a}:instance-profile/app"},
                "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
                "Tags": _tags(Name=f"{self.name}-app-{k}", environment=self.env)}
            if pub_ip:
                raw["PublicIpAddress"] = pub_ip
            self.reg.add("ec2", "DescribeInstances", "Reservations",
                         {"ReservationId": self.ids("r"), "OwnerId": self.a, "Groups": [], "Instances": [raw]})

    def services(self) -> None:
        """RDS, an application load balancer (a classic one on every tenth VPC), 2 Lambda
        functions, an EKS cluster on every fourth VPC; each with its network interfaces."""
        a, region, g, name = self.a, self.region, self.g, self.name
        db = f"{name}-db"
        self.eni(self.data[0], 30, [self.groups["db"]], "interface", "RDSNetworkInterface", requester=True)
        self.reg.add("rds", "DescribeDBInstances", "DBInstances", {
            "DBInstanceIdentifier": db, "DBInstanceArn": f"arn:aws:rds:{region}:{a}:db:{db}", "Engine": "postgres",
            "EngineVersion": "16.4", "DBInstanceClass": "db.r6g.large", "DBInstanceStatus": "available",
            "PubliclyAccessible": self.public and g % 20 == 3, "StorageEncrypted": True, "MultiAZ": self.pci,
            "DBSubnetGroup": {"DBSubnetGroupName": db, "VpcId": self.id, "SubnetGroupStatus": "Complete",
                              "Subnets": [{"SubnetIdentifier": s["SubnetId"], "SubnetStatus": "Active",
                                           "SubnetAvailabilityZone": {"Name": s["AvailabilityZone"]}}
                                          for s in self.data]},
            "VpcSecurityGroups": [{"VpcSecurityGroupId": self.groups["db"], "Status": "active"}],
            "Endpoint": {"Address": f"{db}.abcdefgh.{region}.rds.amazonaws.com", "Port": 5432},
            "TagList": _tags(Name=db, data_classification="pci" if self.pci else "internal")})

        lb = f"{name}-alb"[:32]
        lb_subnets = self.pub if self.public else self.app
        for k, sn in enumerate(lb_subnets):
            self.eni(sn, 40 + k, [self.groups["app"]], "interface", f"ELB app/{lb}/{g:016x}", requester=True)
        self.reg.add("elbv2", "DescribeLoadBalancers", "LoadBalancers", {
            "LoadBalancerArn": f"arn:aws:elasticloadbalancing:{region}:{a}:loadbalancer/app/{lb}/{g:016x}",
            "LoadBalancerName": lb, "DNSName": f"internal-{lb}.{region}.elb.amazonaws.com",
            "CanonicalHostedZoneId": "Z35SXDOTRQ7X7K", "CreatedTime": "2025-04-01T08:00:00Z",
            "Scheme": "internet-facing" if self.public else "internal", "VpcId": self.id,
            "State": {"Code": "active"}, "Type": "application", "IpAddressType": "ipv4",
            "SecurityGroups": [self.groups["app"]],
            "AvailabilityZones": [{"ZoneName": s["AvailabilityZone"], "SubnetId": s["SubnetId"],
                                   "LoadBalancerAddresses": []} for s in lb_subnets]})
        if g % 10 == 8:
            clb = f"{name}-clb"[:32]
            self.reg.add("elb", "DescribeLoadBalancers", "LoadBalancerDescriptions", {
                "LoadBalancerName": clb, "DNSName": f"internal-{clb}.{region}.elb.amazonaws.com",
                "Scheme": "internal", "VPCId": self.id, "Subnets": [s["SubnetId"] for s in self.app],
                "SecurityGroups": [self.groups["app"]], "AvailabilityZones": [s["AvailabilityZone"] for s in self.app],
                "ListenerDescriptions": [{"Listener": {"Protocol": "TCP", "LoadBalancerPort": 443,
                                                       "InstanceProtocol": "TCP", "InstancePort": 443}}],
                "Instances": [], "CreatedTime": "2025-04-01T08:00:00Z"})

        for k in range(2):
            fn = f"{name}-fn-{k}"
            self.eni(self.app[k], 60 + k, [self.groups["lambda"]], "lambda", f"AWS Lambda VPC ENI-{fn}",
                     requester=True)
            self.reg.add("lambda", "ListFunctions", "Functions", {
                "FunctionName": fn, "FunctionArn": f"arn:aws:lambda:{region}:{a}:function:{fn}",
                "Runtime": "python3.12", "Role": f"arn:aws:iam::{a}:role/{fn}", "Handler": "app.handler",
                "CodeSize": 10240, "Timeout": 30, "MemorySize": 256, "LastModified": "2025-06-01T12:00:00.000+0000",
                "PackageType": "Zip", "Architectures": ["arm64"],
                "VpcConfig": {"SubnetIds": [s["SubnetId"] for s in self.app[:2]],
                              "SecurityGroupIds": [self.groups["lambda"]], "VpcId": self.id,
                              "Ipv6AllowedForDualStack": False}})

        if g % 4 == 0:
            cluster = f"{name}-eks"
            for k, sn in enumerate(self.app[:2]):
                self.eni(sn, 80 + k, [self.groups["app"]], "interface", f"Amazon EKS {cluster}")
            self.reg.add("eks", "ListClusters", "clusters", cluster)  # ListClusters lists names
            self.reg.call("eks", "DescribeCluster", {"name": cluster}, {"cluster": {
                "name": cluster, "arn": f"arn:aws:eks:{region}:{a}:cluster/{cluster}", "version": "1.31",
                "status": "ACTIVE", "roleArn": f"arn:aws:iam::{a}:role/eks",
                "endpoint": f"https://{g:032X}.gr7.{region}.eks.amazonaws.com",
                "resourcesVpcConfig": {"subnetIds": [s["SubnetId"] for s in self.app],
                                       "securityGroupIds": [self.groups["app"]],
                                       "clusterSecurityGroupId": self.groups["default"], "vpcId": self.id,
                                       "endpointPublicAccess": g % 8 == 4, "endpointPrivateAccess": True,
                                       "publicAccessCidrs": ["0.0.0.0/0"]},
                "kubernetesNetworkConfig": {"serviceIpv4Cidr": "172.20.0.0/16", "ipFamily": "ipv4"},
                "tags": {"data-classification": "pci" if self.pci else "internal"}}})

    def flow_log(self) -> None:
        """A VPC flow log on 6 VPCs in 7 (one of those 6 logs rejected traffic only)."""
        if self.g % 7 == 5:
            return
        group = f"/vpc/{self.name}"
        self.reg.add("ec2", "DescribeFlowLogs", "FlowLogs", {
            "FlowLogId": self.ids("fl"), "ResourceId": self.id, "TrafficType": "ALL" if self.g % 7 != 2 else "REJECT",
            "FlowLogStatus": "ACTIVE", "DeliverLogsStatus": "SUCCESS", "LogDestinationType": "cloud-watch-logs",
            "LogGroupName": group, "LogDestination": f"arn:aws:logs:{self.region}:{self.a}:log-group:{group}",
            "LogFormat": "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
                         "${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}",
            "MaxAggregationInterval": 600, "CreationTime": "2025-03-01T00:00:00Z", "Tags": []})


def _prefix_list(region: str, service: str) -> str:
    """The id of the AWS-managed prefix list of `service` in `region` (one per region here)."""
    return f"pl-{region.replace('-', '')[:8]}{service[:2]}"


def _shared(reg: _Region, ids: _Ids, tgw_needed: bool) -> dict[str, Any] | None:
    """What one account-region has once: prefix lists, endpoint services, VPC Block Public
    Access options, a Lambda function outside any VPC, and a transit gateway."""
    a, region = reg.account, reg.region
    for svc, cidrs in (("s3", ("52.216.0.0/15", "3.5.0.0/19", "16.182.0.0/16")),
                       ("dynamodb", ("3.218.180.0/22", "52.94.0.0/22"))):
        pl = _prefix_list(region, svc)
        reg.add("ec2", "DescribeManagedPrefixLists", "PrefixLists", {
            "PrefixListId": pl, "AddressFamily": "IPv4", "State": "create-complete", "MaxEntries": 0,
            "PrefixListArn": f"arn:aws:ec2:{region}:aws:prefix-list/{pl}",
            "PrefixListName": f"com.amazonaws.{region}.{svc}", "OwnerId": "AWS", "Tags": []})
        reg.call("ec2", "GetManagedPrefixListEntries", {"PrefixListId": pl},
                 {"Entries": [{"Cidr": c} for c in cidrs]})
    for svc in ENDPOINT_SERVICES:
        reg.add("ec2", "DescribeVpcEndpointServices", "ServiceDetails", {
            "ServiceName": f"com.amazonaws.{region}.{svc}", "ServiceId": ids("vpce-svc"),
            "ServiceType": [{"ServiceType": "Interface"}],
            "AvailabilityZones": [f"{region}{az}" for az in AZS], "Owner": "amazon",
            "BaseEndpointDnsNames": [f"{svc}.{region}.vpce.amazonaws.com"],
            "PrivateDnsName": f"{svc}.{region}.amazonaws.com", "VpcEndpointPolicySupported": True,
            "AcceptanceRequired": False, "ManagesVpcEndpoints": False, "Tags": []})
    reg.add("ec2", "DescribeVpcBlockPublicAccessOptions", "VpcBlockPublicAccessOptions", {
        "AwsAccountId": a, "AwsRegion": region, "State": "default-state", "InternetGatewayBlockMode": "off",
        "ExclusionsAllowed": "allowed", "ManagedBy": "account", "LastUpdateTimestamp": "2025-01-01T00:00:00Z"})
    fn = f"ops-report-{region}"
    reg.add("lambda", "ListFunctions", "Functions", {
        "FunctionName": fn, "FunctionArn": f"arn:aws:lambda:{region}:{a}:function:{fn}", "Runtime": "python3.12",
        "Role": f"arn:aws:iam::{a}:role/{fn}", "Handler": "app.handler", "CodeSize": 2048, "Timeout": 60,
        "MemorySize": 128, "LastModified": "2025-06-01T12:00:00.000+0000", "PackageType": "Zip"})
    if not tgw_needed:
        return None
    tgw, tgw_rt = ids("tgw"), ids("tgw-rtb")
    reg.add("ec2", "DescribeTransitGateways", "TransitGateways", {
        "TransitGatewayId": tgw, "TransitGatewayArn": f"arn:aws:ec2:{region}:{a}:transit-gateway/{tgw}",
        "State": "available", "OwnerId": a, "Tags": _tags(Name="core"),
        "Options": {"AmazonSideAsn": 64512, "AutoAcceptSharedAttachments": "disable",
                    "DefaultRouteTableAssociation": "enable", "AssociationDefaultRouteTableId": tgw_rt,
                    "DefaultRouteTablePropagation": "enable", "PropagationDefaultRouteTableId": tgw_rt,
                    "VpnEcmpSupport": "enable", "DnsSupport": "enable"}})
    reg.add("ec2", "DescribeTransitGatewayRouteTables", "TransitGatewayRouteTables", {
        "TransitGatewayRouteTableId": tgw_rt, "TransitGatewayId": tgw, "State": "available",
        "DefaultAssociationRouteTable": True, "DefaultPropagationRouteTable": True, "Tags": []})
    return {"TransitGatewayId": tgw, "TransitGatewayRouteTableId": tgw_rt}


def _attach(reg: _Region, ids: _Ids, tgw: dict[str, Any], vpcs: list[dict[str, Any]]) -> None:
    """The VPC attachments of the region's transit gateway, and its route table's contents."""
    a, rt = reg.account, tgw["TransitGatewayRouteTableId"]
    routes, assocs = [], []
    for v in vpcs:
        att = ids("tgw-attach")
        reg.add("ec2", "DescribeTransitGatewayAttachments", "TransitGatewayAttachments", {
            "TransitGatewayAttachmentId": att, "TransitGatewayId": tgw["TransitGatewayId"],
            "TransitGatewayOwnerId": a, "ResourceOwnerId": a, "ResourceType": "vpc", "ResourceId": v["VpcId"],
            "State": "available", "Association": {"TransitGatewayRouteTableId": rt, "State": "associated"},
            "Tags": []})
        reg.add("ec2", "DescribeTransitGatewayVpcAttachments", "TransitGatewayVpcAttachments", {
            "TransitGatewayAttachmentId": att, "TransitGatewayId": tgw["TransitGatewayId"], "VpcId": v["VpcId"],
            "VpcOwnerId": a, "State": "available", "SubnetIds": v["app"],
            "Options": {"DnsSupport": "enable", "Ipv6Support": "disable", "ApplianceModeSupport": "disable"}})
        link = {"TransitGatewayAttachmentId": att, "ResourceId": v["VpcId"], "ResourceType": "vpc"}
        routes.append({"DestinationCidrBlock": v["CidrBlock"], "TransitGatewayAttachments": [link],
                       "Type": "propagated", "State": "active"})
        assocs.append(link)
    routes.append({"DestinationCidrBlock": "0.0.0.0/0", "Type": "static", "State": "blackhole"})
    search = {"TransitGatewayRouteTableId": rt, "Filters": [{"Name": "state", "Values": ["active", "blackhole"]}]}
    reg.call("ec2", "SearchTransitGatewayRoutes", search, {"Routes": routes, "AdditionalRoutesAvailable": False})
    reg.call("ec2", "GetTransitGatewayRouteTableAssociations", {"TransitGatewayRouteTableId": rt},
             {"Associations": [{**x, "State": "associated"} for x in assocs]})
    reg.call("ec2", "GetTransitGatewayRouteTablePropagations", {"TransitGatewayRouteTableId": rt},
             {"TransitGatewayRouteTablePropagations": [{**x, "State": "enabled"} for x in assocs]})


def _peer(reg: _Region, ids: _Ids, left: dict[str, Any], right: dict[str, Any]) -> None:
    def side(v: dict[str, Any]) -> dict[str, Any]:
        return {"VpcId": v["VpcId"], "OwnerId": reg.account, "Region": reg.region, "CidrBlock": v["CidrBlock"],
                "CidrBlockSet": [{"CidrBlock": v["CidrBlock"]}]}
    reg.add("ec2", "DescribeVpcPeeringConnections", "VpcPeeringConnections", {
        "VpcPeeringConnectionId": ids("pcx"), "Status": {"Code": "active", "Message": "Active"},
        "RequesterVpcInfo": side(left), "AccepterVpcInfo": side(right), "Tags": []})


def account_ids(n: int) -> list[str]:
    return [f"{200000000001 + i:012d}" for i in range(n)]


def generate_records(vpcs: int, *, vpcs_per_region: int = 10, regions: int = 3) -> list[Any]:
    """The call records of an estate of `vpcs` VPCs (see the module doc), `vpcs_per_region`
    per account-region, `regions` regions per account, as many accounts as that takes."""
    from auditor.collect.catalog import CATALOG

    ids = _Ids()
    out: list[Any] = []
    per_account = vpcs_per_region * regions
    accounts = account_ids(max(1, -(-vpcs // per_account)))
    g = 0
    for account in accounts:
        for region in REGIONS[:regions]:
            n = min(vpcs_per_region, vpcs - g)
            if n <= 0:
                break
            reg = _Region(account, region)
            tgw = _shared(reg, ids, tgw_needed=any((g + i) % 3 != 0 for i in range(n)))
            made = [_Vpc(reg, ids, g + i, i, tgw).summary() for i in range(n)]
            if tgw is not None:
                _attach(reg, ids, tgw, [v for v in made if v["egress"] == "tgw"])
            for i in range(0, len(made) - 1, 5):   # a peering between neighbours, every fifth VPC
                _peer(reg, ids, made[i], made[i + 1])
            g += n
            out.extend(reg.records(CATALOG))
    return out


# ----------------------------------------------------------------------------------------
# one measured size (runs in a fresh process: --worker)
# ----------------------------------------------------------------------------------------
class _GcTimer:
    """Time spent in the cyclic garbage collector, through gc.callbacks."""

    def __init__(self) -> None:
        self.total = 0.0
        self.collections = 0
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._t0
            self.collections += 1


def load_bench_packs(extra: list[str]) -> Any:
    from auditor.rules.packs import load_packs

    return load_packs(extra)


def expected_findings(ev: Any) -> int:
    """What the findings count must be: one per (rule, in-scope resource of its type, item),
    plus the account-region ERRORs (resource ``*``)."""
    per_rule = sum(ev.in_scope.get(r.resource, 0) * (len(r.items) if r.items is not None else 1) for r in ev.rules)
    return per_rule + sum(1 for f in ev.findings if f.resource.id == "*")


def run_size(vpcs: int, packs: Any, scopes: list[str], *, vpcs_per_region: int, regions: int,
             profile_top: int = 0) -> dict[str, Any]:
    """Generate, build and evaluate one estate; every figure as a dict."""
    from auditor.config import Scope
    from auditor.model import build_model
    from auditor.results import RunInfo, build_document, iter_text
    from auditor.rules.engine import evaluate_rules

    gc_timer = _GcTimer()
    gc.callbacks.append(gc_timer)
    t0 = time.perf_counter()
    records = generate_records(vpcs, vpcs_per_region=vpcs_per_region, regions=regions)
    gen_s = time.perf_counter() - t0
    gc.collect()
    rss_records = status_kib().get("VmRSS", 0)
    t0 = time.perf_counter()
    model = build_model(records)
    build_s = time.perf_counter() - t0
    gc.collect()
    rss_model = status_kib().get("VmRSS", 0)
    counts = model.counts()
    by_type: Counter[str] = Counter()
    for (_, _, type_name), n in counts.items():
        by_type[type_name] += n
    out: dict[str, Any] = {
        "vpcs": vpcs, "records": len(records), "resources": sum(counts.values()), "by_type": dict(by_type),
        "account_regions": len({(a, r) for a, r, _ in counts}), "accounts": len({a for a, _, _ in counts}),
        "rules": len(packs.rules), "packs": [p.id for p in packs.packs], "gen_s": gen_s, "build_s": build_s,
        "rule_set": _rule_set(packs),
        "rss_records_kib": rss_records, "rss_model_kib": rss_model, "scopes": {},
        # The peak so far (generation and build_model); read before any VmHWM reset, which
        # lowers ru_maxrss too (Linux reports the larger of the exited-mm and current marks).
        "build_peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    for name in scopes:
        scope = Scope(tags=SCOPES[name])
        gc.collect()
        reset = reset_peak()
        gc_before, gcs_before = gc_timer.total, gc_timer.collections
        c0, t0 = time.process_time(), time.perf_counter()
        ev = evaluate_rules(model, packs, scope, today=TODAY)
        eval_s, eval_cpu = time.perf_counter() - t0, time.process_time() - c0
        eval_gc, eval_gcs = gc_timer.total - gc_before, gc_timer.collections - gcs_before
        rss_eval = status_kib().get("VmRSS", 0)
        gc_before = gc_timer.total
        t0 = time.perf_counter()
        # What `auditor scan` writes: findings.json streamed a finding at a time.
        doc = build_document(ev, packs, RunInfo(manifest={}, manifest_sha256="sha256:" + "0" * 64, scope=scope),
                             lazy=True)
        json_bytes = 0
        with open(os.devnull, "w", encoding="utf-8") as sink:
            for piece in iter_text(doc):
                json_bytes += len(piece.encode())
                sink.write(piece)
        json_s, json_gc = time.perf_counter() - t0, gc_timer.total - gc_before
        statuses = Counter(f.status for f in ev.findings)
        out["scopes"][name] = {
            "eval_s": eval_s, "eval_cpu_s": eval_cpu, "gc_s": eval_gc, "gc_collections": eval_gcs,
            "findings": len(ev.findings), "expected_findings": expected_findings(ev),
            "statuses": {s: statuses.get(s, 0) for s in STATUSES}, "in_scope": sum(ev.in_scope.values()),
            "out_of_scope": sum(ev.out_of_scope.values()), "gaps": len(ev.gaps),
            "json_s": json_s, "json_gc_s": json_gc, "json_bytes": json_bytes, "rss_eval_kib": rss_eval,
            "eval_peak_kib": status_kib().get("VmHWM", 0) if reset else None,
            "by_rule": {r: dict(c) for r, c in sorted(_by_rule(ev.findings).items())}}
        del ev, doc
    gc.callbacks.remove(gc_timer)
    if profile_top:
        out["profile"] = profile_evaluation(model, packs, Scope(), profile_top)
    # ru_maxrss now covers the time since the last reset only: the whole life's peak is the
    # largest of the build peak and each phase's.
    phases = [out["build_peak_kib"], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              *(s["eval_peak_kib"] or 0 for s in out["scopes"].values())]
    out["peak_kib"] = max(phases)
    del records
    return out


def _rule_set(packs: Any) -> str:
    """A short hash of the rules evaluated (ids, packs, versions and their content): others
    edit the packs while the benchmark runs, and sizes are comparable only on the same rules."""
    import hashlib

    text = repr(sorted((r.pack, r.id, repr(r.check), repr(r.where), repr(r.param_values)) for r in packs.rules))
    versions = repr(sorted((p.id, p.version) for p in packs.packs))
    return hashlib.sha256((versions + text).encode()).hexdigest()[:10]


def _by_rule(findings: Iterable[Any]) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for f in findings:
        out.setdefault(f.rule_id, Counter())[f.status] += 1
    return out


def profile_evaluation(model: Any, packs: Any, scope: Any, top: int) -> str:
    """cProfile of one evaluate_rules (after the timed runs, so it does not slow them)."""
    import cProfile
    import io
    import pstats

    from auditor.rules.engine import evaluate_rules

    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    evaluate_rules(model, packs, scope, today=TODAY)
    prof.disable()
    took = time.perf_counter() - t0
    buf = io.StringIO()
    buf.write(f"evaluate_rules under cProfile: {took:.2f} s (profiler overhead included)\n")
    stats = pstats.Stats(prof, stream=buf).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def calibrate(vpcs_per_region: int, regions: int) -> float:
    """Model resources per VPC of the generated mix (whole periods of it)."""
    from auditor.model import build_model

    model = build_model(generate_records(CALIBRATION_VPCS, vpcs_per_region=vpcs_per_region, regions=regions))
    return sum(model.counts().values()) / CALIBRATION_VPCS


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    if spec["mode"] == "calibrate":
        return {"per_vpc": calibrate(spec["vpcs_per_region"], spec["regions"])}
    packs = load_bench_packs(spec["packs"])
    return run_size(spec["vpcs"], packs, spec["scopes"], vpcs_per_region=spec["vpcs_per_region"],
                    regions=spec["regions"], profile_top=spec.get("profile_top", 0))


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Run `worker(spec)` in a fresh Python process; its result."""
    return run_script_worker(str(Path(__file__).resolve()), json.dumps(spec))


# ----------------------------------------------------------------------------------------
# the driver
# ----------------------------------------------------------------------------------------
def mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.0f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Benchmark the rule engine on generated models (no emulator), "
                                "each size in a fresh process.")
    p.add_argument("--sizes", default="10000,50000,100000",
                   help="comma-separated model sizes in resources (default 10000,50000,100000; 10k works too)")
    p.add_argument("--scopes", default="all,pci", help="which scopes to evaluate: all (empty scope), pci (tag "
                   "data-classification=pci, about half the VPCs); default all,pci")
    p.add_argument("--packs", action="append", default=[], metavar="PATH",
                   help="also load these pack files or folders (repeatable); the built-in packs are always loaded")
    p.add_argument("--vpcs-per-region", type=int, default=10, help="VPCs per account-region (default 10)")
    p.add_argument("--regions", type=int, default=3, help=f"regions per account (1..{len(REGIONS)}, default 3)")
    p.add_argument("--profile", action="store_true",
                   help="after the timed runs, profile one evaluation (scope all) of the largest size with "
                   "cProfile in its own process and print the top functions")
    p.add_argument("--profile-top", type=int, default=25, help="functions listed per profile table (default 25)")
    p.add_argument("--json", metavar="FILE", help="also write every result as JSON to FILE")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        print(RESULT_TAG + json.dumps(worker(json.loads(args.worker)), sort_keys=True), flush=True)
        return 0

    sizes = csv_ints(args.sizes)
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    if not sizes or any(n < 1 for n in sizes):
        p.error("--sizes takes positive resource counts")
    if not scopes or set(scopes) - set(SCOPES):
        p.error(f"--scopes takes {' and/or '.join(SCOPES)}")
    if not 1 <= args.regions <= len(REGIONS):
        p.error(f"--regions must be 1..{len(REGIONS)}")
    if args.vpcs_per_region < 1 or args.vpcs_per_region > 250:
        p.error("--vpcs-per-region must be 1..250 (each VPC of an account-region is 10.N.0.0/16)")
    packs = [str(Path(x).resolve()) for x in args.packs]

    print(f"evaluate_bench: python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    base = {"vpcs_per_region": args.vpcs_per_region, "regions": args.regions}
    per_vpc = run_worker({"mode": "calibrate", **base})["per_vpc"]
    print(f"estate: {args.vpcs_per_region} VPCs per account-region, {args.regions} regions per account, "
          f"{per_vpc:.1f} model resources per VPC (calibrated on {CALIBRATION_VPCS} VPCs); each size in a fresh "
          "process", flush=True)

    rows: list[dict[str, Any]] = []
    started = time.monotonic()
    for target in sizes:
        vpcs = max(1, round(target / per_vpc))
        spec = {"mode": "size", "vpcs": vpcs, "scopes": scopes, "packs": packs, **base}
        load = os.getloadavg()[0]
        res = run_worker(spec)
        res.update(target=target, load=load)
        rows.append(res)
        print(f"  [{target} target] {res['resources']} resources ({vpcs} VPCs, {res['accounts']} accounts, "
              f"{res['account_regions']} account-regions, {res['records']} records), {res['rules']} rules; "
              f"build {res['build_s']:.2f} s, "
              + ", ".join(f"eval {n} {s['eval_s']:.2f} s" for n, s in res["scopes"].items())
              + f"; load avg before {load:.1f} [elapsed {time.monotonic() - started:.0f} s]", flush=True)
    print_report(rows)
    if args.profile:
        target = max(sizes)
        vpcs = max(1, round(target / per_vpc))
        print(f"\nProfile: one evaluate_rules (scope all) on {target} target resources, packs "
              f"{', '.join(rows[-1]['packs'])}, in a fresh process (timings above were taken without the profiler)")
        prof = run_worker({"mode": "size", "vpcs": vpcs, "scopes": [], "packs": packs,
                           "profile_top": args.profile_top, **base})
        print(prof["profile"])
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, sort_keys=True))
    return 0


def print_report(rows: list[dict[str, Any]]) -> None:
    hdr = (f"{'resources':>9} {'rules':>5} {'scope':<5} {'in scope':>8} {'findings':>8} {'PASS':>7} {'FAIL':>7} "
           f"{'ERROR':>6} {'WAIVED':>6} {'N/A':>6} {'ok':>3} {'build s':>7} {'eval s':>7} {'cpu s':>6} {'gc s':>5} "
           f"{'findings/s':>10} {'json s':>6} {'MiB':>5} {'rss rec':>7} {'rss mdl':>7} {'bld pk':>6} {'eval pk':>7} "
           f"{'peak':>6} {'load':>5}")
    print("\n" + "=" * len(hdr))
    print("RESULTS  (RSS in MiB: after the records / after build_model / peak of generation + build_model / peak "
          "during that evaluation + JSON / peak of the size's process; ok = findings == rules x in-scope resources "
          "[+ region ERRORs])")
    print("=" * len(hdr))
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        for name, s in r["scopes"].items():
            st = s["statuses"]
            ok = "yes" if s["findings"] == s["expected_findings"] else "NO"
            print(f"{r['resources']:>9} {r['rules']:>5} {name:<5} {s['in_scope']:>8} {s['findings']:>8} "
                  f"{st['PASS']:>7} {st['FAIL']:>7} {st['ERROR']:>6} {st['WAIVED']:>6} {st['NOT_APPLICABLE']:>6} "
                  f"{ok:>3} {r['build_s']:>7.2f} {s['eval_s']:>7.2f} {s['eval_cpu_s']:>6.2f} {s['gc_s']:>5.2f} "
                  f"{s['findings'] / s['eval_s'] if s['eval_s'] else 0:>10.0f} {s['json_s']:>6.2f} "
                  f"{s['json_bytes'] / 2**20:>5.1f} {mib(r['rss_records_kib']):>7} {mib(r['rss_model_kib']):>7} "
                  f"{mib(r['build_peak_kib']):>6} {mib(s['eval_peak_kib']):>7} {mib(r['peak_kib']):>6} "
                  f"{r['load']:>5.1f}")
    print("-" * len(hdr))
    gcs = "; ".join(f"{r['resources']} {n}: eval {s['gc_s']:.2f} s in {s['gc_collections']} collections, json "
                    f"{s['json_gc_s']:.2f} s" for r in rows for n, s in r["scopes"].items())
    print(f"garbage collector (part of eval s and json s): {gcs}")
    gen = ", ".join(f"{r['gen_s']:.1f} s" for r in rows)
    print(f"packs: {', '.join(rows[0]['packs'])}; generating the records is not measured ({gen})")
    print(f"load = 1-minute load average before the size ran ({os.cpu_count()} CPUs: above that, other work shared "
          "the machine; eval s then exceeds cpu s and the figures are noisier)")
    sets = sorted({r["rule_set"] for r in rows})
    if len(sets) > 1:
        print("WARNING: the rule packs changed during the benchmark (others are editing them); sizes ran with rule "
              "sets " + ", ".join(f"{rs} ({', '.join(str(r['resources']) for r in rows if r['rule_set'] == rs)}: "
                                  f"{next(r['rules'] for r in rows if r['rule_set'] == rs)} rules)" for rs in sets)
              + " -- growth factors between them compare different work")
    else:
        print(f"all sizes ran the same rules (rule set {sets[0]})")

    if len(rows) > 1:
        print("\nGrowth between sizes (x = ratio; linear means eval x ~ resources x):")
        for prev, cur in itertools.pairwise(rows):
            parts = [f"resources x{cur['resources'] / prev['resources']:.2f}",
                     f"build x{cur['build_s'] / prev['build_s']:.2f}"]
            for name in cur["scopes"]:
                a, b = prev["scopes"][name], cur["scopes"][name]
                parts.append(f"eval {name} x{b['eval_s'] / a['eval_s']:.2f}" if a["eval_s"] else f"eval {name} -")
                parts.append(f"findings {name} x{b['findings'] / a['findings']:.2f}" if a["findings"] else "")
            parts.append(f"peak RSS x{cur['peak_kib'] / prev['peak_kib']:.2f}")
            print(f"  {prev['resources']:>7} -> {cur['resources']:>7}: " + ", ".join(x for x in parts if x))
        per = [f"{r['resources']}: " + ", ".join(f"{n} {s['eval_s'] / r['resources'] * 1e6:.1f}"
                                                 for n, s in r["scopes"].items()) for r in rows]
        print("  eval µs per model resource: " + "; ".join(per))

    big = max(rows, key=lambda r: r["resources"])
    evals = {n: s["eval_s"] for n, s in big["scopes"].items()}
    if evals and big["resources"] >= 90000:
        worst = max(evals.values())
        peak = big["peak_kib"] / 1024
        print(f"\nTargets at ~100k resources ({big['resources']}): evaluation <= {TARGET_EVAL_S:g} s: "
              f"{'met' if worst <= TARGET_EVAL_S else 'MISSED'} ({worst:.2f} s, slowest scope; build_model "
              f"{big['build_s']:.2f} s more); peak RSS <= {TARGET_RSS_MIB:g} MiB: "
              f"{'met' if peak <= TARGET_RSS_MIB else 'MISSED'} ({peak:.0f} MiB)")

    print(f"\nModel of the largest size ({big['resources']} resources), by type:")
    items = sorted(big["by_type"].items(), key=lambda kv: -kv[1])
    print("  " + ", ".join(f"{t} {n}" for t, n in items))
    print("Findings by rule (largest size, first scope):")
    first = next(iter(big["scopes"].values()), None)
    if first:
        for rule_id, c in first["by_rule"].items():
            print(f"  {rule_id:<10} " + ", ".join(f"{s} {n}" for s, n in sorted(c.items())))


def _terminated(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminated)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
