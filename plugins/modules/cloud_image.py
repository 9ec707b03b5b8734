#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cloud_image
short_description: Download a checksum-verified cloud image to a Proxmox VE storage as import content
version_added: 0.1.0
description:
  - Has PVE download a cloud image (qcow2, raw or vmdk) from O(url) into the C(import) content of O(storage) on O(node),
    with C(POST /nodes/{node}/storage/{storage}/download-url) (PVE 8.4 and 9.1), and waits for the download task.
    The result's RV(volid) is what M(homecloud.proxmox.vm_template) builds a template from.
  - PVE's download task verifies the file against O(checksum) before it places it, and removes it on a mismatch
    (pve-storage C(PVE/API2/Storage/Status.pm) C(download_url), pve-common C(PVE/Tools.pm) C(download_file_from_url)).
    A download without a checksum is refused before any API call.
  - The stored file name carries the checksum's first 12 hex digits before the extension, for example
    C(debian-12-genericcloud-amd64-0123456789ab.qcow2). Since PVE only places a file under that name after the
    checksum matched, a file of that name on the storage B(is) the proof the image was verified; a run that finds it
    downloads nothing. A new image (a new checksum) gets a new name, so an image never replaces another one in place.
    This holds for files PVE downloaded; a file uploaded by other means under such a name is taken as it is.
  - A checksum mismatch fails the task naming the URL, the expected checksum and PVE's message; nothing stays on
    the storage.
  - Names PVE's C(import) content refuses (anything but C([a-zA-Z0-9-.+=_]) ending in C(.qcow2), C(.raw), C(.vmdk) or
    C(.ova)) are refused before any call, and so are C(.ova) archives (not a disk image). Ubuntu's C(.img) cloud
    images are qcow2, so give them a O(filename) ending in C(.qcow2).
  - The task plans every write first; check mode reports the download it would make, diff mode shows the file.
