"""A simulated half-year of weekly scans (issue 14's first acceptance point).

`simulate_half_year(root)` builds the estate of ``tests/estates/halfyear.yaml`` in moto (in
process), then runs 26 weekly scans with the real collector and `auditor.api.run_scan`, each
at a fixed moment (`time_machine`: week 1 is Monday 2026-01-05 09:00 UTC, week n seven days
later per week), so every bundle's collection time and ``run.assessed_on`` are that week's
Monday whatever day the tests run. Between the scans it drifts the estate with boto3 against
the same moto backend, as written in `DRIFT`:

- week 5: subnet hy-app-a starts mapping a public IPv4 address on launch (PN-007 FAILs for it:
  one new failing finding, the only one);
- week 9: the same attribute is turned off again (that finding PASSes again);
- week 14: no scan (a gap in the evidence);
- week 17: a new private subnet hy-app-c (AZ a, 10.40.3.0/24) on route table hy-private: one
  resource added, whose findings all PASS (or are NOT_APPLICABLE);

and the waiver WVR-HY-001 (``tests/estates/halfyear-waivers.yaml``), which covers the one
failing finding of the baseline (TF-004 on the proxy security group's egress rule to
0.0.0.0/0), is in effect through 2026-05-17: WAIVED in weeks 1-19, FAIL from week 20 on,
and within 30 days of its expiry in weeks 16-19.

25 evidence bundles result (findings.json only, no reports besides it), one folder per week
``root/week-NN``. `EXPECTED` says, as plain data in the estate's names, which events lie
between each pair of consecutive runs; `expected_events(weeks)` turns it into fingerprints
and AWS ids (which moto draws) for comparing with a diff or a period report, e.g.

    weeks = shared_half_year(tmp_path_factory)          # once per test session
    bundle = {w.number: w.bundle for w in weeks}
    for (a, b), want in expected_events(weeks).items():
        got = diff_bundles(bundle[a], bundle[b], expiring_within=EXPIRING_WITHIN)
        ...compare got's categories with want.new, want.resolved, ... (fingerprints, ids)

`PERIOD` says what a report over the whole half-year must show (first and last failing run
of each finding, when it was fixed, the missing week).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import time_machine

HERE = Path(__file__).parent / "estates"
ESTATE = HERE / "halfyear.yaml"
CONFIG = HERE / "halfyear-audit.yaml"       # names the waivers file beside it
ACCOUNT = "444455556666"
REGION = "us-east-1"

START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)   # week 1, a Monday
WEEKS = 26
SKIPPED = frozenset({14})
WAIVER_ID = "WVR-HY-001"
WAIVER_EXPIRES = dt.date(2026, 5, 17)      # the Sunday before week 20 (as in the waivers file)
EXPIRING_WITHIN = 30                       # days: "will expire within N days" as the diff is asked

# Names of the things EXPECTED speaks of ("kind:name"); `Week.names` maps them to AWS ids.
SUBNET_A = "subnet:hy-app-a"               # public IP on launch in weeks 5-8
SUBNET_C = "subnet:hy-app-c"               # added in week 17
PROXY_EGRESS = "security_group_rule:hy-proxy-egress"   # the waived TF-004 finding's resource
VIOLATION = ("PN-007", SUBNET_A)           # (rule, resource name): a finding
WAIVED = ("TF-004", PROXY_EGRESS)


def moment(week: int) -> dt.datetime:
    """When week `week`'s scan runs (1-based): Monday 09:00 UTC."""
    if not 1 <= week <= WEEKS:
        raise ValueError(f"week {week} is outside 1..{WEEKS}")
    return START + dt.timedelta(days=7 * (week - 1))


def scanned_weeks() -> list[int]:
    return [n for n in range(1, WEEKS + 1) if n not in SKIPPED]


def pairs() -> list[tuple[int, int]]:
    """Consecutive runs: (1, 2) ... (13, 15) ... (25, 26)."""
    weeks = scanned_weeks()
    return list(zip(weeks, weeks[1:], strict=False))


