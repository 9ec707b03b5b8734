# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""replication_job's plan from PVE's job list: the job of a guest and target is found whatever its number, a new one
takes the lowest free number, the target is fixed, removal is PVE's deferred one (or forced), and refusals come before
any write."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxError
from ansible_collections.homecloud.proxmox.plugins.modules.replication_job import ReplicationJob

RESOURCES = [dict(type="node", node="pve1"), dict(type="node", node="pve2"), dict(type="node", node="pve3"),
             dict(type="qemu", vmid=100, node="pve1"), dict(type="lxc", vmid=200, node="pve2")]


def job(jobnum, target, guest=100, **options):
    return dict(dict(id="{0}-{1}".format(guest, jobnum), guest=guest, jobnum=jobnum, target=target, type="local"), **options)


class FakeClient:
    """Answers the job list, the cluster's resources and a job's status; plans are built unsent."""

    def __init__(self, jobs):
        self.jobs = jobs
        self.calls = []

    def get(self, path, **_params):
        self.calls.append(path)
        if path == "/cluster/replication":
            return self.jobs
        if path == "/cluster/resources":
            return RESOURCES
        assert path.startswith("/nodes/pve1/replication/") and path.endswith("/status"), path
        return dict(id=path.split("/")[4], last_sync=1700000000, fail_count=0, duration=1.5)


class FakeModule:
    def __init__(self, params, check_mode=True):
        self.params = params
        self.check_mode = check_mode
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def planned(jobs, **params):
    module_params = dict(guest=100, target="pve2", job=None, schedule=None, rate=None, comment=None, disable=None,
                         exclusive=False, force=False, state="present")
    module_params.update(params)
    replication = ReplicationJob.__new__(ReplicationJob)  # no AnsibleModule: only the plan is under test
    replication.module = FakeModule(module_params)
    replication.client = FakeClient(jobs)
    replication.result = {"changed": False}
    replication.working_on = None
    replication.guest, replication.source, replication.creates, replication.job = module_params["guest"], None, False, None
    writes, before, after = replication.plan()
    replication.finish(writes)
    return [str(write) for write in writes], before, after, replication.result


def test_a_new_job_takes_the_lowest_free_number_and_writes_only_the_declared_options():
    jobs = [job(0, "pve3"), job(2, "pve3", guest=200), job(1, "pve3", remove_job="full")]
    writes, before, after, result = planned(jobs[:1])
    assert writes == ["POST /cluster/replication id=100-1 target=pve2 type=local"]
    # the diff shows the job the task manages, not the guest's other jobs
    assert before == {} and after == {"100-1": dict(id="100-1", guest=100, jobnum=1, target="pve2", type="local")}
    # check mode: the planned job has no status yet
    assert result["job"]["id"] == "100-1" and result["status"] is None
    writes, _before, _after, _result = planned([dict(jobs[0], target="pve1"), jobs[2]], schedule="*/5", rate=50.0,
                                               disable=False, comment="")
    # job 1 is being removed and still holds its number; a zero rate, an empty comment, disable=false are PVE's defaults
    assert writes == ["POST /cluster/replication id=100-2 rate=50 schedule=*/5 target=pve2 type=local"]
    writes, _before, _after, _result = planned([], job=7)
    assert writes == ["POST /cluster/replication id=100-7 target=pve2 type=local"]


def test_the_job_to_the_target_is_updated_where_it_differs_and_its_status_returned():
    existing = job(3, "pve2", schedule="*/5", rate=10, comment="old", disable=1)
    writes, before, after, result = planned([existing], schedule="*/5", rate=20, comment="", disable=False)
    assert writes == ["PUT /cluster/replication/100-3 delete=comment,disable rate=20"]
    assert before["100-3"]["rate"] == 10 and after["100-3"] == job(3, "pve2", schedule="*/5", rate=20)
    assert result["status"] == dict(id="100-3", last_sync=1700000000, fail_count=0, duration=1.5)
    # PVE's default schedule is */15: declaring it on a job without one is no write
    writes, before, after, _result = planned([job(0, "pve2")], schedule="*/15", rate=0)
    assert writes == [] and before == after


def test_exclusive_removes_the_guests_other_jobs_the_way_pve_does():
    jobs = [job(0, "pve2"), job(1, "pve3"), job(2, "pve1", remove_job="full")]
    writes, _before, after, _result = planned(jobs, target="pve2", exclusive=True)
    # PVE marks a removed job and its runner removes it later; a marked job needs no second removal
    assert writes == ["DELETE /cluster/replication/100-1"]
    assert after["100-1"]["remove_job"] == "full" and "100-0" in after
    writes, _before, after, _result = planned(jobs, target="pve2", exclusive=True, force=True)
    assert writes == ["DELETE /cluster/replication/100-1 force=1", "DELETE /cluster/replication/100-2 force=1"]
    assert list(after) == ["100-0"]


def test_absent_removes_the_named_job_once():
    jobs = [job(0, "pve2"), job(1, "pve3")]
    writes, _before, _after, result = planned(jobs, state="absent", target="pve3")
    assert writes == ["DELETE /cluster/replication/100-1"] and result["job"]["remove_job"] == "full"
    assert result["status"] is None
    writes, _before, _after, _result = planned([jobs[0], dict(jobs[1], remove_job="full")], state="absent", target="pve3")
    assert writes == []
    writes, _before, _after, _result = planned(jobs, state="absent", target=None, job=0, force=True)
    assert writes == ["DELETE /cluster/replication/100-0 force=1"]
    writes, _before, _after, _result = planned(jobs, state="absent", target=None)
    assert writes == ["DELETE /cluster/replication/100-0", "DELETE /cluster/replication/100-1"]


def test_refusals_before_any_write():
    cases = [
        (dict(job=0), [job(0, "pve3")], "^job: 100-0 replicates to pve3; a job's target cannot change"),
        (dict(job=4), [job(0, "pve2")], "^job: guest 100 has job 100-0 to pve2 already"),
        (dict(), [job(0, "pve2", remove_job="full")], "^job 100-0 to pve2 is being removed by PVE"),
        (dict(target="pve1"), [], "source and target must not be identical"),
        (dict(target="pve9"), [], r"^target: Target 'pve9' does not exist \(the cluster's nodes: pve1, pve2, pve3\)"),
        (dict(guest=555), [], "^guest: Guest '555' does not exist"),
    ]
    for params, jobs, message in cases:
        with pytest.raises(ProxmoxError, match=message) as refused:
            planned(jobs, **params)
        assert "nothing was changed" in str(refused.value)
