# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: protection_plan
short_description: Plan each tenant's backups, replication and HA from the inventory
version_added: 0.1.0
description:
  - Turns the tenant plans of P(homecloud.proxmox.tenant_plan#filter) into what C(playbooks/data_protection.yml)
    converges per tenant - a PBS namespace and a token limited to it, the PVE storage entry that logs in with that
    token, a nightly backup job of the tenant's pool with its retention, one replication job per guest to the next
    node of O(nodes) at the guest's RPO, and HA for the guests that ask for it and replicate often enough.
  - Names come from the tenant's name (namespace C(<tenant>), user C(homecloud-<tenant>@pbs), token C(pve),
    storage C(pbs-<tenant>), backup job C(homecloud-<tenant>)) and replication jobs from the VMID (C(<vmid>-0)), so
    every run finds what the first one made.
  - The whole input is checked first; every problem is reported at once, naming the tenant, the guest and the field.
positional: tenants, defaults, nodes, guest_defaults
options:
  _input:
    description: The tenant plans (the output of P(homecloud.proxmox.tenant_plan#filter)); shared services are skipped.
    type: list
    elements: dict
    required: true
  tenants:
    description:
      - The inventory's tenants (C(homecloud_tenants)), for each tenant's C(protection) - C(rpo_minutes), C(retention)
        (keep-* counts), C(backup_schedule) - overriding O(defaults). A guest's own C(protection) takes C(rpo_minutes)
        and C(ha).
    type: list
    elements: dict
    required: true
  defaults:
    description:
      - C(homecloud_protection) - C(rpo_minutes) (1 to 60, default 15), C(ha_max_rpo_minutes) (default 5; HA only for
        guests replicated at least this often), C(backup_schedule) (a PVE calendar event, default V(21:30)),
        C(retention) (default one daily backup kept for 7 days).
    type: dict
    required: true
  nodes:
    description: The cluster's nodes in order (C(groups['pve_nodes'])); a guest replicates to the node after its own.
    type: list
    elements: str
    required: true
  guest_defaults:
    description: C(homecloud_guest_defaults); its C(node) places the guests that name none.
    type: dict
"""

EXAMPLES = r"""
- name: What data_protection.yml will converge
  ansible.builtin.debug:
    msg: >-
      {{ homecloud_tenants | homecloud.proxmox.tenant_plan(homecloud_network_plan)
         | homecloud.proxmox.protection_plan(homecloud_tenants, homecloud_protection, groups['pve_nodes'],
                                                homecloud_guest_defaults) }}
"""

RETURN = r"""
_value:
  description: One entry per tenant.
  type: list
  elements: dict
  contains:
    tenant:
      description: The tenant's name (also its pool and its PBS namespace).
      type: str
    storage:
      description: The PVE storage id of its PBS namespace.
      type: str
    user:
      description: The PBS user that owns the token.
      type: str
    tokenid:
      description: The PBS token the PVE storage logs in with.
      type: str
    backup:
      description: The backup job, as C(id), C(schedule) and C(retention).
      type: dict
    guests:
      description: >-
        Per guest C(name), C(vmid), C(node), C(target), C(rpo_minutes), C(schedule), C(ha) and C(replication) (the
        replication job's id).
      type: list
      elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import PlanError
from ansible_collections.homecloud.proxmox.plugins.module_utils.protection import plan_protection


def protection_plan(tenant_plans, tenants, defaults, nodes, guest_defaults=None):
    """The filter: the plan, or AnsibleFilterError with every problem on its own line."""
    try:
        return plan_protection(tenant_plans, tenants, defaults, nodes, guest_defaults)
    except PlanError as error:
        raise AnsibleFilterError("homecloud.proxmox.protection_plan: %d problem(s) in the data protection settings:\n%s"
                                 % (len(error.errors), "\n".join(error.errors)))


class FilterModule:
    """homecloud.proxmox filters."""

    def filters(self):
        return {"protection_plan": protection_plan}
