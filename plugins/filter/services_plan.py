# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: services_plan
short_description: Plan each tenant's slice of the shared services (DNS zones and records, S3, PostgreSQL)
version_added: 0.1.0
description:
  - Turns the tenant plans of P(homecloud.proxmox.tenant_plan#filter) and the gateway plans of
    P(homecloud.proxmox.gateway_plan#filter) into what C(playbooks/shared_services.yml) converges.
  - "DNS: the internal domain's own zone holds the shared services by name (C(<service>.<domain>), from the addresses
    of C(homecloud_firewall.services)); every tenant gets the zone C(<tenant>.<domain>) and the reverse zones of its
    VNets (one per /24 for IPv4, nibble-aligned for IPv6). Every guest gets an A (or AAAA) record and its PTR; the
    gateway VM gets C(gw-<vnet>) per leg. A tenant adds its own records under C(dns.records) (names inside its zone
    only, never a planned name). A tenant's zones are queried from its own networks and the shared services' only."
  - "S3: a tenant whose C(services) name C(s3) gets the buckets C(<tenant>-<name>) of its C(s3.buckets) (default
    C([data])), checked against the S3 bucket naming rules, and a user C(<tenant>) that may use exactly those."
  - "PostgreSQL: a tenant whose C(services) name C(postgresql) gets the database C(postgresql.database) (default
    the tenant's name), owned by the role C(postgresql.owner) (default the database's name), reachable from the
    tenant's VNets only. Database and role names are shared by every tenant of the server: a clash is refused."
  - The whole input is checked first; every problem is reported at once, naming the tenant and the field.
positional: tenants, settings, services, gateways
options:
  _input:
    description: The tenant plans (the output of P(homecloud.proxmox.tenant_plan#filter)), the shared services' included.
    type: list
    elements: dict
    required: true
  tenants:
    description: The inventory's tenants (C(homecloud_tenants)); C(services), C(dns), C(s3) and C(postgresql) are read.
    type: list
    elements: dict
    required: true
  settings:
    description: C(homecloud_shared_services) - C(domain) (the internal domain, required) and C(ttl) (default 300).
    type: dict
    required: true
  services:
    description: C(homecloud_firewall.services) - per shared service its C(addresses).
    type: dict
  gateways:
    description: The output of P(homecloud.proxmox.gateway_plan#filter); without it the gateways get no records.
    type: list
    elements: dict
"""

EXAMPLES = r"""
- name: What shared_services.yml will converge
  ansible.builtin.debug:
    msg: >-
      {{ network_plan | homecloud.proxmox.services_plan(homecloud_tenants, homecloud_shared_services,
                                                       homecloud_firewall.services, gateway_plans) }}
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    domain:
      description: The internal domain.
      type: str
    dns:
      description: >-
        C(zones) - per zone C(name), C(tenant) (null for the shared zones), C(allow_query) (networks) and C(records)
        (C(name) as a fully qualified name, C(type), C(ttl), C(values)) in the shape of
        M(homecloud.proxmox.dns_zone)'s C(records); C(server_zones) - the same zones with C(name) and C(allow_query)
        only, the shape of the P(homecloud.proxmox.dns_server#role) role's C(dns_server_zones); C(allowed_networks) - every network of the cloud (who may query
        the server at all).
      type: dict
    s3:
      description: Per tenant using S3 C(tenant), C(user), C(buckets), C(access).
      type: list
      elements: dict
    postgresql:
      description: >-
        Per tenant using PostgreSQL C(name) (the tenant), C(database), C(owner), C(networks) - the shape of the
        P(homecloud.proxmox.postgres_server#role) role's C(postgres_server_tenants).
      type: list
      elements: dict
    services:
      description: Per shared service its addresses.
      type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import PlanError
from ansible_collections.homecloud.proxmox.plugins.module_utils.services import plan_services


def services_plan(tenant_plans, tenants, settings=None, services=None, gateways=None):
    """The filter: the plan, or AnsibleFilterError with every problem on its own line."""
    try:
        return plan_services(tenant_plans, tenants, settings, services, gateways)
    except PlanError as error:
        raise AnsibleFilterError("homecloud.proxmox.services_plan: %d problem(s) in the shared services settings:\n%s"
                                 % (len(error.errors), "\n".join(error.errors)))


class FilterModule:
    """homecloud.proxmox filters."""

    def filters(self):
        return {"services_plan": services_plan}
