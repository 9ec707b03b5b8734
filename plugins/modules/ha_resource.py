#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ha_resource
short_description: Make a Proxmox VE guest an HA resource, with its preferred nodes, on PVE 8.x and 9.x alike
version_added: 0.1.0
description:
  - Creates, updates or removes one HA resource (C(/cluster/ha/resources)) and where it prefers to run.
  - The preferred nodes (O(nodes), O(strict)) are one interface for both generations of PVE's placement objects; the
    module reads C(GET /version) to pick. On PVE 8.x they are an HA group, V(homecloud-vm-<vmid>) (V(homecloud-ct-<vmid>)
    for a container) or the group named in O(group), with C(restricted) = O(strict) and C(nofailback) = not O(failback).
    On PVE 9.x they are a node-affinity rule, V(homecloud-vm-<vmid>) or the rule named in O(rule), and O(failback) is an
    option of the resource itself. The result and the diff show the resource the same way on both.
  - On PVE 9.x a resource may be in one node-affinity rule only; when another rule than the one this task manages holds
    it, the task fails before any write, naming that rule (set O(rule) to manage it).
  - O(nodes={}) removes the preference. On 8.x the resource leaves its group, and the module's own group
    V(homecloud-vm-<vmid>) is removed; on 9.x the resource is taken out of its node-affinity rule, which is removed when
    it held only this resource.
  - O(state=absent) removes the HA resource; the guest itself stays, in whatever state it is. On 9.x PVE also takes it
    out of every rule, and removes the rules that held only it (C(purge), the default of PVE's C(DELETE)); on 8.x the
    module removes its own group V(homecloud-vm-<vmid>) after it, a group named in O(group) stays.
  - Creating an HA resource with the default O(ha_state=started) makes PVE's HA manager start the guest.
  - The task plans every write first; check mode and diff mode show that plan.
options:
  sid:
    description:
      - The HA resource, V(vm:<vmid>), V(ct:<vmid>), or the guest id alone (its type is taken from PVE's HA resources or
        from the guest, as PVE does).
    type: str
    required: true
    aliases: [name, vmid]
  ha_state:
    description:
      - The state PVE's HA manager keeps the guest in (the resource's C(state); community.proxmox calls it C(hastate)).
        PVE's default is V(started). V(disabled) stops the guest and leaves it stopped; V(ignored) leaves the guest
        to manual control while it stays an HA resource.
    type: str
    choices: [started, stopped, disabled, ignored]
    aliases: [hastate]
  max_restart:
    description: Restarts on the same node after a failed start, before relocating (PVE's default 1).
    type: int
  max_relocate:
    description: Relocations to other nodes after failed starts (PVE's default 1).
    type: int
  failback:
    description:
      - Move the resource back to the node of highest priority when that node comes online again (PVE's default
        V(true)).
      - On PVE 8.x this is the C(nofailback) of the resource's group, so it needs O(nodes) or O(group).
    type: bool
  comment:
    description: Free text. An empty string removes it.
    type: str
  nodes:
    description:
      - "The nodes the resource prefers, with priorities, as a mapping (V({pve2: 2, pve3: 1})), a list
        (V([pve2:2, pve3])) or PVE's string (V(pve2:2,pve3)). A node without a priority has priority 0; higher numbers
        are preferred. Compared as a set. V({}) removes the preference. Not set leaves the placement alone."
    type: raw
  strict:
    description:
      - V(true) keeps the resource on O(nodes) (it stops when none is online); V(false) lets it run elsewhere when none
        is. Not set leaves it alone, PVE's default for a new group or rule is V(false).
    type: bool
  group:
    description:
      - PVE 8.x only. The HA group to put the resource in, instead of V(homecloud-vm-<vmid>). With O(nodes), O(strict) or
        O(failback) the module also sets them on that group, which changes it for every resource in it.
      - On PVE 9.x, where HA groups are migrated to rules, the task fails before any write.
    type: str
  rule:
    description:
      - PVE 9.x only. The node-affinity rule that holds O(nodes), instead of V(homecloud-vm-<vmid>). The resource is added
        to it; its nodes and O(strict) apply to every resource of the rule.
      - On PVE 8.x the task fails before any write.
    type: str
  state:
    description: Whether the guest is an HA resource.
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
- name: The database is HA, prefers pve2, then pve3, and never moves back on its own
  homecloud.proxmox.ha_resource:
    sid: vm:4010
    ha_state: started
    max_restart: 2
    nodes: {pve2: 2, pve3: 1}
    failback: false

- name: Keep it on pve2 and pve3 only
  homecloud.proxmox.ha_resource:
    sid: 4010
    nodes: {pve2: 2, pve3: 1}
    strict: true

- name: No longer HA (the guest keeps running)
  homecloud.proxmox.ha_resource:
    sid: vm:4010
    state: absent
"""

RETURN = r"""
ha_resource:
  description:
    - The HA resource after the task (as planned in check mode), V(null) when absent. PVE's defaults are filled in.
      C(nodes) and C(strict) come from its group (8.x) or node-affinity rule (9.x), named in C(group) or C(rule);
      C(nodes) is V({}) when it has no preference.
  returned: success
  type: dict
  sample: {sid: vm:4010, state: started, max_restart: 2, max_relocate: 1, failback: 0, nodes: {pve2: 2, pve3: 1},
           strict: 0, rule: homecloud-vm-4010}
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["POST /cluster/ha/resources failback=0 max_restart=2 sid=vm:4010 state=started",
           "POST /cluster/ha/rules nodes=pve2:2,pve3:1 resources=vm:4010 rule=homecloud-vm-4010 type=node-affinity"]
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
    GROUPS,
    NODE_AFFINITY,
    RULES,
    HaInputError,
    check_configid,
    generation,
    group_path,
    ha_groups,
    ha_resources,
    ha_rules,
    missing_in_check_mode,
    option_changes,
    parse_node_list,
    resolve_sids,
    rule_path,
    rule_writes,
    shown_object,
    split_sid,
    wire_params,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ConvergeModule, Write

RESOURCES = "/cluster/ha/resources"
# What a resource does not store means PVE's default (pve-ha-manager src/PVE/HA/Config.pm read_and_check_resources_config)
RESOURCE_DEFAULTS = dict(state="started", max_restart=1, max_relocate=1)
RESOURCE_OPTIONS = ("state", "max_restart", "max_relocate", "comment", "failback")


class HaResource(ConvergeModule):
    result_key = "ha_resource"

    def __init__(self, module):
        super(HaResource, self).__init__(module)
        # known once plan() read the version and the HA resources
        self.generation = self.sid = self.own_name = self.nodes = None

    def plan(self):
        params = self.module.params
        self.generation = generation(self.client)
        self.check_generation_options()
        resources = ha_resources(self.client)
        self.sid = resolve_sids(self.client, [params["sid"]], resources, "sid")[0]
        self.working_on = "HA resource " + self.sid
        kind, vmid = split_sid(self.sid)
        self.own_name = "homecloud-{0}-{1}".format(kind, vmid)
        current = next((dict(entry) for entry in resources if entry.get("sid") == self.sid), None)
        if current is not None:
            for key in ("digest", "errors"):
                current.pop(key, None)
            current = shown_object(current, dict(RESOURCE_DEFAULTS, failback=1) if self.generation == RULES else RESOURCE_DEFAULTS)
        self.nodes = parse_node_list(params["nodes"])
        if self.generation == GROUPS:
            return self.plan_with_group(current, resources)
        return self.plan_with_rule(current)

    def check_generation_options(self):
        params = self.module.params
        if self.generation == RULES and params["group"] is not None:
            raise HaInputError("group: PVE {0} has HA rules instead of HA groups (they have been migrated to rules); use "
                               "nodes and strict, or rule; nothing was changed".format(self.client.version))
        if self.generation == GROUPS and params["rule"] is not None:
            raise HaInputError("rule: HA rules need PVE 9.0 or later, this cluster runs PVE {0}; use nodes and strict, or "
                               "group; nothing was changed".format(self.client.version))
        if self.nodes_removed() and (params["group"] or params["rule"] or params["strict"] is not None):
            raise HaInputError("nodes: {} (no preferred nodes) contradicts group, rule and strict; nothing was changed")
        for name in ("group", "rule"):
            if params[name] is not None:
                check_configid(params[name], name, "HA " + name)

    def nodes_removed(self):
        nodes = self.module.params["nodes"]
        return nodes is not None and not parse_node_list(nodes)

    def declared_resource(self):
        params = self.module.params
        desired = dict((key, params[key]) for key in ("max_restart", "max_relocate", "comment") if params[key] is not None)
        if params["ha_state"] is not None:
            desired["state"] = params["ha_state"]
        if params["failback"] is not None and self.generation == RULES:
            desired["failback"] = params["failback"]
        return desired

    def resource_writes(self, current, desired):
        if self.module.params["state"] == "absent":
            return [Write("DELETE", RESOURCES + "/" + self.sid, confirm=lambda: self.read_resource() is None)] if current else []
        if current is None:
            return [Write("POST", RESOURCES, dict(wire_params(desired, create=True), sid=self.sid),
                          confirm=lambda: self.read_resource() is not None)]
        changes = option_changes(current, desired)
        if not changes:
            return []
        params = wire_params(changes)
        if changes.get("group", "") is None:  # leave the group: PVE's delete=group
            del params["group"]
            params["delete"] = ",".join(sorted(set((params.get("delete") or "").split(",") + ["group"]) - {""}))
        return [Write("PUT", RESOURCES + "/" + self.sid, params)]

    def read_resource(self):
        return next((entry for entry in ha_resources(self.client) if entry.get("sid") == self.sid), None)

    # --- PVE 8.x: an HA group --------------------------------------------------------------------

    def plan_with_group(self, current, resources):
        params = self.module.params
        groups = ha_groups(self.client)
        desired = self.declared_resource()
        current_group = (current or {}).get("group")
        group_writes, cleanup = [], []
        if params["state"] == "absent":
            target = None
            cleanup = self.own_group_removal(groups, resources)
        elif self.nodes_removed():
            if current_group is not None:
                desired["group"] = None
            target = None
            cleanup = self.own_group_removal(groups, resources)
        else:
            managed = self.nodes is not None or params["strict"] is not None or params["failback"] is not None
            target = params["group"] or (self.own_name if managed else current_group)
            if managed:
                group_writes = self.group_writes(target, groups.get(target))
            elif target is not None and target not in groups:
                missing_in_check_mode(self.module, "group: HA group '{0}' does not exist; create it (homecloud.proxmox.ha_group) "
                                      "or declare nodes".format(target))
            if target is not None:
                desired["group"] = target
        writes = group_writes + self.resource_writes(current, desired) + cleanup
        before = self.shown_with_group(current, groups.get(current_group) if current_group else None)
        if params["state"] == "absent":
            return writes, before, None
        after = dict(current or {}, sid=self.sid)
        after.update(desired)
        if after.get("group") is None:
            after.pop("group", None)
        after_group = None
        if target is not None:
            after_group = dict(groups.get(target) or {})
            after_group.update(self.declared_group())
        return writes, before, self.shown_with_group(shown_object(after, RESOURCE_DEFAULTS), after_group)

    def declared_group(self):
        params = self.module.params
        group = {}
        if self.nodes:
            group["nodes"] = self.nodes
        if params["strict"] is not None:
            group["restricted"] = params["strict"]
        if params["failback"] is not None:
            group["nofailback"] = not params["failback"]
        return group

    def group_writes(self, name, group):
        desired = self.declared_group()
        if group is None:
            if "nodes" not in desired:
                raise HaInputError("nodes is required: HA group '{0}' does not exist yet; nothing was changed".format(name))
            return [Write("POST", "/cluster/ha/groups", dict(wire_params(desired, create=True), group=name))]
        changes = option_changes(group, desired)
        return [Write("PUT", group_path(name), wire_params(changes))] if changes else []

    def own_group_removal(self, groups, resources):
        """DELETE of the module's own group, after the resource left it, unless another resource uses it
        (PVE would refuse: "ha group is used by service '<sid>'")."""
        if self.own_name not in groups:
            return []
        if any(entry.get("group") == self.own_name and entry.get("sid") != self.sid for entry in resources):
            return []
        return [Write("DELETE", group_path(self.own_name))]

    def shown_with_group(self, resource, group):
        if resource is None:
            return None
        shown = dict(resource)
        shown["type"] = self.sid.split(":")[0]
        shown["nodes"] = dict((group or {}).get("nodes") or {})
        shown["strict"] = int(bool(int((group or {}).get("restricted") or 0)))
        shown["failback"] = int(not int((group or {}).get("nofailback") or 0))
        return shown

    # --- PVE 9.x: a node-affinity rule -----------------------------------------------------------------

    def plan_with_rule(self, current):
        params = self.module.params
        rules = ha_rules(self.client)
        holding = [rule for rule in rules.values() if rule.get("type") == NODE_AFFINITY and self.sid in rule["resources"]]
        held_by = holding[0] if holding else None
        desired = self.declared_resource()
        resource_writes = self.resource_writes(current, desired)
        before = self.shown_with_rule(current, held_by)
        if params["state"] == "absent":
            # PVE's DELETE purges the resource from its rules (purge defaults to 1, src/PVE/API2/HA/Resources.pm)
            return resource_writes, before, None
        rule_writes_, after_rule = [], held_by
        if self.nodes_removed():
            if held_by is not None:
                rest = [sid for sid in held_by["resources"] if sid != self.sid]
                rule_writes_ = [Write("PUT", rule_path(held_by["rule"]), dict(resources=",".join(rest), type=NODE_AFFINITY))] \
                    if rest else [Write("DELETE", rule_path(held_by["rule"]))]
            after_rule = None
        elif self.nodes is not None or params["strict"] is not None:
            name = params["rule"] or (held_by["rule"] if held_by and held_by["rule"] == self.own_name else self.own_name)
            if held_by is not None and held_by["rule"] != name:
                raise HaInputError("{0} is in node-affinity rule '{1}' and PVE allows one per resource: set rule: {1} to "
                                   "manage that rule, or take {0} out of it first (homecloud.proxmox.ha_rule); nothing was "
                                   "changed".format(self.sid, held_by["rule"]))
            rule = rules.get(name)
            if rule is not None and rule.get("type") != NODE_AFFINITY:
                raise HaInputError("rule: '{0}' is a {1} rule, not a node-affinity rule; nothing was changed".format(
                    name, rule.get("type")))
            declared = dict(resources=sorted(set((rule or {}).get("resources", [])) | {self.sid}))
            if self.nodes:
                declared["nodes"] = self.nodes
            if params["strict"] is not None:
                declared["strict"] = params["strict"]
            if rule is None and "nodes" not in declared:
                raise HaInputError("nodes is required: node-affinity rule '{0}' does not exist yet; nothing was changed".format(name))
            rule_writes_ = rule_writes(name, NODE_AFFINITY, rule, declared)
            after_rule = dict(rule or dict(rule=name, type=NODE_AFFINITY))
            after_rule.update(declared)
        after = dict(current or {}, sid=self.sid)
        after.update(desired)
        # the rule needs the resource to be an HA resource first ("cannot use unmanaged resource(s)")
        writes = resource_writes + rule_writes_
        return writes, before, self.shown_with_rule(shown_object(after, dict(RESOURCE_DEFAULTS, failback=1)), after_rule)

    def shown_with_rule(self, resource, rule):
        if resource is None:
            return None
        shown = dict(resource)
        shown["type"] = self.sid.split(":")[0]
        shown.pop("group", None)  # PVE 9.x hides a resource's group once the groups are migrated
        shown["nodes"] = dict((rule or {}).get("nodes") or {})
        shown["strict"] = int(bool(int((rule or {}).get("strict") or 0)))
        if rule is not None:
            shown["rule"] = rule["rule"]
        return shown


def main():
    module = create_module(dict(
        sid=dict(type="str", required=True, aliases=["name", "vmid"]),
        ha_state=dict(type="str", choices=["started", "stopped", "disabled", "ignored"], aliases=["hastate"]),
        max_restart=dict(type="int"),
        max_relocate=dict(type="int"),
        failback=dict(type="bool"),
        comment=dict(type="str"),
        nodes=dict(type="raw"),
        strict=dict(type="bool"),
        group=dict(type="str"),
        rule=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    ), supports_check_mode=True, mutually_exclusive=[("group", "rule")])
    HaResource(module).execute()


if __name__ == "__main__":
    main()
