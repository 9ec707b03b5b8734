#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: guest
short_description: Declare one Proxmox VE QEMU guest cloned from a template, with its cloud-init settings
version_added: 0.1.0
description:
  - Creates the guest O(vmid) as a clone of the template O(clone), then gives it the declared hardware, NICs, disks and
    cloud-init settings; on later runs compares every declared field with what PVE holds and writes only what differs.
    Fields the task does not declare are left as they are.
  - Creation is C(POST .../clone) (a task), then one C(PUT .../config) with every declared field that differs from the
    template (the cloud-init settings included, so they are in place before the first boot), then one
    C(PUT .../resize) per disk that must grow, then a start when O(state=started).
  - An update is at most one C(PUT .../config) (with the digest of the config read, so a concurrent change makes PVE
    refuse it) and one C(PUT .../resize) per growing disk. Changing only O(ciuser), only an address or only O(cores)
    is exactly one config write. A guest is never re-created.
  - Values are compared by what they mean, as PVE stores them. NICs by model, bridge, firewall and VLAN tag (the MAC
    PVE generated is kept unless O(nics[].macaddr) is declared; NIC options the module does not model, such as
    C(mtu), are kept), O(ipconfig) by its fields, O(sshkeys) decoded from the URI encoding PVE keeps, O(tags) as a set.
  - On a running guest PVE keeps the changes it cannot apply live (cores, memory, cloud-init) pending until the next
    start (qemu-server C(PVE/QemuServer.pm) C(vmconfig_hotplug_pending)). A pending value counts as written, so a second
    run writes nothing. The result then says RV(reboot_required) with the RV(pending) keys, and the task warns; with
    O(allow_reboot=true) the module reboots the guest once (C(POST .../status/reboot)). PVE generates the cloud-init
    drive again at every start (C(vm_start)), a reboot through the API included, so no C(PUT .../cloudinit) is needed.
  - Everything is checked before the first write; an error names the guest and the field. A disk declared smaller
    than it is fails the task (PVE cannot shrink a disk) with the current and the declared size.
  - Check mode plans the same writes without sending them; with C(--diff) the declared fields before and after are
    shown (O(cipassword) masked).
