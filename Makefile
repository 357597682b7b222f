# Fleet Console developer commands. Every target builds .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# The map page's browser packages (Leaflet-Geoman for drawing zones): pinned by
# web/package-lock.json, installed into the git-ignored web/node_modules, never committed.
WEB_STAMP := web/node_modules/.installed-stamp

.PHONY: run test bench soak-kill lint format migration clean package

$(STAMP): pyproject.toml $(WEB_STAMP)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Fleet Console needs Python 3.11 or newer")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(WEB_STAMP): web/package.json web/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed to install the map's drawing plugin (web/package.json)" >&2; exit 1; }
	npm ci --prefix web --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(WEB_STAMP)

run: $(STAMP)  ## start the console (demo mode unless Smartcar credentials are set)
	$(PY) main.py $(ARGS)

# GUI test files run one process each: PySide6/QtWebEngine objects left by one file's
# windows can crash a later file's garbage collection or the interpreter's exit, which a
# fresh QApplication per file rules out (see README, Development).
GUI_TESTS = $(sort $(wildcard tests/gui/test_*.py) $(filter-out %/__pycache__/,$(wildcard tests/gui/*/)))

test: $(STAMP)  ## every test, headless
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest tests/unit tests/integration $(PYTEST_ARGS)
	@set -e; for suite in $(GUI_TESTS); do \
		echo "== $$suite"; \
		QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q $$suite $(PYTEST_ARGS); \
	done

bench: $(STAMP)  ## benchmarks; BENCH="bench_fleet_list" runs only those named
	QT_QPA_PLATFORM=offscreen $(PY) -m tests.benchmarks.harness $(BENCH)

soak-kill: $(STAMP)  ## the SIGKILL test for longer: KILL_TEST_ROUNDS=200 by default
	KILL_TEST_ROUNDS=$${KILL_TEST_ROUNDS:-200} QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q tests/integration/integrations/iot/test_kill.py $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff, the layering contracts (pyproject.toml [tool.importlinter]), mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migration: $(STAMP)  ## a new Alembic revision from the ORM: make migration MSG="what changed"
	$(PY) -m app.models.migrations.revision "$(MSG)"

package: $(STAMP)  ## one-folder bundle in dist/fleet-console, smoke-tested
	$(PY) -m pip install --quiet -e '.[dev,package]'
	bash packaging/build.sh

clean:
	rm -rf $(VENV) web/node_modules build dist .pytest_cache .ruff_cache
