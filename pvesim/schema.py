"""The official API schema of one PVE version, and path matching against it.

Matching follows pve-common src/PVE/RESTHandler.pm (find_handler / map_path_to_methods): the
path is split on '/', empty fragments are skipped, a fixed component must match exactly and a
`{param}` component matches any non-whitespace fragment (the default `\\S+`).
"""

import functools
import gzip
import json
import os
import re

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

# release -> (schema file version, /version "version", /version "repoid")
# The repoids are fixed placeholders of the documented shape ([0-9a-f]{8,64}); not PVE's.
RELEASES = {
    "8.4": ("8.4.0", "8.4.0", "ec58e45e"),
    "9.1": ("9.1.3", "9.1.3", "6f3a1c2b"),
}
PARAM_COMPONENT = re.compile(r"^\{([\w-]+)\}$")


def normalize_release(version):
    """'9.1', '9.1.3' or 9.1 -> '9.1'; raises ValueError for versions without a schema."""
    release = ".".join(str(version).split(".")[:2])
    if release not in RELEASES:
        raise ValueError("unsupported PVE version %r (known: %s)" % (version, ", ".join(sorted(RELEASES))))
    return release


# Path parameters registered with `fragmentDelimiter => ''` (pve-common RESTHandler.pm
# map_path_to_methods): the rest of the path is their value, slashes included - an IP set
# entry is addressed as .../ipset/<name>/10.0.0.0/24 (pve-firewall src/PVE/API2/Firewall/IPSet.pm),
# a storage volume as .../content/local:iso/x.iso (pve-storage src/PVE/API2/Storage/Status.pm mounts
# Content.pm so, "because volume IDs may contain a slash").
REST_OF_PATH_PARAMS = frozenset(["cidr", "volume"])


class _PathNode:
    """One level of the path tree: fixed children, or one `{param}` child."""

    __slots__ = ("folders", "param_name", "param_child", "schema_path", "methods", "children_text")

    def __init__(self, schema_path):
        self.folders = {}
        self.param_name = None
        self.param_child = None
        self.schema_path = schema_path
        self.methods = {}
        self.children_text = []


class ApiSchema:
    """The schema tree of one PVE release."""

    def __init__(self, release):
        self.release = normalize_release(release)
        self.schema_version, self.pve_version, self.repoid = RELEASES[self.release]
        self.root = _PathNode("/")
        self.nodes = {"/": self.root}
        with gzip.open(os.path.join(DATA_DIR, "apidata-pve-%s.json.gz" % self.schema_version), "rt", encoding="utf-8") as handle:
            tree = json.load(handle)
        self._add_children(self.root, tree)

    def _add_children(self, parent, entries):
        for entry in entries:
            node = _PathNode(entry["path"])
            self.nodes[entry["path"]] = node
            node.methods = entry.get("info", {})
            parent.children_text.append(entry["text"])
            param = PARAM_COMPONENT.match(entry["text"])
            if param:
                parent.param_name, parent.param_child = param.group(1), node
            else:
                parent.folders[entry["text"]] = node
            self._add_children(node, entry.get("children", []))

    def match(self, rel_uri):
        """Return (schema path, uri params) for a concrete path, or None when nothing matches."""
        node, params = self.root, {}
        components = [part for part in rel_uri.split("/") if part]
        while components:
            component = components.pop(0)
            if node.param_child is not None:
                if node.param_name in REST_OF_PATH_PARAMS and node.param_child.param_child is None \
                        and not node.param_child.folders:
                    component = "/".join([component] + components)  # takes the rest of the path
                    components = []
                if not re.match(r"^(\S+)$", component):
                    return None
                params[node.param_name] = component
                node = node.param_child
            elif component in node.folders:
                node = node.folders[component]
            else:
                return None
        return node.schema_path, params

    def method(self, schema_path, method):
        """The method object (parameters, returns, permissions, ...) or None."""
        node = self.nodes.get(schema_path)
        return node.methods.get(method) if node else None

    def has(self, method, schema_path):
        """True when the schema defines `method` on `schema_path`."""
        return self.method(schema_path, method) is not None

    def children(self, schema_path):
        """The last path components of a directory's children, in schema order."""
        return list(self.nodes[schema_path].children_text)

    def routes(self):
        """Every (method, schema path) of this release."""
        return [(method, path) for path, node in self.nodes.items() for method in node.methods]


@functools.lru_cache(maxsize=None)
def load(release):
    """The (shared, read-only) schema of a release; loading takes a moment, so it is cached."""
    return ApiSchema(normalize_release(release))
