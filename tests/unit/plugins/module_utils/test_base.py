# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module base: every way a module can end becomes a result with a message, never a traceback."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import ProxmoxModule, api_argument_spec
from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxApiError
from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn import TRANSACTION_SPEC


class Ended(Exception):
    def __init__(self, how, result):
        self.how = how
        self.result = result
        super(Ended, self).__init__(how)


class FakeAnsibleModule:
    """Records how the module ended instead of printing JSON and exiting."""

    check_mode = False
    _diff = False

    def __init__(self):
        self.params = dict((name, option.get("default")) for name, option in api_argument_spec().items())
        self.params.update(api_host="pve.invalid", api_token_id="t", api_token_secret="s")

    def fail_json(self, **result):
        raise Ended("failed", result)

    def exit_json(self, **result):
        raise Ended("exited", result)


def ending(run):
    module = type("Probe", (ProxmoxModule,), {"run": run})(FakeAnsibleModule())
    with pytest.raises(Ended) as ended:
        module.execute()
    return ended.value


def test_an_unexpected_error_names_the_object_and_the_last_call():
    def run(self):
        self.working_on = "zone/acme"
        self.client.last_call = "GET /cluster/sdn/zones"
        return {}["zone"]

    ended = ending(run)
    assert ended.how == "failed"
    assert ended.result["msg"] == "unexpected KeyError ('zone') while working on zone/acme; last API call: GET /cluster/sdn/zones"
    assert "Traceback" in ended.result["exception"] and ended.result["changed"] is False


def test_an_api_error_is_structured():
    def run(self):
        raise ProxmoxApiError("PUT", "/cluster/sdn/zones/acme", 403, "Permission check failed (/sdn/zones/acme, SDN.Allocate)")

    ended = ending(run)
    assert ended.result["failure"] == dict(method="PUT", path="/cluster/sdn/zones/acme", status=403,
                                           reason="Permission check failed (/sdn/zones/acme, SDN.Allocate)", errors={})
    assert ended.result["msg"].startswith("PUT /cluster/sdn/zones/acme failed: HTTP 403 Permission check failed")


def test_secrets_are_never_logged():
    assert api_argument_spec()["api_token_secret"]["no_log"] and api_argument_spec()["api_password"]["no_log"]
    assert TRANSACTION_SPEC["lock_token"]["no_log"] is True
