# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: reachability_matrix
short_description: The reachability matrix verify.yml probes - every source, target and what each cell must answer
version_added: 0.1.0
description:
  - From the tenant plans (P(homecloud.proxmox.tenant_plan#filter)) and the gateway plans
    (P(homecloud.proxmox.gateway_plan#filter)), the cells C(playbooks/verify.yml) probes, each expected C(reached) or
    C(blocked).
  - Sources - the first C(probes_per_vnet) guests of each tenant VNet, each tenant's gateway VM, the shared services'
    guests and the outside probe hosts (group C(homecloud_verify_probes), C(homecloud_verify_role) V(internet) or
    V(management)).
  - Expected - the same VNet reaches itself (icmp, across nodes); another VNet of the tenant only on what the
    gateway's C(allow) list opens (tcp), nothing the other way; other tenants never (icmp and tcp); the internet
    through the gateway, seen from the gateway's external address (http_source); each granted shared service on its
    ports (dns by a query for the service's name in the internal domain) only with a transit hub or route leaking,
    each service not granted never; management never; from the internet no tenant guest and no gateway inner
    address; from the shared services no new connection into a tenant.
  - C(probes) are the reachability_probe module's probes run by the guests, C(host_probes) those of each probe host.
positional: gateway_plans, settings, tenants, services, transit, probe_hosts, management, domain, tenant
options:
  _input:
    description: The tenant plans, the shared services' entry included.
    type: list
    elements: dict
    required: true
  gateway_plans:
    description: The gateway plans.
    type: list
    elements: dict
    required: true
  settings:
    description:
      - C(homecloud_verify) - C(probes_per_vnet) (default 2), C(internet) (C(address), C(port) of the echo server),
        C(management) (list of C(address), C(port)), C(tcp_port) (default 22), C(timeout) (default 3), C(only) (cell
        ends by name, e.g. V(acme/web1), to keep).
    type: dict
  tenants:
    description: C(homecloud_tenants) (their C(services) and C(route_leaking)).
    type: list
    elements: dict
  services:
    description: C(homecloud_firewall.services) (C(addresses), C(ports)).
    type: dict
  transit:
    description: The transit plan; anything non-empty means a transit hub carries tenants to the shared services.
    type: raw
  probe_hosts:
    description:
      - The outside probe hosts - their host variables (C(inventory_hostname), C(homecloud_verify_role) V(internet) or
        V(management), C(homecloud_verify_address), C(homecloud_verify_netns)), or each C(name), C(role), C(address), C(netns).
    type: list
    elements: dict
  management:
    description:
      - Management endpoints when C(settings.management) is not set - each C(name), C(address), C(port), or the nodes'
        host variables (C(inventory_hostname), C(pve_host_mgmt_address)) - each node's management address on 8006 and 22.
    type: list
    elements: dict
  domain:
    description: The internal DNS domain (the dns probes ask for C(<service>.<domain>)).
    type: str
  tenant:
    description: Only this tenant's guests and gateway as sources (the targets stay all).
    type: str
"""

EXAMPLES = r"""
- name: The matrix of the demo inventory
  ansible.builtin.debug:
    msg: >-
      {{ tenant_plans | homecloud.proxmox.reachability_matrix(gateway_plans, homecloud_verify | default({}),
                                                             homecloud_tenants, homecloud_firewall.services, none, [],
                                                             groups['pve_nodes'] | map('extract', hostvars) | list) }}
"""

RETURN = r"""
_value:
  description: The matrix.
  type: dict
  contains:
    sources:
      description: Each source's C(name) (C(<tenant>/<guest>), C(<role>/<host>)), C(kind), C(address), C(from).
      type: list
      elements: dict
    targets:
      description: Each target's C(name), C(kind), C(address).
      type: list
      elements: dict
    cells:
      description: C(id), C(source), C(target), C(kind), C(port), C(address), C(expected), C(why), C(expected_source), C(query_name).
      type: list
      elements: dict
    probes:
      description: The probes the guests run (the reachability_probe module's O(homecloud.proxmox.reachability_probe#module:probes)).
      type: list
      elements: dict
    host_probes:
      description: Per probe host, the probes it runs.
      type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.homecloud.proxmox.plugins.module_utils.reachability import expected_matrix


def reachability_matrix(tenant_plans, gateway_plans, settings=None, tenants=None, services=None, transit=None,  # pylint: disable=too-many-arguments
                        probe_hosts=None, management=None, domain=None, tenant=None):
    """The filter: the matrix, or AnsibleFilterError naming what is wrong in the input."""
    try:
        return expected_matrix(tenant_plans, gateway_plans, settings, tenants, services, transit, probe_hosts, management, domain, tenant)
    except (KeyError, TypeError, ValueError) as error:
        raise AnsibleFilterError("homecloud.proxmox.reachability_matrix: the plans or homecloud_verify are not usable: %s %s"
                                 % (type(error).__name__, error))


class FilterModule:
    """homecloud.proxmox filters."""

    def filters(self):
        return {"reachability_matrix": reachability_matrix}
