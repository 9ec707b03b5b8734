"""The /_sim/ side channel and its Python mirror: faults, latency, counters, request log, reset."""

import json
import time

import pytest
import requests

from pvesim.observe import lock_id_for
from pvesim.testing import assert_pve_error, ok

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def api(sim, api_session):
    return api_session(sim)


def test_status_fault_fires_count_times(sim, api):
    fault_id = sim.inject_fault(method="GET", path="^/version$", status=503, message="maintenance\n", count=2)
    assert fault_id >= 1
    for _attempt in range(2):
        assert_pve_error(api.api("GET", "/version"), 503, "maintenance", None, "maintenance\n")
    assert api.api("GET", "/version").status_code == 200
    assert sim.faults()[0]["fired"] == 2


def test_fault_path_regex_and_method_filter(sim, api):
    sim.inject_fault(method="POST", path="^/cluster/sdn", count=5)
    assert api.api("GET", "/cluster/sdn/zones").status_code == 200  # GET: no fault
    assert api.api("POST", "/cluster/sdn/zones", data={"zone": "z1", "type": "simple"}).status_code == 500


def test_lock_timeout_names_the_lock_cluster_pm_cfs_lock(sim, api):
    sim.inject_fault(action="lock-timeout", path="^/cluster/sdn/zones$")
    message = "cfs-lock 'domain-sdn' error: got lock request timeout\n"
    assert_pve_error(api.api("POST", "/cluster/sdn/zones", data={"zone": "z1", "type": "simple"}), 500, message.strip(), None, message)


@pytest.mark.parametrize("path, lock_id", [
    ("/cluster/sdn/vnets", "domain-sdn"), ("/cluster/firewall/groups", "firewall-cluster"),
    ("/nodes/pve1/qemu/100/firewall/rules", "firewall-vm-100"), ("/nodes/pve2/firewall/options", "firewall-host-pve2"),
    ("/cluster/sdn/vnets/acme01/firewall/rules", "firewall-vnet-acme01"), ("/cluster/replication", "file-replication_cfg"),
    ("/cluster/backup", "file-vzdump_cron"), ("/storage", "file-storage_cfg"), ("/pools", "file-user_cfg"),
    ("/access/acl", "file-user_cfg"), ("/version", "file-datacenter_cfg"),
])
def test_lock_ids_per_path(path, lock_id):
    assert lock_id_for(path) == lock_id


def test_no_worker_fault_rest_environment_fork_worker(sim, api):
    sim.inject_fault(action="no-worker", method="GET", path="^/version$")
    message = "got no worker upid - start worker failed\n"
    assert_pve_error(api.api("GET", "/version"), 500, message.strip(), None, message)


def test_reset_fault_drops_the_connection(sim, api):
    sim.inject_fault(action="reset", method="GET", path="^/version$")
    with pytest.raises(requests.ConnectionError):
        api.api("GET", "/version")
    assert api.api("GET", "/version").status_code == 200
    assert sim.counters()["by_path"]["GET /version"] == 2


@pytest.mark.parametrize("action", ["status", "reset"])
def test_after_phase_fault_loses_the_answer_of_work_that_was_done(sim, api, action):
    sim.inject_fault(action=action, method="POST", path="^/cluster/sdn/zones$", status=504, message="Gateway Timeout\n",
                     phase="after")
    if action == "reset":
        with pytest.raises(requests.ConnectionError):
            api.api("POST", "/cluster/sdn/zones", data={"zone": "z1", "type": "simple"})
    else:
        assert_pve_error(api.api("POST", "/cluster/sdn/zones", data={"zone": "z1", "type": "simple"}),
                         504, "Gateway Timeout", None, "Gateway Timeout\n")
    assert [zone["zone"] for zone in api.data("GET", "/cluster/sdn/zones")] == ["z1"]  # the work was done
    logged = [entry for entry in sim.requests() if entry["method"] == "POST"][-1]
    assert logged["fault"] and logged["handled_status"] == 200
    assert sim.faults()[0]["phase"] == "after"


def test_before_phase_fault_does_no_work(sim, api):
    sim.inject_fault(method="POST", path="^/cluster/sdn/zones$", status=502, message="Bad Gateway\n")
    assert api.api("POST", "/cluster/sdn/zones", data={"zone": "z1", "type": "simple"}).status_code == 502
    assert api.data("GET", "/cluster/sdn/zones") == []


def test_unknown_fault_phase_is_refused(sim):
    with pytest.raises(ValueError, match="unknown fault phase 'during'"):
        sim.inject_fault(phase="during")


