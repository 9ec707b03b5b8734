"""Storage: storage.cfg (/storage), node storage status and content, download-url, and the volume
calls the guest areas use (alloc, free, resize, copy, linked clones, templates, import sources).

Sources (proxmox/pve-storage at 0c56bad): src/PVE/API2/Storage/Config.pm (storage.cfg CRUD),
Status.pm (node storage index, status, download_url), Content.pm (volume list, alloc, info, notes and
protection, delete), src/PVE/Storage.pm and the Dir and ZFS pool plugins (see pvesim/storage_config.py).
pve-manager PVE/API2/Cluster.pm `resources` for the `storage` entries. PBS storages: PBSPlugin.pm
(on_add_hook / on_update_hook / on_delete_hook keep password, encryption key and master public key in
/etc/pve/priv/storage, here the private `priv` namespace; activate_storage logs in and lists the
datastores).

Volumes live per node: both default storages are local, so `local-zfs:vm-100-disk-0` on pve1 and on
pve2 are two different disks. A volume that a task creates (download-url) carries `ready_at` and is
hidden until that task has ended.

Side channel (the internet the simulator cannot reach):
  POST   /_sim/storage/images  {"url", "content": text (the file's bytes as UTF-8), "virtual_size": bytes}
  GET    /_sim/storage/images
  DELETE /_sim/storage/images  {"url"} (no url: all)

Side channel (the backup servers a `pbs` storage talks to; without an entry for its server and port
the simulator accepts any credentials, as if the server were there and the login worked):
  POST   /_sim/storage/pbs-remotes {"server", "port" (8007), "datastore", "fingerprint", "username", "secret"}
         each call adds the datastore and the user's password or token secret to the remote
  GET    /_sim/storage/pbs-remotes (secrets left out)
  DELETE /_sim/storage/pbs-remotes
"""

import base64
import copy
import json
import os

import hashlib
import re
import ssl
import struct
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from pvesim.areas import Area, route
from pvesim.errors import HTTP_NOT_IMPLEMENTED, ApiError, ParamError, die
from pvesim.formats import split_list
from pvesim.sdn_config import assert_if_modified, wrap
from pvesim.storage_config import (
    CLUSTER_WIDE_VOLUME_TYPES, DEFAULT_VIRTUAL_SIZE, KIB, PLUGIN_CONTENT, PLUGIN_FORMATS, SENSITIVE_PROPERTIES, STORAGE_TOTAL,
    STORAGE_TYPES_WITH_VOLUMES, VMA_ZSTD_EXTENSION, archive_subtype, pbs_volname, vzdump_archive_name,
    VTYPE_SUBDIRS, check_storage_config, check_storage_delete, default_storage_cfg, download_filename_error, encode_value, next_disk_name,
    normalize_content_filename, parse_name_dir,
    parse_volname, parse_volume_id, storage_cfg_text, zfs_volume_bytes)
from pvesim.validate import reject_line_feeds

# download-url: what the simulator fetches for real (loopback only), and how long and how much
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
DOWNLOAD_TIMEOUT = 10
DOWNLOAD_SIZE_CAP = 64 * 1024 * 1024
# the schema's checksum-algorithm enum (Status.pm download_url)
CHECKSUM_ALGORITHMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
QCOW2_MAGIC = b"QFI\xfb"


class DownloadFailed(Exception):
    """The last line wget printed before it failed (Tools.pm run_command errmsg "download failed")."""


def qcow2_virtual_size(data):
    """The disk size in a qcow2 header (bytes 24-31, big-endian), or None for anything else."""
    if len(data) >= 32 and data[:4] == QCOW2_MAGIC:
        return struct.unpack(">Q", data[24:32])[0]
    return None


# PBSPlugin.pm pbs_api_connect: the backup server's port when the storage names none
PBS_DEFAULT_PORT = 8007
PBS_DEFAULT_USER = "root@pam"

# Config.pm index / Status.pm index: a storage is listed with either privilege
READ_PRIVILEGES = ("Datastore.Audit", "Datastore.AllocateSpace")

# ZFSPoolPlugin.pm alloc_image: `die "unsupported format '$fmt'"` has no newline, so Perl adds where
ZFS_UNSUPPORTED_FORMAT_AT = " at /usr/share/perl5/PVE/Storage/ZFSPoolPlugin.pm line 292.\n"
# Plugin.pm update_volume_notes: the same kind of die
PLUGIN_NOTES_DIE_AT = " at /usr/share/perl5/PVE/Storage/Plugin.pm line 1300.\n"


def _die_from(error):
    """A ValueError of the facts module (a PVE message) as the plain die it is in PVE."""
    return die(str(error))


