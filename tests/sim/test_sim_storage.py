"""The simulator's storage area: storage.cfg, node storage status and content, download-url and the
volume calls the guest areas use (pve-storage src/PVE/Storage.pm, Storage/Plugin.pm,
Storage/ZFSPoolPlugin.pm, API2/Storage/Config.pm, Content.pm, Status.pm)."""

import hashlib
import json
import http.server
import re
import threading
import time

import pytest

from pvesim.testing import assert_pve_error, ok, plain_error

from pvesim.errors import ApiError

GIB = 1024 ** 3


def _storage(sim):
    return sim.areas["StorageArea"]


def _raises(message, call, *args, **kwargs):
    """A contract call that dies with PVE's message."""
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    assert caught.value.message == message
    return caught.value


# -- the calls of the guest areas (Storage.pm vdisk_alloc, vdisk_free, the plugins) -------------------

def test_alloc_names_disks_like_the_plugins(sim):
    """ZFSPoolPlugin.pm: raw zvols vm-<vmid>-disk-<n>; Plugin.pm: <vmid>/vm-<vmid>-disk-<n>.<fmt> files."""
    storage = _storage(sim)
    with sim.state.lock:
        sim.state.namespace("storage")["config"]["local"]["content"].append("images")
        assert storage.alloc("pve1", "local-zfs", 100, 4 * GIB) == "local-zfs:vm-100-disk-0"
        assert storage.alloc("pve1", "local-zfs", 100, 1) == "local-zfs:vm-100-disk-1"
        assert storage.alloc("pve1", "local-zfs", 100, GIB, name="vm-100-cloudinit") == "local-zfs:vm-100-cloudinit"
        assert storage.alloc("pve1", "local", 100, GIB) == "local:100/vm-100-disk-0.qcow2"
        assert storage.alloc("pve1", "local", 100, GIB, fmt="raw") == "local:100/vm-100-disk-0.raw"
        assert storage.alloc("pve1", "local", 100, GIB, name="vm-100-cloudinit") == "local:100/vm-100-cloudinit.qcow2"
        # volumes are per node: pve2 starts again at disk-0
        assert storage.alloc("pve2", "local-zfs", 100, GIB) == "local-zfs:vm-100-disk-0"
        # ZFS pads to whole MiB (zfs_create_zvol)
        assert storage.size_of("pve1", "local-zfs:vm-100-disk-1") == 1024 * 1024
        assert storage.volume("pve1", "local-zfs:vm-100-disk-0") == {
            "volid": "local-zfs:vm-100-disk-0", "storage": "local-zfs", "size": 4 * GIB, "format": "raw", "vmid": 100,
            "content": "images", "ctime": storage.volume("pve1", "local-zfs:vm-100-disk-0")["ctime"], "used_by_base": []}
        assert storage.volume("pve3", "local-zfs:vm-100-disk-0") is None
        assert storage.volumes_of("pve1", 100) == [
            "local-zfs:vm-100-cloudinit", "local-zfs:vm-100-disk-0", "local-zfs:vm-100-disk-1",
            "local:100/vm-100-cloudinit.qcow2", "local:100/vm-100-disk-0.qcow2", "local:100/vm-100-disk-0.raw"]


