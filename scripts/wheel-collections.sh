#!/usr/bin/env bash
# The other collections the tests need, extracted from PyPI's `ansible` wheel into
# .build/rig/collections - no Galaxy server is reachable: containers.podman (Molecule's podman
# connection), ansible.posix (sysctl, profile_tasks), community.postgresql (galaxy.yml's dependency,
# for the postgres_server role; antsibull-docs loads it with this collection). Idempotent: a stamp
# names the package version and the collections, so a warm run does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-$ROOT/.venv}
RIG=$ROOT/.build/rig
# ansible 12.x is the community package built for ansible-core 2.19 (Python 3.11 gets up to
# 12.3.0); only the collections below are taken out of it.
ANSIBLE_PACKAGE_VERSION=12.3.0
COLLECTIONS=(containers/podman ansible/posix community/postgresql)
COLL_DIR=$RIG/collections
# the stamp names the collections too: a collection added to the list is extracted at the next run
COLL_STAMP=$COLL_DIR/.ansible-$ANSIBLE_PACKAGE_VERSION-$(IFS=+; echo "${COLLECTIONS[*]//\//.}")
[ -e "$COLL_STAMP" ] && exit 0

mkdir -p "$RIG/wheel"
wheel=$(find "$RIG/wheel" -name "ansible-$ANSIBLE_PACKAGE_VERSION-*.whl" | head -1)
if [ -z "$wheel" ]; then
    echo "collections: downloading ansible==$ANSIBLE_PACKAGE_VERSION (once) for its collections"
    timeout 600 "$VENV/bin/python" -m pip download --quiet --no-deps --disable-pip-version-check \
        -d "$RIG/wheel" "ansible==$ANSIBLE_PACKAGE_VERSION"
    wheel=$(find "$RIG/wheel" -name "ansible-$ANSIBLE_PACKAGE_VERSION-*.whl" | head -1)
fi
rm -rf "$COLL_DIR"
mkdir -p "$COLL_DIR"
"$VENV/bin/python" - "$wheel" "$COLL_DIR" "${COLLECTIONS[@]}" <<'PYEOF'
import sys
import zipfile

wheel, dest, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
prefixes = tuple("ansible_collections/%s/" % name for name in wanted)
with zipfile.ZipFile(wheel) as archive:
    members = [m for m in archive.namelist() if m.startswith(prefixes)]
    archive.extractall(dest, members)
print("collections: extracted %s (%d files)" % (", ".join(wanted), len(members)))
PYEOF
touch "$COLL_STAMP"
