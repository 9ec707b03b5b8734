# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: transit_plan
short_description: Plan the transit hub between the tenants and the shared services, and the routes of both sides
version_added: 0.1.0
description:
  - Turns the tenant plans of P(homecloud.proxmox.tenant_plan#filter) (with C(homecloud_network_plan.transit)), the
    tenants' C(services) grants and C(homecloud_firewall.services) into the hub VM, the variables of the
    P(homecloud.proxmox.transit_hub#role) role, each tenant gateway's transit leg and the shared services' routes back.
  - The transit network is its own EVPN zone (its own VRF) - the only path between a tenant gateway's transit leg and
    the shared services' VNets is the hub VM, VMID C(vmid_base + shared services id * vmids_per_tenant), named
    C(transit-hub), with NIC 0 on the transit VNet and NIC 1.. on each shared services VNet, each at its VNet's first
    reserved address.
  - "The hub allows exactly: from a tenant's networks (its network and, given the gateway plans, its VPN pool) to each
    granted service's addresses on the granted ports (C(dns) always). A tenant's C(services) item is a service name
    (all its ports) or C({name, ports}) with a subset of the service's ports."
  - Without C(homecloud_network_plan.transit) the result has C(enabled=false) and empty parts (C(route_leaking)
    still lists the tenants that leak routes).
  - The whole input is checked first; every problem is reported at once.
positional: tenants, firewall_settings, gateways
options:
  _input:
    description: The tenant plans (the output of P(homecloud.proxmox.tenant_plan#filter)).
    type: list
    elements: dict
    required: true
  tenants:
    description: The inventory's tenants (C(homecloud_tenants)); their C(services) are read.
    type: list
    elements: dict
    required: true
  firewall_settings:
    description: C(homecloud_firewall); its C(services) (C(addresses), C(ports)) are read.
    type: dict
  gateways:
    description: The output of P(homecloud.proxmox.gateway_plan#filter); the tenants' VPN pools are routed and allowed
      like their networks. Without it, only the tenants' networks are.
    type: list
    elements: dict
"""

EXAMPLES = r"""
- name: The hub VM and the transit_hub role's variables
  ansible.builtin.set_fact:
    transit: >-
      {{ homecloud_tenants | homecloud.proxmox.tenant_plan(homecloud_network_plan)
         | homecloud.proxmox.transit_plan(homecloud_tenants, homecloud_firewall, gateway_plans) }}

- name: Configure the hub
  ansible.builtin.include_role:
    name: homecloud.proxmox.transit_hub
  vars:
    transit_hub_legs: "{{ transit.hub.legs }}"
    transit_hub_routes: "{{ transit.hub.routes }}"
    transit_hub_rules: "{{ transit.hub.rules }}"
  when: transit.enabled

# The demo inventory (transit id 255 of 10.128.0.0/12 in /20 slots is 10.143.240.0/20, its VNet 10.143.241.0/24):
# hub: {vmid: 10000, name: transit-hub, node: pve1,
#       legs: {transit: {mac: "02:00:00:27:10:00", address: 10.143.241.2/24},
#              services: [{mac: "02:00:00:27:10:01", address: 10.128.1.2/24, vnet: shared01}]},
#       routes: [{network: 10.128.16.0/20, via: 10.143.241.10, tenant: acme}, {network: 10.250.1.0/24, ...}, ...]}
# gateways: {acme: {address: 10.143.241.10/24, gateway: 10.143.241.2, routes: [10.128.1.0/24]}, globex: {...}}
"""

RETURN = r"""
_value:
  description: The transit plan.
  type: dict
  contains:
    enabled:
      description: Whether the network plan has a transit network.
      type: bool
    zone:
      description: The transit network's EVPN zone (null when disabled).
      type: str
    vnet:
      description: The transit VNet's PVE id (null when disabled).
      type: str
    cidr:
      description: The transit VNet's subnet (null when disabled).
      type: str
    hub:
      description: >-
        The hub VM - C(vmid), C(name), C(node), C(nics) (C(bridge), C(macaddr), C(firewall)) and C(ipconfig) (C(ip),
        C(gw) on the first services leg only: its VNet's gateway) in the shapes of M(homecloud.proxmox.guest);
        C(legs) (C(transit) C(mac), C(address); C(services) C(mac), C(address), C(vnet)), C(routes) (C(network),
        C(via) - the tenant gateway's transit address, C(tenant)), C(rules) (C(tenant), C(sources), C(service),
        C(addresses), C(proto), C(dport), C(comment)) - the transit_hub role's C(transit_hub_legs),
        C(transit_hub_routes), C(transit_hub_rules) - and C(tenants) (C(name), C(sources)). Empty when disabled.
      type: dict
    gateways:
      description: Per tenant its gateway's transit leg - C(address), C(gateway) (the hub's transit address) and
        C(routes) (the shared services' networks) - merged into the tenant_gateway role's C(tenant_gateway_transit).
      type: dict
    services_routes:
      description: The routes the shared services' VMs need back to the tenants - C(network), C(via) (the hub's
        address in the VNet), C(vnet), C(tenant).
      type: list
      elements: dict
    route_leaking:
      description: Per tenant with C(route_leaking) the zones it imports routes from (its zone's C(rt_import)).
      type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import PlanError
from ansible_collections.homecloud.proxmox.plugins.module_utils.transit import plan_transit


def transit_plan(tenant_plans, tenants, firewall_settings=None, gateways=None):
    """The filter: the plan, or AnsibleFilterError with every problem on its own line."""
    try:
        return plan_transit(tenant_plans, tenants, firewall_settings, gateways)
    except PlanError as error:
        raise AnsibleFilterError("homecloud.proxmox.transit_plan: %d problem(s) in the transit settings:\n%s"
                                 % (len(error.errors), "\n".join(error.errors)))


class FilterModule:
    """homecloud.proxmox filters."""

    def filters(self):
        return {"transit_plan": transit_plan}
