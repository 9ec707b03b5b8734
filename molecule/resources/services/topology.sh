#!/usr/bin/env bash
# The shared services rig: the networks around ONE shared service VM (DNS, S3 or PostgreSQL)
# of the Molecule scenarios dns_server, object_storage and postgres_server. Each scenario
# calls it with a state directory under its own ephemeral directory and its own service
# address, so the three can run at the same time: every namespace and process is this run's
# own (the names carry a random id kept in STATE_DIR/id, processes are ended by the PIDs in
# STATE_DIR/*.pid). Nothing is created in the host's own network namespace and no host sysctl
# is touched (forwarding is switched on inside the router's namespace only).
#
#   topology.sh up   STATE_DIR ADDRESS   every namespace (undone again when a step fails);
#                                        prints the service namespace's name last
#   topology.sh start STATE_DIR NAME ROLE COMMAND...
#                                        a daemon in the namespace of ROLE (acme, globex,
#                                        outside, admin, router), PID in STATE_DIR/NAME.pid,
#                                        output in NAME.log; down ends it
#   topology.sh down STATE_DIR           processes and namespaces; safe to repeat
#
# The service container (create.yml: `podman run --network ns:/run/netns/hcsv-ID`) finds
# eth0 with ADDRESS/24 in the shared services VNet svc 10.128.1.0/24, default via
# 10.128.1.1. Around it, the router hcsr-ID with one leg per network:
#   svc     10.128.1.1/24    the service VM (hcsv-ID, ADDRESS)
#   acme    10.128.17.1/24   tenant acme's client hcsa-ID 10.128.17.10 (web1 of the demo plan)
#   globex  10.128.33.1/24   tenant globex's client hcsb-ID 10.128.33.10 (app1)
#   outside 203.0.113.1/24   a host outside the cloud, hcso-ID 203.0.113.10
#   admin   192.0.2.1/24     the admin LAN hcsl-ID 192.0.2.10: Ansible's ssh reaches the
#                            service address from there (molecule.yml, ProxyCommand)
# The router forwards between every leg except: tenants and the outside never reach the
# admin LAN, and one tenant never reaches the other (policy rules, `prohibit`: the sender
# gets an ICMP error at once, no probe waits for a timeout). The outside does reach the
# service, so a refusal seen from there is the service's own decision, not the network's.
# The state directory lists the client namespaces in STATE_DIR/namespaces (role name), which
# molecule/resources/rig.py reads for the tests.
#
# How a scenario uses the rig (molecule/dns_server/molecule.yml is the example): ONE platform
# with its own container name; provisioner.playbooks create/prepare/destroy pointing at
# ../resources/services/{create,prepare,destroy}.yml; provisioner.inventory.host_vars.<name>
# .service_address 10.128.1.x (DNS .10, S3 .11, PostgreSQL .12); connection_options with
# ansible_host "{{ service_address }}", the admin key ${MOLECULE_EPHEMERAL_DIRECTORY}/admin_ed25519,
# ControlPath ${MOLECULE_EPHEMERAL_DIRECTORY}/ssh-service (destroy.yml ends that master) and the
# ProxyCommand `ip netns exec hcsl-<id of topology/id> nc %h %p`. Tests run probes in the
# client namespaces with rig.services_namespaces() and rig.run_in_namespace().
set -euo pipefail
action=${1:?up or down}
state=${2:?state directory}
mkdir -p "$state"
chmod 0700 "$state"

if [ ! -s "$state/id" ]; then
    od -An -N3 -tx1 /dev/urandom | tr -d ' \n' > "$state/id"
fi
id=$(cat "$state/id")
SERVICE=hcsv-$id
ROUTER=hcsr-$id
ACME=hcsa-$id
GLOBEX=hcsb-$id
OUTSIDE=hcso-$id
ADMIN=hcsl-$id
NAMESPACES=("$SERVICE" "$ROUTER" "$ACME" "$GLOBEX" "$OUTSIDE" "$ADMIN")
SVC_NET=10.128.1.0/24

log() { echo "topology: $*"; }

has_ns() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

# running PID: the process exists and has not ended. An ended daemon whose parent does not
# reap it stays a zombie, which kill -0 still finds.
running() {
    local stat
    stat=$(ps -o stat= -p "$1" 2> /dev/null) || return 1
    [[ $stat != Z* ]]
}

# veth NS_A IF_A NS_B IF_B: a veth pair made inside NS_A, its peer moved into NS_B
veth() {
    ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
    ip -n "$1" link set "$2" up
    ip -n "$3" link set "$4" up
}

# client NS ROUTER_IF ROUTER_ADDRESS CLIENT_ADDRESS (both /24): a client namespace behind
# the router, default via the router's leg
client() {
    veth "$ROUTER" "$2" "$1" eth0
    ip -n "$ROUTER" addr add "$3/24" dev "$2"
    ip -n "$1" addr add "$4/24" dev eth0
    ip -n "$1" route add default via "$3"
}

