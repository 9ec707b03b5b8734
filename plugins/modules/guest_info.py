#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: guest_info
short_description: Read Proxmox VE QEMU guests, their config, pending changes and agent addresses
version_added: 0.1.0
description:
  - Lists the QEMU guests of the cluster (C(GET /cluster/resources)), or one guest by O(vmid) or O(name), each with
    its config (C(GET .../config), pending values applied as PVE answers it), the keys waiting for the next start
    (C(GET .../pending), and on a running guest C(GET .../cloudinit)), its status, pool and tags, and the NICs, disks
    and cloud-init addresses parsed from the config.
  - With O(addresses=true), the addresses the QEMU guest agent reports for each running guest with the agent on
    (C(GET .../agent/network-get-interfaces)); a guest whose agent does not answer has RV(guests[].addresses) V(null).
  - Only reads; safe in check mode. C(cipassword) is answered masked by PVE.
options:
  vmid:
    description: Only this guest.
    type: int
  name:
    description: Only the guests of this name.
    type: str
  node:
    description: Only the guests on this node.
    type: str
  templates:
    description: Include templates (V(true)), or only them (V(only)); V(false) leaves them out.
    type: str
    choices: ['true', 'false', 'only']
    default: 'true'
  addresses:
    description: Ask the guest agent of each running guest for its addresses.
    type: bool
    default: false
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.attributes.INFO_MODULE
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Where web1 is and what it runs with
  homecloud.proxmox.guest_info:
    name: web1
    addresses: true
  register: web1

- name: Its first address
  ansible.builtin.debug:
    msg: "{{ web1.guests[0].addresses[0].address }}"
"""

RETURN = r"""
guests:
  description: The guests found, by vmid.
  returned: always
  type: list
  elements: dict
  contains:
    vmid:
      description: The guest's id.
      type: int
    name:
      description: Its name.
      type: str
    node:
      description: Its node.
      type: str
    status:
      description: V(running), V(stopped), ...
      type: str
    template:
      description: Whether it is a template.
      type: bool
    pool:
      description: Its resource pool, or V(null).
      type: str
    tags:
      description: Its tags, sorted.
      type: list
      elements: str
    config:
      description: Its config as PVE answers it (pending values applied, no digest).
      type: dict
    pending:
      description: The config keys that wait for the guest's next start.
      type: list
      elements: str
    nics:
      description: C(net<n>) parsed (model, macaddr, bridge, firewall, tag, ...).
      type: dict
    disks:
      description: Disk keys and their sizes (C(32G)); no CD-ROM, no cloud-init drive.
      type: dict
    ipconfig:
      description: C(ipconfig<n>) parsed (ip, gw, ip6, gw6).
      type: dict
    sshkeys:
      description: The cloud-init public keys, decoded.
      type: list
      elements: str
    addresses:
      description: With O(addresses), the addresses the agent reports (interface, mac, address, prefix, family).
      type: list
      elements: dict
"""

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import ProxmoxModule, create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxApiError
from ansible_collections.homecloud.proxmox.plugins.module_utils.qemu import (
    agent_addresses,
    agent_enabled,
    config_view,
    decode_sshkeys,
    pending_keys,
    restart_pending_keys,
    split_tags,
    written_config,
)


class GuestInfo(ProxmoxModule):

    def run(self):
        params = self.module.params
        self.working_on = "the guest list"
        found = []
        for entry in self.client.get("/cluster/resources", type="vm"):
            if entry.get("type") != "qemu" or not self.wanted(entry):
                continue
            found.append(self.describe(entry))
        self.result["guests"] = sorted(found, key=lambda guest: guest["vmid"])
        if params["vmid"] is not None and not found:
            self.module.warn("no QEMU guest with vmid {0}{1}".format(
                params["vmid"], " on node " + params["node"] if params["node"] else ""))

    def wanted(self, entry):
        params = self.module.params
        template = bool(entry.get("template"))
        return ((params["vmid"] is None or int(entry["vmid"]) == params["vmid"])
                and (params["name"] is None or entry.get("name") == params["name"])
                and (params["node"] is None or entry.get("node") == params["node"])
                and (params["templates"] != "false" or not template)
                and (params["templates"] != "only" or template))

    def describe(self, entry):
        vmid, node = int(entry["vmid"]), entry["node"]
        self.working_on = "guest {0}".format(vmid)
        base = "/nodes/{0}/qemu/{1}".format(node, vmid)
        pending_answer = self.client.get(base + "/pending") or []
        config = written_config(self.client.get(base + "/config") or {}, pending_answer)
        running = entry.get("status") == "running"
        pending = restart_pending_keys(self.client, base, pending_answer, config)[0] if running else pending_keys(pending_answer)
        view = config_view(config, ("nics", "ipconfig", "disks"))
        guest = dict(vmid=vmid, name=entry.get("name") or config.get("name"), node=node, status=entry.get("status"),
                     template=bool(entry.get("template")), pool=entry.get("pool"), tags=split_tags(config.get("tags")),
                     config=config, pending=sorted(pending), nics=view["nics"], disks=view["disks"],
                     ipconfig=view["ipconfig"], sshkeys=decode_sshkeys(config.get("sshkeys")))
        if self.module.params["addresses"]:
            guest["addresses"] = None
            if running and config.get("agent") is not None and agent_enabled(config["agent"]):
                try:
                    guest["addresses"] = agent_addresses(self.client.get(base + "/agent/network-get-interfaces"))
                except ProxmoxApiError as error:
                    if error.status != 500:  # "QEMU guest agent is not running": the guest has not booted it yet
                        raise
        return guest


def main():
    module = create_module(dict(
        vmid=dict(type="int"),
        name=dict(type="str"),
        node=dict(type="str"),
        templates=dict(type="str", default="true", choices=["true", "false", "only"]),
        addresses=dict(type="bool", default=False),
    ), supports_check_mode=True)
    GuestInfo(module).execute()


if __name__ == "__main__":
    main()
