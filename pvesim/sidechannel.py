"""/_sim/: the simulator's own control API (plain JSON, no auth, loopback only).

GET    /_sim/requests  request log            GET    /_sim/counters  counters
POST   /_sim/faults    add a fault -> {"id"}  GET    /_sim/faults    list faults
DELETE /_sim/faults    remove all faults      PUT    /_sim/latency   {"ms": N}
POST   /_sim/reset     state, logs, counters, faults, latency
POST   /_sim/tasks     create a task -> {"upid"}
GET    /_sim/state     dump the state
Areas add their own calls under /_sim/<area>/... with `side_routes()` (e.g. GET /_sim/sdn/rendered).
Every call answers {"data": ...} with 200, or {"error": "..."} with 400/404.
"""

import json
from urllib.parse import urlsplit


def _add_fault(sim, body):
    return {"id": sim.inject_fault(**body)}


def _add_task(sim, body):
    return {"upid": sim.add_task(**body)}


def _set_latency(sim, body):
    sim.set_latency(body.get("ms", 0))
    return {"ms": sim.observer.latency_ms}


ROUTES = {
    ("GET", "/_sim/requests"): lambda sim, body: sim.requests(),
    ("GET", "/_sim/counters"): lambda sim, body: sim.counters(),
    ("GET", "/_sim/faults"): lambda sim, body: sim.faults(),
    ("POST", "/_sim/faults"): _add_fault,
    ("DELETE", "/_sim/faults"): lambda sim, body: sim.clear_faults(),
    ("PUT", "/_sim/latency"): _set_latency,
    ("POST", "/_sim/reset"): lambda sim, body: sim.reset(),
    ("POST", "/_sim/tasks"): _add_task,
    ("GET", "/_sim/state"): lambda sim, body: sim.dump_state(),
}


def _find(sim, key):
    """A core call, or one an area contributes through `side_routes()` {(method, path): fn(sim, body)}."""
    if key in ROUTES:
        return ROUTES[key]
    for area in sim.areas.values():
        action = area.side_routes().get(key)
        if action is not None:
            return action
    return None


def handle(sim, method, raw_path, body):
    """Return (HTTP status, JSON document)."""
    action = _find(sim, (method, urlsplit(raw_path).path.rstrip("/")))
    if action is None:
        return 404, {"error": "no such side-channel call: %s %s" % (method, raw_path)}
    try:
        arguments = json.loads(body.decode("utf-8")) if body else {}
        if not isinstance(arguments, dict):
            raise ValueError("the body must be a JSON object")
        return 200, {"data": action(sim, arguments)}
    except (ValueError, TypeError, KeyError) as error:
        return 400, {"error": str(error)}
