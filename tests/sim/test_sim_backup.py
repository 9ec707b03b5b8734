"""The simulator's backups: backup jobs (pve-manager PVE/API2/Backup.pm), backup info (Cluster/BackupInfo.pm),
vzdump runs (PVE/API2/VZDump.pm, PVE/VZDump.pm) and restore (qemu-server PVE/API2/Qemu.pm create_vm
with `archive`, PVE/QemuServer.pm restore_update_config_line)."""

import re
import time

import pytest

from pvesim import Simulator
from pvesim.testing import ApiSession, assert_pve_error, ok, plain_error

# short tasks: a VM's `create` and `backup` locks end quickly
TASK_SECONDS = 0.05


@pytest.fixture(scope="module")
def _quick_sim():
    simulator = Simulator(pve_version="9.1", task_duration=TASK_SECONDS)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def api(_quick_sim):  # pylint: disable=redefined-outer-name
    _quick_sim.reset()
    session = ApiSession(_quick_sim)
    yield session
    session.close()


def _wait(api, upid):
    """Poll the task until it stopped (bounded); its exit status."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = ok(api, "GET", "/nodes/%s/tasks/%s/status" % (upid.split(":")[1], upid))
        if status["status"] == "stopped":
            return status["exitstatus"]
        time.sleep(0.02)
    raise AssertionError("task %s did not stop" % upid)


def _vm(api, vmid=100, node="pve1", **config):
    """A VM with a 1 GiB disk on local-zfs and a NIC, its create task finished."""
    params = dict({"vmid": vmid, "name": "web%d" % vmid, "scsi0": "local-zfs:1", "net0": "virtio,bridge=vmbr0"}, **config)
    assert _wait(api, ok(api, "POST", "/nodes/%s/qemu" % node, **params)) == "OK"
    return ok(api, "GET", "/nodes/%s/qemu/%d/config" % (node, vmid))


def _content(api, storage, node="pve1"):
    return ok(api, "GET", "/nodes/%s/storage/%s/content" % (node, storage), content="backup")


def test_job_create_read_list_and_the_create_refusals(api):
    """Backup.pm create_job: schedule required (or starttime), selection conflicts, duplicate id; GET adds
    id and type, prune-backups as an object, enabled stored as 1; the list adds next-run."""
    path = "/cluster/backup"
    assert_pve_error(api.api("POST", path, data={"vmid": "100"}), 400, "Parameter verification failed.",
                     {"schedule": "neither 'starttime' nor 'schedule' were set"})
    assert_pve_error(api.api("POST", path, data={"vmid": "100", "schedule": "daily", "starttime": "02:00"}), 400,
                     "Parameter verification failed.", {"starttime": "'starttime' and 'schedule' cannot both be set"})
    assert_pve_error(api.api("POST", path, data={"schedule": "daily", "vmid": "100", "all": 1}), 400,
                     "Parameter verification failed.", {"all": "option conflicts with option 'vmid'"})
    assert_pve_error(api.api("POST", path, data={"schedule": "daily"}), 400, "Parameter verification failed.",
                     {"vmid": "property is missing"})
    assert_pve_error(api.api("POST", path, data={"schedule": "daily", "all": 1, "prune-backups": "keep-all=1,keep-last=2"}), 400,
                     "Parameter verification failed.",
                     {"prune-backups": "invalid format - keep-all cannot be set together with other options.\n"})
    assert_pve_error(api.api("POST", path, data={"schedule": "daily", "all": 1, "storage": "local", "notes-template": "{{name}}"}), 400,
                     "Parameter verification failed.", {"notes-template": "found unknown: variable 'name' at char 4\n"})
    ok(api, "POST", path, id="nightly", schedule="mon..fri 22:00", vmid="100,101", storage="local", **{"prune-backups": "keep-last=3"})
    plain_error(api.api("POST", path, data={"id": "nightly", "schedule": "daily", "all": 1}), "Job 'nightly' already exists\n")
    ok(api, "POST", path, starttime="02:30", dow="sat,sun", all=1)
    job = ok(api, "GET", path + "/nightly")
    assert job == {"id": "nightly", "type": "vzdump", "schedule": "mon..fri 22:00", "vmid": "100,101", "storage": "local",
                   "enabled": 1, "prune-backups": {"keep-last": 3}}
    listed = ok(api, "GET", path)
    assert [entry["id"] for entry in listed][0] == "nightly"
    generated = listed[1]
    assert re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$", generated["id"])
    assert generated["schedule"] == "sat,sun 02:30" and generated["all"] == 1
    assert all(entry["next-run"] > time.time() for entry in listed)
    assert_pve_error(api.api("GET", path + "/nope"), 400, "Parameter verification failed.", {"id": "No such job 'nope'"})


def test_job_update_replaces_the_selection_and_delete(api):
    """Backup.pm update_job: vmid drops all/exclude/pool, all=1 drops vmid/pool, pool drops vmid/all/exclude;
    `delete` of an unknown option; a missing job."""
    path = "/cluster/backup/weekly"
    ok(api, "POST", "/pools", poolid="tenant-a")
    ok(api, "POST", "/cluster/backup", id="weekly", schedule="sun 03:00", exclude="105", comment="all but one")
    assert ok(api, "GET", path)["all"] == 1
    ok(api, "PUT", path, vmid="100")
    job = ok(api, "GET", path)
    assert job["vmid"] == "100" and "all" not in job and "exclude" not in job
    ok(api, "PUT", path, pool="tenant-a")
    job = ok(api, "GET", path)
    assert job["pool"] == "tenant-a" and "vmid" not in job
    ok(api, "PUT", path, all=1, delete="comment")
    job = ok(api, "GET", path)
    assert job["all"] == 1 and "pool" not in job and "comment" not in job
    assert_pve_error(api.api("PUT", path, data={"delete": "color"}), 400, "Parameter verification failed.",
                     {"delete": "unknown option 'color'"})
    plain_error(api.api("PUT", path, data={}), "no options specified\n")
    plain_error(api.api("PUT", "/cluster/backup/other", data={"all": 1}), "no such vzdump job\n")
    ok(api, "DELETE", path)
    assert ok(api, "GET", "/cluster/backup") == []


def test_destroy_with_purge_takes_the_vmid_out_of_backup_jobs(api):
    """qemu-server Qemu.pm destroy_vm with `purge` calls pve-guest-common VZDump/Plugin.pm
    remove_vmid_from_backup_jobs: a listed vmid leaves `vmid` (the job goes with the last one), else
    `exclude` (dropped when empty); a pool job stays; a destroy without `purge` changes no job."""
    path = "/cluster/backup"
    ok(api, "POST", "/pools", poolid="tenant-a")
    ok(api, "POST", path, id="only", schedule="daily", vmid="100")
    ok(api, "POST", path, id="pair", schedule="daily", vmid="100,102")
    ok(api, "POST", path, id="all-but", schedule="daily", all=1, exclude="100")
    ok(api, "POST", path, id="all-but-two", schedule="daily", all=1, exclude="100,103")
    ok(api, "POST", path, id="pool", schedule="daily", pool="tenant-a")
    ok(api, "POST", path, id="other", schedule="daily", vmid="101")
    for vmid in (100, 101):
        _vm(api, vmid)
    before = ok(api, "GET", path)
    assert _wait(api, ok(api, "DELETE", "/nodes/pve1/qemu/101")) == "OK"
    assert ok(api, "GET", path) == before
    upid = ok(api, "DELETE", "/nodes/pve1/qemu/100", purge=1)
    assert _wait(api, upid) == "OK"
    assert "purging VM 100 from related configurations.." in [line["t"] for line in ok(api, "GET", "/nodes/pve1/tasks/%s/log" % upid)]
    jobs = {job["id"]: job for job in ok(api, "GET", path)}
    assert sorted(jobs) == ["all-but", "all-but-two", "other", "pair", "pool"]
    assert jobs["pair"]["vmid"] == "102"
    assert jobs["all-but"]["all"] == 1 and "exclude" not in jobs["all-but"]
    assert jobs["all-but-two"]["exclude"] == "103"
    assert jobs["pool"]["pool"] == "tenant-a" and jobs["other"]["vmid"] == "101"


def test_vzdump_to_a_directory_storage_notes_and_pruning(api):
    """VZDump.pm: vzdump-qemu-<vmid>-<time>.vma.zst in `local`, notes from the template, protected; the
    retention keeps the newest `keep-last`; the task id is the one guest's vmid."""
    _vm(api, 100)
    params = {"vmid": "100", "storage": "local", "notes-template": "{{guestname}} on {{node}} ({{vmid}}, {{cluster}})",
              "prune-backups": "keep-last=2"}
    upids = []
    for _run in range(3):
        # each run locks the VM `backup` until its task ends, so the next run waits for it
        upids.append(ok(api, "POST", "/nodes/pve1/vzdump", **params))
        assert _wait(api, upids[-1]) == "OK"
    assert upids[0].split(":")[5:7] == ["vzdump", "100"]
    backups = _content(api, "local")
    assert len(backups) == 2
    for backup in backups:
        assert re.match(r"^local:backup/vzdump-qemu-100-\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d\.vma\.zst$", backup["volid"])
        assert (backup["format"], backup["subtype"], backup["vmid"], backup["notes"]) == (
            "vma.zst", "qemu", 100, "web100 on pve1 (100, homecloud)")
    log = [line["t"] for line in ok(api, "GET", "/nodes/pve1/tasks/%s/log" % upids[2])]
    assert "INFO: prune older backups with retention: keep-last=2" in log
    assert "INFO: pruned 1 backup(s) not covered by keep-retention policy" in log
    # a guest on another node: this node has nothing to do (no task)
    _vm(api, 101, node="pve2")
    assert ok(api, "POST", "/nodes/pve1/vzdump", vmid="101", storage="local") == "OK"
    # a storage without content backup: the worker dies
    upid = ok(api, "POST", "/nodes/pve1/vzdump", vmid="100", storage="local-zfs")
    assert _wait(api, upid) == "can't use storage 'local-zfs' for backups - wrong content type"


