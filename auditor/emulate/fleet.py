"""A deterministic estate of N accounts x R regions, answered call by call (for the fleet server).

    fleet = Fleet(accounts=100, regions=20, seed=0)
    fleet.answer("100000000003", "eu-west-1", "ec2", "DescribeVpcs", {})   # botocore's output shape

Accounts are ``100000000000 + i``; account 0 is the organisation's management account (the
base credentials' account). The regions are the first R of `REGION_ORDER`. Everything is a
function of (seed, account, region): an account-region's answers are generated on first
request (random.Random seeded with that triple, no other randomness) and kept in a bounded
LRU cache, so memory stays flat at any fleet size.

The mix: every account has a fuller estate in 1 or 2 "workload" regions (the first region
for all, a second one for odd accounts): 2 or 3 VPCs, each with subnets over 3 AZs, route
tables with routes, security groups with rules, NACLs, ENIs, instances, interface endpoints
with policies and an S3 gateway endpoint, flow logs, RDS, load balancers, Lambda and EKS
(`auditor.emulate.fleet_shapes.Vpc`), an internet-facing VPC with IGW and NAT on some
(about one in five), a transit gateway with attachments on most. Pairs of accounts (0-1,
2-3, ...; two pairs in three) peer their first VPCs across accounts in the first region,
with routes on both sides, so accounts are connected. The other regions are near-empty:
the default VPC (default subnets, main route table, IGW, NACL and security group) in about
seven in ten, nothing in the rest. Every region of every account lists the S3 and DynamoDB
prefix lists with entries, 18 endpoint services and the VPC Block Public Access options.

`Fleet.answer` serves the collector's catalogue (`auditor.collect.catalog.regional_calls()`,
including the per-item calls) with AWS's pagination, and `Fleet.account_call` the account
calls (sts GetCallerIdentity and AssumeRole, organizations ListAccounts, ec2
DescribeRegions). Refusals are `FleetError`s carrying AWS's error code and HTTP status.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping

from auditor.emulate.fleet_shapes import AZS, Ids, Region, Vpc, attach, region_lists, shared, sg_permissions, tags

REGION_ORDER = ("us-east-1", "eu-west-1", "us-west-2", "eu-central-1", "ap-southeast-2", "ap-northeast-1",
                "ca-central-1", "sa-east-1", "eu-north-1", "ap-south-1", "us-east-2", "us-west-1", "eu-west-2",
                "eu-west-3", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "eu-south-1", "me-central-1",
                "af-south-1", "ap-east-1", "eu-central-2", "il-central-1", "ap-south-2")
FIRST_ACCOUNT = 100000000000
KEY_PREFIX = "ASIAFLEET"          # assumed-role access keys: ASIAFLEET + the role's account
ROLE_SESSION = "fleet"
# Page sizes AWS uses when the caller gives no limit (EC2's Describe* return everything then).
DEFAULT_PAGE = {"rds": 100, "elb": 400, "elbv2": 400, "lambda": 50, "eks": 100, "organizations": 20}
_LIMITS = frozenset({"MaxResults", "MaxRecords", "MaxItems", "PageSize", "maxResults", "NextToken", "nextToken",
                     "Marker", "DryRun"})
_NOT_FOUND = {"DescribeVpcAttribute": ("InvalidVpcID.NotFound", 400),
              "GetManagedPrefixListEntries": ("InvalidPrefixListID.NotFound", 400),
              "SearchTransitGatewayRoutes": ("InvalidRouteTableID.NotFound", 400),
              "GetTransitGatewayRouteTableAssociations": ("InvalidRouteTableID.NotFound", 400),
              "GetTransitGatewayRouteTablePropagations": ("InvalidRouteTableID.NotFound", 400),
              "DescribeCluster": ("ResourceNotFoundException", 404)}


class FleetError(Exception):
    """A refusal as AWS would answer it: error code, message, HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class Catalogue:
    """What the fleet needs of the collector's catalogue: per (service, operation) the
    response key of its items, and which operations are per-item calls."""

    items_key: Mapping[tuple[str, str], str]
    per_item: frozenset[tuple[str, str]]

    @staticmethod
    def of_collector() -> Catalogue:
        from auditor.collect.catalog import regional_calls

        calls = regional_calls()
        return Catalogue({(s.service, s.operation): s.items_key for s in calls},
                         frozenset((s.service, s.operation) for s in calls if s.for_each is not None))


