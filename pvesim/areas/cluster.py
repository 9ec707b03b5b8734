"""Cluster-wide read calls: /version, /cluster/status, /cluster/nextid, /cluster/resources.

Sources: pve-manager PVE/API2.pm (version), PVE/API2/Cluster.pm (get_status, nextid, resources).
"""

from pvesim.areas import Area, route
from pvesim.errors import ParamError, die

NEXTID_LOWER = 100  # datacenter.cfg next-id defaults (Cluster.pm nextid)
NEXTID_UPPER = 1000 * 1000
NODE_MAXCPU = 8
NODE_MAXMEM = 32 * 1024 ** 3
NODE_MEM = 6 * 1024 ** 3
NODE_MAXDISK = 100 * 1024 ** 3
NODE_DISK = 12 * 1024 ** 3
NODE_CPU = 0.03


def node_resource(sim, node):
    """A `type: node` entry of /cluster/resources (also the base of /nodes entries)."""
    return {
        "id": "node/%s" % node, "type": "node", "node": node, "status": "online",
        "cpu": NODE_CPU, "maxcpu": NODE_MAXCPU, "mem": NODE_MEM, "maxmem": NODE_MAXMEM,
        "disk": NODE_DISK, "maxdisk": NODE_MAXDISK, "uptime": sim.uptime(), "level": "", "cgroup-mode": 2,
    }


class ClusterArea(Area):
    """Read-only cluster facts; the resources of other areas are collected from them."""

    @route("GET", "/version")
    def version(self, _request):
        """API2.pm version: version, release, repoid (console only if datacenter.cfg sets it)."""
        return {"version": self.sim.version, "release": self.sim.pve_version, "repoid": self.sim.schema.repoid}

    @route("GET", "/cluster/status")
    def status(self, _request):
        """Cluster.pm get_status: one `cluster` entry, then one entry per member node."""
        entries = [{"type": "cluster", "id": "cluster", "name": self.sim.cluster_name,
                    "nodes": len(self.sim.nodes), "quorate": 1, "version": len(self.sim.nodes)}]
        for node in self.sim.nodes:
            entries.append({"type": "node", "id": "node/%s" % node, "name": node, "nodeid": self.sim.node_index(node),
                            "ip": self.sim.node_ip(node), "online": 1, "local": 1 if node == self.sim.nodes[0] else 0,
                            "level": ""})
        return entries

    def _used_vmids(self):
        used = set()
        for area in self.sim.areas.values():
            used |= {int(vmid) for vmid in area.used_vmids()}
        return used

    @route("GET", "/cluster/nextid")
    def nextid(self, request):
        """Cluster.pm nextid: assert a given vmid is free, or find the lowest free one."""
        used = self._used_vmids()
        vmid = request.params.get("vmid")
        if vmid:
            if int(vmid) not in used:
                return int(vmid)
            raise ParamError({"vmid": "VM %s already exists" % vmid})
        for candidate in range(NEXTID_LOWER, NEXTID_UPPER):
            if candidate not in used:
                return candidate
        raise die("unable to get any free VMID in range [%d, %d]\n" % (NEXTID_LOWER, NEXTID_UPPER))

    @route("GET", "/cluster/resources")
    def resources(self, request):
        """Cluster.pm resources: nodes here; guests, storage and SDN (8.x `sdn`, 9.1 `network` entries) come from their areas.

        The `type` filter keeps entries of that type (`vm`: qemu, lxc and openvz); the schema's enum
        (vm, storage, node, sdn, in 8.4 and 9.1 alike) rejects any other, `network` included.
        """
        entries = [node_resource(self.sim, node) for node in self.sim.nodes]
        for area in self.sim.areas.values():
            entries.extend(area.cluster_resources())
        wanted = request.params.get("type")
        if wanted == "vm":
            return [entry for entry in entries if entry["type"] in ("qemu", "lxc", "openvz")]
        if wanted:
            return [entry for entry in entries if entry["type"] == wanted]
        return entries