# start NAME NS COMMAND...: a daemon in namespace NS, its PID in STATE_DIR/NAME.pid
# (ip netns exec execs the command, so $! is the daemon itself), output in NAME.log
start() {
    local name=$1 ns=$2
    shift 2
    setsid ip netns exec "$ns" "$@" > "$state/$name.log" 2>&1 < /dev/null &
    echo $! > "$state/$name.pid"
}

down() {
    local pidfile pid ns
    for pidfile in "$state"/*.pid; do
        [ -e "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        if [ -n "$pid" ] && running "$pid"; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 20); do running "$pid" || break; sleep 0.1; done
            if running "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
        fi
        rm -f "$pidfile"
    done
    for ns in "${NAMESPACES[@]}"; do
        if has_ns "$ns"; then
            ip netns delete "$ns"
            log "deleted namespace $ns"
        fi
    done
    rm -f "$state/up" "$state/namespaces" "$state/service_address"
}

case $action in
up)
    address=${3:?service address in $SVC_NET}
    if ! [[ $address =~ ^10\.128\.1\.([0-9]{1,3})$ ]] || [ "${BASH_REMATCH[1]}" -lt 2 ] || [ "${BASH_REMATCH[1]}" -gt 254 ]; then
        echo "topology: service address $address is not a host of $SVC_NET other than the router's 10.128.1.1" >&2
        exit 2
    fi
    if [ -e "$state/up" ]; then
        if [ "$(cat "$state/service_address")" != "$address" ]; then
            echo "topology: run $id is up with service address $(cat "$state/service_address"), not $address" >&2
            exit 1
        fi
        log "already up: id $id"
        echo "$SERVICE"
        exit 0
    fi
    undo_on_failure() {
        local rc=$?
        [ "$rc" -eq 0 ] || down
        exit "$rc"
    }
    trap undo_on_failure EXIT
    for ns in "${NAMESPACES[@]}"; do
        has_ns "$ns" || ip netns add "$ns"
        ip -n "$ns" link set lo up
    done

    # the service VM's leg: eth0 in the namespace the container joins, addressed the way
    # cloud-init addresses a VM
    veth "$ROUTER" svc "$SERVICE" eth0
    ip -n "$ROUTER" addr add 10.128.1.1/24 dev svc
    ip -n "$SERVICE" addr add "$address/24" dev eth0
    ip -n "$SERVICE" route add default via 10.128.1.1

    client "$ACME" acme 10.128.17.1 10.128.17.10
    client "$GLOBEX" globex 10.128.33.1 10.128.33.10
    client "$OUTSIDE" outside 203.0.113.1 203.0.113.10
    client "$ADMIN" admin 192.0.2.1 192.0.2.10

    # what the cloud's firewall would refuse on the way (the services themselves decide the rest)
    for source in 10.128.16.0/20 10.128.32.0/20 203.0.113.0/24; do
        ip -n "$ROUTER" rule add from "$source" to 192.0.2.0/24 prohibit
    done
    ip -n "$ROUTER" rule add from 10.128.16.0/20 to 10.128.32.0/20 prohibit
    ip -n "$ROUTER" rule add from 10.128.32.0/20 to 10.128.16.0/20 prohibit
    # the router namespace's own forwarding switch (per namespace, not the host's)
    ip netns exec "$ROUTER" sysctl -qw net.ipv4.ip_forward=1

    # bounded check that the admin LAN reaches the service address through the router
    reached=false
    for _ in $(seq 20); do
        if ip netns exec "$ADMIN" ping -n -c 1 -W 1 "$address" > /dev/null 2>&1; then
            reached=true
            break
        fi
        sleep 0.1
    done
    $reached || { echo "topology: $address does not answer from the admin LAN $ADMIN" >&2; exit 1; }

    printf 'service %s\nrouter %s\nacme %s\nglobex %s\noutside %s\nadmin %s\n' \
        "$SERVICE" "$ROUTER" "$ACME" "$GLOBEX" "$OUTSIDE" "$ADMIN" > "$state/namespaces"
    echo "$address" > "$state/service_address"
    touch "$state/up"
    log "up: id $id, service $address in $SERVICE"
    echo "$SERVICE"
    ;;
start)
    [ -e "$state/up" ] || { echo "topology: run $id is not up" >&2; exit 1; }
    name=${3:?daemon name}
    role=${4:?namespace role}
    shift 4
    [ "$#" -gt 0 ] || { echo "topology: start needs a command" >&2; exit 2; }
    [[ $name =~ ^[a-z0-9_-]+$ ]] || { echo "topology: daemon name $name: letters, digits, - and _ only" >&2; exit 2; }
    ns=$(awk -v role="$role" '$1 == role {print $2}' "$state/namespaces")
    if [ -z "$ns" ] || [ "$role" = service ]; then
        echo "topology: no client namespace $role (acme, globex, outside, admin, router)" >&2
        exit 2
    fi
    if [ -s "$state/$name.pid" ] && running "$(cat "$state/$name.pid")"; then
        echo "topology: $name is running already" >&2
        exit 1
    fi
    start "$name" "$ns" "$@"
    log "started $name in $ns (pid $(cat "$state/$name.pid"))"
    ;;
down)
    down
    ;;
*)
    echo "topology.sh: up, start or down" >&2
    exit 2
    ;;
esac
