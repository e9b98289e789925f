"""Meta-tests: the house rules hold across the code base."""

from __future__ import annotations

import ast
import re
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
        if rel.startswith(("collect/", "emulate/")) or rel == "store/s3.py":   # the S3 run store's own session
            continue
        if _imports(path) & AWS_LIBS:
            offenders.append(rel)
    assert offenders == []

def test_types_check_with_mypy() -> None:
    """One mypy run over the package, the core strictly (the overrides in pyproject.toml)."""
    proc = subprocess.run([sys.executable, "-m", "mypy", "auditor"], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# The pipeline's core is typed strictly: no untyped calls, no Any returned as a typed value.
STRICT_PACKAGES = ("auditor.model.*", "auditor.analyze.*", "auditor.rules.*", "auditor.collect.*", "auditor.iac.*")
# Flags `mypy --strict` turns on that mypy only takes for the whole run, not per module.
_GLOBAL_ONLY = {"warn_unused_configs", "warn_redundant_casts"}


def test_the_core_is_checked_with_every_strict_flag() -> None:
    """The strict packages' overrides hold every flag `--strict` enables, as this mypy lists them
    (so a mypy that adds one to --strict fails here until it is added), and the flags mypy takes
    only globally are set globally."""
    import tomllib

    help_text = subprocess.run([sys.executable, "-m", "mypy", "--help"], capture_output=True, text=True, cwd=ROOT,
                               timeout=600).stdout
    strict = re.search(r"--strict\s+Strict mode; enables the following flags:(.*?)\n  --", help_text, re.S)
    assert strict, "mypy --help no longer lists what --strict enables"
    flags = {f.replace("-", "_") for f in re.findall(r"--([a-z-]+)", re.sub(r"-\s+", "-", strict.group(1)))}
    assert {"disallow_untyped_defs", "warn_return_any", "no_implicit_reexport"} <= flags, flags
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    overrides = [o for o in config.get("overrides", []) if set(STRICT_PACKAGES) <= set(o.get("module", []))]
    assert len(overrides) == 1, "one override names every strict package"
    for flag in sorted(flags - _GLOBAL_ONLY):
        assert overrides[0].get(flag) is True, f"{flag} is not set for {STRICT_PACKAGES}"
    for flag in sorted(flags & _GLOBAL_ONLY - {"warn_unused_configs"}):
        assert config.get(flag) is True, f"{flag} is not set for the whole run"


def test_the_code_is_clean_under_ruff() -> None:
    """The linter ([tool.ruff] in pyproject.toml: pyflakes, pycodestyle, bugbear, pyupgrade)
    finds nothing in the package, the tests, the benchmarks or the outside-data checks."""
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
