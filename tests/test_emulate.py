"""The emulator: estate validation, seeding in moto (in-process and over HTTP), moto
extensions, and the seeder's refusal to run outside the emulator.

Reads go through the collector's own SessionFactory (read-only guard, sts:AssumeRole into
each account), so these tests also prove the collector can see what the seeder built.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from auditor.config import load_config
from auditor.emulate import (EmulatedAws, EmulatorRequired, Estate, SeedResult, demo_config_path,
                             demo_estate_path, estate_from_text, load_estate, seed)
from auditor.errors import InputError

PAY, HEALTH, SINK = "111111111111", "222222222222", "333333333333"
US, EU = "us-east-1", "eu-west-1"


class Reader:
    """Guarded, assumed-role clients into the emulator, as the collector makes them."""

    def __init__(self, aws: EmulatedAws) -> None:
        self.aws = aws
        self.factory = aws.session_factory(max_attempts=2)
        self.sessions: dict[str, Any] = {}

    def __call__(self, account: str, service: str, region: str = US) -> Any:
        if account not in self.sessions:
            self.sessions[account] = self.factory.assume_role(self.factory.base(), US, self.aws.role_arn(account),
                                                              "emulate-tests")
        return self.factory.client(self.sessions[account], service, region)


def _vpc_filter(vpc_id: str) -> list[dict[str, Any]]:
    return [{"Name": "vpc-id", "Values": [vpc_id]}]


# -- the demo estate ---------------------------------------------------------------------

def test_demo_estate_loads_and_validates() -> None:
    estate = load_estate(demo_estate_path())
    assert isinstance(estate, Estate)
    assert estate.name == "demo-bank"
    assert estate.account_ids == (PAY, HEALTH)
    assert estate.region_names() == (EU, US)
    pci = next(r for r in estate.regions() if (r.account_id, r.region) == (PAY, US)).vpc("pci-cde")
    interface = [e for e in pci["endpoints"] if e["type"] == "Interface"]
    assert {e["service"] for e in interface} == {"sqs", "sns", "ssm", "ssmmessages", "ec2messages", "ecr.api",
                                                  "ecr.dkr", "sts", "logs", "kms", "secretsmanager",
                                                  "ec2", "eks", "eks-auth", "elasticloadbalancing"}
    assert all(e["private_dns"] and set(e["subnets"]) == {"pci-app-a", "pci-app-b", "pci-app-c"} for e in interface)


def test_demo_config_loads_and_audits_the_demo_estate() -> None:
    config = load_config(demo_config_path())
    estate = load_estate(demo_estate_path())
    assert config.organization == "Example Bank"
    assert [a.id for a in config.accounts] == list(estate.account_ids)
    assert [a.role_arn for a in config.accounts] == [EmulatedAws.role_arn(a) for a in estate.account_ids]
    assert set(config.regions) == set(estate.region_names())
    assert config.scope.selects("vpc-1", {"data-classification": "phi"})
    assert not config.scope.selects("vpc-2", {"role": "egress"})


def _assert_demo_facts(aws: EmulatedAws, ids: SeedResult, estate: Estate) -> None:
    read = Reader(aws)
    pay, health = read(PAY, "ec2"), read(HEALTH, "ec2")

    # Each account sees only its own VPCs (the default VPC was removed).
    assert {v["VpcId"] for v in pay.describe_vpcs()["Vpcs"]} == {ids.id(PAY, US, "vpc", "pci-cde")}
    assert {v["VpcId"] for v in health.describe_vpcs()["Vpcs"]} == {
        ids.id(HEALTH, US, "vpc", "phi-records"), ids.id(HEALTH, US, "vpc", "shared-egress")}
    assert read(HEALTH, "ec2", EU).describe_vpcs()["Vpcs"] == []

    # PCI: no internet or NAT gateway; endpoint policies round-trip exactly.
    pci = ids.id(PAY, US, "vpc", "pci-cde")
    assert pay.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [pci]}])["InternetGateways"] == []
    assert pay.describe_nat_gateways(Filter=_vpc_filter(pci))["NatGateways"] == []
    policy = estate.data["accounts"][0]["regions"][US]["vpcs"][0]["endpoints"][0]["policy"]
    sqs = pay.describe_vpc_endpoints(VpcEndpointIds=[ids.id(PAY, US, "vpc_endpoint", "pci-sqs")])["VpcEndpoints"][0]
    assert json.loads(sqs["PolicyDocument"]) == policy
    assert policy["Statement"][0]["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-examplebank1"}}
    assert sqs["PrivateDnsEnabled"] is True and len(sqs["SubnetIds"]) == 3
    endpoints = pay.describe_vpc_endpoints(Filters=_vpc_filter(pci))["VpcEndpoints"]
    assert len([e for e in endpoints if e["VpcEndpointType"] == "Interface"]) == 15
    s3 = next(e for e in endpoints if e["ServiceName"] == "com.amazonaws.us-east-1.s3")
    assert s3["RouteTableIds"] == [ids.id(PAY, US, "route_table", "pci-private")]
    [flow] = pay.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [pci]}])["FlowLogs"]
    assert flow["TrafficType"] == "ALL" and flow["LogDestinationType"] == "cloud-watch-logs"
    eks = read(PAY, "eks").describe_cluster(name="pci-payments")["cluster"]["resourcesVpcConfig"]
    assert (eks["endpointPublicAccess"], eks["endpointPrivateAccess"]) == (False, True)
    [db] = read(PAY, "rds").describe_db_instances(DBInstanceIdentifier="pci-ledger-db")["DBInstances"]
    assert db["PubliclyAccessible"] is False and db["DBSubnetGroup"]["VpcId"] == pci
    [alb] = read(PAY, "elbv2").describe_load_balancers(Names=["pci-internal-alb"])["LoadBalancers"]
    assert alb["Scheme"] == "internal"

    # PHI: the legacy subnet falls back on the main table, whose default route is the TGW.
    phi = ids.id(HEALTH, US, "vpc", "phi-records")
    tgw = ids.id(HEALTH, US, "transit_gateway", "health-tgw")
    [main] = health.describe_route_tables(Filters=_vpc_filter(phi) + [
        {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    assert main["RouteTableId"] == ids.id(HEALTH, US, "route_table", "phi-main")
    assert {"DestinationCidrBlock": "0.0.0.0/0", "TransitGatewayId": tgw} in [
        {k: r[k] for k in ("DestinationCidrBlock", "TransitGatewayId") if k in r} for r in main["Routes"]]
    legacy = ids.id(HEALTH, US, "subnet", "phi-legacy-a")
    explicit = {a.get("SubnetId") for rt in health.describe_route_tables(Filters=_vpc_filter(phi))["RouteTables"]
                for a in rt["Associations"]}
    assert legacy not in explicit
    assert health.describe_subnets(SubnetIds=[legacy])["Subnets"][0]["MapPublicIpOnLaunch"] is True

    # PHI: the other planted violations.
    def instance(name: str) -> dict[str, Any]:
        found = health.describe_instances(InstanceIds=[ids.id(HEALTH, US, "instance", name)])
        return found["Reservations"][0]["Instances"][0]  # type: ignore[no-any-return]
    assert instance("phi-bastion-1").get("PublicIpAddress")
    eip = health.describe_addresses(AllocationIds=[ids.id(HEALTH, US, "elastic_ip", "phi-worker-eip")])["Addresses"][0]
    assert eip["InstanceId"] == ids.id(HEALTH, US, "instance", "phi-worker-1")
    phi_sqs = health.describe_vpc_endpoints(VpcEndpointIds=[ids.id(HEALTH, US, "vpc_endpoint", "phi-sqs")])["VpcEndpoints"][0]
    assert phi_sqs["PrivateDnsEnabled"] is False
    assert json.loads(phi_sqs["PolicyDocument"])["Statement"][0].get("Condition") is None  # full access
    assert len(health.describe_vpc_endpoints(Filters=_vpc_filter(phi))["VpcEndpoints"]) == 2
    bastion = health.describe_security_groups(GroupIds=[ids.id(HEALTH, US, "security_group", "phi-bastion")])
    assert bastion["SecurityGroups"][0]["IpPermissions"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    assert bastion["SecurityGroups"][0]["IpPermissions"][0]["FromPort"] == 22
    assert read(HEALTH, "elbv2").describe_load_balancers(Names=["phi-portal"])["LoadBalancers"][0]["Scheme"] \
        == "internet-facing"
    assert read(HEALTH, "rds").describe_db_instances(
        DBInstanceIdentifier="phi-records-db")["DBInstances"][0]["PubliclyAccessible"] is True
    functions = {f["FunctionName"]: f for f in read(HEALTH, "lambda").list_functions()["Functions"]}
    assert not functions["phi-claims-export"].get("VpcConfig", {}).get("SubnetIds")
    assert health.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [phi]}])["FlowLogs"] == []

    # Transit: static routes read back with their attachment (moto_ext fix) and blackhole.
    spokes = ids.id(HEALTH, US, "transit_gateway_route_table", "spokes")
    routes = {r["DestinationCidrBlock"]: r for r in health.search_transit_gateway_routes(
        TransitGatewayRouteTableId=spokes, Filters=[{"Name": "state", "Values": ["active", "blackhole"]}])["Routes"]}
    assert routes["0.0.0.0/0"]["TransitGatewayAttachments"][0]["ResourceId"] == ids.id(HEALTH, US, "vpc", "shared-egress")
    assert routes["10.0.0.0/8"]["State"] == "blackhole"
    egress_rt = health.describe_route_tables(RouteTableIds=[ids.id(HEALTH, US, "route_table", "egress-tgw")])
    assert {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": ids.id(HEALTH, US, "nat_gateway", "egress-nat-a")} in [
        {k: r[k] for k in ("DestinationCidrBlock", "NatGatewayId") if k in r} for r in egress_rt["RouteTables"][0]["Routes"]]

    # Block Public Access, through the moto extension.
    for account, region, mode, state in ((PAY, US, "block-bidirectional", "update-complete"),
                                         (PAY, EU, "block-bidirectional", "update-complete"),
                                         (HEALTH, US, "off", "default-state")):
        options = read(account, "ec2", region).describe_vpc_block_public_access_options()["VpcBlockPublicAccessOptions"]
        assert (options["InternetGatewayBlockMode"], options["State"]) == (mode, state)
        assert (options["AwsAccountId"], options["AwsRegion"]) == (account, region)


def test_demo_estate_seeds_in_process() -> None:
    estate = load_estate(demo_estate_path())
    with EmulatedAws(mode="inprocess") as aws:
        assert aws.endpoint_url is None
        ids = seed(estate, aws)
        _assert_demo_facts(aws, ids, estate)


@pytest.mark.server
def test_demo_estate_seeds_over_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someone-real")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://example.invalid")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    estate = load_estate(demo_estate_path())
    with EmulatedAws(mode="server") as aws:
        assert aws.endpoint_url is not None and aws.endpoint_url.startswith("http://127.0.0.1:")
        assert os.environ["AWS_ENDPOINT_URL"] == aws.endpoint_url
        assert "AWS_PROFILE" not in os.environ and os.environ["AWS_ACCESS_KEY_ID"] == "testing"
        ids = seed(estate, aws)
        _assert_demo_facts(aws, ids, estate)
    assert os.environ["AWS_PROFILE"] == "someone-real"
    assert os.environ["AWS_ENDPOINT_URL"] == "https://example.invalid"
    assert "AWS_ACCESS_KEY_ID" not in os.environ


# -- features the demo does not use, in a small estate -----------------------------------

KITCHEN_SINK = """
estate: kitchen-sink
accounts:
  - id: "333333333333"
    regions:
      eu-west-1:
        default_vpc: true
        block_public_access:
          mode: block-ingress
          exclusions: [{vpc: edge, mode: allow-bidirectional}, {subnet: core-a, mode: allow-egress}]
        vpcs:
          - name: core
            cidr: 10.1.0.0/16
            ipv6: true
            egress_only_internet_gateway: true
            vpn_gateway: true
            subnets:
              - {name: core-a, cidr: 10.1.1.0/24, az: a, route_table: core-rt}
              - {name: core-b, cidr: 10.1.2.0/24, az: b}
            route_tables:
              - name: core-rt
                routes:
                  - {destination: "::/0", target: eigw}
                  - {destination: 172.16.0.0/12, target: vgw}
                  - {destination: 10.2.0.0/16, target: "pcx:core-edge"}
                  - {destination: 192.168.0.0/24, target: "instance:appliance"}
                  - {destination: 192.168.1.0/24, target: "eni:firewall-eni"}
                  - {destination: 0.0.0.0/0, target: "vpce:inspection"}
                  - {destination: "pl:dynamodb", target: "nat:core-nat"}
            nat_gateways: [{name: core-nat, subnet: core-b, connectivity: private}]
            security_groups:
              - name: core-sg
                ingress: [{protocol: icmp, cidr: 10.0.0.0/8}, {protocol: udp, ports: "1000-2000", cidr: "2001:db8::/32"}]
                egress: [{protocol: all, prefix_list: dynamodb}]
            network_interfaces: [{name: firewall-eni, subnet: core-b, security_groups: [core-sg]}]
            instances: [{name: appliance, subnet: core-b}]
            endpoints:
              - {name: inspection, service: com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0,
                 type: GatewayLoadBalancer, subnets: [core-b]}
            network_acls:
              - name: core-acl
                subnets: [core-a]
                entries:
                  - {rule: 100, direction: ingress, action: allow, protocol: tcp, ports: 443, cidr: 10.0.0.0/8}
                  - {rule: 200, direction: ingress, action: deny, protocol: all, cidr: 0.0.0.0/0}
            flow_logs: {traffic: REJECT, destination: s3}
          - name: edge
            cidr: 10.2.0.0/16
        peerings: [{name: core-edge, requester: core, accepter: edge}]
