#!/usr/bin/env bash
# make rig: prepare this host for the container test rig (podman + Molecule), idempotently.
# Every step checks first and does nothing when it is already in place, so a warm run costs
# a few seconds:
#   1. the Debian packages (scripts/host-packages.sh: podman, runc, debootstrap, ...)
#   2. the podman settings this machine needs (sandbox: runc instead of crun, rlimits podman
#      can set, the netavark network backend), as a containers.conf.d drop-in
#   3. the collections Molecule and the scenarios need (scripts/wheel-collections.sh)
#   4. the image localhost/homecloud-debian-systemd:bookworm: debootstrap --variant=minbase,
#      `podman import`, then the layer in molecule/resources/image/Containerfile. Rebuilt only
#      when the Containerfile or this script's image recipe changed (label homecloud.rig.hash).
# Needs root (rootful podman, debootstrap). RIG_REBUILD=1 forces the image rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-$ROOT/.venv}
RIG=$ROOT/.build/rig
SUITE=bookworm
BASE_IMAGE=localhost/homecloud-debian-base:$SUITE
IMAGE=localhost/homecloud-debian-systemd:$SUITE
CONTAINERFILE=molecule/resources/image/Containerfile
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DROPIN=/etc/containers/containers.conf.d/50-homecloud-rig.conf

log() { echo "rig: $*"; }
[ "$(id -u)" -eq 0 ] || { echo "rig: needs root (rootful podman, debootstrap)" >&2; exit 1; }

# 1. Debian packages
bash scripts/host-packages.sh

# 2. podman settings
want_dropin='# homecloud.proxmox test rig (scripts/test-rig.sh): this host cannot raise rlimits
# beyond these, crun refuses its cgroup layout, and CNI plugins are not installed.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"

[network]
network_backend = "netavark"'
if [ "$(cat "$DROPIN" 2>/dev/null)" != "$want_dropin" ]; then
    mkdir -p "$(dirname "$DROPIN")"
    printf '%s\n' "$want_dropin" > "$DROPIN"
    log "wrote $DROPIN"
fi

# 3. collections from the ansible wheel (also what docs-lint needs: galaxy.yml's dependencies)
bash scripts/wheel-collections.sh
COLL_DIR=$RIG/collections

# 4. the image
image_hash=$( { cat "$CONTAINERFILE"; echo "$SUITE $DEBIAN_MIRROR minbase python3,systemd,systemd-sysv,iproute2,procps"; } |
    sha256sum | cut -c1-16)
have_hash=$(podman image inspect --format '{{ index .Labels "homecloud.rig.hash" }}' "$IMAGE" 2>/dev/null || true)
if [ "$have_hash" = "$image_hash" ] && [ "${RIG_REBUILD:-0}" != 1 ]; then
    log "ready: $IMAGE, collections in $COLL_DIR"
    exit 0
fi

if ! podman image exists "$BASE_IMAGE" || [ "${RIG_REBUILD:-0}" = 1 ]; then
    ROOTFS=$(mktemp -d "$RIG/rootfs.XXXXXX")
    cleanup_rootfs() {
        # debootstrap mounts proc/sys inside the tree while it runs: unmount whatever is
        # left, and never delete a tree that still has a mount below it.
        local m
        for m in $( (findmnt -R -n -o TARGET --list "$ROOTFS" 2>/dev/null || true) | sort -r); do
            [ "$m" = "$ROOTFS" ] || umount -l "$m" || true
        done
        if [ -z "$(findmnt -R -n -o TARGET --list "$ROOTFS" 2>/dev/null | grep -vx "$ROOTFS" || true)" ]; then
            rm -rf "$ROOTFS"
        else
            echo "rig: mounts left under $ROOTFS: not removed" >&2
        fi
    }
    trap cleanup_rootfs EXIT
    log "debootstrap $SUITE into $ROOTFS (about a minute)"
    timeout 900 debootstrap --variant=minbase --include=python3,systemd,systemd-sysv,iproute2,procps \
        "$SUITE" "$ROOTFS" "$DEBIAN_MIRROR" > "$RIG/debootstrap.log" 2>&1 ||
        { tail -n 20 "$RIG/debootstrap.log" >&2; exit 1; }
    # apt's lists are fetched again in the layer; the host's resolv.conf stays out.
    rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/archives/*.deb
    : > "$ROOTFS/etc/resolv.conf"
    log "podman import $BASE_IMAGE"
    tar -C "$ROOTFS" --numeric-owner -c . |
        podman import --quiet --change 'CMD ["/lib/systemd/systemd"]' - "$BASE_IMAGE" >/dev/null
    cleanup_rootfs
    trap - EXIT
fi

log "podman build $IMAGE"
timeout 900 podman build --quiet --label "homecloud.rig.hash=$image_hash" -t "$IMAGE" \
    -f "$CONTAINERFILE" "$(dirname "$CONTAINERFILE")" >/dev/null
log "ready: $IMAGE, collections in $COLL_DIR"
