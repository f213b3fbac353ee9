# Two commands for a fresh machine with Python 3.10+ and make:
#   make test   - .venv with the test dependencies, then ruff, mypy and pytest
#   make demo   - .venv, the emulator, and the example DAGs run with `airflow dags test`
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Airflow is pinned for reproducible CI; pyproject only asks for apache-airflow>=3.0.
AIRFLOW_VERSION ?= 3.3.2

.PHONY: test demo lint typecheck pytest install clean bench

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "apache-airflow==$(AIRFLOW_VERSION)" -e ".[test,emulator]"
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

demo: install
	$(PY) scripts/demo.py

bench: install
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
