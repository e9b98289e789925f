"""The differential harness: one CloudFormation template evaluated before deploy (read by
`auditor.iac.cloudformation.read_template`) and after (deployed into moto's CloudFormation,
collected live with the real collector), and the verdicts per (rule, resource) compared.

Resources are named the same way in both runs, so that the comparison never depends on the
ids moto draws or on listing order:

- a resource the template declares is named by its logical id (before deploy: the
  `PlanSource.resources` entry's id; after: DescribeStackResources' PhysicalResourceId);
- what AWS creates implicitly is named after what it belongs to: ``Vpc/main-route-table``,
  ``Vpc/default-security-group``, ``Vpc/default-network-acl``, ``Server/eni`` (an instance's
  primary interface), ``StsEndpoint/eni SubnetA`` (an interface endpoint's interface in a
  subnet), ``Nat/eni``;
- a security group rule is named by its group and its content:
  ``AdminSg/ingress tcp 22-22 0.0.0.0/0``.

Everything else (moto's default VPC of the account, the region's Block Public Access
settings) belongs to no template and is left out of the comparison; the test checks that every
resource the template declares is named in both runs.

moto's CloudFormation differs from AWS's in a few documented ways that `complete_deploy`
makes good after `create_stack`, each with the one EC2 call CloudFormation itself makes in
AWS (see MOTO_COMPLETIONS); the resource types moto cannot deploy at all are listed in
MOTO_CANNOT_DEPLOY, and scenarios using them are compared with committed expected verdicts.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Mapping

import yaml

from auditor.findings import Finding
from auditor.model.types import (Instance, Model, NatGateway, NetworkAcl, NetworkInterface, Resource, RouteTable,
                                 SecurityGroup, SecurityGroupRule, VpcEndpoint)

SCENARIOS = Path(__file__).parent / "iac_scenarios"
EXPECTED = SCENARIOS / "expected.yaml"
REGION = "us-east-1"

# Resource types moto 5.2's CloudFormation does not implement: create_stack warns "No Moto
# CloudFormation support for <type>", skips the resource and still reports CREATE_COMPLETE
# (DescribeStackResources then lists an entry without LogicalResourceId). A scenario using one
# is not deployed; its committed expected verdicts stand in (expected.yaml, `deploy: false`).
MOTO_CANNOT_DEPLOY = frozenset({
    "AWS::EKS::Cluster", "AWS::EC2::TransitGatewayAttachment", "AWS::EC2::TransitGatewayVpcAttachment",
    "AWS::EC2::TransitGatewayRouteTable", "AWS::EC2::TransitGatewayRoute",
    "AWS::EC2::TransitGatewayRouteTableAssociation", "AWS::EC2::TransitGatewayRouteTablePropagation",
    "AWS::EC2::NetworkAcl", "AWS::EC2::NetworkAclEntry", "AWS::EC2::SubnetNetworkAclAssociation",
    "AWS::EC2::SecurityGroupEgress", "AWS::EC2::EgressOnlyInternetGateway", "AWS::EC2::VPCCidrBlock",
})

# Properties moto's CloudFormation ignores (checked in moto 5.2's create_from_cloudformation_json
# of each type), and the call CloudFormation makes for them in AWS, which `complete_deploy` makes:
MOTO_COMPLETIONS = {
    # moto records the association in a side table that DescribeRouteTables never reads.
    ("AWS::EC2::SubnetRouteTableAssociation", "*"): "AssociateRouteTable",
    ("AWS::EC2::VPC", "EnableDnsSupport"): "ModifyVpcAttribute",
    ("AWS::EC2::VPC", "EnableDnsHostnames"): "ModifyVpcAttribute",
    # moto ignores MapPublicIpOnLaunch, and left out sets it true on a subnet without an
    # AvailabilityZone (AWS's default is false).
    ("AWS::EC2::Subnet", "MapPublicIpOnLaunch"): "ModifySubnetAttribute",
    # CloudFormation "converts YAML policies to JSON format before calling the API"
    # (AWS::EC2::VPCEndpoint PolicyDocument); moto keeps the mapping and returns its Python repr.
    ("AWS::EC2::VPCEndpoint", "PolicyDocument"): "ModifyVpcEndpoint",
    # Not CloudFormation's but EC2's: a new VPC's default security group admits all traffic from
    # itself; moto's has only the egress rule.
    ("AWS::EC2::VPC", "*"): "AuthorizeSecurityGroupIngress (default security group)",
    # An interface endpoint created without SecurityGroupIds gets the VPC's default security group
    # (CreateVpcEndpoint); moto's has none.
    ("AWS::EC2::VPCEndpoint", "SecurityGroupIds"): "ModifyVpcEndpoint AddSecurityGroupIds",
    # AWS accepts a peering between two VPCs of the same account itself ("If the requester and
    # acceptor VPCs are in the same account, the peering request is accepted without a peering
    # role", AWS::EC2::VPCPeeringConnection); moto leaves it pending-acceptance.
    ("AWS::EC2::VPCPeeringConnection", "*"): "AcceptVpcPeeringConnection",
}
# Properties moto ignores that no call after creation can make good: a template using one is
# compared with committed expected verdicts (`deploy: false`, the reason named there).
MOTO_IGNORES = {
    ("AWS::EC2::Instance", "NetworkInterfaces"): "no public address is assigned, no interface options apply",
    ("AWS::EC2::NatGateway", "ConnectivityType"): "every NAT gateway is public",
    ("AWS::EC2::SecurityGroup", "SecurityGroupEgress"): "the default allow-all egress rule stays",
}
# And one property moto needs that AWS does not: an AWS::EC2::VPCEndpoint without
# VpcEndpointType is a Gateway endpoint in AWS (CreateVpcEndpoint: "Default: Gateway"); moto
# describes it with no type at all. Deployed scenarios name the type; 23 leaves it out.
ENDPOINT_TYPE_REQUIRED = "VpcEndpointType"

# CloudFormation type -> the model's resource type, for naming live resources by logical id.
# The other types of the scenarios create no model resource of their own (they change one).
MODELLED = {
    "AWS::EC2::VPC": "vpc", "AWS::EC2::Subnet": "subnet", "AWS::EC2::RouteTable": "route_table",
    "AWS::EC2::InternetGateway": "internet_gateway", "AWS::EC2::NatGateway": "nat_gateway",
    "AWS::EC2::EIP": "elastic_ip", "AWS::EC2::Instance": "instance", "AWS::EC2::NetworkInterface": "network_interface",
    "AWS::EC2::SecurityGroup": "security_group", "AWS::EC2::VPCEndpoint": "vpc_endpoint",
    "AWS::EC2::VPCPeeringConnection": "vpc_peering", "AWS::EC2::VPNGateway": "vpn_gateway",
    "AWS::EC2::TransitGateway": "transit_gateway", "AWS::EC2::FlowLog": "flow_log",
    "AWS::RDS::DBInstance": "db_instance", "AWS::ElasticLoadBalancingV2::LoadBalancer": "load_balancer",
}
NOT_MODELLED = frozenset({
    "AWS::EC2::VPCGatewayAttachment", "AWS::EC2::Route", "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::SecurityGroupIngress", "AWS::RDS::DBSubnetGroup", "AWS::S3::Bucket",
})


@dataclass(frozen=True)
class Scenario:
    """One template and what expected.yaml says of it."""

    name: str                                   # 01-private-baseline
    path: Path
    deploy: bool
    why_not: str                                # why moto cannot deploy it (deploy false)
    parameters: Mapping[str, Any]               # pack -> parameter -> value; "${Logical}" is the id
    verdicts: Mapping[tuple[str, str], str]     # (rule, resource name) -> status that matters
    unknown: Mapping[tuple[str, str], str]      # (rule, resource name) -> text of the ERROR pre-deploy

    @property
    def template(self) -> bytes:
        return self.path.read_bytes()


def _pair(text: str) -> tuple[str, str]:
    rule, _, name = text.partition(" ")
    if not rule or not name:
        raise ValueError(f"expected '<rule> <resource name>', got {text!r}")
    return rule, name


def load_scenarios() -> list[Scenario]:
    """Every template of tests/iac_scenarios with its expectations (each template has an
    entry and each entry a template: checked here)."""
    doc = yaml.safe_load(EXPECTED.read_text(encoding="utf-8"))
    files = {p.stem: p for p in sorted(SCENARIOS.glob("[0-9][0-9]-*.yaml"))}
    if set(doc) != set(files):
        raise ValueError(f"expected.yaml and the templates differ: only expected {sorted(set(doc) - set(files))}, "
                         f"only templates {sorted(set(files) - set(doc))}")
    out = []
    for name, path in files.items():
        entry = doc[name] or {}
        deploy = entry.get("deploy", True)
        if not deploy and not entry.get("why_not"):
            raise ValueError(f"{name}: deploy false without why_not")
        out.append(Scenario(name, path, bool(deploy), str(entry.get("why_not", "")), entry.get("parameters") or {},
                            {_pair(k): str(v) for k, v in (entry.get("verdicts") or {}).items()},
                            {_pair(k): str(v) for k, v in (entry.get("unknown") or {}).items()}))
    return out


def decode(template: bytes, name: str) -> dict[str, Any]:
    """The template as data, short-form tags in long form (cfn-lint's decoder)."""
    from cfnlint.decode import decode_str

    data, matches = decode_str(template.decode("utf-8"))
    if matches or not isinstance(data, dict):
        raise ValueError(f"{name}: not a template: {[str(m) for m in matches]}")
    return dict(data)


def config_text(scenario: Scenario, account: str, ids: Mapping[str, str]) -> str:
    """An audit config for the scenario's parameters, ``${Logical}`` replaced by the run's id
    of that resource (the synthetic id before deploy, AWS's after)."""
    def subst(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
            return ids[value[2:-1]]
        if isinstance(value, list):
            return [subst(v) for v in value]
        return value

    params = {pack: {k: subst(v) for k, v in values.items()} for pack, values in scenario.parameters.items()}
    doc: dict[str, Any] = {"version": 1, "accounts": [{"id": account}], "regions": [REGION]}
    if params:
        doc["parameters"] = params
    return yaml.safe_dump(doc, sort_keys=False)


# -- deploying into moto -----------------------------------------------------------------

def _clients(account: str, *services: str) -> list[Any]:
    """boto3 clients acting in `account` (moto maps an assumed role's credentials to the role's
    account), one role assumed for all."""
    import boto3

    sts = boto3.client("sts", region_name=REGION)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/deployer",
                            RoleSessionName="deployer")["Credentials"]
    session = boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds["SessionToken"], region_name=REGION)
    return [session.client(s) for s in services]


