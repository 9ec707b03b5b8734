"""The simulator's storage area: storage.cfg, node storage status and content, download-url and the
volume calls the guest areas use (pve-storage src/PVE/Storage.pm, Storage/Plugin.pm,
Storage/ZFSPoolPlugin.pm, API2/Storage/Config.pm, Content.pm, Status.pm)."""

import pytest

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
