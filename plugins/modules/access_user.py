#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: access_user
short_description: Manage one Proxmox VE user
version_added: 0.1.0
description:
  - Creates, updates or removes one user of PVE's access control (C(/access/users)).
  - Only the options given are compared and written; an option left unset is left as PVE holds it.
  - API tokens are managed one by one with M(homecloud.proxmox.access_token), never by this module, so a user's
    tokens are never removed because a list here left them out.
  - The task reads the user list once, plans the writes, then sends them; check mode and diff mode show that plan.
options:
  userid:
    description:
      - User id with its realm, C(name@realm), 3 to 64 characters (pve-access-control C(verify_username)).
      - The realm must exist; users of the V(pam) realm must also exist as system users of every node.
    type: str
    required: true
    aliases: [name]
  state:
    description:
      - Whether the user must exist.
      - PVE deletes a removed user's API tokens and ACL entries with it.
    type: str
    choices: [present, absent]
    default: present
  enable:
    description: Whether the account may log in. PVE's default for a new user is V(true).
    type: bool
  expire:
    description: Expiry as seconds since the epoch; V(0) never expires (PVE's default).
    type: int
  firstname:
    description: First name. An empty string removes it.
    type: str
  lastname:
    description: Last name. An empty string removes it.
    type: str
  email:
    description: E-mail address. An empty string removes it.
    type: str
  comment:
    description: Free text. An empty string removes it.
    type: str
  groups:
    description:
      - The groups the user is in, compared as a set; the user is taken out of groups not listed.
      - V([]) removes the user from every group. The groups must exist (see M(homecloud.proxmox.access_group)).
    type: list
    elements: str
  password:
    description:
      - Initial password (8 to 64 characters), set only when the task creates the user (realms V(pve) and V(pam)).
      - PVE never returns passwords, so the password of an existing user is neither compared nor changed; change it
        with C(pveum passwd) or C(PUT /access/password). It is masked in RV(writes) and in the diff.
    type: str
  keys:
    description: Yubico OTP key ids for two-factor login (PVE's C(keys)). An empty string removes them.
    type: str
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The automation account of tenant acme
  homecloud.proxmox.access_user:
    userid: acme-bot@pve
    comment: acme automation
    groups: [acme-ops]
    password: "{{ vault_acme_bot_password }}"

- name: Lock the account, keep it
  homecloud.proxmox.access_user:
    userid: acme-bot@pve
    enable: false
"""

RETURN = r"""
user:
  description:
    - The user after the task (as planned in check mode); V(null) when absent.
    - C(groups) is a sorted list; a password given to create the user shows as C(********).
  returned: always
  type: dict
  sample: {userid: acme-bot@pve, enable: 1, expire: 0, comment: acme automation, groups: [acme-ops]}
writes:
  description: The API calls the task made (or, in check mode, would make), in order; the password is masked.
  returned: always
  type: list
  elements: str
  sample: ["POST /access/users comment=acme automation groups=acme-ops password=******** userid=acme-bot@pve"]
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

from ansible_collections.homecloud.proxmox.plugins.module_utils.access import check_userid, find, same_set, same_text, split_list
from ansible_collections.homecloud.proxmox.plugins.module_utils.base import create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ObjectModule, Write, defined

TEXT_OPTIONS = ("firstname", "lastname", "email", "comment", "keys")
# What PVE assumes when a user entry leaves these out (pve-access-control User.pm: enable
# defaults to 1, expire 0 means "never").
DEFAULTS = dict(enable=1, expire=0)


def same_user_value(key):
    if key == "groups":
        return same_set
    return same_text


class AccessUser(ObjectModule):
    result_key = "user"
    secret_keys = ("password",)

    def __init__(self, module):
        super(AccessUser, self).__init__(module)
        self.userid = module.params["userid"]
        self.working_on = "user " + self.userid
        self.path = "/access/users/" + self.userid

    def read(self):
        check_userid(self.userid)
        # groups come only with full=1 (User.pm extract_user_data)
        user = find(self.client.get("/access/users", full=1), "userid", self.userid)
        if user is None:
            return None
        current = dict(DEFAULTS)
        current.update((key, user[key]) for key in ("userid", "enable", "expire") + TEXT_OPTIONS if user.get(key) is not None)
        current["groups"] = sorted(split_list(user.get("groups")))
        return current

    def desired(self):
        params = self.module.params
        desired = defined(params, ("enable", "expire", "password") + TEXT_OPTIONS)
        if params["groups"] is not None:
            desired["groups"] = sorted(set(params["groups"]))
        desired["userid"] = self.userid
        return desired

    def compare(self, current, desired):
        changes = {}
        for key, value in desired.items():
            if key != "password" and not same_user_value(key)(current.get(key), value):
                changes[key] = value
        return changes

    @staticmethod
    def wire(params):
        """PVE takes the groups as one comma-separated string (format pve-groupid-list)."""
        if "groups" in params:
            params = dict(params, groups=",".join(params["groups"]))
        return params

    def create_writes(self, desired):
        return [Write("POST", "/access/users", self.wire(desired), secret_keys=self.secret_keys,
                      confirm=lambda: self.holds(dict((key, value) for key, value in desired.items() if key != "password")))]

    def update_writes(self, current, changes):
        return [Write("PUT", self.path, self.wire(changes), confirm=lambda: self.holds(changes))]

    def delete_writes(self, current):
        return [Write("DELETE", self.path, confirm=lambda: self.holds(None))]


def main():
    module = create_module(dict(
        userid=dict(type="str", required=True, aliases=["name"]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        enable=dict(type="bool"),
        expire=dict(type="int"),
        firstname=dict(type="str"),
        lastname=dict(type="str"),
        email=dict(type="str"),
        comment=dict(type="str"),
        groups=dict(type="list", elements="str"),
        password=dict(type="str", no_log=True),
        keys=dict(type="str", no_log=False),
    ), supports_check_mode=True)
    AccessUser(module).execute()


if __name__ == "__main__":
    main()