options:
  vmid:
    description: The guest's id (100 to 999999999).
    type: int
    required: true
  name:
    description: The guest's name (a DNS name); at creation the clone gets it.
    type: str
  node:
    description:
      - The node of a guest to create; the template's node when not set (a clone to another node needs the template's
        disks on shared storage).
      - An existing guest is managed where it is; a different O(node) only makes the task warn.
    type: str
  clone:
    description:
      - The template to clone at creation, by vmid or by name. Required to create a guest; ignored once it exists.
    type: str
  full_clone:
    description: A full copy of the template's disks (V(true)), or a linked clone sharing them (V(false)).
    type: bool
    default: true
  storage:
    description: Where a full clone's disks go, and where O(disks) allocates new disks that name no storage.
    type: str
  pool:
    description: The resource pool the guest belongs to. An existing guest is moved into it (C(PUT /pools) with C(allow-move)).
    type: str
  cores:
    description: CPU cores per socket.
    type: int
  sockets:
    description: CPU sockets.
    type: int
  memory:
    description: Memory in MiB. At creation it may not be less than the template's (a cloud image's minimum).
    type: int
  balloon:
    description: The ballooning target in MiB (V(0) turns the balloon device off).
    type: int
  disks:
    description:
      - "Disks by config key (C(scsi0), C(virtio1), ...) with their C(size) (C(32G), C(512M), C(1T)), as a dict
        (C({scsi0: {size: 32G}}) or C({scsi0: 32G})) or a list of dicts with C(name), C(size) and optionally C(storage)."
      - A disk that exists only grows (C(PUT .../resize)); a size below the current one fails the task before any write.
      - A key the guest does not have allocates a new disk of C(size) (whole GiB) on its C(storage), O(storage)
        or the storage of the guest's first disk.
    type: raw
  nics:
    description:
      - The NICs C(net0), C(net1), ... in order. NICs beyond the list are left alone.
    type: list
    elements: dict
    suboptions:
      bridge:
        description: The bridge or SDN VNet.
        type: str
        required: true
      model:
        description: The NIC model.
        type: str
        default: virtio
      firewall:
        description: Whether PVE's firewall filters the NIC.
        type: bool
        default: true
      tag:
        description: The VLAN tag; not set means untagged.
        type: int
      macaddr:
        description: A fixed MAC address; not set keeps the one PVE generated.
        type: str
  tags:
    description: The guest's tags (a set; PVE sorts them).
    type: list
    elements: str
  description:
    description: The guest's notes.
    type: str
  onboot:
    description: Whether the guest starts when its node boots.
    type: bool
  agent:
    description: Whether the QEMU guest agent device is on (other agent options are kept).
    type: bool
    default: true
  ciuser:
    description: The cloud-init user.
    type: str
  cipassword:
    description:
      - The cloud-init user's password. PVE never returns it, so it is set when the guest is created and afterwards
        only with O(update_password=always) (which then writes it on every run).
    type: str
  update_password:
    description: When to write O(cipassword).
    type: str
    choices: [on_create, always]
    default: on_create
  sshkeys:
    description: Public SSH keys for the cloud-init user, one key a line each. Stored URI-encoded, as the GUI does.
    type: list
    elements: str
  ipconfig:
    description:
      - Cloud-init addresses, one item a NIC in the order of O(nics) (C(ipconfig0) for C(net0) ...).
      - Each item has C(ip) (CIDR or V(dhcp)), C(gw), C(ip6) (CIDR, V(dhcp) or V(auto)), C(gw6).
    type: list
    elements: dict
  nameserver:
    description: DNS servers cloud-init configures.
    type: list
    elements: str
  searchdomain:
    description: DNS search domains cloud-init configures.
    type: list
    elements: str
  state:
    description:
      - V(present) - the guest exists; its power state is left alone.
      - V(started) - it exists and runs. V(stopped) - it exists and is shut down (C(status/shutdown), forced after
        O(timeout)).
      - V(absent) - it is stopped if it runs, then destroyed with its disks (C(purge=1),
        C(destroy-unreferenced-disks=1)). A template is never destroyed by this module.
    type: str
    choices: [present, started, stopped, absent]
    default: present
  allow_reboot:
    description: Reboot a running guest once when changes wait for its next start.
    type: bool
    default: false
  ipam:
    description:
      - Register each static address of O(ipconfig) with its NIC's MAC address in the IPAM of the NIC's SDN VNet
        (C(POST /cluster/sdn/vnets/{vnet}/ips)), so PVE's IPAM holds the guest's addresses; release the ones the guest
        no longer has (C(DELETE)), and all of them when the guest is removed. NICs on a plain bridge, or on a VNet
        whose zone has no IPAM, have nothing to register.
      - An address is registered before the guest is created (a second guest cannot be given it by PVE) and is
        released after the guest is gone. Declare O(nics[].macaddr) for the NICs to register, since PVE generates
        another MAC at the clone otherwise; without it the task fails before any write.
      - PVE lists registrations only for zones with DHCP (C(GET /cluster/sdn/ipams/pve/status)); tenant zones
        (EVPN) have none, so the module cannot read them back. It registers when the guest's addresses change (or
        the guest is created or removed), never on a run that changes nothing, and counts PVE's answers
        C(IP '<ip>' already exist) to a registration and C(... does not exist in IPAM DB) to a release as done, so
        a run that failed half-way is finished by the next.
    type: bool
    default: false
  wait_for_address:
    description:
      - With O(state=started), wait until the guest agent reports the static addresses of O(ipconfig) (or, with DHCP,
        any address), and return them in RV(addresses).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each task (clone, resize, start, stop, delete) and for the addresses.
    type: int
    default: 300
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: web1 of tenant acme, from the Debian template, on the tenant's VNet
  homecloud.proxmox.guest:
    vmid: 4010
    name: web1
    clone: debian-12-cloud
    storage: local-zfs
    pool: acme
    cores: 2
    memory: 4096
    disks:
      scsi0: {size: 32G}
    nics:
      - {bridge: acme01}
    ipconfig:
      - {ip: 10.0.1.20/24, gw: 10.0.1.1}
    nameserver: [10.0.1.1]
    ciuser: ops
    sshkeys: ["{{ lookup('file', 'files/ops.pub') }}"]
    tags: [acme, web]
    state: started

- name: More cores; reboot now rather than at the next maintenance
  homecloud.proxmox.guest:
    vmid: 4010
    cores: 4
    allow_reboot: true

- name: Gone, with its disks
  homecloud.proxmox.guest:
    vmid: 4010
    state: absent
"""

RETURN = r"""
vmid:
  description: The guest's id.
  returned: always
  type: int
node:
  description: The guest's node.
  returned: when the guest exists (or is planned)
  type: str
status:
  description: V(running) or V(stopped) after the task (as planned in check mode); V(null) when absent.
  returned: always
  type: str
config:
  description: The guest's config after the task (planned in check mode), as PVE answers it; C(cipassword) masked.
  returned: when the guest exists (or is planned)
  type: dict
reboot_required:
  description: Whether changes wait for the guest's next start.
  returned: always
  type: bool
pending:
  description: The config keys that wait for the next start.
  returned: always
  type: list
  elements: str
