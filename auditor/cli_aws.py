"""AWS conventions on the command line: `auditor scan` and `auditor collect` options that
override the audit config (`--profile`, `--region`, `--role-arn`, `--role-name`, ...).

`aws_options` adds the options to a command and hands it one `AwsOptions` (``aws=``). Each
value is checked as it is parsed: a bad one is a usage error (exit 2) naming the option.
`effective_config` merges them into the config document and parses the result, the
*effective config*, with the config's own parser: its text (YAML, with a leading comment
naming the file and the options, and an ``overrides:`` key recording them) is what the
digest is of, what the snapshot manifest and findings.json cite (``run.config.overrides``)
and what the evidence bundle keeps, so that `auditor verify` re-evaluates exactly what ran.
Without options the config is the file, byte for byte. Relative paths in it (waivers, rule
packs, a profile file) still resolve from the file's folder.

With no config file at all the run audits the caller's account (the default credential
chain, or `--profile`) in its region (`--region`, else AWS_REGION, AWS_DEFAULT_REGION or the
profile's region), with every built-in pack and everything in scope; `assumptions` says so.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from auditor.config import AuditConfig

F = TypeVar("F", bound=Callable[..., Any])

_SESSION_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]{2,64}")        # sts:AssumeRole RoleSessionName
_EXTERNAL_ID = re.compile(r"[A-Za-z0-9_+=,.@:/-]{2,1224}")    # sts:AssumeRole ExternalId
_ROLE_NAME = re.compile(r"[A-Za-z0-9_+=,.@/-]{1,512}")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::([0-9]{12}):role/.+")
_ORG_UNIT = re.compile(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32}")
_VPC = re.compile(r"vpc-[0-9a-f]{8,17}")
MIN_DURATION, MAX_DURATION = 900, 43200                         # sts:AssumeRole DurationSeconds


# -- checking each value as it is parsed ---------------------------------------------------

def _regions(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> tuple[str, ...]:
    from auditor.partitions import known_regions, partition_of
    from auditor.validation import did_you_mean

    known = known_regions()
    for name in values:
        if name != "all" and name not in known:
            raise click.BadParameter(f"'{name}' is not a known AWS region name{did_you_mean(name, known)} "
                                     "(or give all: every enabled region)", ctx, param)
    if "all" in values and len(values) > 1:
        raise click.BadParameter("all means every enabled region: give it alone", ctx, param)
    partitions = {partition_of(n): n for n in values if n != "all"}
    if len(partitions) > 1:
        named = ", ".join(f"{n} ({p})" for p, n in sorted(partitions.items()))
        raise click.BadParameter(f"the regions are in different AWS partitions ({named}); credentials work in one "
                                 "partition only: audit each partition in its own run", ctx, param)
    return tuple(dict.fromkeys(values))


def _pattern(rx: re.Pattern[str], what: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        for v in (value if isinstance(value, tuple) else (value,)):
            if v is not None and not rx.fullmatch(v):
                raise click.BadParameter(f"'{v}' is not {what}", ctx, param)
        return value
    return check


def _tags(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for text in values:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"'{text}' is not KEY=VALUE (e.g. data-classification=pci)", ctx, param)
        pairs.append((key, value))
    return tuple(pairs)


def _profile_help() -> str:
    """The --compliance-profile help, naming the built-in profiles (the files of rules/profiles/)."""
    from auditor.rules.profiles import builtin_profiles

    return (f"Compliance profile ({', '.join(builtin_profiles())}, or a profile file): replaces the config's "
            "compliance_profile.")


def _compliance_profile(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from auditor.rules.profiles import builtin_profiles, resolve_profile
    from auditor.validation import did_you_mean

    path = resolve_profile(value, Path.cwd())
    if not path.is_file():
        raise click.BadParameter(f"no compliance profile '{value}'{did_you_mean(value, builtin_profiles())}; "
                                 f"built-in profiles: {', '.join(builtin_profiles()) or 'none'} (or give the path "
                                 "of a profile file)", ctx, param)
    if path.resolve() == resolve_profile(value, Path("/")).resolve():
        return value   # a built-in profile, by id
    # A file named on the command line is relative to where the command runs, not to the config.
    return str(path.resolve())


_OPTIONS = (
    click.option("--profile", "aws_profile", metavar="NAME", default=None,
                 help="AWS profile of the caller's session (AWS config files); for every account the config "
                      "gives no profile or role of its own, the source of role assumptions, and where "
                      "Organizations discovery runs."),
    click.option("--region", "regions", metavar="NAME", multiple=True, callback=_regions,
                 help="Region to audit (repeatable; all: every enabled region); replaces the config's regions."),
    click.option("--role-arn", metavar="ARN", default=None, callback=_pattern(_ROLE_ARN, "an IAM role ARN "
                 "(arn:aws:iam::<12-digit account>:role/<name>)"),
                 help="Audit the one account of this role, assuming it (replaces the config's accounts)."),
    click.option("--role-name", metavar="NAME", default=None, callback=_pattern(_ROLE_NAME, "an IAM role name"),
                 help="Organizations discovery: assume this role in every member account (turns discovery on "
                      "when the config has none)."),
    click.option("--external-id", metavar="ID", default=None,
                 callback=_pattern(_EXTERNAL_ID, "an sts:AssumeRole external id (2-1224 of A-Z a-z 0-9 _+=,.@:/-)"),
                 help="ExternalId for sts:AssumeRole (with --role-arn, --role-name or the config's roles)."),
    click.option("--role-session-name", metavar="NAME", default=None,
                 callback=_pattern(_SESSION_NAME, "a role session name (2-64 of A-Z a-z 0-9 _+=,.@-)"),
                 help="RoleSessionName of every sts:AssumeRole (what CloudTrail shows; default auditor-<date>)."),
    click.option("--role-duration", metavar="SECONDS", default=None, type=click.IntRange(MIN_DURATION, MAX_DURATION),
                 help=f"DurationSeconds of every sts:AssumeRole ({MIN_DURATION}-{MAX_DURATION}; no more than the "
                      "role's maximum session duration)."),
    click.option("--org-unit", "org_units", metavar="ID", multiple=True,
                 callback=_pattern(_ORG_UNIT, "an organizational unit id (ou-xxxx-xxxxxxxx) or root id (r-xxxx)"),
                 help="Organizations discovery: only the accounts under this OU or root, recursively (repeatable)."),
    click.option("--account-tag", "account_tags", metavar="KEY=VALUE", multiple=True, callback=_tags,
                 help="Organizations discovery: only the accounts with this tag (repeatable; a key repeated lists "
                      "its allowed values; every key must match)."),
    click.option("--scope-tag", "scope_tags", metavar="KEY=VALUE", multiple=True, callback=_tags,
                 help="In scope: VPCs with this tag (repeatable; a key repeated lists its allowed values); with "
                      "--scope-vpc, replaces the config's scope."),
    click.option("--scope-vpc", "scope_vpcs", metavar="VPC_ID", multiple=True,
                 callback=_pattern(_VPC, "a VPC id (vpc- and 8 or 17 hex digits)"),
                 help="In scope: this VPC (repeatable); with --scope-tag, replaces the config's scope."),
    click.option("--compliance-profile", metavar="NAME", default=None, callback=_compliance_profile,
                 help=_profile_help()),
    click.option("--traffic/--no-traffic", "traffic", default=None,
                 help="Read NAT gateway and interface endpoint bytes from CloudWatch (cloudwatch:GetMetricData, "
                      "read-only) for the cost view; replaces the config's costs.traffic (default: off)."),
)


@dataclass(frozen=True)
class AwsOptions:
    """The AWS options as given (checked one by one; `effective_config` checks them together)."""

    aws_profile: str | None = None
    regions: tuple[str, ...] = ()
    role_arn: str | None = None
    role_name: str | None = None
    external_id: str | None = None
    role_session_name: str | None = None
    role_duration: int | None = None
    org_units: tuple[str, ...] = ()
    account_tags: tuple[tuple[str, str], ...] = ()
    scope_tags: tuple[tuple[str, str], ...] = ()
    scope_vpcs: tuple[str, ...] = ()
    compliance_profile: str | None = None
    traffic: bool | None = None

    @property
    def empty(self) -> bool:
        return not self.options()

    def options(self) -> list[str]:
        """The options as a command line would give them, in a fixed order (recorded)."""
        out = []
        for f in fields(self):
            flag = _FLAGS[f.name]
            value = getattr(self, f.name)
            if isinstance(value, bool):   # an on/off switch: its flag alone
                out.append(flag if value else flag.replace("--", "--no-", 1))
                continue
            items = value if isinstance(value, tuple) else (() if value is None else (value,))
            for item in items:
                out.append(f"{flag} {'='.join(item) if isinstance(item, tuple) else item}")
        return out


_FLAGS = {"aws_profile": "--profile", "regions": "--region", "role_arn": "--role-arn", "role_name": "--role-name",
          "external_id": "--external-id", "role_session_name": "--role-session-name",
          "role_duration": "--role-duration", "org_units": "--org-unit", "account_tags": "--account-tag",
          "scope_tags": "--scope-tag", "scope_vpcs": "--scope-vpc", "compliance_profile": "--compliance-profile",
          "traffic": "--traffic"}


def aws_options(command: F) -> F:
    """Add the AWS options to a click command; it receives them as one `AwsOptions` (``aws``)."""
    names = [f.name for f in fields(AwsOptions)]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        aws = AwsOptions(**{n: kwargs.pop(n) for n in names})
        return command(*args, aws=aws, **kwargs)

    decorated: Any = wrapper
    for option in reversed(_OPTIONS):
        decorated = option(decorated)
    return decorated


# -- merging into the config ---------------------------------------------------------------

def _selector(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """KEY=VALUE pairs as a config tag selector: a key given once -> its value, more -> a list."""
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, [])
        if value not in out[key]:
            out[key].append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in out.items()}


def merge(data: dict[str, Any], aws: AwsOptions, source: str) -> dict[str, Any]:
    """The config document `data` with the options applied (a new dict). Combinations that
    cannot mean one thing raise `click.UsageError`, naming the options (and the config)."""
    from auditor.config import NO_CONFIG_SOURCE

    doc = {k: v for k, v in data.items() if k != "overrides"}
    where = f"the config {source}" if source != NO_CONFIG_SOURCE else "the command line"

    def usage(message: str) -> click.UsageError:
        return click.UsageError(message)

    if aws.role_arn and (aws.role_name or aws.org_units or aws.account_tags):
        given = [f for f, v in (("--role-name", aws.role_name), ("--org-unit", aws.org_units),
                                ("--account-tag", aws.account_tags)) if v]
        raise usage(f"--role-arn audits one account; it cannot be combined with {', '.join(given)} "
                    "(Organizations discovery)")
    if aws.compliance_profile:
        doc.pop("profile", None)
        doc["compliance_profile"] = aws.compliance_profile
    elif "profile" in doc:   # the old key: carried under its new name (the file's warning is kept)
        doc["compliance_profile"] = doc.pop("profile")
    if aws.traffic is not None:
        costs = doc.get("costs")
        # A costs value that is not a mapping is left for the config's own check to report.
        if costs is None or isinstance(costs, dict):
            doc["costs"] = {**(costs or {}), "traffic": aws.traffic}
    if aws.regions:
        doc["regions"] = "all" if aws.regions == ("all",) else list(aws.regions)
    if aws.scope_tags or aws.scope_vpcs:
        scope: dict[str, Any] = {}
        if aws.scope_vpcs:
            scope["vpc_ids"] = list(dict.fromkeys(aws.scope_vpcs))
        if aws.scope_tags:
            scope["tags"] = _selector(aws.scope_tags)
        doc["scope"] = scope
    if aws.aws_profile:
        doc["aws_profile"] = aws.aws_profile
        disc = doc.get("organization_discovery")
        if isinstance(disc, dict) and disc.get("management_profile"):
            disc = doc["organization_discovery"] = dict(disc)
            disc["management_profile"] = aws.aws_profile   # the caller's session: the option wins
    session = {k: v for k, v in (("external_id", aws.external_id), ("session_name", aws.role_session_name),
                                 ("session_duration", aws.role_duration)) if v is not None}
    if aws.role_arn:
        match = _ROLE_ARN.fullmatch(aws.role_arn)
        assert match is not None   # checked as parsed
        account = match.group(1)
        named = [a for a in doc.get("accounts") or [] if isinstance(a, dict) and a.get("id") == account]
        entry: dict[str, Any] = {"id": account}
        if named and named[0].get("name"):
            entry["name"] = named[0]["name"]
        doc["accounts"] = [{**entry, "role_arn": aws.role_arn, **session}]
        doc.pop("organization_discovery", None)
        return doc
    if aws.role_name:
        if doc.get("accounts"):
            raise usage(f"--role-name turns on Organizations discovery, but {where} lists accounts: remove them, "
                        "or give --role-arn to audit one account")
        disc = dict(doc.get("organization_discovery") or {})
        disc["role_name"] = aws.role_name
        doc["organization_discovery"] = disc
    disc = doc.get("organization_discovery")
    if isinstance(disc, dict):
        disc = doc["organization_discovery"] = dict(disc)
        if aws.org_units:
            disc["organizational_units"] = list(dict.fromkeys(aws.org_units))
        if aws.account_tags:
            disc["account_tags"] = _selector(aws.account_tags)
        disc.update(session)
        return doc
    if aws.org_units or aws.account_tags:
        flag = "--org-unit" if aws.org_units else "--account-tag"
        raise usage(f"{flag} selects Organizations accounts: give --role-name (the role to assume in each) or "
                    f"organization_discovery in the config; {where} has no discovery")
    if session:
        roles = [a for a in doc.get("accounts") or [] if isinstance(a, dict) and a.get("role_arn")]
        if not roles:
            flags = [_FLAGS[n] for n, v in (("external_id", aws.external_id),
                                              ("role_session_name", aws.role_session_name),
                                              ("role_duration", aws.role_duration)) if v is not None]
            raise usage(f"{', '.join(flags)}: no role is assumed in this run ({where} has no role_arn and no "
                        "Organizations discovery); give --role-arn or --role-name")
        doc["accounts"] = [{**a, **session} if isinstance(a, dict) and a.get("role_arn") else a
                           for a in doc["accounts"]]
    return doc


def effective_text(doc: dict[str, Any], source: str, aws: AwsOptions) -> str:
    """The effective config's text: a comment saying where it comes from, then the document
    with its ``overrides:`` record."""
    import yaml

    from auditor.config import NO_CONFIG_SOURCE

    origin = "no config file" if source == NO_CONFIG_SOURCE else f"the config file {source}"
    body = {"version": doc.get("version", 1), **{k: v for k, v in doc.items() if k != "version"},
            "overrides": {"source": None if source == NO_CONFIG_SOURCE else source, "options": aws.options()}}
    header = ("# The effective audit config of this run, written by private-network-auditor: "
              f"{origin}\n# with the command-line options: {' '.join(aws.options())}\n")
    return header + yaml.safe_dump(body, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)


def effective_config(config_path: Path | None, aws: AwsOptions, *, required: bool = True) -> AuditConfig | None:
    """The config the run uses: the file (checked at ``file:line``; exactly it when no option
    is given), with the options merged in. Without a file: a config made of the options
    alone, or None when there are none and not `required` (a snapshot re-evaluated with
    every built-in pack). Raises InputError (the file) or click.UsageError (the options)."""
    from auditor.config import NO_CONFIG_SOURCE, load_config, parse_config
    from auditor.yamlpos import load_yaml_text

    base = load_config(config_path) if config_path is not None else None
    if aws.empty and (base is not None or not required):
        return base
    source = str(config_path) if config_path is not None else NO_CONFIG_SOURCE
    data = dict(load_yaml_text(base.text, source).data) if base is not None else {"version": 1}
    text = effective_text(merge(data, aws, source), source, aws)
    base_dir = config_path.parent if config_path is not None else Path.cwd()
    config = parse_config(load_yaml_text(text, source), base_dir, text)
    notes = base.warnings if base is not None else ()
    own = [a.id or "" for a in config.accounts if a.profile]
    if aws.aws_profile and own:   # said, not silently passed over
        notes += (f"note: --profile {aws.aws_profile} is not used for account(s) {', '.join(own)}: the config "
                  "gives them their own profile",)
    return replace(config, warnings=notes)


def assumptions(config: AuditConfig) -> list[str]:
    """What a run without a config file assumed, one line each (printed on stderr)."""
    who = f"AWS profile '{config.aws_profile}'" if config.aws_profile else "the default AWS credential chain"
    if config.discovery is not None:
        target = f"the accounts of the organization (role {config.discovery.role_name} in each; found with {who})"
    elif config.accounts:
        target = f"account {config.accounts[0].id} through role {config.accounts[0].role_arn} (assumed with {who})"
    else:
        target = f"the caller's own account ({who})"
    if config.regions == "all":
        regions = "every enabled region (--region all)"
    elif config.regions:
        regions = f"region(s) {', '.join(config.regions)} (--region)"
    else:
        regions = "the region of the environment (AWS_REGION, AWS_DEFAULT_REGION or the AWS profile's)"
    packs = (f"compliance profile {config.compliance_profile}" if config.compliance_profile
             else "every built-in rule pack")
    scope = "everything in scope" if config.scope.everything else "the scope of --scope-tag/--scope-vpc"
    return [f"no config file (-c): auditing {target}, in {regions}, with {packs}, {scope}, no waivers"]


def config_for_command(config_path: Path | None, aws: AwsOptions, notify: Callable[..., None], *,
                       required: bool = True) -> AuditConfig | None:
    """`effective_config` for a command: its warnings (a deprecated key) and, without a
    config file, what the run assumes are given to `notify` (stderr)."""
    config = effective_config(config_path, aws, required=required)
    if config is not None:
        for line in config.warnings:
            notify(line, err=True)
        if config_path is None:
            for line in assumptions(config):
                notify(line, err=True)
    return config
