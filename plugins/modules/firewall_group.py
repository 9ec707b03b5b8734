#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: firewall_group
short_description: Manage one Proxmox VE firewall security group
version_added: 0.1.0
description:
  - Creates, updates (its comment) or removes a cluster-wide security group. Its rules are managed with
    M(homecloud.proxmox.firewall_rules) and O(homecloud.proxmox.firewall_rules#module:scope=group); rules at other
    scopes insert it with O(homecloud.proxmox.firewall_rules#module:rules[].type=group).
  - PVE refuses to remove a group that still has rules; so does this module unless O(force=true), which deletes the
    group's rules first (each with the list's digest) and then the group.
options:
  name:
    description: The group's name; 2 to 18 characters, letters, digits, V(-) and V(_), starting with a letter.
    type: str
    required: true
    aliases: [group]
  comment:
    description: The group's comment. Unset leaves it as it is; V("") removes it.
    type: str
  state:
    description: Whether the group must exist.
    type: str
    choices: [present, absent]
    default: present
  force:
    description: With O(state=absent), delete the group's rules too.
    type: bool
    default: false
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: A security group for web servers
  homecloud.proxmox.firewall_group:
    name: webservers
    comment: HTTP and HTTPS from anywhere

- name: Remove it with its rules
  homecloud.proxmox.firewall_group:
    name: webservers
    state: absent
    force: true
"""

RETURN = r"""
group:
  description: The group after the task (as planned in check mode); V(null) when it does not exist.
  returned: success
  type: dict
  sample: {group: webservers, comment: HTTP and HTTPS from anywhere}
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["POST /cluster/firewall/groups comment=web group=webservers"]
written:
  description: After a failure, the calls of RV(writes) that were made before it; they are not undone.
  returned: on failure
  type: list
  elements: str
"""

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.firewall import (
    MAX_GROUP_NAME,
    FirewallInputError,
    RuleWrite,
    Scope,
    check_name,
    plan_rule_calls,
    read_rules,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ObjectModule, Write

GROUPS = "/cluster/firewall/groups"


class FirewallGroup(ObjectModule):

    result_key = "group"

    def __init__(self, module):
        ObjectModule.__init__(self, module)
        self.name = module.params["name"]
        self.working_on = "security group {0}".format(self.name)

    def plan(self):
        check_name("name", self.name, MAX_GROUP_NAME)
        return ObjectModule.plan(self)

    def read(self):
        for entry in self.client.get(GROUPS):
            if entry["group"] == self.name:
                return dict((key, entry[key]) for key in ("group", "comment") if entry.get(key) not in (None, ""))
        return None

    def desired(self):
        desired = dict(group=self.name)
        if self.module.params["comment"]:
            desired["comment"] = self.module.params["comment"]
        return desired

    def compare(self, current, desired):
        comment = self.module.params["comment"]
        if comment is None or comment == (current.get("comment") or ""):
            return {}
        return dict(comment=comment)

    def create_writes(self, desired):
        return [Write("POST", GROUPS, desired)]

    def update_writes(self, current, changes):
        # Groups.pm create_security_group: rename equal to group only updates the comment
        return [Write("POST", GROUPS, dict(group=self.name, rename=self.name, comment=changes["comment"]))]

    def delete_writes(self, current):
        scope = Scope("group", "{0}/{1}".format(GROUPS, self.name), "security group {0}".format(self.name),
                      rules_path="{0}/{1}".format(GROUPS, self.name))
        rules = read_rules(self.client, scope)
        if rules and not self.module.params["force"]:
            raise FirewallInputError("security group '{0}' has {1} rule(s); PVE removes only empty groups: set force: true "
                                     "to delete its rules too; nothing was changed".format(self.name, len(rules)))
        calls, _after = plan_rule_calls(rules, [], exclusive=True)
        return [RuleWrite(self.client, scope, call) for call in calls] + [Write("DELETE", scope.rules_path)]


def main():
    module = create_module(dict(
        name=dict(type="str", required=True, aliases=["group"]),
        comment=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        force=dict(type="bool", default=False),
    ), supports_check_mode=True)
    FirewallGroup(module).execute()


if __name__ == "__main__":
    main()
