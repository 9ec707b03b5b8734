# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: tenant_plan
short_description: Plan tenant networks, EVPN zones, VNet ids and VNIs from stable slots
version_added: 0.1.0
description:
  - Turns a list of tenants and a network plan into one EVPN zone per tenant with its VNets,
    subnets, gateways, reserved and guest address ranges, vrf-vxlan and VNet tags - ready
    for the SDN modules - after checking the whole input.
  - Every number comes from a stable slot the administrator gives. The tenant O(_input[].id)
    picks the tenant network (slot O(_input[].id) of size O(network_plan.tenant_prefix) in
    O(network_plan.supernet)), the zone's vrf-vxlan (O(network_plan.vrf_vxlan_base) + id)
    and its VNet tags; the VNet O(_input[].vnets[].id) picks the VNet subnet (slot
    O(_input[].vnets[].id) of size O(network_plan.vnet_prefix) in the tenant network) and the
    tag's last two digits (O(network_plan.vnet_tag_base) + tenant id * 100 + VNet id). So
    adding, removing or reordering tenants or adding a VNet never changes another tenant's
    plan.
  - Everything is validated before anything is planned, and every problem is reported at once,
    one per line, naming the tenant, the field and the rule - PVE's id rules (zone and VNet ids
    2 to 8 characters, C(^[a-z][a-z0-9]*[a-z0-9]$) ignoring case; VNet ids are cluster-wide),
    duplicate tenant names, ids, zone ids and VNet ids, overlapping networks and subnets,
    VNI collisions (VNet tags, vrf-vxlan values, and a vrf-vxlan equal to a VNet tag), VNIs
    outside 1..16777215, networks outside their supernet, tenant or VNet ids beyond the
    slots the address space has, missing fields and wrong types.
  - PVE itself does not check that subnets of different VNets or zones overlap; this filter does.
  - Fields this filter does not know are ignored, so the same tenant list can carry data for
    other roles.
  - IPv4 and IPv6 supernets are accepted; one plan uses one IP version.
  - The zones of the result, RV(_value[].zone), are what M(homecloud.proxmox.tenant_network) takes as O(homecloud.proxmox.tenant_network#module:zones).
  - With O(network_plan.transit), the transit network is planned as one more entry (its own zone, so its own VRF) -
    every tenant gets RV(_value[].transit), its gateway's leg, and the shared services get RV(_value[].hub), the
    hub VM that is the only path between the two (see P(homecloud.proxmox.transit_plan#filter)).
  - O(_input[].route_leaking) (opt-in) makes the tenant's zone import the shared services zone's route target and the
    shared zone import the tenant's (C(rt_import) in RV(_value[].zone), C(<asn>:<vrf-vxlan>) as pve-network's
    EvpnPlugin.pm writes a zone's route target); it needs O(network_plan.asn), the shared services and a non-empty
    O(_input[].services).
positional: network_plan
options:
  _input:
    description: The tenants.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The tenant's name; also its zone id unless O(_input[].zone) is set.
        type: str
        required: true
      id:
        description:
          - The tenant's stable slot, an integer >= 1. Never reuse or change it while the tenant exists.
          - Must be lower than the number of O(network_plan.tenant_prefix) slots in the supernet
            unless O(_input[].network) is set.
        type: int
        required: true
      zone:
        description:
          - The zone id, if the tenant name is not a valid PVE zone id.
        type: str
      network:
        description:
          - An explicit network for the tenant instead of its slot; must lie inside the supernet
            and not overlap any other tenant.
        type: str
      zone_options:
        description:
          - Zone options merged over O(network_plan.zone_defaults) for this tenant (shallow merge);
            an option set to V(null) drops the default. C(-) in names becomes C(_).
          - V(zone), V(type), V(controller), V(vrf_vxlan) and V(vnets) are planned and refused here; so is
            V(rt_import) when O(_input[].route_leaking) is set.
        type: dict
      services:
        description:
          - The shared services (names of C(homecloud_firewall.services)) the tenant may reach; read here only to
            refuse O(_input[].route_leaking) without them (P(homecloud.proxmox.firewall_policy#filter) and
            P(homecloud.proxmox.transit_plan#filter) read the grants).
        type: list
        elements: raw
      route_leaking:
        description:
          - The zones whose routes the tenant's VRF imports; only V(shared) (the shared services zone). The tenant's
            routes keep their own route target, so two leaking tenants never import each other's.
          - Refused without O(network_plan.asn), without O(network_plan.shared_services) and with an empty
            O(_input[].services) (the firewall policy that limits what the tenant reaches).
        type: list
        elements: str
      vnets:
        description: The tenant's VNets.
        type: list
        elements: dict
        suboptions:
          name:
            description: The VNet's name inside the tenant, for example V(web).
            type: str
            required: true
          id:
            description:
              - The VNet's stable slot inside the tenant, 0 to 99.
              - Must be lower than the number of VNet-sized slots in the tenant network.
            type: int
            required: true
          vnet:
            description:
              - The PVE VNet id. Default - the zone id cut to 6 characters followed by the two-digit
                VNet id, for example V(acme01). Set it when two tenants' defaults collide.
            type: str
          prefix:
            description: The prefix length of this VNet's subnet instead of O(network_plan.vnet_prefix).
            type: int
          alias:
            description: The VNet's alias in PVE. Default - the tenant name, a space and the VNet name.
            type: str
      guests:
        description:
          - The tenant's guests (VMs). The plan gives each one its VMID, its address and a MAC; fields it does not
            read (V(size), V(cores), V(memory), V(node), ...) are passed through to RV(_value[].guests).
        type: list
        elements: dict
        suboptions:
          name:
            description:
              - The guest's name, unique in the tenant; also its host name, so PVE's dns-name rule applies (ASCII
                letters, digits, V(-) and V(.), up to 63 characters).
            type: str
            required: true
          id:
            description:
              - The guest's stable slot in the tenant, from O(network_plan.reserved_vmids) to
                O(network_plan.vmids_per_tenant) - 1. Its VMID is the first of the tenant's range plus O(_input[].guests[].id),
                and its default host number is O(_input[].guests[].id). Never reuse or change it while the guest exists.
            type: int
            required: true
          vnet:
            description: The name (or PVE id) of one of this tenant's VNets. Another tenant's VNet is refused.
            type: str
            required: true
          host:
            description:
              - The host number of the guest's address in the VNet subnet instead of O(_input[].guests[].id); the address
                must lie in the VNet's guest range (after the gateway and the reserved hosts, before the broadcast).
            type: int
          vmid:
            description:
              - An explicit VMID instead of the slot's, inside the tenant's range and above the VMIDs kept for its
                infrastructure.
            type: int
  network_plan:
    description: The settings of the plan.
    type: dict
    required: true
    suboptions:
      supernet:
        description: The network tenant networks are carved from, for example V(10.128.0.0/12).
        type: str
        required: true
      tenant_prefix:
        description: The prefix length of a tenant network, for example V(20).
        type: int
        required: true
      vnet_prefix:
        description: The prefix length of a VNet subnet, for example V(24).
        type: int
        required: true
      controller:
        description: The id of the EVPN controller every zone uses.
        type: str
        required: true
      vrf_vxlan_base:
        description: A tenant's zone gets vrf-vxlan O(network_plan.vrf_vxlan_base) + tenant id.
        type: int
        default: 10000
      vnet_tag_base:
        description: A VNet's tag (its VXLAN VNI) is O(network_plan.vnet_tag_base) + tenant id * 100 + VNet id.
        type: int
        default: 100000
      reserved_hosts:
        description:
          - Addresses kept for infrastructure (the tenant gateway VM, the tunnel VM, ...) right after
            the gateway, which is the first host address of every VNet.
        type: int
        default: 8
      zone_defaults:
        description:
          - "Zone options for every tenant, for example V({mtu: 1450, exitnodes: [pve1], advertise_subnets: true, ipam: pve})."
          - C(-) in names becomes C(_).
        type: dict
        default: {}
      vmid_base:
        description:
          - Tenant O(_input[].id) owns the VMIDs O(network_plan.vmid_base) + id * O(network_plan.vmids_per_tenant) and the
            O(network_plan.vmids_per_tenant) - 1 after it, for example 10100-10199 for tenant 1.
        type: int
        default: 10000
      vmids_per_tenant:
        description: The size of each tenant's VMID range.
        type: int
        default: 100
      reserved_vmids:
        description:
          - The first VMIDs of each tenant's range, kept for its infrastructure (the tenant gateway VM, ...);
            guests use the rest.
        type: int
        default: 10
      shared_services:
        description:
          - One more tenant-like entry for the shared services zone, with the same fields as a tenant
            plus its own O(network_plan.shared_services.supernet). It is planned the same way and
            flagged RV(_value[].shared).
          - Its O(network_plan.shared_services.id) defaults to V(0), a slot no tenant can use.
        type: dict
        suboptions:
          supernet:
            description: The supernet its network slot is taken from; default O(network_plan.supernet).
            type: str
          id:
            description: Its stable slot, an integer >= 0.
            type: int
            default: 0
      transit:
        description:
          - The transit network between the tenant gateways and the shared services, planned like a tenant of its
            own - its own zone (VRF), slot O(network_plan.transit.id) of the supernet, one VNet (slot 1 of its network
            unless O(network_plan.transit.vnets) says otherwise) - flagged RV(_value[].kind) V(transit).
          - Needs O(network_plan.shared_services) (the hub VM is their infrastructure slot 0) and O(network_plan.reserved_hosts)
            >= 1 (the hub's addresses are its VNets' first reserved addresses). A tenant's leg is host first guest +
            tenant id - 1 of the transit VNet; a tenant id beyond the VNet's guest range is refused.
          - Absent - no transit network, every plan as without it.
        type: dict
        suboptions:
          name:
            description: Its name, also its zone id unless O(network_plan.transit.zone) is set, for example V(transit).
            type: str
            required: true
          id:
            description: Its stable slot, an integer >= 1 that no tenant will ever take (for example the last, V(255)).
            type: int
            required: true
          hub:
            description: C(node) - the PVE node of the hub VM.
            type: dict
            required: true
          prefix:
            description: The prefix length of the transit VNet, instead of O(network_plan.vnet_prefix).
            type: int
          vnets:
            description: Exactly one VNet (C(name), C(id), C(prefix), ...) instead of the default one.
            type: list
            elements: dict
          zone:
            description: The zone id, if the name is not a valid PVE zone id.
            type: str
          network:
            description: An explicit network instead of its slot.
            type: str
          zone_options:
            description: Zone options merged over O(network_plan.zone_defaults).
            type: dict
      asn:
        description:
          - The BGP ASN of the EVPN route targets (C(<asn>:<vrf-vxlan>)), 1 to 4294967295; required when a tenant has
            O(_input[].route_leaking). Use the EVPN controller's ASN.
        type: int
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Plan the tenants' networks and zones (fails with every problem listed if the input is wrong)
  ansible.builtin.set_fact:
    tenant_plan: "{{ homecloud_tenants | homecloud.proxmox.tenant_plan(homecloud_network_plan) }}"
  vars:
    homecloud_network_plan:
      supernet: 10.128.0.0/12
      tenant_prefix: 20
      vnet_prefix: 24
      controller: evpnctl
      zone_defaults:
        mtu: 1450
        exitnodes: [pve1]
        advertise_subnets: true
        ipam: pve
      shared_services:
        name: shared
        vnets:
          - {name: dns, id: 1}
    homecloud_tenants:
      - name: acme
        id: 3
        vnets:
          - {name: web, id: 1}
          - {name: db, id: 2}
        guests:
          - {name: web1, id: 10, vnet: web, size: small}   # VMID 10310, 10.128.49.10
          - {name: db1, id: 11, vnet: db, host: 50}         # VMID 10311, 10.128.50.50
      - name: initech-labs
        id: 4
        zone: initech
        vnets:
          - {name: web, id: 1, prefix: 23}

# tenant_plan[1] (acme; tenant_plan[0] is the shared services, id 0):
#   network: 10.128.48.0/20
#   zone: {zone: acme, type: evpn, controller: evpnctl, vrf_vxlan: 10003, mtu: 1450, ...,
#          vnets: [{vnet: acme01, tag: 100301, alias: acme web,
#                   subnets: [{subnet: 10.128.49.0/24, gateway: 10.128.49.1, snat: false}]}, ...]}
#   vnets: [{name: web, id: 1, vnet: acme01, tag: 100301, cidr: 10.128.49.0/24, gateway: 10.128.49.1,
#            reserved: [10.128.49.2, ..., 10.128.49.9], first_guest: 10.128.49.10,
#            last_guest: 10.128.49.254, guest_count: 245}, ...]

- name: Converge every tenant's zone, VNets and subnets with one SDN apply
  homecloud.proxmox.tenant_network:
    zones: "{{ tenant_plan | map(attribute='zone') }}"

- name: Show the plan to the administrator before anything is applied
  ansible.builtin.debug:
    msg: "{{ item.tenant }}: zone {{ item.zone.zone }} {{ item.network }} - {{ item.vnets | map(attribute='cidr') | join(', ') }}"
  loop: "{{ tenant_plan }}"
"""

RETURN = r"""
_value:
  description: One entry per tenant (and the shared services and the transit network), sorted by id.
  type: list
  elements: dict
  contains:
    tenant:
      description: The tenant's name.
      type: str
      sample: acme
    id:
      description: The tenant's id.
      type: int
      sample: 3
    kind:
      description:
        - V(tenant), V(shared_services) or V(transit). Use it to find the shared services entry.
      type: str
      sample: tenant
    shared:
      description:
        - Whether this entry is not a tenant (the shared services or the transit network), so what acts per tenant
          (guests, gateways, backups, users) skips it. RV(_value[].kind) tells the two apart.
      type: bool
      sample: false
    transit:
      description:
        - Tenants, with a transit network - its gateway's transit leg - C(vnet), C(cidr), C(address) (host first guest
          + tenant id - 1, with the prefix), C(hub) (the hub's transit address).
      type: dict
      sample: {vnet: transi01, cidr: 10.143.241.0/24, address: 10.143.241.10/24, hub: 10.143.241.2}
    hub:
      description:
        - The shared services, with a transit network - the hub VM - C(vmid), C(name) (V(transit-hub)), C(node),
          C(transit) (C(vnet), C(address), C(mac)) and C(services), one leg per shared services VNet (C(vnet),
          C(address), C(mac)).
      type: dict
    route_leaking:
      description: Tenants - the zones whose routes its VRF imports (O(_input[].route_leaking)); empty by default.
      type: list
      elements: str
    network:
      description: The tenant network.
      type: str
      sample: 10.128.48.0/20
    zone:
      description:
        - The EVPN zone with its VNets and subnets, option names with underscores, ready for the SDN modules -
          C(zone), C(type) (always V(evpn)), C(controller), C(vrf_vxlan), the merged zone options, and C(vnets),
          each with C(vnet), C(tag), C(alias) and C(subnets) (C(subnet), C(gateway), C(snat) V(false)).
      type: dict
      sample:
        zone: acme
        type: evpn
        controller: evpnctl
        vrf_vxlan: 10003
        mtu: 1450
        exitnodes: [pve1]
        advertise_subnets: true
        ipam: pve
        vnets:
          - vnet: acme01
            tag: 100301
            alias: acme web
            subnets:
              - subnet: 10.128.49.0/24
                gateway: 10.128.49.1
                snat: false
    vnets:
      description: The VNets' address plan, sorted by VNet id.
      type: list
      elements: dict
      contains:
        name:
          description: The VNet's name inside the tenant.
          type: str
          sample: web
        id:
          description: The VNet's slot.
          type: int
          sample: 1
        vnet:
          description: The PVE VNet id.
          type: str
          sample: acme01
        tag:
          description: The VNet's VXLAN VNI.
          type: int
          sample: 100301
        cidr:
          description: The VNet's subnet.
          type: str
          sample: 10.128.49.0/24
        gateway:
          description: The gateway address, the subnet's first host address.
          type: str
          sample: 10.128.49.1
        reserved:
          description: The addresses after the gateway kept for infrastructure.
          type: list
          elements: str
          sample: [10.128.49.2, 10.128.49.3, 10.128.49.4, 10.128.49.5, 10.128.49.6, 10.128.49.7, 10.128.49.8, 10.128.49.9]
        first_guest:
          description: The first address for guests.
          type: str
          sample: 10.128.49.10
        last_guest:
          description: The last address for guests (IPv4 - before the broadcast address).
          type: str
          sample: 10.128.49.254
        guest_count:
          description: How many guest addresses there are.
          type: int
          sample: 245
    vmids:
      description: The tenant's VMID range - V(first), V(last), and V(guests_first), the first VMID a guest may have.
      type: dict
      sample: {first: 10300, last: 10399, guests_first: 10310}
    guests:
      description:
        - The guests, sorted by VMID, each with the fields it was declared with (passed through) and the planned
          V(name), V(id), V(vmid), V(vnet) (the PVE VNet id), V(vnet_name), V(ip), V(cidr) (the address with the
          VNet's prefix length, as cloud-init takes it), V(gateway) and V(mac).
        - V(mac) is the planned MAC of the guest's first NIC - locally administered, C(02) followed by the VMID in
          four bytes and the NIC index - so it is unique in the cluster, stays the same when the guest is
          re-created, and PVE's IPAM can hold the address for it before the guest exists.
      type: list
      elements: dict
      sample:
        - {name: web1, id: 10, vmid: 10310, vnet: acme01, vnet_name: web, ip: 10.128.49.10, cidr: 10.128.49.10/24,
           gateway: 10.128.49.1, mac: "02:00:00:28:46:00", size: small}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import PlanError, plan_tenants


def tenant_plan(tenants, network_plan):
    """The filter: the plan, or AnsibleFilterError with every problem on its own line."""
    try:
        return plan_tenants(tenants, network_plan)
    except PlanError as error:
        raise AnsibleFilterError("homecloud.proxmox.tenant_plan: %d problem(s) in the tenants or the network plan:\n%s"
                                 % (len(error.errors), "\n".join(error.errors)))


class FilterModule:
    """homecloud.proxmox filters."""

    def filters(self):
        return {"tenant_plan": tenant_plan}
