# alicloud.ecs: every target sets itself up; python3 (3.11) is needed on the machine, and Python 3.12
# and 3.13 (pyenv or PATH) for test-matrix.
SHELL := /bin/bash
PYTHON ?= python3
ANSIBLE_CORE ?= ansible-core>=2.19,<2.20
BUILD := $(CURDIR)/build
VENV := $(BUILD)/venv
VPY := $(VENV)/bin/python
COLLECTIONS := $(BUILD)/collections
LINK := $(COLLECTIONS)/ansible_collections/alicloud/ecs
# ansible-lint, antsibull-changelog, ansible-builder, antsibull-docs and galaxy-importer (tests/lint-requirements.txt),
# apart from $(VENV)'s ansible-core.
LINT_VENV := $(BUILD)/lint/venv
# Every test process starts with the loopback-only network guard and a hermetic SDK environment.
# $(call TEST_ENV_FOR,<venv>) is the same with another virtualenv's bin/ first on PATH.
TEST_ENV_FOR = env -u HTTP_PROXY -u HTTPS_PROXY -u http_proxy -u https_proxy -u ALL_PROXY -u all_proxy -u DEBUG \
	PYTHONPATH=$(CURDIR)/tests/guard:$(COLLECTIONS):$(CURDIR)/tests \
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) PATH=$(1)/bin:$$PATH
TEST_ENV = $(call TEST_ENV_FOR,$(VENV))
# The support matrix (meta/runtime.yml: requires_ansible >=2.16.0), as <ansible-core>:<Python>. Each core
# gets build/matrix/<core>/venv with ansible-core>=<core>,<next minor>; sanity runs on the oldest and newest.
MATRIX ?= 2.16:3.11 2.17:3.11 2.18:3.11 2.19:3.11 2.20:3.12 2.21:3.13
MATRIX_CORES = $(foreach entry,$(MATRIX),$(firstword $(subst :, ,$(entry))))
MATRIX_SANITY ?= $(firstword $(MATRIX_CORES)) $(filter-out $(firstword $(MATRIX_CORES)),$(lastword $(MATRIX_CORES)))
MATRIX_DIR := $(BUILD)/matrix
# Virtualenvs set up at once (pip is mostly waiting on the network); output is grouped per virtualenv.
MATRIX_JOBS ?= 3
# Each core's tests/security run writes its rows here (<core>.json); security-report merges them into docs/reliability.md.
SECURITY_RESULTS := $(BUILD)/security
matrix_python = $(word 2,$(subst :, ,$(filter $(1):%,$(MATRIX))))
matrix_venv = $(MATRIX_DIR)/$(1)/venv
# The PostgreSQL archive store is tested against a real server: a throw-away cluster on 127.0.0.1 (installed from
# Debian's packages when missing). $(POSTGRES_UP) at the start of a recipe's shell starts one unless one runs already,
# and stops the one it started when that shell exits, whatever the outcome (make test: one cluster for every step).
POSTGRES := $(CURDIR)/tests/tools/postgres.sh
POSTGRES_UP = if ! $(POSTGRES) running; then $(POSTGRES) start || exit 1; trap '$(POSTGRES) stop' EXIT; trap 'exit 1' INT TERM HUP; fi;

.PHONY: help setup demo test test-steps postgres-start postgres-stop sanity units integration reliability security security-report docs-check bench build clean lint changelog-lint

help:
	@echo "make demo   - start the local ECS endpoint and run the example playbook against it"
	@echo "make test   - lint, docs check, test-matrix and fault-injection tests"
	@echo "make test-matrix - unit + integration tests on ansible-core 2.16 to 2.21, sanity on 2.16 and 2.21"
	@echo "make bench  - benchmarks that print figures and write docs/performance.md (about 5 minutes, and about"
	@echo "              15 more for the archive's on SQLite and PostgreSQL: archives of up to 1,000,000 records)"
	@echo "make build  - build the collection tarball"
	@echo "make lint   - ansible-lint (production profile), the execution-environment metadata, antsibull-docs and"
	@echo "              galaxy-importer on the built tarball; make changelog-lint"

$(VENV)/.ready: requirements.txt tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check '$(ANSIBLE_CORE)' -r requirements.txt -r tests/requirements.txt
	touch $@

$(LINK):
	mkdir -p $(dir $(LINK))
	ln -sfn $(CURDIR) $(LINK)

setup: $(VENV)/.ready $(LINK)

demo: setup
	$(TEST_ENV) $(VPY) tests/demo/run_demo.py

