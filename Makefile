# alicloud.ecs: every target sets itself up; only python3 (3.11) is needed on the machine.
SHELL := /bin/bash
PYTHON ?= python3
ANSIBLE_CORE ?= ansible-core>=2.19,<2.20
BUILD := $(CURDIR)/build
VENV := $(BUILD)/venv
VPY := $(VENV)/bin/python
COLLECTIONS := $(BUILD)/collections
LINK := $(COLLECTIONS)/ansible_collections/alicloud/ecs
# Every test process starts with the loopback-only network guard and a hermetic SDK environment.
TEST_ENV := env -u HTTP_PROXY -u HTTPS_PROXY -u http_proxy -u https_proxy -u ALL_PROXY -u all_proxy -u DEBUG \
	PYTHONPATH=$(CURDIR)/tests/guard:$(COLLECTIONS):$(CURDIR)/tests \
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) PATH=$(VENV)/bin:$$PATH

.PHONY: help setup demo test sanity units integration reliability docs-check bench build clean

help:
	@echo "make demo   - start the local ECS endpoint and run the example playbook against it"
	@echo "make test   - sanity, docs check, unit, integration and fault-injection tests"
	@echo "make bench  - benchmarks that print figures and write docs/performance.md (about 5 minutes)"
	@echo "make build  - build the collection tarball"

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

test: sanity docs-check units integration reliability

sanity: setup
	tests/tools/sanity.sh $(BUILD)/sanity $(VPY)

units: setup
	cd $(BUILD) && $(TEST_ENV) $(VPY) -m pytest -q -p no:cacheprovider $(CURDIR)/tests/unit

integration: setup
	cd $(BUILD) && $(TEST_ENV) $(VPY) -m pytest -q -p no:cacheprovider -n 2 $(CURDIR)/tests/integration

# The fault-injection suite (no xdist: it writes docs/reliability.md from the whole run).
reliability: setup
	cd $(BUILD) && $(TEST_ENV) $(VPY) -m pytest -q -p no:cacheprovider $(CURDIR)/tests/reliability

docs-check: setup
	$(TEST_ENV) $(VPY) tests/tools/check_docs.py

bench: setup
	cd $(BUILD) && $(TEST_ENV) $(VPY) $(CURDIR)/tests/bench/run_benchmarks.py

build: setup
	cd $(BUILD) && $(VENV)/bin/ansible-galaxy collection build --force $(CURDIR)

clean:
	rm -rf $(BUILD)
