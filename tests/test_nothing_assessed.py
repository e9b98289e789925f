"""Nothing assessed is never compliant (issue 10, item 2): a scope that selects nothing, a
`vpc_ids` entry that is no VPC, a user rule whose `where` matches nothing and a snapshot that
does not cover the config's accounts and regions are each named in the console's first lines
and in findings.json (`scope_gaps`), give ERROR findings, and make the run incomplete (exit 3,
never "COMPLIANT")."""

from __future__ import annotations

import json
import textwrap
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
from click.testing import CliRunner

from auditor.cli import cli
from auditor.config import Scope
from auditor.model import build_model
from auditor.results import RunInfo, build_document
from auditor.rules.engine import evaluate_rules
from auditor.rules.fixtures import ACCOUNT, REGION, Case, records_for
from auditor.rules.packs import PackSet, load_packs
from auditor.snapshot.records import CallRecord
from auditor.snapshot.writer import SnapshotWriter
from auditor.validation import load_schema

PACK = textwrap.dedent("""
    pack:
      id: scope-test
      version: 1.0.0
      title: Scope test pack
      description: Rules that pass on the test estate.
    rules:
      - id: SCP-001
        title: No internet gateway is attached
        severity: critical
        resource: vpc
        check: {attr: internet_gateway_ids, empty: true}
        message: "VPC {id} has internet gateway(s) {internet_gateway_ids}"
        rationale: A gateway is a way to the internet.
        remediation: {cli: aws ec2 detach-internet-gateway}
        references: ["https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Internet_Gateway.html"]
        frameworks: {pci-dss-4.0: ["1.3.1"]}
""")

# A user rule for available endpoints, with the value misspelt: it matches no endpoint.
TYPO_PACK = textwrap.dedent("""
    pack:
      id: typo-test
      version: 1.0.0
      title: Typo test pack
      description: A rule whose where holds nowhere.
    rules:
      - id: TYP-001
        title: Available endpoints are Interface endpoints
        severity: critical
        resource: vpc_endpoint
        where: {attr: state, eq: availabel}
        check: {attr: endpoint_type, eq: Interface}
        message: "endpoint {id} is {endpoint_type}"
        rationale: A test rule.
        remediation: {cli: aws ec2 delete-vpc-endpoints}
        references: ["https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html"]
        frameworks: {pci-dss-4.0: ["1.3.1"]}
""")

VPCS = {"Vpcs": [
    {"VpcId": "vpc-0a1b2c3d4e5f60718", "CidrBlock": "10.0.0.0/16",
     "Tags": [{"Key": "data-classification", "Value": "pci"}]},
    {"VpcId": "vpc-0ffee0ffee0ffee00", "CidrBlock": "10.1.0.0/16", "Tags": [{"Key": "data-classification", "Value": "dev"}]},
]}
ENDPOINTS = {"VpcEndpoints": [
    {"VpcEndpointId": "vpce-1", "VpcId": "vpc-0a1b2c3d4e5f60718", "ServiceName": "com.amazonaws.eu-west-1.sqs",
     "VpcEndpointType": "Interface", "State": "available"}]}
TODAY = date(2026, 3, 1)


def records(region: str = REGION, vpcs: dict[str, Any] = VPCS) -> list[CallRecord]:
    return records_for(Case(rule="", name="scope", file="", line=0, region=region,
                            calls={"ec2:DescribeVpcs": vpcs, "ec2:DescribeVpcEndpoints": ENDPOINTS}))


def packs(tmp_path: Path, text: str = PACK) -> PackSet:
    folder = tmp_path / "packs"
    folder.mkdir(exist_ok=True)
    (folder / "pack.yaml").write_text(text)
    return load_packs([folder], builtin=False)


def write_snapshot(folder: Path, recs: list[CallRecord], regions: tuple[str, ...] = (REGION,)) -> Path:
    writer = SnapshotWriter(folder)
    for r in recs:
        writer.add(r)
    return writer.finish({"started": "2026-03-01T10:00:00Z", "finished": "2026-03-01T10:01:00Z",
                          "regions": list(regions),
                          "accounts": [{"id": ACCOUNT, "name": "t", "regions": list(regions)}],
                          "config": {"digest": "sha256:x"}})


