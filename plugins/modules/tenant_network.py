#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tenant_network
short_description: Converge tenants' SDN networks (zone, VNets, subnets) declaratively, with one apply
version_added: 0.1.0
description:
  - Declares, in one task, whole tenant networks - each an SDN zone with its VNets and their subnets - and
    optionally the EVPN controller they use; then writes what differs under one lock (PVE 9.x) and applies
    the SDN configuration once.
  - Reads each object collection once (C(?pending=1)); a run with nothing to change makes no write and no apply.
  - The whole request is checked before any write - ids against PVE's rules, subnets in CIDR form, gateways
    inside their subnets, duplicate ids, overlapping subnets (PVE does not check this), VNIs (VNet tags and
    C(vrf-vxlan)) used twice, here or by VNets and zones outside the request.
  - Only the zones named in O(zones) (and the controllers in O(controllers)) are touched; with O(purge=true),
    VNets and subnets of those zones that are not declared are removed. Objects of other zones are never written.
  - Use the P(homecloud.proxmox.tenant_plan#filter) filter to compute O(zones) from an inventory of tenants.
options:
  zones:
    description: The zones to converge, each with its VNets and their subnets.
    type: list
    elements: dict
    required: true
    suboptions:
      zone:
        description: Zone id (2 to 8 letters and digits, starting with a letter).
        type: str
        required: true
      type:
        description: Zone type; required when the zone does not exist yet.
        type: str
        choices: [simple, vlan, qinq, vxlan, evpn, faucet]
      nodes:
        description: Nodes the zone is deployed on.
        type: list
        elements: str
      ipam:
        description: IPAM of the zone, for example V(pve).
        type: str
      dns:
        description: DNS plugin.
        type: str
      reversedns:
        description: Reverse DNS plugin.
        type: str
      dnszone:
        description: DNS domain of the zone.
        type: str
      mtu:
        description: MTU of the VNet bridges.
        type: int
      bridge:
        description: Bridge of VLAN and QinQ zones.
        type: str
      bridge_disable_mac_learning:
        description: Disable MAC learning.
        type: bool
      tag:
        description: Service VLAN of QinQ zones.
        type: int
      vlan_protocol:
        description: Outer VLAN protocol of QinQ zones.
        type: str
        choices: [802.1q, 802.1ad]
      peers:
        description: Underlay addresses (VXLAN zones).
        type: list
        elements: str
      fabric:
        description: SDN fabric (PVE 9.x).
        type: str
      vxlan_port:
        description: VXLAN UDP port.
        type: int
      controller:
        description: EVPN controller (EVPN zones).
        type: str
      vrf_vxlan:
        description: VNI of the zone's VRF (EVPN zones).
        type: int
      exitnodes:
        description: Exit nodes (EVPN zones).
        type: list
        elements: str
      exitnodes_local_routing:
        description: Let exit nodes reach the zone's guests.
        type: bool
      exitnodes_primary:
        description: Preferred exit node.
        type: str
      advertise_subnets:
        description: Announce subnets as type-5 routes.
        type: bool
      disable_arp_nd_suppression:
        description: Turn off ARP/ND suppression.
        type: bool
      rt_import:
        description: Route targets imported into the VRF.
        type: list
        elements: str
      mac:
        description: Anycast gateway MAC.
        type: str
      dhcp:
        description: DHCP backend (simple zones).
        type: str
        choices: [dnsmasq]
      dp_id:
        description: Faucet dataplane id.
        type: int
      vnets:
        description: The zone's VNets.
        type: list
        elements: dict
        default: []
        suboptions:
          vnet:
            description: VNet id (cluster-wide, 2 to 8 letters and digits).
            type: str
            required: true
          tag:
            description: VXLAN VNI or VLAN tag.
            type: int
          alias:
            description: Alias of the VNet.
            type: str
          vlanaware:
            description: Let VLAN-tagged frames through.
            type: bool
          isolate_ports:
            description: Isolate the guest ports from each other.
            type: bool
          subnets:
            description: The VNet's subnets.
            type: list
            elements: dict
            default: []
            suboptions:
              subnet:
                description: CIDR without host bits.
                type: str
                required: true
              gateway:
                description: Gateway address inside the subnet.
                type: str
              snat:
                description: Masquerade traffic leaving the zone.
                type: bool
              dnszoneprefix:
                description: DNS zone prefix.
                type: str
              dhcp_range:
                description: DHCP ranges.
                type: list
                elements: dict
                suboptions:
                  start_address:
                    description: First address.
                    type: str
                    required: true
                  end_address:
                    description: Last address.
                    type: str
                    required: true
              dhcp_dns_server:
                description: DNS server handed out by DHCP.
                type: str
  controllers:
    description:
      - SDN controllers to converge in the same transaction, typically the cluster's EVPN controller.
      - Never removed by this module; use M(homecloud.proxmox.sdn_controller) for that.
    type: list
    elements: dict
    default: []
    suboptions:
      controller:
        description: Controller id.
        type: str
        required: true
      type:
        description: Controller type; required when it does not exist yet.
        type: str
        choices: [evpn, bgp, isis, faucet]
      asn:
        description: Autonomous system number.
        type: int
      peers:
        description: Underlay addresses of the peers.
        type: list
        elements: str
      fabric:
        description: SDN fabric (PVE 9.x).
        type: str
      node:
        description: Node of a BGP or IS-IS controller.
        type: str
      ebgp:
        description: External BGP.
        type: bool
      ebgp_multihop:
        description: eBGP multihop.
        type: int
      loopback:
        description: Router id interface.
        type: str
      bgp_multipath_as_path_relax:
        description: Multipath over different AS paths.
        type: bool
      isis_domain:
        description: IS-IS domain.
        type: str
      isis_net:
        description: IS-IS NET.
        type: str
      isis_ifaces:
        description: IS-IS interfaces.
        type: list
        elements: str
  state:
    description:
      - V(present) converges the zones as declared.
      - V(absent) removes the zones named in O(zones) with all their VNets and subnets (other options are ignored).
    type: str
    choices: [present, absent]
    default: present
  purge:
    description: Remove VNets and subnets of the declared zones that are not declared (only with O(state=present)).
    type: bool
    default: false
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.sdn
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Converge every tenant's network and the EVPN controller, then apply once
  homecloud.proxmox.tenant_network:
    controllers:
      - controller: evpnctl
        type: evpn
        asn: 65000
        peers: "{{ groups['pve_nodes'] | map('extract', hostvars, 'underlay_address') | list }}"
    zones: "{{ homecloud_tenants | homecloud.proxmox.tenant_plan(homecloud_network_plan) | map(attribute='zone') | list }}"
    purge: true
    apply: true

- name: One tenant, written by hand
  homecloud.proxmox.tenant_network:
    zones:
      - zone: acme
        type: evpn
        controller: evpnctl
        vrf_vxlan: 10003
        vnets:
          - vnet: acme01
            tag: 100301
            subnets:
              - subnet: 10.128.49.0/24
                gateway: 10.128.49.1
    apply: true

- name: Remove tenant acme's network
  homecloud.proxmox.tenant_network:
    zones:
      - zone: acme
    state: absent
    apply: true
"""

RETURN = r"""
sdn_changes:
  description: The objects this task changed (or would change), as V(kind/id) (subnets as V(subnet/<vnet>/<cidr>)).
  returned: always
  type: list
  elements: str
  sample: [zone/acme, vnet/acme01, subnet/acme01/10.128.49.0/24]
pending:
  description: Objects with pending changes seen before the task wrote, as V(kind/id).
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
"""

import ipaddress

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import ProxmoxModule, create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn import (
    TRANSACTION_SPEC,
    SdnPlan,
    SdnReader,
    check_id,
    cidr_of_subnet_id,
    converge,
    option_spec,
    options_of,
    subnet_cidr,
    subnet_id,
    subnet_label,
)

# VNIs share one space across VXLAN and EVPN zones (pve-network Zones/VxlanPlugin.pm vnet_update_hook).
VXLAN_TYPES = ("vxlan", "evpn")


class TenantNetwork(ProxmoxModule):

    def run(self):
        params = self.module.params
        errors = self.check_request()
        reader = SdnReader(self.client)
        plan = SdnPlan(reader)
        if not errors:
            for controller in params["controllers"]:
                plan.present("controller", controller["controller"], options_of("controller", controller))
            for zone in params["zones"]:
                if params["state"] == "present":
                    self.declare_zone(plan, reader, zone)
                else:
                    self.remove_zone(plan, reader, zone["zone"])
            errors = self.check_against_cluster(reader)
        plan.errors.extend(errors)
        converge(self, plan, apply=params["apply"], apply_timeout=params["apply_timeout"],
                 lock_token=params["lock_token"], allow_foreign_pending=params["allow_foreign_pending"])

    # --- the plan ---------------------------------------------------------------------------

    def declare_zone(self, plan, reader, zone):
        plan.present("zone", zone["zone"], options_of("zone", zone))
        declared_vnets = set()
        for vnet in zone["vnets"]:
            declared_vnets.add(vnet["vnet"])
            is_new = reader.find("vnet", vnet["vnet"]) is None
            plan.present("vnet", vnet["vnet"], dict(options_of("vnet", vnet), zone=zone["zone"]))
            declared = set()
            for subnet in vnet["subnets"]:
                cidr = subnet_cidr(subnet["subnet"], "")[0]
                declared.add(cidr)
                plan.present("subnet", subnet_id(zone["zone"], cidr), options_of("subnet", subnet), parent=vnet["vnet"],
                             label=subnet_label(vnet["vnet"], cidr), known_absent=is_new)
            if self.module.params["purge"] and not is_new:
                self.remove_subnets(plan, reader, vnet["vnet"], keep=declared)
        if self.module.params["purge"]:
            for vnet_id in self.vnets_of_zone(reader, zone["zone"]):
                if vnet_id not in declared_vnets:
                    self.remove_subnets(plan, reader, vnet_id)
                    plan.absent("vnet", vnet_id)

    def remove_zone(self, plan, reader, zone_id):
        for vnet_id in self.vnets_of_zone(reader, zone_id):
            self.remove_subnets(plan, reader, vnet_id)
            plan.absent("vnet", vnet_id)
        plan.absent("zone", zone_id)

    @staticmethod
    def vnets_of_zone(reader, zone_id):
        return sorted(vnet.id for vnet in reader.objects("vnet").values() if vnet.exists and vnet.options.get("zone") == zone_id)

    @staticmethod
    def remove_subnets(plan, reader, vnet_id, keep=()):
        for subnet in reader.objects("subnet", parent=vnet_id).values():
            cidr = cidr_of_subnet_id(subnet.id)
            if subnet.exists and cidr not in keep:
                plan.absent("subnet", subnet.id, parent=vnet_id, label=subnet_label(vnet_id, cidr))

    # --- checks before any write -------------------------------------------------------------

    def check_request(self):
        """Errors in the request itself, each naming the object and the field."""
        params = self.module.params
        errors = []
        seen = {}

        def once(what, value, where):
            if value in seen.setdefault(what, {}):
                errors.append("{0}: {1} '{2}' is also used by {3}".format(where, what, value, seen[what][value]))
            seen[what][value] = where

        for index, controller in enumerate(params["controllers"]):
            where = "controllers[{0}]".format(index)
            errors.append(check_id("controller", controller["controller"], where))
            once("controller id", controller["controller"], where)
        networks = []
        for zone_index, zone in enumerate(params["zones"]):
            where = "zones[{0}] ({1})".format(zone_index, zone["zone"])
            errors.append(check_id("zone", zone["zone"], where))
            once("zone id", zone["zone"], where)
            if zone.get("vrf_vxlan") is not None:
                once("VNI", zone["vrf_vxlan"], where + ".vrf_vxlan")
            for vnet_index, vnet in enumerate(zone["vnets"]):
                vnet_where = "{0}.vnets[{1}] ({2})".format(where, vnet_index, vnet["vnet"])
                errors.append(check_id("vnet", vnet["vnet"], vnet_where))
                once("vnet id", vnet["vnet"], vnet_where)
                if vnet.get("tag") is not None and zone.get("type") in VXLAN_TYPES:
                    once("VNI", vnet["tag"], vnet_where + ".tag")
                for subnet_index, subnet in enumerate(vnet["subnets"]):
                    subnet_where = "{0}.subnets[{1}]".format(vnet_where, subnet_index)
                    cidr, error = subnet_cidr(subnet["subnet"], subnet_where)
                    errors.append(error)
                    if cidr:
                        network = ipaddress.ip_network(cidr)
                        errors.extend("{0}: subnet {1} overlaps {2} of {3}".format(subnet_where, cidr, other, other_where)
                                      for other, other_where in networks if other.overlaps(network))
                        networks.append((network, subnet_where))
                        errors.append(self.check_gateway(subnet, network, subnet_where))
        return [error for error in errors if error]

    @staticmethod
    def check_gateway(subnet, network, where):
        """pve-network SubnetPlugin.pm: the gateway must be inside the subnet."""
        if not subnet.get("gateway"):
            return None
        try:
            inside = ipaddress.ip_address(u"{0}".format(subnet["gateway"])) in network
        except ValueError:
            return "{0}: gateway '{1}' is not an IP address".format(where, subnet["gateway"])
        return None if inside else "{0}: gateway {1} is not in subnet {2}".format(where, subnet["gateway"], network)

    def check_against_cluster(self, reader):
        """VNIs the request uses that zones and VNets outside it already hold (PVE would refuse mid-way)."""
        if self.module.params["state"] != "present":
            return []
        declared_zones = dict((zone["zone"], zone) for zone in self.module.params["zones"])
        declared_vnets = set(vnet["vnet"] for zone in declared_zones.values() for vnet in zone["vnets"])
        held = {}
        for zone in reader.objects("zone").values():
            if zone.exists and zone.id not in declared_zones and zone.options.get("vrf_vxlan") is not None:
                held[zone.options["vrf_vxlan"]] = "zone {0} (vrf_vxlan)".format(zone.id)
        zone_types = dict((zone.id, zone.options.get("type")) for zone in reader.objects("zone").values())
        for vnet in reader.objects("vnet").values():
            if vnet.exists and vnet.id not in declared_vnets and vnet.options.get("tag") is not None \
                    and zone_types.get(vnet.options.get("zone")) in VXLAN_TYPES:
                held[vnet.options["tag"]] = "vnet {0} of zone {1}".format(vnet.id, vnet.options.get("zone"))
        errors = []
        for zone in declared_zones.values():
            if zone.get("vrf_vxlan") in held:
                errors.append("zone {0}: vrf_vxlan {1} is already used by {2}".format(zone["zone"], zone["vrf_vxlan"], held[zone["vrf_vxlan"]]))
            for vnet in zone["vnets"]:
                if vnet.get("tag") in held and (zone.get("type") or zone_types.get(zone["zone"])) in VXLAN_TYPES:
                    errors.append("vnet {0}: tag {1} is already used by {2}".format(vnet["vnet"], vnet["tag"], held[vnet["tag"]]))
        return errors


def main():
    subnet_options = option_spec("subnet")
    subnet_options["subnet"] = dict(type="str", required=True)
    vnet_options = option_spec("vnet", skip=("zone",))
    vnet_options.update(vnet=dict(type="str", required=True),
                        subnets=dict(type="list", elements="dict", default=[], options=subnet_options))
    zone_options = option_spec("zone")
    zone_options.update(zone=dict(type="str", required=True),
                        vnets=dict(type="list", elements="dict", default=[], options=vnet_options))
    controller_options = option_spec("controller")
    controller_options["controller"] = dict(type="str", required=True)
    spec = dict(
        zones=dict(type="list", elements="dict", required=True, options=zone_options),
        controllers=dict(type="list", elements="dict", default=[], options=controller_options),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        purge=dict(type="bool", default=False),
    )
    spec.update(TRANSACTION_SPEC)
    module = create_module(spec, supports_check_mode=True)
    TenantNetwork(module).execute()


if __name__ == "__main__":
    main()
