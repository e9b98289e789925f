"""The period report's model: every stored run of an assessment period, read once, folded into
what an assessor asks of a period (docs/period-report.md).

- per framework control, its status at every run (``absent`` when the run did not assess it:
  never PASS) and whether it is shown in place all through the period;
- per finding that was FAIL, ERROR or WAIVED in any run: when it was first and last seen so,
  the run it was fixed in, the days that took, whether it is still open, and its waived spans;
- the waivers over the period, the resources first and last seen, the gaps in evidence the
  schedule shows (auditor/store/schedule.py), and the runs themselves (the appendix).

Each run's findings.json is read once and kept as one status byte per finding per run; the
model holds no clock and sorts every list, so the same runs give the same model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from auditor.errors import InputError, Problem
from auditor.report.model import control_order
from auditor.store.base import StoredRun, StoreError
from auditor.store.schedule import Gap, check_schedule, gaps as schedule_gaps, normalise, parse_time
from auditor.vocabulary import STATUSES, severity_rank

ABSENT = "absent"
# One byte per finding (or control) per run: 0 absent, else 1 + its index in STATUSES.
_CODE = {s: i + 1 for i, s in enumerate(STATUSES)}
_NAME = (ABSENT, *STATUSES)
_OPEN = frozenset(_CODE[s] for s in ("FAIL", "ERROR", "WAIVED"))
_IN_PLACE = frozenset(_CODE[s] for s in ("PASS", "WAIVED"))
_FAILING = frozenset(_CODE[s] for s in ("FAIL", "ERROR"))
CONFIG_FILE = "inputs/audit-config.yaml"


@dataclass(frozen=True)
class PeriodRun:
    """One run of the period (the appendix)."""

    run_id: str
    created: str
    assessed_on: str
    complete: bool
    counts: tuple[tuple[str, int], ...]     # findings by status, in STATUSES order
    bundle_sha256: str
    manifest_sha256: str
    signed: bool

    @property
    def day(self) -> str:
        return self.created[:10]


@dataclass(frozen=True)
class ControlRow:
    """A framework control over the period: its status at each run (``absent``: not assessed
    by that run), `in_place` only when every run was PASS or WAIVED and the schedule shows no
    gap; else `why` it is not shown in place."""

    framework: str
    framework_title: str
    control: str
    title: str
    statuses: tuple[str, ...]
    in_place: bool
    why: tuple[str, ...]


@dataclass(frozen=True)
class Span:
    """Consecutive runs in which a finding was FAIL, ERROR or WAIVED: `status` the worst of them;
    `fixed_in` the next run (where it was PASS, NOT_APPLICABLE or absent: `fixed_by`), None when
    it was still open at the period's last run; `days` from first seen to fixed (collection days)."""

    first_seen: str
    first_day: str
    last_seen: str
    last_day: str
    status: str
    fixed_in: str | None
    fixed_day: str | None
    fixed_by: str | None
    days: int | None


@dataclass(frozen=True)
class WaivedSpan:
    """Consecutive runs in which a finding was WAIVED by waiver `waiver`; `expired`: the waiver's
    register says ``expired`` in the run after the span (the finding is judged again there)."""

    waiver: str
    from_run: str
    from_day: str
    to_run: str
    to_day: str
    expires: str
    expired: bool


@dataclass(frozen=True)
class FindingRow:
    """A finding that was FAIL, ERROR or WAIVED in some run of the period. first/last seen: its
    first and last failing span; fixed_in, fixed_by and days_to_remediate: of its last span;
    `open_at_start`: already failing in the period's first run (days_to_remediate is then a
    lower bound)."""

    fingerprint: str
    rule_id: str
    severity: str
    resource_type: str
    resource_id: str
    account: str
    region: str
    item: str | None
    message: str
    worst: str
    first_seen: str
    first_day: str
    last_seen: str
    last_day: str
    fixed_in: str | None
    fixed_day: str | None
    fixed_by: str | None
    days_to_remediate: int | None
    open_at_start: bool
    open_at_end: bool
    status_at_end: str
    spans: tuple[Span, ...]
    waived: tuple[WaivedSpan, ...]
    first_failing_day: str | None = None   # the first run where it was FAIL or ERROR (None: only ever WAIVED)


@dataclass(frozen=True)
class ResourceRow:
    """A resource the findings name, first and last seen in the period; `added`: first seen after
    the period's first run; `removed`: last seen before its last run."""

    resource_type: str
    resource_id: str
    account: str
    region: str
    first_seen: str
    first_day: str
    last_seen: str
    last_day: str
    runs: int
    added: bool
    removed: bool


