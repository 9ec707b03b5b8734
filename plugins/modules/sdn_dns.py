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
# BEGIN sdn returns
sdn_changes:
  description: The objects this task changed (or would change), as V(kind/name) (subnets as V(subnet/<vnet>/<cidr>)).
  returned: always
  type: list
  elements: str
  sample: [zone/acme, vnet/acme01, subnet/acme01/10.128.49.0/24]
pending:
  description: Objects with pending changes seen before the task wrote, as V(kind/name).
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
written:
  description: After a failure, the objects this task wrote that are still pending (not rolled back).
  returned: on failure, when something stayed written
  type: list
  elements: str
rolled_back:
  description:
    - After a failure, the objects this task wrote that PVE's rollback discarded (PVE 9.x).
    - Nothing of the task is left then, so the task reports no change.
  returned: on failure, after a rollback
  type: list
  elements: str
uncertain:
  description: The object whose write got no answer (a proxy's 502/504, a dropped connection) and whose outcome is unknown.
  returned: on failure, when a write's outcome could not be confirmed
  type: list
  elements: str
failure:
  description:
    - The failed API call, so that C(failed_when) and C(rescue) can branch on its status or on a refused field.
    - V(uncertain=true) marks a write whose outcome is unknown.
  returned: on failure
  type: dict
  sample: {method: POST, path: /cluster/sdn/zones, status: 400, reason: Parameter verification failed., errors: {zone: invalid format}}
# END sdn returns
"""

from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn_module import SdnObjectModule, run_object_module


class SdnDns(SdnObjectModule):
    kind_name = "dns"


def main():
    run_object_module(SdnDns, dict(dns=dict(type="str", required=True)))


if __name__ == "__main__":
    main()
