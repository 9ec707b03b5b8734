#!/usr/bin/env bash
# make test: every gate, stopping at the first failure and naming it, with each gate's time.
#   scripts/gates.sh
# Knobs (the Makefile passes them): TEST_GATES (foreground gates, in order), TEST_BACKGROUND_GATES (gates that
# mostly wait - containers booting, systemd, ssh, BGP timers, bounded network probes - and so run in the
# background beside the others), TEST_BACKGROUND_AFTER (the foreground gate after which they start; `rig`, the
# container image they share, always runs in the foreground just before them, so two of them never build it at
# once). Each background gate runs in its own process group (ended with the run should a gate fail); its log is
# printed whole when it ends, so logs never interleave.
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a gates <<< "${TEST_GATES:-pytest sanity lint docs-lint changelog-lint}"
read -r -a background <<< "${TEST_BACKGROUND_GATES:-molecule twin}"
after=${TEST_BACKGROUND_AFTER:-pytest}
BUILD=.build
mkdir -p "$BUILD"

declare -A pid_of=()
start=$SECONDS

stop_background() {
    local gate
    for gate in "${!pid_of[@]}"; do
        kill -TERM -- "-${pid_of[$gate]}" 2>/dev/null || true
    done
}
trap stop_background EXIT

failed() {
    echo "=== make test: FAILED at gate '$1' (run 'make $1' to reproduce)" >&2
    exit 1
}

run_gate() {
    local gate=$1 t0=$SECONDS
    echo "=== make test: $gate"
    make --no-print-directory "$gate" || failed "$gate"
    echo "=== make test: $gate passed in $((SECONDS - t0)) s"
}

start_background() {
    local gate log
    [ "${#background[@]}" -gt 0 ] || return 0
    run_gate rig
    for gate in "${background[@]}"; do
        log=$BUILD/gate-$gate.log
        echo "=== make test: $gate starts in the background ($log)"
        set -m
        ( t1=$SECONDS; rc=0; make --no-print-directory "$gate" > "$log" 2>&1 < /dev/null || rc=$?
          echo $((SECONDS - t1)) > "$log.seconds"; exit "$rc" ) &
        pid_of[$gate]=$!
        set +m
    done
}

[ "$after" = none ] && start_background
for gate in "${gates[@]}"; do
    run_gate "$gate"
    [ "$gate" = "$after" ] && start_background
done

for gate in "${background[@]}"; do
    [ -n "${pid_of[$gate]:-}" ] || continue
    rc=0
    wait "${pid_of[$gate]}" || rc=$?
    unset "pid_of[$gate]"
    echo "=== make test: $gate (ran in the background; its log follows)"
    cat "$BUILD/gate-$gate.log"
    [ "$rc" -eq 0 ] || failed "$gate"
    echo "=== make test: $gate passed in $(cat "$BUILD/gate-$gate.log.seconds") s"
done
echo "=== make test: all gates passed in $((SECONDS - start)) s (${gates[*]} ${background[*]})"
