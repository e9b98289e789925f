"""Reports of a plan run: every output says where the Terraform plan or CloudFormation template
declares each finding's resource (findings.json ``resource.declared``) and lists what the plan
run could not model (``run.plan``: unsupported resources, network ones making the assessment
incomplete, and problems reading the source).

The documents are real evaluations: call records made with `RecordBuilder` (as the readers make
them), evaluated as `auditor scan` does and turned into findings.json by `build_document`; the
``run.plan`` section is added here as the CLI writes it (docs/findings.md). SARIF is validated
against the OASIS 2.1.0 schema, as tests/test_sarif.py does."""

from __future__ import annotations

import csv
import io
import json
import html
import re
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from auditor.api import plan_manifest_section
from auditor.iac.base import (Declared, PlanSource, RecordBuilder, SourceProblem, Unsupported, synthetic_id,
                              unknown_id)
from auditor.report.html import html_report
from auditor.report.machine import (CSV_COLUMNS, PLAN_PROBLEM, PLAN_SUITE, PLAN_UNSUPPORTED, SRCROOT, csv_bytes,
                                    junit_xml, sarif)
from auditor.report.model import ReportModel, build_model
from auditor.report.pdf import PLAN_LIST_MAX, PdfInputs, render_html
from auditor.report.plan_view import sarif_uri
from auditor.results import RunInfo, build_document, dumps
from auditor.rules.frameworks import load_catalogues
from auditor.scan import SOURCE_KEY, evaluate_evidence, plan_section, prepare
from auditor.validation import load_schema
from test_report_html import _dump
from test_sarif import check_github, validate

ACCOUNT, REGION = "111111111111", "eu-west-1"
TEMPLATE = "infra/network.yaml"
PLAN = "plans/tfplan.json"
MANIFEST = {"started": "2026-03-01T10:00:00Z", "finished": "2026-03-01T10:00:00Z", "complete": True,
            "regions": [REGION], "accounts": [{"id": ACCOUNT}]}


def _records(kind: str, file: str, lines: bool) -> tuple[Any, list[dict[str, Any]]]:
    """The call records of a small estate as a reader makes them (a template gives lines, a
    Terraform plan's JSON none), and run.plan's ``resources``."""
    def at(n: int) -> int | None:
        return n if lines else None

    def attrs(**fields: int) -> dict[str, int]:
        return dict(fields) if lines else {}

    names = {"vpc": "aws_vpc.main", "subnet": 'aws_subnet.app["a"]', "rtb": "aws_route_table.app",
             "eks": "module.k8s.aws_eks_cluster.prod"} if kind == "terraform-plan" else {
        "vpc": "MainVpc", "subnet": "AppSubnet", "rtb": "AppRouteTable", "eks": "ProdCluster"}
    b = RecordBuilder(kind, file, ACCOUNT)
    vpc, subnet = synthetic_id("vpc", names["vpc"]), synthetic_id("subnet", names["subnet"])
    b.add(REGION, ("ec2", "DescribeVpcs"), {"VpcId": vpc, "CidrBlock": "10.0.0.0/16", "IsDefault": False,
                                            "State": "available", "OwnerId": ACCOUNT},
          address=names["vpc"], line=at(10), attributes=attrs(cidr_blocks=12))
    for attr, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
        b.add_call(REGION, ("ec2", "DescribeVpcAttribute"), {"VpcId": vpc, "Attribute": attr},
                   {"VpcId": vpc, key: {"Value": True}})
    # A subnet assigning public IPs on launch (PN-007 fails at its MapPublicIpOnLaunch line).
    b.add(REGION, ("ec2", "DescribeSubnets"), {"SubnetId": subnet, "VpcId": vpc, "CidrBlock": "10.0.1.0/24",
                                               "AvailabilityZone": "eu-west-1a", "MapPublicIpOnLaunch": True,
                                               "AssignIpv6AddressOnCreation": False},
          address=names["subnet"], line=at(20),
          attributes=attrs(cidr=22, map_public_ip_on_launch=23, assign_ipv6_on_creation=24))
    b.add(REGION, ("ec2", "DescribeRouteTables"), {
        "RouteTableId": synthetic_id("rtb", names["rtb"]), "VpcId": vpc,
        "Associations": [{"SubnetId": subnet, "Main": False}],
        "Routes": [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
                   {"DestinationCidrBlock": "0.0.0.0/0", "State": "active",
                    "NatGatewayId": unknown_id("nat", f"{names['rtb']}.nat_gateway_id")}]},
        address=names["rtb"], line=at(30), attributes=attrs(routes=33))
    b.add(REGION, ("eks", "DescribeCluster"), {"name": "prod", "arn": "", "resourcesVpcConfig": {
        "subnetIds": [subnet], "endpointPublicAccess": True, "endpointPrivateAccess": True,
        "publicAccessCidrs": ["0.0.0.0/0"]}}, address=names["eks"], line=at(40),
        attributes=attrs(endpoint_public_access=43))
    resources = [{"address": names[k], "type": t, "model_type": m, "id": i, "action": a, "line": at(n)}
                 for k, t, m, i, a, n in (
                     ("vpc", "aws_vpc", "vpc", vpc, "create", 10),
                     ("subnet", "aws_subnet", "subnet", subnet, "create", 20),
                     ("rtb", "aws_route_table", "route_table", synthetic_id("rtb", names["rtb"]), "update", 30),
                     ("eks", "aws_eks_cluster", "eks_cluster", "prod", "create", 40))]
    return b.records([REGION]), resources


