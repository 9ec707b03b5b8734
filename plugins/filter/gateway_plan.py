# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: gateway_plan
short_description: Plan each tenant's gateway VM, WireGuard peers and published hostnames from the inventory
version_added: 0.1.0
description:
  - Turns the tenant plans of P(homecloud.proxmox.tenant_plan#filter) into what C(playbooks/tenant_gateway.yml)
    converges for every tenant whose inventory entry has a C(gateway) - the gateway VM (the first VMID of the
    tenant's range, named C(<tenant>-gw)), its NICs (NIC 0 on the external bridge and VLAN, then one per VNet holding
    the VNet's first reserved address, each with a planned MAC), the cloud-init addresses, the WireGuard pool and
    peers, the Cloudflare Access policies and the hostnames published through the tunnel.
  - The tenant's guests route through the gateway VM; C(guest_gateways) maps each VNet to the gateway VM's address
    in it (the default route C(playbooks/tenant_guests.yml) gives the guests).
  - WireGuard pools are slot C(id) of size C(vpn_prefix) in C(vpn_supernet); the gateway is the pool's first host. A
    peer is declared by its public key with exactly one address in the pool; a peer with a private key is refused.
  - A published hostname must be inside the Cloudflare zone, point at one of the tenant's guests, and name at least
    one of the tenant's C(access_policies) - a tunnel is a path, not an authorization. Policy names are prefixed
    with the tenant's name in the Cloudflare account.
  - The whole input is checked first; every problem is reported at once, naming the tenant and the field.
positional: tenants, settings, cloudflare, nodes, guest_defaults
options:
  _input:
    description: The tenant plans (the output of P(homecloud.proxmox.tenant_plan#filter)); shared services are skipped.
    type: list
    elements: dict
    required: true
  tenants:
    description:
      - The inventory's tenants (C(homecloud_tenants)). A tenant's C(gateway) has C(node), C(size), C(external)
        (C(address) with prefix length, C(gateway), C(vlan), C(bridge)), C(allow) (per VNet name, the rules of
        what that VNet may reach among the tenant's other VNets) and C(vpn) (C(peers), each C(name), C(public_key)
        and C(host) or C(address); C(port); C(interface)). C(access_policies) and C(publish) sit beside it.
    type: list
    elements: dict
    required: true
  settings:
    description:
      - C(homecloud_gateway) - C(external_bridge) (default V(vmbr1)), C(vpn_supernet), C(vpn_prefix) (default 24),
        C(vpn_port) (default 51820), C(name_suffix) (default V(-gw)).
    type: dict
  cloudflare:
    description: C(homecloud_cloudflare); its C(zone) holds every published hostname.
    type: dict
  nodes:
    description: The cluster's nodes (C(groups['pve_nodes'])); the gateway's C(node) must be one of them.
    type: list
    elements: str
  guest_defaults:
    description: C(homecloud_guest_defaults); its C(node) places a gateway that names none.
    type: dict
"""

EXAMPLES = r"""
- name: What tenant_gateway.yml will converge
  ansible.builtin.debug:
    msg: >-
      {{ homecloud_tenants | homecloud.proxmox.tenant_plan(homecloud_network_plan)
         | homecloud.proxmox.gateway_plan(homecloud_tenants, homecloud_gateway, homecloud_cloudflare,
                                         groups['pve_nodes'], homecloud_guest_defaults) }}
"""

RETURN = r"""
_value:
  description: One entry per tenant with a gateway.
  type: list
  elements: dict
  contains:
    tenant:
      description: The tenant's name.
      type: str
    vmid:
      description: The gateway VM's VMID (the first of the tenant's range).
      type: int
    name:
      description: The gateway VM's name.
      type: str
    node:
      description: The node it is created on.
      type: str
    external:
      description: NIC 0 - C(bridge), C(vlan), C(mac), C(address), C(ip), C(gateway).
      type: dict
    vnets:
      description: Per VNet C(name), C(vnet), C(cidr), C(mac), C(address), C(ip) and C(allow).
      type: list
      elements: dict
    transit:
      description:
        - With a transit network (C(homecloud_network_plan.transit)), the gateway VM's leg in it - C(vnet), C(mac),
          C(address) and C(ip) (the tenant plan's C(transit.address)), C(gateway) (the hub's transit address) and
          C(routes) (the shared services' networks, routed via the hub). Its NIC and cloud-init address come after
          the VNets' in C(nics) and C(ipconfig). Null without a transit network.
      type: dict
    nics:
      description: The NICs as M(homecloud.proxmox.guest) takes them.
      type: list
      elements: dict
    ipconfig:
      description: The cloud-init addresses as M(homecloud.proxmox.guest) takes them.
      type: list
      elements: dict
    guest_gateways:
      description: The gateway VM's address per VNet id - the default route of the tenant's guests.
      type: dict
    network:
      description: The tenant's network.
      type: str
    vpn:
      description: C(pool), C(address), C(ip), C(interface), C(port), C(peers) (C(name), C(public_key), C(address)); null without VPN.
      type: dict
    access_policies:
      description: The Cloudflare Access policies, named C(<tenant>-<name>), with their rule fields.
      type: list
      elements: dict
    publish:
      description: Per hostname C(hostname), C(guest), C(service) (the origin URL), C(policies), C(session_duration).
      type: list
      elements: dict
    role:
      description: >-
        The variables of the P(homecloud.proxmox.tenant_gateway#role) role in its shape - C(vnets), C(external),
        C(transit) (C(mac), C(address), C(gateway), C(routes); empty without a transit network) and
        C(wireguard) (empty without VPN).
      type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.homecloud.proxmox.plugins.module_utils.gateway import plan_gateways
from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import PlanError


def gateway_plan(tenant_plans, tenants, settings=None, cloudflare=None, nodes=None, guest_defaults=None):
    """The filter: the plan, or AnsibleFilterError with every problem on its own line."""
    try:
        return plan_gateways(tenant_plans, tenants, settings, cloudflare, nodes, guest_defaults)
    except PlanError as error:
        raise AnsibleFilterError("homecloud.proxmox.gateway_plan: %d problem(s) in the gateway settings:\n%s"
                                 % (len(error.errors), "\n".join(error.errors)))


class FilterModule:
    """homecloud.proxmox filters."""

    def filters(self):
        return {"gateway_plan": gateway_plan}
