# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pbs_datastore, pbs_namespace, pbs_token and pbs_acl against pbssim, pinned by the certificate's
fingerprint: check mode plans the real run's writes, the second run writes nothing, the token secret
is returned once, tenant acme's token is refused (403) in tenant globex's namespace, and the refusals
(a moved path, a namespace holding backups, a name too deep, a wrong fingerprint) come before any write."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
import requests

from pbssim import PbsSimulator

from .playbook import run_playbook

WRITES = ("POST", "PUT", "DELETE")


@pytest.fixture(scope="module")
def pbs_module_sim():
    with PbsSimulator(task_duration=0.2) as simulator:
        yield simulator


@pytest.fixture
def pbs(pbs_module_sim):  # pylint: disable=redefined-outer-name
    """The module's simulator in its initial state."""
    pbs_module_sim.reset()
    return pbs_module_sim


def writes(pbs_sim):
    return [(entry["method"], entry["path"]) for entry in pbs_sim.requests()
            if entry["method"] in WRITES and entry["path"] not in ("/access/ticket",)]


def run_pbs_tasks(pbs_sim, tmp_path, tasks, check=False):
    """Run [(module, args)] in one play as the simulator's admin token, each registered; returns
    (process, [result of each task])."""
    tokenid, secret = next(iter(pbs_sim.tokens.items()))
    connection = dict(pbs_host="127.0.0.1", pbs_port=pbs_sim.port, pbs_token_id=tokenid, pbs_token_secret=secret,
                      pbs_fingerprint=pbs_sim.cert_fingerprint)
    results = tmp_path / "results.json"
    plays = [{"name": "pbs modules under test", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Task {0}".format(number), "homecloud.proxmox." + module: dict(connection, **args),
         "register": "r{0}".format(number), "diff": True, "ignore_errors": True}
        for number, (module, args) in enumerate(tasks)] + [
        {"name": "Save the results", "ansible.builtin.copy": {
            "content": "{{ [" + ", ".join("r{0}".format(number) for number in range(len(tasks))) + "] | to_json }}",
            "dest": str(results)}, "check_mode": False}]}]
    results.unlink(missing_ok=True)
    process = run_playbook(plays, tmp_path, check=check, timeout=120)
    assert results.exists(), process.stdout[-5000:]
    return process, json.loads(results.read_text())


def api(pbs_sim, method, path, tokenid, secret, **params):
    """One request as `tokenid`; returns the requests response."""
    return requests.request(method, "https://127.0.0.1:{0}/api2/json{1}".format(pbs_sim.port, path), params=params, timeout=10,
                            headers={"Authorization": "PBSAPIToken={0}:{1}".format(tokenid, secret)}, verify=pbs_sim.cert_path)


TENANTS = [
    ("pbs_datastore", dict(name="tenants", path="/mnt/datastore/tenants", comment="per-tenant namespaces", gc_schedule="daily",
                           prune=dict(schedule="daily", keep_daily=7, keep_weekly=4))),
    ("pbs_namespace", dict(store="tenants", namespace="acme")),
    ("pbs_namespace", dict(store="tenants", namespace="globex/prod")),
    ("pbs_token", dict(user="homecloud-acme@pbs", name="backup", create_user=True, comment="acme backups")),
    ("pbs_token", dict(user="homecloud-globex@pbs", name="backup", create_user=True)),
    ("pbs_acl", dict(path="/datastore/tenants/acme", role="DatastoreBackup", auth_id="homecloud-acme@pbs!backup")),
    ("pbs_acl", dict(path="/datastore/tenants/acme", role="DatastoreBackup", auth_id="homecloud-acme@pbs")),
    ("pbs_acl", dict(path="/datastore/tenants/globex", role="DatastoreBackup", auth_id="homecloud-globex@pbs!backup")),
    ("pbs_acl", dict(path="/datastore/tenants/globex", role="DatastoreBackup", auth_id="homecloud-globex@pbs")),
]


