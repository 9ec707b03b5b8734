# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/planning on its own: no Ansible needed, errors as a list, the layout arithmetic."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys

import netaddr
import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils import planning

PLANNING_FILE = planning.__file__


def test_imports_without_ansible():
    """Imported from the collection tree in a fresh interpreter: ansible itself is never imported."""
    collections_root = PLANNING_FILE[:PLANNING_FILE.index(os.sep + "ansible_collections" + os.sep)]
    script = ("import sys\n"
              "sys.path.insert(0, sys.argv[1])\n"
              "from ansible_collections.homecloud.proxmox.plugins.module_utils import planning as module\n"
              "assert not [name for name in sys.modules if name == 'ansible' or name.startswith('ansible.')], sorted(sys.modules)\n"
              "print(module.plan_tenants([], {'supernet': '10.0.0.0/8', 'tenant_prefix': 16, 'vnet_prefix': 24,"
              " 'controller': 'evpn'}))\n")
    result = subprocess.run([sys.executable, "-c", script, collections_root], capture_output=True, text=True,
                            check=False, cwd=os.path.dirname(PLANNING_FILE))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_plan_error_keeps_each_problem():
    with pytest.raises(planning.PlanError) as failure:
        planning.plan_tenants("acme", None)
    assert failure.value.errors == [
        "network plan: must be a dict (supernet, tenant_prefix, vnet_prefix, controller, ...), got None",
        "tenants: must be a list of tenant dicts, got 'acme'",
    ]
    assert str(failure.value) == "\n".join(failure.value.errors)


@pytest.mark.parametrize("cidr,reserved,layout", [
    ("192.0.2.0/24", 8, ("192.0.2.1", "192.0.2.10", "192.0.2.254")),
    ("192.0.2.0/28", 0, ("192.0.2.1", "192.0.2.2", "192.0.2.14")),
    ("2001:db8::/126", 0, ("2001:db8::1", "2001:db8::2", "2001:db8::3")),
])
def test_host_layout(cidr, reserved, layout):
    network = netaddr.IPNetwork(cidr)
    numbers = planning.host_layout(network, reserved)
    assert tuple(planning.address(number, network.version) for number in numbers) == layout


@pytest.mark.parametrize("prefix,version,reserved,fits", [
    (28, 4, 8, True), (28, 4, 12, True), (28, 4, 13, False), (30, 4, 0, True), (31, 4, 0, False),
    (126, 6, 1, True), (126, 6, 2, False),
])
def test_guest_room(prefix, version, reserved, fits):
    errors = []
    assert planning.check_guest_room(prefix, version, reserved, "network plan", "vnet_prefix", errors) is fits
    assert len(errors) == (0 if fits else 1)