def test_alloc_refusals(sim):
    """Storage.pm storage_config / storage_check_enabled, qemu-server's content check, the plugins' name rules."""
    storage = _storage(sim)
    with sim.state.lock:
        _raises("storage 'nope' does not exist\n", storage.alloc, "pve1", "nope", 100, GIB)
        error = _raises("Parameter verification failed.\n", storage.alloc, "pve1", "local", 100, GIB)
        assert error.errors == {"storage": "storage 'local' does not support vm images"}
        _raises("illegal name 'vm-101-disk-0' - should be 'vm-100-*'\n", storage.alloc, "pve1", "local-zfs", 100, GIB, name="vm-101-disk-0")
        _raises("unsupported format 'qcow2' at /usr/share/perl5/PVE/Storage/ZFSPoolPlugin.pm line 292.\n",
                storage.alloc, "pve1", "local-zfs", 100, GIB, fmt="qcow2")
        storage.alloc("pve1", "local-zfs", 100, GIB)
        _raises("zfs error: cannot create 'rpool/data/vm-100-disk-0': dataset already exists\n",
                storage.alloc, "pve1", "local-zfs", 100, GIB, name="vm-100-disk-0")
        config = sim.state.namespace("storage")["config"]
        config["local"]["content"].append("images")
        storage.alloc("pve1", "local", 100, GIB)
        _raises("disk image '/var/lib/vz/images/100/vm-100-disk-0.qcow2' already exists\n",
                storage.alloc, "pve1", "local", 100, GIB, name="vm-100-disk-0.qcow2")
        _raises("illegal name 'vm-100-disk-0.raw' - wrong extension for format ('raw != 'qcow2')\n",
                storage.alloc, "pve1", "local", 100, GIB, fmt="qcow2", name="vm-100-disk-0.raw")
        config["local-zfs"]["nodes"] = ["pve2"]
        _raises("storage 'local-zfs' is not available on node 'pve1'\n", storage.alloc, "pve1", "local-zfs", 100, GIB)
        config["local-zfs"]["disable"] = 1
        _raises("storage 'local-zfs' is disabled\n", storage.alloc, "pve2", "local-zfs", 100, GIB)


def test_template_linked_clone_and_free(sim):
    """create_base renames vm- to base-; clone_image only from a base; vdisk_free keeps a used base."""
    storage = _storage(sim)
    with sim.state.lock:
        sim.state.namespace("storage")["config"]["local"]["content"].append("images")
        disk = storage.alloc("pve1", "local-zfs", 100, 8 * GIB)
        _raises("clone_image only works on base images\n", storage.linked_clone, "pve1", disk, 101)
        base = storage.to_base("pve1", disk)
        assert base == "local-zfs:base-100-disk-0"
        assert storage.volume("pve1", disk) is None
        _raises("create_base not possible with base image\n", storage.to_base, "pve1", base)
        clone = storage.linked_clone("pve1", base, 101)
        assert clone == "local-zfs:base-100-disk-0/vm-101-disk-0"
        assert storage.volume("pve1", clone)["parent"] == base
        assert storage.volume("pve1", base)["used_by_base"] == [clone]
        _raises("base volume 'base-100-disk-0' is still in use by linked clones\n", storage.free, "pve1", base)
        storage.free("pve1", clone)
        storage.free("pve1", base)
        assert storage.volumes_of("pve1", 100) == []
        _raises("zfs error: cannot open 'rpool/data/vm-100-disk-7': dataset does not exist\n", storage.free, "pve1", "local-zfs:vm-100-disk-7")

        dir_disk = storage.alloc("pve1", "local", 200, GIB)
        dir_base = storage.to_base("pve1", dir_disk)
        assert dir_base == "local:200/base-200-disk-0.qcow2"
        assert storage.linked_clone("pve1", dir_base, 201) == "local:200/base-200-disk-0.qcow2/201/vm-201-disk-0.qcow2"


def test_resize_copy_and_import_source(sim):
    """volume_resize (ZFS pads to MiB; dir only raw/qcow2), a full copy to another storage and node."""
    storage = _storage(sim)
    with sim.state.lock:
        config = sim.state.namespace("storage")["config"]
        config["local"]["content"].append("images")
        disk = storage.alloc("pve1", "local-zfs", 100, GIB)
        storage.resize("pve1", disk, 3 * GIB + 5)
        assert storage.size_of("pve1", disk) == 3 * GIB + 1024 * 1024
        vmdk = storage.alloc("pve1", "local", 100, GIB, fmt="vmdk")
        _raises("can't resize this image format\n", storage.resize, "pve1", vmdk, 2 * GIB)
        _raises("volume 'local-zfs:vm-100-disk-9' does not exist\n", storage.resize, "pve1", "local-zfs:vm-100-disk-9", GIB)
        copied = storage.copy("pve1", disk, "local", 102, target_node="pve2")
        assert copied == "local:102/vm-102-disk-0.raw"
        assert storage.volume("pve2", copied)["size"] == 3 * GIB + 1024 * 1024
        assert storage.copy("pve1", vmdk, "local-zfs", 103) == "local-zfs:vm-103-disk-0"
        _raises("can't find file 'local:import/debian-12.qcow2'\n", storage.import_source, "pve1", "local:import/debian-12.qcow2")
        _raises("unable to parse directory volume name 'import/debian-12.txt'\n", storage.import_source, "pve1", "local:import/debian-12.txt")


