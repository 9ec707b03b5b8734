#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sdn_ip
short_description: Reserve an IP address for a MAC address in a VNet, in PVE's own IPAM
version_added: 0.1.0
description:
  - Makes sure an address of a VNet's subnet is reserved for a MAC address (and optionally a guest id) in
    PVE's IPAM, or is not reserved. PVE's DHCP (dnsmasq) hands the reserved address to that MAC.
  - PVE lists reservations only for zones whose IPAM is V(pve) and that have DHCP
    (C(GET /cluster/sdn/ipams/pve/status)), and finds an address's subnet among the applied ones; so the VNet's
    zone must have O(homecloud.proxmox.sdn_zone#module:ipam=pve) and O(homecloud.proxmox.sdn_zone#module:dhcp),
    and the zone and the subnet must be applied. The module refuses anything else, before any write.
  - A reservation of the address for the same MAC (compared without case) is left as it is, or only gets its
    O(vmid). A reservation for another MAC is deleted and the address reserved again for O(mac).
  - PVE keeps one address per MAC and IP family in a zone (C(PUT /cluster/sdn/vnets/{vnet}/ips) moves it); if
    O(mac) already holds another address of the same family in the VNet, that reservation moves to O(ip).
    If it holds one in another VNet of the zone, the module refuses.
  - These writes are not part of PVE's pending/running SDN model and take no lock; they need no apply.
options:
  vnet:
    description: VNet whose subnet holds O(ip).
    type: str
    required: true
  ip:
    description: The reserved address, IPv4 or IPv6, inside one of the VNet's applied subnets.
    type: str
    required: true
  mac:
    description:
      - MAC address the address is reserved for; required when O(state=present). Written in upper case.
      - With O(state=absent), the reservation is deleted only if it is for this MAC.
    type: str
  vmid:
    description: Guest id recorded with the reservation (PVE shows it in the IPAM view).
    type: int
  state:
    description: Whether the reservation must exist. The gateway of a subnet is never changed or removed.
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
- name: The web server's address in tenant acme's VNet
  homecloud.proxmox.sdn_ip:
    vnet: acme01
    ip: 10.128.49.10
    mac: BC:24:11:4A:00:10
    vmid: 4010

- name: Free the address
  homecloud.proxmox.sdn_ip:
    vnet: acme01
    ip: 10.128.49.10
    mac: BC:24:11:4A:00:10
    state: absent
"""

RETURN = r"""
reservation:
  description: The reservation after the task (as planned in check mode); V(null) when the address is not reserved.
  returned: always
  type: dict
  sample: {vnet: acme01, zone: acme, subnet: 10.128.49.0/24, ip: 10.128.49.10, mac: "BC:24:11:4A:00:10", vmid: 4010}
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["POST /cluster/sdn/vnets/acme01/ips ip=10.128.49.10 mac=BC:24:11:4A:00:10"]
written:
  description:
    - After a failure, the calls of RV(writes) that were made before it. They are not undone, so after a refused
      create the address may be free; run the task again once the cause is fixed.
  returned: on failure
  type: list
  elements: str
"""

import ipaddress

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import ProxmoxModule, create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxApiError, ProxmoxError

STATUS = "/cluster/sdn/ipams/pve/status"
KEPT = ("ip", "mac", "vmid")  # what a reservation is, in diffs and results


def same_mac(entry, mac):
    return bool(entry.get("mac")) and entry["mac"].upper() == mac.upper()


def family(address):
    return ipaddress.ip_address(address).version


class Write:
    """One call on /cluster/sdn/vnets/{vnet}/ips and the reservation it leaves at its address."""

    def __init__(self, method, vnet, zone, ip, mac=None, vmid=None):
        self.method = method
        self.path = "/cluster/sdn/vnets/{0}/ips".format(vnet)
        self.params = dict((key, value) for key, value in (("zone", zone), ("ip", ip), ("mac", mac), ("vmid", vmid))
                           if value is not None)

    def __str__(self):
        return "{0} {1} {2}".format(self.method, self.path, " ".join(
            "{0}={1}".format(key, self.params[key]) for key in ("ip", "mac", "vmid") if key in self.params))

    def in_place(self, entry):
        """After a lost answer: True if the address holds what this write leaves, False if not."""
        if self.method == "DELETE":
            return entry is None
        return entry is not None and same_mac(entry, self.params["mac"]) and (
            "vmid" not in self.params or entry.get("vmid") == self.params["vmid"])


def guest_id_as_int(entry):
    """PVE 8.x returns a reservation's vmid as the string it stored; 9.x as an integer
    (pve-network 37c2156). Compare it as the integer the vmid option is."""
    if entry.get("vmid") not in (None, ""):
        return dict(entry, vmid=int(entry["vmid"]))
    return entry


class SdnIp(ProxmoxModule):

    def run(self):
        params = self.module.params
        self.vnet, self.ip = params["vnet"], self.canonical(params["ip"])
        self.working_on = "ip/{0}/{1}".format(self.vnet, self.ip)
        self.zone = self.vnet_zone(absent_ok=params["state"] == "absent")
        if self.zone is None:  # no VNet, so no reservation in it
            self.result.update(reservation=None, writes=[])
            return
        self.check_zone()
        self.subnet = self.applied_subnet()
        entries = self.zone_entries()
        current = self.entry_at(entries, self.ip)
        if current is not None and current.get("gateway"):
            raise ProxmoxError("{0} is the gateway of subnet {1} in PVE's IPAM; this module never changes it".format(
                self.ip, self.subnet))
        writes, before, after = self.plan(entries, current)
        self.result["writes"] = [str(write) for write in writes]
        self.result["changed"] = bool(writes)
        if self.module._diff:  # pylint: disable=protected-access
            self.result["diff"] = dict(before=dict(reservations=before), after=dict(reservations=after))
        if writes and not self.module.check_mode:
            for done, write in enumerate(writes):
                # a failure half-way (the old reservation deleted, the new one refused) is not undone:
                # the result says which calls were made
                self.result["written"] = self.result["writes"][:done]
                self.result["changed"] = bool(done)
                self.client.request(write.method, write.path, confirm=lambda write=write: write.in_place(
                    self.entry_at(self.zone_entries(), self.ip)), **write.params)
            self.result.pop("written")
            self.result["changed"] = True
            after = dict((entry["ip"], self.shown(entry)) for entry in self.zone_entries() if entry["vnet"] == self.vnet
                         and entry["ip"] in after)
        self.result["reservation"] = dict(after[self.ip], vnet=self.vnet, zone=self.zone, subnet=self.subnet) \
            if self.ip in after else None

    # --- reads ---

    def canonical(self, text):
        """The address as PVE keeps it (NetAddr::IP canon: IPv6 compressed, lower case)."""
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            raise ProxmoxError("ip {0!r} is not an IP address; nothing was changed".format(text))

    def vnet_zone(self, absent_ok):
        try:
            return self.client.get("/cluster/sdn/vnets/{0}".format(self.vnet))["zone"]
        except ProxmoxApiError as error:
            if "does not exist" not in str(error.reason):
                raise
            if absent_ok:
                return None
            raise ProxmoxError("vnet '{0}' does not exist: create and apply it, with a subnet that holds {1}, "
                               "before reserving addresses in it; nothing was changed".format(self.vnet, self.ip))

    def check_zone(self):
        """PVE lists reservations only for applied zones with ipam `pve` and DHCP (Ipams.pm ipamindex)."""
        try:
            zone = self.client.get("/cluster/sdn/zones/{0}".format(self.zone), running=1)
        except ProxmoxApiError as error:
            if "does not exist" not in str(error.reason):
                raise
            zone = {}
        if zone.get("ipam") != "pve" or not zone.get("dhcp"):
            raise ProxmoxError(
                "zone '{0}' of vnet '{1}' must be applied with ipam 'pve' and dhcp set (it has ipam {2!r}, dhcp {3!r} "
                "in the running config): PVE lists reservations only for such zones (GET {4}), so this module could not "
                "tell whether {5} is reserved; nothing was changed".format(
                    self.zone, self.vnet, zone.get("ipam"), zone.get("dhcp"), STATUS, self.ip))

    def applied_subnet(self):
        """PVE finds an address's subnet among the VNet's applied subnets (Vnets.pm get_subnet_from_vnet_ip)."""
        for subnet in self.client.get("/cluster/sdn/vnets/{0}/subnets".format(self.vnet), running=1):
            network = ipaddress.ip_network(subnet["cidr"], strict=False)
            if ipaddress.ip_address(self.ip) in network:
                return str(network)
        raise ProxmoxError("no applied subnet of vnet '{0}' holds {1}: create the subnet and apply it first; "
                           "nothing was changed".format(self.vnet, self.ip))

    def zone_entries(self):
        return [guest_id_as_int(entry) for entry in self.client.get(STATUS) if entry.get("zone") == self.zone]

    def entry_at(self, entries, address):
        return next((entry for entry in entries if entry["vnet"] == self.vnet and entry["ip"] == address), None)

    @staticmethod
    def shown(entry):
        return dict((key, entry[key]) for key in KEPT if entry.get(key) is not None)

    # --- the plan ---

    def plan(self, entries, current):
        """(writes, reservations before, reservations after), keyed by address."""
        params = self.module.params
        mac, vmid = params["mac"], params["vmid"]
        before = {self.ip: self.shown(current)} if current is not None else {}
        if params["state"] == "absent":
            if current is None or mac and not same_mac(current, mac):
                return [], before, dict(before)
            return [Write("DELETE", self.vnet, self.zone, self.ip, mac=current.get("mac"))], before, {}
        if current is not None and same_mac(current, mac):
            if vmid is None or current.get("vmid") == vmid:
                return [], before, dict(before)
            after = dict(before, **{self.ip: dict(before[self.ip], vmid=vmid)})
            return [Write("PUT", self.vnet, self.zone, self.ip, mac=current["mac"], vmid=vmid)], before, after
        writes = [Write("DELETE", self.vnet, self.zone, self.ip, mac=current.get("mac"))] if current is not None else []
        holder = self.holder(entries, mac)
        reserved = dict(ip=self.ip, mac=mac.upper(), **({} if vmid is None else dict(vmid=vmid)))
        if holder is not None:  # PVE's update moves the MAC's address of this family to the new one
            before[holder["ip"]] = self.shown(holder)
            reserved["mac"] = holder["mac"]
            writes.append(Write("PUT", self.vnet, self.zone, self.ip, mac=holder["mac"], vmid=vmid))
        else:
            writes.append(Write("POST", self.vnet, self.zone, self.ip, mac=mac.upper()))
            if vmid is not None:  # the create takes no guest id; the update adds it
                writes.append(Write("PUT", self.vnet, self.zone, self.ip, mac=mac.upper(), vmid=vmid))
        return writes, before, {self.ip: reserved}

    def holder(self, entries, mac):
        """The reservation of the same IP family that `mac` holds elsewhere in the zone, if any."""
        for entry in entries:
            if entry["ip"] != self.ip and same_mac(entry, mac) and family(entry["ip"]) == family(self.ip):
                if entry["vnet"] != self.vnet:
                    raise ProxmoxError(
                        "mac {0} already has {1} reserved in vnet '{2}' of zone '{3}'; PVE keeps one address per MAC and "
                        "family in a zone and can only move it within a VNet: remove that reservation first; nothing "
                        "was changed".format(mac, entry["ip"], entry["vnet"], self.zone))
                return entry
        return None


def main():
    module = create_module(dict(
        vnet=dict(type="str", required=True),
        ip=dict(type="str", required=True),
        mac=dict(type="str"),
        vmid=dict(type="int"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    ), supports_check_mode=True, required_if=[("state", "present", ("mac",))])
    SdnIp(module).execute()


if __name__ == "__main__":
    main()
