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
set -euo pipefail

PACKAGES=(make git tar ca-certificates python3-venv shellcheck
    podman runc netavark aardvark-dns catatonit uidmap slirp4netns fuse-overlayfs iptables
    debootstrap iproute2)

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "host-packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
