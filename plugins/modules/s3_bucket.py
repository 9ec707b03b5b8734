#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: s3_bucket
short_description: Manage a bucket of the S3 object storage through its admin interface on the storage host
version_added: 0.1.0
description:
  - Creates or deletes one bucket on a SeaweedFS (C(weed shell) C(s3.bucket.create) / C(s3.bucket.delete)) or MinIO
    (C(mc mb) / C(mc rb)) server. Run it on the storage host (C(delegate_to)).
  - The name is checked against the S3 bucket naming rules before anything is read or written.
  - Check mode and diff mode show the planned admin command; in check mode nothing is written.
options:
  name:
    description:
      - Name of the bucket, following the S3 rules, 3 to 63 characters of lowercase letters, digits, dots and
        hyphens, starting and ending with a letter or digit, not shaped like an IPv4 address, without two adjacent
        dots, without the reserved prefixes C(xn--), C(sthree-), C(amzn-s3-demo-) and the reserved suffixes
        C(-s3alias), C(--ol-s3), C(.mrap), C(--x-s3), C(--table-s3).
      - The collection's per-tenant plan names a tenant's buckets C(<tenant>-<name>).
    type: str
    required: true
  state:
    description:
      - Whether the bucket must exist. A bucket that still holds objects is not deleted (the server refuses).
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
- name: The tenant's backup bucket
  homecloud.proxmox.s3_bucket:
    name: acme-backups
  delegate_to: s3-1

- name: A MinIO bucket, through the mc alias the role set up
  homecloud.proxmox.s3_bucket:
    name: globex-assets
    engine: minio
  delegate_to: minio-1
"""

RETURN = r"""
bucket:
  description: The bucket after the run (in check mode, as planned); empty when it is absent.
  returned: success
  type: dict
  sample: {"name": "acme-backups"}
writes:
  description: The admin commands the run made (in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["s3.bucket.create -name acme-backups"]
written:
  description: After a failure, the commands of RV(writes) that were made before it.
  returned: failure
  type: list
  elements: str
"""

from ansible_collections.homecloud.proxmox.plugins.module_utils.s3 import (
    S3AdminError,
    S3Module,
    bucket_name_problem,
    create_module,
)


class S3Bucket(S3Module):
    """One bucket, present or absent."""

    result_key = "bucket"

    def validate(self):
        problem = bucket_name_problem(self.module.params["name"])
        if problem:
            raise S3AdminError("name: bucket name {0!r} {1} (S3 bucket naming rules)".format(self.module.params["name"], problem))

    def plan(self):
        name = self.module.params["name"]
        exists = name in self.admin.buckets()
        before = dict(name=name) if exists else {}
        if self.module.params["state"] == "absent":
            return (self.admin.delete_bucket(name) if exists else []), before, {}
        return ([] if exists else self.admin.create_bucket(name)), before, dict(name=name)


def main():
    module = create_module(dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    ))
    S3Bucket(module).execute()


if __name__ == "__main__":
    main()