def plan_source(kind: str, file: str, lines: bool) -> PlanSource:
    """What a reader returns for the small estate: its records, its resources, two resources of
    types not modelled (one of a network type) and a problem."""
    def at(n: int) -> int | None:
        return n if lines else None

    records, resources = _records(kind, file, lines)
    return PlanSource(
        kind=kind, file=file, sha256="sha256:" + "ab" * 32,
        format_version="1.2" if kind == "terraform-plan" else "2010-09-09", account=ACCOUNT, regions=(REGION,),
        records=records,
        resources=tuple(Declared(r["address"], r["type"], r["model_type"], r["id"], r["action"], file, r["line"])
                        for r in resources),
        unsupported=(Unsupported("aws_networkfirewall_firewall.edge", "aws_networkfirewall_firewall", "create", file,
                                 at(50)),
                     Unsupported("aws_s3_bucket.logs", "aws_s3_bucket", "create", file, at(60))),
        problems=(SourceProblem("aws_route.out", "Fn::Bogus is not an intrinsic function", file, at(70)),),
        notes=("account 111111111111 assumed (the plan names none)",))


@cache
def _document(kind: str, file: str, lines: bool) -> str:
    """findings.json of the plan run, as `auditor plan` makes it: the manifest section the run
    writes (run.plan, and its not_assessed entries for the problem and the network type not
    modelled), evaluated as a snapshot of it is."""
    source = plan_source(kind, file, lines)
    copy = "source/plan"
    manifest = {**MANIFEST, "files": {copy: source.sha256}, SOURCE_KEY: plan_manifest_section(source, copy, None)}
    inputs = prepare(None)
    evaluation = evaluate_evidence(source.records, manifest, inputs)
    run = RunInfo(manifest=manifest, manifest_sha256="sha256:" + "cd" * 32, plan=plan_section(manifest))
    document = json.loads(dumps(build_document(evaluation, inputs.packs, run)))
    jsonschema.validate(document, load_schema("findings"))
    return json.dumps(document)


def document(kind: str = "cloudformation", file: str = TEMPLATE, lines: bool = True) -> dict[str, Any]:
    """A fresh copy of the findings.json of a plan run (tests may change it)."""
    data: dict[str, Any] = json.loads(_document(kind, file, lines))
    return data


@cache
def _packs() -> Any:
    return prepare(None).packs


def model_of(doc: dict[str, Any]) -> ReportModel:
    return build_model(doc, _packs(), load_catalogues())


def _finding(doc: dict[str, Any], rule: str, address: str) -> dict[str, Any]:
    (found,) = [f for f in doc["findings"] if f["rule_id"] == rule and (f["resource"].get("declared") or {}).get(
        "address") == address and f["item"] is None]
    return found


# The report model ----------------------------------------------------------------------------------

