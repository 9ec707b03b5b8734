"""Regenerate the vendored Cloudflare OpenAPI subset in cfsim/data/ from Cloudflare's openapi.json.

Usage: python -m cfsim.vendor /path/to/openapi.json   (a file of your choice, no default)

The input is `openapi.json` of github.com/cloudflare/api-schemas; data/PROVENANCE.md names the
commit that was used and its sha256. Only the operations cfsim serves (SERVED_OPERATIONS) are
kept, each operation object as it is, with the path-level `parameters` of their paths and every
component their `$ref`s reach (transitively); `openapi`, `info`, `servers` and `security` are
kept, `components.securitySchemes` too. The output is compact JSON with sorted keys, gzipped with
a zero mtime: regenerating from the same input, or from the vendored file itself, gives the same bytes.
"""

import argparse
import hashlib
import json
import os
import sys

from simcore.schema import gzip_compact_json

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
SCHEMA_FILE = "cloudflare-openapi-subset.json.gz"

# OpenAPI path (under the server's /client/v4) -> the methods cfsim serves there
SERVED_OPERATIONS = {
    "/accounts/{account_id}/cfd_tunnel": ("get", "post"),
    "/accounts/{account_id}/cfd_tunnel/{tunnel_id}": ("get", "patch", "delete"),
    "/accounts/{account_id}/cfd_tunnel/{tunnel_id}/token": ("get",),
    "/zones": ("get",),
    "/zones/{zone_id}/dns_records": ("get", "post"),
    "/zones/{zone_id}/dns_records/{dns_record_id}": ("get", "put", "patch", "delete"),
    "/accounts/{account_id}/access/apps": ("get", "post"),
    "/accounts/{account_id}/access/apps/{app_id}": ("get", "put", "delete"),
    "/accounts/{account_id}/access/policies": ("get", "post"),
    "/accounts/{account_id}/access/policies/{policy_id}": ("get", "put", "delete"),
    "/accounts/{account_id}/access/organizations": ("get",),
    "/user/tokens/verify": ("get",),
}
PATH_ITEM_KEYS = ("parameters", "summary", "description")


def refs_in(value):
    """Every `$ref` string inside a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                yield item
            else:
                yield from refs_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from refs_in(item)


def resolve_pointer(document, ref):
    """The value a local JSON pointer ("#/components/schemas/x") names, with its key path."""
    if not ref.startswith("#/"):
        raise ValueError("only local references are supported, got %r" % ref)
    keys = [part.replace("~1", "/").replace("~0", "~") for part in ref[2:].split("/")]
    value = document
    for key in keys:
        value = value[key]
    return keys, value


def missing_operations(document, served=None):
    """(METHOD, path) of the served operations the document does not define."""
    served = SERVED_OPERATIONS if served is None else served
    paths = document.get("paths", {})
    return sorted((method.upper(), path) for path, methods in served.items() for method in methods
                  if method not in paths.get(path, {}))


def subset(document, served=None):
    """The document reduced to the served operations and the components they reach."""
    served = SERVED_OPERATIONS if served is None else served
    missing = missing_operations(document, served)
    if missing:
        raise ValueError("the source does not define %s" % ", ".join("%s %s" % pair for pair in missing))
    result = {key: document[key] for key in ("openapi", "info", "servers", "security") if key in document}
    result["paths"] = {}
    for path, methods in served.items():
        item = document["paths"][path]
        kept = {key: item[key] for key in PATH_ITEM_KEYS if key in item}
        kept.update({method: item[method] for method in methods})
        result["paths"][path] = kept
    components = {}
    if "securitySchemes" in document.get("components", {}):
        components["securitySchemes"] = document["components"]["securitySchemes"]
    pending = list(refs_in(result["paths"]))
    seen = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        keys, value = resolve_pointer(document, ref)
        if keys[0] != "components" or len(keys) != 3:
            raise ValueError("unexpected reference %r" % ref)
        components.setdefault(keys[1], {})[keys[2]] = value
        pending.extend(refs_in(value))
    result["components"] = components
    return result


def vendor(source_file, data_dir=DATA_DIR):
    """Write the subset of `source_file` (openapi.json); returns the sha256 of the source."""
    with open(source_file, "rb") as handle:
        original = handle.read()
    document = json.loads(original.decode("utf-8"))
    reduced = json.loads(json.dumps(subset(document), sort_keys=True))
    with open(os.path.join(data_dir, SCHEMA_FILE), "wb") as handle:
        handle.write(gzip_compact_json(reduced))
    return hashlib.sha256(original).hexdigest()


def main(argv=None):
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_file", help="Cloudflare's openapi.json (see data/PROVENANCE.md)")
    args = parser.parse_args(argv)
    print("%s  %s" % (vendor(args.source_file), os.path.basename(args.source_file)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
