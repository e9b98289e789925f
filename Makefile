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

# WeasyPrint (the PDF report) needs the system's Pango: installed here when run as root and
# missing; otherwise `auditor demo` writes every other file and says why the PDF is missing.
define NEED_PANGO
	@if ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0; \
	else echo "the system's Pango library is missing: install it (apt-get install libpangoft2-1.0-0)" \
	     "or the PDF report cannot be written" >&2; fi
endef

demo: $(VENV)/.installed-demo
	$(NEED_PANGO)
	$(BIN)/auditor demo

# The HTML report's browser tests drive Debian's chromium: installed here when run as root;
# otherwise they fail with a message saying how to install it (they never skip).
test: $(VENV)/.installed-test
	$(NEED_PANGO)
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	else echo "chromium is not installed and this is not root: install it (apt-get install chromium)," \
	     "or the HTML report's browser tests fail" >&2; fi
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/collect_bench.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
