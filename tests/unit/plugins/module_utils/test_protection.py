# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The data protection plan: names from the tenant, jobs from the VMID, the next node as target, RPO and HA rules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import PlanError
from ansible_collections.homecloud.proxmox.plugins.module_utils.protection import plan_protection, replication_schedule

NODES = ["pve1", "pve2", "pve3"]
PLANS = [{"tenant": "shared", "shared": True, "guests": []},
         {"tenant": "acme", "guests": [{"name": "web1", "vmid": 10110, "node": "pve3"},
                                       {"name": "db1", "vmid": 10111, "protection": {"rpo_minutes": 1, "ha": True}}]}]
TENANTS = [{"name": "acme", "protection": {"rpo_minutes": 30, "retention": {"keep-daily": 3}}}]


def test_names_targets_schedules_and_the_tenants_policy():
    (acme,) = plan_protection(PLANS, TENANTS, {"backup_schedule": "sat 02:00"}, NODES, {"node": "pve1"})
    assert (acme["storage"], acme["namespace"], acme["tokenid"], acme["pool"]) == ("pbs-acme", "acme", "homecloud-acme@pbs!pve", "acme")
    assert acme["backup"] == {"id": "homecloud-acme", "schedule": "sat 02:00", "retention": {"keep-daily": 3}}
    web1, db1 = acme["guests"]
    # pve3's next node is pve1 (cyclic); a guest without a node is on the guest defaults' node
    assert (web1["node"], web1["target"], web1["schedule"], web1["ha"], web1["replication"]) == ("pve3", "pve1", "*/30", False, "10110-0")
    assert (db1["node"], db1["target"], db1["schedule"], db1["ha"]) == ("pve1", "pve2", "*/1", True)


def test_an_hour_is_hourly():
    assert replication_schedule(60) == "hourly" and replication_schedule(15) == "*/15"


@pytest.mark.parametrize("tenants,defaults,nodes,message", [
    ([{"name": "acme", "protection": {"rpo_minutes": 61}}], {}, NODES, "tenant acme: protection.rpo_minutes: 61 is not a number of minutes"),
    (TENANTS, {"ha_max_rpo_minutes": 0}, NODES, "homecloud_protection.ha_max_rpo_minutes: 0 is not"),
    ([{"name": "acme", "protection": {"retention": {"keep-daily": -1}}}], {}, NODES, "protection.retention.keep-daily: -1 is not a count"),
    ([{"name": "acme", "protection": {"backup_schedule": ""}}], {}, NODES, "protection.backup_schedule: '' is not a calendar event"),
    (TENANTS, {}, ["pve1"], "pve_nodes: 1 node(s); replication needs a second node"),
])
def test_bad_settings_name_the_field(tenants, defaults, nodes, message):
    with pytest.raises(PlanError) as raised:
        plan_protection(PLANS, tenants, defaults, nodes, {"node": "pve1"})
    assert any(message in line for line in raised.value.errors), raised.value.errors


def test_ha_needs_an_rpo_within_the_limit_and_every_problem_is_reported():
    plans = [dict(PLANS[1], guests=[{"name": "db1", "vmid": 10111, "node": "pve9", "protection": {"ha": True}}])]
    with pytest.raises(PlanError) as raised:
        plan_protection(plans, TENANTS, {}, NODES)
    assert raised.value.errors == [
        "tenant acme: guest db1: protection.ha: HA restarts the guest from its replica, losing up to the replication "
        "interval; its rpo_minutes 30 is above homecloud_protection.ha_max_rpo_minutes 5: replicate it more often or "
        "leave HA off",
        "tenant acme: guest db1: node 'pve9' is not in pve_nodes (pve1, pve2, pve3)"]
