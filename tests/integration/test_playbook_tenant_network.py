# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/tenant_network.yml with the demo inventory, as a user runs it, on PVE 8.4 and 9.1."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from .playbook import diffs, recap, run_repo_playbook

PLAYBOOK = "playbooks/tenant_network.yml"
WRITES = ("POST", "PUT", "DELETE")


@pytest.mark.parametrize("version", ["8.4", "9.1"])
def test_first_run_one_apply_second_run_nothing(sim_factory, api_session, version):
    sim = sim_factory(version=version)
    predicted = run_repo_playbook(sim, PLAYBOOK, options=["--check", "--diff"])
    assert recap(predicted)["changed"] == 1
    assert sim.counters()["writes"] == 0, "check mode wrote"

    first = run_repo_playbook(sim, PLAYBOOK, options=["--diff"])
    assert recap(first)["changed"] == 1
    assert diffs(predicted) == diffs(first) and diffs(first), "check mode did not predict the real diff"
    counters = sim.counters()
    assert counters["sdn_applies"] == 1
    running = api_session(sim).data("GET", "/cluster/sdn/zones", params={"running": 1})
    # the demo's transit network is a zone of its own, converged like every other
    assert sorted(zone["zone"] for zone in running) == ["acme", "globex", "shared", "transit"]

    second = run_repo_playbook(sim, PLAYBOOK)
    assert recap(second)["changed"] == 0
    after = sim.counters()
    assert after["writes"] == counters["writes"] and after["sdn_applies"] == 1


def test_one_tenant_run_touches_only_that_tenant(sim):
    assert recap(run_repo_playbook(sim, PLAYBOOK))["changed"] == 1
    count = len(sim.requests())
    process = run_repo_playbook(sim, PLAYBOOK, options=["-e", "homecloud_tenant=acme", "-e", '{"homecloud_tenants": '
                                                        '[{"name": "acme", "id": 1, "vnets": [{"name": "web", "id": 1}]}, '
                                                        '{"name": "globex", "id": 2, "vnets": [{"name": "app", "id": 1}]}]}'])
    assert recap(process)["changed"] == 1
    new = sim.requests()[count:]
    written = [entry["path"] for entry in new if entry["method"] in WRITES]
    assert "/cluster/sdn/vnets/acme02/subnets/acme-10.128.18.0-24" in written and "/cluster/sdn/vnets/acme02" in written
    assert not [path for path in written if "globex" in path or "shared" in path or "controllers" in path]
    assert sim.counters()["sdn_applies"] == 2


def test_an_unknown_tenant_is_refused(sim):
    process = run_repo_playbook(sim, PLAYBOOK, options=["-e", "homecloud_tenant=nobody"])
    assert process.returncode != 0 and "no tenant named nobody in homecloud_tenants" in process.stdout
    assert sim.counters()["writes"] == 0


ACME = {"name": "acme", "id": 1, "vnets": [{"name": "web", "id": 1}]}


@pytest.mark.parametrize("extra_vars, message", [
    ({"homecloud_tenants": [ACME, {"name": "globex", "id": 2, "network": "10.128.16.0/20", "vnets": [{"name": "app", "id": 1}]}]},
     "overlaps the network 10.128.16.0/20 of tenant 'acme'"),
    ({"homecloud_tenants": [dict(ACME, name="acmecorpx")]}, "zone 'acmecorpx'"),
    ({"homecloud_tenants": [ACME, {"name": "globex", "id": 1, "vnets": [{"name": "app", "id": 1}]}]}, "is also"),
    ({"homecloud_tenants": [ACME], "homecloud_network_plan": {
        "supernet": "10.128.0.0/12", "tenant_prefix": 20, "vnet_prefix": 24, "controller": "evpnctl",
        "vrf_vxlan_base": 100101, "shared_services": {"name": "shared", "vnets": [{"name": "svc", "id": 1}]}}},
     "vrf_vxlan 100101 is also the tag of tenant 'acme' vnets[0]"),
    ({"homecloud_tenants": [dict(ACME, network="192.168.0.0/20")]}, "network 192.168.0.0/20 is outside the supernet 10.128.0.0/12"),
], ids=["overlap", "nine-character-id", "duplicate-slot-and-vni", "vrf-vxlan-clash", "outside-supernet"])
def test_invalid_plans_fail_before_any_write(sim, tmp_path, extra_vars, message):
    vars_file = tmp_path / "bad.json"
    vars_file.write_text(json.dumps(extra_vars))
    process = run_repo_playbook(sim, PLAYBOOK, options=["-e", "@" + str(vars_file)])
    assert process.returncode != 0
    assert message in process.stdout, process.stdout[-3000:]
    assert "homecloud.proxmox.tenant_plan:" in process.stdout
    assert sim.counters()["writes"] == 0
