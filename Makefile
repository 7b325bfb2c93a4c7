# Entry points a newcomer can guess. Everything installs itself on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-server

.PHONY: install run test check pytest jstest bench bench-signaling bench-group screenshots clean

install: $(STAMP) node_modules/.installed

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@ $(RUN_STAMP)

# The server alone: no test tools, no aiortc (a test environment has it all already).
$(RUN_STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Run the service on its embedded defaults (SQLite in ./data, in-process hub).
run: $(RUN_STAMP)
	$(VENV)/bin/sprechzimmer serve --demo

## Lint and type checks: ruff, mypy --strict, tsc --checkJs.
check: install
	$(VENV)/bin/ruff check --no-cache src tests bench harness
	$(VENV)/bin/ruff format --check --no-cache src tests bench harness
	$(VENV)/bin/mypy
	npx --no-install tsc -p tsconfig.json
	npx --no-install tsc -p tsconfig.worker.json

jstest: node_modules/.installed
	node --test tests/js/

pytest: $(STAMP)
	$(PY) -m pytest -q -ra

## The machine's parts (browsers, coturn, Redis, ...): installed as root, else named.
setup:
	bash .ci/setup

## Everything CI runs: the machine's parts, checks, browser-logic tests, then the Python suite.
test: setup
	$(MAKE) check jstest pytest

## Call set-up benchmark: full stack vs a minimal-signaling reference and the browser's floor (needs root + Chromium).
bench: $(STAMP)
	$(PY) -m bench.call_setup --runs 10 $(BENCH_ARGS)

## Signaling benchmark: sprechzimmer vs PeerJS server 1.0.2 (needs root + Node; ~2 min).
bench-signaling: install
	$(PY) -m bench.signaling $(BENCH_ARGS)

## Group call media: upload and CPU per participant, full mesh vs the SFU, 3/4/6/9 people (needs root + Janus; ~3 min).
bench-group: install
	$(PY) -m bench.group_media $(BENCH_ARGS)

## Pictures of the main states for the README, from the real UI (needs root + Chromium).
screenshots: $(STAMP)
	$(PY) -m harness.screenshots docs/screenshots

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