# -- storage.cfg over the API (Config.pm) --------------------------------------------------------------

def test_storage_config_crud(sim, api_session):
    """Config.pm: index with type filter, create, update (digest, delete, fixed options), delete."""
    api = api_session(sim)
    listed = ok(api, "GET", "/storage")
    assert [(entry["storage"], entry["type"], entry["content"]) for entry in listed] == [
        ("local", "dir", "backup,import,iso,vztmpl"), ("local-zfs", "zfspool", "images,rootdir")]
    digest = listed[0]["digest"]
    assert ok(api, "GET", "/storage", type="zfspool")[0]["sparse"] == 1
    assert ok(api, "POST", "/storage", storage="tank", type="zfspool", pool="tank/vms", content="images",
              blocksize="16k") == {"storage": "tank", "type": "zfspool"}
    assert ok(api, "GET", "/storage/tank") == {"storage": "tank", "type": "zfspool", "pool": "tank/vms", "content": "images",
                                               "blocksize": "16k", "digest": ok(api, "GET", "/storage/tank")["digest"]}
    plain_error(api.api("POST", "/storage", data={"storage": "tank", "type": "zfspool", "pool": "x"}),
                "create storage failed: storage ID 'tank' already defined\n")
    plain_error(api.api("POST", "/storage", data={"storage": "d2", "type": "dir", "path": "/srv/my data"}),
                "illegal path for directory storage: /srv/my data\n")
    plain_error(api.api("POST", "/storage", data={"storage": "d2", "type": "dir", "path": "/srv", "pool": "x"}),
                "unexpected property 'pool'\n")
    plain_error(api.api("PUT", "/storage/local", data={"digest": digest}),
                "update storage failed: detected modified configuration - file changed by other user? Try again.\n")
    # fixed options (path, pool) are not in the update schema at all (Plugin.pm updateSchema)
    assert_pve_error(api.api("PUT", "/storage/local", data={"path": "/srv"}), 400, "Parameter verification failed.",
                     {"path": "property is not defined in schema and the schema does not allow additional properties"})
    plain_error(api.api("PUT", "/storage/local", data={"delete": "path"}), "update storage failed: unable to delete required option 'path'\n")
    plain_error(api.api("PUT", "/storage/tank", data={"delete": "sparse", "sparse": 1}),
                "update storage failed: cannot set and delete property 'sparse' at the same time!\n")
    ok(api, "PUT", "/storage/tank", nodes="pve2,pve1", delete="blocksize")
    tank = ok(api, "GET", "/storage/tank")
    assert (tank["nodes"], "blocksize" in tank) == ("pve1,pve2", False)
    # a type the simulator has no volumes for is still configured, as PVE would
    ok(api, "POST", "/storage", storage="nfs1", type="nfs", server="10.0.0.5", export="/export", content="iso")
    assert ok(api, "GET", "/storage", type="nfs")[0]["server"] == "10.0.0.5"
    ok(api, "DELETE", "/storage/nfs1")
    plain_error(api.api("DELETE", "/storage/nfs1"), "delete storage failed: storage 'nfs1' does not exist\n")


