"""The simulator's storage replication, simulated clock, node failure and pmxcfs guest move.

pve-manager PVE/API2/ReplicationConfig.pm and PVE/API2/Replication.pm; pve-guest-common
src/PVE/ReplicationConfig.pm, ReplicationState.pm, Replication.pm; qemu-server QemuConfig.pm
get_replicatable_volumes; pve-manager PVE/API2/Cluster.pm (status, resources).
"""

import calendar
import os
import subprocess
import sys
import time

import pytest

import pvesim
from pvesim.calendar_event import CalendarEventError, next_after, parse
from pvesim.testing import ApiSession, assert_pve_error, ok, plain_error

GIB = 1024 ** 3
QUARTER_HOUR = 15 * 60


def _vm(sim, vmid, node="pve1", storage="local-zfs", status="running"):
    """A VM with one disk on `storage` of its node (placed through the Python side of the areas)."""
    with sim.state.lock:
        content = sim.state.namespace("storage")["config"][storage].setdefault("content", [])
        if "images" not in content:
            content.append("images")  # `local` holds no disks by default
        sim.areas["GuestsArea"].add(vmid, node, status=status)
        volid = sim.areas["StorageArea"].alloc(node, storage, vmid, 4 * GIB)
        sim.areas["GuestsArea"].record(vmid)["config"]["scsi0"] = "%s,size=4G" % volid
    return volid


def _advance(api, seconds):
    answer = api.sim("POST", "clock/advance", json={"seconds": seconds})
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["now"]


def _side(api, method, path, **body):
    answer = api.sim(method, path, json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


@pytest.fixture
def api(sim):
    return ApiSession(sim)


# -- calendar events (pve-docs calendar-events.adoc, proxmox-time) -----------------------------------

@pytest.mark.parametrize("event, after, expected", [
    ("*/15", "2024-03-04 10:07:00", "2024-03-04 10:15:00"),
    ("mon..fri 22:00", "2024-03-08 22:00:00", "2024-03-11 22:00:00"),  # Friday 22:00 -> Monday
    ("sat *-1..7 15:00", "2024-03-04 00:00:00", "2024-04-06 15:00:00"),  # first Saturday of a month
    ("mon..fri 8..17,22:0/15", "2024-03-04 17:50:00", "2024-03-04 22:00:00"),
    ("12,14,16,18,20,22:5", "2024-03-04 12:05:00", "2024-03-04 14:05:00"),
    ("30/10", "2024-03-04 10:55:00", "2024-03-04 11:30:00"),
    ("weekly", "2024-03-04 00:00:00", "2024-03-11 00:00:00"),
    ("quarterly", "2024-03-04 00:00:00", "2024-04-01 00:00:00"),
    ("semi-annually", "2024-03-04 00:00:00", "2024-07-01 00:00:00"),
    ("*-2-29 6:00", "2024-03-01 00:00:00", "2028-02-29 06:00:00"),
    ("2015-10-21", "2024-03-04 00:00:00", None),
])
def test_calendar_event_next_run(event, after, expected):
    """next_after: the first matching time strictly after the given one (UTC)."""
    stamp = calendar.timegm(time.strptime(after, "%Y-%m-%d %H:%M:%S"))
    result = next_after(event, stamp)
    assert (time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(result)) if result is not None else None) == expected


@pytest.mark.parametrize("event, error", [
    ("", "unable to parse calendar event - event is empty"),
    ("25:00", "unable to parse calendar event - hour value '25' out of range"),
    ("funday", "unable to parse calendar event - invalid weekday 'funday'"),
    ("*/0", "unable to parse calendar event - minute repetition must be greater than zero in '*/0'"),
])
def test_calendar_event_errors(event, error):
    with pytest.raises(CalendarEventError) as caught:
        parse(event)
    assert str(caught.value) == error


def test_schedule_format_is_checked_on_create(sim, api):
    """pve_verify_calendar_event through the schema: a 400 with "invalid calendar event '<s>' - <err>"."""
    _vm(sim, 100)
    answer = api.api("POST", "/cluster/replication", data={"id": "100-0", "type": "local", "target": "pve2", "schedule": "25:00"})
    assert_pve_error(answer, 400, "Parameter verification failed.", {
        "schedule": "invalid format - invalid calendar event '25:00' - unable to parse calendar event - hour value '25' out of range\n"})


