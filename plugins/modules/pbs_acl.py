#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: pbs_acl
short_description: Grant or revoke one role on a Proxmox Backup Server ACL path
version_added: 0.1.0
description:
  - Makes sure one entry of PBS's access control list (a path, a role, and the user or API token it is granted to) is
    present with its O(propagate) flag, or absent. Other entries, also other roles of the same user or token on the
    same path, are left alone.
  - Compared against C(GET /access/acl) of the path; one C(PUT /access/acl) grants the role or changes its propagate
    flag, one with C(delete=1) revokes it.
  - PBS has a fixed set of roles (no custom roles) and no group ACL entries. Granting C(NoAccess) makes PBS drop the
    other roles of that user or token on the path, and granting another role drops C(NoAccess).
  - Check mode and diff mode show the planned write and the entry before and after.
options:
  path:
    description:
      - ACL path, for example V(/datastore/tenants/acme) (the namespace C(acme) of datastore C(tenants)),
        V(/datastore/tenants), V(/system) or V(/).
      - A datastore path has at most 7 namespace levels below the store.
    type: str
    required: true
  role:
    description:
      - The role granted on O(path). C(DatastoreBackup) lets a tenant's token write backups and read its own;
        C(DatastoreReader) reads and restores; C(DatastoreAudit) only lists.
    type: str
    required: true
    choices: [Admin, Audit, NoAccess, DatastoreAdmin, DatastoreReader, DatastoreBackup, DatastorePowerUser, DatastoreAudit,
              RemoteAudit, RemoteAdmin, RemoteSyncOperator, RemoteSyncPushOperator, RemoteDatastorePowerUser,
              RemoteDatastoreAdmin, TapeAudit, TapeAdmin, TapeOperator, TapeReader]
  auth_id:
    description:
      - The user (C(name@realm)) or API token (C(name@realm!token)) the entry grants to. It must exist to be granted.
    type: str
    required: true
  propagate:
    description: Whether the role also applies below O(path) (to the namespaces of a datastore, for example).
    type: bool
    default: true
  state:
    description: Whether the entry must exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - homecloud.proxmox.pbs
  - homecloud.proxmox.pbs.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Tenant acme's token backs up into its own namespace only
  homecloud.proxmox.pbs_acl:
    path: /datastore/tenants/acme
    role: DatastoreBackup
    auth_id: "homecloud-acme@pbs!backup"
"""

RETURN = r"""
acl:
  description: The entry after the task (as planned in check mode); V(null) when absent.
  returned: always
  type: dict
  sample: {path: /datastore/tenants/acme, ugid: "homecloud-acme@pbs!backup", roleid: DatastoreBackup, propagate: true}
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["PUT /access/acl auth-id=homecloud-acme@pbs!backup path=/datastore/tenants/acme propagate=1 role=DatastoreBackup"]
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

from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import Write, same_value
from ansible_collections.homecloud.proxmox.plugins.module_utils.pbs import (
    ROLES,
    PbsObjectModule,
    create_pbs_module,
    normalize_acl_path,
    split_authid,
)


class PbsAcl(PbsObjectModule):
    result_key = "acl"

    def __init__(self, module):
        super(PbsAcl, self).__init__(module)
        params = module.params
        self.auth_id, self.role = params["auth_id"], params["role"]
        self.acl_path = params["path"]
        self.working_on = "role {0} of {1} on {2}".format(self.role, self.auth_id, self.acl_path)

    def read(self):
        split_authid(self.auth_id)
        self.acl_path = normalize_acl_path(self.module.params["path"])
        # call(): the query has a `path` of its own
        for entry in self.client.call("GET", "/access/acl", {"path": self.acl_path, "exact": True}).get("data") or []:
            if entry.get("path") == self.acl_path and entry.get("ugid") == self.auth_id and entry.get("roleid") == self.role:
                return self.entry(bool(same_value(entry.get("propagate", True), True)))
        return None

    def entry(self, propagate):
        return dict(path=self.acl_path, ugid=self.auth_id, roleid=self.role, propagate=propagate)

    def desired(self):
        return self.entry(self.module.params["propagate"])

    def grant(self, propagate):
        # the whole entry travels: PBS sets the role with this flag (AclTreeNode insert_user_role)
        expected = self.entry(propagate)
        return Write("PUT", "/access/acl", {"path": self.acl_path, "role": self.role, "auth-id": self.auth_id,
                                            "propagate": propagate}, confirm=lambda: self.holds(expected))

    def create_writes(self, desired):
        return [self.grant(desired["propagate"])]

    def update_writes(self, current, changes):
        return [self.grant(changes["propagate"])]

    def delete_writes(self, current):
        return [Write("PUT", "/access/acl", {"path": self.acl_path, "role": self.role, "auth-id": self.auth_id,
                                             "delete": True}, confirm=lambda: self.holds(None))]


def main():
    module = create_pbs_module(dict(
        path=dict(type="str", required=True),
        role=dict(type="str", required=True, choices=list(ROLES)),
        auth_id=dict(type="str", required=True),
        propagate=dict(type="bool", default=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    ), supports_check_mode=True)
    PbsAcl(module).execute()


if __name__ == "__main__":
    main()
