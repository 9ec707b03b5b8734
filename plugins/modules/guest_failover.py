#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: guest_failover
short_description: Check and carry out the failover of a replicated Proxmox VE QEMU guest to its replica's node
version_added: 0.1.0
description:
  - Pre-checks, in this order, each refusal naming the check that failed - C(guest) (it exists), C(quorum) (the
    cluster is quorate, C(GET /cluster/status)), C(target) (a cluster node that is online), C(running elsewhere) (a
    guest running on a node that is neither O(home_node) nor O(target) was moved already), C(replication) (the
    guest has a replication job to O(target)) and C(data loss) (the replica on O(target) is no older than O(rpo)
    or O(accept_data_loss) seconds, naming its age).
  - The age of the replica is the source node's replication status (C(last_sync) of
    C(GET /nodes/{source}/replication/{job}/status)) while that node answers; when it is down its state file is out
    of reach, and O(replica_synced_at) (the time of the target's newest replication snapshot) is used.
  - "The action follows from where the guest is: its node online - V(migrate) (C(POST .../migrate) with
    C(with-local-disks), C(online) when it runs; PVE syncs the replica first and the replication job then points
    back at the old node); its node down - V(move): the config has to be moved on a surviving node, which the API
    cannot do (see C(docs/failover.md)), then a second run starts it; on O(target) already - V(start) when stopped,
    V(none) when running; managed by HA with its node down - V(ha): HA recovers it, the module waits (O(timeout))
    for the HA status to show it started on another node."
  - With O(state=checked) only the checks and the plan; nothing is written.
  - In check mode the same checks and plan, and RV(writes) lists the API writes the run would make (for V(move)
    the start on O(target) that follows the config move); nothing is written and nothing is waited for. With
    C(--diff) the guest's node and status before and after.
options:
  vmid:
    description: The guest.
    type: int
    required: true
  target:
    description: The node to fail over to (the target of the guest's replication job).
    type: str
    required: true
  home_node:
    description: The node the inventory places the guest on. A guest that runs on neither this node nor O(target) is refused.
    type: str
  rpo:
    description: The guest's recovery point objective in seconds; an older replica is refused.
    type: int
    required: true
  accept_data_loss:
    description: Seconds of data loss accepted beyond O(rpo) (a replica up to this old is used).
    type: int
    default: 0
  replica_synced_at:
    description:
      - UNIX time of the last sync the replica on O(target) holds (the time in the name of its newest
        C(__replicate_<job>_<time>__) ZFS snapshot). Needed when the guest's node is down.
    type: int
  now:
    description: The cluster's current UNIX time; this host's clock when not set.
    type: int
  state:
    description: V(checked) - only the checks and the plan. V(started) - also carry out the API part and wait until the guest runs.
    type: str
    choices: [checked, started]
    default: started
  timeout:
    description: Seconds to wait for the migration or start task, and for HA to recover the guest.
    type: int
    default: 300
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Fail db1 over to pve3, accepting up to 10 minutes of data loss
  homecloud.proxmox.guest_failover:
    vmid: 10111
    target: pve3
    home_node: pve2
    rpo: 60
    accept_data_loss: 600
  register: failover
"""

RETURN = r"""
action:
  description: V(migrate), V(move), V(start), V(none) or V(ha) (see the description).
  returned: always
  type: str
source:
  description: The node that holds the guest's config when the module starts.
  returned: always
  type: str
source_online:
  description: Whether that node is online.
  returned: always
  type: bool
node:
  description: Where the guest is when the module ends.
  returned: always
  type: str
running:
  description: Whether the guest runs when the module ends (V(null) while its node is down).
  returned: always
  type: bool
job:
  description: The replication job to O(target), or V(null).
  returned: always
  type: str
last_sync:
  description: UNIX time of the replica's last sync, or V(null).
  returned: always
  type: int
data_loss_seconds:
  description: The replica's age - what a failover to it loses - or V(null).
  returned: always
  type: int
ha:
  description: The guest's HA resource (C(sid), C(state)), or V(null).
  returned: always
  type: dict
writes:
  description:
    - The API writes made (in check mode, planned) - the migration or the start; none for V(none) and V(ha).
  returned: with O(state=started)
  type: list
  elements: str
  sample: ["POST /nodes/pve1/qemu/10110/migrate online=1 target=pve2 with-local-disks=1"]
"""

import time

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import ProxmoxModule, create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxError
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import Write

HA_NOT_ACTING = ("ignored", "disabled")  # pve-ha-manager: HA leaves such resources alone
POLL_SECONDS = 1.0


class Refusal(ProxmoxError):
    """A failed pre-check: the message starts with the check's name."""

    def __init__(self, check, text):
        super(Refusal, self).__init__("{0}: {1}".format(check, text))
        self.check = check


def cluster_facts(status_entries):
    """(quorate, {node: online}) from GET /cluster/status."""
    quorate, nodes = True, {}
    for entry in status_entries:
        if entry.get("type") == "cluster":
            quorate = bool(int(entry.get("quorate") or 0))
        elif entry.get("type") == "node":
            nodes[entry["name"]] = bool(int(entry.get("online") or 0))
    return quorate, nodes


def replication_job(jobs, vmid, target):
    """The guest's job to `target` (not one PVE is removing), and a description of its other jobs."""
    own = [job for job in jobs if int(job.get("guest", -1)) == vmid]
    for job in own:
        if job.get("target") == target and not job.get("remove_job"):
            return job, None
    others = ", ".join("{0} -> {1}".format(job["id"], job.get("target")) for job in own) or "none"
    return None, others


def data_loss_refusal(age, rpo, accept, target, last_sync):
    """The refusal text of a replica older than allowed, or None."""
    allowed = max(rpo, accept)
    if age <= allowed:
        return None
    return ("the replica on {0} is {1} s old (last sync at {2} UTC), more than the guest's RPO of {3} s{4}; "
            "accept the loss of {1} s of writes to fail over anyway").format(
                target, age, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(last_sync)), rpo,
                " and the accepted {0} s".format(accept) if accept else "")