# Units, integration and sanity run in test-matrix: units and integration on every supported ansible-core
# (2.19 included), sanity on the oldest and the newest (`make sanity` runs it with $(VENV)'s 2.19 as well).
test: $(LINK)
	@$(POSTGRES_UP) $(MAKE) --no-print-directory test-steps

test-steps: lint changelog-lint docs-check test-matrix security-report reliability

# The test cluster by hand (tests/tools/postgres.sh; the test targets start and stop one themselves).
postgres-start:
	$(POSTGRES) start

postgres-stop:
	$(POSTGRES) stop

# The security table of docs/reliability.md, from the tests/security runs of test-matrix (every core's results).
security-report: setup
	$(VPY) tests/security/security_report.py $(SECURITY_RESULTS) docs/reliability.md

sanity: setup
	tests/tools/sanity.sh $(BUILD)/sanity $(VPY)

units: setup
	@$(POSTGRES_UP) cd $(BUILD) && $(TEST_ENV) $(VPY) -m pytest -q -p no:cacheprovider $(CURDIR)/tests/unit

integration: setup
	@$(POSTGRES_UP) cd $(BUILD) && $(TEST_ENV) $(VPY) -m pytest -q -p no:cacheprovider -n 2 $(CURDIR)/tests/integration

security: setup
	cd $(BUILD) && $(TEST_ENV) $(VPY) -m pytest -q -p no:cacheprovider -n 2 $(CURDIR)/tests/security

# --- the ansible-core matrix: units + integration on every core of MATRIX, sanity on MATRIX_SANITY ---
MATRIX_TESTS = $(addprefix matrix-,$(MATRIX_CORES))
MATRIX_SANITY_TESTS = $(addprefix sanity-,$(MATRIX_CORES))
.PHONY: test-matrix matrix-setup $(MATRIX_TESTS) $(MATRIX_SANITY_TESTS)

