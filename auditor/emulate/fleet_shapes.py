"""AWS API answers of one account-region, as botocore's output shapes: the building blocks
of the generated estates (`auditor.emulate.fleet`, benchmarks/evaluate_bench.py).

A `Region` gathers, item by item, what each list call of the collector's catalogue answers
in one account and region, and the answers of the per-item calls (DescribeVpcAttribute,
SearchTransitGatewayRoutes, ...) keyed by their parameters. `Vpc` writes one VPC and
everything in it (3 AZs, app/data/public subnets, route tables, 5 security groups and their
rules, NACLs, interface and S3 gateway endpoints with policies, ENIs, instances, RDS, load
balancers, Lambda, EKS, a flow log); `shared` the per-region lists (prefix lists, endpoint
services, VPC Block Public Access, a transit gateway), `attach` a transit gateway's
attachments and routes, `peer` a peering connection. Every field is one the AWS output shape
declares, with its type (tests/test_fleet.py serialises every answer into the protocol's
wire format and parses it back with botocore's own parser). Timestamps are ISO 8601 strings,
as the collector records them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

PAGE_SIZE = 1000          # items per page of a generated record, as DescribeInstances & co. return at most

INTERFACE_SERVICES = ("sts", "ssm", "logs", "kms", "ecr.api", "ecr.dkr")
ENDPOINT_SERVICES = INTERFACE_SERVICES + (
    "ec2", "ec2messages", "ssmmessages", "secretsmanager", "sqs", "sns", "monitoring", "elasticloadbalancing",
    "autoscaling", "eks", "lambda", "rds")
AZS = ("a", "b", "c")
FULL_ACCESS = json.dumps({"Version": "2008-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]})


def org_policy(org: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowRequestsByOrgsIdentitiesToOrgsResources", "Effect": "Allow", "Principal": "*",
         "Action": "*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": org, "aws:ResourceOrgID": org}}},
        {"Sid": "AllowRequestsByAWSServicePrincipals", "Effect": "Allow", "Principal": "*", "Action": "*",
         "Resource": "*", "Condition": {"Bool": {"aws:PrincipalIsAWSService": "true"}}}]})


def tags(**kv: str) -> list[dict[str, str]]:
    return [{"Key": k.replace("_", "-"), "Value": v} for k, v in kv.items()]


class Ids:
    """AWS-looking ids, unique within one generated estate: vpc-0000000000000001a. A `base`
    keeps the ids of different account-regions apart (the fleet numbers each one)."""

    def __init__(self, base: int = 0) -> None:
        self.n: Counter[str] = Counter()
        self.base = base

    def __call__(self, prefix: str) -> str:
        self.n[prefix] += 1
        return f"{prefix}-{self.base + self.n[prefix]:017x}"


class Region:
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


def sg_permissions(rules: list[dict[str, Any]], egress: bool) -> list[dict[str, Any]]:
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


class Vpc:
    """One VPC and everything in it, written into its account-region's responses.

    `g` numbers VPCs across the estate and picks the mix: half are PCI (tag
    data-classification=pci), a fifth are internet-facing (half of those PCI); `x` numbers
    them within the account-region and picks the CIDR 10.x.0.0/16."""

    def __init__(self, reg: Region, ids: Ids, g: int, x: int, tgw: dict[str, Any] | None) -> None:
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
            "Tags": tags(Name=self.name, data_classification="pci" if self.pci else "internal",
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
             "Tags": tags(Name=f"{self.name}-{tier}-{az}", tier=tier)}
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
                "Attachments": [{"State": "available", "VpcId": self.id}], "Tags": tags(Name=f"{self.name}-igw")})
            self.reg.add("ec2", "DescribeNatGateways", "NatGateways", {
                "NatGatewayId": self.nat, "VpcId": self.id, "SubnetId": self.pub[0]["SubnetId"],
                "State": "available", "ConnectivityType": "public", "CreateTime": "2025-06-01T10:00:00Z",
                "NatGatewayAddresses": [{"AllocationId": alloc, "NetworkInterfaceId": nat_eni,
                                         "PrivateIp": private_ip, "PublicIp": public_ip, "IsPrimary": True,
                                         "Status": "succeeded"}],
                "Tags": tags(Name=f"{self.name}-nat")})
            self.reg.add("ec2", "DescribeAddresses", "Addresses", {
                "AllocationId": alloc, "PublicIp": public_ip, "Domain": "vpc", "NetworkInterfaceId": nat_eni,
                "PrivateIpAddress": private_ip, "AssociationId": self.ids("eipassoc"),
                "NetworkInterfaceOwnerId": self.a, "PublicIpv4Pool": "amazon", "NetworkBorderGroup": self.region,
                "Tags": tags(Name=f"{self.name}-nat-eip")})
            self.eni(self.pub[0], 5, [], "nat_gateway", f"Interface for NAT Gateway {self.nat}", requester=True,
                     public_ip=public_ip, eni=nat_eni)
        if self.vgw:
            self.reg.add("ec2", "DescribeVpnGateways", "VpnGateways", {
                "VpnGatewayId": self.vgw, "State": "available", "Type": "ipsec.1", "AmazonSideAsn": 64512,
                "VpcAttachments": [{"State": "attached", "VpcId": self.id}], "Tags": tags(Name=f"{self.name}-vgw")})

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
                "IpPermissions": sg_permissions(rules[role], False),
                "IpPermissionsEgress": sg_permissions(rules[role], True),
                "Tags": [] if role == "default" else tags(Name=f"{self.name}-{role}")})
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
                "PolicyDocument": FULL_ACCESS if self.g % 4 == 1 else org_policy(org), "RouteTableIds": [],
                "SubnetIds": [s["SubnetId"] for s in self.app],
                "Groups": [{"GroupId": self.groups["endpoints"], "GroupName": f"{self.name}-endpoints"}],
                "IpAddressType": "ipv4", "DnsOptions": {"DnsRecordIpType": "ipv4"},
                "PrivateDnsEnabled": not (svc == "logs" and self.g % 6 == 2), "RequesterManaged": False,
                "NetworkInterfaceIds": enis, "CreationTimestamp": "2025-05-01T09:00:00Z",
                "DnsEntries": [{"DnsName": f"{vpce}.{svc}.{self.region}.vpce.amazonaws.com",
                                "HostedZoneId": "Z7HUB22UULQXV"}],
                "Tags": tags(Name=f"{self.name}-{svc}")})

        s3_vpce = self.ids("vpce")
        route = {"Origin": "CreateRoute", "State": "active"}
        s3_list = prefix_list(self.region, "s3")
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
            "PolicyDocument": org_policy(org), "RouteTableIds": private_tables, "SubnetIds": [], "Groups": [],
            "NetworkInterfaceIds": [], "PrivateDnsEnabled": False, "RequesterManaged": False,
            "IpAddressType": "ipv4", "DnsEntries": [], "CreationTimestamp": "2025-05-01T09:00:00Z",
            "Tags": tags(Name=f"{self.name}-s3")})

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
            "Tags": tags(Name=f"{self.name}-{tier}")})
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
                "Tags": tags(Name=f"{self.name}-app-{k}", environment=self.env)}
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
            "TagList": tags(Name=db, data_classification="pci" if self.pci else "internal")})

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


def prefix_list(region: str, service: str) -> str:
    """The id of the AWS-managed prefix list of `service` in `region` (one per region here)."""
    return f"pl-{region.replace('-', '')[:8]}{service[:2]}"


def region_lists(reg: Region, ids: Ids) -> None:
    """What every region of every account lists: the S3 and DynamoDB prefix lists (and their
    entries), the endpoint services, the VPC Block Public Access options."""
    a, region = reg.account, reg.region
    for svc, cidrs in (("s3", ("52.216.0.0/15", "3.5.0.0/19", "16.182.0.0/16")),
                       ("dynamodb", ("3.218.180.0/22", "52.94.0.0/22"))):
        pl = prefix_list(region, svc)
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


def shared(reg: Region, ids: Ids, tgw_needed: bool) -> dict[str, Any] | None:
    """What one account-region has once: the `region_lists`, a Lambda function outside any
    VPC, and (if `tgw_needed`) a transit gateway; its ids, or None."""
    region_lists(reg, ids)
    a, region = reg.account, reg.region
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
        "State": "available", "OwnerId": a, "Tags": tags(Name="core"),
        "Options": {"AmazonSideAsn": 64512, "AutoAcceptSharedAttachments": "disable",
                    "DefaultRouteTableAssociation": "enable", "AssociationDefaultRouteTableId": tgw_rt,
                    "DefaultRouteTablePropagation": "enable", "PropagationDefaultRouteTableId": tgw_rt,
                    "VpnEcmpSupport": "enable", "DnsSupport": "enable"}})
    reg.add("ec2", "DescribeTransitGatewayRouteTables", "TransitGatewayRouteTables", {
        "TransitGatewayRouteTableId": tgw_rt, "TransitGatewayId": tgw, "State": "available",
        "DefaultAssociationRouteTable": True, "DefaultPropagationRouteTable": True, "Tags": []})
    return {"TransitGatewayId": tgw, "TransitGatewayRouteTableId": tgw_rt}


def attach(reg: Region, ids: Ids, tgw: dict[str, Any], vpcs: list[dict[str, Any]]) -> None:
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


def peer(reg: Region, ids: Ids, left: dict[str, Any], right: dict[str, Any]) -> None:
    def side(v: dict[str, Any]) -> dict[str, Any]:
        return {"VpcId": v["VpcId"], "OwnerId": reg.account, "Region": reg.region, "CidrBlock": v["CidrBlock"],
                "CidrBlockSet": [{"CidrBlock": v["CidrBlock"]}]}
    reg.add("ec2", "DescribeVpcPeeringConnections", "VpcPeeringConnections", {
        "VpcPeeringConnectionId": ids("pcx"), "Status": {"Code": "active", "Message": "Active"},
        "RequesterVpcInfo": side(left), "AccepterVpcInfo": side(right), "Tags": []})
