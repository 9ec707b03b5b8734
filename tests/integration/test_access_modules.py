# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""access_user, access_group, access_role, access_acl, access_token and pool against the simulator:
second runs write nothing, check mode plans the real run's writes and diff, the token secret is shown
once, unknown privileges and built-in roles are refused before any write, and the docs render."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys

import pytest
import requests

from .playbook import COLLECTIONS, run_tasks

WRITES = ("POST", "PUT", "DELETE")
MODULES = ("access_acl", "access_group", "access_role", "access_token", "access_user", "pool")


def writes(sim):
    return [(entry["method"], entry["path"]) for entry in sim.requests()
            if entry["method"] in WRITES and entry["path"].startswith(("/access", "/pools"))]


def api_get(sim, path, auth, **params):
    """GET with an Authorization header; returns the requests response."""
    return requests.get("https://127.0.0.1:{0}/api2/json{1}".format(sim.port, path), params=params, timeout=10,
                        headers={"Authorization": auth}, verify=sim.cert_path)


def converge_twice(sim, tmp_path, tasks):
    """Check mode, real run, second real run of `tasks`; returns the three result lists."""
    earlier = len(writes(sim))
    process, planned = run_tasks(sim, tmp_path, tasks, check=True)
    assert process.returncode == 0, process.stdout[-5000:]
    assert len(writes(sim)) == earlier, "check mode wrote"
    process, done = run_tasks(sim, tmp_path, tasks)
    assert process.returncode == 0, process.stdout[-5000:]
    first_writes = writes(sim)[earlier:]
    process, again = run_tasks(sim, tmp_path, tasks)
    assert process.returncode == 0, process.stdout[-5000:]
    assert writes(sim)[earlier:] == first_writes, "the second run wrote"
    for plan, result, second in zip(planned, done, again):
        assert not result.get("failed"), result
        assert plan["writes"] == result["writes"] and plan["diff"] == result["diff"]
        assert second["changed"] is False and second["writes"] == []
    assert len(first_writes) == sum(len(result["writes"]) for result in done)
    return planned, done, again


def test_group_user_role_acl_converge_with_exact_check_mode(sim, tmp_path):
    tasks = [
        ("access_group", dict(groupid="acme-ops", comment="acme operators")),
        ("access_group", dict(groupid="acme-audit")),
        ("access_role", dict(roleid="GuestOperator", privs=["VM.PowerMgmt", "VM.Audit", "VM.Console"])),
        ("access_user", dict(userid="ann@pve", firstname="Ann", email="ann@example.com", groups=["acme-ops", "acme-audit"],
                             password="first-password", expire=0, enable=True)),
        ("access_acl", dict(acl=[dict(path="/vms/100/", role="GuestOperator", group="acme-ops"),
                                 dict(path="/", role="PVEAuditor", user="ann@pve", propagate=False)])),
    ]
    planned, done, _again = converge_twice(sim, tmp_path, tasks)
    assert done[2]["role"] == dict(roleid="GuestOperator", privs=["VM.Audit", "VM.Console", "VM.PowerMgmt"])
    assert done[3]["user"]["groups"] == ["acme-audit", "acme-ops"]
    assert "first-password" not in str(planned) + str(done)
    assert done[3]["diff"]["after"]["password"] == "********"
    assert done[4]["writes"] == ["PUT /access/acl groups=acme-ops path=/vms/100 propagate=1 roles=GuestOperator",
                                 "PUT /access/acl path=/ propagate=0 roles=PVEAuditor users=ann@pve"]
    acl = sim_acl(sim)
    assert dict(path="/vms/100", type="group", ugid="acme-ops", roleid="GuestOperator", propagate=1) in acl
    assert dict(path="/", type="user", ugid="ann@pve", roleid="PVEAuditor", propagate=0) in acl

    # changes: groups as a set, a privilege less, propagate flipped, an entry revoked, a path made exclusive
    process, results = run_tasks(sim, tmp_path, [
        ("access_user", dict(userid="ann@pve", groups=["acme-ops"], password="other-password")),
        ("access_role", dict(roleid="GuestOperator", privs=["VM.Audit", "VM.PowerMgmt"])),
        ("access_acl", dict(acl=[dict(path="/", role="PVEAuditor", user="ann@pve")], exclusive_paths=["/vms/100"])),
    ])
    assert process.returncode == 0, process.stdout[-5000:]
    assert results[0]["writes"] == ["PUT /access/users/ann@pve groups=acme-ops"]  # the password is not compared
    assert results[1]["writes"] == ["PUT /access/roles/GuestOperator privs=VM.Audit,VM.PowerMgmt"]
    assert results[2]["writes"] == ["PUT /access/acl path=/ propagate=1 roles=PVEAuditor users=ann@pve",
                                    "PUT /access/acl delete=1 groups=acme-ops path=/vms/100 roles=GuestOperator"]
    acl = sim_acl(sim)
    assert not [entry for entry in acl if entry["path"] == "/vms/100"]
    assert dict(path="/", type="user", ugid="ann@pve", roleid="PVEAuditor", propagate=1) in acl


