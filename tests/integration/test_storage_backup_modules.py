# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""storage and backup_job against the simulator (PVE 9.1; the endpoints have the same shapes in 8.4): check mode
plans the real run's writes and diff, second runs write nothing, fixed options and bad values fail before any
write, and the PBS password and encryption key appear nowhere - not in the -vvvv output, the results or the
simulator's request log."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from .playbook import run_tasks

WRITES = ("POST", "PUT", "DELETE")
PASSWORD = "canary-pbs-password-5b1f"
KEY_DATA = "canary-key-data-9c2e"
KEY_FINGERPRINT = ":".join(["c4"] * 32)
ENCRYPTION_KEY = json.dumps({"kdf": None, "created": "2025-01-01T00:00:00+00:00", "modified": "2025-01-01T00:00:00+00:00",
                             "data": KEY_DATA, "fingerprint": KEY_FINGERPRINT})
SERVER_FINGERPRINT = ":".join(["5e"] * 32)
PBS_USER = "pve@pbs!pve"


def writes(sim, prefix):
    return [(entry["method"], entry["path"]) for entry in sim.requests() if entry["method"] in WRITES and entry["path"].startswith(prefix)]


def converge_twice(sim, tmp_path, tasks, prefix):
    """Check mode, real run, second real run of `tasks`; returns the planned and done result lists and the output."""
    earlier = len(writes(sim, prefix))
    outputs = []
    process, planned = run_tasks(sim, tmp_path, tasks, check=True)
    outputs.append(process.stdout + process.stderr)
    assert process.returncode == 0, process.stdout[-5000:]
    assert len(writes(sim, prefix)) == earlier, "check mode wrote"
    process, done = run_tasks(sim, tmp_path, tasks)
    outputs.append(process.stdout + process.stderr)
    assert process.returncode == 0, process.stdout[-5000:]
    first_writes = writes(sim, prefix)[earlier:]
    process, again = run_tasks(sim, tmp_path, tasks)
    outputs.append(process.stdout + process.stderr)
    assert process.returncode == 0, process.stdout[-5000:]
    assert writes(sim, prefix)[earlier:] == first_writes, "the second run wrote"
    for plan, result, second in zip(planned, done, again):
        assert not result.get("failed"), result
        assert plan["writes"] == result["writes"] and plan["diff"] == result["diff"]
        assert second["changed"] is False and second["writes"] == [], second
    assert len(first_writes) == sum(len(result["writes"]) for result in done)
    return planned, done, "".join(outputs)


def pbs_remote(api_session, sim):
    """The backup server the pbs storage logs in to (the simulator's side channel)."""
    api_session(sim).sim("POST", "/storage/pbs-remotes", json=dict(
        server="pbs.example.org", datastore="tenants", fingerprint=SERVER_FINGERPRINT, username=PBS_USER, secret=PASSWORD))


def storage_entry(api_session, sim, storage):
    return api_session(sim).data("GET", "/storage/" + storage)


PBS_TASK = dict(storage="pbs-main", type="pbs", server="pbs.example.org", datastore="tenants", namespace="homecloud",
                username=PBS_USER, password=PASSWORD, fingerprint=SERVER_FINGERPRINT.upper(), encryption_key=ENCRYPTION_KEY,
                prune_backups=dict(keep_daily=7, keep_weekly=4, keep_monthly=0), content=["backup"])


