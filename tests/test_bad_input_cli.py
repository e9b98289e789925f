"""The bad-input corpus, through the command line: every case gets its documented exit code
(docs/cli.md), a clear message, and never a traceback.

Each case is files to write, the arguments (``{tmp}`` is the case's folder, ``{snap}`` a
valid snapshot kept elsewhere) and what must come out. Run through click's CliRunner on
`auditor.cli.cli` (fast, in process); a case "has a traceback" when the command ended on an
exception other than SystemExit, or printed "Traceback". Subprocesses only where a real
process matters (a closed stdout pipe, an uninstalled optional dependency).
"""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from auditor.cli import cli
from auditor.cli_common import EXIT_INPUT, EXIT_INCOMPLETE, EXIT_OUTPUT, EXIT_VIOLATIONS_INCOMPLETE
from auditor.rules.fixtures import ACCOUNT, REGION, Case as FixtureCase, records_for
from auditor.snapshot.records import CallError, CallRecord
from auditor.snapshot.writer import SnapshotWriter

REPO = Path(__file__).resolve().parent.parent
# What an AWS string can hold to take over a terminal: set the title (OSC ... BEL), clear the
# screen (CSI 2 J), paint what follows green (CSI 32 m).
HOSTILE = "\x1b]0;title\x07\x1b[2J\x1b[32mCOMPLIANT"
ESCAPED = "\\x1b]0;title\\x07\\x1b[2J\\x1b[32mCOMPLIANT"
FAKE_LINE = "COMPLIANT: every in-scope check passed (or is waived)"   # our own verdict line, faked

# 1 KB: ten aliases per level, nine levels: 10^9 values once expanded.
LAUGHS = 'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]\n" for i in range(1, 10))
DEEP = "[" * 5000 + "]" * 5000


def _calls() -> dict[str, Any]:
    return {"ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16",
                                           "Tags": [{"Key": "Name", "Value": HOSTILE}]}]},
            "ec2:DescribeInternetGateways": {"InternetGateways": [
                {"InternetGatewayId": "igw-1", "Attachments": [{"VpcId": "vpc-a", "State": "available"}]}]}}


def write_snapshot(folder: Path, *, hostile_error: str = "") -> Path:
    """A small verified snapshot (no emulator): one VPC named HOSTILE with an internet
    gateway; with `hostile_error`, a denied lambda:ListFunctions whose message is that text."""
    writer = SnapshotWriter(folder)
    records = records_for(FixtureCase(rule="", name="corpus", file="", line=0, calls=_calls(), failed=(),
                                      region=REGION))
    for rec in records:
        if hostile_error and (rec.service, rec.operation) == ("lambda", "ListFunctions"):
            rec = CallRecord(ACCOUNT, REGION, "lambda", "ListFunctions", {}, (),
                             error=CallError("aws", "AccessDeniedException", hostile_error, 403))
        writer.add(rec)
    writer.finish({"started": "2026-03-01T10:00:00Z", "finished": "2026-03-01T10:01:00Z", "regions": [REGION],
                   "accounts": [{"id": ACCOUNT, "name": f"acct {HOSTILE}", "regions": [REGION]}],
                   "config": {"digest": "sha256:x"}})
    return folder


@pytest.fixture(scope="module")
def snap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_snapshot(tmp_path_factory.mktemp("evidence") / "snap",
                          hostile_error=f"denied {HOSTILE}\n{FAKE_LINE}")


# --------------------------------------------------------------------------- the table

CONFIG = "version: 1\nregions: [eu-west-1]\n"
WAIVER = textwrap.dedent("""\
    version: 1
    waivers:
      - id: WVR-1
        rules: [RULES]
        resources:
          - SELECTOR
        justification: Legacy partner VPN until the migration completes.
        approver: jane.doe@bank.example
        ticket: RISK-1
        created: 2026-01-15
        expires: 2026-06-30
    """)


def waiver(rules: str = "PN-001", selector: str = "id: vpc-0abc") -> str:
    return WAIVER.replace("RULES", rules).replace("SELECTOR", selector)