def scan(tmp_path: Path, config: str, pack: str = PACK, recs: list[CallRecord] | None = None) -> Any:
    """`auditor scan -c CONFIG --snapshot S` in process; the result and findings.json."""
    (tmp_path / "packs").mkdir(exist_ok=True)
    (tmp_path / "packs" / "pack.yaml").write_text(pack)
    snap = write_snapshot(tmp_path / "snap", recs if recs is not None else records())
    cfg = tmp_path / "audit.yaml"
    cfg.write_text("version: 1\nrule_packs: [packs/pack.yaml]\n" + textwrap.dedent(config))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["scan", "-c", str(cfg), "--snapshot", str(snap), "--out", str(out),
                                      "--format", "json,junit,sarif,csv"])
    assert "Traceback" not in result.output, result.output
    doc = json.loads((out / "findings.json").read_text())
    jsonschema.validate(doc, load_schema("findings"))
    return result, doc


def summary(result: Any) -> list[str]:
    """The console summary (stdout after the progress and "written to" lines)."""
    lines = result.output.splitlines()
    return lines[next(i for i, line in enumerate(lines) if line.startswith(("NOTHING", "findings:"))):]


ONE_ACCOUNT = f"accounts: [{{id: '{ACCOUNT}'}}]\nregions: [{REGION}]\n"


def test_the_estate_is_compliant_with_the_right_scope(tmp_path: Path) -> None:
    """The control case: the same snapshot and pack, scope spelt right, is COMPLIANT, exit 0."""
    result, doc = scan(tmp_path, ONE_ACCOUNT + "scope: {tags: {data-classification: [pci]}}\n")
    assert result.exit_code == 0, result.output
    assert "COMPLIANT: every in-scope check passed" in result.output
    assert doc["scope_gaps"] == [] and doc["summary"]["complete"] is True


def test_a_typo_in_the_scope_tag_key_is_incomplete_with_a_suggestion(tmp_path: Path) -> None:
    result, doc = scan(tmp_path, ONE_ACCOUNT + "scope: {tags: {data-clasification: [pci]}}\n")
    assert result.exit_code == 3, result.output
    assert "COMPLIANT:" not in result.output and "INCOMPLETE" in result.output
    assert summary(result)[0].startswith("NOTHING ASSESSED in 2 places"), result.output
    assert "did you mean 'data-classification'?" in result.output
    gap, nothing = doc["scope_gaps"]
    assert nothing["kind"] == "nothing_assessed"
    assert (gap["kind"], gap["account"], gap["region"]) == ("scope_selects_nothing", ACCOUNT, REGION)
    assert gap["rules"] == ["SCP-001"] and "data-classification" in gap["suggestions"][0]
    [error] = [f for f in doc["findings"] if f["status"] == "ERROR"]
    assert (error["rule_id"], error["resource"]["id"], error["resource"]["region"]) == ("SCP-001", "*", REGION)
    assert doc["summary"]["complete"] is False


def test_a_typo_in_a_scope_tag_value_suggests_the_values_that_exist(tmp_path: Path) -> None:
    result, doc = scan(tmp_path, ONE_ACCOUNT + "scope: {tags: {data-classification: [pcii]}}\n")
    assert result.exit_code == 3, result.output
    assert "no VPC has data-classification=pcii: did you mean 'pci'?" in result.output


def test_a_vpc_id_that_does_not_exist_is_incomplete(tmp_path: Path) -> None:
    result, doc = scan(tmp_path, ONE_ACCOUNT + "scope: {vpc_ids: [vpc-0a1b2c3d4e5f60719]}\n")
    assert result.exit_code == 3, result.output
    assert "vpc-0a1b2c3d4e5f60719" in summary(result)[1]
    assert "did you mean 'vpc-0a1b2c3d4e5f60718'?" in result.output
    [gap] = doc["scope_gaps"][:1]
    assert gap["kind"] == "vpc_not_found" and gap["vpc_id"] == "vpc-0a1b2c3d4e5f60719"
    errors = [f for f in doc["findings"] if f["status"] == "ERROR"]
    assert [(f["rule_id"], f["resource"]["type"], f["resource"]["id"]) for f in errors] == [
        ("SCP-001", "vpc", "vpc-0a1b2c3d4e5f60719")]
    # nothing passed either: the run as a whole assessed nothing
    assert [g["kind"] for g in doc["scope_gaps"]] == ["vpc_not_found", "nothing_assessed"]


