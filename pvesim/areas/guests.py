"""Guests (QEMU VMs, LXC containers): the guest records and the qemu configuration API.

Every guest is one record in the state namespace "guests" (`{"guests": {"<vmid>": record}}`):
  {"vmid": int, "node": str, "type": "qemu"|"lxc", "status": "running"|"stopped",
   "config": {key: value as GET .../config answers it}, "pending": {key: value},
   "pending_delete": [key, ...], "booted": None | {"at": epoch, "config": {copy at start}},
   "lock": None | "clone" | "create" | "migrate" | ..., "lock_until": None | epoch}
The config is the `<vmid>.conf` file as qemu-server keeps it (proxmox/qemu-server
src/PVE/QemuServer.pm $confdesc), its pending section (`[PENDING]`, `delete: ...`) apart.
`booted` is what the guest started with (the runtime area sets it; the guest agent answers from it).
A task's lock (`lock` + `lock_until`) is cleared lazily on the first read after the task ended.

Summaries for the other areas (firewall, pools, access, /cluster/resources) come from
pve-manager PVE/API2/Cluster.pm `resources` via PVE::API2Tools::extract_vm_stats and qemu-server
QemuServer.pm vmstatus: name `VM <vmid>` without one, maxcpu = sockets * cores (or vcpus),
maxmem = memory (MiB) in bytes, maxdisk = the boot disk's size.

Side channel:
  GET    /_sim/guests                  every guest (summary)
  POST   /_sim/guests  {"vmid", "node", "name", "type": "qemu"|"lxc", "status": "running"|"stopped"}
  DELETE /_sim/guests  {"vmid"}
"""

import copy
import random
import re
import uuid

from pvesim.areas import Area, route
from pvesim.errors import ApiError, ParamError, PermissionDenied, die
from pvesim.formats import split_list
from pvesim.qemu_config import (
    CLOUDINIT_DISK_SIZE, CLOUDINIT_OPTIONS, NET_KEY_RE, NEW_DISK_RE, PASSWORD_MASK, boot_disk_size, cloudinit_dump,
    cloudinit_pending_property, config_digest, default_boot_order, drive_is_cdrom, drive_is_cloudinit, encrypt_password,
    hotpluggable, is_drive_key, memory_mib, parse_property_string, parse_size, print_property_string, random_mac)
from pvesim.qemu_permissions import (
    check_clone_vm, check_create_vm, check_resize, check_update_changes, check_update_vm, resolve_cdrom_alias)

GUEST_TYPES = ("qemu", "lxc")
GUEST_STATUSES = ("running", "stopped")
# QEMU version a new VM's `meta: creation-qemu=` records (pve-qemu-kvm of each release)
CREATION_QEMU = {"8.4": "9.2.0", "9.1": "10.1.2"}
# create_vm / update_vm_api parameters that are no config options
CREATE_ONLY = ("node", "vmid", "pool", "start", "storage", "force", "unique", "bwlimit", "archive", "live-restore",
               "ha-managed", "import-working-storage")
UPDATE_ONLY = ("node", "vmid", "digest", "skiplock", "delete", "revert", "force", "background_delay", "skip_cloud_init",
               "import-working-storage")
# qemu-server $confdesc defaults (QemuServer.pm load_defaults)
DEFAULT_MEMORY_MIB = 512
DEFAULT_CORES = 1
DEFAULT_SOCKETS = 1
PLACED_GUEST_MEMORY = "2048"  # a guest placed through the side channel: a small VM of the demo