PACK = textwrap.dedent("""\
    pack:
      id: corpus
      version: 1.0.0
      title: Corpus pack
      description: A user pack for the bad-input corpus.
    rules:
      - id: USR-101
        title: VPCs carry an owner tag
        severity: low
        resource: vpc
        check: CHECK
        message: "VPC {id} has no owner tag"
        rationale: Every network has an accountable owner.
        remediation: {console: Tag the VPC with its owner.}
        references: ["https://docs.aws.amazon.com/vpc/latest/userguide/vpc-tagging.html"]
        frameworks:
          nist-800-53-r5: [CM-8]
    """)


def pack(check: str = "{attr: tags.owner, exists: true}") -> str:
    return PACK.replace("CHECK", check)


@dataclass(frozen=True)
class Bad:
    """One bad input: `files` to write into the case folder, CLI `args`, the exit `code` and a
    regex the output must match."""

    id: str
    args: tuple[str, ...]
    code: int
    message: str
    files: dict[str, str | bytes] = field(default_factory=dict)


COLLECT = ("collect", "-c", "{tmp}/audit.yaml", "--out", "{tmp}/out")
# A config that passes, with its packs, profile and waivers checked (prepare) before the
# snapshot is read; the snapshot folder does not exist, so nothing would run anyway.
PREPARE = ("scan", "-c", "{tmp}/audit.yaml", "--snapshot", "{tmp}/no-snapshot", "--out", "{tmp}/out")
VALIDATE = ("rules", "validate", "{tmp}/pack.yaml", "--no-builtin")
WAIVED = CONFIG + "waivers: w.yaml\n"

