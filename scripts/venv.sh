#!/usr/bin/env bash
# Create or refresh the project's Python environment (.venv) from requirements-dev.txt.
# Idempotent and fast: a stamp file ($VENV/.requirements.sha256) holds the hash of the
# requirements files; pip runs only when they changed (or the stamp is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
STAMP="$VENV/.requirements.sha256"

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.11 /usr/bin/python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    echo "venv: no Python 3.11 interpreter found (tried \$PYTHON, python3.11, python3)" >&2
    return 1
}

want=$(cat requirements-dev.txt requirements.txt | sha256sum | cut -d' ' -f1)

if [ -x "$VENV/bin/python" ]; then
    if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        echo "venv: $VENV exists but is not Python 3.11; remove it and run 'make venv' again" >&2
        exit 1
    fi
    if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
        exit 0
    fi
else
    python=$(find_python)
    echo "venv: creating $VENV with $python"
    "$python" -m venv "$VENV"
fi

echo "venv: installing requirements-dev.txt into $VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet -r requirements-dev.txt
echo "$want" > "$STAMP"
echo "venv: ready ($("$VENV/bin/python" -m pip --version | cut -d' ' -f1-2), $("$VENV/bin/ansible" --version | head -1))"
