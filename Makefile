# The README's two commands: `make demo` and `make test`. Each sets up its own virtual
# environment (.venv) from pyproject.toml, so a fresh machine with python3 needs nothing else.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed-demo
	$(BIN)/auditor demo

# The HTML report's browser tests drive Debian's chromium: installed here when run as root;
# otherwise they fail with a message saying how to install it (they never skip).
test: $(VENV)/.installed-test
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	else echo "chromium is not installed and this is not root: install it (apt-get install chromium)," \
	     "or the HTML report's browser tests fail" >&2; fi
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/collect_bench.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
