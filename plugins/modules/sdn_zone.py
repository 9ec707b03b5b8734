#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sdn_zone
short_description: Manage one Proxmox VE SDN zone (simple, VLAN, QinQ, VXLAN, EVPN, Faucet)
version_added: 0.1.0
description:
  - Creates, updates or removes one SDN zone. Only the options given are compared and written;
    an option set to an empty string or list is removed from the zone.
  - Changes stay pending unless O(apply=true); see M(homecloud.proxmox.sdn_apply).
  - For a tenant's whole network (zone, VNets and subnets in one task) use M(homecloud.proxmox.tenant_network).
options:
  zone:
    description: Zone id; 2 to 8 letters and digits, starting with a letter (PVE's rule).
    type: str
    required: true
  state:
    description: Whether the zone must exist. PVE refuses to remove a zone that VNets still use.
    type: str
    choices: [present, absent]
    default: present
  # BEGIN sdn options zone
  type:
    description: Zone type; required to create a zone, and PVE cannot change it later.
    type: str
    choices: [simple, vlan, qinq, vxlan, evpn, faucet]
  nodes:
    description: Nodes the zone is deployed on (all nodes if not set in PVE).
    type: list
    elements: str
  ipam:
    description: IPAM the zone's subnets are registered in, for example V(pve).
    type: str
  dns:
    description: DNS plugin that registers the guests' names.
    type: str
  reversedns:
    description: DNS plugin for reverse records.
    type: str
  dnszone:
    description: DNS domain of the zone, for example V(acme.lab.internal).
    type: str
  mtu:
    description: MTU of the zone's VNet bridges (EVPN and VXLAN need 50 bytes less than the underlay).
    type: int
  bridge:
    description: Bridge the VLANs are managed on (VLAN and QinQ zones; required there).
    type: str
  bridge_disable_mac_learning:
    description: Disable MAC learning on the bridge ports (VLAN, QinQ, EVPN).
    type: bool
  tag:
    description: Service VLAN tag (QinQ zones; required there).
    type: int
  vlan_protocol:
    description: Outer VLAN protocol of a QinQ zone.
    type: str
    choices: [802.1q, 802.1ad]
  peers:
    description: Underlay addresses of the nodes (VXLAN zones; on PVE 9.x either this or O(fabric)).
    type: list
    elements: str
  fabric:
    description: SDN fabric used as underlay instead of O(peers) (PVE 9.x).
    type: str
  vxlan_port:
    description: UDP port of the VXLAN tunnels (PVE's default is 4789).
    type: int
  controller:
    description: EVPN controller of the zone (EVPN and Faucet zones; required there).
    type: str
  vrf_vxlan:
    description: VNI of the zone's VRF (EVPN zones; required there; unique across zones).
    type: int
  exitnodes:
    description: Nodes that route the zone's traffic out of the EVPN network (EVPN zones).
    type: list
    elements: str
  exitnodes_local_routing:
    description: Let the exit nodes themselves reach the zone's guests.
    type: bool
  exitnodes_primary:
    description: Exit node preferred for outgoing traffic.
    type: str
  advertise_subnets:
    description: Announce the zone's subnets as type-5 routes (EVPN zones).
    type: bool
  disable_arp_nd_suppression:
    description: Turn off ARP and neighbour discovery suppression on the VNets.
    type: bool
  rt_import:
    description: Route targets (V(ASN:ID)) imported into the zone's VRF, for route leaking.
    type: list
    elements: str
  mac:
    description: Anycast gateway MAC of the zone's VNets (EVPN); PVE picks one when not set.
    type: str
  dhcp:
    description: DHCP backend (simple zones).
    type: str
    choices: [dnsmasq]
  dp_id:
    description: Faucet dataplane id.
    type: int
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
- name: An EVPN zone for tenant acme, pending until the run's apply
  homecloud.proxmox.sdn_zone:
    zone: acme
    type: evpn
    controller: evpnctl
    vrf_vxlan: 10003
    mtu: 1450
    exitnodes: [pve1, pve2]
    advertise_subnets: true
    ipam: pve

- name: Remove a zone (its VNets must be gone) and apply at once
  homecloud.proxmox.sdn_zone:
    zone: oldtnt
    state: absent
    apply: true
"""

RETURN = r"""
zone:
  description:
    - The zone as PVE holds it after the task (its pending view, re-read once when the task wrote; as planned in check mode).
    - C(state) is V(applied), V(new) or V(changed) (pending), or V(planned) in check mode. V(null) when absent.
  returned: always
  type: dict
  sample: {zone: acme, type: evpn, controller: evpnctl, vrf_vxlan: 10003, mtu: 1450, mac: 'BC:24:11:4A:EE:AF', state: applied}
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


class SdnZone(SdnObjectModule):
    kind_name = "zone"


def main():
    run_object_module(SdnZone, dict(zone=dict(type="str", required=True)))


if __name__ == "__main__":
    main()
