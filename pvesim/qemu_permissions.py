"""The privilege checks qemu-server makes inside its API handlers (the schema describes them only in text).

Facts from proxmox/qemu-server src/PVE/API2/Qemu.pm at e6352be6 (PVE 9.1) and at 5ccd363e (stable-bookworm,
qemu-server 8.4.10, PVE 8.4; the same checks unless noted): $check_vm_modify_config_perm and its option
tables, $check_storage_access, $check_storage_access_clone, $check_storage_access_migrate,
$check_cpu_model_access, the serial/usb/hostpci/rng/virtiofs checks, create_vm, update_vm_api (the early
checks and the per-key checks of its updatefn), clone_vm, resize_vm and migrate_vm;
src/PVE/QemuServer.pm check_bridge_access. pve-guest-common src/PVE/GuestHelpers.pm (4a8f6cb)
check_vnet_access and assert_tag_permissions; pve-storage src/PVE/Storage.pm (0c56bad) check_volume_access;
pve-access-control src/PVE/RPCEnvironment.pm (5ccd07d) check_vm_perm, check_full.

Every function takes the simulator and the caller's auth id (user or token) and raises PVE's error: 403
`Permission check failed (<path>, <privilege>)`, a plain 500 for the root-only refusals, 400 for the
parameter errors that sit between the checks.
"""

import re

from pvesim.errors import ParamError, PermissionDenied, die
from pvesim.qemu_config import (
    CLOUDINIT_OPTIONS, NEW_DISK_RE, drive_is_cdrom, is_drive_key, parse_property_string)
from pvesim.storage_config import parse_volname, parse_volume_id

ROOT = "root@pam"

# Qemu.pm: the option tables of $check_vm_modify_config_perm (allow-ksm exists in the 9.x schema only)
CPU_OPTIONS = frozenset(("cores", "cpu", "runningcpu", "cpulimit", "cpuunits", "numa", "smp", "sockets", "vcpus"))
MEMORY_OPTIONS = frozenset(("memory", "balloon", "shares", "allow-ksm"))
HWTYPE_OPTIONS = frozenset(("acpi", "hotplug", "kvm", "machine", "runningmachine", "scsihw", "smbios1", "tablet", "vga",
                            "watchdog", "audio0", "rng0"))
GENERAL_OPTIONS = frozenset(("agent", "autostart", "bios", "description", "keyboard", "localtime", "migrate_downtime",
                             "migrate_speed", "name", "onboot", "ostype", "protection", "reboot", "startdate", "startup",
                             "tdf", "template"))
POWER_OPTIONS = frozenset(("freeze",))
DISK_OPTIONS = frozenset(("boot", "bootdisk", "vmstatestorage"))
# keys whose privilege depends on the value: checked by the device checks, the storage and the drive checks
VALUE_CHECKED_RE = re.compile(r"^(?:unused|serial|usb|hostpci|virtiofs)\d+$")


def control(sim):
    """The simulator's ACL evaluation (pvesim.permissions.AccessControl)."""
    return sim.permissions.control


def vm_path(vmid):
    return "/vms/%d" % int(vmid)


def check_vm_perm(sim, authid, vmid, pool, privileges, any_of=False):
    """RPCEnvironment.pm check_vm_perm: enough on /pool/<pool> (when given), else checked on /vms/<vmid>."""
    if pool and control(sim).has(authid, "/pool/%s" % pool, privileges, any_of=any_of):
        return
    control(sim).check(authid, vm_path(vmid), privileges, any_of=any_of)