CASES: list[Bad] = [
    # -- configs --------------------------------------------------------------------------
    Bad("config-yaml-syntax", COLLECT, EXIT_INPUT, r"audit\.yaml:3:1\s+YAML syntax error: expected ',' or ']'",
        {"audit.yaml": "version: 1\nregions: [eu-west-1\n"}),
    Bad("config-tab-indent", COLLECT, EXIT_INPUT, r"YAML does not allow tabs for indentation",
        {"audit.yaml": "version: 1\nscope:\n\tvpc_ids: []\n"}),
    Bad("config-empty", COLLECT, EXIT_INPUT, r"audit\.yaml:1:1\s+the file is empty", {"audit.yaml": "\n"}),
    Bad("config-a-list", COLLECT, EXIT_INPUT, r"expected a mapping of settings", {"audit.yaml": "- 1\n"}),
    Bad("config-unknown-key", COLLECT, EXIT_INPUT, r"unknown key 'regoins' \(did you mean 'regions'\?\)",
        {"audit.yaml": "version: 1\nregoins: [eu-west-1]\n"}),
    Bad("config-wrong-type", COLLECT, EXIT_INPUT, r"audit\.yaml:3:27\s+collection\.max_workers: expected a whole number",
        {"audit.yaml": CONFIG + "collection: {max_workers: many}\n"}),
    Bad("config-bad-region", COLLECT, EXIT_INPUT,
        r"'eu-wset-1' is not a known AWS region name \(did you mean 'eu-west-1'\?\)",
        {"audit.yaml": "version: 1\nregions: [eu-wset-1]\n"}),
    Bad("config-unquoted-account", COLLECT, EXIT_INPUT, r"write the account id in quotes \('011111111111'\)",
        {"audit.yaml": CONFIG + "accounts: [{id: 011111111111}]\n"}),
    Bad("config-short-account", COLLECT, EXIT_INPUT, r"accounts\[0\]\.id: '1234' is not valid",
        {"audit.yaml": CONFIG + "accounts: [{id: '1234'}]\n"}),
    Bad("config-letters-account", COLLECT, EXIT_INPUT, r"accounts\[0\]\.id: 'abcdefghijkl' is not valid",
        {"audit.yaml": CONFIG + "accounts: [{id: 'abcdefghijkl'}]\n"}),
    Bad("config-account-twice", COLLECT, EXIT_INPUT, r"account 111111111111 is listed twice",
        {"audit.yaml": CONFIG + "accounts: [{id: '111111111111'}, {id: '111111111111'}]\n"}),
    Bad("config-duplicate-key", COLLECT, EXIT_INPUT, r"duplicate key 'regions' \(first given at line 2\)",
        {"audit.yaml": CONFIG + "regions: [us-east-1]\n"}),
    Bad("config-role-other-account", COLLECT, EXIT_INPUT, r"role ARN is in another account than id 111111111111",
        {"audit.yaml": CONFIG + "accounts: [{id: '111111111111', role_arn: 'arn:aws:iam::222222222222:role/a'}]\n"}),
    Bad("config-accounts-and-discovery", COLLECT, EXIT_INPUT, r"give either accounts or organization_discovery",
        {"audit.yaml": CONFIG + "accounts: [{id: '111111111111'}]\norganization_discovery: {role_name: r}\n"}),
    Bad("config-bad-fail-on", COLLECT, EXIT_INPUT, r"fail_on",
        {"audit.yaml": CONFIG + "fail_on: severe\n"}),
    Bad("config-unknown-format", COLLECT, EXIT_INPUT, r"outputs\.formats\[0\]",
        {"audit.yaml": CONFIG + "outputs: {formats: [docx]}\n"}),
    Bad("config-bad-vpc-id", COLLECT, EXIT_INPUT, r"scope\.vpc_ids\[0\]: 'vpc-1' is not valid",
        {"audit.yaml": CONFIG + "scope: {vpc_ids: [vpc-1]}\n"}),
    Bad("config-billion-laughs", COLLECT, EXIT_INPUT, r"aliases would expand the file .* 'billion laughs'",
        {"audit.yaml": CONFIG + LAUGHS}),
    Bad("config-deep-nesting", COLLECT, EXIT_INPUT, r"nested more than 100 levels deep",
        {"audit.yaml": CONFIG + "scope: " + DEEP + "\n"}),
    Bad("config-recursive-alias", COLLECT, EXIT_INPUT, r"an alias refers to a collection that contains it",
        {"audit.yaml": CONFIG + "scope: &s {tags: *s}\n"}),
    Bad("config-not-utf8", COLLECT, EXIT_INPUT, r"not UTF-8 text", {"audit.yaml": b"version: 1\nname: \xff\xfe\n"}),
    Bad("config-missing", COLLECT, EXIT_INPUT, r"audit\.yaml:0:0\s+file not found"),
    Bad("config-is-a-directory", ("collect", "-c", "{tmp}", "--out", "{tmp}/out"), EXIT_INPUT, r"is a directory"),
    Bad("config-unknown-profile", PREPARE, EXIT_INPUT, r"no profile 'bankng' \(did you mean 'banking'\?\)",
        {"audit.yaml": CONFIG + "profile: bankng\n"}),
    Bad("config-missing-pack", PREPARE, EXIT_INPUT, r"no-such-pack",
        {"audit.yaml": CONFIG + "rule_packs: [no-such-pack]\n"}),
    Bad("config-unknown-parameter", PREPARE, EXIT_INPUT, r"parameters\.endpoints\.no_such_parameter",
        {"audit.yaml": CONFIG + "parameters: {endpoints: {no_such_parameter: 1}}\n"}),
    Bad("config-missing-waivers", PREPARE, EXIT_INPUT, r"w\.yaml:0:0\s+file not found", {"audit.yaml": WAIVED}),
    # -- rule packs ---------------------------------------------------------------------------
    Bad("pack-yaml-syntax", VALIDATE, EXIT_INPUT, r"pack\.yaml:\d+:\d+\s+YAML syntax error",
        {"pack.yaml": pack().replace("severity: low", "severity: [low")}),
    Bad("pack-unknown-key", VALIDATE, EXIT_INPUT, r"unknown key 'severty' \(did you mean 'severity'\?\)",
        {"pack.yaml": pack().replace("severity: low", "severty: low")}),
    Bad("pack-bad-severity", VALIDATE, EXIT_INPUT, r"USR-101 severity",
        {"pack.yaml": pack().replace("severity: low", "severity: catastrophic")}),
    Bad("pack-unknown-operator", VALIDATE, EXIT_INPUT, r"USR-101 check",
        {"pack.yaml": pack("{attr: tags.owner, existz: true}")}),
    Bad("pack-unknown-attribute", VALIDATE, EXIT_INPUT, r"'is_defualt' is not an attribute",
        {"pack.yaml": pack("{attr: is_defualt, eq: false}")}),
    Bad("pack-wrong-type", VALIDATE, EXIT_INPUT, r"pack\.yaml:\d+:\d+",
        {"pack.yaml": pack().replace("references: [", "references: 5\nx: [")}),
    Bad("pack-billion-laughs", VALIDATE, EXIT_INPUT, r"'billion laughs'", {"pack.yaml": pack() + LAUGHS}),
    Bad("pack-deep-nesting", VALIDATE, EXIT_INPUT, r"nested more than 100 levels deep",
        {"pack.yaml": pack("{all: " + DEEP + "}")}),
    Bad("pack-missing-file", ("rules", "validate", "{tmp}/nowhere.yaml"), EXIT_INPUT, r"nowhere\.yaml"),
    Bad("pack-empty", VALIDATE, EXIT_INPUT, r"the file is empty", {"pack.yaml": ""}),
    Bad("rules-show-unknown-id", ("rules", "show", "PN-999"), EXIT_INPUT, r"error: unknown rule PN-999"),
    # -- waivers (checked with the config, before anything runs) --------------------------
    Bad("waiver-star", PREPARE, EXIT_INPUT, r"'\*' would waive every rule",
        {"audit.yaml": WAIVED, "w.yaml": waiver("'*'")}),
    Bad("waiver-class-star", PREPARE, EXIT_INPUT, r"'\[A-Z\]\*' would waive every rule \(like '\*'\)",
        {"audit.yaml": WAIVED, "w.yaml": waiver("'[A-Z]*'")}),
    Bad("waiver-spans-prefixes", PREPARE, EXIT_INPUT, r"'P\*' spans rule prefixes",
        {"audit.yaml": WAIVED, "w.yaml": waiver("'P*'")}),
    Bad("waiver-arn-star", PREPARE, EXIT_INPUT, r"'arn:\*' names no service: it would waive every resource",
        {"audit.yaml": WAIVED, "w.yaml": waiver(selector="arn: 'arn:*'")}),
    Bad("waiver-arn-service", PREPARE, EXIT_INPUT, r"'arn:aws:ec2:\*' names no whole account and no resource",
        {"audit.yaml": WAIVED, "w.yaml": waiver(selector="arn: 'arn:aws:ec2:*'")}),
    Bad("waiver-unknown-rule", PREPARE, EXIT_INPUT, r"'PN-999' is not a known rule id",
        {"audit.yaml": WAIVED, "w.yaml": waiver("PN-999")}),
    Bad("waiver-expires-first", PREPARE, EXIT_INPUT, r"expires 2026-01-01 is before created 2026-01-15",
        {"audit.yaml": WAIVED, "w.yaml": waiver().replace("2026-06-30", "2026-01-01")}),
    Bad("waiver-too-long", PREPARE, EXIT_INPUT, r"a waiver may last at most one year",
        {"audit.yaml": WAIVED, "w.yaml": waiver().replace("2026-06-30", "2028-06-30")}),
    Bad("waiver-short-justification", PREPARE, EXIT_INPUT, r"too short \(10 characters\)",
        {"audit.yaml": WAIVED,
         "w.yaml": waiver().replace("Legacy partner VPN until the migration completes.", "legacy VPN")}),
    Bad("waiver-id-wildcard", PREPARE, EXIT_INPUT, r"a resource id is matched exactly",
        {"audit.yaml": WAIVED, "w.yaml": waiver(selector="id: vpc-*")}),
    Bad("waiver-impossible-date", PREPARE, EXIT_INPUT, r"'2026-02-30' is not a valid date",
        {"audit.yaml": WAIVED, "w.yaml": waiver().replace("2026-01-15", "2026-02-30")}),
    Bad("waiver-no-approver", PREPARE, EXIT_INPUT, r"missing required key 'approver'",
        {"audit.yaml": WAIVED, "w.yaml": waiver().replace("    approver: jane.doe@bank.example\n", "")}),
    Bad("waivers-a-directory", PREPARE, EXIT_INPUT, r"is a directory, expected a YAML file",
        {"audit.yaml": CONFIG + "waivers: wdir\n", "wdir/keep": ""}),
    Bad("waivers-billion-laughs", PREPARE, EXIT_INPUT, r"'billion laughs'",
        {"audit.yaml": WAIVED, "w.yaml": "version: 1\nwaivers: []\n" + LAUGHS}),
    # -- the command line -----------------------------------------------------------------
    Bad("scan-unknown-region-option", ("scan", "--region", "mars-1"), EXIT_INPUT,
        r"Invalid value for '--region': 'mars-1' is not a known AWS region name"),
    Bad("collect-role-duration-too-long", (*COLLECT, "--role-arn", "arn:aws:iam::111111111111:role/a",
                                           "--role-duration", "86400"), EXIT_INPUT,
        r"Invalid value for '--role-duration': 86400 is not in the range 900<=x<=43200"),
    Bad("scan-bad-fail-on", ("scan", "--snapshot", "{snap}", "--fail-on", "severe"), EXIT_INPUT,
        r"Invalid value for '--fail-on'"),
    Bad("scan-unknown-format", ("scan", "--snapshot", "{snap}", "--format", "html,docx", "--out", "{tmp}/out"),
        EXIT_INPUT, r"unknown format docx"),
    Bad("scan-bad-style", ("scan", "--snapshot", "{snap}", "--style", "fancy"), EXIT_INPUT,
        r"Invalid value for '--style'"),
    Bad("scan-missing-snapshot", ("scan", "--snapshot", "{tmp}/none", "--out", "{tmp}/out"), EXIT_INPUT,
        r"error: .*none"),
    Bad("scan-snapshot-is-a-file", ("scan", "--snapshot", "{tmp}/audit.yaml", "--out", "{tmp}/out"), EXIT_INPUT,
        r"is a file", {"audit.yaml": CONFIG}),
    Bad("scan-not-a-snapshot", ("scan", "--snapshot", "{tmp}/empty", "--out", "{tmp}/out"), EXIT_INPUT,
        r"error: .*manifest", {"empty/keep": ""}),
    Bad("scan-out-is-the-snapshot", ("scan", "--snapshot", "{snap}", "--out", "{snap}"), EXIT_INPUT,
        r"--out .* is inside the snapshot .*nothing was written"),
    Bad("scan-out-inside-the-snapshot", ("scan", "--snapshot", "{snap}", "--out", "{snap}/records/out"),
        EXIT_INPUT, r"--out .* is inside the snapshot"),
    Bad("scan-out-is-a-file", ("scan", "--snapshot", "{snap}", "--out", "{tmp}/f", "--format", "json"),
        EXIT_OUTPUT, r"f is a file, not a folder", {"f": "x"}),
    Bad("scan-out-parent-is-a-file", ("scan", "--snapshot", "{snap}", "--out", "{tmp}/f/out", "--format", "json"),
        EXIT_OUTPUT, r"cannot create the output folder .*f/out: Not a directory", {"f": "x"}),
    Bad("scan-missing-sign-key", ("scan", "--snapshot", "{snap}", "--sign-key", "{tmp}/none.pem"), EXIT_INPUT,
        r"error: .*none\.pem.*nothing was run"),
    Bad("collect-without-out", ("collect", "-c", "{tmp}/audit.yaml"), EXIT_INPUT, r"Missing option '--out'",
        {"audit.yaml": CONFIG}),
    Bad("collect-out-not-empty", ("collect", "-c", "{tmp}/audit.yaml", "--out", "{tmp}/old"), EXIT_INPUT,
        r"already exists and is not empty", {"audit.yaml": CONFIG, "old/evidence.txt": "kept"}),
    Bad("collect-out-is-a-file", ("collect", "-c", "{tmp}/audit.yaml", "--out", "{tmp}/f"), EXIT_OUTPUT,
        r"--out .*f is a file", {"audit.yaml": CONFIG, "f": "x"}),
    Bad("inventory-missing", ("inventory", "{tmp}/none"), EXIT_INPUT, r"error: .*none"),
    Bad("no-such-command", ("scna",), EXIT_INPUT, r"No such command 'scna'"),
    Bad("unknown-option", ("scan", "--frobnicate"), EXIT_INPUT, r"No such option '--frobnicate'"),
    Bad("report-missing-findings", ("report", "{tmp}/findings.json"), EXIT_INPUT, r"cannot read"),
    Bad("report-not-json", ("report", "{tmp}/findings.json"), EXIT_INPUT, r"not a findings\.json \(not JSON",
        {"findings.json": "{nope"}),
    Bad("report-unknown-format", ("report", "{tmp}/findings.json", "--format", "docx"), EXIT_INPUT,
        r"unknown format docx", {"findings.json": "{}"}),
    Bad("report-hostile-findings", ("report", "{tmp}/findings.json"), EXIT_INPUT,
        r"does not match the findings\.json schema",
        {"findings.json": json.dumps({"findings": [{HOSTILE + "\n" + FAKE_LINE: HOSTILE}]})}),
    Bad("verify-missing", ("verify", "{tmp}/none"), EXIT_INPUT, r"error: "),
    Bad("scan-out-not-creatable", ("scan", "--snapshot", "{snap}", "--out", "/sys/auditor-corpus-out"), EXIT_OUTPUT,
        # sysfs refuses a new folder even to root (EPERM; EROFS where /sys is mounted read-only)
        r"cannot create the output folder /sys/auditor-corpus-out: (Operation not permitted|Read-only file system)"),
    Bad("scan-sign-key-not-a-key", ("scan", "--snapshot", "{snap}", "--sign-key", "{tmp}/k.pem"), EXIT_INPUT,
        r"error: .*k\.pem.*nothing was run", {"k.pem": "-----BEGIN PRIVATE KEY-----\nnope\n"}),
    Bad("report-out-is-a-file", ("report", "{tmp}/findings.json", "--out", "{tmp}/f", "--format", "csv"),
        EXIT_OUTPUT, r"cannot write into .*f: ", {"findings.json": "FINDINGS", "f": "x"}),
    Bad("inventory-of-a-file", ("inventory", "{tmp}/f"), EXIT_INPUT, r"error: .*f", {"f": "x"}),
    Bad("verify-a-file", ("verify", "{tmp}/f"), EXIT_INPUT, r"error: ", {"f": "x"}),
    Bad("config-hostile-key", COLLECT, EXIT_INPUT, r"unknown key '\\x1b\]0;title\\x07",
        {"audit.yaml": CONFIG + '"\\e]0;title\\a\\e[2J": 1\n'}),
    Bad("pack-recursive-alias", VALIDATE, EXIT_INPUT, r"an alias refers to a collection that contains it",
        {"pack.yaml": pack("&c {all: [*c]}")}),
    Bad("waivers-deep-nesting", PREPARE, EXIT_INPUT, r"nested more than 100 levels deep",
        {"audit.yaml": WAIVED, "w.yaml": "version: 1\nwaivers: " + DEEP + "\n"}),
    Bad("profile-yaml-syntax", PREPARE, EXIT_INPUT, r"p\.yaml:\d+:\d+\s+YAML syntax error",
        {"audit.yaml": CONFIG + "profile: ./p.yaml\n", "p.yaml": "profile: {id: p\n"}),
    Bad("rules-docs-out-parent-is-a-file", ("rules", "docs", "--out", "{tmp}/f/rules.md"), EXIT_OUTPUT,
        r"could not write .*rules\.md: Not a directory", {"f": "x"}),
]


