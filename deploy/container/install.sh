#!/bin/sh
# Every install step of the container image (Dockerfile), in one script that the test suite also
# runs into a fresh virtual environment (tests/test_container_install.py), so the steps are
# tested where no container engine is available. docs/deploy.md explains the choices.
#
#   install.sh [--system-packages] [--user NAME:UID] [--python PYTHON] [--uv UV] SOURCE TARGET
#
# SOURCE  the project's source tree (pyproject.toml, auditor/, rules/, reports/templates/,
#         sample_configs/, requirements/, deploy/container/)
# TARGET  the virtual environment to create (it must not exist yet, or be an empty folder)
#
# --system-packages  (root, Debian) install the system libraries WeasyPrint's PDF needs (Pango)
#                    and the fonts the PDF report names (DejaVu), then empty apt's lists
# --user NAME:UID    (root) create the non-root user the image runs as, with a home folder
#                    and the working folder /audit it owns
# --python PYTHON    the interpreter of TARGET (default: python3), 3.11 or newer
# --uv UV            use this uv instead of installing it; it must be the release that
#                    requirements/installer.lock pins (checked)
#
# What is installed: the project's wheel, built from SOURCE with its build backend taken from
# requirements/demo.lock (hashes required), and the project's runtime dependencies, each at the
# version and with the hashes requirements/demo.lock records (hash checking is required, so a
# package the lock does not pin cannot be installed). The demo's emulator (the `demo` extra,
# moto) and the build backend are NOT installed: the image scans real accounts; `auditor demo`
# in it says how to get the extra and exits 2. The installer, uv, is the release pinned with its
# hashes in requirements/installer.lock, as `make` uses it; it is left out of TARGET.
# Beside `auditor`, TARGET/bin gets the two helpers of the scheduled recipes:
# `auditor-upload-bundle` (deploy/container/upload_bundle.py) and `auditor-scheduled-run`
# (deploy/container/scheduled-run.sh).
set -eu

die() { echo "install.sh: $*" >&2; exit 2; }

system_packages=0
user_spec=
python=python3
uv=
while [ $# -gt 0 ]; do
  case "$1" in
    --system-packages) system_packages=1; shift ;;
    --user) [ $# -ge 2 ] || die "--user needs NAME:UID"; user_spec=$2; shift 2 ;;
    --python) [ $# -ge 2 ] || die "--python needs an interpreter"; python=$2; shift 2 ;;
    --uv) [ $# -ge 2 ] || die "--uv needs the path of uv"; uv=$2; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || die "give SOURCE and TARGET (see --help)"
source_dir=$(cd "$1" && pwd) || die "no source folder $1"
target=$2
for need in pyproject.toml requirements/demo.lock requirements/installer.lock \
            deploy/container/upload_bundle.py deploy/container/scheduled-run.sh; do
  [ -f "$source_dir/$need" ] || die "$source_dir/$need is missing: is $source_dir the project's source?"
done
if [ -e "$target" ] && [ -n "$(ls -A "$target" 2>/dev/null)" ]; then
  die "$target exists and is not empty: give a new folder for the environment"
fi
if [ -n "$user_spec" ]; then
  name=${user_spec%%:*}
  uid=${user_spec#*:}
  case "$name:$uid" in [a-z_]*:[0-9]*) ;; *) die "--user wants NAME:UID, got $user_spec" ;; esac
  case "$uid" in *[!0-9]*) die "--user wants NAME:UID, got $user_spec" ;; esac
  [ "$uid" -ne 0 ] || die "the image's user must not be root (uid 0)"
  [ "$(id -u)" = 0 ] || die "--user needs root"
fi
if [ "$system_packages" = 1 ] && [ "$(id -u)" != 0 ]; then
  die "--system-packages needs root"
fi
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
  || die "$python is not Python 3.11 or newer"
# Everything is checked: from here on the machine changes.
# uv never downloads an interpreter of its own: TARGET runs on the one given.
export UV_PYTHON_DOWNLOADS=never

# 1. System libraries and fonts for the PDF report (WeasyPrint needs Pango at run time; the
#    report's stylesheet names DejaVu Sans and DejaVu Sans Mono), and Graphviz, whose `dot`
#    lays out the network diagrams at scan time (without it the reports say "diagram not drawn").
if [ "$system_packages" = 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core graphviz ca-certificates
  apt-get clean
  rm -rf /var/lib/apt/lists/*
fi

# 2. The non-root user the image runs as.
if [ -n "$user_spec" ]; then
  groupadd --system --gid "$uid" "$name"
  useradd --system --uid "$uid" --gid "$uid" --home-dir "/home/$name" --create-home \
          --shell /usr/sbin/nologin "$name"
  # The image's working folder, where a scan without --out writes (owned by the user).
  install -d -m 0755 -o "$uid" -g "$uid" /audit
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 3. The installer, uv, at the release and with the hashes of requirements/installer.lock.
uv_pin=$(sed -n 's/^uv==\([^ ]*\).*/\1/p' "$source_dir/requirements/installer.lock")
[ -n "$uv_pin" ] || die "requirements/installer.lock pins no uv release"
if [ -z "$uv" ]; then
  "$python" -m venv "$work/uv"
  "$work/uv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
    -r "$source_dir/requirements/installer.lock"
  uv=$work/uv/bin/uv
fi
uv_version=$("$uv" --version | cut -d' ' -f2)
[ "$uv_version" = "$uv_pin" ] || die "$uv is uv $uv_version, requirements/installer.lock pins $uv_pin"

# 4. The project's wheel, its build backend (hatchling) from the lock, hashes required.
"$uv" build --quiet --wheel --python "$python" --out-dir "$work/dist" \
  --build-constraint "$source_dir/requirements/demo.lock" --require-hashes "$source_dir"
set -- "$work"/dist/*.whl
if [ $# -ne 1 ] || [ ! -f "$1" ]; then die "the build made no single wheel"; fi
wheel=$1
wheel_sha=$("$python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$wheel")
printf 'private-network-auditor @ file://%s --hash=sha256:%s\n' "$wheel" "$wheel_sha" > "$work/wheel.txt"

# 5. The environment: the wheel and its runtime dependencies, each pinned and hash-checked
#    against requirements/demo.lock (a dependency the lock lacks, or a file whose hash differs,
#    stops the install).
"$python" -m venv --without-pip "$target"
"$uv" pip install --quiet --python "$target/bin/python" --require-hashes \
  -c "$source_dir/requirements/demo.lock" -r "$work/wheel.txt"

# 6. The scheduled recipes' helpers, run by the environment's interpreter.
{ echo "#!$target/bin/python"; sed '1{/^#!/d}' "$source_dir/deploy/container/upload_bundle.py"; } > "$target/bin/auditor-upload-bundle"
cp "$source_dir/deploy/container/scheduled-run.sh" "$target/bin/auditor-scheduled-run"
chmod 0755 "$target/bin/auditor-upload-bundle" "$target/bin/auditor-scheduled-run"

# 7. It runs: the version, and (with the system libraries installed) WeasyPrint finds Pango.
"$target/bin/auditor" --version
if [ "$system_packages" = 1 ]; then
  "$target/bin/python" -c 'import weasyprint' || die "WeasyPrint cannot load Pango"
fi
echo "installed into $target"