def check_modify_config(sim, authid, vmid, pool, keys):
    """Qemu.pm $check_vm_modify_config_perm: the privilege of each config key set or deleted; drives,
    `cdrom`, `tags` and the value-dependent devices are checked elsewhere; an unknown key is root's."""
    if authid == ROOT:
        return
    for key in sorted(keys):
        if is_drive_key(key) or key in ("cdrom", "tags") or VALUE_CHECKED_RE.match(key):
            continue
        if key in CPU_OPTIONS or re.match(r"^numa\d+$", key):
            check_vm_perm(sim, authid, vmid, pool, ["VM.Config.CPU"])
        elif key in MEMORY_OPTIONS:
            check_vm_perm(sim, authid, vmid, pool, ["VM.Config.Memory"])
        elif key in HWTYPE_OPTIONS:
            check_vm_perm(sim, authid, vmid, pool, ["VM.Config.HWType"])
        elif key in GENERAL_OPTIONS:
            check_vm_perm(sim, authid, vmid, pool, ["VM.Config.Options"])
            if key == "startup":  # it changes how the host boots
                control(sim).check(authid, "/", ["Sys.Modify"])
        elif key in POWER_OPTIONS:
            check_vm_perm(sim, authid, vmid, pool, ["VM.PowerMgmt"])
        elif key in DISK_OPTIONS:
            check_vm_perm(sim, authid, vmid, pool, ["VM.Config.Disk"])
        elif re.match(r"^net\d+$", key) or key == "running-nets-host-mtu":
            check_vm_perm(sim, authid, vmid, pool, ["VM.Config.Network"])
        elif key in CLOUDINIT_OPTIONS or re.match(r"^ipconfig\d+$", key):
            check_vm_perm(sim, authid, vmid, pool, ["VM.Config.Cloudinit", "VM.Config.Network"], any_of=True)
        elif key == "vmstate":
            check_vm_perm(sim, authid, vmid, pool, ["VM.Config.Disk", "VM.PowerMgmt"])
        else:  # args, hookscript, affinity, vmgenid, parallelN, lock, ...
            raise die("only root can set '%s' config\n" % key)


# -- volumes and storages ---------------------------------------------------------------------------
def parsed_volume(sim, volid):
    """(storage, parse_volname result) of a PVE-managed volume id, or (None, None) for a path."""
    try:
        storage, volname = parse_volume_id(volid)
    except ValueError:
        return None, None
    scfg = sim.areas["StorageArea"].storage_config(storage)
    try:
        return storage, parse_volname(scfg["type"], volname)
    except ValueError as error:
        raise die(str(error)) from error


def check_volume_access(sim, authid, volid, vmid=None, content=None):
    """pve-storage Storage.pm check_volume_access: Datastore.Allocate on the storage is enough; iso,
    vztmpl and import need Datastore.AllocateSpace or Datastore.Audit; the guest's own volumes are free;
    a backup needs Datastore.AllocateSpace and VM.Backup on its guest, another guest's image
    Datastore.Audit and VM.Config.Disk on that guest; a plain path is root's."""
    storage, parsed = parsed_volume(sim, volid)
    if storage is None:
        if authid != ROOT:
            raise die("Only root can pass arbitrary filesystem paths.")
        return
    if content is not None and parsed.vtype != content and (content != "rootdir" or parsed.vtype != "images"):
        raise die("unable to use volume %s - content type needs to be '%s'\n" % (volid, content))
    path = "/storage/%s" % storage
    if control(sim).has(authid, path, ["Datastore.Allocate"]):
        return
    if parsed.vtype in ("iso", "vztmpl", "import"):
        control(sim).check(authid, path, ["Datastore.AllocateSpace", "Datastore.Audit"], any_of=True)
    elif parsed.vmid is not None and vmid is not None and parsed.vmid == int(vmid):
        return
    elif parsed.vtype == "backup" and parsed.vmid:
        control(sim).check(authid, path, ["Datastore.AllocateSpace"])
        control(sim).check(authid, vm_path(parsed.vmid), ["VM.Backup"])
    elif parsed.vtype in ("images", "rootdir") and parsed.vmid:
        control(sim).check(authid, path, ["Datastore.Audit"])
        control(sim).check(authid, vm_path(parsed.vmid), ["VM.Config.Disk"])
    else:
        raise die("missing privileges to access %s\n" % volid)


def _drives(sim, settings):
    """(key, parsed drive) of every drive option, sorted (Qemu.pm $foreach_volume_with_alloc)."""
    guests = sim.areas["GuestsArea"]
    return [(key, guests.parse_drive(key, settings[key])) for key in sorted(settings) if is_drive_key(key)]


