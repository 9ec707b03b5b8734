"""agent/exec run for real inside a registered network namespace (pvesim/areas/qemu_runtime.py, opt-in with
exec_netns_prefix): qemu-server src/PVE/API2/Qemu/Agent.pm exec / exec-status, QEMU qga guest-exec-status.
Each test makes its own namespace with a unique name of the prefix and removes it in the end."""

import copy
import subprocess
import time
import uuid

import pytest

from pvesim.testing import ok

pytestmark = pytest.mark.timeout(60)

PREFIX = "hctw-"


@pytest.fixture
def netns():
    name = "%st%s" % (PREFIX, uuid.uuid4().hex[:8])
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False, timeout=10)


@pytest.fixture
def real_sim(sim_factory):
    simulator = sim_factory(exec_netns_prefix=PREFIX)
    simulator.areas["QemuRuntimeArea"].agent_delay = 0
    return simulator


def running_guest(simulator, vmid, node="pve1"):
    guests = simulator.areas["GuestsArea"]
    with simulator.state.lock:
        guests.add(vmid, node, name="g%d" % vmid, status="running")
        record = guests.record(vmid)
        record["config"]["agent"] = "1"
        record["booted"] = {"at": time.time() - 10, "config": copy.deepcopy(record["config"])}


def exec_and_wait(api, vmid, command, timeout=20.0, **params):
    pid = ok(api, "POST", "/nodes/pve1/qemu/%d/agent/exec" % vmid, command=command, **params)["pid"]
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = ok(api, "GET", "/nodes/pve1/qemu/%d/agent/exec-status" % vmid, pid=pid)
        if status["exited"]:
            return status
        time.sleep(0.1)
    raise AssertionError("exec %s still running after %ss" % (command, timeout))


def side(api, method, body=None):
    """A /_sim/qemu/exec-netns call: (HTTP status, document)."""
    response = api.sim(method, "qemu/exec-netns", json=body)
    return response.status_code, response.json()


def register(api, vmid, name):
    status, document = side(api, "POST", {"vmid": vmid, "netns": name})
    assert status == 200, document
    return document["data"]


def test_exec_runs_inside_the_namespace_and_sees_only_lo(real_sim, api_session, netns):
    api = api_session(real_sim)
    running_guest(real_sim, 10110)
    assert register(api, 10110, netns) == {"10110": netns}
    status = exec_and_wait(api, 10110, ["ip", "-o", "link", "show"])
    assert status["exitcode"] == 0
    names = [line.split(":")[1].strip() for line in status["out-data"].splitlines()]
    assert names == ["lo"]


def test_input_data_is_stdin_and_exitcode_and_stderr_come_back(real_sim, api_session, netns):
    api = api_session(real_sim)
    running_guest(real_sim, 10111)
    register(api, 10111, netns)
    status = exec_and_wait(api, 10111, ["python3", "-c", "import sys; d = sys.stdin.read(); print(d.upper()); "
                                        "sys.stderr.write('err:' + d); sys.exit(3)"], **{"input-data": "hello"})
    assert status == {"exited": 1, "exitcode": 3, "out-data": "HELLO\n", "err-data": "err:hello"}


def test_exec_status_while_running_then_timeout_kills(real_sim, api_session, netns):
    api = api_session(real_sim)
    running_guest(real_sim, 10112)
    register(api, 10112, netns)
    real_sim.areas["QemuRuntimeArea"].exec_timeout = 2
    pid = ok(api, "POST", "/nodes/pve1/qemu/10112/agent/exec", command=["sleep", "30"])["pid"]
    assert ok(api, "GET", "/nodes/pve1/qemu/10112/agent/exec-status", pid=pid) == {"exited": 0}
    started = time.time()
    deadline = started + 15
    while time.time() < deadline:
        status = ok(api, "GET", "/nodes/pve1/qemu/10112/agent/exec-status", pid=pid)
        if status["exited"]:
            break
        time.sleep(0.1)
    assert status == {"exited": 1, "signal": 9}
    assert time.time() - started < 10


def test_unregistered_vmid_keeps_the_simulated_programs(real_sim, api_session, netns):
    api = api_session(real_sim)
    running_guest(real_sim, 10113)
    running_guest(real_sim, 10114)
    register(api, 10113, netns)
    status = exec_and_wait(api, 10114, ["ip", "link"])
    assert status == {"exited": 1, "exitcode": 127, "err-data": "ip: command not found\n"}
    assert side(api, "DELETE", {"vmid": 10113}) == (200, {"data": {}})
    assert side(api, "GET") == (200, {"data": {}})
    assert exec_and_wait(api, 10113, ["true"]) == {"exited": 1, "exitcode": 0}


def test_names_outside_the_prefix_or_missing_are_refused(real_sim, api_session, netns):
    api = api_session(real_sim)
    for name, reason in (("other-" + netns, "outside the prefix"), (PREFIX + "../" + netns, "outside the prefix"),
                         (netns + "x", "does not exist")):
        status, document = side(api, "POST", {"vmid": 10110, "netns": name})
        assert status == 400 and reason in document["error"], document
    assert side(api, "GET") == (200, {"data": {}})


def test_off_by_default(sim, api_session, netns):
    api = api_session(sim)
    status, document = side(api, "POST", {"vmid": 10110, "netns": netns})
    assert status == 400 and "exec_netns_prefix" in document["error"], document