# What must never reach a terminal: C0 controls but newline and tab, DEL, C1, bidi overrides.
CONTROLS = "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"


def findings_json(snapshot: Path, out: Path) -> bytes:
    result = CliRunner().invoke(cli, ["scan", "--snapshot", str(snapshot), "--out", str(out), "--format", "json"])
    assert result.exit_code == EXIT_VIOLATIONS_INCOMPLETE, result.output
    return (out / "findings.json").read_bytes()


def run_cli(args: tuple[str, ...] | list[str], cwd: Path | None = None) -> Result:
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(cli, list(args))
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return runner.invoke(cli, list(args))
    finally:
        os.chdir(old)


def assert_clean(result: Result) -> None:
    """No traceback: the command ended by its own exit, and printed none."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


def test_the_corpus_is_large_and_its_ids_unique() -> None:
    assert len(CASES) >= 50
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Bad, tmp_path: Path, snap: Path) -> None:
    for name, content in case.files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    if case.files.get("findings.json") == "FINDINGS":   # stands for a valid one, made here
        (tmp_path / "findings.json").write_bytes(findings_json(snap, tmp_path / "made"))
    before = sorted(p.relative_to(snap) for p in snap.rglob("*"))
    args = [a.replace("{tmp}", str(tmp_path)).replace("{snap}", str(snap)) for a in case.args]
    result = run_cli(args)
    assert_clean(result)
    assert result.exit_code == case.code, result.output
    assert re.search(case.message, result.output), result.output
    assert not re.search(CONTROLS, result.output), repr(result.output)     # whatever the input held
    # nothing of a failed run is left behind, and the evidence is never touched
    assert not (tmp_path / "out").exists() or case.code == EXIT_OUTPUT, sorted(tmp_path.rglob("*"))
    assert not list(tmp_path.rglob("*.partial"))
    assert sorted(p.relative_to(snap) for p in snap.rglob("*")) == before


def _packs_bad() -> Iterator[tuple[str, str]]:
    """tests/packs/bad: every broken pack with the first problem its expected.txt lists."""
    text = (REPO / "tests" / "packs" / "bad" / "expected.txt").read_text()
    for block in text.split("## ")[1:]:
        name, _, body = block.partition("\n")
        first = body.strip().splitlines()[0]
        yield name.strip(), first.split("  ", 1)[1]


@pytest.mark.parametrize("name, message", list(_packs_bad()))
def test_every_broken_pack_of_the_pack_corpus_exits_2_through_the_cli(name: str, message: str) -> None:
    result = run_cli(["rules", "validate", "--no-builtin", f"bad/{name}"], cwd=REPO / "tests" / "packs")
    assert_clean(result)
    assert result.exit_code == EXIT_INPUT and message in result.output, result.output


# --------------------------------------------------------------------------- hostile AWS text

def _assert_inert(output: str) -> None:
    """No control character reaches the terminal (ESC, BEL, CR, C1, bidi marks), and no
    value fakes a line of ours."""
    assert not re.search(CONTROLS, output), repr(output)
    assert FAKE_LINE not in output.splitlines()


def test_hostile_text_in_a_snapshot_reaches_the_console_only_escaped(snap: Path, tmp_path: Path) -> None:
    scan = run_cli(["scan", "--snapshot", str(snap), "--out", str(tmp_path / "out"), "--format", "json"])
    assert_clean(scan)
    assert scan.exit_code == EXIT_VIOLATIONS_INCOMPLETE, scan.output    # PN-001 FAIL, lambda not assessed
    _assert_inert(scan.output)
    assert f"lambda:ListFunctions (AccessDeniedException: denied {ESCAPED}\\x0a{FAKE_LINE})" in scan.output
    inventory = run_cli(["inventory", str(snap)])
    assert_clean(inventory)
    assert inventory.exit_code == EXIT_INCOMPLETE
    _assert_inert(inventory.output)
    assert f"account {ACCOUNT} (acct {ESCAPED})" in inventory.output
    assert f"[aws] AccessDeniedException: denied {ESCAPED}\\x0a{FAKE_LINE}" in inventory.output
    # the evidence keeps every value exactly as AWS gave it: only the console escapes
    doc = json.loads((tmp_path / "out" / "findings.json").read_text())
    assert any(HOSTILE in g["reason"] for g in doc["not_assessed"])


def test_a_collection_error_message_from_aws_reaches_the_console_only_escaped(moto_aws: None,
                                                                              tmp_path: Path) -> None:
    """Through botocore's real parsing of an AWS JSON error reply (moto behind a fault hook)."""
    from botocore.awsrequest import AWSResponse

    from auditor.collect.runner import collect
    from auditor.collect.sessions import SessionFactory
    from conftest import Injector, _Raw, make_config

    def deny(request: Any, n: int) -> AWSResponse:
        body = json.dumps({"Message": f"denied {HOSTILE}\n{FAKE_LINE}"}).encode()
        return AWSResponse("https://lambda.eu-west-1.amazonaws.com/", 403,
                           {"x-amzn-ErrorType": "AccessDeniedException", "Content-Type": "application/json"},
                           _Raw(body))

    hook = Injector("before-send.lambda.ListFunctions", deny)
    collect(make_config([], ["eu-west-1"]), SessionFactory(max_attempts=2, hooks=[hook]),
            SnapshotWriter(tmp_path / "snap"))
    assert hook.seen
    inventory = run_cli(["inventory", str(tmp_path / "snap")])
    assert_clean(inventory)
    _assert_inert(inventory.output)
    assert f"lambda:ListFunctions  [aws] AccessDeniedException: denied {ESCAPED}\\x0a{FAKE_LINE}" in inventory.output
    scan = run_cli(["scan", "--snapshot", str(tmp_path / "snap"), "--out", str(tmp_path / "out"),
                    "--format", "json"])
    assert_clean(scan)
    assert scan.exit_code in (EXIT_INCOMPLETE, EXIT_VIOLATIONS_INCOMPLETE), scan.output
    _assert_inert(scan.output)
    assert f"denied {ESCAPED}\\x0a{FAKE_LINE}" in scan.output