def check_storage_access(sim, authid, vmid, settings, default_storage=None, extraction_storage=None):
    """Qemu.pm $check_storage_access: per drive of a create or update: a new volume needs
    Datastore.AllocateSpace on its storage, an existing one check_volume_access, the host CD-ROM
    Sys.Console on /, an `import-from` source VM.Clone on its guest (or check_volume_access);
    unusedN volumes check_volume_access as images; vmstatestorage Datastore.AllocateSpace."""
    storage_area = sim.areas["StorageArea"]
    for key, drive in _drives(sim, settings):
        volid = drive.get("file") or ""
        storage, _sep, volname = volid.rpartition(":")
        match = NEW_DISK_RE.match(volid)
        if not volid or volid in ("none", "cloudinit") or (storage and volname == "cloudinit"):
            pass
        elif drive_is_cdrom(drive) and volid == "cdrom":
            control(sim).check(authid, "/", ["Sys.Console"])
        elif not drive_is_cdrom(drive) and match:
            storage = match.group(2) or default_storage
            if not storage:
                raise die("no storage ID specified (and no default storage)\n")
            control(sim).check(authid, "/storage/%s" % storage, ["Datastore.AllocateSpace"])
            if "images" not in storage_area.storage_config(storage).get("content", []):
                raise ParamError({"storage": "storage '%s' does not support vm images" % storage})
        else:
            check_volume_access(sim, authid, volid, vmid)
            storage, parsed = parsed_volume(sim, volid)
            if storage is not None and parsed.vtype not in ("images", "iso"):
                raise ParamError({key: "content type needs to be 'images' or 'iso'"})
        if drive.get("import-from"):
            _check_import_source(sim, authid, vmid, key, drive["import-from"], extraction_storage)
    for key in sorted(settings):
        if re.match(r"^unused\d+$", key):
            volid = str(settings[key]).split(",", 1)[0]
            if parsed_volume(sim, volid)[0] is None:
                raise ParamError({key: "not a valid volid: %s" % volid})
            check_volume_access(sim, authid, volid, vmid, content="images")
    if settings.get("vmstatestorage") is not None:
        control(sim).check(authid, "/storage/%s" % settings["vmstatestorage"], ["Datastore.AllocateSpace"])


def _check_import_source(sim, authid, vmid, key, source, extraction_storage):  # pylint: disable=too-many-arguments
    """The `import-from` part of $check_storage_access (an OVA member needs an extraction storage too)."""
    storage, parsed = parsed_volume(sim, source)
    source_vmid = None
    if storage is not None:
        if parsed.vtype not in ("images", "import"):
            raise ParamError({key: "%s has wrong type '%s' - needs to be 'images' or 'import'" % (source, parsed.vtype)})
        if parsed.vtype == "import" and parsed.format.startswith("ova+"):  # QemuServer/Helpers.pm needs_extraction
            extraction_id = extraction_storage or storage
            scfg = sim.areas["StorageArea"].storage_config(extraction_id)
            if "images" not in scfg.get("content", []) or not scfg.get("path"):
                raise ParamError({"import-working-storage" if extraction_storage else key:
                                  "import working storage '%s' does not support 'images' content type or is not file based."
                                  % extraction_id})
            control(sim).check(authid, "/storage/%s" % extraction_id, ["Datastore.AllocateSpace"])
        source_vmid = parsed.vmid
    if source_vmid:  # the source may be in use by its VM: clone_disk copies it
        control(sim).check(authid, vm_path(source_vmid), ["VM.Clone"])
    else:
        check_volume_access(sim, authid, source, vmid)


# -- networks, devices, CPU models -------------------------------------------------------------------
def check_vnet_access(sim, authid, bridge, tag=None, trunks=None):
    """GuestHelpers.pm check_vnet_access: SDN.Use on /sdn/zones/<zone>/<bridge>[/<tag>]; the zone of an SDN
    VNet (its configured zone), `localnetwork` for a plain bridge; a tag or each trunk VLAN is checked on
    its own path, the bridge path only without either."""
    zone = "localnetwork"
    sdn = sim.areas.get("SdnArea")
    vnet = sdn.state["pending"]["vnets"].get(bridge) if sdn is not None else None
    if vnet is not None and vnet.get("zone"):
        zone = vnet["zone"]
    path = "/sdn/zones/%s/%s" % (zone, bridge)
    if tag:
        control(sim).check(authid, "%s/%s" % (path, tag), ["SDN.Use"])
    if trunks:
        tags = set()
        for trunk in str(trunks).split(";"):
            first, _dash, last = trunk.partition("-")
            if last and int(last) > int(first):
                tags.update(range(int(first), int(last) + 1))
            else:
                tags.add(int(first))
        for vlan in sorted(tags, key=str):  # Perl sorts the tags as strings
            control(sim).check(authid, "%s/%s" % (path, vlan), ["SDN.Use"])
    if not (tag or trunks):
        control(sim).check(authid, path, ["SDN.Use"])


