"""Tasks: UPIDs, status while running and after, logs, lists with filters, stopping.

Source: pve-manager PVE/API2/Tasks.pm, pve-common src/PVE/UPID.pm and Tools.pm dump_logfile.
"""

import time

import pytest

from pvesim.tasks import UPID_RE

pytestmark = pytest.mark.timeout(30)
POLL_INTERVAL = 0.05


@pytest.fixture
def api(sim, api_session):
    return api_session(sim)


def wait_stopped(api, node, upid, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = api.data("GET", "/nodes/%s/tasks/%s/status" % (node, upid))
        if status["status"] == "stopped":
            return status
        time.sleep(POLL_INTERVAL)
    raise AssertionError("task %s did not stop within %s s" % (upid, timeout))


def test_upid_format_upid_pm_encode(sim):
    upid = sim.add_task(node="pve2", type="qmcreate", id="100", user="root@pam!homecloud", duration=0)
    match = UPID_RE.match(upid)
    assert match and match.group(1) == "pve2"
    assert upid.endswith(":qmcreate:100:root@pam!homecloud:")
    assert len(upid.split(":")[2]) == 8 and len(upid.split(":")[4]) == 8


def test_a_task_runs_then_stops_ok(sim, api):
    upid = sim.add_task(node="pve1", type="srvreload", id="networking", log=["reloading"], duration=0.3)
    status = api.data("GET", "/nodes/pve1/tasks/%s/status" % upid)
    assert status["status"] == "running" and "exitstatus" not in status
    assert status["pid"] == int(upid.split(":")[2], 16) and status["type"] == "srvreload" and status["user"] == "root@pam"
    assert api.data("GET", "/nodes/pve1/tasks/%s/log" % upid) == [{"n": 1, "t": "reloading"}]
    assert wait_stopped(api, "pve1", upid)["exitstatus"] == "OK"
    assert api.data("GET", "/nodes/pve1/tasks/%s/log" % upid)[-1] == {"n": 2, "t": "TASK OK"}


def test_a_failing_task_reports_its_error(sim, api):
    log = ["step 1", "TASK ERROR: command 'ifreload -a' failed: exit code 1"]
    upid = sim.add_task(node="pve3", type="srvreload", exitstatus="command 'ifreload -a' failed: exit code 1", log=log, duration=0)
    assert wait_stopped(api, "pve3", upid)["exitstatus"] == "command 'ifreload -a' failed: exit code 1"
    assert [line["t"] for line in api.data("GET", "/nodes/pve3/tasks/%s/log" % upid)] == log


def test_log_paging_tools_dump_logfile(sim, api):
    upid = sim.add_task(node="pve1", type="vzdump", log=["line %d" % number for number in range(1, 8)], duration=0)
    answer = api.api("GET", "/nodes/pve1/tasks/%s/log" % upid, params={"start": 2, "limit": 3}).json()
    assert answer == {"data": [{"n": 3, "t": "line 3"}, {"n": 4, "t": "line 4"}, {"n": 5, "t": "line 5"}], "total": 8}
    assert len(api.data("GET", "/nodes/pve1/tasks/%s/log" % upid, params={"limit": 0})) == 8


def test_stopping_a_running_task_interrupts_it(sim, api):
    upid = sim.add_task(node="pve1", type="vzdump", id="100", duration=30)
    assert api.data("DELETE", "/nodes/pve1/tasks/%s" % upid) is None
    assert wait_stopped(api, "pve1", upid)["exitstatus"] == "received interrupt"


def test_task_index(sim, api):
    upid = sim.add_task(node="pve1", type="x", duration=0)
    assert api.data("GET", "/nodes/pve1/tasks/%s" % upid) == [{"name": "log"}, {"name": "status"}]


def test_bad_and_unknown_upids_tasks_pm(api):
    bad = api.api("GET", "/nodes/pve1/tasks/not-a-upid/status").json()
    assert bad["errors"] == {"upid": "unable to parse worker upid"}
    missing = api.api("GET", "/nodes/pve1/tasks/UPID:pve1:0000AAAA:00000001:00000001:x::root@pam:/status")
    assert missing.status_code == 400 and missing.json()["errors"] == {"upid": "no such task"}
    assert api.data("GET", "/nodes/pve1/tasks/UPID:pve1:0000AAAA:00000001:00000001:x::root@pam:/log") == \
        [{"n": 1, "t": "unable to open file - No such file or directory"}]


def test_a_task_is_only_found_on_its_node(sim, api):
    upid = sim.add_task(node="pve1", type="x", duration=0)
    assert api.api("GET", "/nodes/pve2/tasks/%s/status" % upid).json()["errors"] == {"upid": "no such task"}


def test_task_list_sources_and_filters(sim, api):
    done_ok = sim.add_task(node="pve1", type="qmstart", id="100", duration=0)
    done_error = sim.add_task(node="pve1", type="qmstart", id="101", exitstatus="boom", duration=0)
    running = sim.add_task(node="pve1", type="vzdump", id="100", duration=30)
    sim.add_task(node="pve2", type="qmstart", id="100", duration=0)
    archive = api.api("GET", "/nodes/pve1/tasks").json()
    assert [task["upid"] for task in archive["data"]] == [done_error, done_ok] and archive["total"] == 2
    assert archive["data"][0]["status"] == "boom" and archive["data"][0]["endtime"] >= archive["data"][0]["starttime"]
    everything = api.data("GET", "/nodes/pve1/tasks", params={"source": "all", "statusfilter": "ok,error,unknown"})
    assert [task["upid"] for task in everything] == [running, done_error, done_ok]
    assert everything[0]["status"] == "RUNNING"
    assert [task["upid"] for task in api.data("GET", "/nodes/pve1/tasks", params={"errors": 1})] == [done_error]
    assert [task["upid"] for task in api.data("GET", "/nodes/pve1/tasks", params={"vmid": 100, "source": "all"})] == [running, done_ok]
    assert [task["upid"] for task in api.data("GET", "/nodes/pve1/tasks", params={"typefilter": "vzdump", "source": "active"})] == [running]
    assert len(api.data("GET", "/nodes/pve1/tasks", params={"limit": 1, "start": 1})) == 1


def test_cluster_tasks_list_every_node_newest_first(sim, api):
    first = sim.add_task(node="pve1", type="reloadnetworkall", duration=0)
    second = sim.add_task(node="pve3", type="qmstart", id="100", duration=5)
    listed = api.data("GET", "/cluster/tasks")
    assert [task["upid"] for task in listed[:2]] == [second, first]
    assert listed[0]["node"] == "pve3" and "status" not in listed[0] and "endtime" not in listed[0]
    assert listed[1]["type"] == "reloadnetworkall" and listed[1]["status"] == "OK" and listed[1]["endtime"] >= listed[1]["starttime"]
