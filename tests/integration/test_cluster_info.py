# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What cluster_info costs the API: the simulator's counters for one task."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from .playbook import run_playbook, sim_vars

CONNECTION = dict(api_host="{{ sim_host }}", api_port="{{ sim_port }}", ca_path="{{ sim_ca_path }}")
READS = {"GET /version": 1, "GET /cluster/status": 1, "GET /nodes": 1, "GET /cluster/resources": 1}


def one_task(**options):
    task = {"name": "Read the cluster", "homecloud.proxmox.cluster_info": dict(CONNECTION, **options)}
    return [{"name": "cluster_info", "hosts": "localhost", "gather_facts": False, "tasks": [task]}]


@pytest.mark.parametrize("auth, logins", [
    (dict(api_token_id="{{ sim_token_id }}", api_token_secret="{{ sim_token_secret }}"), 0),
    (dict(api_user="root@pam", api_password="{{ sim_root_password }}"), 1),
], ids=["token", "ticket"])
@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
def test_one_task_costs_four_reads_and_no_write(sim, tmp_path, auth, logins, check):
    result = run_playbook(one_task(**auth), tmp_path, extra_vars=sim_vars(sim), check=check)
    assert result.returncode == 0, result.stdout[-4000:]
    counters = sim.counters()
    expected = dict(READS)
    if logins:
        expected["POST /access/ticket"] = logins
    assert counters["by_path"] == expected
    assert counters["writes"] == 0


TOKEN = dict(api_token_id="{{ sim_token_id }}", api_token_secret="{{ sim_token_secret }}")


def with_a_zone(sim, api_session):
    session = api_session(sim)
    session.data("POST", "/cluster/sdn/zones", data={"zone": "acme", "type": "simple"})
    session.data("PUT", "/cluster/sdn")


def saved(tmp_path, **options):
    task = {"name": "Read the cluster", "homecloud.proxmox.cluster_info": dict(CONNECTION, **options), "register": "info"}
    save = {"name": "Save", "ansible.builtin.copy": {"content": "{{ info | to_json }}", "dest": str(tmp_path / "info.json")}}
    return [{"name": "cluster_info", "hosts": "localhost", "gather_facts": False, "tasks": [task, save]}]


def resources_of_a_zone(sim, api_session, tmp_path, resource_type):
    """Apply one zone, run cluster_info with `resource_type`; returns (sim, the task's result)."""
    with_a_zone(sim, api_session)
    result = run_playbook(saved(tmp_path, resource_type=resource_type, **TOKEN), tmp_path, extra_vars=sim_vars(sim))
    assert result.returncode == 0, result.stdout[-4000:]
    return sim, json.loads((tmp_path / "info.json").read_text())


def resource_reads(sim):
    return [entry["params"] for entry in sim.requests() if entry["path"] == "/cluster/resources"]


@pytest.mark.parametrize("version", ["8.4", "9.1"])
def test_sdn_resources_are_filtered_by_pve(sim_factory, api_session, tmp_path, version):
    sim, info = resources_of_a_zone(sim_factory(version=version), api_session, tmp_path, "sdn")
    assert resource_reads(sim) == [{"type": "sdn"}]
    if version == "8.4":
        assert "sdn/pve1/acme" in [entry["id"] for entry in info["resources"]] and not info.get("warnings")
    else:
        # pve-manager 1804cdf1: 9.1 nodes report zones as `network` entries, none as `sdn`
        assert info["resources"] == [] and "Use resource_type=network" in info["warnings"][0]


@pytest.mark.parametrize("version", ["8.4", "9.1"])
def test_network_resources_are_kept_from_one_unfiltered_read(sim_factory, api_session, tmp_path, version):
    sim, info = resources_of_a_zone(sim_factory(version=version), api_session, tmp_path, "network")
    assert resource_reads(sim) == [{}], "PVE's type parameter has no 'network': one read of everything"
    if version == "8.4":
        assert info["resources"] == []
    else:
        assert {entry["type"] for entry in info["resources"]} == {"network"}
        assert "network/pve1/zone/acme" in [entry["id"] for entry in info["resources"]]
