# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/failover.yml and playbooks/restore.yml with the demo inventory against the simulator. The guests,
replication jobs, HA resources and backups the playbooks act on are made through the API and the side channel
(not by the whole demo): a migration of a guest whose replica is 30 s old, the refusal of an older replica than
its RPO naming the age, the manual path after a node failure, the HA path (9.1 rules and 8.4 groups), and a
restore to the first free VMID of the tenant. Before each real run a --check --diff run of the same path: the same
refusals, no write under /api2 and no config move through the side channel, and a report of what the real run then
does (its writes, the move and start, the VMID and backup)."""

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


def check(sim, playbook, *options):
    return play(sim, playbook, "--check", "--diff", *options)


def log_mark(sim):
    """The sequence number of the request log's newest entry: what came after it is the next run's."""
    entries = sim.requests()
    return entries[-1]["seq"] if entries else 0


def api_writes(sim, mark):
    """The /api2 writes logged after `mark`, written as the modules report them (RETURN writes)."""
    def shown(entry):
        return "{0} {1}{2}".format(entry["method"], entry["path"], "".join(
            " {0}={1}".format(key, entry["params"][key]) for key in sorted(entry["params"])))
    return [shown(entry) for entry in sim.requests() if entry["seq"] > mark and entry["method"] in WRITES]


def watch_config_moves(monkeypatch, sim):
    """The side channel's pmxcfs moves (POST /_sim/pmxcfs/move-guest is not in the request log): (vmid, target)."""
    area = sim.areas["ReplicationArea"]
    moves, move_guest = [], area.move_guest

    def recorded(vmid, target):
        moves.append((int(vmid), target))
        return move_guest(vmid, target)

    monkeypatch.setattr(area, "move_guest", recorded)
    return moves


def refusal(process):
    """The message of the task that failed."""
    found = re.search(r'FAILED! => .*?"msg": "((?:[^"\\]|\\.)*)"', process.stdout)
    assert found, process.stdout[-3000:]
    return found.group(1)


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
    mark = log_mark(sim)
    checked = check(sim, "playbooks/failover.yml", "-e", "guest=web1")
    assert checked.returncode == 0, checked.stdout[-4000:]
    planned = "POST /nodes/pve1/qemu/10110/migrate online=1 target=pve2 with-local-disks=1"
    assert ("acme/web1 (10110): check mode, nothing changed - would migrate it from pve1 to pve2; API writes: " + planned
            in checked.stdout), checked.stdout[-3000:]
    assert '-    "node": "pve1",\n+    "node": "pve2",' in checked.stdout, checked.stdout[-3000:]
    assert api_writes(sim, mark) == []
    assert where(sim, WEB1) == ("pve1", "running") and jobs(api) == {"10110-0": "pve2"}

    mark = log_mark(sim)
    process = play(sim, "playbooks/failover.yml", "-e", "guest=web1")
    assert process.returncode == 0, process.stdout[-4000:]
    age = int(re.search(r"pve1 \(online\) -> pve2: migrate\s+; replica (\d+) s old \(job 10110-0\)", process.stdout).group(1))
    assert 30 <= age < 60
    assert where(sim, WEB1) == ("pve2", "running")
    # the write check mode planned, and only it: the migration went online and took the local disks along
    assert api_writes(sim, mark) == [planned]
    # the job follows the guest: it now copies from pve2 back to pve1
    assert jobs(api) == {"10110-0": "pve1"}
    assert "web1 (10110): migrated from pve1 - now on pve2, running" in process.stdout, process.stdout[-3000:]


