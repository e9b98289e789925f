"""`auditor.diff.diff_bundles` on hand-made bundles (tests/diff_fixtures.py): each category, the
resources, waivers, rule packs and config, the notes of runs that differ in config or scope, an
empty diff, the order of every list, and bad input. Every document made here is validated
against the published auditor/schemas/diff.schema.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from auditor.diff import CATEGORIES, NOT_LISTED, DiffError, diff_bundles, gate
from auditor.validation import load_schema
from diff_fixtures import ACCOUNT, CONFIG, PACKS, bundle, finding, waiver_row

VALIDATOR = jsonschema.Draft202012Validator(load_schema("diff"))


def diff(tmp_path: Path, a: list[dict[str, Any]], b: list[dict[str, Any]], *, expiring_within: int = 30,
         a_kw: dict[str, Any] | None = None, b_kw: dict[str, Any] | None = None) -> dict[str, Any]:
    """The diff of two bundles made from `a` and `b`, checked against the schema and checked to
    place every fingerprint of either run exactly once."""
    ra = bundle(tmp_path / "a", a, **(a_kw or {}))
    rb = bundle(tmp_path / "b", b, **{"run_id": "run-b", "created": "2026-03-08T10:00:00Z",
                                      "assessed_on": "2026-03-08", **(b_kw or {})})
    doc = diff_bundles(ra, rb, expiring_within=expiring_within)
    errors = [e.message for e in VALIDATOR.iter_errors(doc)]
    assert not errors, errors
    union = {f["fingerprint"] for f in a} | {f["fingerprint"] for f in b}
    placed = sum(doc["counts"][c] for c in CATEGORIES) + sum(doc["counts"]["not_listed"][k] for k in NOT_LISTED)
    assert placed == len(union)
    return doc


def fps(doc: dict[str, Any], cat: str) -> list[str]:
    return [e["fingerprint"] for e in doc["findings"][cat]]


def only(doc: dict[str, Any], cat: str) -> dict[str, Any]:
    """The one entry of `cat`, and no entry in any other listed category but still_failing."""
    others = {c: fps(doc, c) for c in CATEGORIES if c not in (cat, "still_failing") and doc["findings"][c]}
    assert not others, others
    assert len(doc["findings"][cat]) == 1, doc["findings"][cat]
    entry: dict[str, Any] = doc["findings"][cat][0]
    return entry


# --------------------------------------------------------------------------- the categories

def test_a_fail_where_a_passed_is_new(tmp_path: Path) -> None:
    doc = diff(tmp_path, [finding("R-001", "subnet-1", "PASS")], [finding("R-001", "subnet-1", "FAIL")])
    e = only(doc, "new")
    assert (e["status_a"], e["status_b"], e["reason"]) == ("PASS", "FAIL", "was PASS in RUN_A")
    assert e["resource"]["id"] == "subnet-1" and e["rule_id"] == "R-001"


def test_an_error_where_a_was_not_applicable_is_new_never_hidden(tmp_path: Path) -> None:
    doc = diff(tmp_path, [finding("R-001", "subnet-1", "NOT_APPLICABLE")], [finding("R-001", "subnet-1", "ERROR")])
    e = only(doc, "new")
    assert (e["status_a"], e["status_b"]) == ("NOT_APPLICABLE", "ERROR")
    assert gate(doc, "critical").new_errors == 1 and gate(doc, "critical").violations == 0


def test_a_failing_new_resource_is_new_and_added(tmp_path: Path) -> None:
    doc = diff(tmp_path, [finding("R-001", "subnet-1", "PASS")],
               [finding("R-001", "subnet-1", "PASS"), finding("R-001", "subnet-2", "FAIL")])
    e = only(doc, "new")
    assert e["status_a"] is None and e["reason"] == "new resource: not in RUN_A"
    assert doc["resources"]["added"] == [{"type": "subnet", "account": ACCOUNT, "region": "eu-west-1", "id": "subnet-2"}]
    assert doc["resources"]["removed"] == []


@pytest.mark.parametrize(("before", "after", "reason"), [
    ("FAIL", "PASS", "passes now"),
    ("ERROR", "NOT_APPLICABLE", "not applicable now"),
    ("FAIL", None, "resource gone: not among RUN_B's resources"),
])
def test_resolved(tmp_path: Path, before: str, after: str | None, reason: str) -> None:
    b = [finding("R-001", "subnet-1", after)] if after else []
    doc = diff(tmp_path, [finding("R-001", "subnet-1", before)], b)
    e = only(doc, "resolved")
    assert (e["status_a"], e["status_b"], e["reason"]) == (before, after, reason)
    assert doc["resources"]["removed"] == ([] if after else [
        {"type": "subnet", "account": ACCOUNT, "region": "eu-west-1", "id": "subnet-1"}])


def test_a_finding_gone_while_its_resource_stays_is_resolved_as_no_longer_evaluated(tmp_path: Path) -> None:
    doc = diff(tmp_path, [finding("R-001", "subnet-1", "FAIL"), finding("R-002", "subnet-1", "PASS")],
               [finding("R-002", "subnet-1", "PASS")])
    assert only(doc, "resolved")["reason"] == "no longer evaluated: RUN_B has no such finding"
    assert doc["resources"]["removed"] == []


def test_the_same_failure_is_still_failing_even_when_its_record_moved(tmp_path: Path) -> None:
    doc = diff(tmp_path, [finding("R-001", "subnet-1", "FAIL", source="records/a.json#/3")],
               [finding("R-001", "subnet-1", "FAIL", source="records/a.json#/4")])
    assert fps(doc, "still_failing") and not any(doc["findings"][c] for c in CATEGORIES if c != "still_failing")
    assert doc["no_changes"] is True


def test_other_observed_values_are_changed_with_what_differs(tmp_path: Path) -> None:
    doc = diff(tmp_path, [finding("R-001", "subnet-1", "FAIL", observed=["0.0.0.0/0", "10.0.0.0/8"])],
               [finding("R-001", "subnet-1", "FAIL", observed=["0.0.0.0/0", "::/0"])])
    e = only(doc, "changed")
    assert e["reason"] == "evidence changed"
    assert e["changes"] == [{"path": "attr", "a": '["0.0.0.0/0","10.0.0.0/8"]', "b": '["0.0.0.0/0","::/0"]',
                             "added": ['"::/0"'], "removed": ['"10.0.0.0/8"'], "omitted": 0}]
    assert doc["findings"]["still_failing"] == []


def test_long_observed_values_and_long_lists_are_clipped_and_counted(tmp_path: Path) -> None:
    doc = diff(tmp_path, [finding("R-001", "subnet-1", "FAIL", observed=[f"a{i}" for i in range(60)])],
               [finding("R-001", "subnet-1", "FAIL", observed=[f"b{i}" for i in range(60)])])
    change = only(doc, "changed")["changes"][0]
    assert change["a"].endswith("characters)") and "… (+" in change["a"]
    assert len(change["added"]) == 20 and change["removed"] == [] and change["omitted"] == 100


def test_fail_to_error_is_changed_naming_the_status(tmp_path: Path) -> None:
    doc = diff(tmp_path, [finding("R-001", "subnet-1", "FAIL")], [finding("R-001", "subnet-1", "ERROR")])
    e = only(doc, "changed")
    assert e["changes"][0] == {"path": "(status)", "a": "FAIL", "b": "ERROR", "added": [], "removed": [],
                               "omitted": 0}
    assert e["reason"] == "status FAIL -> ERROR"


def test_error_to_fail_is_changed_and_gated_as_a_new_violation(tmp_path: Path) -> None:
    doc = diff(tmp_path, [finding("R-001", "subnet-1", "ERROR")], [finding("R-001", "subnet-1", "FAIL")])
    only(doc, "changed")
    assert gate(doc, "high").violations == 1 and gate(doc, "critical").violations == 0


def test_passing_with_other_evidence_is_counted_not_listed(tmp_path: Path) -> None:
    doc = diff(tmp_path, [finding("R-001", "subnet-1", "PASS", observed=1), finding("R-002", "subnet-1", "PASS"),
                          finding("R-003", "subnet-1", "PASS")],
               [finding("R-001", "subnet-1", "PASS", observed=2), finding("R-002", "subnet-1", "PASS"),
                finding("R-003", "subnet-1", "NOT_APPLICABLE")])
    assert not any(doc["findings"].values())
    nl = doc["counts"]["not_listed"]
    assert (nl["passing_evidence_changed"], nl["unchanged_passing"], nl["passing_status_changed"]) == (1, 1, 1)
    assert doc["no_changes"] is True


def test_waived_names_the_waiver(tmp_path: Path) -> None:
    doc = diff(tmp_path, [finding("R-001", "subnet-1", "FAIL")],
               [finding("R-001", "subnet-1", "WAIVED", waiver="WVR-1")],
               b_kw={"waivers": [waiver_row("WVR-1", "active", "2026-06-30", 114)]})
    e = only(doc, "waived")
    assert e["waiver"] == "WVR-1" and e["reason"] == "waiver WVR-1 (expires 2026-06-30)"
    assert gate(doc, "info").violations == 0


@pytest.mark.parametrize(("register", "reason"), [
    ([waiver_row("WVR-1", "expired", "2026-03-05", -3)], "waiver WVR-1 expired on 2026-03-05"),
    ([], "waiver WVR-1 removed from the register"),
    ([waiver_row("WVR-1", "stale", "2026-06-30", 114)], "waiver WVR-1 no longer matches this finding "
                                                        "(its rules or resources changed)"),
])
def test_unwaived_says_why_from_run_b_register(tmp_path: Path, register: list[dict[str, Any]], reason: str) -> None:
    doc = diff(tmp_path, [finding("R-001", "subnet-1", "WAIVED", waiver="WVR-1")],
               [finding("R-001", "subnet-1", "FAIL")],
               a_kw={"waivers": [waiver_row("WVR-1", "active", "2026-03-05", 4)]}, b_kw={"waivers": register})
    e = only(doc, "unwaived")
    assert (e["waiver"], e["reason"], e["status_b"]) == ("WVR-1", reason, "FAIL")
    assert gate(doc, "high").violations == 1


def test_a_waived_finding_that_passes_now_is_unwaived_no_longer_needed(tmp_path: Path) -> None:
    doc = diff(tmp_path, [finding("R-001", "subnet-1", "WAIVED", waiver="WVR-1")],
               [finding("R-001", "subnet-1", "PASS")])
    assert only(doc, "unwaived")["reason"] == "passes now; waiver WVR-1 no longer needed"
    assert gate(doc, "info").violations == 0


def test_another_waiver_on_a_waived_finding_is_changed(tmp_path: Path) -> None:
    doc = diff(tmp_path, [finding("R-001", "subnet-1", "WAIVED", waiver="WVR-1")],
               [finding("R-001", "subnet-1", "WAIVED", waiver="WVR-2")])
    e = only(doc, "changed")
    assert e["changes"][0]["path"] == "(waiver)" and (e["changes"][0]["a"], e["changes"][0]["b"]) == ("WVR-1", "WVR-2")


def test_a_whole_account_region_error_is_no_resource(tmp_path: Path) -> None:
    doc = diff(tmp_path, [], [finding("R-001", "*", "ERROR")])
    assert only(doc, "new")["reason"] == "not in RUN_A"
    assert doc["resources"] == {"added": [], "removed": []}


# --------------------------------------------------------------------------- the runs around them

def test_waivers_expired_since_a_and_expiring_within_n_days(tmp_path: Path) -> None:
    a = [waiver_row("WVR-1", "active", "2026-03-05", 4), waiver_row("WVR-2", "active", "2026-04-07", 37),
         waiver_row("WVR-3", "active", "2026-04-08", 38), waiver_row("WVR-4", "active", "2026-12-31", 305)]
    b = [waiver_row("WVR-1", "expired", "2026-03-05", -3, ("R-001", "TF-004")), waiver_row("WVR-2", "active", "2026-04-07", 30),
         waiver_row("WVR-3", "stale", "2026-04-08", 31), waiver_row("WVR-5", "pending", "2026-12-31", 298)]
    doc = diff(tmp_path, [], [], a_kw={"waivers": a}, b_kw={"waivers": b})
    w = doc["waivers"]
    assert [r["id"] for r in w["expired_since_a"]] == ["WVR-1"]
    assert (w["expired_since_a"][0]["status_a"], w["expired_since_a"][0]["status_b"]) == ("active", "expired")
    assert w["expired_since_a"][0]["rules"] == ["R-001", "TF-004"]    # the register's one text, as rule ids
    assert [r["id"] for r in w["expiring"]] == ["WVR-2"]            # 30 days: in; 31: out
    assert [r["id"] for r in w["added"]] == ["WVR-5"] and [r["id"] for r in w["removed"]] == ["WVR-4"]
    wider = diff_bundles(tmp_path / "a", tmp_path / "b", expiring_within=31)
    assert [r["id"] for r in wider["waivers"]["expiring"]] == ["WVR-2", "WVR-3"]
    assert doc["no_changes"] is False


def test_rule_pack_changes(tmp_path: Path) -> None:
    b_packs = [{**PACKS[0], "version": "1.1.0", "sha256": "b" * 64, "parameters": {"ports": [22], "extra": True}},
               {"id": "new-pack", "version": "0.1.0", "sha256": "c" * 64, "parameters": {}}]
    doc = diff(tmp_path, [], [], a_kw={"packs": [*PACKS, {"id": "old", "version": "2.0.0", "sha256": "d" * 64,
                                                          "parameters": {}}]}, b_kw={"packs": b_packs})
    p = doc["packs"]
    assert [x["id"] for x in p["added"]] == ["new-pack"] and [x["id"] for x in p["removed"]] == ["old"]
    changes = {c["path"]: (c["a"], c["b"]) for c in p["changed"][0]["changes"]}
    assert changes == {"version": ("1.0.0", "1.1.0"), "sha256": ("a" * 64, "b" * 64),
                       "parameters.extra": (None, "true"), "parameters.ports": ("[22,3389]", "[22]")}


def test_runs_from_different_configs_are_said_so_and_still_diffed(tmp_path: Path) -> None:
    other = CONFIG.replace("regions: [eu-west-1]", "regions: [eu-west-1, us-east-1]")
    doc = diff(tmp_path, [finding("R-001", "subnet-1", "PASS")],
               [finding("R-001", "subnet-1", "FAIL"), finding("R-001", "subnet-9", "FAIL", region="us-east-1")],
               b_kw={"config": other, "regions": ("eu-west-1", "us-east-1"), "accounts": (ACCOUNT, "222222222222")})
    kinds = {n["kind"]: n["text"] for n in doc["notes"]}
    assert kinds["different_configs"].startswith("runs from different configs: compared anyway")
    assert "only in RUN_B: us-east-1" in kinds["different_regions"]
    assert "only in RUN_B: 222222222222" in kinds["different_accounts"]
    assert doc["config"]["changed"] is True
    assert "-regions: [eu-west-1]\n+regions: [eu-west-1, us-east-1]\n" in doc["config"]["diff"]
    assert doc["config"]["diff"].startswith("--- RUN_A/inputs/audit-config.yaml\n+++ RUN_B/inputs/audit-config.yaml\n")
    assert doc["counts"]["new"] == 2                                 # still diffed


def test_a_config_without_its_text_says_so(tmp_path: Path) -> None:
    doc = diff(tmp_path, [], [], b_kw={"config": None})
    assert doc["config"]["changed"] and doc["config"]["diff"] is None
    assert "no config text in RUN_B" in doc["config"]["diff_note"]


def test_identical_runs_say_no_changes(tmp_path: Path) -> None:
    same = [finding("R-001", "subnet-1", "PASS"), finding("R-002", "subnet-1", "NOT_APPLICABLE"),
            finding("R-003", "subnet-1", "WAIVED", waiver="WVR-1")]
    doc = diff(tmp_path, same, same)
    assert doc["no_changes"] is True and doc["notes"] == []
    assert all(doc["counts"][c] == 0 for c in CATEGORIES)
    assert doc["counts"]["not_listed"]["unchanged_waived"] == 1
    assert doc["a"]["run_id"] == "run-a" and doc["b"]["run_id"] == "run-b" and doc["b"]["assessed_on"] == "2026-03-08"


def test_incomplete_and_reversed_runs_are_noted(tmp_path: Path) -> None:
    doc = diff(tmp_path, [], [], a_kw={"created": "2026-04-01T00:00:00Z"}, b_kw={"complete": False})
    kinds = [n["kind"] for n in doc["notes"]]
    assert kinds == ["reversed", "incomplete_b"]


def test_every_list_is_ordered_by_severity_rule_resource(tmp_path: Path) -> None:
    a = [finding(r, s, "PASS", severity=sev) for r, s, sev in
         [("R-002", "subnet-2", "low"), ("R-002", "subnet-1", "low"), ("R-009", "subnet-1", "critical"),
          ("R-001", "subnet-1", "medium"), ("R-003", "subnet-1", "critical")]]
    b = [{**f, "status": "FAIL"} for f in reversed(a)]
    doc = diff(tmp_path, a, b)
    got = [(e["severity"], e["rule_id"], e["resource"]["id"]) for e in doc["findings"]["new"]]
    assert got == [("critical", "R-003", "subnet-1"), ("critical", "R-009", "subnet-1"),
                   ("medium", "R-001", "subnet-1"), ("low", "R-002", "subnet-1"), ("low", "R-002", "subnet-2")]


def test_any_json_layout_gives_the_same_diff(tmp_path: Path) -> None:
    odd = 'sub"net\\2 é'                                  # escapes in the scan's own layout, too
    a = [finding("R-001", "subnet-1", "FAIL", observed=[1, 2]), finding("R-002", odd, "PASS", item="s3"),
         finding("R-003", "subnet-3", "WAIVED", waiver="WVR-1"), finding("R-004", "subnet-4", "FAIL")]
    b = [finding("R-001", "subnet-1", "FAIL", observed=[1, 3]), finding("R-002", odd, "FAIL", message="é ✓", item="s3"),
         finding("R-003", "subnet-3", "FAIL", waiver="WVR-1", waiver_status="expired"),
         finding("R-004", "subnet-4", "WAIVED", waiver="WVR-2")]
    canonical = diff(tmp_path / "c", a, b)
    compact = diff(tmp_path / "j", a, b, a_kw={"layout": "compact"}, b_kw={"layout": "compact"})
    for doc in (canonical, compact):
        for side in ("a", "b"):
            doc[side].pop("bundle_sha256")
    assert canonical == compact
    assert [(c, e["resource"]["id"], e["item"], e["waiver"]) for c in CATEGORIES for e in canonical["findings"][c]] == [
        ("new", odd, "s3", None), ("changed", "subnet-1", None, None), ("waived", "subnet-4", None, "WVR-2"),
        ("unwaived", "subnet-3", None, "WVR-1")]


def test_duplicate_fingerprints_are_noted_and_compared_by_the_worst(tmp_path: Path) -> None:
    f = finding("R-001", "*", "ERROR")
    doc = diff(tmp_path, [], [f, {**f, "status": "PASS"}])
    assert [n["kind"] for n in doc["notes"]] == ["duplicates_b"]
    assert only(doc, "new")["status_b"] == "ERROR"


# --------------------------------------------------------------------------- bad input

def _damage(folder: Path, text: str, rehash: bool = True) -> None:
    import hashlib

    (folder / "findings.json").write_text(text)
    if rehash:
        manifest = json.loads((folder / "bundle.json").read_text())
        manifest["files"]["findings.json"] = hashlib.sha256(text.encode()).hexdigest()
        (folder / "bundle.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(("damage", "message"), [
    ("missing-folder", "is not a folder"),
    ("no-bundle-json", "is not an evidence bundle: it has no bundle.json"),
    ("bundle-json-not-json", "bundle.json: not a bundle manifest (not JSON"),
    ("no-findings", "findings.json: cannot read"),
    ("not-json", "not a findings.json (not JSON"),
    ("tampered", "does not match the SHA-256 its bundle.json lists"),
    ("other-format", "not a findings.json (format 'something-else'"),
    ("no-findings-list", "it has no findings list"),
    ("bad-status", "findings/0/status: 'MAYBE' is not one of FAIL, ERROR, WAIVED, PASS, NOT_APPLICABLE"),
    ("no-resource-id", "findings/0/resource/id: expected a string, found NoneType"),
    ("not-an-object", "findings/1: expected an object"),
])
def test_bad_input_is_a_clear_error(tmp_path: Path, damage: str, message: str) -> None:
    good = bundle(tmp_path / "a", [finding("R-001", "subnet-1", "PASS")])
    bad = bundle(tmp_path / "b", [finding("R-001", "subnet-1", "FAIL")], run_id="run-b")
    doc = json.loads((bad / "findings.json").read_text())
    if damage == "missing-folder":
        bad = tmp_path / "nowhere"
    elif damage == "no-bundle-json":
        (bad / "bundle.json").unlink()
    elif damage == "bundle-json-not-json":
        (bad / "bundle.json").write_text("{not json")
    elif damage == "no-findings":
        (bad / "findings.json").unlink()
    elif damage == "not-json":
        _damage(bad, '{"findings": [')
    elif damage == "tampered":
        _damage(bad, json.dumps({**doc, "summary": {}}), rehash=False)
    elif damage == "other-format":
        _damage(bad, json.dumps({**doc, "format": "something-else"}))
    elif damage == "no-findings-list":
        _damage(bad, json.dumps({k: v for k, v in doc.items() if k != "findings"}))
    elif damage == "bad-status":
        doc["findings"][0]["status"] = "MAYBE"
        _damage(bad, json.dumps(doc))
    elif damage == "no-resource-id":
        del doc["findings"][0]["resource"]["id"]
        _damage(bad, json.dumps(doc))
    elif damage == "not-an-object":
        doc["findings"].append(["a list"])
        _damage(bad, json.dumps(doc))
    with pytest.raises(DiffError) as caught:
        diff_bundles(good, bad)
    assert message in str(caught.value)


def test_a_finding_without_a_fingerprint_in_the_scans_layout_is_named(tmp_path: Path) -> None:
    """The scan's own layout is read field by field: a finding lacking one is never read
    together with the next finding's fields."""
    good = bundle(tmp_path / "a", [])
    broken = finding("R-001", "subnet-1", "PASS")
    del broken["fingerprint"]
    bad = bundle(tmp_path / "b", [broken, finding("R-002", "subnet-2", "FAIL")], run_id="run-b")
    with pytest.raises(DiffError, match="findings/0/fingerprint: expected a string, found NoneType"):
        diff_bundles(good, bad)


def test_a_negative_expiry_window_is_refused(tmp_path: Path) -> None:
    a = bundle(tmp_path / "a", [])
    with pytest.raises(ValueError, match="0 or more days"):
        diff_bundles(a, a, expiring_within=-1)