def test_storage_pool_membership_and_delete(sim, api_session):
    """Pool.pm: storages join pools; Config.pm delete runs remove_storage_access (ACL and pool membership)."""
    api = api_session(sim)
    ok(api, "POST", "/pools", poolid="tenant")
    ok(api, "PUT", "/pools", poolid="tenant", storage="local-zfs")
    ok(api, "PUT", "/access/acl", path="/storage/local-zfs", roles="PVEDatastoreUser", users="root@pam")
    plain_error(api.api("PUT", "/pools", data={"poolid": "tenant", "storage": "local-zfs"}),
                "update pools failed: Storage 'local-zfs' is already a pool member\n")
    ok(api, "DELETE", "/storage/local-zfs")
    assert sim.directory.state["pools"]["tenant"]["storage"] == []
    assert "/storage/local-zfs" not in sim.directory.state["acl"]


# -- node storage and content (Status.pm, Content.pm) ----------------------------------------------

def test_node_storage_list_and_status(sim, sim84, api_session):
    """Status.pm index/read_status: figures, filters; `formats` is 9.1's structured form (pve-storage 6333922)."""
    api = api_session(sim)
    ok(api, "POST", "/nodes/pve1/storage/local-zfs/content", filename="vm-100-disk-0", vmid=100, size="10G")
    listed = ok(api, "GET", "/nodes/pve1/storage")
    zfs = next(entry for entry in listed if entry["storage"] == "local-zfs")
    # a sparse zvol uses nothing until written
    assert zfs == {"storage": "local-zfs", "type": "zfspool", "content": "images,rootdir", "shared": 0, "active": 1, "enabled": 1,
                   "total": 500 * GIB, "used": 0, "avail": 500 * GIB, "used_fraction": 0.0}
    assert [entry["storage"] for entry in ok(api, "GET", "/nodes/pve1/storage", content="iso")] == ["local"]
    assert ok(api, "GET", "/nodes/pve1/storage", target="pve2") == []
    formatted = ok(api, "GET", "/nodes/pve1/storage", storage="local", format=1)[0]
    assert formatted["formats"] == {"supported": ["qcow2", "raw", "subvol", "vmdk"], "default": "raw"}
    answer = api.api("GET", "/nodes/pve1/storage", params={"storage": "nope"})
    assert_pve_error(answer, 400, "Parameter verification failed.", {"storage": "No such storage."})
    ok(api, "PUT", "/storage/local", disable=1)
    assert ok(api, "GET", "/nodes/pve1/storage/local/status")["enabled"] == 0
    assert [entry["storage"] for entry in ok(api, "GET", "/nodes/pve1/storage", enabled=1)] == ["local-zfs"]
    old = api_session(sim84)
    assert "formats" not in ok(old, "GET", "/nodes/pve1/storage", storage="local", format=1)[0]
    assert {entry["subdir"] for entry in ok(old, "GET", "/nodes/pve1/storage/local")} == {
        "content", "download-url", "file-restore", "import-metadata", "prunebackups", "rrd", "rrddata", "status", "upload"}
    assert "oci-registry-pull" in {entry["subdir"] for entry in ok(api, "GET", "/nodes/pve1/storage/local")}


