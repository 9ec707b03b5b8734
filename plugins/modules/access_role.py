#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: access_role
short_description: Manage one Proxmox VE role (a named set of privileges)
version_added: 0.1.0
description:
  - Creates, updates or removes one custom role of PVE's access control (C(/access/roles)).
  - Built-in roles (C(Administrator), C(NoAccess), the C(PVE*) roles; PVE marks them C(special)) cannot be changed
    or removed; PVE refuses with C(auto-generated role '<role>' cannot be modified) (pve-access-control
    C(src/PVE/API2/Role.pm)). The module refuses them before any write, and also new role ids starting with C(PVE)
    (any case), which PVE keeps for itself.
  - Every privilege of O(privs) is checked before any write against the privileges of the running PVE version, which
    are those of the built-in C(Administrator) role (C(GET /access/roles)); an unknown one fails the task with its
    position, for example C(privs[2]) and C(invalid privilege 'VM.Foo').
  - The task reads the role list once, plans the writes, then sends them; check mode and diff mode show that plan.
options:
  roleid:
    description: Role id; letters, digits, C(.), C(-) and C(_) (pve-access-control C(verify_rolename)).
    type: str
    required: true
    aliases: [name]
  privs:
    description:
      - The role's privileges, compared as a set; the role is left with exactly these.
      - V([]) leaves the role without privileges. When not set, an existing role's privileges are left alone and a
        new role is created without any.
    type: list
    elements: str
  state:
    description: Whether the role must exist. PVE drops the ACL entries that grant a removed role.
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
- name: A role that may power guests on and off and look at them
  homecloud.proxmox.access_role:
    roleid: GuestOperator
    privs: [VM.Audit, VM.Console, VM.PowerMgmt]
"""

RETURN = r"""
role:
  description: The role after the task (as planned in check mode), privileges sorted; V(null) when absent.
  returned: always
  type: dict
  sample: {roleid: GuestOperator, privs: [VM.Audit, VM.Console, VM.PowerMgmt]}
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["POST /access/roles privs=VM.Audit,VM.Console,VM.PowerMgmt roleid=GuestOperator"]
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

from ansible_collections.homecloud.proxmox.plugins.module_utils.access import (
    ROLEID_RE,
    check_id,
    find,
    privilege_errors,
    privileges,
    same_set,
    valid_privileges,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.base import create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxError
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ObjectModule, Write

# pve-access-control src/PVE/API2/Role.pm create_role (since 00b90e7): new role ids must not
# start with 'PVE' in any case.
RESERVED_PREFIX = re.compile(r"^PVE", re.IGNORECASE)


class AccessRole(ObjectModule):
    result_key = "role"

    def __init__(self, module):
        super(AccessRole, self).__init__(module)
        self.roleid = module.params["roleid"]
        self.working_on = "role " + self.roleid
        self.roles = None
        self.checked = False

    def read(self):
        check_id(self.roleid, ROLEID_RE, "roleid", "role")
        self.roles = self.client.get("/access/roles")
        role = find(self.roles, "roleid", self.roleid)
        if not self.checked:  # the first read, before any write is planned
            self.checked = True
            self.refuse_unwritable(role)
            self.check_privileges()
        if role is None:
            return None
        return dict(roleid=self.roleid, privs=privileges(role))

    def refuse_unwritable(self, role):
        if role is not None and int(role.get("special") or 0):
            # PVE's own words (Role.pm update_role, delete_role), said before anything is sent
            raise ProxmoxError("auto-generated role '{0}' cannot be {1}: it is built into PVE; choose another roleid; "
                               "nothing was changed".format(
                                   self.roleid, "deleted" if self.module.params["state"] == "absent" else "modified"))
        if role is None and self.module.params["state"] == "present" and RESERVED_PREFIX.match(self.roleid):
            raise ProxmoxError("roleid: cannot use role ID starting with the (case-insensitive) 'PVE' namespace; "
                               "nothing was changed")

    def check_privileges(self):
        declared = self.module.params["privs"]
        if not declared or self.module.params["state"] == "absent":
            return
        errors = privilege_errors(declared, valid_privileges(self.roles))
        if errors:
            raise ProxmoxError("{0} (the valid privileges of this PVE are those of the built-in Administrator role, "
                               "GET /access/roles); nothing was changed".format("; ".join(errors)))

    def desired(self):
        desired = dict(roleid=self.roleid)
        if self.module.params["privs"] is not None:
            desired["privs"] = sorted(set(self.module.params["privs"]))
        return desired

    def compare(self, current, desired):
        if "privs" in desired and not same_set(current.get("privs"), desired["privs"]):
            return dict(privs=desired["privs"])
        return {}

    @staticmethod
    def wire(params):
        """PVE takes the privileges as one comma-separated string (format pve-priv-list)."""
        return dict(params, privs=",".join(params["privs"])) if "privs" in params else params

    def create_writes(self, desired):
        return [Write("POST", "/access/roles", self.wire(desired), confirm=lambda: self.holds(desired))]

    def update_writes(self, current, changes):
        # without append, PVE replaces the privileges (Role.pm update_role)
        return [Write("PUT", "/access/roles/" + self.roleid, self.wire(changes), confirm=lambda: self.holds(changes))]

    def delete_writes(self, current):
        return [Write("DELETE", "/access/roles/" + self.roleid, confirm=lambda: self.holds(None))]


def main():
    module = create_module(dict(
        roleid=dict(type="str", required=True, aliases=["name"]),
        privs=dict(type="list", elements="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    ), supports_check_mode=True)
    AccessRole(module).execute()


if __name__ == "__main__":
    main()