@dataclass
class Deployed:
    """A stack in moto: logical id -> (type, physical id), and the completions made."""

    account: str
    resources: dict[str, tuple[str, str]] = field(default_factory=dict)
    completions: list[str] = field(default_factory=list)


def deploy(scenario: Scenario, account: str) -> Deployed:
    """create_stack in `account`, every resource of the template deployed (else ValueError
    naming those moto skipped), then `complete_deploy`."""
    template = decode(scenario.template, scenario.name)
    types = {logical: str(body["Type"]) for logical, body in template["Resources"].items()}
    cannot = sorted({t for t in types.values() if t in MOTO_CANNOT_DEPLOY})
    ignored = sorted({f"{t}.{p}" for logical, body in template["Resources"].items()
                      for (t, p) in MOTO_IGNORES if body["Type"] == t and p in body.get("Properties", {})})
    ignored += sorted(f"{logical}: AWS::EC2::VPCEndpoint without {ENDPOINT_TYPE_REQUIRED}"
                      for logical, body in template["Resources"].items()
                      if body["Type"] == "AWS::EC2::VPCEndpoint" and ENDPOINT_TYPE_REQUIRED not in body.get("Properties", {}))
    if cannot or ignored:
        raise ValueError(f"{scenario.name}: moto cannot deploy {cannot} / ignores {ignored}: mark it deploy: false")
    cfn, ec2 = _clients(account, "cloudformation", "ec2")
    cfn.create_stack(StackName=f"s{scenario.name[:2]}", TemplateBody=scenario.template.decode("utf-8"))
    status = cfn.describe_stacks(StackName=f"s{scenario.name[:2]}")["Stacks"][0]["StackStatus"]
    listed = cfn.describe_stack_resources(StackName=f"s{scenario.name[:2]}")["StackResources"]
    out = Deployed(account)
    for r in listed:
        if r.get("LogicalResourceId"):
            out.resources[r["LogicalResourceId"]] = (r["ResourceType"], r.get("PhysicalResourceId", ""))
    # A resource whose Condition is false is not created; any other one missing was skipped.
    missing = sorted(logical for logical in set(types) - set(out.resources)
                     if "Condition" not in template["Resources"][logical])
    if status != "CREATE_COMPLETE" or missing:
        raise ValueError(f"{scenario.name}: stack {status}, resources not deployed: {missing}")
    complete_deploy(template, out, ec2)
    return out