def parse_option(sim, key, value):
    """A property-string option ({key: value}) parsed with its format from the create call's schema."""
    return parse_property_string(sim.areas["GuestsArea"].option_format(key) or {}, value)


def check_bridge_access(sim, authid, settings):
    """QemuServer.pm check_bridge_access: check_vnet_access for the bridge of every NIC (root: nothing)."""
    if authid == ROOT:
        return
    for key in sorted(settings):
        if re.match(r"^net\d+$", key):
            net = parse_option(sim, key, settings[key])
            if net.get("bridge") is not None:
                check_vnet_access(sim, authid, net["bridge"], net.get("tag"), net.get("trunks"))


def check_cpu_model_access(sim, authid, settings, existing=None):
    """Qemu.pm $check_cpu_model_access: a custom CPU model needs Mapping.Use on /mapping/cpu/<name>,
    unless the model stays the same."""
    if settings.get("cpu") is None:
        return
    cputype = parse_option(sim, "cpu", settings["cpu"]).get("cputype")
    if not cputype:
        return
    if existing and existing.get("cpu") and parse_option(sim, "cpu", existing["cpu"]).get("cputype") == cputype:
        return
    if cputype.startswith("custom-"):
        control(sim).check(authid, "/mapping/cpu/%s" % cputype[len("custom-"):], ["Mapping.Use"])


def check_device(sim, authid, vmid, pool, key, value, verb="set"):  # pylint: disable=too-many-arguments
    """The value-dependent device checks of Qemu.pm (serial, check_usb_perm, check_hostpci_perm,
    check_rng_perm, check_dir_perm): a socket serial port, a SPICE or mapped USB device, a mapped PCI
    device, an RNG need VM.Config.HWType, a virtiofs share VM.Config.Disk; mappings need Mapping.Use;
    real host devices are root's. `verb` words the serial refusal (create: set; update: delete)."""
    if authid == ROOT:
        return
    if re.match(r"^serial\d+$", key):
        if value != "socket":
            raise die("only root can %s '%s' config for real devices\n" % (verb, key))
        check_vm_perm(sim, authid, vmid, pool, ["VM.Config.HWType"])
    elif re.match(r"^usb\d+$", key):
        check_vm_perm(sim, authid, vmid, pool, ["VM.Config.HWType"])
        device = parse_option(sim, key, value)
        if device.get("host"):
            if not re.match(r"^spice$", device["host"], re.IGNORECASE):
                raise die("only root can set '%s' config for real devices\n" % key)
        elif device.get("mapping"):
            control(sim).check(authid, "/mapping/usb/%s" % device["mapping"], ["Mapping.Use"])
        else:
            raise die("either 'host' or 'mapping' must be set.\n")
    elif re.match(r"^hostpci\d+$", key):
        device = parse_option(sim, key, value)
        if device.get("romfile") is not None:
            raise ParamError({key: "only root@pam can set 'romfile' option"})
        if device.get("host"):
            raise die("only root can set '%s' config for non-mapped devices\n" % key)
        if not device.get("mapping"):
            raise die("either 'host' or 'mapping' must be set.\n")
        control(sim).check(authid, "/mapping/pci/%s" % device["mapping"], ["Mapping.Use"])
        check_vm_perm(sim, authid, vmid, pool, ["VM.Config.HWType"])
    elif re.match(r"^rng\d+$", key):
        check_vm_perm(sim, authid, vmid, pool, ["VM.Config.HWType"])
        if parse_option(sim, key, value).get("source") == "/dev/hwrng":
            control(sim).check(authid, "/mapping/hwrng", ["Mapping.Use"])
    elif re.match(r"^virtiofs\d+$", key):
        check_vm_perm(sim, authid, vmid, pool, ["VM.Config.Disk"])
        control(sim).check(authid, "/mapping/dir/%s" % parse_option(sim, key, value).get("dirid"), ["Mapping.Use"])