def test_schedule_format_needs_no_other_import():
    """The full check is the format's own: a fresh interpreter that imports only pvesim.formats refuses what
    the parser refuses (an hour out of range has the shape of a valid event)."""
    code = ("from pvesim.formats import FORMATS, FormatError\n"
            "try:\n    FORMATS['pve-calendar-event']('25:00')\nexcept FormatError as error:\n    print(error, end='')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                            cwd=os.path.dirname(os.path.dirname(pvesim.__file__)))
    assert result.stdout == "invalid calendar event '25:00' - unable to parse calendar event - hour value '25' out of range\n"


# -- /cluster/replication ------------------------------------------------------------------------

def test_create_checks_in_pves_order(sim, api):
    """ReplicationConfig.pm create: guest, target member, source, identical nodes, volumes, id, guest+target."""
    _vm(sim, 100)
    _vm(sim, 101, storage="local")
    with sim.state.lock:
        sim.areas["GuestsArea"].add(102, "pve1")
    create = {"type": "local", "target": "pve2"}
    plain_error(api.api("POST", "/cluster/replication", data=dict(create, id="999-0")), "Guest '999' does not exist.\n")
    plain_error(api.api("POST", "/cluster/replication", data=dict(create, id="100-0", target="pve9")), "Target 'pve9' does not exist.\n")
    plain_error(api.api("POST", "/cluster/replication", data=dict(create, id="100-0", source="pve3")),
                "Source 'pve3' does not match current node of guest '100' (pve1)\n")
    plain_error(api.api("POST", "/cluster/replication", data=dict(create, id="100-0", target="pve1")),
                "Source and target must not be identical\n")
    plain_error(api.api("POST", "/cluster/replication", data=dict(create, id="101-0")),
                "missing replicate feature on volume 'local:101/vm-101-disk-0.qcow2'\n")
    plain_error(api.api("POST", "/cluster/replication", data=dict(create, id="102-0")), "No replicatable volumes found\n")
    ok(api, "POST", "/cluster/replication", id="100-0", **create)
    plain_error(api.api("POST", "/cluster/replication", data=dict(create, id="100-0", target="pve3")),
                "replication job '100-0' already exists\n")
    plain_error(api.api("POST", "/cluster/replication", data=dict(create, id="100-1")),
                "replication job for guest '100' to target 'local/pve2' already exists\n")
    answer = api.api("POST", "/cluster/replication", data=dict(create, id="99-0"))
    assert answer.status_code == 400 and "id" in answer.json()["errors"]


def test_crud_normalises_ids_and_keeps_target_fixed(sim, api):
    """Ids `<guest>-<jobnum>` normalised; target fixed (not in the PUT schema); delete rules; digest."""
    _vm(sim, 100)
    ok(api, "POST", "/cluster/replication", id="100-01", type="local", target="pve2", schedule="*/30", rate="10", comment="to pve2")
    job = ok(api, "GET", "/cluster/replication/100-1")
    assert {key: job[key] for key in ("id", "guest", "jobnum", "target", "type", "schedule", "rate", "comment", "source")} == {
        "id": "100-1", "guest": 100, "jobnum": 1, "target": "pve2", "type": "local", "schedule": "*/30", "rate": 10,
        "comment": "to pve2", "source": "pve1"}
    assert len(job["digest"]) == 40
    assert [entry["id"] for entry in ok(api, "GET", "/cluster/replication")] == ["100-1"]
    answer = api.api("PUT", "/cluster/replication/100-1", data={"target": "pve3"})
    assert_pve_error(answer, 400, "Parameter verification failed.",
                     {"target": "property is not defined in schema and the schema does not allow additional properties"})
    plain_error(api.api("PUT", "/cluster/replication/100-1", data={"delete": "target"}), "unable to delete required option 'target'\n")
    plain_error(api.api("PUT", "/cluster/replication/100-1", data={"delete": "bogus"}), "no such option 'bogus'\n")
    plain_error(api.api("PUT", "/cluster/replication/100-1", data={"comment": "x", "digest": "0" * 40}),
                "detected modified configuration - file changed by other user? Try again.\n")
    plain_error(api.api("PUT", "/cluster/replication/100-7", data={"comment": "x"}), "no such job '100-7'\n")
    ok(api, "PUT", "/cluster/replication/100-1", delete="rate,comment", schedule="*/5", digest=job["digest"])
    job = ok(api, "GET", "/cluster/replication/100-1")
    assert "rate" not in job and "comment" not in job and job["schedule"] == "*/5"
    plain_error(api.api("GET", "/cluster/replication/100-7"), "no such replication job '100-7'\n")


def test_delete_marks_the_job_and_the_runner_removes_it(sim, api):
    """DELETE sets remove_job (full, or local with keep); the runner cleans up; force drops at once."""
    _vm(sim, 100)
    _vm(sim, 101)
    ok(api, "POST", "/cluster/replication", id="100-0", type="local", target="pve2")
    ok(api, "POST", "/cluster/replication", id="101-0", type="local", target="pve3")
    storage = sim.areas["StorageArea"]
    assert storage.volume("pve2", "local-zfs:vm-100-disk-0") is not None  # the first sync ran at once
    answer = api.api("DELETE", "/cluster/replication/100-0", params={"keep": 1, "force": 1})
    assert_pve_error(answer, 400, "Parameter verification failed.", {"keep": "conflicts with parameter 'force'"})
    ok(api, "DELETE", "/cluster/replication/100-0")
    with sim.state.lock:
        assert sim.state.namespace("replication")["jobs"]["100-0"]["remove_job"] == "full"
    assert [entry["id"] for entry in ok(api, "GET", "/cluster/replication")] == ["101-0"]
    assert storage.volume("pve2", "local-zfs:vm-100-disk-0") is None  # `full`: the copies on the target went
    ok(api, "DELETE", "/cluster/replication/101-0", force=1)
    assert ok(api, "GET", "/cluster/replication") == []
    assert storage.volume("pve3", "local-zfs:vm-101-disk-0") is not None  # force: no cleanup
    plain_error(api.api("DELETE", "/cluster/replication/101-0"), "no such job '101-0'\n")


# -- the runner and the simulated clock ------------------------------------------------------------

def test_first_sync_at_once_then_every_slot(sim, api):
    """A new job runs at once; later syncs on the schedule's slots of the simulated clock."""
    _vm(sim, 100)
    ok(api, "POST", "/cluster/replication", id="100-0", type="local", target="pve2")
    first = ok(api, "GET", "/nodes/pve1/replication/100-0/status")
    assert first["fail_count"] == 0 and "error" not in first
    assert first["last_sync"] == first["last_try"] > 0
    assert first["next_sync"] == next_after("*/15", first["last_try"])
    assert first["vmtype"] == "qemu" and first["source"] == "pve1" and first["duration"] > 0
    now = _advance(api, 2 * QUARTER_HOUR)
    status = ok(api, "GET", "/nodes/pve1/replication/100-0/status")
    assert status["last_sync"] == status["last_try"] and status["last_sync"] % QUARTER_HOUR == 0
    assert now - QUARTER_HOUR < status["last_sync"] <= now
    # the simulated clock runs on with real time: allow the seconds this test takes
    assert 0 <= sim.areas["ReplicationArea"].replica_age(100, "pve2") - (now - status["last_sync"]) <= 2
    log = ok(api, "GET", "/nodes/pve1/replication/100-0/log")
    texts = [line["t"].split(" ", 2)[2] for line in log]
    assert texts[0] == "100-0: start replication job" and texts[-1] == "100-0: end replication job"
    assert "100-0: incremental sync 'local-zfs:vm-100-disk-0' (__replicate_100-0_%d__ => __replicate_100-0_%d__)" % (
        status["last_sync"] - QUARTER_HOUR, status["last_sync"]) in texts
    # the node list shows the guest's node's jobs only
    assert [entry["id"] for entry in ok(api, "GET", "/nodes/pve1/replication")] == ["100-0"]
    assert ok(api, "GET", "/nodes/pve2/replication") == []
    plain_error(api.api("GET", "/nodes/pve2/replication/100-0/status"), "no such replication job '100-0'\n")


def test_a_long_advance_ends_with_the_last_slot(sim, api):
    """Three simulated days at once: the last sync is the last slot before now (runs more than a day
    back are folded, their outcome is the same)."""
    _vm(sim, 100)
    ok(api, "POST", "/cluster/replication", id="100-0", type="local", target="pve2", schedule="hourly")
    now = _advance(api, 3 * 86400)
    status = ok(api, "GET", "/nodes/pve1/replication/100-0/status")
    assert status["last_sync"] % 3600 == 0 and now - 3600 < status["last_sync"] <= now
    assert status["next_sync"] == status["last_sync"] + 3600


def test_schedule_now_runs_the_job_at_once(sim, api):
    """Replication.pm schedule_now: last_try = 0, so the runner's next pass syncs."""
    _vm(sim, 100)
    ok(api, "POST", "/cluster/replication", id="100-0", type="local", target="pve2", schedule="daily")
    first = ok(api, "GET", "/nodes/pve1/replication/100-0/status")
    later = _advance(api, 600)
    assert ok(api, "GET", "/nodes/pve1/replication/100-0/status")["last_sync"] == first["last_sync"]
    ok(api, "POST", "/nodes/pve1/replication/100-0/schedule_now")
    status = ok(api, "GET", "/nodes/pve1/replication/100-0/status")
    assert later <= status["last_sync"] <= later + 5


# -- node failure ------------------------------------------------------------------------------------

def test_node_failure_in_cluster_status_and_resources(sim, api):
    """/cluster/status: online 0 and quorum while a majority is up; /cluster/resources: offline, guests unknown."""
    _vm(sim, 100, node="pve2")
    _side(api, "POST", "nodes/fail", node="pve2")
    status = ok(api, "GET", "/cluster/status")
    assert status[0]["quorate"] == 1
    assert {entry["name"]: entry["online"] for entry in status[1:]} == {"pve1": 1, "pve2": 0, "pve3": 1}
    resources = ok(api, "GET", "/cluster/resources")
    assert [entry["status"] for entry in resources if entry["id"] == "node/pve2"] == ["offline"]
    assert [entry["status"] for entry in resources if entry["id"] == "qemu/100"] == ["unknown"]
    _side(api, "POST", "nodes/fail", node="pve3")
    assert ok(api, "GET", "/cluster/status")[0]["quorate"] == 0
    assert _side(api, "POST", "nodes/recover", node="pve3") == {"failed": ["pve2"], "quorate": True}
    # calls proxied to the dead node: pveproxy's connect failure (595, reason only)
    assert sim.areas["ReplicationArea"].node_unreachable("pve2") is True
    assert sim.areas["ReplicationArea"].node_unreachable("pve1") is None
    answer = api.api("GET", "/nodes/pve2/replication")
    assert (answer.status_code, answer.reason) == (595, "No route to host")


def test_replication_stops_while_the_target_is_down_and_retries_after(sim, api):
    """ReplicationState.pm: a failed sync counts; no retry while the target is offline; then
    last_try + 5 min * fail_count."""
    _vm(sim, 100)
    ok(api, "POST", "/cluster/replication", id="100-0", type="local", target="pve2")
    first = ok(api, "GET", "/nodes/pve1/replication/100-0/status")
    _side(api, "POST", "nodes/fail", node="pve2")
    _advance(api, first["next_sync"] - _side(api, "GET", "clock")["now"] + 10)  # 10 s after the next slot
    status = ok(api, "GET", "/nodes/pve1/replication/100-0/status")
    assert status["fail_count"] == 1 and status["last_sync"] == first["last_sync"] and status["last_try"] == first["next_sync"]
    assert status["error"].startswith("command '/usr/bin/ssh -e none -o 'BatchMode=yes' -o 'HostKeyAlias=pve2'")
    assert status["error"].endswith("failed: exit code 255")
    assert status["next_sync"] == 0  # no retry while the target is offline
    _advance(api, 3 * QUARTER_HOUR)
    assert ok(api, "GET", "/nodes/pve1/replication/100-0/status")["fail_count"] == 1
    assert sim.areas["ReplicationArea"].replica_age(100, "pve2") >= 3 * QUARTER_HOUR
    log = [line["t"] for line in ok(api, "GET", "/nodes/pve1/replication/100-0/log")]
    assert log[-1].endswith("100-0: end replication job with error: " + status["error"])
    _side(api, "POST", "nodes/recover", node="pve2")
    status = ok(api, "GET", "/nodes/pve1/replication/100-0/status")
    assert status["fail_count"] == 0 and status["last_sync"] == status["last_try"] >= first["next_sync"] + 3 * QUARTER_HOUR


def test_retry_five_minutes_after_a_failure(sim, api):
    """ReplicationState.pm job_status: with fail_count n the next try is last_try + 5 min * n."""
    _vm(sim, 100)
    ok(api, "POST", "/cluster/replication", id="100-0", type="local", target="pve2")
    first = ok(api, "GET", "/nodes/pve1/replication/100-0/status")
    _side(api, "POST", "nodes/fail", node="pve2")
    _advance(api, first["next_sync"] - _side(api, "GET", "clock")["now"] + 10)
    _side(api, "POST", "nodes/recover", node="pve2")
    status = ok(api, "GET", "/nodes/pve1/replication/100-0/status")
    assert status["fail_count"] == 1 and status["next_sync"] == first["next_sync"] + 300
    _advance(api, 300)
    status = ok(api, "GET", "/nodes/pve1/replication/100-0/status")
    assert status["fail_count"] == 0 and status["last_sync"] == first["next_sync"] + 300


def test_no_syncs_from_a_dead_source(sim, api):
    """The runner of a dead node does not run: nothing changes until it is back."""
    _vm(sim, 100)
    ok(api, "POST", "/cluster/replication", id="100-0", type="local", target="pve2")
    before = _side(api, "GET", "replication")["jobs"]["100-0"]["state"]
    _side(api, "POST", "nodes/fail", node="pve1")
    _advance(api, 4 * QUARTER_HOUR)
    after = _side(api, "GET", "replication")["jobs"]["100-0"]["state"]
    assert (after["last_try"], after["last_sync"], after["fail_count"]) == (before["last_try"], before["last_sync"], 0)


def test_move_guest_after_node_failure_switches_the_job(sim, api):
    """pmxcfs move to a surviving node: the guest's disks there are the replicas; the job now
    replicates back to the old node (ReplicationConfig.pm switch_replication_job_target_nolock)."""
    volid = _vm(sim, 100)
    ok(api, "POST", "/cluster/replication", id="100-0", type="local", target="pve2")
    with pytest.raises(AssertionError):
        _side(api, "POST", "pmxcfs/move-guest", vmid=100, target="pve2")  # pve1 is up: that is a migration
    _side(api, "POST", "nodes/fail", node="pve1")
    _advance(api, 120)
    moved = _side(api, "POST", "pmxcfs/move-guest", vmid=100, target="pve2")
    assert moved["node"] == "pve2" and moved["previous_node"] == "pve1" and moved["missing_volumes"] == []
    assert 120 <= moved["replica_age"][volid] < 120 + QUARTER_HOUR
    assert sim.areas["GuestsArea"].guest(100)["node"] == "pve2"
    job = ok(api, "GET", "/cluster/replication/100-0")
    assert (job["source"], job["target"]) == ("pve2", "pve1")
    _advance(api, QUARTER_HOUR)
    status = ok(api, "GET", "/nodes/pve2/replication/100-0/status")
    assert status["fail_count"] == 1 and status["next_sync"] == 0  # pve1 is still down
    _side(api, "POST", "nodes/recover", node="pve1")
    _advance(api, 300)
    status = ok(api, "GET", "/nodes/pve2/replication/100-0/status")
    assert status["fail_count"] == 0 and sim.areas["ReplicationArea"].replica_age(100, "pve1") <= 300 + 2


def test_move_guest_refusals(sim, api):
    _vm(sim, 100)
    _side(api, "POST", "nodes/fail", node="pve1")
    _side(api, "POST", "nodes/fail", node="pve3")
    answer = api.sim("POST", "pmxcfs/move-guest", json={"vmid": 100, "target": "pve3"})
    assert answer.status_code == 400 and "pve3" in answer.json()["error"]
    answer = api.sim("POST", "pmxcfs/move-guest", json={"vmid": 100, "target": "pve2"})
    assert answer.status_code == 400 and "quorate" in answer.json()["error"]


# -- destroying a replicated guest (qemu-server API2/Qemu.pm destroy_vm) ------------------------------

def test_destroy_refused_while_the_guest_has_jobs_and_purge_removes_them(sim, api):
    """destroy_vm's early checks: without `purge`, ReplicationConfig.pm check_for_existing_jobs refuses (before
    the running check); `purge` runs remove_vmid_jobs: the guest's jobs go at once, other guests' stay, and the
    copies on the targets stay (no runner pass cleans them up)."""
    _vm(sim, 100, status="running")
    _vm(sim, 101)
    for jobid, target in (("100-1", "pve3"), ("100-0", "pve2"), ("101-0", "pve2")):
        ok(api, "POST", "/cluster/replication", id=jobid, type="local", target=target)
    refusal = "There is a replication job '100-0' for guest '100' - Please remove that first.\n"
    plain_error(api.api("DELETE", "/nodes/pve1/qemu/100"), refusal)
    ok(api, "POST", "/nodes/pve1/qemu/100/status/stop")
    plain_error(api.api("DELETE", "/nodes/pve1/qemu/100"), refusal)
    assert sim.areas["GuestsArea"].guest(100) is not None
    upid = ok(api, "DELETE", "/nodes/pve1/qemu/100", purge=1)
    assert "purging VM 100 from related configurations.." in [line["t"] for line in ok(api, "GET", "/nodes/pve1/tasks/%s/log" % upid)]
    assert sim.areas["GuestsArea"].guest(100) is None
    assert [entry["id"] for entry in ok(api, "GET", "/cluster/replication")] == ["101-0"]
    plain_error(api.api("GET", "/nodes/pve1/replication/100-0/status"), "no such replication job '100-0'\n")
    storage = sim.areas["StorageArea"]
    assert storage.volume("pve2", "local-zfs:vm-100-disk-0") is not None
    assert storage.volume("pve3", "local-zfs:vm-100-disk-0") is not None
    assert not sim.areas["ReplicationArea"].has_replica(100, "pve2")


def test_destroy_after_the_runner_removed_the_job(sim, api):
    """A job marked for removal counts until the runner removed it; after that the guest can go without purge."""
    _vm(sim, 100, status="stopped")
    _vm(sim, 101, status="stopped")
    ok(api, "POST", "/cluster/replication", id="101-0", type="local", target="pve2")
    ok(api, "DELETE", "/cluster/replication/101-0")
    ok(api, "DELETE", "/nodes/pve1/qemu/101")  # the runner's pass before the destroy removed the job
    ok(api, "POST", "/cluster/replication", id="100-0", type="local", target="pve2")
    _side(api, "POST", "nodes/fail", node="pve2")  # the removal fails while the target is down
    ok(api, "DELETE", "/cluster/replication/100-0")
    plain_error(api.api("DELETE", "/nodes/pve1/qemu/100"),
                "There is a replication job '100-0' for guest '100' - Please remove that first.\n")
    _side(api, "POST", "nodes/recover", node="pve2")
    ok(api, "DELETE", "/nodes/pve1/qemu/100")
    assert sim.areas["GuestsArea"].guest(100) is None


# -- migration of a replicated guest (qemu-server src/PVE/QemuMigrate.pm, pve-guest-common AbstractMigrate.pm) --

def _migrate(api, vmid, target, node="pve1", **params):
    """POST migrate, wait for the qmigrate task: (exitstatus, the task log's texts without the time)."""
    upid = ok(api, "POST", "/nodes/%s/qemu/%d/migrate" % (node, vmid), target=target, **params)
    deadline = time.time() + 10
    while ok(api, "GET", "/nodes/%s/tasks/%s/status" % (node, upid))["status"] != "stopped":
        assert time.time() < deadline, "migration task still running"
        time.sleep(0.05)
    status = ok(api, "GET", "/nodes/%s/tasks/%s/status" % (node, upid))
    log = [line["t"] for line in ok(api, "GET", "/nodes/%s/tasks/%s/log" % (node, upid), limit=0)]
    return status["exitstatus"], [line.split(" ", 2)[2] for line in log if line[:4].isdigit()]


def test_migration_to_the_replication_target_uses_the_replica(sim, api):
    """QemuMigrate.pm handle_replication: the job runs once more, the replicated volume keeps its id on the
    target (no copy), the source's volume stays as the replica, the state goes over (`pvesr set-state`)
    and the job turns round at once (switch_replication_job_target); the next run is incremental."""
    volid = _vm(sim, 100, status="stopped")
    ok(api, "POST", "/cluster/replication", id="100-0", type="local", target="pve2")
    before = _advance(api, 600)
    previous = ok(api, "GET", "/nodes/pve1/replication/100-0/status")["last_sync"]  # maybe a slot within the advance
    exitstatus, log = _migrate(api, 100, "pve2")
    after = _side(api, "GET", "clock")["now"]
    assert exitstatus == "OK"
    storage = sim.areas["StorageArea"]
    record = sim.areas["GuestsArea"].record(100)
    assert record["node"] == "pve2" and record["config"]["scsi0"] == "%s,size=4G" % volid
    assert storage.volume("pve2", volid) is not None and storage.volume("pve1", volid) is not None
    assert storage.volume("pve2", "local-zfs:vm-100-disk-1") is None
    job = ok(api, "GET", "/cluster/replication/100-0")
    assert (job["source"], job["target"]) == ("pve2", "pve1")
    status = ok(api, "GET", "/nodes/pve2/replication/100-0/status")
    assert before <= status["last_sync"] <= after and status["fail_count"] == 0
    sync = status["last_sync"]
    state = ('{"local/pve1":{"duration":%s,"fail_count":0,"last_iteration":%d,"last_node":"pve1","last_sync":%d,'
             '"last_try":%d,"storeid_list":["local-zfs"]}}') % (status["duration"], sync, sync, sync)
    assert log == [
        "starting migration of VM 100 to node 'pve2' (10.10.10.12)",
        "found local, replicated disk '%s' (attached)" % volid,
        "replicating disk images",
        "start replication job",
        "guest => VM 100, running => 0",
        "volumes => %s" % volid,
        "create snapshot '__replicate_100-0_%d__' on %s" % (sync, volid),
        "using secure transmission, rate limit: none",
        "incremental sync '%s' (__replicate_100-0_%d__ => __replicate_100-0_%d__)" % (volid, previous, sync),
        "delete previous replication snapshot '__replicate_100-0_%d__' on %s" % (previous, volid),
        "end replication job",
        "# /usr/bin/ssh -e none -o 'BatchMode=yes' -o 'HostKeyAlias=pve2' -o 'UserKnownHostsFile=/etc/pve/nodes/pve2/ssh_known_hosts'"
        " -o 'GlobalKnownHostsFile=none' root@10.10.10.12 pvesr set-state 100 \\''%s'\\'" % state,
        "migration finished successfully (duration 00:00:01)"]
    # the job's own log is that run's (Replication.pm writes it for the migration's run too)
    assert [line["t"].split(" ", 2)[2] for line in ok(api, "GET", "/nodes/pve2/replication/100-0/log")][1] == \
        "100-0: guest => VM 100, running => 0"
    assert [entry["id"] for entry in ok(api, "GET", "/nodes/pve2/replication")] == ["100-0"]
    assert ok(api, "GET", "/nodes/pve1/replication") == []
    # the runner on pve2 replicates back to pve1, on top of the migration's sync
    _advance(api, QUARTER_HOUR)
    status = ok(api, "GET", "/nodes/pve2/replication/100-0/status")
    assert status["fail_count"] == 0 and status["last_sync"] > sync
    texts = [line["t"].split(" ", 2)[2] for line in ok(api, "GET", "/nodes/pve2/replication/100-0/log")]
    assert "100-0: incremental sync '%s' (__replicate_100-0_%d__ => __replicate_100-0_%d__)" % (
        volid, sync, status["last_sync"]) in texts
    assert sim.areas["ReplicationArea"].replica_age(100, "pve1") <= QUARTER_HOUR
    assert not sim.areas["ReplicationArea"].has_replica(100, "pve2")


def test_migration_back_in_the_second_of_the_first_sync(sim, api):
    """The simulated runner syncs a new job at once; a migration in that second still replicates (one
    second on) and leaves a job whose last sync is that run."""
    volid = _vm(sim, 100, status="stopped")
    ok(api, "POST", "/cluster/replication", id="100-0", type="local", target="pve2")
    exitstatus, log = _migrate(api, 100, "pve2")
    assert exitstatus == "OK" and "end replication job" in log and "copying local disk images" not in log
    assert sim.areas["GuestsArea"].record(100)["config"]["scsi0"] == "%s,size=4G" % volid
    exitstatus, log = _migrate(api, 100, "pve1", node="pve2")
    assert exitstatus == "OK" and "found local, replicated disk '%s' (attached)" % volid in log
    job = ok(api, "GET", "/cluster/replication/100-0")
    assert (job["source"], job["target"]) == ("pve1", "pve2")
    assert sim.areas["StorageArea"].volume("pve2", volid) is not None


def test_live_migration_to_the_target_tracks_writes_and_reuses_the_replica(sim, api):
    """A running VM: a dirty bitmap per replicated drive before the run, the target re-uses the replica."""
    volid = _vm(sim, 100, status="running")
    ok(api, "POST", "/cluster/replication", id="100-0", type="local", target="pve2")
    _advance(api, 60)
    exitstatus, log = _migrate(api, 100, "pve2", online=1, **{"with-local-disks": 1})
    assert exitstatus == "OK"
    assert log[2:5] == ["scsi0: start tracking writes using block-dirty-bitmap 'repl_scsi0'", "replicating disk images",
                        "start replication job"]
    assert "guest => VM 100, running => 1" in log
    assert log[log.index("starting VM 100 on remote node 'pve2'") + 1] == "volume '%s' is '%s' on the target" % (volid, volid)
    record = sim.areas["GuestsArea"].record(100)
    assert record["node"] == "pve2" and record["status"] == "running"
    assert sim.areas["StorageArea"].volume("pve1", volid) is not None


def test_migration_to_another_node_copies_and_a_live_one_needs_force(sim, api):
    """QemuMigrate.pm prepare: a running replicated VM goes live only to a replication target unless
    `force` (root@pam) says otherwise; offline it goes anywhere. Off the target the disks are copied,
    and every job of the guest gets the new node as its source (its target stays)."""
    volid = _vm(sim, 100, status="running")
    ok(api, "POST", "/cluster/replication", id="100-0", type="local", target="pve2")
    refusal = "Cannot live-migrate replicated VM to node 'pve3' - not a replication target. Use 'force' to override."
    exitstatus, log = _migrate(api, 100, "pve3", online=1, **{"with-local-disks": 1})
    assert exitstatus == "migration aborted"
    assert log == ["ERROR: migration aborted (duration 00:00:00): " + refusal]
    assert sim.areas["GuestsArea"].record(100)["node"] == "pve1"
    root = ApiSession(sim, auth="ticket")
    exitstatus, log = _migrate(root, 100, "pve3", online=1, force=1, **{"with-local-disks": 1})
    assert exitstatus == "OK"
    assert log[:3] == ["WARNING: Node 'pve3' is not a replication target. Existing replication jobs will fail after migration!",
                       "starting migration of VM 100 to node 'pve3' (10.10.10.13)", "found local disk '%s' (attached)" % volid]
    assert "copying local disk images" in log and "replicating disk images" not in log
    assert sim.areas["StorageArea"].volume("pve3", volid) is not None and sim.areas["StorageArea"].volume("pve1", volid) is None
    job = ok(api, "GET", "/cluster/replication/100-0")
    assert (job["source"], job["target"]) == ("pve3", "pve2")
    ok(api, "POST", "/nodes/pve3/qemu/100/status/stop")
    _vm(sim, 101, status="stopped")
    ok(api, "POST", "/cluster/replication", id="101-0", type="local", target="pve2")
    exitstatus, log = _migrate(api, 101, "pve3")
    assert exitstatus == "OK" and "copying local disk images" in log
    job = ok(api, "GET", "/cluster/replication/101-0")
    assert (job["source"], job["target"]) == ("pve3", "pve2")


def test_migration_refused_while_the_job_is_marked_for_removal(sim, api):
    """QemuMigrate.pm prepare: a job to the target that is marked for removal (the removal fails while the
    target is down) stops the migration before phase 1."""
    volid = _vm(sim, 100, status="stopped")
    ok(api, "POST", "/cluster/replication", id="100-0", type="local", target="pve2")
    _side(api, "POST", "nodes/fail", node="pve2")
    ok(api, "DELETE", "/cluster/replication/100-0")
    exitstatus, log = _migrate(api, 100, "pve2")
    assert exitstatus == "migration aborted"
    assert log == ["ERROR: migration aborted (duration 00:00:00): refusing to migrate replicated VM whose replication job is marked for removal"]
    assert sim.areas["GuestsArea"].record(100)["node"] == "pve1" and sim.areas["StorageArea"].volume("pve1", volid) is not None


def test_a_failed_replication_run_aborts_the_migration(sim, api):
    """QemuMigrate.pm handle_replication: run_replication's error is phase 1's error; the guest stays."""
    volid = _vm(sim, 100, status="stopped")
    ok(api, "POST", "/cluster/replication", id="100-0", type="local", target="pve2")
    _side(api, "POST", "nodes/fail", node="pve2")
    exitstatus, log = _migrate(api, 100, "pve2")
    assert exitstatus == "migration aborted"
    error = ok(api, "GET", "/nodes/pve1/replication/100-0/status")["error"]
    assert error.startswith("command '/usr/bin/ssh ") and error.endswith(" failed: exit code 255")
    assert log[-3:] == ["end replication job with error: " + error, "ERROR: " + error,
                        "ERROR: migration aborted (duration 00:00:00): " + error]
    record = sim.areas["GuestsArea"].record(100)
    assert record["node"] == "pve1" and record["config"]["scsi0"] == "%s,size=4G" % volid
    job = ok(api, "GET", "/cluster/replication/100-0")
    assert (job["source"], job["target"]) == ("pve1", "pve2")
