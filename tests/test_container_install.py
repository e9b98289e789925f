"""The container image's install steps, tested without a container engine: the Dockerfile only
copies sources and runs deploy/container/install.sh, so the test builds the Dockerfile's source
tree from its COPY lines (through .dockerignore, as a build context is) and runs the Dockerfile's
own RUN line on it into a fresh virtual environment, leaving out only the two root steps that
change the machine (system packages, the user). Then the environment works: `auditor --version`,
`rules list`, `permissions`, the PDF report (WeasyPrint from the lock on this machine's Pango),
and it holds exactly the lock's runtime pins: no emulator (the image scans real accounts, so
`auditor demo` says how to get the extra and exits 2) and no build backend."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import run_auditor

REPO = Path(__file__).resolve().parent.parent
INSTALL = REPO / "deploy" / "container" / "install.sh"
HANG_GUARD_S = 600


# -- the Dockerfile, read as the builder reads it ------------------------------------------------

def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):  # a comment inside a continued instruction
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, rest = pending.strip().partition(" ")
        out.append((word.upper(), " ".join(rest.split())))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regex over a relative path."""
    parts = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            parts.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            parts.append(".*")
            i += 2
        elif pattern[i] == "*":
            parts.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            parts.append("[^/]")
            i += 1
        else:
            parts.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(parts))


def build_context(root: Path) -> set[str]:
    """The files of the checkout's build context: git's tracked and untracked-but-not-ignored
    files, less what .dockerignore excludes (a pattern excludes a path when it matches the path
    or one of its parent folders; the last matching pattern wins; `!` includes again)."""
    git = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root, capture_output=True,
                         text=True, timeout=HANG_GUARD_S) if (root / ".git").exists() else None
    if git is not None and git.returncode == 0:
        listed = git.stdout.split("\n")
    else:  # not a git checkout (an unpacked sdist): every file
        listed = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    rules = []
    for line in (root / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            rules.append((negated, _glob_regex(line.lstrip("!").strip("/"))))
    context = set()
    for path in filter(None, listed):
        if not (root / path).is_file():
            continue
        parents = path.split("/")
        candidates = ["/".join(parents[:n]) for n in range(1, len(parents) + 1)]
        excluded = False
        for negated, regex in rules:
            if any(regex.fullmatch(c) for c in candidates):
                excluded = not negated
        if not excluded:
            context.add(path)
    return context


def test_dockerignore_keeps_the_context_to_what_the_image_needs() -> None:
    context = build_context(REPO)
    assert "pyproject.toml" in context and "auditor/cli.py" in context
    assert "deploy/container/install.sh" in context and "requirements/demo.lock" in context
    assert any(p.startswith("rules/") for p in context)
    for kept_out in (".git/", ".venv/", "tests/", "docs/", "benchmarks/", "deploy/kubernetes/", "Dockerfile"):
        assert not [p for p in context if p == kept_out or p.startswith(kept_out)], kept_out
    assert not [p for p in context if "__pycache__" in p or p.endswith(".pyc")]


def _copied_tree(tmp: Path) -> tuple[Path, list[str], list[tuple[str, str]]]:
    """The Dockerfile's COPY lines carried out from the build context into `tmp` (its absolute
    destinations mapped under `tmp`); returns the tree the RUN line's source folder maps to,
    the RUN line's words and every instruction."""
    instructions = dockerfile_instructions((REPO / "Dockerfile").read_text(encoding="utf-8"))
    context = build_context(REPO)
    for word, args in instructions:
        if word != "COPY":
            continue
        *sources, dest = shlex.split(args)
        assert not [s for s in sources if s.startswith("--")], "COPY --from/--chown is not expected"
        for src in sources:
            src = src.rstrip("/")
            assert (REPO / src).exists(), f"the Dockerfile copies {src}, which does not exist"
            files = sorted(p for p in context if p == src or p.startswith(src + "/"))
            assert files, f"the Dockerfile copies {src}, but .dockerignore keeps it out of the context"
            for rel in files:
                inside = Path(rel).name if rel == src else rel[len(src) + 1:]
                target = tmp / dest.lstrip("/") / inside
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / rel, target)
    runs = [shlex.split(args) for word, args in instructions if word == "RUN"]
    assert len(runs) == 1, "the Dockerfile has one RUN: the install script"
    return tmp, runs[0], instructions


