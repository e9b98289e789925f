"""The Terraform plan reader (auditor/iac/terraform.py): hand-written plan fixtures
(tests/fixtures/iac/terraform/, see its README) evaluated with the built-in packs, verdict
by verdict; values known only after apply are ERROR naming the attribute; bad input is a
clear IacError or a SourceProblem, never a traceback and never a PASS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditor.iac.base import DEFAULT_ACCOUNT, IacError, PlanSource, network_relevant
from auditor.iac.terraform import SUPPORTED, read_plan
from auditor.model.build import build_model
from auditor.rules.engine import Evaluation
from auditor.scan import ScanInputs, evaluate_evidence, prepare

FIXTURES = Path(__file__).parent / "fixtures" / "iac" / "terraform"
ACCOUNT = "111111111111"
MANIFEST = {"finished": "2026-12-01T00:00:00Z"}


@pytest.fixture(scope="module")
def inputs() -> ScanInputs:
    return prepare(None)


def _read(name: str, **kw: Any) -> PlanSource:
    kw.setdefault("account", ACCOUNT)
    return read_plan((FIXTURES / name).read_bytes(), name, **kw)


def _evaluate(source: PlanSource, inputs: ScanInputs) -> Evaluation:
    return evaluate_evidence(source.records, MANIFEST, inputs)


def _verdicts(evaluation: Evaluation) -> dict[tuple[str, str, str], str]:
    return {(f.rule_id, f.resource.id, f.item or ""): f.status for f in evaluation.findings}


def _evidence(evaluation: Evaluation, rule: str, resource: str, item: str = "") -> str:
    found = [f for f in evaluation.findings if (f.rule_id, f.resource.id, f.item or "") == (rule, resource, item)]
    assert len(found) == 1, (rule, resource, item)
    return " | ".join(f"{e.observed} {e.expected}" for e in found[0].evidence) + " | " + found[0].message


def _expect(verdicts: dict[tuple[str, str, str], str], expected: dict[tuple[str, str, str], str]) -> None:
    got = {k: verdicts.get(k, "missing") for k in expected}
    assert got == expected


REQUIRED = ("sqs", "sns", "ssm", "ssmmessages", "ec2messages", "ecr.api", "ecr.dkr", "sts", "logs", "kms",
            "secretsmanager")


def test_a_compliant_private_vpc_with_endpoints_passes(inputs: ScanInputs) -> None:
    source = _read("private_endpoints.json")
    assert (source.kind, source.format_version, source.account, source.regions) == (
        "terraform-plan", "1.2", ACCOUNT, ("eu-west-1",))
    assert not source.problems and not source.unsupported
    evaluation = _evaluate(source, inputs)
    verdicts = _verdicts(evaluation)
    vpc, a, b = "vpc-aws_vpc.main", 'subnet-aws_subnet.app["a"]', 'subnet-aws_subnet.app["b"]'
    expected = {("PN-001", vpc, ""): "PASS", ("PN-013", vpc, ""): "PASS", ("VE-003", vpc, ""): "PASS",
                ("TF-006", vpc, ""): "PASS", ("TF-001", "sg-aws_vpc.main.default_security_group", ""): "PASS",
                ("VE-006", a, "s3"): "PASS", ("VE-006", b, "s3"): "PASS"}
    for subnet in (a, b):
        expected |= {(rule, subnet, ""): "PASS" for rule in ("PN-002", "PN-004", "PN-006", "PN-007", "PN-014")}
    expected |= {("VE-001", vpc, s): "PASS" for s in REQUIRED}
    for s in REQUIRED:
        ep = f'vpce-aws_vpc_endpoint.interface["{s}"]'
        expected |= {(rule, ep, ""): "PASS" for rule in ("EP-001", "EP-002", "VE-002", "VE-004", "VE-005")}
    expected[("EP-001", "vpce-aws_vpc_endpoint.s3", "")] = "PASS"
    _expect(verdicts, expected)
    # Only what a plan cannot say is ERROR: account settings and functions (not covered).
    errors = {k for k, v in verdicts.items() if v == "ERROR"}
    assert {k[0] for k in errors} == {"PN-011", "PN-012", "SE-003"}
    assert "FAIL" not in verdicts.values()


def test_an_internet_gateway_and_a_public_subnet_fail(inputs: ScanInputs) -> None:
    source = _read("igw_public_subnet.json")
    evaluation = _evaluate(source, inputs)
    vpc, subnet, instance = "vpc-aws_vpc.web", "subnet-aws_subnet.public", "i-aws_instance.bastion"
    _expect(_verdicts(evaluation), {
        ("PN-001", vpc, ""): "FAIL", ("PN-002", subnet, ""): "FAIL", ("PN-007", subnet, ""): "FAIL",
        ("PN-014", subnet, ""): "FAIL", ("PN-008", instance, ""): "FAIL", ("PN-003", vpc, ""): "PASS",
        ("VE-003", vpc, ""): "PASS",
        # A new VPC's default security group keeps AWS's rules unless the plan declares it.
        ("TF-001", "sg-aws_vpc.web.default_security_group", ""): "FAIL"})
    # The route's gateway_id was known only after apply: the reference gave the IGW's id.
    assert "igw-aws_internet_gateway.gw" in _evidence(evaluation, "PN-002", subnet)
    # The public IP will exist (the subnet maps one) but its value is not known: a placeholder.
    assert "public IP assigned at apply: aws_instance.bastion" in _evidence(evaluation, "PN-008", instance)
    assert any("implicit main route table" in n for n in source.notes)


def test_the_path_through_a_transit_gateway_to_an_egress_vpc_nat_and_igw(inputs: ScanInputs) -> None:
    evaluation = _evaluate(_read("tgw_egress_nat.json"), inputs)
    app = "subnet-aws_subnet.app"
    _expect(_verdicts(evaluation), {
        ("PN-001", "vpc-aws_vpc.app", ""): "PASS", ("PN-002", app, ""): "PASS", ("PN-004", app, ""): "PASS",
        ("PN-014", app, ""): "FAIL",
        ("PN-001", "vpc-aws_vpc.egress", ""): "FAIL", ("PN-003", "vpc-aws_vpc.egress", ""): "FAIL",
        ("PN-004", "subnet-aws_subnet.egress_tgw", ""): "FAIL", ("PN-014", "subnet-aws_subnet.egress_tgw", ""): "FAIL",
        ("PN-002", "subnet-aws_subnet.egress_public", ""): "FAIL"})
    text = _evidence(evaluation, "PN-014", app)
    for hop in ("tgw-aws_ec2_transit_gateway.hub", "tgw-rtb-aws_ec2_transit_gateway.hub.default_route_table",
                "nat-aws_nat_gateway.egress", "igw-aws_internet_gateway.egress"):
        assert hop in text


def test_values_known_only_after_apply_are_error_naming_the_attribute(inputs: ScanInputs) -> None:
    source = _read("known_after_apply.json")
    evaluation = _evaluate(source, inputs)
    verdicts = _verdicts(evaluation)
    subnet = "subnet-aws_subnet.app"
    for rule in ("PN-002", "PN-004", "PN-014"):
        assert verdicts[(rule, subnet, "")] == "ERROR"
        text = _evidence(evaluation, rule, subnet)
        assert "unknown before deploy: known after apply: aws_subnet.app.cidr_block" in text
    # The zone reaches what reads zones: the endpoint's spread over the workloads' zones.
    assert verdicts[("VE-004", "vpce-aws_vpc_endpoint.ecr", "")] == "ERROR"
    assert "known after apply: aws_subnet.app.availability_zone" in _evidence(evaluation, "VE-004",
                                                                              "vpce-aws_vpc_endpoint.ecr")
    model = build_model(source.records)
    sn = model.get("subnet", subnet)
    assert sn is not None and {u.field for u in sn.unknown} >= {"availability_zone", "cidr"}
    # The NAT gateway id comes from a local: never resolved, an id no resource has.
    rt = model.get("route_table", "rtb-aws_route_table.app")
    assert rt is not None
    nat = [r.target_id for r in rt.routes if r.target_kind == "nat"]
    assert nat == ["nat-(known after apply: aws_route.out.nat_gateway_id)"]
    # A policy from a data source read only at apply: the policy rules are ERROR, never PASS.
    assert verdicts[("EP-001", "vpce-aws_vpc_endpoint.ecr", "")] == "ERROR"
    assert "known after apply: aws_vpc_endpoint.ecr.policy" in _evidence(evaluation, "EP-001",
                                                                          "vpce-aws_vpc_endpoint.ecr")
    assert "PASS" not in {verdicts[(r, subnet, "")] for r in ("PN-002", "PN-004", "PN-006", "PN-014", "PN-016")}


def test_a_module_output_reference_is_followed(inputs: ScanInputs) -> None:
    source = _read("module.json")
    assert {d.address for d in source.resources} == {
        "module.net.aws_vpc.this", "module.net.aws_subnet.private", "module.net.aws_internet_gateway.this",
        "aws_instance.app"}
    model = build_model(source.records)
    instance = model.get("instance", "i-aws_instance.app")
    assert instance is not None
    assert (instance.subnet_id, instance.vpc_id) == ("subnet-module.net.aws_subnet.private",  # type: ignore[attr-defined]
                                                    "vpc-module.net.aws_vpc.this")
    vpc = model.get("vpc", "vpc-module.net.aws_vpc.this")
    assert vpc is not None and vpc.cidr_blocks == ("10.40.0.0/16",)  # type: ignore[attr-defined]
    evaluation = _evaluate(source, inputs)
    _expect(_verdicts(evaluation), {
        ("PN-001", "vpc-module.net.aws_vpc.this", ""): "FAIL",
        ("PN-002", "subnet-module.net.aws_subnet.private", ""): "PASS",
        ("PN-008", "i-aws_instance.app", ""): "PASS"})


def test_count_instances_named_by_index_resolve_and_count_index_does_not(inputs: ScanInputs) -> None:
    source = _read("count.json")
    model = build_model(source.records)
    web = model.get("instance", "i-aws_instance.web")
    assert web is not None and web.subnet_id == "subnet-aws_subnet.a[1]"  # type: ignore[attr-defined]
    any_ = model.get("instance", "i-aws_instance.any")
    assert any_ is not None and any_.subnet_id.startswith("subnet-(known after apply")  # type: ignore[attr-defined]
    evaluation = _evaluate(source, inputs)
    verdicts = _verdicts(evaluation)
    for subnet in ("subnet-aws_subnet.a[0]", "subnet-aws_subnet.a[1]"):
        assert verdicts[("PN-007", subnet, "")] == "FAIL"
        # aws_subnet.a[count.index]: which association takes which subnet is not known: their
        # route table is unknown, never the main one.
        assert verdicts[("PN-002", subnet, "")] == "ERROR"
        assert "aws_route_table_association.a[0].subnet_id" in _evidence(evaluation, "PN-002", subnet)
    assert verdicts[("PN-008", "i-aws_instance.any", "")] == "ERROR"


def test_for_each_keys_resolve_and_each_key_does_not(inputs: ScanInputs) -> None:
    source = _read("for_each.json")
    model = build_model(source.records)
    nat = model.get("nat_gateway", "nat-aws_nat_gateway.private")
    assert nat is not None and nat.subnet_id == 'subnet-aws_subnet.s["public"]'  # type: ignore[attr-defined]
    assert nat.vpc_id == "vpc-aws_vpc.main" and nat.connectivity == "private"  # type: ignore[attr-defined]
    evaluation = _evaluate(source, inputs)
    verdicts = _verdicts(evaluation)
    assert verdicts[("PN-005", "vpc-aws_vpc.main", "")] == "FAIL"
    assert verdicts[("PN-003", "vpc-aws_vpc.main", "")] == "PASS"
    for subnet in ('subnet-aws_subnet.s["private"]', 'subnet-aws_subnet.s["public"]'):
        assert verdicts[("PN-014", subnet, "")] == "ERROR"
        assert 'aws_route_table_association.s["private"].subnet_id' in _evidence(evaluation, "PN-014", subnet)


def test_deleting_the_required_interface_endpoint_fails_the_required_endpoints_rule(inputs: ScanInputs) -> None:
    source = _read("delete_endpoint.json", account=None)
    assert source.account == "222222222222"   # from the state's owner_id
    deleted = [d for d in source.resources if d.action == "delete"]
    assert [(d.address, d.id) for d in deleted] == [('aws_vpc_endpoint.interface["sts"]', "vpce-0a1b2c3d4e5f60007")]
    assert ("222222222222", "eu-west-1", "vpc_endpoint", "vpce-0a1b2c3d4e5f60007") in source.replaces
    model = build_model(source.records)
    assert model.get("vpc_endpoint", "vpce-0a1b2c3d4e5f60007") is None
    assert model.get("vpc_endpoint", "vpce-0a1b2c3d4e5f60000") is not None   # kept: its real id
    verdicts = _verdicts(_evaluate(source, inputs))
    vpc = "vpc-0a1b2c3d4e5f60001"
    assert verdicts[("VE-001", vpc, "sts")] == "FAIL"
    assert {verdicts[("VE-001", vpc, s)] for s in REQUIRED if s != "sts"} == {"PASS"}


def test_default_and_scoped_endpoint_policies(inputs: ScanInputs) -> None:
    source = _read("endpoint_policy.json")
    verdicts = _verdicts(_evaluate(source, inputs))
    _expect(verdicts, {("EP-001", "vpce-aws_vpc_endpoint.s3", ""): "FAIL",
                       ("EP-001", "vpce-aws_vpc_endpoint.dynamodb", ""): "PASS",
                       ("EP-001", "vpce-aws_vpc_endpoint.ecr", ""): "PASS"})
    assert any("aws_vpc_endpoint.s3: no policy declared" in n for n in source.notes)
    assert not any("aws_vpc_endpoint.ecr: no policy declared" in n for n in source.notes)   # aws_vpc_endpoint_policy


def test_public_eks_rds_and_load_balancer(inputs: ScanInputs) -> None:
    source = _read("public_services.json")
    model = build_model(source.records)
    public = model.get("eks_cluster", "public-cluster")
    assert public is not None
    assert (public.endpoint_public_access, public.public_access_cidrs) == (True, ("0.0.0.0/0",))  # type: ignore[attr-defined]
    db = model.get("db_instance", "orders")
    assert db is not None and db.vpc_id == "vpc-aws_vpc.main"  # type: ignore[attr-defined]
    assert db.subnet_ids == ("subnet-aws_subnet.a", "subnet-aws_subnet.b")  # type: ignore[attr-defined]
    _expect(_verdicts(_evaluate(source, inputs)), {
        ("EKS-001", "public-cluster", ""): "FAIL", ("EKS-001", "private-cluster", ""): "PASS",
        ("SE-001", "orders", ""): "FAIL", ("SE-002", "aws_lb.web", ""): "FAIL"})


def test_open_security_groups(inputs: ScanInputs) -> None:
    verdicts = _verdicts(_evaluate(_read("open_security_group.json"), inputs))
    _expect(verdicts, {
        ("TF-002", "sgr-aws_security_group.web.ingress[0].0", ""): "FAIL",
        ("TF-003", "sgr-aws_security_group.web.ingress[0].0", ""): "FAIL",
        ("TF-002", "sgr-aws_security_group_rule.rdp", ""): "FAIL",
        ("TF-003", "sgr-aws_security_group_rule.rdp", ""): "FAIL",
        ("TF-002", "sgr-aws_vpc_security_group_ingress_rule.https", ""): "FAIL",
        ("TF-002", "sgr-aws_vpc_security_group_ingress_rule.from_web", ""): "PASS",
        ("TF-004", "sgr-aws_security_group.web.egress[0].0", ""): "PASS"})


def test_unsupported_types_are_listed(inputs: ScanInputs) -> None:
    source = _read("unsupported.json")
    listed = {(u.address, u.type, u.action, u.line) for u in source.unsupported}
    assert listed == {("aws_s3_bucket.logs", "aws_s3_bucket", "create", None),
                      ("aws_networkfirewall_firewall.edge", "aws_networkfirewall_firewall", "create", None),
                      ("random_id.suffix", "random_id", "create", None)}
    assert network_relevant("aws_networkfirewall_firewall") and not network_relevant("aws_s3_bucket")
    assert [d.address for d in source.resources] == ["aws_vpc.main"]


def test_updates_keep_real_ids_and_aliases_land_in_their_region(inputs: ScanInputs) -> None:
    source = _read("updates_and_regions.json", account=None)
    assert source.account == "333333333333" and source.regions == ("eu-central-1", "eu-west-1")
    ids = {d.address: (d.id, d.action) for d in source.resources}
    assert ids["aws_subnet.app"] == ("subnet-0f0e0d0c0b0a00001", "update")
    assert ids["aws_route_table.app"] == ("rtb-aws_route_table.app", "replace")
    assert {("333333333333", "eu-west-1", "subnet", "subnet-0f0e0d0c0b0a00001"),
            ("333333333333", "eu-west-1", "route_table", "rtb-0f0e0d0c0b0a00001")} <= set(source.replaces)
    model = build_model(source.records)
    dr = model.get("vpc", "vpc-aws_vpc.dr")
    assert dr is not None and dr.region == "eu-central-1"
    subnet = model.get("subnet", "subnet-0f0e0d0c0b0a00001")
    assert subnet is not None and subnet.map_public_ip_on_launch is False  # type: ignore[attr-defined]
    assert subnet.route_table_id == "rtb-aws_route_table.app"  # type: ignore[attr-defined]
    verdicts = _verdicts(_evaluate(source, inputs))
    assert verdicts[("PN-007", "subnet-0f0e0d0c0b0a00001", "")] == "PASS"
    assert verdicts[("PN-002", "subnet-0f0e0d0c0b0a00001", "")] == "PASS"   # the replaced table has no IGW route
    # The plan's own regions win: --region never moves a plan written for other regions.
    assert _read("updates_and_regions.json", region="us-east-1").regions == ("eu-central-1", "eu-west-1")


def test_locations_are_file_and_address_without_lines() -> None:
    source = _read("igw_public_subnet.json")
    assert {(d.file, d.line) for d in source.resources} == {("igw_public_subnet.json", None)}
    model = build_model(source.records)
    subnet = model.get("subnet", "subnet-aws_subnet.public")
    assert subnet is not None and subnet.declared_at is not None
    assert (subnet.declared_at.kind, subnet.declared_at.file, subnet.declared_at.address, subnet.declared_at.line,
            subnet.declared_at.attributes) == ("terraform-plan", "igw_public_subnet.json", "aws_subnet.public", None, ())


def test_no_account_anywhere_is_the_default_account_with_a_note() -> None:
    source = _read("open_security_group.json", account=None)
    assert source.account == DEFAULT_ACCOUNT and any("give --account" in n for n in source.notes)


def test_supported_lists_the_types_in_order() -> None:
    assert list(SUPPORTED)[:3] == ["aws_vpc", "aws_subnet", "aws_route_table"]
    for t in ("aws_route", "aws_vpc_endpoint_policy", "aws_ec2_transit_gateway_route", "aws_db_subnet_group",
              "aws_vpc_security_group_egress_rule", "aws_ec2_managed_prefix_list_entry", "aws_flow_log",
              "aws_vpn_gateway_attachment", "aws_main_route_table_association", "aws_elb", "aws_alb"):
        assert t in SUPPORTED


# -- bad input ----------------------------------------------------------------------------

def _plan(**over: Any) -> dict[str, Any]:
    doc = json.loads((FIXTURES / "igw_public_subnet.json").read_text())
    doc.update(over)
    return doc


@pytest.mark.parametrize(("data", "words"), [
    (b"\xff\xfe not text", "not UTF-8"),
    (b"{not json", "not JSON"),
    (b"[1, 2]", "is a list"),
    (json.dumps({"format_version": "1.0", "values": {"root_module": {}}}).encode(), "a Terraform state"),
    (json.dumps({"format_version": "1.2", "something": 1}).encode(), "no planned_values or resource_changes"),
    (json.dumps(_plan(format_version="0.2")).encode(), "format_version '0.2'"),
    (json.dumps(_plan(format_version="2.0")).encode(), "format_version '2.0'"),
    (json.dumps(_plan(format_version=1.2)).encode(), "format_version 1.2"),
    (json.dumps(_plan(resource_changes={"a": 1})).encode(), "resource_changes is not a list"),
    (json.dumps(_plan(configuration=[])).encode(), "configuration is a list"),
    (json.dumps(_plan(configuration={"provider_config": {}, "root_module": {"resources": []}})).encode(),
     "does not say its region"),
])
def test_what_is_not_a_plan_is_a_clear_error(data: bytes, words: str) -> None:
    with pytest.raises(IacError) as err:
        read_plan(data, "bad.json")
    assert "bad.json" in str(err.value) and words in str(err.value)


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", "1.9"])
def test_every_format_version_1_x_is_read(version: str) -> None:
    source = read_plan(json.dumps(_plan(format_version=version)).encode(), "p.json")
    assert source.format_version == version and len(source.resources) == 6


def test_odd_shapes_inside_are_problems_never_a_traceback_or_a_pass(inputs: ScanInputs) -> None:
    doc = _plan()
    changes = doc["resource_changes"]
    changes.append("not an object")
    changes.append({"address": "aws_vpc.odd", "mode": "managed", "type": "aws_vpc", "name": "odd",
                    "change": {"actions": ["create"], "before": None, "after": ["a", "list"]}})
    changes.append({"address": "aws_vpc.weird", "mode": "managed", "type": "aws_vpc", "name": "weird",
                    "change": {"actions": ["explode"], "before": None, "after": {}}})
    subnet = next(c for c in changes if isinstance(c, dict) and c.get("address") == "aws_subnet.public")
    subnet["change"]["after"]["cidr_block"] = {"not": "a string"}
    route_table = next(c for c in changes if isinstance(c, dict) and c.get("address") == "aws_route_table.public")
    route_table["change"]["after"]["route"] = "not a list"
    route_table["change"]["after_unknown"]["route"] = False
    source = read_plan(json.dumps(doc).encode(), "odd.json", account=ACCOUNT)
    problems = {p.address: p.message for p in source.problems}
    assert "resource_changes[6]" in problems and "aws_vpc.odd" in problems and "aws_vpc.weird" in problems
    assert "explode" in problems["aws_vpc.weird"]
    assert "aws_route_table.public" in problems
    # Whatever was modelled still evaluates; the odd route table is never a PASS for its subnet.
    verdicts = _verdicts(_evaluate(source, inputs))
    assert verdicts[("PN-002", "subnet-aws_subnet.public", "")] != "PASS"


def test_a_reference_to_nothing_is_unknown_not_guessed() -> None:
    doc = _plan()
    for block in doc["configuration"]["root_module"]["resources"]:
        if block["address"] == "aws_subnet.public":
            block["expressions"]["vpc_id"] = {"references": ["aws_vpc.gone.id", "aws_vpc.gone"]}
    source = read_plan(json.dumps(doc).encode(), "p.json", account=ACCOUNT)
    subnet = build_model(source.records).get("subnet", "subnet-aws_subnet.public")
    assert subnet is not None and subnet.vpc_id == "vpc-(known after apply: aws_subnet.public.vpc_id)"  # type: ignore[attr-defined]
    assert subnet.unknown_reason("vpc_id") == "known after apply: aws_subnet.public.vpc_id"


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def test_every_value_of_a_plan_replaced_by_an_odd_one_is_never_a_traceback() -> None:
    """Each value anywhere in a plan (every key of every resource change, configuration block
    and provider) replaced in turn by null, a list, a string, an object or a number: the
    reader says IacError, or reads the rest, and the model builds from what it read."""
    base = json.loads((FIXTURES / "igw_public_subnet.json").read_text())
    tried = 0
    for path in _paths(base)[1:]:
        for value in (None, [], "x", {}, 7):
            doc = json.loads(json.dumps(base))
            node = doc
            for p in path[:-1]:
                node = node[p]
            node[path[-1]] = value
            try:
                source = read_plan(json.dumps(doc).encode(), "fuzz.json", account=ACCOUNT)
            except IacError as exc:
                assert "fuzz.json" in str(exc)
                continue
            build_model(source.records)
            tried += 1
    assert tried > 1000


def test_every_supported_relationship_reaches_the_model(inputs: ScanInputs) -> None:
    """every_type.json: the types that change other resources (routes, associations, rules,
    attachments, endpoint links, prefix list entries, TGW tables) land on what they change."""
    source = _read("every_type.json")
    assert not source.problems and not source.unsupported
    model = build_model(source.records)

    def get(type_name: str, rid: str) -> Any:
        found = model.get(type_name, rid)
        assert found is not None, rid
        return found

    main = get("route_table", "rtb-aws_route_table.main")
    assert main.is_main and [(r.destination, r.target_kind, r.target_id) for r in main.routes] == [
        ("10.1.0.0/16", "local", "local"), ("::/0", "eigw", "eigw-aws_egress_only_internet_gateway.a"),
        ("pl-aws_ec2_managed_prefix_list.office", "vgw", "vgw-aws_vpn_gateway.a")]
    assert main.routes[2].destination_cidrs == ("192.0.2.0/24", "198.51.100.0/24")   # list + entry resource
    adopted = get("route_table", "rtb-aws_vpc.a.default_route_table")   # aws_default_route_table, no longer main
    assert not adopted.is_main and adopted.routes[1].target_id == "pcx-aws_vpc_peering_connection.ab"
    assert get("subnet", "subnet-aws_subnet.a").route_table_id == "rtb-aws_route_table.main"
    pcx = get("vpc_peering", "pcx-aws_vpc_peering_connection.ab")
    assert pcx.status == "active" and pcx.accepter.cidrs == ("10.2.0.0/16",) and not pcx.unknown
    table = get("transit_gateway_route_table", "tgw-rtb-aws_ec2_transit_gateway_route_table.t")
    att = "tgw-attach-aws_ec2_transit_gateway_vpc_attachment.a"
    assert [(r.destination, r.route_type, r.state, r.attachment_ids) for r in table.routes] == [
        ("10.99.0.0/16", "static", "blackhole", ()), ("10.1.0.0/16", "propagated", "active", (att,))]
    assert table.associated_attachment_ids == (att,) and table.propagating_attachment_ids == (att,)
    attachment = get("transit_gateway_attachment", att)
    assert attachment.subnet_ids == ("subnet-aws_subnet.a", "subnet-aws_subnet.a2")
    assert attachment.associated_route_table_id == table.id
    assert get("vpn_gateway", "vgw-aws_vpn_gateway.a").attached_vpc_ids == ("vpc-aws_vpc.a",)
    assert get("internet_gateway", "igw-aws_internet_gateway.b").attached_vpc_ids == ("vpc-aws_vpc.b",)
    ssm = get("vpc_endpoint", "vpce-aws_vpc_endpoint.ssm")
    assert (ssm.subnet_ids, ssm.security_group_ids) == (("subnet-aws_subnet.a",), ("sg-aws_security_group.ep",))
    assert get("vpc_endpoint", "vpce-aws_vpc_endpoint.s3").route_table_ids == ("rtb-aws_route_table.main",)
    eni = get("network_interface", "eni-aws_network_interface.app")
    assert eni.public_ips == ("(public IP assigned at apply: aws_eip.app)",)
    acl = get("network_acl", "acl-aws_network_acl.app")
    assert acl.subnet_ids == ("subnet-aws_subnet.a",)
    assert get("network_acl", "acl-aws_vpc.a.default_network_acl").subnet_ids == ("subnet-aws_subnet.a2",)
    assert {(e.rule_number, e.action, e.cidr) for e in acl.entries if not e.egress} == {
        (100, "allow", "10.0.0.0/8"), (200, "allow", "0.0.0.0/0"), (32767, "deny", "0.0.0.0/0")}
    assert get("load_balancer", "legacy").scheme == "internal"
    verdicts = _verdicts(_evaluate(source, inputs))
    _expect(verdicts, {("TF-005", "acl-aws_network_acl.app", ""): "FAIL",
                       ("PN-006", "subnet-aws_subnet.a", ""): "FAIL", ("PN-016", "subnet-aws_subnet.a", ""): "FAIL",
                       ("PN-009", "eni-aws_network_interface.app", ""): "FAIL",
                       ("PN-001", "vpc-aws_vpc.b", ""): "FAIL", ("PN-001", "vpc-aws_vpc.a", ""): "PASS"})


def _change(address: str, type_: str, after: dict[str, Any], unknown: dict[str, Any]) -> dict[str, Any]:
    return {"address": address, "mode": "managed", "type": type_, "name": address.split(".")[1],
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {"actions": ["create"], "before": None, "after": after, "after_unknown": unknown}}


def test_a_change_to_a_resource_the_plan_does_not_hold_is_a_problem() -> None:
    doc = _plan()
    doc["resource_changes"].append(_change("aws_route.elsewhere", "aws_route", {
        "route_table_id": "rtb-0123456789abcdef0", "destination_cidr_block": "0.0.0.0/0",
        "gateway_id": "igw-0123456789abcdef0"}, {"id": True}))
    source = read_plan(json.dumps(doc).encode(), "p.json", account=ACCOUNT)
    problems = [p for p in source.problems if p.address == "aws_route.elsewhere"]
    assert len(problems) == 1 and "rtb-0123456789abcdef0" in problems[0].message
    assert "overlay" in problems[0].message and problems[0].line is None


def test_a_peering_accepted_by_its_accepter_is_active() -> None:
    doc = json.loads((FIXTURES / "every_type.json").read_text())
    for change in doc["resource_changes"]:
        if change["address"] == "aws_vpc_peering_connection.ab":
            change["change"]["after"]["auto_accept"] = False
    for block in doc["configuration"]["root_module"]["resources"]:
        if block["address"] == "aws_vpc_peering_connection.ab":
            block["expressions"]["auto_accept"] = {"constant_value": False}
    pending = build_model(read_plan(json.dumps(doc).encode(), "p.json", account=ACCOUNT).records)
    assert pending.get("vpc_peering", "pcx-aws_vpc_peering_connection.ab").status == "pending-acceptance"  # type: ignore[union-attr,attr-defined]
    doc["resource_changes"].append(_change("aws_vpc_peering_connection_accepter.ab",
                                           "aws_vpc_peering_connection_accepter", {"auto_accept": True},
                                           {"id": True, "vpc_peering_connection_id": True}))
    doc["configuration"]["root_module"]["resources"].append({
        "address": "aws_vpc_peering_connection_accepter.ab", "mode": "managed",
        "type": "aws_vpc_peering_connection_accepter", "name": "ab", "provider_config_key": "aws",
        "expressions": {"auto_accept": {"constant_value": True}, "vpc_peering_connection_id": {
            "references": ["aws_vpc_peering_connection.ab.id", "aws_vpc_peering_connection.ab"]}}})
    accepted = build_model(read_plan(json.dumps(doc).encode(), "p.json", account=ACCOUNT).records)
    assert accepted.get("vpc_peering", "pcx-aws_vpc_peering_connection.ab").status == "active"  # type: ignore[union-attr,attr-defined]


def test_a_plan_without_resource_changes_reads_its_planned_values() -> None:
    doc = json.loads((FIXTURES / "delete_endpoint.json").read_text())
    values = [c for c in doc["resource_changes"] if c["change"]["after"] is not None]
    doc["planned_values"] = {"root_module": {"resources": [
        {k: c.get(k) for k in ("address", "mode", "type", "name", "index", "provider_name")} | {
            "values": c["change"]["after"]} for c in values]}}
    del doc["resource_changes"]
    source = read_plan(json.dumps(doc).encode(), "p.json")
    assert source.account == "222222222222"
    assert {d.action for d in source.resources} == {"no-op"} and len(source.resources) == len(values)
    assert any("planned_values" in n for n in source.notes)
    model = build_model(source.records)
    assert model.get("vpc_endpoint", "vpce-0a1b2c3d4e5f60000") is not None


def test_an_id_the_plan_makes_is_not_taken_by_an_attribute_that_is_not_an_id() -> None:
    """``description = "for ${aws_vpc.web.id}"`` names one attribute of one resource too: its
    value is not that id, so it stays unknown (ids resolve only into id attributes)."""
    from auditor.iac.terraform_plan import Plan

    doc = _plan()
    plan = Plan(doc, lambda inst: f"made-{inst.address}")
    for change in doc["resource_changes"]:
        if change["address"] == "aws_instance.bastion":
            change["change"]["after_unknown"]["user_data"] = True
    for block in doc["configuration"]["root_module"]["resources"]:
        if block["address"] == "aws_instance.bastion":
            block["expressions"]["user_data"] = {"references": ["aws_vpc.web.id", "aws_vpc.web"]}
            plan.configs["aws_instance.bastion"] = block
    instances = {c["address"]: plan.add(c) for c in doc["resource_changes"]}
    bastion = instances["aws_instance.bastion"]
    assert bastion is not None
    assert plan.get(bastion, "subnet_id").value == "made-aws_subnet.public"
    got = plan.get(bastion, "user_data")
    assert not got.known and got.reason == "known after apply: aws_instance.bastion.user_data"


def test_a_module_with_count_resolves_a_named_instance_only() -> None:
    text = (FIXTURES / "module.json").read_text().replace('"module.net.', '"module.net[0].')
    doc = json.loads(text)
    for change in doc["resource_changes"]:
        if change.get("module_address") == "module.net":
            change["module_address"] = "module.net[0]"
    doc["configuration"]["root_module"]["module_calls"]["net"]["count_expression"] = {"constant_value": 1}
    app = next(b for b in doc["configuration"]["root_module"]["resources"] if b["address"] == "aws_instance.app")
    app["expressions"]["subnet_id"] = {"references": ["module.net[0].subnet_id", "module.net[0]", "module.net"]}
    model = build_model(read_plan(json.dumps(doc).encode(), "p.json", account=ACCOUNT).records)
    instance = model.get("instance", "i-aws_instance.app")
    assert instance is not None and instance.subnet_id == "subnet-module.net[0].aws_subnet.private"  # type: ignore[attr-defined]
    app["expressions"]["subnet_id"] = {"references": ["module.net.subnet_id", "module.net"]}   # which instance?
    model = build_model(read_plan(json.dumps(doc).encode(), "p.json", account=ACCOUNT).records)
    instance = model.get("instance", "i-aws_instance.app")
    assert instance is not None and instance.unknown_reason("subnet_id") == "known after apply: aws_instance.app.subnet_id"


def test_the_account_of_the_caller_identity_data_source() -> None:
    doc = _plan()
    doc["prior_state"] = {"format_version": "1.0", "values": {"root_module": {"resources": [
        {"address": "data.aws_caller_identity.current", "mode": "data", "type": "aws_caller_identity",
         "name": "current", "values": {"account_id": "444444444444", "arn": "arn:aws:iam::444444444444:user/ci"}}]}}}
    assert read_plan(json.dumps(doc).encode(), "p.json").account == "444444444444"
    assert read_plan(json.dumps(doc).encode(), "p.json", account="555555555555").account == "555555555555"


def test_an_association_to_a_table_outside_the_plan_leaves_the_subnets_table_unknown(inputs: ScanInputs) -> None:
    doc = _plan()
    assoc = next(c for c in doc["resource_changes"] if c["address"] == "aws_route_table_association.public")
    assoc["change"]["after"]["route_table_id"] = "rtb-0123456789abcdef0"
    assoc["change"]["after_unknown"].pop("route_table_id")
    source = read_plan(json.dumps(doc).encode(), "p.json", account=ACCOUNT)
    assert any(p.address == "aws_route_table_association.public" for p in source.problems)
    subnet = build_model(source.records).get("subnet", "subnet-aws_subnet.public")
    assert subnet is not None and "rtb-0123456789abcdef0" in str(subnet.unknown_reason("route_table_id"))
    verdicts = _verdicts(_evaluate(source, inputs))
    assert verdicts[("PN-002", "subnet-aws_subnet.public", "")] == "ERROR"   # never the main table's PASS


def test_a_change_to_another_resource_is_declared_with_what_it_changes() -> None:
    ids = {d.address: (d.model_type, d.id) for d in _read("every_type.json").resources}
    assert ids["aws_route.v6"] == ("route_table", "rtb-aws_route_table.main")
    assert ids["aws_network_acl_rule.ssh"] == ("network_acl", "acl-aws_network_acl.app")
    assert ids["aws_ec2_transit_gateway_route.drop"] == (
        "transit_gateway_route_table", "tgw-rtb-aws_ec2_transit_gateway_route_table.t")
    assert ids["aws_vpc_endpoint_subnet_association.ssm"] == ("vpc_endpoint", "vpce-aws_vpc_endpoint.ssm")
    assert ids["aws_subnet.a"] == ("subnet", "subnet-aws_subnet.a")
