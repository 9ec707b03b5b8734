#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: pool
short_description: Manage one Proxmox VE resource pool and its members
version_added: 0.1.0
description:
  - Creates, updates or removes one resource pool, with its comment and its members (guests and storages).
  - Members are added with O(exclusive=false) (the default); with O(exclusive=true) the pool is left with exactly
    the listed members of each kind given (O(vms), O(storage)), others of that kind are taken out.
  - Uses the calls PVE 8.1 and later offer in PVE 8.4 and 9.1 alike (pve-manager C(PVE/API2/Pool.pm)), which are
    C(GET /pools?poolid=), C(POST /pools), C(PUT /pools) with C(poolid) (the C(/pools/{poolid}) calls are deprecated
    there) and C(DELETE /pools?poolid=). Nested pool ids (C(parent/child), PVE 8.1+) are accepted.
  - Guests to add must exist; a guest in another pool is refused unless O(allow_move). Both are checked from one
    C(GET /cluster/resources) before any write, with PVE's own message. Storages to add are checked against
    C(GET /storage) (PVE adds any storage id, but lists only configured ones as members).
  - The task plans every write first; check mode and diff mode show that plan.
options:
  poolid:
    description: Pool id; letters, digits, C(.), C(-), C(_), up to three levels separated by C(/).
    type: str
    required: true
    aliases: [name]
  comment:
    description: Free text. An empty string removes it.
    type: str
  vms:
    description: Guest ids (VMs and containers) in the pool. Not set leaves the pool's guests alone.
    type: list
    elements: int
  storage:
    description: Storage ids in the pool. Not set leaves the pool's storages alone.
    type: list
    elements: str
  exclusive:
    description:
      - V(true) takes out of the pool the guests not in O(vms) (when O(vms) is set) and the storages not in
        O(storage) (when O(storage) is set); V([]) then empties that kind.
      - V(false) only adds.
    type: bool
    default: false
  allow_move:
    description:
      - Move a guest that is in another pool into this one (PVE's C(allow-move)); without it such a guest fails the
        task before any write.
    type: bool
    default: false
  force:
    description:
      - With O(state=absent), take the members out of the pool and then remove it. Without it, a pool with members
        fails the task before any write (PVE only deletes empty pools).
    type: bool
    default: false
  state:
    description: Whether the pool must exist. Removing a pool never removes its guests or storages.
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
- name: Tenant acme's guests, and nothing else, in pool acme
  homecloud.proxmox.pool:
    poolid: acme
    comment: tenant acme
    vms: [4010, 4011]
    exclusive: true

- name: Move guest 4012 from pool staging into pool acme
  homecloud.proxmox.pool:
    poolid: acme
    vms: [4012]
    allow_move: true
"""

RETURN = r"""
pool:
  description: The pool after the task (as planned in check mode), members sorted; V(null) when absent.
  returned: always
  type: dict
  sample: {poolid: acme, comment: tenant acme, vms: [4010, 4011], storage: []}
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["POST /pools comment=tenant acme poolid=acme", "PUT /pools poolid=acme vms=4010,4011"]
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

from ansible_collections.homecloud.proxmox.plugins.module_utils.access import (
    POOLID_RE,
    check_id,
    members_of,
    not_found,
    same_text,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.base import create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxApiError, ProxmoxError
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ObjectModule, Write

MEMBER_KINDS = ("vms", "storage")


def member_target(current, declared, exclusive):
    """The members of one kind the pool must end with: exactly the declared ones, or the current plus them."""
    if exclusive:
        return sorted(set(declared))
    return sorted(set(current) | set(declared))


class Pool(ObjectModule):
    result_key = "pool"

    def __init__(self, module):
        super(Pool, self).__init__(module)
        self.poolid = module.params["poolid"]
        self.working_on = "pool " + self.poolid

    def read(self):
        check_id(self.poolid, POOLID_RE, "poolid", "pool")
        try:
            answer = self.client.get("/pools", poolid=self.poolid)
        except ProxmoxApiError as error:
            if not_found(error):
                return None
            raise
        pool = (answer or [{}])[0]
        vms, storage = members_of(pool)
        current = dict(poolid=self.poolid, vms=vms, storage=storage)
        if pool.get("comment") is not None:
            current["comment"] = pool["comment"]
        return current

    def desired(self):
        params = self.module.params
        desired = dict(poolid=self.poolid)
        if params["comment"] is not None:
            desired["comment"] = params["comment"]
        for kind in MEMBER_KINDS:
            if params[kind] is not None:
                desired[kind] = member_target([], params[kind], True)
        return desired

    def compare(self, current, desired):
        changes = {}
        if "comment" in desired and not same_text(current.get("comment"), desired["comment"]):
            changes["comment"] = desired["comment"]
        for kind in MEMBER_KINDS:
            if kind in desired:
                target = member_target(current.get(kind) or [], desired[kind], self.module.params["exclusive"])
                if target != sorted(current.get(kind) or []):
                    changes[kind] = target
        return changes

    def plan(self):
        writes, before, after = super(Pool, self).plan()
        if after is not None:
            after.setdefault("vms", [])
            after.setdefault("storage", [])
            self.check_additions(before or dict(vms=[], storage=[]), after)
        if before is not None and self.module.params["state"] == "absent" and (before["vms"] or before["storage"]) \
                and not self.module.params["force"]:
            raise ProxmoxError("pool '{0}' is not empty (guests {1}, storages {2}): PVE only deletes empty pools; take "
                               "the members out or set force=true; nothing was changed".format(
                                   self.poolid, before["vms"], before["storage"]))
        return writes, before, after

    def check_additions(self, before, after):
        """Refuse, before any write, what PVE would refuse half-way or accept without effect."""
        guests = sorted(set(after["vms"]) - set(before["vms"]))
        if guests:
            known = dict((int(entry["vmid"]), entry) for entry in self.client.get("/cluster/resources", type="vm"))
            missing = [vmid for vmid in guests if vmid not in known]
            if missing:
                raise ProxmoxError("vms: guest(s) {0} do not exist; nothing was changed".format(
                    ", ".join(str(vmid) for vmid in missing)))
            for vmid in guests:
                other = known[vmid].get("pool")
                if other and other != self.poolid and not self.module.params["allow_move"]:
                    # pve-manager PVE/API2/Pool.pm update_pool's words
                    raise ProxmoxError("VM {0} belongs already to pool '{1}' and 'allow-move' is not set; set "
                                       "allow_move=true to move it; nothing was changed".format(vmid, other))
        storages = sorted(set(after["storage"]) - set(before["storage"]))
        if storages:
            configured = set(entry["storage"] for entry in self.client.get("/storage"))
            missing = [storage for storage in storages if storage not in configured]
            if missing:
                raise ProxmoxError("storage: {0} not configured (GET /storage); nothing was changed".format(
                    ", ".join(missing)))

    def member_writes(self, current, target):
        """One PUT adding members (with the comment, if it changes) and one PUT delete=1 taking members out."""
        adding, removing = {}, {}
        for kind in MEMBER_KINDS:
            if kind in target:
                adding[kind] = sorted(set(target[kind]) - set(current.get(kind) or []))
                removing[kind] = sorted(set(current.get(kind) or []) - set(target[kind]))
        writes = []
        add_params = dict((kind, ",".join(str(item) for item in items)) for kind, items in adding.items() if items)
        if "comment" in target:
            add_params["comment"] = target["comment"]
        if add_params:
            if adding.get("vms") and self.module.params["allow_move"]:
                add_params["allow-move"] = True
            writes.append(Write("PUT", "/pools", dict(add_params, poolid=self.poolid)))
        remove_params = dict((kind, ",".join(str(item) for item in items)) for kind, items in removing.items() if items)
        if remove_params:
            writes.append(Write("PUT", "/pools", dict(remove_params, poolid=self.poolid, delete=True)))
        return writes

    def create_writes(self, desired):
        create = dict((key, desired[key]) for key in ("poolid", "comment") if key in desired)
        members = dict((kind, desired[kind]) for kind in MEMBER_KINDS if desired.get(kind))
        return [Write("POST", "/pools", create, confirm=lambda: self.read() is not None)] + \
            self.member_writes(dict(vms=[], storage=[]), members)

    def update_writes(self, current, changes):
        # PUT /pools refuses a guest or storage already in the pool ("... is already a pool member"),
        # so a lost answer is not resent: confirm=None reports it as uncertain
        return self.member_writes(current, changes)

    def delete_writes(self, current):
        emptying = self.member_writes(current, dict(vms=[], storage=[]))
        return emptying + [Write("DELETE", "/pools", dict(poolid=self.poolid), confirm=lambda: self.holds(None))]


def main():
    module = create_module(dict(
        poolid=dict(type="str", required=True, aliases=["name"]),
        comment=dict(type="str"),
        vms=dict(type="list", elements="int"),
        storage=dict(type="list", elements="str"),
        exclusive=dict(type="bool", default=False),
        allow_move=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    ), supports_check_mode=True)
    Pool(module).execute()


if __name__ == "__main__":
    main()
