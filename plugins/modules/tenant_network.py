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
      # BEGIN sdn options zone zones[]
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
        description: Underlay addresses of the nodes (VXLAN zones; on PVE 9.x either this or O(zones[].fabric)).
        type: list
        elements: str
      fabric:
        description: SDN fabric used as underlay instead of O(zones[].peers) (PVE 9.x).
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
          # BEGIN sdn options vnet zones[].vnets[]
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
              # BEGIN sdn options subnet zones[].vnets[].subnets[]
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
      # BEGIN sdn options controller controllers[]
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
          - On PVE 9.x either this or O(controllers[].fabric).
        type: list
        elements: str
      fabric:
        description: SDN fabric that provides the underlay instead of O(controllers[].peers) (PVE 9.x, EVPN).
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
zones:
  description:
    - Each zone of O(zones) as PVE holds it after the task (re-read once per collection when the task wrote; as planned
      in check mode), with its declared VNets and their subnets under C(vnets) and C(subnets).
    - C(state) is V(applied), V(new) or V(changed) (pending), V(planned) in check mode, or V(absent).
  returned: always
  type: list
  elements: dict
  sample:
    - zone: acme
      type: evpn
      controller: evpnctl
      vrf_vxlan: 10003
      mac: BC:24:11:4A:EE:AF
      state: applied
      vnets:
        - {vnet: acme01, zone: acme, tag: 100301, state: applied,
           subnets: [{subnet: 10.128.49.0/24, vnet: acme01, zone: acme, gateway: 10.128.49.1, state: applied}]}
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

