#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: access_token
short_description: Manage one API token of a Proxmox VE user
version_added: 0.1.0
description:
  - Creates, updates or removes one API token (C(/access/users/{userid}/token/{tokenid})). Each token is its own
    task, so tokens this task does not name are never touched.
  - PVE shows a token's secret only in its answer to the create. The task that creates the token returns it once,
    as RV(secret); later runs return V(null), and the secret never appears in RV(writes) or in the diff. Store it
    (for example in a vault) from the registered result of the creating run, and set C(no_log) on that task if its
    result may be logged.
  - Changing O(privsep), O(expire) or O(comment) updates the token in place; the secret stays valid.
  - The task reads the user list (with tokens) once, plans the writes, then sends them; check mode and diff mode
    show that plan.
options:
  userid:
    description: The user owning the token, C(name@realm). It must exist (see M(homecloud.proxmox.access_user)).
    type: str
    required: true
    aliases: [user]
  tokenid:
    description: Token name, the part after C(!) in the full id C(user@realm!name); a letter first, then letters, digits, C(.), C(-), C(_).
    type: str
    required: true
    aliases: [name]
  privsep:
    description:
      - Privilege separation. V(true) (PVE's default) limits the token to the ACL entries granted to the token itself
        (see M(homecloud.proxmox.access_acl) with C(token)); without them it may do nothing. V(false) gives it all the
        privileges of its user.
    type: bool
    default: true
  expire:
    description:
      - Expiry as seconds since the epoch; V(0) never expires. When not set, a new token expires with its user and
        an existing token's expiry is left alone.
    type: int
  comment:
    description: Free text. An empty string removes it.
    type: str
  regenerate:
    description:
      - Delete the existing token and create it again with the same id, which returns a new RV(secret).
      - The old secret stops working at once. The ACL entries granted to the token are granted again to the new
        one (PVE drops them with the deleted token).
      - Every run with V(true) makes a new secret, so use it in a task that is run on purpose, not in every play.
    type: bool
    default: false
  state:
    description:
      - Whether the token must exist. PVE drops a removed token's ACL entries.
      - With V(absent), a missing user means a missing token (no change).
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
- name: A token for the acme automation account
  homecloud.proxmox.access_token:
    userid: acme-bot@pve
    tokenid: ci
    comment: CI pipelines
  register: acme_ci_token
  no_log: true

- name: Keep the secret, from the run that created the token
  ansible.builtin.copy:
    content: "{{ acme_ci_token.secret }}"
    dest: /root/.acme-ci-token
    mode: "0600"
  when: acme_ci_token.secret is not none
  no_log: true
"""

RETURN = r"""
token:
  description: The token after the task (as planned in check mode), without its secret; V(null) when absent.
  returned: always
  type: dict
  sample: {userid: acme-bot@pve, tokenid: ci, full_tokenid: acme-bot@pve!ci, privsep: 1, expire: 0, comment: CI pipelines}
secret:
  description:
    - The token's secret (a UUID), returned only by the run that created (or regenerated) it; V(null) otherwise,
      and in check mode.
    - Use it with the full token id, as C(PVEAPIToken=<full_tokenid>=<secret>) or in the collection's
      O(homecloud.proxmox.access_token#module:api_token_secret).
  returned: always
  type: str
  sample: null
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["POST /access/users/acme-bot@pve/token/ci comment=CI pipelines privsep=1"]
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

from ansible_collections.homecloud.proxmox.plugins.module_utils.access import (
    AclEntry,
    check_tokenid,
    check_userid,
    find,
    same_text,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.base import create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxError
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ObjectModule, Write, defined, same_value

SETTINGS = ("privsep", "expire", "comment")


class AccessToken(ObjectModule):
    result_key = "token"

    def __init__(self, module):
        super(AccessToken, self).__init__(module)
        params = module.params
        self.userid, self.tokenid = params["userid"], params["tokenid"]
        self.full_tokenid = "{0}!{1}".format(self.userid, self.tokenid)
        self.working_on = "token " + self.full_tokenid
        self.path = "/access/users/{0}/token/{1}".format(self.userid, self.tokenid)
        self.secret = None

    def read(self):
        check_userid(self.userid)
        check_tokenid(self.tokenid)
        # GET .../token answers 403, not "no such user", for a user that does not exist (RPCEnvironment.pm:
        # the userid-group and userid-param checks fail on a missing user), so read the user list, whose
        # full=1 form carries each user's tokens (User.pm index)
        user = find(self.client.get("/access/users", full=1), "userid", self.userid)
        if user is None:
            if self.module.params["state"] == "absent":
                return None
            if self.module.check_mode:  # an earlier task of the play may create the user
                self.module.warn("user '{0}' does not exist (unless an earlier task creates it)".format(self.userid))
                return None
            raise ProxmoxError("user '{0}' does not exist: create it (access_user) before its token '{1}'; nothing "
                               "was changed".format(self.userid, self.tokenid))
        tokens = user.get("tokens") or []
        token = find(tokens, "tokenid", self.tokenid)
        if token is None:
            return None
        return dict((key, token[key]) for key in SETTINGS if token.get(key) is not None)

    def desired(self):
        return defined(self.module.params, SETTINGS)

    def compare(self, current, desired):
        return dict((key, value) for key, value in desired.items()
                    if not (same_text if key == "comment" else same_value)(current.get(key), value))

    def plan(self):
        if self.module.params["regenerate"] and self.module.params["state"] == "present":
            current = self.read()
            if current is not None:
                desired = dict(current)
                desired.update(self.desired())
                writes = self.delete_writes(current) + self.create_writes(desired) + self.regrant_writes()
                return writes, self.described(current), self.described(desired)
        writes, before, after = super(AccessToken, self).plan()
        return writes, self.described(before), self.described(after)

    def described(self, token):
        if token is None:
            return None
        return dict(token, userid=self.userid, tokenid=self.tokenid, full_tokenid=self.full_tokenid)

    def regrant_writes(self):
        """The token's ACL entries, granted again after it is recreated."""
        entries = [AclEntry.from_api(entry) for entry in self.client.get("/access/acl")
                   if entry.get("type") == "token" and entry.get("ugid") == self.full_tokenid]
        return [entry.write() for entry in sorted(entries, key=lambda item: item.key)]

    def create_writes(self, desired):
        # the answer carries the secret (`value`), read in after_write; confirm=None: a lost
        # answer loses the secret, so it is reported uncertain rather than resent
        return [Write("POST", self.path, dict((key, desired[key]) for key in SETTINGS if key in desired))]

    def update_writes(self, current, changes):
        return [Write("PUT", self.path, changes, confirm=lambda: self.holds(changes))]

    def delete_writes(self, current):
        return [Write("DELETE", self.path, confirm=lambda: self.holds(None))]

    def after_write(self, write, answer):
        if write.method == "POST" and isinstance(answer, dict):
            self.secret = answer.get("value")

    def finish(self, writes):
        self.result["secret"] = self.secret


def main():
    module = create_module(dict(
        userid=dict(type="str", required=True, aliases=["user"]),
        # the token's name, not its secret (validate-modules guesses from "token")
        tokenid=dict(type="str", required=True, aliases=["name"], no_log=False),
        privsep=dict(type="bool", default=True),
        expire=dict(type="int"),
        comment=dict(type="str"),
        regenerate=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    ), supports_check_mode=True)
    AccessToken(module).execute()


if __name__ == "__main__":
    main()
