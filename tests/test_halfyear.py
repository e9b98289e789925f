"""The simulated half-year (tests/halfyear.py, issue 14): 25 weekly evidence bundles of an
estate drifting on a script, checked on the bundles themselves - their dates, that every run
is complete, the failing and waived findings of every week, the waiver register, the resource
added, that each bundle verifies - and EXPECTED (what a diff and a period report must show)
checked against the facts of the bundles, pair by pair of consecutive runs."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from halfyear import (EXPECTED, PERIOD, PROXY_EGRESS, SKIPPED, SUBNET_A, SUBNET_C, VIOLATION, WAIVED, WAIVER_EXPIRES,
                      WAIVER_ID, WEEKS, Events, Week, expected_events, findings, moment, pairs, shared_half_year)


@pytest.fixture(scope="module")
def weeks(tmp_path_factory: pytest.TempPathFactory) -> list[Week]:
    return shared_half_year(tmp_path_factory)


def _week(weeks: list[Week], number: int) -> Week:
    return next(w for w in weeks if w.number == number)


def _doc(weeks: list[Week], number: int) -> dict[str, Any]:
    bundle = _week(weeks, number).bundle
    assert bundle is not None, f"week {number} has no bundle"
    return findings(bundle)


def _by_status(doc: dict[str, Any], status: str) -> set[tuple[str, str]]:
    return {(f["rule_id"], f["resource"]["id"]) for f in doc["findings"] if f["status"] == status}


def _named(weeks: list[Week], *items: tuple[str, str]) -> set[tuple[str, str]]:
    names = weeks[-1].names
    return {(rule, names[name]) for rule, name in items}


# -- a reference comparison of two runs, on findings.json alone --------------------------------

def _without_sources(evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "sources"} for e in evidence]


def observed_events(a: dict[str, Any], b: dict[str, Any], within: int = 30) -> Events:
    """What differs between runs A and B, as `halfyear.Events` defines it (fingerprints, (type,
    id) of resources, waiver ids): the facts EXPECTED is compared with."""
    fa = {f["fingerprint"]: f for f in a["findings"]}
    fb = {f["fingerprint"]: f for f in b["findings"]}
    assert len(fa) == len(a["findings"]) and len(fb) == len(b["findings"]), "a fingerprint is used twice"

    def status(doc: dict[str, Any], fp: str) -> str | None:
        f = doc.get(fp)
        return None if f is None else str(f["status"])

    both = fa.keys() & fb.keys()
    moved = [(status(fa, fp), status(fb, fp), fp) for fp in fa.keys() | fb.keys()]
    resources_a = {(f["resource"]["type"], f["resource"]["id"]) for f in a["findings"]}
    resources_b = {(f["resource"]["type"], f["resource"]["id"]) for f in b["findings"]}
    reg_a = {w["id"]: w for w in a["waivers"]}
    reg_b = {w["id"]: w for w in b["waivers"]}
    packs_a = {p["id"]: (p["version"], p["sha256"], p["parameters"]) for p in a["run"]["packs"]}
    packs_b = {p["id"]: (p["version"], p["sha256"], p["parameters"]) for p in b["run"]["packs"]}
    return Events(
        new=frozenset(fp for sa, sb, fp in moved if sb == "FAIL" and sa not in ("FAIL", "WAIVED")),
        resolved=frozenset(fp for sa, sb, fp in moved if sa == "FAIL" and sb == "PASS"),
        still_failing=frozenset(fp for sa, sb, fp in moved if sa == sb == "FAIL"),
        waived=frozenset(fp for sa, sb, fp in moved if sa == "FAIL" and sb == "WAIVED"),
        unwaived=frozenset(fp for sa, sb, fp in moved if sa == "WAIVED" and sb == "FAIL"),
        changed=frozenset(fp for fp in both if fa[fp]["status"] == fb[fp]["status"]
                          and (fa[fp]["message"] != fb[fp]["message"]
                               or _without_sources(fa[fp]["evidence"]) != _without_sources(fb[fp]["evidence"]))),
        resources_added=frozenset(resources_b - resources_a),
        resources_removed=frozenset(resources_a - resources_b),
        waivers_expired=frozenset(i for i, w in reg_b.items()
                                  if w["status"] == "expired" and reg_a.get(i, {}).get("status") == "active"),
        waivers_expiring=frozenset(i for i, w in reg_b.items()
                                   if w["status"] == "active" and 0 <= w["days_to_expiry"] <= within),
        packs_changed=frozenset(i for i in packs_a.keys() | packs_b.keys() if packs_a.get(i) != packs_b.get(i)),
        config_changed=a["run"]["config"]["digest"] != b["run"]["config"]["digest"],
    )


# -- the calendar -----------------------------------------------------------------------------

def test_weeks_are_mondays_and_week_14_has_no_run(weeks: list[Week]) -> None:
    assert [w.number for w in weeks] == list(range(1, WEEKS + 1))
    assert weeks[0].moment == dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
    assert weeks[-1].moment == dt.datetime(2026, 6, 29, 9, 0, tzinfo=dt.UTC)
    for w in weeks:
        assert w.moment == moment(w.number) and w.moment.weekday() == 0
        assert (w.bundle is None) == (w.number in SKIPPED)
    root = _week(weeks, 1).bundle.parent  # type: ignore[union-attr]
    assert sorted(p.name for p in root.iterdir()) == [f"week-{n:02d}" for n in range(1, WEEKS + 1) if n != 14]
    run_ids = {json.loads((w.bundle / "bundle.json").read_text(encoding="utf-8"))["run_id"]
               for w in weeks if w.bundle is not None}
    assert len(run_ids) == 25


def test_each_run_is_collected_and_assessed_on_its_weeks_monday(weeks: list[Week]) -> None:
    for w in weeks:
        if w.bundle is None:
            continue
        doc = _doc(weeks, w.number)
        assert doc["run"]["assessed_on"] == w.moment.date().isoformat(), w.number
        # the collector's role session is named after its (travelled) day
        assert doc["run"]["accounts"][0]["identity"].endswith(f"/auditor-{w.moment.date().isoformat()}"), w.number
        manifest = json.loads((w.bundle / "snapshot" / "manifest.json").read_text(encoding="utf-8"))
        started = dt.datetime.fromisoformat(manifest["started"].replace("Z", "+00:00"))
        assert w.moment <= started < w.moment + dt.timedelta(days=1), (w.number, manifest["started"])
        bundle = json.loads((w.bundle / "bundle.json").read_text(encoding="utf-8"))
        assert bundle["created"][:10] == w.moment.date().isoformat(), w.number


def test_moment_refuses_weeks_outside_the_half_year() -> None:
    for bad in (0, WEEKS + 1, -3):
        with pytest.raises(ValueError, match="outside 1..26"):
            moment(bad)


# -- every run is whole ------------------------------------------------------------------------

def test_every_run_is_complete_without_error(weeks: list[Week]) -> None:
    for w in weeks:
        if w.bundle is None:
            continue
        doc = _doc(weeks, w.number)
        assert doc["summary"]["complete"] is True, w.number
        assert doc["summary"]["findings"]["ERROR"] == 0, w.number
        assert not [f for f in doc["findings"] if f["status"] == "ERROR"], w.number
        assert doc["not_assessed"] == [] and doc["scope_gaps"] == [], w.number
        assert [a["status"] for a in doc["run"]["accounts"]] == ["assessed"], w.number


def test_runs_share_config_packs_and_waivers(weeks: list[Week]) -> None:
    docs = [_doc(weeks, w.number) for w in weeks if w.bundle is not None]
    assert len({d["run"]["config"]["digest"] for d in docs}) == 1
    assert all(d["run"]["packs"] == docs[0]["run"]["packs"] for d in docs)
    kept = {(w.bundle / "inputs" / "audit-config.yaml").read_bytes() for w in weeks if w.bundle is not None}
    assert len(kept) == 1


# -- the findings, week by week -------------------------------------------------------------

def test_failing_and_waived_findings_are_the_baseline_plus_the_script(weeks: list[Week]) -> None:
    for w in weeks:
        if w.bundle is None:
            continue
        doc = _doc(weeks, w.number)
        fail: set[tuple[str, str]] = set()
        waived: set[tuple[str, str]] = set()
        if 5 <= w.number <= 8:
            fail |= _named(weeks, VIOLATION)
        (fail if w.number >= 20 else waived).update(_named(weeks, WAIVED))
        assert _by_status(doc, "FAIL") == fail, w.number
        assert _by_status(doc, "WAIVED") == waived, w.number


def test_the_violation_is_the_subnet_mapping_public_ips(weeks: list[Week]) -> None:
    subnet = weeks[-1].names[SUBNET_A]
    fingerprints = set()
    for w in weeks:
        if w.bundle is None:
            continue
        (f,) = [f for f in _doc(weeks, w.number)["findings"] if f["rule_id"] == "PN-007" and f["resource"]["id"] == subnet]
        fingerprints.add(f["fingerprint"])
        (ev,) = [e for e in f["evidence"] if e["path"] == "map_public_ip_on_launch"]
        assert ev["observed"] is (5 <= w.number <= 8), w.number
        assert f["status"] == ("FAIL" if 5 <= w.number <= 8 else "PASS"), w.number
    assert len(fingerprints) == 1


def test_the_waiver_covers_until_its_expiry_then_the_finding_fails(weeks: list[Week]) -> None:
    rule = weeks[-1].names[PROXY_EGRESS]
    assert rule.startswith("sgr-")
    for w in weeks:
        if w.bundle is None:
            continue
        doc = _doc(weeks, w.number)
        (row,) = doc["waivers"]
        assert row["id"] == WAIVER_ID and row["expires"] == WAIVER_EXPIRES.isoformat()
        assert row["days_to_expiry"] == (WAIVER_EXPIRES - w.moment.date()).days, w.number
        assert row["status"] == ("expired" if w.number >= 20 else "active"), w.number
        (f,) = [f for f in doc["findings"] if f["rule_id"] == "TF-004" and f["resource"]["id"] == rule]
        if w.number >= 20:
            assert f["status"] == "FAIL" and f"waiver {WAIVER_ID} expired on 2026-05-17" in f["message"], w.number
        else:
            assert f["status"] == "WAIVED", w.number
    expiring = [w.number for w in weeks if w.bundle is not None
                and 0 <= _doc(weeks, w.number)["waivers"][0]["days_to_expiry"] <= 30]
    assert expiring == [16, 17, 18, 19]


def test_the_subnet_added_in_week_17_passes_and_is_there_from_then_on(weeks: list[Week]) -> None:
    assert SUBNET_C not in _week(weeks, 16).names and SUBNET_C in _week(weeks, 17).names
    subnet = weeks[-1].names[SUBNET_C]
    for w in weeks:
        if w.bundle is None:
            continue
        about = [f for f in _doc(weeks, w.number)["findings"] if f["resource"]["id"] == subnet]
        if w.number < 17:
            assert about == [], w.number
            continue
        # VE-007 assesses only subnets whose internet path goes through NAT: this one has none
        assert {f["status"] for f in about if f["rule_id"] != "VE-007"} == {"PASS"}, w.number
        assert {f["status"] for f in about if f["rule_id"] == "VE-007"} == {"NOT_APPLICABLE"}, w.number
        assert {"PN-002", "PN-007", "PN-014", "VE-006"} <= {f["rule_id"] for f in about}, w.number


# -- EXPECTED against the facts -------------------------------------------------------------

def test_expected_names_every_consecutive_pair_and_the_scripted_events() -> None:
    assert list(EXPECTED) == pairs()
    assert (13, 15) in EXPECTED and (13, 14) not in EXPECTED and (14, 15) not in EXPECTED
    assert EXPECTED[(13, 15)] == Events()
    assert EXPECTED[(4, 5)].new == {VIOLATION} and EXPECTED[(8, 9)].resolved == {VIOLATION}
    assert EXPECTED[(19, 20)].unwaived == {WAIVED} and EXPECTED[(19, 20)].waivers_expired == {WAIVER_ID}
    assert EXPECTED[(16, 17)].resources_added == {("subnet", SUBNET_C)}
    assert [p for p, e in EXPECTED.items() if e.waivers_expiring] == [(15, 16), (16, 17), (17, 18), (18, 19)]
    events = {(p, k) for p, e in EXPECTED.items() for k, v in e.as_dict().items() if v and k != "still_failing"}
    assert events == {((4, 5), "new"), ((8, 9), "resolved"), ((19, 20), "unwaived"), ((19, 20), "waivers_expired"),
                      ((16, 17), "resources_added")} | {(p, "waivers_expiring") for p in
                                                         [(15, 16), (16, 17), (17, 18), (18, 19)]}
    assert PERIOD["gaps"] == [dt.date(2026, 4, 6)] and PERIOD["runs"] == 25


def test_consecutive_runs_differ_by_exactly_the_expected_events(weeks: list[Week]) -> None:
    expected = expected_events(weeks)
    for a, b in pairs():
        assert observed_events(_doc(weeks, a), _doc(weeks, b)) == expected[(a, b)], (a, b)


def test_the_reference_comparison_sees_direction_and_sameness(weeks: list[Week]) -> None:
    """The comparison above can fail: a run against itself has no event, and the runs of
    weeks 5 and 4 the other way round show the violation resolved, not new."""
    fp = expected_events(weeks)[(4, 5)].new
    assert observed_events(_doc(weeks, 4), _doc(weeks, 4)) == Events()
    assert observed_events(_doc(weeks, 5), _doc(weeks, 4)) == Events(resolved=fp)
    twenty = observed_events(_doc(weeks, 20), _doc(weeks, 19))
    assert twenty.waived == expected_events(weeks)[(19, 20)].unwaived and twenty.waivers_expiring == {WAIVER_ID}
    assert observed_events(_doc(weeks, 17), _doc(weeks, 16)).resources_removed == {
        ("subnet", weeks[-1].names[SUBNET_C])}


def test_expected_events_says_what_the_runs_given_lack(weeks: list[Week]) -> None:
    with pytest.raises(LookupError, match="subnet:hy-app-c is not in the estate by week 16"):
        expected_events(weeks[:16])
    with pytest.raises(ValueError, match="no run among the weeks given"):
        expected_events([w for w in weeks if w.number == 14])


def test_the_period_facts_match_the_runs(weeks: list[Week]) -> None:
    scanned = [w for w in weeks if w.bundle is not None]
    assert PERIOD["runs"] == len(scanned)
    assert (PERIOD["from"], PERIOD["to"]) == (scanned[0].moment.date(), scanned[-1].moment.date())
    for item, (first, last, fixed) in PERIOD["failed"].items():
        (key,) = _named(weeks, item)
        failing = [w.moment.date() for w in scanned if key in _by_status(_doc(weeks, w.number), "FAIL")]
        assert (failing[0], failing[-1]) == (first, last), item
        after = [w.moment.date() for w in scanned if w.moment.date() > last]
        assert (after[0] if after else None) == fixed, item
    for item, (first, last) in PERIOD["waived"].items():
        (key,) = _named(weeks, item)
        waived = [w.moment.date() for w in scanned if key in _by_status(_doc(weeks, w.number), "WAIVED")]
        assert (waived[0], waived[-1]) == (first, last), item


# -- the bundles verify -------------------------------------------------------------------------

@pytest.mark.parametrize("number", [n for n in range(1, WEEKS + 1) if n not in SKIPPED])
def test_each_bundle_verifies(weeks: list[Week], number: int) -> None:
    from auditor.bundle_verify import verify_bundle

    bundle = _week(weeks, number).bundle
    assert bundle is not None
    result = verify_bundle(bundle)
    assert result.ok, result.verdict()
    # findings.json re-derived from the snapshot: the waiver judged as of the run's day, not today
    assert result.not_rederived == [] and any(line.startswith("findings.json: re-evaluating")
                                               for line in result.checked), result.checked
