"""Storage: storage.cfg (/storage), node storage status and content, download-url, and the volume
calls the guest areas use (alloc, free, resize, copy, linked clones, templates, import sources).

Sources (proxmox/pve-storage at 0c56bad): src/PVE/API2/Storage/Config.pm (storage.cfg CRUD),
Status.pm (node storage index, status, download_url), Content.pm (volume list, alloc, info, notes and
protection, delete), src/PVE/Storage.pm and the Dir and ZFS pool plugins (see pvesim/storage_config.py).
pve-manager PVE/API2/Cluster.pm `resources` for the `storage` entries.

Volumes live per node: both default storages are local, so `local-zfs:vm-100-disk-0` on pve1 and on
pve2 are two different disks. A volume that a task creates (download-url) carries `ready_at` and is
hidden until that task has ended.

Side channel (the internet the simulator cannot reach):
  POST   /_sim/storage/images  {"url", "content": text (the file's bytes as UTF-8), "virtual_size": bytes}
  GET    /_sim/storage/images
  DELETE /_sim/storage/images  {"url"} (no url: all)
"""

import time

from pvesim.areas import Area
from pvesim.errors import HTTP_NOT_IMPLEMENTED, ApiError, ParamError, die
from pvesim.storage_config import (
    DEFAULT_VIRTUAL_SIZE, PLUGIN_CONTENT, PLUGIN_FORMATS, STORAGE_TOTAL, STORAGE_TYPES_WITH_VOLUMES, VTYPE_SUBDIRS,
    default_storage_cfg, next_disk_name, parse_name_dir, parse_volname, parse_volume_id, zfs_volume_bytes)

# ZFSPoolPlugin.pm alloc_image: `die "unsupported format '$fmt'"` has no newline, so Perl adds where
ZFS_UNSUPPORTED_FORMAT_AT = " at /usr/share/perl5/PVE/Storage/ZFSPoolPlugin.pm line 292.\n"


def _die_from(error):
    """A ValueError of the facts module (a PVE message) as the plain die it is in PVE."""
    return die(str(error))


