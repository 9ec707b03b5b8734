"""Areas: each module of a simulator's areas package holds one area's state and handlers.

A simulator discovers its areas with `discover(package, base)`: every subclass of `base`
defined in the package's modules, in module name order. Handlers are methods decorated with
`@route(METHOD, SCHEMA_PATH)`; what they receive and return is the simulator's pipeline's business.
"""

import importlib
import inspect
import pkgutil

ROUTES_ATTRIBUTE = "sim_routes"


def route(method, schema_path):
    """Mark an Area method as the handler of `method` on `schema_path` (with {param} names)."""
    def decorator(function):
        setattr(function, ROUTES_ATTRIBUTE, getattr(function, ROUTES_ATTRIBUTE, []) + [(method, schema_path)])
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
            for method, schema_path in getattr(member, ROUTES_ATTRIBUTE, ()):
                yield method, schema_path, member

    def side_routes(self):
        """Extra side-channel calls of this area: {(method, "/_sim/<area>/..."): function(sim, body)}."""
        return {}


def discover(package, base=Area):
    """Every subclass of `base` defined in the modules of `package` (a package module or its
    name), in module name order."""
    if isinstance(package, str):
        package = importlib.import_module(package)
    classes = []
    for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name):
        module = importlib.import_module("%s.%s" % (package.__name__, module_info.name))
        for _name, member in inspect.getmembers(module, inspect.isclass):
            if issubclass(member, base) and member is not base and member.__module__ == module.__name__:
                classes.append(member)
    return classes
