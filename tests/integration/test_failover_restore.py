# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/failover.yml and playbooks/restore.yml with the demo inventory against the simulator. The guests,
replication jobs, HA resources and backups the playbooks act on are made through the API and the side channel
(not by the whole demo): a migration of a guest whose replica is 30 s old, the refusal of an older replica than
its RPO naming the age, the manual path after a node failure, the HA path (9.1 rules and 8.4 groups), and a
restore to the first free VMID of the tenant."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import threading
import time

import pytest

from pvesim.testing import ApiSession, ok

from .playbook import run_repo_playbook

pytestmark = pytest.mark.timeout(300)

GIB = 1024 ** 3
WRITES = ("POST", "PUT", "DELETE")
# the demo inventory's acme guests (tenant id 1): web1 on pve1 replicates to pve2 (RPO 15 min); db1 on pve2 to
# pve3 every minute, managed by HA
WEB1, DB1 = 10110, 10111


def add_guest(sim, vmid, node, name):
    """A running VM with one disk on local-zfs (a storage PVE replicates), in acme's pool."""
    storage, guests = sim.areas["StorageArea"], sim.areas["GuestsArea"]
    with sim.state.lock:
        disk = storage.alloc(node, "local-zfs", vmid, 4 * GIB)
        guests.add(vmid, node, name=name, status="running")
        guests.record(vmid)["config"].update({
            "scsi0": "{0},size=4G".format(disk), "memory": "1024", "net0": "virtio=02:00:00:27:7E:00,bridge=vmbr0,firewall=1"})


def side(api, method, path, **body):
    answer = api.sim(method, path[len("/_sim"):], json=body or None)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture
def api(sim):
    session = ApiSession(sim)
    session.simulator = sim
    ok(session, "POST", "/pools", poolid="acme")
    yield session
    session.close()


def play(sim, playbook, *options):
    return run_repo_playbook(sim, playbook, options=["-e", "homecloud_tenant=acme"] + list(options), timeout=240)


def where(sim, vmid):
    record = sim.areas["GuestsArea"].record(vmid)
    return record["node"], record["status"]


def jobs(api):
    return dict((job["id"], job["target"]) for job in ok(api, "GET", "/cluster/replication"))


def test_a_live_guest_with_a_30_s_old_replica_is_migrated_and_its_job_turns_round(api):
    sim = api.simulator
    add_guest(sim, WEB1, "pve1", "web1")
    # a weekly slot: no run of its own within the test, so the replica ages with the clock
    ok(api, "POST", "/cluster/replication", id="10110-0", target="pve2", type="local", schedule="mon 00:00")
    side(api, "POST", "/_sim/clock/advance", seconds=30)
    process = play(sim, "playbooks/failover.yml", "-e", "guest=web1")
    assert process.returncode == 0, process.stdout[-4000:]
    age = int(re.search(r"pve1 \(online\) -> pve2: migrate\s+; replica (\d+) s old \(job 10110-0\)", process.stdout).group(1))
    assert 30 <= age < 60
    assert where(sim, WEB1) == ("pve2", "running")
    # the migration went online and took the local disks along
    migrate = [entry for entry in sim.requests() if entry["method"] == "POST" and entry["path"].endswith("/migrate")]
    assert [(entry["path"], entry["params"]["target"], str(entry["params"]["online"]), str(entry["params"]["with-local-disks"]))
            for entry in migrate] == [("/nodes/pve1/qemu/10110/migrate", "pve2", "1", "1")]
    # the job follows the guest: it now copies from pve2 back to pve1
    assert jobs(api) == {"10110-0": "pve1"}
    assert "web1 (10110): migrated from pve1 - now on pve2, running" in process.stdout, process.stdout[-3000:]


def test_after_a_node_failure_an_old_replica_is_refused_then_accepted_and_the_guest_runs_on_the_target(api):
    sim = api.simulator
    add_guest(sim, WEB1, "pve1", "web1")
    ok(api, "POST", "/cluster/replication", id="10110-0", target="pve2", type="local", schedule="mon 00:00")
    side(api, "POST", "/_sim/clock/advance", seconds=1200)
    side(api, "POST", "/_sim/nodes/fail", node="pve1")
    before = len(sim.requests())
    process = play(sim, "playbooks/failover.yml", "-e", "guest=web1")
    assert process.returncode == 2, process.stdout[-4000:]
    found = re.search(r"data loss: the replica on pve2 is (\d+) s old \(last sync at [-0-9: ]+ UTC\), more than the guest's "
                      r"RPO of 900 s; accept the loss of \1 s of writes", process.stdout)
    assert found and 1200 <= int(found.group(1)) < 1260, process.stdout[-3000:]
    assert [entry for entry in sim.requests()[before:] if entry["method"] in WRITES] == []
    assert where(sim, WEB1)[0] == "pve1"

    process = play(sim, "playbooks/failover.yml", "-e", "guest=web1", "-e", "accept_data_loss_seconds=3600")
    assert process.returncode == 0, process.stdout[-4000:]
    assert "pve1 (DOWN) -> pve2: move" in process.stdout
    assert where(sim, WEB1) == ("pve2", "running")
    # the disk it runs from is the replica that was on pve2
    assert sim.areas["StorageArea"].volume("pve2", "local-zfs:vm-10110-disk-0") is not None
    assert re.search(r"config moved from dead node pve1, started - now on pve2, running; data loss up to \d+ s", process.stdout)
    # PVE's runner switches the stolen guest's job: it now replicates to the old node (once that is back)
    assert jobs(api) == {"10110-0": "pve1"}


