# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ha_resource, ha_rule and ha_group plans from PVE's answers: one interface (nodes, strict, failback) realised as
an HA group on 8.x and a node-affinity rule on 9.x, node lists compared by priority, refusals before any write."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxError, PveVersion
from ansible_collections.homecloud.proxmox.plugins.module_utils.ha import format_node_list, parse_node_list, wire_params
from ansible_collections.homecloud.proxmox.plugins.modules.ha_group import HaGroup
from ansible_collections.homecloud.proxmox.plugins.modules.ha_resource import HaResource
from ansible_collections.homecloud.proxmox.plugins.modules.ha_rule import HaRule

GUESTS = [dict(vmid=100, type="qemu", node="pve1"), dict(vmid=101, type="lxc", node="pve2")]


class FakeClient:
    """Answers GETs from a dict by path; plans are built unsent, so nothing else may be called."""

    def __init__(self, release, answers):
        self.version = PveVersion(dict(version=release))
        self.answers = answers
        self.calls = []

    def get(self, path, **_params):
        self.calls.append(path)
        return self.answers[path]


class FakeModule:
    def __init__(self, params, check_mode):
        self.params = params
        self.check_mode = check_mode
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def planned(module_class, release, answers, check_mode=False, **params):
    defaults = dict(state="present")
    if module_class is HaResource:
        defaults.update(sid="100", ha_state=None, max_restart=None, max_relocate=None, failback=None, comment=None,
                        nodes=None, strict=None, group=None, rule=None)
    elif module_class is HaRule:
        defaults.update(rule="placement", type=None, resources=None, nodes=None, strict=None, affinity=None, disable=None,
                        comment=None)
    else:
        defaults.update(group="web", nodes=None, restricted=None, nofailback=None, comment=None)
    defaults.update(params)
    module = module_class.__new__(module_class)  # no AnsibleModule: only the plan is under test
    module.module = FakeModule(defaults, check_mode)
    module.client = FakeClient(release, dict({"/cluster/resources": GUESTS}, **answers))
    module.result = {"changed": False}
    module.working_on = None
    if module_class is HaRule:
        module.rule = defaults["rule"]
    if module_class is HaGroup:
        module.group = defaults["group"]
    writes, before, after = module.plan()
    return [str(write) for write in writes], before, after


def test_node_lists_in_any_spelling_are_priorities_per_node():
    assert parse_node_list({"pve2": 2, "pve3": None}) == parse_node_list(["pve3", "pve2:2"]) == \
        parse_node_list("pve3:0,pve2:2") == dict(pve2=2, pve3=0)
    assert format_node_list(dict(pve3=0, pve2=2)) == "pve2:2,pve3"
    for bad in ("pve2:x", "-pve2", ["pve2", "pve2:1"], {"pve2": -1}):
        with pytest.raises(ProxmoxError, match="nothing was changed"):
            parse_node_list(bad)
    # a false disable of a rule is a delete (PVE drops disable=0), nothing at all on a create
    assert wire_params(dict(disable=False, comment=""), droppable=("disable",)) == dict(delete="comment,disable")
    assert wire_params(dict(disable=False, strict=False), droppable=("disable",), create=True) == dict(strict=0)


def test_nodes_on_9x_are_a_node_affinity_rule_created_after_the_resource():
    writes, before, after = planned(HaResource, "9.1.2", {"/cluster/ha/resources": [], "/cluster/ha/rules": []},
                                    nodes={"pve2": 2, "pve3": 1}, failback=False, max_restart=2)
    assert writes == ["POST /cluster/ha/resources failback=0 max_restart=2 sid=vm:100",
                      "POST /cluster/ha/rules nodes=pve2:2,pve3:1 resources=vm:100 rule=homecloud-vm-100 type=node-affinity"]
    assert before is None
    assert after == dict(sid="vm:100", type="vm", state="started", max_restart=2, max_relocate=1, failback=0,
                         nodes=dict(pve2=2, pve3=1), strict=0, rule="homecloud-vm-100")


def test_the_same_placement_on_8x_is_a_group_created_before_the_resource():
    writes, _before, after = planned(HaResource, "8.4.1", {"/cluster/ha/resources": [], "/cluster/ha/groups": []},
                                     nodes={"pve2": 2, "pve3": 1}, failback=False, strict=True, max_restart=2)
    assert writes == ["POST /cluster/ha/groups group=homecloud-vm-100 nodes=pve2:2,pve3:1 nofailback=1 restricted=1",
                      "POST /cluster/ha/resources group=homecloud-vm-100 max_restart=2 sid=vm:100"]
    assert after == dict(sid="vm:100", type="vm", state="started", max_restart=2, max_relocate=1, failback=0,
                         nodes=dict(pve2=2, pve3=1), strict=1, group="homecloud-vm-100")


