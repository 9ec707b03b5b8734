# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""replication_job, ha_resource, ha_rule and ha_group against the simulator: on PVE 9.1 the preferred nodes are a
node-affinity rule, on PVE 8.4 an HA group, through the same options; check mode plans the real run's writes and
diff; a second run writes nothing; replication jobs return their status and are removed the way PVE does; the
modules of the other generation fail before any write, naming the version."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import requests

from .playbook import run_tasks

pytestmark = pytest.mark.timeout(300)

WRITES = ("POST", "PUT", "DELETE")
GIB = 1024 ** 3


def add_guests(sim, *vmids):
    """VMs on pve1, each with a disk on local-zfs (a storage PVE can replicate)."""
    storage, guests = sim.areas["StorageArea"], sim.areas["GuestsArea"]
    with sim.state.lock:
        for vmid in vmids:
            disk = storage.alloc("pve1", "local-zfs", vmid, 4 * GIB)
            guests.add(vmid, "pve1", name="guest{0}".format(vmid), status="running")
            guests.record(vmid)["config"].update({"scsi0": "{0},size=4G".format(disk), "memory": "1024"})


def writes(sim):
    return ["{0} {1}".format(entry["method"], entry["path"]) for entry in sim.requests()
            if entry["method"] in WRITES and entry["path"].startswith(("/cluster/replication", "/cluster/ha"))]


def api(sim, path):
    full_id, secret = next(iter(sim.tokens.items()))
    answer = requests.get("https://127.0.0.1:{0}/api2/json{1}".format(sim.port, path), timeout=10, verify=sim.cert_path,
                          headers={"Authorization": "PVEAPIToken={0}={1}".format(full_id, secret)})
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def converge_twice(sim, tmp_path, tasks, dependent=()):
    """Check mode, real run, second real run; returns the real run's results. The tasks numbered in ``dependent``
    use an object an earlier task creates: check mode, where that task only plans, plans their writes but cannot
    know that object's settings for their diff."""
    earlier = len(writes(sim))
    process, planned = run_tasks(sim, tmp_path, tasks, check=True)
    assert process.returncode == 0, process.stdout[-5000:]
    assert len(writes(sim)) == earlier, "check mode wrote"
    process, done = run_tasks(sim, tmp_path, tasks)
    assert process.returncode == 0, process.stdout[-5000:]
    first_writes = writes(sim)[earlier:]
    process, again = run_tasks(sim, tmp_path, tasks)
    assert process.returncode == 0, process.stdout[-5000:]
    assert writes(sim)[earlier:] == first_writes, "the second run wrote"
    for number, (plan, result, second) in enumerate(zip(planned, done, again)):
        assert not result.get("failed"), result
        assert plan["writes"] == result["writes"] and (number in dependent or plan["diff"] == result["diff"]), (plan, result)
        assert second["changed"] is False and second["writes"] == [], second
    assert len(first_writes) == sum(len(result["writes"]) for result in done)
    return done


