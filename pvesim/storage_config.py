"""Storage facts: the storage types with volumes, content types, volume names, the default storage.cfg.

Sources (proxmox/pve-storage at 0c56bad, 9.1.7; the rules cited here are the same in the 8.4 series):
src/PVE/Storage.pm (volume name regexes, storage_config, storage_check_node/enabled, vdisk_alloc,
vdisk_free), src/PVE/Storage/Plugin.pm (parse_volume_id, parse_name_dir, parse_volname,
get_next_vm_diskname, alloc_image, create_base, clone_image, free_image, volume_resize),
src/PVE/Storage/DirPlugin.pm and ZFSPoolPlugin.pm (plugindata: content and formats; parse_volname,
alloc_image, create_base, clone_image, volume_resize), src/PVE/API2/Storage/Status.pm (download_url),
src/PVE/Storage/PBSPlugin.pm (options, sensitive properties, parse_volname, print_volid),
Storage.pm archive_info and prune_mark_backup_group, Plugin.pm validate_prune_backups.

Every schema storage type is accepted in storage.cfg (PVE would accept it); only `dir`, `zfspool`
and `pbs` have volumes and status in the simulator (a `pbs` storage's backups are one set for the
whole cluster, as they live on the backup server).
"""

import re
import time

from pvesim.formats import split_list

GIB = 1024 ** 3
KIB = 1024
# the fixed size of every simulated storage (the simulator has no disks to measure)
STORAGE_TOTAL = 500 * GIB
# a disk image from the catalog without virtual_size (a typical cloud image's disk)
DEFAULT_VIRTUAL_SIZE = 2 * GIB

STORAGE_TYPES_WITH_VOLUMES = ("dir", "zfspool", "pbs")
# storage types whose volumes are the same from every node (the backup server's snapshots)
CLUSTER_WIDE_VOLUME_TYPES = ("pbs",)

# plugindata() content: [supported, default]
PLUGIN_CONTENT = {
    "dir": (("images", "rootdir", "vztmpl", "iso", "backup", "snippets", "none", "import"), ("images", "rootdir")),
    "zfspool": (("images", "rootdir"), ("images", "rootdir")),
    "pbs": (("backup", "none"), ("backup",)),
}
# PBSPlugin.pm plugindata `sensitive-properties`: kept in /etc/pve/priv/storage, never in storage.cfg
SENSITIVE_PROPERTIES = {"pbs": ("encryption-key", "master-pubkey", "password")}
# plugindata() format: [valid, default]; Plugin.pm get_formats: the storage's `format` option wins
PLUGIN_FORMATS = {
    "dir": (("raw", "qcow2", "vmdk", "subvol"), "raw"),
    "zfspool": (("raw", "subvol"), "raw"),
}
# storage types whose volumes live on shared storage (Storage.pm: `shared` for these is implied)
SHARED_TYPES = ("nfs", "cifs", "cephfs", "rbd", "pbs", "iscsi", "iscsidirect", "glusterfs", "zfs", "esxi")

# Storage.pm: file name extensions per content type
ISO_EXT_RE_0 = r"\.(?:iso|img)"
VZTMPL_EXT_RE_1 = r"\.(tar(?!\.)|tar\.(?:gz|xz|zst|bz2))"
IMPORT_EXT_RE_1 = r"\.(ova|ovf|qcow2|raw|vmdk)"
UPLOAD_IMPORT_EXT_RE_1 = r"\.(ova|qcow2|raw|vmdk)"
SAFE_CHAR_CLASS_RE = r"[a-zA-Z0-9\-\.\+\=\_]"
SAFE_CHAR_WITH_WHITESPACE_CLASS_RE = r"[ a-zA-Z0-9\-\.\+\=\_]"
BACKUP_EXT_RE_2 = r"\.(tgz|(?:tar|vma)(?:\.(?:gz|lzo|zst|bz2))?)"

# Plugin.pm get_vtype_subdirs: where each content type lives below a directory storage's path
VTYPE_SUBDIRS = {"images": "images", "rootdir": "private", "iso": "template/iso", "vztmpl": "template/cache",
                 "backup": "dump", "snippets": "snippets", "import": "import"}

# Plugin.pm $MAX_VOLUMES_PER_GUEST
MAX_VOLUMES_PER_GUEST = 1024


