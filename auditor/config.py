"""The audit configuration: what to audit, how, and where results go.

`load_config` reads YAML, validates it against the published schema
(``auditor/schemas/audit-config.schema.json``) and semantic checks, and returns an
immutable `AuditConfig`. Every problem is raised at once as an InputError.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Mapping

from auditor.errors import InputError, Problem
from auditor.partitions import known_regions, partition_of
from auditor.responses import drop_echoes, parse_date
from auditor.store.base import REGIME_RETENTION, Retention, StoreSpec
from auditor.validation import did_you_mean, schema_problems, schema_view
from auditor.yamlpos import Located, load_yaml_text, read_text


# Every format of the writers' registry (auditor/report/writers/; the config schema lists the
# same), and what `auditor scan` writes besides findings.json unless outputs.formats says
# otherwise: all but those needing an optional extra (OSCAL).
from auditor.report.writers import scan_default_formats, scan_formats

ALL_FORMATS = scan_formats()
DEFAULT_FORMATS = scan_default_formats()

# The `source` of a config made from command-line options alone (no config file).
NO_CONFIG_SOURCE = "<command line>"

@dataclass(frozen=True)
class AccountSpec:
    """One account to audit. Without profile or role_arn the default credential chain is used."""

    id: str | None
    name: str = ""
    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    session_name: str | None = None        # sts:AssumeRole RoleSessionName (default auditor-<date>)
    session_duration: int | None = None    # sts:AssumeRole DurationSeconds (default: AWS's, one hour)


# Tag key -> allowed values, sorted: the form of scope tags and Organizations account tags.
TagSelector = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class Discovery:
    """AWS Organizations discovery of member accounts.

    An ACTIVE account is audited when it passes `include`/`exclude`, is under one of
    `organizational_units` (recursively; none given: anywhere) and, for every key of
    `account_tags`, carries that tag with one of its allowed values (none given: any tags)."""

    role_name: str
    management_profile: str | None = None
    external_id: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    organizational_units: tuple[str, ...] = ()
    account_tags: TagSelector = ()
    session_name: str | None = None
    session_duration: int | None = None


@dataclass(frozen=True)
class Scope:
    """Regulated VPCs: listed ids, or a tag selector (key -> allowed values). Empty = all."""

    vpc_ids: frozenset[str] = frozenset()
    tags: TagSelector = ()

    @property
    def everything(self) -> bool:
        return not self.vpc_ids and not self.tags

    def selects(self, vpc_id: str, tags: Mapping[str, str]) -> bool:
        if self.everything:
            return True
        if vpc_id in self.vpc_ids:
            return True
        return any(tags.get(k) in values for k, values in self.tags)


@dataclass(frozen=True)
class Collection:
    """How collection runs (docs/collection.md): account-region tasks at once, the shared call
    pool, calls in flight per account-region and service, the share of AWS's documented
    request rates the run allows itself, retry attempts."""

    max_workers: int = 64
    region_concurrency: tuple[tuple[str, int], ...] = (("ec2", 10),)
    default_concurrency: int = 4
    call_workers: int = 256
    rate_share: float = 1.0
    max_attempts: int = 8

    def cap(self, service: str) -> int:
        """Calls of `service` in flight at once in one account-region."""
        return dict(self.region_concurrency).get(service, self.default_concurrency)

    @property
    def service_concurrency(self) -> tuple[tuple[str, int], ...]:
        """The old name of `region_concurrency` (now per account-region, no longer per run)."""
        return self.region_concurrency


# Days of traffic read by default (costs.window_days), and the most (CloudWatch keeps one-hour
# datapoints for 455 days; the schema holds the same bound).
DEFAULT_WINDOW_DAYS = 30
MAX_WINDOW_DAYS = 455


@dataclass(frozen=True)
class Costs:
    """`costs:` the cost view's inputs. `traffic`: read NAT gateway and interface endpoint bytes
    from CloudWatch (cloudwatch:GetMetricData) over the last `window_days` days before the
    run's start; `prices`: a price-table file (relative to the config; None: the built-in
    table), read by `auditor.costs.prices.load_prices`."""

    traffic: bool = False
    window_days: int = DEFAULT_WINDOW_DAYS
    prices: Path | None = None


def _collection_problems(doc: Located) -> list[Problem]:
    """`collection:` beyond its schema: known services, and the old `service_concurrency`
    not given together with its new name."""
    col = doc.data.get("collection")
    if not isinstance(col, dict):
        return []
    problems: list[Problem] = []
    if "service_concurrency" in col and "region_concurrency" in col:
        problems.append(doc.problem(("collection", "service_concurrency"), "give region_concurrency only: "
                                    "service_concurrency is its old name (accepted for this release), both "
                                    "together are ambiguous", key=True))
    from auditor.collect.catalog import OPTIONAL_CALLS, regional_calls   # the catalogue's services (no botocore)

    known = sorted({spec.service for spec in regional_calls() + OPTIONAL_CALLS})
    for name in ("region_concurrency", "service_concurrency"):
        caps = col.get(name)
        if isinstance(caps, dict):
            for service in caps:
                if service not in known:
                    problems.append(doc.problem(("collection", name, service),
                                                f"'{service}' is not a service the collector calls "
                                                f"({', '.join(known)}){did_you_mean(str(service), known)}",
                                                key=True))
    return problems


@dataclass(frozen=True)
class ReportSigning:
    """`report_signing:` the PAdES signature of report.pdf (auditor/report/signing.py): key and
    certificate files (and a chain), relative to the config; the key's passphrase is read from
    the environment variable `passphrase_env` names, never from the file."""

    key: Path
    certificate: Path
    chain: tuple[Path, ...] = ()
    passphrase_env: str = ""


@dataclass(frozen=True)
class Assessor:
    """The assessor block: who performed the assessment (findings.json `run.assessor`)."""

    company: str
    certificate: str                      # certificate or registration number
    lead_assessors: tuple[str, ...]
    independence: str                     # the independence statement
    fieldwork_start: str                  # YYYY-MM-DD
    fieldwork_end: str
    qa_reviewer: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"company": self.company, "certificate": self.certificate, "lead_assessors": list(self.lead_assessors),
                "independence": self.independence, "fieldwork_start": self.fieldwork_start,
                "fieldwork_end": self.fieldwork_end, "qa_reviewer": self.qa_reviewer}


@dataclass(frozen=True)
class AuditConfig:
    """A validated audit config. `base_dir` resolves relative paths in it.

    `regions` is the config's list, "all", or () when the config names none: then the
    collector takes the region from AWS_REGION / AWS_DEFAULT_REGION / the AWS profile
    (`auditor.collect.regions.resolve_regions`), never a built-in default.
    """

    source: str
    digest: str
    base_dir: Path
    organization: str = ""
    accounts: tuple[AccountSpec, ...] = ()
    discovery: Discovery | None = None
    regions: tuple[str, ...] | str = ()
    scope: Scope = field(default_factory=Scope)
    compliance_profile: str | None = None
    rule_packs: tuple[str, ...] = ()
    parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    waivers: Path | None = None
    responses: Path | None = None         # management responses file (auditor/responses.py)
    assessor: Assessor | None = None
    output_dir: Path | None = None
    formats: tuple[str, ...] = DEFAULT_FORMATS
    gzip: bool = False
    fail_on: str = ""   # empty: the profile's, else high
    collection: Collection = field(default_factory=Collection)
    costs: Costs = field(default_factory=Costs)
    aws_profile: str | None = None        # the caller's AWS profile (else the default credential chain)
    text: str = ""                        # the exact text parsed (what `digest` is of; the bundle keeps it)
    overrides: tuple[str, ...] = ()       # the command-line options merged into `text` (its `overrides:`)
    warnings: tuple[str, ...] = ()        # deprecations, as `file:line:col  message` lines
    report_signing: ReportSigning | None = None   # sign report.pdf (PAdES)
    store: StoreSpec | None = None        # the run store scans register their bundles in (docs/store.md)
    schedule: str = ""                    # how often scans are expected (daily, weekly, monthly, a cron expression)

    @property
    def caller_profile(self) -> str | None:
        """The AWS profile of the caller's session: discovery's management_profile, else
        `aws_profile`; None: the default credential chain."""
        if self.discovery is not None and self.discovery.management_profile:
            return self.discovery.management_profile
        return self.aws_profile


def _tag_selector(raw: Mapping[str, Any]) -> TagSelector:
    return tuple(sorted((k, tuple([v] if isinstance(v, str) else v)) for k, v in raw.items()))


def _semantic_problems(doc: Located) -> list[Problem]:
    data = doc.data
    problems: list[Problem] = []
    regions = data.get("regions")
    if isinstance(regions, list):
        known = known_regions()
        for i, name in enumerate(regions):
            if isinstance(name, str) and name not in known:
                problems.append(doc.problem(("regions", i), f"'{name}' is not a known AWS region name"
                                            f"{did_you_mean(name, known)}"))
        # One run talks to one partition: its credentials are valid in no other.
        partitions: dict[str, str] = {}  # partition -> its first region in the list
        for name in regions:
            if isinstance(name, str) and name in known:
                partitions.setdefault(partition_of(name), name)
        if len(partitions) > 1:
            named = ", ".join(f"{n} ({p})" for p, n in partitions.items())
            problems.append(doc.problem(("regions",), f"the regions are in different AWS partitions ({named}); "
                                        "credentials work in one partition only: audit each partition in its own run",
                                        key=True))
    assessor = data.get("assessor")
    if isinstance(assessor, dict):
        days = {k: parse_date(doc, ("assessor", k), assessor[k], problems)
                for k in ("fieldwork_start", "fieldwork_end") if k in assessor}
        start, end = days.get("fieldwork_start"), days.get("fieldwork_end")
        if start and end and end < start:
            problems.append(doc.problem(("assessor", "fieldwork_end"), f"fieldwork ends {end.isoformat()}, before it "
                                        f"starts ({start.isoformat()})"))
    if "accounts" in data and "organization_discovery" in data:
        problems.append(doc.problem(("organization_discovery",),
                                    "give either accounts or organization_discovery, not both", key=True))
    if isinstance(data.get("schedule"), str):
        from auditor.store.schedule import check_schedule

        why = check_schedule(data["schedule"])
        if why is not None:
            problems.append(doc.problem(("schedule",), why))
    if "profile" in data and "compliance_profile" in data:
        problems.append(doc.problem(("profile",), "give compliance_profile only: profile is its old name "
                                    "(accepted for this release), both together are ambiguous", key=True))
    seen: dict[str, int] = {}
    for i, acct in enumerate(data.get("accounts") or []):
        if not isinstance(acct, dict):
            continue
        raw = acct.get("id")
        if isinstance(raw, int) and not isinstance(raw, bool):
            problems.append(doc.problem(("accounts", i, "id"),
                                        f"write the account id in quotes ('{doc.raw.get(('accounts', i, 'id'), raw)}'): unquoted, YAML reads it "
                                        "as a number and can drop leading zeros"))
        elif isinstance(raw, str):
            if raw in seen:
                problems.append(doc.problem(("accounts", i, "id"), f"account {raw} is listed twice "
                                            f"(first as accounts[{seen[raw]}])"))
            seen.setdefault(raw, i)
            arn = acct.get("role_arn")
            if isinstance(arn, str) and f"::{raw}:" not in arn:
                problems.append(doc.problem(("accounts", i, "role_arn"),
                                            f"role ARN is in another account than id {raw}"))
    problems += _store_problems(doc)
    problems += _collection_problems(doc)
    return problems


def _store_problems(doc: Located) -> list[Problem]:
    """The `store:` block beyond its schema: an S3 address with a bucket, region and profile
    only for an S3 store, a retention that states days and keeps no more online than in all."""
    store = doc.data.get("store")
    if not isinstance(store, dict):
        return []
    problems = []
    location = store.get("location")
    s3 = isinstance(location, str) and location.startswith("s3://")
    if s3 and not str(location)[len("s3://"):].split("/", 1)[0]:
        problems.append(doc.problem(("store", "location"), f"'{location}' names no bucket: write s3://BUCKET/PREFIX"))
    for key in ("region", "profile"):
        if key in store and isinstance(location, str) and not s3:
            problems.append(doc.problem(("store", key), f"{key} applies only to an S3 store (location s3://...); "
                                        "a local store folder has no session", key=True))
    retention = store.get("retention")
    if isinstance(retention, dict):
        if "regime" not in retention and "days" not in retention:
            problems.append(doc.problem(("store", "retention"), "give a regime (pci-dss, hipaa) or days", key=True))
        days, online = _retention_days(retention)
        if isinstance(days, int) and isinstance(online, int) and online > days:
            problems.append(doc.problem(("store", "retention", "online_days" if "online_days" in retention else "days"),
                                        f"online_days ({online}) is more than days ({days}): runs cannot stay "
                                        "available longer than they are kept"))
    return problems


def _retention_days(raw: Mapping[str, Any]) -> tuple[Any, Any]:
    """(days, online_days) of a `store.retention` block: the regime's defaults (REGIME_RETENTION)
    unless given; online_days not given: the regime's, at most days (without a regime: days)."""
    base = REGIME_RETENTION.get(str(raw.get("regime")))
    days = raw.get("days", base.days if base else None)
    if "online_days" in raw:
        return days, raw["online_days"]
    if base is None or not isinstance(days, int):
        return days, days
    return days, min(base.online_days, days)


