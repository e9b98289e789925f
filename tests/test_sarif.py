"""SARIF 2.1.0 validated against the OASIS schema (the final 2.1.0 schema, fetched by its pinned
hash into .venv/schemas by `make test`: requirements/schemas.lock), and what GitHub code
scanning needs of it: `security-severity` on every rule, a physical location relative to
%SRCROOT% for every result (the user pack line of its rule, else the audit config line that
selected its pack), resource ARNs as logical locations, ERROR visible, WAIVED suppressed."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from auditor.report.machine import BUILTIN_ROOT, SECURITY_SEVERITY, SRCROOT, sarif
from auditor.report.model import build_model
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs
from conftest import DemoRun
from test_report_model import sample_document

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / ".venv" / "schemas" / "sarif-2.1.0.json"
# GitHub's bands: over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low (info ranks low).
BANDS = {"critical": (9.0, 10.0), "high": (7.0, 8.9), "medium": (4.0, 6.9), "low": (0.1, 3.9), "info": (0.1, 3.9)}


def load_schema(path: Path = SCHEMA) -> dict[str, Any]:
    """The OASIS SARIF 2.1.0 schema; a missing one fails the test saying how to fetch it
    (never a skip: an unvalidated SARIF is not a passed test)."""
    if not path.is_file():
        pytest.fail(f"the SARIF 2.1.0 schema is missing ({path}): `make test` fetches it, or run "
                    "`.venv/bin/python requirements/fetch_schemas.py` (pinned in requirements/schemas.lock)",
                    pytrace=False)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = load_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate(log: dict[str, Any]) -> None:
    """Every schema error at once (jsonschema's own messages), or nothing."""
    errors = sorted(_validator().iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:20])


def check_github(log: dict[str, Any]) -> None:
    """What GitHub code scanning needs beyond the schema: security-severity (a number as a
    string, in its severity's band) and a "security" tag on every rule, a relative
    physicalLocation with a declared base on every result, a line hash from the finding."""
    (run,) = log["runs"]
    for rule in run["tool"]["driver"]["rules"]:
        props = rule["properties"]
        low, high = BANDS[props["severity"]]
        assert low <= float(props["security-severity"]) <= high, rule["id"]
        assert "security" in props["tags"]
    bases = run["originalUriBaseIds"]
    for res in run["results"]:
        (loc,) = res["locations"]
        art = loc["physicalLocation"]["artifactLocation"]
        assert art["uriBaseId"] in bases
        uri = art["uri"]
        assert uri and not uri.startswith(("/", "file:")) and ":" not in uri and "\\" not in uri, uri
        assert loc["physicalLocation"]["region"]["startLine"] >= 1
        fp = res["partialFingerprints"]
        assert fp["primaryLocationLineHash"] == fp["auditorFingerprint/v1"] + ":1"


# The schema -------------------------------------------------------------------------------------

def test_a_missing_schema_fails_with_how_to_fetch_it(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="requirements/fetch_schemas.py"):
        load_schema(tmp_path / "nowhere.json")


def test_the_schema_is_the_final_oasis_2_1_0_one() -> None:
    schema = load_schema()
    assert "2.1.0-rtm.5" in schema["title"]
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]


