#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: access_acl
short_description: Converge entries of Proxmox VE's access control list
version_added: 0.1.0
description:
  - Makes sure each entry of O(acl) (a path, a role, and the user, group or API token it is granted to) is present
    with its O(acl[].propagate) flag, or absent.
  - Entry by entry, from one read of C(GET /access/acl), with one C(PUT /access/acl) per entry to grant or to change its
    propagate flag, one with C(delete=1) per entry to revoke. Entries the task does not name are left alone, except
    on the paths of O(exclusive_paths).
  - Roles, users, groups and tokens that need a write are checked to exist before the first write, so a typo fails
    the task before it changed anything. In check mode a missing one is a warning instead, since an earlier task of
    the play may create it.
  - Check mode and diff mode show the planned writes and the entries of the touched paths before and after.
options:
  acl:
    description: The entries to converge.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - ACL path, for example V(/), V(/vms/100), V(/pool/acme), V(/storage/local), V(/sdn/zones/acme).
          - Written as PVE keeps it (one leading C(/), no trailing C(/)).
        type: str
        required: true
      role:
        description: Role granted on O(acl[].path) (see M(homecloud.proxmox.access_role)).
        type: str
        required: true
      user:
        description: User the entry grants to, C(name@realm). Exactly one of O(acl[].user), O(acl[].group), O(acl[].token).
        type: str
      group:
        description: Group the entry grants to.
        type: str
      token:
        description: API token the entry grants to, by its full id C(user@realm!name).
        type: str
      propagate:
        description: Whether the entry also applies below O(acl[].path).
        type: bool
        default: true
      state:
        description: Whether the entry must exist.
        type: str
        choices: [present, absent]
        default: present
  exclusive_paths:
    description:
      - Paths on which the entries of O(acl) are the only ones; every other entry on these paths (of any user, group
        or token) is revoked. Paths not listed here keep their other entries.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Tenant acme's operators run the acme pool, and nobody else holds anything on it
  homecloud.proxmox.access_acl:
    acl:
      - {path: /pool/acme, role: PVEVMAdmin, group: acme-ops}
      - {path: /pool/acme, role: PVEAuditor, token: "acme-bot@pve!ci"}
      - {path: /, role: PVEAuditor, user: old-admin@pve, state: absent}
    exclusive_paths: [/pool/acme]
"""

RETURN = r"""
acl:
  description: The entries of the touched paths (those of O(acl) and O(exclusive_paths)) after the task (as planned in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{path: /pool/acme, type: group, ugid: acme-ops, roleid: PVEVMAdmin, propagate: true}]
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["PUT /access/acl groups=acme-ops path=/pool/acme propagate=1 roles=PVEVMAdmin"]
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
    AclEntry,
    acl_after,
    acl_view,
    declared_acl_entry,
    plan_acl,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.base import create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxError
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ConvergeModule


class AccessAcl(ConvergeModule):
    result_key = "acl"

    def plan(self):
        params = self.module.params
        self.working_on = "the access control list"
        declared = [(declared_acl_entry(item, index), item["state"]) for index, item in enumerate(params["acl"])]
        current = [AclEntry.from_api(entry) for entry in self.client.get("/access/acl")]
        writes, touched = plan_acl(current, declared, params["exclusive_paths"])
        held = set(entry.key for entry in current)
        self.check_grantees([entry for entry, state in declared if state == "present" and entry.key not in held])
        return (writes, acl_view(current, touched), acl_view(acl_after(current, declared, params["exclusive_paths"]), touched))

    def check_grantees(self, entries):
        """Fail before any write when a granted entry names a role, user, group or token PVE does not have
        (pve-access-control src/PVE/API2/ACL.pm would refuse it half-way through the list)."""
        if not entries:
            return
        missing = []
        roles = set(role["roleid"] for role in self.client.get("/access/roles"))
        missing += ["role '{0}'".format(entry.role) for entry in entries if entry.role not in roles]
        if any(entry.kind == "group" for entry in entries):
            groups = set(group["groupid"] for group in self.client.get("/access/groups"))
            missing += ["group '{0}'".format(entry.ugid) for entry in entries if entry.kind == "group" and entry.ugid not in groups]
        if any(entry.kind in ("user", "token") for entry in entries):
            users = dict((user["userid"], user) for user in self.client.get("/access/users", full=1))
            for entry in entries:
                if entry.kind == "user" and entry.ugid not in users:
                    missing.append("user '{0}'".format(entry.ugid))
                elif entry.kind == "token":
                    userid, _sep, tokenid = entry.ugid.partition("!")
                    names = [token.get("tokenid") for token in (users.get(userid) or {}).get("tokens") or []]
                    if tokenid not in names:
                        missing.append("token '{0}'".format(entry.ugid))
        if not missing:
            return
        text = "acl: not found in PVE: {0}".format(", ".join(sorted(set(missing))))
        if self.module.check_mode:
            # an earlier task of the play may create them; in check mode it did not
            self.module.warn(text + " (unless an earlier task creates them)")
            return
        raise ProxmoxError(text + "; create them first; nothing was changed")


def main():
    module = create_module(dict(
        acl=dict(type="list", elements="dict", required=True, options=dict(
            path=dict(type="str", required=True),
            role=dict(type="str", required=True),
            user=dict(type="str"),
            group=dict(type="str"),
            token=dict(type="str", no_log=False),
            propagate=dict(type="bool", default=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        )),
        exclusive_paths=dict(type="list", elements="str", default=[]),
    ), supports_check_mode=True)
    AccessAcl(module).execute()


if __name__ == "__main__":
    main()