# Every core runs, even after one failed (a virtualenv that could not be set up is tried again by its core's
# target); the summary names the failed cores, and any failure fails the target.
test-matrix: $(LINK)
	@$(POSTGRES_UP) rm -rf $(SECURITY_RESULTS); \
	$(MAKE) --no-print-directory matrix-setup || echo "test-matrix: each core set up again on its own below"; \
	failed=(); summary=(); \
	for job in $(foreach core,$(MATRIX_CORES),'matrix-$(core)|ansible-core $(core) on Python $(call matrix_python,$(core)): units + integration') \
	           $(foreach core,$(MATRIX_SANITY),'sanity-$(core)|ansible-core $(core) on Python $(call matrix_python,$(core)): sanity'); do \
	    target="$${job%%|*}"; label="$${job#*|}"; start=$$SECONDS; \
	    echo "=== test-matrix: $$label ($$target)"; \
	    if $(MAKE) --no-print-directory "$$target"; then status=passed; else status=FAILED; failed+=("$$label"); fi; \
	    summary+=("$$(printf '%-6s %4ds  %s' "$$status" "$$((SECONDS - start))" "$$label")"); \
	done; \
	echo "=== test-matrix summary"; printf '  %s\n' "$${summary[@]}"; \
	if [[ $${#failed[@]} -gt 0 ]]; then printf 'test-matrix: FAILED: %s\n' "$${failed[@]}" >&2; exit 1; fi

# All virtualenvs of the matrix, MATRIX_JOBS at a time.
matrix-setup: $(LINK)
	@start=$$SECONDS; \
	$(MAKE) --no-print-directory -s -k -j$(MATRIX_JOBS) --output-sync=target $(foreach core,$(MATRIX_CORES),$(call matrix_venv,$(core))/.ready) \
	    || { echo "test-matrix: setting up the virtualenvs failed (the messages above name the core)" >&2; exit 1; }; \
	echo "test-matrix: virtualenvs ready in $$((SECONDS - start))s"

# One virtualenv per core, on that core's Python, which tests/tools/find_python.sh finds (pyenv or not).
$(MATRIX_DIR)/%/venv/.ready: requirements.txt tests/requirements.txt
	@$(if $(call matrix_python,$*),,$(error ansible-core $* is not in MATRIX ($(MATRIX))))set -euo pipefail; core='$*'; venv='$(call matrix_venv,$*)'; \
	python="$$(tests/tools/find_python.sh '$(call matrix_python,$*)' $(PYTHON))" \
	    || { echo "test-matrix: ansible-core $$core: Python $(call matrix_python,$*) not found" >&2; exit 1; }; \
	pin="ansible-core>=$$core,<$${core%%.*}.$$(( $${core#*.} + 1 ))"; \
	echo "test-matrix: ansible-core $$core: $$venv ($$python, $$pin)"; \
	rm -rf "$$venv"; \
	"$$python" -m venv "$$venv"; \
	"$$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$$pin" -r requirements.txt -r tests/requirements.txt \
	    || { echo "test-matrix: ansible-core $$core: pip install into $$venv failed" >&2; exit 1; }; \
	"$$venv/bin/python" -c 'import sys; from ansible.release import __version__ as core; print("test-matrix: installed ansible-core %s on Python %s" % (core, sys.version.split()[0]))'; \
	touch "$@"

# Units and integration on one core, as the units and integration targets run them; both run, either fails it.
$(MATRIX_TESTS): matrix-%: $(MATRIX_DIR)/%/venv/.ready $(LINK)
	@$(POSTGRES_UP) status=0; label='ansible-core $* (Python $(call matrix_python,$*))'; \
	cd $(BUILD) || exit 1; \
	echo "test-matrix: $$label: tests/unit"; \
	$(call TEST_ENV_FOR,$(call matrix_venv,$*)) $(call matrix_venv,$*)/bin/python -m pytest -q -p no:cacheprovider $(CURDIR)/tests/unit \
	    || { echo "test-matrix: $$label: unit tests failed" >&2; status=1; }; \
	echo "test-matrix: $$label: tests/integration ($(if $(filter $*,$(MATRIX_SANITY)),every case,all but the cases marked oldest_and_newest_core))"; \
	$(call TEST_ENV_FOR,$(call matrix_venv,$*)) $(call matrix_venv,$*)/bin/python -m pytest -q -p no:cacheprovider -n 2 \
	    $(if $(filter $*,$(MATRIX_SANITY)),,-m 'not oldest_and_newest_core') $(CURDIR)/tests/integration \
	    || { echo "test-matrix: $$label: integration tests failed" >&2; status=1; }; \
	echo "test-matrix: $$label: tests/security ($(if $(filter $*,$(MATRIX_SANITY)),every case,the cases marked every_core))"; \
	$(call TEST_ENV_FOR,$(call matrix_venv,$*)) ALICLOUD_ECS_SECURITY_RESULTS=$(SECURITY_RESULTS) \
	    $(call matrix_venv,$*)/bin/python -m pytest -q -p no:cacheprovider -n 2 $(if $(filter $*,$(MATRIX_SANITY)),,-m every_core) \
	    $(CURDIR)/tests/security || { echo "test-matrix: $$label: security tests failed" >&2; status=1; }; \
	exit $$status

# The whole ansible-test sanity suite with that core's ansible-test, in its own copy under build/sanity-<core>.
$(MATRIX_SANITY_TESTS): sanity-%: $(MATRIX_DIR)/%/venv/.ready
	@tests/tools/sanity.sh $(BUILD)/sanity-$* $(call matrix_venv,$*)/bin/python \
	    || { echo "test-matrix: ansible-core $* (Python $(call matrix_python,$*)): sanity failed" >&2; exit 1; }

# The fault-injection suite (no xdist: it writes docs/reliability.md from the whole run).
reliability: setup
	@$(POSTGRES_UP) cd $(BUILD) && $(TEST_ENV) $(VPY) -m pytest -q -p no:cacheprovider $(CURDIR)/tests/reliability

$(LINT_VENV)/.ready: tests/lint-requirements.txt
	rm -rf $(LINT_VENV)
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check '$(ANSIBLE_CORE)' -r tests/lint-requirements.txt
	touch $@

# Offline, with a temporary HOME and no proxies: the whole repository but build/ and tests/ (see the script), then
# the documentation linter of docs.ansible.com and what Galaxy runs on an upload, both on the built tarball.
lint: $(LINT_VENV)/.ready $(LINK)
	tests/tools/lint.sh ansible-lint $(LINT_VENV) $(COLLECTIONS)
	tests/tools/lint.sh collection-docs $(LINT_VENV)
	tests/tools/lint.sh galaxy-importer $(LINT_VENV)

changelog-lint: $(LINT_VENV)/.ready
	tests/tools/lint.sh changelog $(LINT_VENV)

docs-check: setup
	$(TEST_ENV) $(VPY) tests/tools/check_docs.py

bench: setup
	@$(POSTGRES_UP) cd $(BUILD) && $(TEST_ENV) $(VPY) $(CURDIR)/tests/bench/run_benchmarks.py

build: setup
	cd $(BUILD) && $(VENV)/bin/ansible-galaxy collection build --force $(CURDIR)

clean:
	$(POSTGRES) stop
	rm -rf $(BUILD)
