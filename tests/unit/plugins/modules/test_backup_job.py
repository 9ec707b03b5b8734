# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""backup_job's plan from a GET /cluster/backup/{id} answer: PVE's shapes (objects, comma lists, 0/1) compare
equal to the declared values, one PUT with only what differs plus the selection keys it replaces, and the
refusals before any write."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxApiError
from ansible_collections.homecloud.proxmox.plugins.module_utils.storage import StorageInputError
from ansible_collections.homecloud.proxmox.plugins.modules.backup_job import BackupJob, fleecing_view

# GET /cluster/backup/{id} as pve-manager answers it: prune-backups and fleecing as objects, vmid a comma list
JOB = {"id": "homecloud-acme", "type": "vzdump", "schedule": "02:30", "enabled": 1, "vmid": "101,100", "storage": "local",
       "mode": "snapshot", "prune-backups": {"keep-daily": "7", "keep-weekly": "4"}, "fleecing": {"enabled": 1, "storage": "local-zfs"},
       "mailto": "ops@example.org,root@pam", "next-run": 1767225600, "comment": "tenant acme", "notes-template": "{{guestname}}"}
OPTIONS = ("schedule", "pool", "vmids", "all", "exclude", "storage", "mode", "compress", "prune_backups", "notes_template", "protected",
           "enabled", "comment", "mailto", "notification_mode", "fleecing", "node", "repeat_missed")


class FakeClient:
    """Answers GET /cluster/backup/{id} (a param error when there is no job); writes are test failures."""

    def __init__(self, job):
        self.job = job

    def get(self, path, **params):
        assert path == "/cluster/backup/homecloud-acme" and not params
        if self.job is None:
            raise ProxmoxApiError("GET", path, 400, "Parameter verification failed.", {"id": "No such job 'homecloud-acme'"})
        return dict(self.job)


def planned(job, **params):
    module_params = dict((name, None) for name in OPTIONS)
    module_params.update(id="homecloud-acme", state="present")
    module_params.update(params)
    backup_job = BackupJob.__new__(BackupJob)  # no AnsibleModule: only the plan is under test
    backup_job.module = type("Module", (), {"params": module_params, "check_mode": True, "_diff": True})()
    backup_job.client = FakeClient(job)
    backup_job.result = {"changed": False}
    backup_job.job_id = module_params["id"]
    backup_job.path = "/cluster/backup/" + backup_job.job_id
    writes, before, after = backup_job.plan()
    return [str(write) for write in writes], before, after


def test_a_new_job_is_one_post_with_pves_value_shapes():
    writes, before, after = planned(None, schedule="mon..fri 02:30", pool="acme", storage="pbs-main", mode="snapshot",
                                    prune_backups=dict(keep_daily=7, keep_weekly=4, keep_monthly=0), enabled=True,
                                    fleecing=dict(enabled=True, storage="local-zfs"), mailto=["ops@example.org"], compress="zstd")
    assert writes == ["POST /cluster/backup compress=zstd enabled=1 fleecing=enabled=1,storage=local-zfs id=homecloud-acme "
                      "mailto=ops@example.org mode=snapshot pool=acme prune-backups=keep-daily=7,keep-weekly=4 "
                      "schedule=mon..fri 02:30 storage=pbs-main"]
    assert before is None and after["prune-backups"] == {"keep-daily": 7, "keep-weekly": 4}


def test_the_same_job_in_pves_shapes_plans_nothing():
    writes, before, after = planned(JOB, schedule="02:30", vmids=[100, 101], storage="local", mode="snapshot", enabled=True,
                                    prune_backups={"keep_weekly": 4, "keep_daily": 7}, fleecing=dict(enabled=True, storage="local-zfs"),
                                    mailto=["ops@example.org", "root@pam"], comment="tenant acme", notes_template="{{guestname}}",
                                    compress="0", protected=False, notification_mode="auto", repeat_missed=False)
    assert writes == [] and before == after
    assert before["vmid"] == [100, 101] and "next-run" not in before and "id" not in before


