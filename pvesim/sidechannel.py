"""/_sim/: the simulator's own control API, simcore.sidechannel plus pvesim's calls.

The core calls (requests, counters, faults, latency, reset, state) are simcore's; pvesim adds
POST /_sim/tasks (create a task -> {"upid"}) here, and areas add theirs under /_sim/<area>/...
with `side_routes()` (e.g. GET /_sim/sdn/rendered).
"""

from simcore.sidechannel import CORE_ROUTES, find, handle

__all__ = ["CORE_ROUTES", "ROUTES", "find", "handle"]


def _add_task(sim, body):
    return {"upid": sim.add_task(**body)}


ROUTES = {
    ("POST", "/_sim/tasks"): _add_task,
}
