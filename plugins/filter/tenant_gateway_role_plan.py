# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: tenant_gateway_role_plan
short_description: Check the tenant_gateway role's variables and compute the plan its templates render
version_added: 0.1.0
description:
  - Checks the variables of the P(homecloud.proxmox.tenant_gateway#role) role against each other and against the
    gateway's interfaces, and computes what its templates render (the nftables ruleset, C(wg.conf), the sysctl and
    cloudflared files). The role runs it before it changes anything and refuses the run when C(errors) is not empty.
  - Each leg (C(tenant_gateway_external), C(tenant_gateway_transit), each of C(tenant_gateway_vnets)) is found by its
    MAC among O(links) and must carry its address (cloud-init sets it); a VLAN sub-interface sharing its parent's MAC
    is left out.
  - Checked here because Jinja has no CIDR arithmetic - addresses and networks in CIDR form, a VNet not overlapping
    another VNet, a management network or the VPN pool, allow rules (a VNet of the tenant or a CIDR of the VNet's
    family, tcp/udp/icmp, ports 1-65535), WireGuard peers (a public key, never a private key; one address of the
    pool that is not the gateway's; names, keys and addresses unique), the external address's family being one a
    VNet or the VPN pool uses, cloudflared ingress rules (a DNS name, an Access audience tag on every hostname, a
    cloudflared origin), the log rate and the extra nft rules being single lines.
  - Every problem is collected; nothing is raised. Each message names the variable and the rule.
positional: links
options:
  _input:
    description:
      - The role's variables - C(tenant_gateway_tenant), C(tenant_gateway_vnets), C(tenant_gateway_external),
        C(tenant_gateway_transit), C(tenant_gateway_management_networks), C(tenant_gateway_private_networks),
        C(tenant_gateway_admin_networks), C(tenant_gateway_log_rate), C(tenant_gateway_nft_extra_forward_rules),
        C(tenant_gateway_wireguard), C(tenant_gateway_cloudflared) and C(tenant_gateway_ssh), as the role's
        C(meta/argument_specs.yml) documents them.
    type: dict
    required: true
  links:
    description:
      - The gateway's interfaces, the parsed output of C(ip -json -details address show) (C(ifname), C(address) - the
        MAC, C(link) for a sub-interface, C(addr_info) with C(local) and C(prefixlen)).
      - Omitted, the interfaces are not searched and each leg's C(ifname) in the plan is a placeholder.
    type: list
    elements: dict
"""

EXAMPLES = r"""
- name: Read the gateway's interfaces
  ansible.builtin.command: ip -json -details address show
  register: links
  changed_when: false

- name: Check the variables and compute the plan
  ansible.builtin.set_fact:
    gateway_check: >-
      {{ {'tenant_gateway_tenant': 'acme',
          'tenant_gateway_vnets': [{'name': 'web', 'mac': '02:00:00:27:11:01', 'address': '10.129.0.2/24'}],
          'tenant_gateway_external': {'mac': '02:00:00:27:11:00', 'address': '198.51.100.21/24',
                                      'gateway': '198.51.100.1'},
          'tenant_gateway_admin_networks': ['198.51.100.0/24'],
          'tenant_gateway_log_rate': '10/minute'}
         | homecloud.proxmox.tenant_gateway_role_plan(links.stdout | from_json) }}

- name: Refuse the run on any problem
  ansible.builtin.assert:
    that: gateway_check.errors | length == 0
    fail_msg: "{{ gateway_check.errors | join('; ') }}"
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
      description: Role name (C(external), C(transit), each VNet's name) to the kernel name of the interface found.
      type: dict
    plan:
      description:
        - What the templates render - C(tenant), C(log_prefix), C(log_rate), C(sshd_port), C(uses_ipv6), C(external)
          (C(ifname), C(address), C(gateway)), C(transit), C(vnets) (C(name), C(ifname), C(address), C(network),
          C(family), C(allow)), C(vnet_ifnames), C(wireguard) (C(interface), C(port), C(implementation), C(address),
          C(network), C(peers)), and per address family (C(ip), C(ip6)) C(management), C(private), C(admin) and
          C(masquerade_sources), then C(extra_forward_rules).
        - Computed also when there are errors; only use it when C(errors) is empty.
      type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.homecloud.proxmox.plugins.module_utils.gateway_role import tenant_gateway_role_plan as plan_role


def tenant_gateway_role_plan(variables, links=None):
    """The filter: {errors, interfaces, plan}; only input that is not a mapping or a list of links is raised."""
    if not isinstance(variables, dict):
        raise AnsibleFilterError("homecloud.proxmox.tenant_gateway_role_plan: the input must be the role's variables "
                                 "as a mapping, got %s" % type(variables).__name__)
    if links is not None and (not isinstance(links, list) or not all(isinstance(link, dict) for link in links)):
        raise AnsibleFilterError("homecloud.proxmox.tenant_gateway_role_plan: links must be the list "
                                 "`ip -json -details address show` prints")
    return plan_role(variables, links)


class FilterModule:
    """homecloud.proxmox filters."""

    def filters(self):
        return {"tenant_gateway_role_plan": tenant_gateway_role_plan}