def test_scheduled_job_to_pbs_and_backup_info(api):
    """The scheduler's run of a job (side channel) on a pbs storage: backup/vm/<vmid>/<UTC time> snapshots,
    format pbs-vm, encrypted with the storage's key fingerprint, seen from every node; included_volumes and
    not-backed-up follow the job's selection."""
    created = ok(api, "POST", "/storage", storage="backup", type="pbs", server="10.0.0.5", datastore="main",
                 password="pw", **{"encryption-key": "autogen"})
    fingerprint = ok(api, "GET", "/storage/backup")["encryption-key"]
    _vm(api, 100)
    _vm(api, 102, node="pve2", scsi1="local-zfs:1,backup=0", efidisk0="local-zfs:1")
    _vm(api, 103, node="pve3")
    ok(api, "POST", "/cluster/backup", id="tenant", schedule="daily", vmid="100,102,999", storage="backup",
       **{"notes-template": "{{guestname}}"})
    answer = api.sim("POST", "backup/run", json={"id": "tenant"})
    assert answer.status_code == 200, answer.text
    upids = answer.json()["data"]["upids"]
    # VZDump.pm API vzdump: an id of no guest is tried (and fails) on every node
    assert sorted(upid.split(":")[1] for upid in upids) == ["pve1", "pve2", "pve3"]
    assert [_wait(api, upid) for upid in upids] == ["job errors"] * 3
    pve1_log = [line["t"] for line in ok(api, "GET", "/nodes/pve1/tasks/%s/log" % next(u for u in upids if ":pve1:" in u))]
    assert "ERROR: Backup of VM 999 failed - unable to find VM '999'" in pve1_log
    backups = _content(api, "backup", node="pve3")
    assert sorted(backup["vmid"] for backup in backups) == [100, 102]
    for backup in backups:
        assert re.match(r"^backup:backup/vm/%d/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$" % backup["vmid"], backup["volid"])
        assert (backup["format"], backup["subtype"], backup["encrypted"], backup["notes"]) == (
            "pbs-vm", "qemu", fingerprint, "web%d" % backup["vmid"])
    assert created["config"]["encryption-key"]
    included = ok(api, "GET", "/cluster/backup/tenant/included_volumes")["children"]
    assert [child["id"] for child in included] == [100, 102, 999]
    assert included[2] == {"id": 999, "type": "unknown", "leaf": 1}
    disks = {disk["id"]: (disk["included"], disk["reason"]) for disk in included[1]["children"]}
    assert disks == {"102:efidisk0": (0, "efidisk but no OVMF BIOS"), "102:scsi0": (1, "backup=yes"), "102:scsi1": (0, "backup=no")}
    assert ok(api, "GET", "/cluster/backup-info/not-backed-up") == [{"vmid": 103, "type": "qemu", "name": "web103"}]