def _store(raw: Mapping[str, Any] | None, base_dir: Path) -> StoreSpec | None:
    if raw is None:
        return None
    location = str(raw["location"])
    if not location.startswith("s3://"):
        location = str(base_dir / location)
    retention = None
    if "retention" in raw:
        r = raw["retention"]
        days, online = _retention_days(r)
        regime = str(r.get("regime", ""))
        base = REGIME_RETENTION.get(regime)
        overridden = [k for k in ("days", "online_days") if k in r]
        source = (base.source if base and not overridden else
                  f"{base.source}; {' and '.join(overridden)} set in the config" if base else "set in the config")
        retention = Retention(days=int(days), online_days=int(online), mode=str(r.get("mode", "compliance")),
                              regime=regime, source=source)
    return StoreSpec(location=location, region=raw.get("region"), profile=raw.get("profile"), retention=retention)


def parse_config(doc: Located, base_dir: Path, raw_text: str) -> AuditConfig:
    """Validate a parsed document and build the config. Raises InputError with every problem."""
    if not isinstance(doc.data, dict):
        raise InputError([doc.problem((), "expected a mapping of settings at the top of the file")])
    # Semantic problems first in case the schema also complains about the same place: the
    # semantic message is the more helpful one (e.g. unquoted account ids).
    semantic = _semantic_problems(doc)
    covered = {(p.line, p.col) for p in semantic}
    view = Located(doc.file, {**doc.data, "assessor": schema_view(doc.data["assessor"])} if "assessor" in doc.data
                   else doc.data, doc.values, doc.keys, doc.raw)   # YAML dates as the schema's strings
    problems = drop_echoes(semantic + [p for p in schema_problems("audit-config", view)
                                       if (p.line, p.col) not in covered])
    if problems:
        raise InputError(problems)
    d = doc.data

    def rel(p: str | None) -> Path | None:
        return None if p is None else (base_dir / p)

    accounts = tuple(AccountSpec(id=a["id"], name=a.get("name", ""), profile=a.get("profile"),
                                 role_arn=a.get("role_arn"), external_id=a.get("external_id"),
                                 session_name=a.get("session_name"), session_duration=a.get("session_duration"))
                     for a in d.get("accounts", []))
    disc = d.get("organization_discovery")
    discovery = None if disc is None else Discovery(
        role_name=disc["role_name"], management_profile=disc.get("management_profile"),
        external_id=disc.get("external_id"), include=tuple(disc.get("include", ())),
        exclude=tuple(disc.get("exclude", ())),
        organizational_units=tuple(dict.fromkeys(disc.get("organizational_units", ()))),
        account_tags=_tag_selector(disc.get("account_tags", {})),
        session_name=disc.get("session_name"), session_duration=disc.get("session_duration"))
    sc = d.get("scope", {})
    tags = _tag_selector(sc.get("tags", {}))
    warnings = []
    if "profile" in d:   # the compliance profile's old key (renamed: "profile" means the AWS profile)
        old = doc.problem(("profile",), "the key 'profile' is renamed 'compliance_profile' (the compliance "
                          "profile; 'profile' now means an AWS profile): write compliance_profile: "
                          f"{d['profile']}; the old key is accepted for this release only", key=True)
        warnings.append(f"warning: {old.render()}")
    overrides = d.get("overrides", {})
    regions = d.get("regions", [])  # none: resolved from the environment at collection
    out = d.get("outputs", {})
    col = d.get("collection", {})
    caps = dict(Collection().region_concurrency)
    if "service_concurrency" in col:
        old_caps = doc.problem(("collection", "service_concurrency"), "collection.service_concurrency is renamed "
                               "region_concurrency and now caps the calls in flight per account-region (no "
                               "longer per run): the same numbers are used that way; write region_concurrency: "
                               "the old key is accepted for this release only", key=True)
        warnings.append(f"warning: {old_caps.render()}")
    caps.update(col.get("region_concurrency", col.get("service_concurrency", {})))
    return AuditConfig(
        source=doc.file,
        digest="sha256:" + hashlib.sha256(raw_text.encode("utf-8")).hexdigest(),
        base_dir=base_dir,
        organization=d.get("organization", ""),
        accounts=accounts,
        discovery=discovery,
        regions="all" if regions == "all" else tuple(regions),
        scope=Scope(vpc_ids=frozenset(sc.get("vpc_ids", ())), tags=tags),
        compliance_profile=d.get("compliance_profile", d.get("profile")),
        rule_packs=tuple(d.get("rule_packs", ())),
        parameters=d.get("parameters", {}),
        waivers=rel(d.get("waivers")),
        responses=rel(d.get("responses")),
        assessor=_assessor(d.get("assessor")),
        output_dir=rel(out.get("directory")),
        formats=tuple(dict.fromkeys(out.get("formats", DEFAULT_FORMATS))),
        gzip=bool(out.get("gzip", False)),
        fail_on=d.get("fail_on", ""),
        collection=Collection(max_workers=col.get("max_workers", 64),
                              region_concurrency=tuple(sorted(caps.items())),
                              default_concurrency=col.get("default_concurrency", 4),
                              call_workers=col.get("call_workers", 256),
                              rate_share=float(col.get("rate_share", 1.0)),
                              max_attempts=col.get("max_attempts", 8)),
        costs=_costs(d.get("costs") or {}, base_dir),
        aws_profile=d.get("aws_profile"),
        text=raw_text,
        overrides=tuple(overrides.get("options", ())),
        warnings=tuple(warnings),
        report_signing=None if "report_signing" not in d else ReportSigning(
            key=base_dir / d["report_signing"]["key"], certificate=base_dir / d["report_signing"]["certificate"],
            chain=tuple(base_dir / c for c in d["report_signing"].get("chain", ())),
            passphrase_env=d["report_signing"].get("passphrase_env", "")),
        store=_store(d.get("store"), base_dir),
        schedule=d.get("schedule", ""),   # its semantic check: auditor/store/schedule.py
    )


