#!/usr/bin/env bash
# Install the Debian packages `make test` needs, only those that are missing: when all are
# present this costs one dpkg-query and nothing else. Needs root (or sudo) only to install.
#   make, git, tar  the make targets; the sanity copy lists files with git ls-files
#   python3-venv    venv/ensurepip for a Debian python3.11 (pyenv builds have it built in)
#   (the Debian package named after the shell linter) ansible-test's shell sanity test
#                   needs it; without it that test is skipped with a warning
#   podman .. debootstrap  the container test rig (make rig / make molecule, see
#                   scripts/test-rig.sh): rootful podman with runc, the local Debian image
#                   built with debootstrap, iproute2 for the network namespaces
#   frr             only for `vtysh -C -f`, which checks the frr.conf pvesim renders with FRR's
#                   own grammar (tests/sim/test_sim_sdn_render.py); no FRR daemon may run on
#                   the host, so services are blocked while installing (see below)
#   nftables        only for `nft -c -f`, which checks the tenant gateway's rendered ruleset
#                   (tests/unit/test_tenant_gateway_templates.py) inside a network namespace of the
#                   test; nothing is loaded into the host's ruleset and its service stays off
#   wireguard-go wireguard-tools tcpdump netcat-openbsd iputils-ping  the tenant gateway scenario
#                   (molecule/tenant_gateway): a WireGuard peer, packet captures and probes, all
#                   inside network namespaces of the run
set -euo pipefail

PACKAGES=(make git tar ca-certificates python3-venv shellcheck
    podman runc netavark aardvark-dns catatonit uidmap slirp4netns fuse-overlayfs iptables
    debootstrap iproute2 frr nftables wireguard-go wireguard-tools tcpdump netcat-openbsd iputils-ping
    bind9 bind9-dnsutils postgresql)
# FRR's daemons as `ps -o comm` shows them: none of them may be left running by the install
FRR_DAEMONS=(watchfrr zebra bgpd bfdd staticd mgmtd ospfd ospf6d isisd fabricd ripd ripngd ldpd pimd)

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# Debian's maintainer scripts start services through invoke-rc.d, which asks
# /usr/sbin/policy-rc.d first: exit code 101 means "action forbidden". Put such a policy in
# place for the install and put back whatever was there before (a container image may ship
# its own), even when apt-get fails.
POLICY=/usr/sbin/policy-rc.d
policy_backup=$(mktemp)
had_policy=no
if [ -e "$POLICY" ]; then
    $SUDO cp -p "$POLICY" "$policy_backup"
    had_policy=yes
fi
restore_policy() {
    if [ "$had_policy" = yes ]; then
        $SUDO cp -p "$policy_backup" "$POLICY"
    else
        $SUDO rm -f "$POLICY"
    fi
    rm -f "$policy_backup"
}
trap restore_policy EXIT
printf '#!/bin/sh\n# scripts/host-packages.sh: no service starts while packages install\nexit 101\n' \
    | $SUDO tee "$POLICY" >/dev/null
$SUDO chmod 0755 "$POLICY"

echo "host-packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

# frr's postinst enables frr.service: a systemd host would start the daemons at its next boot
if [[ " ${missing[*]} " == *" frr "* ]] && command -v systemctl >/dev/null; then
    $SUDO systemctl disable frr.service >/dev/null 2>&1 || echo "host-packages: could not disable frr.service" >&2
fi

# Look only (never kill by name): a daemon running now means the policy above did not hold.
# (one name per pgrep: it matches at most 15 characters of a pattern against a process name)
running=()
for daemon in "${FRR_DAEMONS[@]}"; do
    # shellcheck disable=SC2207  # PIDs: one word each
    running+=($(pgrep -x "$daemon" || true))
done
if [ "${#running[@]}" -gt 0 ]; then
    echo "host-packages: FRR daemons are running after the install (PIDs ${running[*]}); stop them by PID" >&2
    exit 1
fi
