#!/usr/bin/env bash
# The networks around the tenant gateway of the Molecule scenario tenant_gateway. Every
# namespace, WireGuard interface and process is this run's own: the names carry a random id
# kept in STATE_DIR/id, processes are ended by the PIDs in STATE_DIR/*.pid. Nothing is
# created in the host's own network namespace and no host sysctl is touched.
#
#   topology.sh gateway STATE_DIR   the gateway's namespace (before the container joins it)
#   topology.sh up      STATE_DIR   everything else; undone again when a step fails
#   topology.sh down    STATE_DIR   processes, namespaces, the peer's key directory; safe to repeat
#
# The gateway (container hc-gw-1 in namespace hcgw-ID) has three NICs, found by the role by
# their MAC, with the addresses cloud-init would give a VM:
#   ens18 02:00:00:27:11:00 198.51.100.21/24 external leg, default via 198.51.100.1
#   ens19 02:00:00:27:11:01 10.129.0.2/24   tenant acme, VNet web
#   ens20 02:00:00:27:11:02 10.129.1.2/24   tenant acme, VNet db
#   ens21 02:00:00:27:11:03 10.128.241.10/24 transit leg (the role routes 10.128.1.0/24 via .2)
# Around it:
#   hcta-ID  acme's web client 10.129.0.10 (listens on 8080), default via 10.129.0.2
#   hctd-ID  acme's db server 10.129.1.10 (listens on 5432 and 8080), default via 10.129.1.2
#   hcx-ID   the external LAN: bridge br0 198.51.100.1/24, routes to the internet and the
#            management network, and 10.129.0.0/16 via the gateway (so the outside can try)
#   hcin-ID  "internet" 203.0.113.10 (HTTP on 80, its log names every client address)
#   hcmg-ID  management 192.0.2.11 (listens on 8006, PVE's API port)
#   hcbr-ID  tenant B's router 198.51.100.31 on the LAN, 10.130.0.1 to its client, no NAT,
#            10.129.0.0/24 via the gateway's external address
#   hctb-ID  tenant B's client 10.130.0.10
#   hcwp-ID  a remote user's WireGuard peer 198.51.100.41 on the LAN, wireguard-go
#            interface wgpID with 10.250.1.10; its private key lives in a 0700 directory
#            of its own (STATE_DIR/peer_dir names it), only the public key is in STATE_DIR.
#   hcgh-ID  the transit hub's stand-in: 10.128.241.2 on the transit leg, 10.128.1.2 to the
#            shared services, forwards, routes 10.129.0.0/16 via the gateway's 10.128.241.10
#   hcgs-ID  a shared service behind the hub: 10.128.1.12 (HTTP on 5432, its log names every
#            client address), 10.129.0.0/16 via the hub
set -euo pipefail
action=${1:?gateway, up or down}
state=${2:?state directory}
mkdir -p "$state"
chmod 0700 "$state"

if [ ! -s "$state/id" ]; then
    od -An -N3 -tx1 /dev/urandom | tr -d ' \n' > "$state/id"
fi
id=$(cat "$state/id")
GW=hcgw-$id
WEB=hcta-$id
DB=hctd-$id
LAN=hcx-$id
NET=hcin-$id
MGMT=hcmg-$id
BR=hcbr-$id
TB=hctb-$id
PEER=hcwp-$id
PEER_IF=wgp$id
HUB=hcgh-$id
SERVICE=hcgs-$id
NAMESPACES=("$GW" "$WEB" "$DB" "$LAN" "$NET" "$MGMT" "$BR" "$TB" "$PEER" "$HUB" "$SERVICE")

log() { echo "topology: $*"; }

has_ns() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

# running PID: the process exists and has not ended. An ended daemon whose parent (here the
# machine's PID 1, it was started by a shell that is gone) does not reap it stays a zombie,
# which kill -0 still finds.
running() {
    local stat
    stat=$(ps -o stat= -p "$1" 2> /dev/null) || return 1
    [[ $stat != Z* ]]
}

