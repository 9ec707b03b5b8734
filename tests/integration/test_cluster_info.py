# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What cluster_info costs the API: the simulator's counters for one task."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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


def test_resource_type_is_passed_to_pve(sim, tmp_path):
    auth = dict(api_token_id="{{ sim_token_id }}", api_token_secret="{{ sim_token_secret }}", resource_type="sdn")
    result = run_playbook(one_task(**auth), tmp_path, extra_vars=sim_vars(sim))
    assert result.returncode == 0, result.stdout[-4000:]
    resources = [entry for entry in sim.requests() if entry["path"] == "/cluster/resources"]
    assert [entry["params"] for entry in resources] == [{"type": "sdn"}]