@dataclass(frozen=True)
class Week:
    """One week of the simulation: its scan's moment and evidence bundle (None: no scan),
    and the estate's names known by then ("kind:name" -> AWS id)."""

    number: int
    moment: dt.datetime
    bundle: Path | None
    names: Mapping[str, str] = field(default_factory=dict)


# -- the events, as plain data ----------------------------------------------------------------

Finding = tuple[str, str]      # (rule id, resource name)
Resource = tuple[str, str]     # (resource type, resource name)


@dataclass(frozen=True)
class Events:
    """What differs between two consecutive runs A and B (findings by fingerprint; in
    `EXPECTED` by rule and resource name, in `expected_events` by fingerprint and AWS id).

    - new: FAIL in B, neither FAIL nor WAIVED in A (absent, PASS, NOT_APPLICABLE, ERROR)
    - resolved: FAIL in A, PASS in B (the resource still there)
    - still_failing: FAIL in both (not an event: the state the diff also reports)
    - waived: FAIL in A, WAIVED in B; unwaived: WAIVED in A, FAIL in B
    - changed: same fingerprint and status, another message or evidence
    - resources_added / resources_removed: resources (type, id) some finding of B / A is
      about and no finding of the other run is
    - waivers_expired: active in A's register, expired in B's
    - waivers_expiring: active in B's register and expiring within EXPIRING_WITHIN days of B's
      assessment day (0 <= days_to_expiry <= 30)
    - packs_changed: ids of rule packs whose version, digest or parameters differ (or that
      only one run has); config_changed: the runs' config digests differ

    "changed" compares evidence without its `sources` (JSON pointers into the snapshot's
    records): AWS promises no listing order (moto lists subnets by availability zone), so
    the subnet added in week 17 (AZ a) moves hy-app-b's record from Subnets/1 to Subnets/2 and
    with it the pointers of hy-app-b's findings and of the endpoints' VE-004 findings, which
    is no change of anything observed.
    """

    new: frozenset[Any] = frozenset()
    resolved: frozenset[Any] = frozenset()
    still_failing: frozenset[Any] = frozenset()
    waived: frozenset[Any] = frozenset()
    unwaived: frozenset[Any] = frozenset()
    changed: frozenset[Any] = frozenset()
    resources_added: frozenset[Any] = frozenset()
    resources_removed: frozenset[Any] = frozenset()
    waivers_expired: frozenset[str] = frozenset()
    waivers_expiring: frozenset[str] = frozenset()
    packs_changed: frozenset[str] = frozenset()
    config_changed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _expected() -> dict[tuple[int, int], Events]:
    out: dict[tuple[int, int], Events] = {}
    for a, b in pairs():
        ev: dict[str, frozenset[Any]] = {}
        if (a, b) == (4, 5):
            ev["new"] = frozenset({VIOLATION})
        if (a, b) == (8, 9):
            ev["resolved"] = frozenset({VIOLATION})
        if 5 <= a and b <= 8:
            ev["still_failing"] = frozenset({VIOLATION})
        if (a, b) == (19, 20):
            ev["unwaived"] = frozenset({WAIVED})
            ev["waivers_expired"] = frozenset({WAIVER_ID})
        if a >= 20:
            ev["still_failing"] = frozenset({WAIVED})
        if 0 <= (WAIVER_EXPIRES - moment(b).date()).days <= EXPIRING_WITHIN:
            ev["waivers_expiring"] = frozenset({WAIVER_ID})
        if (a, b) == (16, 17):
            ev["resources_added"] = frozenset({("subnet", SUBNET_C)})
        out[(a, b)] = Events(**ev)
    return out


# Per consecutive pair of runs, every event between them; every field not named is empty.
# (13, 15) spans the skipped week and holds nothing; waivers_expiring is (15, 16) .. (18, 19).
EXPECTED: dict[tuple[int, int], Events] = _expected()