# start NAME NS COMMAND...: a daemon in namespace NS, its PID in STATE_DIR/NAME.pid
# (ip netns exec execs the command, so $! is the daemon itself), output in NAME.log
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

# http NAME NS IP PORT: python's http.server on IP:PORT serving an empty directory; it logs
# one line per request starting with the client's address. Its server_bind looks up the
# name of the address it binds (socket.getfqdn): in a namespace routed through the gateway
# that DNS query waits for the resolver's timeout, so the name is taken as the address.
http() {
    mkdir -p "$state/www"
    start "$1" "$2" python3 -c '
import runpy, socket, sys
socket.getfqdn = lambda name="": name
sys.argv[0] = "http.server"
runpy.run_module("http.server", run_name="__main__", alter_sys=True)
' --bind "$3" --directory "$state/www" "$4"
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
        # only a process that is still the one started here (its namespace is this run's)
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
    # wireguard-go removes its socket when it ends; a killed one leaves it behind
    rm -f "/var/run/wireguard/$PEER_IF.sock"
    if [ -s "$state/peer_dir" ]; then
        rm -rf "$(cat "$state/peer_dir")"
        rm -f "$state/peer_dir"
    fi
    rm -f "$state/up"
}

case $action in
gateway)
    has_ns "$GW" || ip netns add "$GW"
    ip -n "$GW" link set lo up
    # the gateway namespace's own forwarding switch (a per-namespace sysctl, not the host's):
    # a container cannot write /proc/sys, a VM's role run would
    ip netns exec "$GW" sysctl -qw net.ipv4.ip_forward=1
    echo "$GW"
    ;;