def test_a_user_rule_whose_where_matches_nothing_is_an_error(tmp_path: Path) -> None:
    result, doc = scan(tmp_path, ONE_ACCOUNT, pack=TYPO_PACK)
    assert result.exit_code == 3, result.output
    assert "COMPLIANT:" not in result.output
    [gap] = [g for g in doc["scope_gaps"] if g["kind"] == "rule_matched_nothing"]
    assert gap["rules"] == ["TYP-001"]
    assert "excluded all 1 in-scope vpc_endpoint" in gap["reason"]
    assert "state 'availabel': did you mean 'available'?" in gap["reason"]
    errors = [f for f in doc["findings"] if f["status"] == "ERROR"]
    assert [(f["rule_id"], f["resource"]["id"]) for f in errors] == [("TYP-001", "*")]
    junit = (tmp_path / "out" / "findings.junit.xml").read_text()
    assert 'errors="1"' in junit


def test_a_snapshot_that_does_not_cover_the_config_is_incomplete(tmp_path: Path) -> None:
    config = ("accounts: [{id: '111111111111'}, {id: '222222222222'}]\nregions: [eu-west-1, us-east-1]\n"
              "scope: {tags: {data-classification: [pci]}}\n")
    result, doc = scan(tmp_path, config)
    assert result.exit_code == 3, result.output
    uncovered = sorted((g["account"], g["region"]) for g in doc["scope_gaps"] if g["kind"] == "not_in_snapshot")
    assert uncovered == [(ACCOUNT, "us-east-1"), ("222222222222", "eu-west-1"), ("222222222222", "us-east-1")]
    assert "111111111111/us-east-1: the config names region us-east-1" in result.output
    errors = sorted((f["resource"]["account"], f["resource"]["region"]) for f in doc["findings"]
                    if f["status"] == "ERROR")
    assert errors == sorted(uncovered)
    passed = [f for f in doc["findings"] if f["status"] == "PASS"]
    assert [f["resource"]["id"] for f in passed] == ["vpc-0a1b2c3d4e5f60718"]   # what it covers is assessed


def test_snapshot_gaps_check_what_the_config_decides_at_run_time() -> None:
    from auditor.rules.scope import snapshot_gaps

    covered = [(ACCOUNT, "eu-west-1"), (ACCOUNT, "us-east-1")]
    assert snapshot_gaps([ACCOUNT], ("eu-west-1", "us-east-1"), covered) == []
    assert snapshot_gaps([None], ("eu-west-1",), covered) == []                 # default credentials
    assert [(g.account, g.region) for g in snapshot_gaps([], ("ap-south-1",), covered)] == [(ACCOUNT, "ap-south-1")]
    assert [(g.account, g.region) for g in snapshot_gaps(["999999999999"], "all", covered)] == [("999999999999", "")]


def test_a_region_without_regulated_vpcs_is_no_gap_unless_the_tags_nearly_match(tmp_path: Path) -> None:
    """The scope selects VPCs in eu-west-1; us-east-1 holds only a dev VPC: assessed, nothing
    regulated there, no gap. A VPC tagged `PCI` there instead is a near miss: a gap."""
    dev = {"Vpcs": [{"VpcId": "vpc-dev", "CidrBlock": "10.9.0.0/16",
                     "Tags": [{"Key": "data-classification", "Value": "dev"}]}]}
    pack = packs(tmp_path)
    scope = Scope(tags=(("data-classification", ("pci",)),))
    model = build_model(records() + records("us-east-1", dev))
    ev = evaluate_rules(model, pack, scope, today=TODAY)
    assert ev.scope_gaps == ()
    upper = {"Vpcs": [dict(dev["Vpcs"][0], Tags=[{"Key": "data-classification", "Value": "PCI"}])]}
    ev = evaluate_rules(build_model(records() + records("us-east-1", upper)), pack, scope, today=TODAY)
    [gap] = ev.scope_gaps
    assert (gap.kind, gap.region) == ("scope_selects_nothing", "us-east-1")
    assert gap.suggestions == ("no VPC here has data-classification=pci: did you mean 'PCI'? "
                               "(values of data-classification: 'PCI')",)