@dataclass(frozen=True)
class WaiverRow:
    """A waiver of the runs' waiver registers: its status at the period's last run (``absent``
    when no longer in the register), when it was first active, and when it was first seen
    expired; `findings`: how many findings it waived in some run."""

    waiver: str
    expires: str
    approver: str
    ticket: str
    first_active: str | None
    last_active: str | None
    expired_in: str | None
    expired_day: str | None
    status_at_end: str
    findings: int


@dataclass(frozen=True)
class PeriodModel:
    """The period report's content (period.json is `to_json()`)."""

    store: str
    organization: str                   # the newest run's config `organization`
    accounts: tuple[str, ...]           # every account of the runs
    start: str                          # the period as asked: --from
    end: str                            # --to
    first_run: str                      # the first and last runs' collection times
    last_run: str
    runs: tuple[PeriodRun, ...]
    schedule: str | None                # None: gaps not assessed
    schedule_source: str                # "--schedule", or the config file of the run it came from
    gaps: tuple[Gap, ...]
    controls: tuple[ControlRow, ...]
    findings: tuple[FindingRow, ...]
    resources: tuple[ResourceRow, ...]
    waivers: tuple[WaiverRow, ...]

    @property
    def gaps_assessed(self) -> bool:
        return self.schedule is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "private-network-auditor/period", "format_version": 1,
            "store": self.store, "organization": self.organization, "accounts": list(self.accounts),
            "period": {"from": self.start, "to": self.end, "first_run": self.first_run,
                       "last_run": self.last_run, "runs": len(self.runs)},
            "schedule": {"schedule": self.schedule, "source": self.schedule_source,
                         "gaps_assessed": self.gaps_assessed,
                         "gaps": [g.to_json() for g in self.gaps] if self.gaps_assessed else None},
            "runs": [{**asdict(r), "counts": dict(r.counts)} for r in self.runs],
            "controls": [asdict(c) for c in self.controls],
            "findings": [asdict(f) for f in self.findings],
            "resources": [asdict(r) for r in self.resources],
            "waivers": [asdict(w) for w in self.waivers],
        }


