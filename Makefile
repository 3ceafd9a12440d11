# Core OEM. `make run` starts the product on embedded defaults; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)
export OEM_DATA_DIR ?= $(CURDIR)/var

.PHONY: help venv migrate seed static run test lint format chromium promtool qt-libs proto schema clean ui-check bench
.PHONY: paper-smoke acceptance ci-start ci-record
.PHONY: bundle wheelhouse dev-wheelhouse packaging-tools

help:
	@echo "make run     set up .venv, migrate, seed demo users, collect static files, start web (gunicorn) + worker + beat + daemon (http://127.0.0.1:8000)"
	@echo "             DEBUG=true make run: the same with Django's debug pages and code reloading (development only)"
	@echo "make test    lint, import contracts, pytest on SQLite and (when reachable) PostgreSQL + Redis"
	@echo "make bench   every bench/*.py at full size (README.md, bench/README.md); make test runs them at --quick"
	@echo "make schema  regenerate docs/api/openapi.yaml from the code"
	@echo "make proto   regenerate the daemon's gRPC stubs from execution/proto/*.proto"
	@echo "make paper-smoke             Paper Labs, then a paper session through the real daemon (docs/delivery.md)"
	@echo "make acceptance PLATFORM=P   acceptance report of the bundle make bundle wrote for P"
	@echo "make ci-start / ci-record JOB=J   begin / write the CI run record reports/ci/J/ci_run.json"
	@echo "make ui-check  the desktop client headless (offscreen): screenshots + UI telemetry evidence in reports/ui_check"

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

# WhiteNoise serves the collected copy; with DEBUG off nothing else serves /static/.
static: venv
	$(PY) manage.py collectstatic --noinput --verbosity 0

# The desktop client starts with the rest only where there is a display to show it on.
RUN_PROCS := web worker beat daemon$(if $(DISPLAY)$(WAYLAND_DISPLAY), desktop,)

run: seed static
	@echo "Console: http://127.0.0.1:8000  (gunicorn, DEBUG $${DEBUG:-off}; data in $(OEM_DATA_DIR))"
	@echo "Demo: development license keys accepted (OEM_ALLOW_DEVELOPMENT_LICENSES=true); never in production"
	OEM_ALLOW_DEVELOPMENT_LICENSES=true $(VENV)/bin/honcho start -f Procfile $(RUN_PROCS)

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

promtool:
	@command -v promtool >/dev/null 2>&1 || { \
		echo "installing Debian's prometheus for promtool (alert rules are checked with it)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; }

.PHONY: poppler
poppler:  ## pdftotext: the Paper Labs PDF tests read the report's text as a reader would
	@command -v pdftotext >/dev/null 2>&1 || { \
		echo "installing Debian's poppler-utils for pdftotext"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; }

qt-libs:  ## what the PySide6 wheels load (EGL/GL, fontconfig, xkbcommon, GLib, D-Bus), even offscreen
	@ldconfig -p | grep -q 'libEGL.so.1 ' && ldconfig -p | grep -q 'libxkbcommon.so.0 ' \
		&& ldconfig -p | grep -q 'libfontconfig.so.1 ' || { \
		echo "installing the system libraries Qt needs for the desktop client"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			libegl1 libgl1 libfontconfig1 libxkbcommon0 libglib2.0-0 libdbus-1-3 >/dev/null; }

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/actionlint -config-file deploy/ci/actionlint.yaml deploy/ci/*.yml

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

proto: venv  ## regenerate execution/proto/gen from execution/proto/oem_daemon_v1.proto (a test fails on drift)
	$(PY) -m execution.proto.generate

ui-check: venv qt-libs  ## the desktop client headless against a throwaway daemon: PNGs, UI telemetry log, summary
	QT_QPA_PLATFORM=$${QT_QPA_PLATFORM:-offscreen} $(PY) -m desktop_qml.check --out reports/ui_check

bench: venv qt-libs  ## every benchmark at full size, one after the other (they share the machine badly)
	@rc=0; for bench in bench/*.py; do echo "=== $$bench"; \
		QT_QPA_PLATFORM=$${QT_QPA_PLATFORM:-offscreen} $(PY) $$bench || rc=1; done; exit $$rc

schema: venv
	$(PY) manage.py spectacular --file docs/api/openapi.yaml --validate --fail-on-warn

test: venv chromium promtool qt-libs packaging-tools poppler lint
	bash scripts/run_tests.sh

# Delivery: the targets the pipelines in deploy/ci/ call (docs/delivery.md). A person runs them the same way.
PLATFORM ?= linux-x86_64
ACCEPTANCE_ARGS ?=
JOB ?= local
RUN_ID ?= local-$(shell date -u +%Y%m%dT%H%M%SZ)
COMMIT ?= $(shell git rev-parse HEAD)
CI_DIR = reports/ci/$(JOB)
# The bundle directory `make bundle` wrote for PLATFORM (the newest version when there are several).
BUNDLE_DIR ?= $(patsubst %/manifest.json,%,$(lastword $(sort $(wildcard dist/$(PLATFORM)/core-oem-*/manifest.json))))

