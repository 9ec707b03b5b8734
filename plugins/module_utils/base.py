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

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import (
    HAS_PROXMOXER,
    PROXMOXER_IMPORT_ERROR,
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
    """Holds the AnsibleModule, its client and its result.

    Subclasses implement ``run()``; errors of the client end the module with
    the client's message, which names the call, the field and PVE's answer.
    """

    def __init__(self, module):
        self.module = module
        if not HAS_PROXMOXER:
            module.fail_json(msg=missing_required_lib("proxmoxer"), exception=str(PROXMOXER_IMPORT_ERROR))
        self.client = client_from_params(module.params)
        self.result = dict(changed=False)

    def run(self):
        raise NotImplementedError

    def execute(self):
        """Run the module and exit with its result or with the error it met."""
        try:
            self.run()
        except ProxmoxError as error:
            self.module.fail_json(msg=str(error), **self.result)
        self.module.exit_json(**self.result)
