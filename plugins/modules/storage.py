#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: storage
short_description: Manage one Proxmox VE storage entry (directory, ZFS pool or Proxmox Backup Server)
version_added: 0.1.0
description:
  - Creates, updates or removes one entry of the cluster's storage configuration (C(/storage)), of type V(dir),
    V(zfspool) or V(pbs). Other types are refused before any call; an existing entry of another type is refused
    when the task declares a type.
  - Options the task leaves unset are left as PVE holds them; only options whose value differs are written, in one
    C(PUT /storage/{storage}). Every value is checked before any write (an option the type does not have, a content
    type the type cannot hold, a fingerprint that is not 32 colon-separated hex pairs, a retention PVE refuses, a
    key that is not a PBS key file), and the error names the option.
  - Fixed options (the type, O(path) of V(dir), O(pool) of V(zfspool), O(server) and O(datastore) of V(pbs); pve-storage
    C(Plugin.pm) and C(PBSPlugin.pm) mark them C(fixed)) that differ from the existing entry fail the task before any
    write, naming the option; PVE cannot change them in place, so delete and re-create the entry.
  - PVE never returns O(password) or the key behind O(encryption_key) (they live in C(/etc/pve/priv/storage/)), so
    they are never compared, never shown in a diff, in RV(writes) or in a message. O(password) is written when the
    entry is created and afterwards only with O(update_password=always).
  - O(encryption_key) is written when PVE holds no key for the entry. When PVE holds a key, a key file that names its
    fingerprint is compared with the fingerprint PVE shows (a different key is written); a key file without one is
    written only with O(update_password=always). V(autogen) makes PVE generate a key, only when the entry has none.
  - Creating a V(pbs) entry makes PVE log in to the server and look for the datastore from the node that answers the
    call; PVE refuses the entry if that fails.
  - Removing an entry never removes data (PVE leaves volumes and backups where they are).
