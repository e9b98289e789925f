"""A fresh machine gets the same working tool: `make demo` and `make test` install exactly the
hash-locked packages (requirements/*.lock), which satisfy pyproject.toml; no test races the
clock; and the built wheel is a working tool: console script, `python -m`, and the built-in data
(rule packs, templates, sample configs, schemas) found from inside the installed package."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent


LOCKS = {"demo": REPO / "requirements" / "demo.lock", "test": REPO / "requirements" / "test.lock"}


def _lock_pins(path: Path) -> dict[str, set[str]]:
    """A lock's packages -> the versions it pins (two where a marker picks per Python), each
    entry checked to be an exact pin carrying sha256 hashes."""
    pins: dict[str, set[str]] = {}
    for entry in path.read_text(encoding="utf-8").replace("\\\n", " ").splitlines():
        entry = entry.split("#", 1)[0].strip()
        if not entry:
            continue
        spec, _, hashes = entry.partition("--hash=")
        req = Requirement(spec.strip())
        assert [s.operator for s in req.specifier] == ["=="], f"{path.name}: {entry[:60]} is not an exact pin"
        assert re.fullmatch(r"(sha256:[0-9a-f]{64}\s*(--hash=)?)+", hashes.strip()), f"{path.name}: {req.name} unhashed"
        pins.setdefault(canonicalize_name(req.name), set()).add(next(iter(req.specifier)).version)
    return pins


def test_locks_pin_with_hashes_everything_pyproject_asks_for() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = {extra: [*project["project"]["dependencies"], *project["project"]["optional-dependencies"][extra],
                      *project["dependency-groups"]["build"]] for extra in LOCKS}
    pins = {extra: _lock_pins(path) for extra, path in LOCKS.items()}
    for extra, reqs in wanted.items():
        for req in map(Requirement, reqs):
            versions = pins[extra].get(canonicalize_name(req.name))
            assert versions, f"{LOCKS[extra].name} lacks {req.name}: run `make lock`"
            assert all(req.specifier.contains(v) for v in versions), (
                f"{LOCKS[extra].name} pins {req.name} {versions}, pyproject.toml asks for {req.specifier}: "
                "run `make lock`")
    # The emulator is pinned exactly, to the release both locks hold.
    moto = {str(Requirement(r).specifier) for extra in LOCKS for r in wanted[extra] if r.startswith("moto")}
    assert moto == {f"=={v}" for v in pins["test"]["moto"]} == {f"=={v}" for v in pins["demo"]["moto"]}
    # The installer is the uv release the Makefile names, pinned with hashes in its own lock.
    uv_version = re.search(r"^UV_VERSION \?= (\S+)$", (REPO / "Makefile").read_text(encoding="utf-8"), re.M)
    assert uv_version, "the Makefile names no UV_VERSION"
    assert _lock_pins(REPO / "requirements" / "installer.lock") == {"uv": {uv_version.group(1)}}
    # Both install into the one .venv: a package they share has the same pin in each.
    assert {n: v for n, v in pins["demo"].items() if pins["test"].get(n) != v} == {}
    for path in LOCKS.values():  # the header says what the lock is for and how it is made
        header = " ".join(re.findall(r"^# (.*)", path.read_text(encoding="utf-8").split("\n\n")[0], re.M))
        assert "Targets CPython 3.11 and newer on Linux x86_64 and aarch64" in header, path.name
        assert "Made by `make lock`" in header, path.name


@pytest.mark.parametrize("env", sorted(LOCKS))
def test_make_installs_from_the_lock_and_again_when_it_changes(env: str, tmp_path: Path) -> None:
    make = shutil.which("make")
    assert make, "make is not installed (apt-get install make): the README's commands need it"
    for name in ("Makefile", "pyproject.toml", "requirements/demo.lock", "requirements/test.lock",
                 "requirements/installer.lock"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    stamp = f".venv/.installed-{env}"
    dry = subprocess.run([make, "-n", "-B", stamp], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stderr
    steps = [line for line in dry.stdout.splitlines() if "pip install" in line]
    # The installer (uv) from its own hashed lock, then the environment's lock, hashes required.
    assert steps == [".venv-lock/bin/python -m pip install --quiet --require-hashes -r requirements/installer.lock",
                     f".venv-lock/bin/uv pip install --quiet --python .venv/bin/python --require-hashes "
                     f"-r requirements/{env}.lock",
                     ".venv-lock/bin/uv pip install --quiet --python .venv/bin/python --no-deps "
                     "--no-build-isolation -e ."]
    # Installed (a venv and a stamp newer than its inputs): nothing to do, until the lock changes.
    for made in (".venv/bin/python", ".venv-lock/bin/uv", stamp):
        (tmp_path / made).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / made).touch()
    inputs = [tmp_path / "Makefile", tmp_path / "pyproject.toml", *(tmp_path / "requirements").iterdir()]
    for path in inputs:
        os.utime(path, (1_000_000_000, 1_000_000_000))
    assert subprocess.run([make, "-q", stamp], cwd=tmp_path, timeout=300).returncode == 0
    os.utime(tmp_path / "requirements" / f"{env}.lock")  # now: newer than the stamp
    assert subprocess.run([make, "-q", stamp], cwd=tmp_path, timeout=300).returncode == 1


# A limit under this on a wait decides pass or fail on a loaded machine instead of guarding a hang.
_HANG_GUARD_FLOOR_S = 60
_SHORT_WAIT = re.compile(r"\b(?:timeout=|\.wait\(|\.join\(|time\.sleep\()(\d+(?:\.\d+)?)")


def test_no_test_races_the_clock() -> None:
    short = []
    for path in sorted((REPO / "tests").glob("*.py")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in _SHORT_WAIT.finditer(line):
                seconds = float(match.group(1))
                # A poll's short sleep waits for an event; a long one, or a short limit, races time.
                limit = 1 if match.group(0).startswith("time.sleep") else _HANG_GUARD_FLOOR_S
                if (seconds >= limit) if limit == 1 else (seconds < limit):
                    short.append(f"{path.name}:{lineno}: {line.strip()}")
    assert short == [], "wait on an event; a time limit is only a hang guard of at least 60 s"
    # Hypothesis too: no per-example deadline, no too-slow health check (tests/conftest.py).
    assert settings().deadline is None and HealthCheck.too_slow in settings().suppress_health_check


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
