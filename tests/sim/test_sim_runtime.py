"""Running the simulator: both PVE versions, the CLI, plain HTTP, the state file."""

import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from pvesim import Simulator
from pvesim.auth import DEMO_TOKEN_SECRET

pytestmark = pytest.mark.timeout(60)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STARTUP_TIMEOUT = 20
TOKEN_HEADER = {"Authorization": "PVEAPIToken=root@pam!homecloud=%s" % DEMO_TOKEN_SECRET}


def test_both_versions_load(sim, sim84, api_session):
    assert api_session(sim).data("GET", "/version") == {"version": "9.1.3", "release": "9.1", "repoid": sim.schema.repoid}
    assert api_session(sim84).data("GET", "/version")["version"] == "8.4.0"


def test_sdn_lock_exists_only_in_9_1_schema(sim, sim84, api_session):
    assert api_session(sim84).api("POST", "/cluster/sdn/lock").reason == "Method 'POST /cluster/sdn/lock' not implemented"
    assert api_session(sim).api("POST", "/cluster/sdn/lock").status_code == 200


def test_node_directory_index_follows_the_version(sim, sim84, api_session):
    names91 = [entry["name"] for entry in api_session(sim).data("GET", "/nodes/pve1")]
    names84 = [entry["name"] for entry in api_session(sim84).data("GET", "/nodes/pve1")]
    assert "query-oci-repo-tags" in names91 and "query-oci-repo-tags" not in names84
    assert names91 == sorted(names91) and "tasks" in names84


def test_cluster_status_and_resources(sim, api_session):
    api = api_session(sim)
    status = api.data("GET", "/cluster/status")
    assert status[0] == {"type": "cluster", "id": "cluster", "name": "homecloud", "nodes": 3, "quorate": 1, "version": 3}
    assert status[1] == {"type": "node", "id": "node/pve1", "name": "pve1", "nodeid": 1, "ip": "10.10.10.11",
                         "online": 1, "local": 1, "level": ""}
    assert [entry["id"] for entry in api.data("GET", "/cluster/resources", params={"type": "node"})] == ["node/pve1", "node/pve2", "node/pve3"]
    assert api.data("GET", "/cluster/resources", params={"type": "vm"}) == []
    storages = api.data("GET", "/cluster/resources", params={"type": "storage"})
    assert [(entry["id"], entry["plugintype"]) for entry in storages] == [
        ("storage/%s/%s" % (node, storage), plugin) for node in ("pve1", "pve2", "pve3")
        for storage, plugin in (("local", "dir"), ("local-zfs", "zfspool"))]


def test_nextid_cluster_pm(sim, api_session, monkeypatch):
    api = api_session(sim)
    assert api.data("GET", "/cluster/nextid") == 100
    monkeypatch.setattr(sim.areas["NodesArea"], "used_vmids", lambda: {100, 101})
    assert api.data("GET", "/cluster/nextid") == 102
    assert api.data("GET", "/cluster/nextid", params={"vmid": 150}) == 150
    taken = api.api("GET", "/cluster/nextid", params={"vmid": 101}).json()
    assert taken == {"data": None, "message": "Parameter verification failed.\n", "errors": {"vmid": "VM 101 already exists"}}


def test_ticket_auth_and_renewal_access_control_create_ticket(sim, api_session):
    session = api_session(sim, auth="ticket")
    login = session.data("POST", "/access/ticket", data={"username": "root", "realm": "pam", "password": sim.root_password})
    assert login["ticket"].startswith("PVE:root@pam:") and login["cap"]["vms"]["VM.Allocate"] == 1
    renewed = session.data("POST", "/access/ticket", data={"username": "root@pam", "password": login["ticket"]})
    assert renewed["username"] == "root@pam" and renewed["clustername"] == "homecloud"
    assert session.data("GET", "/access") == [{"subdir": name} for name in sim.schema.children("/access")]


def test_plain_http_and_custom_options(sim_factory, api_session):
    simulator = sim_factory(version="8.4", nodes=("alpha", "beta"), tls=False, root_password="secret",
                            tokens=["ops@pve!ci=s3cr3t"], cluster_name="lab")
    assert simulator.url.startswith("http://") and simulator.cert_path is None
    api = api_session(simulator)
    assert [node["node"] for node in api.data("GET", "/nodes")] == ["alpha", "beta"]
    root = api_session(simulator, auth="ticket", password="secret")
    assert root.data("GET", "/version")["release"] == "8.4"
    assert root.data("GET", "/cluster/status")[0]["name"] == "lab"
    # a token of a user other than root@pam passes `user => all` methods, not `check` ones
    assert api.api("GET", "/cluster/status").status_code == 403


def test_state_file_round_trip(tmp_path, api_session):
    state_file = str(tmp_path / "state.json")
    with Simulator(state_file=state_file, task_duration=30) as first:
        upid = first.add_task(node="pve2", type="vzdump", id="100", log=["INFO: starting"])
        assert api_session(first).data("DELETE", "/nodes/pve2/tasks/%s" % upid) is None
    with Simulator(state_file=state_file) as second:
        status = api_session(second).data("GET", "/nodes/pve2/tasks/%s/status" % upid)
    assert (status["status"], status["exitstatus"]) == ("stopped", "received interrupt")


def wait_for_file(path, process):
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return
        assert process.poll() is None, process.communicate(timeout=5)
        time.sleep(0.05)
    raise AssertionError("%s did not appear within %s s" % (path, STARTUP_TIMEOUT))


def test_cli_starts_serves_and_exits_on_sigterm(tmp_path):
    port_file, cert_file = str(tmp_path / "port"), str(tmp_path / "cert.pem")
    command = [sys.executable, "-m", "pvesim", "--pve-version", "8.4", "--nodes", "n1,n2", "--port", "0",
               "--port-file", port_file, "--cert-file", cert_file]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_file(port_file, process)
        with open(port_file, encoding="ascii") as handle:
            port = int(handle.read())
        with requests.Session() as session:
            session.trust_env = False
            answer = session.get("https://127.0.0.1:%d/api2/json/nodes" % port, headers=TOKEN_HEADER, verify=cert_file, timeout=10)
        assert [node["node"] for node in answer.json()["data"]] == ["n1", "n2"]
        process.send_signal(signal.SIGTERM)
        stdout, _stderr = process.communicate(timeout=15)
        assert process.returncode == 0
        assert stdout.strip() == "pvesim 8.4.0 (PVE 8.4, nodes n1,n2) listening on https://127.0.0.1:%d/api2/json" % port
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def test_cli_rejects_a_bad_token_option():
    result = subprocess.run([sys.executable, "-m", "pvesim", "--token", "no-secret", "--port", "0"], cwd=REPO,
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2 and "USER@REALM!NAME=SECRET" in result.stderr
