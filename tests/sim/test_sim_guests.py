"""The guest registry (pvesim/areas/guests.py): placed through /_sim/guests, seen by
/cluster/resources (pve-manager PVE/API2/Cluster.pm resources) and /cluster/nextid."""

import pytest

from pvesim.testing import ok

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def api(sim, api_session):
    return api_session(sim)


def test_guest_appears_in_cluster_resources_and_takes_its_vmid_cluster_pm(api):
    placed = api.sim("POST", "guests", json={"vmid": 100, "node": "pve2", "name": "web1"})
    assert placed.status_code == 200, placed.text
    resources = ok(api, "GET", "/cluster/resources", type="vm")
    assert [(entry["id"], entry["node"], entry["name"], entry["status"]) for entry in resources] == [("qemu/100", "pve2", "web1", "running")]
    assert ok(api, "GET", "/cluster/nextid") == 101
    assert api.api("GET", "/cluster/nextid", params={"vmid": 100}).json()["errors"] == {"vmid": "VM 100 already exists"}


def test_side_channel_refuses_a_taken_id_an_unknown_node_and_removes(api):
    api.sim("POST", "guests", json={"vmid": 100, "node": "pve1"})
    assert api.sim("POST", "guests", json={"vmid": 100, "node": "pve1"}).json() == {"error": "VM 100 already exists"}
    assert "unknown node 'pve9'" in api.sim("POST", "guests", json={"vmid": 101, "node": "pve9"}).json()["error"]
    assert api.sim("DELETE", "guests", json={"vmid": 100}).status_code == 200
    assert api.sim("GET", "guests").json()["data"] == []
    assert ok(api, "GET", "/cluster/resources", type="vm") == []


def test_removing_a_guest_removes_its_firewall_file_helpers_pm_remove_vmfw_conf(api):
    api.sim("POST", "guests", json={"vmid": 100, "node": "pve1"})
    ok(api, "PUT", "/nodes/pve1/qemu/100/firewall/options", enable=1)
    assert "100.fw" in api.sim("GET", "firewall/files").json()["data"]
    api.sim("DELETE", "guests", json={"vmid": 100})
    assert "100.fw" not in api.sim("GET", "firewall/files").json()["data"]


def test_move_puts_the_config_on_another_node_and_refuses_unknown_ones(sim, api):
    """GuestsArea.move: the config answers on the new node only (pmxcfs keeps one <vmid>.conf); an unknown
    guest or node is refused and changes nothing."""
    api.sim("POST", "guests", json={"vmid": 100, "node": "pve1", "type": "qemu", "status": "stopped"})
    guests = sim.areas["GuestsArea"]
    with sim.state.lock:
        guests.move(100, "pve3")
        with pytest.raises(ValueError, match="unknown node 'pve9'"):
            guests.move(100, "pve9")
        with pytest.raises(ValueError, match="no guest with vmid 101"):
            guests.move(101, "pve2")
    assert ok(api, "GET", "/nodes/pve3/qemu/100/status/current")["status"] == "stopped"
    assert api.api("GET", "/nodes/pve1/qemu/100/status/current").status_code == 500
    assert [entry["node"] for entry in ok(api, "GET", "/cluster/resources", type="vm")] == ["pve3"]
