# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every integration target (tests/integration/targets/<module>) against the simulator, as PVE 8.4 and 9.1.

A target is a role whose tasks call one module and assert on what it returns;
the same tasks run against a real cluster when the sim_* variables point at one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from .playbook import TARGETS, run_playbook, sim_vars

TARGET_NAMES = sorted(name for name in os.listdir(TARGETS) if not name.startswith("."))


@pytest.mark.parametrize("pve_version", ["8.4", "9.1"])
@pytest.mark.parametrize("target", TARGET_NAMES)
def test_target(sim_factory, tmp_path, target, pve_version):
    sim = sim_factory(version=pve_version)
    result = run_playbook([{"name": target, "hosts": "localhost", "gather_facts": False, "roles": [target]}],
                          tmp_path, extra_vars=sim_vars(sim))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "failed=0" in result.stdout