def test_the_model_reads_where_each_resource_is_declared_and_the_plan() -> None:
    m = model_of(document())
    pn007 = next(f for f in m.findings if f.rule.id == "PN-007")
    assert pn007.status == "FAIL"
    d = pn007.resource.declared
    assert d is not None and (d.kind, d.file, d.address, d.line) == ("cloudformation", TEMPLATE, "AppSubnet", 20)
    # The failing condition's field: MapPublicIpOnLaunch's line, not the resource's.
    assert pn007.declared_line == 23 and pn007.declared_at == f"declared at {TEMPLATE}:23 (AppSubnet)"
    assert m.plan is not None and m.plan.file == TEMPLATE and m.plan.incomplete
    assert m.plan.action_counts == (("create", 3), ("update", 1))
    assert [u.address for u in m.plan.network_unsupported] == ["aws_networkfirewall_firewall.edge"]
    # A finding of no declared resource (a whole account-region not collected) has none.
    star = [f for f in m.findings if f.resource.id == "*"]
    assert star and all(f.resource.declared is None and f.declared_at == "" for f in star)


def test_a_terraform_plan_has_no_lines_so_findings_name_the_file_and_address() -> None:
    m = model_of(document("terraform-plan", PLAN, lines=False))
    pn007 = next(f for f in m.findings if f.rule.id == "PN-007")
    assert pn007.declared_line is None
    assert pn007.declared_at == f'declared at {PLAN} (aws_subnet.app["a"])'


def test_a_run_without_a_plan_has_no_plan_and_no_declarations() -> None:
    doc = document()
    del doc["run"]["plan"]
    for f in doc["findings"]:
        f["resource"].pop("declared", None)
    m = model_of(doc)
    assert m.plan is None and all(f.resource.declared is None for f in m.findings)


# SARIF ----------------------------------------------------------------------------------------------

def _sarif(doc: dict[str, Any]) -> dict[str, Any]:
    log: dict[str, Any] = json.loads(sarif(model_of(doc), doc))
    validate(log)
    check_github(log)
    return log


