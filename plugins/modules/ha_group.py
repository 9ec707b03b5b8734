#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ha_group
short_description: Manage one Proxmox VE 8.x HA group
version_added: 0.1.0
description:
  - Creates, updates or removes one HA group (C(/cluster/ha/groups)), the nodes an HA resource prefers or is
    restricted to on PVE 8.x.
  - PVE 9.x replaced HA groups by HA rules and migrates existing groups to node-affinity rules; there the group calls
    refuse every change. On PVE 9.0 or later this module fails before any write, naming the version; use
    M(homecloud.proxmox.ha_rule) there, or M(homecloud.proxmox.ha_resource) with O(homecloud.proxmox.ha_resource#module:nodes),
    which works on both.
  - A group still used by an HA resource is not removed (PVE refuses it); the task fails before any write, naming the
    resources.
  - The task plans every write first; check mode and diff mode show that plan.
options:
  group:
    description: Group id (a letter, then letters, digits, C(-), C(_)).
    type: str
    required: true
    aliases: [name]
  nodes:
    description:
      - "The group's nodes with their priorities, as a mapping (V({pve2: 2, pve3: 1})), a list (V([pve2:2, pve3])) or
        PVE's string (V(pve2:2,pve3)). A node without a priority has priority 0; higher numbers are preferred."
      - Required to create a group. Compared as a set, whatever order PVE keeps.
    type: raw
  restricted:
    description: Resources of a restricted group only run on its nodes (they stop when none is online).
    type: bool
  nofailback:
    description: Do not move a resource back when a node of higher priority comes online.
    type: bool
  comment:
    description: Free text. An empty string removes it.
    type: str
  state:
    description: Whether the group must exist.
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
- name: Web guests prefer pve2, then pve3, and never run elsewhere (PVE 8.x)
  homecloud.proxmox.ha_group:
    group: web
    nodes: {pve2: 2, pve3: 1}
    restricted: true
    comment: web tier
"""

RETURN = r"""
group:
  description: The group after the task (as planned in check mode), nodes as a mapping of priorities; V(null) when absent.
  returned: success
  type: dict
  sample: {group: web, nodes: {pve2: 2, pve3: 1}, restricted: 1, nofailback: 0, comment: web tier, type: group}
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["POST /cluster/ha/groups comment=web tier group=web nodes=pve2:2,pve3:1 restricted=1"]
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
from ansible_collections.homecloud.proxmox.plugins.module_utils.ha import (
    GROUP_DEFAULTS,
    GROUPS,
    HaInputError,
    check_configid,
    group_path,
    ha_groups,
    ha_resources,
    option_changes,
    parse_node_list,
    require_generation,
    shown_object,
    wire_params,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ObjectModule, Write


def declared_group(params):
    """The declared group options by API name; unset ones left out."""
    desired = dict((key, params[key]) for key in ("restricted", "nofailback", "comment") if params.get(key) is not None)
    if params.get("nodes") is not None:
        desired["nodes"] = parse_node_list(params["nodes"])
        if not desired["nodes"]:
            raise HaInputError("nodes: a group needs at least one node; nothing was changed")
    return desired


class HaGroup(ObjectModule):
    result_key = "group"

    def __init__(self, module):
        super(HaGroup, self).__init__(module)
        self.group = module.params["group"]
        self.working_on = "HA group " + self.group

    def read(self):
        return ha_groups(self.client).get(self.group)

    def desired(self):
        return declared_group(self.module.params)

    def compare(self, current, desired):
        return option_changes(current, desired)

    def create_writes(self, desired):
        if "nodes" not in desired:
            raise HaInputError("nodes is required to create HA group '{0}'; nothing was changed".format(self.group))
        return [Write("POST", "/cluster/ha/groups", dict(wire_params(desired, create=True), group=self.group),
                      confirm=lambda: self.holds(desired))]

    def update_writes(self, current, changes):
        return [Write("PUT", group_path(self.group), wire_params(changes), confirm=lambda: self.holds(changes))]

    def delete_writes(self, current):
        users = sorted(entry["sid"] for entry in ha_resources(self.client) if entry.get("group") == self.group)
        if users:
            # PVE refuses it too ("ha group is used by service '<sid>'", src/PVE/API2/HA/Groups.pm)
            raise HaInputError("HA group '{0}' is used by HA resource(s) {1}: move them to another group first; nothing "
                               "was changed".format(self.group, ", ".join(users)))
        return [Write("DELETE", group_path(self.group), confirm=lambda: self.holds(None))]

    def plan(self):
        require_generation(self.client, GROUPS, "ha_group")
        check_configid(self.group, "group", "HA group")
        writes, before, after = super(HaGroup, self).plan()
        if after is not None:
            after = dict(after, group=self.group)
        return writes, shown_object(before, GROUP_DEFAULTS), shown_object(after, GROUP_DEFAULTS)


def main():
    module = create_module(dict(
        group=dict(type="str", required=True, aliases=["name"]),
        nodes=dict(type="raw"),
        restricted=dict(type="bool"),
        nofailback=dict(type="bool"),
        comment=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    ), supports_check_mode=True)
    HaGroup(module).execute()


if __name__ == "__main__":
    main()