def test_content_alloc_list_info_delete(sim, api_session):
    """Content.pm create (size in KiB/M/G, format from the extension), index, info, delete as an imgdel task."""
    api = api_session(sim)
    assert ok(api, "POST", "/nodes/pve1/storage/local-zfs/content", filename="vm-100-disk-0", vmid=100, size="4G") == "local-zfs:vm-100-disk-0"
    answer = api.api("POST", "/nodes/pve1/storage/local-zfs/content",
                     data={"filename": "vm-100-disk-1.qcow2", "vmid": 100, "size": "1G", "format": "raw"})
    assert_pve_error(answer, 400, "Parameter verification failed.", {"format": "different storage formats (raw != qcow2)"})
    listed = ok(api, "GET", "/nodes/pve1/storage/local-zfs/content")
    assert [(entry["volid"], entry["size"], entry["vmid"], entry["format"], entry["content"]) for entry in listed] == [
        ("local-zfs:vm-100-disk-0", 4 * GIB, 100, "raw", "images")]
    assert ok(api, "GET", "/nodes/pve1/storage/local-zfs/content", vmid=101) == []
    assert ok(api, "GET", "/nodes/pve2/storage/local-zfs/content") == []
    info = ok(api, "GET", "/nodes/pve1/storage/local-zfs/content/vm-100-disk-0")
    assert info == {"path": "/dev/zvol/rpool/data/vm-100-disk-0", "size": 4 * GIB, "used": 0, "format": "raw"}
    plain_error(api.api("PUT", "/nodes/pve1/storage/local-zfs/content/vm-100-disk-0", data={"protected": 1}),
                "attribute 'protected' is not supported for storage type 'zfspool'\n")
    answer = api.api("GET", "/nodes/pve1/storage/local/content/local-zfs:vm-100-disk-0")
    assert_pve_error(answer, 400, "Parameter verification failed.", {"volume": "storage ID mismatch (local-zfs != local)\n"})
    upid = ok(api, "DELETE", "/nodes/pve1/storage/local-zfs/content/vm-100-disk-0")
    assert upid.split(":")[5:7] == ["imgdel", "100@local-zfs"]
    assert ok(api, "GET", "/nodes/pve1/storage/local-zfs/content") == []
    plain_error(api.api("GET", "/nodes/pve1/storage/local-zfs/content/vm-100-disk-0"), "volume 'local-zfs:vm-100-disk-0' does not exist\n")


def test_cluster_resources_storage_entries(sim, api_session):
    """Cluster.pm resources: storage/<node>/<storage> per node with the figures."""
    api = api_session(sim)
    ok(api, "POST", "/storage", storage="only2", type="dir", path="/srv/only2", nodes="pve2", content="iso")
    entries = ok(api, "GET", "/cluster/resources", type="storage")
    assert sorted(entry["id"] for entry in entries) == sorted(
        ["storage/%s/%s" % (node, storage) for node in ("pve1", "pve2", "pve3") for storage in ("local", "local-zfs")] + ["storage/pve2/only2"])
    entry = next(entry for entry in entries if entry["id"] == "storage/pve1/local")
    assert entry == {"id": "storage/pve1/local", "type": "storage", "storage": "local", "node": "pve1", "status": "available",
                     "plugintype": "dir", "content": "backup,import,iso,vztmpl", "shared": 0, "disk": 0, "maxdisk": 500 * GIB}


# -- download-url (Status.pm download_url, pve-common Tools.pm download_file_from_url) -----------------

IMAGE_URL = "https://cloud.example.org/debian-12.qcow2"
IMAGE_TEXT = "not really a qcow2 image"
IMAGE_SHA256 = hashlib.sha256(IMAGE_TEXT.encode("utf-8")).hexdigest()


