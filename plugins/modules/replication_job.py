#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: replication_job
short_description: Manage the storage replication job of a Proxmox VE guest to one node
version_added: 0.1.0
description:
  - Creates, updates or removes the storage replication job (C(/cluster/replication)) that copies a guest's local
    volumes (ZFS) to O(target) on O(schedule), and returns the job's last sync, so a play can check the replica's age.
  - PVE allows one job per guest and target, named C(<guest>-<job number>). The job to O(target) the guest already has
    is the one managed (its number is kept); a new job gets O(job), or else the lowest number the guest has free.
  - A job's target cannot change (PVE's update does not take it). Another O(target) is another job; the guest's jobs to
    other targets stay, unless O(exclusive=true), which removes them.
  - Removal (O(state=absent), and O(exclusive)) asks PVE to remove the job; PVE marks it (C(remove_job=full)) and its
    replication runner removes the replicated volumes on the target and then the job, on its next run. A marked job counts
    as removed, so a second run writes nothing. O(force=true) removes the job at once without that cleanup (PVE's
    C(force)), leaving the replicated volumes on the target.
  - The guest must exist and the target must be a node of the cluster other than the guest's own; both are checked
    before any write, from one C(GET /cluster/resources). PVE also refuses a guest without replicatable volumes.
  - The task plans every write first; check mode and diff mode show that plan.
