# Two commands do all the set-up on a fresh clone:
#   make run    creates .venv, installs, parses dbt, runs the customer_360 DAG end to end on DuckDB
#   make test   creates the same environment if missing and runs the test suite
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
NUM_CUSTOMERS ?= 500
# DAG params of `make run` as a JSON object, checked by the DAG's param schemas before anything runs.
CONF ?= {}
export CONF
PYTEST_ARGS ?=

export PYTHONPATH := $(CURDIR)
export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__UNIT_TEST_MODE := False
# Cosmos reports usage to scarf.sh from every task; offline that costs ~0.2 s a task.
export AIRFLOW__COSMOS__ENABLE_TELEMETRY ?= False
export C360_DUCKDB_PATH ?= $(CURDIR)/warehouse/c360.duckdb

DBT_SOURCES := $(shell find dbt/models dbt/macros dbt/seeds -type f 2>/dev/null) dbt/dbt_project.yml dbt/profiles.yml

.PHONY: help setup run run-fakesnow test test-quick lint bench clean chromium

help:
	@echo "make run    - set up and run the customer_360 DAG end to end on DuckDB (NUM_CUSTOMERS=$(NUM_CUSTOMERS))"
	@echo "make run-fakesnow - the same DAG on the Snowflake target, on a local Snowflake emulator"
	@echo "make test   - set up and run the tests"
	@echo "make lint   - ruff (Python) and sqlfluff (dbt models)"

# The venv holds what the image runs and the tools to test, lint and benchmark it.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Cosmos renders the DAG from dbt's manifest, so the scheduler never runs dbt ls.
dbt/target/manifest.json: $(VENV)/.installed $(DBT_SOURCES)
	cd dbt && $(BIN)/dbt parse --profiles-dir . --quiet
	touch $@

$(AIRFLOW_HOME)/.initialised: $(VENV)/.installed
	mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (tail -20 $(AIRFLOW_HOME)/db-migrate.log; exit 1)
	$(BIN)/airflow pools set duckdb 1 "DuckDB takes one writing process" > /dev/null
	touch $@

setup: $(VENV)/.installed dbt/target/manifest.json $(AIRFLOW_HOME)/.initialised

run: setup
	$(BIN)/python -m include.orchestration.run_local --num-customers $(NUM_CUSTOMERS) --conf "$$CONF"

# The same DAG on the Snowflake target, against fakesnow's server on loopback (databases kept as files).
C360_FAKESNOW_DIR ?= $(CURDIR)/warehouse/fakesnow
run-fakesnow: setup
	$(BIN)/python -m include.orchestration.run_local --num-customers $(NUM_CUSTOMERS) --conf "$$CONF" \
		--emulator "$(C360_FAKESNOW_DIR)"

# The review page's browser test drives Debian's chromium; a clean CI machine gets it here (as root,
# or through sudo), and a machine that has it skips apt.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		SUDO=$$( [ "$$(id -u)" -ne 0 ] && command -v sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends chromium; \
	fi

test: setup chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-quick: setup
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	cd dbt && $(BIN)/sqlfluff lint models

bench: setup
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(AIRFLOW_HOME) dbt/target warehouse data
