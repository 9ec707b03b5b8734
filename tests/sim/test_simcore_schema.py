"""simcore.schema: api-viewer trees, path matching (pve-common RESTHandler.pm rules), gzip loading."""

import gzip
import json
import os

import pytest

from pvesim.vendor import DATA_DIR as PVESIM_DATA_DIR
from pvesim.vendor import SCHEMA_VERSIONS as PVESIM_SCHEMA_VERSIONS
from simcore.schema import SchemaTree, gzip_compact_json, load_tree

TREE = [
    {"path": "/nodes", "text": "nodes", "info": {"GET": {"description": "nodes"}}, "children": [
        {"path": "/nodes/{node}", "text": "{node}", "info": {"GET": {}}, "children": [
            {"path": "/nodes/{node}/status", "text": "status", "info": {"GET": {}, "POST": {}}},
            {"path": "/nodes/{node}/files", "text": "files", "info": {}, "children": [
                {"path": "/nodes/{node}/files/{volume}", "text": "{volume}", "info": {"GET": {}}},
            ]},
        ]},
    ]},
    {"path": "/version", "text": "version", "info": {"GET": {}}},
]


@pytest.fixture
def tree():
    return SchemaTree(TREE, rest_of_path_params=["volume"])


@pytest.mark.parametrize("path, expected", [
    ("/version", ("/version", {})),
    ("//version/", ("/version", {})),  # empty fragments are skipped
    ("/nodes/n1", ("/nodes/{node}", {"node": "n1"})),
    ("/nodes/n1/status", ("/nodes/{node}/status", {"node": "n1"})),
    ("/nodes/n1/files/local:iso/x.iso", ("/nodes/{node}/files/{volume}", {"node": "n1", "volume": "local:iso/x.iso"})),
    ("/nodes/n 1/status", None),  # a {param} value is \S+
    ("/nodes/n1/nothing", None),
    ("/missing", None),
])
def test_match(tree, path, expected):
    assert tree.match(path) == expected


def test_rest_of_path_only_for_named_params():
    plain = SchemaTree(TREE)
    assert plain.match("/nodes/n1/files/local:iso/x.iso") is None
    assert plain.match("/nodes/n1/files/a") == ("/nodes/{node}/files/{volume}", {"node": "n1", "volume": "a"})


def test_methods_children_routes(tree):
    assert tree.method("/nodes", "GET") == {"description": "nodes"}
    assert tree.method("/nodes", "POST") is None and tree.method("/nope", "GET") is None
    assert tree.has("POST", "/nodes/{node}/status") and not tree.has("DELETE", "/nodes/{node}/status")
    assert tree.children("/") == ["nodes", "version"]
    assert tree.children("/nodes/{node}") == ["status", "files"]
    assert sorted(tree.routes()) == [
        ("GET", "/nodes"), ("GET", "/nodes/{node}"), ("GET", "/nodes/{node}/files/{volume}"),
        ("GET", "/nodes/{node}/status"), ("GET", "/version"), ("POST", "/nodes/{node}/status")]


def test_load_tree_plain_and_gzip(tmp_path):
    plain, packed = tmp_path / "api.json", tmp_path / "api.json.gz"
    plain.write_text(json.dumps(TREE), encoding="utf-8")
    with gzip.open(str(packed), "wt", encoding="utf-8") as handle:
        json.dump(TREE, handle)
    assert load_tree(str(plain)) == TREE == load_tree(str(packed))


def test_gzip_compact_json_is_reproducible_and_loads_back(tmp_path):
    """No spaces, no file name (FLG 0), mtime 0 in the gzip header: the same tree gives the same bytes."""
    packed = gzip_compact_json(TREE)
    assert packed == gzip_compact_json(json.loads(json.dumps(TREE)))
    assert packed[:8] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00"
    assert gzip.decompress(packed) == json.dumps(TREE, separators=(",", ":")).encode("utf-8")
    target = tmp_path / "api.json.gz"
    target.write_bytes(packed)
    assert load_tree(str(target)) == TREE


@pytest.mark.parametrize("version", PVESIM_SCHEMA_VERSIONS)
def test_regenerating_pvesims_vendored_schema_changes_nothing(version):
    """pvesim.vendor writes gzip_compact_json of the api-viewer tree: rewriting a vendored file from its
    own tree gives the same bytes."""
    path = os.path.join(PVESIM_DATA_DIR, "apidata-pve-%s.json.gz" % version)
    with open(path, "rb") as handle:
        assert gzip_compact_json(load_tree(path)) == handle.read()


def test_single_root_entry_is_the_root():
    """PBS's viewer tree: one entry "/" holding the top-level paths; it matches like PVE's flat list."""
    wrapped = SchemaTree([{"path": "/", "text": "Management API (HTTP)", "info": {"GET": {"description": "root"}},
                           "children": TREE}], rest_of_path_params=["volume"])
    assert wrapped.match("/version") == ("/version", {})
    assert wrapped.match("/nodes/n1/files/local:iso/x.iso") == ("/nodes/{node}/files/{volume}", {"node": "n1", "volume": "local:iso/x.iso"})
    assert wrapped.children("/") == ["nodes", "version"]
    assert wrapped.method("/", "GET") == {"description": "root"}