options:
  guest:
    description: The guest (VM or container) id.
    type: int
    required: true
    aliases: [vmid]
  target:
    description: The node the guest is replicated to. Required with O(state=present).
    type: str
  job:
    description:
      - The job number, for a new job (default the lowest free one), or to name the job to remove.
      - A job of that number that replicates to another node than O(target) fails the task before any write.
    type: int
  schedule:
    description:
      - When the job runs, as a PVE calendar event (V(*/15), V(mon..fri 22:30), V(hourly)). PVE's default, every 15
        minutes (V(*/15)), applies when it is not set; then the job's schedule is left as it is.
    type: str
  rate:
    description: Bandwidth limit in MB/s (1 or more). V(0) removes the limit.
    type: float
  comment:
    description: Free text. An empty string removes it.
    type: str
  disable:
    description: V(true) keeps the job but does not run it.
    type: bool
  exclusive:
    description: V(true) removes the guest's jobs to other nodes than O(target), so the guest is replicated to O(target) only.
    type: bool
    default: false
  force:
    description:
      - With removal, remove the job from PVE's configuration at once, without the replication runner's cleanup of the
        replicated volumes on the target (PVE's C(force)). Also removes a job PVE has marked for removal already.
    type: bool
    default: false
  state:
    description:
      - Whether the job must exist. With V(absent), the job to O(target), or job O(job), is removed; with neither, every
        job of the guest.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Replicate the database to pve2 every 5 minutes, limited to 50 MB/s, and nowhere else
  homecloud.proxmox.replication_job:
    guest: 4010
    target: pve2
    schedule: "*/5"
    rate: 50
    exclusive: true
  register: replica

- name: Fail when the replica is older than 15 minutes
  ansible.builtin.assert:
    that: (now(utc=true).timestamp() | int) - (replica.status.last_sync | default(0)) < 900

- name: Stop replicating it to pve3
  homecloud.proxmox.replication_job:
    guest: 4010
    target: pve3
    state: absent
"""

RETURN = r"""
job:
  description:
    - The job after the task (as planned in check mode); V(null) when there is none. A job being removed by PVE shows
      C(remove_job).
  returned: success
  type: dict
  sample: {id: 4010-0, guest: 4010, jobnum: 0, target: pve2, type: local, schedule: "*/5", rate: 50}
status:
  description:
    - The job's state on the guest's node (C(GET /nodes/{node}/replication/{id}/status)), V(null) for a job not created
      yet (check mode) or removed. C(last_sync) is the time (UNIX seconds) of the last successful sync, V(0) before the
      first; C(last_try), C(duration) (seconds), C(fail_count) and C(error) describe the last run.
  returned: success
  type: dict
  sample: {id: 4010-0, last_sync: 1735689600, last_try: 1735689600, duration: 2.1, fail_count: 0}
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["POST /cluster/replication id=4010-0 rate=50 schedule=*/5 target=pve2 type=local"]
written:
  description: After a failure, the calls of RV(writes) that were made before it (they are not undone).
  returned: on failure
  type: list
  elements: str
failure:
  description: The failed API call (method, path, status, reason, errors), for C(failed_when).
  returned: on failure
  type: dict
"""

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxApiError, ProxmoxError
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ConvergeModule, Write

JOBS = "/cluster/replication"
# pve-guest-common src/PVE/ReplicationConfig.pm: the schedule PVE applies when a job has none
DEFAULT_SCHEDULE = "*/15"
GUEST_TYPES = ("qemu", "lxc")


class ReplicationInputError(ProxmoxError):
    """A declaration PVE would refuse, found before any write."""


def job_id(guest, jobnum):
    return "{0}-{1}".format(guest, jobnum)


def lowest_free_jobnum(jobs):
    """The lowest job number none of the guest's jobs has (jobs PVE is removing still hold theirs)."""
    taken = set(int(job["jobnum"]) for job in jobs)
    number = 0
    while number in taken:
        number += 1
    return number


def same_job_option(key, current, desired):
    if key == "schedule":
        return (current or DEFAULT_SCHEDULE) == desired
    if key == "rate":
        return float(current or 0) == float(desired or 0)
    if key == "disable":
        return bool(int(current or 0)) == bool(desired)
    if key == "comment":
        return (current or "") == (desired or "")
    return current == desired


def job_params(values, create=False):
    """API parameters of job options: a zero rate, an empty comment and disable=false become ``delete``
    (nothing to send on a create)."""
    params, deleted = {}, []
    for key in sorted(values):
        value = values[key]
        if (key == "rate" and not value) or (key == "comment" and value == "") or (key == "disable" and not value):
            deleted.append(key)
        else:
            params[key] = int(value) if key == "disable" or (key == "rate" and float(value).is_integer()) else value
    if deleted and not create:
        params["delete"] = ",".join(deleted)
    return params


def shown_job(job):
    """A job as the result and the diff show it: PVE's computed keys kept, the digest left out."""
    return dict((key, value) for key, value in job.items() if key != "digest")


class ReplicationJob(ConvergeModule):

    def __init__(self, module):
        super(ReplicationJob, self).__init__(module)
        self.guest = module.params["guest"]
        self.source = None   # the guest's node, known once a present task checked the guest
        self.creates = False
        self.job = None      # the job the task reports

    def plan(self):
        params = self.module.params
        self.working_on = "the replication jobs of guest {0}".format(self.guest)
        jobs = sorted((shown_job(job) for job in self.client.get(JOBS) or [] if int(job.get("guest", 0)) == self.guest),
                      key=lambda job: int(job["jobnum"]))
        before = dict((job["id"], job) for job in jobs)
        after = dict((job_id_, dict(job)) for job_id_, job in before.items())
        if params["state"] == "absent":
            removed = [job for job in jobs if self.named(job)]
            writes = self.removals(removed, after)
            self.job = self.the_job(removed, after)
            return writes, self.touched(before, removed), self.touched(after, removed)
        self.source = self.check_guest_and_target()
        job, jobnum = self.declared_job(jobs)
        desired = dict((key, params[key]) for key in ("schedule", "rate", "comment", "disable") if params[key] is not None)
        self.creates = job is None
        if job is None:
            new_id = job_id(self.guest, jobnum)
            create = dict(job_params(desired, create=True), id=new_id, target=params["target"], type="local")
            writes = [Write("POST", JOBS, create, confirm=lambda: self.holds(new_id))]
            after[new_id] = dict(job_params(desired, create=True), id=new_id, guest=self.guest, jobnum=jobnum,
                                 target=params["target"], type="local")
        else:
            changes = dict((key, value) for key, value in desired.items() if not same_job_option(key, job.get(key), value))
            writes = [Write("PUT", JOBS + "/" + job["id"], job_params(changes))] if changes else []
            for key, value in job_params(changes).items():
                if key != "delete":
                    after[job["id"]][key] = value
            for key in (job_params(changes).get("delete") or "").split(","):
                after[job["id"]].pop(key, None)
        others = [other for other in jobs if other["target"] != params["target"]] if params["exclusive"] else []
        writes += self.removals(others, after)
        managed = dict(id=job_id(self.guest, jobnum) if job is None else job["id"])
        self.job = after.get(managed["id"])
        return writes, self.touched(before, [managed] + others), self.touched(after, [managed] + others)

    @staticmethod
    def touched(jobs, named):
        """The jobs (by id) the task manages or removes: the diff shows these, not the guest's other jobs, which
        another task of the play may be creating."""
        return dict((job["id"], jobs[job["id"]]) for job in named if job["id"] in jobs)

    def named(self, job):
        """Whether an absent declaration names this job (by target, by number, or none: every job)."""
        params = self.module.params
        if params["target"] is not None and job["target"] != params["target"]:
            return False
        return params["job"] is None or int(job["jobnum"]) == params["job"]

    def removals(self, jobs, after):
        """DELETE writes for jobs; a job PVE is removing already needs none, unless ``force`` removes it at once."""
        force = self.module.params["force"]
        writes = []
        for job in jobs:
            if job.get("remove_job") and not force:
                continue
            writes.append(Write("DELETE", JOBS + "/" + job["id"], dict(force=True) if force else None,
                                confirm=lambda gone=job["id"]: self.holds(gone, removed=True)))
            if force:
                after.pop(job["id"], None)
            else:
                after[job["id"]] = dict(job, remove_job="full")
        return writes

    def the_job(self, removed, after):
        """The job an absent task reports: the one it named, as it is after the task (None when gone or many)."""
        if len(removed) != 1:
            return None
        return after.get(removed[0]["id"])

    def check_guest_and_target(self):
        """The guest's node, after checking, before any write, what PVE's create refuses (pve-manager
        PVE/API2/ReplicationConfig.pm: "Guest '<vmid>' does not exist.", "Target '<t>' does not exist.",
        "Source and target must not be identical")."""
        target = self.module.params["target"]
        if not target:
            raise ReplicationInputError("target is required with state=present; nothing was changed")
        resources = self.client.get("/cluster/resources") or []
        guest = next((entry for entry in resources if entry.get("type") in GUEST_TYPES and int(entry.get("vmid", 0)) == self.guest), None)
        if guest is None:
            raise ReplicationInputError("guest: Guest '{0}' does not exist; nothing was changed".format(self.guest))
        nodes = sorted(entry["node"] for entry in resources if entry.get("type") == "node")
        if target not in nodes:
            raise ReplicationInputError("target: Target '{0}' does not exist (the cluster's nodes: {1}); nothing was changed".format(
                target, ", ".join(nodes)))
        if target == guest["node"]:
            raise ReplicationInputError("target: guest {0} runs on {1}: source and target must not be identical; nothing was "
                                        "changed".format(self.guest, target))
        return guest["node"]

    def declared_job(self, jobs):
        """(the existing job to manage or None, the job number of a new one)."""
        params = self.module.params
        to_target = next((job for job in jobs if job["target"] == params["target"]), None)
        if params["job"] is not None:
            numbered = next((job for job in jobs if int(job["jobnum"]) == params["job"]), None)
            if numbered is not None and numbered["target"] != params["target"]:
                raise ReplicationInputError(
                    "job: {0} replicates to {1}; a job's target cannot change: remove it (state=absent) or choose another "
                    "job number; nothing was changed".format(numbered["id"], numbered["target"]))
            if to_target is not None and to_target is not numbered:
                raise ReplicationInputError(
                    "job: guest {0} has job {1} to {2} already and PVE allows one job per guest and target: leave job unset "
                    "or set job: {3}; nothing was changed".format(self.guest, to_target["id"], params["target"],
                                                                  to_target["jobnum"]))
        if to_target is not None and to_target.get("remove_job"):
            raise ReplicationInputError(
                "job {0} to {1} is being removed by PVE (remove_job={2}) and PVE allows one job per guest and target: run "
                "again once its replication runner removed it, or remove it at once (state=absent, force=true); nothing was "
                "changed".format(to_target["id"], params["target"], to_target["remove_job"]))
        if to_target is not None:
            return to_target, int(to_target["jobnum"])
        return None, params["job"] if params["job"] is not None else lowest_free_jobnum(jobs)

    def holds(self, wanted_id, removed=False):
        """For Write.confirm: is the job there (or, with ``removed``, gone or marked for removal) now?"""
        job = next((entry for entry in self.client.get(JOBS) or [] if entry.get("id") == wanted_id), None)
        if removed:
            return job is None or bool(job.get("remove_job"))
        return job is not None

    def finish(self, writes):
        self.result["job"] = self.shown(self.job)
        self.result["status"] = None
        if self.job is None or self.job.get("remove_job") or self.source is None:
            return
        if self.module.check_mode and self.creates:
            return  # a job check mode only plans has no status yet
        path = "/nodes/{0}/replication/{1}/status".format(self.source, self.job["id"])
        try:
            self.result["status"] = self.client.get(path)
        except ProxmoxApiError as error:
            self.module.warn("GET {0} failed, the job's status is not returned: {1}".format(path, error))


def main():
    module = create_module(dict(
        guest=dict(type="int", required=True, aliases=["vmid"]),
        target=dict(type="str"),
        job=dict(type="int"),
        schedule=dict(type="str"),
        rate=dict(type="float"),
        comment=dict(type="str"),
        disable=dict(type="bool"),
        exclusive=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    ), supports_check_mode=True, required_if=[("state", "present", ["target"])])
    ReplicationJob(module).execute()


if __name__ == "__main__":
    main()