options:
  node:
    description: The node whose storage receives the image (C(local) is per node).
    type: str
    required: true
  storage:
    description: A file based storage with content C(import) (a fresh PVE's C(local) has it).
    type: str
    default: local
  url:
    description:
      - Where PVE downloads the image from (V(http://) or V(https://)), from the node itself.
      - Required with O(state=present); with O(state=absent) it names the file unless O(filename) does.
    type: str
  checksum:
    description:
      - The image's checksum as V(sha256:<64 hex digits>) or V(sha512:<128 hex digits>), as the distribution
        publishes it (C(SHA256SUMS), C(SHA512SUMS)). PVE's download task verifies the file against it.
      - Required in both states (the stored name carries its first 12 hex digits).
    type: str
  filename:
    description:
      - The file name to store the image under, before the checksum digits are added; default the last part of
        O(url)'s path. PVE replaces characters other than C(a-zA-Z0-9_.-) by C(_) and so does this module.
      - A name that already carries the checksum's first 12 hex digits before the extension (RV(filename) of an
        earlier run) is used as it is.
    type: str
  verify_certificates:
    description: Whether the node checks the TLS certificate of an V(https://) O(url) (PVE's C(verify-certificates)).
    type: bool
    default: true
  state:
    description: Whether the image is on the storage. V(absent) deletes the file (PVE's C(DELETE .../content/{volume})).
    type: str
    choices: [present, absent]
    default: present
  timeout:
    description: Seconds to wait for the download (or delete) task.
    type: int
    default: 1800
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Debian 12 generic cloud image on pve1, verified by PVE
  homecloud.proxmox.cloud_image:
    node: pve1
    url: https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2
    checksum: "sha512:{{ debian_12_sha512 }}"
  register: debian_image

- name: Ubuntu 24.04 (published as .img, which is qcow2)
  homecloud.proxmox.cloud_image:
    node: pve1
    url: https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img
    checksum: "sha256:{{ ubuntu_2404_sha256 }}"
    filename: noble-server-cloudimg-amd64.qcow2

- name: A template from the image
  homecloud.proxmox.vm_template:
    node: pve1
    vmid: 9000
    name: debian-12
    image: "{{ debian_image.volid }}"
"""

RETURN = r"""
volid:
  description: The image's volume id, for O(homecloud.proxmox.vm_template#module:image).
  returned: always
  type: str
  sample: local:import/debian-12-genericcloud-amd64-0123456789ab.qcow2
filename:
  description: The stored file name (with the checksum's first 12 hex digits).
  returned: always
  type: str
  sample: debian-12-genericcloud-amd64-0123456789ab.qcow2
size:
  description: The image's size in bytes as PVE lists it; V(null) in check mode before the download, and when absent.
  returned: always
  type: int
  sample: 3221225472
image:
  description: The image after the task (as planned in check mode); V(null) when absent.
  returned: always
  type: dict
  sample: {volid: "local:import/debian-12-genericcloud-amd64-0123456789ab.qcow2", format: qcow2, size: 3221225472}
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["POST /nodes/pve1/storage/local/download-url checksum=... checksum-algorithm=sha512 content=import ..."]
written:
  description: After a failure, the calls of RV(writes) that were made before it.
  returned: on failure
  type: list
  elements: str
failure:
  description: The failed API call or task (method, path, status, reason, errors; upid, exitstatus, log_tail of a task).
  returned: on failure
  type: dict
"""

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxTaskError
from ansible_collections.homecloud.proxmox.plugins.module_utils.images import (
    ImageInputError,
    TaskWrite,
    import_volid,
    import_volumes,
    parse_checksum,
    verified_filename,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ConvergeModule


def image_view(volid, entry):
    """What the result shows of a listed import volume."""
    return dict(volid=volid, format=entry.get("format"), size=entry.get("size"))


class CloudImage(ConvergeModule):

    result_key = "image"

    def __init__(self, module):
        super(CloudImage, self).__init__(module)
        params = module.params
        self.node = params["node"]
        self.storage = params["storage"]
        self.filename = None
        self.volid = None
        self.algorithm = self.checksum = None
        self.download = None
        self.working_on = "the import content of storage {0} on node {1}".format(self.storage, self.node)

    def declared_name(self):
        """The stored file name, from the options alone (no API call), or ImageInputError."""
        params = self.module.params
        if params["state"] == "present" and not params["url"]:
            raise ImageInputError("url is required with state=present; nothing was changed")
        if params["state"] == "absent" and not (params["url"] or params["filename"]):
            raise ImageInputError("url or filename is required to name the file to remove; nothing was changed")
        self.algorithm, self.checksum = parse_checksum(params["checksum"])
        return verified_filename(params["url"], self.checksum, params["filename"])

    def plan(self):
        params = self.module.params
        self.filename = self.declared_name()
        self.volid = import_volid(self.storage, self.filename)
        self.result.update(volid=self.volid, filename=self.filename, size=None)
        listed = import_volumes(self.client, self.node, self.storage).get(self.volid)
        current = image_view(self.volid, listed) if listed else None
        content_path = "/nodes/{0}/storage/{1}".format(self.node, self.storage)
        if params["state"] == "absent":
            if current is None:
                return [], None, None
            return [TaskWrite("DELETE", "{0}/content/{1}".format(content_path, self.volid), timeout=params["timeout"],
                              what="removal of {0} on node {1}".format(self.volid, self.node))], current, None
        self.result["size"] = current["size"] if current else None
        if current is not None:
            return [], current, current
        self.download = TaskWrite("POST", content_path + "/download-url", dict(
            url=params["url"], content="import", filename=self.filename, checksum=self.checksum,
            **{"checksum-algorithm": self.algorithm, "verify-certificates": params["verify_certificates"]}),
            timeout=params["timeout"], what="download of {0} to {1} on node {2}".format(params["url"], self.volid, self.node))
        return [self.download], None, dict(volid=self.volid, format=self.filename.rpartition(".")[2], size=None)

    def send(self, writes):
        try:
            super(CloudImage, self).send(writes)
        except ProxmoxTaskError as error:
            if self.download is None:
                raise
            raise self.download_failed(error)

    def download_failed(self, error):
        """The failed download, naming the URL, the expected checksum, PVE's message and what is left."""
        left = self.volid in import_volumes(self.client, self.node, self.storage)
        failed = ProxmoxTaskError(error.upid, "download of {0} failed on node {1}: {2}; expected {3}:{4}; {5}".format(
            self.module.params["url"], self.node, error.exitstatus or error, self.algorithm, self.checksum,
            "{0} is on the storage".format(self.volid) if left else "nothing was stored ({0} does not exist)".format(self.volid)),
            exitstatus=error.exitstatus, log_tail=error.log_tail)
        failed.result = getattr(error, "result", None)
        self.result["image"] = None
        return failed

    def finish(self, writes):
        if not writes or self.module.check_mode or self.module.params["state"] == "absent":
            if self.module.params["state"] == "absent":
                self.result["size"] = None
            return
        listed = import_volumes(self.client, self.node, self.storage).get(self.volid)
        if listed:
            self.result["image"] = image_view(self.volid, listed)
            self.result["size"] = listed.get("size")


def main():
    module = create_module(dict(
        node=dict(type="str", required=True),
        storage=dict(type="str", default="local"),
        url=dict(type="str"),
        checksum=dict(type="str"),
        filename=dict(type="str"),
        verify_certificates=dict(type="bool", default=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        timeout=dict(type="int", default=1800),
    ), supports_check_mode=True)
    CloudImage(module).execute()


if __name__ == "__main__":
    main()
