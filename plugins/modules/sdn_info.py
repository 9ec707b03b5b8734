#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sdn_info
short_description: Read the Proxmox VE SDN configuration, pending and running
version_added: 0.1.0
description:
  - Reads SDN controllers, zones, VNets and their subnets in PVE's pending view, and says for each object
    whether it is applied, new, changed or deleted, with its running and pending options.
  - One request per collection, plus one per VNet for its subnets (skip them with O(subnets=false)).
options:
  zone:
    description: Only return this zone and its VNets (controllers are returned all the same).
    type: str
  subnets:
    description: Read the subnets of every returned VNet.
    type: bool
    default: true
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.attributes.INFO_MODULE
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: What is pending before a change window
  homecloud.proxmox.sdn_info:
  register: sdn

- name: Stop if anything is pending
  ansible.builtin.assert:
    that: sdn.pending | length == 0
    fail_msg: "pending SDN changes: {{ sdn.pending }}"
"""

RETURN = r"""
controllers:
  description: Controllers by id.
  returned: always
  type: dict
  sample: {evpnctl: {state: applied, options: {type: evpn, asn: 65000}, running: {type: evpn, asn: 65000}}}
zones:
  description: Zones by id, each with C(state) (V(applied), V(new), V(changed), V(deleted)), C(options) (pending) and C(running).
  returned: always
  type: dict
vnets:
  description: VNets by id, like RV(zones), each with C(subnets) by CIDR when O(subnets=true).
  returned: always
  type: dict
pending:
  description: Every object with a pending change, as V(kind/id).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import ProxmoxModule, create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn import SdnReader, cidr_of_subnet_id


def describe(found):
    return dict(state=found.state or "applied", options=found.options if found.exists else None, running=found.running)


class SdnInfo(ProxmoxModule):

    def run(self):
        params = self.module.params
        reader = SdnReader(self.client)
        self.result["controllers"] = dict((key, describe(found)) for key, found in reader.objects("controller").items())
        self.result["zones"] = dict((key, describe(found)) for key, found in reader.objects("zone").items()
                                    if params["zone"] in (None, key))
        vnets = {}
        for key, found in reader.objects("vnet").items():
            if params["zone"] not in (None, found.zone):
                continue
            vnets[key] = describe(found)
            if params["subnets"] and found.exists:
                vnets[key]["subnets"] = dict((cidr_of_subnet_id(subnet.id), describe(subnet))
                                             for subnet in reader.objects("subnet", parent=key).values())
        self.result["vnets"] = vnets
        self.result["pending"] = sorted(found.ref for found in reader.pending())


def main():
    module = create_module(dict(zone=dict(type="str"), subnets=dict(type="bool", default=True)), supports_check_mode=True)
    SdnInfo(module).execute()


if __name__ == "__main__":
    main()
