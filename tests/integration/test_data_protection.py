# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/data_protection.yml against the PVE simulator (9.1) and the PBS simulator, with the demo inventory:
per tenant a PBS namespace and a token that may back up into it only, a PVE storage logged in with that token, a
nightly backup job of the tenant's pool, replication of every guest to the next node at its RPO, HA where asked.
Check mode plans the real run, the second run writes nothing on either server, the token's secret shows up
nowhere, one tenant's token cannot write another's namespace, and bad settings are refused before any write."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil

import pytest
import requests
import yaml

from pbssim.simulator import PbsSimulator

from .playbook import REPO, diffs, run_repo_playbook

pytestmark = pytest.mark.timeout(600)

WRITES = ("POST", "PUT", "DELETE")
GIB = 1024 ** 3
# the demo inventory's guests, where the plan puts them (tenant acme is slot 1, globex slot 2)
GUESTS = {10110: ("acme", "pve1"), 10111: ("acme", "pve2"), 10210: ("globex", "pve2"), 10211: ("globex", "pve3")}


@pytest.fixture
def pbs():
    server = PbsSimulator()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def cluster(sim):
    """The demo's tenants' pools and guests (each with a disk on local-zfs), as tenant_guests.yml leaves them."""
    storage, guests = sim.areas["StorageArea"], sim.areas["GuestsArea"]
    token = "PVEAPIToken=%s=%s" % next(iter(sim.tokens.items()))
    for pool in ("acme", "globex"):
        answer = requests.post("https://127.0.0.1:%d/api2/json/pools" % sim.port, data={"poolid": pool},
                               headers={"Authorization": token}, verify=sim.cert_path, timeout=10)
        answer.raise_for_status()
    with sim.state.lock:
        for vmid, (tenant, node) in GUESTS.items():
            guests.add(vmid, node, name="g%d" % vmid, status="running")
            guests.record(vmid)["config"]["scsi0"] = "%s,size=8G" % storage.alloc(node, "local-zfs", vmid, 8 * GIB)
    for vmid, (tenant, _node) in GUESTS.items():
        answer = requests.put("https://127.0.0.1:%d/api2/json/pools" % sim.port, data={"poolid": tenant, "vms": vmid},
                              headers={"Authorization": token}, verify=sim.cert_path, timeout=10)
        answer.raise_for_status()
    return sim


def inventory(tmp_path, change=None):
    """A copy of inventories/demo; `change(tenants)` may edit its tenant list."""
    target = tmp_path / "inventory"
    if target.exists():
        shutil.rmtree(str(target))
    shutil.copytree(os.path.join(REPO, "inventories", "demo"), str(target))
    if change is not None:
        tenants_file = target / "group_vars" / "all" / "tenants.yml"
        tenants = yaml.safe_load(tenants_file.read_text())
        change(tenants["homecloud_tenants"])
        tenants_file.write_text(yaml.safe_dump(tenants, sort_keys=False))
    return str(target)


def private_password(sim, storage):
    """The password PVE keeps out of storage.cfg (/etc/pve/priv/storage/<id>.pw; the simulator's priv namespace)."""
    return sim.areas["StorageArea"].state["priv"][storage]["password"]


def writes(server, since=0):
    return [(entry["method"], entry["path"]) for entry in server.requests()[since:] if entry["method"] in WRITES
            and entry["path"] != "/access/ticket"]


def play(sim, pbs, path, *options):
    return run_repo_playbook(sim, "playbooks/data_protection.yml", inventory=path, options=list(options), pbs=pbs,
                             timeout=600)


