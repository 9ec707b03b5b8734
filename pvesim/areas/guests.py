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

from pvesim.areas import Area, route
from pvesim.qemu_config import boot_disk_size, memory_mib

GUEST_TYPES = ("qemu", "lxc")
GUEST_STATUSES = ("running", "stopped")
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
        if node not in self.sim.nodes:
            raise ValueError("unknown node %r (nodes: %s)" % (node, ", ".join(self.sim.nodes)))
        if type not in GUEST_TYPES:
            raise ValueError("type must be one of %s, got %r" % (", ".join(GUEST_TYPES), type))
        if status not in GUEST_STATUSES:
            raise ValueError("status must be one of %s, got %r" % (", ".join(GUEST_STATUSES), status))
        if vmid in self.all_used_vmids():
            raise ValueError("VM %d already exists" % vmid)
        config = {"name": name or "%s-%d" % ("vm" if type == "qemu" else "ct", vmid), "memory": PLACED_GUEST_MEMORY,
                  "cores": DEFAULT_CORES}
        record = self.new_record(vmid, node, type, config, status)
        if status == "running":
            record["booted"] = {"at": self.sim.tasks.clock(), "config": copy.deepcopy(config)}
        self.state["guests"][str(vmid)] = record
        return self.summary(record)

    def remove(self, vmid):
        """Forget a guest and, as PVE's destroy does (pve-firewall Helpers.pm remove_vmfw_conf),
        its firewall file; refuses an unknown id."""
        if self.state["guests"].pop(str(int(vmid)), None) is None:
            raise ValueError("no guest with vmid %s" % vmid)
        firewall = self.sim.areas.get("FirewallArea")
        if firewall is not None:
            firewall.state["guests"].pop(str(int(vmid)), None)

    def apply_pending(self, vmid):
        """QemuServer.pm vmconfig_apply_pending (at a cold start): pending deletions, then the
        pending values, move into the config; the pending section is empty afterwards."""
        record = self.record(vmid)
        for key in record["pending_delete"]:
            record["config"].pop(key, None)
        record["config"].update(record["pending"])
        record["pending"] = {}
        record["pending_delete"] = []

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
