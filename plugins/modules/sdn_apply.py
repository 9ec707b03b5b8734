#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sdn_apply
short_description: Apply, roll back or unlock the Proxmox VE SDN configuration, once
version_added: 0.1.0
description:
  - With O(state=applied), applies the pending SDN configuration (C(PUT /cluster/sdn)) if, and only if, something
    is pending, waits for the reload task on all nodes and reports it. Nothing pending means no write at all.
  - Lists what is pending, with C(before) (running) and C(after) (pending) of every object in diff mode.
  - Pending changes this run did not make are refused when O(changes) names what the run changed, unless
    O(allow_foreign_pending=true); this holds for O(state=applied) and O(state=rolled_back) alike, since a
    rollback discards every pending change.
  - With O(state=rolled_back) (PVE 9.x), discards every pending change (C(POST /cluster/sdn/rollback)).
  - With O(state=unlocked) (PVE 9.x), releases the global SDN lock held with O(lock_token), or any holder's with
    O(force=true). It reports a change only when a lock was held. PVE has no call that reads the lock, so the
    module asks with a release carrying a token no lock can have, which changes nothing (also in check mode).
  - An apply or rollback whose answer is lost (a proxy's 502/504, a dropped connection) is not sent again
    blindly; the module reads the pending state to learn whether it happened.
options:
  state:
    description: What to do.
    type: str
    choices: [applied, rolled_back, unlocked]
    default: applied
  changes:
    description:
      - The objects this run changed, as the SDN modules return them in RV(homecloud.proxmox.tenant_network#module:sdn_changes) (V(kind/id)).
      - When given, a pending change on any other object is foreign, and refused unless O(allow_foreign_pending=true).
      - When not given, everything pending is applied and listed, as the web interface's Apply button does.
    type: list
    elements: str
  force:
    description: With O(state=unlocked), release the lock without its token (a stale lock of a crashed run).
    type: bool
    default: false
  lock_token:
    description: The global SDN lock token (PVE 9.x) the run holds; it is used and released.
    type: str
  allow_foreign_pending:
    description: Apply pending changes that are not in O(changes) as well.
    type: bool
    default: false
  apply_timeout:
    description: Seconds to wait for the apply task.
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
- name: Zones and VNets changed by separate tasks, pending
  homecloud.proxmox.sdn_zone:
    zone: acme
    type: evpn
    controller: evpnctl
    vrf_vxlan: 10003
  register: acme_zone

- name: Apply once at the end of the run, refusing anybody else's pending changes
  homecloud.proxmox.sdn_apply:
    changes: "{{ acme_zone.sdn_changes }}"

- name: Release a lock left behind by a crashed run
  homecloud.proxmox.sdn_apply:
    state: unlocked
    force: true
"""

RETURN = r"""
pending:
  description: Objects that were pending before the task, as V(kind/id).
  returned: always
  type: list
  elements: str
  sample: [zone/acme, vnet/acme01]
foreign:
  description: Pending objects that are not in O(changes).
  returned: always
  type: list
  elements: str
rolled_back:
  description: The pending objects that a rollback discarded.
  returned: when rolled back
  type: list
  elements: str
applied:
  description: Whether the configuration was applied (in check mode, whether it would be).
  returned: always
  type: bool
apply_task:
  description: UPID of the apply task.
  returned: when applied
  type: str
"""

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import ProxmoxModule, create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxError
from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn import TRANSACTION_SPEC, SdnReader, SdnTransaction, read_everything


class SdnApply(ProxmoxModule):

    def run(self):
        params = self.module.params
        if params["state"] == "unlocked":
            self.unlock()
            return
        reader = SdnReader(self.client)
        pending = read_everything(reader)
        refs = sorted(found.ref for found in pending)
        foreign = [ref for ref in refs if params["changes"] is not None and ref not in params["changes"]]
        self.result.update(pending=refs, foreign=foreign, applied=False)
        if self.module._diff:  # pylint: disable=protected-access
            self.result["diff"] = dict(
                before=dict((found.ref, found.running) for found in pending if found.running is not None),
                after=dict((found.ref, found.options) for found in pending if found.exists))
        if foreign and not params["allow_foreign_pending"]:
            verb = "apply" if params["state"] == "applied" else "discard"
            raise ProxmoxError("pending SDN changes that this run did not make: {0}; set allow_foreign_pending=true "
                               "to {1} them too; nothing was changed".format(", ".join(foreign), verb))
        if params["state"] == "rolled_back" and not self.client.version.at_least(9):
            raise ProxmoxError("PVE {0} has no SDN rollback (it came with PVE 9.0)".format(self.client.version))
        if params["lock_token"]:
            transaction = SdnTransaction.with_callers_lock(self.client, params["lock_token"])
        else:
            transaction = SdnTransaction(self.client, allow_pending=True)
        if not pending:
            if not self.module.check_mode:
                transaction.release()  # the caller's lock, handed to us to release
            return
        self.result["changed"] = True
        if self.module.check_mode:
            self.result["applied"] = params["state"] == "applied"
            return
        try:
            if params["state"] == "rolled_back":
                transaction.rollback()
                self.result["rolled_back"] = refs
            else:
                transaction.apply(params["apply_timeout"])
        finally:
            self.result.update(applied=transaction.outcome.applied)
            if transaction.outcome.apply_task:
                self.result["apply_task"] = transaction.outcome.apply_task
            transaction.release()

    def unlock(self):
        params = self.module.params
        if not self.client.version.at_least(9):
            raise ProxmoxError("PVE {0} has no global SDN lock (it came with PVE 9.0)".format(self.client.version))
        if not (params["lock_token"] or params["force"]):
            raise ProxmoxError("state=unlocked needs lock_token, or force=true to release any holder's lock")
        transaction = SdnTransaction(self.client)
        self.result["changed"] = transaction.lock_is_held()
        if self.result["changed"] and not self.module.check_mode:
            self.client.delete("/cluster/sdn/lock", **{"lock-token": params["lock_token"], "force": params["force"] or None})


def main():
    # The transaction options of the other SDN modules, less `apply`, which is what this module does.
    spec = dict((name, option) for name, option in TRANSACTION_SPEC.items() if name != "apply")
    spec.update(
        state=dict(type="str", default="applied", choices=["applied", "rolled_back", "unlocked"]),
        changes=dict(type="list", elements="str"),
        force=dict(type="bool", default=False),
    )
    module = create_module(spec, supports_check_mode=True)
    SdnApply(module).execute()


if __name__ == "__main__":
    main()
