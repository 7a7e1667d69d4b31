# Throughline developer commands. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run demo test check lint format bench clean chromium

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install Throughline with its test tools

run demo: $(STAMP) ## start the demo firm, collect it, open the dashboard (SQLite)
	$(BIN)/throughline demo

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

chromium: ## install Debian's Chromium for the browser tests when missing (needs root)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq chromium fonts-noto-color-emoji; \
	  else \
	    echo "chromium is missing: sudo apt-get install chromium fonts-noto-color-emoji"; \
	  fi; }

test: $(STAMP) chromium ## lint, then every test (SQLite and PostgreSQL)
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest -n 2

check: test ## what CI runs

format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

SCALES ?= 10k,100k
bench: $(STAMP) ## speed vs the raw database and DuckDB (SCALES=10k,100k,1m) → bench/RESULTS.md
	$(BIN)/python -m bench.run --scales $(SCALES)

clean: ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
