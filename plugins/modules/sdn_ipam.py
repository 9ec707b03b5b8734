#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sdn_ipam
short_description: Manage one Proxmox VE SDN IPAM plugin (PVE, NetBox, phpIPAM)
version_added: 0.1.0
description:
  - Creates, updates or removes one IPAM plugin object (C(/cluster/sdn/ipams)), which zones name in their
    O(homecloud.proxmox.sdn_zone#module:ipam) option.
  - Only the options given are compared and written; an option set to an empty string is removed.
  - IPAM plugins are not part of PVE's pending/running SDN model; a write takes effect at once and needs no apply.
  - PVE returns the O(token) in its answers (pve-network stores it in C(sdn/ipams.cfg)), so the module compares it
    like any other option and changes it only when it differs. The module never shows a token in its result or its
    diff.
  - On create and update PVE calls the NetBox or phpIPAM API once to check O(url), O(token) and O(fingerprint), and
    refuses the write if that fails.
options:
  ipam:
    description:
      - IPAM id; 2 or more ASCII letters and digits, starting with a letter (PVE's rule).
      - V(pve) is PVE's own IPAM, always present; it cannot be removed.
    type: str
    required: true
  state:
    description: Whether the IPAM must exist.
    type: str
    choices: [present, absent]
    default: present
  type:
    description: IPAM type; required to create one, and PVE cannot change it later.
    type: str
    choices: [pve, netbox, phpipam]
  url:
    description: API URL of the IPAM (NetBox and phpIPAM; required there), for example V(https://netbox.example/api).
    type: str
  token:
    description: API token (NetBox and phpIPAM; required there).
    type: str
  section:
    description: phpIPAM section id the subnets are created in (phpIPAM; required there).
    type: int
  fingerprint:
    description: SHA-256 fingerprint of the IPAM's TLS certificate, to trust a self-signed one.
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
- name: The NetBox IPAM the tenants' zones register their subnets in
  homecloud.proxmox.sdn_ipam:
    ipam: netbox
    type: netbox
    url: https://netbox.example/api
    token: "{{ netbox_api_token }}"

- name: Remove a phpIPAM plugin that no zone uses any more
  homecloud.proxmox.sdn_ipam:
    ipam: oldipam
    state: absent
"""

RETURN = r"""
ipam:
  description:
    - The IPAM's options after the task (as planned in check mode); V(null) when absent.
    - A token is shown as V(********).
  returned: always
  type: dict
  sample: {ipam: netbox, type: netbox, url: "https://netbox.example/api", token: "********", state: applied}
sdn_changes:
  description: The objects this task changed (or would change), as V(kind/id).
  returned: always
  type: list
  elements: str
  sample: [ipam/netbox]
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

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxError
from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn_module import SdnObjectModule, run_object_module

HIDDEN = "********"
BUILT_IN = "pve"  # pve-network Ipams.pm config() adds it to every read of ipams.cfg


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


class SdnIpam(SdnObjectModule):
    kind_name = "ipam"
    secret = "token"

    def locate(self, reader):
        located = super(SdnIpam, self).locate(reader)
        if self.module.params["state"] == "absent" and located[0] == BUILT_IN:
            raise ProxmoxError("the IPAM 'pve' is built in: PVE lists it even after a delete; nothing was changed")
        return located

    def converge(self, changes):
        planned_diff = changes.diff
        # ChangeSet.ordered() sorts the writes of zones, VNets, subnets and controllers; this task has one write at most.
        changes.ordered = lambda: list(changes.changes)
        changes.diff = lambda: hidden_diff(planned_diff(), self.secret)
        after = super(SdnIpam, self).converge(changes)
        return dict((ref, hidden(options, self.secret)) for ref, options in after.items())


def main():
    run_object_module(SdnIpam, dict(ipam=dict(type="str", required=True), token=dict(type="str", no_log=True)))


if __name__ == "__main__":
    main()
