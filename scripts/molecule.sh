#!/usr/bin/env bash
# make molecule: every scenario a full `molecule test`, up to MOLECULE_JOBS of them at a time.
#   scripts/molecule.sh SCENARIO...
# A scenario spends much of its time waiting (containers booting, systemd, ssh, bounded network
# probes), so two at a time on two cores take little more than the longer of the two. Every
# scenario's names are its own (containers, namespaces with a per-run id, ssh sockets in its
# ephemeral directory), so they do not meet. Each scenario's output goes to
# .build/molecule/<scenario>.log and is printed whole when the scenario ends, so the logs of two
# scenarios never interleave. The exit status is non-zero when any scenario failed; the others
# still run to the end (a failure of one says nothing about the rest).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$#" -gt 0 ] || { echo "usage: $0 SCENARIO..." >&2; exit 2; }
JOBS=${MOLECULE_JOBS:-2}
SCENARIO_TIMEOUT=${MOLECULE_SCENARIO_TIMEOUT:-1500}
LOGS=.build/molecule
mkdir -p "$LOGS"

declare -A started=()
declare -A scenario_of=()   # running scenarios by PID
failed=()

collect_one() {  # wait for any running scenario to end; print its log and its result
    local pid rc=0 scenario
    wait -n -p pid "${!scenario_of[@]}" || rc=$?
    scenario=${scenario_of[$pid]}
    unset "scenario_of[$pid]"
    echo "=== molecule test -s $scenario (its log: $LOGS/$scenario.log)"
    cat "$LOGS/$scenario.log"
    if [ "$rc" -eq 0 ]; then
        echo "=== molecule: $scenario passed in $((SECONDS - started[$scenario])) s"
    else
        echo "=== molecule: scenario $scenario FAILED (exit $rc) after $((SECONDS - started[$scenario])) s"
        failed+=("$scenario")
    fi
}

stop_all() {  # on interruption: end the running scenarios by their PIDs
    local pid
    for pid in "${!scenario_of[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
}
trap 'stop_all; exit 130' INT TERM

start=$SECONDS
for scenario in "$@"; do
    while [ "${#scenario_of[@]}" -ge "$JOBS" ]; do
        collect_one
    done
    echo "=== molecule: starting $scenario"
    started[$scenario]=$SECONDS
    timeout "$SCENARIO_TIMEOUT" molecule test -s "$scenario" > "$LOGS/$scenario.log" 2>&1 &
    scenario_of[$!]=$scenario
done
while [ "${#scenario_of[@]}" -gt 0 ]; do
    collect_one
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "=== molecule: FAILED: ${failed[*]} ($((SECONDS - start)) s)" >&2
    exit 1
fi
echo "=== molecule: all passed in $((SECONDS - start)) s ($*; $JOBS at a time)"