"""


def test_kitchen_sink_estate_round_trips() -> None:
    with EmulatedAws() as aws:
        ids = seed(estate_from_text(KITCHEN_SINK, "sink.yaml"), aws)
        ec2 = Reader(aws)(SINK, "ec2", EU)

        def get(kind: str, name: str) -> str:
            return ids.id(SINK, EU, kind, name)

        core = get("vpc", "core")
        vpc = ec2.describe_vpcs(VpcIds=[core])["Vpcs"][0]
        assert vpc["Ipv6CidrBlockAssociationSet"]
        assert ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"] \
            == get("default_vpc", "default")
        routes = ec2.describe_route_tables(RouteTableIds=[get("route_table", "core-rt")])["RouteTables"][0]["Routes"]
        by_dest = {r.get("DestinationCidrBlock") or r.get("DestinationIpv6CidrBlock") or r["DestinationPrefixListId"]: r
                   for r in routes}
        assert by_dest["::/0"]["EgressOnlyInternetGatewayId"] == get("egress_only_internet_gateway", "core")
        assert by_dest["172.16.0.0/12"]["GatewayId"] == get("vpn_gateway", "core")
        assert by_dest["10.2.0.0/16"]["VpcPeeringConnectionId"] == get("vpc_peering", "core-edge")
        assert by_dest["192.168.0.0/24"]["InstanceId"] == get("instance", "appliance")
        assert by_dest["192.168.1.0/24"]["NetworkInterfaceId"] == get("network_interface", "firewall-eni")
        assert by_dest["0.0.0.0/0"]["GatewayId"] == get("vpc_endpoint", "inspection")  # moto reports vpce as GatewayId
        dynamodb = ec2.describe_managed_prefix_lists(
            Filters=[{"Name": "prefix-list-name", "Values": ["com.amazonaws.eu-west-1.dynamodb"]}])["PrefixLists"][0]
        assert by_dest[dynamodb["PrefixListId"]]["NatGatewayId"] == get("nat_gateway", "core-nat")
        assert ec2.describe_vpc_peering_connections(
            VpcPeeringConnectionIds=[get("vpc_peering", "core-edge")])["VpcPeeringConnections"][0]["Status"]["Code"] == "active"
        [group] = ec2.describe_security_groups(GroupIds=[get("security_group", "core-sg")])["SecurityGroups"]
        assert {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort")) for p in group["IpPermissions"]} == {
            ("icmp", -1, -1), ("udp", 1000, 2000)}
        assert [p["IpProtocol"] for p in group["IpPermissionsEgress"]] == ["-1"]
        assert group["IpPermissionsEgress"][0]["PrefixListIds"][0]["PrefixListId"] == dynamodb["PrefixListId"]
        [acl] = ec2.describe_network_acls(NetworkAclIds=[get("network_acl", "core-acl")])["NetworkAcls"]
        assert [a["SubnetId"] for a in acl["Associations"]] == [get("subnet", "core-a")]
        assert {(e["RuleNumber"], e["RuleAction"]) for e in acl["Entries"] if not e["Egress"]} >= {(100, "allow"), (200, "deny")}
        [flow] = ec2.describe_flow_logs()["FlowLogs"]
        assert (flow["TrafficType"], flow["LogDestinationType"]) == ("REJECT", "s3")
        options = ec2.describe_vpc_block_public_access_options()["VpcBlockPublicAccessOptions"]
        assert options["InternetGatewayBlockMode"] == "block-ingress"
        exclusions = {e["ResourceArn"]: e for e in ec2.describe_vpc_block_public_access_exclusions()[
            "VpcBlockPublicAccessExclusions"]}
        assert exclusions[f"arn:aws:ec2:{EU}:{SINK}:vpc/{get('vpc', 'edge')}"]["InternetGatewayExclusionMode"] \
            == "allow-bidirectional"
        assert exclusions[f"arn:aws:ec2:{EU}:{SINK}:subnet/{get('subnet', 'core-a')}"]["State"] == "create-complete"
        # An account the estate never touched reads as BPA never turned on.
        fresh = Reader(aws)("444444444444", "ec2", EU).describe_vpc_block_public_access_options()
        assert fresh["VpcBlockPublicAccessOptions"]["InternetGatewayBlockMode"] == "off"
        assert fresh["VpcBlockPublicAccessOptions"]["ExclusionsAllowed"] == "allowed"


# -- broken estates ------------------------------------------------------------------------

def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "estate.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_estate(path)
    return [p.render() for p in caught.value.problems]


HEAD = '''estate: broken
accounts:
  - id: "111111111111"
    regions:
      us-east-1:
        vpcs:
          - name: app
'''


def test_unknown_key_is_located_with_a_suggestion(tmp_path: Path) -> None:
    [problem] = _problems(tmp_path, HEAD + "            cidr: 10.0.0.0/16\n            subnet: []\n")
    assert problem.startswith(f"{tmp_path / 'estate.yaml'}:9:13 ")
    assert "unknown key 'subnet' (did you mean 'subnets'?)" in problem


def test_bad_cidr_is_located(tmp_path: Path) -> None:
    [problem] = _problems(tmp_path, HEAD + "            cidr: 10.0.0.0/33\n")
    assert ":8:19 " in problem and "'10.0.0.0/33' is not a valid CIDR" in problem


def test_undefined_route_table_and_route_target_are_located(tmp_path: Path) -> None:
    problems = _problems(tmp_path, HEAD + """            cidr: 10.0.0.0/16
            subnets: [{name: app-a, cidr: 10.0.1.0/24, az: a, route_table: privte}]
            route_tables:
              - {name: private, routes: [{destination: 0.0.0.0/0, target: "nat:nowhere"}]}