def _results(log: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [r for r in log["runs"][0]["results"] if r["ruleId"] == rule]


def test_sarif_points_a_template_finding_at_the_line_of_the_failing_attribute() -> None:
    log = _sarif(document())
    (res,) = _results(log, "PN-007")
    (loc,) = res["locations"]
    assert loc["physicalLocation"] == {"artifactLocation": {"uri": TEMPLATE, "uriBaseId": SRCROOT},
                                       "region": {"startLine": 23}}
    assert loc["logicalLocations"] == [{"name": "AppSubnet", "fullyQualifiedName": "AppSubnet", "kind": "resource"}]
    assert res["message"]["text"].endswith(f"[declared at {TEMPLATE}:23 (AppSubnet)]")
    assert res["properties"]["declared"] == {"kind": "cloudformation", "file": TEMPLATE, "address": "AppSubnet",
                                             "line": 23}
    # A finding whose conditions read no field with a line: the resource's own line.
    eks = [r for r in _results(log, "EKS-002")]
    assert eks and {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in eks} == {40}


def test_sarif_points_a_terraform_finding_at_line_1_of_the_plan_and_names_the_address() -> None:
    log = _sarif(document("terraform-plan", PLAN, lines=False))
    (res,) = _results(log, "PN-007")
    (loc,) = res["locations"]
    assert loc["physicalLocation"] == {"artifactLocation": {"uri": PLAN, "uriBaseId": SRCROOT},
                                       "region": {"startLine": 1}}
    assert loc["logicalLocations"][0]["fullyQualifiedName"] == 'aws_subnet.app["a"]'
    assert 'aws_subnet.app["a"]' in res["message"]["text"]


def test_sarif_keeps_the_config_location_for_what_no_plan_declares() -> None:
    doc = document()
    log = _sarif(doc)
    star = [r for r in log["runs"][0]["results"] if r["properties"]["status"] == "ERROR"
            and r["locations"][0]["logicalLocations"][0]["name"] == "*"]
    assert star, "the plan answers no DescribeVpcBlockPublicAccessOptions: a whole account-region ERROR"
    for r in star:   # no config and built-in packs: the pack's file in the auditor's source
        assert r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith("rules/packs/")
        assert "declared" not in r["properties"] and "declared at" not in r["message"]["text"]


def test_sarif_lists_what_the_plan_could_not_model_as_notifications_and_not_assessed_results() -> None:
    log = _sarif(document())
    (run,) = log["runs"]
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    notes = {n["properties"]["address"]: n for n in invocation["toolExecutionNotifications"]
             if "address" in n["properties"]}
    assert set(notes) == {"aws_networkfirewall_firewall.edge", "aws_s3_bucket.logs", "aws_route.out"}
    assert notes["aws_networkfirewall_firewall.edge"]["level"] == "error"
    assert notes["aws_s3_bucket.logs"]["level"] == "note"
    assert notes["aws_route.out"]["level"] == "error"
    assert notes["aws_route.out"]["locations"][0]["physicalLocation"]["region"] == {"startLine": 70}
    # The two that leave the assessment incomplete are results too, so the pull request shows them.
    (fw,) = _results(log, PLAN_UNSUPPORTED)
    assert fw["level"] == "warning" and fw["kind"] == "fail"
    assert "aws_networkfirewall_firewall" in fw["message"]["text"] and "incomplete" in fw["message"]["text"]
    assert fw["locations"][0]["physicalLocation"]["region"] == {"startLine": 50}
    (problem,) = _results(log, PLAN_PROBLEM)
    assert "Fn::Bogus" in problem["message"]["text"]
    rules = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert {PLAN_UNSUPPORTED, PLAN_PROBLEM} <= rules
    assert not [r for r in run["results"] if "aws_s3_bucket.logs" in r["message"]["text"]]
    assert run["properties"]["plan"]["file"] == TEMPLATE and run["properties"]["plan"]["incomplete"] is True
    # The run's not_assessed entries for them are these notifications (located), not two more.
    gap_notes = [n for n in invocation["toolExecutionNotifications"] if "gapFingerprint" in n["properties"]]
    assert gap_notes and not [n for n in gap_notes if n["properties"]["calls"][0].startswith("cloudformation:")]
    assert len(gap_notes) == len(document()["not_assessed"]) - 2
    assert notes["aws_networkfirewall_firewall.edge"]["properties"]["gapFingerprints"]
    assert notes["aws_s3_bucket.logs"]["properties"]["gapFingerprints"] == []


def test_sarif_of_a_plan_modelling_everything_is_still_not_successful_when_calls_were_not_answered() -> None:
    doc = document()
    doc["run"]["plan"]["unsupported"] = [u for u in doc["run"]["plan"]["unsupported"] if not u["network"]]
    doc["run"]["plan"]["problems"] = []
    log = _sarif(doc)
    assert not _results(log, PLAN_UNSUPPORTED) and not _results(log, PLAN_PROBLEM)
    rules = {r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert PLAN_UNSUPPORTED not in rules
    # The plan answers no DescribeVpcEndpointServices (AWS's catalogue): a gap, so never successful.
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is False
    assert log["runs"][0]["properties"]["plan"]["incomplete"] is False


@pytest.mark.parametrize(("file", "uri", "relative"), [
    ("plan.json", "plan.json", True),
    ("./infra/plan.json", "infra/plan.json", True),
    ("infra\\stack one.yaml", "infra/stack%20one.yaml", True),
    ("/home/ci/repo/plan.json", "file:///home/ci/repo/plan.json", False),
    ("C:\\work\\plan.json", "file:///C:/work/plan.json", False),
])
def test_sarif_uri_of_a_plan_file(file: str, uri: str, relative: bool) -> None:
    assert sarif_uri(file) == (uri, relative)


def test_an_absolute_plan_path_is_a_file_uri_without_a_base_and_still_valid() -> None:
    doc = document(file="/home/ci/repo/infra/network.yaml")
    log: dict[str, Any] = json.loads(sarif(model_of(doc), doc))
    validate(log)
    (res,) = _results(log, "PN-007")
    assert res["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "file:///home/ci/repo/infra/network.yaml"}


# JUnit ----------------------------------------------------------------------------------------------

def test_junit_cases_of_declared_resources_carry_file_and_line() -> None:
    root = ET.fromstring(junit_xml(model_of(document())))
    cases = root.findall("./testsuite/testcase")
    pn007 = [c for c in cases if c.get("classname") == "PN-007"]
    assert [(c.get("file"), c.get("line")) for c in pn007] == [(TEMPLATE, "23")]
    star = [c for c in cases if " * " in (c.get("name") or "")]
    assert star and all(c.get("file") is None for c in star)
    # Terraform: the file, no line attribute (the plan's JSON has none).
    tf = ET.fromstring(junit_xml(model_of(document("terraform-plan", PLAN, lines=False))))
    (case,) = [c for c in tf.findall("./testsuite/testcase") if c.get("classname") == "PN-007"]
    assert case.get("file") == PLAN and case.get("line") is None


def test_junit_has_a_plan_suite_with_an_error_per_unmodelled_network_resource_and_problem() -> None:
    root = ET.fromstring(junit_xml(model_of(document())))
    (suite,) = [s for s in root.findall("testsuite") if s.get("name") == PLAN_SUITE]
    assert (suite.get("tests"), suite.get("errors"), suite.get("skipped")) == ("3", "2", "1")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    fw = cases["aws_networkfirewall_firewall.edge (aws_networkfirewall_firewall)"]
    assert fw.find("error") is not None and fw.find("error").get("type") == "not-modelled"
    assert (fw.get("file"), fw.get("line")) == (TEMPLATE, "50")
    assert cases["aws_s3_bucket.logs (aws_s3_bucket)"].find("skipped") is not None
    assert cases["aws_route.out"].find("error").get("type") == "plan-problem"
    # The run's totals count them, once: the not_assessed entries the run made for the two are
    # these cases, not also cases of the collection suite.
    total = sum(int(s.get("errors", "0")) for s in root.findall("testsuite"))
    assert root.get("errors") == str(total)
    assert len(_plan_gaps(document())) == 2
    (collection,) = [s for s in root.findall("testsuite") if s.get("name") == "collection"]
    names = [c.get("name") or "" for c in collection.findall("testcase")]
    assert names and not [n for n in names if "cloudformation:" in n]


def _plan_gaps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's not_assessed entries for the problem and the network type not modelled."""
    return [g for g in doc["not_assessed"] if g["calls"][0].startswith(f"{doc['run']['plan']['kind']}:")]


# CSV ------------------------------------------------------------------------------------------------

def _csv(doc: dict[str, Any]) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(csv_bytes(model_of(doc)).decode("utf-8"), newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS and CSV_COLUMNS[-2:] == ("declared", "explanation")
    assert all(len(r) == len(CSV_COLUMNS) for r in rows)
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_csv_declared_column_and_rows_for_what_the_plan_could_not_model() -> None:
    rows = _csv(document())
    (pn007,) = [r for r in rows if r["rule_id"] == "PN-007"]
    assert pn007["declared"] == f"{TEMPLATE}:23 AppSubnet"
    assert all(r["declared"] == "" for r in rows if r["resource_id"] == "*")
    plan_rows = {r["resource_id"]: r for r in rows if r["rule_id"] in (PLAN_UNSUPPORTED, PLAN_PROBLEM)}
    assert plan_rows["aws_networkfirewall_firewall.edge"]["status"] == "ERROR"
    assert plan_rows["aws_networkfirewall_firewall.edge"]["declared"] == \
        f"{TEMPLATE}:50 aws_networkfirewall_firewall.edge"
    assert plan_rows["aws_s3_bucket.logs"]["status"] == "NOT_APPLICABLE"
    assert plan_rows["aws_route.out"]["status"] == "ERROR" and "Fn::Bogus" in plan_rows["aws_route.out"]["message"]
    gap_rows = [r for r in rows if r["resource_type"] == "collection"]
    assert len(gap_rows) == len(document()["not_assessed"]) - 2
    assert not [r for r in gap_rows if r["resource_id"].startswith("cloudformation:")]
    tf = _csv(document("terraform-plan", PLAN, lines=False))
    (pn007,) = [r for r in tf if r["rule_id"] == "PN-007"]
    assert pn007["declared"] == f'{PLAN} aws_subnet.app["a"]'


def test_csv_declared_cell_is_neutralised() -> None:
    doc = document(file="=HYPERLINK(\"http://x\",\"y\").yaml")
    rows = _csv(doc)
    declared = [r["declared"] for r in rows if r["declared"]]
    assert declared and all(d.startswith("'=HYPERLINK") for d in declared)


def test_outputs_are_byte_identical_for_the_same_plan_document() -> None:
    for write in (junit_xml, csv_bytes):
        assert write(model_of(document())) == write(model_of(document()))
    doc = document()
    assert sarif(model_of(doc), doc) == sarif(model_of(document()), document())


# HTML -----------------------------------------------------------------------------------------------

HOSTILE = "aws_lambda_function.x<script>alert(1)</script>"


def _many(doc: dict[str, Any], n: int) -> dict[str, Any]:
    """`n` more unsupported resources (a tenth of them of a network type) and `n` more problems."""
    plan = doc["run"]["plan"]
    plan["unsupported"] += [{"address": f"aws_lambda_function.f[{i}]", "type": "aws_lambda_function",
                             "action": "create", "line": None, "network": False} for i in range(n)]
    plan["unsupported"] += [{"address": f"aws_vpn_connection.v[{i}]", "type": "aws_vpn_connection",
                             "action": "create", "line": None, "network": True} for i in range(n // 10)]
    plan["problems"] += [{"address": f"aws_route.r[{i}]", "message": f"reference {i} to nothing", "line": None}
                         for i in range(n)]
    return doc


def _section(page: str, ident: str) -> str:
    return page.split(f'<section id="{ident}">', 1)[1].split("</section>", 1)[0]


def test_html_plan_section_lists_the_source_actions_and_everything_not_modelled() -> None:
    doc = document()
    doc["run"]["plan"]["unsupported"].append({"address": HOSTILE, "type": "aws_lambda_function",
                                              "action": "create", "line": 80, "network": False})
    page = html_report(model_of(doc)).decode("utf-8")
    assert '<a href="#plan">Plan</a>' in page and 'id="plan-summary"' in page
    assert page.index('<section id="findings">') < page.index('<section id="plan">') < page.index(
        '<section id="figures">')
    plan = _section(page, "plan")
    for text in ("CloudFormation template", TEMPLATE, "sha256:" + "ab" * 32, "2010-09-09", ACCOUNT, REGION,
                 "no snapshot", "4 resource(s) modelled: 3 create, 1 update.",
                 "account 111111111111 assumed (the plan names none)", "Fn::Bogus is not an intrinsic function",
                 f"{TEMPLATE}:70"):
        assert text in plan, text
    assert 'id="plan-incomplete"' in plan and "1 resource(s) of network types the tool does not model" in plan
    rows = re.findall(r'<tr class="(unsupported[^"]*)"><td><code>([^<]*)</code>', plan)
    assert rows == [("unsupported-network st-ERROR", "aws_networkfirewall_firewall.edge"),
                    ("unsupported", "aws_s3_bucket.logs"), ("unsupported", html.escape(HOSTILE))]
    assert "<script>alert" not in plan
    assert [a for a in re.findall(r"<tr><td><code>([^<]*)</code>", plan)][:4] == [
        "MainVpc", "AppSubnet", "AppRouteTable", "ProdCluster"]          # every modelled resource


def test_html_lists_every_unsupported_resource_and_problem_however_many() -> None:
    plan = _section(html_report(model_of(_many(document(), 600))).decode("utf-8"), "plan")
    assert plan.count('<tr class="unsupported') == 2 + 600 + 60
    assert plan.count("reference ") == 600 and "aws_route.r[599]" in plan
    assert "61 of network types" in plan


def test_html_rows_of_declared_resources_say_where_they_are_declared() -> None:
    page = html_report(model_of(document())).decode("utf-8")
    data = json.loads(page.split('<script type="application/json" id="report-data">', 1)[1].split("</script>")[0])
    strings = data["strings"]
    by_rule = {}
    for row in data["findings"]:
        by_rule.setdefault(strings[row[1]], []).append(row)
    (pn007,) = by_rule["PN-007"]
    assert strings[pn007[14]] == f"declared at {TEMPLATE}:23 (AppSubnet)"
    assert all(len(r) == 14 for r in data["findings"] if r[5] == "*")   # nothing declares a whole region


def test_html_of_a_run_without_a_plan_has_no_plan_section() -> None:
    doc = document()
    del doc["run"]["plan"]
    for f in doc["findings"]:
        f["resource"].pop("declared", None)
    page = html_report(model_of(doc)).decode("utf-8")
    assert 'id="plan' not in page and 'href="#plan"' not in page and "declared at" not in page


def test_browser_shows_where_a_finding_is_declared(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_bytes(html_report(model_of(document())))
    dom = _dump(path, "#q=AppSubnet&rule=PN-007")
    (row,) = re.findall(r'<tr class="finding"[^>]*>.*?</tr>', dom, re.S)
    cell = re.search(r'<td class="mono res">(.*?)</td>', row, re.S)
    assert cell is not None and f'<div class="muted decl">declared at {TEMPLATE}:23 (AppSubnet)</div>' in cell.group(1)
    # The search reaches the declaration: the template's file name finds its findings.
    dom = _dump(path, "#q=network.yaml%3A43")
    assert {r for r in re.findall(r'data-rule="([^"]*)"', dom)} == {"EKS-001"}


# PDF ------------------------------------------------------------------------------------------------

def _pdf_html(doc: dict[str, Any]) -> str:
    return render_html(model_of(doc), PdfInputs(findings_json=json.dumps(doc).encode("utf-8")),
                       environ={"SOURCE_DATE_EPOCH": "0"})


def test_pdf_plan_section_follows_the_summary_and_findings_say_where_they_are_declared() -> None:
    page = _pdf_html(document())
    assert page.index('<section id="summary">') < page.index('<section id="plan">') < page.index(
        '<section id="scope">')
    assert '<a href="#plan">Plan</a>' in page
    plan = _section(page, "plan")
    for text in ("CloudFormation template", "sha256:" + "ab" * 32, "2010-09-09", "4: 3 create, 1 update",
                 "2, of which 1 of network types", "Fn::Bogus is not an intrinsic function",
                 "account 111111111111 assumed (the plan names none)", "The assessment is incomplete"):
        assert text in plan, text
    assert plan.count('<tr class="plan-network">') == 2         # the firewall and the problem
    failing = _section(page, "failing")
    assert "declared at" in failing and "AppSubnet" in failing
    assert "No AWS call was made" in _section(page, "scope")


def test_pdf_caps_long_lists_with_a_count_and_shows_network_types_first() -> None:
    page = _pdf_html(_many(document(), 450))
    plan = _section(page, "plan")
    unsupported = plan.split("<h2>Not modelled</h2>", 1)[1].split("<h2>", 1)[0]
    assert unsupported.count("<tr class=") == PLAN_LIST_MAX
    assert unsupported.count('<tr class="plan-network">') == 1 + 45          # every network one shown first
    assert f"And {2 + 450 + 45 - PLAN_LIST_MAX} more not listed here (497 in all, 46 of network types)" in unsupported
    assert f"And {451 - PLAN_LIST_MAX} more not listed here (451 in all)" in plan


def test_pdf_of_a_run_without_a_plan_says_nothing_of_plans() -> None:
    doc = document()
    del doc["run"]["plan"]
    for f in doc["findings"]:
        f["resource"].pop("declared", None)
    page = _pdf_html(doc)
    assert 'id="plan"' not in page and "declared at" not in page and "No AWS call was made" not in page


# End to end: the real readers and `run_plan` ------------------------------------------------------

TEMPLATE_TEXT = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.0.0.0/16
      EnableDnsSupport: true
      EnableDnsHostnames: true
  AppSubnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 10.0.1.0/24
      AvailabilityZone: eu-west-1a
      MapPublicIpOnLaunch: true
  Firewall:
    Type: AWS::NetworkFirewall::Firewall
    Properties:
      FirewallName: edge
      FirewallPolicyArn: arn:aws:network-firewall:eu-west-1:111111111111:firewall-policy/p
      VpcId: !Ref Vpc
      SubnetMappings:
        - SubnetId: !Ref AppSubnet
  Logs:
    Type: AWS::S3::Bucket
  OtherSubnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 10.0.2.0/24
      AvailabilityZone: !Ref Nowhere
"""


def _line_of(text: str, piece: str) -> int:
    (n,) = [i for i, line in enumerate(text.splitlines(), 1) if piece in line]
    return n


def test_a_template_run_end_to_end_points_every_output_into_the_template(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.api import run_plan

    monkeypatch.chdir(tmp_path)          # the template as a pipeline gives it: relative to the repository
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "network.yaml").write_text(TEMPLATE_TEXT, encoding="utf-8")
    result = run_plan(None, Path("infra/network.yaml"), account=ACCOUNT, region=REGION, out=tmp_path / "out",
                      formats=["json", "sarif", "junit", "csv", "html"])
    out = tmp_path / "out"
    doc = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    assert result.exit_code != 0 and not doc["summary"]["complete"]
    public_ip = _line_of(TEMPLATE_TEXT, "MapPublicIpOnLaunch: true")
    log = json.loads((out / "findings.sarif").read_text(encoding="utf-8"))
    validate(log)
    check_github(log)
    (pn007,) = [r for r in _results(log, "PN-007") if r["properties"]["status"] == "FAIL"]
    assert pn007["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "infra/network.yaml", "uriBaseId": SRCROOT}, "region": {"startLine": public_ip}}
    (fw,) = _results(log, PLAN_UNSUPPORTED)
    assert fw["locations"][0]["physicalLocation"]["region"]["startLine"] == _line_of(TEMPLATE_TEXT, "  Firewall:")
    (problem,) = _results(log, PLAN_PROBLEM)
    assert problem["locations"][0]["physicalLocation"]["region"]["startLine"] == _line_of(TEMPLATE_TEXT, "Nowhere")
    junit = ET.fromstring((out / "findings.junit.xml").read_bytes())
    (case,) = [c for c in junit.iter("testcase") if c.get("classname") == "PN-007" and c.find("failure") is not None]
    assert (case.get("file"), case.get("line")) == ("infra/network.yaml", str(public_ip))
    rows = list(csv.DictReader(io.StringIO((out / "findings.csv").read_text(encoding="utf-8"), newline="")))
    assert [r["declared"] for r in rows if r["rule_id"] == "PN-007" and r["status"] == "FAIL"] == [
        f"infra/network.yaml:{public_ip} AppSubnet"]
    page = (out / "report.html").read_text(encoding="utf-8")
    plan = _section(page, "plan")
    assert "unsupported-network st-ERROR" in plan and "AWS::NetworkFirewall::Firewall" in plan
    assert "Nowhere" in plan and "AWS::S3::Bucket" in plan


def test_a_terraform_plan_run_end_to_end_names_the_address_at_line_1(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.api import run_plan

    fixture = Path(__file__).parent / "fixtures" / "iac" / "terraform" / "igw_public_subnet.json"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "tfplan.json").write_bytes(fixture.read_bytes())
    run_plan(None, Path("plans/tfplan.json"), out=tmp_path / "out", formats=["json", "sarif", "csv"])
    doc = json.loads((tmp_path / "out" / "findings.json").read_text(encoding="utf-8"))
    declared = {f["fingerprint"]: f["resource"]["declared"] for f in doc["findings"] if "declared" in f["resource"]}
    assert declared and all(d["line"] is None and d["file"] == "plans/tfplan.json" for d in declared.values())
    log = json.loads((tmp_path / "out" / "findings.sarif").read_text(encoding="utf-8"))
    validate(log)
    check_github(log)
    located = [r for r in log["runs"][0]["results"]
               if r["partialFingerprints"]["auditorFingerprint/v1"] in declared]
    assert any(r["ruleId"] == "PN-007" for r in located)
    for r in located:
        address = declared[r["partialFingerprints"]["auditorFingerprint/v1"]]["address"]
        loc = r["locations"][0]
        assert loc["physicalLocation"] == {"artifactLocation": {"uri": "plans/tfplan.json", "uriBaseId": SRCROOT},
                                           "region": {"startLine": 1}}
        assert loc["logicalLocations"][0]["fullyQualifiedName"] == address
        assert f"declared at plans/tfplan.json ({address})" in r["message"]["text"]
