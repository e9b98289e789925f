"""The import graph matches the pipeline (issue 11, item 6).

1. No import cycle anywhere in ``auditor/``: every module is read as source (AST), and every
   import counts, at module level, inside a function or under ``if TYPE_CHECKING``; relative
   imports are resolved. ``from package import name`` depends on ``package`` (its
   ``__init__`` runs and the name is read from it) and, when ``name`` is a submodule, on that
   submodule too. Only the implicit import of a module's parent packages is left out: every
   module of a package would otherwise "cycle" with an ``__init__`` that re-exports it.
2. The offline commands never load botocore, boto3 or moto: each runs, to completion, in a
   fresh interpreter whose ``sys.modules`` is then inspected. This is transitive by
   construction (whatever any module on the path imports, at any depth or time, is there).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
AWS_LIBS = ("boto3", "botocore", "moto")


# --------------------------------------------------------------------------- 1. no cycle

def module_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module name -> the modules of `package` it imports anywhere in its source."""
    modules: dict[str, tuple[Path, bool]] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        modules[".".join(parts)] = (path, is_package)
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        here = name if is_package else name.rpartition(".")[0]   # the package relative imports start from
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")[: len(here.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                found.add(source)
                found |= {f"{source}.{alias.name}" for alias in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every set of modules that import each other in a ring (strongly connected components
    of more than one module), each sorted, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:   # Tarjan; the package is a few hundred modules deep at most
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            ring = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                ring.append(member)
                if member == node:
                    break
            if len(ring) > 1:
                found.append(sorted(ring))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_no_import_cycle_in_the_package() -> None:
    found = cycles(module_graph(ROOT, "auditor"))
    assert found == [], "import cycles:\n" + "\n".join("  {" + ", ".join(ring) + "}" for ring in found)


def test_the_scan_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The detector can fail: a ring closed by a lazy relative import, one closed under
    TYPE_CHECKING, one through a package's __init__, and no false ring for a plain
    package re-exporting its submodule."""
    files = {
        "pkg/__init__.py": "from pkg.sub import thing\n",
        "pkg/sub.py": "thing = 1\n",
        "pkg/a.py": "from pkg import b\n",
        "pkg/b.py": "def f():\n    from . import a\n    return a\n",
        "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.d import D\n",
        "pkg/d.py": "import pkg.c\nclass D: ...\n",
        "pkg/inner/__init__.py": "from pkg.inner.e import E\n",
        "pkg/inner/e.py": "class E: ...\n",
        "pkg/inner/f.py": "def g():\n    from pkg.inner import E\n    return E\n",
        "pkg/inner/g.py": "from ..inner import f\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    graph = module_graph(tmp_path, "pkg")
    assert graph["pkg.inner.g"] == {"pkg.inner", "pkg.inner.f"}
    assert cycles(graph) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.d"]]
    # Close one more ring through the package: its __init__ imports f, f reads E from it.
    (tmp_path / "pkg/inner/__init__.py").write_text("from pkg.inner.e import E\nfrom pkg.inner.f import g\n")
    assert ["pkg.inner", "pkg.inner.f"] in cycles(module_graph(tmp_path, "pkg"))


# --------------------------------------------------------------------------- 2. offline commands

# Runs one CLI command as the console script does, then reports the exit code and which AWS
# libraries are in sys.modules. `preload` imports a module first (the detector's own check).
_CHILD = textwrap.dedent("""\
    import importlib, json, sys
    report, preload, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if preload:
        importlib.import_module(preload)
    sys.argv = ["auditor", *args]
    from auditor.cli import main
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    with open(report, "w", encoding="utf-8") as out:
        json.dump({"code": code, "aws": sorted(m for m in sys.modules if m.split(".")[0] in AWS_LIBS)}, out)
    """).replace("AWS_LIBS", repr(AWS_LIBS))


@dataclass
class Run:
    code: int
    aws: list[str]
    output: str


def run_fresh(tmp: Path, *args: str, preload: str = "") -> Run:
    """`auditor ARGS` in a fresh interpreter."""
    report = tmp / "imports.json"
    report.unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(report), preload, *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)
    assert report.is_file(), proc.stdout + proc.stderr
    data: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return Run(data["code"], data["aws"], proc.stdout + proc.stderr)


CONFIG = textwrap.dedent("""\
    version: 1
    organization: Import check
    regions: [eu-west-1]
    waivers: waivers.yaml
    rule_packs: [./pack]
    """)
WAIVERS = textwrap.dedent("""\
    version: 1
    waivers:
      - id: WVR-1
        rules: [USR-901]
        resources:
          - id: vpc-a
        regions: [eu-west-1]
        justification: Legacy partner VPN until the migration completes.
        approver: jane.doe@bank.example
        ticket: RISK-1
        created: 2026-01-15
        expires: 2026-06-30
    """)
PACK = textwrap.dedent("""\
    pack:
      id: imports
      version: 1.0.0
      title: Import check pack
      description: A user pack, so that the offline paths load one.
    rules:
      - id: USR-901
        title: VPCs carry an owner tag
        severity: low
        resource: vpc
        check: {attr: tags.owner, exists: true}
        message: VPC {id} has no owner tag
        rationale: Every network has an owner who answers for it.
        remediation: {console: Tag the VPC with owner.}
        references: [https://docs.aws.amazon.com/vpc/latest/userguide/vpc-tagging.html]
        frameworks:
          nist-800-53-r5: [CM-7]
    """)


@dataclass
class Evidence:
    tmp: Path
    snap: Path      # a snapshot kept outside the bundle
    pack: Path      # a user pack folder
    bundle: Path    # what `auditor scan --snapshot` made of them
    scan: Run       # how that scan went


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Evidence:
    """A small snapshot (written here, no emulator), a config with waivers and a user pack,
    and the bundle `auditor scan --snapshot` makes of them in a fresh interpreter."""
    from auditor.rules.fixtures import ACCOUNT, REGION, Case, records_for
    from auditor.snapshot.writer import SnapshotWriter

    tmp = tmp_path_factory.mktemp("offline")
    calls = {"ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"}]},
             "ec2:DescribeInternetGateways": {"InternetGateways": [
                 {"InternetGatewayId": "igw-1", "Attachments": [{"VpcId": "vpc-a", "State": "available"}]}]}}
    writer = SnapshotWriter(tmp / "snap")
    for rec in records_for(Case(rule="", name="imports", file="", line=0, calls=calls, failed=(), region=REGION)):
        writer.add(rec)
    writer.finish({"started": "2026-03-01T10:00:00Z", "finished": "2026-03-01T10:01:00Z", "regions": [REGION],
                   "accounts": [{"id": ACCOUNT, "name": "imports", "regions": [REGION]}],
                   "config": {"digest": "sha256:x"}})
    (tmp / "inputs").mkdir()
    (tmp / "inputs" / "audit.yaml").write_text(CONFIG)
    (tmp / "inputs" / "waivers.yaml").write_text(WAIVERS)
    (tmp / "inputs" / "pack").mkdir()
    (tmp / "inputs" / "pack" / "imports.yaml").write_text(PACK)
    scan = run_fresh(tmp, "scan", "--snapshot", str(tmp / "snap"), "--config", str(tmp / "inputs" / "audit.yaml"),
                     "--out", str(tmp / "bundle"), "--format", "json,html,junit,sarif,csv", "--quiet")
    return Evidence(tmp, tmp / "snap", tmp / "inputs" / "pack", tmp / "bundle", scan)


def test_scan_of_a_snapshot_loads_no_aws_library(evidence: Evidence) -> None:
    scan = evidence.scan
    assert scan.code in (0, 1, 3, 4), scan.output                   # it evaluated (not an input error)
    assert (evidence.bundle / "findings.json").is_file() and (evidence.bundle / "bundle.json").is_file()
    findings = json.loads((evidence.bundle / "findings.json").read_text())["findings"]
    assert [f for f in findings if f.get("status") == "WAIVED"], "the waiver (with its regions) took part"
    assert [f for f in findings if f.get("rule_id") == "USR-901"], "the user pack took part"
    assert scan.aws == []


@pytest.mark.parametrize("command", [
    "report", "verify", "inventory", "rules list", "rules show", "rules validate", "rules docs",
])
def test_offline_command_loads_no_aws_library(evidence: Evidence, command: str) -> None:
    tmp, bundle, pack = evidence.tmp, evidence.bundle, evidence.pack
    args, done = {
        "report": (["report", str(bundle / "findings.json"), "--out", str(tmp / "again"),
                    "--format", "json,html,junit,sarif,csv"], lambda: (tmp / "again" / "findings.sarif").is_file()),
        "verify": (["verify", str(bundle), "--quiet"], lambda: True),
        "inventory": (["inventory", str(evidence.snap)], lambda: True),
        "rules list": (["rules", "list", "--pack", str(pack)], lambda: True),
        "rules show": (["rules", "show", "USR-901", "--pack", str(pack)], lambda: True),
        "rules validate": (["rules", "validate", str(pack)], lambda: True),
        "rules docs": (["rules", "docs", "--pack", str(pack), "--out", str(tmp / "rules.md")],
                       lambda: "USR-901" in (tmp / "rules.md").read_text()),
    }[command]
    run = run_fresh(tmp, *args)
    assert run.code == 0, run.output
    assert done(), run.output
    assert run.aws == []


@pytest.mark.parametrize("command", [["plan"], ["scan", "--plan"]])
def test_a_plan_run_without_collect_loads_no_aws_library(tmp_path: Path, command: list[str]) -> None:
    plan = ROOT / "tests" / "fixtures" / "iac" / "terraform" / "igw_public_subnet.json"
    run = run_fresh(tmp_path, *command, str(plan), "--out", str(tmp_path / "run"), "--format", "json,html,sarif", "-q")
    assert run.code in (0, 1, 3, 4), run.output                     # it evaluated (not an input error)
    assert (tmp_path / "run" / "findings.json").is_file() and (tmp_path / "run" / "bundle.json").is_file()
    assert run.aws == []


def test_the_offline_check_sees_botocore(tmp_path: Path) -> None:
    """The same harness reports botocore once something on the path imports it."""
    run = run_fresh(tmp_path, "rules", "list", preload="auditor.collect.sessions")
    assert run.code == 0, run.output
    assert "botocore" in run.aws


def test_importing_the_cli_does_no_aws_work() -> None:
    code = ("import sys, auditor.cli, auditor.model, auditor.snapshot.reader; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {AWS_LIBS!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
