# Two commands for a newcomer: `make run` serves the service, `make test` runs the whole suite.
# Both create the virtual environment and install what they need first. `make` alone lists the
# targets: each is described by its `##` comment.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8080
HOST ?= 127.0.0.1
FHIR_PORT ?= 8090
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help run test lint bench bench-fetch bench-soak install browser screenshot clean \
	postgres fhir-server reading-grades nginx cluster
.DEFAULT_GOAL := help

help: ## list the targets
	@echo "make TARGET (variables: PORT=$(PORT) HOST=$(HOST) FHIR_PORT=$(FHIR_PORT))"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  \1\t\2/' | expand -t 16

# The runtime only: `make test` adds the test extra.
$(BIN)/.runtime: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed ## create .venv with the service and its test tools

# The browser tests drive Debian's Chromium through Playwright's Python package (in the test
# extra). Never `playwright install`: its browser downloads are blocked and not needed.
# Idempotent: apt runs only when the browser is missing (CI: root on a fresh Debian machine).
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-dejavu-core

browser: $(CHROMIUM) ## install Debian's Chromium for the browser tests (apt)

run: $(BIN)/.runtime ## serve in development mode on http://HOST:PORT (127.0.0.1:8080)
	CDS_DEV_MODE=1 $(BIN)/cds-service serve --host $(HOST) --port $(PORT)

lint: install ## ruff check
	$(BIN)/ruff check .

# The suite runs every database test on SQLite and on PostgreSQL (a throwaway cluster that
# tests/pg_cluster.py starts on a Unix socket and removes). CDS_TEST_DATABASE=sqlite (or
# =postgres) runs one backend only.
test: install postgres browser nginx ## ruff, then the whole suite (SQLite, PostgreSQL, browser, FHIR server)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# PostgreSQL server binaries (initdb, pg_ctl) for the tests; installed from Debian if missing.
postgres: ## install PostgreSQL server binaries for the tests if missing (apt)
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null \
		|| [ -n "$$PG_BIN" ] || [ "$$CDS_TEST_DATABASE" = sqlite ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "PostgreSQL server not found: install the postgresql package, or set PG_BIN"; \
		exit 1; fi; \
	echo "PostgreSQL server not found: installing the postgresql package"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql

# nginx (Debian's package) for the cluster (tests/test_cluster.py, `make cluster`); installed
# only when missing, like Chromium and PostgreSQL. Debian may also start the system's nginx on port
# 80 after installing it; the cluster runs its own copy with its own configuration.
nginx: ## install nginx for the cluster tests if missing (apt)
	@if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then exit 0; fi; \
	echo "nginx not found: installing Debian's nginx package"; \
	$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nginx

# nginx on 127.0.0.1:CLUSTER_PORT in front of INSTANCES `cds-service serve` processes in
# production mode sharing one throwaway PostgreSQL database (tools/cluster.py). Prints a signed
# call to try; Ctrl-C stops it all and removes its folder.
CLUSTER_PORT ?= 8080
INSTANCES ?= 2
cluster: install postgres nginx ## nginx in front of INSTANCES=2 instances on one PostgreSQL (Ctrl-C stops)
	$(BIN)/python tools/cluster.py --port $(CLUSTER_PORT) --instances $(INSTANCES)

# docs/sandbox.png, the README's picture of the sandbox: fixture 01 with its cards. Rewritten
# only when something visible changed (not for the latency of the call alone).
screenshot: install browser ## refresh docs/sandbox.png (when something visible changed)
	$(BIN)/python tools/sandbox_screenshot.py docs/sandbox.png

# wrk, the load generator of the benchmarks, from Debian when missing.
/usr/bin/wrk:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk

# The service against a bare Flask app under the same server (bench/floor_app.py), with wrk;
# then signed calls, the first call to a worker, slow and idle peers, a FHIR server that never
# answers, and the cluster through nginx (bench/cluster.py).
bench: install postgres nginx /usr/bin/wrk ## the service against a bare Flask app (wrk), signed calls, slow peers, hanging FHIR, the cluster
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/signed.py
	$(BIN)/python bench/first_call.py
	$(BIN)/python bench/slow_peers.py
	$(BIN)/python bench/fhir_hang.py
	$(BIN)/python bench/cluster.py

# Memory per worker over a 10-minute soak at 64 connections (MINUTES=1 for a short one).
MINUTES ?= 10
bench-soak: install /usr/bin/wrk ## memory per worker over a 10-minute soak (MINUTES=)
	$(BIN)/python bench/soak.py --minutes $(MINUTES)

# The fetch path (no prefetch, the FHIR test server on loopback) against the prefetch path.
bench-fetch: install ## latency of the fetch path against the prefetch path
	$(BIN)/python bench/fetch_latency.py

# Reading grade of each section of the patient page (textstat, in the test extra).
reading-grades: install ## reading grade of each section of the patient page
	$(BIN)/python tools/reading_grades.py

# A FHIR server for the CDS Hooks sandbox or another CDS client: see docs/sandbox.md.
fhir-server: install ## FHIR server with the fixture patients on 127.0.0.1:FHIR_PORT (needs Node)
	$(BIN)/python tools/fhir_server.py --port $(FHIR_PORT)

clean: ## remove what the targets created (.venv, caches, instance/, node_modules)
	rm -rf $(VENV) *.egg-info build dist .pytest_cache .ruff_cache instance \
		tests/fhir_server/node_modules
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
