"""Meta-tests: the house rules hold across the code base."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "auditor"
AWS_LIBS = {"boto3", "botocore", "moto"}

def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names

def test_only_collect_and_the_emulator_import_aws_libraries() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(("collect/", "emulate/")):
            continue
        if _imports(path) & AWS_LIBS:
            offenders.append(rel)
    assert offenders == []

def test_types_check_with_mypy() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy", "auditor"], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr

# The pipeline's core is typed strictly: no untyped calls, no Any returned as a typed value.
STRICT_PACKAGES = ("auditor/model", "auditor/analyze", "auditor/rules", "auditor/collect")

def test_the_core_types_check_with_mypy_strict() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", *STRICT_PACKAGES], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr

def test_the_code_is_clean_under_ruff() -> None:
    """The linter ([tool.ruff] in pyproject.toml: pyflakes, pycodestyle, bugbear, pyupgrade)
    finds nothing in the package, the tests, the benchmarks or the outside-data checks."""
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