up)
    has_ns "$GW" || { echo "topology: run 'gateway' first ($GW missing)" >&2; exit 1; }
    if [ -e "$state/up" ]; then
        log "already up: id $id"
        exit 0
    fi
    for tool in wg wireguard-go tcpdump nc python3; do
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
        [ "$ns" = "$GW" ] || { ip netns add "$ns"; ip -n "$ns" link set lo up; }
    done

    # the external LAN: a bridge in hcx-ID, the gateway's external leg, tenant B's router and
    # the WireGuard peer on it
    ip -n "$LAN" link add br0 type bridge
    ip -n "$LAN" addr add 198.51.100.1/24 dev br0
    ip -n "$LAN" link set br0 up
    veth "$LAN" lan-gw "$GW" ens18 02:00:00:27:11:00
    veth "$LAN" lan-br "$BR" lan0
    veth "$LAN" lan-wp "$PEER" lan0
    for port in lan-gw lan-br lan-wp; do ip -n "$LAN" link set "$port" master br0; done
    veth "$LAN" to-net "$NET" eth0
    veth "$LAN" to-mgmt "$MGMT" eth0
    ip -n "$LAN" addr add 203.0.113.1/24 dev to-net
    ip -n "$LAN" addr add 192.0.2.1/24 dev to-mgmt
    ip -n "$LAN" route add 10.129.0.0/16 via 198.51.100.21
    ip -n "$LAN" route add 10.130.0.0/24 via 198.51.100.31
    ip netns exec "$LAN" sysctl -qw net.ipv4.ip_forward=1

    # the gateway's legs, addressed the way cloud-init addresses a VM
    ip -n "$GW" addr add 198.51.100.21/24 dev ens18
    ip -n "$GW" route add default via 198.51.100.1
    veth "$WEB" eth0 "$GW" ens19 02:00:00:27:11:01
    veth "$DB" eth0 "$GW" ens20 02:00:00:27:11:02
    ip -n "$GW" addr add 10.129.0.2/24 dev ens19
    ip -n "$GW" addr add 10.129.1.2/24 dev ens20

    # the transit leg to the hub's stand-in, and a shared service behind the hub
    veth "$HUB" transit0 "$GW" ens21 02:00:00:27:11:03
    ip -n "$GW" addr add 10.128.241.10/24 dev ens21
    ip -n "$HUB" addr add 10.128.241.2/24 dev transit0
    veth "$HUB" services0 "$SERVICE" eth0
    ip -n "$HUB" addr add 10.128.1.2/24 dev services0
    ip -n "$HUB" route add 10.129.0.0/16 via 10.128.241.10
    ip netns exec "$HUB" sysctl -qw net.ipv4.ip_forward=1
    ip -n "$SERVICE" addr add 10.128.1.12/24 dev eth0
    ip -n "$SERVICE" route add 10.129.0.0/16 via 10.128.1.2

    ip -n "$WEB" addr add 10.129.0.10/24 dev eth0
    ip -n "$WEB" route add default via 10.129.0.2
    ip -n "$DB" addr add 10.129.1.10/24 dev eth0
    ip -n "$DB" route add default via 10.129.1.2
    ip -n "$NET" addr add 203.0.113.10/24 dev eth0
    ip -n "$NET" route add default via 203.0.113.1
    ip -n "$MGMT" addr add 192.0.2.11/24 dev eth0
    ip -n "$MGMT" route add default via 192.0.2.1

    ip -n "$BR" addr add 198.51.100.31/24 dev lan0
    ip -n "$BR" route add default via 198.51.100.1
    ip -n "$BR" route add 10.129.0.0/24 via 198.51.100.21
    veth "$BR" to-tb "$TB" eth0
    ip -n "$BR" addr add 10.130.0.1/24 dev to-tb
    ip netns exec "$BR" sysctl -qw net.ipv4.ip_forward=1
    ip -n "$TB" addr add 10.130.0.10/24 dev eth0
    ip -n "$TB" route add default via 10.130.0.1

    # the WireGuard peer: key born in its own directory, only the public key leaves it
    peer_dir=$(mktemp -d "/tmp/hc-wgpeer-$id.XXXXXX")
    echo "$peer_dir" > "$state/peer_dir"
    (umask 077 && wg genkey > "$peer_dir/private")
    wg pubkey < "$peer_dir/private" > "$state/peer.pub"
    # a second remote user the inventory declares and a later converge removes (its private
    # key is thrown away at once: only the gateway's peer list matters for it)
    wg genkey | wg pubkey > "$state/peer2.pub"
    ip -n "$PEER" addr add 198.51.100.41/24 dev lan0
    start wireguard-go "$PEER" env WG_PROCESS_FOREGROUND=1 wireguard-go "$PEER_IF"
    for _ in $(seq 50); do
        ip -n "$PEER" link show "$PEER_IF" > /dev/null 2>&1 && break
        sleep 0.1
    done
    ip netns exec "$PEER" wg set "$PEER_IF" private-key "$peer_dir/private"
    ip -n "$PEER" addr add 10.250.1.10/24 dev "$PEER_IF"
    ip -n "$PEER" link set "$PEER_IF" up
    ip -n "$PEER" route add 10.129.0.0/16 dev "$PEER_IF" src 10.250.1.10

    http internet "$NET" 203.0.113.10 80
    http management "$MGMT" 192.0.2.11 8006
    http web "$WEB" 10.129.0.10 8080
    http db-5432 "$DB" 10.129.1.10 5432
    http db-8080 "$DB" 10.129.1.10 8080
    http service "$SERVICE" 10.128.1.12 5432
    wait_tcp "$NET" 203.0.113.10 80
    wait_tcp "$MGMT" 192.0.2.11 8006
    wait_tcp "$WEB" 10.129.0.10 8080
    wait_tcp "$DB" 10.129.1.10 5432
    wait_tcp "$DB" 10.129.1.10 8080
    wait_tcp "$SERVICE" 10.128.1.12 5432
    touch "$state/up"
    log "up: id $id, gateway namespace $GW"
    ;;
down)
    down
    ;;
*)
    echo "topology.sh: gateway, up or down" >&2
    exit 2
    ;;
esac