DEVICE_RE = re.compile(r"^(?:serial|usb|hostpci|rng|virtiofs)\d+$")


def is_cloudinit_drive(drive):
    """Drive.pm drive_is_cloudinit: `vm-<vmid>-cloudinit[.<fmt>]`, and the `<storage>:cloudinit` to allocate."""
    return re.search(r"[:/](?:vm-\d+-)?cloudinit(?:\.(?:raw|qcow2|vmdk))?$", drive.get("file") or "") is not None


def check_drive_perms(sim, authid, vmid, key, value):
    """update_vm_api $check_drive_perms: a cloud-init drive needs VM.Config.Cloudinit and VM.Config.CDROM,
    a CD-ROM VM.Config.CDROM, any other drive VM.Config.Disk."""
    drive = sim.areas["GuestsArea"].parse_drive(key, value)
    if is_cloudinit_drive(drive):
        check_vm_perm(sim, authid, vmid, None, ["VM.Config.Cloudinit", "VM.Config.CDROM"])
    elif drive_is_cdrom(drive):
        check_vm_perm(sim, authid, vmid, None, ["VM.Config.CDROM"])
    else:
        check_vm_perm(sim, authid, vmid, None, ["VM.Config.Disk"])


def check_tag_change(sim, authid, vmid):
    """GuestHelpers.pm assert_tag_permissions with datacenter.cfg's defaults (user-tag-access free, no
    registered tags): VM.Config.Options on the guest is all a tag change needs."""
    check_vm_perm(sim, authid, vmid, None, ["VM.Config.Options"])


def resolve_cdrom_alias(settings):
    """Qemu.pm $resolve_cdrom_alias: `cdrom` is ide2 with media=cdrom."""
    settings = dict(settings)
    if settings.get("cdrom"):
        value = settings.pop("cdrom")
        settings["ide2"] = value if "media=" in value else value + ",media=cdrom"
    return settings


# -- the calls ----------------------------------------------------------------------------------------
def check_create_vm(sim, authid, params, extracted):
    """Qemu.pm create_vm (no restore), before anything is created: Datastore.AllocateSpace on `storage`;
    9.x: Sys.Console on / for `ha-managed`, VM.PowerMgmt (on the guest or its pool) for `start`;
    VM.Allocate on /vms/<vmid> or /pool/<pool> (a bare 403 otherwise); then the config's storages, keys,
    devices, bridges and CPU model. `extracted`: the parameters that are no config options."""
    vmid, pool, storage = int(params["vmid"]), params.get("pool"), params.get("storage")
    if storage is not None:
        control(sim).check(authid, "/storage/%s" % storage, ["Datastore.AllocateSpace"])
    if sim.pve_version != "8.4":
        if params.get("ha-managed"):
            control(sim).check(authid, "/", ["Sys.Console"])
        if params.get("start"):
            check_vm_perm(sim, authid, vmid, pool, ["VM.PowerMgmt"])
    if not (control(sim).has(authid, vm_path(vmid), ["VM.Allocate"])
            or (pool and control(sim).has(authid, "/pool/%s" % pool, ["VM.Allocate"]))):
        raise PermissionDenied()
    settings = resolve_cdrom_alias({key: value for key, value in params.items() if key not in extracted})
    if not settings:
        return
    check_storage_access(sim, authid, vmid, settings, storage, params.get("import-working-storage"))
    check_modify_config(sim, authid, vmid, pool, settings)
    for key in sorted(settings):
        if DEVICE_RE.match(key):
            check_device(sim, authid, vmid, pool, key, settings[key])
    check_bridge_access(sim, authid, settings)
    check_cpu_model_access(sim, authid, settings)


def check_update_vm(sim, authid, vmid, values, delete, extraction_storage=None):  # pylint: disable=too-many-arguments
    """update_vm_api's checks before the config is loaded (both the PUT and the POST call answer them
    at once): the keys deleted and set, the storages of the new drives, the bridges of the new NICs."""
    check_modify_config(sim, authid, vmid, None, delete)
    check_modify_config(sim, authid, vmid, None, values)
    check_storage_access(sim, authid, vmid, values, extraction_storage=extraction_storage)
    check_bridge_access(sim, authid, values)


