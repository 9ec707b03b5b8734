#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: guest_restore
short_description: Restore a Proxmox VE QEMU guest from a backup to a new VMID
version_added: 0.1.0
description:
  - Restores O(archive), or the newest backup of O(source_vmid) on O(backup_storage) (C(GET
    /nodes/{node}/storage/{storage}/content), C(content=backup)), to the new guest O(vmid) on O(node)
    (C(POST /nodes/{node}/qemu) with C(archive), a C(qmrestore) task), with new MAC addresses (C(unique)) and into
    O(pool). The restored guest is left stopped - its cloud-init address is the original's.
  - Never over an existing guest - PVE would only do that with C(force), which this module never sends - so
    a VMID that is taken (C(GET /cluster/resources)) is refused before any write.
  - In check mode the same refusals, the backup is chosen and the restore planned (RV(vmid), RV(archive), RV(writes)),
    nothing is written. With C(--diff) the new guest (none before).
options:
  vmid:
    description: The VMID of the restored guest; must be free.
    type: int
    required: true
  node:
    description: The node to restore to.
    type: str
    required: true
  archive:
    description: The backup volume (C(pbs-acme:backup/vm/10110/2025-01-01T00:00:00Z)). Either this or O(source_vmid).
    type: str
  source_vmid:
    description: Restore the newest backup of this guest found on O(backup_storage).
    type: int
  backup_storage:
    description: The storage that holds the backups (a PBS storage, or a directory storage with content C(backup)).
    type: str
  storage:
    description: Where the restored disks go; each disk's old storage when not set.
    type: str
  pool:
    description: The resource pool the restored guest joins.
    type: str
  unique:
    description: New MAC addresses (and SMBIOS UUID) for the restored guest, so it can run beside the original.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for the restore task.
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
- name: web1's newest backup as guest 10112 in acme's pool
  homecloud.proxmox.guest_restore:
    vmid: 10112
    node: pve1
    source_vmid: 10110
    backup_storage: pbs-acme
    pool: acme
"""

RETURN = r"""
vmid:
  description: The restored guest's VMID.
  returned: always
  type: int
archive:
  description: The backup restored.
  returned: always
  type: str
backup_time:
  description: UNIX time of that backup (C(ctime)), when it was looked up.
  returned: when O(source_vmid) is used
  type: int
writes:
  description: The API writes made (or, in check mode, planned).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import ProxmoxModule, create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxError
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import Write


def newest_backup(content, vmid):
    """The backup volume of guest `vmid` with the latest ctime in a storage's content list, or None."""
    backups = [entry for entry in content if entry.get("content") == "backup" and entry.get("vmid") is not None
               and int(entry["vmid"]) == vmid]
    return max(backups, key=lambda entry: (int(entry.get("ctime") or 0), entry["volid"])) if backups else None


class GuestRestore(ProxmoxModule):

    def run(self):
        params = self.module.params
        vmid = params["vmid"]
        self.working_on = "guest {0}".format(vmid)
        for entry in self.client.get("/cluster/resources", type="vm"):
            if int(entry["vmid"]) == vmid:
                raise ProxmoxError("vmid: guest {0} exists already (on {1}, {2}): a restore never replaces a guest".format(
                    vmid, entry.get("node"), entry.get("status")))
        archive = params["archive"]
        if archive is None:
            self.working_on = "the backups on {0}".format(params["backup_storage"])
            content = self.client.get("/nodes/{0}/storage/{1}/content".format(params["node"], params["backup_storage"]),
                                      content="backup", vmid=params["source_vmid"])
            backup = newest_backup(content or [], params["source_vmid"])
            if backup is None:
                raise ProxmoxError("backup: storage {0} holds no backup of guest {1}".format(params["backup_storage"], params["source_vmid"]))
            archive = backup["volid"]
            self.result["backup_time"] = int(backup.get("ctime") or 0)
        restore = Write("POST", "/nodes/{0}/qemu".format(params["node"]),
                        dict(vmid=vmid, archive=archive, unique=params["unique"], pool=params["pool"], storage=params["storage"]))
        self.result.update(vmid=vmid, archive=archive, writes=[str(restore)], changed=True)
        if self.module._diff:  # pylint: disable=protected-access
            self.result["diff"] = dict(before={}, after=dict(vmid=vmid, node=params["node"], archive=archive, pool=params["pool"],
                                                             status="stopped"))
        if self.module.check_mode:
            return
        self.working_on = "the restore of {0} to guest {1}".format(archive, vmid)
        upid = restore.send(self.client)
        self.client.wait_task(upid, timeout=params["timeout"], what="restore of {0} to guest {1}".format(archive, vmid))


def main():
    module = create_module(dict(
        vmid=dict(type="int", required=True),
        node=dict(type="str", required=True),
        archive=dict(type="str"),
        source_vmid=dict(type="int"),
        backup_storage=dict(type="str"),
        storage=dict(type="str"),
        pool=dict(type="str"),
        unique=dict(type="bool", default=True),
        timeout=dict(type="int", default=600),
    ), supports_check_mode=True, required_one_of=[("archive", "source_vmid")], mutually_exclusive=[("archive", "source_vmid")],
        required_by=dict(source_vmid=("backup_storage",)))
    GuestRestore(module).execute()


if __name__ == "__main__":
    main()