def test_storages_converge_and_secrets_appear_nowhere(sim, api_session, tmp_path):
    pbs_remote(api_session, sim)
    # -vvvv: the module's arguments and results as ansible-playbook prints them
    (tmp_path / "ansible.cfg").write_text("[defaults]\nverbosity = 4\n")
    tasks = [
        ("storage", PBS_TASK),
        ("storage", dict(storage="media", type="dir", path="/srv/media/", content=["iso", "snippets"], nodes=["pve2", "pve1"])),
        ("storage", dict(storage="tank", type="zfspool", pool="tank/data", sparse=True, content=["images"], blocksize="16k")),
    ]
    earlier = len(sim.requests())
    planned, done, output = converge_twice(sim, tmp_path, tasks, "/storage")
    # -vvvv printed the module arguments (no_log values replaced) and the results; no secret in them
    assert "ESTABLISH LOCAL CONNECTION" in output and "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in output
    assert PASSWORD not in output and KEY_DATA not in output
    assert done[0]["writes"] == [
        "POST /storage content=backup datastore=tenants encryption-key=******** fingerprint={0} namespace=homecloud "
        "password=******** prune-backups=keep-daily=7,keep-weekly=4 server=pbs.example.org storage=pbs-main type=pbs "
        "username={1}".format(SERVER_FINGERPRINT.upper(), PBS_USER)]
    assert done[1]["writes"] == ["POST /storage content=iso,snippets nodes=pve1,pve2 path=/srv/media storage=media type=dir"]
    assert done[2]["writes"] == ["POST /storage blocksize=16k content=images pool=tank/data sparse=1 storage=tank type=zfspool"]
    assert done[0]["diff"]["after"]["password"] == "********" and done[0]["diff"]["after"]["encryption-key"] == KEY_FINGERPRINT

    pbs = storage_entry(api_session, sim, "pbs-main")
    assert pbs["encryption-key"] == KEY_FINGERPRINT and "password" not in pbs
    assert pbs["prune-backups"] == "keep-daily=7,keep-weekly=4" and pbs["namespace"] == "homecloud"
    assert storage_entry(api_session, sim, "media")["nodes"] == "pve1,pve2"

    assert PASSWORD not in json.dumps([planned, done]) and KEY_DATA not in json.dumps([planned, done])
    # the request log: the password never (the simulator hides parameters named like one); the key only as the
    # encryption-key parameter of the one create (the log shows that parameter as sent)
    requests = sim.requests()[earlier:]
    assert PASSWORD not in json.dumps(requests)
    elsewhere = [entry for entry in requests if KEY_DATA in json.dumps(dict(
        entry, params=dict((key, value) for key, value in entry["params"].items()
                           if not (entry["method"] == "POST" and entry["path"] == "/storage" and key == "encryption-key"))))]
    assert elsewhere == []
    assert [entry["path"] for entry in requests if entry["method"] == "POST"] == ["/storage"] * 3


def test_changes_fixed_options_and_bad_values(sim, api_session, tmp_path):
    pbs_remote(api_session, sim)
    # the entry the first test's task creates, made directly (one ansible run less)
    api_session(sim).data("POST", "/storage", data={
        "storage": "pbs-main", "type": "pbs", "server": "pbs.example.org", "datastore": "tenants", "namespace": "homecloud",
        "username": PBS_USER, "password": PASSWORD, "fingerprint": SERVER_FINGERPRINT, "encryption-key": ENCRYPTION_KEY,
        "prune-backups": "keep-daily=7,keep-weekly=4", "content": "backup"})
    earlier = len(writes(sim, "/storage"))
    process, results = run_tasks(sim, tmp_path, [
        ("storage", dict(PBS_TASK, server="pbs2.example.org")),
        ("storage", dict(PBS_TASK, fingerprint="5e:5e")),
        ("storage", dict(PBS_TASK, encryption_key="not a key " + KEY_DATA)),
        ("storage", dict(PBS_TASK, type="dir", path="/srv")),
        ("storage", dict(storage="nfs1", type="nfs")),
        # changes: only what differs, removals as delete, the password again only with update_password=always
        ("storage", dict(PBS_TASK, namespace="", prune_backups=dict(keep_last=3), disable=True, update_password="always")),
        ("storage", dict(PBS_TASK, namespace="", prune_backups=dict(keep_last=3), disable=True, encryption_key="autogen")),
        ("storage", dict(storage="pbs-main", state="absent")),
        ("storage", dict(storage="pbs-main", state="absent")),
        # autogen: PVE generates the key once, the task returns it once
        ("storage", dict(PBS_TASK, storage="pbs-gen", encryption_key="autogen")),
        ("storage", dict(PBS_TASK, storage="pbs-gen", encryption_key="autogen")),
    ])
    assert process.returncode == 0, process.stdout[-5000:]
    assert results[0]["msg"].startswith("server: fixed option differs (PVE holds 'pbs.example.org', the task declares "
                                        "'pbs2.example.org'); fixed: delete and re-create")
    assert results[1]["msg"].startswith("fingerprint: '5e:5e' is not a SHA-256 fingerprint")
    assert results[2]["msg"].startswith("encryption_key: not a JSON formatted encryption key")
    assert results[3]["msg"].startswith("type: fixed option differs (PVE holds 'pbs'")
    assert "value of type must be one of: dir, zfspool, pbs, got: nfs" in results[4]["msg"]
    assert all(result["failed"] for result in results[:5])
    assert results[5]["writes"] == ["PUT /storage/pbs-main delete=namespace disable=1 password=******** prune-backups=keep-last=3"]
    assert results[6]["writes"] == []  # a key is held: autogen never replaces it
    assert results[7]["writes"] == ["DELETE /storage/pbs-main"] and results[8]["writes"] == []
    assert writes(sim, "/storage")[earlier:] == [("PUT", "/storage/pbs-main"), ("DELETE", "/storage/pbs-main"), ("POST", "/storage")]
    assert KEY_DATA not in process.stdout + json.dumps(results)
    generated = json.loads(results[9]["generated_encryption_key"])
    assert storage_entry(api_session, sim, "pbs-gen")["encryption-key"] == generated["fingerprint"]
    assert results[9]["storage"]["encryption-key"] == "generated" and results[10]["writes"] == []
    assert "generated_encryption_key" not in results[10]


