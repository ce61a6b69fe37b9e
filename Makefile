# Two commands for a newcomer: `make run` serves the service, `make test` runs the whole suite.
# Both create the virtual environment and install what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8080
HOST ?= 127.0.0.1
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint bench bench-fetch install browser screenshot clean postgres reading-grades

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

# The browser tests drive Debian's Chromium through Playwright's Python package (in the test
# extra). Never `playwright install`: its browser downloads are blocked and not needed.
# Idempotent: apt runs only when the browser is missing (CI: root on a fresh Debian machine).
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-dejavu-core

browser: $(CHROMIUM)

run: install
	CDS_DEV_MODE=1 $(BIN)/cds-service serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .

# The suite runs every database test on SQLite and on PostgreSQL (a throwaway cluster that
# tests/pg_cluster.py starts on a Unix socket and removes). CDS_TEST_DATABASE=sqlite (or
# =postgres) runs one backend only.
test: install postgres browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# PostgreSQL server binaries (initdb, pg_ctl) for the tests; installed from Debian if missing.
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null \
		|| [ -n "$$PG_BIN" ] || [ "$$CDS_TEST_DATABASE" = sqlite ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "PostgreSQL server not found: install the postgresql package, or set PG_BIN"; \
		exit 1; fi; \
	echo "PostgreSQL server not found: installing the postgresql package"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql

# docs/sandbox.png, the README's picture of the sandbox: fixture 01 with its cards.
screenshot: install browser
	$(BIN)/python tools/sandbox_screenshot.py docs/sandbox.png

bench: install
	$(BIN)/python bench/latency.py

# The fetch path (no prefetch, the FHIR test server on loopback) against the prefetch path.
bench-fetch: install
	$(BIN)/python bench/fetch_latency.py

# Reading grade of each section of the patient page (textstat, in the test extra).
reading-grades: install
	$(BIN)/python tools/reading_grades.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