options:
  storage:
    description: Storage id (letters, digits, C(-), C(_), C(.); a letter first; at least 2 characters).
    type: str
    required: true
    aliases: [name]
  type:
    description: Storage type. Required with O(state=present).
    type: str
    choices: [dir, zfspool, pbs]
  state:
    description: Whether the entry must exist.
    type: str
    choices: [present, absent]
    default: present
  content:
    description:
      - Content types. V(dir) - V(images), V(rootdir), V(vztmpl), V(iso), V(backup), V(snippets), V(import);
        V(zfspool) - V(images), V(rootdir); V(pbs) - V(backup). V(none) alone means no content (not for V(zfspool)).
      - Compared as a set.
    type: list
    elements: str
  nodes:
    description: Nodes the storage is available on, compared as a set. V([]) removes the restriction (all nodes).
    type: list
    elements: str
  disable:
    description: Disable the storage (PVE's C(disable) flag).
    type: bool
  path:
    description: Directory of a V(dir) storage; fixed. Compared as PVE stores it (repeated and trailing C(/) removed).
    type: str
  pool:
    description: ZFS pool or dataset of a V(zfspool) storage, for example V(rpool/data); fixed.
    type: str
  sparse:
    description: Thin-provisioned zvols on a V(zfspool) storage.
    type: bool
  blocksize:
    description: Block size of new zvols on a V(zfspool) storage, for example V(16k).
    type: str
  server:
    description: Host name or address of the Proxmox Backup Server (V(pbs)); fixed.
    type: str
  datastore:
    description: Datastore on the Proxmox Backup Server (V(pbs)); fixed.
    type: str
  namespace:
    description: Namespace in the datastore (V(pbs)). An empty string removes it.
    type: str
  port:
    description: TCP port of the Proxmox Backup Server (V(pbs)); PVE uses V(8007) when unset, so V(8007) equals unset.
    type: int
  username:
    description: PBS user (V(user@realm)) or API token id (V(user@realm!token)) PVE logs in as (V(pbs)).
    type: str
  password:
    description:
      - Password of O(username), or the token secret (V(pbs)). Never compared (PVE does not return it); see
        O(update_password).
    type: str
  fingerprint:
    description:
      - SHA-256 fingerprint of the server's certificate (V(pbs)), 32 colon-separated hex pairs; compared ignoring case.
        Needed unless the certificate is trusted by the node. An empty string removes it.
    type: str
  encryption_key:
    description:
      - Client-side encryption key for backups (V(pbs)) - the content of a PBS key file (JSON), or V(autogen) to have
        PVE generate one when the entry has none. An empty string removes the key from PVE (backups made with it can
        then only be restored with a copy of it).
      - The key generated with V(autogen) is returned once in RV(generated_encryption_key).
    type: str
  update_password:
    description:
      - When to write O(password) and an O(encryption_key) that cannot be compared. V(on_create) - only when the
        entry is created. V(always) - on every run (the task then always reports a change).
    type: str
    choices: [on_create, always]
    default: on_create
  prune_backups:
    description:
      - Retention of backups on this storage, as PVE's C(prune-backups) options - C(keep_all) (bool), C(keep_last),
        C(keep_hourly), C(keep_daily), C(keep_weekly), C(keep_monthly), C(keep_yearly) (integers of at least 0; the
        C(keep-) spelling is accepted too).
      - Normalised as PVE does - options of 0 are dropped, and when no option is above 0 the retention is
        C(keep-all=1); C(keep_all) with another option above 0 is refused.
    type: dict
  max_protected_backups:
    description: Maximum number of protected backups per guest on this storage; V(-1) for unlimited.
    type: int
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Backups of every tenant go to the Proxmox Backup Server, encrypted, 7 daily and 4 weekly kept
  homecloud.proxmox.storage:
    storage: pbs-main
    type: pbs
    server: pbs.example.org
    datastore: tenants
    namespace: homecloud
    username: pve-backup@pbs!pve
    password: "{{ vault_pbs_token_secret }}"
    fingerprint: "{{ pbs_fingerprint }}"
    encryption_key: "{{ vault_pbs_encryption_key }}"
    prune_backups: {keep_daily: 7, keep_weekly: 4}
    content: [backup]

- name: A directory storage for ISO images and snippets on two nodes
  homecloud.proxmox.storage:
    storage: media
    type: dir
    path: /srv/media
    content: [iso, snippets]
    nodes: [pve1, pve2]

- name: No longer use the old backup storage (its backups stay on the server)
  homecloud.proxmox.storage:
    storage: pbs-old
    state: absent
"""

RETURN = r"""
storage:
  description:
    - The entry after the task (as planned in check mode), by PVE's keys; V(null) when absent. C(content) and
      C(nodes) as sorted lists, C(prune-backups) as a dict. C(password) shows only as masked when the task writes it;
      C(encryption-key) is the key's fingerprint as PVE shows it (or V(1)), never the key; V(generated) when the task
      has PVE generate one.
  returned: always
  type: dict
  sample: {storage: pbs-main, type: pbs, server: pbs.example.org, datastore: tenants, content: [backup],
           prune-backups: {keep-daily: 7, keep-weekly: 4}}
generated_encryption_key:
  description: The key PVE generated for O(encryption_key=autogen) (a PBS key file, JSON). Keep it safe; set C(no_log).
  returned: when PVE generated a key
  type: str
writes:
  description: The API calls the task made (or, in check mode, would make), in order; secrets masked.
  returned: always
  type: list
  elements: str
  sample: ["POST /storage content=backup datastore=tenants password=******** server=pbs.example.org storage=pbs-main type=pbs"]
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

import re

from ansible_collections.homecloud.proxmox.plugins.module_utils.access import find, split_list
from ansible_collections.homecloud.proxmox.plugins.module_utils.base import create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import MASK, ConvergeModule, Write, same_value
from ansible_collections.homecloud.proxmox.plugins.module_utils.storage import (
    StorageInputError,
    check_fingerprint,
    check_storage_id,
    encryption_key_fingerprint,
    holds_planned,
    prune_backups,
    prune_backups_text,
)

# module option -> PVE key, for the options compared one by one
API_KEYS = dict(content="content", nodes="nodes", disable="disable", path="path", pool="pool", sparse="sparse",
                blocksize="blocksize", server="server", datastore="datastore", namespace="namespace", port="port",
                username="username", fingerprint="fingerprint", prune_backups="prune-backups",
                max_protected_backups="max-protected-backups")
COMMON_OPTIONS = ("content", "nodes", "disable")
# The options() of each plugin that this module manages (pve-storage DirPlugin.pm, ZFSPoolPlugin.pm, PBSPlugin.pm)
TYPE_OPTIONS = {
    "dir": COMMON_OPTIONS + ("path", "prune_backups", "max_protected_backups"),
    "zfspool": COMMON_OPTIONS + ("pool", "sparse", "blocksize"),
    "pbs": COMMON_OPTIONS + ("server", "datastore", "namespace", "port", "username", "password", "fingerprint",
                             "encryption_key", "prune_backups", "max_protected_backups"),
}
REQUIRED = dict(dir=("path",), zfspool=("pool",), pbs=("server", "datastore"))
FIXED = dict(dir=("path",), zfspool=("pool",), pbs=("server", "datastore"))
# plugindata() content types each plugin supports
CONTENT = dict(dir=("images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import", "none"),
               zfspool=("images", "rootdir"), pbs=("backup", "none"))
# What PVE assumes when the entry leaves these out (PBSPlugin.pm pbs_api_connect: port 8007)
DEFAULTS = {"disable": 0, "sparse": 0, "port": 8007}
BOOLEANS = ("disable", "sparse")
SETS = ("content", "nodes")
# Options an empty value removes (sent as PUT `delete`)
REMOVABLE = ("nodes", "namespace", "fingerprint")
SECRET_OPTIONS = ("password", "encryption_key")


def storage_path(path):
    """DirPlugin.pm check_config: the path as PVE stores it (repeated '/' collapsed, no trailing '/')."""
    return re.sub(r"/+", "/", path).rstrip("/") or "/"


def storage_view(entry):
    """PVE's entry as compared and shown: lists as sorted lists, prune-backups as a dict, no digest."""
    view = dict((key, value) for key, value in entry.items() if key != "digest")
    for key in SETS:
        if key in view:
            view[key] = sorted(set(split_list(view[key])))
    if view.get("prune-backups") is not None:
        view["prune-backups"] = prune_backups(view["prune-backups"], "prune-backups (as PVE holds it)")
    return view


def same_storage_value(key, current, desired):
    """Whether PVE's value means the declared one."""
    if current is None:
        current = DEFAULTS.get(key)
    if key in SETS:
        return current is not None and set(split_list(current)) == set(split_list(desired))
    if key in BOOLEANS:
        return int(current) == int(desired)
    if key == "fingerprint":
        return current is not None and str(current).lower() == str(desired).lower()
    if key == "prune-backups":
        return current == desired
    return same_value(current, desired)


class Storage(ConvergeModule):
    result_key = "storage"
    secret_keys = ("password",)

    def __init__(self, module):
        super(Storage, self).__init__(module)
        self.storage = module.params["storage"]
        self.working_on = "storage " + self.storage
        self.path = "/storage/" + self.storage

    def read(self):
        entry = find(self.client.get("/storage"), "storage", self.storage)
        return storage_view(entry) if entry is not None else None

    def declared(self, storage_type):
        """{PVE key: value} of the options the task sets, checked for the type; empty removable values as None."""
        params = self.module.params
        allowed = TYPE_OPTIONS[storage_type]
        foreign = [name for name in list(API_KEYS) + list(SECRET_OPTIONS) if params.get(name) is not None and name not in allowed]
        if foreign:
            raise StorageInputError("{0}: not an option of type {1} (its options: {2}); nothing was changed".format(
                ", ".join(foreign), storage_type, ", ".join(sorted(allowed))))
        declared = {}
        for name in allowed:
            value = params.get(name)
            if value is None or name in SECRET_OPTIONS:
                continue
            if name in REMOVABLE and value in ("", []):
                declared[API_KEYS[name]] = None
                continue
            declared[API_KEYS[name]] = self.checked(storage_type, name, value)
        return declared

    @staticmethod
    def checked(storage_type, name, value):
        """A declared value as PVE takes it, or StorageInputError naming the option."""
        if name == "content":
            kinds = sorted(set(value))
            unknown = [kind for kind in kinds if kind not in CONTENT[storage_type]]
            if unknown or not kinds:
                raise StorageInputError("content: {0} not a content type of {1} storage (its types: {2}); nothing was "
                                        "changed".format(", ".join(unknown) or "[] is", storage_type, ", ".join(CONTENT[storage_type])))
            if "none" in kinds and len(kinds) > 1:
                raise StorageInputError("content: 'none' cannot be combined with other content types; nothing was changed")
            return kinds
        if name == "nodes":
            return sorted(set(value))
        if name in BOOLEANS:
            return int(value)
        if name == "path":
            if not re.match(r"^/[-/a-zA-Z0-9_.@]+$", value):  # DirPlugin.pm check_config
                raise StorageInputError("path: {0!r} is not a path PVE takes for a directory storage; nothing was changed".format(value))
            return storage_path(value)
        if name == "fingerprint":
            return check_fingerprint(value)
        if name == "prune_backups":
            return prune_backups(value)
        if name == "port" and not 1 <= value <= 65535:
            raise StorageInputError("port: {0} is not a TCP port (1-65535); nothing was changed".format(value))
        if name == "max_protected_backups" and value < -1:
            raise StorageInputError("max_protected_backups: {0} is below -1 (-1 means unlimited); nothing was changed".format(value))
        return value

    def plan(self):
        params = self.module.params
        check_storage_id(self.storage)
        current = self.read()
        if params["state"] == "absent":
            if current is None:
                return [], None, None
            return [Write("DELETE", self.path, confirm=lambda: self.read() is None)], current, None
        storage_type = params["type"]  # required_if: set with state=present
        if current is not None and current.get("type") != storage_type:
            raise StorageInputError("type: fixed option differs (PVE holds {0!r}, the task declares {1!r}); fixed: delete and "
                                    "re-create the storage; nothing was changed".format(current.get("type"), storage_type))
        declared = self.declared(storage_type)
        if current is None:
            return self.create(storage_type, declared)
        return self.update(storage_type, current, declared)

    def secret_params(self, current):
        """The secrets this run writes ({PVE key: value}), the `delete` they need, and what `after` shows of them."""
        params = self.module.params
        always = params["update_password"] == "always"
        write, delete, shown = {}, [], {}
        if params["password"] is not None and (current is None or always):
            write["password"] = params["password"]
            shown["password"] = MASK
        key = params["encryption_key"]
        held = (current or {}).get("encryption-key")
        if key == "":
            if held:
                delete.append("encryption-key")
                shown["encryption-key"] = None
        elif key == "autogen":
            if not held:
                write["encryption-key"] = key
                # not the word itself: Ansible masks every value of a no_log option in the result
                shown["encryption-key"] = "generated"
        elif key is not None:
            fingerprint = encryption_key_fingerprint(key)
            # a key file naming its fingerprint is compared with the one PVE shows; one without only with `always`
            if not held or (str(held).lower() != fingerprint.lower() if fingerprint else always):
                write["encryption-key"] = key
                shown["encryption-key"] = fingerprint or MASK
        return write, delete, shown

    def create(self, storage_type, declared):
        params = self.module.params
        missing = [name for name in REQUIRED[storage_type] if declared.get(API_KEYS[name]) is None]
        if missing:
            raise StorageInputError("{0}: required to create a {1} storage; nothing was changed".format(", ".join(missing), storage_type))
        if params["encryption_key"] == "":
            raise StorageInputError("encryption_key: an empty key removes a key; there is no entry to remove it from; nothing was changed")
        secrets, _delete, shown = self.secret_params(None)
        settings = dict((key, value) for key, value in declared.items() if value is not None)
        after = dict(settings, storage=self.storage, type=storage_type)
        after.update(shown)
        wire = self.wire(settings)
        wire.update(secrets, storage=self.storage, type=storage_type)
        return [Write("POST", "/storage", wire, secret_keys=("password", "encryption-key"),
                      confirm=lambda: self.read() is not None)], None, after

    def update(self, storage_type, current, declared):
        for name in FIXED[storage_type]:
            key = API_KEYS[name]
            if key in declared and not same_storage_value(key, current.get(key), declared[key]):
                raise StorageInputError("{0}: fixed option differs (PVE holds {1!r}, the task declares {2!r}); fixed: delete and "
                                        "re-create the storage; nothing was changed".format(name, current.get(key), declared[key]))
        changes = dict((key, value) for key, value in declared.items()
                       if value is not None and not same_storage_value(key, current.get(key), value))
        delete = sorted(key for key, value in declared.items() if value is None and current.get(key) is not None)
        secrets, secret_delete, shown = self.secret_params(current)
        delete += secret_delete
        after = dict((key, value) for key, value in current.items() if key not in delete)
        after.update(changes)
        after.update((key, value) for key, value in shown.items() if value is not None)
        if not changes and not delete and not secrets:
            return [], current, after
        wire = self.wire(changes)
        wire.update(secrets)
        if delete:
            wire["delete"] = ",".join(delete)
        return [Write("PUT", self.path, wire, secret_keys=("password", "encryption-key"),
                      confirm=lambda: holds_planned(self.read(), changes, delete, same_storage_value))], current, after

    @staticmethod
    def wire(settings):
        """Declared values as PVE takes them: lists comma-joined, prune-backups as its property string."""
        wire = dict(settings)
        for key in SETS:
            if key in wire:
                wire[key] = ",".join(wire[key])
        if "prune-backups" in wire:
            wire["prune-backups"] = prune_backups_text(wire["prune-backups"])
        return wire

    def after_write(self, write, answer):
        # Config.pm create/update: `config` carries the key PBSPlugin.pm generated for encryption-key=autogen
        if write.params.get("encryption-key") == "autogen" and isinstance(answer, dict):
            generated = (answer.get("config") or {}).get("encryption-key")
            if generated:
                self.result["generated_encryption_key"] = generated


def main():
    module = create_module(dict(
        storage=dict(type="str", required=True, aliases=["name"]),
        type=dict(type="str", choices=["dir", "zfspool", "pbs"]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        content=dict(type="list", elements="str"),
        nodes=dict(type="list", elements="str"),
        disable=dict(type="bool"),
        path=dict(type="str"),
        pool=dict(type="str"),
        sparse=dict(type="bool"),
        blocksize=dict(type="str"),
        server=dict(type="str"),
        datastore=dict(type="str"),
        namespace=dict(type="str"),
        port=dict(type="int"),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        fingerprint=dict(type="str"),
        encryption_key=dict(type="str", no_log=True),
        update_password=dict(type="str", default="on_create", choices=["on_create", "always"], no_log=False),
        prune_backups=dict(type="dict"),
        max_protected_backups=dict(type="int"),
    ), supports_check_mode=True, required_if=[("state", "present", ("type",))])
    Storage(module).execute()


if __name__ == "__main__":
    main()
