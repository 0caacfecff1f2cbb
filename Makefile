# QPlan mesh: `make run` starts the mesh with sample data, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= config.ini
CHROMIUM := /usr/bin/chromium
IP := /usr/sbin/ip

.PHONY: run test bench install test-install lint clean

# The project and its run-time dependencies, in .venv. Installed editable in "compat" mode
# (a path in a .pth file): setuptools' default editable finder costs every Python process
# of the mesh about 9 ms at start (18 ms instead of 9).
EDITABLE := --config-settings editable_mode=compat
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e . $(EDITABLE)
	touch $@

# The charting library the web serves (from the npm registry, never a CDN).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

# Test tools, and Debian's Chromium for the browser tests.
$(VENV)/.test-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]' $(EDITABLE)
	touch $@

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# iproute2's `ip netns`, for the two-host test (network namespaces; it needs root).
$(IP):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2

test-install: install $(VENV)/.test-installed $(CHROMIUM) $(IP)

# Extra arguments for run_all.py: make run ARGS="--set web.port=9000"
ARGS ?=

run: install
	$(PY) run_all.py --config $(CONFIG) $(ARGS)

lint: test-install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: test-install lint
	$(PY) -m pytest -n 2 --dist loadfile

bench: install
	$(PY) bench/store_bench.py
	$(PY) bench/store_size_bench.py
	$(PY) bench/curve_bench.py
	$(PY) bench/planner_bench.py
	$(PY) bench/forecast_bench.py
	$(PY) bench/e2e_bench.py
	$(PY) bench/history_bench.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache test-artifacts
