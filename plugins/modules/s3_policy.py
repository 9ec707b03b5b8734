#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: s3_policy
short_description: Give an S3 user exactly a set of buckets, read-only or read-write, and nothing else
version_added: 0.1.0
description:
  - Makes an S3 user's permissions exactly the given buckets at the given access level, through the admin interface on
    the storage host (C(delegate_to)).
  - With O(engine=seaweedfs) the user's identity actions become exactly C(Read:<bucket>) and C(List:<bucket>)
    (O(access=read)), plus C(Write:<bucket>) and C(Tagging:<bucket>) (O(access=readwrite)), for each bucket; every
    other action (C(Admin), unscoped actions, other buckets) is removed, so the user can neither create buckets nor
    see or use anyone else's.
  - With O(engine=minio) the module keeps one policy C(homecloud-<user>) that allows the matching S3 actions on exactly
    those buckets and their objects, attached as the user's only policy.
  - The user must exist (M(homecloud.proxmox.s3_user)); in check mode a missing user is a warning, since an earlier task
    of the same run may create it.
  - Check mode and diff mode show the planned admin commands; in check mode nothing is written.
options:
  user:
    description: Name of the S3 user.
    type: str
    required: true
  buckets:
    description:
      - The buckets the user may use; each name is checked against the S3 bucket naming rules before anything is read.
      - With O(state=absent), the buckets whose permissions are taken away; when empty, every permission of the user.
        With O(engine=minio), O(state=absent) always removes the user's whole C(homecloud-<user>) policy.
    type: list
    elements: str
    default: []
  access:
    description: V(read) lists and reads objects; V(readwrite) also writes, deletes and tags them.
    type: str
    choices: [read, readwrite]
    default: readwrite
  state:
    description: V(present) makes the permissions exactly O(buckets) at O(access); V(absent) takes permissions away.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - homecloud.proxmox.s3
  - homecloud.proxmox.s3.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Tenant acme uses its own buckets and nothing else
  homecloud.proxmox.s3_policy:
    user: acme
    buckets: [acme-backups]
    access: readwrite
  delegate_to: s3-1
"""

RETURN = r"""
policy:
  description: The user's permissions after the run (in check mode, as planned).
  returned: success
  type: dict
  sample: {"user": "acme", "actions": ["List:acme-backups", "Read:acme-backups", "Tagging:acme-backups", "Write:acme-backups"]}
writes:
  description: The admin commands the run made (in check mode, would make), in order.
  returned: always
  type: list
  elements: str
written:
  description: After a failure, the commands of RV(writes) that were made before it.
  returned: failure
  type: list
  elements: str
"""

from ansible_collections.homecloud.proxmox.plugins.module_utils.s3 import (
    MINIO_POLICY_PREFIX,
    USER_RE,
    S3AdminError,
    S3Module,
    bucket_name_problem,
    create_module,
    minio_policy_buckets,
    seaweed_actions,
)


class S3Policy(S3Module):
    """A user's bucket permissions, exactly."""

    result_key = "policy"

    def validate(self):
        params = self.module.params
        if not USER_RE.match(params["user"]):
            raise S3AdminError("user: user name {0!r} must be 1 to 64 letters, digits or _.@- and start with a letter or digit".format(params["user"]))
        for index, bucket in enumerate(params["buckets"]):
            problem = bucket_name_problem(bucket)
            if problem:
                raise S3AdminError("buckets[{0}]: bucket name {1!r} {2} (S3 bucket naming rules)".format(index, bucket, problem))
        if params["state"] == "present" and not params["buckets"]:
            raise S3AdminError("buckets: name at least one bucket with state=present (state=absent takes every permission away)")

    def current_user(self):
        user = self.module.params["user"]
        current, dummy = self.admin.user(user)
        if current is None:
            if not self.module.check_mode:
                raise S3AdminError("user: S3 user {0!r} does not exist (create it with homecloud.proxmox.s3_user first)".format(user))
            self.module.warn("S3 user {0!r} does not exist yet; planned as a new user with no permission".format(user))
            return dict(name=user, actions=[], policies=[])
        if current.get("static"):
            raise S3AdminError("user: user {0!r} comes from the server's identity file; this module leaves it alone".format(user))
        return current

    def plan(self):
        if self.admin.engine == "minio":
            return self.plan_minio()
        params = self.module.params
        user = params["user"]
        current = sorted(self.current_user().get("actions") or [])
        if params["state"] == "present":
            desired = seaweed_actions(params["buckets"], params["access"])
        else:
            buckets = set(params["buckets"])
            desired = [action for action in current if buckets and action.partition(":")[2] not in buckets]
        # least privilege first: what goes is revoked before what comes is granted
        revoked = [action for action in current if action not in desired]
        granted = [action for action in desired if action not in current]
        commands = (self.admin.revoke(user, revoked) if revoked else []) + (self.admin.grant(user, granted) if granted else [])
        return commands, dict(user=user, actions=current), dict(user=user, actions=sorted(desired))

    def plan_minio(self):
        params = self.module.params
        user = params["user"]
        name = MINIO_POLICY_PREFIX + user
        attached = self.current_user().get("policies") or []
        held_buckets, held_access = minio_policy_buckets(self.admin.policy(name))
        before = dict(user=user, policies=attached, buckets=held_buckets or [], access=held_access)
        commands = []
        if params["state"] == "absent":
            for policy in attached:
                commands += self.admin.detach_policy(user, policy)
            if held_access is not None:
                commands += self.admin.remove_policy(name)
            return commands, before, dict(user=user, policies=[], buckets=[], access=None)
        buckets = sorted(set(params["buckets"]))
        if (held_buckets, held_access) != (buckets, params["access"]):
            commands += self.admin.create_policy(name, buckets, params["access"])
        for policy in attached:
            if policy != name:
                commands += self.admin.detach_policy(user, policy)
        if name not in attached:
            commands += self.admin.attach_policy(user, name)
        return commands, before, dict(user=user, policies=[name], buckets=buckets, access=params["access"])


def main():
    module = create_module(dict(
        user=dict(type="str", required=True),
        buckets=dict(type="list", elements="str", default=[]),
        access=dict(type="str", default="readwrite", choices=["read", "readwrite"]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    ))
    S3Policy(module).execute()


if __name__ == "__main__":
    main()
