#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: pbs_datastore
short_description: Manage one datastore of a Proxmox Backup Server
version_added: 0.1.0
description:
  - Creates, updates or removes one datastore (C(/config/datastore/{name})) and its default prune job.
  - Creating a datastore is a PBS worker task (it makes the chunk store's directories); the module waits for it
    and fails with the task's exit status and log tail if it fails.
  - O(path) is fixed once the datastore exists; a different O(path) fails the task before any write.
  - PBS keeps a datastore's retention in prune jobs (C(/config/prune)), not in the datastore. O(prune) is sent with
    the create, from which PBS makes the store's default prune job (C(default-<name>-<uuid>)); on an existing
    datastore the module converges that job (the job of the store's root namespace whose id starts with
    C(default-)), or creates it as C(default-<name>).
  - Check mode and diff mode show the planned writes and the datastore before and after.
options:
  name:
    description: Datastore name; letters, digits, C(_), C(.), C(-), at most 32 characters.
    type: str
    required: true
  path:
    description:
      - Absolute path of the datastore's chunk store on the PBS host. Required to create it; fixed afterwards.
    type: path
  comment:
    description: Free text. An empty string removes it.
    type: str
  gc_schedule:
    description:
      - Garbage collection schedule, a calendar event such as V(daily) or V(sat 03:00). An empty string removes it
        (no scheduled garbage collection).
    type: str
  notification_mode:
    description: How PBS sends this datastore's notifications.
    type: str
    choices: [legacy-sendmail, notification-system]
  prune:
    description:
      - The datastore's default prune job. Keep options not given are removed from the job. Not set leaves the
        retention alone.
    type: dict
    suboptions:
      schedule:
        description: When the prune job runs, a calendar event such as V(daily).
        type: str
        required: true
      keep_last:
        description: Keep the last N backups of each group.
        type: int
      keep_hourly:
        description: Keep one backup per hour for the last N hours.
        type: int
      keep_daily:
        description: Keep one backup per day for the last N days.
        type: int
      keep_weekly:
        description: Keep one backup per week for the last N weeks.
        type: int
      keep_monthly:
        description: Keep one backup per month for the last N months.
        type: int
      keep_yearly:
        description: Keep one backup per year for the last N years.
        type: int
  destroy_data:
    description:
      - With O(state=absent), whether PBS also deletes the datastore's contents (chunks, indexes, namespaces) on disk.
      - With V(false), PBS removes only the configuration, the datastore's prune and verify jobs and the ACL entries
        below C(/datastore/<name>); the data stays on disk, and a datastore created later on the same path with
        C(reuse-datastore) finds it again.
    type: bool
    default: false
  state:
    description: Whether the datastore must exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - homecloud.proxmox.pbs
  - homecloud.proxmox.pbs.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The tenants' datastore, garbage collected nightly, pruned daily
  homecloud.proxmox.pbs_datastore:
    pbs_host: pbs.example.org
    pbs_token_id: "root@pam!homecloud"
    pbs_token_secret: "{{ vault_pbs_token_secret }}"
    pbs_fingerprint: "{{ pbs_fingerprint }}"
    name: tenants
    path: /mnt/datastore/tenants
    comment: per-tenant namespaces
    gc_schedule: daily
    prune: {schedule: daily, keep_daily: 7, keep_weekly: 4, keep_monthly: 6}
"""

RETURN = r"""
datastore:
  description: The datastore's configuration after the task (as planned in check mode); V(null) when absent.
  returned: always
  type: dict
  sample: {name: tenants, path: /mnt/datastore/tenants, gc-schedule: daily, prune: {schedule: daily, keep-daily: 7}}
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["POST /config/datastore gc-schedule=daily keep-daily=7 name=tenants path=/mnt/datastore/tenants prune-schedule=daily"]
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

from ansible_collections.homecloud.proxmox.plugins.module_utils.access import same_text
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import Write, defined, same_value
from ansible_collections.homecloud.proxmox.plugins.module_utils.pbs import (
    PbsInputError,
    PbsObjectModule,
    check_datastore_name,
    create_pbs_module,
)

SETTINGS = ("path", "comment", "gc_schedule", "notification_mode")
KEEP_OPTIONS = ("keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly")
# options whose empty value means "none": PBS drops them (an empty comment) or takes them in `delete`
CLEARABLE = ("comment", "gc-schedule")


def api_key(option):
    return option.replace("_", "-")


class PbsDatastore(PbsObjectModule):
    result_key = "datastore"

    def __init__(self, module):
        super(PbsDatastore, self).__init__(module)
        self.name = module.params["name"]
        self.path = "/config/datastore/" + self.name
        self.working_on = "datastore " + self.name
        self.prune_job_id = None  # the id of the store's default prune job, once read

    def read(self):
        check_datastore_name(self.name)
        stores = self.client.get("/config/datastore")
        config = next((store for store in stores if store.get("name") == self.name), None)
        if config is None:
            return None
        current = dict((key, value) for key, value in config.items() if key not in ("name", "digest"))
        job = self.prune_job()
        if job is not None:
            current["prune"] = dict((key, value) for key, value in job.items() if key == "schedule" or key.startswith("keep-"))
        return current

    def prune_job(self):
        """The store's default prune job: on its root namespace, with an id PBS's create gives (default-...)."""
        jobs = [job for job in self.client.get("/config/prune")
                if job.get("store") == self.name and not job.get("ns") and str(job.get("id", "")).startswith("default-")]
        self.prune_job_id = jobs[0]["id"] if jobs else None
        return jobs[0] if jobs else None

    def desired(self):
        desired = dict((api_key(key), value) for key, value in defined(self.module.params, SETTINGS).items())
        prune = self.module.params["prune"]
        if prune is not None:
            desired["prune"] = dict((api_key(key), value) for key, value in prune.items() if value is not None)
        return desired

    def compare(self, current, desired):
        changes = {}
        for key, value in desired.items():
            if key == "prune":
                if current.get("prune") != value:
                    changes[key] = value
            elif not (same_text if key in CLEARABLE else same_value)(current.get(key), value):
                changes[key] = value
        return changes

    def plan(self):
        writes, before, after = super(PbsDatastore, self).plan()
        if after is not None:
            after = dict((key, value) for key, value in after.items() if not (key in CLEARABLE and value == ""))
        return writes, before, after

    def create_writes(self, desired):
        if not desired.get("path"):
            raise PbsInputError("datastore '{0}' does not exist and `path` is not set: PBS needs the chunk store's path "
                                "to create it; nothing was changed".format(self.name))
        params = dict((key, value) for key, value in desired.items() if key != "prune" and value != "")
        prune = desired.get("prune")
        if prune:
            params["prune-schedule"] = prune["schedule"]
            params.update((key, value) for key, value in prune.items() if key != "schedule")
        params["name"] = self.name
        return [Write("POST", "/config/datastore", params, what="create datastore " + self.name)]

    def update_writes(self, current, changes):
        if "path" in changes:
            raise PbsInputError("datastore '{0}' is at {1}; its path cannot be changed to {2} (remove the datastore and "
                                "create it again); nothing was changed".format(self.name, current.get("path"), changes["path"]))
        writes = []
        settings = dict((key, value) for key, value in changes.items() if key != "prune")
        if settings:
            params = dict((key, value) for key, value in settings.items() if value != "")
            cleared = sorted(key for key, value in settings.items() if value == "")
            if cleared:
                params["delete"] = cleared
            writes.append(Write("PUT", self.path, params, confirm=lambda: self.holds(settings)))
        if "prune" in changes:
            writes.append(self.prune_write(current.get("prune"), changes["prune"]))
        return writes

    def prune_write(self, current, desired):
        """One write of the default prune job: its changed keys and the keep options it no longer has."""
        if current is None:
            params = dict(desired, id=("default-" + self.name)[:32], store=self.name)
            return Write("POST", "/config/prune", params, what="create the prune job of " + self.name)
        params = dict((key, value) for key, value in desired.items() if not same_value(current.get(key), value))
        dropped = sorted(key for key in current if key.startswith("keep-") and key not in desired)
        if dropped:
            params["delete"] = dropped
        return Write("PUT", "/config/prune/" + self.prune_job_id, params, confirm=lambda: self.holds({"prune": desired}))

    def delete_writes(self, current):
        return [Write("DELETE", self.path, {"destroy-data": self.module.params["destroy_data"]},
                      what="delete datastore " + self.name)]

    def after_write(self, write, answer):
        if write.path in ("/config/datastore", self.path) and write.method in ("POST", "DELETE"):
            self.wait(answer, "{0} of datastore '{1}'".format("creation" if write.method == "POST" else "removal", self.name))


def main():
    keep = dict((option, dict(type="int")) for option in KEEP_OPTIONS)
    module = create_pbs_module(dict(
        name=dict(type="str", required=True),
        path=dict(type="path"),
        comment=dict(type="str"),
        gc_schedule=dict(type="str"),
        notification_mode=dict(type="str", choices=["legacy-sendmail", "notification-system"]),
        prune=dict(type="dict", options=dict(schedule=dict(type="str", required=True), **keep)),
        destroy_data=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    ), supports_check_mode=True)
    PbsDatastore(module).execute()


if __name__ == "__main__":
    main()