REFUSED = [
    ("pbs_datastore", dict(name="tenants", path="/srv/elsewhere")),
    ("pbs_namespace", dict(store="tenants", namespace="acme", state="absent")),
    ("pbs_namespace", dict(store="tenants", namespace="a/b/c/d/e/f/g/h")),
    ("pbs_namespace", dict(store="tenants", namespace="acme/-bad")),
    ("pbs_token", dict(user="nobody@pbs", name="backup")),
    ("pbs_acl", dict(path="/datastore/tenants/acme", role="DatastoreReader", auth_id="homecloud-acme@pbs!backup",
                     pbs_fingerprint=":".join(["AB"] * 32))),
]


# Each ansible task costs a module start, so the whole story is four runs: check mode, the real
# run, the second run (with the refusals, which must not write either), and the changes.
@pytest.mark.timeout(600)
def test_tenants_converge_stay_apart_refuse_early_and_go(pbs, tmp_path):
    process, planned = run_pbs_tasks(pbs, tmp_path, TENANTS, check=True)
    assert process.returncode == 0, process.stdout[-5000:]
    assert not any(result.get("failed") for result in planned), planned
    assert writes(pbs) == [], "check mode wrote"

    process, done = run_pbs_tasks(pbs, tmp_path, TENANTS)
    assert process.returncode == 0, process.stdout[-5000:]
    for plan, result in zip(planned, done):
        assert not result.get("failed"), result
        assert plan["writes"] == result["writes"] and plan["diff"] == result["diff"]
    assert done[0]["writes"] == ["POST /config/datastore comment=per-tenant namespaces gc-schedule=daily keep-daily=7 keep-weekly=4 "
                                 "name=tenants path=/mnt/datastore/tenants prune-schedule=daily"]
    # globex/prod: the parent first, as PBS refuses a namespace whose parent does not exist
    assert done[2]["writes"] == ["POST /admin/datastore/tenants/namespace name=globex",
                                 "POST /admin/datastore/tenants/namespace name=prod parent=globex"]
    assert done[3]["writes"] == ["POST /access/users userid=homecloud-acme@pbs",
                                 "POST /access/users/homecloud-acme@pbs/token/backup comment=acme backups"]
    first_writes = writes(pbs)
    assert len(first_writes) == sum(len(result["writes"]) for result in done)

    admin_id, admin_secret = next(iter(pbs.tokens.items()))
    config = api(pbs, "GET", "/config/datastore/tenants", admin_id, admin_secret).json()["data"]
    assert config["path"] == "/mnt/datastore/tenants" and config["gc-schedule"] == "daily"
    jobs = api(pbs, "GET", "/config/prune", admin_id, admin_secret).json()["data"]
    assert [(job["store"], job["schedule"], job.get("keep-daily"), job.get("keep-weekly")) for job in jobs] == [("tenants", "daily", 7, 4)]
    namespaces = api(pbs, "GET", "/admin/datastore/tenants/namespace", admin_id, admin_secret).json()["data"]
    assert sorted(entry["ns"] for entry in namespaces) == ["", "acme", "globex", "globex/prod"]

    # the secret: returned once, by the creating run, never in writes or diff
    acme_secret, globex_secret = done[3]["secret"], done[4]["secret"]
    assert acme_secret and globex_secret and planned[3]["secret"] is None
    assert acme_secret not in json.dumps(done[3]["writes"]) + json.dumps(done[3]["diff"])

    # tenant isolation: acme's token backs up into acme, and is refused in globex
    acme = "homecloud-acme@pbs!backup"
    assert api(pbs, "GET", "/admin/datastore/tenants/groups", acme, acme_secret, ns="acme").status_code == 200
    refused = api(pbs, "GET", "/admin/datastore/tenants/groups", acme, acme_secret, ns="globex")
    assert refused.status_code == 403 and "permission check failed" in refused.text, refused.text
    backups = pbs.areas["DatastoreArea"]
    assert backups.add_backup({"store": "tenants", "ns": "acme", "id": "101", "type": "ct", "auth_id": acme})["status"] == 200
    assert backups.add_backup({"store": "tenants", "ns": "globex", "id": "101", "type": "ct", "auth_id": acme})["status"] == 403
    assert backups.add_backup({"store": "tenants", "ns": "globex/prod", "id": "101", "type": "ct", "auth_id": acme})["status"] == 403

    process, again = run_pbs_tasks(pbs, tmp_path, TENANTS + REFUSED)
    assert process.returncode == 0, process.stdout[-5000:]
    assert writes(pbs) == first_writes, "the second run or a refused task wrote"
    assert all(result["changed"] is False and result["writes"] == [] for result in again[:len(TENANTS)])
    assert again[3]["secret"] is None and again[3]["token"]["tokenid"] == acme
    refusals = again[len(TENANTS):]
    assert all(result.get("failed") for result in refusals), refusals
    assert "cannot be changed" in refusals[0]["msg"]
    assert "holds backup groups" in refusals[1]["msg"] and "acme: ct/101" in refusals[1]["msg"]
    assert "at most 7" in refusals[2]["msg"]
    assert "namespace component '-bad'" in refusals[3]["msg"]
    assert "user 'nobody@pbs' does not exist" in refusals[4]["msg"]
    assert "Fingerprints did not match" in refusals[5]["msg"]

    job_id = jobs[0]["id"]
    process, results = run_pbs_tasks(pbs, tmp_path, [
        ("pbs_datastore", dict(name="tenants", comment="", gc_schedule="", prune=dict(schedule="weekly", keep_last=3))),
        ("pbs_token", dict(user="homecloud-acme@pbs", name="backup", enable=False, comment="")),
        ("pbs_acl", dict(path="/datastore/tenants/acme", role="DatastoreBackup", auth_id=acme, propagate=False)),
        ("pbs_namespace", dict(store="tenants", namespace="acme", state="absent", delete_groups=True)),
        ("pbs_namespace", dict(store="tenants", namespace="globex", state="absent")),
        ("pbs_acl", dict(path="/datastore/tenants/globex", role="DatastoreBackup", auth_id="homecloud-globex@pbs!backup", state="absent")),
        ("pbs_token", dict(user="homecloud-globex@pbs", name="backup", state="absent")),
        ("pbs_datastore", dict(name="tenants", state="absent")),
        ("pbs_datastore", dict(name="scratch", path="relative/path")),
    ])
    assert process.returncode == 0, process.stdout[-5000:]
    assert not any(result.get("failed") for result in results[:8]), results
    assert results[0]["writes"] == ["PUT /config/datastore/tenants delete=comment,gc-schedule",
                                    "PUT /config/prune/{0} delete=keep-daily,keep-weekly keep-last=3 schedule=weekly".format(job_id)]
    assert results[0]["datastore"]["prune"] == {"schedule": "weekly", "keep-last": 3}
    assert results[1]["writes"] == ["PUT /access/users/homecloud-acme@pbs/token/backup comment= enable=0"]
    assert results[1]["token"]["enable"] is False and "comment" not in results[1]["token"]
    assert results[2]["writes"] == ["PUT /access/acl auth-id=homecloud-acme@pbs!backup path=/datastore/tenants/acme propagate=0 "
                                    "role=DatastoreBackup"]
    assert results[3]["writes"] == ["DELETE /admin/datastore/tenants/namespace delete-groups=1 ns=acme"]
    assert results[4]["writes"] == ["DELETE /admin/datastore/tenants/namespace ns=globex"]
    assert results[4]["diff"] == {"before": {"namespaces": ["globex", "globex/prod"]}, "after": {"namespaces": []}}
    assert results[5]["writes"] == ["PUT /access/acl auth-id=homecloud-globex@pbs!backup delete=1 path=/datastore/tenants/globex "
                                    "role=DatastoreBackup"]
    assert results[6]["writes"] == ["DELETE /access/users/homecloud-globex@pbs/token/backup"]
    assert results[7]["writes"] == ["DELETE /config/datastore/tenants destroy-data=0"]
    # a failed create task: its exit status reaches the message
    assert results[8]["failed"] and "expected absolute path" in results[8]["msg"]

    assert pbs.directory.data["tokens"][acme]["enable"] is False
    assert "homecloud-globex@pbs!backup" not in pbs.directory.data["tokens"]
    assert pbs.areas["DatastoreArea"].state["config"] == {} and pbs.areas["JobsArea"].state["prune"] == {}
