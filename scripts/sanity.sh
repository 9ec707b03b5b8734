#!/usr/bin/env bash
# Run the full default `ansible-test sanity` suite for Python 3.11 on the collection.
#
# ansible-test needs the collection at a path ending in ansible_collections/homecloud/proxmox
# and does not accept a symlinked working directory, so the files git knows about (tracked,
# plus untracked files that are not ignored) are copied to
# .build/sanity/ansible_collections/homecloud/proxmox and the tests run there. Nothing is
# copied back. Extra arguments are passed to ansible-test (e.g. --test pep8 while iterating).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-$ROOT/.venv}
DEST=$ROOT/.build/sanity/ansible_collections/homecloud/proxmox

# ansible-test bootstraps pip into its sanity venvs with a get-pip script it would download
# from a host that is not reachable here: provide the offline stand-in.
"$VENV/bin/python" scripts/ansible-test-get-pip.py "$VENV/bin/python"

# Fresh copy every time (stale files would be tested otherwise); only .build is ever removed.
rm -rf "$ROOT/.build/sanity"
mkdir -p "$DEST"
git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -C "$DEST" -xf -

cd "$DEST"
# The venv's bin comes first so ansible-test finds its own ansible and python3.11.
# ANSIBLE_TEST_CONTENT_ROOT stops ansible-test from walking up to the repository's .git: it would
# then ask git for the files of an ignored directory, find none and skip every test.
export ANSIBLE_TEST_CONTENT_ROOT="$DEST"

# pip's chatter while ansible-test fills its per-test venvs hides the results; SANITY_VERBOSE=1
# shows everything. The exit status is ansible-test's (pipefail, the filter never fails).
quiet_pip() {
    if [ "${SANITY_VERBOSE:-0}" = 1 ]; then
        cat
    else
        grep --line-buffered -v -E '^(WARNING: Location .* is ignored|Looking in (indexes|links)|Processing |Collecting |Downloading |Installing collected|Successfully (installed|uninstalled)|Attempting uninstall|Found existing installation|Uninstalling |Requirement already satisfied)|^ +(Downloading|Using cached|━|Attempting|Found existing|Uninstalling|Successfully)' || true
    fi
}
PATH="$VENV/bin:$PATH" "$VENV/bin/ansible-test" sanity --venv --python 3.11 --color no "$@" 2>&1 | quiet_pip
