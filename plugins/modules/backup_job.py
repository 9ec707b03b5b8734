#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: backup_job
short_description: Manage one Proxmox VE scheduled backup (vzdump) job
version_added: 0.1.0
description:
  - Creates, updates or removes one cluster-wide backup job (C(/cluster/backup), stored in C(/etc/pve/jobs.cfg)) under
    an id of your choosing, so the same task finds the same job on every run.
  - The job is read with C(GET /cluster/backup/{id}) and compared option by option (PVE answers C(prune-backups) and
    C(fleecing) as objects, guest lists as comma-separated strings, booleans as 0/1). Options the task leaves unset
    are left as PVE holds them; only the options that differ are written, in one C(PUT) that also carries, as
    C(delete), the selection options a change of selection replaces.
  - The guests are selected by exactly one of O(pool), O(vmids) or O(all) (with O(exclude)); the selection is
    required to create a job and optional afterwards.
  - O(schedule) is checked before any write with the grammar of PVE's calendar event parser (proxmox-time
    C(calendar_event.rs)); an event PVE would refuse fails the task with the syntax in the message.
  - The task plans every write first; check mode and diff mode show that plan.
options:
  id:
    description:
      - Job id - a letter, then letters, digits, C(-) or C(_), at most 50 characters. Choose a stable one, for
        example V(homecloud-acme); PVE's own ids (V(backup-1a2b3c4d-5e6f)) are random.
    type: str
    required: true
    aliases: [name]
  state:
    description: Whether the job must exist.
    type: str
    choices: [present, absent]
    default: present
  schedule:
    description:
      - When the job runs, as a PVE calendar event - C([WEEKDAY] [[YEARS-]MONTHS-DAYS] [HOURS:MINUTES[:SECONDS]]), for
        example V(mon..fri 02:30), V(sat 21:00), V(*/6:00), or V(daily), V(weekly). Required to create a job.
    type: str
  pool:
    description: Back up the guests of this resource pool (at the time the job runs).
    type: str
  vmids:
    description: Back up these guests. Compared as a set.
    type: list
    elements: int
  all:
    description: V(true) backs up all guests (minus O(exclude)). V(false) is not a selection.
    type: bool
  exclude:
    description: With O(all=true), guests not to back up; compared as a set. V([]) removes the exclusions.
    type: list
    elements: int
  storage:
    description: Storage the backups are written to.
    type: str
  mode:
    description: Backup mode. PVE's default is V(snapshot).
    type: str
    choices: [snapshot, suspend, stop]
  compress:
    description: Compression of the archive (not for Proxmox Backup Server storages, which always compress). PVE's default is V(0).
    type: str
    choices: ['0', '1', gzip, lzo, zstd]
  prune_backups:
    description:
      - Retention for this job, overriding the storage's - C(keep_all) (bool), C(keep_last), C(keep_hourly),
        C(keep_daily), C(keep_weekly), C(keep_monthly), C(keep_yearly).
      - Normalised as PVE does - options of 0 are dropped, and when no option is above 0 the retention is C(keep-all=1);
        C(keep_all) with another option above 0 is refused.
    type: dict
  notes_template:
    description:
      - Notes of each backup, with PVE's variables (V({{guestname}}), V({{vmid}}), V({{node}}), V({{cluster}})).
        Needs O(storage) (here or on the job). An empty string removes it.
    type: str
  protected:
    description: Mark each backup protected (PVE's C(protected)); needs O(storage) (here or on the job).
    type: bool
  enabled:
    description: Whether the job runs on its schedule. PVE's default is V(true).
    type: bool
  comment:
    description: Description of the job. An empty string removes it.
    type: str
  mailto:
    description: E-mail addresses or users notified (with O(notification_mode=legacy-sendmail)). V([]) removes them.
    type: list
    elements: str
  notification_mode:
    description: How PVE notifies about the job. PVE's default is V(auto).
    type: str
    choices: [auto, legacy-sendmail, notification-system]
  fleecing:
    description: Backup fleecing for VMs - cache the blocks the guest overwrites during the backup on a local storage.
    type: dict
    suboptions:
      enabled:
        description: Whether fleecing is used.
        type: bool
        default: true
      storage:
        description: Storage of the fleecing images (a local one with thin provisioning).
        type: str
  node:
    description: Only run the job on this node. An empty string removes the restriction.
    type: str
  repeat_missed:
    description: Run a job whose start time was missed (node down) as soon as possible.
    type: bool
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Tenant acme's guests are backed up every night to the backup server, 7 daily and 4 weekly kept
  homecloud.proxmox.backup_job:
    id: homecloud-acme
    schedule: "02:30"
    pool: acme
    storage: pbs-main
    mode: snapshot
    prune_backups: {keep_daily: 7, keep_weekly: 4}
    notes_template: "{{ '{{guestname}}' }} (tenant acme)"
    comment: managed by homecloud.proxmox

- name: Everything else on Saturdays, the tenants' guests excluded
  homecloud.proxmox.backup_job:
    id: homecloud-rest
    schedule: sat 21:00
    all: true
    exclude: [4010, 4011]
    storage: local
    compress: zstd

- name: No more job for tenant acme
  homecloud.proxmox.backup_job:
    id: homecloud-acme
    state: absent
"""

RETURN = r"""
backup_job:
  description:
    - The job after the task (as planned in check mode) by PVE's keys, V(null) when absent - C(vmid) and C(exclude) as
      sorted lists of integers, C(mailto) as a list, C(prune-backups) and C(fleecing) as dicts, booleans as 0/1.
  returned: always
  type: dict
  sample: {schedule: "02:30", pool: acme, storage: pbs-main, enabled: 1, prune-backups: {keep-daily: 7, keep-weekly: 4}}
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["PUT /cluster/backup/homecloud-acme delete=vmid pool=acme"]
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

import re

from ansible_collections.homecloud.proxmox.plugins.module_utils.access import split_list
from ansible_collections.homecloud.proxmox.plugins.module_utils.base import create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxApiError
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ConvergeModule, Write, same_value
from ansible_collections.homecloud.proxmox.plugins.module_utils.storage import (
    StorageInputError,
    check_calendar_event,
    holds_planned,
    prune_backups,
    prune_backups_text,
)

# pve-common JSONSchema.pm pve-configid (POST id) and Backup.pm's {id} maxLength 50 (GET/PUT/DELETE)
JOB_ID_RE = re.compile(r"^[a-z][a-z0-9_-]+$", re.IGNORECASE)
JOB_ID_MAX = 50
# module option -> PVE key of the options compared one by one (the selection is handled apart)
API_KEYS = dict(schedule="schedule", storage="storage", mode="mode", compress="compress", prune_backups="prune-backups",
                notes_template="notes-template", protected="protected", enabled="enabled", comment="comment", mailto="mailto",
                notification_mode="notification-mode", fleecing="fleecing", node="node", repeat_missed="repeat-missed")
SELECTION = ("vmid", "pool", "all", "exclude")
BOOLEANS = ("enabled", "protected", "repeat-missed", "all")
VMID_LISTS = ("vmid", "exclude")
# What PVE assumes when the job leaves these out (pve-guest-common VZDump/Common.pm and JobBase.pm defaults)
DEFAULTS = {"enabled": 1, "protected": 0, "repeat-missed": 0, "all": 0, "mode": "snapshot", "compress": "0",
            "notification-mode": "auto"}
# Options an empty value removes (sent as PUT `delete`)
REMOVABLE = ("comment", "notes_template", "mailto", "node", "exclude")
# What GET adds that is not part of the job's definition
NOT_COMPARED = ("id", "type", "next-run", "digest")


def fleecing_view(value):
    """backup-fleecing ([enabled=]<bool>,storage=<id>) from PVE's object or property string, as a dict."""
    if value is None:
        return None
    if isinstance(value, dict):
        parsed = dict(value)
    else:
        parsed = {}
        for part in str(value).split(","):
            key, sep, item = part.strip().rpartition("=")
            if part.strip():
                parsed[key if sep else "enabled"] = item
    view = {"enabled": int(str(parsed.get("enabled", 0)).lower() in ("1", "true", "yes", "on"))}
    if parsed.get("storage"):
        view["storage"] = parsed["storage"]
    return view


def fleecing_text(view):
    return ",".join("{0}={1}".format(key, view[key]) for key in ("enabled", "storage") if key in view)


def vmid_list(value, field):
    """pve-vmid-list as a sorted list of ints (100 - 999999999), or StorageInputError naming the field."""
    vmids = []
    for item in split_list(value):
        if not re.match(r"^\d+$", item) or not 100 <= int(item) <= 999999999:
            raise StorageInputError("{0}: {1!r} is not a guest id (100 - 999999999); nothing was changed".format(field, item))
        vmids.append(int(item))
    return sorted(set(vmids))


def job_view(job):
    """PVE's job as compared and shown."""
    view = dict((key, value) for key, value in job.items() if key not in NOT_COMPARED)
    for key in VMID_LISTS:
        if key in view:
            view[key] = vmid_list(view[key], key + " (as PVE holds it)")
    for key in BOOLEANS:
        if key in view:
            view[key] = int(view[key])
    if view.get("prune-backups") is not None:
        view["prune-backups"] = prune_backups(view["prune-backups"], "prune-backups (as PVE holds it)")
    if view.get("fleecing") is not None:
        view["fleecing"] = fleecing_view(view["fleecing"])
    if "mailto" in view:
        view["mailto"] = split_list(view["mailto"])
    if "compress" in view:
        view["compress"] = str(view["compress"])
    return view


def same_job_value(key, current, desired):
    """Whether PVE's value means the declared one."""
    if current is None:
        current = DEFAULTS.get(key)
    if key in VMID_LISTS:
        return current is not None and set(current) == set(desired)
    if key == "fleecing":
        return current is not None and fleecing_view(current) == desired
    if key in ("prune-backups", "mailto"):
        return current == desired
    return same_value(current, desired)


def not_found(error):
    """Backup.pm read_job: a parameter error on id "No such job '<id>'"."""
    texts = [str(error.reason or "")] + list(error.details or []) + [str(item) for item in (error.errors or {}).values()]
    return any("no such job" in text.lower() for text in texts)


class BackupJob(ConvergeModule):
    result_key = "backup_job"

    def __init__(self, module):
        super(BackupJob, self).__init__(module)
        self.job_id = module.params["id"]
        self.working_on = "backup job " + self.job_id
        self.path = "/cluster/backup/" + self.job_id

    def read(self):
        try:
            return job_view(self.client.get(self.path))
        except ProxmoxApiError as error:
            if error.status in (400, 404, 500) and not_found(error):
                return None
            raise

    def selection(self):
        """The declared selection ({key: value}), or {} when the task leaves it alone."""
        params = self.module.params
        chosen = [name for name in ("pool", "vmids", "all") if params[name] is not None]
        if len(chosen) > 1:
            raise StorageInputError("{0}: choose one selection (pool, vmids or all); nothing was changed".format(", ".join(chosen)))
        if params["all"] is False:
            raise StorageInputError("all: false is not a selection; select with pool, vmids or all=true; nothing was changed")
        if params["exclude"] is not None and params["all"] is not True:
            raise StorageInputError("exclude: only with all=true (PVE replaces the exclusions when the selection changes); "
                                    "nothing was changed")
        if params["pool"] is not None:
            return {"pool": params["pool"]}
        if params["vmids"] is not None:
            vmids = vmid_list(params["vmids"], "vmids")
            if not vmids:
                raise StorageInputError("vmids: an empty list selects no guest; nothing was changed")
            return {"vmid": vmids}
        if params["all"]:
            selected = {"all": 1}
            if params["exclude"] is not None:
                selected["exclude"] = vmid_list(params["exclude"], "exclude") or None
            return selected
        return {}

    def declared(self):
        """{PVE key: value} of the options the task sets (None: remove), selection included."""
        params = self.module.params
        declared = {}
        for name, key in API_KEYS.items():
            value = params[name]
            if value is None:
                continue
            if name in REMOVABLE and value in ("", []):
                declared[key] = None
            elif name == "schedule":
                declared[key] = check_calendar_event(value)
            elif name == "prune_backups":
                declared[key] = prune_backups(value)
            elif name == "fleecing":
                declared[key] = fleecing_view(dict((item, part) for item, part in value.items() if part is not None))
            elif isinstance(value, bool):
                declared[key] = int(value)
            else:
                declared[key] = value
        declared.update(self.selection())
        return declared

    def plan(self):
        if not JOB_ID_RE.match(self.job_id) or len(self.job_id) > JOB_ID_MAX:
            raise StorageInputError("id: {0!r} is not a job id PVE takes (a letter, then letters, digits, '-' or '_', at most {1} "
                                    "characters); nothing was changed".format(self.job_id, JOB_ID_MAX))
        current = self.read()
        if self.module.params["state"] == "absent":
            if current is None:
                return [], None, None
            return [Write("DELETE", self.path, confirm=lambda: self.read() is None)], current, None
        declared = self.declared()
        stored = dict(current or {}, **dict((key, value) for key, value in declared.items() if value is not None))
        if (declared.get("notes-template") or declared.get("protected")) and not stored.get("storage"):
            raise StorageInputError("notes_template, protected: need a storage (PVE refuses them without one); nothing was changed")
        if current is None:
            return self.create(declared)
        return self.update(current, declared)

    def create(self, declared):
        missing = [name for name, present in (("schedule", "schedule" in declared),
                                              ("pool, vmids or all", any(key in declared for key in ("pool", "vmid", "all"))))
                   if not present]
        if missing:
            raise StorageInputError("{0}: required to create a backup job; nothing was changed".format("; ".join(missing)))
        settings = dict((key, value) for key, value in declared.items() if value is not None)
        after = dict(settings)
        return [Write("POST", "/cluster/backup", dict(self.wire(settings), id=self.job_id),
                      confirm=lambda: self.read() is not None)], None, after

    def update(self, current, declared):
        changes = dict((key, value) for key, value in declared.items()
                       if value is not None and not same_job_value(key, current.get(key), value))
        delete = set(key for key, value in declared.items() if value is None and current.get(key) is not None)
        if any(key in declared for key in ("pool", "vmid", "all")):
            # the keys of another selection go: Backup.pm replaces them, the plan says so
            delete.update(key for key in SELECTION if key not in declared and current.get(key) is not None
                          and not (key == "exclude" and "all" in declared))
        delete = sorted(delete)
        after = dict((key, value) for key, value in current.items() if key not in delete)
        after.update(changes)
        if not changes and not delete:
            return [], current, after
        params = self.wire(changes)
        if delete:
            params["delete"] = ",".join(delete)
        return [Write("PUT", self.path, params, confirm=lambda: holds_planned(self.read(), changes, delete, same_job_value))], current, after

    @staticmethod
    def wire(settings):
        """Values as PVE takes them: guest lists and mailto comma-joined, property strings for the dicts."""
        wire = dict(settings)
        for key in VMID_LISTS + ("mailto",):
            if key in wire:
                wire[key] = ",".join(str(item) for item in wire[key])
        if "prune-backups" in wire:
            wire["prune-backups"] = prune_backups_text(wire["prune-backups"])
        if "fleecing" in wire:
            wire["fleecing"] = fleecing_text(wire["fleecing"])
        return wire


def main():
    module = create_module(dict(
        id=dict(type="str", required=True, aliases=["name"]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        schedule=dict(type="str"),
        pool=dict(type="str"),
        vmids=dict(type="list", elements="int"),
        all=dict(type="bool"),
        exclude=dict(type="list", elements="int"),
        storage=dict(type="str"),
        mode=dict(type="str", choices=["snapshot", "suspend", "stop"]),
        compress=dict(type="str", choices=["0", "1", "gzip", "lzo", "zstd"]),
        prune_backups=dict(type="dict"),
        notes_template=dict(type="str"),
        protected=dict(type="bool"),
        enabled=dict(type="bool"),
        comment=dict(type="str"),
        mailto=dict(type="list", elements="str"),
        notification_mode=dict(type="str", choices=["auto", "legacy-sendmail", "notification-system"]),
        fleecing=dict(type="dict", options=dict(
            enabled=dict(type="bool", default=True),
            storage=dict(type="str"),
        )),
        node=dict(type="str"),
        repeat_missed=dict(type="bool"),
    ), supports_check_mode=True, mutually_exclusive=[("pool", "vmids", "all")])
    BackupJob(module).execute()


if __name__ == "__main__":
    main()
