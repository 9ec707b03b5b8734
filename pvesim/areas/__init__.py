"""API areas: each module holds one area's state and handlers.

To add an area, drop a module here that defines a subclass of `Area`: it is discovered
automatically. Handlers are methods decorated with `@route(METHOD, SCHEMA_PATH)`; they get a
`Request` (validated params, the caller, helpers) and return the `data` of the response.
A route whose schema path does not exist in the running PVE version is simply not served,
so one area can cover several versions.
"""

import importlib
import inspect
import pkgutil


def route(method, schema_path):
    """Mark an Area method as the handler of `method` on `schema_path` (with {param} names)."""
    def decorator(function):
        function.pvesim_routes = getattr(function, "pvesim_routes", []) + [(method, schema_path)]
        return function
    return decorator


class Area:
    """Base class of an API area. `name` is also its state namespace (None: no state)."""

    name = None

    def __init__(self, sim):
        self.sim = sim
        self.state = sim.state.register(self.name, self.initial_state) if self.name else None

    def initial_state(self):
        """The content of this area's state namespace after start and after a reset."""
        return {}

    def routes(self):
        """(method, schema path, bound handler) of every decorated method."""
        for _name, member in inspect.getmembers(self, inspect.ismethod):
            for method, schema_path in getattr(member, "pvesim_routes", ()):
                yield method, schema_path, member

    def cluster_resources(self):
        """Entries this area contributes to GET /cluster/resources."""
        return []

    def used_vmids(self):
        """Guest ids this area owns (for GET /cluster/nextid)."""
        return set()

    def side_routes(self):
        """Extra /_sim/ calls of this area: {(method, "/_sim/<area>/..."): function(sim, body)}."""
        return {}


def discover():
    """Every Area subclass defined in the modules of this package, in module name order."""
    classes = []
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        module = importlib.import_module("%s.%s" % (__name__, module_info.name))
        for _name, member in inspect.getmembers(module, inspect.isclass):
            if issubclass(member, Area) and member is not Area and member.__module__ == module.__name__:
                classes.append(member)
    return classes
