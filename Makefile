# mianshen — two commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs what it needs (quick when already installed).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# `make test` also runs the suite on PostgreSQL when a URL is given, e.g.
#   make test MIANSHEN_TEST_PG_URL=postgresql://postgres@127.0.0.1:5432/test
MIANSHEN_TEST_PG_URL ?=
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck test-sqlite test-spark test-postgres bench clean help

help:
	@echo "make demo   - a generated city end to end, from data drop to reconciled payments (SQLite under var/)"
	@echo "make test   - lint, type-check and run the tests on SQLite (and PostgreSQL when MIANSHEN_TEST_PG_URL is set)"
	@echo "make bench  - run the benchmarks in bench/ (see bench/README.md)"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,spark]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mianshen demo

# Each suite prints how long it took ("== <suite>: N s"), so CI's log shows where the time goes.
TIMED = bash -c 'start=$$(date +%s); "$$@"; status=$$?; echo "== $$0: $$(( $$(date +%s) - start )) s (exit $$status)"; exit $$status'

lint: $(STAMP)
	@$(TIMED) "lint (ruff check)" $(BIN)/ruff check src tests bench tools
	@$(TIMED) "lint (ruff format)" $(BIN)/ruff format --check src tests bench tools
	@$(TIMED) "lint (import layers)" $(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	@$(TIMED) "typecheck (mypy)" $(BIN)/mypy

# The whole suite runs on SQLite; on PostgreSQL only the tests that touch the database run again
# (MIANSHEN_TEST_DB_ONLY=1, see tests/conftest.py): parsers and the policy core need not run twice.
CHROMIUM ?= /usr/bin/chromium

test-sqlite: $(STAMP)
	@test -x $(CHROMIUM) || echo "== browser tests (tests/e2e) will skip: install Debian's Chromium: apt-get install chromium fonts-noto-cjk"
	@echo "== tests on SQLite (all)"
	@MIANSHEN_DATABASE_URL= $(TIMED) "tests on SQLite" $(BIN)/pytest -q -p no:cacheprovider --ignore=tests/spark $(PYTEST_ARGS)

# The Spark engine (tests/spark, local mode, one JVM): timed on its own line (issue 14: at most 10 minutes).
# Without Java they skip with one line (apt-get install openjdk-17-jre-headless); CI fails on that skip.
test-spark: $(STAMP)
	@echo "== tests of the Spark engine (tests/spark)"
	@MIANSHEN_DATABASE_URL= $(TIMED) "tests on Spark" $(BIN)/pytest -q -p no:cacheprovider tests/spark $(PYTEST_ARGS)

test-postgres: $(STAMP)
	@if [ -n "$(MIANSHEN_TEST_PG_URL)" ]; then \
		echo "== tests on PostgreSQL ($(MIANSHEN_TEST_PG_URL)): the database tests"; \
		MIANSHEN_DATABASE_URL="$(MIANSHEN_TEST_PG_URL)" MIANSHEN_TEST_DB_ONLY=1 \
			$(TIMED) "tests on PostgreSQL" $(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS); \
	else \
		echo "== PostgreSQL half skipped: set MIANSHEN_TEST_PG_URL to run it"; \
	fi

test: lint typecheck test-sqlite test-spark test-postgres

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
