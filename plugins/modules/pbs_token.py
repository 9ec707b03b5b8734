#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: pbs_token
short_description: Manage one API token of a Proxmox Backup Server user
version_added: 0.1.0
description:
  - Creates, updates or removes one API token (C(/access/users/{userid}/token/{name})), for example the token a
    tenant's PVE C(pbs) storage or backup client logs in with. Tokens this task does not name are never touched.
  - PBS shows a token's secret only in its answer to the create. The task that creates the token returns it once, as
    RV(secret); later runs return V(null), and the secret never appears in RV(writes) or in the diff. Store it (for
    example in a vault) from the registered result of the creating run, and set C(no_log) on that task if its result
    may be logged.
  - A PBS token has no privileges of its own until ACL entries grant them to it (M(homecloud.proxmox.pbs_acl));
    it can never do more than its user.
  - The task reads the user list (with tokens) once, plans the writes, then sends them; check mode and diff mode show
    that plan.
options:
  user:
    description: The user owning the token, C(name@realm), for example V(homecloud-acme@pbs).
    type: str
    required: true
    aliases: [userid]
  name:
    description: Token name, the part after C(!) in the full id C(user@realm!name).
    type: str
    required: true
    aliases: [token_name]
  create_user:
    description:
      - Create O(user) (enabled, without password, in realm C(pbs) or another configured realm) when it does not exist.
        With V(false) a missing user fails the task before any write.
    type: bool
    default: false
  comment:
    description: Free text. An empty string removes it.
    type: str
  expire:
    description: Expiry as seconds since the epoch; V(0) never expires. Not set leaves it alone (a new token never expires).
    type: int
  enable:
    description: Whether the token may log in. Not set leaves it alone (a new token is enabled).
    type: bool
  regenerate:
    description:
      - Give the existing token a new secret (PBS's C(regenerate)), returned as RV(secret). The old secret stops
        working at once; the token keeps its ACL entries.
      - Every run with V(true) makes a new secret, so use it in a task that is run on purpose, not in every play.
    type: bool
    default: false
  state:
    description:
      - Whether the token must exist.
      - With V(absent), a missing user means a missing token (no change). PBS keeps the ACL entries of a removed
        token; revoke them with M(homecloud.proxmox.pbs_acl).
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
- name: Tenant acme's backup token
  homecloud.proxmox.pbs_token:
    user: homecloud-acme@pbs
    name: backup
    create_user: true
    comment: PVE storage pbs-acme
  register: acme_pbs_token
  no_log: true

- name: Keep the secret, from the run that created the token
  ansible.builtin.copy:
    content: "{{ acme_pbs_token.secret }}"
    dest: /root/.pbs-acme-token
    mode: "0600"
  when: acme_pbs_token.secret is not none
  no_log: true
"""

RETURN = r"""
token:
  description: The token after the task (as planned in check mode), without its secret; V(null) when absent.
  returned: always
  type: dict
  sample: {user: homecloud-acme@pbs, name: backup, tokenid: "homecloud-acme@pbs!backup", enable: true, expire: 0}
secret:
  description:
    - The token's secret, returned only by the run that created (or regenerated) it; V(null) otherwise, and in check mode.
    - Use it with the full token id C(user@realm!name) as O(homecloud.proxmox.pbs_token#module:pbs_token_secret), or as the C(password) of
      a PVE C(pbs) storage whose C(username) is the full token id.
  returned: always
  type: str
  sample: null
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["POST /access/users userid=homecloud-acme@pbs", "POST /access/users/homecloud-acme@pbs/token/backup"]
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

from ansible_collections.homecloud.proxmox.plugins.module_utils.access import same_text
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import Write, defined, same_value
from ansible_collections.homecloud.proxmox.plugins.module_utils.pbs import (
    PbsInputError,
    PbsObjectModule,
    check_userid,
    create_pbs_module,
    split_authid,
)

SETTINGS = ("comment", "expire", "enable")
# what PBS means by an absent key (pbs-api-types ApiToken: enable defaults to true, expire to 0)
DEFAULTS = {"enable": True, "expire": 0}


class PbsToken(PbsObjectModule):
    result_key = "token"

    def __init__(self, module):
        super(PbsToken, self).__init__(module)
        self.user, self.name = module.params["user"], module.params["name"]
        self.tokenid = "{0}!{1}".format(self.user, self.name)
        self.path = "/access/users/{0}/token/{1}".format(self.user, self.name)
        self.working_on = "token " + self.tokenid
        self.user_missing = False
        self.secret = None

    def read(self):
        check_userid(self.user)
        split_authid(self.tokenid)
        users = self.client.get("/access/users", include_tokens=1)
        user = next((entry for entry in users if entry.get("userid") == self.user), None)
        if user is None:
            self.user_missing = True
            if self.module.params["state"] == "present" and not self.module.params["create_user"]:
                if self.module.check_mode:  # an earlier task of the play may create the user
                    self.module.warn("user '{0}' does not exist (unless an earlier task creates it)".format(self.user))
                    return None
                raise PbsInputError("user '{0}' does not exist: create it (create_user: true) before its token '{1}'; "
                                    "nothing was changed".format(self.user, self.name))
            return None
        token = next((entry for entry in user.get("tokens") or [] if entry.get("tokenid") == self.tokenid), None)
        if token is None:
            return None
        current = dict(DEFAULTS)
        current.update((key, token[key]) for key in SETTINGS if token.get(key) is not None)
        return current

    def desired(self):
        return defined(self.module.params, SETTINGS)

    def compare(self, current, desired):
        return dict((key, value) for key, value in desired.items()
                    if not (same_text if key == "comment" else same_value)(current.get(key), value))

    def plan(self):
        writes, before, after = super(PbsToken, self).plan()
        if self.module.params["regenerate"] and before is not None and after is not None:
            # confirm=None: a lost answer loses the new secret, so it is reported uncertain rather than resent
            writes.append(Write("PUT", self.path, {"regenerate": True}, what="regenerate the secret of " + self.tokenid))
        return writes, self.described(before), self.described(after)

    def described(self, token):
        if token is None:
            return None
        shown = dict(DEFAULTS)
        shown.update(dict((key, value) for key, value in token.items() if not (key == "comment" and value == "")))
        shown.update(user=self.user, name=self.name, tokenid=self.tokenid)
        return shown

    def create_writes(self, desired):
        writes = []
        if self.user_missing and self.module.params["create_user"]:
            writes.append(Write("POST", "/access/users", {"userid": self.user}, confirm=self.user_exists,
                                what="create user " + self.user))
        # the answer carries the secret (`value`), read in after_write; no confirm: a lost answer loses
        # the secret, so it is reported uncertain rather than resent
        writes.append(Write("POST", self.path, dict((key, value) for key, value in desired.items() if value != "")))
        return writes

    def user_exists(self):
        return any(entry.get("userid") == self.user for entry in self.client.get("/access/users"))

    def update_writes(self, current, changes):
        return [Write("PUT", self.path, changes, confirm=lambda: self.holds(changes))]

    def delete_writes(self, current):
        return [Write("DELETE", self.path, confirm=lambda: self.holds(None))]

    def after_write(self, write, answer):
        if write.path == self.path and isinstance(answer, dict):
            if write.method == "POST":
                self.secret = answer.get("value")
            elif write.params.get("regenerate"):
                self.secret = answer.get("secret")

    def finish(self, writes):
        self.result["secret"] = self.secret


def main():
    module = create_pbs_module(dict(
        user=dict(type="str", required=True, aliases=["userid"]),
        # the token's name, not its secret (validate-modules guesses from "token")
        name=dict(type="str", required=True, aliases=["token_name"], no_log=False),
        create_user=dict(type="bool", default=False),
        comment=dict(type="str"),
        expire=dict(type="int"),
        enable=dict(type="bool"),
        regenerate=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    ), supports_check_mode=True)
    PbsToken(module).execute()


if __name__ == "__main__":
    main()
