"""The side channel: a simulator's own control API (plain JSON, no auth, loopback clients only).

Core calls, the same in every simulator (paths under `sim.side_prefix`, default /_sim):
GET    /_sim/requests  request log            GET    /_sim/counters  counters
POST   /_sim/faults    add a fault -> {"id"}  GET    /_sim/faults    list faults
DELETE /_sim/faults    remove all faults      PUT    /_sim/latency   {"ms": N}
POST   /_sim/reset     state, logs, counters, faults, latency
GET    /_sim/state     dump the state
A simulator adds calls with `SimulatorBase.side_routes()`, each area with `Area.side_routes()`:
{(method, "/_sim/<area>/..."): function(sim, body)}.
Every call answers {"data": ...} with 200, or {"error": "..."} with 400 (bad arguments: the
function raised ValueError, TypeError or KeyError) or 404 (no such call).
"""

import json
from urllib.parse import urlsplit


def _add_fault(sim, body):
    return {"id": sim.inject_fault(**body)}


def _set_latency(sim, body):
    return {"ms": sim.set_latency(body.get("ms", 0))}


CORE_ROUTES = {
    ("GET", "requests"): lambda sim, body: sim.requests(),
    ("GET", "counters"): lambda sim, body: sim.counters(),
    ("GET", "faults"): lambda sim, body: sim.faults(),
    ("POST", "faults"): _add_fault,
    ("DELETE", "faults"): lambda sim, body: sim.clear_faults(),
    ("PUT", "latency"): _set_latency,
    ("POST", "reset"): lambda sim, body: sim.reset(),
    ("GET", "state"): lambda sim, body: sim.dump_state(),
}


def find(sim, method, path):
    """The function serving (method, path): a core call, the simulator's, or an area's."""
    prefix = sim.side_prefix + "/"
    if path.startswith(prefix) and (method, path[len(prefix):]) in CORE_ROUTES:
        return CORE_ROUTES[(method, path[len(prefix):])]
    action = sim.side_routes().get((method, path))
    if action is not None:
        return action
    for area in sim.areas.values():
        action = area.side_routes().get((method, path))
        if action is not None:
            return action
    return None


def handle(sim, method, raw_path, body):
    """Return (HTTP status, JSON document) for one side-channel call."""
    action = find(sim, method, urlsplit(raw_path).path.rstrip("/"))
    if action is None:
        return 404, {"error": "no such side-channel call: %s %s" % (method, raw_path)}
    try:
        arguments = json.loads(body.decode("utf-8")) if body else {}
        if not isinstance(arguments, dict):
            raise ValueError("the body must be a JSON object")
        return 200, {"data": action(sim, arguments)}
    except (ValueError, TypeError, KeyError) as error:
        return 400, {"error": str(error)}
