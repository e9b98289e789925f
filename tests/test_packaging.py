"""The built wheel is a working tool: console script, `python -m`, and the built-in data
(rule packs, templates, sample configs, schemas) found from inside the installed package."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _files_under(folder: str) -> set[str]:
    root = REPO / folder
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # --no-build-isolation: the test environment already has hatchling (no download needed).
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(REPO)], check=True, timeout=300)
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1
    return wheels[0]


@pytest.mark.slow
def test_wheel_carries_every_builtin_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, inside in (("rules", "rules"), ("reports/templates", "templates"),
                           ("sample_configs", "sample_configs")):
        for rel in _files_under(folder):
            assert f"auditor/_builtin/{inside}/{rel}" in names, f"{folder}/{rel} missing from the wheel"
    assert "auditor/schemas/audit-config.schema.json" in names
    assert "auditor/_builtin/sample_configs/estates/demo-bank.yaml" in names


@pytest.mark.slow
def test_installed_wheel_runs_and_finds_its_data(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # Install the wheel alone; its dependencies come from this test environment's site-packages
    # through PYTHONPATH (no network), while `auditor` itself can only come from the wheel.
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", site, str(wheel)],
                   check=True, timeout=300)
    env = dict(os.environ, PYTHONPATH=sysconfig.get_paths()["purelib"])
    run = lambda *args: subprocess.run(list(args), capture_output=True, text=True, cwd=tmp_path,  # noqa: E731
                                       env=env, timeout=120)
    where = run(str(py), "-c", "import auditor, auditor.resources as r; print(auditor.__file__); "
                "print(r.builtin_dir('rules')); print(r.builtin_dir('templates')); "
                "print(r.builtin_dir('sample_configs'))")
    assert where.returncode == 0, where.stderr
    lines = where.stdout.split()
    assert all(line.startswith(site) for line in lines), lines
    assert lines[1].endswith("auditor/_builtin/rules")
    script = env_dir / "bin" / "auditor"
    if not script.exists():  # --target installs put scripts under the target's bin
        script = Path(site) / "bin" / "auditor"
    version = run(str(py), "-m", "auditor", "--version")
    assert version.returncode == 0 and "auditor, version" in version.stdout
    perms = run(str(py), "-m", "auditor", "permissions")
    assert perms.returncode == 0 and '"ec2:DescribeRouteTables"' in perms.stdout
    assert script.exists()
