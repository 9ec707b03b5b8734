"""simcore: what every simulator of an external API shares (pvesim, pbssim, ...).

The threaded HTTP(S) listener with its side channel, the lifecycle (start/stop, port 0, TLS
certificate), namespaced JSON state, the observer (request log, counters, faults, latency),
api-viewer schema trees with path matching, and areas discovered from a package. A simulator
brings its own request pipeline, validation and error shapes. See README.md.
"""

from simcore.areas import Area, discover, route
from simcore.observe import Fault, Observer, redact
from simcore.schema import SchemaTree, load_tree
from simcore.server import Response
from simcore.simulator import SimulatorBase
from simcore.state import State

__all__ = ["Area", "Fault", "Observer", "Response", "SchemaTree", "SimulatorBase", "State", "discover", "load_tree",
           "redact", "route"]
