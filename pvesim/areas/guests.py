"""Guests (QEMU VMs, LXC containers) as the rest of the simulator sees them.

The simulator has no qemu/lxc API area yet: tests and demos place guests through the side
channel, and the areas that depend on a guest existing (firewall, pools, /cluster/resources,
/cluster/nextid) ask this registry. What PVE keeps per guest and shows in /cluster/resources
comes from pve-manager PVE/API2/Cluster.pm `resources` (via PVE::API2Tools::extract_vm_stats):
id `qemu/<vmid>`, type, vmid, node, name, status, template, and the resource figures.

Side channel:
  GET    /_sim/guests                  every guest
  POST   /_sim/guests  {"vmid", "node", "name", "type": "qemu"|"lxc", "status": "running"|"stopped"}
  DELETE /_sim/guests  {"vmid"}
"""

from pvesim.areas import Area

GUEST_TYPES = ("qemu", "lxc")
GUEST_STATUSES = ("running", "stopped")
GUEST_MAXMEM = 2 * 1024 ** 3
GUEST_MAXDISK = 32 * 1024 ** 3


class GuestsArea(Area):
    """The registry of guests: {vmid (string): {vmid, node, type, name, status}}."""

    name = "guests"

    def initial_state(self):
        return {"guests": {}}

    def guest(self, vmid):
        """The guest with this id, or None."""
        found = self.state["guests"].get(str(vmid))
        return dict(found) if found else None

    def guests(self):
        """Every guest, by id."""
        return [dict(self.state["guests"][key]) for key in sorted(self.state["guests"], key=int)]

    def add(self, vmid, node, name=None, type="qemu", status="running"):  # pylint: disable=redefined-builtin
        """Place a guest on a node; refuses an id in use, an unknown node, type or status."""
        vmid = int(vmid)
        if not 100 <= vmid <= 999999999:
            raise ValueError("vmid must be an integer from 100 to 999999999, got %r" % vmid)
        if node not in self.sim.nodes:
            raise ValueError("unknown node %r (nodes: %s)" % (node, ", ".join(self.sim.nodes)))
        if type not in GUEST_TYPES:
            raise ValueError("type must be one of %s, got %r" % (", ".join(GUEST_TYPES), type))
        if status not in GUEST_STATUSES:
            raise ValueError("status must be one of %s, got %r" % (", ".join(GUEST_STATUSES), status))
        for area in self.sim.areas.values():
            if vmid in {int(used) for used in area.used_vmids()}:
                raise ValueError("VM %d already exists" % vmid)
        guest = {"vmid": vmid, "node": node, "type": type, "name": name or "%s-%d" % ("vm" if type == "qemu" else "ct", vmid),
                 "status": status}
        self.state["guests"][str(vmid)] = guest
        return dict(guest)

    def remove(self, vmid):
        """Forget a guest and, as PVE's destroy does (pve-firewall Helpers.pm remove_vmfw_conf),
        its firewall file; refuses an unknown id."""
        if self.state["guests"].pop(str(int(vmid)), None) is None:
            raise ValueError("no guest with vmid %s" % vmid)
        firewall = self.sim.areas.get("FirewallArea")
        if firewall is not None:
            firewall.state["guests"].pop(str(int(vmid)), None)

    def used_vmids(self):
        return {int(vmid) for vmid in self.state["guests"]}

    def cluster_resources(self):
        """The `qemu`/`lxc` entries of /cluster/resources (the pool is added by the access side)."""
        entries = []
        for guest in self.guests():
            running = guest["status"] == "running"
            entries.append({
                "id": "%s/%d" % (guest["type"], guest["vmid"]), "type": guest["type"], "vmid": guest["vmid"],
                "node": guest["node"], "name": guest["name"], "status": guest["status"], "template": 0,
                "maxcpu": 2, "cpu": 0.01 if running else 0, "maxmem": GUEST_MAXMEM, "mem": GUEST_MAXMEM // 4 if running else 0,
                "maxdisk": GUEST_MAXDISK, "disk": 0, "uptime": self.sim.uptime() if running else 0,
                "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0,
            })
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