def test_restore_new_vm_unique_storage_and_pool(api):
    """create_vm with `archive`: a qmrestore task; the backup's config with new disks on `storage`, new MACs
    and smbios1 uuid with `unique`, a new vmgenid; the VM joins `pool`."""
    ok(api, "POST", "/pools", poolid="restored")
    source = _vm(api, 100, scsi1="local-zfs:2,backup=0")
    upid = ok(api, "POST", "/nodes/pve1/vzdump", vmid="100", storage="local")
    assert _wait(api, upid) == "OK"
    archive = _content(api, "local")[0]["volid"]
    ok(api, "PUT", "/storage/local", content="iso,vztmpl,backup,import,images")
    upid = ok(api, "POST", "/nodes/pve1/qemu", vmid=200, archive=archive, unique=1, storage="local", pool="restored")
    assert upid.split(":")[5:7] == ["qmrestore", "200"]
    assert _wait(api, upid) == "OK"
    restored = ok(api, "GET", "/nodes/pve1/qemu/200/config")
    assert restored["name"] == "web100"
    assert restored["scsi0"].startswith("local:200/vm-200-disk-0.") and "scsi1" not in restored
    assert restored["net0"] != source["net0"] and restored["net0"].startswith("virtio=")
    assert restored["smbios1"] != source["smbios1"] and restored["vmgenid"] != source["vmgenid"]
    assert 200 in ok(api, "GET", "/pools/restored")["members"][0].values()
    assert_pve_error(api.api("POST", "/nodes/pve1/qemu", data={"vmid": 201, "archive": archive, "scsi0": "local-zfs:1"}), 400,
                     "Parameter verification failed.", {"scsi0": "option conflicts with option 'archive'"})


