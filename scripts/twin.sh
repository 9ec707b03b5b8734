#!/usr/bin/env bash
# make twin, second half: scripts/demo.sh runs this (DEMO_AFTER) once the demo playbooks have run twice,
# while the simulators still run, with their addresses and the automation token in the environment.
#   1. nettwin up: the twin built from the simulator's state (namespaces, VXLAN, FRR EVPN, the guests, the
#      outside, PVE's firewall as nftables, containers for the gateway, hub and service VMs);
#   2. FRR's own check of each node's whole rendered frr.conf; the L2 isolation capture on every bridge;
#   3. nettwin/converge.yml: the real roles on the containers (tenant_gateway, transit_hub, dns_server,
#      postgres_server, object_storage);
#   4. playbooks/verify.yml against the simulator, whose guest agent runs each probe in the guest's namespace:
#      the matrix must match the expectation cell for cell;
#   5. the mutation checks (nettwin/mutations.py; TWIN_MUTATIONS=a,c runs some): each mutation makes verify.yml fail naming exactly the cells
#      it changes, and re-running the playbooks undoes it.
# The twin is torn down on exit, whatever happened (nettwin down: by recorded names and PIDs only).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DEMO_RUN:?run by scripts/demo.sh (make twin)}"
PY=${VENV:-$PWD/.venv}/bin/python
STATE=$DEMO_RUN/twin
INVENTORY=inventories/demo
# nettwin/converge.yml reaches the role containers with containers.podman (make rig puts it in .build/rig)
export ANSIBLE_COLLECTIONS_PATH="$PWD/.build/collections:$PWD/.build/rig/collections"
start=$SECONDS

teardown() {
    local rc=$?
    "$PY" -m nettwin down --state-dir "$STATE" || rc=1
    echo "twin: $([ "$rc" -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - start)) s"
    exit "$rc"
}
trap teardown EXIT

step() { echo "=== twin: $* ($((SECONDS - start)) s)"; }

step "build the twin from the simulator's state"
"$PY" -m nettwin up --state-dir "$STATE" --inventory "$INVENTORY"

step "FRR's own check of each node's rendered frr.conf"
"$PY" -m nettwin frr-check --state-dir "$STATE"

step "L2 isolation: broadcasts and ARP of each tenant, captured on every VNet bridge of every node"
"$PY" -m nettwin l2-check --state-dir "$STATE"

step "the real roles on the gateway, hub and service containers"
"$PY" -m nettwin roles-inventory --state-dir "$STATE" --inventory "$INVENTORY" > "$STATE/roles.yml"
timeout 1200 ansible-playbook -i "$INVENTORY" -i "$STATE/roles.yml" nettwin/converge.yml
# the roles changed the VMs' nftables, not PVE's: nothing to reload; the twin's PVE firewall was loaded by `up`

# verify.yml runs commands in the guests through the agent (VM.GuestAgent.Unrestricted on PVE 9, VM.Monitor on 8.4):
# a privilege the automation role deliberately lacks. The twin runs it, and the mutations' writes and undo runs,
# as root's token of the simulator; on a cluster, give verify.yml a token of its own (docs/verify.md).
export PROXMOX_USER=root@pam PROXMOX_TOKEN_ID=homecloud
PROXMOX_TOKEN_SECRET=$("$PY" -c 'from pvesim.auth import DEMO_TOKEN_SECRET; print(DEMO_TOKEN_SECRET)')
export PROXMOX_TOKEN_SECRET

step "verify.yml: the reachability matrix through the guest agent"
"$PY" -m nettwin verify-inventory --state-dir "$STATE" > "$STATE/verify.yml"
timeout 900 ansible-playbook -i "$INVENTORY" -i "$STATE/verify.yml" playbooks/verify.yml -e "homecloud_verify_dir=$STATE/verify"

step "mutations: each one fails verify.yml naming exactly its cells, re-running the playbooks undoes it"
"$PY" -m nettwin.mutations --state-dir "$STATE" --inventory "$INVENTORY" --baseline "$STATE/verify/matrix.json" \
    ${TWIN_MUTATIONS:+--only "$TWIN_MUTATIONS"}
