#!/usr/bin/env bash
# The networks around the transit hub of the Molecule scenario transit_hub. Every namespace
# and process is this run's own: the names carry a random id kept in STATE_DIR/id, processes
# are ended by the PIDs in STATE_DIR/*.pid. Nothing is created in the host's own network
# namespace and no host sysctl is touched (forwarding is switched on inside the run's
# namespaces only).
#
#   topology.sh hub  STATE_DIR   the hub's namespace (before the container joins it)
#   topology.sh up   STATE_DIR   everything else; undone again when a step fails
#   topology.sh down STATE_DIR   processes and namespaces; safe to repeat
#
# The hub (container hc-hub-1 in namespace hcth-ID), its NICs found by the role by MAC, with the
# addresses cloud-init would give the VM (the demo's numbers):
#   ens18 02:00:00:27:00:00 10.128.241.2/24  transit VNet
#   ens19 02:00:00:27:00:01 10.128.1.2/24    shared services VNet svc, default via 10.128.1.1
# Around it:
#   hctt-ID  the transit VNet: bridge br0 (no address) with the hub and the two gateways
#   hcta-ID  acme's gateway stand-in 10.128.241.10, acme's client 10.128.17.10 on its lo
#            (listens on 8080); routes the services, globex and the management network via
#            the hub, source 10.128.17.10
#   hctg-ID  globex's gateway stand-in 10.128.241.11, client 10.128.33.10 (listens on 8080)
#   hctv-ID  the services VNet: bridge br0 10.128.1.1/24 (the anycast gateway's stand-in),
#            forwards to the management network 192.0.2.0/24
#   hcts-ID  the shared services: dns 10.128.1.10 (53 udp+tcp), s3 .11 (443), postgresql .12
#            (5432); routes the tenants' networks via the hub's 10.128.1.2
#   hctm-ID  management 192.0.2.10 (listens on 8006; Ansible's ssh comes from here)
set -euo pipefail
action=${1:?hub, up or down}
state=${2:?state directory}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$state"
chmod 0700 "$state"

if [ ! -s "$state/id" ]; then
    od -An -N3 -tx1 /dev/urandom | tr -d ' \n' > "$state/id"
fi
id=$(cat "$state/id")
HUB=hcth-$id
TRANSIT=hctt-$id
ACME=hcta-$id
GLOBEX=hctg-$id
SVNET=hctv-$id
SERVICES=hcts-$id
MGMT=hctm-$id
NAMESPACES=("$HUB" "$TRANSIT" "$ACME" "$GLOBEX" "$SVNET" "$SERVICES" "$MGMT")

log() { echo "topology: $*"; }

has_ns() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

# running PID: the process exists and is not a zombie
running() {
    local stat
    stat=$(ps -o stat= -p "$1" 2> /dev/null) || return 1
    [[ $stat != Z* ]]
}

# start NAME NS COMMAND...: a daemon in namespace NS, its PID in STATE_DIR/NAME.pid
start() {
    local name=$1 ns=$2
    shift 2
    setsid ip netns exec "$ns" "$@" > "$state/$name.log" 2>&1 < /dev/null &
    echo $! > "$state/$name.pid"
}

# wait_tcp NS IP PORT: bounded wait until a listener answers
wait_tcp() {
    for _ in $(seq 50); do
        if ip netns exec "$1" timeout 1 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "topology: nothing listens on $2:$3 in $1" >&2
    return 1
}

# veth NS_A IF_A NS_B IF_B [MAC_B]: a veth pair made inside NS_A, its peer moved into NS_B
veth() {
    ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
    [ -z "${5:-}" ] || ip -n "$3" link set "$4" address "$5"
    ip -n "$1" link set "$2" up
    ip -n "$3" link set "$4" up
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
    rm -f "$state/up"
}

case $action in
hub)
    has_ns "$HUB" || ip netns add "$HUB"
    ip -n "$HUB" link set lo up
    echo "$HUB"
    ;;
