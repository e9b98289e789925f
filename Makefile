# The README's two commands: `make demo` and `make test`. Each sets up its own virtual
# environment (.venv) from a lock file (requirements/*.lock: every package pinned, with its
# hashes), so a fresh machine with python3 needs nothing else and gets the same packages every
# day. `make lock` refreshes the locks from pyproject.toml (docs/development.md).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# The installer and lock maker, uv, in a venv of its own (see "the locks" below).
UV_VERSION ?= 0.13.9
LOCK_VENV  ?= .venv-lock
UV          = $(LOCK_VENV)/bin/uv

.PHONY: demo test verify-outside oracles bench clean lock lock-upgrade

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Pinned and hashed packages first, then the project itself: no dependency resolution, and no
# build isolation (the build backend, hatchling, is in the lock), so nothing comes unhashed.
# A changed lock (or pyproject.toml) reinstalls. The installer is uv (pinned and hashed itself in
# requirements/installer.lock, installed by pip): it checks the same hashes as pip and installs
# the test environment in seconds where pip takes about a minute (docs/development.md).
define INSTALL_LOCKED
	$(UV) pip install --quiet --python $(BIN)/python --require-hashes -r $(1)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	touch $@
endef

$(VENV)/.installed-demo: requirements/demo.lock pyproject.toml | $(BIN)/python $(UV)
	$(call INSTALL_LOCKED,requirements/demo.lock)

$(VENV)/.installed-test: requirements/test.lock pyproject.toml | $(BIN)/python $(UV)
	$(call INSTALL_LOCKED,requirements/test.lock)

# WeasyPrint (the PDF report) needs the system's Pango: installed here when run as root and
# missing; otherwise `auditor demo` writes every other file and says why the PDF is missing.
define NEED_PANGO
	@if ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0; \
	else echo "the system's Pango library is missing: install it (apt-get install libpangoft2-1.0-0)" \
	     "or the PDF report cannot be written" >&2; fi
endef

# The network diagrams are laid out by Graphviz's dot (Debian package graphviz) at scan time:
# installed here when run as root and missing; otherwise scans record and show
# "diagram not drawn: ..." (the tests of the diagrams need it and fail without it).
define NEED_GRAPHVIZ
	@if command -v dot >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && apt-get install -y -qq graphviz; \
	else echo "Graphviz is missing: install it (apt-get install graphviz)" \
	     "or the reports' network diagrams are not drawn" >&2; fi
endef

demo: $(VENV)/.installed-demo
	$(NEED_PANGO)
	$(NEED_GRAPHVIZ)
	$(BIN)/auditor demo

# The HTML report's browser tests drive Debian's chromium: installed here when run as root;
# otherwise they fail with a message saying how to install it (they never skip).
# The standard schemas the tests validate against (SARIF) are fetched by their pinned hash
# (requirements/schemas.lock) into .venv/schemas: never committed, downloaded once.
# Bytecode is cached (__pycache__, ignored by git) even where PYTHONDONTWRITEBYTECODE is set:
# otherwise each test worker and each command a test starts compiles every module it imports
# from source, and pytest rewrites every test file's asserts again. Each worker starts with half
# of the tests in file order and takes half of the other's remaining ones when it runs out
# (--dist worksteal): a file's module fixtures are built on one worker, not on both as when
# small batches alternate between the workers, and no core waits at the end (docs/development.md).
test: $(VENV)/.installed-test
	$(NEED_PANGO)
	$(NEED_GRAPHVIZ)
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	else echo "chromium is not installed and this is not root: install it (apt-get install chromium)," \
	     "or the HTML report's browser tests fail" >&2; fi
	$(BIN)/python requirements/fetch_schemas.py
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n auto --dist worksteal

# Outside data with known answers (AWS's data-perimeter policies ...) stays outside the
# repository: this checks the analyzers against the folder FIXTURES (CI: ../shared/fixtures).
verify-outside: $(VENV)/.installed-test
	@test -n "$(FIXTURES)" || { echo "give the folder: make verify-outside FIXTURES=DIR (e.g. ../shared/fixtures)" >&2; exit 2; }
	$(BIN)/python -m pytest -q -p no:cacheprovider verify_outside --outside-data "$(FIXTURES)"
	$(BIN)/python verify_outside/batfish.py "$(FIXTURES)"
	$(BIN)/python verify_outside/policies.py "$(FIXTURES)"

# Only the two oracle checks, with their per-flow and per-policy lines: the reachability analyzer
# against Batfish's AWS snapshots, the endpoint-policy analyzer against z3 and the policy corpora
# (CORPUS holds external-oracles/ and data-perimeter-policies/).
oracles: $(VENV)/.installed-test
	@test -n "$(CORPUS)" || { echo "give the folder: make oracles CORPUS=DIR (the folder holding external-oracles/)" >&2; exit 2; }
	$(BIN)/python verify_outside/batfish.py "$(CORPUS)"
	$(BIN)/python verify_outside/policies.py "$(CORPUS)"

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/collect_bench.py

# -- the locks ------------------------------------------------------------------------------
# uv resolves once for every platform and Python from 3.11 on (--universal: where a pin differs,
# an environment marker picks it) and records the hash of every file of each pinned release.
# The test lock is resolved first and constrains the demo lock, so the two never pin a shared
# package differently (both install into the one .venv). uv lives in a venv of its own, installed
# from requirements/installer.lock (its version pinned with the hash of every file of it).
UV_COMPILE  = $(UV) pip compile pyproject.toml --group build --universal --python-version 3.11 \
              --generate-hashes --no-header --quiet

$(UV): requirements/installer.lock
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements/installer.lock
	touch $@

# $(1): the lock, $(2): the extra it holds, $(3): more uv options. Without --upgrade, uv keeps
# each pin the lock already has wherever pyproject.toml still allows it.
define COMPILE_LOCK
	$(UV_COMPILE) --extra $(2) $(3) -o $(1)
	@{ echo "# $(1): the '$(2)' environment: the project's dependencies, its '$(2)' extra"; \
	  echo "# and its build backend, each package pinned with the sha256 of every file of it."; \
	  echo "# Targets CPython 3.11 and newer on Linux x86_64 and aarch64 (one universal resolution,"; \
	  echo "# valid on other platforms too: an environment marker picks a pin where they differ)."; \
	  echo "# Made by \`make lock\` (uv $(UV_VERSION) pip compile --universal --python-version 3.11"; \
	  echo "# --generate-hashes) from pyproject.toml: never edit by hand (docs/development.md)."; \
	  cat $(1); } > $(1).tmp && mv $(1).tmp $(1)
endef

# Re-resolve after a change to pyproject.toml's dependencies; unchanged pins stay.
lock: | $(UV)
	$(call COMPILE_LOCK,requirements/test.lock,test,$(LOCK_UPGRADE))
	$(call COMPILE_LOCK,requirements/demo.lock,demo,$(LOCK_UPGRADE) -c requirements/test.lock)

# Every pin to the newest release pyproject.toml allows (moto stays at its exact pin).
lock-upgrade:
	$(MAKE) lock LOCK_UPGRADE=--upgrade

clean:
	rm -rf $(VENV) $(LOCK_VENV) build dist *.egg-info .pytest_cache