# --------------------------------------------------------------------------- outputs

def test_a_full_disk_is_exit_6_with_no_partial_file(snap: Path, tmp_path: Path) -> None:
    """findings.json's side file lands on /dev/full: every write to it fails with ENOSPC,
    as on a full disk."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "findings.json.partial").symlink_to("/dev/full")
    result = run_cli(["scan", "--snapshot", str(snap), "--out", str(out), "--format", "json"])
    assert_clean(result)
    assert result.exit_code == EXIT_OUTPUT, result.output
    assert f"error: could not write {out / 'findings.json'}: {os.strerror(errno.ENOSPC)}" in result.output
    assert sorted(p.name for p in out.iterdir()) == []       # no findings.json, no side file, no bundle


def test_a_full_disk_for_one_report_is_exit_6_and_loses_nothing_else(snap: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "findings.csv.partial").symlink_to("/dev/full")
    result = run_cli(["scan", "--snapshot", str(snap), "--out", str(out), "--format", "csv,sarif"])
    assert_clean(result)
    assert result.exit_code == EXIT_OUTPUT, result.output
    assert f"error: csv: {out / 'findings.csv'} not written: cannot write: {os.strerror(errno.ENOSPC)}" \
        in result.output
    assert "the scan itself would exit 4" in result.output
    # everything else is written and the bundle lists it (a snapshot kept elsewhere is copied in)
    assert {p.name for p in out.iterdir()} == {"findings.json", "findings.sarif", "snapshot", "bundle.json"}


def test_a_closed_stdout_pipe_never_stops_the_scan_before_its_bundle(snap: Path, tmp_path: Path) -> None:
    """`auditor scan ... | head -c 1`: the reader is gone before the first line; the scan
    still writes its bundle, and the exit code is the scan's (4 here), not a crash."""
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "auditor", "scan", "--snapshot", str(snap), "--out", str(out),
                             "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()                      # the reader goes away at once
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == EXIT_VIOLATIONS_INCOMPLETE, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
    assert (out / "bundle.json").is_file() and (out / "findings.json").is_file()


