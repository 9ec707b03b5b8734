# Build, test and quality gates of the homecloud.proxmox collection.
#   make demo   simulated 3-node Proxmox VE cluster + the playbooks against it (no cluster needed)
#   make test   every gate this machine can run (.ci/run calls it)
# `make help` lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV   := $(CURDIR)/.venv
BIN    := $(VENV)/bin
BUILD  := $(CURDIR)/.build
# ansible-playbook / ansible-doc / antsibull-docs find the collection through this tree:
# $(COLLECTIONS)/ansible_collections/homecloud/proxmox is a symlink to the repository root.
COLLECTIONS := $(BUILD)/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/homecloud/proxmox

export PYTHON
export PATH := $(BIN):$(PATH)

.PHONY: help venv host-packages collection build sanity lint docs-lint changelog-lint pytest test demo clean rig molecule

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

venv: ## create/refresh .venv (Python 3.11) from requirements-dev.txt; no-op when the stamp matches
	@bash scripts/venv.sh

host-packages: ## install the missing Debian packages the gates need (apt-get only when something is missing)
	@bash scripts/host-packages.sh

collection: ## link the repository as .build/collections/ansible_collections/homecloud/proxmox
	@mkdir -p $(dir $(COLLECTION_LINK))
	@if [ "$$(readlink $(COLLECTION_LINK) 2>/dev/null)" != "$(CURDIR)" ]; then \
	    ln -sfn $(CURDIR) $(COLLECTION_LINK); echo "collection: $(COLLECTION_LINK) -> $(CURDIR)"; fi

build: venv ## build the collection artifact into .build/dist
	@mkdir -p $(BUILD)/dist
	ansible-galaxy collection build --force --output-path $(BUILD)/dist .

# The slowest tests in every log (where the time of the gate goes); PYTEST_DURATIONS= turns it off.
PYTEST_DURATIONS ?= --durations=30 --durations-min=5
pytest: venv collection ## unit, simulator and integration tests (pytest.ini)
	@rc=0; ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) python -m pytest $(PYTEST_DURATIONS) $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest: no tests collected yet (testpaths in pytest.ini): not a failure"; rc=0; fi; \
	exit $$rc

sanity: venv ## ansible-test sanity --venv --python 3.11, full default set, on a copy under .build/sanity
	@bash scripts/sanity.sh

# ANSIBLE_HOME inside .build: ansible-lint would otherwise also resolve modules from
# ~/.ansible/collections, where an older installed copy of this collection may lie.
lint: venv collection ## ansible-lint --offline, production profile (.ansible-lint)
	ANSIBLE_HOME=$(BUILD)/ansible-home ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) ansible-lint --offline

# galaxy.yml's dependencies (community.postgresql) come from scripts/wheel-collections.sh.
docs-lint: venv collection ## antsibull-docs lint-collection-docs --plugin-docs
	@bash scripts/wheel-collections.sh
	@cd $(COLLECTION_LINK) && ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS):$(BUILD)/rig/collections \
	    antsibull-docs lint-collection-docs --plugin-docs .

changelog-lint: venv ## antsibull-changelog lint (changelogs/fragments, changelogs/changelog.yaml)
	antsibull-changelog lint

rig: venv collection ## container test rig: Debian packages, podman settings, collections, local Debian image (scripts/test-rig.sh)
	@bash scripts/test-rig.sh

# The Molecule scenarios under molecule/, each a full `molecule test` (podman containers), two at a
# time (MOLECULE_JOBS; scripts/molecule.sh). Longest first, so the two lanes end close together.
MOLECULE_SCENARIOS ?= pve_host_evpn postgres_server pve_host tenant_gateway object_storage dns_server
MOLECULE_JOBS ?= 2
molecule: rig ## Molecule scenarios in podman containers (MOLECULE_SCENARIOS="pve_host ..." picks some, MOLECULE_JOBS=1 one at a time)
	@MOLECULE_JOBS=$(MOLECULE_JOBS) bash scripts/molecule.sh $(MOLECULE_SCENARIOS)

