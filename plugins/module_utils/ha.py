# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the HA modules (ha_resource, ha_group, ha_rule) share: resource ids, node lists with
priorities, which generation of placement objects a cluster has, and reading those objects.

PVE 8.x places HA resources with groups (/cluster/ha/groups, a resource's ``group``); PVE 9.x
replaced them by node-affinity rules (/cluster/ha/rules). 9.x still has the group calls, but
once the groups are migrated (an empty groups config, which a new 9.x cluster always has)
every one of them dies "ha groups have been migrated to rules", and a resource's ``group``
is refused; rules are refused as long as groups exist (pve-ha-manager src/PVE/HA/Config.pm
have_groups_been_migrated, src/PVE/API2/HA/{Groups,Rules,Resources}.pm).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxError
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import Write

# pve-ha-manager src/PVE/HA/Tools.pm pve_verify_ha_node / parse_node_priority: a node name,
# optionally ":<priority>"; no priority means 0, and a higher number is preferred.
NODE_ENTRY_RE = re.compile(r"^([a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9])?)(?::(\d+))?$")
# pve-ha-manager src/PVE/HA/Config.pm parse_sid: "<type>:<name>"; for guests the types are vm and ct.
SID_RE = re.compile(r"^(vm|ct):([1-9][0-9]{2,8})$")
VMID_RE = re.compile(r"^[1-9][0-9]{2,8}$")
# pve-common JSONSchema.pm pve-configid: rule and group ids
CONFIGID_RE = re.compile(r"^[a-z][a-z0-9_-]+$", re.I)
# PVE's guest types in /cluster/resources, and the HA resource type of each (pve-ha-manager Tools.pm get_ha_resource_type)
HA_TYPE_OF_GUEST = dict(qemu="vm", lxc="ct")

GROUPS = "groups"  # PVE 8.x
RULES = "rules"    # PVE 9.x


class HaInputError(ProxmoxError):
    """A declared value PVE would refuse, found before any call was made."""


def generation(client):
    """GROUPS on PVE 8.x and older, RULES from PVE 9.0 on (pve-ha-manager 5.0 added the rules)."""
    return RULES if client.version.major >= 9 else GROUPS


def require_generation(client, wanted, module_name):
    """Fail before any write when the cluster has the other generation of placement objects."""
    if generation(client) == wanted:
        return
    if wanted == RULES:
        raise ProxmoxError("{0} needs PVE 9.0 or later (HA rules); this cluster runs PVE {1}, which places HA resources "
                           "with HA groups: use homecloud.proxmox.ha_group; nothing was changed".format(module_name, client.version))
    raise ProxmoxError("{0} needs PVE 8.x (HA groups); this cluster runs PVE {1}, where HA groups have been migrated to HA "
                       "rules: use homecloud.proxmox.ha_rule; nothing was changed".format(module_name, client.version))


def missing_in_check_mode(module, message):
    """A missing object an earlier task of the same play may create: check mode, where that task only planned,
    warns (the real run checks again); a real run fails before any write."""
    if module.check_mode:
        module.warn("{0}; in check mode this may be an object an earlier task creates, so the plan goes on".format(message))
        return
    raise HaInputError(message + "; nothing was changed")


def check_configid(value, option, what):
    if not CONFIGID_RE.match(value or ""):
        raise HaInputError("{0}: {1!r} is not a valid {2} id for PVE (a letter, then letters, digits, '-' or '_'); "
                           "nothing was changed".format(option, value, what))
    return value


# --- node lists ----------------------------------------------------------------------------


def parse_node_list(value, option="nodes"):
    """{node: priority} from PVE's "pve1:2,pve2" or a declared dict ({pve1: 2, pve2: 0}) or list (["pve1:2", "pve2"]).

    A node without a priority has priority 0 (Tools.pm parse_node_priority).
    """
    if value is None:
        return None
    if isinstance(value, dict):
        entries = []
        for node, priority in value.items():
            try:
                number = int(priority if priority is not None else 0)
            except (TypeError, ValueError):
                number = -1
            if number < 0:
                raise HaInputError("{0}.{1}: priority {2!r} is not a whole number of 0 or more; nothing was changed".format(
                    option, node, priority))
            entries.append("{0}:{1}".format(node, number))
    elif isinstance(value, (list, tuple)):
        entries = [str(item) for item in value]
    else:
        entries = [item for item in re.split(r"[,;\s]+", str(value).strip()) if item]
    nodes = {}
    for entry in entries:
        found = NODE_ENTRY_RE.match(entry.strip())
        if not found:
            raise HaInputError("{0}: {1!r} is not a node name with an optional ':<priority>'; nothing was changed".format(
                option, entry))
        node = found.group(1)
        if node in nodes:
            raise HaInputError("{0}: node {1} is listed twice; nothing was changed".format(option, node))
        nodes[node] = int(found.group(2) or 0)
    return nodes


def format_node_list(nodes):
    """A {node: priority} as PVE 9.x writes it (NodeAffinity.pm encode_plugin_value): sorted, no ':0'."""
    return ",".join(node if not nodes[node] else "{0}:{1}".format(node, nodes[node]) for node in sorted(nodes))


# --- resource ids ------------------------------------------------------------------------------


def split_sid(value, option="sid"):
    """(type, vmid) of 'vm:100', 'ct:101' or a bare guest id (type None: PVE resolves it from the guest)."""
    text = str(value).strip()
    if VMID_RE.match(text):
        return None, int(text)
    found = SID_RE.match(text)
    if not found:
        raise HaInputError("{0}: {1!r} is not an HA resource id of a guest (vm:<vmid>, ct:<vmid> or <vmid>); "
                           "nothing was changed".format(option, value))
    return found.group(1), int(found.group(2))


def resolve_sids(client, values, managed, option="resources"):
    """The full ids ('vm:100') of declared resource ids, in order. A bare guest id takes the type of the HA
    resource of that guest, or else of the guest itself (one GET /cluster/resources, only when needed)."""
    parsed = [split_sid(value, option) for value in values]
    known = dict((int(split_sid(entry["sid"])[1]), entry["sid"]) for entry in managed if SID_RE.match(entry.get("sid", "")))
    guests = None
    sids = []
    for kind, vmid in parsed:
        if kind is None and vmid in known:
            sids.append(known[vmid])
            continue
        if kind is None:
            if guests is None:
                guests = guest_types(client)
            if vmid not in guests:
                # PVE's words (pve-ha-manager Config.pm parse_sid)
                raise HaInputError("{0}: unable to detect SID from VMID - VM/CT {1} does not exist; nothing was changed".format(
                    option, vmid))
            kind = guests[vmid]
        sids.append("{0}:{1}".format(kind, vmid))
    return sids


def guest_types(client):
    """{vmid: 'vm'|'ct'} of the cluster's guests."""
    return dict((int(entry["vmid"]), HA_TYPE_OF_GUEST.get(entry.get("type"), "vm"))
                for entry in client.get("/cluster/resources", type="vm") or [] if entry.get("vmid") is not None)


# --- reading the objects -------------------------------------------------------------------------------


def ha_resources(client):
    """GET /cluster/ha/resources: every HA resource with its whole configuration."""
    return client.get("/cluster/ha/resources") or []


def ha_groups(client):
    """{group id: group} from GET /cluster/ha/groups (PVE 8.x), nodes as {node: priority}."""
    groups = {}
    for entry in client.get("/cluster/ha/groups") or []:
        group = dict(entry)
        group.pop("digest", None)
        group["nodes"] = parse_node_list(group.get("nodes") or "")
        groups[group["group"]] = group
    return groups


def ha_rules(client):
    """{rule id: rule} from GET /cluster/ha/rules (PVE 9.x): nodes as {node: priority}, resources as a sorted list.

    The listing carries PVE's feasibility ``errors`` of each rule, and the rules PVE generates on the fly
    from groups that have not been migrated yet (``ha-group-<group>``, Groups.pm migrate_groups_to_rules).
    """
    rules = {}
    for entry in client.get("/cluster/ha/rules") or []:
        rule = dict(entry)
        rule.pop("digest", None)
        rule.pop("order", None)
        if "nodes" in rule:
            rule["nodes"] = parse_node_list(rule["nodes"] or "")
        rule["resources"] = sorted(item for item in re.split(r"[,;\s]+", str(rule.get("resources") or "")) if item)
        rules[rule["rule"]] = rule
    return rules


def flag(value):
    """A PVE boolean (absent, 0/1, '0'/'1', true/false) as 0 or 1; absent is 0."""
    if value is None:
        return 0
    if isinstance(value, str):
        return 1 if value.strip().lower() in ("1", "true", "yes", "on") else 0
    return 1 if value else 0


# --- comparing and writing groups and rules ----------------------------------------------------------
# Both are section-config objects with a node list, a flag or two and a comment; PVE drops an empty
# comment, and a flag it does not store means its default (0 for all of these).

FLAGS = ("restricted", "nofailback", "strict", "disable", "failback")


def same_option(key, current, desired):
    if key == "nodes":
        return (current or {}) == (desired or {})
    if key == "resources":
        return sorted(current or []) == sorted(desired or [])
    if key in FLAGS:
        return flag(current) == flag(desired)
    if key == "comment":
        return (current or "") == (desired or "")
    if key == "state":  # 'enabled' is PVE's old name of 'started' (Config.pm read_and_check_resources_config)
        return requested_state(current) == requested_state(desired)
    return str(current) == str(desired)


def requested_state(value):
    return "started" if value in (None, "enabled") else value


def option_changes(current, desired):
    """{key: declared value} of the declared keys whose value differs from PVE's."""
    return dict((key, value) for key, value in desired.items() if not same_option(key, (current or {}).get(key), value))


def wire_params(values, droppable=(), create=False):
    """The API parameters of declared values: node lists and resource lists as PVE's strings, flags as 0/1.

    An empty comment, and a false flag of ``droppable`` (PVE's HA rule calls drop ``disable=0``
    instead of storing it: src/PVE/API2/HA/Rules.pm), go into ``delete``; a create leaves them out."""
    params, deleted = {}, []
    for key in sorted(values):
        value = values[key]
        if key == "nodes":
            params[key] = format_node_list(value)
        elif key == "resources":
            params[key] = ",".join(sorted(value))
        elif key in FLAGS:
            if not flag(value) and key in droppable:
                deleted.append(key)
            else:
                params[key] = flag(value)
        elif key == "comment" and value == "":
            deleted.append(key)
        else:
            params[key] = value
    if deleted and not create:
        params["delete"] = ",".join(deleted)
    return params


def shown_object(value, defaults):
    """An object as the diff shows it: PVE's unstored defaults filled in, so 'absent' and 'default' compare equal."""
    if value is None:
        return None
    shown = dict(defaults)
    shown.update((key, item) for key, item in value.items() if item is not None)
    for key in FLAGS:
        if key in shown:
            shown[key] = flag(shown[key])
    return shown


# --- groups (PVE 8.x) and rules (PVE 9.x) -------------------------------------------------------------

# PVE's defaults for what a group does not store (pve-ha-manager src/PVE/HA/Groups.pm)
GROUP_DEFAULTS = dict(restricted=0, nofailback=0)


def group_path(group):
    return "/cluster/ha/groups/" + group


NODE_AFFINITY = "node-affinity"
RESOURCE_AFFINITY = "resource-affinity"
# The options of each rule type (pve-ha-manager src/PVE/HA/Rules/{NodeAffinity,ResourceAffinity}.pm options())
TYPE_OPTIONS = {
    NODE_AFFINITY: ("resources", "nodes", "strict", "disable", "comment"),
    RESOURCE_AFFINITY: ("resources", "affinity", "disable", "comment"),
}
# What a rule does not store means PVE's default (Rules.pm set_rule_defaults, the schemas' defaults)
RULE_DEFAULTS = {NODE_AFFINITY: dict(strict=0, disable=0), RESOURCE_AFFINITY: dict(disable=0)}


def rule_path(rule):
    return "/cluster/ha/rules/" + rule


def rule_writes(rule, rule_type, current, desired, confirm=None):
    """The writes that turn rule ``current`` (None: missing) into one holding ``desired`` (declared keys only).

    Shared by ha_rule and ha_resource (its node-affinity rule). PUT carries the rule's type: PVE's update
    schema requires it."""
    if current is None:
        create = dict(wire_params(desired, droppable=("disable",), create=True), rule=rule, type=rule_type)
        return [Write("POST", "/cluster/ha/rules", create, confirm=confirm)]
    changes = option_changes(current, desired)
    if not changes:
        return []
    return [Write("PUT", rule_path(rule), dict(wire_params(changes, droppable=("disable",)), type=rule_type), confirm=confirm)]