def _finished(sim, api, upid):
    """Poll the task until it stopped (bounded), then return its exit status."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = ok(api, "GET", "/nodes/%s/tasks/%s/status" % (upid.split(":")[1], upid))
        if status["status"] == "stopped":
            return status["exitstatus"]
        time.sleep(0.05)
    raise AssertionError("task %s did not stop" % upid)


def test_download_url_from_the_catalog(sim, api_session):
    """The file appears only when the task ends OK; a second download of it is refused; the import is a disk source."""
    api = api_session(sim)
    assert api.sim("POST", "storage/images", json={"url": IMAGE_URL, "content": IMAGE_TEXT, "virtual_size": 3 * GIB}).status_code == 200
    upid = ok(api, "POST", "/nodes/pve1/storage/local/download-url", url=IMAGE_URL, content="import", filename="debian-12.qcow2",
              checksum=IMAGE_SHA256, **{"checksum-algorithm": "sha256"})
    assert upid.split(":")[5:7] == ["download", "debian-12.qcow2"]
    assert ok(api, "GET", "/nodes/pve1/storage/local/content", content="import") == []
    assert _finished(sim, api, upid) == "OK"
    listed = ok(api, "GET", "/nodes/pve1/storage/local/content", content="import")
    assert [(entry["volid"], entry["format"], entry["size"]) for entry in listed] == [("local:import/debian-12.qcow2", "qcow2", 3 * GIB)]
    with sim.state.lock:
        assert _storage(sim).import_source("pve1", "local:import/debian-12.qcow2") == {"size": 3 * GIB, "format": "qcow2"}
    log = [line["t"] for line in ok(api, "GET", "/nodes/pve1/tasks/%s/log" % upid)]
    assert log == ["downloading %s to /var/lib/vz/import/debian-12.qcow2" % IMAGE_URL, "calculating checksum...OK, checksum verified",
                   "download of '%s' to '/var/lib/vz/import/debian-12.qcow2' finished" % IMAGE_URL, "TASK OK"]
    again = ok(api, "POST", "/nodes/pve1/storage/local/download-url", url=IMAGE_URL, content="import", filename="debian-12.qcow2")
    assert _finished(sim, api, again) == "refusing to override existing file '/var/lib/vz/import/debian-12.qcow2'"
    wrong = ok(api, "POST", "/nodes/pve1/storage/local/download-url", url=IMAGE_URL, content="import", filename="debian-12.qcow2",
               checksum="00", **{"checksum-algorithm": "sha256"})
    assert _finished(sim, api, wrong) == "checksum mismatch: got '%s' != expect '00', aborting" % IMAGE_SHA256


def test_download_url_checksum_mismatch_leaves_nothing(sim, sim84, api_session):
    """A wrong checksum fails the task with download_file_from_url's message and no file (8.4 and 9.1 alike)."""
    for simulator in (sim, sim84):
        api = api_session(simulator)
        api.sim("POST", "storage/images", json={"url": IMAGE_URL, "content": IMAGE_TEXT})
        upid = ok(api, "POST", "/nodes/pve2/storage/local/download-url", url=IMAGE_URL, content="import", filename="debian-12.qcow2",
                  checksum="ABCD", **{"checksum-algorithm": "sha256"})
        assert _finished(simulator, api, upid) == "checksum mismatch: got '%s' != expect 'ABCD'" % IMAGE_SHA256
        assert ok(api, "GET", "/nodes/pve2/storage/local/content") == []


def test_download_url_refusals_before_the_task(sim, api_session):
    """Status.pm download_url: file name rules per content, content not configured, not a file based storage."""
    api = api_session(sim)
    base = "/nodes/pve1/storage/local/download-url"
    answer = api.api("POST", base, data={"url": IMAGE_URL, "content": "import", "filename": "debian-12.txt"})
    assert_pve_error(answer, 400, "Parameter verification failed.", {"filename": "invalid filename or wrong extension"})
    answer = api.api("POST", base, data={"url": IMAGE_URL, "content": "iso", "filename": "debian.qcow2"})
    assert_pve_error(answer, 400, "Parameter verification failed.", {"filename": "wrong file extension"})
    ok(api, "PUT", "/storage/local", content="iso,vztmpl")
    plain_error(api.api("POST", base, data={"url": IMAGE_URL, "content": "import", "filename": "debian-12.qcow2"}),
                "storage 'local' is not configured for content-type 'import'\n")
    plain_error(api.api("POST", "/nodes/pve1/storage/local-zfs/download-url", data={"url": IMAGE_URL, "content": "iso", "filename": "a.iso"}),
                "can't upload to storage type 'zfspool', not a file based storage!\n")


def test_download_url_unreachable_and_loopback(sim, api_session):
    """Hosts outside the catalog fail like wget without network; loopback URLs are fetched for real."""
    api = api_session(sim)
    upid = ok(api, "POST", "/nodes/pve1/storage/local/download-url", url="https://nowhere.example.org/x.iso", content="iso", filename="x.iso")
    assert _finished(sim, api, upid) == "download failed: wget: unable to resolve host address 'nowhere.example.org'"
    payload = b"ISO bytes " * 100

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # pylint: disable=invalid-name
            if self.path != "/alpine.iso":
                self.send_error(404, "Not Found")
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):  # quiet
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = "http://127.0.0.1:%d" % server.server_address[1]
        upid = ok(api, "POST", "/nodes/pve1/storage/local/download-url", url=url + "/alpine.iso", content="iso", filename="alpine.iso",
                  checksum=hashlib.md5(payload).hexdigest(), **{"checksum-algorithm": "md5"})
        assert _finished(sim, api, upid) == "OK"
        listed = ok(api, "GET", "/nodes/pve1/storage/local/content", content="iso")
        assert [(entry["volid"], entry["size"], entry["format"]) for entry in listed] == [("local:iso/alpine.iso", len(payload), "raw")]
        missing = ok(api, "POST", "/nodes/pve1/storage/local/download-url", url=url + "/gone.iso", content="iso", filename="gone.iso")
        assert re.match(r"^download failed: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d ERROR 404: Not Found\.$", _finished(sim, api, missing))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


