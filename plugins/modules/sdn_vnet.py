#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sdn_vnet
short_description: Manage one Proxmox VE SDN VNet
version_added: 0.1.0
description:
  - Creates, updates or removes one VNet. Only the options given are compared and written;
    an option set to an empty string is removed.
  - VNet ids are cluster-wide, not per zone.
  - Changes stay pending unless O(apply=true); see M(homecloud.proxmox.sdn_apply).
options:
  vnet:
    description: VNet id; 2 to 8 letters and digits, starting with a letter (PVE's rule).
    type: str
    required: true
  state:
    description: Whether the VNet must exist. PVE refuses to remove a VNet that still has subnets.
    type: str
    choices: [present, absent]
    default: present
  # BEGIN sdn options vnet
  zone:
    description: Zone of the VNet; required to create it. PVE refuses to move a VNet that has subnets.
    type: str
  tag:
    description: VXLAN VNI (VXLAN and EVPN zones, unique across them) or VLAN tag (VLAN and QinQ zones).
    type: int
  alias:
    description: Free text shown as the bridge's alias.
    type: str
  vlanaware:
    description: Let VLAN-tagged frames through the VNet (not in EVPN zones, not with subnets).
    type: bool
  isolate_ports:
    description: Isolate the guest ports of the VNet's bridge from each other.
    type: bool
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
- name: A VNet in tenant acme's zone
  homecloud.proxmox.sdn_vnet:
    vnet: acme01
    zone: acme
    tag: 100301
    alias: acme web
"""

RETURN = r"""
vnet:
  description:
    - The vnet as PVE holds it after the task (its pending view, re-read once when the task wrote; as planned in check mode).
    - C(state) is V(applied), V(new) or V(changed) (pending), or V(planned) in check mode. V(null) when absent.
  returned: always
  type: dict
  sample: {vnet: acme01, zone: acme, tag: 100301, alias: acme web, state: new}
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

from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn_module import SdnObjectModule, run_object_module


class SdnVnet(SdnObjectModule):
    kind_name = "vnet"


def main():
    run_object_module(SdnVnet, dict(vnet=dict(type="str", required=True)))


if __name__ == "__main__":
    main()
