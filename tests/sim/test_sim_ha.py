"""The simulator's HA: resources, groups (8.4), rules (9.1), status and the recovery after a node failure.

pve-ha-manager src/PVE/API2/HA/{Resources,Groups,Rules,Status}.pm, src/PVE/HA/Config.pm,
src/PVE/HA/Rules/{NodeAffinity,ResourceAffinity}.pm, src/PVE/HA/Manager.pm.
"""

import pytest

from pvesim.testing import ApiSession, ok, plain_error

GIB = 1024 ** 3


def _vm(sim, vmid, node="pve1", status="stopped"):
    """A VM with one disk on local-zfs of its node."""
    with sim.state.lock:
        sim.areas["GuestsArea"].add(vmid, node, status=status)
        volid = sim.areas["StorageArea"].alloc(node, "local-zfs", vmid, 4 * GIB)
        sim.areas["GuestsArea"].record(vmid)["config"]["scsi0"] = "%s,size=4G" % volid


def _side(api, method, path, **body):
    answer = api.sim(method, path, json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def _service(api, sid):
    entries = ok(api, "GET", "/cluster/ha/status/current")
    return next(entry for entry in entries if entry.get("sid") == sid)


@pytest.fixture(params=["8.4", "9.1"])
def any_sim(request, sim, sim84):
    return sim84 if request.param == "8.4" else sim


def test_resource_crud_and_requested_state(sim):
    """Resources.pm: a VMID becomes vm:<vmid>; the LRM starts and stops the guest as requested."""
    api = ApiSession(sim)
    _vm(sim, 100)
    plain_error(api.api("POST", "/cluster/ha/resources", data={"sid": "999"}), "unable to detect SID from VMID - VM/CT 999 does not exist\n")
    plain_error(api.api("POST", "/cluster/ha/resources", data={"sid": "vm:999"}), "resource 'vm:999' does not exist in cluster\n")
    plain_error(api.api("POST", "/cluster/ha/resources", data={"sid": "100", "type": "ct"}), "types does not match\n")
    ok(api, "POST", "/cluster/ha/resources", sid="100", max_restart="2", comment="web")
    assert sim.areas["GuestsArea"].guest(100)["status"] == "running"
    plain_error(api.api("POST", "/cluster/ha/resources", data={"sid": "vm:100"}),
                "create resource failed: resource ID 'vm:100' already defined\n")
    resource = ok(api, "GET", "/cluster/ha/resources/vm:100")
    assert {key: resource[key] for key in ("sid", "type", "max_restart", "comment")} == {
        "sid": "vm:100", "type": "vm", "max_restart": 2, "comment": "web"}
    assert [entry["sid"] for entry in ok(api, "GET", "/cluster/ha/resources", type="vm")] == ["vm:100"]
    assert ok(api, "GET", "/cluster/ha/resources", type="ct") == []
    ok(api, "PUT", "/cluster/ha/resources/vm:100", state="stopped", delete="comment")
    assert sim.areas["GuestsArea"].guest(100)["status"] == "stopped"
    service = _service(api, "vm:100")
    assert (service["node"], service["state"], service["request_state"], service["status"]) == (
        "pve1", "stopped", "stopped", "vm:100 (pve1, stopped)")
    ok(api, "DELETE", "/cluster/ha/resources/100")
    plain_error(api.api("DELETE", "/cluster/ha/resources/vm:100"), "cannot delete service 'vm:100', not HA managed!\n")
    plain_error(api.api("GET", "/cluster/ha/resources/vm:100"), "no such resource 'vm:100'\n")


def test_groups_exist_in_84_only(sim, sim84):
    """8.4: HA groups; 9.x: groups are migrated to rules, every group call and `group` refused."""
    api84, api91 = ApiSession(sim84), ApiSession(sim)
    _vm(sim84, 100)
    _vm(sim, 100)
    ok(api84, "POST", "/cluster/ha/groups", group="prefer2", nodes="pve2:2,pve3:1,pve1", restricted=1)
    assert ok(api84, "GET", "/cluster/ha/groups/prefer2")["nodes"] == "pve1,pve2:2,pve3:1"
    plain_error(api84.api("POST", "/cluster/ha/groups", data={"group": "prefer2", "nodes": "pve1"}),
                "create ha group failed: ha group ID 'prefer2' already defined\n")
    plain_error(api84.api("POST", "/cluster/ha/resources", data={"sid": "100", "group": "nope"}), "HA group 'nope' does not exist\n")
    ok(api84, "POST", "/cluster/ha/resources", sid="100", group="prefer2")
    plain_error(api84.api("DELETE", "/cluster/ha/groups/prefer2"), "delete ha group failed: ha group is used by service 'vm:100'\n")
    plain_error(api91.api("GET", "/cluster/ha/groups"), "cannot index groups: ha groups have been migrated to rules\n")
    plain_error(api91.api("POST", "/cluster/ha/groups", data={"group": "grp", "nodes": "pve1"}),
                "cannot create group: ha groups have been migrated to rules\n")
    plain_error(api91.api("POST", "/cluster/ha/resources", data={"sid": "100", "group": "grp"}),
                "invalid parameter 'group': ha groups have been migrated to rules\n")


def test_rules_and_their_checks(sim):
    """Rules.pm create_rule: managed resources, existing nodes, then the feasibility checks."""
    api = ApiSession(sim)
    for vmid in (100, 101):
        _vm(sim, vmid)
        ok(api, "POST", "/cluster/ha/resources", sid=str(vmid), state="stopped")
    plain_error(api.api("POST", "/cluster/ha/rules", data={"rule": "r1", "type": "node-affinity", "resources": "vm:100,vm:102",
                                                           "nodes": "pve2"}),
                "create ha rule failed: cannot use unmanaged resource(s) vm:102.\n")
    plain_error(api.api("POST", "/cluster/ha/rules", data={"rule": "r1", "type": "node-affinity", "resources": "vm:100",
                                                           "nodes": "pve2:2,pve9"}),
                "create ha rule failed: cannot use non-existent node(s) pve9.\n")
    answer = api.api("POST", "/cluster/ha/rules", data={"rule": "r1", "type": "node-affinity", "resources": "vm:100"})
    assert answer.status_code == 400 and answer.json()["errors"] == {"nodes": "property is missing and it is not optional"}
    ok(api, "POST", "/cluster/ha/rules", rule="r1", type="node-affinity", resources="vm:100", nodes="pve3:1,pve2:2", strict=1)
    plain_error(api.api("POST", "/cluster/ha/rules", data={"rule": "r2", "type": "node-affinity", "resources": "vm:100,vm:101",
                                                           "nodes": "pve1"}),
                "create ha rule failed: 400 Rule 'r2' is invalid.\n"
                "resources: resource 'vm:100' is already used in another node affinity rule\n")
    plain_error(api.api("POST", "/cluster/ha/rules", data={"rule": "r3", "type": "resource-affinity", "resources": "vm:100",
                                                           "affinity": "negative"}),
                "create ha rule failed: 400 Rule 'r3' is invalid.\n"
                "resources: rule is ineffective as there are less than two resources\n")
    ok(api, "POST", "/cluster/ha/rules", rule="apart", type="resource-affinity", resources="vm:101,vm:100", affinity="negative")
    rules = ok(api, "GET", "/cluster/ha/rules")
    assert [(rule["rule"], rule["resources"], rule.get("nodes"), rule["order"]) for rule in rules] == [
        ("r1", "vm:100", "pve2:2,pve3:1", 1), ("apart", "vm:100,vm:101", None, 2)]
    assert [rule["rule"] for rule in ok(api, "GET", "/cluster/ha/rules", type="resource-affinity")] == ["apart"]
    plain_error(api.api("POST", "/cluster/ha/rules", data={"rule": "r1", "type": "node-affinity", "resources": "vm:101",
                                                           "nodes": "pve1"}),
                "create ha rule failed: HA rule 'r1' already defined\n")
    # deleting a resource purges it from the rules; a rule left without resources goes
    ok(api, "DELETE", "/cluster/ha/resources/vm:100")
    assert [(rule["rule"], rule["resources"]) for rule in ok(api, "GET", "/cluster/ha/rules")] == [("apart", "vm:101")]
    assert ok(api, "GET", "/cluster/ha/rules/apart")["errors"] == {
        "resources": "rule is ineffective as there are less than two resources"}


def _prefer_pve2_but_replica_on_pve3(sim, api):
    """VM 100 on pve1, replicated to pve3 only; HA prefers pve2 (priority 2) over pve3 (1)."""
    _vm(sim, 100)
    ok(api, "POST", "/cluster/replication", id="100-0", type="local", target="pve3")
    if sim.pve_version == "8.4":
        ok(api, "POST", "/cluster/ha/groups", group="prefer2", nodes="pve2:2,pve3:1")
        ok(api, "POST", "/cluster/ha/resources", sid="vm:100", group="prefer2")
    else:
        ok(api, "POST", "/cluster/ha/resources", sid="vm:100")
        ok(api, "POST", "/cluster/ha/rules", rule="prefer2", type="node-affinity", resources="vm:100", nodes="pve2:2,pve3:1")


def test_recovery_after_the_fence_delay_to_the_replica(any_sim):
    """A failed node's HA guest is fenced, then recovered after the delay to the allowed node that
    holds its replica, and started; its replication job now runs from there back to the old node."""
    sim = any_sim
    api = ApiSession(sim)
    _prefer_pve2_but_replica_on_pve3(sim, api)
    assert sim.areas["GuestsArea"].guest(100)["status"] == "running"
    _side(api, "POST", "nodes/fail", node="pve1")
    service = _service(api, "vm:100")
    assert (service["node"], service["state"]) == ("pve1", "fence")
    manager = ok(api, "GET", "/cluster/ha/status/manager_status")["manager_status"]
    assert manager["node_status"]["pve1"] == "fence" and manager["master_node"] == "pve2"
    _side(api, "POST", "clock/advance", seconds=60)
    assert _service(api, "vm:100")["state"] == "fence"
    _side(api, "POST", "clock/advance", seconds=60)
    service = _service(api, "vm:100")
    assert (service["node"], service["state"], service["status"]) == ("pve3", "started", "vm:100 (pve3, started)")
    guest = sim.areas["GuestsArea"].guest(100)
    assert (guest["node"], guest["status"]) == ("pve3", "running")
    job = ok(api, "GET", "/cluster/replication/100-0")
    assert (job["source"], job["target"]) == ("pve3", "pve1")
    lrm = next(entry for entry in ok(api, "GET", "/cluster/ha/status/current") if entry["id"] == "lrm:pve1")
    assert "old timestamp - dead?" in lrm["status"]


def test_explicit_recover_and_no_eligible_node(sim):
    """POST /_sim/ha/recover acts at once; a strict rule without a usable node leaves `recovery`."""
    api = ApiSession(sim)
    _vm(sim, 100)
    _vm(sim, 101, status="running")
    ok(api, "POST", "/cluster/replication", id="100-0", type="local", target="pve2")
    ok(api, "POST", "/cluster/replication", id="101-0", type="local", target="pve2")
    ok(api, "POST", "/cluster/ha/resources", sid="vm:100")
    ok(api, "POST", "/cluster/ha/resources", sid="vm:101")
    ok(api, "POST", "/cluster/ha/rules", rule="only3", type="node-affinity", resources="vm:101", nodes="pve3", strict=1)
    _side(api, "POST", "nodes/fail", node="pve1")
    assert _side(api, "POST", "ha/recover") == {"vm:100": "pve2"}
    assert _service(api, "vm:101")["state"] == "recovery"  # strict to pve3, which has no replica
    assert sim.areas["GuestsArea"].guest(101)["node"] == "pve1"


def test_node_back_before_fencing_keeps_its_services(sim):
    api = ApiSession(sim)
    _vm(sim, 100)
    ok(api, "POST", "/cluster/replication", id="100-0", type="local", target="pve2")
    ok(api, "POST", "/cluster/ha/resources", sid="vm:100")
    _side(api, "POST", "nodes/fail", node="pve1")
    _side(api, "POST", "clock/advance", seconds=30)
    _side(api, "POST", "nodes/recover", node="pve1")
    _side(api, "POST", "clock/advance", seconds=300)
    service = _service(api, "vm:100")
    assert (service["node"], service["state"]) == ("pve1", "started")


def test_destroy_of_an_ha_guest_needs_purge(sim):
    """qemu-server API2/Qemu.pm destroy_vm: an HA-managed VM is refused without `purge` (checked before
    replication jobs and the running state); `purge` runs Config.pm delete_service_from_config with purge:
    the resource goes, and out of the rules (a rule left without resources goes)."""
    api = ApiSession(sim)
    for vmid in (100, 101):
        _vm(sim, vmid)
        ok(api, "POST", "/cluster/ha/resources", sid=str(vmid))
    ok(api, "POST", "/cluster/replication", id="100-0", type="local", target="pve2")
    ok(api, "POST", "/cluster/ha/rules", rule="pin", type="node-affinity", resources="vm:100", nodes="pve1")
    ok(api, "POST", "/cluster/ha/rules", rule="apart", type="resource-affinity", resources="vm:100,vm:101", affinity="negative")
    plain_error(api.api("DELETE", "/nodes/pve1/qemu/100"),
                "unable to remove VM 100 - used in HA resources and purge parameter not set.\n")
    plain_error(api.api("DELETE", "/nodes/pve1/qemu/100", params={"purge": 1}), "VM 100 is running - destroy failed\n")
    ok(api, "PUT", "/cluster/ha/resources/vm:100", state="stopped")
    upid = ok(api, "DELETE", "/nodes/pve1/qemu/100", purge=1)
    log = [line["t"] for line in ok(api, "GET", "/nodes/pve1/tasks/%s/log" % upid)]
    assert "NOTE: removed VM 100 from HA resource configuration." in log
    assert [entry["sid"] for entry in ok(api, "GET", "/cluster/ha/resources")] == ["vm:101"]
    assert [(rule["rule"], rule["resources"]) for rule in ok(api, "GET", "/cluster/ha/rules")] == [("apart", "vm:101")]
    assert [entry.get("sid") for entry in ok(api, "GET", "/cluster/ha/status/current") if entry.get("sid")] == ["vm:101"]
    assert ok(api, "GET", "/cluster/replication") == []
