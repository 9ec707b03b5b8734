#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: firewall_ipset
short_description: Manage one Proxmox VE firewall IP set and its entries, entry by entry
version_added: 0.1.0
description:
  - Creates, updates or removes an IP set of the cluster firewall or of a guest's, and converges its entries one by
    one - one C(POST) per missing entry, one C(PUT) per entry whose O(entries[].nomatch) or O(entries[].comment)
    differs, one C(DELETE) per undeclared entry with O(exclusive=true). The set is never emptied and refilled.
  - Entries are compared as PVE stores them (pve-firewall C(IPSet.pm)) - host bits cleared (V(10.1.2.3/24) is
    V(10.1.2.0/24)), V(/32) and V(/128) dropped. Alias names (V(name), V(dc/name), V(guest/name)) are entries too
    and must exist. Anything else fails the task before any write, naming the entry (V(entries[3].cidr)).
  - "PVE's special sets: V(management) (hosts allowed to reach the nodes when the firewall is on), V(blacklist)
    (dropped everywhere), V(ipfilter-net<N>) (a guest NIC's allowed source addresses, with the guest's C(ipfilter))."
options:
  scope:
    description: V(cluster) (C(/cluster/firewall/ipset)) or a guest's firewall (V(vm)).
    type: str
    required: true
    choices: [cluster, vm]
  node:
    description: With O(scope=vm), optional; the guest's node and type are found in C(/cluster/resources).
    type: str
  vmid:
    description: The guest, with O(scope=vm).
    type: int
  name:
    description: The IP set; 2 to 64 characters, letters, digits, V(-) and V(_), starting with a letter.
    type: str
    required: true
  comment:
    description: The set's comment. Unset leaves it as it is; V("") removes it.
    type: str
  entries:
    description: The entries the set must hold. Unset leaves the entries alone.
    type: list
    elements: dict
    suboptions:
      cidr:
        description: An IP address, a CIDR network (IPv4 or IPv6, not V(/0)) or an alias name.
        type: str
        required: true
      nomatch:
        description: Exclude this address or network from the set (C(!) in the C(.fw) file).
        type: bool
        default: false
      comment:
        description: The entry's comment; unset means none.
        type: str
  exclusive:
    description: If V(true), entries not in O(entries) are deleted; if V(false), they are kept.
    type: bool
    default: false
  state:
    description: Whether the set must exist.
    type: str
    choices: [present, absent]
    default: present
  force:
    description: With O(state=absent), remove a set that still has entries (PVE refuses otherwise, and so does the module).
    type: bool
    default: false
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The admins' networks, and nothing else
  homecloud.proxmox.firewall_ipset:
    scope: cluster
    name: admins
    comment: who may SSH
    exclusive: true
    entries:
      - cidr: 10.0.0.0/24
      - cidr: 10.0.0.13
        nomatch: true
        comment: the printer
      - cidr: dc/vpn_gateway
"""

RETURN = r"""
ipset:
  description: The set after the task (as planned in check mode), entries sorted by address; V(null) when it does not exist.
  returned: success
  type: dict
  sample: {name: admins, comment: who may SSH, entries: [{cidr: 10.0.0.0/24, nomatch: 0}, {cidr: 10.0.0.13, nomatch: 1, comment: the printer}]}
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["POST /cluster/firewall/ipset/admins cidr=10.0.0.0/24"]
written:
  description: After a failure, the calls of RV(writes) that were made before it; they are not undone.
  returned: on failure
  type: list
  elements: str
