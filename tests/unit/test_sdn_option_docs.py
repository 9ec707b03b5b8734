# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SDN modules' shared option and return documentation is rendered from one table and kept in sync."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "sdn_option_docs.py")


def documentation(module):
    text = open(os.path.join(ROOT, "plugins", "modules", module + ".py")).read()
    return yaml.safe_load(text.split('DOCUMENTATION = r"""', 1)[1].split('"""', 1)[0])


def test_every_module_matches_the_table():
    result = subprocess.run([sys.executable, SCRIPT, "--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr + result.stdout


def test_a_module_out_of_date_is_found(tmp_path):
    """--check fails on a stale module (the check can fail)."""
    sys.path.insert(0, os.path.dirname(SCRIPT))
    try:
        import sdn_option_docs  # pylint: disable=import-outside-toplevel
    finally:
        sys.path.pop(0)
    kinds = sdn_option_docs.load_kinds()
    text = open(os.path.join(ROOT, "plugins", "modules", "sdn_vnet.py")).read()
    stale = text.replace("Free text shown as the bridge's alias.", "An alias.")
    assert stale != text and sdn_option_docs.refreshed(stale, kinds) == text


def test_nested_options_document_what_the_argument_spec_takes():
    zone_options = documentation("tenant_network")["options"]["zones"]["suboptions"]
    single = documentation("sdn_zone")["options"]
    for name, entry in zone_options.items():
        if name in single and name not in ("zone", "state"):
            assert entry["type"] == single[name]["type"] and entry.get("choices") == single[name].get("choices")
    assert "zone" not in zone_options["vnets"]["suboptions"], "a VNet's zone is the zone it is declared in"
    assert "O(zones[].fabric)" in zone_options["peers"]["description"]
