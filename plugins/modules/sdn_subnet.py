#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sdn_subnet
short_description: Manage one subnet of a Proxmox VE SDN VNet
version_added: 0.1.0
description:
  - Creates, updates or removes one subnet of a VNet, named by the VNet and its CIDR
    (PVE's id V(<zone>-<network>-<prefix>) is derived).
  - Only the options given are compared and written; an option set to an empty string or list is removed.
  - PVE does not check that subnets of different VNets overlap; M(homecloud.proxmox.tenant_network) with
    the P(homecloud.proxmox.tenant_plan#filter) filter does.
  - Changes stay pending unless O(apply=true); see M(homecloud.proxmox.sdn_apply).
options:
  vnet:
    description: VNet the subnet belongs to; it must exist (at least pending).
    type: str
    required: true
  subnet:
    description: The subnet in CIDR form, without host bits, for example V(10.128.49.0/24).
    type: str
    required: true
  state:
    description: Whether the subnet must exist.
    type: str
    choices: [present, absent]
    default: present
  # BEGIN sdn options subnet
  gateway:
    description: Gateway address, inside the subnet; on simple and EVPN zones it is set on the VNet bridge.
    type: str
  snat:
    description: Masquerade the subnet's traffic leaving the zone.
    type: bool
  dnszoneprefix:
    description: DNS zone prefix, as in V(adm) for V(<host>.adm.<dnszone>).
    type: str
  dhcp_range:
    description: DHCP ranges (simple zones with DHCP).
    type: list
    elements: dict
    suboptions:
      start_address:
        description: First address of the range.
        type: str
        required: true
      end_address:
        description: Last address of the range.
        type: str
        required: true
  dhcp_dns_server:
    description: DNS server handed out by DHCP.
    type: str
  # END sdn options
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.sdn
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The web subnet of tenant acme with its anycast gateway
  homecloud.proxmox.sdn_subnet:
    vnet: acme01
    subnet: 10.128.49.0/24
    gateway: 10.128.49.1
"""

RETURN = r"""
subnet:
  description:
    - The subnet as PVE holds it after the task (its pending view, re-read once when the task wrote; as planned in check mode).
    - C(state) is V(applied), V(new) or V(changed) (pending), or V(planned) in check mode. V(null) when absent.
  returned: always
  type: dict
  sample: {subnet: 10.128.49.0/24, vnet: acme01, zone: acme, gateway: 10.128.49.1, state: applied}
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

from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn_module import SdnSubnetModule, run_object_module


def main():
    run_object_module(SdnSubnetModule, dict(vnet=dict(type="str", required=True), subnet=dict(type="str", required=True)))


if __name__ == "__main__":
    main()
