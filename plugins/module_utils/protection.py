# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The data protection plan of each tenant: its PBS namespace and token, its PVE backup storage and
nightly backup job, one replication job per guest to the next node, and HA where the RPO allows it.

Every name comes from the tenant's name and every job from the guest's VMID, so a second run finds
what the first made. The whole input is checked before anything is planned; every problem is
reported at once, naming the tenant, the field and the rule.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import PlanError

PRUNE_KEYS = ("keep-all", "keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly")
RPO_RANGE = (1, 60)  # minutes: PVE replicates at most every minute; beyond an hour it is a backup, not a replica
TOKEN_NAME = "pve"  # the token a tenant's PVE storage logs in to PBS with
DEFAULTS = {"rpo_minutes": 15, "ha_max_rpo_minutes": 5, "backup_schedule": "21:30", "retention": {"keep-daily": 7}}


def replication_schedule(rpo_minutes):
    """The calendar event that replicates at least every ``rpo_minutes`` (pve-docs calendar-events.adoc:
    ``*/N`` repeats every N minutes from minute 0; the gap at the full hour is shorter, never longer)."""
    return "hourly" if rpo_minutes == 60 else "*/{0}".format(rpo_minutes)


def next_node(nodes, node):
    """The replication target of a guest on ``node``: the next node of the list, cyclic."""
    return nodes[(nodes.index(node) + 1) % len(nodes)]


def _rpo(value, where, errors):
    if isinstance(value, bool) or not isinstance(value, int) or not RPO_RANGE[0] <= value <= RPO_RANGE[1]:
        errors.append("{0}: {1!r} is not a number of minutes from {2} to {3} (PVE replicates at most every minute; "
                      "beyond an hour use backups)".format(where, value, RPO_RANGE[0], RPO_RANGE[1]))
        return None
    return value


def _retention(value, where, errors):
    if not isinstance(value, dict) or not value:
        errors.append("{0}: {1!r} is not a mapping of keep-* options ({2})".format(where, value, ", ".join(PRUNE_KEYS)))
        return None
    for key, number in value.items():
        if key not in PRUNE_KEYS:
            errors.append("{0}.{1}: not a retention option ({2})".format(where, key, ", ".join(PRUNE_KEYS)))
        elif isinstance(number, bool) and key != "keep-all" or not isinstance(number, int) or number < 0:
            errors.append("{0}.{1}: {2!r} is not a count (an integer >= 0)".format(where, key, number))
    return value


def _mapping(value, where, errors):
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append("{0}: {1!r} is not a mapping".format(where, value))
        return {}
    return value


def plan_protection(tenant_plans, tenants, defaults, nodes, guest_defaults=None):
    """[{tenant, pool, storage, namespace, user, token, tokenid, backup: {id, schedule, retention},
    guests: [{name, vmid, node, target, rpo_minutes, schedule, ha, replication}]}] for the tenant plans
    (tenant_plan's output, shared services left out), or PlanError with every problem. A guest without a node
    is on ``guest_defaults['node']``, as playbooks/tenant_guests.yml places it."""
    errors = []
    defaults = dict(DEFAULTS, **_mapping(defaults, "homecloud_protection", errors))
    nodes = list(nodes or [])
    if len(nodes) < 2:
        errors.append("pve_nodes: {0} node(s); replication needs a second node to copy the guests to".format(len(nodes)))
    ha_max = _rpo(defaults["ha_max_rpo_minutes"], "homecloud_protection.ha_max_rpo_minutes", errors)
    default_rpo = _rpo(defaults["rpo_minutes"], "homecloud_protection.rpo_minutes", errors)
    _retention(defaults["retention"], "homecloud_protection.retention", errors)
    by_name = dict((tenant.get("name"), tenant) for tenant in tenants or [] if isinstance(tenant, dict))
    planned = []
    for tenant_plan in tenant_plans:
        if tenant_plan.get("shared"):
            continue
        name = tenant_plan["tenant"]
        label = "tenant {0}".format(name)
        policy = _mapping((by_name.get(name) or {}).get("protection"), label + ": protection", errors)
        tenant_rpo = _rpo(policy["rpo_minutes"], label + ": protection.rpo_minutes", errors) \
            if "rpo_minutes" in policy else default_rpo
        retention = _retention(policy["retention"], label + ": protection.retention", errors) \
            if "retention" in policy else defaults["retention"]
        schedule = policy.get("backup_schedule", defaults["backup_schedule"])
        if not isinstance(schedule, str) or not schedule.strip():
            errors.append("{0}: protection.backup_schedule: {1!r} is not a calendar event (e.g. 21:30 or "
                          "mon..fri 22:00)".format(label, schedule))
        guests = []
        for guest in tenant_plan.get("guests", []):
            where = "{0}: guest {1}".format(label, guest["name"])
            own = _mapping(guest.get("protection"), where + ": protection", errors)
            rpo = _rpo(own["rpo_minutes"], where + ": protection.rpo_minutes", errors) if "rpo_minutes" in own else tenant_rpo
            ha = own.get("ha", False)
            if not isinstance(ha, bool):
                errors.append("{0}: protection.ha: {1!r} is not true or false".format(where, ha))
            elif ha and rpo is not None and ha_max is not None and rpo > ha_max:
                errors.append("{0}: protection.ha: HA restarts the guest from its replica, losing up to the replication "
                              "interval; its rpo_minutes {1} is above homecloud_protection.ha_max_rpo_minutes {2}: "
                              "replicate it more often or leave HA off".format(where, rpo, ha_max))
            node = guest.get("node") or (guest_defaults or {}).get("node")
            if node not in nodes:
                errors.append("{0}: node {1!r} is not in pve_nodes ({2})".format(where, node, ", ".join(nodes)))
                continue
            if rpo is None or len(nodes) < 2:
                continue
            guests.append(dict(name=guest["name"], vmid=guest["vmid"], node=node, target=next_node(nodes, node),
                               rpo_minutes=rpo, schedule=replication_schedule(rpo), ha=ha is True,
                               replication="{0}-0".format(guest["vmid"])))
        user = "homecloud-{0}@pbs".format(name)
        planned.append(dict(tenant=name, pool=name, storage="pbs-{0}".format(name), namespace=name, user=user,
                            token=TOKEN_NAME, tokenid="{0}!{1}".format(user, TOKEN_NAME),
                            backup=dict(id="homecloud-{0}".format(name), schedule=schedule, retention=retention),
                            guests=guests))
    if errors:
        raise PlanError(errors)
    return planned