def test_demo_without_the_emulator_says_how_to_install_it(tmp_path: Path) -> None:
    """moto made unimportable (as without the demo extra): exit 2, how to install it, no
    traceback, nothing written."""
    block = ("import sys; sys.modules['moto'] = None; sys.argv = ['auditor', 'demo', '--out', sys.argv[1]]; "
             "from auditor.cli import main; main()")
    proc = subprocess.run([sys.executable, "-c", block, str(tmp_path / "demo")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == EXIT_INPUT, proc.stderr
    assert "`auditor demo` needs the AWS emulator (moto), which is not installed" in proc.stderr
    assert "pip install 'private-network-auditor[demo]'" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "demo").exists()


@pytest.mark.parametrize("raw, line, value", [
    ("\x1b[2J", "\\x1b[2J", "\\x1b[2J"),                       # CSI: clear the screen
    ("\x9b31m", "\\x9b31m", "\\x9b31m"),                       # the one-byte C1 CSI
    ("\x1b]8;;http://x\x1b\\", "\\x1b]8;;http://x\\x1b\\", "\\x1b]8;;http://x\\x1b\\"),   # OSC hyperlink
    ("ok\rFAKE", "ok\\x0dFAKE", "ok\\x0dFAKE"),                # a carriage return overwrites the line
    ("a\u202ecod.exe", "a\\u202ecod.exe", "a\\u202ecod.exe"),  # a bidi override reorders what is read
    ("x\u2028y", "x\\u2028y", "x\\u2028y"),                    # the Unicode line separator
    ("two\nlines\tand a tab", "two\nlines\tand a tab", "two\\x0alines\\x09and a tab"),
    ("plain ünïcode €", "plain ünïcode €", "plain ünïcode €"),
])
def test_terminal_text_and_safe_values(raw: str, line: str, value: str) -> None:
    """`echo` keeps a line's own newlines and tabs; `safe` keeps one value on one line."""
    from auditor.console import safe, terminal_text

    assert terminal_text(raw) == line and safe(raw) == value