class StorageArea(Area):  # pylint: disable=too-many-public-methods
    """storage.cfg, the volumes of every node, and the download catalog."""

    name = "storage"

    def initial_state(self):
        # cluster_volumes: the volumes of CLUSTER_WIDE_VOLUME_TYPES storages; priv: {storage: {secret option: value}}
        return {"config": default_storage_cfg(), "volumes": {node: {} for node in self.sim.nodes}, "images": {},
                "cluster_volumes": {}, "priv": {}, "pbs_remotes": {}}

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

    def _store(self, node, storage):
        """Where the volumes of `storage` live: per node, or one set for a backup server's storage."""
        scfg = self.state["config"].get(storage) or {}
        if scfg.get("type") in CLUSTER_WIDE_VOLUME_TYPES:
            return self.state.setdefault("cluster_volumes", {})
        return self._volumes(node)

    def _visible(self, record):
        return record.get("ready_at") is None or record["ready_at"] <= time.time()

    def _record(self, node, volid):
        """The live record of a volume that exists now (a download still running is not there yet)."""
        record = self._store(node, volid.split(":", 1)[0]).get(volid)
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
        self._store(node, storage)[volid] = record
        return volid

    def _guest_volids(self, node, storage, vmid):
        """list_images of one guest on one storage (what find_free_diskname looks at)."""
        return [volid for volid, record in self._volumes(node).items()
                if record["storage"] == storage and record["vmid"] == vmid and record["content"] == "images"]

    def _linked_clones(self, node, volid):
        """Storage.pm volume_is_base_and_used: the linked clones whose base this volume is."""
        return sorted(other for other, record in self._volumes(node).items() if record.get("parent") == volid)

    # -- the calls of the guest areas ----------------------------------------------------------
    @staticmethod
    def default_format(scfg):
        """The image format of a new disk when the caller names none: the storage's `format` option,
        else qcow2 on a directory storage (what the GUI sends; the plugin's own default is raw) and raw on ZFS."""
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
        fmt = fmt or self.default_format(scfg)
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
        del self._store(node, storage)[volid]

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

    # -- backups (the backup area's calls) ----------------------------------------------------------
    def add_backup(self, node, storage, vmid, backup_time, size, guest_config, notes=None):  # pylint: disable=too-many-arguments
        """The archive VZDump.pm writes for one VM: `backup/vzdump-qemu-<vmid>-<local time>.vma.zst` in a
        directory storage's dump/, a `backup/vm/<vmid>/<UTC time>` snapshot on a backup server (encrypted
        with the storage's key when it has one). The guest's config is kept with it, for a restore only.
        Dies like VZDump.pm storage_info for a storage without content `backup`."""
        scfg = self.check_enabled(storage, node)
        if "backup" not in self.content_types(scfg):
            raise die("can't use storage '%s' for backups - wrong content type\n" % storage)
        self._simulated(storage, scfg)
        extra = {"subtype": "qemu", "guest_config": copy.deepcopy(guest_config)}
        if notes is not None:
            extra["notes"] = notes
        if scfg["type"] == "pbs":
            volname, fmt = pbs_volname("vm", vmid, backup_time), "pbs-vm"
            if scfg.get("encryption-key"):
                extra["encrypted"] = str(scfg["encryption-key"])
        else:
            volname, fmt = "backup/%s" % vzdump_archive_name("qemu", vmid, backup_time), VMA_ZSTD_EXTENSION
        volid = self._add_volume(node, storage, volname, "backup", fmt, size, int(vmid), **extra)
        self._store(node, storage)[volid]["ctime"] = int(backup_time)
        return volid

    def set_volume_attribute(self, node, volid, attribute, value):
        """Storage.pm update_volume_attribute (notes, protected) of an existing volume."""
        self._existing(node, volid)[0][attribute] = value

    def check_volume_access(self, request, volid):
        """Storage.pm check_volume_access for the guest areas (restore reads a backup)."""
        return self._check_volume_access(request, volid)

    def backups_of(self, node, storage, vmid):
        """One guest's backups on a storage as prune_mark_backup_group takes them: [{volid, ctime, protected}]."""
        return [{"volid": volid, "ctime": record["ctime"], "protected": bool(record.get("protected"))}
                for volid, record in sorted(self._store(node, storage).items())
                if record["storage"] == storage and record["content"] == "backup" and record["vmid"] == int(vmid)
                and self._visible(record)]

    def backup_config(self, node, volid):
        """Storage.pm extract_vzdump_config: the guest config recorded with a backup (a copy); dies for a
        volume that is missing or no backup."""
        record, _scfg, parsed = self._existing(node, volid)
        if parsed.vtype != "backup" or "guest_config" not in record:
            raise die("cannot extract configuration from volume '%s' - not a backup\n" % volid)
        return copy.deepcopy(record["guest_config"]), record.get("subtype", "qemu")

    def volumes_of(self, node, vmid):
        """Every volume of a guest on a node, sorted (destroy-unreferenced-disks)."""
        vmid = int(vmid)
        return sorted(volid for volid, record in self._volumes(node).items()
                      if record["vmid"] == vmid and self._visible(record) and record["content"] in ("images", "rootdir"))

    # -- figures ----------------------------------------------------------------------------------
    def usage(self, node, storage):
        """(total, used, avail) of a storage on a node: a fixed total, used = what its volumes take."""
        used = sum(record["used"] for record in self._store(node, storage).values()
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

    # -- storage.cfg: /storage (Config.pm) ----------------------------------------------------------
    def _cfg_digest(self):
        """SectionConfig digest: SHA1 of storage.cfg as written."""
        return hashlib.sha1(storage_cfg_text(self.state["config"]).encode("utf-8")).hexdigest()

    def _api_config(self, storage):
        """Config.pm $api_storage_config: the section with `storage`, `digest`, lists comma-joined."""
        scfg = self.state["config"][storage]
        result = {key: encode_value(key, value) for key, value in scfg.items()}
        result["content"] = encode_value("content", self.content_types(scfg))
        result.update(storage=storage, digest=self._cfg_digest())
        return result

    @route("GET", "/storage")
    def list_storages(self, request):
        """Config.pm index: the storages the caller has Datastore.Audit or Datastore.AllocateSpace on."""
        result = []
        for storage in sorted(self.state["config"]):
            if not self.sim.permissions.control.has(request.userid, "/storage/%s" % storage, list(READ_PRIVILEGES), any_of=True):
                continue
            if request.params.get("type") and request.params["type"] != self.state["config"][storage]["type"]:
                continue
            result.append(self._api_config(storage))
        return result

    @route("GET", "/storage/{storage}")
    def read_storage(self, request):
        """Config.pm read."""
        self.storage_config(request.params["storage"])
        return self._api_config(request.params["storage"])

    @staticmethod
    def _settings(params):
        return {key: value for key, value in params.items() if key not in ("storage", "type", "digest", "delete")}

    @route("POST", "/storage")
    def create_storage(self, request):
        """Config.pm create: check_config before the lock, `already defined` inside it
        (lock_storage_config: `create storage failed: <error>`)."""
        params = request.params
        storage, storage_type = params["storage"], params["type"]
        reject_line_feeds(params)
        settings = self._settings(params)
        if not settings.get("nodes"):
            settings.pop("nodes", None)
        sensitive = self._extract_sensitive(storage_type, settings)
        try:
            section = check_storage_config(storage_type, settings, create=True)
        except ValueError as error:
            raise _die_from(error) from error
        if storage in self.state["config"]:
            raise die("create storage failed: storage ID '%s' already defined\n" % storage)
        section["type"] = storage_type
        try:
            returned = self._on_add(storage, section, sensitive)
            # Config.pm create: activated when enabled on the node that answers (the first one here)
            if not section.get("disable") and (not section.get("nodes") or self.sim.nodes[0] in section["nodes"]):
                self._activate(storage, section)
        except ValueError as error:
            self._priv().pop(storage, None)
            raise die("create storage failed: %s" % error) from error
        self.state["config"][storage] = section
        answer = {"storage": storage, "type": storage_type}
        if returned is not None:
            answer["config"] = returned
        return answer

    # -- sensitive properties and activation (PBSPlugin.pm) -----------------------------------------
    def _priv(self):
        """/etc/pve/priv/storage: {storage: {option: secret}} (never part of any answer)."""
        return self.state.setdefault("priv", {})

    @staticmethod
    def _extract_sensitive(storage_type, settings, delete=()):
        """Tools.pm extract_sensitive_params: the plugin's sensitive options leave the settings;
        one named in `delete` is passed on as None (remove the secret)."""
        sensitive = {}
        for key in SENSITIVE_PROPERTIES.get(storage_type, ()):
            if key in settings:
                sensitive[key] = settings.pop(key)
            elif key in delete:
                sensitive[key] = None
        return sensitive

    def _generated_key(self):
        """What `proxmox-backup-client key create --kdf none` writes: the key JSON with its fingerprint."""
        data = os.urandom(32)
        fingerprint = ":".join("%02x" % byte for byte in hashlib.sha256(data).digest())
        now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        return json.dumps({"kdf": None, "created": now, "modified": now, "data": base64.b64encode(data).decode("ascii"),
                           "fingerprint": fingerprint}, indent=2)

    def _set_encryption_key(self, storage, section, value):
        """on_add_hook / on_update_hook: `autogen` makes a key, anything else must be key JSON with `data`;
        storage.cfg keeps the key's fingerprint (or 1). Returns the key JSON for the answer's `config`."""
        if value == "autogen":
            value = self._generated_key()
        else:
            try:
                decoded = json.loads(value)
            except ValueError:
                decoded = None
            if not isinstance(decoded, dict) or "data" not in decoded:
                raise ValueError("Value does not seems like a valid, JSON formatted encryption key!\n")
        self._priv().setdefault(storage, {})["encryption-key"] = value
        section["encryption-key"] = json.loads(value).get("fingerprint") or 1
        return value

    def _on_add(self, storage, section, sensitive):
        """PBSPlugin.pm on_add_hook (the answer's `config`: {} or the encryption key); None for other types,
        whose plugins return nothing."""
        if section["type"] not in SENSITIVE_PROPERTIES:
            return None
        returned = {}
        self._priv()[storage] = {}
        if sensitive.get("password") is not None:
            self._priv()[storage]["password"] = sensitive["password"]
        if sensitive.get("encryption-key") is not None:
            returned["encryption-key"] = self._set_encryption_key(storage, section, sensitive["encryption-key"])
        if sensitive.get("master-pubkey") is not None:
            if "encryption-key" not in section:
                raise ValueError("'master-pubkey' can only be used together with 'encryption-key'\n")
            self._priv()[storage]["master-pubkey"] = sensitive["master-pubkey"]
            section["master-pubkey"] = 1
        return returned

    def _on_update(self, storage, section, sensitive):
        """PBSPlugin.pm on_update_hook: a given secret replaces the old one, None removes it."""
        if section["type"] not in SENSITIVE_PROPERTIES:
            return None
        returned = {}
        secrets = self._priv().setdefault(storage, {})
        for key in ("password", "master-pubkey"):
            if key in sensitive:
                if sensitive[key] is None:
                    secrets.pop(key, None)
                else:
                    secrets[key] = sensitive[key]
        if "master-pubkey" in sensitive and sensitive["master-pubkey"] is not None:
            section["master-pubkey"] = 1
        if "encryption-key" in sensitive:
            if sensitive["encryption-key"] is None:
                secrets.pop("encryption-key", None)
                section.pop("encryption-key", None)
            else:
                returned["encryption-key"] = self._set_encryption_key(storage, section, sensitive["encryption-key"])
        return returned

    def _activate(self, storage, section):
        """PBSPlugin.pm activate_storage through scan_datastores (pve-apiclient LWP.pm): the fingerprint
        must be the server's, the login must work, the datastore must be listed. A server the side channel
        does not know is taken as reachable with these credentials."""
        if section["type"] != "pbs":
            return
        remote = self._pbs_remotes().get("%s:%d" % (section["server"], int(section.get("port") or PBS_DEFAULT_PORT)))
        if remote is None:
            return
        fingerprint = remote.get("fingerprint")
        if fingerprint and (section.get("fingerprint") or "").upper() != fingerprint.upper():
            raise ValueError("%s: error fetching datastores - fingerprint '%s' not verified, abort!\n" % (storage, fingerprint.upper()))
        username = section.get("username") or PBS_DEFAULT_USER
        if remote["users"].get(username) is None or remote["users"][username] != self._priv().get(storage, {}).get("password"):
            # a login (password) dies with the status line, a token call with the reason alone
            reason = "Unauthorized" if "!" in username else "401 Unauthorized"
            raise ValueError("%s: error fetching datastores - %s\n" % (storage, reason))
        if section["datastore"] not in remote["datastores"]:
            raise ValueError("%s: Cannot find datastore '%s', check permissions and existence!\n" % (storage, section["datastore"]))

    def _pbs_remotes(self):
        return self.state.setdefault("pbs_remotes", {})

    @route("PUT", "/storage/{storage}")
    def update_storage(self, request):
        """Config.pm update: digest, check_config (fixed options), `delete` rules, all inside the lock."""
        params = request.params
        storage = params["storage"]
        reject_line_feeds(params)
        delete = split_list(params.get("delete") or "")
        try:
            assert_if_modified(self._cfg_digest(), params.get("digest"))
            scfg = self.storage_config(storage)
            settings = self._settings(params)
            sensitive = self._extract_sensitive(scfg["type"], settings, delete)
            settings = check_storage_config(scfg["type"], settings, create=False)
            check_storage_delete(scfg["type"], delete, settings)
            returned = self._on_update(storage, scfg, sensitive)
        except (ApiError, ValueError) as error:
            raise wrap("update storage failed", error) from error
        for key in delete:
            scfg.pop(key, None)
        scfg.update(settings)
        answer = {"storage": storage, "type": scfg["type"]}
        if returned is not None:
            answer["config"] = returned
        return answer

    @route("DELETE", "/storage/{storage}")
    def delete_storage(self, request):
        """Config.pm delete; then AccessControl.pm remove_storage_access drops its ACL and pool memberships.
        Its volumes stay where they are (PVE does not touch the data) and show again if it is re-added."""
        storage = request.params["storage"]
        try:
            self.storage_config(storage)
        except ApiError as error:
            raise wrap("delete storage failed", error) from error
        del self.state["config"][storage]
        self._priv().pop(storage, None)  # PBSPlugin.pm on_delete_hook
        directory = self.sim.directory.state
        directory["acl"].pop("/storage/%s" % storage, None)
        for pool in directory["pools"].values():
            if storage in pool.get("storage", []):
                pool["storage"].remove(storage)

    # -- node storage: Status.pm ----------------------------------------------------------------
    def _storage_info(self, node, content=None, include_format=False):
        """Storage.pm storage_info: per storage type, content, shared, enabled, active and the figures."""
        wanted = split_list(content) if content is not None else None
        info = {}
        for storage in sorted(self.state["config"]):
            scfg = self.state["config"][storage]
            enabled = not scfg.get("disable") and not (scfg.get("nodes") and node not in scfg["nodes"])
            contents = self.content_types(scfg)
            if wanted is not None and (not enabled or not set(wanted) & set(contents)):
                continue
            entry = {"type": scfg["type"], "total": 0, "avail": 0, "used": 0, "shared": 1 if scfg.get("shared") else 0,
                     "content": encode_value("content", contents), "active": 0, "enabled": 1 if enabled else 0}
            info[storage] = entry
            if not enabled:
                continue
            if include_format:
                valid, default = PLUGIN_FORMATS.get(scfg["type"], (("raw",), "raw"))
                default = scfg.get("format") or default
                if self.sim.pve_version != "8.4":  # pve-storage 6333922 (9.1): the structured form
                    entry["formats"] = {"supported": sorted(valid), "default": default}
                entry["format"] = [{fmt: 1 for fmt in valid}, default]
            if scfg["type"] in STORAGE_TYPES_WITH_VOLUMES:
                total, used, avail = self.usage(node, storage)
                entry.update(total=total, used=used, avail=avail, active=1)
        return info

    @route("GET", "/nodes/{node}/storage")
    def node_storages(self, request):
        """Status.pm index: filters content, storage, enabled, format, target (shared storages on both nodes)."""
        params = request.params
        node = params["node"]
        target = params.get("target")
        if target in (node, "localhost"):
            target = None
        info = self._storage_info(node, params.get("content"), params.get("format"))
        if params.get("storage") and params["storage"] not in info:
            raise ParamError({"storage": "No such storage."})
        result = []
        for storage, data in info.items():
            scfg = self.state["config"][storage]
            if not self.sim.permissions.control.has(request.userid, "/storage/%s" % storage, list(READ_PRIVILEGES), any_of=True):
                continue
            if params.get("storage") and params["storage"] != storage:
                continue
            if params.get("enabled") and scfg.get("disable"):
                continue
            if target and (not scfg.get("shared") or (scfg.get("nodes") and (node not in scfg["nodes"] or target not in scfg["nodes"]))):
                continue
            if data["total"]:
                data["used_fraction"] = data["used"] / data["total"]
            result.append(dict(data, storage=storage))
        return result

    @route("GET", "/nodes/{node}/storage/{storage}")
    def node_storage_index(self, request):
        """Status.pm diridx: the subdirectories this PVE version serves."""
        del request
        subdirs = ["content", "download-url", "file-restore", "import-metadata", "oci-registry-pull", "prunebackups", "rrd",
                   "rrddata", "status", "upload"]
        return [{"subdir": subdir} for subdir in subdirs if self.sim.schema.has(
            "POST" if subdir in ("download-url", "oci-registry-pull", "upload") else "GET",
            "/nodes/{node}/storage/{storage}/" + ("file-restore/list" if subdir == "file-restore" else subdir))]

    @route("GET", "/nodes/{node}/storage/{storage}/status")
    def node_storage_status(self, request):
        """Status.pm read_status: storage_info of the one storage."""
        info = self._storage_info(request.params["node"])
        data = info.get(request.params["storage"])
        if data is None:
            raise ParamError({"storage": "No such storage."})
        return data

    # -- content: Content.pm ------------------------------------------------------------------------
    def _content_entry(self, volid, record):
        """A volume_list entry; a linked clone's `parent` as the plugins report it (ZFS: the base's
        `@__base__` snapshot, dir: qemu-img's relative backing file)."""
        entry = {"volid": volid, "content": record["content"], "format": record["format"], "size": record["size"],
                 "used": record["used"], "ctime": record["ctime"]}
        if record["vmid"] is not None:
            entry["vmid"] = record["vmid"]
        if record["content"] == "backup":  # Plugin.pm / PBSPlugin.pm list_volumes
            entry["subtype"] = record.get("subtype") or archive_subtype(record["volname"])
            if record["format"].startswith("pbs-"):
                del entry["used"]
            for key in ("verification", "encrypted"):
                if record.get(key) is not None:
                    entry[key] = record[key]
        if record.get("parent"):
            base_volname = parse_volume_id(record["parent"])[1]
            zfs = self.state["config"][record["storage"]]["type"] == "zfspool"
            entry["parent"] = "%s@__base__" % base_volname if zfs else "../%s" % base_volname
        if record.get("notes"):
            entry["notes"] = record["notes"].split("\n", 1)[0]
        if record.get("protected"):
            entry["protected"] = 1
        return entry

    @route("GET", "/nodes/{node}/storage/{storage}/content")
    def list_content(self, request):
        """Content.pm index (Storage.pm volume_list): the storage must be enabled on the node; `content`
        and `vmid` filter."""
        params = request.params
        node, storage = params["node"], params["storage"]
        scfg = self.check_enabled(storage, node)
        self._simulated(storage, scfg)
        wanted = set(split_list(params["content"])) if params.get("content") else set(self.content_types(scfg))
        result = []
        for volid in sorted(self._store(node, storage)):
            record = self._store(node, storage)[volid]
            if record["storage"] != storage or not self._visible(record) or record["content"] not in wanted:
                continue
            if params.get("vmid") is not None and record["vmid"] != params["vmid"]:
                continue
            result.append(self._content_entry(volid, record))
        return result

    @route("POST", "/nodes/{node}/storage/{storage}/content")
    def create_content(self, request):
        """Content.pm create: size in KiB (or M/G), the format from the file name's extension, vdisk_alloc
        with the plugin's default format (raw) when none is given."""
        params = request.params
        size_text = params["size"]
        match = re.match(r"^(\d+)([MG]?)$", size_text)
        if not match:
            raise ParamError({"size": "unable to parse size '%s'" % size_text})
        size_kib = int(match.group(1)) * {"": 1, "M": 1024, "G": 1024 * 1024}[match.group(2)]
        name = params["filename"]
        fmt = params.get("format")
        extension = re.search(r"\.(raw|qcow2|vmdk)$", name)
        if extension:
            if fmt and fmt != extension.group(1):
                raise ParamError({"format": "different storage formats (%s != %s)" % (fmt, extension.group(1))})
            fmt = extension.group(1)
        scfg = self.storage_config(params["storage"])
        fmt = fmt or scfg.get("format") or PLUGIN_FORMATS.get(scfg["type"], ((), "raw"))[1]
        return self.alloc(params["node"], params["storage"], params["vmid"], size_kib * KIB, fmt, name)

    def _real_volume_id(self, storage, volume):
        """Content.pm $real_volume_id: a full volume ID (its storage must match) or a name on `storage`."""
        if ":" in volume:
            try:
                volume_storage, _volname = parse_volume_id(volume)
            except ValueError as error:
                raise ParamError({"volume": str(error)}) from error
            if storage and volume_storage != storage:
                raise ParamError({"volume": "storage ID mismatch (%s != %s)\n" % (volume_storage, storage)})
            return volume, volume_storage
        if not storage:
            raise ParamError({"volume": "no storage specified - incomplete volume ID"})
        return "%s:%s" % (storage, volume), storage

    def _check_volume_access(self, request, volid):
        """Storage.pm check_volume_access (no vmid): Datastore.Allocate on the storage, or for iso,
        vztmpl and import Datastore.AllocateSpace|Datastore.Audit, for backups AllocateSpace + VM.Backup,
        for guest images Datastore.Audit + VM.Config.Disk on the owner."""
        storage, _volname, _scfg, parsed = self._parse(volid)
        control = self.sim.permissions.control
        authid = request.userid
        path = "/storage/%s" % storage
        if control.has(authid, path, ["Datastore.Allocate"]):
            return parsed
        if parsed.vtype in ("iso", "vztmpl", "import"):
            control.check(authid, path, ["Datastore.AllocateSpace", "Datastore.Audit"], any_of=True)
        elif parsed.vtype == "backup" and parsed.vmid:
            control.check(authid, path, ["Datastore.AllocateSpace"])
            control.check(authid, "/vms/%d" % parsed.vmid, ["VM.Backup"])
        elif parsed.vtype in ("images", "rootdir") and parsed.vmid:
            control.check(authid, path, ["Datastore.Audit"])
            control.check(authid, "/vms/%d" % parsed.vmid, ["VM.Config.Disk"])
        else:
            raise die("missing privileges to access %s\n" % volid)
        return parsed

    def _volume_path(self, scfg, parsed, volname):
        """The plugin's path(): a file below the directory storage's path, the zvol's device node, or
        PBSPlugin.pm's artificial `pbs://<repository>/<name>[?ns=<namespace>]`."""
        if scfg["type"] == "pbs":
            server = scfg["server"] + (":%s" % scfg["port"] if scfg.get("port") else "")
            path = "pbs://%s@%s:%s/%s" % (scfg.get("username") or PBS_DEFAULT_USER, server, scfg["datastore"], parsed.name)
            return path + ("?ns=%s" % scfg["namespace"].replace("/", "%2f") if scfg.get("namespace") else "")
        if scfg["type"] == "zfspool":
            return "/dev/zvol/%s/%s" % (scfg["pool"], parsed.name)
        subdir = "%s/%s" % (scfg["path"], VTYPE_SUBDIRS[parsed.vtype])
        if parsed.vtype == "images":
            return "%s/%d/%s" % (subdir, parsed.vmid, parsed.name)
        return "%s/%s" % (subdir, volname.split("/", 1)[1])

    @route("GET", "/nodes/{node}/storage/{storage}/content/{volume}")
    def read_content(self, request):
        """Content.pm info: path, size, used, format, notes, protected."""
        volid, _storage = self._real_volume_id(request.params.get("storage"), request.params["volume"])
        parsed = self._check_volume_access(request, volid)
        record, scfg, _parsed = self._existing(request.params["node"], volid)
        entry = {"path": self._volume_path(scfg, parsed, record["volname"]), "size": record["size"], "used": record["used"],
                 "format": record["format"]}
        for key in ("notes", "protected"):
            if record.get(key) is not None:
                entry[key] = record[key]
        return entry

    @route("PUT", "/nodes/{node}/storage/{storage}/content/{volume}")
    def update_content(self, request):
        """Content.pm updateattributes: notes and protected. DirPlugin.pm keeps both for backups only;
        a ZFS pool has neither (Plugin.pm update_volume_notes / update_volume_attribute refuse)."""
        params = request.params
        volid, _storage = self._real_volume_id(params.get("storage"), params["volume"])
        parsed = self._check_volume_access(request, volid)
        record, scfg, _parsed = self._existing(params["node"], volid)
        for attribute in ("notes", "protected"):
            if attribute not in params:
                continue
            if scfg["type"] == "zfspool":
                if attribute == "notes":
                    raise die("volume notes are not supported for PVE::Storage::ZFSPoolPlugin%s" % PLUGIN_NOTES_DIE_AT)
                raise die("attribute '%s' is not supported for storage type '%s'\n" % (attribute, scfg["type"]))
            if parsed.vtype != "backup":
                if attribute == "notes":
                    raise die("only backups can have notes\n")
                raise die("only backups support attribute '%s'\n" % attribute)
            if attribute == "notes":
                record["notes"] = params["notes"] or None
            else:
                record["protected"] = 1 if params["protected"] else None

    @route("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}")
    def delete_content(self, request):
        """Content.pm delete: Datastore.Allocate (or AllocateSpace + VM.Backup for a backup), then an
        `imgdel` worker (id `[<owner>@]<storage>`) runs vdisk_free; its failure is the task's exit
        status. PVE checks no guest configuration here. With `delay`, a finished task answers null."""
        params = request.params
        node = params["node"]
        volid, storage = self._real_volume_id(params.get("storage"), params["volume"])
        _storage, _volname, _scfg, parsed = self._parse(volid)
        control = self.sim.permissions.control
        if parsed.vtype == "backup" and parsed.vmid:
            control.check(request.userid, "/storage/%s" % storage, ["Datastore.AllocateSpace"])
            control.check(request.userid, "/vms/%d" % parsed.vmid, ["VM.Backup"])
        else:
            control.check(request.userid, "/storage/%s" % storage, ["Datastore.Allocate"])
        try:
            self.free(node, volid)
            exitstatus, log = "OK", ["Removed volume '%s'" % volid]
        except ApiError as error:
            exitstatus, log = error.message.rstrip("\n"), []
        task_id = ("%d@" % parsed.vmid if parsed.vmid is not None else "") + storage
        upid = self.sim.tasks.start(node, "imgdel", task_id, request.userid, exitstatus=exitstatus, log=log)
        task = self.sim.tasks.find(upid)
        if params.get("delay") and task["duration"] <= params["delay"]:
            task["duration"] = 0  # the caller waited for it
            if exitstatus != "OK":
                raise die("%s\n" % exitstatus)
            return None
        return upid

    # -- download-url: Status.pm download_url, pve-common Tools.pm download_file_from_url ----------------
    @route("POST", "/nodes/{node}/storage/{storage}/download-url")
    def download_url(self, request):
        """Status.pm download_url: checks before the worker (file based storage, content configured, the
        file name rules), then a `download` worker (id: the normalised file name) that fetches `url` and
        verifies the checksum; the file appears only when the worker ends OK (`ready_at`)."""
        params = request.params
        node, storage, content = params["node"], params["storage"], params["content"]
        scfg = self.check_enabled(storage, node)
        if "path" not in scfg:
            raise die("can't upload to storage type '%s', not a file based storage!\n" % scfg["type"])
        if content not in self.content_types(scfg):
            raise die("storage '%s' is not configured for content-type '%s'\n" % (storage, content))
        filename = normalize_content_filename(params["filename"])
        refusal = download_filename_error(content, filename)
        if refusal:
            raise ParamError({refusal[0]: refusal[1]})
        self._simulated(storage, scfg)
        volid = "%s:%s/%s" % (storage, content, filename)
        dest = "%s/%s/%s" % (scfg["path"], VTYPE_SUBDIRS[content], filename)
        outcome = self._download(node, volid, dest, params)
        upid = self.sim.tasks.start(node, "download", filename, request.userid, exitstatus=outcome["exitstatus"], log=outcome["log"])
        if outcome.get("file"):
            file_format, size, used, checksums = outcome["file"]
            ready_at = self.sim.tasks.end_time(self.sim.tasks.find(upid))
            self._add_volume(node, storage, "%s/%s" % (content, filename), content, file_format, size, used=used,
                             checksums=checksums, ready_at=ready_at)
        return upid

    def _download(self, node, volid, dest, params):
        """What download_file_from_url does and prints: {"exitstatus", "log", "file": (format, size, used, checksums)}."""
        url = params["url"]
        algorithm, expected = params.get("checksum-algorithm"), params.get("checksum")
        log = ["downloading %s to %s" % (url, dest)]
        existing = self._record(node, volid)
        if existing is not None:
            if not expected:
                return {"exitstatus": "refusing to override existing file '%s'" % dest, "log": log}
            got = existing.get("checksums", {}).get(algorithm, "")
            if got == expected.lower():
                return {"exitstatus": "OK", "log": log + ["calculating checksum of existing file...OK, got correct file already, no need to download"]}
            return {"exitstatus": "checksum mismatch: got '%s' != expect '%s', aborting" % (got, expected),
                    "log": log + ["calculating checksum of existing file..."]}
        if params.get("compression"):
            if params["content"] != "iso":
                return {"exitstatus": "decompression not supported for %s" % params["content"], "log": []}
            raise ApiError(HTTP_NOT_IMPLEMENTED, "download-url: decompression is not simulated by pvesim\n")
        try:
            data, virtual_size = self._fetch(url, params.get("verify-certificates", 1))
        except DownloadFailed as error:
            return {"exitstatus": "download failed: %s" % error, "log": log}
        checksums = {name: hashlib.new(name, data).hexdigest() for name in CHECKSUM_ALGORITHMS}
        if expected:
            log.append("calculating checksum...")
            if checksums[algorithm] != expected.lower():
                return {"exitstatus": "checksum mismatch: got '%s' != expect '%s'" % (checksums[algorithm], expected), "log": log}
            log[-1] += "OK, checksum verified"
        log.append("download of '%s' to '%s' finished" % (url, dest))
        file_format = volid.rsplit(".", 1)[-1] if params["content"] == "import" else "raw"
        size = len(data)
        if file_format in ("qcow2", "vmdk"):
            size = qcow2_virtual_size(data) or virtual_size
        return {"exitstatus": "OK", "log": log, "file": (file_format, size, len(data), checksums)}

    def _fetch(self, url, verify_certificates):
        """The bytes of `url` and the catalog's virtual size: the catalog first, then loopback URLs for real
        (timeout, size cap); any other host is unreachable, as the simulator has no internet."""
        image = self.state["images"].get(url)
        if image is not None:
            return image["content"].encode("utf-8"), image["virtual_size"]
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if host not in LOOPBACK_HOSTS:
            if re.match(r"^[0-9.]+$", host) or ":" in host:
                raise DownloadFailed("Connecting to %s:%d... failed: Network is unreachable." % (host, port))
            raise DownloadFailed("wget: unable to resolve host address '%s'" % host)
        context = ssl.create_default_context()
        if not verify_certificates:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT, context=context if parts.scheme == "https" else None) as answer:
                data = answer.read(DOWNLOAD_SIZE_CAP + 1)
        except urllib.error.HTTPError as error:
            raise DownloadFailed("%s ERROR %d: %s." % (time.strftime("%Y-%m-%d %H:%M:%S"), error.code, error.reason)) from error
        except urllib.error.URLError as error:
            if isinstance(error.reason, ssl.SSLError):
                raise DownloadFailed("ERROR: The certificate of '%s' is not trusted." % host) from error
            raise DownloadFailed("Connecting to %s:%d... failed: Connection refused." % (host, port)) from error
        except OSError as error:
            raise DownloadFailed("Read error at byte 0 (%s)." % error) from error
        if len(data) > DOWNLOAD_SIZE_CAP:
            raise DownloadFailed("file larger than %d bytes, the simulator's limit" % DOWNLOAD_SIZE_CAP)
        return data, DEFAULT_VIRTUAL_SIZE

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

        def add_pbs_remote(sim, body):
            unknown = set(body) - {"server", "port", "datastore", "fingerprint", "username", "secret"}
            if unknown or not body.get("server"):
                raise ValueError("a PBS remote needs server (and takes port, datastore, fingerprint, username, secret); got %s" % sorted(body))
            with sim.state.lock:
                key = "%s:%d" % (body["server"], int(body.get("port") or PBS_DEFAULT_PORT))
                remote = self._pbs_remotes().setdefault(key, {"fingerprint": None, "datastores": [], "users": {}})
                if body.get("fingerprint"):
                    remote["fingerprint"] = body["fingerprint"]
                if body.get("datastore") and body["datastore"] not in remote["datastores"]:
                    remote["datastores"].append(body["datastore"])
                if body.get("username"):
                    remote["users"][body["username"]] = body.get("secret")
                sim.persist()
            return self._describe_remote(key)

        def clear_pbs_remotes(sim, _body):
            with sim.state.lock:
                self._pbs_remotes().clear()
                sim.persist()

        return {
            ("GET", "/_sim/storage/pbs-remotes"): lambda sim, body: [self._describe_remote(key) for key in sorted(self._pbs_remotes())],
            ("POST", "/_sim/storage/pbs-remotes"): add_pbs_remote,
            ("DELETE", "/_sim/storage/pbs-remotes"): clear_pbs_remotes,
            ("GET", "/_sim/storage/images"): lambda sim, body: [dict(image) for _url, image in sorted(self.state["images"].items())],
            ("POST", "/_sim/storage/images"): add_image,
            ("DELETE", "/_sim/storage/images"): remove_image,
        }

    def _describe_remote(self, key):
        """A backup server of the side channel, its secrets left out."""
        remote = self._pbs_remotes()[key]
        server, port = key.rsplit(":", 1)
        return {"server": server, "port": int(port), "fingerprint": remote["fingerprint"], "datastores": list(remote["datastores"]),
                "users": sorted(remote["users"])}
