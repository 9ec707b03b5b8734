# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: firewall_policy
short_description: The cluster's default-drop firewall policy from the tenant plan and the inventory
version_added: 0.1.0
description:
  - Turns the output of P(homecloud.proxmox.tenant_plan#filter), the tenant list and the firewall
    settings into the IP sets, rules, security groups and options the firewall modules converge
    (C(playbooks/firewall.yml) uses it).
  - Cluster IP sets C(homecloud-admins), C(homecloud-nodes), C(homecloud-underlay), C(homecloud-mgmt),
    C(homecloud-internet) (everything but private, tenant, shared and management space - two /1 entries
    and C(nomatch) exceptions, as PVE refuses a /0 entry), C(homecloud-shared), one C(svc-<name>) per
    shared service and, per tenant, C(<zone>-nets) and C(<zone>-gw) (the first reserved address of each
    VNet, the tenant gateway VM's).
  - Management rules at cluster level - admin networks to 8006 and 22 on the nodes, corosync, pveproxy
    and SSH between nodes, BGP (179) and VXLAN (4789) between underlay addresses only - then input and
    forward policy DROP; C(enable) in RV(_value) comes last.
  - Per tenant a security group named after its zone and, for each VNet, the VNet firewall - forward
    policy DROP; the tenant's own networks, the internet (through its gateway) and the shared services
    granted to it accepted; the management segment dropped and logged. The shared services' VNets accept
    each tenant on exactly the ports of the services granted to it.
  - With a transit network in the plan (C(homecloud_network_plan.transit)), its VNet gets a firewall too - forward
    policy DROP, the management segment dropped and logged, and each tenant's networks accepted to the services
    granted to it on their ports (the hub forwards with the tenant's own source address), nothing else; it is
    an item of the C(shared) list of RV(_value) with C(kind) V(transit).
  - Every problem of the input is reported at once, one line each, naming the field.
positional: tenants, settings, nodes
options:
  _input:
    description: The tenant plan, the output of P(homecloud.proxmox.tenant_plan#filter).
    type: list
    elements: dict
    required: true
  tenants:
    description:
      - The tenant list given to the planner; each tenant's optional C(services) lists the shared services
        it may reach (C(dns) is always granted when it is declared).
      - An item is a service name (all the service's ports) or C({name, ports}), C(ports) a non-empty subset of the
        service's own C(ports) (C(proto), C(dport)) - it narrows what the tenant reaches. A port the service does not
        have, a service named twice, an unknown field are refused.
    type: list
    elements: dict
    required: true
  settings:
    description: The firewall settings (C(homecloud_firewall) in the inventory).
    type: dict
    required: true
    suboptions:
      admin_networks:
        description: The networks that may reach the nodes' API/GUI (8006) and SSH (22).
        type: list
        elements: str
        required: true
      management_networks:
        description: The management segment no tenant may reach; default O(settings.admin_networks).
        type: list
        elements: str
      log_level:
        description: The log level of the logged drop rules.
        type: str
        default: info
      services:
        description:
          - "The shared services: each name maps to C(addresses) (a list) and C(ports) (a list of C(proto), C(dport));
            the addresses must lie in the shared services zone."
        type: dict
      rules:
        description:
          - Your own cluster rules, in the shape M(homecloud.proxmox.firewall_rules) takes; they follow the
            management rules, in this order.
        type: list
        elements: dict
      node_options:
        description: Host firewall options merged over the baseline (enable, nftables, nosmurfs, tcpflags).
        type: dict
  nodes:
    description:
      - The nodes, C([{name, management_address, underlay_address}]) (a prefix length is ignored), or their
        host variables (C(groups['pve_nodes'] | map('extract', hostvars))), read as C(inventory_hostname),
        C(pve_host_mgmt_address) and C(underlay_address).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: The policy for the demo inventory
  ansible.builtin.set_fact:
    policy: >-
      {{ homecloud_tenants | homecloud.proxmox.tenant_plan(homecloud_network_plan)
         | homecloud.proxmox.firewall_policy(homecloud_tenants, homecloud_firewall,
                                                  groups['pve_nodes'] | map('extract', hostvars) | list) }}
"""

RETURN = r"""
_value:
  description:
    - C(ipsets), C(rules) (cluster management rules), C(options) (cluster policies), C(enable), C(nodes)
      (C(node), C(options)), C(tenants) (C(tenant), C(zone), C(services), C(group), C(ipsets), C(vnets))
      and C(shared) (C(tenant), C(zone), C(kind) - V(shared_services) or V(transit) - and C(vnets) - the shared
      services' VNets, then the transit VNet).
    - Rules are in the shape M(homecloud.proxmox.firewall_rules) takes.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.homecloud.proxmox.plugins.module_utils.firewall_policy import firewall_policy
from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import PlanError


def firewall_policy_filter(plan, tenants, settings, nodes):
    try:
        return firewall_policy(plan, tenants, settings, nodes)
    except PlanError as error:
        raise AnsibleFilterError("firewall_policy: the inventory has {0} problem(s):\n{1}".format(len(error.errors), error))


class FilterModule:
    def filters(self):
        return {"firewall_policy": firewall_policy_filter}
