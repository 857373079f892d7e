# naap-api. `make run` serves on embedded defaults; `make test` installs, lints, tests.
# Everything installs into ./.venv from the hash-pinned lock (requirements/dev.lock).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
WORKERS ?= 1
SIM_PORT ?= 8100
# The server's command line, in one place (uvicorn's options, the settings it reads,
# SHUTDOWN_TIMEOUT and LOG_* among them): `make run` runs it, `make bench` too.
SERVE  := $(BIN)/python scripts/serve.py
# Test processes (pytest-xdist); each has its own PostgreSQL database and Redis
# database number, derived from TEST_POSTGRES_URL / TEST_REDIS_URL (tests/support).
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help install migrate run sim test test-fast lint fmt schema schema-check manifest lock clean

help:
	@echo "make run        serve the API on http://$(HOST):$(PORT) (simulated upstreams unless URLs are set)"
	@echo "make test       install, lint and run every test tier under coverage (CI runs this)"
	@echo "make test-fast  the unit and api tiers only: no lint, no coverage, about a minute"
	@echo "make sim        run the upstream simulator alone on port $(SIM_PORT)"
	@echo "make bench      load the routes (and the page at /) -> BENCHMARKS.md;  make audit  Lighthouse on /"
	@echo "make schema     regenerate schema.graphql from the code"
	@echo "make manifest   write the persisted-operation manifest (var/persisted-operations.json)"
	@echo "make types      the page's TypeScript types from /openapi.json (var/typecheck/openapi.d.ts)"
	@echo "make fmt        format the code;  make lock  re-pin dependencies"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements/dev.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25"
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	@touch $@

var/graphiql/manifest.json: scripts/fetch_graphiql.py | $(VENV)/.installed
	$(BIN)/python scripts/fetch_graphiql.py var/graphiql

# The API reference's renderer (Swagger UI), served at /docs/vendor/.
var/docs/manifest.json: scripts/fetch_graphiql.py | $(VENV)/.installed
	$(BIN)/python scripts/fetch_graphiql.py --set docs var/docs

# Test-only: axe-core, which the browser tests inject into pages.
var/axe/manifest.json: scripts/fetch_graphiql.py | $(VENV)/.installed
	$(BIN)/python scripts/fetch_graphiql.py --set axe var/axe

# Test-only: openapi-typescript and tsc (pinned with their integrity in
# scripts/typecheck/package-lock.json, installed by npm ci), for the check that the
# page's // @ts-check modules agree with /openapi.json (tests/integration/test_page_types.py).
var/typecheck/node_modules/.package-lock.json: scripts/typecheck/package.json scripts/typecheck/package-lock.json
	rm -rf var/typecheck && mkdir -p var/typecheck
	cp scripts/typecheck/package.json scripts/typecheck/package-lock.json var/typecheck/
	cd var/typecheck && npm ci --ignore-scripts --no-audit --no-fund

# The types the page is checked against, for an editor (app/web/jsconfig.json maps
# "naap-openapi" to this file); then `var/typecheck/node_modules/.bin/tsc -p app/web`.
.PHONY: types
types: install var/typecheck/node_modules/.package-lock.json
	$(BIN)/python scripts/page_types.py var/typecheck/openapi.d.ts

install: $(VENV)/.installed var/graphiql/manifest.json var/docs/manifest.json

# Schema to head and seed data, once, before the (possibly several) workers start.
migrate: install
	$(BIN)/python scripts/migrate.py

run: install migrate
	@echo "naap-api on http://$(HOST):$(PORT)  (GraphiQL: http://$(HOST):$(PORT)/graphql)"
	@echo "Developer API token: TOKEN=\$$(make -s token SUB=you) then"
	@echo "  curl -H \"Authorization: Bearer \$$TOKEN\" http://$(HOST):$(PORT)/api/v1/developer/keys"
	HOST=$(HOST) PORT=$(PORT) WORKERS=$(WORKERS) $(SERVE)

# Dashboard routes vs a bare Starlette baseline, same run, the server started by
# $(SERVE) as make run does, then its cold start and the page at / in Chromium
# (cold loads and warm reloads to all widgets ready); writes BENCHMARKS.md.
.PHONY: bench cold-start
bench: install migrate
	$(BIN)/python scripts/bench.py

# make run's command from launch to the first KPI 200, median of 5 (printed only).
cold-start: install migrate
	$(BIN)/python scripts/bench.py --cold-start-only

# Lighthouse 12 (every package pinned with its integrity in scripts/lighthouse/
# package-lock.json, installed by npm ci into var/lighthouse) against / on make
# run's server, with Debian's chromium; scores printed against their targets,
# reports in test-artifacts/. PRESET=desktop for Lighthouse's desktop run.
.PHONY: audit
var/lighthouse/node_modules/.package-lock.json: scripts/lighthouse/package.json scripts/lighthouse/package-lock.json
	rm -rf var/lighthouse && mkdir -p var/lighthouse
	cp scripts/lighthouse/package.json scripts/lighthouse/package-lock.json var/lighthouse/
	cd var/lighthouse && npm ci --ignore-scripts --no-audit --no-fund

audit: install migrate var/lighthouse/node_modules/.package-lock.json
	$(BIN)/python scripts/audit.py --preset $(or $(PRESET),mobile)

# make token SUB=user-1 [ROLES=usage:write] [TTL=86400]: a development token
# (HS256, JWT_SECRET) on stdout, alone: TOKEN=$(make -s token SUB=user-1)
.PHONY: token
token: install
	@$(BIN)/python scripts/make_token.py --sub "$(or $(SUB),dev-user)" \
		--roles "$(ROLES)" --ttl "$(or $(TTL),86400)"

sim: install
	$(BIN)/python -m simulator --host $(HOST) --port $(SIM_PORT)

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy app resolvers rest_facade simulator tests scripts
	$(BIN)/lint-imports

schema: install
	$(BIN)/python scripts/export_schema.py schema.graphql

# The persisted operations (Apollo manifest format), as GET
# /graphql/persisted-operations.json serves them: make manifest [OUT=file]
manifest: install
	$(BIN)/python scripts/export_manifest.py $(or $(OUT),var/persisted-operations.json)

# Every tier (tests/unit, api, integration, fuzz) on TEST_WORKERS processes, under
# coverage through pytest-cov (`coverage run` would measure only the pytest-xdist
# controller); the 15 slowest tests; the report and its floor (pyproject.toml).
test: lint var/axe/manifest.json var/typecheck/node_modules/.package-lock.json
	$(BIN)/pytest -n $(TEST_WORKERS) --cov --cov-report= --durations=15
	$(BIN)/coverage report

# The inner loop: tests/unit and tests/api (the app in process: no servers, no
# PostgreSQL or Redis), with neither lint nor coverage.
test-fast: install
	$(BIN)/pytest tests/unit tests/api -n $(TEST_WORKERS)

lock: install
	$(BIN)/uv pip compile pyproject.toml --group dev --python-version 3.11 \
		--generate-hashes --quiet -o requirements/dev.lock

clean:
	rm -rf $(VENV) var .coverage .mypy_cache .ruff_cache .pytest_cache