def default_storage_cfg():
    """storage.cfg of a fresh PVE installed on ZFS (pve-installer): `local` and `local-zfs`."""
    return {
        "local": {"type": "dir", "path": "/var/lib/vz", "content": ["iso", "vztmpl", "backup", "import"]},
        "local-zfs": {"type": "zfspool", "pool": "rpool/data", "content": ["images", "rootdir"], "sparse": 1},
    }


# the plugins' options(): {option: (optional, fixed)}; `type` and the id are SectionConfig's own
PLUGIN_OPTIONS = {
    "dir": {
        "path": (False, True), "content-dirs": (True, False), "nodes": (True, False), "shared": (True, False),
        "disable": (True, False), "prune-backups": (True, False), "max-protected-backups": (True, False),
        "content": (True, False), "format": (True, False), "mkdir": (True, False), "create-base-path": (True, False),
        "create-subdirs": (True, False), "is_mountpoint": (True, False), "bwlimit": (True, False),
        "preallocation": (True, False), "snapshot-as-volume-chain": (True, True),
    },
    "zfspool": {
        "pool": (False, True), "blocksize": (True, False), "sparse": (True, False), "nodes": (True, False),
        "disable": (True, False), "content": (True, False), "bwlimit": (True, False), "mountpoint": (True, False),
    },
    "pbs": {
        "server": (False, True), "datastore": (False, True), "namespace": (True, False), "port": (True, False),
        "nodes": (True, False), "disable": (True, False), "content": (True, False), "username": (True, False),
        "password": (True, False), "encryption-key": (True, False), "master-pubkey": (True, False),
        "prune-backups": (True, False), "max-protected-backups": (True, False), "fingerprint": (True, False),
    },
}
LIST_OPTIONS = ("content", "nodes")


def check_storage_config(storage_type, params, create):
    """SectionConfig.pm check_config (pve-common) with the plugin's decode_value (Plugin.pm): fixed
    options refused on update, unknown ones refused, required ones on create; content and nodes become
    lists (content types the plugin lacks are dropped with a warning). Types the simulator has no option
    table for keep what the schema accepted. DirPlugin.pm check_config: the path's characters."""
    options = PLUGIN_OPTIONS.get(storage_type)
    settings = {}
    for key in sorted(params):
        if options is not None:
            if not create and key in options and options[key][1]:
                raise ValueError("can't change value of fixed parameter '%s'\n" % key)
            if key not in options:
                raise ValueError("unexpected property '%s'\n" % key)
        settings[key] = decode_value(storage_type, key, params[key])
    if create and options is not None:
        for key in sorted(options):
            if not options[key][0] and key not in params:
                raise ValueError("missing value for required option '%s'\n" % key)
    if create and storage_type == "dir":
        if not re.match(r"^/[-/a-zA-Z0-9_.@]+$", settings["path"]):
            raise ValueError("illegal path for directory storage: %s\n" % settings["path"])
        settings["path"] = re.sub(r"/+", "/", settings["path"]).rstrip("/") or "/"
    return settings


def check_storage_delete(storage_type, delete, settings):
    """Config.pm update: each option in `delete` must exist, be optional and not fixed, and not be set too."""
    options = PLUGIN_OPTIONS.get(storage_type)
    for key in delete:
        if options is not None:
            if key not in options:
                raise ValueError("no such option '%s'\n" % key)
            if not options[key][0]:
                raise ValueError("unable to delete required option '%s'\n" % key)
            if options[key][1]:
                raise ValueError("unable to delete fixed option '%s'\n" % key)
        if key in settings:
            raise ValueError("cannot set and delete property '%s' at the same time!\n" % key)


def decode_value(storage_type, key, value):
    """Plugin.pm decode_value: content and nodes as lists; `none` alone or not at all."""
    if key == "content":
        valid = PLUGIN_CONTENT.get(storage_type, (None, None))[0]
        types = [item for item in split_list(str(value)) if valid is None or item in valid]
        if "none" in types and len(types) > 1:
            raise ValueError("unable to combine 'none' with other content types\n")
        if not types and valid is not None and "none" not in valid:
            raise ValueError("storage does not support content type 'none'\n")
        return sorted(set(types))
    if key == "nodes":
        return sorted(set(split_list(str(value))))
    return value


