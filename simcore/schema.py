"""An api-viewer schema tree and path matching against it.

The tree is the format of PVE's and PBS's API viewers (apidata.js) and of their
`pvesh`/`proxmox-backup-manager` schema dumps: a list of {path, text, leaf, info: {METHOD:
{parameters, returns, permissions, ...}}, children: [...]}.

Matching follows pve-common src/PVE/RESTHandler.pm (find_handler / map_path_to_methods): the
path is split on '/', empty fragments are skipped, a fixed component must match exactly and a
`{param}` component matches any non-whitespace fragment (the default `\\S+`). PBS's router
(proxmox-router) matches the same way for fixed and `{param}` components. Parameters named in
`rest_of_path_params` take the rest of the path, slashes included (PVE's
`fragmentDelimiter => ''`), when they are the tree's last level.

PVE's viewer tree lists the top-level paths (/access, /cluster, ...) as its entries; PBS's
(proxmox-backup docs/api-viewer) has a single entry "/" (the management API) holding them. A
tree that is one entry with path "/" is read as that root, so both kinds match the same way.
"""

import gzip
import io
import json
import re

PARAM_COMPONENT = re.compile(r"^\{([\w-]+)\}$")
COMPONENT_VALUE = re.compile(r"^(\S+)$")


def load_tree(path):
    """The schema tree (a list of top-level entries) from a JSON file, gzip-compressed if it ends in .gz."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def gzip_compact_json(tree):
    """Compact JSON, gzipped reproducibly (mtime 0, no file name in the header): what the vendoring
    scripts write and load_tree reads."""
    raw = json.dumps(tree, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as out:
        out.write(raw)
    return buffer.getvalue()


class _PathNode:  # pylint: disable=too-few-public-methods
    """One level of the path tree: fixed children, or one `{param}` child."""

    __slots__ = ("folders", "param_name", "param_child", "schema_path", "methods", "children_text")

    def __init__(self, schema_path):
        self.folders = {}
        self.param_name = None
        self.param_child = None
        self.schema_path = schema_path
        self.methods = {}
        self.children_text = []


class SchemaTree:
    """The methods of an API, looked up by concrete path."""

    def __init__(self, tree, rest_of_path_params=frozenset()):
        self.rest_of_path_params = frozenset(rest_of_path_params)
        self.root = _PathNode("/")
        self.nodes = {"/": self.root}
        if len(tree) == 1 and tree[0]["path"] == "/":
            self.root.methods = tree[0].get("info", {})
            tree = tree[0].get("children", [])
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
                if node.param_name in self.rest_of_path_params and node.param_child.param_child is None \
                        and not node.param_child.folders:
                    component = "/".join([component] + components)  # takes the rest of the path
                    components = []
                if not COMPONENT_VALUE.match(component):
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
        """Every (method, schema path) of the tree."""
        return [(method, path) for path, node in self.nodes.items() for method in node.methods]
