#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sdn_dns
short_description: Manage one Proxmox VE SDN DNS plugin (PowerDNS)
version_added: 0.1.0
description:
  - Creates, updates or removes one DNS plugin object (C(/cluster/sdn/dns)), which zones name in their
    O(homecloud.proxmox.sdn_zone#module:dns) and O(homecloud.proxmox.sdn_zone#module:reversedns) options.
  - Only the options given are compared and written; an option set to an empty string is removed.
  - DNS plugins are not part of PVE's pending/running SDN model; a write takes effect at once and needs no apply.
  - PVE returns the O(key) in its answers (pve-network stores it in C(sdn/dns.cfg)), so the module compares it
    like any other option and changes it only when it differs. The module never shows a key in its result or its
    diff.
  - On create and update PVE calls the PowerDNS API once (C(GET <url>)) and refuses the write if that fails.
options:
  dns:
    description: DNS plugin id; 2 or more ASCII letters and digits, starting with a letter (PVE's rule).
    type: str
    required: true
  state:
    description: Whether the DNS plugin must exist.
    type: str
    choices: [present, absent]
    default: present
  type:
    description: DNS plugin type; required to create one, and PVE cannot change it later.
    type: str
    choices: [powerdns]
  url:
    description:
      - PowerDNS API URL of the server, required to create the plugin,
        for example V(https://pdns.example:8081/api/v1/servers/localhost).
    type: str
  key:
    description: PowerDNS API key (C(X-API-Key)); required to create the plugin.
    type: str
  reversemaskv6:
    description: Prefix length of the IPv6 reverse zones, when it is not the subnet's.
    type: int
  ttl:
    description: TTL of the records PVE writes.
    type: int
  fingerprint:
    description: SHA-256 fingerprint of the PowerDNS API's TLS certificate, to trust a self-signed one.
    type: str
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.sdn
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The PowerDNS server that registers the guests' names
  homecloud.proxmox.sdn_dns:
    dns: pdns
    type: powerdns
    url: https://pdns.example:8081/api/v1/servers/localhost
    key: "{{ powerdns_api_key }}"
    ttl: 300
"""

RETURN = r"""
dns:
  description:
    - The DNS plugin's options after the task (as planned in check mode); V(null) when absent.
    - A key is shown as V(********).
  returned: always
  type: dict
  sample: {dns: pdns, type: powerdns, url: "https://pdns.example:8081/api/v1/servers/localhost", key: "********", ttl: 300}
sdn_changes:
  description: The objects this task changed (or would change), as V(kind/id).
  returned: always
  type: list
  elements: str
  sample: [dns/pdns]
pending:
  description: Objects with pending changes seen before the task wrote, as V(kind/id).
  returned: always
  type: list
  elements: str
applied:
  description: Whether the SDN configuration was applied (in check mode, whether it would be).
  returned: always
  type: bool
apply_task:
  description: UPID of the apply task.
  returned: when applied
  type: str
"""

from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn_module import SdnObjectModule, run_object_module

HIDDEN = "********"


def hidden(options, secret):
    """A copy of an object's options with the secret masked."""
    if not options or secret not in options:
        return options
    return dict(options, **{secret: HIDDEN})


def hidden_diff(diff, secret):
    """The plan's before/after with the secret masked, saying when it changes."""
    before, after = diff["before"], diff["after"]
    for section, objects in after.items():
        for name, options in objects.items():
            old = before.get(section, {}).get(name) or {}
            if secret in options and options[secret] != old.get(secret):
                objects[name] = dict(options, **{secret: HIDDEN + " (changed)"})
            else:
                objects[name] = hidden(options, secret)
    for objects in before.values():
        for name in objects:
            objects[name] = hidden(objects[name], secret)
    return diff


class SdnDns(SdnObjectModule):
    kind_name = "dns"
    secret = "key"

    def converge(self, changes):
        planned_diff = changes.diff
        # ChangeSet.ordered() sorts the writes of zones, VNets, subnets and controllers; this task has one write at most.
        changes.ordered = lambda: list(changes.changes)
        changes.diff = lambda: hidden_diff(planned_diff(), self.secret)
        after = super(SdnDns, self).converge(changes)
        return dict((ref, hidden(options, self.secret)) for ref, options in after.items())


def main():
    run_object_module(SdnDns, dict(dns=dict(type="str", required=True), key=dict(type="str", no_log=True)))


if __name__ == "__main__":
    main()
