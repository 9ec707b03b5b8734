# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: transit_hub_role_plan
short_description: Check the transit_hub role's variables and compute the plan its templates render
version_added: 0.1.0
description:
  - Checks the variables of the P(homecloud.proxmox.transit_hub#role) role against each other and against the hub's
    interfaces, and computes what its templates render (the nftables ruleset, the routes unit, the sysctl file). The
    role runs it before it changes anything and refuses the run when C(errors) is not empty.
  - Each leg (C(transit_hub_legs.transit), each of C(transit_hub_legs.services)) is found by its MAC among O(links) and
    must carry its address (cloud-init sets it) - the same code that finds the tenant gateway's legs
    (P(homecloud.proxmox.tenant_gateway_role_plan#filter)).
  - Checked here because Jinja has no CIDR arithmetic - a route goes via an address on the transit network that is not
    the hub's own; the networks of different tenants do not overlap; a rule's tenant has routes, its sources lie inside
    that tenant's routed networks (the hub could not answer anything else), its addresses on a services leg, tcp or
    udp, ports 1-65535; the legs' networks do not overlap each other or a management network; the log rate.
  - Every problem is collected; nothing is raised. Each message names the variable and the rule.
positional: links
options:
  _input:
    description:
      - The role's variables - C(transit_hub_legs), C(transit_hub_routes), C(transit_hub_rules),
        C(transit_hub_admin_networks), C(transit_hub_management_networks) and C(transit_hub_log_rate), as the role's
        C(meta/argument_specs.yml) documents them.
    type: dict
    required: true
  links:
    description:
      - The hub's interfaces, the parsed output of C(ip -json -details address show).
      - Omitted, the interfaces are not searched and each leg's C(ifname) in the plan is a placeholder.
    type: list
    elements: dict
"""

EXAMPLES = r"""
- name: Read the hub's interfaces
  ansible.builtin.command: ip -json -details address show
  register: links
  changed_when: false

- name: Check the variables and compute the plan
  ansible.builtin.set_fact:
    hub_check: >-
      {{ {'transit_hub_legs': {'transit': {'mac': '02:00:00:27:00:00', 'address': '10.128.241.2/24'},
                               'services': [{'mac': '02:00:00:27:00:01', 'address': '10.128.1.2/24', 'vnet': 'svc'}]},
          'transit_hub_routes': [{'network': '10.128.16.0/20', 'via': '10.128.241.10', 'tenant': 'acme'}],
          'transit_hub_rules': [{'tenant': 'acme', 'sources': ['10.128.16.0/20'], 'service': 'postgresql',
                                 'addresses': ['10.128.1.12'], 'proto': 'tcp', 'dport': '5432'}],
          'transit_hub_admin_networks': ['192.0.2.0/24'],
          'transit_hub_log_rate': '10/minute'}
         | homecloud.proxmox.transit_hub_role_plan(links.stdout | from_json) }}

- name: Refuse the run on any problem
  ansible.builtin.assert:
    that: hub_check.errors | length == 0
    fail_msg: "{{ hub_check.errors | join('; ') }}"
"""

RETURN = r"""
_value:
  description: The problems found, the interfaces found by MAC, and the plan.
  type: dict
  contains:
    errors:
      description: One message per problem, naming the variable and the rule; empty when the variables are accepted.
      type: list
      elements: str
    interfaces:
      description: Leg name (C(transit), each services VNet id) to the kernel name of the interface found.
      type: dict
    plan:
      description:
        - What the templates render - C(log_rate), C(log_prefix), C(transit) (C(ifname), C(address), C(network)),
          C(services) (C(ifname), C(vnet), C(address), C(network)), C(service_ifnames), C(routes) (C(network), C(via),
          C(tenant), C(family)), C(rules) (C(tenant), C(service), C(counter), C(family), C(sources), C(addresses),
          C(proto), C(ports), C(comment)), C(counters) (C(name), C(comment)), C(uses_ipv6), and per address family
          (C(ip), C(ip6)) C(tenants), C(admin) and C(management).
        - Computed also when there are errors; only use it when C(errors) is empty.
      type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.homecloud.proxmox.plugins.module_utils.gateway_role import transit_hub_role_plan as plan_role


def transit_hub_role_plan(variables, links=None):
    """The filter: {errors, interfaces, plan}; only input that is not a mapping or a list of links is raised."""
    if not isinstance(variables, dict):
        raise AnsibleFilterError("homecloud.proxmox.transit_hub_role_plan: the input must be the role's variables "
                                 "as a mapping, got %s" % type(variables).__name__)
    if links is not None and (not isinstance(links, list) or not all(isinstance(link, dict) for link in links)):
        raise AnsibleFilterError("homecloud.proxmox.transit_hub_role_plan: links must be the list "
                                 "`ip -json -details address show` prints")
    return plan_role(variables, links)


class FilterModule:
    """homecloud.proxmox filters."""

    def filters(self):
        return {"transit_hub_role_plan": transit_hub_role_plan}
