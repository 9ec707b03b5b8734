"""Node calls: GET /nodes, /nodes/{node} (directory index), /nodes/{node}/status.

Sources: pve-manager PVE/API2/Nodes.pm (index, Nodes::Nodeinfo index and status).
An unknown node on a `proxyto => 'node'` method fails in the dispatcher with PVE's
"hostname lookup '<node>' failed - ..." (500); GET /nodes/{node} has no proxyto and, like
PVE, answers its index for any syntactically valid name.
"""

from pvesim.areas import Area, route
from pvesim.areas.cluster import NODE_CPU, NODE_MAXCPU, NODE_MAXMEM, NODE_MEM, node_resource

KERNEL_RELEASE = {"8.4": "6.8.12-9-pve", "9.1": "6.17.2-1-pve"}
ROOTFS_TOTAL = 100 * 1024 ** 3
ROOTFS_USED = 12 * 1024 ** 3


class NodesArea(Area):
    """The member nodes, as configured when the simulator starts."""

    @route("GET", "/nodes")
    def index(self, _request):
        """Nodes.pm index: one entry per cluster node."""
        entries = []
        for node in self.sim.nodes:
            resource = node_resource(self.sim, node)
            # a failed node (areas/replication.py) has no figures: Nodes.pm index leaves them out
            entry = {key: resource[key] for key in ("node", "status", "cpu", "maxcpu", "mem", "maxmem", "uptime", "level", "id")
                     if key in resource}
            entry["ssl_fingerprint"] = self.sim.cert_fingerprint or ""
            entries.append(entry)
        return entries

    @route("GET", "/nodes/{node}")
    def node_index(self, _request):
        """Nodes::Nodeinfo index: the node's subdirectories (here: from the version's schema)."""
        return [{"name": name} for name in sorted(self.sim.schema.children("/nodes/{node}"))]

    @route("GET", "/nodes/{node}/status")
    def status(self, _request):
        """Nodes::Nodeinfo status: the fields the schema lists, with plausible values."""
        release = KERNEL_RELEASE[self.sim.pve_version]
        return {
            "uptime": self.sim.uptime(),
            "cpu": NODE_CPU,
            "loadavg": ["0.12", "0.10", "0.08"],
            "cpuinfo": {"cores": NODE_MAXCPU // 2, "cpus": NODE_MAXCPU, "sockets": 1, "model": "pvesim virtual CPU",
                        "mhz": "2400.000", "hvm": "1", "flags": "", "user_hz": 100},
            "memory": {"total": NODE_MAXMEM, "used": NODE_MEM, "free": NODE_MAXMEM - NODE_MEM, "available": NODE_MAXMEM - NODE_MEM},
            "swap": {"total": 0, "used": 0, "free": 0},
            "rootfs": {"total": ROOTFS_TOTAL, "used": ROOTFS_USED, "free": ROOTFS_TOTAL - ROOTFS_USED, "avail": ROOTFS_TOTAL - ROOTFS_USED},
            "ksm": {"shared": 0},
            "idle": 0,
            "wait": 0.0,
            "kversion": "Linux %s #1 SMP PREEMPT_DYNAMIC PMX" % release,
            "current-kernel": {"sysname": "Linux", "release": release, "version": "#1 SMP PREEMPT_DYNAMIC PMX", "machine": "x86_64"},
            "boot-info": {"mode": "efi", "secureboot": 0},
            "pveversion": "pve-manager/%s/%s" % (self.sim.version, self.sim.schema.repoid),
        }