"""

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.firewall import (
    MAX_IPSET_NAME,
    FirewallInputError,
    References,
    check_name,
    ipset_entry_cidr,
    resolve_scope,
    scope_argument_spec,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ConvergeModule, Write


def entry_from_pve(entry):
    shown = dict(cidr=entry["cidr"], nomatch=1 if entry.get("nomatch") else 0)
    if entry.get("comment"):
        shown["comment"] = entry["comment"]
    return shown


def sorted_entries(entries):
    return sorted(entries, key=lambda entry: entry["cidr"])


class FirewallIpset(ConvergeModule):

    result_key = "ipset"

    def plan(self):
        params = self.module.params
        name = params["name"]
        check_name("name", name, MAX_IPSET_NAME)
        scope = resolve_scope(self.client, params)
        self.working_on = "IP set {0} of {1}".format(name, scope)
        set_path = "{0}/{1}".format(scope.ipset_path, name)
        found = next((entry for entry in self.client.get(scope.ipset_path) if entry["name"] == name), None)
        before = None
        if found is not None:
            before = dict(name=name, entries=sorted_entries(entry_from_pve(entry) for entry in self.client.get(set_path)))
            if found.get("comment"):
                before["comment"] = found["comment"]

        if params["state"] == "absent":
            if before is None:
                return [], None, None
            if before["entries"] and not params["force"]:
                raise FirewallInputError("IP set '{0}' of {1} has {2} entries; PVE removes only empty sets: set force: true "
                                         "to remove it with them; nothing was changed".format(name, scope, len(before["entries"])))
            return [Write("DELETE", set_path, dict(force=1) if before["entries"] else None)], before, None

        desired = self.desired_entries(References(self.client, scope))
        writes = []
        after = dict(before or dict(name=name, entries=[]))
        comment = params["comment"]
        if before is None:
            writes.append(Write("POST", scope.ipset_path, dict(name=name, comment=comment or None)))
            if comment:
                after["comment"] = comment
        elif comment is not None and comment != (before.get("comment") or ""):
            # IPSet.pm create_ipset: rename equal to name only updates the comment
            writes.append(Write("POST", scope.ipset_path, dict(name=name, rename=name, comment=comment)))
            after.pop("comment", None)
            if comment:
                after["comment"] = comment
        if desired is not None:
            writes.extend(self.entry_writes(set_path, before["entries"] if before else [], desired))
            declared = set(item["cidr"] for item in desired)
            kept = [] if params["exclusive"] else [entry for entry in after["entries"] if entry["cidr"] not in declared]
            after["entries"] = sorted_entries(kept + desired)
        return writes, before, after

    def desired_entries(self, references):
        """The declared entries as PVE stores them; refuses bad and repeated ones before any write."""
        if self.module.params["entries"] is None:
            return None
        desired, seen = [], {}
        for index, entry in enumerate(self.module.params["entries"]):
            cidr = ipset_entry_cidr(index, entry["cidr"], references)
            if cidr in seen:
                raise FirewallInputError("entries[{0}].cidr: '{1}' is entries[{2}] again (PVE keeps one entry per address); "
                                         "nothing was changed".format(index, entry["cidr"], seen[cidr]))
            seen[cidr] = index
            shown = dict(cidr=cidr, nomatch=1 if entry["nomatch"] else 0)
            if entry["comment"]:
                shown["comment"] = entry["comment"]
            desired.append(shown)
        return desired

    def entry_writes(self, set_path, current, desired):
        """One POST per missing entry, one PUT per changed one, one DELETE per undeclared one (exclusive)."""
        held = dict((entry["cidr"], entry) for entry in current)
        writes = []
        for entry in desired:
            have = held.get(entry["cidr"])
            if have is None:
                writes.append(Write("POST", set_path, dict(
                    cidr=entry["cidr"], nomatch=1 if entry["nomatch"] else None, comment=entry.get("comment"))))
            elif have != entry:
                # IPSet.pm update_ip sets nomatch and comment both, from what is sent
                writes.append(Write("PUT", "{0}/{1}".format(set_path, entry["cidr"]),
                                    dict(nomatch=entry["nomatch"], comment=entry.get("comment"))))
        if self.module.params["exclusive"]:
            declared = set(entry["cidr"] for entry in desired)
            writes.extend(Write("DELETE", "{0}/{1}".format(set_path, entry["cidr"]))
                          for entry in current if entry["cidr"] not in declared)
        return writes


def main():
    spec = scope_argument_spec(["cluster", "vm"])
    del spec["vnet"], spec["group"]
    spec.update(
        name=dict(type="str", required=True),
        comment=dict(type="str"),
        entries=dict(type="list", elements="dict", options=dict(
            cidr=dict(type="str", required=True),
            nomatch=dict(type="bool", default=False),
            comment=dict(type="str"),
        )),
        exclusive=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        force=dict(type="bool", default=False),
    )
    module = create_module(spec, supports_check_mode=True, required_if=[("scope", "vm", ("vmid",))])
    FirewallIpset(module).execute()


if __name__ == "__main__":
    main()
