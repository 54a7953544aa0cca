# The README's two commands: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
DEMO_DB ?= valueproof-demo.db
# Opens the demo's checkpoint signing key. A demo value: set your own secret anywhere real.
DEMO_PASSPHRASE ?= demo-only-passphrase
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: demo test lint install dev clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

install: $(UV)  ## the product alone, from the lock file
	$(UV) sync --frozen --no-dev --python $(PYTHON)

dev: $(UV)  ## the product and its development tools
	$(UV) sync --frozen --python $(PYTHON)

demo: install  ## sample book of business in SQLite, API and dashboard on http://127.0.0.1:8000
	VALUEPROOF_DATABASE_URL=sqlite:///$(DEMO_DB) VALUEPROOF_LEDGER_PASSPHRASE=$(DEMO_PASSPHRASE) \
		$(BIN)/valueproof demo seed
	VALUEPROOF_DATABASE_URL=sqlite:///$(DEMO_DB) VALUEPROOF_LEDGER_PASSPHRASE=$(DEMO_PASSPHRASE) \
		$(BIN)/valueproof serve

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: dev lint  ## lint, types, then the whole suite on SQLite and a throwaway PostgreSQL
	scripts/ensure_system_tools.sh
	scripts/run_tests.sh $(BIN)/python

clean:
	rm -rf $(TOOLS) $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis $(DEMO_DB)*