# -- pbs storages (PBSPlugin.pm) and zfspools per node ---------------------------------------------------

PBS_FINGERPRINT = ":".join(["ab"] * 32)


def test_pbs_secrets_stay_private_canary(sim, api_session):
    """PBSPlugin.pm sensitive properties: the password and the encryption key live in the private namespace
    (/etc/pve/priv/storage), storage.cfg holds the key's fingerprint; no GET answers the secret and the
    request log hides it; the create answer carries the generated key; delete=password removes it."""
    api = api_session(sim)
    canary = "CANARY-%s" % hashlib.sha256(str(time.time()).encode()).hexdigest()[:16]
    created = ok(api, "POST", "/storage", storage="pbs1", type="pbs", server="10.0.0.5", datastore="main", username="backup@pbs",
                 password=canary, fingerprint=PBS_FINGERPRINT, **{"encryption-key": "autogen"})
    key = json.loads(created["config"]["encryption-key"])
    assert created["storage"] == "pbs1" and key["data"] and key["kdf"] is None
    read = ok(api, "GET", "/storage/pbs1")
    assert (read["encryption-key"], read["content"], "password" in read) == (key["fingerprint"], "backup", False)
    answers = [api.api("GET", path).text for path in (
        "/storage", "/storage/pbs1", "/nodes/pve1/storage", "/nodes/pve1/storage/pbs1/status", "/cluster/resources",
        "/nodes/pve1/storage/pbs1/content")]
    assert all(canary not in text and key["data"] not in text for text in answers)
    assert canary not in api.sim("GET", "requests").text
    assert sim.state.namespace("storage")["priv"]["pbs1"]["password"] == canary
    # without encryption key the answer's config is empty (on_update_hook returns {})
    assert ok(api, "PUT", "/storage/pbs1", delete="password,encryption-key") == {"storage": "pbs1", "type": "pbs", "config": {}}
    assert sim.state.namespace("storage")["priv"]["pbs1"] == {}
    assert "encryption-key" not in ok(api, "GET", "/storage/pbs1")
    ok(api, "DELETE", "/storage/pbs1")
    assert "pbs1" not in sim.state.namespace("storage")["priv"]


def test_pbs_option_refusals(sim, api_session):
    """on_add_hook: key JSON with `data`, master-pubkey only with a key; the fingerprint's schema pattern;
    server and datastore are fixed; content backup or none only."""
    api = api_session(sim)
    base = {"storage": "pbs1", "type": "pbs", "server": "10.0.0.5", "datastore": "main"}
    plain_error(api.api("POST", "/storage", data=dict(base, **{"encryption-key": "{\"kdf\": null}"})),
                "create storage failed: Value does not seems like a valid, JSON formatted encryption key!\n")
    plain_error(api.api("POST", "/storage", data=dict(base, **{"master-pubkey": "LS0tLS1CRUdJTg=="})),
                "create storage failed: 'master-pubkey' can only be used together with 'encryption-key'\n")
    answer = api.api("POST", "/storage", data=dict(base, fingerprint="ab:cd"))
    assert answer.status_code == 400 and "fingerprint" in answer.json()["errors"]
    assert ok(api, "GET", "/storage", type="pbs") == []
    given = json.dumps({"kdf": None, "data": "a2V5", "fingerprint": PBS_FINGERPRINT})
    created = ok(api, "POST", "/storage", **dict(base, content="backup", **{"encryption-key": given, "master-pubkey": "LS0tLS1CRUdJTg=="}))
    assert created["config"] == {"encryption-key": given}
    read = ok(api, "GET", "/storage/pbs1")
    assert (read["encryption-key"], read["master-pubkey"]) == (PBS_FINGERPRINT, 1)
    answer = api.api("PUT", "/storage/pbs1", data={"datastore": "other"})
    assert answer.status_code == 400 and "datastore" in answer.json()["errors"]
    # allocating a disk on a backup server: no images content
    error = _raises("Parameter verification failed.\n", _storage(sim).alloc, "pve1", "pbs1", 100, GIB)
    assert error.errors == {"storage": "storage 'pbs1' does not support vm images"}


