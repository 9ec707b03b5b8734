# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The prepared cluster the guest, gateway and shared services playbook tests start from: a copy of the demo
inventory (with the guests a test names), and the state access.yml, tenant_network.yml, tenant_access.yml and
guest_templates.yml leave on the simulator, made once per test run."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil

import yaml

from .playbook import REPO, run_repo_playbook, serve_demo_image

ACME_GUESTS = [
    {"name": "web1", "id": 10, "vnet": "web", "node": "pve1"},
    {"name": "web2", "id": 11, "vnet": "web", "node": "pve2"},
    {"name": "web3", "id": 12, "vnet": "web", "node": "pve3", "host": 40},
    {"name": "db1", "id": 20, "vnet": "db", "size": "medium", "node": "pve1"},
    {"name": "db2", "id": 21, "vnet": "db", "node": "pve2"},
]


def inventory(tmp_path, acme_guests=None, globex_guests=None):
    """A copy of inventories/demo whose tenants have the given guests; returns its path."""
    target = tmp_path / "inventory"
    if target.exists():
        shutil.rmtree(str(target))
    shutil.copytree(os.path.join(REPO, "inventories", "demo"), str(target))
    tenants_file = target / "group_vars" / "all" / "tenants.yml"
    tenants = yaml.safe_load(tenants_file.read_text())
    for tenant in tenants["homecloud_tenants"]:
        guests = acme_guests if tenant["name"] == "acme" else globex_guests
        if guests is not None:
            tenant["guests"] = guests
    tenants_file.write_text(yaml.safe_dump(tenants, sort_keys=False))
    return str(target)


def play(sim, playbook, inventory_path, *options):
    process = run_repo_playbook(sim, playbook, inventory=inventory_path, options=list(options), timeout=600)
    return process


PREPARED = {}  # release -> the simulator state after prepare(): made once per test run (made_once), kept per worker


def prepare(simulator, tmp_path, made_once):
    """Roles, networks, pools and templates in place (as root); the image served as scripts/demo.sh serves it.
    The playbooks run once per release and test run (conftest.made_once shares the state between the xdist
    workers); every test loads the state they left. test_tenant_gateway_playbook starts from it too."""
    serve_demo_image(simulator)
    simulator.areas["QemuRuntimeArea"].agent_delay = 0.5
    path = inventory(tmp_path, ACME_GUESTS)
    version = simulator.pve_version

    def make():
        for playbook in ("playbooks/access.yml", "playbooks/tenant_network.yml", "playbooks/tenant_access.yml",
                         "playbooks/guest_templates.yml"):
            process = play(simulator, playbook, path)
            assert process.returncode == 0, (playbook, process.stdout[-3000:])
        return simulator.dump_state()

    if version not in PREPARED:
        PREPARED[version] = made_once("tenant-guests-prepared-" + version, make)
    simulator.state.load(PREPARED[version])
    return simulator, path
