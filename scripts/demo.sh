#!/usr/bin/env bash
# make demo: a simulated Proxmox VE cluster (pvesim, 3 nodes), a simulated Proxmox Backup Server
# (pbssim), a simulated Cloudflare API (cfsim) and a simulated Technitium DNS Server (technitiumsim),
# and the demo playbooks run against them, twice:
# the second run must change nothing.
#
# Environment knobs:
#   PVE_VERSION      simulated release, 9.1 (default) or 8.4
#   DEMO_NODES       node names, default pve1,pve2,pve3
#   DEMO_PLAYBOOKS   playbooks to run, in order (default: access.yml, cluster_info.yml,
#                    tenant_network.yml, tenant_access.yml, firewall.yml, guest_templates.yml,
#                    tenant_guests.yml, data_protection.yml, tenant_gateway.yml, shared_services.yml,
#                    transit.yml)
#   DEMO_AUTOMATION  1 (default): access.yml runs as root@pam's token and creates the
#                    HomecloudAutomation token; every other playbook runs with that token.
#                    0: everything runs as root@pam's token.
#   DEMO_PASSES      how many times the playbooks run (default 2: the second must change nothing)
#   DEMO_KEEP=1      keep the run directory (simulator log, certificate) after the run
#   DEMO_SIM_ARGS    more options for the Proxmox VE simulator (`make twin`: --exec-netns-prefix)
#   DEMO_AFTER       a command run after the second pass while the simulators still run, with their
#                    addresses and the automation token in the environment and DEMO_RUN naming the run
#                    directory (`make twin` builds the network twin and runs verify.yml there)
#   DEMO_TASK_SECONDS  seconds each simulated task (clone, start, backup...) runs, default the
#                    simulators' own (0.5); the test suite runs the demo with 0.05
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-$ROOT/.venv}
PY=$VENV/bin/python
export PATH="$VENV/bin:$PATH"

PVE_VERSION=${PVE_VERSION:-9.1}
DEMO_NODES=${DEMO_NODES:-pve1,pve2,pve3}
read -r -a PLAYBOOKS <<< "${DEMO_PLAYBOOKS:-playbooks/access.yml playbooks/cluster_info.yml playbooks/tenant_network.yml playbooks/tenant_access.yml playbooks/firewall.yml playbooks/guest_templates.yml playbooks/tenant_guests.yml playbooks/data_protection.yml playbooks/tenant_gateway.yml playbooks/shared_services.yml playbooks/transit.yml}"
DEMO_AUTOMATION=${DEMO_AUTOMATION:-1}
INVENTORY=inventories/demo
START_TIMEOUT=30        # seconds the simulator gets to write its port file
PLAY_TIMEOUT=900        # seconds one ansible-playbook run may take

for f in "$INVENTORY/hosts.yml" "${PLAYBOOKS[@]}"; do
    [ -e "$f" ] || { echo "demo: $f is missing" >&2; exit 1; }
done
"$PY" -c 'import pvesim' 2>/dev/null || { echo "demo: the simulator package pvesim is not importable from $ROOT" >&2; exit 1; }

RUN=$(mktemp -d "${TMPDIR:-/tmp}/homecloud-demo.XXXXXX")
PORT_FILE=$RUN/port
CERT=$RUN/pve-ssl.pem
SIM_LOG=$RUN/pvesim.log
SIM_PID=
PBS_PORT_FILE=$RUN/pbs-port
PBS_CERT=$RUN/pbs-ssl.pem
PBS_FINGERPRINT_FILE=$RUN/pbs-fingerprint
PBS_LOG=$RUN/pbssim.log
PBS_PID=
CF_PORT_FILE=$RUN/cf-port
CF_CERT=$RUN/cf-ssl.pem
CF_LOG=$RUN/cfsim.log
CF_PID=
DNS_PORT_FILE=$RUN/technitium-port
DNS_QUERY_PORT_FILE=$RUN/technitium-dns-port
DNS_LOG=$RUN/technitiumsim.log
DNS_PID=

stop_pid() {  # TERM, up to 5 s, then KILL; by PID only
    local pid=$1
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null || true
    fi
}