# What a period report over weeks 1-26 must say about the findings that failed at some run
# (first and last run failing, the first run after that no longer failing: None = still
# failing at the end) and about the schedule (weekly from week 1: week 14 missing).
PERIOD: dict[str, Any] = {
    "from": moment(1).date(),
    "to": moment(WEEKS).date(),
    "runs": len(scanned_weeks()),
    "gaps": [moment(n).date() for n in sorted(SKIPPED)],
    "failed": {
        VIOLATION: (moment(5).date(), moment(8).date(), moment(9).date()),   # remediated in 28 days
        WAIVED: (moment(20).date(), moment(WEEKS).date(), None),
    },
    "waived": {WAIVED: (moment(1).date(), moment(19).date())},
}


FINDING_FIELDS = frozenset({"new", "resolved", "still_failing", "waived", "unwaived", "changed"})
RESOURCE_FIELDS = frozenset({"resources_added", "resources_removed"})


def expected_events(weeks: list[Week]) -> dict[tuple[int, int], Events]:
    """EXPECTED with the AWS ids and fingerprints of this simulation: a finding becomes its
    fingerprint (the one finding of that rule about that resource in the runs), a resource
    (type, AWS id), a waiver stays its id."""
    runs = [w for w in weeks if w.bundle is not None]
    if not runs:
        raise ValueError("no run among the weeks given")
    last = runs[-1]
    fingerprints: dict[tuple[str, str], set[str]] = {}
    for w in weeks:
        if w.bundle is not None:
            for f in findings(w.bundle)["findings"]:
                fingerprints.setdefault((f["rule_id"], f["resource"]["id"]), set()).add(f["fingerprint"])

    def fingerprint(rule: str, resource_id: str) -> str:
        found = fingerprints.get((rule, resource_id), set())
        if len(found) != 1:
            raise LookupError(f"{rule} on {resource_id}: {len(found)} fingerprints in the runs ({sorted(found)})")
        return next(iter(found))

    def aws_id(name: str) -> str:
        if name not in last.names:
            raise LookupError(f"{name} is not in the estate by week {last.number} (the last run given)")
        return last.names[name]

    def resolve(name: str, item: Any) -> Any:
        if name in FINDING_FIELDS:
            return fingerprint(item[0], aws_id(item[1]))
        if name in RESOURCE_FIELDS:
            return (item[0], aws_id(item[1]))
        return item

    return {pair: Events(**{k: (frozenset(resolve(k, i) for i in v) if isinstance(v, frozenset) else v)
                            for k, v in ev.as_dict().items()})
            for pair, ev in EXPECTED.items()}


def findings(bundle: Path) -> dict[str, Any]:
    """A bundle's findings.json, read once per process (bundles are never rewritten)."""
    return _read_findings(bundle.resolve())


@functools.cache
def _read_findings(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((path / "findings.json").read_text(encoding="utf-8"))
    return document


# -- the drift ------------------------------------------------------------------------------

def _public_ip_on_launch(value: bool) -> Callable[[Any, dict[str, str]], None]:
    def drift(ec2: Any, names: dict[str, str]) -> None:
        ec2.modify_subnet_attribute(SubnetId=names[SUBNET_A], MapPublicIpOnLaunch={"Value": value})
    return drift


def _add_subnet(ec2: Any, names: dict[str, str]) -> None:
    subnet = ec2.create_subnet(VpcId=names["vpc:hy-cde"], CidrBlock="10.40.3.0/24",
                               AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    ec2.associate_route_table(RouteTableId=names["route_table:hy-private"], SubnetId=subnet)
    names[SUBNET_C] = subnet


# Week -> what is done to the estate (boto3, the account's EC2 client) just before its scan.
DRIFT: dict[int, Callable[[Any, dict[str, str]], None]] = {
    5: _public_ip_on_launch(True),
    9: _public_ip_on_launch(False),
    17: _add_subnet,
}


def _ec2(role: str = "HalfYearDrift") -> Any:
    """An EC2 client acting in ACCOUNT (moto maps assumed-role credentials to the role's
    account); made afresh at each use, so its credentials are never older than the clock."""
    import boto3

    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="halfyear-drift")["Credentials"]
    return boto3.client("ec2", region_name=REGION, aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])