def test_pbs_activation_against_a_registered_server(sim, api_session):
    """Config.pm create activates the storage (PBSPlugin.pm activate_storage / scan_datastores through
    pve-apiclient): the server's fingerprint, the login, the datastore; a failure leaves nothing behind."""
    api = api_session(sim)
    answer = api.sim("POST", "storage/pbs-remotes", json={"server": "10.0.0.5", "datastore": "main", "fingerprint": PBS_FINGERPRINT,
                                                          "username": "backup@pbs", "secret": "right"})
    assert answer.status_code == 200 and answer.json()["data"]["users"] == ["backup@pbs"]
    api.sim("POST", "storage/pbs-remotes", json={"server": "10.0.0.5", "username": "backup@pbs!pve", "secret": "token-secret"})
    base = {"storage": "pbs1", "type": "pbs", "server": "10.0.0.5", "datastore": "main", "username": "backup@pbs",
            "fingerprint": PBS_FINGERPRINT}
    plain_error(api.api("POST", "/storage", data=dict(base, password="wrong")),
                "create storage failed: pbs1: error fetching datastores - 401 Unauthorized\n")
    plain_error(api.api("POST", "/storage", data=dict(base, password="right", fingerprint=":".join(["cd"] * 32))),
                "create storage failed: pbs1: error fetching datastores - fingerprint '%s' not verified, abort!\n" % PBS_FINGERPRINT.upper())
    plain_error(api.api("POST", "/storage", data=dict(base, password="right", datastore="other")),
                "create storage failed: pbs1: Cannot find datastore 'other', check permissions and existence!\n")
    plain_error(api.api("POST", "/storage", data=dict(base, password="bad", username="backup@pbs!pve")),
                "create storage failed: pbs1: error fetching datastores - Unauthorized\n")
    assert ok(api, "GET", "/storage", type="pbs") == [] and "pbs1" not in sim.state.namespace("storage")["priv"]
    created = api.api("POST", "/storage", data=dict(base, password="token-secret", username="backup@pbs!pve"))
    assert created.status_code == 200, created.text
    # a disabled storage is not activated
    disabled = api.api("POST", "/storage", data=dict(base, storage="pbs2", password="wrong", disable=1))
    assert disabled.status_code == 200, disabled.text


def test_zfspool_per_node(sim, api_session):
    """A zfspool limited to some nodes (`nodes`): volumes only there (Storage.pm storage_check_node)."""
    api = api_session(sim)
    ok(api, "POST", "/storage", storage="tank", type="zfspool", pool="tank/vms", content="images,rootdir", nodes="pve2,pve3")
    storage = _storage(sim)
    with sim.state.lock:
        assert storage.alloc("pve2", "tank", 100, GIB) == "tank:vm-100-disk-0"
        _raises("storage 'tank' is not available on node 'pve1'\n", storage.alloc, "pve1", "tank", 100, GIB)
    assert [entry["storage"] for entry in ok(api, "GET", "/nodes/pve1/storage", content="images")] == ["local-zfs"]
    assert [entry["volid"] for entry in ok(api, "GET", "/nodes/pve2/storage/tank/content")] == ["tank:vm-100-disk-0"]