stop_simulator() {
    local rc=$?
    stop_pid "$SIM_PID"
    stop_pid "$PBS_PID"
    stop_pid "$CF_PID"
    stop_pid "$DNS_PID"
    if [ "$rc" -ne 0 ]; then
        for log in "$SIM_LOG" "$PBS_LOG" "$CF_LOG" "$DNS_LOG"; do
            [ -s "$log" ] || continue
            echo "demo: last lines of the simulator log ($log):" >&2
            tail -n 20 "$log" >&2
        done
    fi
    if [ "${DEMO_KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
        echo "demo: run directory kept: $RUN" >&2
    else
        rm -rf "$RUN"
    fi
    exit "$rc"
}
trap stop_simulator EXIT
trap 'exit 130' INT TERM

# The simulator's default API token, root@pam!homecloud, with the demo secret it documents
# (python -m pvesim --help); the modules read it from PROXMOX_TOKEN_SECRET.
TOKEN_SECRET=$("$PY" -c 'from pvesim.auth import DEMO_TOKEN_SECRET; print(DEMO_TOKEN_SECRET)')

echo "demo: starting the Proxmox VE $PVE_VERSION simulator with nodes $DEMO_NODES"
TASK_OPTIONS=()
[ -n "${DEMO_TASK_SECONDS:-}" ] && TASK_OPTIONS=(--task-duration "$DEMO_TASK_SECONDS")
read -r -a SIM_OPTIONS <<< "${DEMO_SIM_ARGS:-}"
"$PY" -m pvesim --pve-version "$PVE_VERSION" --nodes "$DEMO_NODES" --bind 127.0.0.1 "${TASK_OPTIONS[@]}" "${SIM_OPTIONS[@]}" \
    --port 0 --port-file "$PORT_FILE" --cert-file "$CERT" >"$SIM_LOG" 2>&1 </dev/null &
SIM_PID=$!

# The backup server's default admin token, with the secret it documents (python -m pbssim --help).
PBS_ADMIN=$("$PY" -c 'from pbssim.simulator import DEFAULT_TOKEN, DEMO_TOKEN_SECRET; print(DEFAULT_TOKEN + "=" + DEMO_TOKEN_SECRET)')
echo "demo: starting the Proxmox Backup Server simulator"
"$PY" -m pbssim --bind 127.0.0.1 "${TASK_OPTIONS[@]}" --port 0 --port-file "$PBS_PORT_FILE" --cert-file "$PBS_CERT" \
    --fingerprint-file "$PBS_FINGERPRINT_FILE" >"$PBS_LOG" 2>&1 </dev/null &
PBS_PID=$!

echo "demo: starting the Cloudflare API simulator"
"$PY" -m cfsim --bind 127.0.0.1 --port 0 --port-file "$CF_PORT_FILE" --cert-file "$CF_CERT" \
    >"$CF_LOG" 2>&1 </dev/null &
CF_PID=$!

echo "demo: starting the Technitium DNS Server simulator"
"$PY" -m technitiumsim --bind 127.0.0.1 --port 0 --port-file "$DNS_PORT_FILE" --dns-port 0 \
    --dns-port-file "$DNS_QUERY_PORT_FILE" >"$DNS_LOG" 2>&1 </dev/null &
DNS_PID=$!

wait_ready() {  # pid, name, files the simulator writes once it listens
    local pid=$1 name=$2; shift 2
    local deadline=$((SECONDS + START_TIMEOUT)) file
    for file in "$@"; do
        until [ -s "$file" ]; do
            if ! kill -0 "$pid" 2>/dev/null; then
                echo "demo: the $name simulator exited before it was ready" >&2; exit 1
            fi
            if [ "$SECONDS" -ge "$deadline" ]; then
                echo "demo: the $name simulator did not write $file within ${START_TIMEOUT}s" >&2; exit 1
            fi
            sleep 0.1
        done
    done
}
wait_ready "$SIM_PID" "Proxmox VE" "$PORT_FILE" "$CERT"
wait_ready "$PBS_PID" "Proxmox Backup Server" "$PBS_PORT_FILE" "$PBS_FINGERPRINT_FILE"
wait_ready "$CF_PID" "Cloudflare API" "$CF_PORT_FILE" "$CF_CERT"
wait_ready "$DNS_PID" "Technitium DNS Server" "$DNS_QUERY_PORT_FILE" "$DNS_PORT_FILE"
PORT=$(tr -d '[:space:]' < "$PORT_FILE")
echo "demo: simulator (pid $SIM_PID) listening on https://127.0.0.1:$PORT/api2/json"
export PBS_HOST=127.0.0.1 PBS_PORT PBS_FINGERPRINT PBS_TOKEN_ID=${PBS_ADMIN%%=*} PBS_TOKEN_SECRET=${PBS_ADMIN#*=}
PBS_PORT=$(tr -d '[:space:]' < "$PBS_PORT_FILE")
PBS_FINGERPRINT=$(tr -d '[:space:]' < "$PBS_FINGERPRINT_FILE")
echo "demo: backup server simulator (pid $PBS_PID) listening on https://127.0.0.1:$PBS_PORT/api2/json (fingerprint $PBS_FINGERPRINT)"

# The Cloudflare simulator's demo token and account (python -m cfsim --help).
CF_PORT=$(tr -d '[:space:]' < "$CF_PORT_FILE")
export CLOUDFLARE_API_URL="https://127.0.0.1:$CF_PORT/client/v4" CLOUDFLARE_CA_PATH="$CF_CERT"
CLOUDFLARE_API_TOKEN=$("$PY" -c 'from cfsim.simulator import DEMO_TOKEN; print(DEMO_TOKEN)')
CLOUDFLARE_ACCOUNT_ID=$("$PY" -c 'from cfsim.simulator import DEFAULT_ACCOUNT_ID; print(DEFAULT_ACCOUNT_ID)')
export CLOUDFLARE_API_TOKEN CLOUDFLARE_ACCOUNT_ID
echo "demo: Cloudflare API simulator (pid $CF_PID) listening on $CLOUDFLARE_API_URL"

# The Technitium simulator's demo token (python -m technitiumsim --help); its DNS service answers on the
# port in $DNS_QUERY_PORT_FILE: dig -p PORT @127.0.0.1 web1.acme.lab.internal
TECHNITIUM_API_URL="http://127.0.0.1:$(tr -d '[:space:]' < "$DNS_PORT_FILE")"
TECHNITIUM_API_TOKEN=$("$PY" -c 'from technitiumsim.simulator import DEMO_TOKEN; print(DEMO_TOKEN)')
export TECHNITIUM_API_URL TECHNITIUM_API_TOKEN
echo "demo: Technitium DNS Server simulator (pid $DNS_PID) listening on $TECHNITIUM_API_URL, DNS on 127.0.0.1 port $(tr -d '[:space:]' < "$DNS_QUERY_PORT_FILE")"

export PROXMOX_HOST=127.0.0.1 PROXMOX_PORT="$PORT" PROXMOX_CA_PATH="$CERT"
AUTOMATION_TOKEN_FILE=$RUN/automation-token   # written (0600) by access.yml when it creates the token
# Who a playbook runs as: access.yml (and everything with DEMO_AUTOMATION=0) as root@pam's
# token; the rest as the HomecloudAutomation token access.yml created.
use_identity() {
    if [ "$1" = access.yml ] || [ "$DEMO_AUTOMATION" != 1 ]; then
        export PROXMOX_USER=root@pam PROXMOX_TOKEN_ID=homecloud PROXMOX_TOKEN_SECRET="$TOKEN_SECRET"
    else
        [ -s "$AUTOMATION_TOKEN_FILE" ] || { echo "demo: no automation token: run playbooks/access.yml first" >&2; exit 1; }
        local token; token=$(cat "$AUTOMATION_TOKEN_FILE")
        export PROXMOX_USER=${token%%!*} PROXMOX_TOKEN_ID=${token#*!}
        PROXMOX_TOKEN_ID=${PROXMOX_TOKEN_ID%%=*}; PROXMOX_TOKEN_SECRET=${token#*=}; export PROXMOX_TOKEN_SECRET
    fi
}
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.build/collections"
if [ -n "${CI:-}" ]; then export ANSIBLE_NOCOLOR=1; fi

# What the simulator counted so far (its /_sim/counters side channel): the proof that a
# second run makes no write and no SDN apply.
sim_counters() {
    "$PY" - "$PORT" "$CERT" <<'PYEOF'
import json, ssl, sys, urllib.request
context = ssl.create_default_context(cafile=sys.argv[2])
with urllib.request.urlopen("https://127.0.0.1:%s/_sim/counters" % sys.argv[1], context=context, timeout=10) as answer:
    counters = json.load(answer)["data"]
print("%(total)d requests, %(writes)d writes, %(sdn_applies)d SDN applies" % counters)
PYEOF
}

# The simulator cannot reach the internet: it serves a stand-in for the inventory's cloud
# image URL (its /_sim/storage/images side channel), whose sha256 the demo inventory names.
"$PY" - "$PORT" "$CERT" "$INVENTORY/group_vars/all/guests.yml" <<'PYEOF'
import hashlib, json, ssl, sys, urllib.request
import yaml
STAND_IN = "pvesim demo stand-in for debian-12-genericcloud-amd64.qcow2\n"
with open(sys.argv[3]) as handle:
    image = yaml.safe_load(handle)["homecloud_guest_image"]
digest = "sha256:" + hashlib.sha256(STAND_IN.encode()).hexdigest()
if image["checksum"] != digest:
    sys.exit("demo: %s names checksum %s; the simulator's stand-in image has %s" % (sys.argv[3], image["checksum"], digest))
request = urllib.request.Request("https://127.0.0.1:%s/_sim/storage/images" % sys.argv[1], method="POST",
                                 data=json.dumps({"url": image["url"], "content": STAND_IN}).encode(),
                                 headers={"Content-Type": "application/json"})
with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=sys.argv[2]), timeout=10):
    print("demo: the simulator serves a stand-in image for %s" % image["url"])
PYEOF

# The gateway VMs of the demo are simulated: there is no operating system to configure (the
# tenant_gateway role is proven in molecule/tenant_gateway). This machine plays the gateway for the
# tunnels' credentials, written 0600 under the run directory.
GATEWAY_OPTIONS=(-e homecloud_gateway_connection=local -e "ansible_python_interpreter=$PY"
                 -e "homecloud_cloudflared_dir=$RUN/cloudflared" --skip-tags gateway_os)

for pass in $(seq "${DEMO_PASSES:-2}"); do
    for playbook in "${PLAYBOOKS[@]}"; do
        use_identity "$(basename "$playbook")"
        echo "demo: run $pass: ansible-playbook -i $INVENTORY $playbook (as $PROXMOX_USER!$PROXMOX_TOKEN_ID)"
        out=$RUN/run$pass-$(basename "$playbook" .yml).log
        before=$(sim_counters)
        options=()
        [ "$(basename "$playbook")" = tenant_gateway.yml ] && options=("${GATEWAY_OPTIONS[@]}")
        # the simulated hub VM runs no operating system to configure (the twin's hub does: DEMO_AFTER)
        [ "$(basename "$playbook")" = transit.yml ] && options=(--skip-tags transit_os)
        timeout "$PLAY_TIMEOUT" ansible-playbook -i "$INVENTORY" "$playbook" \
            -e homecloud_automation_token_file="$AUTOMATION_TOKEN_FILE" "${options[@]}" | tee "$out"
        echo "demo: simulator counters before: $before; after: $(sim_counters)"
        if [ "$pass" = 2 ] && grep -Eq '^[^ ].*: ok=[0-9]+ +changed=[1-9]' "$out"; then
            echo "demo: the second run of $playbook changed something: not idempotent" >&2; exit 1
        fi
    done
done
"$PY" - "$RUN" <<'PYEOF'
# access.yml shows the automation token's secret once, when it creates the token: in no other output of the demo
import glob, os, re, sys
logs = sorted(glob.glob(os.path.join(sys.argv[1], "run*.log")))
text = "".join(open(path, encoding="utf-8", errors="replace").read() for path in logs)
shown = re.findall(r'this is the only time its secret is shown:",\s+"([0-9a-f-]{36})"', text)
if len(shown) != 1 or text.count(shown[0]) != 1:
    sys.exit("demo: the automation token's secret must be shown exactly once in the runs' output (shown %d times, "
             "found %d times)" % (len(shown), text.count(shown[0]) if shown else 0))
print("demo: the automation token's secret was shown once, when access.yml created it, and nowhere else")
PYEOF
if [ "${DEMO_PASSES:-2}" -ge 2 ]; then echo "demo: done; the second run changed nothing"; else echo "demo: done (one run)"; fi
if [ -n "${DEMO_AFTER:-}" ]; then
    use_identity after
    export DEMO_RUN=$RUN PVESIM_PORT=$PORT
    echo "demo: after the demo: $DEMO_AFTER"
    bash -c "$DEMO_AFTER"
fi