up)
    has_ns "$HUB" || { echo "topology: run 'hub' first ($HUB missing)" >&2; exit 1; }
    if [ -e "$state/up" ]; then
        log "already up: id $id"
        exit 0
    fi
    for tool in nc python3; do
        command -v "$tool" > /dev/null || {
            echo "topology: $tool is missing on this host (scripts/host-packages.sh)" >&2; exit 1; }
    done
    undo_on_failure() {
        local rc=$?
        [ "$rc" -eq 0 ] || down
        exit "$rc"
    }
    trap undo_on_failure EXIT
    for ns in "${NAMESPACES[@]}"; do
        [ "$ns" = "$HUB" ] || { ip netns add "$ns"; ip -n "$ns" link set lo up; }
    done

    # the transit VNet: the hub and the two tenant gateways' stand-ins on one bridge
    ip -n "$TRANSIT" link add br0 type bridge
    ip -n "$TRANSIT" link set br0 up
    veth "$TRANSIT" tr-hub "$HUB" ens18 02:00:00:27:00:00
    veth "$TRANSIT" tr-acme "$ACME" eth0
    veth "$TRANSIT" tr-globex "$GLOBEX" eth0
    for port in tr-hub tr-acme tr-globex; do ip -n "$TRANSIT" link set "$port" master br0; done

    # the services VNet: the hub, the services and the anycast gateway's stand-in
    ip -n "$SVNET" link add br0 type bridge
    ip -n "$SVNET" addr add 10.128.1.1/24 dev br0
    ip -n "$SVNET" link set br0 up
    veth "$SVNET" sv-hub "$HUB" ens19 02:00:00:27:00:01
    veth "$SVNET" sv-services "$SERVICES" eth0
    for port in sv-hub sv-services; do ip -n "$SVNET" link set "$port" master br0; done
    veth "$SVNET" sv-mgmt "$MGMT" eth0
    ip -n "$SVNET" addr add 192.0.2.1/24 dev sv-mgmt
    ip netns exec "$SVNET" sysctl -qw net.ipv4.ip_forward=1

    # the hub's legs, addressed the way cloud-init addresses the VM; its forwarding switch is
    # its namespace's own (a container cannot write /proc/sys, a VM's role run would)
    ip -n "$HUB" addr add 10.128.241.2/24 dev ens18
    ip -n "$HUB" addr add 10.128.1.2/24 dev ens19
    ip -n "$HUB" route add default via 10.128.1.1
    ip netns exec "$HUB" sysctl -qw net.ipv4.ip_forward=1

    # the tenant gateways' stand-ins: their tenant's client address on lo, the shared services
    # (and, to try, the other tenant and the management network) via the hub
    ip -n "$ACME" addr add 10.128.241.10/24 dev eth0
    ip -n "$ACME" addr add 10.128.17.10/32 dev lo
    for net in 10.128.1.0/24 10.128.32.0/20 192.0.2.0/24; do
        ip -n "$ACME" route add "$net" via 10.128.241.2 src 10.128.17.10
    done
    ip -n "$GLOBEX" addr add 10.128.241.11/24 dev eth0
    ip -n "$GLOBEX" addr add 10.128.33.10/32 dev lo
    for net in 10.128.1.0/24 10.128.16.0/20 192.0.2.0/24; do
        ip -n "$GLOBEX" route add "$net" via 10.128.241.2 src 10.128.33.10
    done

    # the shared services route the tenants' networks via the hub's services leg
    for address in 10.128.1.10 10.128.1.11 10.128.1.12; do
        ip -n "$SERVICES" addr add "$address/24" dev eth0
    done
    ip -n "$SERVICES" route add default via 10.128.1.1
    ip -n "$SERVICES" route add 10.128.16.0/20 via 10.128.1.2
    ip -n "$SERVICES" route add 10.128.32.0/20 via 10.128.1.2

    ip -n "$MGMT" addr add 192.0.2.10/24 dev eth0
    ip -n "$MGMT" route add default via 192.0.2.1

    start services "$SERVICES" python3 "$here/listeners.py" udp:10.128.1.10:53 tcp:10.128.1.10:53 \
        tcp:10.128.1.11:443 tcp:10.128.1.12:5432
    start acme "$ACME" python3 "$here/listeners.py" tcp:10.128.17.10:8080
    start globex "$GLOBEX" python3 "$here/listeners.py" tcp:10.128.33.10:8080
    start management "$MGMT" python3 "$here/listeners.py" tcp:192.0.2.10:8006
    wait_tcp "$SERVICES" 10.128.1.10 53
    wait_tcp "$SERVICES" 10.128.1.11 443
    wait_tcp "$SERVICES" 10.128.1.12 5432
    wait_tcp "$ACME" 10.128.17.10 8080
    wait_tcp "$GLOBEX" 10.128.33.10 8080
    wait_tcp "$MGMT" 192.0.2.10 8006
    touch "$state/up"
    log "up: id $id, hub namespace $HUB"
    ;;
down)
    down
    ;;
*)
    echo "topology.sh: hub, up or down" >&2
    exit 2
    ;;
esac