def test_dockerfile_base_user_and_entrypoint(tmp_path: Path) -> None:
    _, run, instructions = _copied_tree(tmp_path)
    words = [w for w, _ in instructions]
    assert words[0] == "FROM"
    base = instructions[0][1]
    match = re.fullmatch(r"python:3\.(\d+)-slim-(bookworm|trixie)(@sha256:[0-9a-f]{64})?", base)
    assert match and int(match.group(1)) >= 11, f"not a slim Debian Python 3.11+ base: {base}"
    # The user: set after the install, numeric, not root, and the one install.sh creates.
    users = [a for w, a in instructions if w == "USER"]
    assert users and words.index("USER") > words.index("RUN")
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0 and (not gid or int(gid) != 0), users[-1]
    user_arg = run[run.index("--user") + 1]
    assert user_arg.split(":")[1] == uid
    # The one RUN is the install script, then removing its sources.
    script = next(w for w in run if w.endswith("/install.sh"))
    assert script == "/opt/auditor-src/deploy/container/install.sh" and run[run.index(script) - 1] == "sh"
    assert run[-4:] == ["&&", "rm", "-rf", "/opt/auditor-src"]
    # Every option the RUN gives is one the script takes.
    options = set(re.findall(r"^\s+(--[a-z-]+)\)", INSTALL.read_text(encoding="utf-8"), re.M))
    assert {w for w in run if w.startswith("--")} <= options
    # The working folder install.sh makes for the user is the image's volume.
    assert "install -d -m 0755 -o \"$uid\" -g \"$uid\" /audit" in INSTALL.read_text(encoding="utf-8")
    assert ("WORKDIR", "/audit") in instructions and ("VOLUME", '["/audit"]') in instructions
    entry = json.loads(next(a for w, a in instructions if w == "ENTRYPOINT"))
    assert entry == ["auditor"]
    env = next(a for w, a in instructions if w == "ENV")
    target = run[run.index("&&") - 1]
    assert f"PATH={target}/bin:$PATH" in env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The Dockerfile's RUN line, run on the tree its COPY lines make, into a new environment:
    without --system-packages and --user (root steps that would change this machine; the PDF
    check below uses this machine's Pango instead), with this interpreter, and with the uv that
    `make` installed from requirements/installer.lock (the same pinned release, checked by the
    script) working from its cache, offline."""
    tmp = tmp_path_factory.mktemp("image")
    tree, run, _ = _copied_tree(tmp / "fs")
    uv = REPO / ".venv-lock" / "bin" / "uv"
    assert uv.exists(), "the installer venv is missing: run `make .venv/.installed-test` first"
    argv = run[run.index("sh"):run.index("&&")]
    target = tmp / "venv"
    args: list[str] = []
    skip = 0
    for word in argv[2:]:
        if skip:
            skip -= 1
        elif word == "--system-packages":
            continue
        elif word in ("--user", "--python"):
            skip = 1
        elif word == "/opt/auditor-src":
            args.append(str(tree / "opt" / "auditor-src"))
        elif word.startswith("/"):          # the target folder
            args.append(str(target))
        else:
            args.append(word)
    script = tree / argv[1].lstrip("/")
    env = dict(os.environ, UV_OFFLINE="1")
    done = subprocess.run(["sh", str(script), "--python", sys.executable, "--uv", str(uv), *args],
                          capture_output=True, text=True, env=env, timeout=HANG_GUARD_S)
    return target, done


def _run(target: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(target / "bin" / args[0]), *args[1:]], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=HANG_GUARD_S)


@pytest.mark.slow
def test_the_installed_environment_runs_the_tool(installed: tuple[Path, subprocess.CompletedProcess[str]],
                                                 tmp_path: Path) -> None:
    target, done = installed
    assert done.returncode == 0, done.stderr
    assert f"installed into {target}" in done.stdout
    from auditor import __version__

    version = _run(target, "auditor", "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"auditor, version {__version__}"
    # The package comes from the environment, not from this checkout.
    where = _run(target, "python", "-c", "import auditor; print(auditor.__file__)", cwd=tmp_path)
    assert where.stdout.startswith(str(target)), where.stdout
    rules = _run(target, "auditor", "rules", "list", cwd=tmp_path)
    assert rules.returncode == 0 and rules.stdout == run_auditor("rules", "list").stdout
    assert re.search(r"^EKS-001\s+high", rules.stdout, re.M)
    perms = _run(target, "auditor", "permissions", cwd=tmp_path)
    assert perms.returncode == 0 and json.loads(perms.stdout) == json.loads(run_auditor("permissions").stdout)
    assert "ec2:DescribeRouteTables" in perms.stdout
    # The image scans real accounts: no emulator, and the demo says so (exit 2).
    demo = _run(target, "auditor", "demo", "--out", str(tmp_path / "demo"), cwd=tmp_path)
    assert demo.returncode == 2 and "needs the AWS emulator (moto)" in demo.stderr
    # The scheduled recipes' helpers are there and refuse what they must.
    upload = _run(target, "auditor-upload-bundle", str(tmp_path), "s3://bucket/prefix", cwd=tmp_path)
    assert upload.returncode == 2 and "has no bundle.json" in upload.stderr
    scheduled = _run(target, "auditor-scheduled-run", cwd=tmp_path)
    assert scheduled.returncode == 2 and "usage: auditor-scheduled-run" in scheduled.stderr


def _lock_pins(path: Path) -> dict[str, set[str]]:
    pins: dict[str, set[str]] = {}
    for entry in path.read_text(encoding="utf-8").replace("\\\n", " ").splitlines():
        spec = entry.split("#", 1)[0].split("--hash=", 1)[0].strip()
        if spec:
            req = Requirement(spec)
            pins.setdefault(canonicalize_name(req.name), set()).add(next(iter(req.specifier)).version)
    return pins


@pytest.mark.slow
def test_the_environment_holds_only_the_locks_runtime_pins(
        installed: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    target, done = installed
    assert done.returncode == 0, done.stderr
    listing = _run(target, "python", "-c", "import importlib.metadata as m, json; print(json.dumps("
                   "sorted([d.metadata['Name'], d.version] for d in m.distributions())))", cwd=tmp_path)
    dists = {canonicalize_name(name): version for name, version in json.loads(listing.stdout)}
    pins = _lock_pins(REPO / "requirements" / "demo.lock")
    project = dists.pop("private-network-auditor")
    from auditor import __version__

    assert project == __version__
    off_lock = {n: v for n, v in dists.items() if v not in pins.get(n, set())}
    assert off_lock == {}, "installed at a version the lock does not pin"
    for absent in ("moto", "hatchling", "editables", "flask", "pip"):
        assert absent not in dists, f"{absent} is not a runtime package"
    for needed in ("boto3", "weasyprint", "click", "jinja2", "cryptography"):
        assert needed in dists


@pytest.mark.slow
def test_the_installed_weasyprint_writes_a_pdf_in_the_reports_font(
        installed: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    """The environment's WeasyPrint (from the lock) loads Pango and embeds the font the PDF
    report's stylesheet names (the image installs both with --system-packages; here they are
    this machine's). The whole PDF report is tested in tests/test_report_pdf.py."""
    target, done = installed
    assert done.returncode == 0, done.stderr
    font = re.search(r'font: 9pt/1\.35 "([^"]+)"', (REPO / "reports/templates/pdf_print.css").read_text())
    assert font, "the PDF stylesheet's body font moved: update this test"
    made = _run(target, "python", "-c", "import sys, weasyprint; weasyprint.HTML(string=sys.argv[1]).write_pdf(sys.argv[2])",
                f'<p style="font-family: \'{font.group(1)}\'">evidence</p>', str(tmp_path / "out.pdf"), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    from pypdf import PdfReader

    page = PdfReader(tmp_path / "out.pdf").pages[0]
    assert "evidence" in page.extract_text()
    fonts = [str(f.get_object()["/BaseFont"]) for f in page["/Resources"]["/Font"].values()]
    wanted = re.sub(r"[^a-z]", "", font.group(1).lower())
    assert fonts and all(re.sub(r"[^a-z]", "", f.split("+")[-1].lower()) == wanted for f in fonts), fonts


# -- the script refuses, before changing anything ------------------------------------------------

def _install(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(INSTALL), *args], capture_output=True, text=True, timeout=HANG_GUARD_S)


def test_install_refuses_a_target_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "venv").mkdir()
    (tmp_path / "venv" / "keep.txt").write_text("mine")
    done = _install("--python", sys.executable, str(REPO), str(tmp_path / "venv"))
    assert done.returncode == 2 and "exists and is not empty" in done.stderr
    assert [p.name for p in (tmp_path / "venv").iterdir()] == ["keep.txt"]


