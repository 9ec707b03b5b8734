# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/tenant_access.yml: phase 1 makes no tenant user at all; phase 2 gives a tenant's people
the HomecloudTenant role on their own pool only - they see their VMs and nothing else, and can
change nothing of the network or the firewall, not even their own VM's."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from pvesim.testing import ApiSession, assert_pve_error, ok

from .playbook import run_repo_playbook


def converge(sim, *options):
    for playbook in ("playbooks/access.yml", "playbooks/tenant_network.yml", "playbooks/tenant_access.yml"):
        process = run_repo_playbook(sim, playbook, options=list(options))
        assert process.returncode == 0, (playbook, process.stdout[-4000:])


def token_session(sim, tokenid, secret):
    session = ApiSession(sim, auth=None)
    session.headers["Authorization"] = "PVEAPIToken=%s=%s" % (tokenid, secret)
    return session


def test_phase_1_has_pools_and_no_tenant_user(sim, api_session):
    converge(sim, "-e", json.dumps({"homecloud_tenant_users": {}}))
    root = api_session(sim)
    assert sorted(user["userid"] for user in ok(root, "GET", "/access/users")) == ["homecloud@pve", "root@pam"]
    assert sorted(pool["poolid"] for pool in ok(root, "GET", "/pools")) == ["acme", "globex"]
    assert [entry for entry in ok(root, "GET", "/access/acl") if entry["path"].startswith("/pool")] == []


@pytest.fixture
def alice(sim, api_session):
    """Phase 2 converged, a VM in each tenant's pool, and a token of acme's alice (its user's privileges)."""
    converge(sim)
    root = api_session(sim)
    for vmid, node, pool in ((100, "pve1", "acme"), (200, "pve2", "globex")):
        assert root.sim("POST", "guests", json={"vmid": vmid, "node": node, "name": "%s-vm" % pool}).status_code == 200
        ok(root, "PUT", "/pools", poolid=pool, vms=str(vmid))
    created = ok(root, "POST", "/access/users/alice@pve/token/console", privsep=0)
    return token_session(sim, created["full-tokenid"], created["value"])


def test_a_tenant_user_sees_only_its_pools_vms(alice):
    resources = ok(alice, "GET", "/cluster/resources")
    assert [(entry["id"], entry.get("pool")) for entry in resources if entry["type"] in ("qemu", "lxc")] == [("qemu/100", "acme")]
    assert [entry["id"] for entry in resources if entry["type"] == "pool"] == ["/pool/acme"]
    # PVE lists every node, but without its figures to a user without Sys.Audit there (Cluster.pm resources)
    assert all("maxmem" not in entry for entry in resources if entry["type"] == "node")
    assert [entry["id"] for entry in resources if entry["type"] not in ("qemu", "lxc", "pool", "node")] == []
    assert ok(alice, "GET", "/nodes/pve1/qemu/100/firewall/options") is not None  # VM.Audit on its own VM
    assert_pve_error(alice.api("GET", "/nodes/pve2/qemu/200/firewall/options"), 403, "Permission check failed (/vms/200, VM.Audit)",
                     message="Permission check failed (/vms/200, VM.Audit)\n")


@pytest.mark.parametrize("method, path, params, denied", [
    ("POST", "/cluster/sdn/zones", {"zone": "evil", "type": "simple"}, "(/sdn/zones, SDN.Allocate)"),
    ("PUT", "/cluster/sdn/vnets/acme01", {"alias": "mine"}, "(/sdn/zones/acme/acme01, SDN.Allocate)"),
    ("PUT", "/cluster/sdn", {}, "(/sdn, SDN.Allocate)"),
    ("PUT", "/cluster/firewall/options", {"enable": 0}, "(/, Sys.Modify)"),
    ("POST", "/cluster/firewall/rules", {"type": "in", "action": "ACCEPT"}, "(/, Sys.Modify)"),
    ("PUT", "/cluster/sdn/vnets/acme01/firewall/options", {"enable": 0}, "(/sdn/zones/acme/acme01, SDN.Allocate)"),
    ("POST", "/nodes/pve1/qemu/100/firewall/rules", {"type": "in", "action": "ACCEPT"}, "(/vms/100, VM.Config.Network)"),
])
def test_a_tenant_user_changes_nothing_of_the_network_or_the_firewall(alice, sim, method, path, params, denied):
    before = sim.dump_state()
    answer = alice.api(method, path, data=params)
    assert answer.status_code == 403, answer.text
    assert answer.reason == "Permission check failed " + denied
    assert sim.dump_state() == before
