# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""guest_failover's plan from PVE's answers: the action follows from where the guest is and whether its node is up;
each refusal names its check (and the replica's age); the replica's time comes from the source's replication status
while it answers, else from replica_synced_at. Check mode: the same refusals, the planned writes and diff, no write.
guest_restore's choice of the newest backup."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.homecloud.proxmox.plugins.modules.guest_failover import GuestFailover, Refusal, planned_writes
from ansible_collections.homecloud.proxmox.plugins.modules.guest_restore import newest_backup

NOW = 1700000000


class FakeClient:
    """The cluster's answers: node states, the guest, its replication jobs and HA resources."""

    def __init__(self, online=("pve1", "pve2", "pve3"), quorate=True, guest_node="pve1", status="running", jobs=None, ha=(),
                 last_sync=NOW - 30):
        self.online, self.quorate, self.guest_node, self.status = online, quorate, guest_node, status
        self.jobs = [dict(id="100-0", guest=100, target="pve2", type="local")] if jobs is None else jobs
        self.ha, self.last_sync = list(ha), last_sync
        self.calls, self.writes = [], []

    def call(self, method, path, params, **_options):
        """A write (Write.send): recorded; a start leaves the guest running once its task is waited for."""
        self.writes.append((method, path, params))
        return dict(data="UPID:{0}".format(path))

    def wait_task(self, upid, **_options):
        self.calls.append(upid)
        if upid.endswith("/status/start"):
            self.status = "running"

    def get(self, path, **_params):
        self.calls.append(path)
        if path == "/cluster/status":
            return [dict(type="cluster", quorate=int(self.quorate))] + [
                dict(type="node", name=node, online=int(node in self.online)) for node in ("pve1", "pve2", "pve3")]
        if path == "/cluster/resources":
            status = self.status if self.guest_node in self.online else "unknown"
            return [dict(type="qemu", vmid=100, node=self.guest_node, status=status, name="web1")]
        if path == "/cluster/replication":
            return self.jobs
        if path == "/cluster/ha/resources":
            return self.ha
        if path == "/nodes/{0}/qemu/100/status/current".format(self.guest_node):
            return dict(status=self.status)
        assert path == "/nodes/{0}/replication/100-0/status".format(self.guest_node), path
        assert self.guest_node in self.online, "a dead node's replication state was read"
        return dict(id="100-0", last_sync=self.last_sync)


class FakeModule:
    def __init__(self, params, check_mode):
        self.params = params
        self.check_mode = check_mode
        self._diff = True


def failover_module(client, check_mode=True, **params):
    module_params = dict(vmid=100, target="pve2", home_node="pve1", rpo=900, accept_data_loss=0, replica_synced_at=None,
                         now=NOW, state="checked", timeout=300)
    module_params.update(params)
    failover = GuestFailover.__new__(GuestFailover)  # no AnsibleModule: the plan and run() without exit_json
    failover.module = FakeModule(module_params, check_mode)
    failover.client = client
    failover.result = {"changed": False}
    failover.working_on = None
    failover.vmid = module_params["vmid"]
    return failover


def plan(client, **params):
    return failover_module(client, **params).plan()


def checked_run(client, **params):
    """run() in check mode with state=started: the result."""
    failover = failover_module(client, state="started", **params)
    failover.run()
    return failover.result


def refusal(client, **params):
    with pytest.raises(Refusal) as caught:
        plan(client, **params)
    return caught.value.check, str(caught.value)


def test_a_live_guest_is_migrated_and_its_replica_age_comes_from_the_source_status():
    result = plan(FakeClient())
    assert (result["action"], result["source"], result["source_online"], result["running"]) == ("migrate", "pve1", True, True)
    assert (result["job"], result["last_sync"], result["data_loss_seconds"]) == ("100-0", NOW - 30, 30)
    # a stopped guest migrates offline (the module sends online=0 for it)
    assert plan(FakeClient(status="stopped"))["running"] is False


def test_a_dead_nodes_guest_is_moved_with_the_replica_time_given_and_refused_without_it():
    client = FakeClient(online=("pve2", "pve3"))
    result = plan(client, replica_synced_at=NOW - 120)
    assert (result["action"], result["source_online"], result["running"], result["data_loss_seconds"]) == ("move", False, None, 120)
    assert not [call for call in client.calls if call.startswith("/nodes/")]
    check, text = refusal(FakeClient(online=("pve2", "pve3")))
    assert check == "data loss" and "node pve1 is down" in text and "replica_synced_at" in text


def test_an_old_replica_is_refused_naming_its_age_unless_that_loss_is_accepted():
    check, text = refusal(FakeClient(last_sync=NOW - 1260))
    assert check == "data loss"
    assert text.startswith("data loss: the replica on pve2 is 1260 s old (last sync at 2023-11-14 21:52:20 UTC), "
                           "more than the guest's RPO of 900 s; accept the loss of 1260 s")
    check, text = refusal(FakeClient(last_sync=NOW - 1260), accept_data_loss=600)
    assert "RPO of 900 s and the accepted 600 s" in text
    assert plan(FakeClient(last_sync=NOW - 1260), accept_data_loss=1260)["data_loss_seconds"] == 1260
    check, text = refusal(FakeClient(last_sync=0))
    assert (check, text) == ("replication", "replication: job 100-0 has never synced guest 100 to pve2")


@pytest.mark.parametrize("client,params,check,text", [
    (FakeClient(online=("pve1",), quorate=False), {}, "quorum",
     "quorum: the cluster is not quorate (online: pve1 of 3 nodes): /etc/pve is read-only and no guest can move"),
    (FakeClient(), dict(target="pve9"), "target", "target: pve9 is not a node of the cluster (pve1, pve2, pve3)"),
    (FakeClient(online=("pve1", "pve3")), {}, "target", "target: node pve2 is offline"),
    (FakeClient(jobs=[dict(id="100-1", guest=100, target="pve3"), dict(id="100-0", guest=100, target="pve2", remove_job="full")]),
     {}, "replication", "replication: guest 100 has no replication job to pve2 (its jobs: 100-1 -> pve3, 100-0 -> pve2)"),
    (FakeClient(jobs=[]), {}, "replication", "replication: guest 100 has no replication job to pve2 (its jobs: none)"),
    (FakeClient(guest_node="pve3", online=("pve2", "pve3")), {}, "running elsewhere",
     "running elsewhere: guest 100 runs on pve3, not on its node pve1: it was moved already"),
])
def test_each_refusal_names_its_check(client, params, check, text):
    assert refusal(client, **params) == (check, text)
    # the run refuses the same, in check mode and not, before any write
    for check_mode in (True, False):
        with pytest.raises(Refusal) as caught:
            failover_module(client, check_mode=check_mode, state="started", **params).run()
        assert (caught.value.check, str(caught.value)) == (check, text)
    assert client.writes == []


def test_check_mode_reports_the_writes_and_the_diff_of_each_action_and_sends_none():
    client = FakeClient()
    result = checked_run(client)
    assert (result["action"], result["changed"]) == ("migrate", True)
    assert result["writes"] == ["POST /nodes/pve1/qemu/100/migrate online=1 target=pve2 with-local-disks=1"]
    assert result["diff"] == dict(before=dict(node="pve1", status="running"), after=dict(node="pve2", status="running"))
    assert checked_run(FakeClient(status="stopped"))["writes"] == ["POST /nodes/pve1/qemu/100/migrate online=0 target=pve2 with-local-disks=1"]
    # a dead node's guest: the play moves its config, then the module starts it on the target
    result = checked_run(FakeClient(online=("pve2", "pve3")), replica_synced_at=NOW - 60)
    assert (result["action"], result["writes"], result["changed"]) == ("move", ["POST /nodes/pve2/qemu/100/status/start"], True)
    assert result["diff"]["before"] == dict(node="pve1", status="unknown")
    assert checked_run(FakeClient(guest_node="pve2", status="stopped"))["writes"] == ["POST /nodes/pve2/qemu/100/status/start"]
    # nothing to write: HA recovers the guest (and check mode does not wait for it), or it runs on the target
    for nothing_to_do in (FakeClient(online=("pve2", "pve3"), ha=[dict(sid="vm:100", state="started")]), FakeClient(guest_node="pve2")):
        result = checked_run(nothing_to_do)
        assert (result["writes"], result["changed"], "diff" in result) == ([], False, False)
        assert "/cluster/ha/status/current" not in nothing_to_do.calls
        assert nothing_to_do.writes == []
    assert client.writes == []


def test_the_real_run_sends_the_write_check_mode_planned():
    planned = checked_run(FakeClient(guest_node="pve2", status="stopped"))["writes"]
    client = FakeClient(guest_node="pve2", status="stopped")
    failover = failover_module(client, check_mode=False, state="started")
    failover.run()
    assert failover.result["writes"] == planned == [str(write) for write in planned_writes(failover.result)]
    assert client.writes == [("POST", "/nodes/pve2/qemu/100/status/start", {})]
    assert (failover.result["changed"], failover.result["node"], failover.result["running"]) == (True, "pve2", True)


def test_a_guest_on_the_target_is_started_or_left_alone():
    assert plan(FakeClient(guest_node="pve2", status="stopped"))["action"] == "start"
    assert plan(FakeClient(guest_node="pve2"))["action"] == "none"


def test_ha_recovers_a_dead_nodes_ha_guest_but_an_ignored_resource_is_moved_by_hand():
    dead = dict(online=("pve2", "pve3"))
    result = plan(FakeClient(ha=[dict(sid="vm:100", state="started")], **dead))
    assert result["action"] == "ha" and result["ha"] == dict(sid="vm:100", state="started")
    result = plan(FakeClient(ha=[dict(sid="vm:100", state="ignored")], **dead), replica_synced_at=NOW - 10)
    assert result["action"] == "move"
    # with its node alive an HA guest migrates (PVE hands the migration to the HA manager)
    assert plan(FakeClient(ha=[dict(sid="vm:100", state="started")]))["action"] == "migrate"


def test_the_newest_backup_of_the_guest_is_chosen():
    content = [dict(volid="pbs:backup/vm/100/2025-01-02T00:00:00Z", content="backup", vmid=100, ctime=20),
               dict(volid="pbs:backup/vm/100/2025-01-03T00:00:00Z", content="backup", vmid=100, ctime=30),
               dict(volid="pbs:backup/vm/101/2025-01-04T00:00:00Z", content="backup", vmid=101, ctime=40),
               dict(volid="pbs:iso/x.iso", content="iso", ctime=50)]
    assert newest_backup(content, 100)["volid"] == "pbs:backup/vm/100/2025-01-03T00:00:00Z"
    assert newest_backup(content, 102) is None
