#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sdn_controller
short_description: Manage one Proxmox VE SDN controller (EVPN, BGP, IS-IS, Faucet)
version_added: 0.1.0
description:
  - Creates, updates or removes one SDN controller. Only the options given are compared and written;
    an option set to an empty string or list is removed.
  - PVE allows one EVPN controller per cluster, and one BGP or IS-IS controller per node.
  - Changes stay pending unless O(apply=true); see M(homecloud.proxmox.sdn_apply).
options:
  controller:
    description: Controller id; letters, digits, V(-) and V(_), starting with a letter, up to 64 characters.
    type: str
    required: true
  state:
    description: Whether the controller must exist. PVE refuses to remove one that a zone uses.
    type: str
    choices: [present, absent]
    default: present
  # BEGIN sdn options controller
  type:
    description: Controller type; required to create one, and PVE cannot change it later.
    type: str
    choices: [evpn, bgp, isis, faucet]
  asn:
    description: Autonomous system number (EVPN and BGP).
    type: int
  peers:
    description:
      - Underlay addresses of the BGP peers; for EVPN, the VTEP address of every node.
      - On PVE 9.x either this or O(fabric).
    type: list
    elements: str
  fabric:
    description: SDN fabric that provides the underlay instead of O(peers) (PVE 9.x, EVPN).
    type: str
  node:
    description: Node a BGP or IS-IS controller runs on.
    type: str
  ebgp:
    description: Use external BGP (BGP controllers).
    type: bool
  ebgp_multihop:
    description: Maximum hops to eBGP peers.
    type: int
  loopback:
    description: Interface whose address is the router id (BGP, IS-IS).
    type: str
  bgp_multipath_as_path_relax:
    description: Consider different AS paths of equal length for multipath (BGP).
    type: bool
  isis_domain:
    description: IS-IS domain name.
    type: str
  isis_net:
    description: IS-IS network entity title of the node.
    type: str
  isis_ifaces:
    description: Interfaces IS-IS runs on.
    type: list
    elements: str
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
- name: The cluster's EVPN controller, peering over the underlay NICs
  homecloud.proxmox.sdn_controller:
    controller: evpnctl
    type: evpn
    asn: 65000
    peers: [10.255.0.1, 10.255.0.2, 10.255.0.3]
"""

RETURN = r"""
controller:
  description:
    - The controller as PVE holds it after the task (its pending view, re-read once when the task wrote; as planned in check mode).
    - C(state) is V(applied), V(new) or V(changed) (pending), or V(planned) in check mode. V(null) when absent.
  returned: always
  type: dict
  sample: {controller: evpnctl, type: evpn, asn: 65000, peers: [10.255.0.1, 10.255.0.2], state: applied}
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


class SdnController(SdnObjectModule):
    kind_name = "controller"


def main():
    run_object_module(SdnController, dict(controller=dict(type="str", required=True)))


if __name__ == "__main__":
    main()