def test_pve91_replication_and_ha_with_node_affinity_rules(sim, tmp_path):
    add_guests(sim, 100, 101)
    done = converge_twice(sim, tmp_path, [
        ("replication_job", dict(guest=100, target="pve2", schedule="*/5", rate=50)),
        ("replication_job", dict(guest=100, target="pve3", job=1, comment="second copy")),
        ("ha_resource", dict(sid="100", nodes={"pve2": 2, "pve3": 1}, failback=False, max_restart=2)),
        ("ha_resource", dict(sid="vm:101", ha_state="stopped")),
        ("ha_rule", dict(rule="apart", type="resource-affinity", affinity="negative", resources=["100", "vm:101"])),
    ])
    assert done[0]["writes"] == ["POST /cluster/replication id=100-0 rate=50 schedule=*/5 target=pve2 type=local"]
    assert done[1]["writes"] == ["POST /cluster/replication comment=second copy id=100-1 target=pve3 type=local"]
    assert done[0]["status"]["id"] == "100-0" and "fail_count" in done[0]["status"]
    assert done[2]["writes"] == [
        "POST /cluster/ha/resources failback=0 max_restart=2 sid=vm:100",
        "POST /cluster/ha/rules nodes=pve2:2,pve3:1 resources=vm:100 rule=homecloud-vm-100 type=node-affinity"]
    assert done[2]["ha_resource"] == dict(sid="vm:100", type="vm", state="started", max_restart=2, max_relocate=1, failback=0,
                                          nodes=dict(pve2=2, pve3=1), strict=0, rule="homecloud-vm-100")
    rule = api(sim, "/cluster/ha/rules/homecloud-vm-100")
    assert (rule["type"], rule["resources"], rule["nodes"]) == ("node-affinity", "vm:100", "pve2:2,pve3:1")
    assert api(sim, "/cluster/ha/resources/vm:101")["state"] == "stopped"
    assert api(sim, "/cluster/ha/rules/apart")["resources"] == "vm:100,vm:101"

    process, results = run_tasks(sim, tmp_path, [
        ("replication_job", dict(guest=100, target="pve2", exclusive=True)),
        ("replication_job", dict(guest=100, target="pve3", state="absent")),
        ("ha_resource", dict(sid="100", nodes={"pve3": 1}, strict=True)),
        ("ha_rule", dict(rule="apart", disable=True)),
        ("ha_group", dict(group="web", nodes=["pve1"])),
        ("ha_resource", dict(sid="101", state="absent")),
    ])
    assert process.returncode == 0, process.stdout[-5000:]
    # PVE marks the removed job; its runner removes it later: the second removal is no write
    assert results[0]["writes"] == ["DELETE /cluster/replication/100-1"] and results[1]["writes"] == []
    jobs = dict((job["id"], job) for job in api(sim, "/cluster/replication"))
    assert "100-0" in jobs and jobs.get("100-1", dict(remove_job="full"))["remove_job"] == "full"
    assert results[2]["writes"] == ["PUT /cluster/ha/rules/homecloud-vm-100 nodes=pve3:1 strict=1 type=node-affinity"]
    assert results[3]["writes"] == ["PUT /cluster/ha/rules/apart disable=1 type=resource-affinity"]
    assert results[4]["failed"] and "ha_group needs PVE 8.x" in results[4]["msg"] and "9.1" in results[4]["msg"]
    assert results[5]["writes"] == ["DELETE /cluster/ha/resources/vm:101"]
    # PVE's DELETE purged vm:101 from the rule that held it
    assert "vm:101" not in api(sim, "/cluster/ha/rules/apart")["resources"]
    assert [entry["sid"] for entry in api(sim, "/cluster/ha/resources")] == ["vm:100"]


def test_pve84_the_same_placement_is_an_ha_group(sim84, tmp_path):
    sim = sim84
    add_guests(sim, 100, 101)
    done = converge_twice(sim, tmp_path, [
        ("ha_group", dict(group="web", nodes={"pve1": 1, "pve2": 1}, restricted=True, comment="web tier")),
        ("ha_resource", dict(sid="100", nodes={"pve2": 2, "pve3": 1}, failback=False, max_restart=2)),
        ("ha_resource", dict(sid="101", group="web", ha_state="started")),
    ], dependent=(2,))
    assert done[1]["writes"] == [
        "POST /cluster/ha/groups group=homecloud-vm-100 nodes=pve2:2,pve3:1 nofailback=1",
        "POST /cluster/ha/resources group=homecloud-vm-100 max_restart=2 sid=vm:100"]
    assert done[1]["ha_resource"] == dict(sid="vm:100", type="vm", state="started", max_restart=2, max_relocate=1,
                                          failback=0, nodes=dict(pve2=2, pve3=1), strict=0, group="homecloud-vm-100")
    assert api(sim, "/cluster/ha/resources/vm:101")["group"] == "web"

    process, results = run_tasks(sim, tmp_path, [
        ("ha_rule", dict(rule="apart", type="resource-affinity", affinity="negative", resources=["vm:100", "vm:101"])),
        ("ha_resource", dict(sid="100", rule="x", nodes=["pve2"])),
        ("ha_group", dict(group="web", state="absent")),
        ("ha_resource", dict(sid="vm:100", state="absent")),
    ])
    assert process.returncode == 0, process.stdout[-5000:]
    assert results[0]["failed"] and "ha_rule needs PVE 9.0 or later" in results[0]["msg"] and "8.4" in results[0]["msg"]
    assert results[1]["failed"] and results[1]["msg"].startswith("rule: HA rules need PVE 9.0")
    assert results[2]["failed"] and "used by HA resource(s) vm:101" in results[2]["msg"]
    assert results[3]["writes"] == ["DELETE /cluster/ha/resources/vm:100", "DELETE /cluster/ha/groups/homecloud-vm-100"]
    assert sorted(group["group"] for group in api(sim, "/cluster/ha/groups")) == ["web"]
    assert not [entry for entry in writes(sim) if "apart" in entry or entry.endswith("/x")]
