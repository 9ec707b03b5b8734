# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The base every module of the collection builds on.

One argument spec for the API connection (documented once in the
``homecloud.proxmox.api`` doc fragment), one place that turns it into a
ProxmoxClient, one way to fail with a readable error.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    ProxmoxClient,
    ProxmoxError,
)


def api_argument_spec():
    """Connection options, with the environment variables community.proxmox also reads."""
    return dict(
        api_host=dict(type="str", required=True, fallback=(env_fallback, ["PROXMOX_HOST"])),
        api_port=dict(type="int", default=8006, fallback=(env_fallback, ["PROXMOX_PORT"])),
        api_user=dict(type="str", default="root@pam", fallback=(env_fallback, ["PROXMOX_USER"])),
        api_password=dict(type="str", no_log=True, fallback=(env_fallback, ["PROXMOX_PASSWORD"])),
        api_token_id=dict(type="str", fallback=(env_fallback, ["PROXMOX_TOKEN_ID"])),
        api_token_secret=dict(type="str", no_log=True, fallback=(env_fallback, ["PROXMOX_TOKEN_SECRET"])),
        validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["PROXMOX_VALIDATE_CERTS"])),
        ca_path=dict(type="path", fallback=(env_fallback, ["PROXMOX_CA_PATH"])),
        api_timeout=dict(type="int", default=10, fallback=(env_fallback, ["PROXMOX_API_TIMEOUT"])),
    )


API_REQUIRED_TOGETHER = [("api_token_id", "api_token_secret")]
API_REQUIRED_ONE_OF = [("api_password", "api_token_id")]


def create_module(argument_spec, **kwargs):
    """An AnsibleModule with the connection options merged in."""
    spec = api_argument_spec()
    spec.update(argument_spec)
    kwargs["required_together"] = API_REQUIRED_TOGETHER + kwargs.get("required_together", [])
    kwargs["required_one_of"] = API_REQUIRED_ONE_OF + kwargs.get("required_one_of", [])
    return AnsibleModule(argument_spec=spec, **kwargs)


def client_from_params(params):
    """A ProxmoxClient for a module's validated parameters."""
    return ProxmoxClient(
        host=params["api_host"],
        port=params["api_port"],
        user=params["api_user"],
        password=params["api_password"],
        token_id=params["api_token_id"],
        token_secret=params["api_token_secret"],
        validate_certs=params["validate_certs"],
        ca_path=params["ca_path"],
        timeout=params["api_timeout"],
    )


class ProxmoxModule:
    """Holds the AnsibleModule, its client and its result; the only place that speaks Ansible.

    Subclasses implement ``run()``, which fills ``self.result`` and raises on failure.
    Errors of the client end the module with the client's message (the call, the field,
    PVE's answer) and a structured ``failure``; anything else that goes wrong ends it with
    a message naming the API call and the object being worked on, never a bare traceback.
    """

    def __init__(self, module):
        self.module = module
        if not HAS_REQUESTS:
            module.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        self.client = client_from_params(module.params)
        self.result = dict(changed=False)
        self.working_on = None  # the object being read or written, for messages about surprises

    def run(self):
        raise NotImplementedError

    def execute(self):
        """Run the module and exit with its result or with the error it met."""
        try:
            self.run()
        except ProxmoxError as error:
            # An error may carry what the run did before it (written, rolled back, uncertain).
            self.result.update(getattr(error, "result", None) or {})
            self.fail(str(error), failure=error.failure)
        except Exception as error:  # pylint: disable=broad-except
            # An answer of a shape this module did not expect (a missing key, a value it
            # cannot parse): say where, keep the traceback for -vvv.
            self.fail("unexpected {0} ({1}) while working on {2}; last API call: {3}".format(
                type(error).__name__, error, self.working_on or "the request", self.client.last_call or "none"),
                failure=dict(method=None, path=None, status=None, reason=str(error), errors={}),
                exception=traceback.format_exc())
        self.module.exit_json(**self.result)

    def fail(self, msg, **extra):
        """End the module as failed, with the result gathered so far."""
        result = dict(self.result)
        result.update(extra)
        self.module.fail_json(msg=msg, **result)
