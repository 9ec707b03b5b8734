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

.PHONY: help venv host-packages collection build sanity lint docs-lint changelog-lint pytest test demo twin clean rig molecule

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
MOLECULE_SCENARIOS ?= pve_host_evpn postgres_server pve_host tenant_gateway transit_hub object_storage dns_server
MOLECULE_JOBS ?= 2
molecule: rig ## Molecule scenarios in podman containers (MOLECULE_SCENARIOS="pve_host ..." picks some, MOLECULE_JOBS=1 one at a time)
	@MOLECULE_JOBS=$(MOLECULE_JOBS) bash scripts/molecule.sh $(MOLECULE_SCENARIOS)

# Gates in order, cheapest first; stops at the first failure and says which one failed (scripts/gates.sh).
# The Molecule scenarios and the network twin mostly wait (containers booting, ssh, BGP timers, bounded
# network probes), so they run in the background, beside the lint gates, once pytest has passed; the
# container image they share is built (make rig) just before they start.
TEST_GATES := pytest sanity lint docs-lint changelog-lint
TEST_BACKGROUND_GATES := molecule twin
TEST_BACKGROUND_AFTER := pytest
test: venv ## venv, then every gate: pytest, then sanity lint docs-lint changelog-lint beside molecule and twin
	@TEST_GATES="$(TEST_GATES)" TEST_BACKGROUND_GATES="$(TEST_BACKGROUND_GATES)" TEST_BACKGROUND_AFTER="$(TEST_BACKGROUND_AFTER)" \
	    bash scripts/gates.sh

demo: venv collection ## start the Proxmox VE simulator (3 nodes, PVE 9.1) and run the demo playbooks against it
	@bash scripts/demo.sh

# The network twin (nettwin/, README "The network twin"): the demo against the simulators, then namespaces,
# VXLAN and FRR EVPN built from what the simulator rendered for each node, the guests as namespaces, the
# gateways, the transit hub and the shared services as containers configured by the real roles, and
# playbooks/verify.yml's reachability matrix through the simulated guest agent, with the mutation and L2 checks.
twin: venv collection rig ## the demo, then the network twin built from it and verify.yml's reachability matrix on it (scripts/twin.sh)
	@DEMO_TASK_SECONDS=$${DEMO_TASK_SECONDS:-0.05} DEMO_SIM_ARGS="--exec-netns-prefix hctw-" DEMO_AFTER="bash scripts/twin.sh" \
	    bash scripts/demo.sh

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
