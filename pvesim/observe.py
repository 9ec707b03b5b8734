"""What the simulator lets tests and benchmarks observe and disturb: the request log, counters,
injected faults and added latency. None of this exists in PVE; it is served under /_sim/.
"""

import collections
import itertools
import random
import re
import threading
import time

REQUEST_LOG_SIZE = 10000
REDACTED = "***"
SECRET_PARAM_RE = re.compile(r"pass|secret|token|otp|tfa", re.I)
FAULT_ACTIONS = ("status", "reset", "lock-timeout", "no-worker")
# "before": the request never reaches its handler (PVE did nothing); "after": the handler
# ran and its answer is lost on the way back (a proxy timing out, a connection dropped
# after the work was done) - the case where a client cannot know what happened.
FAULT_PHASES = ("before", "after")

# Lock ids of the cfs locks PVE takes for writes under a path (pve-cluster src/PVE/Cluster.pm:
# cfs_lock_file -> "file-<name with . and / as _>", cfs_lock_domain -> "domain-<name>",
# cfs_lock_firewall -> "firewall-<scope>"), first match wins.
LOCK_IDS = (
    (r"^/cluster/sdn/vnets/([^/]+)/firewall", "firewall-vnet-{0}"),  # pve-firewall Helpers.pm lock_vnetfw_conf
    (r"^/cluster/sdn", "domain-sdn"),  # pve-network SDN.pm lock_sdn_domain
    (r"^/nodes/[^/]+/(?:qemu|lxc)/(\d+)/firewall", "firewall-vm-{0}"),  # pve-firewall Helpers.pm lock_vmfw_conf
    (r"^/nodes/([^/]+)/firewall", "firewall-host-{0}"),  # pve-firewall Firewall.pm lock_hostfw_conf
    (r"^/cluster/firewall", "firewall-cluster"),  # pve-firewall lock_clusterfw_conf
    (r"^/cluster/replication", "file-replication_cfg"),  # pve-guest-common ReplicationConfig
    (r"^/cluster/backup", "file-vzdump_cron"),  # pve-manager API2/Backup.pm
    (r"^/cluster/jobs", "file-jobs_cfg"),  # pve-manager Jobs.pm
    (r"^/cluster/ha", "domain-ha"),  # pve-ha-manager HA/Config.pm lock_ha_domain
    (r"^/storage", "file-storage_cfg"),  # pve-storage lock_storage_config
    (r"^/access/domains", "file-domains_cfg"),  # pve-access-control
    (r"^/(?:access|pools)", "file-user_cfg"),  # pve-access-control lock_user_config
)
GENERIC_LOCK_ID = "file-datacenter_cfg"
LOCK_TIMEOUT_TEXT = "cfs-lock '%s' error: got lock request timeout\n"  # Cluster.pm $cfs_lock
NO_WORKER_TEXT = "got no worker upid - start worker failed\n"  # pve-common RESTEnvironment.pm fork_worker


def lock_id_for(path):
    """The cfs lock id PVE would time out on for a write under `path`."""
    for pattern, lock_id in LOCK_IDS:
        match = re.match(pattern, path)
        if match:
            return lock_id.format(*match.groups())
    return GENERIC_LOCK_ID


def redact(params):
    """A copy of request parameters with passwords, secrets and tickets hidden."""
    return {key: REDACTED if SECRET_PARAM_RE.search(key) else value for key, value in params.items()}