def encode_value(key, value):
    """Plugin.pm encode_value: lists comma-joined; an empty content list is `none`."""
    if key == "content":
        return ",".join(sorted(value)) or "none"
    if key in LIST_OPTIONS:
        return ",".join(sorted(value))
    return value


def storage_cfg_text(config):
    """storage.cfg as SectionConfig writes it: `<type>: <id>` then tab-indented options, blank line between."""
    lines = []
    for storage in sorted(config):
        section = config[storage]
        lines.append("%s: %s" % (section["type"], storage))
        for key in sorted(section):
            if key != "type":
                lines.append("\t%s %s" % (key, encode_value(key, section[key])))
        lines.append("")
    return "\n".join(lines)


def parse_volume_id(volid):
    """Plugin.pm parse_volume_id: (storage, volname); dies like PVE on anything else."""
    match = re.match(r"^([a-z][a-z0-9\-\_\.]*[a-z0-9]):(.+)$", volid or "", re.IGNORECASE)
    if not match:
        raise ValueError("unable to parse volume ID '%s'\n" % volid)
    return match.group(1), match.group(2)


def parse_name_dir(name):
    """Plugin.pm parse_name_dir: (name, format, is_base) of an image file name."""
    match = re.match(r"^((vm-|base-|subvol-)(\d+)-[^/\s]+\.(raw|qcow2|vmdk|subvol))$", name)
    if match:
        return match.group(1), match.group(4), match.group(2) == "base-"
    if re.match(r"^snap-.*\.qcow2$", name):
        raise ValueError("'%s' is a snapshot filename, not a volume!\n" % name)
    match = re.match(r"^((base-)?[^/\s]+\.(raw|qcow2|vmdk|subvol))$", name)
    if match:
        return match.group(1), match.group(3), bool(match.group(2))
    raise ValueError("unable to parse volume filename '%s'\n" % name)


class VolumeName:  # pylint: disable=too-few-public-methods,too-many-arguments
    """What parse_volname returns: vtype, name, vmid, basename, basevmid, is_base, format."""

    def __init__(self, vtype, name, vmid=None, basename=None, basevmid=None, is_base=False, fmt="raw"):
        self.vtype = vtype
        self.name = name
        self.vmid = int(vmid) if vmid is not None else None
        self.basename = basename
        self.basevmid = int(basevmid) if basevmid is not None else None
        self.is_base = bool(is_base)
        self.format = fmt


def parse_dir_volname(volname):
    """Plugin.pm parse_volname (directory storages); ValueError with PVE's text otherwise."""
    match = re.match(r"^(\d+)/(\S+)/(\d+)/(\S+)$", volname)
    if match:
        parse_name_dir(match.group(2))
        _name, fmt, is_base = parse_name_dir(match.group(4))
        return VolumeName("images", match.group(4), match.group(3), match.group(2), match.group(1), is_base, fmt)
    match = re.match(r"^(\d+)/(\S+)$", volname)
    if match:
        _name, fmt, is_base = parse_name_dir(match.group(2))
        return VolumeName("images", match.group(2), match.group(1), is_base=is_base, fmt=fmt)
    match = re.match(r"^iso/([^/]+%s)$" % ISO_EXT_RE_0, volname, re.IGNORECASE)
    if match:
        return VolumeName("iso", match.group(1))
    match = re.match(r"^vztmpl/([^/]+%s)$" % VZTMPL_EXT_RE_1, volname, re.IGNORECASE)
    if match:
        return VolumeName("vztmpl", match.group(1))
    match = re.match(r"^backup/([^/]+%s)$" % BACKUP_EXT_RE_2, volname)
    if match:
        owner = re.match(r"^vzdump-(openvz|lxc|qemu)-(\d+)-.+", match.group(1))
        return VolumeName("backup", match.group(1), owner.group(2) if owner else None)
    match = re.match(r"^snippets/([^/]+)$", volname)
    if match:
        return VolumeName("snippets", match.group(1))
    match = re.match(r"^import/(%s+\.ova/%s+\.(qcow2|raw|vmdk))$" % (SAFE_CHAR_WITH_WHITESPACE_CLASS_RE, SAFE_CHAR_WITH_WHITESPACE_CLASS_RE),
                     volname)
    if match:
        return VolumeName("import", match.group(1), fmt="ova+%s" % match.group(2))
    match = re.match(r"^import/(%s+%s)$" % (SAFE_CHAR_WITH_WHITESPACE_CLASS_RE, IMPORT_EXT_RE_1), volname)
    if match:
        return VolumeName("import", match.group(1), fmt=match.group(2))
    raise ValueError("unable to parse directory volume name '%s'\n" % volname)