def _costs(raw: Mapping[str, Any], base_dir: Path) -> Costs:
    prices = raw.get("prices")
    return Costs(traffic=bool(raw.get("traffic", False)), window_days=int(raw.get("window_days", DEFAULT_WINDOW_DAYS)),
                 prices=None if prices is None else base_dir / str(prices))


def _assessor(raw: Mapping[str, Any] | None) -> Assessor | None:
    if raw is None:
        return None
    day = {k: schema_view(raw[k]) for k in ("fieldwork_start", "fieldwork_end")}
    return Assessor(company=raw["company"].strip(), certificate=raw["certificate"].strip(),
                    lead_assessors=tuple(n.strip() for n in raw["lead_assessors"]),
                    independence=" ".join(raw["independence"].split()), fieldwork_start=day["fieldwork_start"],
                    fieldwork_end=day["fieldwork_end"], qa_reviewer=str(raw.get("qa_reviewer", "")).strip())


def load_config(path: Path | str) -> AuditConfig:
    """Read, validate and build an audit config from a YAML file."""
    p = Path(path)
    text = read_text(p)  # read once: the digest is of exactly the text that was parsed
    return parse_config(load_yaml_text(text, str(p)), p.parent, text)


def config_from_text(text: str, name: str = "<config>", base_dir: Path | None = None) -> AuditConfig:
    """The same as `load_config` for text held in memory (tests, the demo)."""
    return parse_config(load_yaml_text(text, name), base_dir or Path.cwd(), text)
