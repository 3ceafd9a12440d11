# Core OEM. `make run` starts the product on embedded defaults; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)
export OEM_DATA_DIR ?= $(CURDIR)/var

.PHONY: help venv migrate seed run test lint format chromium promtool proto schema clean

help:
	@echo "make run     set up .venv, migrate, seed demo users, start web + worker + beat + daemon (http://127.0.0.1:8000)"
	@echo "make test    lint, import contracts, pytest on SQLite and (when reachable) PostgreSQL + Redis"
	@echo "make schema  regenerate docs/api/openapi.yaml from the code"
	@echo "make proto   regenerate the daemon's gRPC stubs from execution/proto/*.proto"

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

migrate: venv
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo
	@test -f $(OEM_DATA_DIR)/certs/ca.pem || $(PY) manage.py generate_mtls_bundle --out $(OEM_DATA_DIR)/certs --operators operator

run: seed
	@echo "Console: http://127.0.0.1:8000  (data in $(OEM_DATA_DIR))"
	@echo "Demo: development license keys accepted (OEM_ALLOW_DEVELOPMENT_LICENSES=true); never in production"
	OEM_ALLOW_DEVELOPMENT_LICENSES=true $(VENV)/bin/honcho start -f Procfile

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

promtool:
	@command -v promtool >/dev/null 2>&1 || { \
		echo "installing Debian's prometheus for promtool (alert rules are checked with it)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; }

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

proto: venv  ## regenerate execution/proto/gen from execution/proto/oem_daemon_v1.proto (a test fails on drift)
	$(PY) -m execution.proto.generate

schema: venv
	$(PY) manage.py spectacular --file docs/api/openapi.yaml --validate --fail-on-warn

test: venv chromium promtool lint
	bash scripts/run_tests.sh

clean:
	rm -rf var/broker var/celerybeat-schedule