paper-smoke: venv  ## Paper Labs on the sample data, then a paper session through the real daemon
	$(PY) scripts/run_risk_simulation_lab.py --profile all --inline
	$(PY) scripts/run_paper_smoke_ci.py --render-summary-markdown

acceptance: venv  ## acceptance report of the bundle in dist/$(PLATFORM) (ACCEPTANCE_ARGS=--rebuild also rebuilds)
	@test -n "$(BUNDLE_DIR)" || { echo "error: no bundle in dist/$(PLATFORM) (run make bundle PLATFORM=$(PLATFORM))" >&2; exit 1; }
	$(PY) scripts/run_oem_acceptance.py --bundle $(BUNDLE_DIR) --json reports/acceptance/$(PLATFORM).json $(ACCEPTANCE_ARGS)

ci-start: venv  ## begin the CI run record of JOB (RUN_ID, COMMIT)
	$(PY) deploy/ci/record_run.py start --job $(JOB) --run-id $(RUN_ID) --commit $(COMMIT) --dir $(CI_DIR)

ci-record: venv  ## finish the CI run record of JOB: hash what the job produced into $(CI_DIR)/ci_run.json
	$(PY) deploy/ci/record_run.py finish --dir $(CI_DIR) $(foreach f,$(CI_OUTPUTS),--output $(f))

ifneq ($(filter oem_packaging%,$(JOB)),)
CI_OUTPUTS = $(wildcard $(addprefix $(BUNDLE_DIR)/,manifest.json manifest.sig manifest.asc) \
	$(BUNDLE_DIR).build_report.json dist/$(PLATFORM)/fingerprint.txt reports/acceptance/$(PLATFORM).json)
else ifeq ($(JOB),paper_smoke)
CI_OUTPUTS = $(shell find $(OEM_DATA_DIR)/reports/paper_smoke $(OEM_DATA_DIR)/reports/paper_labs -type f 2>/dev/null | sort)
else ifeq ($(JOB),ui_telemetry_checks)
CI_OUTPUTS = $(shell find reports/ui_check -type f 2>/dev/null | sort)
endif

clean:
	rm -rf var/broker var/celerybeat-schedule

# Bundle: build, sign and package PLATFORM (docs/packaging.md). Offline: wheels come from dist/wheelhouse/PLATFORM.
WHEEL_TAGS_linux-x86_64 := manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 linux_x86_64
WHEEL_TAGS_windows-x86_64 := win_amd64
WHEEL_TAGS_macos-arm64 := macosx_14_0_arm64 macosx_13_0_arm64 macosx_12_0_arm64 macosx_11_0_arm64 macosx_10_9_universal2

packaging-tools:  ## dpkg-deb, lintian, wixl, osslsigncode, xorriso, genisoimage, gpg, and the .deb's Depends (bundle tests)
	@missing=""; for tool in dpkg-deb lintian wixl osslsigncode xorriso genisoimage gpg; do \
		command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	/usr/bin/python3 -c "import cryptography, yaml" 2>/dev/null || missing="$$missing python3-cryptography"; \
	if [ -n "$$missing" ]; then echo "installing Debian's packaging tools for:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpkg-dev lintian \
			msitools wixl osslsigncode xorriso genisoimage gnupg python3-cryptography python3-yaml >/dev/null; fi

wheelhouse: venv  ## on a connected machine only: fetch the pinned wheels of PLATFORM into dist/wheelhouse/PLATFORM
	$(PY) -m pip download --only-binary=:all: --no-deps --python-version 3.11 \
		$(foreach t,$(WHEEL_TAGS_$(PLATFORM)),--platform $(t)) \
		-r deploy/packaging/requirements-core.txt -d dist/wheelhouse/$(PLATFORM)

dev-wheelhouse: venv  ## development, linux-x86_64 only: repack this venv's pinned packages into dist/wheelhouse/linux-x86_64
	$(PY) -m deploy.packaging.repack --out dist/wheelhouse/linux-x86_64

bundle: venv packaging-tools  ## build, sign and package the bundle of PLATFORM into dist/PLATFORM
	$(PY) deploy/packaging/build_core_bundle.py --platform $(PLATFORM) --out dist/$(PLATFORM)