class StorageArea(Area):  # pylint: disable=too-many-public-methods
    """storage.cfg, the volumes of every node, and the download catalog."""

    name = "storage"

    def initial_state(self):
        return {"config": default_storage_cfg(), "volumes": {node: {} for node in self.sim.nodes}, "images": {}}

    # -- storage.cfg lookups (Storage.pm storage_config, storage_check_node, storage_check_enabled) ----
    def storage_config(self, storage):
        """The section of a storage; dies like Storage.pm storage_config."""
        if not storage:
            raise die("no storage ID specified\n")
        scfg = self.state["config"].get(storage)
        if scfg is None:
            raise die("storage '%s' does not exist\n" % storage)
        return scfg

    def check_enabled(self, storage, node):
        """Storage.pm storage_check_enabled: not disabled, and (storage_check_node) on the node."""
        scfg = self.storage_config(storage)
        if scfg.get("disable"):
            raise die("storage '%s' is disabled\n" % storage)
        if scfg.get("nodes") and node not in scfg["nodes"]:
            raise die("storage '%s' is not available on node '%s'\n" % (storage, node))
        return scfg

    @staticmethod
    def _simulated(storage, scfg):
        """Only dir and zfspool storages have volumes here; any other type is the simulator's limit."""
        if scfg["type"] not in STORAGE_TYPES_WITH_VOLUMES:
            raise ApiError(HTTP_NOT_IMPLEMENTED, "storage '%s': volumes of type '%s' are not simulated by pvesim\n" % (storage, scfg["type"]))

    def _volumes(self, node):
        return self.state["volumes"].setdefault(node, {})

    def _visible(self, record):
        return record.get("ready_at") is None or record["ready_at"] <= time.time()

    def _record(self, node, volid):
        """The live record of a volume that exists now (a download still running is not there yet)."""
        record = self._volumes(node).get(volid)
        return record if record is not None and self._visible(record) else None

    def _parse(self, volid):
        """(storage, volname, storage config, VolumeName) of a volume ID; PVE's dies."""
        try:
            storage, volname = parse_volume_id(volid)
        except ValueError as error:
            raise _die_from(error) from error
        scfg = self.storage_config(storage)
        self._simulated(storage, scfg)
        try:
            parsed = parse_volname(scfg["type"], volname)
        except ValueError as error:
            raise _die_from(error) from error
        return storage, volname, scfg, parsed

    def _existing(self, node, volid):
        """The record of a volume, or Plugin.pm activate_volume's die for a missing one."""
        storage, volname, scfg, parsed = self._parse(volid)
        record = self._record(node, volid)
        if record is None:
            raise die("volume '%s:%s' does not exist\n" % (storage, volname))
        return record, scfg, parsed

    def _add_volume(self, node, storage, volname, content, fmt, size, vmid=None, used=None, **extra):
        """Store a new volume record; returns its volid."""
        volid = "%s:%s" % (storage, volname)
        record = {"storage": storage, "volname": volname, "content": content, "format": fmt, "size": int(size),
                  "used": int(size if used is None else used), "vmid": vmid, "ctime": int(time.time())}
        record.update(extra)
        self._volumes(node)[volid] = record
        return volid

    def _guest_volids(self, node, storage, vmid):
        """list_images of one guest on one storage (what find_free_diskname looks at)."""
        return [volid for volid, record in self._volumes(node).items()
                if record["storage"] == storage and record["vmid"] == vmid and record["content"] == "images"]

    def _linked_clones(self, node, volid):
        """Storage.pm volume_is_base_and_used: the linked clones whose base this volume is."""
        return sorted(other for other, record in self._volumes(node).items() if record.get("parent") == volid)

    # -- the calls of the guest areas ----------------------------------------------------------
    def default_format(self, storage, scfg):
        """The image format of a new disk when the caller names none: the storage's `format` option,
        else qcow2 on a directory storage (what the GUI and qemu-server callers send) and raw on ZFS."""
        del storage
        if scfg.get("format"):
            return scfg["format"]
        return "qcow2" if scfg["type"] == "dir" else PLUGIN_FORMATS[scfg["type"]][1]

    def alloc(self, node, storage, vmid, size_bytes, fmt=None, name=None):  # pylint: disable=too-many-arguments
        """Storage.pm vdisk_alloc + the plugin's alloc_image; returns the volid.

        Checks as PVE's callers do: the storage exists and is enabled on the node (storage_check_enabled),
        has content `images` (qemu-server API2/Qemu.pm $check_storage_access: a parameter error on
        `storage`). A `name` without extension on a directory storage gets `.<fmt>` (qemu-server does so
        for its cloud-init drive, `vm-<vmid>-cloudinit`).
        """
        vmid = int(vmid)
        scfg = self.check_enabled(storage, node)
        if "images" not in scfg.get("content", []):
            raise ParamError({"storage": "storage '%s' does not support vm images" % storage})
        self._simulated(storage, scfg)
        fmt = fmt or self.default_format(storage, scfg)
        used_volids = self._guest_volids(node, storage, vmid)
        if scfg["type"] == "zfspool":
            if fmt != "raw":
                raise die("unsupported format '%s'%s" % (fmt, ZFS_UNSUPPORTED_FORMAT_AT))
            if name and not name.startswith("vm-%d-" % vmid):
                raise die("illegal name '%s' - should be 'vm-%d-*'\n" % (name, vmid))
            volname = name or self._next_name(used_volids, storage, vmid, fmt, False)
            if self._volumes(node).get("%s:%s" % (storage, volname)) is not None:
                raise die("zfs error: cannot create '%s/%s': dataset already exists\n" % (scfg["pool"], volname))
            size = zfs_volume_bytes(size_bytes)
            return self._add_volume(node, storage, volname, "images", "raw", size, vmid, used=0 if scfg.get("sparse") else size)
        if name and "." not in name:
            name = "%s.%s" % (name, fmt)
        name = name or self._next_name(used_volids, storage, vmid, fmt, True)
        try:
            _name, name_format, _is_base = parse_name_dir(name)
        except ValueError as error:
            raise _die_from(error) from error
        if name_format != fmt:
            raise die("illegal name '%s' - wrong extension for format ('%s != '%s')\n" % (name, name_format, fmt))
        volname = "%d/%s" % (vmid, name)
        if self._volumes(node).get("%s:%s" % (storage, volname)) is not None:
            raise die("disk image '%s/%s/%s' already exists\n" % (scfg["path"], VTYPE_SUBDIRS["images"], volname))
        return self._add_volume(node, storage, volname, "images", fmt, size_bytes, vmid)

    @staticmethod
    def _next_name(used_volids, storage, vmid, fmt, add_suffix):
        try:
            return next_disk_name(used_volids, storage, vmid, fmt, add_suffix)
        except ValueError as error:
            raise _die_from(error) from error

    def volume(self, node, volid):
        """A volume as the guest areas see it, or None (also for a storage or name PVE cannot parse)."""
        try:
            storage, _volname = parse_volume_id(volid)
        except ValueError:
            return None
        if storage not in self.state["config"]:
            return None
        record = self._record(node, volid)
        if record is None:
            return None
        result = {"volid": volid, "storage": storage, "size": record["size"], "format": record["format"], "vmid": record["vmid"],
                  "content": record["content"], "ctime": record["ctime"], "used_by_base": self._linked_clones(node, volid)}
        for key in ("parent", "notes", "protected"):
            if record.get(key) is not None:
                result[key] = record[key]
        return result

    def size_of(self, node, volid):
        """The size of a volume in bytes (dies for a missing one)."""
        return self._existing(node, volid)[0]["size"]

    def free(self, node, volid):
        """Storage.pm vdisk_free: a base volume linked clones use, or a protected one, stays."""
        storage, volname, scfg, parsed = self._parse(volid)
        if parsed.is_base and self._linked_clones(node, volid):
            raise die("base volume '%s' is still in use by linked clones\n" % volname)
        record = self._record(node, volid)
        if record is not None and record.get("protected"):
            raise die("cannot remove protected volume '%s' on '%s'\n" % (volname, storage))
        if record is None:
            if scfg["type"] == "zfspool":
                raise die("zfs error: cannot open '%s/%s': dataset does not exist\n" % (scfg["pool"], parsed.name))
            return  # Plugin.pm free_image only warns about a missing file
        del self._volumes(node)[volid]

    def resize(self, node, volid, size_bytes):
        """The plugin's volume_resize: ZFS pads to whole MiB; a directory storage resizes raw and qcow2 only."""
        record, scfg, parsed = self._existing(node, volid)
        if scfg["type"] == "zfspool":
            size = zfs_volume_bytes(size_bytes)
        else:
            if parsed.format not in ("raw", "qcow2"):
                raise die("can't resize this image format\n")
            size = int(size_bytes)
        if record["used"] == record["size"]:
            record["used"] = size
        record["size"] = size

    def copy(self, node, volid, target_storage, vmid, fmt=None, target_node=None):  # pylint: disable=too-many-arguments
        """A full copy (full clone, import-from, migration of a local disk): a new disk of the source's
        size on the target storage and node; the format is `fmt`, else the source's if the target
        supports it, else the target's default (qemu-server resolve_dst_disk_format)."""
        record = self._existing(node, volid)[0]
        target_node = target_node or node
        target_scfg = self.check_enabled(target_storage, target_node)
        if not fmt:
            source_format = record["format"]
            if source_format in PLUGIN_FORMATS.get(target_scfg["type"], ((), None))[0] and source_format != "subvol":
                fmt = source_format
        new_volid = self.alloc(target_node, target_storage, vmid, record["size"], fmt)
        new_record = self._volumes(target_node)[new_volid]
        new_record["used"] = min(record["used"] or record["size"], new_record["size"])
        return new_volid

    def linked_clone(self, node, base_volid, vmid):
        """The plugin's clone_image: only from a base volume; dir clones are qcow2 files backed by it."""
        record, scfg, parsed = self._existing(node, base_volid)
        vmid = int(vmid)
        storage = record["storage"]
        if not parsed.is_base:
            raise die("clone_image only works on base images\n")
        used_volids = self._guest_volids(node, storage, vmid)
        if scfg["type"] == "zfspool":
            name = self._next_name(used_volids, storage, vmid, parsed.format, False)
            volname = "%s/%s" % (parsed.name, name)
            fmt = parsed.format
        else:
            name = self._next_name(used_volids, storage, vmid, "qcow2", True)
            volname = "%d/%s/%d/%s" % (parsed.vmid, parsed.name, vmid, name)
            fmt = "qcow2"
        return self._add_volume(node, storage, volname, "images", fmt, record["size"], vmid, used=0, parent=base_volid)

    def to_base(self, node, volid):
        """The plugin's create_base: vm-N-disk-M becomes base-N-disk-M (template conversion)."""
        record, scfg, parsed = self._existing(node, volid)
        if parsed.vtype != "images":
            raise die("create_base on wrong vtype '%s'\n" % parsed.vtype)
        if parsed.is_base:
            raise die("create_base not possible with base image\n")
        new_name = parsed.name.replace("vm-", "base-", 1) if parsed.name.startswith("vm-") else parsed.name
        if scfg["type"] == "zfspool":
            new_volname = "%s/%s" % (parsed.basename, new_name) if parsed.basename else new_name
        elif parsed.basename:
            new_volname = "%d/%s/%d/%s" % (parsed.basevmid, parsed.basename, parsed.vmid, new_name)
        else:
            new_volname = "%d/%s" % (parsed.vmid, new_name)
        new_volid = "%s:%s" % (record["storage"], new_volname)
        if new_volid in self._volumes(node):
            raise die("file '%s/%s/%s' already exists\n" % (scfg.get("path", ""), VTYPE_SUBDIRS["images"], new_volname))
        del self._volumes(node)[volid]
        record["volname"] = new_volname
        self._volumes(node)[new_volid] = record
        return new_volid

    def import_source(self, node, volid):
        """Size and format of an `import` or `iso` volume to import a disk from (qemu-server import-from);
        a missing one is Storage.pm abs_filesystem_path's `can't find file`."""
        storage, _volname, _scfg, parsed = self._parse(volid)
        self.check_enabled(storage, node)
        record = self._record(node, volid)
        if record is None:
            raise die("can't find file '%s'\n" % volid)
        if parsed.vtype not in ("import", "iso", "images"):
            raise die("unable to use volume %s - content type needs to be 'images' or 'import'\n" % volid)
        return {"size": record["size"], "format": record["format"]}

    def volumes_of(self, node, vmid):
        """Every volume of a guest on a node, sorted (destroy-unreferenced-disks)."""
        vmid = int(vmid)
        return sorted(volid for volid, record in self._volumes(node).items()
                      if record["vmid"] == vmid and self._visible(record) and record["content"] in ("images", "rootdir"))

    # -- figures ----------------------------------------------------------------------------------
    def usage(self, node, storage):
        """(total, used, avail) of a storage on a node: a fixed total, used = what its volumes take."""
        used = sum(record["used"] for record in self._volumes(node).values()
                   if record["storage"] == storage and self._visible(record))
        return STORAGE_TOTAL, used, STORAGE_TOTAL - used

    def content_types(self, scfg):
        """The storage's content list (the plugin's default when storage.cfg has none)."""
        if "content" in scfg:
            return list(scfg["content"])
        return list(PLUGIN_CONTENT.get(scfg["type"], ((), ("images",)))[1])

    def cluster_resources(self):
        """Cluster.pm resources: one `storage` entry per node and enabled storage available there."""
        entries = []
        for node in self.sim.nodes:
            for storage in sorted(self.state["config"]):
                scfg = self.state["config"][storage]
                if scfg.get("disable") or (scfg.get("nodes") and node not in scfg["nodes"]):
                    continue
                entry = {"id": "storage/%s/%s" % (node, storage), "type": "storage", "storage": storage, "node": node,
                         "status": "available", "plugintype": scfg["type"], "content": ",".join(sorted(self.content_types(scfg))),
                         "shared": 1 if scfg.get("shared") else 0, "disk": 0, "maxdisk": 0}
                if scfg["type"] in STORAGE_TYPES_WITH_VOLUMES:
                    total, used, _avail = self.usage(node, storage)
                    entry.update(disk=used, maxdisk=total)
                entries.append(entry)
        return entries

    # -- side channel ----------------------------------------------------------------------------
    def side_routes(self):
        def add_image(sim, body):
            url = body["url"]
            if not isinstance(url, str) or "://" not in url:
                raise ValueError("url must be an absolute URL, got %r" % (url,))
            content = body.get("content", "")
            if not isinstance(content, str):
                raise ValueError("content must be text")
            with sim.state.lock:
                self.state["images"][url] = {"url": url, "content": content,
                                             "virtual_size": int(body.get("virtual_size") or DEFAULT_VIRTUAL_SIZE)}
                sim.persist()
            return dict(self.state["images"][url])

        def remove_image(sim, body):
            with sim.state.lock:
                if body.get("url"):
                    if self.state["images"].pop(body["url"], None) is None:
                        raise ValueError("no image with url %r" % body["url"])
                else:
                    self.state["images"].clear()
                sim.persist()

        return {
            ("GET", "/_sim/storage/images"): lambda sim, body: [dict(image) for _url, image in sorted(self.state["images"].items())],
            ("POST", "/_sim/storage/images"): add_image,
            ("DELETE", "/_sim/storage/images"): remove_image,
        }
