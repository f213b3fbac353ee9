# Two commands for a fresh machine with Python 3.10+ and make:
#   make test   - .venv with the test dependencies, then ruff, mypy and pytest
#   make demo   - .venv, the emulator, and the example DAGs run with `airflow dags test`
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Airflow is pinned for reproducible CI; pyproject only asks for apache-airflow>=3.0.
AIRFLOW_VERSION ?= 3.3.2

.PHONY: test demo e2e e2e-tools lint typecheck pytest install clean bench

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "apache-airflow==$(AIRFLOW_VERSION)" -e ".[test,emulator,e2e]"
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

demo: install
	$(PY) scripts/demo.py

# Benchmarks are run by hand (minutes each); figures go to bench/README.md.
bench: install
	set -e; for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