def test_nothing_assessed_anywhere_is_never_complete(tmp_path: Path) -> None:
    """Everything in scope, but no resource the rule applies to: 0 PASS and 0 FAIL is not
    compliance. The gap is recorded and each rule gets an ERROR saying so (so JUnit, SARIF,
    CSV and the control status show it too, not "not applicable")."""
    pack = packs(tmp_path)
    model = build_model(records(vpcs={"Vpcs": []}))
    ev = evaluate_rules(model, pack, Scope(), today=TODAY)
    assert [(f.rule_id, f.status, f.resource.id) for f in ev.findings] == [("SCP-001", "ERROR", "*")]
    assert "nothing was assessed: 0 PASS, 0 FAIL" in ev.findings[0].message
    assert [g.kind for g in ev.scope_gaps] == ["nothing_assessed"]
    doc = build_document(ev, pack, RunInfo(manifest={"complete": True}, manifest_sha256="sha256:" + "0" * 64))
    assert doc["summary"]["complete"] is False
    assert "no resource a rule applies to is in scope" in doc["scope_gaps"][0]["reason"]
    [pci] = doc["frameworks"]
    assert pci["status"] == "ERROR"   # never "not applicable" when nothing was looked at


def test_built_in_rules_that_apply_to_nothing_stay_not_applicable() -> None:
    """A built-in rule's where (fixture-tested) may rightly hold nowhere (no Interface endpoint
    in an estate of Gateway endpoints): NOT_APPLICABLE, no gap."""
    builtin = load_packs()
    gateway = {"VpcEndpoints": [dict(ENDPOINTS["VpcEndpoints"][0], VpcEndpointType="Gateway",
                                     ServiceName="com.amazonaws.eu-west-1.s3")]}
    recs = records_for(Case(rule="", name="gw", file="", line=0, region=REGION,
                            calls={"ec2:DescribeVpcs": VPCS, "ec2:DescribeVpcEndpoints": gateway}))
    ev = evaluate_rules(build_model(recs), builtin, Scope(), today=TODAY)
    assert not [g for g in ev.scope_gaps if g.kind == "rule_matched_nothing"]


def test_the_reports_name_the_gaps_and_the_suggestions(tmp_path: Path) -> None:
    """The HTML report and the PDF's print layout name each scope gap, its suggestion, and
    say the assessment is incomplete because of it."""
    from auditor.report.html import html_report
    from auditor.report.model import build_model as report_model
    from auditor.report.pdf import PdfInputs, render_html

    _, doc = scan(tmp_path, ONE_ACCOUNT + "scope: {tags: {data-clasification: [pci]}}\n")
    model = report_model(doc, packs(tmp_path))
    assert [g.kind for g in model.scope_gaps] == ["scope_selects_nothing", "nothing_assessed"]
    html = html_report(model).decode()
    pdf_html = render_html(model, PdfInputs(json.dumps(doc).encode()), environ={"SOURCE_DATE_EPOCH": "0"})
    for page in (html, pdf_html):
        assert "Nothing was assessed in 2 place(s)" in page
        assert "did you mean &#39;data-classification&#39;?" in page
        assert f"{ACCOUNT}/{REGION}" in page
    assert "Incomplete: nothing was assessed in 2 place(s)" in html
    assert "incomplete: nothing was assessed in 2 place(s)" in pdf_html


def test_a_selector_that_selects_nothing_anywhere_names_every_region_with_the_tags_of_all(tmp_path: Path) -> None:
    """Two regions, the tagged VPCs in one: with the key misspelt both are gaps, and the
    untagged region's gap suggests the key too (it is on VPCs of the run, not of that region)."""
    bare = {"Vpcs": [{"VpcId": "vpc-bare", "CidrBlock": "10.9.0.0/16"}]}
    model = build_model(records() + records("us-east-1", bare))
    ev = evaluate_rules(model, packs(tmp_path), Scope(tags=(("data-clasification", ("pci",)),)), today=TODAY)
    gaps = [g for g in ev.scope_gaps if g.kind == "scope_selects_nothing"]
    assert [g.region for g in gaps] == [REGION, "us-east-1"]
    for gap in gaps:
        assert gap.suggestions == ("tag key 'data-clasification' is on no VPC: did you mean 'data-classification'?",)
        assert gap.rules == ("SCP-001",)
    assert sorted(f.resource.region for f in ev.findings if f.status == "ERROR") == [REGION, "us-east-1"]