from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn import (
    TRANSACTION_SPEC,
    ChangeSet,
    SdnReader,
    cidr_of_subnet_id,
    object_ref,
    option_spec,
    options_of,
    subnet_id,
    subnet_name,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn_module import SdnModule
from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn_rules import (
    VNI_RULE,
    gateway_error,
    id_error,
    overlap_errors,
    parse_subnet,
    repeat_errors,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.base import create_module

# VNIs share one space across VXLAN and EVPN zones (pve-network Zones/VxlanPlugin.pm vnet_update_hook).
VXLAN_TYPES = ("vxlan", "evpn")


class TenantNetwork(SdnModule):

    def run(self):
        params = self.module.params
        errors = self.check_request()
        reader = SdnReader(self.client)
        changes = ChangeSet(reader)
        if not errors:
            errors = self.check_against_cluster(reader)
        if not errors:
            if params["state"] == "present":
                # Only a run that converges zones converges controllers: removing a tenant
                # writes nothing but that tenant's zone, VNets and subnets.
                for controller in params["controllers"]:
                    changes.present("controller", controller["controller"], options_of("controller", controller))
            for zone in params["zones"]:
                if params["state"] == "present":
                    self.declare_zone(changes, reader, zone)
                else:
                    self.remove_zone(changes, reader, zone["zone"])
        changes.errors.extend(errors)
        after = self.converge(changes)
        self.result["zones"] = [self.zone_result(zone, after) for zone in params["zones"]]

    @staticmethod
    def zone_result(zone, after):
        """A declared zone as PVE holds it after the run, with its VNets and their subnets."""
        found = after.get(object_ref("zone", zone["zone"]))
        if found is None:
            return dict(zone=zone["zone"], state="absent", vnets=[])
        vnets = []
        for ref in sorted(after):
            vnet = after[ref]
            if ref.startswith("vnet/") and vnet is not None and vnet.get("zone") == zone["zone"]:
                prefix = "subnet/{0}/".format(ref[len("vnet/"):])
                subnets = [after[key] for key in sorted(after) if key.startswith(prefix) and after[key] is not None]
                vnets.append(dict(vnet, subnets=subnets))
        return dict(found, vnets=vnets)

    # --- the changes ---------------------------------------------------------------------------

    def declare_zone(self, changes, reader, zone):
        changes.present("zone", zone["zone"], options_of("zone", zone))
        declared_vnets = set()
        for vnet in zone["vnets"]:
            declared_vnets.add(vnet["vnet"])
            is_new = reader.find("vnet", vnet["vnet"]) is None
            changes.present("vnet", vnet["vnet"], dict(options_of("vnet", vnet), zone=zone["zone"]))
            declared = set()
            for subnet in vnet["subnets"]:
                cidr = str(parse_subnet(subnet["subnet"], "")[0])
                declared.add(cidr)
                changes.present("subnet", subnet_id(zone["zone"], cidr), options_of("subnet", subnet), parent=vnet["vnet"],
                                name=subnet_name(vnet["vnet"], cidr), known_absent=is_new)
            if self.module.params["purge"] and not is_new:
                self.remove_subnets(changes, reader, vnet["vnet"], keep=declared)
        if self.module.params["purge"]:
            for vnet_id in self.vnets_of_zone(reader, zone["zone"]):
                if vnet_id not in declared_vnets:
                    self.remove_subnets(changes, reader, vnet_id)
                    changes.absent("vnet", vnet_id)

    def remove_zone(self, changes, reader, zone_id):
        for vnet_id in self.vnets_of_zone(reader, zone_id):
            self.remove_subnets(changes, reader, vnet_id)
            changes.absent("vnet", vnet_id)
        changes.absent("zone", zone_id)

    @staticmethod
    def vnets_of_zone(reader, zone_id):
        return sorted(vnet.id for vnet in reader.objects("vnet").values() if vnet.exists and vnet.options.get("zone") == zone_id)

    @staticmethod
    def remove_subnets(changes, reader, vnet_id, keep=()):
        for subnet in reader.objects("subnet", parent=vnet_id).values():
            cidr = cidr_of_subnet_id(subnet.id)
            if subnet.exists and cidr not in keep:
                changes.absent("subnet", subnet.id, parent=vnet_id, name=subnet_name(vnet_id, cidr))

    # --- checks before any write -------------------------------------------------------------

    def check_request(self):
        """Errors in the request itself, each naming the object and the field."""
        params = self.module.params
        errors = []
        ids = {"controller": [], "zone": [], "vnet": []}
        vnis = []
        networks = []
        for index, controller in enumerate(params["controllers"]):
            where = "controllers[{0}]".format(index)
            errors.append(id_error("controller", controller["controller"], where))
            ids["controller"].append((controller["controller"], where))
        for zone_index, zone in enumerate(params["zones"]):
            where = "zones[{0}] ({1!r})".format(zone_index, zone["zone"])
            errors.append(id_error("zone", zone["zone"], where))
            ids["zone"].append((zone["zone"], where))
            if zone.get("vrf_vxlan") is not None:
                vnis.append((zone["vrf_vxlan"], where + ".vrf_vxlan"))
            for vnet_index, vnet in enumerate(zone["vnets"]):
                vnet_where = "{0}.vnets[{1}] ({2!r})".format(where, vnet_index, vnet["vnet"])
                errors.append(id_error("vnet", vnet["vnet"], vnet_where))
                ids["vnet"].append((vnet["vnet"], vnet_where))
                if vnet.get("tag") is not None and zone.get("type") in VXLAN_TYPES:
                    vnis.append((vnet["tag"], vnet_where + ".tag"))
                for subnet_index, subnet in enumerate(vnet["subnets"]):
                    subnet_where = "{0}.subnets[{1}]".format(vnet_where, subnet_index)
                    network, error = parse_subnet(subnet["subnet"], subnet_where)
                    errors.append(error)
                    if network is not None:
                        networks.append((network, subnet_where, "subnet"))
                        if subnet.get("gateway"):
                            errors.append(gateway_error(subnet["gateway"], network, subnet_where))
        for kind_name, claims in ids.items():
            errors.extend(repeat_errors(claims, "a {0} id is declared once".format(kind_name)))
        errors.extend(repeat_errors(vnis, VNI_RULE))
        errors.extend(overlap_errors(networks))
        return [error for error in errors if error]

    def check_against_cluster(self, reader):
        """What the cluster already holds that the request would clash with: a VNet of another
        zone (it would be moved into this one), and VNIs held by zones and VNets outside it."""
        declared_zones = dict((zone["zone"], zone) for zone in self.module.params["zones"])
        existing_vnets = dict((vnet.id, vnet) for vnet in reader.objects("vnet").values() if vnet.exists)
        errors = []
        for zone in declared_zones.values():
            for vnet in zone["vnets"]:
                owner = existing_vnets.get(vnet["vnet"])
                if owner is not None and owner.options.get("zone") != zone["zone"]:
                    errors.append("zone {0}: vnet {1} belongs to zone {2}; a run for zone {0} never writes another zone's "
                                  "objects (choose another VNet id, or remove it from zone {2} first)".format(
                                      zone["zone"], vnet["vnet"], owner.options.get("zone")))
        if self.module.params["state"] != "present":
            return errors
        declared_vnets = set(vnet["vnet"] for zone in declared_zones.values() for vnet in zone["vnets"])
        zone_types = dict((zone.id, zone.options.get("type")) for zone in reader.objects("zone").values())
        held = {}
        for zone in reader.objects("zone").values():
            if zone.exists and zone.id not in declared_zones and zone.options.get("vrf_vxlan") is not None:
                held[zone.options["vrf_vxlan"]] = "zone {0} (vrf_vxlan)".format(zone.id)
        for vnet in existing_vnets.values():
            if vnet.id not in declared_vnets and vnet.options.get("tag") is not None \
                    and zone_types.get(vnet.options.get("zone")) in VXLAN_TYPES:
                held[vnet.options["tag"]] = "vnet {0} of zone {1}".format(vnet.id, vnet.options.get("zone"))
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
