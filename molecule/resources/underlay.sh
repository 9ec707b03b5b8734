#!/usr/bin/env bash
# The EVPN underlay of the Molecule scenarios: a Linux bridge in a network namespace of its
# own (the "underlay switch"), and one veth per container whose other end is created
# directly inside the container's network namespace as nic1 (the node's NIC 2). Nothing is
# created in the host's namespace; the containers keep podman's eth0 for apt.
#   underlay.sh up   STATE_FILE MTU CONTAINER...
#   underlay.sh down STATE_FILE
# The namespace name is unique per run and kept in STATE_FILE; `down` deletes it (the
# veths go with it) and is safe to repeat.
set -euo pipefail
action=${1:?up or down}
state=${2:?state file}

down() {
    [ -f "$state" ] || return 0
    local ns
    ns=$(cat "$state")
    if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
        ip netns delete "$ns"
        echo "underlay: deleted namespace $ns"
    fi
    rm -f "$state"
}

case $action in
down)
    down
    ;;
up)
    mtu=${3:?mtu}
    shift 3
    down
    ns=hcu-$(date +%s | tail -c 6)-$$
    echo "$ns" > "$state"
    undo_on_failure() {
        local rc=$?
        [ "$rc" -eq 0 ] || down
        exit "$rc"
    }
    trap undo_on_failure EXIT
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" link add br0 type bridge
    ip -n "$ns" link set br0 mtu "$mtu" up
    n=0
    for container in "$@"; do
        n=$((n + 1))
        pid=$(timeout 30 podman inspect --format '{{.State.Pid}}' "$container")
        [ "$pid" -gt 1 ] || { echo "underlay: $container is not running" >&2; exit 1; }
        ip -n "$ns" link add "p$n" mtu "$mtu" type veth peer name nic1 mtu "$mtu" netns "$pid"
        ip -n "$ns" link set "p$n" master br0 up
        echo "underlay: $container nic1 <-> $ns/p$n on br0"
    done
    ;;
*)
    echo "underlay.sh: up or down" >&2
    exit 2
    ;;
esac