def test_what_pve_holds_already_is_no_write_whatever_the_order_or_defaults():
    resource = dict(sid="vm:100", type="vm", state="started", max_restart=2, digest="d")
    rule = dict(rule="homecloud-vm-100", type="node-affinity", resources="vm:100", nodes="pve3:1,pve2:2", order=1, digest="d")
    writes, before, after = planned(HaResource, "9.1.2", {"/cluster/ha/resources": [resource], "/cluster/ha/rules": [rule]},
                                    nodes=["pve2:2", "pve3:1"], strict=False, ha_state="started", max_relocate=1, failback=True)
    assert writes == [] and before == after and after["nodes"] == dict(pve2=2, pve3=1)
    group = dict(group="homecloud-vm-100", type="group", nodes="pve3:1,pve2:2", restricted=1)
    writes, before, after = planned(HaResource, "8.4.1", {"/cluster/ha/resources": [dict(resource, group="homecloud-vm-100")],
                                                          "/cluster/ha/groups": [group]},
                                    nodes="pve2:2,pve3:1", strict=True, ha_state="started")
    assert writes == [] and before == after


def test_changes_touch_only_what_differs_and_a_bare_vmid_takes_the_guests_type():
    resource = dict(sid="ct:101", type="ct", state="started")
    rule = dict(rule="homecloud-ct-101", type="node-affinity", resources="ct:101", nodes="pve2:2,pve3:1", strict=1)
    writes, before, after = planned(HaResource, "9.1.2", {"/cluster/ha/resources": [resource], "/cluster/ha/rules": [rule]},
                                    sid="101", nodes={"pve3": 5}, ha_state="stopped", comment="")
    assert writes == ["PUT /cluster/ha/resources/ct:101 state=stopped",
                      "PUT /cluster/ha/rules/homecloud-ct-101 nodes=pve3:5 type=node-affinity"]
    assert before["strict"] == after["strict"] == 1 and after["nodes"] == dict(pve3=5)


def test_no_preferred_nodes_takes_the_resource_out_of_its_rule_or_group():
    rules = [dict(rule="homecloud-vm-100", type="node-affinity", resources="vm:100", nodes="pve2"),
             dict(rule="shared", type="node-affinity", resources="vm:100,vm:102", nodes="pve3")]
    resource = dict(sid="vm:100", type="vm")
    writes, _before, after = planned(HaResource, "9.1.2", {"/cluster/ha/resources": [resource], "/cluster/ha/rules": rules[:1]},
                                     nodes={})
    assert writes == ["DELETE /cluster/ha/rules/homecloud-vm-100"] and after["nodes"] == {} and "rule" not in after
    writes, _before, _after = planned(HaResource, "9.1.2", {"/cluster/ha/resources": [resource], "/cluster/ha/rules": rules[1:]},
                                      nodes={})
    assert writes == ["PUT /cluster/ha/rules/shared resources=vm:102 type=node-affinity"]
    writes, _before, after = planned(HaResource, "8.4.1", {
        "/cluster/ha/resources": [dict(resource, group="homecloud-vm-100")],
        "/cluster/ha/groups": [dict(group="homecloud-vm-100", nodes="pve2")]}, nodes={})
    assert writes == ["PUT /cluster/ha/resources/vm:100 delete=group", "DELETE /cluster/ha/groups/homecloud-vm-100"]
    assert after["nodes"] == {} and "group" not in after


def test_absent_removes_the_resource_and_on_8x_its_own_group_afterwards():
    resource = dict(sid="vm:100", type="vm", group="homecloud-vm-100")
    writes, before, after = planned(HaResource, "8.4.1", {"/cluster/ha/resources": [resource],
                                                          "/cluster/ha/groups": [dict(group="homecloud-vm-100", nodes="pve2")]},
                                    state="absent")
    assert writes == ["DELETE /cluster/ha/resources/vm:100", "DELETE /cluster/ha/groups/homecloud-vm-100"]
    assert before["nodes"] == dict(pve2=0) and after is None
    # 9.x: PVE's DELETE purges the resource from its rules itself
    writes, _before, after = planned(HaResource, "9.1.2", {"/cluster/ha/resources": [dict(sid="vm:100", type="vm")],
                                                           "/cluster/ha/rules": [dict(rule="homecloud-vm-100", type="node-affinity",
                                                                                      resources="vm:100", nodes="pve2")]},
                                     state="absent")
    assert writes == ["DELETE /cluster/ha/resources/vm:100"] and after is None
    writes, before, after = planned(HaResource, "9.1.2", {"/cluster/ha/resources": [], "/cluster/ha/rules": []}, sid="vm:100",
                                    state="absent")
    assert writes == [] and before is None and after is None


