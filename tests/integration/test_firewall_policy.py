# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/firewall.yml with the demo inventory against the simulator: the order that keeps the
cluster reachable, check mode equal to the real run, nothing on the second run, one write for one
change, one tenant's run touching only that tenant, and bad input refused before any write."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os
import re

import pytest
import yaml

from .playbook import REPO, diffs, recap, run_repo_playbook

PLAYBOOK = "playbooks/firewall.yml"
WRITES = ("POST", "PUT", "DELETE")
GROUP_VARS = os.path.join(REPO, "inventories", "demo", "group_vars", "all")


def demo_var(name, key):
    with open(os.path.join(GROUP_VARS, name + ".yml")) as handle:
        return copy.deepcopy(yaml.safe_load(handle)[key])


def writes_since(sim, seq):
    return [entry for entry in sim.requests()[seq:] if entry["method"] in WRITES]


@pytest.fixture
def networked(sim):
    """The demo's tenant networks, applied (VNet firewalls need applied VNets)."""
    assert recap(run_repo_playbook(sim, "playbooks/tenant_network.yml"))["changed"] == 1
    return sim


@pytest.mark.timeout(300)
def test_converge_in_order_check_equals_real_second_run_writes_nothing(networked, api_session):
    sim = networked
    start = len(sim.requests())
    predicted = run_repo_playbook(sim, PLAYBOOK, options=["--check", "--diff"])
    assert recap(predicted)["changed"] == 8 and writes_since(sim, start) == [], "check mode wrote"

    start = len(sim.requests())
    real = run_repo_playbook(sim, PLAYBOOK, options=["--diff"])
    assert recap(real)["changed"] == 8
    assert diffs(predicted) == diffs(real) and diffs(real), "check mode did not predict the real diff"
    written = writes_since(sim, start)
    # the management rules and every IP set are in place before anything is dropped; enable is the last write
    enable = [index for index, entry in enumerate(written) if entry["path"] == "/cluster/firewall/options" and "enable" in entry["params"]]
    policies = [index for index, entry in enumerate(written) if entry["path"] == "/cluster/firewall/options" and "policy_in" in entry["params"]]
    rules = [index for index, entry in enumerate(written) if entry["path"].startswith(("/cluster/firewall/rules", "/cluster/firewall/ipset"))]
    assert enable == [len(written) - 1] and policies == enable and max(rules) < enable[0]
    assert str(written[-1]["params"]["enable"]) == "1"

    files = api_session(sim).sim("GET", "firewall/files").json()["data"]
    cluster = files["cluster.fw"]
    for line in ("enable: 1", "policy_in: DROP", "policy_forward: DROP", "[IPSET homecloud-internet]", "!10.0.0.0/8",
                 "IN ACCEPT -source +dc/homecloud-admins -dest +dc/homecloud-nodes -p tcp -dport 8006"):
        assert line in cluster, (line, cluster)
    assert "policy_forward: DROP" in files["sdn/acme01.fw"] and "nftables: 1" in files["host.fw/pve1"]
    assert "FORWARD DROP -dest +dc/homecloud-mgmt -log info" in files["sdn/globex01.fw"]
    assert "svc-postgresql" not in files["sdn/globex01.fw"] and "svc-postgresql" in files["sdn/acme01.fw"]

    start = len(sim.requests())
    again = run_repo_playbook(sim, PLAYBOOK)
    assert recap(again)["changed"] == 0 and writes_since(sim, start) == []


def converged(sim):
    assert recap(run_repo_playbook(sim, PLAYBOOK))["changed"] == 8
    return len(sim.requests())


@pytest.mark.timeout(300)
def test_moving_one_rule_costs_one_moveto_and_one_entry_one_post(networked):
    sim = networked
    start = converged(sim)
    settings = demo_var("firewall", "homecloud_firewall")
    settings["rules"].reverse()
    assert recap(run_repo_playbook(sim, PLAYBOOK, options=["-e", json.dumps({"homecloud_firewall": settings})]))["changed"] == 1
    moved = writes_since(sim, start)
    assert [(entry["method"], entry["route"], sorted(entry["params"])) for entry in moved] == [
        ("PUT", "/cluster/firewall/rules/{pos}", ["digest", "moveto"])]

    start = len(sim.requests())
    settings["admin_networks"].append("198.51.100.0/24")
    assert recap(run_repo_playbook(sim, PLAYBOOK, options=["-e", json.dumps({"homecloud_firewall": settings})]))["changed"] == 1
    added = writes_since(sim, start)
    assert [(entry["method"], entry["path"], entry["params"]["cidr"]) for entry in added] == [
        ("POST", "/cluster/firewall/ipset/homecloud-admins", "198.51.100.0/24")]


@pytest.mark.timeout(300)
def test_one_tenant_run_touches_only_that_tenant(networked):
    sim = networked
    start = converged(sim)
    tenants = demo_var("tenants", "homecloud_tenants")
    tenants[1]["services"] = ["s3", "postgresql"]  # globex is granted PostgreSQL
    process = run_repo_playbook(sim, PLAYBOOK, options=["-e", "homecloud_tenant=globex", "-e", json.dumps({"homecloud_tenants": tenants})])
    assert recap(process)["changed"] >= 1
    written = writes_since(sim, start)
    # globex's own VNet, the shared services' and the transit VNet (the hub's path) carry globex's grants
    assert written and all(re.match(r"^/cluster/sdn/vnets/(globex01|shared01|transi01)/firewall/rules", entry["path"]) for entry in written), \
        [(entry["method"], entry["path"]) for entry in written]
    assert all("globex" in entry["params"].get("comment", "globex") for entry in written)


def test_bad_input_is_refused_before_any_write(networked):
    sim = networked
    start = len(sim.requests())
    tenants = demo_var("tenants", "homecloud_tenants")
    tenants[0]["services"] = ["s3", "ldap"]
    settings = demo_var("firewall", "homecloud_firewall")
    settings["rules"].append({"type": "in", "action": "ACCEPT", "macro": "HTTPX"})
    process = run_repo_playbook(sim, PLAYBOOK, options=["-e", json.dumps({"homecloud_tenants": tenants})])
    assert process.returncode != 0
    assert "tenant 'acme': services: 'ldap' is not a service of homecloud_firewall.services (dns, postgresql, s3)" in process.stdout
    process = run_repo_playbook(sim, PLAYBOOK, options=["-e", json.dumps({"homecloud_firewall": settings})])
    assert process.returncode != 0
    assert re.search(r"rules\[9\]\.macro: unknown macro 'HTTPX'", process.stdout), process.stdout[-3000:]
    # the play checks the cluster rules (check mode) before its first write
    assert writes_since(sim, start) == []