def parse_zfs_volname(volname):
    """ZFSPoolPlugin.pm parse_volname: `[base-N-x/]vm-N-x` zvols (subvol/basevol for containers)."""
    match = re.match(r"^(((base|basevol)-(\d+)-\S+)/)?((base|basevol|vm|subvol)-(\d+)-\S+)$", volname)
    if not match:
        raise ValueError("unable to parse zfs volume name '%s'\n" % volname)
    prefix = match.group(6)
    fmt = "subvol" if prefix in ("subvol", "basevol") else "raw"
    return VolumeName("images", match.group(5), match.group(7), match.group(2), match.group(4), prefix in ("base", "basevol"), fmt)


def parse_pbs_volname(volname):
    """PBSPlugin.pm parse_volname: `backup/<type>/<id>/<UTC time>`, format `pbs-<type>`."""
    match = re.match(r"^backup/([^\s_]+)/([^\s_]+)/([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)$", volname)
    if not match:
        raise ValueError("unable to parse PBS volume name '%s'\n" % volname)
    backup_id = match.group(2)
    return VolumeName("backup", "%s/%s/%s" % match.groups(), backup_id if re.match(r"^\d+$", backup_id) else None,
                      fmt="pbs-%s" % match.group(1))


def parse_volname(storage_type, volname):
    """parse_volname of the storage's plugin (only the simulated types have one here)."""
    if storage_type == "zfspool":
        return parse_zfs_volname(volname)
    if storage_type == "pbs":
        return parse_pbs_volname(volname)
    return parse_dir_volname(volname)


# -- backups: names, archive info, retention ----------------------------------------------------------
# pve-manager PVE/VZDump.pm: the archive extension of a VM backup with the default zstd compression
VMA_ZSTD_EXTENSION = "vma.zst"
# Plugin.pm $prune_backups_format: the keep options in the order prune_mark_backup_group applies them
PRUNE_KEEP_OPTIONS = ("keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly")
# Storage.pm prune_mark_backup_group: the period each option keeps one backup of (local time)
PRUNE_PERIOD_FORMATS = {"keep-hourly": "%Y/%m/%d/%H", "keep-daily": "%Y/%m/%d", "keep-weekly": "%G/%V",
                        "keep-monthly": "%Y/%m", "keep-yearly": "%Y"}


def pbs_volname(backup_type, backup_id, backup_time):
    """PBSPlugin.pm print_volid: `backup/<type>/<id>/<UTC time, %FT%TZ>`."""
    return "backup/%s/%s/%s" % (backup_type, backup_id, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(backup_time)))


def vzdump_archive_name(guest_type, vmid, backup_time, extension=VMA_ZSTD_EXTENSION):
    """VZDump.pm: `vzdump-<type>-<vmid>-<local time %Y_%m_%d-%H_%M_%S>.<extension>`."""
    return "vzdump-%s-%d-%s.%s" % (guest_type, int(vmid), time.strftime("%Y_%m_%d-%H_%M_%S", time.localtime(backup_time)), extension)


def archive_subtype(volname):
    """Storage.pm archive_info `type` of a directory storage's backup (qemu, lxc, openvz), else `unknown`."""
    match = re.match(r"^backup/vzdump-(lxc|openvz|qemu)-", volname)
    return match.group(1) if match else "unknown"


def parse_prune_backups(text):
    """The `prune-backups` property string as Plugin.pm validate_prune_backups leaves it: integers,
    no positive keep-* option means keep-all=1; ValueError with PVE's text otherwise."""
    options = {}
    for part in split_list(str(text or "")):
        key, _sep, value = part.partition("=")
        if key != "keep-all" and key not in PRUNE_KEEP_OPTIONS:
            raise ValueError("property is not defined in schema and the schema does not allow additional properties\n")
        if not re.match(r"^\d+$", value):
            raise ValueError("value must be a non-negative integer\n")
        options[key] = int(value)
    keep_any = any(options.get(key) for key in PRUNE_KEEP_OPTIONS)
    if options.get("keep-all") and keep_any:
        raise ValueError("keep-all cannot be set together with other options.\n")
    if not keep_any:
        options = {"keep-all": 1}
    return options