def sim_acl(sim):
    response = api_get(sim, "/access/acl", auth=root_token(sim))
    assert response.status_code == 200, response.text
    return response.json()["data"]


def root_token(sim):
    full_id, secret = next(iter(sim.tokens.items()))
    return "PVEAPIToken={0}={1}".format(full_id, secret)


def test_removals_are_idempotent(sim, tmp_path):
    create = [("access_group", dict(groupid="gone")), ("access_role", dict(roleid="Gone", privs=["VM.Audit"])),
              ("access_user", dict(userid="gone@pve")), ("access_token", dict(userid="gone@pve", tokenid="t1")),
              ("pool", dict(poolid="gone"))]
    process, _results = run_tasks(sim, tmp_path, create)
    assert process.returncode == 0, process.stdout[-5000:]
    remove = [(module, dict(args, state="absent")) for module, args in reversed(create)]
    remove = [(module, dict((key, value) for key, value in args.items() if key != "privs")) for module, args in remove]
    _planned, done, _again = converge_twice(sim, tmp_path, remove)
    assert [result["changed"] for result in done] == [True] * 5
    assert done[4]["group"] is None and done[0]["pool"] is None


def test_token_secret_is_returned_once_and_a_separated_token_reads_nothing(sim, tmp_path):
    process, results = run_tasks(sim, tmp_path, [
        ("access_user", dict(userid="bot@pve")),
        ("access_token", dict(userid="bot@pve", tokenid="ci", comment="CI")),
    ], check=True)
    assert process.returncode == 0, process.stdout[-5000:]
    planned = results[1]
    assert planned["secret"] is None and planned["changed"] is True

    process, results = run_tasks(sim, tmp_path, [
        ("access_user", dict(userid="bot@pve")),
        ("access_token", dict(userid="bot@pve", tokenid="ci", comment="CI")),
        ("access_token", dict(userid="bot@pve", tokenid="ci", comment="CI")),
        ("access_token", dict(userid="bot@pve", tokenid="ci", comment="pipelines", expire=4102444800)),
    ])
    assert process.returncode == 0, process.stdout[-5000:]
    created, second, updated = results[1], results[2], results[3]
    secret = created["secret"]
    assert secret and second["secret"] is None and updated["secret"] is None
    assert secret not in process.stdout and secret not in process.stderr
    for result in (created, second, updated):
        assert secret not in str(result["diff"]) + str(result["writes"]) + str(result["token"])
    assert str(results).count(secret) == 1
    assert created["writes"] == planned["writes"] == ["POST /access/users/bot@pve/token/ci comment=CI privsep=1"]
    assert created["diff"] == planned["diff"]
    assert second["changed"] is False and second["writes"] == []
    assert updated["writes"] == ["PUT /access/users/bot@pve/token/ci comment=pipelines expire=4102444800"]
    assert created["token"]["full_tokenid"] == "bot@pve!ci"

    # privilege separation and no ACL entry of its own: the token is refused or sees nothing
    auth = "PVEAPIToken=bot@pve!ci=" + secret
    acl = api_get(sim, "/access/acl", auth)
    assert acl.status_code == 200 and acl.json()["data"] == []
    assert api_get(sim, "/access/users/root@pam", auth).status_code == 403
    assert api_get(sim, "/pools", auth).json()["data"] == []

    # regenerate: a new secret, the old one refused, the token's ACL entries granted again
    process, results = run_tasks(sim, tmp_path, [
        ("access_acl", dict(acl=[dict(path="/pool/acme", role="PVEAuditor", token="bot@pve!ci")])),
        ("access_token", dict(userid="bot@pve", tokenid="ci", comment="pipelines", regenerate=True)),
    ])
    assert process.returncode == 0, process.stdout[-5000:]
    regenerated = results[1]
    assert regenerated["secret"] and regenerated["secret"] != secret
    assert regenerated["writes"] == [
        "DELETE /access/users/bot@pve/token/ci",
        "POST /access/users/bot@pve/token/ci comment=pipelines expire=4102444800 privsep=1",
        "PUT /access/acl path=/pool/acme propagate=1 roles=PVEAuditor tokens=bot@pve!ci"]
    assert api_get(sim, "/access/acl", auth).status_code == 401
    assert dict(path="/pool/acme", type="token", ugid="bot@pve!ci", roleid="PVEAuditor", propagate=1) in sim_acl(sim)