def check_update_changes(sim, authid, record, values, delete, revert):  # pylint: disable=too-many-arguments
    """update_vm_api's updatefn, per key (a failure fails the qmconfig task of the POST call): a deleted
    drive, unused disk, device, tag list or NIC, and for each value set the old and the new drive, the
    device, the tags and the old NIC's bridge; reverted keys count as set to their current value."""
    vmid, config, pending = record["vmid"], record["config"], record["pending"]
    check_cpu_model_access(sim, authid, values, config)
    for key in delete:
        value = config.get(key, pending.get(key))
        if value is None:
            continue
        if key.startswith("unused"):
            check_vm_perm(sim, authid, vmid, None, ["VM.Config.Disk"])
        elif is_drive_key(key):
            check_drive_perms(sim, authid, vmid, key, value)
        elif re.match(r"^serial\d+$", key):
            check_device(sim, authid, vmid, None, key, value, verb="delete")
        elif DEVICE_RE.match(key):
            check_device(sim, authid, vmid, None, key, value)
        elif key == "tags":
            check_tag_change(sim, authid, vmid)
        elif re.match(r"^net\d+$", key) and key in config:
            check_bridge_access(sim, authid, {key: config[key]})
    changes = dict(values)
    changes.update({key: config[key] for key in revert if key in config})
    for key in sorted(changes):
        value = changes[key]
        if key in pending and str(pending[key]) == str(value):
            continue
        if is_drive_key(key):
            if config.get(key):
                check_drive_perms(sim, authid, vmid, key, config[key])
            check_drive_perms(sim, authid, vmid, key, value)
        elif re.match(r"^serial\d+$", key):
            if config.get(key) in (None, "socket") and value == "socket":
                check_vm_perm(sim, authid, vmid, None, ["VM.Config.HWType"])
            elif authid != ROOT:
                raise die("only root can modify '%s' config for real devices\n" % key)
        elif DEVICE_RE.match(key):
            if config.get(key):
                check_device(sim, authid, vmid, None, key, config[key])
            check_device(sim, authid, vmid, None, key, value)
        elif key == "tags":
            check_tag_change(sim, authid, vmid)
        elif re.match(r"^net\d+$", key) and config.get(key):
            check_bridge_access(sim, authid, {key: config[key]})


def check_clone_vm(sim, authid, config, storage):
    """clone_vm's $check_storage_access_clone (Datastore.AllocateSpace on the storage of every disk, or on
    the target `storage`; Sys.Console on / for the host CD-ROM; vmstatestorage), then the bridges of the
    source's NICs and its CPU model. VM.Clone and VM.Allocate are the schema's checks."""
    for _key, drive in _drives(sim, config):
        volid = drive.get("file")
        if not volid or volid == "none":
            continue
        if drive_is_cdrom(drive):
            if volid == "cdrom":
                control(sim).check(authid, "/", ["Sys.Console"])
            continue
        control(sim).check(authid, "/storage/%s" % (storage or parse_volume_id(volid)[0]), ["Datastore.AllocateSpace"])
    if config.get("vmstatestorage") is not None:
        control(sim).check(authid, "/storage/%s" % config["vmstatestorage"], ["Datastore.AllocateSpace"])
    check_bridge_access(sim, authid, config)
    check_cpu_model_access(sim, authid, config)


def check_resize(sim, authid, volid):
    """resize_vm (in its worker): Datastore.AllocateSpace on the disk's storage."""
    control(sim).check(authid, "/storage/%s" % parse_volume_id(volid)[0], ["Datastore.AllocateSpace"])


def check_migrate_storage(sim, authid, vmid, mapping, target):
    """migrate_vm with `targetstorage`: VM.Config.Disk on the guest unless the map is the identity
    (`1`), then $check_storage_access_migrate for every target storage (enabled on the target node,
    Datastore.AllocateSpace, images content)."""
    if not mapping["identity"]:
        check_vm_perm(sim, authid, vmid, None, ["VM.Config.Disk"])
    storages = sorted(set(mapping["entries"].values()))
    if mapping["default"]:
        storages.append(mapping["default"])
    for storage in storages:
        scfg = sim.areas["StorageArea"].check_enabled(storage, target)
        control(sim).check(authid, "/storage/%s" % storage, ["Datastore.AllocateSpace"])
        if "images" not in scfg.get("content", []):
            raise die("storage '%s' does not support vm images\n" % storage)
