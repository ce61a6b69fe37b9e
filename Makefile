# Two commands for a newcomer: `make run` serves the service, `make test` runs the whole suite.
# Both create the virtual environment and install what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8080
HOST ?= 127.0.0.1

.PHONY: run test lint bench bench-fetch install clean

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

run: install
	CDS_DEV_MODE=1 $(BIN)/cds-service serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/latency.py

# The fetch path (no prefetch, the FHIR test server on loopback) against the prefetch path.
bench-fetch: install
	$(BIN)/python bench/fetch_latency.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