class Fleet:
    """The estate of `accounts` x `regions` (see the module doc); thread-safe."""

    def __init__(self, accounts: int, regions: int, seed: int = 0, *, cache: int = 256,
                 catalogue: Catalogue | None = None) -> None:
        if not 1 <= regions <= len(REGION_ORDER):
            raise ValueError(f"regions must be 1..{len(REGION_ORDER)}")
        if accounts < 1:
            raise ValueError("accounts must be at least 1")
        self.accounts = tuple(f"{FIRST_ACCOUNT + i:012d}" for i in range(accounts))
        self.regions = REGION_ORDER[:regions]
        self.management = self.accounts[0]
        self.seed = seed
        self.catalogue = catalogue or Catalogue.of_collector()
        self._cache: OrderedDict[tuple[str, str], tuple[Region, dict[Any, Any]]] = OrderedDict()
        self._cache_size = cache
        self._lock = threading.Lock()
        self._index = {a: i for i, a in enumerate(self.accounts)}
        self.generated = 0   # account-regions generated (again after eviction)

    # -- the mix --------------------------------------------------------------------------
    def workload_regions(self, i: int) -> tuple[str, ...]:
        if i % 2 == 1 and len(self.regions) > 1:
            return self.regions[0], self.regions[1 + (i // 2) % (len(self.regions) - 1)]
        return self.regions[:1]

    def peer_of(self, i: int) -> int | None:
        """The account index `i` peers with in the first region, if any."""
        j = i ^ 1
        return j if j < len(self.accounts) and (i // 2) % 3 != 2 else None

    @staticmethod
    def _x(i: int, k: int) -> int:
        """The second octet of account `i`'s VPC `k` (10.x.0.0/16): neighbours never overlap."""
        return (3 * i + k) % 250

    def _ids(self, i: int, j: int) -> Ids:
        return Ids(base=(i * len(REGION_ORDER) + j + 1) << 24)

    def first_vpc(self, i: int) -> tuple[str, str]:
        """Id and CIDR of account `i`'s first VPC in the first region (peering needs both)."""
        return f"vpc-{self._ids(i, 0).base + 1:017x}", f"10.{self._x(i, 0)}.0.0/16"

    def region(self, account: str, region: str) -> tuple[Region, dict[Any, Any]]:
        """The generated answers of one account-region, and its per-item index (cached)."""
        key = (account, region)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        made = self._generate(account, region)
        with self._lock:
            self._cache[key] = made
            self.generated += 1
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return made

    def _generate(self, account: str, region: str) -> tuple[Region, dict[Any, Any]]:
        i, j = self._index[account], self.regions.index(region)
        rng = random.Random(f"{self.seed}/{account}/{region}")
        reg, ids = Region(account, region), self._ids(i, j)
        if region in self.workload_regions(i):
            n = 2 + rng.randrange(2)
            gs = [rng.randrange(420) for _ in range(n)]
            tgw = shared(reg, ids, tgw_needed=rng.random() < 0.7 and any(g % 3 != 0 for g in gs))
            made = [Vpc(reg, ids, g, self._x(i, k), tgw).summary() for k, g in enumerate(gs)]
            if tgw is not None:
                attach(reg, ids, tgw, [v for v in made if v["egress"] == "tgw"])
            peer = self.peer_of(i)
            if j == 0 and peer is not None:
                self._cross_peering(reg, i, peer, made[0])
        else:
            region_lists(reg, ids)
            if rng.random() < 0.7:
                default_vpc(reg, ids)
        index = {(svc, op, _key(params)): page for svc, op, params, page in reg.per_item}
        return reg, index

    def _cross_peering(self, reg: Region, i: int, peer: int, mine: dict[str, Any]) -> None:
        """The peering between account `i`'s first VPC and its peer's, as both accounts list it
        (the even account requests), and the routes to the other side on this side's tables."""
        lo, hi = min(i, peer), max(i, peer)
        pcx = f"pcx-{(1 << 64) + lo:017x}"
        other_vpc, other_cidr = self.first_vpc(peer)

        def side(k: int) -> dict[str, Any]:
            vpc, cidr = self.first_vpc(k)
            return {"VpcId": vpc, "OwnerId": self.accounts[k], "Region": reg.region, "CidrBlock": cidr,
                    "CidrBlockSet": [{"CidrBlock": cidr}]}
        reg.add("ec2", "DescribeVpcPeeringConnections", "VpcPeeringConnections", {
            "VpcPeeringConnectionId": pcx, "Status": {"Code": "active", "Message": "Active"},
            "RequesterVpcInfo": side(lo), "AccepterVpcInfo": side(hi), "Tags": tags(Name=f"peer-{lo}-{hi}")})
        for table in reg.lists.get(("ec2", "DescribeRouteTables", "RouteTables"), []):
            if table["VpcId"] == mine["VpcId"]:
                table["Routes"].append({"DestinationCidrBlock": other_cidr, "VpcPeeringConnectionId": pcx,
                                        "Origin": "CreateRoute", "State": "active"})

    # -- answers --------------------------------------------------------------------------
    def answer(self, account: str, region: str, service: str, operation: str, params: Mapping[str, Any],
               output_members: Mapping[str, str] | None = None,
               paging: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The answer to a regional catalogue call, in botocore's output shape.

        `output_members` maps the output shape's member names to their type names (to put a
        single object where the API returns a structure); `paging` is the operation's entry
        in botocore's paginators (input_token, output_token, limit_key), when it has one."""
        if account not in self._index:
            raise FleetError("AuthFailure", f"account {account} is not part of this fleet", 401)
        if region not in self.regions:
            raise FleetError("AuthFailure" if service == "ec2" else "UnrecognizedClientException",
                             f"region {region} is not enabled for account {account}", 401 if service == "ec2" else 403)
        op = (service, operation)
        if op not in self.catalogue.items_key:
            raise FleetError("InvalidAction" if service in ("ec2", "rds", "elb", "elbv2") else "UnknownOperationException",
                             f"the fleet does not answer {service}:{operation}", 400)
        reg, index = self.region(account, region)
        key = self.catalogue.items_key[op]
        if op in self.catalogue.per_item:
            page = index.get((service, operation, _key(params)))
            if page is None:
                code, status = _NOT_FOUND.get(operation, ("InvalidParameterValue", 400))
                raise FleetError(code, f"{operation}: nothing matches {dict(params)}", status)
            return dict(page)
        items = reg.lists.get((service, operation, key), [])
        if output_members is not None and output_members.get(key) == "structure":
            return {key: items[0]} if items else {}
        return paginate(service, key, items, params, paging)

    def account_call(self, caller: str, service: str, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """The answers of sts GetCallerIdentity / AssumeRole, organizations ListAccounts and
        ec2 DescribeRegions for the caller's account."""
        if (service, operation) == ("sts", "GetCallerIdentity"):
            if caller == self.management:
                arn, user = f"arn:aws:iam::{caller}:user/fleet-admin", f"AIDAFLEET{caller}"
            else:
                arn = f"arn:aws:sts::{caller}:assumed-role/fleet-audit/{ROLE_SESSION}"
                user = f"AROAFLEET{caller}:{ROLE_SESSION}"
            return {"UserId": user, "Account": caller, "Arn": arn}
        if (service, operation) == ("sts", "AssumeRole"):
            role = str(params.get("RoleArn", ""))
            parts = role.split(":")
            target = parts[4] if len(parts) > 5 and parts[2] == "iam" else ""
            if target not in self._index:
                raise FleetError("AccessDenied", f"{caller} is not authorized to perform sts:AssumeRole on {role}", 403)
            session = str(params.get("RoleSessionName", ROLE_SESSION))
            name = parts[5].split("/", 1)[-1]
            expiry = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=int(params.get("DurationSeconds", 3600)))
            return {"Credentials": {"AccessKeyId": f"{KEY_PREFIX}{target}", "SecretAccessKey": "fleet-secret-key",
                                    "SessionToken": f"fleet-session-{target}",
                                    "Expiration": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")},
                    "AssumedRoleUser": {"AssumedRoleId": f"AROAFLEET{target}:{session}",
                                        "Arn": f"arn:aws:sts::{target}:assumed-role/{name}/{session}"}}
        if (service, operation) == ("organizations", "ListAccounts"):
            if caller != self.management:
                raise FleetError("AccessDeniedException", "You don't have permissions to access this resource.", 400)
            items = [{"Id": a, "Arn": f"arn:aws:organizations::{self.management}:account/o-fleet/{a}",
                      "Email": f"aws+{a}@example.org", "Name": f"fleet-{i:04d}", "Status": "ACTIVE",
                      "JoinedMethod": "CREATED" if i else "INVITED", "JoinedTimestamp": "2024-01-01T00:00:00Z"}
                     for i, a in enumerate(self.accounts)]
            return paginate(service, "Accounts", items, params,
                            {"input_token": "NextToken", "output_token": "NextToken", "limit_key": "MaxResults"})
        if (service, operation) == ("ec2", "DescribeRegions"):
            return {"Regions": [{"RegionName": r, "Endpoint": f"ec2.{r}.amazonaws.com",
                                 "OptInStatus": "opt-in-not-required"} for r in self.regions]}
        raise FleetError("InvalidAction", f"the fleet does not answer {service}:{operation}", 400)

    def account_of(self, access_key: str) -> str:
        """The account of an access key: an assumed role's, else the management account's."""
        if access_key.startswith(KEY_PREFIX) and access_key[len(KEY_PREFIX):] in self._index:
            return access_key[len(KEY_PREFIX):]
        return self.management


def _key(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """What identifies a per-item call: its string parameters, without paging ones."""
    return tuple(sorted((k, v) for k, v in params.items() if isinstance(v, str) and k not in _LIMITS))


def paginate(service: str, key: str, items: list[Any], params: Mapping[str, Any],
             paging: Mapping[str, Any] | None) -> dict[str, Any]:
    """One page of `items` under `key` as AWS pages it: the caller's limit (else the service's
    default page size, else everything) and an opaque continuation token."""
    if not paging:
        return {key: list(items)}
    in_token, out_token = str(paging["input_token"]), str(paging["output_token"])
    limit_key = paging.get("limit_key")
    start = 0
    token = params.get(in_token)
    if token:
        try:
            start = int(base64.urlsafe_b64decode(str(token).encode()).decode().removeprefix("fleet:"))
        except ValueError:
            raise FleetError("InvalidPaginationToken" if service == "ec2" else "InvalidParameterValue",
                             f"invalid {in_token}: {token!r}", 400) from None
    limit = params.get(limit_key) if limit_key else None
    size = int(limit) if limit else DEFAULT_PAGE.get(service, len(items) or 1)
    if size < 1:
        raise FleetError("InvalidParameterValue", f"{limit_key} must be at least 1", 400)
    out: dict[str, Any] = {key: list(items[start:start + size])}
    if start + size < len(items):
        out[out_token] = base64.urlsafe_b64encode(f"fleet:{start + size}".encode()).decode()
    return out


def default_vpc(reg: Region, ids: Ids) -> None:
    """The default VPC AWS makes in a region: 172.31.0.0/16, a default subnet per AZ, the main
    route table (local and the internet gateway), the default NACL and security group."""
    a, region = reg.account, reg.region
    vpc, igw, rt, acl, sg = ids("vpc"), ids("igw"), ids("rtb"), ids("acl"), ids("sg")
    cidr = "172.31.0.0/16"
    reg.add("ec2", "DescribeVpcs", "Vpcs", {
        "VpcId": vpc, "CidrBlock": cidr, "State": "available", "OwnerId": a, "IsDefault": True,
        "InstanceTenancy": "default", "DhcpOptionsId": ids("dopt"),
        "CidrBlockAssociationSet": [{"AssociationId": ids("vpc-cidr-assoc"), "CidrBlock": cidr,
                                     "CidrBlockState": {"State": "associated"}}], "Tags": []})
    for attr, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
        reg.call("ec2", "DescribeVpcAttribute", {"VpcId": vpc, "Attribute": attr}, {"VpcId": vpc, key: {"Value": True}})
    subnets = []
    for k, az in enumerate(AZS):
        sid = ids("subnet")
        subnets.append(sid)
        reg.add("ec2", "DescribeSubnets", "Subnets", {
            "SubnetId": sid, "VpcId": vpc, "CidrBlock": f"172.31.{16 * k}.0/20", "State": "available",
            "AvailabilityZone": f"{region}{az}", "AvailableIpAddressCount": 4091, "MapPublicIpOnLaunch": True,
            "AssignIpv6AddressOnCreation": False, "DefaultForAz": True, "OwnerId": a,
            "SubnetArn": f"arn:aws:ec2:{region}:{a}:subnet/{sid}", "Ipv6CidrBlockAssociationSet": [], "Tags": []})
    reg.add("ec2", "DescribeInternetGateways", "InternetGateways", {
        "InternetGatewayId": igw, "OwnerId": a, "Attachments": [{"State": "available", "VpcId": vpc}], "Tags": []})
    reg.add("ec2", "DescribeRouteTables", "RouteTables", {
        "RouteTableId": rt, "VpcId": vpc, "OwnerId": a, "PropagatingVgws": [], "Tags": [],
        "Associations": [{"Main": True, "RouteTableAssociationId": ids("rtbassoc"), "RouteTableId": rt,
                          "AssociationState": {"State": "associated"}}],
        "Routes": [{"DestinationCidrBlock": cidr, "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"},
                   {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw, "Origin": "CreateRoute",
                    "State": "active"}]})
    allow = [{"RuleNumber": n, "Egress": e, "Protocol": "-1", "RuleAction": act, "CidrBlock": "0.0.0.0/0"}
             for e in (False, True) for n, act in ((100, "allow"), (32767, "deny"))]
    reg.add("ec2", "DescribeNetworkAcls", "NetworkAcls", {
        "NetworkAclId": acl, "VpcId": vpc, "IsDefault": True, "OwnerId": a, "Entries": allow, "Tags": [],
        "Associations": [{"NetworkAclAssociationId": ids("aclassoc"), "NetworkAclId": acl, "SubnetId": s}
                         for s in subnets]})
    rules = []
    for egress in (False, True):
        rid = ids("sgr")
        rule: dict[str, Any] = {"SecurityGroupRuleId": rid, "GroupId": sg, "GroupOwnerId": a, "IsEgress": egress,
                                "IpProtocol": "-1", "FromPort": -1, "ToPort": -1, "Description": "", "Tags": [],
                                "SecurityGroupRuleArn": f"arn:aws:ec2:{region}:{a}:security-group-rule/{rid}"}
        if egress:
            rule["CidrIpv4"] = "0.0.0.0/0"
        else:
            rule["ReferencedGroupInfo"] = {"GroupId": sg, "UserId": a}
        rules.append(rule)
        reg.add("ec2", "DescribeSecurityGroupRules", "SecurityGroupRules", rule)
    reg.add("ec2", "DescribeSecurityGroups", "SecurityGroups", {
        "GroupId": sg, "GroupName": "default", "VpcId": vpc, "OwnerId": a, "Description": "default VPC security group",
        "IpPermissions": sg_permissions(rules, False), "IpPermissionsEgress": sg_permissions(rules, True), "Tags": []})
