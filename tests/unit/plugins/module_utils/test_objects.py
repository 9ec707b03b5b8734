# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The object engine's comparisons and plan lines (module_utils/objects.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import (
    MASK,
    Write,
    defined,
    masked,
    option_changes,
    same_value,
)


def test_same_value_reads_pve_booleans_numbers_and_lists():
    assert same_value(1, True) and same_value("0", False) and same_value(8006, "8006")
    assert same_value("a,b", ["a", "b"])
    assert not same_value("a,b", ["b", "a"])  # order is meaningful where PVE keeps it
    assert not same_value(None, 0) and same_value(None, None)


def test_defined_leaves_unset_options_alone_and_renames():
    params = dict(policy_in="DROP", policy_out=None, log_level_in="info", enable=False)
    assert defined(params, ["policy_in", "policy_out", "enable", "log_level_in"], rename=dict(log_level_in="log_level_in")) == \
        dict(policy_in="DROP", enable=False, log_level_in="info")


def test_option_changes_lists_only_what_differs():
    current = dict(enable=1, policy_in="ACCEPT", digest="abc")
    assert option_changes(current, dict(enable=True, policy_in="DROP", policy_out="ACCEPT")) == dict(policy_in="DROP", policy_out="ACCEPT")
    assert option_changes(None, dict(enable=True)) == dict(enable=True)


def test_write_text_masks_secrets_and_drops_unset_parameters():
    write = Write("POST", "/access/users", dict(userid="ann@pve", password="s3cret", comment=None, enable=True), secret_keys=["password"])
    assert str(write) == "POST /access/users enable=1 password={0} userid=ann@pve".format(MASK)
    assert "s3cret" not in str(write)
    assert masked(dict(value="x", name="t"), ["value"]) == dict(value=MASK, name="t")
    assert masked(dict(value=None), ["value"]) == dict(value=None)