def test_changes_are_one_put_with_only_the_changed_keys():
    writes, _before, after = planned(JOB, schedule="sat 21:00", vmids=[101, 100, 102], prune_backups=dict(keep_last=3),
                                     enabled=False, comment="", mailto=[])
    assert writes == ["PUT /cluster/backup/homecloud-acme delete=comment,mailto enabled=0 prune-backups=keep-last=3 "
                      "schedule=sat 21:00 vmid=100,101,102"]
    assert after["vmid"] == [100, 101, 102] and "comment" not in after and "mailto" not in after


def test_a_selection_change_deletes_the_keys_it_replaces():
    assert planned(JOB, pool="acme")[0] == ["PUT /cluster/backup/homecloud-acme delete=vmid pool=acme"]
    assert planned(JOB, all=True, exclude=[100])[0] == ["PUT /cluster/backup/homecloud-acme all=1 delete=vmid exclude=100"]
    everything = dict(JOB, all=1, exclude="100,101")
    del everything["vmid"]
    # exclusions left alone when the task does not name them; V([]) removes them
    assert planned(everything, all=True)[0] == []
    assert planned(everything, all=True, exclude=[])[0] == ["PUT /cluster/backup/homecloud-acme delete=exclude"]
    writes, _before, after = planned(everything, vmids=[100])
    assert writes == ["PUT /cluster/backup/homecloud-acme delete=all,exclude vmid=100"]
    assert "all" not in after and "exclude" not in after and after["vmid"] == [100]


def test_refusals_before_any_write():
    cases = [
        (None, dict(pool="acme"), "^schedule: required to create a backup job"),
        (None, dict(schedule="daily"), "^pool, vmids or all: required to create a backup job"),
        (JOB, dict(schedule="every night"), "^schedule: invalid calendar event 'every night'"),
        (JOB, dict(pool="acme", vmids=[100]), "^pool, vmids: choose one selection"),
        (JOB, dict(all=False), "^all: false is not a selection"),
        (JOB, dict(exclude=[100]), "^exclude: only with all=true"),
        (JOB, dict(vmids=[]), "^vmids: an empty list selects no guest"),
        (JOB, dict(vmids=[99]), "^vmids: '99' is not a guest id"),
        (JOB, dict(id="1-job"), "^id: '1-job' is not a job id"),
        (JOB, dict(id="a" * 51), "is not a job id"),
        (dict((key, value) for key, value in JOB.items() if key != "storage"), dict(protected=True), "need a storage"),
        (JOB, dict(prune_backups=dict(keep_all=True, keep_daily=1)), "keep-all cannot be set together"),
    ]
    for job, params, message in cases:
        with pytest.raises(StorageInputError, match=message):
            planned(job, **params)


def test_removal_and_pves_other_errors():
    writes, before, after = planned(JOB, state="absent")
    assert writes == ["DELETE /cluster/backup/homecloud-acme"] and before["schedule"] == "02:30" and after is None
    assert planned(None, state="absent")[0] == []

    class Refusing(FakeClient):
        def get(self, path, **params):
            raise ProxmoxApiError("GET", path, 403, "Permission check failed (/, Sys.Audit)")

    backup_job = BackupJob.__new__(BackupJob)
    backup_job.client, backup_job.path = Refusing(None), "/cluster/backup/homecloud-acme"
    with pytest.raises(ProxmoxApiError, match="403"):
        backup_job.read()


def test_fleecing_reads_pves_object_and_property_string_alike():
    assert fleecing_view({"enabled": 1, "storage": "local-zfs"}) == fleecing_view("1,storage=local-zfs") == \
        fleecing_view("enabled=1,storage=local-zfs") == {"enabled": 1, "storage": "local-zfs"}
    assert fleecing_view("storage=local-zfs") == {"enabled": 0, "storage": "local-zfs"}
