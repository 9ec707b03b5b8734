"""The official API schema of one PVE version, on simcore's schema tree.

Matching (simcore.schema) follows pve-common src/PVE/RESTHandler.pm (find_handler /
map_path_to_methods); this module holds the PVE facts: which releases are vendored, their
/version answer, and which path parameters take the rest of the path.
"""

import functools
import os

from simcore.schema import SchemaTree, load_tree

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

# release -> (schema file version, /version "version", /version "repoid")
# The repoids are fixed placeholders of the documented shape ([0-9a-f]{8,64}); not PVE's.
RELEASES = {
    "8.4": ("8.4.0", "8.4.0", "ec58e45e"),
    "9.1": ("9.1.3", "9.1.3", "6f3a1c2b"),
}


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


class ApiSchema(SchemaTree):
    """The schema tree of one PVE release."""

    def __init__(self, release):
        self.release = normalize_release(release)
        self.schema_version, self.pve_version, self.repoid = RELEASES[self.release]
        tree = load_tree(os.path.join(DATA_DIR, "apidata-pve-%s.json.gz" % self.schema_version))
        super().__init__(tree, REST_OF_PATH_PARAMS)


@functools.lru_cache(maxsize=None)
def load(release):
    """The (shared, read-only) schema of a release; loading takes a moment, so it is cached."""
    return ApiSchema(normalize_release(release))