class _Findings:
    """What the runs' findings.json files say, compactly: one status byte per run per finding."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.status: dict[str, bytearray] = {}
        self.info: dict[str, tuple[str, str, str, str, str, str, str | None]] = {}
        self.message: dict[str, str] = {}                      # the latest failing message
        self.waiver: dict[str, dict[int, str]] = {}            # WAIVED: run index -> waiver id
        self.resources: dict[tuple[str, str, str, str], list[int]] = {}   # key -> [first, last, runs]
        self.controls: dict[tuple[str, str], bytearray] = {}
        self.control_titles: dict[tuple[str, str], tuple[str, str]] = {}
        self.waivers: dict[str, dict[int, str]] = {}           # waiver id -> run index -> register status
        self.waiver_info: dict[str, tuple[str, str, str]] = {}   # id -> expires, approver, ticket (latest)

    def read(self, i: int, document: Mapping[str, Any]) -> None:
        n = self.n
        for f in document.get("findings") or ():
            fp = str(f["fingerprint"])
            code = _CODE.get(str(f.get("status")), 0)
            if not code:
                raise StoreError(f"finding {fp} has the unknown status {f.get('status')!r}")
            row = self.status.get(fp)
            r = f.get("resource") or {}
            if row is None:
                row = self.status[fp] = bytearray(n)
                self.info[fp] = (str(f.get("rule_id") or ""), str(f.get("severity") or ""), str(r.get("type") or ""),
                                 str(r.get("id") or ""), str(r.get("account") or ""), str(r.get("region") or ""),
                                 None if f.get("item") is None else str(f["item"]))
            row[i] = code
            if code in _OPEN:
                self.message[fp] = str(f.get("message") or "")
                if code == _CODE["WAIVED"]:
                    self.waiver.setdefault(fp, {})[i] = str((f.get("waiver") or {}).get("id") or "")
            rid = str(r.get("id") or "")
            if rid and rid != "*":   # "*": a whole account-region not assessed, no resource
                key = (str(r.get("type") or ""), rid, str(r.get("account") or ""), str(r.get("region") or ""))
                seen = self.resources.get(key)
                if seen is None:
                    self.resources[key] = [i, i, 1]
                elif seen[1] != i:
                    seen[1] = i
                    seen[2] += 1
        for fw in document.get("frameworks") or ():
            for c in fw.get("controls") or ():
                ckey = (str(fw.get("id")), str(c.get("id")))
                crow = self.controls.get(ckey)
                if crow is None:
                    crow = self.controls[ckey] = bytearray(n)
                self.control_titles[ckey] = (str(fw.get("title") or ""), str(c.get("title") or ""))
                crow[i] = _CODE.get(str(c.get("status")), _CODE["ERROR"])   # an unknown status is not PASS
        for w in document.get("waivers") or ():
            wid = str(w.get("id") or "")
            self.waivers.setdefault(wid, {})[i] = str(w.get("status") or "")
            self.waiver_info[wid] = (str(w.get("expires") or ""), str(w.get("approver") or ""),
                                     str(w.get("ticket") or ""))


def _read_json(path: Path) -> Mapping[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path}: cannot read the run's findings.json ({exc})") from None
    if not isinstance(data, dict):
        raise StoreError(f"{path}: not a findings.json")
    return data


_SCHEDULE_LINE = re.compile(r"^schedule\s*:", re.MULTILINE)


def config_schedule(bundle: Path) -> str | None:
    """The ``schedule:`` of the config a bundle's run was made with (inputs/audit-config.yaml),
    None when it has none (or the bundle holds no config). InputError for one that is not a schedule."""
    from auditor.yamlpos import load_yaml_text

    path = bundle / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"{path}: cannot read the run's config ({exc})") from None
    if not _SCHEDULE_LINE.search(text):
        return None
    doc = load_yaml_text(text, str(path))
    if not isinstance(doc.data, dict) or "schedule" not in doc.data:
        return None
    value = doc.data["schedule"]
    problem = check_schedule(value)
    if problem is not None:
        raise InputError([doc.problem(("schedule",), problem)])
    return normalise(str(value))


def _days(a: str, b: str) -> int:
    return (date.fromisoformat(b[:10]) - date.fromisoformat(a[:10])).days


def _spans(row: bytearray, runs: Sequence[PeriodRun]) -> list[Span]:
    out: list[Span] = []
    i, n = 0, len(row)
    while i < n:
        if row[i] not in _OPEN:
            i += 1
            continue
        j = i
        while j + 1 < n and row[j + 1] in _OPEN:
            j += 1
        worst = _NAME[min(row[i:j + 1])]
        fixed = runs[j + 1] if j + 1 < n else None
        out.append(Span(runs[i].run_id, runs[i].day, runs[j].run_id, runs[j].day, worst,
                        fixed.run_id if fixed else None, fixed.day if fixed else None,
                        _NAME[row[j + 1]] if fixed else None,
                        _days(runs[i].created, fixed.created) if fixed else None))
        i = j + 1
    return out


def _waived_spans(by_run: Mapping[int, str], runs: Sequence[PeriodRun], data: _Findings) -> list[WaivedSpan]:
    out: list[WaivedSpan] = []
    indexes = sorted(by_run)
    k = 0
    while k < len(indexes):
        first, wid = indexes[k], by_run[indexes[k]]
        last = first
        while k + 1 < len(indexes) and indexes[k + 1] == last + 1 and by_run[indexes[k + 1]] == wid:
            k += 1
            last = indexes[k]
        after = data.waivers.get(wid, {}).get(last + 1)
        out.append(WaivedSpan(wid, runs[first].run_id, runs[first].day, runs[last].run_id, runs[last].day,
                              data.waiver_info.get(wid, ("", "", ""))[0], after == "expired"))
        k += 1
    return out


def _control_why(statuses: Sequence[str], runs: Sequence[PeriodRun], schedule: str | None,
                 gaps: Sequence[Gap]) -> list[str]:
    why: list[str] = []
    for status, words in (("FAIL", "FAIL"), ("ERROR", "ERROR (not assessed)"),
                          (ABSENT, "absent (the run did not assess it)"), ("NOT_APPLICABLE", "NOT_APPLICABLE")):
        at = [i for i, s in enumerate(statuses) if s == status]
        if at:
            why.append(f"{words} in {len(at)} of {len(runs)} runs (first {runs[at[0]].day}, last {runs[at[-1]].day})")
    if schedule is None:
        why.append("gaps in evidence not assessed (no schedule)")
    elif gaps:
        why.append(f"{len(gaps)} gap{'s' if len(gaps) != 1 else ''} in evidence (schedule {schedule})")
    return why


def build_period(runs: Sequence[tuple[StoredRun, Path]], start: date, end: date, *,
                 schedule: str | None, store: str) -> PeriodModel:
    """The period `start`..`end` (collection days, inclusive) over `runs` (each stored run and
    its bundle folder; any order). `schedule`: the command line's (wins), else the config's of the
    period's newest run, else None (gaps not assessed). StoreError for an empty period, a period
    that ends before it starts, a run outside it or an unreadable findings.json; InputError for a
    schedule that is not one."""
    if end < start:
        raise StoreError(f"the period ends ({end}) before it starts ({start})")
    if not runs:
        raise StoreError(f"no run in the period {start} to {end} in {store}: a period report never covers "
                         "an empty period (see `auditor history`)")
    ordered = sorted(runs, key=lambda rb: (rb[0].created, rb[0].run_id))
    outside = [r.run_id for r, _ in ordered if not start <= r.day <= end]
    if outside:
        raise StoreError(f"run {outside[0]} was not collected in the period {start} to {end}")
    period_runs = tuple(PeriodRun(r.run_id, r.created, r.assessed_on, r.complete,
                                  tuple((s, int(r.counts.get(s, 0))) for s in STATUSES),
                                  r.bundle_sha256, r.manifest_sha256, r.signed) for r, _ in ordered)
    chosen: str | None
    if schedule is not None:
        problem = check_schedule(schedule)
        if problem is not None:
            raise InputError([Problem("--schedule", 1, 1, "", problem)])
        chosen, source = normalise(schedule), "--schedule"
    else:
        newest = ordered[-1][1]
        chosen = config_schedule(newest)
        source = f"{CONFIG_FILE} of run {ordered[-1][0].run_id}" if chosen is not None else ""
    n = len(ordered)
    data = _Findings(n)
    for i, (_run, folder) in enumerate(ordered):
        data.read(i, _read_json(folder / "findings.json"))
    found_gaps = (tuple(schedule_gaps(chosen, [parse_time(r.created) for r in period_runs], start, end))
                  if chosen is not None else ())
    return PeriodModel(
        store=store, organization=ordered[-1][0].organization,
        accounts=tuple(sorted({a for r, _ in ordered for a in r.accounts})), start=start.isoformat(), end=end.isoformat(),
        first_run=period_runs[0].created, last_run=period_runs[-1].created, runs=period_runs,
        schedule=chosen, schedule_source=source, gaps=found_gaps,
        controls=_controls(data, period_runs, chosen, found_gaps), findings=_findings(data, period_runs),
        resources=_resources(data, period_runs), waivers=_waivers(data, period_runs))


def _controls(data: _Findings, runs: Sequence[PeriodRun], schedule: str | None,
              gaps: Sequence[Gap]) -> tuple[ControlRow, ...]:
    out = []
    for key in sorted(data.controls, key=lambda k: (k[0], control_order(k[1]), k[1])):
        row = data.controls[key]
        statuses = tuple(_NAME[c] for c in row)
        held = all(c in _IN_PLACE for c in row)
        fw_title, title = data.control_titles[key]
        in_place = held and schedule is not None and not gaps
        out.append(ControlRow(key[0], fw_title, key[1], title, statuses, in_place,
                              () if in_place else tuple(_control_why(statuses, runs, schedule, gaps))))
    return tuple(out)


def _findings(data: _Findings, runs: Sequence[PeriodRun]) -> tuple[FindingRow, ...]:
    out = []
    last = len(runs) - 1
    for fp, row in data.status.items():
        spans = _spans(row, runs)
        if not spans:
            continue
        rule, severity, rtype, rid, account, region, item = data.info[fp]
        first, final = spans[0], spans[-1]
        out.append(FindingRow(
            fp, rule, severity, rtype, rid, account, region, item, data.message.get(fp, ""),
            _NAME[min(c for c in row if c)], first.first_seen, first.first_day, final.last_seen, final.last_day,
            final.fixed_in, final.fixed_day, final.fixed_by, final.days, row[0] in _OPEN, row[last] in _OPEN,
            _NAME[row[last]], tuple(spans), tuple(_waived_spans(data.waiver.get(fp, {}), runs, data)),
            first_failing_day=next((runs[i].day for i, c in enumerate(row) if c in _FAILING), None)))
    out.sort(key=lambda f: (severity_rank(f.severity), f.rule_id, f.account, f.region, f.resource_type,
                            f.resource_id, f.item or "", f.fingerprint))
    return tuple(out)


def _resources(data: _Findings, runs: Sequence[PeriodRun]) -> tuple[ResourceRow, ...]:
    last = len(runs) - 1
    return tuple(ResourceRow(t, rid, account, region, runs[a].run_id, runs[a].day, runs[b].run_id, runs[b].day,
                             count, a > 0, b < last)
                 for (t, rid, account, region), (a, b, count) in sorted(data.resources.items()))


def _waivers(data: _Findings, runs: Sequence[PeriodRun]) -> tuple[WaiverRow, ...]:
    waived: dict[str, int] = {}
    for by_run in data.waiver.values():
        for wid in set(by_run.values()):
            waived[wid] = waived.get(wid, 0) + 1
    out = []
    for wid in sorted(set(data.waivers) | set(waived)):
        by_run = data.waivers.get(wid, {})
        active = sorted(i for i, s in by_run.items() if s == "active")
        expired = sorted(i for i, s in by_run.items() if s == "expired")
        expires, approver, ticket = data.waiver_info.get(wid, ("", "", ""))
        out.append(WaiverRow(wid, expires, approver, ticket,
                             runs[active[0]].run_id if active else None, runs[active[-1]].run_id if active else None,
                             runs[expired[0]].run_id if expired else None, runs[expired[0]].day if expired else None,
                             by_run.get(len(runs) - 1, ABSENT), waived.get(wid, 0)))
    return tuple(out)