addresses:
  description: The addresses the guest agent reported (interface, mac, address, prefix, family).
  returned: when the module waited for them
  type: list
  elements: dict
writes:
  description: The API calls the task made (or, in check mode, would make), in order; C(cipassword) masked.
  returned: always
  type: list
  elements: str
  sample: ["POST /nodes/pve1/qemu/9000/clone full=1 name=web1 newid=4010 storage=local-zfs",
           "PUT /nodes/pve1/qemu/4010/config ciuser=ops cores=2 ipconfig0=ip=10.0.1.20/24,gw=10.0.1.1"]
written:
  description: After a failure, the calls of RV(writes) that were made before it (they are not undone).
  returned: on failure
  type: list
  elements: str
failure:
  description: The failed API call (method, path, status, reason, errors), for C(failed_when).
  returned: on failure
  type: dict
"""

import ipaddress
import re
import time

from ansible_collections.homecloud.proxmox.plugins.module_utils.access import members_of
from ansible_collections.homecloud.proxmox.plugins.module_utils.base import create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxApiError, ProxmoxError
from ansible_collections.homecloud.proxmox.plugins.module_utils.images import TaskWrite
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ConvergeModule, Write
from ansible_collections.homecloud.proxmox.plugins.module_utils.qemu import (
    ALLOC_RE,
    GIB,
    UNCHANGED,
    GuestInputError,
    addresses_ready,
    agent_addresses,
    agent_value,
    check_sshkeys,
    check_tags,
    config_changes,
    config_from_pending,
    config_view,
    declared_ipconfig,
    declared_nic,
    disks_of,
    drive_storage,
    encode_sshkeys,
    expected_addresses,
    format_size,
    has_cloudinit_drive,
    is_drive_key,
    memory_mib,
    needs_restart,
    nic_value,
    parse_drive,
    parse_ipconfig,
    parse_net,
    parse_size,
    print_ipconfig,
    print_net,
    resized,
    registered_addresses,
    restart_pending_keys,
    same_config_value,
    split_tags,
    written_config,
)

# Declared options and the config key each sets; the list ones map to several keys.
SCALAR_FIELDS = ("name", "cores", "sockets", "memory", "balloon", "onboot", "agent", "tags", "description", "ciuser",
                 "cipassword", "sshkeys", "nameserver", "searchdomain")
LIST_FIELDS = ("nics", "ipconfig", "disks")
POLL_INTERVAL = 2.0


class ConfigWrite(Write):
    """The config PUT; the digest of the config the plan read goes with it, not into the plan line."""

    def __init__(self, path, params, digest=None, confirm=None):
        Write.__init__(self, "PUT", path, params, secret_keys=("cipassword",), confirm=confirm)
        self.digest = digest

    def send(self, client):
        params = dict(self.params, digest=self.digest) if self.digest else self.params
        return client.call(self.method, self.path, params, confirm=self.confirm).get("data")


class IpamWrite(Write):
    """A guest address registered in (POST) or released from (DELETE) its VNet's IPAM.

    PVE cannot list the registrations of a zone without DHCP, so a registration that is already there
    (pve-network Ipams/PVEPlugin.pm add_ip: "IP '<ip>' already exist") or a release of one that is gone
    (del_ip: "IP '<ip>' does not exist in IPAM DB") is what the write wanted; after a lost answer the
    write is sent again for the same reason.
    """

    DONE = {"POST": "already exist", "DELETE": "does not exist in IPAM DB"}

    def __init__(self, method, vnet, zone, address, mac):
        Write.__init__(self, method, "/cluster/sdn/vnets/{0}/ips".format(vnet), dict(zone=zone, ip=address, mac=mac),
                       confirm=lambda: False, what="{0} {1} ({2}) in the IPAM of vnet {3}".format(
                           "register" if method == "POST" else "release", address, mac, vnet))

    def send(self, client):
        try:
            return Write.send(self, client)
        except ProxmoxApiError as error:
            if self.DONE[self.method] in " ".join([str(error.reason)] + list(error.details)):
                return None
            raise


def declared_disks(value):
    """{key: {size, storage}} of the ``disks`` option (a dict by key, or a list of dicts with ``name``)."""
    if value is None:
        return None
    items = value.items() if isinstance(value, dict) else [((item or {}).get("name"), item) for item in value]
    disks = {}
    for key, item in items:
        spec = dict(size=item) if not isinstance(item, dict) else dict(item)
        if not key or not is_drive_key(key):
            raise GuestInputError("disks: {0!r} is not a disk key (scsi0, virtio1, sata0, ide1, ...); {1}".format(key, UNCHANGED))
        if spec.get("size") is None:
            raise GuestInputError("disks.{0}.size: required; {1}".format(key, UNCHANGED))
        spec["bytes"] = parse_size(spec["size"], "disks.{0}.size".format(key))
        disks[key] = spec
    return disks


class Guest(ConvergeModule):

    secret_keys = ("cipassword",)

    def __init__(self, module):
        super(Guest, self).__init__(module)
        self.vmid = module.params["vmid"]
        self.working_on = "guest {0}".format(self.vmid)
        self.sleep = time.sleep
        self.clock = time.monotonic
        self.node = None
        self.status = None
        self.running_after = False
        self.restart_keys = []
        self.reboot_planned = False
        self.after_config = None
        self.agent_seen = None  # what the guest agent reported while the plan was made
        self.ipam_zones = {}  # vnet -> its zone with an IPAM (None: nothing to register)

    # --- reading -----------------------------------------------------------------------------------

    def task_write(self, method, path, params=None, what=None):
        """A write answered with a task id, waited for (up to ``timeout``) before the next one."""
        return TaskWrite(method, path, params, timeout=self.module.params["timeout"],
                         what="{0} ({1})".format(what or "{0} {1}".format(method, path), self.working_on))

    def path(self, node, vmid=None, tail=""):
        return "/nodes/{0}/qemu/{1}{2}".format(node, vmid or self.vmid, tail)

    def resource(self, vmid):
        for entry in self.client.get("/cluster/resources", type="vm"):
            if str(entry.get("vmid")) == str(vmid):
                return entry
        return None

    def template_resource(self, clone):
        """The /cluster/resources entry of the template named by ``clone`` (vmid or name)."""
        resources = self.client.get("/cluster/resources", type="vm")
        if str(clone).isdigit():
            found = [entry for entry in resources if str(entry.get("vmid")) == str(clone)]
        else:
            found = [entry for entry in resources if entry.get("name") == clone and entry.get("template")]
            if len(found) > 1 and self.module.params["node"]:
                found = [entry for entry in found if entry.get("node") == self.module.params["node"]] or found
        if not found and str(clone).isdigit() and self.module.params["node"]:
            # /cluster/resources lists only the guests the caller may audit: PVE's own answer for the template says
            # whether it is missing or hidden (a 403 naming VM.Audit on /vms/<vmid>)
            self.client.get(self.path(self.module.params["node"], clone, "/status/current"))
        if not found:
            raise GuestInputError("guest {0}: clone: no template {1!r} in the cluster; {2}".format(self.vmid, clone, UNCHANGED))
        if len(found) > 1:
            raise GuestInputError("guest {0}: clone: {1} templates are named {2!r} (vmids {3}); name one by vmid; {4}".format(
                self.vmid, len(found), clone, ", ".join(str(entry["vmid"]) for entry in found), UNCHANGED))
        entry = found[0]
        if entry.get("type") != "qemu" or not entry.get("template"):
            raise GuestInputError("guest {0}: clone: {1} (vmid {2}) is not a QEMU template; {3}".format(
                self.vmid, clone, entry.get("vmid"), UNCHANGED))
        return entry

    def in_pool(self, entry, pool):
        """Whether the guest is a member of ``pool``. /cluster/resources names a guest's pool only to a caller with
        Pool.Audit on it (pve-manager PVE/API2/Cluster.pm resources); without it the pool's own member list
        (GET /pools?poolid=, readable with Pool.Allocate as well) tells."""
        if entry.get("pool") is not None:
            return False  # visible, and another pool
        answer = self.client.get("/pools", poolid=pool) or []
        return bool(answer) and self.vmid in members_of(answer[0])[0]

    def read_config(self, node):
        """(written config, digest, pending answer) of the guest: pending values count as written."""
        config = self.client.get(self.path(node, tail="/config")) or {}
        pending = self.client.get(self.path(node, tail="/pending")) or []
        return written_config(config, pending), config.get("digest"), pending

    def read_written(self, node):
        """(written config, pending answer) from ``GET .../pending`` alone: it lists every current value and
        the pending ones, so a run that changes nothing reads each guest's config once. The digest a
        write needs comes from read_config, called only when there is something to write."""
        pending = self.client.get(self.path(node, tail="/pending")) or []
        return written_config(config_from_pending(pending), pending), pending

    def restart_pending(self, node, pending, config):
        """The keys waiting for the next start; keeps what the agent reported for the address check."""
        keys, self.agent_seen = restart_pending_keys(self.client, self.path(node), pending, config)
        return keys

    # --- the declared config ---------------------------------------------------------------------------------

    def desired_config(self, current, creating):
        """{config key: text} of the declared fields, built on the current (or template) config."""
        params = self.module.params
        desired = {}
        for field in ("name", "description", "ciuser"):
            if params[field] is not None:
                desired[field] = params[field]
        for field in ("cores", "sockets", "memory", "balloon"):
            if params[field] is not None:
                desired[field] = str(params[field])
        if params["onboot"] is not None:
            desired["onboot"] = "1" if params["onboot"] else "0"
        if params["agent"] is not None:
            desired["agent"] = agent_value(current.get("agent"), params["agent"])
        if params["tags"] is not None:
            check_tags(params["tags"])
            desired["tags"] = ";".join(split_tags(params["tags"]))
        if params["sshkeys"] is not None:
            check_sshkeys(params["sshkeys"])
            desired["sshkeys"] = encode_sshkeys(params["sshkeys"])
        for field in ("nameserver", "searchdomain"):
            if params[field] is not None:
                desired[field] = " ".join(params[field])
        for index, item in enumerate(params["nics"] or []):
            key = "net{0}".format(index)
            base = current.get(key)
            if creating and base:
                # the clone has a MAC PVE generated for it, not the template's: send none, PVE makes one
                base = print_net(dict((name, value) for name, value in parse_net(base).items() if name != "macaddr"))
            desired[key] = nic_value(declared_nic(item, index), base)
        ipconfig = params["ipconfig"] or []
        nic_count = len(params["nics"]) if params["nics"] is not None else \
            len([key for key in current if key.startswith("net") and key[3:].isdigit()])
        if len(ipconfig) > nic_count:
            raise GuestInputError("guest {0}: ipconfig: {1} item(s) for {2} NIC(s); each item configures the NIC of its "
                                  "position; {3}".format(self.vmid, len(ipconfig), nic_count, UNCHANGED))
        for index, item in enumerate(ipconfig):
            desired["ipconfig{0}".format(index)] = print_ipconfig(declared_ipconfig(item or {}, index))
        return desired

    def disk_plan(self, current, disks):
        """(new disk options {key: "<storage>:<GiB>"}, resizes [(key, bytes)]); shrinking refused."""
        new, grow = {}, []
        existing = disks_of(current)
        for key in sorted(disks or {}):
            spec = disks[key]
            if key in existing:
                size = existing[key]
                if size is not None and spec["bytes"] < size:
                    raise GuestInputError("guest {0}: disks.{1}: declared {2} but the disk is {3}; PVE cannot shrink a disk; "
                                          "{4}".format(self.vmid, key, spec["size"], format_size(size), UNCHANGED))
                if size is None or spec["bytes"] > size:
                    grow.append((key, spec["bytes"]))
            elif key in current:
                raise GuestInputError("guest {0}: disks.{1}: the guest has {2} there, not a disk; {3}".format(
                    self.vmid, key, current[key], UNCHANGED))
            else:
                if spec["bytes"] % GIB:
                    raise GuestInputError("guest {0}: disks.{1}.size: a new disk is allocated in whole GiB, not {2}; {3}".format(
                        self.vmid, key, spec["size"], UNCHANGED))
                storage = spec.get("storage") or self.module.params["storage"] or self.first_disk_storage(current)
                if not storage:
                    raise GuestInputError("guest {0}: disks.{1}.storage: required (the guest has no disk to take it from); "
                                          "{2}".format(self.vmid, key, UNCHANGED))
                new[key] = "{0}:{1}".format(storage, spec["bytes"] // GIB)
        return new, grow

    @staticmethod
    def first_disk_storage(config):
        for key in sorted(disks_of(config)):
            storage = drive_storage(parse_drive(config[key]))
            if storage and not ALLOC_RE.match(parse_drive(config[key]).get("file", "")):
                return storage
        return None

    def ipam_zone(self, vnet):
        """The SDN zone of ``vnet`` when it has an IPAM, else None (a plain bridge, or a zone without IPAM)."""
        if vnet not in self.ipam_zones:
            try:
                zone = self.client.get("/cluster/sdn/vnets/{0}".format(vnet))["zone"]
            except ProxmoxApiError as error:
                if "does not exist" not in str(error.reason):
                    raise
                zone = None
            if zone is not None and not (self.client.get("/cluster/sdn/zones/{0}".format(zone)) or {}).get("ipam"):
                zone = None
            self.ipam_zones[vnet] = zone
        return self.ipam_zones[vnet]

    def ipam_writes(self, current, after):
        """Release the registrations the guest loses, register the ones it gains (see the ipam option)."""
        if not self.module.params.get("ipam"):
            return []
        if after is not None:
            for key in sorted(key for key in after if re.match(r"^ipconfig\d+$", key)):
                net = parse_net(after.get("net" + key[len("ipconfig"):]))
                static = [value for field, value in parse_ipconfig(after[key]).items() if field in ("ip", "ip6") and "/" in value]
                if static and net.get("bridge") and not net.get("macaddr"):
                    raise GuestInputError("guest {0}: ipam: {1} has no MAC address to register {2} with; declare "
                                          "nics[{3}].macaddr; {4}".format(self.vmid, key.replace("ipconfig", "net"),
                                                                          ", ".join(static), key[len("ipconfig"):], UNCHANGED))
        before = registered_addresses(current or {})
        wanted = registered_addresses(after or {})
        writes = []
        for method, entries in (("DELETE", before - wanted), ("POST", wanted - before)):
            for vnet, address, mac in sorted(entries):
                zone = self.ipam_zone(vnet)
                # A NIC moved by hand to a VNet whose subnets do not hold its address was never registered there:
                # nothing to release (PVE would refuse: "can't find any subnet for ip").
                if zone is not None and (method == "POST" or self.vnet_holds(vnet, address)):
                    writes.append(IpamWrite(method, vnet, zone, address, mac))
        return writes

    def vnet_holds(self, vnet, address):
        """Whether ``address`` lies in one of the subnets of ``vnet`` (GET /cluster/sdn/vnets/{vnet}/subnets)."""
        ip = ipaddress.ip_address(address.split("/", 1)[0])
        for subnet in self.client.get("/cluster/sdn/vnets/{0}/subnets".format(vnet)) or []:
            cidr = subnet.get("cidr")
            if cidr and ip.version == ipaddress.ip_network(cidr, strict=False).version and ip in ipaddress.ip_network(cidr, strict=False):
                return True
        return False

    def declared_fields(self):
        params = self.module.params
        fields = [field for field in SCALAR_FIELDS if params.get(field) is not None]
        return fields + [field for field in LIST_FIELDS if params.get(field) is not None]

    # --- the plan -----------------------------------------------------------------------------------------------

    def plan(self):
        params = self.module.params
        if not 100 <= self.vmid <= 999999999:
            raise GuestInputError("vmid: {0} is not a guest id (100 to 999999999); {1}".format(self.vmid, UNCHANGED))
        disks = declared_disks(params["disks"])
        entry = self.resource(self.vmid)
        if entry is not None and (entry.get("type") != "qemu" or entry.get("template")):
            raise GuestInputError("guest {0}: vmid {0} is {1}, not a QEMU guest this module manages; {2}".format(
                self.vmid, "a template" if entry.get("template") else "a container", UNCHANGED))
        if params["state"] == "absent":
            return self.plan_absent(entry)
        if entry is None:
            return self.plan_create(disks)
        return self.plan_update(entry, disks)

    def plan_absent(self, entry):
        if entry is None:
            return [], None, None
        self.node = entry["node"]
        writes = []
        if entry.get("status") == "running":
            writes.append(self.task_write("POST", self.path(self.node, tail="/status/stop")))
        writes.append(self.task_write("DELETE", self.path(self.node), {"purge": 1, "destroy-unreferenced-disks": 1}))
        if self.module.params.get("ipam"):
            writes += self.ipam_writes(self.read_written(self.node)[0], None)
        return writes, dict(vmid=self.vmid, node=self.node, status=entry.get("status")), None

    def plan_create(self, disks):
        params = self.module.params
        if not params["clone"]:
            raise GuestInputError("guest {0} does not exist; set clone (a template's vmid or name) to create it; {1}".format(
                self.vmid, UNCHANGED))
        template = self.template_resource(params["clone"])
        source_node = template["node"]
        self.node = params["node"] or source_node
        base = dict((key, value) for key, value in (self.client.get(self.path(source_node, template["vmid"], "/config")) or {}).items()
                    if key not in ("digest", "template"))
        if params["memory"] is not None and memory_mib(base.get("memory")) and params["memory"] < memory_mib(base["memory"]):
            raise GuestInputError("guest {0}: memory: {1} MiB is less than the template's {2} MiB; {3}".format(
                self.vmid, params["memory"], memory_mib(base["memory"]), UNCHANGED))
        clone = {"newid": self.vmid, "name": params["name"], "full": params["full_clone"], "pool": params["pool"],
                 "storage": params["storage"] if params["full_clone"] else None,
                 "target": self.node if self.node != source_node else None}
        writes = [self.task_write("POST", self.path(source_node, template["vmid"], "/clone"), clone,
                                  what="clone template {0} to guest {1}".format(template["vmid"], self.vmid))]
        if params["name"] is not None:
            base["name"] = params["name"]
        desired = self.desired_config(base, creating=True)
        if params["cipassword"] is not None:
            desired["cipassword"] = params["cipassword"]
        self.warn_without_cloudinit_drive(base)
        changes = config_changes(base, desired)
        new_disks, grow = self.disk_plan(base, disks)
        changes.update(new_disks)
        if changes:
            writes.append(ConfigWrite(self.path(self.node, tail="/config"), changes))
        after = dict(base, **changes)
        writes = self.ipam_writes(None, after) + writes
        writes += self.resize_writes(grow, after)
        self.status = "stopped"
        if params["state"] == "started":
            writes.append(self.task_write("POST", self.path(self.node, tail="/status/start")))
            self.status = "running"
        self.after_config = after
        return writes, None, self.view(after)

    def warn_without_cloudinit_drive(self, config):
        declared = [field for field in ("ciuser", "cipassword", "sshkeys", "ipconfig", "nameserver", "searchdomain")
                    if self.module.params.get(field) is not None]
        if declared and not has_cloudinit_drive(config):
            self.module.warn("guest {0}: {1} set, but the guest has no cloud-init drive: the settings reach the guest only "
                             "once one is added (ide2: <storage>:cloudinit)".format(self.vmid, ", ".join(declared)))

    def resize_writes(self, grow, after):
        writes = []
        for key, size in grow:
            what = "grow disk {0} of guest {1} to {2}".format(key, self.vmid, format_size(size))
            writes.append(self.task_write("PUT", self.path(self.node, tail="/resize"), dict(disk=key, size=format_size(size)),
                                          what=what))
            after[key] = resized(after[key], size)
        return writes

    def plan_update(self, entry, disks):
        params = self.module.params
        self.node = entry["node"]
        if params["node"] and params["node"] != self.node:
            self.module.warn("guest {0} is on node {1}, not on {2}: managed where it is".format(self.vmid, self.node, params["node"]))
        current, pending = self.read_written(self.node)
        running = entry.get("status") == "running"
        desired = self.desired_config(current, creating=False)
        if params["cipassword"] is not None and params["update_password"] == "always":
            desired["cipassword"] = params["cipassword"]
        changes = config_changes(current, desired)
        if "cipassword" in desired:
            changes["cipassword"] = desired["cipassword"]  # PVE answers it masked: never comparable
        new_disks, grow = self.disk_plan(current, disks)
        changes.update(new_disks)
        after = dict(current, **changes)
        writes = self.ipam_writes(current, after)
        digest = None
        if changes:
            digest = self.read_config(self.node)[1]  # the config file's digest guards the write
            writes.append(ConfigWrite(self.path(self.node, tail="/config"), changes, digest,
                                      confirm=lambda: self.holds(dict((key, value) for key, value in changes.items()
                                                                      if key != "cipassword" and key not in new_disks))))
        writes += self.resize_writes(grow, after)
        if params["pool"] is not None and entry.get("pool") != params["pool"] and not self.in_pool(entry, params["pool"]):
            writes.append(Write("PUT", "/pools", {"poolid": params["pool"], "vms": self.vmid, "allow-move": 1}))
        self.restart_keys = []
        if running:
            hotplug = current.get("hotplug")
            self.restart_keys = sorted(set(self.restart_pending(self.node, pending, current))
                                       | set(key for key in changes if needs_restart(key, hotplug)))
        writes += self.power_writes(running)
        self.after_config = after
        before = self.view(current)
        return writes, before, self.view(after)

    def power_writes(self, running):
        state = self.module.params["state"]
        if state == "started" and not running:
            self.status = "running"
            self.restart_keys = []  # a start applies the pending values and generates the cloud-init drive
            return [self.task_write("POST", self.path(self.node, tail="/status/start"))]
        if state == "stopped" and running:
            self.status = "stopped"
            self.restart_keys = []
            return [self.task_write("POST", self.path(self.node, tail="/status/shutdown"),
                                    {"forceStop": 1, "timeout": self.module.params["timeout"]})]
        self.status = "running" if running else "stopped"
        if running and self.restart_keys and self.module.params["allow_reboot"]:
            self.reboot_planned = True
            return [self.reboot_write()]
        return []

    def reboot_write(self):
        return self.task_write("POST", self.path(self.node, tail="/status/reboot"), {"timeout": self.module.params["timeout"]},
                               what="reboot guest {0} for {1}".format(self.vmid, ", ".join(self.restart_keys)))

    def holds(self, expected):
        """For a config write whose answer was lost: does PVE hold the written values now?"""
        current, _digest, _pending = self.read_config(self.node)
        return all(same_config_value(key, current.get(key), value) for key, value in expected.items())

    def view(self, config):
        return config_view(config, self.declared_fields())

    # --- sending -------------------------------------------------------------------------------------------------

    def finish(self, writes):
        params = self.module.params
        self.result.update(vmid=self.vmid, node=self.node, status=self.status, reboot_required=False, pending=[])
        if params["state"] == "absent":
            self.result["status"] = None
            return
        if self.module.check_mode:
            if self.reboot_planned:
                self.restart_keys = []
        elif writes:
            # what PVE holds now, not what the plan expected: the keys it really left pending
            self.after_config, _digest, pending = self.read_config(self.node)
            self.status = (self.resource(self.vmid) or {}).get("status", self.status)
            self.restart_keys = self.restart_pending(self.node, pending, self.after_config) \
                if self.status == "running" else []
            if self.restart_keys and params["allow_reboot"] and not self.reboot_planned and params["state"] != "stopped":
                reboot = self.reboot_write()
                self.result["writes"].append(str(reboot))
                self.send([reboot])
                self.restart_keys = []
        self.result.update(status=self.status, config=self.shown(self.after_config), reboot_required=bool(self.restart_keys),
                           pending=list(self.restart_keys))
        if self.restart_keys:
            self.module.warn("guest {0}: {1} wait(s) for the next start of the guest; set allow_reboot to reboot it".format(
                self.vmid, ", ".join(self.restart_keys)))
        if params["state"] == "started" and params["wait_for_address"] and not self.module.check_mode:
            if not params["agent"]:
                self.module.warn("guest {0}: wait_for_address needs the guest agent (agent is false): not waited".format(self.vmid))
            else:
                expected = expected_addresses(self.after_config or {})
                if any(key.startswith("ipconfig") for key in self.restart_keys):
                    # the guest keeps its address until its next start (reported in pending): nothing to wait for
                    self.result["addresses"] = self.agent_seen or []
                elif not writes and self.agent_seen is not None and addresses_ready(self.agent_seen, expected):
                    self.result["addresses"] = self.agent_seen  # read while planning: nothing changed since
                else:
                    self.result["addresses"] = self.wait_for_addresses(expected)

    def wait_for_addresses(self, expected):
        """Poll the guest agent until it reports the expected addresses; fail after ``timeout`` naming what it saw."""
        path = self.path(self.node, tail="/agent/network-get-interfaces")
        deadline = self.clock() + self.module.params["timeout"]
        seen, last_error = [], None
        while True:
            try:
                seen = agent_addresses(self.client.get(path))
                last_error = None
            except ProxmoxApiError as error:
                # 500 "QEMU guest agent is not running" until the guest has booted its agent
                if error.status != 500:
                    raise
                last_error = error.reason
            if addresses_ready(seen, expected):
                return seen
            if self.clock() >= deadline:
                raise ProxmoxError("guest {0}: the guest agent did not report {1} within {2} s; it reported {3}{4}".format(
                    self.vmid, ", ".join(expected) if expected else "any address", self.module.params["timeout"],
                    ", ".join(entry["address"] for entry in seen) or "nothing",
                    " (last answer: {0})".format(last_error) if last_error else ""))
            self.sleep(POLL_INTERVAL)


def main():
    module = create_module(dict(
        vmid=dict(type="int", required=True),
        name=dict(type="str"),
        node=dict(type="str"),
        clone=dict(type="str"),
        full_clone=dict(type="bool", default=True),
        storage=dict(type="str"),
        pool=dict(type="str"),
        cores=dict(type="int"),
        sockets=dict(type="int"),
        memory=dict(type="int"),
        balloon=dict(type="int"),
        disks=dict(type="raw"),
        nics=dict(type="list", elements="dict", options=dict(
            bridge=dict(type="str", required=True),
            model=dict(type="str", default="virtio"),
            firewall=dict(type="bool", default=True),
            tag=dict(type="int"),
            macaddr=dict(type="str"),
        )),
        tags=dict(type="list", elements="str"),
        description=dict(type="str"),
        onboot=dict(type="bool"),
        agent=dict(type="bool", default=True),
        ciuser=dict(type="str"),
        cipassword=dict(type="str", no_log=True),
        update_password=dict(type="str", default="on_create", choices=["on_create", "always"], no_log=False),
        sshkeys=dict(type="list", elements="str", no_log=False),
        ipconfig=dict(type="list", elements="dict"),
        nameserver=dict(type="list", elements="str"),
        searchdomain=dict(type="list", elements="str"),
        state=dict(type="str", default="present", choices=["present", "started", "stopped", "absent"]),
        allow_reboot=dict(type="bool", default=False),
        ipam=dict(type="bool", default=False),
        wait_for_address=dict(type="bool", default=True),
        timeout=dict(type="int", default=300),
    ), supports_check_mode=True)
    Guest(module).execute()


if __name__ == "__main__":
    main()
