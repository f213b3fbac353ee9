# On a fresh machine with Python 3.10+ and make:
#   make test    - .venv with the test tools, then ruff, mypy and pytest
#   make demo    - .venv with Airflow and the provider only, the emulator, and the example DAGs
#                  run with `airflow dags test`
#   make dist    - sdist and wheel in dist/, checked (twine check, contents, clean-venv install)
#   make compat  - the built wheel on Airflow 3.0 / 3.1 / 3.3 with Python 3.10 / 3.12 / 3.13
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Airflow is pinned for reproducible CI; pyproject only asks for apache-airflow>=3.0.0
# (make compat proves the older releases).
AIRFLOW_VERSION ?= 3.3.2

.PHONY: test demo e2e e2e-tools lint typecheck pytest install clean bench dist compat

# pip 25.1+ for `--group` (PEP 735 dependency groups).
$(VENV)/.created:
	@echo "== creating $(VENV) with $(PYTHON) and upgrading pip"
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	touch $@

# What the provider needs to run (and the demo): Airflow pinned, the provider editable.
$(VENV)/.runtime: $(VENV)/.created pyproject.toml
	@echo "== installing apache-airflow==$(AIRFLOW_VERSION) and the provider (editable, [emulator]) into $(VENV); takes a few minutes"
	$(PIP) install --quiet "apache-airflow==$(AIRFLOW_VERSION)" -e ".[emulator]"
	touch $@

# The development tools are dependency groups of pyproject.toml, never published extras.
$(VENV)/.installed: $(VENV)/.runtime pyproject.toml Makefile
	@echo "== installing the test and e2e tools (pyproject dependency groups 'test' and 'e2e') into $(VENV)"
	$(PIP) install --quiet "apache-airflow==$(AIRFLOW_VERSION)" -e ".[emulator,parquet]" --group test --group e2e
	touch $@

install: $(VENV)/.installed

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

pytest: install
	$(VENV)/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test: lint typecheck pytest

# End-to-end: the distributed stack of docker-compose.yaml as local processes (PostgreSQL, Redis,
# CeleryExecutor with two workers, triggerer, dag-processor, api-server), S3 on moto, the UI in
# headless Chromium. Installs Debian's chromium, docker-compose, redis-server and postgresql when
# missing (needs root or sudo), and tests_e2e/requirements.txt into the venv.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
e2e-tools:
	@command -v chromium >/dev/null && command -v docker-compose >/dev/null && \
	  command -v redis-server >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  ($(SUDO) apt-get update -qq && \
	   $(SUDO) apt-get install -y -qq chromium docker-compose redis-server postgresql >/dev/null)

$(VENV)/.e2e-installed: $(VENV)/.installed tests_e2e/requirements.txt
	$(PIP) install --quiet "apache-airflow==$(AIRFLOW_VERSION)" -r tests_e2e/requirements.txt
	touch $@

e2e: install e2e-tools $(VENV)/.e2e-installed
	CELONIS_E2E_REQUIRE_TOOLS=1 $(VENV)/bin/pytest -q -p no:cacheprovider tests_e2e $(PYTEST_ARGS)

# Only Airflow and the provider: no test or e2e tools.
demo: $(VENV)/.runtime
	@echo "== running the example DAGs against the emulator (scripts/demo.py)"
	$(PY) scripts/demo.py

# sdist + wheel from this checkout, then: twine check (metadata renders), contents (LICENSE,
# py.typed, entry point, no tests), and an install into a clean venv with `airflow providers list`.
dist: install
	rm -rf dist build/lib build/bdist.*  # a stale build/lib would ship deleted modules
	$(PY) -m build --sdist --wheel --outdir dist .
	$(PY) -m twine check --strict dist/*
	$(PY) scripts/check_dist.py dist

# The built wheel in fresh venvs (build/compat/) on the oldest and newest Airflow releases we
# support; COMPAT_MATRIX="3.10:3.0.6 ..." overrides the pairs. Each pair: install, import every
# module, run the example DAGs (deferrable) with `airflow dags test` against the emulator.
compat: dist
	$(PY) scripts/compat.py --dist dist $(if $(COMPAT_MATRIX),--matrix "$(COMPAT_MATRIX)")

# Benchmarks are run by hand (minutes each); figures go to bench/README.md.
bench: install
	set -e; for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache dist build
