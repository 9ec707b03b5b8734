"""Regenerate the vendored PBS API schema subset in pbssim/data/ from the PBS API viewer data.

Usage: python -m pbssim.vendor /path/to/apidoc.js   (a file of your choice, no default)

The input is `api-viewer/apidoc.js` as the PBS documentation publishes it (the api-viewer tree
that proxmox-backup's docgen dumps: `var apiSchema = [ ...JSON... ];`); data/PROVENANCE.md names
the copy that was used and its sha256. Only the methods pbssim serves (SERVED_ROUTES) are kept,
with the directory entries on the way to them (their own methods dropped), so that a path the
simulator does not serve is not in its schema at all. The output is compact JSON, gzipped with
a zero mtime: regenerating from the same input, or from the vendored file itself, gives the
same bytes.
"""

import argparse
import hashlib
import json
import os
import sys

from simcore.schema import gzip_compact_json

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
SCHEMA_FILE = "apidoc-pbs-subset.json.gz"

# schema path -> the methods pbssim serves there (every one has a handler, a test checks both ways)
SERVED_ROUTES = {
    "/version": ("GET",),
    "/access/ticket": ("POST",),
    "/access/acl": ("GET", "PUT"),
    "/access/users": ("GET", "POST"),
    "/access/users/{userid}": ("GET", "PUT", "DELETE"),
    "/access/users/{userid}/token": ("GET",),
    "/access/users/{userid}/token/{token-name}": ("GET", "POST", "PUT", "DELETE"),
    "/admin/datastore": ("GET",),
    "/admin/datastore/{store}/groups": ("GET",),
    "/admin/datastore/{store}/namespace": ("GET", "POST", "DELETE"),
    "/admin/datastore/{store}/snapshots": ("GET",),
    "/config/datastore": ("GET", "POST"),
    "/config/datastore/{name}": ("GET", "PUT", "DELETE"),
    "/config/prune": ("GET", "POST"),
    "/config/prune/{id}": ("GET", "PUT", "DELETE"),
    "/config/verify": ("GET", "POST"),
    "/config/verify/{id}": ("GET", "PUT", "DELETE"),
    "/nodes/{node}/tasks/{upid}/log": ("GET",),
    "/nodes/{node}/tasks/{upid}/status": ("GET",),
}


def js_to_tree(text):
    """The API tree decoded from the text of an apidoc.js file (the JSON value at the first '[')."""
    tree, _end = json.JSONDecoder().raw_decode(text[text.index("["):])
    return tree


def _on_the_way(path, served=None):
    served = SERVED_ROUTES if served is None else served
    return any(route == path or route.startswith(path.rstrip("/") + "/") for route in served)


def subset(entries, served=None):
    """The entries that lead to a served route; `info` keeps only the served methods, in tree order."""
    served = SERVED_ROUTES if served is None else served
    kept = []
    for entry in entries:
        if not _on_the_way(entry["path"], served):
            continue
        copy = {key: value for key, value in entry.items() if key not in ("info", "children")}
        methods = served.get(entry["path"], ())
        info = {method: spec for method, spec in entry.get("info", {}).items() if method in methods}
        if info:
            copy["info"] = info
        children = subset(entry.get("children", []), served)
        if children:
            copy["children"] = children
        kept.append(copy)
    return kept


def missing_routes(tree, served=None):
    """(method, path) of SERVED_ROUTES that the tree does not define."""
    served = SERVED_ROUTES if served is None else served
    defined = set()

    def walk(entries):
        for entry in entries:
            defined.update((method, entry["path"]) for method in entry.get("info", {}))
            walk(entry.get("children", []))
    walk(tree)
    return sorted((method, path) for path, methods in served.items() for method in methods
                  if (method, path) not in defined)


def vendor(source_file, data_dir=DATA_DIR):
    """Write the subset of `source_file` (apidoc.js); returns the sha256 of the source."""
    with open(source_file, "rb") as handle:
        original = handle.read()
    tree = js_to_tree(original.decode("utf-8"))
    missing = missing_routes(tree)
    if missing:
        raise ValueError("the source does not define %s" % ", ".join("%s %s" % pair for pair in missing))
    with open(os.path.join(data_dir, SCHEMA_FILE), "wb") as handle:
        handle.write(gzip_compact_json(subset(tree)))
    return hashlib.sha256(original).hexdigest()


def main(argv=None):
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_file", help="the PBS api-viewer apidoc.js (see data/PROVENANCE.md)")
    args = parser.parse_args(argv)
    print("%s  %s" % (vendor(args.source_file), os.path.basename(args.source_file)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
