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
# API2Tools.pm extract_node_stats leaves these out without Sys.Audit on the node
NODE_FIGURES = ("uptime", "cpu", "mem", "disk", "maxcpu", "maxmem", "maxdisk")


def node_runtime(sim):
    """The area that knows failed nodes and quorum (node failure, see areas/replication.py), or None."""
    return sim.areas.get("ReplicationArea")


def node_online(sim, node):
    """False while the node is failed through the side channel (/_sim/nodes/fail)."""
    runtime = node_runtime(sim)
    return runtime is None or runtime.node_online(node)


def node_resource(sim, node):
    """A `type: node` entry of /cluster/resources (also the base of /nodes entries).

    A failed node: API2Tools.pm extract_node_stats without rrd data and not online - status
    `offline` and no figures.
    """
    if not node_online(sim, node):
        return {"id": "node/%s" % node, "type": "node", "node": node, "status": "offline", "level": ""}
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
        """Cluster.pm get_status: one `cluster` entry, then one entry per member node.

        A failed node is `online: 0`; `quorate` follows the votes of the online nodes (node failure:
        areas/replication.py).
        """
        runtime = node_runtime(self.sim)
        if runtime is not None:
            runtime.catch_up()
        quorate = 1 if runtime is None or runtime.quorate() else 0
        entries = [{"type": "cluster", "id": "cluster", "name": self.sim.cluster_name,
                    "nodes": len(self.sim.nodes), "quorate": quorate, "version": len(self.sim.nodes)}]
        for node in self.sim.nodes:
            entries.append({"type": "node", "id": "node/%s" % node, "name": node, "nodeid": self.sim.node_index(node),
                            "ip": self.sim.node_ip(node), "online": 1 if node_online(self.sim, node) else 0,
                            "local": 1 if node == self.sim.nodes[0] else 0, "level": ""})
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
        What the caller sees follows its privileges (pve-manager 5829c814 / ec58e45e): `pool`
        entries (unfiltered calls only) need Pool.Audit on /pool/<pool>, guests VM.Audit on
        /vms/<vmid> (their `pool` shows only with Pool.Audit on it), storages Datastore.Audit on
        /storage/<id>, SDN zones SDN.Audit on /sdn/zones/<zone> (fabrics SDN.Audit or SDN.Allocate
        on /sdn/fabrics/<id>); nodes are always listed, their figures only with Sys.Audit on /nodes/<node>.
        """
        authid = request.userid
        runtime = node_runtime(self.sim)
        if runtime is not None:
            runtime.catch_up()
        entries = [node_resource(self.sim, node) for node in self.sim.nodes]
        for area in self.sim.areas.values():
            entries.extend(area.cluster_resources())
        # node failure: the guests and storages of a failed node are `unknown` (Cluster.pm resources:
        # no rrd data from a dead node)
        for index, entry in enumerate(entries):
            if entry["type"] in ("qemu", "lxc", "storage") and not node_online(self.sim, entry["node"]):
                entries[index] = dict(entry, status="unknown")
        wanted = request.params.get("type")
        if wanted == "vm":
            entries = [entry for entry in entries if entry["type"] in ("qemu", "lxc", "openvz")]
        elif wanted:
            entries = [entry for entry in entries if entry["type"] == wanted]
        control = self.sim.permissions.control
        pool_entries = [] if wanted else self._pool_entries(authid, entries)
        visible = []
        for entry in entries:
            if entry["type"] in ("qemu", "lxc", "openvz"):
                pool = control.pool_of(entry["vmid"])
                if not control.has(authid, "/vms/%s" % entry["vmid"], ["VM.Audit"]):
                    continue
                entry = dict(entry)
                if pool is not None and control.has(authid, "/pool/%s" % pool, ["Pool.Audit"]):
                    entry["pool"] = pool
            elif entry["type"] == "node":
                if not control.has(authid, "/nodes/%s" % entry["node"], ["Sys.Audit"]):
                    entry = {key: value for key, value in entry.items() if key not in NODE_FIGURES}
            elif not self._may_see(control, authid, entry):
                continue
            visible.append(entry)
        return pool_entries + visible

    def _pool_entries(self, authid, entries):
        """The `pool` entries: id /pool/<pool>; uptime, cpu and memory summed over its running guests."""
        control = self.sim.permissions.control
        result = []
        for poolid in sorted(self.sim.directory.state["pools"]):
            if not control.has(authid, "/pool/%s" % poolid, ["Pool.Audit"]):
                continue
            pool_entry = {"id": "/pool/%s" % poolid, "pool": poolid, "type": "pool"}
            for guest in entries:
                if guest["type"] not in ("qemu", "lxc") or not guest.get("uptime") or control.pool_of(guest["vmid"]) != poolid:
                    continue
                pool_entry["uptime"] = max(pool_entry.get("uptime", 0), guest["uptime"])
                for key in ("mem", "maxmem"):
                    pool_entry[key] = pool_entry.get(key, 0) + guest.get(key, 0)
                cpus = pool_entry.get("maxcpu", 0)
                total = cpus + guest.get("maxcpu", 0)
                pool_entry["cpu"] = (pool_entry.get("cpu", 0) * cpus + guest.get("cpu", 0) * guest.get("maxcpu", 0)) / total if total else 0
                pool_entry["maxcpu"] = total
            result.append(pool_entry)
        return result

    @staticmethod
    def _may_see(control, authid, entry):
        """Storage and SDN entries (Cluster.pm can_access_network for 9.x `network` ones)."""
        if entry["type"] == "storage":
            return control.has(authid, "/storage/%s" % entry["storage"], ["Datastore.Audit"])
        if entry["type"] == "sdn":
            return control.has(authid, "/sdn/zones/%s" % entry["sdn"], ["SDN.Audit"])
        if entry["type"] == "network":
            if entry.get("network-type") == "zone":
                return control.has(authid, "/sdn/zones/%s" % entry["network"], ["SDN.Audit"])
            if entry.get("network-type") == "fabric":
                return control.has(authid, "/sdn/fabrics/%s" % entry["network"], ["SDN.Audit", "SDN.Allocate"], any_of=True)
            return False
        return True