def test_after_a_node_failure_an_old_replica_is_refused_then_accepted_and_the_guest_runs_on_the_target(api, monkeypatch):
    sim = api.simulator
    moves = watch_config_moves(monkeypatch, sim)
    add_guest(sim, WEB1, "pve1", "web1")
    ok(api, "POST", "/cluster/replication", id="10110-0", target="pve2", type="local", schedule="mon 00:00")
    side(api, "POST", "/_sim/clock/advance", seconds=1200)
    side(api, "POST", "/_sim/nodes/fail", node="pve1")
    mark = log_mark(sim)
    refusals = []
    for run in (check, play):
        process = run(sim, "playbooks/failover.yml", "-e", "guest=web1")
        assert process.returncode == 2, process.stdout[-4000:]
        found = re.match(r"data loss: the replica on pve2 is (\d+) s old \(last sync at [-0-9: ]+ UTC\), more than the guest's "
                         r"RPO of 900 s; accept the loss of \1 s of writes", refusal(process))
        assert found and 1200 <= int(found.group(1)) < 1260, process.stdout[-3000:]
        refusals.append(refusal(process).replace(found.group(1), "<age>"))
    # the check run refuses as the real one does (the age only differs by the seconds between the runs)
    assert refusals[0] == refusals[1]
    assert api_writes(sim, mark) == [] and moves == []
    assert where(sim, WEB1)[0] == "pve1"

    checked = check(sim, "playbooks/failover.yml", "-e", "guest=web1", "-e", "accept_data_loss_seconds=3600")
    assert checked.returncode == 0, checked.stdout[-4000:]
    assert re.search(r"acme/web1 \(10110\): check mode, nothing changed - would move its config from dead node pve1 to pve2 "
                     r"\(mv /etc/pve/nodes/pve1/qemu-server/10110.conf /etc/pve/nodes/pve2/qemu-server/, through the simulator side "
                     r"channel\), then start it there; data loss up to 12\d\d s; API writes: POST /nodes/pve2/qemu/10110/status/start",
                     checked.stdout), checked.stdout[-3000:]
    assert api_writes(sim, mark) == [] and moves == []
    assert where(sim, WEB1)[0] == "pve1"

    process = play(sim, "playbooks/failover.yml", "-e", "guest=web1", "-e", "accept_data_loss_seconds=3600")
    assert process.returncode == 0, process.stdout[-4000:]
    assert "pve1 (DOWN) -> pve2: move" in process.stdout
    assert where(sim, WEB1) == ("pve2", "running")
    assert moves == [(WEB1, "pve2")] and api_writes(sim, mark) == ["POST /nodes/pve2/qemu/10110/status/start"]
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
def test_an_ha_guest_is_recovered_by_ha_and_the_play_reports_where(request, monkeypatch, release):
    sim = request.getfixturevalue("sim" if release == "9.1" else "sim84")
    api = ApiSession(sim)
    api.simulator = sim
    moves = watch_config_moves(monkeypatch, sim)
    try:
        ok(api, "POST", "/pools", poolid="acme")
        add_guest(sim, DB1, "pve2", "db1")
        ok(api, "POST", "/cluster/replication", id="10111-0", target="pve3", type="local", schedule="*/1")
        ok(api, "POST", "/cluster/ha/resources", sid="vm:10111", state="started")
        side(api, "POST", "/_sim/nodes/fail", node="pve2")
        if release == "9.1":  # the check run reads what the 8.4 run reads; once is enough
            mark = log_mark(sim)
            checked = check(sim, "playbooks/failover.yml", "-e", "guest=db1")
            assert checked.returncode == 0, checked.stdout[-4000:]
            assert ("acme/db1 (10111): check mode, nothing changed - would leave it to HA, which recovers it from pve2 to a node "
                    "with its replica\"" in checked.stdout), checked.stdout[-3000:]
            # nothing written, and no wait for a recovery that check mode does not bring about
            assert api_writes(sim, mark) == [] and moves == []
            assert not [entry for entry in sim.requests() if entry["path"] == "/cluster/ha/status/current"]
            assert where(sim, DB1)[0] == "pve2"
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
        assert moves == []
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
    mark = log_mark(sim)
    checked = check(sim, "playbooks/restore.yml", "-e", "guest=web1")
    assert checked.returncode == 0, checked.stdout[-4000:]
    planned = "POST /nodes/pve1/qemu archive=%s pool=acme unique=1 vmid=10112" % backups[-1]["volid"]
    assert ("acme/web1 (10110): check mode, nothing changed - would restore %s as guest 10112 on pve1 in pool acme, new MAC "
            "addresses, stopped; API writes: %s" % (backups[-1]["volid"], planned)) in checked.stdout, checked.stdout[-3000:]
    assert api_writes(sim, mark) == [] and sim.areas["GuestsArea"].record(10112) is None

    process = play(sim, "playbooks/restore.yml", "-e", "guest=web1")
    assert process.returncode == 0, process.stdout[-4000:]
    assert api_writes(sim, mark) == [planned]
    assert "acme/web1 (10110): %s restored as guest 10112" % backups[-1]["volid"] in process.stdout
    restored = sim.areas["GuestsArea"].record(10112)
    assert restored["node"] == "pve1" and restored["status"] == "stopped"
    assert 10112 in [int(member["vmid"]) for member in ok(api, "GET", "/pools/acme")["members"] if "vmid" in member]
    original_mac = re.search(r"=([0-9A-F:]{17})", sim.areas["GuestsArea"].record(WEB1)["config"]["net0"]).group(1)
    assert original_mac not in restored["config"]["net0"]

    mark = log_mark(sim)
    answers = [run(sim, "playbooks/restore.yml", "-e", "guest=web1", "-e", "vmid=10112", "-e", "backup=" + backups[0]["volid"])
               for run in (check, play)]
    assert [process.returncode for process in answers] == [2, 2]
    assert [refusal(process) for process in answers] == ["vmid 10112: in use by guest web1 - a restore never replaces a guest"] * 2
    assert api_writes(sim, mark) == []
