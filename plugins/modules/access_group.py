#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: access_group
short_description: Manage one Proxmox VE user group
version_added: 0.1.0
description:
  - Creates, updates or removes one group of PVE's access control (C(/access/groups)).
  - Members are set on the users, with M(homecloud.proxmox.access_user)'s O(homecloud.proxmox.access_user#module:groups).
  - The task reads the group list once, plans the writes, then sends them; check mode and diff mode show that plan.
options:
  groupid:
    description: Group id; letters, digits, C(.), C(-) and C(_) (pve-access-control C(verify_groupname)).
    type: str
    required: true
    aliases: [name]
  comment:
    description: Free text. An empty string removes the comment. Left alone when not set.
    type: str
  state:
    description:
      - Whether the group must exist.
      - PVE removes a deleted group from its users and drops the group's ACL entries.
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
- name: The operators of tenant acme
  homecloud.proxmox.access_group:
    groupid: acme-ops
    comment: acme operators
"""

RETURN = r"""
group:
  description: The group after the task (as planned in check mode); V(null) when absent.
  returned: always
  type: dict
  sample: {groupid: acme-ops, comment: acme operators}
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["POST /access/groups comment=acme operators groupid=acme-ops"]
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

from ansible_collections.homecloud.proxmox.plugins.module_utils.access import GROUPID_RE, check_id, find, same_text
from ansible_collections.homecloud.proxmox.plugins.module_utils.base import create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ObjectModule, Write, defined, option_changes


class AccessGroup(ObjectModule):
    result_key = "group"

    def __init__(self, module):
        super(AccessGroup, self).__init__(module)
        self.groupid = module.params["groupid"]
        self.working_on = "group " + self.groupid

    def read(self):
        check_id(self.groupid, GROUPID_RE, "groupid", "group")
        group = find(self.client.get("/access/groups"), "groupid", self.groupid)
        if group is None:
            return None
        return dict((key, group[key]) for key in ("groupid", "comment") if group.get(key) is not None)

    def desired(self):
        return dict(defined(self.module.params, ["comment"]), groupid=self.groupid)

    def compare(self, current, desired):
        return option_changes(current, desired, same=same_text)

    def create_writes(self, desired):
        return [Write("POST", "/access/groups", desired, confirm=lambda: self.holds(desired))]

    def update_writes(self, current, changes):
        return [Write("PUT", "/access/groups/" + self.groupid, changes, confirm=lambda: self.holds(changes))]

    def delete_writes(self, current):
        return [Write("DELETE", "/access/groups/" + self.groupid, confirm=lambda: self.holds(None))]


def main():
    module = create_module(dict(
        groupid=dict(type="str", required=True, aliases=["name"]),
        comment=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    ), supports_check_mode=True)
    AccessGroup(module).execute()


if __name__ == "__main__":
    main()