def test_unknown_privilege_and_builtin_role_fail_before_any_write(sim, tmp_path):
    process, results = run_tasks(sim, tmp_path, [
        ("access_role", dict(roleid="Bad", privs=["VM.Audit", "VM.PowerMgmt", "VM.Fly", "Sys.Teleport"])),
        ("access_role", dict(roleid="PVEAuditor", privs=["VM.Audit"])),
        ("access_role", dict(roleid="Administrator", state="absent")),
        ("access_role", dict(roleid="PVEMine", privs=["VM.Audit"])),
        ("access_acl", dict(acl=[dict(path="/", role="PVEAuditor", group="acme-ops"),
                                 dict(path="/", role="NoSuchRole", user="root@pam")])),
    ])
    assert process.returncode == 0, process.stdout[-5000:]
    assert all(result["failed"] for result in results), results
    assert results[0]["msg"].startswith("privs[2]: invalid privilege 'VM.Fly'; privs[3]: invalid privilege 'Sys.Teleport'")
    assert "auto-generated role 'PVEAuditor' cannot be modified" in results[1]["msg"]
    assert "auto-generated role 'Administrator' cannot be deleted" in results[2]["msg"]
    assert "'PVE' namespace" in results[3]["msg"]
    assert results[4]["msg"].startswith("acl: not found in PVE: group 'acme-ops', role 'NoSuchRole'")
    assert writes(sim) == []


@pytest.mark.parametrize("version", ["8.4", "9.1"])
def test_pool_members_exclusive_allow_move_and_force(sim_factory, api_session, tmp_path, version):
    sim = sim_factory(version=version)
    session = api_session(sim)
    for vmid, name in ((100, "web1"), (101, "web2"), (102, "db1")):
        session.sim("POST", "/guests", json=dict(vmid=vmid, node="pve1", name=name))
    tasks = [("pool", dict(poolid="acme", comment="tenant acme", vms=[101, 100])),
             ("pool", dict(poolid="staging", vms=[102]))]
    _planned, done, _again = converge_twice(sim, tmp_path, tasks)
    assert done[0]["writes"] == ["POST /pools comment=tenant acme poolid=acme", "PUT /pools poolid=acme vms=100,101"]
    assert done[0]["pool"] == dict(poolid="acme", comment="tenant acme", vms=[100, 101], storage=[])

    process, results = run_tasks(sim, tmp_path, [
        ("pool", dict(poolid="acme", vms=[102])),                                  # in staging: refused
        ("pool", dict(poolid="acme", vms=[999])),                                  # no such guest
        ("pool", dict(poolid="acme", state="absent")),                            # not empty
        ("pool", dict(poolid="acme", vms=[100, 102], exclusive=True, allow_move=True)),
        ("pool", dict(poolid="acme", vms=[100, 102], exclusive=True)),
        ("pool", dict(poolid="staging", state="absent")),                          # empty now
        ("pool", dict(poolid="acme", state="absent", force=True)),
    ])
    assert process.returncode == 0, process.stdout[-5000:]
    refused_move, missing, not_empty, moved, again, staging_gone, forced = results
    assert "VM 102 belongs already to pool 'staging' and 'allow-move' is not set" in refused_move["msg"]
    assert "guest(s) 999 do not exist" in missing["msg"]
    assert "pool 'acme' is not empty" in not_empty["msg"]
    assert refused_move["failed"] and missing["failed"] and not_empty["failed"]
    assert moved["writes"] == ["PUT /pools allow-move=1 poolid=acme vms=102", "PUT /pools delete=1 poolid=acme vms=101"]
    assert moved["pool"]["vms"] == [100, 102]
    assert again["changed"] is False
    assert staging_gone["writes"] == ["DELETE /pools poolid=staging"]
    assert forced["writes"] == ["PUT /pools delete=1 poolid=acme vms=100,102", "DELETE /pools poolid=acme"]
    assert session.data("GET", "/pools") == []
    methods = [method for method, _path in writes(sim)]
    assert methods.count("DELETE") == 2


@pytest.mark.parametrize("module", MODULES)
def test_docs_render(module):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
    process = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-doc"), "homecloud.proxmox." + module],
                             env=env, capture_output=True, text=True, timeout=120, check=False)
    assert process.returncode == 0 and "[WARNING]" not in process.stderr, process.stderr
    assert "homecloud.proxmox." + module in process.stdout and "EXAMPLES" in process.stdout