def print_prune_backups(options):
    """The property string of parsed prune-backups options (keys sorted, like print_property_string)."""
    return ",".join("%s=%d" % (key, options[key]) for key in sorted(options))


def prune_marks(backups, options):
    """Storage.pm prune_mark_backup_group: {volid: keep|remove|protected} for one guest's backups
    [{volid, ctime, protected}]; newest first, each keep option keeps the newest backup of as many
    periods as it allows, skipping periods an earlier option already covers."""
    ordered = sorted(backups, key=lambda backup: backup["ctime"], reverse=True)
    marks = {backup["volid"]: "protected" for backup in ordered if backup.get("protected")}
    if options.get("keep-all"):
        return dict({backup["volid"]: "keep" for backup in ordered}, **marks)
    for option in PRUNE_KEEP_OPTIONS:
        count = options.get(option) or 0
        if not count:
            continue
        fmt = PRUNE_PERIOD_FORMATS.get(option)

        def period(ctime, fmt=fmt):
            return time.strftime(fmt, time.localtime(ctime)) if fmt else ctime

        covered = {period(backup["ctime"]) for backup in ordered if marks.get(backup["volid"]) == "keep"}
        newly = set()
        for backup in ordered:
            key = period(backup["ctime"])
            if backup["volid"] in marks or key in covered:
                continue
            if key not in newly:
                if len(newly) >= count:
                    break
                newly.add(key)
                marks[backup["volid"]] = "keep"
            else:
                marks[backup["volid"]] = "remove"
    return {backup["volid"]: marks.get(backup["volid"], "remove") for backup in ordered}


def next_disk_name(used_volids, storage_id, vmid, fmt, add_suffix):
    """Plugin.pm get_next_vm_diskname: the lowest `vm-<vmid>-disk-N[.fmt]` whose N no volume of the
    guest uses (`$get_vm_disk_number`: the suffix is part of the pattern, with its `.` as any character)."""
    suffix = ".%s" % fmt if add_suffix else ""
    pattern = r"(vm|base)-%d-disk-(\d+)%s" % (vmid, suffix)
    if fmt == "subvol":
        pattern = r"(vm|base|subvol|basevol)-%d-disk-(\d+)" % vmid
    taken = set()
    for volid in used_volids:
        match = re.search(pattern, volid)
        if match:
            taken.add(int(match.group(2)))
    prefix = "subvol" if fmt == "subvol" else "vm"
    for number in range(MAX_VOLUMES_PER_GUEST):
        if number not in taken:
            return "%s-%d-disk-%d%s" % (prefix, vmid, number, suffix)
    raise ValueError("unable to allocate an image name for VM %d in storage '%s'\n" % (vmid, storage_id))


def zfs_volume_bytes(size_bytes):
    """ZFSPoolPlugin.pm zfs_create_zvol / volume_resize: KiB, padded up to whole MiB."""
    kib = -(-int(size_bytes) // KIB)
    return (kib + (KIB - kib % KIB) % KIB) * KIB


def normalize_content_filename(filename):
    """Storage.pm normalize_content_filename: no directories, unsafe characters become `_`."""
    filename = filename[:-1] if filename.endswith("\n") else filename
    filename = re.sub(r"^.*[/\\]", "", filename)
    return re.sub(r"[^a-zA-Z0-9_.-]", "_", filename)


def download_filename_error(content, filename):
    """Status.pm download_url: (parameter, message) when the normalised file name does not fit
    `content` (the patterns are anchored at the end only), or None."""
    if content == "iso":
        if not re.search(r"[^/]+%s$" % ISO_EXT_RE_0, filename, re.IGNORECASE):
            return "filename", "wrong file extension"
    elif content == "vztmpl":
        if not re.search(r"[^/]+%s$" % VZTMPL_EXT_RE_1, filename, re.IGNORECASE):
            return "filename", "wrong file extension"
    elif content == "import":
        if not re.search(r"%s+%s$" % (SAFE_CHAR_CLASS_RE, UPLOAD_IMPORT_EXT_RE_1), filename):
            return "filename", "invalid filename or wrong extension"
    else:
        return "content", "upload content-type '%s' is not allowed" % content
    return None