def test_install_refuses_a_folder_that_is_not_the_source(tmp_path: Path) -> None:
    done = _install("--python", sys.executable, str(tmp_path), str(tmp_path / "venv"))
    assert done.returncode == 2 and "pyproject.toml is missing" in done.stderr
    assert not (tmp_path / "venv").exists()


@pytest.mark.parametrize(("spec", "message"), [("auditor:0", "must not be root"), ("auditor", "wants NAME:UID"),
                                               ("auditor:x1", "wants NAME:UID")])
def test_install_refuses_a_root_or_malformed_user(spec: str, message: str, tmp_path: Path) -> None:
    done = _install("--user", spec, "--python", sys.executable, str(REPO), str(tmp_path / "venv"))
    assert done.returncode == 2 and message in done.stderr
    assert not (tmp_path / "venv").exists()


def test_install_refuses_another_uv_release(tmp_path: Path) -> None:
    other_uv = tmp_path / "uv"
    other_uv.write_text("#!/bin/sh\necho 'uv 0.0.1'\n")
    other_uv.chmod(0o755)
    done = _install("--uv", str(other_uv), "--python", sys.executable, str(REPO), str(tmp_path / "venv"))
    assert done.returncode == 2 and "requirements/installer.lock pins" in done.stderr
    assert not (tmp_path / "venv").exists()


def test_install_refuses_an_old_python(tmp_path: Path) -> None:
    old = tmp_path / "python"
    old.write_text("#!/bin/sh\nexit 1\n")  # what `python -c 'sys.exit(version < (3, 11))'` says for 3.10
    old.chmod(0o755)
    done = _install("--python", str(old), str(REPO), str(tmp_path / "venv"))
    assert done.returncode == 2 and "is not Python 3.11 or newer" in done.stderr