def _proxy_egress_rule(ec2: Any, group_id: str) -> str:
    rules = [r["SecurityGroupRuleId"] for r in ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group_id]}])["SecurityGroupRules"] if r["IsEgress"]]
    if len(rules) != 1:
        raise AssertionError(f"security group hy-proxy has {len(rules)} egress rules, not 1: {rules}")
    return str(rules[0])


# -- the simulation ---------------------------------------------------------------------------

def simulate_half_year(root: Path) -> list[Week]:
    """Seed the estate, then for each of the 26 weeks: travel to its moment, apply its drift
    and (but in week 14) scan into ``root/week-NN``. Every scan must be complete (no ERROR
    finding): an AssertionError says which week was not."""
    from auditor.api import run_scan
    from auditor.config import load_config
    from auditor.emulate import EmulatedAws, load_estate, seed

    config = load_config(CONFIG)
    estate = load_estate(ESTATE)
    weeks: list[Week] = []
    names: dict[str, str] = {}
    with EmulatedAws(mode="inprocess") as emu:
        for number in range(1, WEEKS + 1):
            at = moment(number)
            with time_machine.travel(at, tick=True):
                if number == 1:
                    seeded = seed(estate, emu)
                    names.update({f"{kind}:{name}": aws_id for (_a, _r, kind, name), aws_id in seeded.ids.items()})
                    names[PROXY_EGRESS] = _proxy_egress_rule(_ec2(), names["security_group:hy-proxy"])
                if number in DRIFT:
                    DRIFT[number](_ec2(), names)
                bundle: Path | None = None
                if number not in SKIPPED:
                    result = run_scan(config, out=root / f"week-{number:02d}", formats=["json"],
                                      sessions=emu.session_factory(max_attempts=2))
                    if not result.complete or not result.outputs_written:
                        raise AssertionError(f"week {number}: the scan was not complete "
                                             f"({result.document['summary']['findings']}, {result.problems})")
                    bundle = result.out
            weeks.append(Week(number, at, bundle, dict(names)))
    return weeks


def shared_half_year(factory: Any) -> list[Week]:
    """The simulation, run once per test session (`factory`: pytest's tmp_path_factory) and
    read-only for its users. Under pytest-xdist the workers share it: the first to ask builds
    it under the session's temporary folder while the others wait on a lock, then read what
    it wrote (``halfyear-weeks.json``, written last)."""
    base = Path(factory.getbasetemp())
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent   # the session's pytest-N folder, common to its workers
    return list(_shared(base))


@functools.cache
def _shared(base: Path) -> tuple[Week, ...]:
    import fcntl

    root = base / "halfyear"
    done = base / "halfyear-weeks.json"
    with open(base / "halfyear.lock", "a", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if done.is_file():
                return tuple(_week_from_json(w) for w in json.loads(done.read_text(encoding="utf-8")))
            if root.exists():   # a worker stopped half-way: start again
                shutil.rmtree(root)
            weeks = simulate_half_year(root)
            done.write_text(json.dumps([_week_to_json(w) for w in weeks], indent=1), encoding="utf-8")
            return tuple(weeks)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _week_to_json(week: Week) -> dict[str, Any]:
    return {"number": week.number, "moment": week.moment.isoformat(),
            "bundle": None if week.bundle is None else str(week.bundle), "names": dict(week.names)}


def _week_from_json(data: dict[str, Any]) -> Week:
    return Week(data["number"], dt.datetime.fromisoformat(data["moment"]),
                None if data["bundle"] is None else Path(data["bundle"]), data["names"])
