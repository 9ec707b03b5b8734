#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sdn_ipam
short_description: Manage one Proxmox VE SDN IPAM plugin (PVE, NetBox, phpIPAM)
version_added: 0.1.0
description:
  - Creates, updates or removes one IPAM plugin object (C(/cluster/sdn/ipams)), which zones name in their
    O(homecloud.proxmox.sdn_zone#module:ipam) option.
  - Only the options given are compared and written; an option set to an empty string is removed.
  - IPAM plugins are not part of PVE's pending/running SDN model; a write takes effect at once and needs no apply.
  - PVE returns the O(token) in its answers (pve-network stores it in C(sdn/ipams.cfg)), so the module compares it
    like any other option and changes it only when it differs. The module never shows a token in its result or its
    diff.
  - On create and update PVE calls the NetBox or phpIPAM API once to check O(url), O(token) and O(fingerprint), and
    refuses the write if that fails.
options:
  ipam:
    description:
      - IPAM id; 2 or more ASCII letters and digits, starting with a letter (PVE's rule).
      - V(pve) is PVE's own IPAM, always present; it cannot be removed.
    type: str
    required: true
  state:
    description: Whether the IPAM must exist.
    type: str
    choices: [present, absent]
    default: present
  type:
    description: IPAM type; required to create one, and PVE cannot change it later.
    type: str
    choices: [pve, netbox, phpipam]
  url:
    description: API URL of the IPAM (NetBox and phpIPAM; required there), for example V(https://netbox.example/api).
    type: str
  token:
    description: API token (NetBox and phpIPAM; required there).
    type: str
  section:
    description: phpIPAM section id the subnets are created in (phpIPAM; required there).
    type: int
  fingerprint:
    description: SHA-256 fingerprint of the IPAM's TLS certificate, to trust a self-signed one.
    type: str
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.sdn
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The NetBox IPAM the tenants' zones register their subnets in
  homecloud.proxmox.sdn_ipam:
    ipam: netbox
    type: netbox
    url: https://netbox.example/api
    token: "{{ netbox_api_token }}"

- name: Remove a phpIPAM plugin that no zone uses any more
  homecloud.proxmox.sdn_ipam:
    ipam: oldipam
    state: absent
"""

RETURN = r"""
ipam:
  description:
    - The IPAM's options after the task (as planned in check mode); V(null) when absent.
    - A token is shown as V(********).
  returned: always
  type: dict
  sample: {ipam: netbox, type: netbox, url: "https://netbox.example/api", token: "********", state: applied}
# BEGIN sdn returns
sdn_changes:
  description: The objects this task changed (or would change), as V(kind/name) (subnets as V(subnet/<vnet>/<cidr>)).
  returned: always
  type: list
  elements: str
  sample: [zone/acme, vnet/acme01, subnet/acme01/10.128.49.0/24]
pending:
  description: Objects with pending changes seen before the task wrote, as V(kind/name).
  returned: always
  type: list
  elements: str
applied:
  description: Whether the SDN configuration was applied (in check mode, whether it would be).
  returned: always
  type: bool
apply_task:
  description: UPID of the apply task.
  returned: when applied
  type: str
written:
  description: After a failure, the objects this task wrote that are still pending (not rolled back).
  returned: on failure, when something stayed written
  type: list
  elements: str
rolled_back:
  description:
    - After a failure, the objects this task wrote that PVE's rollback discarded (PVE 9.x).
    - Nothing of the task is left then, so the task reports no change.
  returned: on failure, after a rollback
  type: list
  elements: str
uncertain:
  description: The object whose write got no answer (a proxy's 502/504, a dropped connection) and whose outcome is unknown.
  returned: on failure, when a write's outcome could not be confirmed
  type: list
  elements: str
failure:
  description:
    - The failed API call, so that C(failed_when) and C(rescue) can branch on its status or on a refused field.
    - V(uncertain=true) marks a write whose outcome is unknown.
  returned: on failure
  type: dict
  sample: {method: POST, path: /cluster/sdn/zones, status: 400, reason: Parameter verification failed., errors: {zone: invalid format}}
# END sdn returns
"""

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxError
from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn_module import SdnObjectModule, run_object_module

BUILT_IN = "pve"  # pve-network Ipams.pm config() adds it to every read of ipams.cfg


class SdnIpam(SdnObjectModule):
    kind_name = "ipam"

    def locate(self, reader):
        located = super(SdnIpam, self).locate(reader)
        if self.module.params["state"] == "absent" and located[0] == BUILT_IN:
            raise ProxmoxError("the IPAM 'pve' is built in: PVE lists it even after a delete; nothing was changed")
        return located


def main():
    run_object_module(SdnIpam, dict(ipam=dict(type="str", required=True)))


if __name__ == "__main__":
    main()
