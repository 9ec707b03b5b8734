"""pvesim's faults on simcore's observer: the PVE-specific fault actions and their texts.

The request log, counters, faults and latency are simcore.observe's (re-exported here);
`lock-timeout` and `no-worker` are PVE's and answer with PVE's texts.
"""

import re

from simcore.observe import (CORE_FAULT_ACTIONS, FAULT_PHASES, REDACTED, REQUEST_LOG_SIZE, SECRET_PARAM_RE, Fault, Observer,
                             redact)

__all__ = ["FAULT_ACTIONS", "FAULT_MESSAGES", "FAULT_OPTIONS", "FAULT_PHASES", "REDACTED", "REQUEST_LOG_SIZE", "SECRET_PARAM_RE",
           "Fault", "Observer", "lock_id_for", "redact"]

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


# simcore fault hooks: the extra actions with their messages, and the extra option they read
FAULT_MESSAGES = {
    "lock-timeout": lambda fault, path: LOCK_TIMEOUT_TEXT % (fault.spec.get("lockid") or lock_id_for(path)),
    "no-worker": lambda fault, path: NO_WORKER_TEXT,
}
FAULT_OPTIONS = ("lockid",)
FAULT_ACTIONS = CORE_FAULT_ACTIONS + tuple(FAULT_MESSAGES)