class Fault:
    """One injected fault; fires at most `count` times, each time with probability `rate`."""

    def __init__(self, fault_id, spec, rng):
        action = spec.get("action", "status")
        if action not in FAULT_ACTIONS:
            raise ValueError("unknown fault action %r (known: %s)" % (action, ", ".join(FAULT_ACTIONS)))
        phase = spec.get("phase") or "before"
        if phase not in FAULT_PHASES:
            raise ValueError("unknown fault phase %r (known: %s)" % (phase, ", ".join(FAULT_PHASES)))
        self.fault_id = fault_id
        self.action = action
        self.phase = phase
        self.method = spec.get("method")
        self.path = re.compile(spec["path"]) if spec.get("path") else None
        self.status = int(spec.get("status", 500))
        self.message = spec.get("message")
        self.lock_id = spec.get("lockid")
        self.remaining = int(spec.get("count", 1))
        self.rate = float(spec.get("rate", 1.0))
        self.fired = 0
        self.rng = rng

    def matches(self, method, path, phase):
        """True if this request should get the fault in this phase (consumes one firing)."""
        if self.phase != phase or self.remaining <= 0 or (self.method and self.method.upper() != method):
            return False
        if self.path and not self.path.search(path):
            return False
        if self.rate < 1.0 and self.rng.random() >= self.rate:
            return False
        self.remaining -= 1
        self.fired += 1
        return True

    def error_message(self, path):
        """The message of a status, lock-timeout or no-worker fault."""
        if self.action == "lock-timeout":
            return LOCK_TIMEOUT_TEXT % (self.lock_id or lock_id_for(path))
        if self.action == "no-worker":
            return NO_WORKER_TEXT
        return self.message if self.message is not None else "pvesim injected fault\n"

    def describe(self):
        """JSON view for /_sim/faults."""
        return {"id": self.fault_id, "action": self.action, "phase": self.phase, "method": self.method,
                "path": self.path.pattern if self.path else None, "status": self.status,
                "remaining": self.remaining, "fired": self.fired, "rate": self.rate}


class Observer:
    """Request log, counters, faults and latency; thread-safe."""

    def __init__(self, seed=None):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.latency_ms = 0
        self.faults = []
        self.custom = {"sdn_applies": 0}
        self._fault_ids = itertools.count(1)
        self._seq = itertools.count(1)
        self.log = collections.deque(maxlen=REQUEST_LOG_SIZE)
        self.total = 0
        self.writes = 0
        self.by_route = collections.Counter()
        self.by_path = collections.Counter()
        self.by_status = collections.Counter()
        self.unknown_formats = set()

    def reset(self):
        """Forget logs, counters, faults and latency."""
        with self.lock:
            self.latency_ms = 0
            self.faults = []
            self.custom = {name: 0 for name in self.custom}
            self.log.clear()
            self.total = self.writes = 0
            for counter in (self.by_route, self.by_path, self.by_status):
                counter.clear()
            self.unknown_formats.clear()

    def increment(self, name, amount=1):
        """Bump a named counter that areas maintain (e.g. sdn_applies)."""
        with self.lock:
            self.custom[name] = self.custom.get(name, 0) + amount

    def unknown_format(self, name):
        """Remember a named format the simulator cannot verify."""
        with self.lock:
            self.unknown_formats.add(name)

    def add_fault(self, spec):
        """Register a fault from its JSON spec; returns its id."""
        with self.lock:
            fault = Fault(next(self._fault_ids), spec, self.rng)
            self.faults.append(fault)
            return fault.fault_id

    def clear_faults(self):
        """Remove every fault."""
        with self.lock:
            self.faults = []

    def take_fault(self, method, path, phase="before"):
        """The first fault that fires for this request in this phase, or None."""
        with self.lock:
            return next((fault for fault in self.faults if fault.matches(method, path, phase)), None)

    def record(self, entry, route, is_write):
        """Log one /api2 request and count it."""
        with self.lock:
            entry["seq"] = next(self._seq)
            self.log.append(entry)
            self.total += 1
            self.writes += 1 if is_write else 0
            if route:
                self.by_route["%s %s" % (entry["method"], route)] += 1
            self.by_path["%s %s" % (entry["method"], entry["path"])] += 1
            self.by_status[str(entry["status"])] += 1

    def counters(self):
        """The /_sim/counters document."""
        with self.lock:
            document = {
                "total": self.total, "writes": self.writes,
                "by_route": dict(self.by_route), "by_path": dict(self.by_path), "by_status": dict(self.by_status),
                "unknown_formats": sorted(self.unknown_formats),
            }
            document.update(self.custom)
            return document

    def requests(self):
        """The request log, oldest first."""
        with self.lock:
            return list(self.log)

    def sleep_latency(self):
        """Delay a request by the configured latency."""
        delay = self.latency_ms
        if delay > 0:
            time.sleep(delay / 1000.0)
