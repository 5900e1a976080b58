# Every target creates .venv on first use, so a fresh machine needs nothing else.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast bench lint typecheck clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -qq --upgrade pip
	$(BIN)/pip install -qq -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/llm-monitor run

# Byte-code caching on for the tests even where the environment turns it off: compiling
# (and assertion-rewriting) every module again on each run costs seconds.
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -q -p no:cacheprovider

test: $(STAMP)
	$(BIN)/ruff check monitor tests bench
	$(BIN)/mypy
	$(PYTEST)

# The in-process tests share nothing (each its own tmp_path, ledger and event loop), so they
# run on every core; the model tests try fewer programs than `make test` does.
test-fast: $(STAMP)
	MODEL_EXAMPLES=25 $(PYTEST) -m "not e2e" -n auto --dist worksteal

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

lint: $(STAMP)
	$(BIN)/ruff check monitor tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info
