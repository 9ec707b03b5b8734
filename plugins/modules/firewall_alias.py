#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: firewall_alias
short_description: Manage one Proxmox VE firewall alias (a named address or network)
version_added: 0.1.0
description:
  - Creates, updates or removes an alias of the cluster firewall or of a guest's. Rules and IP set entries name it
    (V(name), V(dc/name), V(guest/name)).
  - PVE treats alias names without case (V(Gateway) and V(gateway) are the same alias) and keeps the spelling it
    was created or last updated with; so does this module, which never renames.
  - Addresses are compared as PVE stores them (V(/32) and V(/128) dropped).
options:
  scope:
    description: V(cluster) (C(/cluster/firewall/aliases)) or a guest's firewall (V(vm)).
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
    description: The alias; 2 to 64 characters, letters, digits, V(-) and V(_), starting with a letter.
    type: str
    required: true
  cidr:
    description: The address or network (IPv4 or IPv6); required with O(state=present).
    type: str
  comment:
    description: Comment. Unset leaves it as it is; V("") removes it.
    type: str
  state:
    description: Whether the alias must exist. PVE refuses to remove an alias rules still name.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The tenant gateway, for rules of every guest
  homecloud.proxmox.firewall_alias:
    scope: cluster
    name: acme_gateway
    cidr: 10.128.49.1
    comment: acme's gateway
"""

RETURN = r"""
alias:
  description: The alias after the task (as planned in check mode); V(null) when it does not exist.
  returned: success
  type: dict
  sample: {name: acme_gateway, cidr: 10.128.49.1, comment: acme's gateway}
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["POST /cluster/firewall/aliases cidr=10.128.49.1 name=acme_gateway"]
"""

import ipaddress

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.firewall import (
    MAX_ALIAS_NAME,
    FirewallInputError,
    check_name,
    resolve_scope,
    scope_argument_spec,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ObjectModule, Write


def stored_cidr(text):
    """An alias address as PVE stores it (Firewall.pm parse_ip_or_cidr drops /32 and /128)."""
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise FirewallInputError("cidr: '{0}' is not an IP address or CIDR network; nothing was changed".format(text))
    if "/" in text and network.prefixlen == network.max_prefixlen:
        return text.split("/")[0]
    return text


class FirewallAlias(ObjectModule):

    result_key = "alias"

    def plan(self):
        params = self.module.params
        check_name("name", params["name"], MAX_ALIAS_NAME)
        if params["cidr"] is not None:
            self.cidr = stored_cidr(params["cidr"])
        self.scope = resolve_scope(self.client, params)
        self.working_on = "alias {0} of {1}".format(params["name"], self.scope)
        return ObjectModule.plan(self)

    def read(self):
        for entry in self.client.get(self.scope.aliases_path):
            if entry["name"].lower() == self.module.params["name"].lower():
                return dict((key, entry[key]) for key in ("name", "cidr", "comment") if entry.get(key) not in (None, ""))
        return None

    def desired(self):
        desired = dict(name=self.module.params["name"], cidr=self.cidr)
        if self.module.params["comment"]:
            desired["comment"] = self.module.params["comment"]
        return desired

    def compare(self, current, desired):
        changes = {}
        if current.get("cidr") != desired["cidr"]:
            changes["cidr"] = desired["cidr"]
        comment = self.module.params["comment"]
        if comment is not None and comment != (current.get("comment") or ""):
            changes["comment"] = comment
        return changes

    def create_writes(self, desired):
        return [Write("POST", self.scope.aliases_path, desired)]

    def update_writes(self, current, changes):
        # Aliases.pm update_alias stores cidr and comment as sent (no comment sent: none kept)
        params = dict(cidr=changes.get("cidr", current["cidr"]), comment=changes.get("comment", current.get("comment")))
        return [Write("PUT", "{0}/{1}".format(self.scope.aliases_path, current["name"]), params)]

    def delete_writes(self, current):
        return [Write("DELETE", "{0}/{1}".format(self.scope.aliases_path, current["name"]))]


def main():
    spec = scope_argument_spec(["cluster", "vm"])
    del spec["vnet"], spec["group"]
    spec.update(
        name=dict(type="str", required=True),
        cidr=dict(type="str"),
        comment=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module = create_module(spec, supports_check_mode=True,
                           required_if=[("scope", "vm", ("vmid",)), ("state", "present", ("cidr",))])
    FirewallAlias(module).execute()


if __name__ == "__main__":
    main()
