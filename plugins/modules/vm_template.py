#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vm_template
short_description: Build a Proxmox VE VM template from a cloud image, once
version_added: 0.1.0
description:
  - Creates VM O(vmid) on O(node) whose disk C(scsi0) is imported from O(image) (the RV(homecloud.proxmox.cloud_image#module:volid)
    of M(homecloud.proxmox.cloud_image)) with C(import-from) (qemu-server C(PVE/API2/Qemu.pm) C(create_vm)), optionally
    grows that disk to O(disk_size), and converts the VM to a template (C(POST .../template)). It waits for every task.
  - The VM is made for cloud images; O(storage) holds its disk and its cloud-init drive
    (C(<storage>:cloudinit) on O(cloudinit_drive)); SCSI controller C(virtio-scsi-single); guest agent on
    (C(enabled=1,fstrim_cloned_disks=1)); C(serial0) a socket with C(vga) C(serial0) (cloud images log to the
    serial console); boot order C(scsi0); C(net0) a virtio NIC on O(bridge) when given.
  - The template's description records the image it was built from (and its checksum when given), on its last
    line C(homecloud.proxmox.vm_template image=<volid> checksum=<algorithm>:<hex>). A later run finds there whether the
    template at O(vmid) is built from O(image) - then it writes nothing, or updates in one C(PUT .../config) the declared
    options that differ (O(name), O(cores), O(memory), O(bridge), O(tags), O(description) and the fixed settings
    above; PVE accepts config changes on a template, its disks stay as built).
  - A VMID holding a VM that is not a template, a container, a template of another image (or one without that record),
    or a guest on another node fails the task before any write, saying what is there.
    Build a new template under a new VMID, or remove the old one with O(state=absent) first.
  - An O(image) missing on the node fails the task before any write, naming the volume. In check mode it is a warning
    instead (an earlier M(homecloud.proxmox.cloud_image) task has only planned the download) and the build is planned.
  - O(state=absent) destroys the template with its disks (C(purge=1), C(destroy-unreferenced-disks=1)). PVE refuses
    it while linked clones use the template's base disks; the task then fails with PVE's message. A VM that is not a
    template is never removed by this module.
  - The task plans every write first; check mode and diff mode show that plan.
options:
  node:
    description: The node the template is (to be) on; the image must be on that node's storage.
    type: str
    required: true
  vmid:
    description: The template's VMID.
    type: int
    required: true
  name:
    description: The template's name (a DNS name). Required with O(state=present).
    type: str
  image:
    description:
      - The import volume to build the disk from, such as C(local:import/debian-12-genericcloud-amd64-0123456789ab.qcow2)
        (RV(homecloud.proxmox.cloud_image#module:volid)). Required with O(state=present).
    type: str
  checksum:
    description:
      - The image's checksum (V(sha256:<hex>) or V(sha512:<hex>)), as given to M(homecloud.proxmox.cloud_image);
        recorded in the description. The image's file name must carry its first 12 hex digits.
    type: str
  storage:
    description: The storage of the template's disk and cloud-init drive (content C(images)).
    type: str
    default: local-zfs
  disk_size:
    description:
      - The size to grow the imported disk to when the template is built, such as V(20G) (K, M, G, T are binary units,
        no unit is bytes). Smaller than the image fails the task before any write (PVE does not shrink disks).
      - A template's disk is not resized later; a template whose disk differs gets a warning.
    type: str
  cores:
    description: CPU cores.
    type: int
    default: 1
  memory:
    description: Memory in MiB.
    type: int
    default: 2048
  bridge:
    description: The bridge (or SDN VNet) of C(net0), a virtio NIC. Not set leaves C(net0) alone (none on a new template).
    type: str
  cloudinit_drive:
    description: The drive slot of the cloud-init drive.
    type: str
    choices: [ide2, scsi1]
    default: ide2
  tags:
    description: Tags of the template (compared as a set). Not set leaves the tags alone.
    type: list
    elements: str
  description:
    description: Free text above the image record in the template's description. Not set leaves it alone.
    type: str
  state:
    description: Whether the template exists.
    type: str
    choices: [present, absent]
    default: present
  timeout:
    description: Seconds to wait for each task (create with the disk import, resize, template, destroy).
    type: int
    default: 600
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Debian 12 image, verified by PVE
  homecloud.proxmox.cloud_image:
    node: pve1
    url: https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2
    checksum: "sha512:{{ debian_12_sha512 }}"
  register: debian_image

- name: Template 9000 from it, 20 GiB disk, on vmbr0
  homecloud.proxmox.vm_template:
    node: pve1
    vmid: 9000
    name: debian-12
    image: "{{ debian_image.volid }}"
    checksum: "sha512:{{ debian_12_sha512 }}"
    disk_size: 20G
    cores: 2
    memory: 2048
    bridge: vmbr0
    tags: [debian, cloudinit]

- name: Remove template 9000 (PVE refuses while linked clones use it)
  homecloud.proxmox.vm_template:
    node: pve1
    vmid: 9000
    state: absent
"""

RETURN = r"""
vmid:
  description: The template's VMID.
  returned: always
  type: int
  sample: 9000
image:
  description: The image volume the template is built from; V(null) when absent.
  returned: always
  type: str
  sample: local:import/debian-12-genericcloud-amd64-0123456789ab.qcow2
template:
  description: The options this module manages, as PVE holds them after the task (as planned in check mode); V(null) when absent.
  returned: always
  type: dict
  sample: {name: debian-12, cores: 2, memory: "2048", scsihw: virtio-scsi-single, agent: "enabled=1,fstrim_cloned_disks=1",
           serial0: socket, vga: serial0, boot: order=scsi0, net0: "virtio=BC:24:11:00:00:01,bridge=vmbr0", template: 1,
           description: "homecloud.proxmox.vm_template image=local:import/debian-12-genericcloud-amd64-0123456789ab.qcow2"}
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["POST /nodes/pve1/qemu agent=enabled=1,fstrim_cloned_disks=1 ... vmid=9000",
           "PUT /nodes/pve1/qemu/9000/resize disk=scsi0 size=20G", "POST /nodes/pve1/qemu/9000/template"]
written:
  description: After a failure, the calls of RV(writes) that were made before it (they are not undone).
  returned: on failure
  type: list
  elements: str
failure:
  description: The failed API call or task (method, path, status, reason, errors; upid, exitstatus, log_tail of a task).
  returned: on failure
  type: dict
"""

import re

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.images import (
    CHECKSUM_NAME_DIGITS,
    ImageInputError,
    TaskWrite,
    gib,
    import_volumes,
    parse_checksum,
    parse_import_volid,
    size_bytes,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ConvergeModule, Write, same_value

RECORD_PREFIX = "homecloud.proxmox.vm_template"
RECORD_RE = re.compile(r"^" + re.escape(RECORD_PREFIX) + r" image=(\S+)(?: checksum=(\S+))?\s*$", re.M)
# Settings every template of this module has (see DOCUMENTATION): cloud images boot from scsi0 and log to ttyS0.
FIXED_OPTIONS = dict(scsihw="virtio-scsi-single", agent="enabled=1,fstrim_cloned_disks=1", serial0="socket",
                     vga="serial0", boot="order=scsi0")
# The key a property string's bare first value stands for (qemu-server $confdesc default_key).
DEFAULT_KEYS = dict(agent="enabled", boot="legacy", vga="type")
# qemu-server QemuServer/Drive.pm: scsi0 ... "<volid>,size=<n>[KMGT]"
DRIVE_SIZE_RE = re.compile(r"(?:^|,)size=(\d+(?:\.\d+)?[KMGT]?)(?:,|$)")
TAG_SPLIT_RE = re.compile(r"[;, ]+")


def property_string(text, default_key):
    """{key: value} of a PVE property string ("enabled=1,fstrim_cloned_disks=1"; "1" = default key)."""
    parsed = {}
    for part in str(text or "").split(","):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if sep:
            parsed[key] = value
        else:
            parsed[default_key] = key
    return parsed


def tag_set(text):
    return set(tag for tag in TAG_SPLIT_RE.split(str(text or "")) if tag)


def bridge_of(net):
    return property_string(net, "model").get("bridge")


def with_bridge(net, bridge):
    """net0 with its bridge set (MAC address and other settings kept); a new virtio NIC when there is none."""
    if not net:
        return "virtio,bridge={0}".format(bridge)
    parts = [part for part in str(net).split(",") if part and not part.startswith("bridge=")]
    return ",".join(parts + ["bridge={0}".format(bridge)])


def image_record(description):
    """(image volid, checksum or None) recorded in a template's description, or (None, None)."""
    found = RECORD_RE.findall(str(description or ""))
    return found[-1] if found else (None, None)


def user_description(description):
    """The description without the image record."""
    return RECORD_RE.sub("", str(description or "")).rstrip()


def compose_description(text, image, checksum):
    record = "{0} image={1}".format(RECORD_PREFIX, image) + (" checksum={0}".format(checksum) if checksum else "")
    return "{0}\n{1}".format(text.rstrip(), record) if text and text.strip() else record


def same_option(key, current, desired):
    """Whether PVE's value of a config key means the declared one."""
    if key in DEFAULT_KEYS:
        return property_string(current, DEFAULT_KEYS[key]) == property_string(desired, DEFAULT_KEYS[key])
    if key == "tags":
        return tag_set(current) == tag_set(desired)
    if key == "net0":
        return bridge_of(current) == bridge_of(desired)
    if key == "description":
        return str(current or "").rstrip() == str(desired or "").rstrip()
    return same_value(current, desired)


def config_changes(current, desired):
    """{key: value to write} for the declared options PVE's config does not hold."""
    changes = {}
    for key, value in desired.items():
        if not same_option(key, current.get(key), value):
            changes[key] = with_bridge(current.get("net0"), bridge_of(value)) if key == "net0" else value
    return changes


class VmTemplate(ConvergeModule):

    result_key = "template"

    def __init__(self, module):
        super(VmTemplate, self).__init__(module)
        self.node = module.params["node"]
        self.vmid = module.params["vmid"]
        self.qemu_path = "/nodes/{0}/qemu".format(self.node)
        self.vm_path = "{0}/{1}".format(self.qemu_path, self.vmid)
        self.working_on = "VM template {0} on node {1}".format(self.vmid, self.node)
        self.result.update(vmid=self.vmid, image=None)

    # --- reading ----------------------------------------------------------------------------------

    def existing(self):
        """(the guest's /cluster/resources entry, its config) at the VMID, or (None, None)."""
        entry = next((item for item in self.client.get("/cluster/resources", type="vm")
                      if int(item.get("vmid", -1)) == self.vmid), None)
        if entry is None:
            return None, None
        what = self.described(entry)
        if entry.get("node") != self.node:
            raise ImageInputError("vmid {0} is {1} on node {2}, not on {3}: use a VMID that is free in the cluster, or "
                                  "name node {2}; nothing was changed".format(self.vmid, what, entry.get("node"), self.node))
        if entry.get("type") != "qemu":
            raise ImageInputError("vmid {0} is {1}, not a VM template: use a new vmid; nothing was changed".format(self.vmid, what))
        return entry, self.client.get(self.vm_path + "/config")

    def described(self, entry):
        kind = "container" if entry.get("type") == "lxc" else ("template" if int(entry.get("template") or 0) else "VM")
        return "{0} {1!r} ({2})".format(kind, entry.get("name"), entry.get("status"))

    # --- planning ---------------------------------------------------------------------------------

    def plan(self):
        params = self.module.params
        if params["state"] == "absent":
            return self.plan_absent(*self.existing())
        # the declared values first: a refusal makes no API call
        for option in ("name", "image"):
            if not params[option]:
                raise ImageInputError("{0} is required with state=present; nothing was changed".format(option))
        storage, filename, _extension = parse_import_volid(params["image"])
        checksum = self.declared_checksum(filename)
        if params["disk_size"]:
            size_bytes(params["disk_size"])
        entry, config = self.existing()
        self.result["image"] = params["image"]
        if entry is None:
            return self.plan_create(storage, checksum)
        return self.plan_update(entry, config, checksum)

    def declared_checksum(self, filename):
        """"<algorithm>:<hex>" of the checksum option, checked against the image's name; None when unset."""
        if not self.module.params["checksum"]:
            return None
        algorithm, digest = parse_checksum(self.module.params["checksum"])
        digits = digest[:CHECKSUM_NAME_DIGITS]
        if "-{0}.".format(digits) not in filename:
            raise ImageInputError("image {0} does not carry the first {1} hex digits of checksum ({2}) in its name: it is "
                                  "not the image of that checksum; nothing was changed".format(
                                      self.module.params["image"], CHECKSUM_NAME_DIGITS, digits))
        return "{0}:{1}".format(algorithm, digest)

    def desired(self, current_description, checksum):
        params = self.module.params
        desired = dict(FIXED_OPTIONS, name=params["name"], cores=params["cores"], memory=params["memory"])
        if params["bridge"]:
            desired["net0"] = "virtio,bridge={0}".format(params["bridge"])
        if params["tags"] is not None:
            desired["tags"] = ";".join(params["tags"])
        text = params["description"] if params["description"] is not None else user_description(current_description)
        desired["description"] = compose_description(text, params["image"], checksum)
        return desired

    def plan_create(self, storage, checksum):
        params = self.module.params
        listed = import_volumes(self.client, self.node, storage).get(params["image"])
        if listed is None and self.module.check_mode:
            # in check mode an earlier cloud_image task has only planned the download
            self.module.warn("image {0} is not on node {1} (yet): planned as if an earlier task downloads it; a real run "
                             "fails here if it is still missing".format(params["image"], self.node))
            listed = {}
        elif listed is None:
            raise ImageInputError("image {0} is not on node {1} (GET /nodes/{1}/storage/{2}/content?content=import): "
                                  "download it with cloud_image first; nothing was changed".format(params["image"], self.node, storage))
        desired = self.desired(None, checksum)
        create = dict(desired, vmid=self.vmid, scsi0="{0}:0,import-from={1}".format(params["storage"], params["image"]))
        create[params["cloudinit_drive"]] = "{0}:cloudinit".format(params["storage"])
        timeout = params["timeout"]
        writes = [TaskWrite("POST", self.qemu_path, create, timeout=timeout,
                            what="creation of VM {0} from {1}".format(self.vmid, params["image"]))]
        if params["disk_size"]:
            wanted, image_size = size_bytes(params["disk_size"]), int(listed.get("size") or 0)
            if wanted < image_size:
                raise ImageInputError("disk_size {0} is smaller than image {1} ({2}); PVE does not shrink disks; nothing was "
                                      "changed".format(params["disk_size"], params["image"], gib(image_size)))
            if wanted > image_size:
                writes.append(TaskWrite("PUT", self.vm_path + "/resize", dict(disk="scsi0", size=params["disk_size"]),
                                        timeout=timeout, what="resize of VM {0} scsi0 to {1}".format(self.vmid, params["disk_size"])))
        writes.append(TaskWrite("POST", self.vm_path + "/template", timeout=timeout,
                                what="conversion of VM {0} to a template".format(self.vmid)))
        return writes, None, dict(desired, template=1)

    def plan_update(self, entry, config, checksum):
        params = self.module.params
        recorded_image, recorded_checksum = image_record(config.get("description"))
        if not int(config.get("template") or 0):
            raise ImageInputError("vmid {0} holds {1}, which is not a template: vm_template neither converts nor removes "
                                  "other VMs; use a new vmid; nothing was changed".format(self.vmid, self.described(entry)))
        if recorded_image != params["image"] or (checksum and recorded_checksum and checksum != recorded_checksum):
            built_from = "image {0}".format(recorded_image) if recorded_image else "an unrecorded image (no {0} line in " \
                "its description)".format(RECORD_PREFIX)
            raise ImageInputError("vmid {0} holds template {1!r} built from {2}, not from {3}: a template's disk is not "
                                  "rebuilt in place; use a new vmid for the new image, or remove this template with "
                                  "state=absent first; nothing was changed".format(
                                      self.vmid, config.get("name"), built_from, params["image"]))
        desired = self.desired(config.get("description"), checksum or recorded_checksum)
        self.warn_disk_size(config)
        current = dict((key, config.get(key)) for key in desired if config.get(key) is not None)
        current["template"] = 1
        changes = config_changes(config, desired)
        after = dict(current, **changes)
        if not changes:
            return [], current, after
        return [Write("PUT", self.vm_path + "/config", changes)], current, after

    def warn_disk_size(self, config):
        wanted = self.module.params["disk_size"]
        found = DRIVE_SIZE_RE.search(str(config.get("scsi0") or ""))
        if wanted and found and size_bytes(found.group(1), "scsi0") != size_bytes(wanted):
            self.module.warn("template {0}: scsi0 is {1}, disk_size says {2}; a template's disk is left as built (build "
                             "a new template to change it)".format(self.vmid, found.group(1), wanted))

    def plan_absent(self, entry, config):
        if entry is None:
            return [], None, None
        if not int(config.get("template") or 0):
            raise ImageInputError("vmid {0} holds {1}, which is not a template: vm_template removes templates only; "
                                  "nothing was changed".format(self.vmid, self.described(entry)))
        before = dict((key, config.get(key)) for key in list(FIXED_OPTIONS) + ["name", "cores", "memory", "description"]
                      if config.get(key) is not None)
        before["template"] = 1
        destroy = TaskWrite("DELETE", self.vm_path, {"purge": 1, "destroy-unreferenced-disks": 1},
                            timeout=self.module.params["timeout"], what="removal of template {0}".format(self.vmid))
        return [destroy], before, None


def main():
    module = create_module(dict(
        node=dict(type="str", required=True),
        vmid=dict(type="int", required=True),
        name=dict(type="str"),
        image=dict(type="str"),
        checksum=dict(type="str"),
        storage=dict(type="str", default="local-zfs"),
        disk_size=dict(type="str"),
        cores=dict(type="int", default=1),
        memory=dict(type="int", default=2048),
        bridge=dict(type="str"),
        cloudinit_drive=dict(type="str", default="ide2", choices=["ide2", "scsi1"]),
        tags=dict(type="list", elements="str"),
        description=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        timeout=dict(type="int", default=600),
    ), supports_check_mode=True)
    VmTemplate(module).execute()


if __name__ == "__main__":
    main()