def test_converge_check_real_second_run_the_secret_nowhere_and_one_tenants_token_not_in_anothers_namespace(cluster, pbs, tmp_path):
    sim, path = cluster, inventory(tmp_path)
    checked = play(sim, pbs, path, "--check", "--diff")
    assert checked.returncode == 0, checked.stdout[-4000:]
    assert writes(sim) == [("POST", "/pools"), ("POST", "/pools")] + [("PUT", "/pools")] * 4 and writes(pbs) == []
    sim_before = len(sim.requests())
    done = play(sim, pbs, path, "--diff", "-vvvv")
    assert done.returncode == 0, done.stdout[-4000:]
    # check mode showed what the run did (the token's creation aside: its secret exists only in the real run)
    assert diffs(checked) == diffs(done)
    # PBS: each tenant's namespace, and its token may back up into it only
    state = pbs.dump_state()["namespaces"]
    assert "acme" in str(state) and "globex" in str(state)
    # PVE: the storage logs in with the tenant's token; its secret is in no answer, no output and no request log
    storage = sim.areas["StorageArea"]
    with sim.state.lock:
        entry = storage.storage_config("pbs-acme")
    assert entry["username"] == "homecloud-acme@pbs!pve" and entry["namespace"] == "acme" and entry["datastore"] == "homecloud"
    secret = private_password(sim, "pbs-acme")
    assert secret and secret not in done.stdout + done.stderr + checked.stdout
    assert secret not in str(sim.requests()[sim_before:]) and secret not in str(pbs.requests())
    # backup job per tenant pool, replication per guest to the next node, HA for db1 only
    jobs = sim.dump_state()["namespaces"]
    assert "homecloud-acme" in str(jobs) and "homecloud-globex" in str(jobs)
    replication = sim.areas["ReplicationArea"]
    for vmid, target in ((10110, "pve2"), (10111, "pve3"), (10210, "pve3"), (10211, "pve1")):
        assert replication.has_replica(vmid, target), (vmid, target)
    assert "vm:10111" in str(sim.areas["HaArea"].state) and "vm:10110" not in str(sim.areas["HaArea"].state)
    # make demo shows per tenant: backup job, replication jobs with their last sync, PBS namespace
    assert re.search(r"tenant acme: backup job homecloud-acme \(21:30, keep keep-daily=7 keep-weekly=4 keep-monthly=6\) "
                     r"into pbs-acme = PBS namespace homecloud/acme; replication: 10110-0 web1 pve1->pve2 every 15 min,\s+"
                     r"last sync \d+ s ago; 10111-0 db1 pve2->pve3 every 1 min,\s+last sync \d+ s ago; HA: db1", done.stdout), \
        done.stdout[-3000:]
    sim_again, pbs_again = len(sim.requests()), len(pbs.requests())
    again = play(sim, pbs, path)
    assert again.returncode == 0 and re.search(r"changed=0\s", again.stdout), again.stdout[-3000:]
    assert writes(sim, sim_again) == [] and writes(pbs, pbs_again) == []

    # one tenant's token cannot write another tenant's namespace (in the state the run left)
    acme_secret = private_password(sim, "pbs-acme")
    as_acme = {"Authorization": "PBSAPIToken=homecloud-acme@pbs!pve:%s" % acme_secret}
    base = "https://127.0.0.1:%d/api2/json/admin/datastore/homecloud" % pbs.port
    own = requests.get(base + "/groups", params={"ns": "acme"}, headers=as_acme, verify=pbs.cert_path, timeout=10)
    other = requests.get(base + "/groups", params={"ns": "globex"}, headers=as_acme, verify=pbs.cert_path, timeout=10)
    assert own.status_code == 200 and other.status_code == 403, (own.text, other.text)
    written = requests.post("https://127.0.0.1:%d/_sim/backups" % pbs.port, verify=pbs.cert_path, timeout=10, json={
        "store": "homecloud", "ns": "globex", "type": "vm", "id": "10110", "time": 1796000000,
        "auth_id": "homecloud-acme@pbs!pve"}).json()["data"]
    assert written["status"] == 403, written


@pytest.mark.parametrize("change,message", [
    (lambda tenants: tenants[0]["guests"][0].update(protection={"rpo_minutes": 15, "ha": True}),
     "tenant acme: guest web1: protection.ha: HA restarts the guest from its replica"),
    (lambda tenants: tenants[1].update(protection={"rpo_minutes": 0}),
     "tenant globex: protection.rpo_minutes: 0 is not a number of minutes from 1 to 60"),
    (lambda tenants: tenants[0].update(protection={"retention": {"keep-dayly": 7}}),
     "tenant acme: protection.retention.keep-dayly: not a retention option"),
])
def test_bad_settings_are_refused_before_any_write(sim, pbs, tmp_path, change, message):
    process = play(sim, pbs, inventory(tmp_path, change))
    assert process.returncode != 0 and message in process.stdout, process.stdout[-3000:]
    assert writes(sim) == [] and writes(pbs) == []