ACME_JOB = dict(id="homecloud-acme", schedule="mon..fri 02:30", pool="acme", storage="local", mode="snapshot",
                prune_backups=dict(keep_daily=7, keep_weekly=4), notes_template="{{ '{{guestname}}' }} (acme)", enabled=True)
REST_JOB = dict(id="homecloud-rest", schedule="sat 21:00", all=True, exclude=[4010, 4011], storage="local", compress="zstd",
                fleecing=dict(enabled=True, storage="local-zfs"), enabled=False, comment="all but the tenants",
                mailto=["ops@example.org"], repeat_missed=True)


def test_backup_jobs_converge_in_pves_shapes(sim, api_session, tmp_path):
    planned, done, _output = converge_twice(sim, tmp_path, [
        ("pool", dict(poolid="acme")), ("backup_job", ACME_JOB), ("backup_job", REST_JOB)], ("/cluster/backup", "/pools"))
    assert done[1]["writes"] == [
        "POST /cluster/backup enabled=1 id=homecloud-acme mode=snapshot notes-template={{guestname}} (acme) pool=acme "
        "prune-backups=keep-daily=7,keep-weekly=4 schedule=mon..fri 02:30 storage=local"]
    assert done[2]["writes"] == [
        "POST /cluster/backup all=1 comment=all but the tenants compress=zstd enabled=0 exclude=4010,4011 "
        "fleecing=enabled=1,storage=local-zfs id=homecloud-rest mailto=ops@example.org repeat-missed=1 schedule=sat 21:00 storage=local"]
    assert planned[2]["backup_job"] == done[2]["backup_job"]
    session = api_session(sim)
    rest = session.data("GET", "/cluster/backup/homecloud-rest")
    assert rest["exclude"] == "4010,4011" and rest["fleecing"]["storage"] == "local-zfs" and int(rest["enabled"]) == 0


def test_backup_job_changes_delete_what_a_selection_replaces(sim, api_session, tmp_path):
    session = api_session(sim)
    # the jobs the converge test's tasks create, made directly (one ansible run)
    session.data("POST", "/pools", data=dict(poolid="acme"))
    session.data("POST", "/cluster/backup", data={"id": "homecloud-acme", "schedule": "mon..fri 02:30", "pool": "acme", "storage": "local",
                                                  "prune-backups": "keep-daily=7,keep-weekly=4"})
    session.data("POST", "/cluster/backup", data={"id": "homecloud-rest", "schedule": "sat 21:00", "all": 1, "exclude": "4010,4011",
                                                  "storage": "local", "enabled": 0})
    earlier = len(writes(sim, "/cluster/backup"))
    process, results = run_tasks(sim, tmp_path, [
        ("backup_job", dict(id="homecloud-acme", vmids=[101, 100], prune_backups=dict(keep_last=3), comment="")),
        ("backup_job", dict(id="homecloud-rest", all=True, exclude=[], enabled=True)),
        ("backup_job", dict(id="homecloud-acme", schedule="every night")),
        ("backup_job", dict(id="homecloud-new", pool="acme")),
        ("backup_job", dict(id="homecloud-acme", pool="acme", vmids=[100])),
        ("backup_job", dict(id="homecloud-rest", state="absent")),
        ("backup_job", dict(id="homecloud-rest", state="absent")),
    ])
    assert process.returncode == 0, process.stdout[-5000:]
    assert results[0]["writes"] == ["PUT /cluster/backup/homecloud-acme delete=pool prune-backups=keep-last=3 vmid=100,101"]
    assert results[1]["writes"] == ["PUT /cluster/backup/homecloud-rest delete=exclude enabled=1"]
    assert results[2]["msg"].startswith("schedule: invalid calendar event 'every night'")
    assert results[3]["msg"].startswith("schedule: required to create a backup job")
    assert "mutually exclusive: pool|vmids|all" in results[4]["msg"]
    assert results[5]["writes"] == ["DELETE /cluster/backup/homecloud-rest"] and results[6]["writes"] == []
    assert writes(sim, "/cluster/backup")[earlier:] == [
        ("PUT", "/cluster/backup/homecloud-acme"), ("PUT", "/cluster/backup/homecloud-rest"), ("DELETE", "/cluster/backup/homecloud-rest")]
    acme = session.data("GET", "/cluster/backup/homecloud-acme")
    assert acme["vmid"] == "100,101" and "pool" not in acme and int(acme["prune-backups"]["keep-last"]) == 3
    assert [job["id"] for job in session.data("GET", "/cluster/backup")] == ["homecloud-acme"]
