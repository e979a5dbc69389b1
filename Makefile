# Two commands do all the set-up: `make run` and `make test`. Everything else is a convenience.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test bench lint servers clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Carelog needs Python 3.11 or newer"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## run: install, seed demo data if the store is empty, serve on http://127.0.0.1:8000
run: $(STAMP)
	$(BIN)/carelog serve --demo-if-empty

## test: install, make sure PostgreSQL and nats-server binaries exist, run the whole suite
test: $(STAMP) servers
	$(BIN)/python -m pytest tests --ignore=tests/bench

## bench: print throughput and latency figures on SQLite and PostgreSQL
bench: $(STAMP) servers
	$(BIN)/python -m pytest tests/bench -m bench -s -p no:randomly

## lint: ruff and mypy over the whole tree
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

servers:
	@bash .ci/ensure-servers

clean:
	rm -rf $(VENV) var