def _resolve(value: Any, deployed: Deployed) -> Any:
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return deployed.resources[value["Ref"]][1]
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        logical = value["Fn::GetAtt"][0] if isinstance(value["Fn::GetAtt"], list) else value["Fn::GetAtt"].split(".")[0]
        return deployed.resources[logical][1]
    return value


def _literal(value: Any, what: str) -> Any:
    """A property value the harness sends itself: it does not evaluate intrinsic functions (that
    is the reader's job, under test here), so a deployed template gives these literally."""
    if isinstance(value, (dict, list)):
        raise ValueError(f"{what}: give it literally in a deployed scenario (the harness makes this call "
                         "for moto and does not evaluate intrinsics)")
    return value


def complete_deploy(template: Mapping[str, Any], deployed: Deployed, ec2: Any) -> None:
    """Make the EC2 calls CloudFormation makes in AWS for the properties moto's CloudFormation
    ignores (MOTO_COMPLETIONS), recording each in `deployed.completions`."""
    for logical, body in template["Resources"].items():
        if logical not in deployed.resources:   # its Condition is false
            continue
        kind, props = body["Type"], body.get("Properties", {})
        physical = deployed.resources[logical][1]
        if kind == "AWS::EC2::VPC":
            # AWS's default security group admits all traffic from itself ("Default security
            # groups for your VPCs", VPC user guide); moto's has the egress rule only.
            [sg] = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [physical]},
                                                         {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]
            ec2.authorize_security_group_ingress(GroupId=sg["GroupId"], IpPermissions=[
                {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": sg["GroupId"]}]}])
            deployed.completions.append(f"{logical}: default security group's ingress from itself")
        if kind == "AWS::EC2::SubnetRouteTableAssociation":
            ec2.associate_route_table(SubnetId=_resolve(props["SubnetId"], deployed),
                                      RouteTableId=_resolve(props["RouteTableId"], deployed))
            deployed.completions.append(f"{logical}: AssociateRouteTable")
        elif kind == "AWS::EC2::VPC":
            for prop in ("EnableDnsSupport", "EnableDnsHostnames"):
                if prop in props:
                    value = bool(_literal(props[prop], f"{logical}.{prop}"))
                    ec2.modify_vpc_attribute(VpcId=physical, **{prop: {"Value": value}})
                    deployed.completions.append(f"{logical}.{prop}: ModifyVpcAttribute")
        elif kind == "AWS::EC2::Subnet":
            # Left out, AWS's default is false; moto sets true on the first subnet it places in an
            # availability zone when the template names none.
            value = bool(_literal(props.get("MapPublicIpOnLaunch", False), f"{logical}.MapPublicIpOnLaunch"))
            ec2.modify_subnet_attribute(SubnetId=physical, MapPublicIpOnLaunch={"Value": value})
            deployed.completions.append(f"{logical}.MapPublicIpOnLaunch: ModifySubnetAttribute")
        elif kind == "AWS::EC2::VPCEndpoint" and isinstance(props.get("PolicyDocument"), dict):
            # moto resolved the intrinsics inside the mapping and kept it: its repr is read back
            # and sent as the JSON document CloudFormation would have sent.
            [ep] = ec2.describe_vpc_endpoints(VpcEndpointIds=[physical])["VpcEndpoints"]
            policy = ast.literal_eval(ep["PolicyDocument"])
            ec2.modify_vpc_endpoint(VpcEndpointId=physical, PolicyDocument=json.dumps(policy))
            deployed.completions.append(f"{logical}.PolicyDocument: ModifyVpcEndpoint")
        if (kind == "AWS::EC2::VPCEndpoint" and props.get("VpcEndpointType") == "Interface"
                and "SecurityGroupIds" not in props):
            # CreateVpcEndpoint: "If this parameter is not specified, we use the default security
            # group for the VPC"; moto leaves the endpoint without any.
            vpc = _resolve(props["VpcId"], deployed)
            [sg] = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                         {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]
            ec2.modify_vpc_endpoint(VpcEndpointId=physical, AddSecurityGroupIds=[sg["GroupId"]])
            deployed.completions.append(f"{logical}.SecurityGroupIds: the VPC's default security group")
        if kind == "AWS::EC2::VPCPeeringConnection" and "PeerOwnerId" not in props and "PeerRegion" not in props:
            ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=physical)
            deployed.completions.append(f"{logical}: AcceptVpcPeeringConnection")


def live_names(deployed: Deployed, model: Model) -> dict[tuple[str, str], str]:
    """(model type, model id) -> logical id, for the stack's resources as the live model holds
    them (an Elastic IP's physical id is its public address; the model's id its allocation)."""
    out: dict[tuple[str, str], str] = {}
    unknown_types = sorted({t for t, _ in deployed.resources.values()} - set(MODELLED) - NOT_MODELLED)
    if unknown_types:
        raise ValueError(f"add {unknown_types} to MODELLED or NOT_MODELLED")
    for logical, (kind, physical) in deployed.resources.items():
        if kind not in MODELLED:
            continue
        mtype = MODELLED[kind]
        found = [r for r in model.of(mtype) if r.account == deployed.account
                 and physical in (r.id, getattr(r, "public_ip", None), getattr(r, "arn", None))]
        if len(found) != 1:
            raise ValueError(f"{logical} ({kind} {physical}): {len(found)} live {mtype} resources match")
        out[(mtype, found[0].id)] = logical
    return out


# -- naming and comparing ------------------------------------------------------------------

class Namer:
    """Names a model's resources the same way in both runs (module docstring)."""

    def __init__(self, model: Model, declared: Mapping[tuple[str, str], str]) -> None:
        self.model, self.declared = model, declared
        self._eni_owner: dict[str, tuple[str, Resource]] = {}
        for ep in model.of("vpc_endpoint"):
            assert isinstance(ep, VpcEndpoint)
            for eni in ep.network_interface_ids:
                self._eni_owner[eni] = ("endpoint", ep)
        for nat in model.of("nat_gateway"):
            assert isinstance(nat, NatGateway)
            for eni in nat.network_interface_ids:
                self._eni_owner[eni] = ("nat", nat)

    def _of(self, type_name: str, rid: str | None) -> str | None:
        if not rid:
            return None
        found = self.model.get(type_name, rid)
        return self.name(found) if found is not None else None

    def name(self, r: Resource) -> str | None:
        """The resource's name, or None for what no template declares. What AWS creates
        implicitly and security group rules are named by what they belong to in both runs
        (the reader gives them addresses of its own, ``Vpc.DefaultSecurityGroup``,
        ``Server.PrimaryNetworkInterface``, ``WebIngress``); the rest by logical id."""
        implicit = self._implicit(r)
        if implicit is not None or isinstance(r, SecurityGroupRule):
            return implicit
        return self.declared.get((r.type_name, r.id))

    def _implicit(self, r: Resource) -> str | None:
        if isinstance(r, RouteTable) and r.is_main:
            vpc = self._of("vpc", r.vpc_id)
            return f"{vpc}/main-route-table" if vpc else None
        if isinstance(r, SecurityGroup) and r.is_default:
            vpc = self._of("vpc", r.vpc_id)
            return f"{vpc}/default-security-group" if vpc else None
        if isinstance(r, NetworkAcl) and r.is_default:
            vpc = self._of("vpc", r.vpc_id)
            return f"{vpc}/default-network-acl" if vpc else None
        if isinstance(r, SecurityGroupRule):
            group = self._of("security_group", r.group_id)
            if group is None:
                return None
            peer = (r.cidr_ipv4 or r.cidr_ipv6 or r.prefix_list_id
                    or (self._of("security_group", r.referenced_group_id) or "?" if r.referenced_group_id else "?"))
            ports = f"{r.from_port}-{r.to_port}" if r.from_port is not None else "all"
            return f"{group}/{'egress' if r.is_egress else 'ingress'} {r.protocol} {ports} {peer}"
        if isinstance(r, NetworkInterface):
            if r.instance_id:
                inst = self._of("instance", r.instance_id)
                primary = self.model.get("instance", r.instance_id)
                if inst and isinstance(primary, Instance) and primary.network_interface_ids[:1] == (r.id,):
                    return f"{inst}/eni"
            kind, owner = self._eni_owner.get(r.id, ("", None))
            if owner is not None:
                name = self.name(owner)
                if name and kind == "endpoint":
                    subnet = self._of("subnet", r.subnet_id)
                    return f"{name}/eni {subnet}" if subnet else None
                return f"{name}/eni" if name else None
        return None


def declared_names(resources: Iterable[Any]) -> dict[tuple[str, str], str]:
    """(model type, model id) -> logical id of the resource a template declares, from a
    PlanSource's `resources`. Resources that change another one (a route, an association, a
    NACL entry) are listed with the id of what they change: the one whose synthetic id is its
    own logical id (``synthetic_id(prefix, LogicalId)``) names it."""
    out: dict[tuple[str, str], str] = {}
    for d in resources:
        own = d.id == d.address or d.id.endswith(f"-{d.address}")
        if own or (d.model_type, d.id) not in out:
            out[(d.model_type, d.id)] = d.address
    return out


Verdicts = dict[tuple[str, str], tuple[str, str]]   # (rule, resource name) -> (status, message)


def rule_key(f: Finding) -> str:
    return f"{f.rule_id}[{f.item}]" if f.item is not None else f.rule_id


def verdicts(findings: Iterable[Finding], model: Model, namer: Namer, account: str) -> tuple[Verdicts, int]:
    """The verdict of each (rule, named resource) of `account`, and how many findings were on
    resources no template declares (left out)."""
    out: Verdicts = {}
    left_out = 0
    for f in findings:
        if f.resource.account != account:
            continue
        found = model.get(f.resource.type, f.resource.id, f.resource.account, f.resource.region)
        name = namer.name(found) if found is not None else None
        if name is None:
            left_out += 1
            continue
        key = (rule_key(f), name)
        if key in out:
            raise ValueError(f"two findings named {key}: name them apart in iac_harness.Namer")
        out[key] = (f.status, f.message)
    return out, left_out


@dataclass(frozen=True)
class Row:
    rule: str
    resource: str
    pre: str
    live: str
    why: str


def compare(scenario: Scenario, pre: Verdicts, live: Verdicts | None) -> list[Row]:
    """Every disagreement: pre-deploy vs live (live None: vs the committed verdicts), the
    listed unknowns (ERROR before deploy, a verdict after), and the verdicts that matter."""
    rows: list[Row] = []

    def st(v: Verdicts | None, key: tuple[str, str]) -> str:
        if v is None:
            return "-"
        return v[key][0] if key in v else "(none)"

    for key, text in scenario.unknown.items():
        status, message = pre.get(key, ("(none)", ""))
        if status != "ERROR" or text not in message:
            rows.append(Row(*key, status, st(live, key), f"listed unknown: want ERROR naming {text!r}; "
                                                         f"got {message[:160]!r}"))
        if live is not None and st(live, key) in ("ERROR", "(none)"):
            rows.append(Row(*key, status, st(live, key), "listed unknown: the live run must have a verdict"))
    if live is not None:
        for key in sorted(set(pre) | set(live)):
            if key in scenario.unknown:
                continue
            if st(pre, key) != st(live, key):
                rows.append(Row(*key, st(pre, key), st(live, key), "disagree"))
        for key, want in scenario.verdicts.items():
            if st(pre, key) != want or st(live, key) != want:
                rows.append(Row(*key, st(pre, key), st(live, key), f"expected.yaml says {want}"))
    else:
        want_all = {**scenario.verdicts, **{k: "ERROR" for k in scenario.unknown}}
        for key in sorted(set(pre) | set(want_all)):
            if st(pre, key) != want_all.get(key, "(none)"):
                rows.append(Row(*key, st(pre, key), "-", f"committed verdict {want_all.get(key, '(none)')}"))
    return rows


def table(scenario: Scenario, rows: list[Row]) -> str:
    """The disagreements as a table for the assertion message."""
    head = ("rule", "resource", "pre-deploy", "live", "why")
    cells = [head] + [(r.rule, r.resource, r.pre, r.live, r.why) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    lines = [f"{scenario.name}: {len(rows)} disagreement(s)"]
    lines += ["  " + "  ".join(c[i].ljust(widths[i]) for i in range(4)) + "  " + c[4] for c in cells]
    return "\n".join(lines)


def plan_manifest() -> dict[str, Any]:
    """The manifest a pre-deploy evaluation runs with: a fixed day (it only matters to
    waivers, and there are none here)."""
    return {"started": "2026-01-01T00:00:00Z", "finished": "2026-01-01T00:00:00Z", "files": {}}