# Gates in order, cheapest first; stops at the first failure and says which one failed. The
# Molecule gate mostly waits (containers booting, ssh, bounded network probes), so it starts right
# after pytest, in the background (its own process group, ended with the run should a gate fail),
# while the lint gates run; its log is printed whole when it ends.
TEST_GATES := pytest sanity lint docs-lint changelog-lint molecule
TEST_BACKGROUND_GATE := molecule
test: venv ## venv, then every gate: pytest, then sanity lint docs-lint changelog-lint beside molecule
	@start=$$(date +%s); bg_pid=; bg_log=$(BUILD)/gate-$(TEST_BACKGROUND_GATE).log; mkdir -p $(BUILD); \
	stop_bg() { [ -z "$$bg_pid" ] || kill -TERM -- "-$$bg_pid" 2>/dev/null || true; }; \
	trap stop_bg EXIT; \
	for gate in $(TEST_GATES); do \
	    if [ "$$gate" = "$(TEST_BACKGROUND_GATE)" ]; then \
	        [ -n "$$bg_pid" ] || continue; \
	        rc=0; wait "$$bg_pid" || rc=$$?; bg_pid=; \
	        echo "=== make test: $$gate (started in the background after pytest; its log follows)"; cat "$$bg_log"; \
	        if [ "$$rc" -ne 0 ]; then \
	            echo "=== make test: FAILED at gate '$$gate' (run 'make $$gate' to reproduce)" >&2; exit 1; fi; \
	        echo "=== make test: $$gate passed in $$(cat "$$bg_log.seconds") s"; \
	        continue; \
	    fi; \
	    echo "=== make test: $$gate"; t0=$$(date +%s); \
	    if ! $(MAKE) --no-print-directory $$gate; then \
	        echo "=== make test: FAILED at gate '$$gate' (run 'make $$gate' to reproduce)" >&2; exit 1; \
	    fi; \
	    echo "=== make test: $$gate passed in $$(( $$(date +%s) - t0 )) s"; \
	    if [ "$$gate" = pytest ] && [[ " $(TEST_GATES) " == *" $(TEST_BACKGROUND_GATE) "* ]]; then \
	        echo "=== make test: $(TEST_BACKGROUND_GATE) starts in the background ($$bg_log)"; \
	        set -m; \
	        ( t1=$$(date +%s); rc=0; $(MAKE) --no-print-directory $(TEST_BACKGROUND_GATE) > "$$bg_log" 2>&1 < /dev/null || rc=$$?; \
	          echo $$(( $$(date +%s) - t1 )) > "$$bg_log.seconds"; exit $$rc ) & bg_pid=$$!; set +m; \
	    fi; \
	done; \
	echo "=== make test: all gates passed in $$(( $$(date +%s) - start )) s ($(TEST_GATES))"

demo: venv collection ## start the Proxmox VE simulator (3 nodes, PVE 9.1) and run the demo playbooks against it
	@bash scripts/demo.sh

clean: ## remove build output (.build); keeps .venv
	rm -rf $(BUILD)

.PHONY: bench
bench: venv collection ## SDN, then guest benchmark against community.proxmox on the simulator (slow, not part of make test; writes benchmarks/results/latest.md, guests.md)
	@python benchmarks/run.py $(BENCH_ARGS)
	@python benchmarks/guests.py $(BENCH_ARGS)

.PHONY: bench-guests
bench-guests: venv collection ## guest benchmark against community.proxmox.proxmox_kvm on the simulator (slow, not part of make test; writes benchmarks/results/guests.md)
	@python benchmarks/guests.py $(BENCH_ARGS)

.PHONY: bench-firewall
bench-firewall: venv collection ## firewall benchmark against community.proxmox on the simulator (slow, not part of make test; writes benchmarks/results/firewall.md)
	@python benchmarks/firewall.py $(BENCH_ARGS)