def test_rate_zero_never_fires(sim, api):
    sim.inject_fault(path="^/version$", rate=0.0, count=10)
    assert api.api("GET", "/version").status_code == 200


def test_latency_delays_api_requests(sim, api):
    sim.set_latency(150)
    started = time.monotonic()
    api.api("GET", "/version")
    assert time.monotonic() - started >= 0.15
    sim.set_latency(0)


def test_counters_by_route_path_status_and_writes(sim, api):
    api.api("GET", "/nodes/pve1/status")
    api.api("GET", "/nodes/pve2/status")
    api.api("POST", "/cluster/sdn/zones", data={"zone": "z1", "type": "simple"})
    api.api("POST", "/access/ticket", data={"username": "root@pam", "password": "x"})
    counters = sim.counters()
    assert counters["total"] == 4 and counters["writes"] == 1  # /access/ticket is not a write
    assert counters["by_route"]["GET /nodes/{node}/status"] == 2
    assert counters["by_path"]["GET /nodes/pve2/status"] == 1
    assert counters["by_status"] == {"200": 3, "403": 1}
    assert counters["sdn_applies"] == 0 and counters["unknown_formats"] == []


def test_unknown_formats_are_counted(sim, api):
    api.api("GET", "/nodes/pve1/tasks", params={"statusfilter": "ok"})  # pve-task-status-type-list is known
    api.api("POST", "/cluster/sdn/zones", data={"zone": "z1", "type": "vxlan", "fabric": "f1"})
    assert "pve-sdn-fabric-id" in sim.counters()["unknown_formats"]


def test_request_log_redacts_secrets(sim, api_session):
    api_session(sim, auth="ticket")
    entry = sim.requests()[-1]
    assert entry["method"] == "POST" and entry["path"] == "/access/ticket" and entry["route"] == "/access/ticket"
    assert entry["params"] == {"username": "root@pam", "password": "***"}
    assert entry["status"] == 200 and entry["latency_ms"] >= 0 and entry["seq"] >= 1


def test_request_log_names_token_and_user(sim, api):
    api.api("GET", "/version")
    entry = sim.requests()[-1]
    assert (entry["user"], entry["token"]) == ("root@pam", "root@pam!homecloud")


def test_reset_clears_everything(sim, api):
    sim.add_task(node="pve1", type="test", duration=0)
    sim.inject_fault(path="^/nothing$")
    sim.set_latency(5)
    api.api("GET", "/version")
    sim.reset()
    assert sim.counters()["total"] == 0 and sim.requests() == [] and sim.faults() == []
    assert sim.observer.latency_ms == 0 and sim.dump_state()["namespaces"]["tasks"]["tasks"] == []


def test_side_channel_over_http(sim, api):
    assert api.sim("POST", "faults", json={"action": "status", "status": 502, "path": "^/version$"}).json()["data"]["id"] >= 1
    assert api.api("GET", "/version").status_code == 502
    assert api.sim("DELETE", "faults").status_code == 200
    assert api.sim("PUT", "latency", json={"ms": 0}).json() == {"data": {"ms": 0}}
    upid = api.sim("POST", "tasks", json={"node": "pve2", "type": "srvreload", "id": "networking", "duration": 0}).json()["data"]["upid"]
    assert upid.startswith("UPID:pve2:")
    counters = api.sim("GET", "counters").json()["data"]
    assert counters["by_status"]["502"] == 1
    assert api.sim("GET", "requests").json()["data"][0]["status"] == 502
    state = api.sim("GET", "state").json()["data"]
    assert state["namespaces"]["tasks"]["tasks"][0]["upid"] == upid
    assert api.sim("POST", "reset").status_code == 200
    assert api.sim("GET", "counters").json()["data"]["total"] == 0


def test_side_channel_errors(api):
    assert api.sim("GET", "nothing").status_code == 404
    answer = api.sim("POST", "faults", json={"action": "explode"})
    assert answer.status_code == 400 and "unknown fault action" in answer.json()["error"]
    assert api.sim("POST", "tasks", json={"node": "pve9", "type": "x"}).status_code == 400


def test_a_saved_state_can_be_loaded_again_after_changes(sim, api_session):
    """State.load copies the document: writes after a load never reach the saved state itself."""
    api = api_session(sim)
    saved = sim.dump_state()
    for _attempt in range(2):
        sim.state.load(saved)
        ok(api, "POST", "/pools", poolid="scratch")
        assert [pool["poolid"] for pool in api.data("GET", "/pools")] == ["scratch"]
    assert "scratch" not in json.dumps(saved)