def test_restore_over_an_existing_vm(api):
    """create_and_lock_config refuses an existing VM without `force`; with it the worker refuses a running VM
    (Qemu.pm: "vm is running"), else the old disks go and the backup's config replaces the VM's."""
    _vm(api, 100)
    assert _wait(api, ok(api, "POST", "/nodes/pve1/vzdump", vmid="100", storage="local")) == "OK"
    archive = _content(api, "local")[0]["volid"]
    ok(api, "PUT", "/nodes/pve1/qemu/100/config", name="renamed")
    plain_error(api.api("POST", "/nodes/pve1/qemu", data={"vmid": 100, "archive": archive}),
                "unable to restore VM 100 - VM 100 already exists on node 'pve1'\n")
    assert _wait(api, ok(api, "POST", "/nodes/pve1/qemu/100/status/start")) == "OK"
    upid = ok(api, "POST", "/nodes/pve1/qemu", vmid=100, archive=archive, force=1)
    assert _wait(api, upid) == "unable to restore VM 100 - vm is running"
    assert _wait(api, ok(api, "POST", "/nodes/pve1/qemu/100/status/stop")) == "OK"
    assert _wait(api, ok(api, "POST", "/nodes/pve1/qemu", vmid=100, archive=archive, force=1)) == "OK"
    assert ok(api, "GET", "/nodes/pve1/qemu/100/config")["name"] == "web100"
    disks = [entry["volid"] for entry in ok(api, "GET", "/nodes/pve1/storage/local-zfs/content")]
    assert disks == ["local-zfs:vm-100-disk-0"]