def test_a_guest_of_a_dead_node_that_runs_elsewhere_is_refused(api):
    sim = api.simulator
    add_guest(sim, WEB1, "pve3", "web1")
    side(api, "POST", "/_sim/nodes/fail", node="pve1")
    process = play(sim, "playbooks/failover.yml", "-e", "guest=web1")
    assert process.returncode == 2
    assert "running elsewhere: guest 10110 runs on pve3, not on its node pve1: it was moved already" in process.stdout


@pytest.mark.parametrize("release", ["9.1", "8.4"])
def test_an_ha_guest_is_recovered_by_ha_and_the_play_reports_where(request, release):
    sim = request.getfixturevalue("sim" if release == "9.1" else "sim84")
    api = ApiSession(sim)
    api.simulator = sim
    try:
        ok(api, "POST", "/pools", poolid="acme")
        add_guest(sim, DB1, "pve2", "db1")
        ok(api, "POST", "/cluster/replication", id="10111-0", target="pve3", type="local", schedule="*/1")
        ok(api, "POST", "/cluster/ha/resources", sid="vm:10111", state="started")
        side(api, "POST", "/_sim/nodes/fail", node="pve2")
        # the fence delay passes while the play waits: once the play reads the HA status, the clock moves on
        # (the simulator's HA acts on a clock advance, as the CRM does once the node's watchdog has expired)
        advancer = threading.Thread(target=advance_once_the_play_waits_for_ha, args=(api,))
        advancer.start()
        process = play(sim, "playbooks/failover.yml", "-e", "guest=db1")
        advancer.join()
        assert process.returncode == 0, process.stdout[-4000:]
        assert "pve2 (DOWN) -> pve3: ha" in process.stdout, process.stdout[-3000:]
        assert "db1 (10111): recovered by HA from pve2 - now on pve3, running" in process.stdout
        assert where(sim, DB1) == ("pve3", "running")
        # no manual move: HA did it
        assert not [entry for entry in sim.requests() if entry["path"] == "/_sim/pmxcfs/move-guest"]
    finally:
        api.close()


def advance_once_the_play_waits_for_ha(api, limit=60):
    deadline = time.time() + limit
    while time.time() < deadline:
        if any(entry["path"] == "/cluster/ha/status/current" for entry in api.simulator.requests()):
            side(api, "POST", "/_sim/clock/advance", seconds=150)
            return
        time.sleep(0.2)


def wait_task(api, upid, limit=30):
    deadline = time.time() + limit
    while ok(api, "GET", "/nodes/pve1/tasks/%s/status" % upid)["status"] != "stopped":
        assert time.time() < deadline, upid
        time.sleep(0.2)


def test_restore_of_the_newest_backup_to_the_first_free_vmid_of_the_tenant(api):
    sim = api.simulator
    add_guest(sim, WEB1, "pve1", "web1")
    ok(api, "POST", "/storage", storage="pbs-acme", type="pbs", server="192.0.2.50", datastore="homecloud", namespace="acme",
       username="homecloud-acme@pbs!pve", password="secret")
    # two backups a second apart (the archive's name is its time); the restore takes the newer
    wait_task(api, ok(api, "POST", "/nodes/pve1/vzdump", vmid=str(WEB1), storage="pbs-acme"))
    time.sleep(1.1)
    wait_task(api, ok(api, "POST", "/nodes/pve1/vzdump", vmid=str(WEB1), storage="pbs-acme"))
    backups = sorted(ok(api, "GET", "/nodes/pve1/storage/pbs-acme/content", content="backup"), key=lambda entry: entry["ctime"])
    assert len(backups) == 2
    # db1's planned VMID 10111 is free, but belongs to the plan: the first free one above the planned guests is 10112
    process = play(sim, "playbooks/restore.yml", "-e", "guest=web1")
    assert process.returncode == 0, process.stdout[-4000:]
    assert "acme/web1 (10110): %s restored as guest 10112" % backups[-1]["volid"] in process.stdout
    restored = sim.areas["GuestsArea"].record(10112)
    assert restored["node"] == "pve1" and restored["status"] == "stopped"
    assert 10112 in [int(member["vmid"]) for member in ok(api, "GET", "/pools/acme")["members"] if "vmid" in member]
    original_mac = re.search(r"=([0-9A-F:]{17})", sim.areas["GuestsArea"].record(WEB1)["config"]["net0"]).group(1)
    assert original_mac not in restored["config"]["net0"]

    before = len(sim.requests())
    process = play(sim, "playbooks/restore.yml", "-e", "guest=web1", "-e", "vmid=10112", "-e", "backup=" + backups[0]["volid"])
    assert process.returncode == 2
    assert "vmid 10112: in use by guest web1 - a restore never replaces a guest" in process.stdout
    assert [entry for entry in sim.requests()[before:] if entry["method"] in WRITES] == []