def test_the_validator_rejects_what_the_schema_forbids() -> None:
    doc = json.loads(sarif(build_model(sample_document(), load_packs(), load_catalogues()), sample_document()))
    validate(doc)
    bad = copy.deepcopy(doc)
    bad["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(AssertionError, match="fatal"):
        validate(bad)
    bad = copy.deepcopy(doc)
    del bad["runs"][0]["tool"]["driver"]["name"]
    with pytest.raises(AssertionError, match="'name' is a required property"):
        validate(bad)


# The demo ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_sarif(demo_run: DemoRun) -> dict[str, Any]:
    assert demo_run.code == 0, demo_run.stderr
    data: dict[str, Any] = json.loads((demo_run.out / "findings.sarif").read_text(encoding="utf-8"))
    return data


def test_the_demo_sarif_validates_against_the_oasis_schema(demo_sarif: dict[str, Any]) -> None:
    validate(demo_sarif)
    check_github(demo_sarif)
    assert demo_sarif["runs"][0]["results"], "the demo has failing findings"


def test_the_demo_points_at_the_config_line_that_selected_the_builtin_packs(demo_sarif: dict[str, Any],
                                                                          demo_run: DemoRun) -> None:
    (run,) = demo_sarif["runs"]
    config = ROOT / "sample_configs" / "demo-audit.yaml"
    lines = config.read_text(encoding="utf-8").splitlines()
    # The demo config names no pack: every built-in one runs, and the scope is what it chose.
    for res in run["results"]:
        phys = res["locations"][0]["physicalLocation"]
        assert phys["artifactLocation"] == {"uri": "sample_configs/demo-audit.yaml", "uriBaseId": SRCROOT}
        assert lines[phys["region"]["startLine"] - 1].startswith("scope:")
    assert run["properties"]["auditConfig"] == "sample_configs/demo-audit.yaml"
    assert set(run["originalUriBaseIds"]) == {SRCROOT}
    # no path of this machine anywhere
    text = (demo_run.out / "findings.sarif").read_text(encoding="utf-8")
    assert str(ROOT) not in text and str(demo_run.root) not in text


def test_the_demo_results_name_resources_by_arn(demo_sarif: dict[str, Any], demo_run: DemoRun) -> None:
    findings = json.loads((demo_run.out / "findings.json").read_text(encoding="utf-8"))["findings"]
    arns = {f["fingerprint"]: f["resource"]["arn"] for f in findings}
    results = demo_sarif["runs"][0]["results"]
    assert {r["properties"]["status"] for r in results} <= {"FAIL", "ERROR", "WAIVED"}
    wanted = {f["fingerprint"] for f in findings if f["status"] in ("FAIL", "ERROR", "WAIVED")}
    assert {r["partialFingerprints"]["auditorFingerprint/v1"] for r in results} == wanted
    for res in results:
        (logical,) = res["locations"][0]["logicalLocations"]
        arn = arns[res["partialFingerprints"]["auditorFingerprint/v1"]]
        if arn:
            assert logical["fullyQualifiedName"] == arn and arn.startswith("arn:aws:")


# ERROR and WAIVED -------------------------------------------------------------------------------

def _sample_with_sources() -> dict[str, Any]:
    doc = sample_document()
    doc["rules"][0]["source"] = {"file": "rules/packs/private-eks.yaml", "line": 12}
    doc["run"]["packs"][0]["file"] = "rules/packs/private-eks.yaml"
    doc["run"]["packs"][0]["selected_at"] = {"file": "audit/config.yaml", "line": 7}
    doc["run"]["config"]["file"] = "audit/config.yaml"
    return doc


def test_error_and_waived_results_validate_and_show(tmp_path: Path) -> None:
    doc = _sample_with_sources()
    log = json.loads(sarif(build_model(doc, load_packs(), load_catalogues()), doc))
    validate(log)
    check_github(log)
    results = log["runs"][0]["results"]
    by_status = {r["properties"]["status"]: r for r in results}
    assert set(by_status) == {"FAIL", "ERROR", "WAIVED"}
    error = by_status["ERROR"]
    # ERROR is a visible warning with its cause, never a pass and never level "none"
    assert (error["kind"], error["level"]) == ("fail", "warning")
    cause = next(f["message"] for f in doc["findings"] if f["status"] == "ERROR")
    assert error["message"]["text"].startswith("Not assessed") and cause in error["message"]["text"]
    waived = by_status["WAIVED"]
    (suppression,) = waived["suppressions"]
    assert suppression["kind"] == "external" and suppression["status"] == "accepted"
    assert "WVR-1" in suppression["justification"]
    # a built-in pack: the config line that selected it
    for res in results:
        assert res["locations"][0]["physicalLocation"] == {
            "artifactLocation": {"uri": "audit/config.yaml", "uriBaseId": SRCROOT}, "region": {"startLine": 7}}


def test_a_builtin_pack_without_a_config_points_at_its_source_file() -> None:
    doc = _sample_with_sources()
    doc["run"]["packs"][0]["selected_at"] = None
    doc["run"]["config"]["file"] = ""
    log = json.loads(sarif(build_model(doc, load_packs(), load_catalogues()), doc))
    validate(log)
    (run,) = log["runs"]
    assert set(run["originalUriBaseIds"]) == {SRCROOT, BUILTIN_ROOT}
    for res in run["results"]:
        assert res["locations"][0]["physicalLocation"] == {
            "artifactLocation": {"uri": "rules/packs/private-eks.yaml", "uriBaseId": BUILTIN_ROOT},
            "region": {"startLine": 12}}


def test_an_old_findings_json_without_sources_still_gives_valid_sarif() -> None:
    doc = sample_document()     # written before rules[].source existed
    log = json.loads(sarif(build_model(doc, load_packs(), load_catalogues()), doc))
    validate(log)
    for res in log["runs"][0]["results"]:
        assert res["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "findings.json",
                                                                              "uriBaseId": SRCROOT}


def test_security_severity_is_fixed_per_severity_in_githubs_bands() -> None:
    for severity, (low, high) in BANDS.items():
        assert low <= float(SECURITY_SEVERITY[severity]) <= high
    doc = sample_document()
    for severity in BANDS:
        doc["rules"][0]["severity"] = severity
        log = json.loads(sarif(build_model(doc), doc))
        (rule,) = log["runs"][0]["tool"]["driver"]["rules"]
        assert rule["properties"]["security-severity"] == SECURITY_SEVERITY[severity]


# A user pack: the rule's own line ---------------------------------------------------------------

def test_a_user_pack_rule_points_at_its_line_and_a_named_pack_at_its_entry(
        demo_run: DemoRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.api import run_scan
    from auditor.config import load_config

    assert demo_run.code == 0, demo_run.stderr
    repo = tmp_path / "repo"
    (repo / "audit" / "packs").mkdir(parents=True)
    # the sample user pack, asking for a tag no demo VPC has: USR-001 fails on every regulated VPC
    user_pack = (ROOT / "sample_configs" / "user-packs" / "bank-extras.yaml").read_text(encoding="utf-8")
    assert "attr: tags.owner" in user_pack
    (repo / "audit" / "packs" / "bank-extras.yaml").write_text(user_pack.replace("attr: tags.owner", "attr: tags.steward"),
                                                               encoding="utf-8")
    demo_config = (ROOT / "sample_configs" / "demo-audit.yaml").read_text(encoding="utf-8")
    config_text = demo_config.replace("fail_on: high", "fail_on: high\n\nrule_packs:\n  - packs/bank-extras.yaml\n"
                                                       "  - private-network\n")
    # without the demo's waivers and responses: they name rules of packs this config does not run
    config_text = config_text.replace("waivers: demo-waivers.yaml\n", "").replace("responses: demo-responses.yaml\n", "")
    assert config_text != demo_config
    (repo / "audit" / "audit.yaml").write_text(config_text, encoding="utf-8")
    monkeypatch.chdir(repo)      # a CI job runs in its repository: %SRCROOT%
    result = run_scan(load_config(Path("audit/audit.yaml")), snapshot=demo_run.out / "snapshot",
                      out=tmp_path / "out", formats=["sarif", "asff"])
    assert result is not None
    document = json.loads((tmp_path / "out" / "findings.json").read_text(encoding="utf-8"))
    log = json.loads((tmp_path / "out" / "findings.sarif").read_text(encoding="utf-8"))
    validate(log)
    check_github(log)
    assert document["run"]["config"]["file"] == "audit/audit.yaml"
    packs = {p["id"]: p for p in document["run"]["packs"]}
    assert packs["bank-extras"]["file"] == "audit/packs/bank-extras.yaml"
    assert packs["private-network"]["file"] == "rules/packs/private-network.yaml"
    config_lines = config_text.splitlines()
    pack_lines = (repo / "audit" / "packs" / "bank-extras.yaml").read_text(encoding="utf-8").splitlines()
    seen = set()
    for res in log["runs"][0]["results"]:
        phys = res["locations"][0]["physicalLocation"]
        uri, line = phys["artifactLocation"]["uri"], phys["region"]["startLine"]
        if res["ruleId"].startswith("USR-"):
            assert uri == "audit/packs/bank-extras.yaml"
            assert f"id: {res['ruleId']}" in pack_lines[line - 1]
        else:
            assert uri == "audit/audit.yaml" and config_lines[line - 1] == "  - private-network"
        seen.add(res["ruleId"][:3])
    assert seen == {"USR", "PN-"}, seen
    assert str(tmp_path) not in (tmp_path / "out" / "findings.sarif").read_text(encoding="utf-8")
    # `auditor verify` re-evaluates with the bundle's renamed copies, from anywhere: the places
    # the run recorded stand, the rule lines are derived again; SARIF and ASFF are re-derived
    from auditor.bundle_verify import verify_bundle

    monkeypatch.chdir(tmp_path)
    lines: list[str] = []
    verdict = verify_bundle(tmp_path / "out", progress=lambda _mark, line: lines.append(line))
    assert verdict.ok, verdict
    (rederived,) = [line for line in lines if line.startswith("reports:")]
    assert "findings.sarif" in rederived and "findings.asff.json" in rederived, lines


# The places findings.json records -------------------------------------------------------------

def test_recorded_paths_are_never_paths_of_the_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.resources import builtin_dir
    from auditor.results import stable_path

    assert stable_path(builtin_dir("rules") / "packs" / "private-eks.yaml") == "rules/packs/private-eks.yaml"
    assert stable_path(builtin_dir("sample_configs") / "demo-audit.yaml") == "sample_configs/demo-audit.yaml"
    (tmp_path / "ci" / "audit").mkdir(parents=True)
    config = tmp_path / "ci" / "audit" / "audit.yaml"
    monkeypatch.chdir(tmp_path / "ci")
    assert stable_path(config) == "audit/audit.yaml" and stable_path("audit/audit.yaml") == "audit/audit.yaml"
    monkeypatch.chdir(tmp_path / "ci" / "audit")
    assert stable_path(tmp_path / "elsewhere" / "x.yaml") == "x.yaml"     # outside: its name alone
    assert stable_path("<config>") == "" and stable_path("") == ""


def test_carry_places_ignores_what_is_not_a_findings_json() -> None:
    from auditor.results import carry_places

    doc = _sample_with_sources()
    before = copy.deepcopy(doc)
    for junk in (b"", b"not json", b"[]", b'{"run": 3}', b'{"run": {"packs": 7}}'):
        carry_places(doc, junk)
        assert doc == before, junk


# The schema's fetch step ------------------------------------------------------------------------

def _fetcher() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("fetch_schemas", ROOT / "requirements" / "fetch_schemas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tarball(tmp_path: Path) -> tuple[str, str]:
    import base64
    import hashlib
    import io
    import tarfile

    body = b'{"title": "a schema"}'
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("package/lib/schema.json")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    path = tmp_path / "pkg.tgz"
    path.write_bytes(buf.getvalue())
    return path.as_uri(), base64.b64encode(hashlib.sha512(buf.getvalue()).digest()).decode()


def test_the_fetch_step_checks_the_pinned_hash_and_extracts_the_member(tmp_path: Path) -> None:
    fetch = _fetcher()
    url, sha512 = _tarball(tmp_path)
    dest = tmp_path / "schemas"
    assert fetch.fetch("s.json", url, sha512, "package/lib/schema.json", dest) is True
    assert json.loads((dest / "s.json").read_text()) == {"title": "a schema"}
    assert fetch.fetch("s.json", url, sha512, "package/lib/schema.json", dest) is False   # already there
    lock = tmp_path / "schemas.lock"
    lock.write_text(f"[t.json]\nurl = {url}\nsha512 = {sha512}\nmember = package/lib/schema.json\n")
    assert fetch.main(["--lock", str(lock), "--dest", str(dest)]) == 0 and (dest / "t.json").is_file()


def test_the_fetch_step_refuses_another_tarball_and_writes_nothing(tmp_path: Path) -> None:
    fetch = _fetcher()
    url, sha512 = _tarball(tmp_path)
    dest = tmp_path / "schemas"
    with pytest.raises(SystemExit, match="the lock pins"):
        fetch.fetch("s.json", url, "A" * 86 + "==", "package/lib/schema.json", dest)
    with pytest.raises(SystemExit, match="holds no package/other.json"):
        fetch.fetch("s.json", url, sha512, "package/other.json", dest)
    assert not dest.exists()
    assert fetch.main(["--lock", str(tmp_path / "none.lock"), "--dest", str(dest)]) == 1


def test_the_selecting_line_of_a_pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.config import load_config
    from auditor.results import pack_selections

    monkeypatch.chdir(tmp_path)
    packs = load_packs().packs
    lines = ['version: 1', 'organization: Example', 'profile: banking', 'rule_packs:', '  - private-eks',
             'scope:', '  vpc_ids: [vpc-0123abcd]']
    Path("audit.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    chosen = pack_selections(load_config("audit.yaml"), packs, profile="banking")
    assert chosen["private-eks"] == {"file": "audit.yaml", "line": 5}            # its rule_packs entry
    assert {v["line"] for k, v in chosen.items() if k != "private-eks"} == {3}   # the profile's line
    assert pack_selections(load_config("audit.yaml"), packs)["private-network"]["line"] == 4   # no profile
    Path("plain.yaml").write_text("version: 1\nregions: [eu-west-1]\nscope:\n  vpc_ids: [vpc-0123abcd]\n", encoding="utf-8")
    assert {v["line"] for v in pack_selections(load_config("plain.yaml"), packs).values()} == {3}   # scope:
    assert pack_selections(None, packs) == {}
