"""Regenerate the vendored API schemas in pvesim/data/ from the pve-docs api-viewer data.

Usage: python -m pvesim.vendor /path/to/apidata   (a directory of your choice, no default)

That directory holds apidata-pve-<version>.js for each version in SCHEMA_VERSIONS: the file
api-viewer/apidata.js of proxmox/pve-docs at the commit data/PROVENANCE.md lists for it. It is
JavaScript: `const apiSchema = [ ...JSON... ];`. We decode the single JSON value that starts at
the first '[' and write it back as compact JSON, gzipped with a zero mtime so that the output
is byte-for-byte reproducible.
"""

import argparse
import hashlib
import json
import os
import sys

from simcore.schema import gzip_compact_json

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
SCHEMA_VERSIONS = ("8.4.0", "9.1.3")


def js_to_json(text):
    """Return the API tree decoded from the text of an apidata.js file."""
    tree, _end = json.JSONDecoder().raw_decode(text[text.index("["):])
    return tree


def vendor(source_dir, data_dir=DATA_DIR):
    """Convert every known schema version; returns {file name: sha256 of the source .js}."""
    digests = {}
    for version in SCHEMA_VERSIONS:
        source = os.path.join(source_dir, "apidata-pve-%s.js" % version)
        with open(source, "rb") as handle:
            original = handle.read()
        digests[os.path.basename(source)] = hashlib.sha256(original).hexdigest()
        target = os.path.join(data_dir, "apidata-pve-%s.json.gz" % version)
        with open(target, "wb") as handle:
            handle.write(gzip_compact_json(js_to_json(original.decode("utf-8"))))
    return digests


def main(argv=None):
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_dir", help="directory holding apidata-pve-<version>.js for each vendored version")
    args = parser.parse_args(argv)
    for name, digest in vendor(os.path.normpath(args.source_dir)).items():
        print("%s  %s" % (digest, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