class GuestsArea(Area):
    """The guest records and the qemu configuration calls."""

    name = "guests"

    def initial_state(self):
        return {"guests": {}, "mac_draws": 0}

    # -- records (the contract with the runtime and storage areas) ---------------------------
    def record(self, vmid):
        """The live record of a guest (mutable; callers hold sim.state.lock), or None."""
        found = self.state["guests"].get(str(int(vmid)))
        if found is not None:
            self._expire_lock(found)
        return found

    def _expire_lock(self, record):
        """A task's lock ends with the task (cleared on the first read after its end)."""
        until = record.get("lock_until")
        if until is not None and self.sim.tasks.clock() >= until:
            record["lock"] = None
            record["lock_until"] = None

    def guest(self, vmid):
        """The summary {vmid, node, type, name, status} of a guest, or None."""
        record = self.record(vmid)
        return self.summary(record) if record is not None else None

    @staticmethod
    def summary(record):
        """What the firewall, pools and access areas need to know of a guest."""
        return {"vmid": record["vmid"], "node": record["node"], "type": record["type"],
                "name": record["config"].get("name") or "VM %d" % record["vmid"], "status": record["status"]}

    def records(self):
        """Every live record, by vmid."""
        return [self.record(key) for key in sorted(self.state["guests"], key=int)]

    def guests(self):
        """Every guest's summary, by vmid."""
        return [self.summary(record) for record in self.records()]

    @staticmethod
    def new_record(vmid, node, guest_type, config, status="stopped"):
        """A record in the contract's shape."""
        return {"vmid": int(vmid), "node": node, "type": guest_type, "status": status, "config": config,
                "pending": {}, "pending_delete": [], "booted": None, "lock": None, "lock_until": None}

    def add(self, vmid, node, name=None, type="qemu", status="running"):  # pylint: disable=redefined-builtin
        """Place a guest on a node (side channel); refuses an id in use, an unknown node, type or status.

        The guest gets a minimal config (name, memory 2048, cores 1); a running one counts as booted now.
        """
        vmid = int(vmid)
        if not 100 <= vmid <= 999999999:
            raise ValueError("vmid must be an integer from 100 to 999999999, got %r" % vmid)
        self._check_node(node)
        if type not in GUEST_TYPES:
            raise ValueError("type must be one of %s, got %r" % (", ".join(GUEST_TYPES), type))
        if status not in GUEST_STATUSES:
            raise ValueError("status must be one of %s, got %r" % (", ".join(GUEST_STATUSES), status))
        if vmid in self.all_used_vmids():
            raise ValueError("VM %d already exists" % vmid)
        config = {"name": name or "%s-%d" % ("vm" if type == "qemu" else "ct", vmid), "memory": PLACED_GUEST_MEMORY,
                  "cores": DEFAULT_CORES}
        record = self.new_record(vmid, node, type, config)
        self.state["guests"][str(vmid)] = record
        if status == "running":
            self.runtime_area().boot(record)
        return self.summary(record)

    def _check_node(self, node):
        """The side channel's refusal of a node the cluster does not have."""
        if node not in self.sim.nodes:
            raise ValueError("unknown node %r (nodes: %s)" % (node, ", ".join(self.sim.nodes)))

    def remove(self, vmid):
        """Forget a guest and, as PVE's destroy does (pve-firewall Helpers.pm remove_vmfw_conf),
        its firewall file; refuses an unknown id."""
        if self.state["guests"].pop(str(int(vmid)), None) is None:
            raise ValueError("no guest with vmid %s" % vmid)
        firewall = self.sim.areas.get("FirewallArea")
        if firewall is not None:
            firewall.state["guests"].pop(str(int(vmid)), None)

    def move(self, vmid, node):
        """The guest's config now lives in `node`'s directory (pmxcfs: nodes/<node>/qemu-server/<vmid>.conf);
        what a migration, an HA recovery and a manual move of a failed node's guest do. Its power state
        is the caller's (the runtime area's boot and power_off). Returns the record."""
        record = self.record(vmid)
        if record is None:
            raise ValueError("no guest with vmid %s" % vmid)
        self._check_node(node)
        record["node"] = node
        return record

    def runtime_area(self):
        """The area that starts and stops guests (boot, power_off)."""
        return self.sim.areas["QemuRuntimeArea"]

    def apply_pending(self, vmid):
        """QemuServer.pm vmconfig_apply_pending (at a cold start): pending deletions, then the
        pending values, move into the config (replaced disks become unusedN); the pending section is
        empty afterwards. vm_start then regenerates the cloud-init drive (Cloudinit.pm
        apply_cloudinit_config), which drops the record of the values the old drive held."""
        record = self.record(vmid)
        self._apply_pending_changes(record)
        record.pop("cloudinit", None)

    def all_used_vmids(self):
        """Ids used by any area (guests, and whatever else owns a vmid)."""
        used = set()
        for area in self.sim.areas.values():
            used |= {int(vmid) for vmid in area.used_vmids()}
        return used

    def used_vmids(self):
        return {int(vmid) for vmid in self.state["guests"]}

    # -- figures -------------------------------------------------------------------------------
    def figures(self, record):
        """QemuServer.pm vmstatus figures of a guest from its config: cpus, maxmem, maxdisk, uptime."""
        config = record["config"]
        cpus = int(config.get("sockets") or DEFAULT_SOCKETS) * int(config.get("cores") or DEFAULT_CORES)
        if config.get("vcpus"):
            cpus = int(config["vcpus"])
        running = record["status"] == "running"
        booted_at = (record.get("booted") or {}).get("at")
        uptime = int(self.sim.tasks.clock() - booted_at) if running and booted_at is not None else 0
        return {"cpus": cpus, "maxmem": memory_mib(config.get("memory")) * 1024 * 1024,
                "maxdisk": boot_disk_size(config), "uptime": uptime}

    def cluster_resources(self):
        """The `qemu`/`lxc` entries of /cluster/resources (the pool is added by the access side)."""
        entries = []
        for record in self.records():
            figures = self.figures(record)
            running = record["status"] == "running"
            entry = {
                "id": "%s/%d" % (record["type"], record["vmid"]), "type": record["type"], "vmid": record["vmid"],
                "node": record["node"], "name": self.summary(record)["name"], "status": record["status"],
                "template": 1 if record["config"].get("template") else 0,
                "maxcpu": figures["cpus"], "cpu": 0.01 if running else 0, "maxmem": figures["maxmem"],
                "mem": figures["maxmem"] // 4 if running else 0, "maxdisk": figures["maxdisk"], "disk": 0,
                "uptime": figures["uptime"], "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0,
            }
            if record["config"].get("tags"):
                entry["tags"] = record["config"]["tags"]
            if record.get("lock"):
                entry["lock"] = record["lock"]
            entries.append(entry)
        return entries

    @route("GET", "/nodes/{node}/qemu")
    def list_vms(self, request):
        """Qemu.pm vmlist: the node's VMs as vmstatus describes them."""
        entries = []
        for record in self.records():
            if record["type"] != "qemu" or record["node"] != request.params["node"]:
                continue
            if not self.sim.permissions.control.has(request.userid, "/vms/%d" % record["vmid"], ["VM.Audit"]):
                continue
            figures = self.figures(record)
            entry = {"vmid": record["vmid"], "name": self.summary(record)["name"], "status": record["status"],
                     "cpus": figures["cpus"], "maxmem": figures["maxmem"], "maxdisk": figures["maxdisk"], "disk": 0,
                     "uptime": figures["uptime"], "cpu": 0, "mem": 0, "netin": 0, "netout": 0}
            if record["config"].get("template"):
                entry["template"] = 1
            if record["config"].get("tags"):
                entry["tags"] = record["config"]["tags"]
            if record.get("lock"):
                entry["lock"] = record["lock"]
            entries.append(entry)
        return entries

    def side_routes(self):
        def add(sim, body):
            with sim.state.lock:
                guest = self.add(**body)
                sim.persist()
            return guest

        def remove(sim, body):
            with sim.state.lock:
                self.remove(body["vmid"])
                sim.persist()

        return {
            ("GET", "/_sim/guests"): lambda sim, body: self.guests(),
            ("POST", "/_sim/guests"): add,
            ("DELETE", "/_sim/guests"): remove,
        }

    # -- helpers of the qemu calls -------------------------------------------------------------
    def storage_area(self):
        """The storage area's volume calls (a method: Area.routes inspects every attribute)."""
        return self.sim.areas["StorageArea"]

    def option_format(self, key):
        """The property-string format of a config option (the create call's schema), or None."""
        properties = self.sim.schema.method("/nodes/{node}/qemu", "POST")["parameters"]["properties"]
        schema = properties.get(key) or properties.get(re.sub(r"\d+$", "[n]", key)) or {}
        fmt = schema.get("format")
        return fmt if isinstance(fmt, dict) else None

    def parse_drive(self, key, value):
        """Drive.pm parse_drive: the drive's properties ({file, media, size, ...})."""
        return parse_property_string(self.option_format(key) or {"file": {"default_key": 1}}, value)

    def print_option(self, key, values):
        """Drive.pm print_drive / Network.pm print_net."""
        return print_property_string(values, self.option_format(key))

    def _random(self):
        """Reproducible with the simulator's seed (a draw counter in the state), like the SDN area."""
        self.state["mac_draws"] += 1
        if self.sim.seed is None:
            return random.Random()
        return random.Random("%s/guests/%d" % (self.sim.seed, self.state["mac_draws"]))

    def with_new_mac(self, key, value, force=False):
        """Network.pm parse_net + print_net: a NIC without macaddr (or any, `force`, as clone does) gets one."""
        net = parse_property_string(self.option_format(key), value)
        if force or not net.get("macaddr"):
            net["macaddr"] = random_mac(self._random())
        return self.print_option(key, net)

    def load(self, node, vmid):
        """AbstractConfig load_config on `node`: the record, or PVE's error for a missing config file."""
        record = self.record(vmid)
        if record is None or record["node"] != node or record["type"] != "qemu":
            raise die("Configuration file 'nodes/%s/qemu-server/%s.conf' does not exist\n" % (node, vmid))
        return record

    @staticmethod
    def digest(record):
        """The config digest (SHA1 of the config file as qemu-server writes it)."""
        return config_digest(record["config"], record["pending"], record["pending_delete"], record.get("cloudinit"),
                             record.get("lock"))

    @staticmethod
    def check_lock(record):
        """AbstractConfig check_lock."""
        if record.get("lock"):
            raise die("VM is locked (%s)\n" % record["lock"])

    @staticmethod
    def check_skiplock(request):
        """Only root@pam may skip the lock check (Qemu.pm)."""
        if request.params.get("skiplock") and request.userid != "root@pam":
            raise ParamError({"skiplock": "Only root may use this option."})

    def task(self, request, task_type, vmid, log=(), exitstatus="OK", lock=None, records=()):
        """A worker; `lock` is held on `records` until it ends (cleared lazily by record())."""
        upid = self.sim.tasks.start(request.params["node"], task_type, str(vmid), request.userid, exitstatus=exitstatus, log=log)
        if lock:
            end = self.sim.tasks.end_time(self.sim.tasks.find(upid))
            for record in records:
                record["lock"] = lock
                record["lock_until"] = end
        return upid

    def failed_task(self, request, task_type, vmid, error):
        """A worker that died with `error` (its message is the exit status)."""
        message = error.stringify() if isinstance(error, ApiError) else str(error)
        return self.task(request, task_type, vmid, exitstatus=message.rstrip("\n").split("\n")[0])

    def create_disk(self, node, vmid, key, value, default_storage=None, template=False):
        """Qemu.pm create_disks for one drive: `<storage>:<GiB>` allocates, `<storage>:0,import-from=`
        copies an import/iso volume, `<storage>:cloudinit` creates the cloud-init drive; an existing
        volume is kept. Returns (printed drive, [new volids])."""
        drive = self.parse_drive(key, value)
        file_ = drive.get("file") or ""
        storage, _sep, volname = file_.rpartition(":")
        new_volumes = []
        if not file_ or file_ in ("none", "cdrom"):
            drive.pop("size", None)
        elif volname == "cloudinit":
            storage = storage or default_storage
            if not storage:
                raise die("no storage ID specified (and no default storage)\n")
            drive["file"] = self.storage_area().alloc(node, storage, vmid, CLOUDINIT_DISK_SIZE,
                                                      fmt=drive.pop("format", None), name="vm-%d-cloudinit" % vmid)
            drive["media"] = "cdrom"
            new_volumes.append(drive["file"])
        elif NEW_DISK_RE.match(file_):
            match = NEW_DISK_RE.match(file_)
            storage = match.group(2) or default_storage
            if not storage:
                raise die("no storage ID specified (and no default storage)\n")
            source = drive.pop("import-from", None)
            if source:
                if self.storage_area().volume(node, source) is None:
                    self.storage_area().import_source(node, source)
                volid = self.storage_area().copy(node, source, storage, vmid, fmt=drive.pop("format", None))
            else:
                size = int(float(match.group(3)) * 1024 ** 3)
                volid = self.storage_area().alloc(node, storage, vmid, size, fmt=drive.pop("format", None))
            if template:
                volid = self.storage_area().to_base(node, volid)
            drive["file"] = volid
            drive["size"] = self.storage_area().size_of(node, volid)
            new_volumes.append(volid)
        return self.print_option(key, drive), new_volumes

    # -- create --------------------------------------------------------------------------------
    @route("POST", "/nodes/{node}/qemu")
    def create_vm(self, request):
        """Qemu.pm create_vm (no restore): checks, then a `qmcreate` task; the VM holds the lock
        `create` while it runs; `start=1` starts it at the end (vm_start: pending applied, booted)."""
        params = request.params
        node, vmid = params["node"], int(params["vmid"])
        if params.get("archive"):
            return self.restore_vm(request)
        pool = params.get("pool")
        if pool is not None and pool not in self.sim.directory.state["pools"]:
            raise die("pool '%s' does not exist\n" % pool)
        check_create_vm(self.sim, request.userid, params, CREATE_ONLY)  # before create_and_lock_config
        existing = self.record(vmid)
        if existing is not None or vmid in self.all_used_vmids():
            where = existing["node"] if existing else node
            kind = "VM" if existing is None or existing["type"] == "qemu" else "CT"
            raise die("unable to create VM %d - %s %d already exists on node '%s'\n" % (vmid, kind, vmid, where))
        config = {key: value for key, value in params.items() if key not in CREATE_ONLY}
        for key in sorted(config):
            if NET_KEY_RE.match(key):
                config[key] = self.with_new_mac(key, config[key])
        created = []
        try:
            for key in sorted(config):
                if is_drive_key(key):
                    config[key], volumes = self.create_disk(node, vmid, key, config[key], params.get("storage"),
                                                            template=bool(config.get("template")))
                    created.extend(volumes)
        except ApiError as error:
            for volid in created:
                self.storage_area().free(node, volid)
            return self.failed_task(request, "qmcreate", vmid,
                                    ApiError(500, "unable to create VM %d - %s" % (vmid, error.stringify()), plain=True))
        if "cipassword" in config:
            config["cipassword"] = encrypt_password(config["cipassword"], self._salt())
        if not config.get("boot"):
            config["boot"] = default_boot_order(config)
            if not config["boot"]:
                del config["boot"]
        config.setdefault("smbios1", "uuid=%s" % self._uuid())
        if str(config.get("vmgenid", "1")) == "1":
            config["vmgenid"] = self._uuid()
        config["meta"] = "creation-qemu=%s,ctime=%d" % (CREATION_QEMU.get(self.sim.pve_version, "10.1.2"), int(self.sim.tasks.clock()))
        record = self.new_record(vmid, node, "qemu", config)
        self.state["guests"][str(vmid)] = record
        if pool is not None:
            self.sim.directory.state["pools"][pool]["vms"] = sorted(set(self.sim.directory.state["pools"][pool]["vms"]) | {vmid})
        log = ["%s: successfully created disk '%s'" % (key, config[key]) for key in sorted(config) if is_drive_key(key)]
        upid = self.task(request, "qmcreate", vmid, log=log, lock="create", records=[record])
        if params.get("start"):
            if config.get("template"):
                log.append("start failed: you can't start a vm if it's a template")
            else:
                self.runtime_area().boot(record, at=record["lock_until"])
        return upid

    # -- restore -----------------------------------------------------------------------------------
    def restore_vm(self, request):  # pylint: disable=too-many-locals,too-many-branches
        """Qemu.pm create_vm with `archive`: VM.Allocate (or VM.Backup on an existing VM with `force`), no
        drive options, access to the backup; create_and_lock_config refuses an existing VM unless `force`;
        then a `qmrestore` task that dies for a protected or running VM and otherwise replaces the VM by the
        backup's config (QemuServer.pm restore_update_config_line: no lock/unused/parent, a new vmgenid,
        with `unique` new MACs and smbios1 uuid; every backed-up disk allocated anew on `storage` or its
        old storage; the old VM's disks freed), adding it to `pool`."""
        params = request.params
        node, vmid, archive = params["node"], int(params["vmid"]), params["archive"]
        pool, storage, force = params.get("pool"), params.get("storage"), params.get("force")
        control = self.sim.permissions.control
        if pool is not None and pool not in self.sim.directory.state["pools"]:
            raise die("pool '%s' does not exist\n" % pool)
        if storage is not None:
            control.check(request.userid, "/storage/%s" % storage, ["Datastore.AllocateSpace"])
        existing = self.record(vmid)
        if not (control.has(request.userid, "/vms/%d" % vmid, ["VM.Allocate"])
                or (pool and control.has(request.userid, "/pool/%s" % pool, ["VM.Allocate"]))
                or (force and existing is not None and existing["node"] == node
                    and control.has(request.userid, "/vms/%d" % vmid, ["VM.Backup"]))):
            raise PermissionDenied()
        for key in sorted(params):
            if is_drive_key(key):
                raise ParamError({key: "option conflicts with option 'archive'"})
        self.storage_area().check_volume_access(request, archive)
        if existing is not None and (not force or existing["node"] != node):
            # Cluster.pm check_vmid_unused (allowed with force only for this node's config)
            kind = "VM" if existing["type"] == "qemu" else "CT"
            raise die("unable to restore VM %d - %s %d already exists on node '%s'\n" % (vmid, kind, vmid, existing["node"]))
        if vmid in self.all_used_vmids() and existing is None:
            raise die("unable to restore VM %d - VM %d already exists on node '%s'\n" % (vmid, vmid, node))
        if existing is not None:
            try:
                self.check_lock(existing)
            except ApiError as error:
                raise die("unable to restore VM %d - %s" % (vmid, error.message)) from error
            if existing["config"].get("protection"):
                return self.failed_task(request, "qmrestore", vmid, die("unable to restore VM %d - - protection mode enabled\n" % vmid))
            if existing["status"] == "running":
                return self.failed_task(request, "qmrestore", vmid, die("unable to restore VM %d - vm is running\n" % vmid))
        try:
            backup_config, subtype = self.storage_area().backup_config(node, archive)
            if subtype != "qemu":
                raise die("got unexpected backup format '%s'\n" % subtype)
            if existing is not None:  # restore_cleanup_oldconf before restore_allocate_devices
                for volid in self._owned_volumes(existing):
                    self.storage_area().free(node, volid)
                self.state["guests"].pop(str(vmid))
            config, created = self._restored_config(node, vmid, backup_config, storage, params.get("unique"))
        except ApiError as error:
            return self.failed_task(request, "qmrestore", vmid, error)
        record = self.new_record(vmid, node, "qemu", config)
        self.state["guests"][str(vmid)] = record
        if pool is not None:
            self.sim.directory.state["pools"][pool]["vms"] = sorted(set(self.sim.directory.state["pools"][pool]["vms"]) | {vmid})
        log = ["restore %s to VM %d" % (archive, vmid)] + ["new volume '%s'" % volid for volid in created]
        upid = self.task(request, "qmrestore", vmid, log=log, lock="create", records=[record])
        if params.get("start"):
            self.runtime_area().boot(record, at=record["lock_until"])
        return upid

    def _restored_config(self, node, vmid, backup_config, storage, unique):
        """restore_update_config_line over the backup's config; returns (config, new volids)."""
        config, created = {}, []
        try:
            for key in sorted(backup_config):
                value = backup_config[key]
                if key in ("lock", "parent") or key.startswith("unused"):
                    continue
                if is_drive_key(key):
                    drive = self.parse_drive(key, value)
                    if str(drive.get("backup", "1")) == "0":
                        continue  # commented out in the restored config
                    if drive.get("file") and (not drive_is_cdrom(drive) or drive_is_cloudinit(drive)):
                        target = storage or drive["file"].split(":", 1)[0]
                        if drive_is_cloudinit(drive):
                            drive["file"] = self.storage_area().alloc(node, target, vmid, CLOUDINIT_DISK_SIZE, name="vm-%d-cloudinit" % vmid)
                        else:
                            drive.pop("format", None)
                            drive["file"] = self.storage_area().alloc(node, target, vmid, parse_size(drive.get("size") or "0"))
                            drive["size"] = self.storage_area().size_of(node, drive["file"])
                        created.append(drive["file"])
                    value = self.print_option(key, drive)
                elif NET_KEY_RE.match(key) and unique:
                    value = self.with_new_mac(key, value, force=True)
                elif key == "vmgenid" and str(value) != "0":
                    value = self._uuid()
                elif key == "smbios1" and unique:
                    smbios = parse_property_string(self.option_format("smbios1") or {}, value)
                    smbios["uuid"] = self._uuid()
                    value = ",".join("%s=%s" % (name, smbios[name]) for name in sorted(smbios))
                config[key] = value
        except ApiError:
            for volid in created:
                self.storage_area().free(node, volid)
            raise
        return config, created

    def _owned_volumes(self, record):
        """The volumes of a VM's config (and pending section) that belong to it."""
        volids = []
        for values in (record["config"], record["pending"]):
            for key in sorted(values):
                if not (is_drive_key(key) or key.startswith("unused")):
                    continue
                drive = self.parse_drive(key, values[key])
                if drive.get("file") and (not drive_is_cdrom(drive) or drive_is_cloudinit(drive)):
                    volume = self.storage_area().volume(record["node"], drive["file"])
                    if volume is not None and int(volume.get("vmid") or 0) == record["vmid"] and drive["file"] not in volids:
                        volids.append(drive["file"])
        return volids

    def _uuid(self):
        return str(uuid.UUID(int=self._random().getrandbits(128), version=4))

    def _salt(self):
        rng = self._random()
        return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/X") for _position in range(8))

    # -- config and pending ----------------------------------------------------------------------
    @route("GET", "/nodes/{node}/qemu/{vmid}/config")
    def vm_config(self, request):
        """Qemu.pm vm_config: load_current_config (pending values applied unless `current`), the
        digest, the lock, cipassword masked."""
        record = self.load(request.params["node"], request.params["vmid"])
        config = dict(record["config"])
        if not request.params.get("current"):
            config.update(record["pending"])
            for key in record["pending_delete"]:
                config.pop(key, None)
        if record.get("lock"):
            config["lock"] = record["lock"]
        if config.get("cipassword"):
            config["cipassword"] = PASSWORD_MASK
        config["digest"] = self.digest(record)
        return config

    @route("GET", "/nodes/{node}/qemu/{vmid}/pending")
    def vm_pending(self, request):
        """Qemu.pm vm_pending / GuestHelpers.pm config_with_pending_array: {key, value, pending, delete}."""
        record = self.load(request.params["node"], request.params["vmid"])
        config = dict(record["config"], digest=self.digest(record))
        if record.get("lock"):
            config["lock"] = record["lock"]
        pending = dict(record["pending"])
        if config.get("cipassword") is not None:
            config["cipassword"] = PASSWORD_MASK
        if pending.get("cipassword") is not None:
            pending["cipassword"] = PASSWORD_MASK + " "  # sic, Qemu.pm vm_pending
        entries = []
        for key in sorted(config):
            entry = {"key": key, "value": config[key]}
            if key in pending:
                entry["pending"] = pending.pop(key)
            if key in record["pending_delete"]:
                entry["delete"] = 1
            entries.append(entry)
        entries.extend({"key": key, "pending": pending[key]} for key in sorted(pending))
        entries.extend({"key": key, "delete": 1} for key in record["pending_delete"] if key not in config)
        return entries

    @route("POST", "/nodes/{node}/qemu/{vmid}/config")
    def update_vm_async(self, request):
        """Qemu.pm update_vm_async: the early checks answer at once, the change runs as `qmconfig`."""
        record, plan = self._update_checks(request)
        vmid = record["vmid"]
        before = copy.deepcopy(record)
        try:
            log = self._update(request, record, plan)
        except ApiError as error:
            record.clear()
            record.update(before)
            return self.failed_task(request, "qmconfig", vmid, error)
        return self.task(request, "qmconfig", vmid, log=log)

    @route("PUT", "/nodes/{node}/qemu/{vmid}/config")
    def update_vm(self, request):
        """Qemu.pm update_vm (synchronous); a failed change leaves the config as it was."""
        record, plan = self._update_checks(request)
        before = copy.deepcopy(record)
        try:
            self._update(request, record, plan)
        except ApiError:
            record.clear()
            record.update(before)
            raise

    def _update_checks(self, request):
        """update_vm_api's checks before the lock: skiplock, `no options specified`, revert/delete
        conflicts, digest, lock."""
        params = request.params
        self.check_skiplock(request)
        values = {key: value for key, value in params.items() if key not in UPDATE_ONLY}
        values = resolve_cdrom_alias(values)
        revert = split_list(params.get("revert") or "")
        delete = ["ide2" if key == "cdrom" else key for key in split_list(params.get("delete") or "")]
        if not delete and not revert and not values:
            raise die("no options specified\n")
        known = self.sim.schema.method("/nodes/{node}/qemu", "POST")["parameters"]["properties"]

        def exists(key):
            return key in known or re.sub(r"\d+$", "[n]", key) in known

        for key in revert:
            if not exists(key):
                raise ParamError({"revert": "unknown option '%s'" % key})
            if key in values:
                raise ParamError({"delete": "you can't use '-%s' and -revert %s' at the same time" % (key, key)})
        for key in delete:
            if key in values:
                raise ParamError({"delete": "you can't use '-%s' and -delete %s' at the same time" % (key, key)})
            if key in revert:
                raise ParamError({"revert": "you can't use '-delete %s' and -revert %s' at the same time" % (key, key)})
            if not exists(key):
                raise ParamError({"delete": "unknown option '%s'" % key})
        check_update_vm(self.sim, request.userid, int(params["vmid"]), values, delete, params.get("import-working-storage"))
        record = self.load(params["node"], params["vmid"])
        if params.get("digest") and params["digest"] != self.digest(record):
            raise die("checksum mismatch (file change by other user?)\n")
        if not params.get("skiplock"):
            self.check_lock(record)
        for key in sorted(values):
            if NET_KEY_RE.match(key):
                values[key] = self.with_new_mac(key, values[key])
        return record, {"values": values, "delete": delete, "revert": revert}

    def _update(self, request, record, plan):
        """update_vm_api's updatefn: deletions and values into [PENDING] (cipassword hashed straight
        into the config), cleanup_pending, then hotplug (running) or apply (stopped)."""
        node, vmid = record["node"], record["vmid"]
        check_update_changes(self.sim, request.userid, record, plan["values"], plan["delete"], plan["revert"])
        values, delete = dict(plan["values"]), list(plan["delete"])
        log = ["update VM %d: %s" % (vmid, " ".join("-%s %s" % (key, "<hidden>" if key == "cipassword" else value)
                                                    for key, value in sorted(request.params.items())
                                                    if key not in ("node", "vmid")))]
        for key in plan["revert"]:
            if key in record["config"]:
                values[key] = record["config"][key]
            elif key in record["pending"]:
                delete.append(key)
        for key in delete:
            if key not in record["config"] and key not in record["pending"]:
                log.append("cannot delete '%s' - not set in current configuration!" % key)
                continue
            pending_value = record["pending"].pop(key, None)
            if pending_value is not None and is_drive_key(key):
                self._register_unused(record, pending_value, key)
            if key == "tags" or key not in record["config"]:
                record["config"].pop(key, None)
                continue
            if key not in record["pending_delete"]:
                record["pending_delete"].append(key)
        for key in sorted(values):
            value = values[key]
            if key == "cipassword":
                if not re.match(r"^(wxp|w2k|w2k3|w2k8|wvista|win7|win8|win10|win11)$", str(record["config"].get("ostype") or "")):
                    value = encrypt_password(value, self._salt())
                record["config"]["cipassword"] = value
                self._remove_pending_delete(record, key)
                continue
            if key in record["pending"] and record["pending"][key] == value:
                continue
            if is_drive_key(key):
                if key in record["pending"]:
                    self._register_unused(record, record["pending"][key], key)
                value, _volumes = self.create_disk(node, vmid, key, value)
            record["pending"][key] = value
            self._remove_pending_delete(record, key)
        self._cleanup_pending(record)
        if record["status"] == "running":
            errors = self._hotplug_pending(record)
            if errors:
                raise ParamError(errors)
        else:
            self._apply_pending_changes(record)
        return log

    @staticmethod
    def _remove_pending_delete(record, key):
        if key in record["pending_delete"]:
            record["pending_delete"].remove(key)

    @staticmethod
    def _cleanup_pending(record):
        """AbstractConfig cleanup_pending: pending values equal to the config and deletions of unset keys go."""
        for key in list(record["pending"]):
            if key in record["config"] and str(record["pending"][key]) == str(record["config"][key]):
                del record["pending"][key]
        record["pending_delete"] = [key for key in record["pending_delete"] if key in record["config"]]

    def _register_unused(self, record, value, key):
        """QemuServer.pm vmconfig_register_unused_drive: a replaced disk becomes unusedN; a replaced
        cloud-init drive is freed; CD-ROMs are just dropped."""
        drive = self.parse_drive(key, value)
        if drive_is_cloudinit(drive):
            self.storage_area().free(record["node"], drive["file"])
            return
        if drive_is_cdrom(drive) or not drive.get("file"):
            return
        config = record["config"]
        used = {self.parse_drive(other, config[other]).get("file") for other in config if is_drive_key(other) or other.startswith("unused")}
        if drive["file"] in used:
            return
        index = 0
        while "unused%d" % index in config:
            index += 1
        config["unused%d" % index] = drive["file"]

    def _apply_value(self, record, key, value):
        """One pending value into the config; a drive replaced by another volume is registered unused."""
        old = record["config"].get(key)
        record["config"][key] = value
        if old is not None and is_drive_key(key) and self.parse_drive(key, old).get("file") != self.parse_drive(key, value).get("file"):
            self._register_unused(record, old, key)

    def _delete_value(self, record, key):
        """A pending deletion into the config (vmconfig_delete_or_detach_drive: a disk becomes unusedN)."""
        old = record["config"].pop(key, None)
        if old is not None and is_drive_key(key):
            self._register_unused(record, old, key)

    def _apply_pending_changes(self, record):
        """QemuServer.pm vmconfig_apply_pending (a stopped VM): everything moves into the config."""
        for key in list(record["pending_delete"]):
            self._delete_value(record, key)
        for key in sorted(record["pending"]):
            self._apply_value(record, key, record["pending"][key])
        record["pending"] = {}
        record["pending_delete"] = []

    def _hotplug_pending(self, record):
        """QemuServer.pm vmconfig_hotplug_pending (a running VM): hot-pluggable changes apply, the
        rest stays pending; cloud-init relevant changes are recorded in [special:cloudinit] (what
        the drive was generated with) until the drive is regenerated."""
        config = record["config"]
        for key in list(record["pending_delete"]):
            if hotpluggable(key, config):
                self._record_cloudinit_change(record, key, config.get(key), None)
                self._delete_value(record, key)
                record["pending_delete"].remove(key)
        for key in sorted(record["pending"]):
            value = record["pending"][key]
            if is_drive_key(key) and drive_is_cloudinit(self.parse_drive(key, value)):
                continue
            if hotpluggable(key, config):
                self._record_cloudinit_change(record, key, config.get(key), value)
                self._apply_value(record, key, value)
                del record["pending"][key]
        return {}

    @staticmethod
    def _record_cloudinit_change(record, key, old, new):
        """vmconfig_hotplug_pending $cloudinit_record_changed: keep the value the drive holds (or
        mark the key `added`) until the cloud-init drive is regenerated."""
        if not cloudinit_pending_property(key):
            return
        section = record.setdefault("cloudinit", {})
        recorded = section.get(key)
        added = set(split_list(section.pop("added", "")))
        if new is not None:
            if recorded is not None:
                if str(new) == str(recorded):
                    section.pop(key, None)
                    added.discard(key)
            elif key not in added:
                if old is not None:
                    section[key] = old
                else:
                    added.add(key)
        elif old is not None and recorded is None:
            if key in added:
                added.discard(key)
            else:
                section[key] = old
        if added:
            section["added"] = ",".join(sorted(added))
        if not section:
            record.pop("cloudinit", None)

    # -- cloud-init ------------------------------------------------------------------------------
    @route("GET", "/nodes/{node}/qemu/{vmid}/cloudinit")
    def cloudinit_pending(self, request):
        """Qemu.pm cloudinit_pending: added keys (pending only), set options (value, and pending when
        the drive holds another value), recorded keys no longer set (delete)."""
        record = self.load(request.params["node"], request.params["vmid"])
        config = dict(record["config"])
        section = dict(record.get("cloudinit") or {})
        if "cipassword" in config:
            config["cipassword"] = PASSWORD_MASK
        if "cipassword" in section:
            section["cipassword"] = PASSWORD_MASK
        added = section.pop("added", "")
        entries = [{"key": key, "pending": config.get(key)} for key in split_list(added)]
        for key in CLOUDINIT_OPTIONS:
            if not config.get(key) or key in added:
                continue
            entry = {"key": key}
            if section.get(key):
                entry["value"], entry["pending"] = section[key], config[key]
            else:
                entry["value"] = config[key]
            entries.append(entry)
        entries.extend({"key": key, "delete": 1} for key in sorted(section) if not config.get(key))
        return entries

    @route("PUT", "/nodes/{node}/qemu/{vmid}/cloudinit")
    def cloudinit_update(self, request):
        """Qemu.pm cloudinit_update: regenerate the drive (the record of old values goes)."""
        record = self.load(request.params["node"], request.params["vmid"])
        self.check_lock(record)
        if any(is_drive_key(key) and drive_is_cloudinit(self.parse_drive(key, value)) for key, value in record["config"].items()):
            record.pop("cloudinit", None)

    @route("GET", "/nodes/{node}/qemu/{vmid}/cloudinit/dump")
    def cloudinit_dump(self, request):
        """Qemu.pm cloudinit_generated_config_dump: the password masked without VM.Config.Cloudinit."""
        record = self.load(request.params["node"], request.params["vmid"])
        mask = not self.sim.permissions.control.has(request.userid, "/vms/%d" % record["vmid"], ["VM.Config.Cloudinit"])
        return cloudinit_dump(record["config"], record["vmid"], request.params["type"], self.option_format("net0"), mask)

    # -- clone, template, resize, destroy --------------------------------------------------------
    @route("POST", "/nodes/{node}/qemu/{vmid}/clone")
    def clone_vm(self, request):
        """Qemu.pm clone_vm: a `qmclone` task; full clone (always for a VM) copies every disk, a
        linked clone (the default from a template) clones the base volumes; new MACs, smbios1 uuid
        and vmgenid; the cloud-init drive is created anew; source and clone hold the lock `clone`."""
        params = request.params
        node, vmid, newid = params["node"], int(params["vmid"]), int(params["newid"])
        target = params.get("target")
        if target in (node, "localhost"):
            target = None
        pool, storage, fmt = params.get("pool"), params.get("storage"), params.get("format")
        if pool is not None and pool not in self.sim.directory.state["pools"]:
            raise die("pool '%s' does not exist\n" % pool)
        if target and target not in self.sim.nodes:
            raise die("no such cluster node '%s'\n" % target)
        if storage:
            scfg = self.storage_area().check_enabled(storage, node)
            if "images" not in scfg.get("content", []):
                raise ParamError({"storage": "storage '%s' does not support vm images" % storage})
            if target:
                self.storage_area().check_enabled(storage, target)
                if not scfg.get("shared"):
                    raise die("can't clone to non-shared storage '%s'\n" % storage)
        source = self.load(node, vmid)
        self.check_lock(source)
        config = source["config"]
        full = params.get("full")
        full = (not config.get("template")) if full is None else bool(full)
        if storage is not None and not full:
            raise die("parameter 'storage' not allowed for linked clones\n")
        if fmt is not None and not full:
            raise die("parameter 'format' not allowed for linked clones\n")
        check_clone_vm(self.sim, request.userid, config, storage)
        drives = {key: self.parse_drive(key, value) for key, value in config.items() if is_drive_key(key)}
        disks = {key: drive for key, drive in drives.items() if not drive_is_cdrom(drive) or drive_is_cloudinit(drive)}
        shared = all(self.storage_area().storage_config(drive["file"].split(":", 1)[0]).get("shared") for drive in disks.values())
        if target and not shared:
            raise die("can't clone VM to node '%s' (VM uses local storage)\n" % target)
        if newid in self.all_used_vmids():
            raise die("unable to create VM %d: config file already exists\n" % newid)
        if not full:
            for key, drive in disks.items():
                volume = self.storage_area().volume(node, drive["file"])
                if not drive_is_cloudinit(drive) and (volume is None or "/base-" not in "/" + drive["file"].split(":", 1)[1]):
                    raise die("Linked clone feature is not supported for '%s' (%s)\n" % (drive["file"], key))
        new_node = target or node
        new_config = {}
        log = ["create %s clone of drive %s (%s)" % ("full" if full else "linked", key, disks[key]["file"]) for key in sorted(disks)]
        for key in sorted(config):
            value = config[key]
            if key.startswith("unused") or key in ("parent", "snaptime", "vmstate", "runningcpu", "runningmachine"):
                continue
            if NET_KEY_RE.match(key):
                new_config[key] = self.with_new_mac(key, value, force=True)
            elif key in disks:
                drive = dict(disks[key])
                if drive_is_cloudinit(drive):
                    cloudinit_storage = storage or drive["file"].split(":", 1)[0]
                    drive["file"] = self.storage_area().alloc(new_node, cloudinit_storage, newid, CLOUDINIT_DISK_SIZE,
                                                              name="vm-%d-cloudinit" % newid)
                elif full:
                    drive["file"] = self.storage_area().copy(node, drive["file"], storage or drive["file"].split(":", 1)[0],
                                                             newid, fmt=fmt, target_node=target)
                    drive["size"] = self.storage_area().size_of(new_node, drive["file"])
                else:
                    drive["file"] = self.storage_area().linked_clone(node, drive["file"], newid)
                new_config[key] = self.print_option(key, drive)
            else:
                new_config[key] = value
        new_config.pop("template", None)
        smbios = parse_property_string(self.option_format("smbios1") or {}, new_config.get("smbios1", ""))
        smbios["uuid"] = self._uuid()
        new_config["smbios1"] = ",".join("%s=%s" % (key, smbios[key]) for key in sorted(smbios))
        if new_config.get("vmgenid"):
            new_config["vmgenid"] = self._uuid()
        new_config["name"] = params.get("name") or "Copy-of-VM-%s" % (config.get("name") or vmid)
        if params.get("description"):
            new_config["description"] = params["description"]
        clone = self.new_record(newid, new_node, "qemu", new_config)
        self.state["guests"][str(newid)] = clone
        firewall = self.sim.areas.get("FirewallArea")
        if firewall is not None and str(vmid) in firewall.state["guests"]:  # Firewall.pm clone_vmfw_conf
            firewall.state["guests"][str(newid)] = copy.deepcopy(firewall.state["guests"][str(vmid)])
        if pool is not None:
            self.sim.directory.state["pools"][pool]["vms"] = sorted(set(self.sim.directory.state["pools"][pool]["vms"]) | {newid})
        return self.task(request, "qmclone", vmid, log=["creating a clone of VM %d with ID %d" % (vmid, newid)] + log,
                         lock="clone", records=[source, clone])

    @route("POST", "/nodes/{node}/qemu/{vmid}/template")
    def template(self, request):
        """Qemu.pm template + QemuServer.pm template_create: a `qmtemplate` task turning every disk
        (or `disk` only) into a base volume; template: 1."""
        params = request.params
        record = self.load(params["node"], params["vmid"])
        self.check_lock(record)
        if record["config"].get("template"):
            raise die("you can't convert a template to a template\n")
        if record["status"] == "running":
            raise die("you can't convert a VM to template if VM is running\n")
        for key in sorted(record["config"]):
            if not is_drive_key(key) or (params.get("disk") and key != params["disk"]):
                continue
            drive = self.parse_drive(key, record["config"][key])
            if drive_is_cdrom(drive) or not drive.get("file"):
                continue
            drive["file"] = self.storage_area().to_base(record["node"], drive["file"])
            record["config"][key] = self.print_option(key, drive)
        record["config"]["template"] = 1
        return self.task(request, "qmtemplate", record["vmid"])

    @route("PUT", "/nodes/{node}/qemu/{vmid}/resize")
    def resize_vm(self, request):
        """Qemu.pm resize_vm: a `resize` task; `+N` grows by N, `N` sets the size; shrinking dies in
        the worker, the new size goes into the drive's `size=`."""
        params = request.params
        self.check_skiplock(request)
        record = self.load(params["node"], params["vmid"])
        vmid, key = record["vmid"], params["disk"]
        try:
            if params.get("digest") and params["digest"] != self.digest(record):
                raise die("checksum mismatch (file change by other user?)\n")
            if not params.get("skiplock"):
                self.check_lock(record)
            if not record["config"].get(key):
                raise die("disk '%s' does not exist\n" % key)
            drive = self.parse_drive(key, record["config"][key])
            if not drive.get("file"):
                raise die("disk '%s' has no associated volume\n" % key)
            if drive_is_cdrom(drive):
                raise die("you can't resize a cdrom\n")
            check_resize(self.sim, request.userid, drive["file"])
            size = self.storage_area().size_of(record["node"], drive["file"])
            match = re.match(r"^(\+)?(\d+(\.\d+)?)([KMGT])?$", params["size"])
            new_size = parse_size(match.group(2) + (match.group(4) or ""))
            if match.group(1):
                new_size += size
            if new_size < size:
                raise die("shrinking disks is not supported\n")
            if new_size != size:
                self.storage_area().resize(record["node"], drive["file"], new_size)
                drive["size"] = new_size
                record["config"][key] = self.print_option(key, drive)
        except ApiError as error:
            return self.failed_task(request, "resize", vmid, error)
        return self.task(request, "resize", vmid, log=["update VM %d: resize --disk %s --size %s" % (vmid, key, params["size"])])

    @route("DELETE", "/nodes/{node}/qemu/{vmid}")
    def destroy_vm(self, request):
        """Qemu.pm destroy_vm + QemuServer.pm destroy_vm: a `qmdestroy` task; refused for a protected VM,
        without `purge` for one in HA resources or with replication jobs (ReplicationConfig.pm
        check_for_existing_jobs), and for a running one; frees the volumes of the config (and, with
        `destroy-unreferenced-disks`, every volume of the vmid); remove_vm_access drops its ACLs and
        pool membership; the firewall file goes. `purge` removes the guest's replication jobs, its ids
        in backup jobs and its HA resource."""
        params = request.params
        self.check_skiplock(request)
        record = self.load(params["node"], params["vmid"])
        vmid, node = record["vmid"], record["node"]
        ha_area, replication = self.sim.areas["HaArea"], self.sim.areas["ReplicationArea"]
        if record["config"].get("protection"):
            raise die("can't remove VM %d - protection mode enabled\n" % vmid)
        ha_managed = ha_area.is_configured("vm:%d" % vmid)
        if not params.get("purge"):
            if ha_managed:
                raise die("unable to remove VM %d - used in HA resources and purge parameter not set.\n" % vmid)
            replication.check_for_existing_jobs(vmid)
        if record["status"] == "running":
            raise die("VM %d is running - destroy failed\n" % vmid)
        try:
            if not params.get("skiplock"):
                self.check_lock(record)
            for volid in self._owned_volumes(record):
                self.storage_area().free(node, volid)
            if params.get("destroy-unreferenced-disks"):
                for volid in self.storage_area().volumes_of(node, vmid):
                    self.storage_area().free(node, volid)
        except ApiError as error:
            return self.failed_task(request, "qmdestroy", vmid, error)
        directory = self.sim.directory.state
        directory["acl"].pop("/vms/%d" % vmid, None)
        for pool in directory["pools"].values():
            if vmid in pool["vms"]:
                pool["vms"].remove(vmid)
        self.remove(vmid)
        log = []
        if params.get("purge"):
            log.append("purging VM %d from related configurations.." % vmid)
            replication.remove_vmid_jobs(vmid)
            self.sim.areas["BackupArea"].remove_vmid(vmid)
            if ha_managed:
                ha_area.remove_resource("vm:%d" % vmid, purge=True)
                log.append("NOTE: removed VM %d from HA resource configuration." % vmid)
        return self.task(request, "qmdestroy", vmid, log=log)
