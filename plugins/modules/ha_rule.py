#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ha_rule
short_description: Manage one Proxmox VE 9.x HA rule (node affinity or resource affinity)
version_added: 0.1.0
description:
  - Creates, updates or removes one HA rule (C(/cluster/ha/rules), PVE 9.0 and later). A V(node-affinity) rule makes its
    resources prefer (or, with O(strict), keep to) the listed nodes; a V(resource-affinity) rule keeps its resources
    together (V(positive)) or apart (V(negative)).
  - On PVE 8.x, which has HA groups instead, the module fails before any write, naming the version; use
    M(homecloud.proxmox.ha_group) there, or M(homecloud.proxmox.ha_resource) with
    O(homecloud.proxmox.ha_resource#module:nodes), which works on both.
  - PVE cannot change a rule's type; a rule of the other type is removed and created anew with the declared one
    (both writes are in the plan).
  - The resources must already be HA resources (PVE refuses others, "cannot use unmanaged resource(s)"); the task checks
    this before any write. In check mode it only warns, since an earlier task of the play may create them.
    A resource may be in one node-affinity rule only; PVE refuses a second one and names it.
  - O(disable=false) on a disabled rule is sent as C(delete=disable), because PVE drops C(disable=0) from a write instead
    of storing it (pve-ha-manager C(src/PVE/API2/HA/Rules.pm)).
  - The task plans every write first; check mode and diff mode show that plan.
options:
  rule:
    description: Rule id (a letter, then letters, digits, C(-), C(_)).
    type: str
    required: true
    aliases: [name]
  type:
    description: The rule's type. Required to create a rule; when not set, an existing rule keeps its type.
    type: str
    choices: [node-affinity, resource-affinity]
  resources:
    description:
      - The HA resources of the rule (V(vm:100), V(ct:101), or a bare guest id, whose type PVE's HA resource list or the
        guest tells). Required to create a rule. Compared as a set.
    type: list
    elements: str
  nodes:
    description:
      - "V(node-affinity) only. The nodes with their priorities, as a mapping (V({pve2: 2, pve3: 1})), a list
        (V([pve2:2, pve3])) or PVE's string (V(pve2:2,pve3)). A node without a priority has priority 0; higher numbers
        are preferred. Required to create a node-affinity rule."
    type: raw
  strict:
    description:
      - V(node-affinity) only. V(true) keeps the resources on the listed nodes (they stop when none is online);
        V(false) lets them run elsewhere when none is available. PVE's default is V(false).
    type: bool
  affinity:
    description: V(resource-affinity) only, required there. V(positive) keeps the resources on one node, V(negative) on different nodes.
    type: str
    choices: [positive, negative]
  disable:
    description: V(true) keeps the rule but does not apply it.
    type: bool
  comment:
    description: Free text. An empty string removes it.
    type: str
  state:
    description: Whether the rule must exist. Removing a rule leaves its HA resources as they are.
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
- name: The database prefers pve2, then pve3 (PVE 9.x)
  homecloud.proxmox.ha_rule:
    rule: db-placement
    type: node-affinity
    resources: [vm:4010]
    nodes: {pve2: 2, pve3: 1}

- name: The two web guests never share a node
  homecloud.proxmox.ha_rule:
    rule: web-apart
    type: resource-affinity
    affinity: negative
    resources: [vm:4011, vm:4012]
"""

RETURN = r"""
rule:
  description:
    - The rule after the task (as planned in check mode); V(null) when absent. Nodes as a mapping of priorities,
      resources as a sorted list. C(errors) are PVE's feasibility errors of the rule, when it has any.
  returned: success
  type: dict
  sample: {rule: db-placement, type: node-affinity, resources: [vm:4010], nodes: {pve2: 2, pve3: 1}, strict: 0, disable: 0}
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["POST /cluster/ha/rules nodes=pve2:2,pve3:1 resources=vm:4010 rule=db-placement type=node-affinity"]
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
    NODE_AFFINITY,
    RESOURCE_AFFINITY,
    RULE_DEFAULTS,
    RULES,
    TYPE_OPTIONS,
    HaInputError,
    check_configid,
    ha_resources,
    ha_rules,
    missing_in_check_mode,
    option_changes,
    parse_node_list,
    require_generation,
    resolve_sids,
    rule_path,
    rule_writes,
    shown_object,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ConvergeModule, Write


def shown_rule(rule):
    if rule is None:
        return None
    return shown_object(rule, RULE_DEFAULTS.get(rule.get("type"), {}))


class HaRule(ConvergeModule):
    result_key = "rule"

    def __init__(self, module):
        super(HaRule, self).__init__(module)
        self.rule = module.params["rule"]
        self.working_on = "HA rule " + self.rule

    def read(self):
        return ha_rules(self.client).get(self.rule)

    def declared(self, current):
        """(type, declared options by API name) for the rule."""
        params = self.module.params
        rule_type = params["type"] or (current or {}).get("type")
        if rule_type is None:
            raise HaInputError("type is required to create HA rule '{0}'; nothing was changed".format(self.rule))
        misplaced = [key for key in ("nodes", "strict", "affinity") if params.get(key) is not None and key not in TYPE_OPTIONS[rule_type]]
        if misplaced:
            raise HaInputError("{0} do(es) not belong to a {1} rule; nothing was changed".format(", ".join(misplaced), rule_type))
        desired = dict((key, params[key]) for key in ("strict", "affinity", "disable", "comment") if params.get(key) is not None)
        if params["nodes"] is not None:
            desired["nodes"] = parse_node_list(params["nodes"])
            if not desired["nodes"]:
                raise HaInputError("nodes: a node-affinity rule needs at least one node; nothing was changed")
        if params["resources"] is not None:
            if not params["resources"]:
                raise HaInputError("resources: a rule needs at least one HA resource; nothing was changed")
            managed = ha_resources(self.client)
            desired["resources"] = sorted(set(resolve_sids(self.client, params["resources"], managed)))
            unmanaged = [sid for sid in desired["resources"] if sid not in set(entry["sid"] for entry in managed)]
            if unmanaged:
                # PVE's words (src/PVE/API2/HA/Rules.pm), before any write
                missing_in_check_mode(self.module, "resources: cannot use unmanaged resource(s) {0}: make them HA resources "
                                      "first (homecloud.proxmox.ha_resource)".format(", ".join(unmanaged)))
        return rule_type, desired

    def plan(self):
        require_generation(self.client, RULES, "ha_rule")
        check_configid(self.rule, "rule", "HA rule")
        current = self.read()
        if self.module.params["state"] == "absent":
            if current is None:
                return [], None, None
            return [Write("DELETE", rule_path(self.rule), confirm=lambda: self.read() is None)], shown_rule(current), None
        rule_type, desired = self.declared(current)
        replaced = current is not None and current.get("type") != rule_type
        base = None if replaced else current
        if base is None:
            required = ("resources", "nodes") if rule_type == NODE_AFFINITY else ("resources", "affinity")
            missing = [key for key in required if key not in desired]
            if missing:
                raise HaInputError("{0} required to create {1} rule '{2}'; nothing was changed".format(
                    " and ".join(missing) + (" are" if len(missing) > 1 else " is"), rule_type, self.rule))
        writes = rule_writes(self.rule, rule_type, base, desired, confirm=lambda: self.holds(rule_type, desired))
        if replaced:
            # PVE keeps a rule's type for good (its update takes the stored type), so another type is another rule
            writes.insert(0, Write("DELETE", rule_path(self.rule), what="remove {0} rule {1} to create it as {2}".format(
                current.get("type"), self.rule, rule_type)))
        after = dict(base or {}, rule=self.rule, type=rule_type)
        after.update(desired)
        return writes, shown_rule(current), shown_rule(after)

    def holds(self, rule_type, desired):
        """For Write.confirm: does PVE now hold the declared rule?"""
        current = self.read()
        return current is not None and current.get("type") == rule_type and not option_changes(current, desired)


def main():
    module = create_module(dict(
        rule=dict(type="str", required=True, aliases=["name"]),
        type=dict(type="str", choices=[NODE_AFFINITY, RESOURCE_AFFINITY]),
        resources=dict(type="list", elements="str"),
        nodes=dict(type="raw"),
        strict=dict(type="bool"),
        affinity=dict(type="str", choices=["positive", "negative"]),
        disable=dict(type="bool"),
        comment=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    ), supports_check_mode=True)
    HaRule(module).execute()


if __name__ == "__main__":
    main()
