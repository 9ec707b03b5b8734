"""API areas: each module holds one area's state and handlers.

To add an area, drop a module here that defines a subclass of `Area`: it is discovered
automatically. Handlers are methods decorated with `@route(METHOD, SCHEMA_PATH)`; they get a
`Request` (validated params, the caller, helpers) and return the `data` of the response.
A route whose schema path does not exist in the running PVE version is simply not served,
so one area can cover several versions. The mechanics (state namespace, routes, side routes,
discovery) are simcore.areas'; the hooks below are the PVE cluster's.
"""

import sys

from simcore import areas as core_areas
from simcore.areas import route

__all__ = ["Area", "discover", "route"]


class Area(core_areas.Area):
    """Base class of a pvesim area. `name` is also its state namespace (None: no state)."""

    def cluster_resources(self):
        """Entries this area contributes to GET /cluster/resources."""
        return []

    def used_vmids(self):
        """Guest ids this area owns (for GET /cluster/nextid)."""
        return set()

    def node_unreachable(self, node):  # pylint: disable=unused-argument
        """None when this area has no opinion on `node`; else the node is down for calls that
        pveproxy proxies to it (proxyto): a reason text ("No route to host", "Connection timed
        out") or True for "No route to host"."""
        return None


def discover():
    """Every Area subclass defined in the modules of this package, in module name order."""
    return core_areas.discover(sys.modules[__name__], Area)
