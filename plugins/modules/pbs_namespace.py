#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: pbs_namespace
short_description: Manage one backup namespace of a Proxmox Backup Server datastore
version_added: 0.1.0
description:
  - Creates or removes one namespace (C(/admin/datastore/{store}/namespace)), for example one per tenant, so each
    tenant's backups and ACL entries (C(/datastore/<store>/<namespace>)) are apart.
  - A nested namespace (V(tenants/acme)) is created with every missing parent, top down, as C(mkdir -p) would;
    PBS itself refuses a namespace whose parent does not exist.
  - PBS's name rules are checked before any write. Each level is a name of letters, digits, C(_), C(.), C(-) (at most
    32 characters, not starting with C(.) or C(-)); at most 7 levels and 256 characters in all.
  - Removing a namespace removes the empty namespaces below it too, as PBS does. A namespace that holds backup groups
    (in it or below it) is only removed with O(delete_groups=true), which deletes those backups; otherwise the task
    fails before any write, naming the groups.
  - Check mode and diff mode show the planned writes and the namespaces before and after.
options:
  store:
    description: The datastore (see M(homecloud.proxmox.pbs_datastore)).
    type: str
    required: true
  namespace:
    description: The namespace, its levels separated by C(/), for example V(acme) or V(tenants/acme).
    type: str
    required: true
    aliases: [ns]
  delete_groups:
    description:
      - With O(state=absent), also delete the backup groups (and all their snapshots) in the namespace and below it.
    type: bool
    default: false
  state:
    description: Whether the namespace must exist.
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
- name: One namespace per tenant
  homecloud.proxmox.pbs_namespace:
    store: tenants
    namespace: "{{ item }}"
  loop: [acme, globex]
"""

RETURN = r"""
namespaces:
  description: The namespace and those below it after the task (as planned in check mode); empty when absent.
  returned: always
  type: list
  elements: str
  sample: [tenants/acme]
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["POST /admin/datastore/tenants/namespace name=tenants", "POST /admin/datastore/tenants/namespace name=acme parent=tenants"]
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

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxApiError
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import Write
from ansible_collections.homecloud.proxmox.plugins.module_utils.pbs import (
    MAX_NAMESPACE_DEPTH,
    PbsConvergeModule,
    PbsInputError,
    check_datastore_name,
    create_pbs_module,
    namespace_components,
)


class PbsNamespace(PbsConvergeModule):
    result_key = "namespaces"

    def plan(self):
        params = self.module.params
        store = check_datastore_name(params["store"])
        components = namespace_components(params["namespace"])
        if not components:
            raise PbsInputError("namespace: the root namespace of a datastore always exists and cannot be removed; "
                                "name a namespace below it")
        namespace = "/".join(components)
        self.working_on = "namespace {0} of datastore {1}".format(namespace, store)
        path = "/admin/datastore/{0}/namespace".format(store)
        # every namespace of the store down to this one's depth and below it (PBS lists the anchor first)
        held = self.namespaces(store, path)
        below = sorted(name for name in held if name == namespace or name.startswith(namespace + "/"))
        if params["state"] == "absent":
            if not below:
                return [], [], []
            self.refuse_groups(store, below)
            return [Write("DELETE", path, {"ns": namespace, "delete-groups": params["delete_groups"] or None},
                          confirm=lambda: self.gone(path, namespace))], below, []
        writes = []
        for depth in range(1, len(components) + 1):
            name = "/".join(components[:depth])
            if name not in held:
                parent = "/".join(components[:depth - 1])
                # creating an existing namespace succeeds (create_dir_all), so a lost answer is simply resent
                writes.append(Write("POST", path, {"name": components[depth - 1], "parent": parent or None},
                                    confirm=lambda: False))
        return writes, below, below if below else [namespace]

    def namespaces(self, store, path):
        """The store's namespaces (not the root); none of a missing store in check mode, where an earlier
        task of the play may create it (PBS answers a plain 400 "no such datastore")."""
        try:
            listed = self.client.get(path, **{"max-depth": MAX_NAMESPACE_DEPTH})
        except ProxmoxApiError as error:
            if error.status != 400 or not str(error.reason).startswith("no such datastore"):
                raise
            if self.module.params["state"] == "absent":
                return set()
            if not self.module.check_mode:
                raise PbsInputError("datastore '{0}' does not exist: create it (pbs_datastore) before its namespaces; "
                                    "nothing was changed".format(store))
            self.module.warn("datastore '{0}' does not exist (unless an earlier task creates it)".format(store))
            return set()
        return set(entry["ns"] for entry in listed if entry.get("ns"))

    def refuse_groups(self, store, namespaces):
        """Without delete_groups, fail before the DELETE when backup groups are in the subtree: PBS would
        remove the empty namespaces and then fail on the first one holding groups (namespace.rs
        delete_namespace, pbs-datastore remove_namespace_recursive)."""
        if self.module.params["delete_groups"]:
            return
        found = []
        for namespace in namespaces:
            groups = self.client.get("/admin/datastore/{0}/groups".format(store), ns=namespace)
            found += ["{0}: {1}/{2}".format(namespace, group["backup-type"], group["backup-id"]) for group in groups]
        if found:
            raise PbsInputError("namespace {0} of datastore {1} holds backup groups ({2}); set delete_groups=true to "
                                "delete them with it; nothing was changed".format(namespaces[0], store, ", ".join(found)))

    def gone(self, path, namespace):
        return namespace not in self.namespaces(self.module.params["store"], path)


def main():
    module = create_pbs_module(dict(
        store=dict(type="str", required=True),
        namespace=dict(type="str", required=True, aliases=["ns"]),
        delete_groups=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    ), supports_check_mode=True)
    PbsNamespace(module).execute()


if __name__ == "__main__":
    main()