def planned_writes(plan):
    """The API writes of the plan's action: the migration (online when the guest runs, with its local disks), or
    the start on the target - where a config move (action move) puts the guest; none when it runs there already
    or HA recovers it."""
    vmid, action = plan["vmid"], plan["action"]
    if action == "migrate":
        return [Write("POST", "/nodes/{0}/qemu/{1}/migrate".format(plan["source"], vmid),
                      {"target": plan["target"], "online": bool(plan["running"]), "with-local-disks": True})]
    if action in ("start", "move"):
        return [Write("POST", "/nodes/{0}/qemu/{1}/status/start".format(plan["target"], vmid))]
    return []


def guest_status(running):
    """The guest's status for a diff: None while its node is down (PVE says `unknown`)."""
    return "unknown" if running is None else "running" if running else "stopped"


class GuestFailover(ProxmoxModule):

    def run(self):
        params = self.module.params
        self.vmid = params["vmid"]
        plan = self.plan()
        self.result.update(plan)
        if params["state"] == "checked":
            return
        action = plan["action"]
        writes = planned_writes(plan)
        if self.module._diff and writes:  # pylint: disable=protected-access
            self.result["diff"] = dict(before=dict(node=plan["source"], status=guest_status(plan["running"])),
                                       after=dict(node=plan["target"], status="running"))
        if self.module.check_mode:
            # the run would write these; an HA recovery or a config move is not the module's write
            self.result.update(writes=[str(write) for write in writes], changed=bool(writes))
            return
        self.result["writes"] = []
        if action == "move":
            raise ProxmoxError("the config of guest {0} is still on node {1}, which is down: move it to {2} first "
                               "(failover.yml does; docs/failover.md)".format(self.vmid, plan["source"], plan["target"]))
        if action == "migrate":
            self.migrate(plan, writes[0])
        elif action == "start":
            self.start(plan["target"], writes[0])
        elif action == "ha":
            self.wait_for_ha(plan)
            return
        self.result.update(self.where())

    # -- the checks ------------------------------------------------------------------------------
    def plan(self):
        params = self.module.params
        target = params["target"]
        self.working_on = "guest {0}".format(self.vmid)
        guest = self.find_guest()
        if guest is None:
            raise Refusal("guest", "there is no guest {0} in the cluster".format(self.vmid))
        quorate, nodes = cluster_facts(self.client.get("/cluster/status"))
        source = guest["node"]
        plan = dict(vmid=self.vmid, name=guest.get("name"), source=source, source_online=nodes.get(source, False),
                    target=target, node=source, running=self.running(guest, nodes), job=None, last_sync=None,
                    data_loss_seconds=None, ha=self.ha_resource())
        if not quorate:
            raise Refusal("quorum", "the cluster is not quorate (online: {0} of {1} nodes): /etc/pve is read-only and no "
                          "guest can move".format(", ".join(sorted(node for node, up in nodes.items() if up)) or "none", len(nodes)))
        if target not in nodes:
            raise Refusal("target", "{0} is not a node of the cluster ({1})".format(target, ", ".join(sorted(nodes))))
        if not nodes[target]:
            raise Refusal("target", "node {0} is offline".format(target))
        if source == target:
            plan["action"] = "none" if plan["running"] else "start"
            return plan
        home = params["home_node"]
        if home and source not in (home, target) and plan["running"]:
            raise Refusal("running elsewhere", "guest {0} runs on {1}, not on its node {2}: it was moved already".format(
                self.vmid, source, home))
        if plan["ha"] is not None and plan["ha"]["state"] not in HA_NOT_ACTING and not plan["source_online"]:
            plan["action"] = "ha"
            return plan
        self.check_replica(plan, nodes)
        plan["action"] = "migrate" if plan["source_online"] else "move"
        return plan

    def check_replica(self, plan, nodes):
        params = self.module.params
        job, others = replication_job(self.client.get("/cluster/replication"), self.vmid, plan["target"])
        if job is None:
            raise Refusal("replication", "guest {0} has no replication job to {1} (its jobs: {2})".format(self.vmid, plan["target"], others))
        plan["job"] = job["id"]
        if nodes.get(plan["source"]):
            status = self.client.get("/nodes/{0}/replication/{1}/status".format(plan["source"], job["id"]))
            last_sync = int(status.get("last_sync") or 0) or None
        else:
            last_sync = params["replica_synced_at"]
            if last_sync is None:
                raise Refusal("data loss", "node {0} is down, so its replication state cannot be read, and the time of the "
                              "replica on {1} was not given (replica_synced_at)".format(plan["source"], plan["target"]))
        if last_sync is None:
            raise Refusal("replication", "job {0} has never synced guest {1} to {2}".format(job["id"], self.vmid, plan["target"]))
        now = params["now"] if params["now"] is not None else int(time.time())
        plan["last_sync"], plan["data_loss_seconds"] = last_sync, max(now - last_sync, 0)
        refusal = data_loss_refusal(plan["data_loss_seconds"], params["rpo"], params["accept_data_loss"], plan["target"], last_sync)
        if refusal:
            raise Refusal("data loss", refusal)

    # -- reads -----------------------------------------------------------------------------------
    def find_guest(self):
        for entry in self.client.get("/cluster/resources", type="vm"):
            if entry.get("type") == "qemu" and int(entry["vmid"]) == self.vmid:
                return entry
        return None

    @staticmethod
    def running(guest, nodes):
        """True/False; None while its node is down (PVE cannot tell: `unknown`)."""
        if not nodes.get(guest["node"]):
            return None
        return guest.get("status") == "running"

    def ha_resource(self):
        sid = "vm:{0}".format(self.vmid)
        for resource in self.client.get("/cluster/ha/resources"):
            if resource.get("sid") == sid:
                return dict(sid=sid, state=resource.get("state") or "started")
        return None

    def where(self):
        guest = self.find_guest()
        quorate_nodes = cluster_facts(self.client.get("/cluster/status"))[1]
        return dict(node=guest["node"], running=self.running(guest, quorate_nodes))

    # -- the actions -----------------------------------------------------------------------------
    def send(self, write):
        upid = write.send(self.client)
        self.result["changed"] = True
        self.result["writes"].append(str(write))
        return upid

    def migrate(self, plan, write):
        """Qemu.pm migrate_vm (qemu-server src/PVE/API2/Qemu.pm): QemuMigrate.pm runs the replication job to the
        target first, keeps the replicated volumes and switches the job back to the old node
        (AbstractMigrate.pm switch_replication_job_target); an HA-managed guest's migration is handed to the CRM."""
        upid = self.send(write)
        self.client.wait_task(upid, timeout=self.module.params["timeout"], what="migration of guest {0}".format(self.vmid))
        self.wait_until(lambda: self.find_guest()["node"] == plan["target"],
                        "guest {0} to be on {1} after its migration".format(self.vmid, plan["target"]))

    def start(self, node, write):
        upid = self.send(write)
        self.client.wait_task(upid, timeout=self.module.params["timeout"], what="start of guest {0}".format(self.vmid))
        self.wait_until(lambda: self.client.get("/nodes/{0}/qemu/{1}/status/current".format(node, self.vmid)).get("status") == "running",
                        "guest {0} to run on {1}".format(self.vmid, node))

    def wait_for_ha(self, plan):
        """Manager.pm recovers a fenced node's services to another node; watch /cluster/ha/status/current."""
        sid = plan["ha"]["sid"]
        found = {}

        def recovered():
            for entry in self.client.get("/cluster/ha/status/current"):
                if entry.get("sid") == sid:
                    found.update(node=entry.get("node"), state=entry.get("state"))
            return found.get("state") == "started" and found.get("node") not in (None, plan["source"])

        self.wait_until(recovered, "HA to recover {0} from node {1} (HA state now: {2})".format(sid, plan["source"], "{state}"),
                        status=found)
        self.result.update(node=found["node"], running=self.find_guest().get("status") == "running")

    def wait_until(self, condition, what, status=None):
        deadline = time.time() + self.module.params["timeout"]
        while not condition():
            if time.time() >= deadline:
                raise ProxmoxError("timed out after {0} s waiting for {1}".format(
                    self.module.params["timeout"], what.format(state=(status or {}).get("state", "unknown"))))
            time.sleep(POLL_SECONDS)


def main():
    module = create_module(dict(
        vmid=dict(type="int", required=True),
        target=dict(type="str", required=True),
        home_node=dict(type="str"),
        rpo=dict(type="int", required=True),
        accept_data_loss=dict(type="int", default=0),
        replica_synced_at=dict(type="int"),
        now=dict(type="int"),
        state=dict(type="str", default="started", choices=["checked", "started"]),
        timeout=dict(type="int", default=300),
    ), supports_check_mode=True)
    GuestFailover(module).execute()


if __name__ == "__main__":
    main()
