"""Waivers: matching and decisions on a given day, stale detection, the exceptions register,
and one clear, positioned message for every kind of bad waivers file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from auditor.errors import InputError
from auditor.model.types import DbInstance, SecurityGroup, SourceRef, Vpc
from auditor.rules.waivers import (REGISTER_COLUMNS, Waiver, WaiverDecision, WaiverSet, load_waivers,
                                   register_rows, resource_arn, waivers_from_text)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "sample_configs" / "waivers.example.yaml"
REF = SourceRef("records/x.json", "/pages/0")
ACCT, OTHER = "111111111111", "222222222222"

ONE = """\
version: 1
waivers:
  - id: WVR-2026-014
    rules: [PN-001]
    resources:
      - id: vpc-0abc
    justification: Legacy partner VPN until the migration completes
    approver: jane.doe@bank.example
    ticket: RISK-1234
    created: 2026-01-15
    expires: 2026-06-30
"""


def waiver(wid: str, rules: str, resources: str, created: str = "2026-01-01", expires: str = "2026-12-31",
           extra: str = "") -> str:
    return (f"  - id: {wid}\n    rules: {rules}\n    resources: {resources}\n"
            f"    justification: A justification long enough to be read\n    approver: a@bank.example\n"
            f"    ticket: RISK-1\n    created: {created}\n    expires: {expires}\n{extra}")


def wset(*entries: str, known: set[str] | None = None) -> WaiverSet:
    return waivers_from_text("version: 1\nwaivers:\n" + "".join(entries), "w.yaml", known_rule_ids=known)


def problems(text: str, **kwargs: object) -> list[str]:
    with pytest.raises(InputError) as info:
        waivers_from_text(text, "w.yaml", **kwargs)  # type: ignore[arg-type]
    return [p.render() for p in info.value.problems]


def match(ws: WaiverSet, rule: str = "PN-001", account: str = ACCT, region: str = "eu-west-1",
          rid: str = "vpc-0abc", arn: str | None = None, tags: dict[str, str] | None = None,
          today: date = date(2026, 3, 1)) -> WaiverDecision | None:
    return ws.match(rule, account, region, rid, arn, tags or {}, today)


# --------------------------------------------------------------------------- decisions

def test_a_waiver_in_effect_waives() -> None:
    ws = waivers_from_text(ONE, "w.yaml")
    d = match(ws, today=date(2026, 3, 1))
    assert d is not None and d.status == "active" and d.result == "WAIVED"
    assert d.waiver.id == "WVR-2026-014" and d.others == ()
    assert d.message == ("waived by WVR-2026-014 (ticket RISK-1234, approved by jane.doe@bank.example, "
                         "expires 2026-06-30)")


def test_both_ends_of_the_period_are_included() -> None:
    ws = waivers_from_text(ONE, "w.yaml")
    first, last = match(ws, today=date(2026, 1, 15)), match(ws, today=date(2026, 6, 30))
    assert first is not None and first.status == "active"
    assert last is not None and last.status == "active"
    assert match(ws, today=date(2026, 1, 14)) is None  # not yet in effect: the rule decides


def test_an_expired_waiver_fails_with_the_exact_message() -> None:
    d = match(waivers_from_text(ONE, "w.yaml"), today=date(2026, 7, 1))
    assert d is not None and d.status == "expired" and d.result == "FAIL"
    assert d.message == "waiver WVR-2026-014 expired on 2026-06-30"


def test_no_waiver_for_another_rule_or_resource() -> None:
    ws = waivers_from_text(ONE, "w.yaml")
    assert match(ws, rule="PN-002") is None
    assert match(ws, rid="vpc-0abcd") is None
    assert match(ws, rid="vpc-0ab") is None


def test_match_by_arn_glob() -> None:
    ws = wset(waiver("W-1", "[EP-001]", "[{arn: 'arn:aws:ec2:*:111111111111:vpc-endpoint/*'}]"))
    ok = "arn:aws:ec2:us-east-1:111111111111:vpc-endpoint/vpce-1"
    assert match(ws, rule="EP-001", rid="vpce-1", arn=ok) is not None
    assert match(ws, rule="EP-001", rid="vpce-1", arn=ok.replace("111111111111", "222222222222")) is None
    assert match(ws, rule="EP-001", rid="vpce-1", arn=None) is None
    # Globs are case-sensitive, as ARNs are.
    assert match(ws, rule="EP-001", rid="vpce-1", arn=ok.replace("vpc-endpoint", "VPC-endpoint")) is None


def test_match_by_tags_needs_every_listed_tag_equal() -> None:
    ws = wset(waiver("W-1", "[PN-001]", "[{tags: {exception: approved, owner: payments}}]"))
    assert match(ws, tags={"exception": "approved", "owner": "payments", "env": "prod"}) is not None
    assert match(ws, tags={"exception": "approved"}) is None
    assert match(ws, tags={"exception": "Approved", "owner": "payments"}) is None
    # Tags may also be given as the model's tuple of pairs.
    assert ws.match("PN-001", ACCT, "eu-west-1", "vpc-9", None,
                    (("exception", "approved"), ("owner", "payments")), date(2026, 3, 1)) is not None


def test_any_selector_may_match() -> None:
    ws = wset(waiver("W-1", "[PN-001]", "[{id: vpc-1}, {tags: {exception: approved}}]"))
    assert match(ws, rid="vpc-1") is not None
    assert match(ws, rid="vpc-2", tags={"exception": "approved"}) is not None
    assert match(ws, rid="vpc-2") is None


def test_match_by_rule_glob() -> None:
    ws = wset(waiver("W-1", "[PN-001, 'EP-*']", "[{id: vpc-0abc}]"))
    assert match(ws, rule="EP-004") is not None
    assert match(ws, rule="PN-001") is not None
    assert match(ws, rule="PN-002") is None
    assert match(ws, rule="XEP-004") is None


def test_account_and_region_narrowing() -> None:
    ws = wset(waiver("W-1", "[PN-001]", "[{id: vpc-0abc}]",
                     extra="    accounts: ['111111111111']\n    regions: [eu-west-1]\n"))
    assert match(ws) is not None
    assert match(ws, account=OTHER) is None
    assert match(ws, region="us-east-1") is None


def test_an_active_waiver_wins_over_an_expired_one_whatever_the_ids() -> None:
    ws = wset(waiver("W-1", "[PN-001]", "[{id: vpc-0abc}]", expires="2026-02-01"),
              waiver("W-2", "[PN-001]", "[{id: vpc-0abc}]", expires="2026-12-31"))
    d = match(ws, today=date(2026, 3, 1))
    assert d is not None and d.status == "active" and d.waiver.id == "W-2" and d.others == ("W-1",)
    assert d.matched_ids == ("W-2", "W-1")


def test_ties_go_to_the_lowest_waiver_id_whatever_the_file_order() -> None:
    ws = wset(waiver("W-3", "[PN-001]", "[{id: vpc-0abc}]"), waiver("W-10", "['PN-*']", "[{id: vpc-0abc}]"),
              waiver("W-2", "[PN-001]", "[{tags: {a: b}}]"))
    d = match(ws, tags={"a": "b"})
    assert d is not None and d.waiver.id == "W-10" and d.others == ("W-2", "W-3")
    # Two expired ones: still the lowest id, and still a FAIL.
    late = match(ws, tags={"a": "b"}, today=date(2027, 1, 1))
    assert late is not None and late.status == "expired" and late.waiver.id == "W-10"


def test_match_resource_uses_the_model_resource() -> None:
    ws = wset(waiver("W-1", "[PN-001]", "[{arn: 'arn:aws:ec2:eu-west-1:111111111111:vpc/*'}]"))
    vpc = Vpc(id="vpc-0abc", account=ACCT, region="eu-west-1", source=REF)
    assert ws.match_resource("PN-001", vpc, date(2026, 3, 1)) is not None
    elsewhere = Vpc(id="vpc-0abc", account=OTHER, region="eu-west-1", source=REF)
    assert ws.match_resource("PN-001", elsewhere, date(2026, 3, 1)) is None


def test_resource_arn() -> None:
    assert resource_arn(Vpc(id="vpc-1", account=ACCT, region="eu-west-1", source=REF)) == \
        "arn:aws:ec2:eu-west-1:111111111111:vpc/vpc-1"
    assert resource_arn(SecurityGroup(id="sg-1", account=ACCT, region="cn-north-1", source=REF)) == \
        "arn:aws-cn:ec2:cn-north-1:111111111111:security-group/sg-1"
    db = DbInstance(id="db1", account=ACCT, region="eu-west-1", source=REF,
                    arn="arn:aws:rds:eu-west-1:111111111111:db:db1")
    assert resource_arn(db) == "arn:aws:rds:eu-west-1:111111111111:db:db1"
    assert resource_arn(DbInstance(id="db1", account=ACCT, region="eu-west-1", source=REF)) is None


def test_waivers_are_immutable() -> None:
    w = waivers_from_text(ONE, "w.yaml").waivers[0]
    with pytest.raises(AttributeError):
        w.expires = date(2030, 1, 1)  # type: ignore[misc]
    assert isinstance(w, Waiver) and w.source == ("w.yaml", 3)
    assert w.created == date(2026, 1, 15) and w.expires == date(2026, 6, 30)


def test_quoted_dates_are_read_as_dates() -> None:
    ws = waivers_from_text(ONE.replace("2026-01-15", "'2026-01-15'").replace("2026-06-30", '"2026-06-30"'), "w")
    assert ws.waivers[0].created == date(2026, 1, 15) and ws.waivers[0].expires == date(2026, 6, 30)


# --------------------------------------------------------------------------- stale, register

def test_stale_waivers_are_those_no_result_used() -> None:
    ws = wset(waiver("W-2", "[PN-001]", "[{id: a}]"), waiver("W-1", "[PN-001]", "[{id: b}]"),
              waiver("W-3", "[PN-001]", "[{id: c}]"))
    assert [w.id for w in ws.stale({"W-2"})] == ["W-1", "W-3"]
    assert ws.stale({"W-1", "W-2", "W-3"}) == []


def test_register_rows() -> None:
    ws = wset(waiver("W-3", "[PN-001, 'EP-*']", "[{id: vpc-1}, {tags: {exception: approved}}]",
                     expires="2026-03-31",
                     extra="    compensating_control: NACL allows only the partner /32\n"
                           "    accounts: ['111111111111']\n"),
              waiver("W-1", "[PN-001]", "[{arn: 'arn:aws:ec2:*:111111111111:*'}]", expires="2026-02-01"),
              waiver("W-2", "[PN-001]", "[{id: x}]"),
              waiver("W-4", "[PN-001]", "[{id: y}]", created="2026-04-01"))
    rows = register_rows(ws, used={"W-3", "W-1"}, today=date(2026, 3, 1))
    assert [(r.id, r.status, r.days_to_expiry) for r in rows] == [
        ("W-1", "expired", -28), ("W-2", "stale", 305), ("W-3", "active", 30), ("W-4", "pending", 305)]
    w3 = rows[2].as_dict()
    assert tuple(w3) == REGISTER_COLUMNS + ("worksheet",)
    assert w3["worksheet"] is None   # none recorded: null, never an empty worksheet
    assert w3["rules"] == "PN-001, EP-*"
    assert w3["resources"] == "id vpc-1; tags exception=approved"
    assert w3["accounts"] == "111111111111" and w3["regions"] == ""
    assert w3["created"] == "2026-01-01" and w3["expires"] == "2026-03-31"
    assert w3["compensating_control"] == "NACL allows only the partner /32"
    assert w3["approver"] == "a@bank.example" and w3["ticket"] == "RISK-1"
    assert w3["source"] == "w.yaml:3"  # W-3 is the first entry of the file
    assert rows[0].compensating_control == ""


# --------------------------------------------------------------------------- files

def test_the_example_file_validates(tmp_path: Path) -> None:
    ws = load_waivers(EXAMPLE, known_rule_ids={"PN-001", "EP-001", "EP-002"})
    assert len(ws) == 3 and ws.source == str(EXAMPLE) and ws.digest.startswith("sha256:")
    assert all(w.approver and w.ticket and len(w.justification) >= 20 for w in ws)
    assert ws.get("WVR-2026-014") is not None
    d = ws.match("EP-002", OTHER, "us-east-1", "vpce-1",
                 "arn:aws:ec2:us-east-1:222222222222:vpc-endpoint/vpce-1", {}, date(2026, 3, 1))
    assert d is not None and d.waiver.id == "WVR-2026-021"


def test_an_empty_register_is_valid() -> None:
    assert len(waivers_from_text("version: 1\nwaivers: []\n", "w.yaml")) == 0


def test_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_waivers(tmp_path / "nope.yaml")
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}:0:0  file not found"


def test_yaml_syntax_error() -> None:
    assert problems("version: 1\nwaivers:\n  - id: [WVR-1\n") == [
        "w.yaml:4:1  YAML syntax error: expected ',' or ']', but got '<stream end>'"]


def test_unknown_key_with_did_you_mean_and_no_echo_of_the_missing_key() -> None:
    assert problems(ONE.replace("    approver:", "    aprover:")) == [
        "w.yaml:8:5  waivers[0].aprover: unknown key 'aprover' (did you mean 'approver'?); allowed keys: "
        "id, rules, resources, accounts, regions, justification, compensating_control, approver, ticket, "
        "created, expires, worksheet"]


def test_missing_approver() -> None:
    assert problems(ONE.replace("    approver: jane.doe@bank.example\n", "")) == [
        "w.yaml:3:5  waivers[0]: missing required key 'approver'"]


def test_blank_approver() -> None:
    assert problems(ONE.replace("approver: jane.doe@bank.example", "approver: ' '")) == [
        "w.yaml:8:15  waivers[0].approver: ' ' is not valid: must not be blank"]


def test_expires_before_created() -> None:
    assert problems(ONE.replace("expires: 2026-06-30", "expires: 2026-01-14")) == [
        "w.yaml:11:14  waivers[0].expires: expires 2026-01-14 is before created 2026-01-15"]


def test_at_most_one_year_unless_the_caller_allows_longer() -> None:
    long = ONE.replace("expires: 2026-06-30", "expires: 2027-01-16")
    assert problems(long) == ["w.yaml:11:14  waivers[0].expires: a waiver may last at most one year: "
                              "created 2026-01-15, so it must expire by 2027-01-15"]
    assert len(waivers_from_text(ONE.replace("expires: 2026-06-30", "expires: 2027-01-15"), "w")) == 1
    assert len(waivers_from_text(long, "w", max_duration_days=400)) == 1
    assert problems(ONE, max_duration_days=90) == [
        "w.yaml:11:14  waivers[0].expires: a waiver may last at most 90 days; this one lasts 166 "
        "(created 2026-01-15)"]


def test_duplicate_waiver_id() -> None:
    assert problems(ONE + ONE.split("waivers:\n")[1]) == [
        "w.yaml:12:9  waivers[1].id: waiver id WVR-2026-014 is used twice (first as waivers[0])"]


@pytest.mark.parametrize("written, message", [
    ("2026-02-30", "'2026-02-30' is not a valid date: day is out of range for month"),
    ("'2026-02-30'", "'2026-02-30' is not a valid date: day is out of range for month"),
    ("2026-13-01", "'2026-13-01' is not a valid date: month must be in 1..12"),
    ("30/06/2026", "'30/06/2026' is not a date: write it as YYYY-MM-DD"),
    ("2026-6-30", "'2026-6-30' is not a date: write it as YYYY-MM-DD"),
    ("20260630", "expected a date written YYYY-MM-DD, got '20260630'"),
    ("2026-06-30 12:00:00", "give a date without a time, written YYYY-MM-DD (got '2026-06-30 12:00:00')"),
])
def test_bad_dates(written: str, message: str) -> None:
    assert problems(ONE.replace("expires: 2026-06-30", f"expires: {written}")) == [
        f"w.yaml:11:14  waivers[0].expires: {message}"]


def test_an_impossible_unquoted_date_does_not_hide_other_problems() -> None:
    text = ("version: 1\nwaivers:\n"
            "  - {id: W-1, rules: [PN-001], resources: [{id: a}], approver: a, ticket: T, "
            "justification: Legacy partner VPN until migration, created: 2026-02-30, expires: 2026-02-31, "
            "regions: [eu-wset-1]}\n")
    line = text.splitlines()[2]
    col = {s: line.index(s) + 1 for s in ("2026-02-30", "2026-02-31", "eu-wset-1")}
    assert problems(text) == [
        f"w.yaml:3:{col['2026-02-30']}  waivers[0].created: '2026-02-30' is not a valid date: "
        "day is out of range for month",
        f"w.yaml:3:{col['2026-02-31']}  waivers[0].expires: '2026-02-31' is not a valid date: "
        "day is out of range for month",
        f"w.yaml:3:{col['eu-wset-1']}  waivers[0].regions[0]: 'eu-wset-1' is not a known AWS region name "
        "(did you mean 'eu-west-1'?)"]


def test_unknown_rule_id_when_known_ids_are_given() -> None:
    known = {"PN-001", "EP-001"}
    assert problems(ONE.replace("[PN-001]", "[PN-003]"), known_rule_ids=known) == [
        "w.yaml:4:13  waivers[0].rules[0]: 'PN-003' is not a known rule id (did you mean 'PN-001'?)"]
    assert problems(ONE.replace("[PN-001]", "[PN-001, 'SG-*']"), known_rule_ids=known) == [
        "w.yaml:4:21  waivers[0].rules[1]: rule pattern 'SG-*' matches no known rule id"]
    # Without known ids only the shape of a rule id is checked.
    assert len(waivers_from_text(ONE.replace("[PN-001]", "[PN-003, 'SG-*']"), "w")) == 1


@pytest.mark.parametrize("rules, message", [
    ("[pn-001]", "'pn-001' is not valid: a rule id such as PN-001 or a glob such as EP-* (upper-case)"),
    ("[PN-01]", "'PN-01' is not a rule id (rule ids look like PN-001)"),
    ("['*']", "'*' would waive every rule (like '*'); name rule ids or a prefix such as EP-*"),
    # globs that are '*' in all but name: refused the same way
    ("['[A-Z]*']", "'[A-Z]*' would waive every rule (like '*'); name rule ids or a prefix such as EP-*"),
    ("['*-*']", "'*-*' would waive every rule (like '*'); name rule ids or a prefix such as EP-*"),
    ("['[!0]*']", "'[!0]*' would waive every rule (like '*'); name rule ids or a prefix such as EP-*"),
    ("['*[0-9]']", "'*[0-9]' would waive every rule (like '*'); name rule ids or a prefix such as EP-*"),
    # globs that span rule families
    ("['E*']", "'E*' spans rule prefixes: a rule glob must start with a whole prefix and its dash, such as "
               "EP-* or PN-00?"),
    ("['??-*']", "'??-*' spans rule prefixes: a rule glob must start with a whole prefix and its dash, such "
                 "as EP-* or PN-00?"),
])
def test_bad_rule_patterns(rules: str, message: str) -> None:
    assert problems(ONE.replace("[PN-001]", rules)) == [f"w.yaml:4:13  waivers[0].rules[0]: {message}"]


@pytest.mark.parametrize("arn, what", [
    ("arn:*", "names no service: it would waive every resource"),
    ("arn:aws:*", "names no service: it would waive every resource"),
    ("arn:*:ec2:*:*:*", "names no whole account and no resource: it would waive every ec2 resource"),
    ("arn:aws:*:*:*:*", "names no service: it would waive every resource"),
    ("arn:aws:ec2:*", "names no whole account and no resource: it would waive every ec2 resource"),
    ("arn:aws:ec2:eu-west-1:*:*/*", "names no whole account and no resource: it would waive every ec2 resource"),
])
def test_arn_globs_that_select_every_resource_are_refused_like_a_star(arn: str, what: str) -> None:
    out = problems(ONE.replace("- id: vpc-0abc", f"- arn: '{arn}'"))
    assert out == [f"w.yaml:6:14  waivers[0].resources[0].arn: '{arn}' {what} (like '*'); an ARN glob must "
                   "name the service and the account or the resource, e.g. "
                   "arn:aws:ec2:eu-west-1:111111111111:vpc/*"]


@pytest.mark.parametrize("arn", ["arn:aws:ec2:*:111111111111:*", "arn:aws:ec2:*:*:vpc-endpoint/*",
                                 "arn:aws:ec2:eu-west-1:111111111111:vpc/vpc-0*"])
def test_narrow_arn_globs_are_accepted(arn: str) -> None:
    assert len(waivers_from_text(ONE.replace("- id: vpc-0abc", f"- arn: '{arn}'"), "w")) == 1


def test_unquoted_account_id() -> None:
    assert problems(ONE + "    accounts: [011111111111]\n") == [
        "w.yaml:12:16  waivers[0].accounts[0]: write the account id in quotes ('011111111111'): unquoted, "
        "YAML reads it as a number and can drop leading zeros"]


def test_bad_account_id_and_unknown_region() -> None:
    assert problems(ONE + "    accounts: ['1234']\n    regions: [eu-wset-1]\n") == [
        "w.yaml:12:16  waivers[0].accounts[0]: '1234' is not valid: an AWS account id is 12 digits, "
        "written in quotes",
        "w.yaml:13:15  waivers[0].regions[0]: 'eu-wset-1' is not a known AWS region name "
        "(did you mean 'eu-west-1'?)"]


@pytest.mark.parametrize("selector, message", [
    ("- idd: vpc-1", "waivers[0].resources[0].idd: unknown key 'idd' (did you mean 'id'?); "
                     "allowed keys: id, arn, tags"),
    ("- {id: vpc-1, arn: 'arn:aws:ec2:*:111111111111:vpc/*'}", "waivers[0].resources[0]: a resource "
                                                                "selector has exactly one of id, arn or tags"),
    ("- {}", "waivers[0].resources[0]: a resource selector has exactly one of id, arn or tags"),
    ("- id: vpc-*", "waivers[0].resources[0].id: 'vpc-*' is not valid: a resource id is matched exactly "
                    "(no spaces or wildcards); use arn for a pattern"),
    ("- tags: {exception: yes}", "waivers[0].resources[0].tags.exception: write the tag value in quotes "
                                 "('yes'): unquoted, YAML reads it as true/false"),
])
def test_bad_selectors(selector: str, message: str) -> None:
    out = problems(ONE.replace("- id: vpc-0abc", selector))
    assert len(out) == 1 and out[0].split("  ", 1)[1] == message, out
    assert out[0].startswith("w.yaml:6:")


def test_short_justification() -> None:
    assert problems(ONE.replace("Legacy partner VPN until the migration completes", "legacy VPN")) == [
        "w.yaml:7:20  waivers[0].justification: too short (10 characters): explain in at least 20 "
        "characters why the exception is acceptable"]


def test_every_problem_is_reported_at_once() -> None:
    text = (ONE.replace("    approver: jane.doe@bank.example\n", "").replace("2026-06-30", "2026-01-01")
            + ONE.split("waivers:\n")[1].replace("RISK-1234", "RISK-9") + "    accounts: [11111111111]\n")
    out = problems(text)
    assert out == [
        "w.yaml:3:5  waivers[0]: missing required key 'approver'",
        "w.yaml:10:14  waivers[0].expires: expires 2026-01-01 is before created 2026-01-15",
        "w.yaml:11:9  waivers[1].id: waiver id WVR-2026-014 is used twice (first as waivers[0])",
        "w.yaml:20:16  waivers[1].accounts[0]: write the account id in quotes ('11111111111'): unquoted, "
        "YAML reads it as a number and can drop leading zeros"]


@pytest.mark.parametrize("text, message", [
    ("", "w.yaml:1:1  the file is empty; expected a YAML mapping"),
    ("- 1\n", "w.yaml:1:1  expected a mapping with version and waivers at the top of the file"),
    ("version: 2\nwaivers: []\n", "w.yaml:1:10  version: must be 1, got integer 2"),
    ("version: 1\nwaiver: []\n", "w.yaml:2:1  waiver: unknown key 'waiver' (did you mean 'waivers'?); "
                                 "allowed keys: version, waivers"),
])
def test_malformed_top_level(text: str, message: str) -> None:
    assert problems(text) == [message]