""")
    assert any(":9:" in p and "no route table named 'privte' in VPC 'app' (did you mean 'private'?)" in p
               for p in problems)
    assert any(":11:" in p and "no NAT gateway named 'nowhere'" in p for p in problems)


def test_duplicate_names_and_subnet_outside_vpc(tmp_path: Path) -> None:
    problems = _problems(tmp_path, HEAD + """            cidr: 10.0.0.0/16
            subnets:
              - {name: a, cidr: 10.0.1.0/24, az: a}
              - {name: a, cidr: 10.9.1.0/24, az: b}
""")
    assert any(":11:24 " in p and "duplicate subnet name 'a'" in p and "line 10" in p for p in problems)
    assert any(":11:" in p and "10.9.1.0/24 is not inside the VPC's block 10.0.0.0/16" in p for p in problems)


def test_malformed_yaml_is_located(tmp_path: Path) -> None:
    [problem] = _problems(tmp_path, HEAD + "            cidr: [10.0.0.0/16\n")
    assert "YAML syntax error" in problem and "estate.yaml:" in problem


def test_unknown_region_and_unquoted_account(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "estate: x\naccounts:\n  - id: 111111111111\n    regions: {us-east-1: {}}\n")
    assert any(":3:9 " in p and "write the account id in quotes" in p for p in problems)
    problems = _problems(tmp_path, 'estate: x\naccounts:\n  - id: "111111111111"\n    regions: {us-east1: {}}\n')
    assert any(":4:15 " in p and "'us-east1' is not a known AWS region name (did you mean 'us-east-1'?)" in p
               for p in problems)


# -- safety ------------------------------------------------------------------------------

TINY = 'estate: tiny\naccounts:\n  - id: "111111111111"\n    regions:\n      us-east-1:\n        vpcs: [{name: v, cidr: 10.0.0.0/16}]\n'


def test_seed_refuses_outside_an_active_emulator() -> None:
    estate = estate_from_text(TINY)
    with pytest.raises(EmulatorRequired, match="only builds estates inside the moto emulator"):
        seed(estate, object())  # type: ignore[arg-type]
    idle = EmulatedAws()
    with pytest.raises(EmulatorRequired, match="not active"):
        seed(estate, idle)
    with idle:
        assert seed(estate, idle).id(PAY, US, "vpc", "v").startswith("vpc-")
    with pytest.raises(EmulatorRequired, match="not active"):
        seed(estate, idle)


def test_emulators_do_not_nest_and_state_is_reset() -> None:
    from auditor.emulate import moto_ext

    estate = estate_from_text(TINY)
    with EmulatedAws() as aws:
        assert moto_ext.installed()
        first = seed(estate, aws)
        with pytest.raises(RuntimeError, match="already active"):
            with EmulatedAws():
                pass
    with EmulatedAws() as aws:
        # Nothing survived the first emulator: only the fresh account's default VPC is there.
        assert [v["IsDefault"] for v in Reader(aws)(PAY, "ec2").describe_vpcs()["Vpcs"]] == [True]
        assert seed(estate, aws).ids.keys() == first.ids.keys()
    # moto is left as shipped for plain mock_aws users (other tests expect NotImplemented).
    from moto.ec2.responses import EC2Response

    assert not moto_ext.installed()
    assert not hasattr(EC2Response, "describe_vpc_block_public_access_options")


def test_install_builds_the_rest_services_routers_before_any_request_does() -> None:
    """moto builds a REST service's werkzeug router on first use, with no lock, and werkzeug
    builds rules with Python's `ast`, which CPython 3.11 cannot do on two threads at once: the
    routers of the catalogue's REST services are built by install(), on its own thread."""
    import moto.core.routing as routing
    from moto.core.utils import get_service_model

    from auditor.collect.catalog import regional_calls
    from auditor.emulate import moto_ext

    routing.get_service_router.cache_clear()   # as in a process where no REST request was routed yet
    rest = sorted(s for s in {spec.service for spec in regional_calls()}
                  if get_service_model(s).protocol.startswith("rest-"))
    assert rest, "the catalogue has REST services (EKS, Lambda)"
    moto_ext.install()
    try:
        for service in rest:
            protocol = get_service_model(service).protocol
            assert protocol in routing.get_service_router(service)._routers, service
    finally:
        moto_ext.uninstall()