def test_refusals_name_the_problem_before_any_write():
    resource = dict(sid="vm:100", type="vm")
    other_rule = dict(rule="ha-group-web", type="node-affinity", resources="vm:100", nodes="pve2")
    with pytest.raises(ProxmoxError, match="vm:100 is in node-affinity rule 'ha-group-web'.*set rule: ha-group-web"):
        planned(HaResource, "9.1.2", {"/cluster/ha/resources": [resource], "/cluster/ha/rules": [other_rule]}, nodes=["pve3"])
    with pytest.raises(ProxmoxError, match="^group: PVE 9.1.2 has HA rules instead of HA groups"):
        planned(HaResource, "9.1.2", {}, group="web")
    with pytest.raises(ProxmoxError, match="^rule: HA rules need PVE 9.0 or later, this cluster runs PVE 8.4.1"):
        planned(HaResource, "8.4.1", {}, rule="web")
    with pytest.raises(ProxmoxError, match="VM/CT 555 does not exist"):
        planned(HaResource, "9.1.2", {"/cluster/ha/resources": []}, sid="555")
    with pytest.raises(ProxmoxError, match="^group: HA group 'web' does not exist"):
        planned(HaResource, "8.4.1", {"/cluster/ha/resources": [], "/cluster/ha/groups": []}, group="web")
    # check mode plans on: an earlier task of the play may create the group
    writes, _before, _after = planned(HaResource, "8.4.1", {"/cluster/ha/resources": [], "/cluster/ha/groups": []}, group="web",
                                      check_mode=True)
    assert writes == ["POST /cluster/ha/resources group=web sid=vm:100"]


def test_ha_rule_and_ha_group_refuse_the_other_generation_naming_the_version():
    with pytest.raises(ProxmoxError, match="^ha_rule needs PVE 9.0 or later.*runs PVE 8.4.1.*ha_group"):
        planned(HaRule, "8.4.1", {}, type="node-affinity", resources=["vm:100"], nodes=["pve2"])
    with pytest.raises(ProxmoxError, match="^ha_group needs PVE 8.x.*runs PVE 9.1.2.*migrated to HA rules.*ha_rule"):
        planned(HaGroup, "9.1.2", {}, nodes=["pve2"])


def test_ha_rule_plans_enable_as_delete_and_a_type_change_as_a_new_rule():
    managed = [dict(sid="vm:100", type="vm"), dict(sid="vm:102", type="vm")]
    rule = dict(rule="placement", type="node-affinity", resources="vm:100", nodes="pve2", disable=1)
    writes, before, after = planned(HaRule, "9.1.2", {"/cluster/ha/resources": managed, "/cluster/ha/rules": [rule]},
                                    disable=False, resources=["100", "vm:102"])
    assert writes == ["PUT /cluster/ha/rules/placement delete=disable resources=vm:100,vm:102 type=node-affinity"]
    assert before["disable"] == 1 and after["disable"] == 0 and after["resources"] == ["vm:100", "vm:102"]
    writes, _before, after = planned(HaRule, "9.1.2", {"/cluster/ha/resources": managed, "/cluster/ha/rules": [rule]},
                                     type="resource-affinity", affinity="negative", resources=["vm:100", "vm:102"])
    assert writes == ["DELETE /cluster/ha/rules/placement",
                      "POST /cluster/ha/rules affinity=negative resources=vm:100,vm:102 rule=placement type=resource-affinity"]
    assert "nodes" not in after and after["type"] == "resource-affinity"
    with pytest.raises(ProxmoxError, match="cannot use unmanaged resource.*vm:103"):
        planned(HaRule, "9.1.2", {"/cluster/ha/resources": managed, "/cluster/ha/rules": []}, type="node-affinity",
                resources=["vm:103"], nodes=["pve2"])
    with pytest.raises(ProxmoxError, match="^nodes do.*not belong to a resource-affinity rule"):
        planned(HaRule, "9.1.2", {"/cluster/ha/rules": []}, type="resource-affinity", affinity="positive", nodes=["pve2"])


def test_ha_group_compares_nodes_as_a_set_and_refuses_removing_a_group_in_use():
    group = dict(group="web", type="group", nodes="pve3:1,pve2:2", comment="web tier")
    writes, before, after = planned(HaGroup, "8.4.1", {"/cluster/ha/groups": [group]}, nodes={"pve2": 2, "pve3": 1},
                                    restricted=False)
    assert writes == [] and before == after and before["nodes"] == dict(pve2=2, pve3=1) and before["restricted"] == 0
    writes, _before, after = planned(HaGroup, "8.4.1", {"/cluster/ha/groups": [group]}, nofailback=True, comment="")
    assert writes == ["PUT /cluster/ha/groups/web delete=comment nofailback=1"]
    with pytest.raises(ProxmoxError, match="'web' is used by HA resource.*vm:100"):
        planned(HaGroup, "8.4.1", {"/cluster/ha/groups": [group], "/cluster/ha/resources": [dict(sid="vm:100", group="web")]},
                state="absent")
    with pytest.raises(ProxmoxError, match="^nodes is required to create HA group 'db'"):
        planned(HaGroup, "8.4.1", {"/cluster/ha/groups": [group]}, group="db", comment="x")
