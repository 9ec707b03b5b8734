# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    """The admin-interface options of the S3 modules (s3_bucket, s3_user, s3_policy)."""

    DOCUMENTATION = r"""
options:
  engine:
    description:
      - The S3 server on the host where the module runs, and so the admin interface the module uses there.
      - V(seaweedfs) runs C(weed shell) against the SeaweedFS master at O(master); V(minio) runs C(mc) with the alias
        O(mc_alias).
      - If not set, the environment variable E(HOMECLOUD_S3_ENGINE) is used.
    type: str
    choices: [seaweedfs, minio]
    default: seaweedfs
  weed_path:
    description:
      - Path of the C(weed) binary on the host. By default C(weed) is looked up on E(PATH) and in C(/usr/local/bin).
      - If not set, the environment variable E(HOMECLOUD_S3_WEED_PATH) is used.
    type: path
  master:
    description:
      - Address of the SeaweedFS master, as C(weed shell -master) takes it. C(host:port) when the gRPC port is the
        HTTP port plus 10000, else C(host:port.grpcport).
      - The admin interface has no credentials of its own, so the role binds the master and the filer to
        C(127.0.0.1) only; run the module on the storage host (C(delegate_to)).
      - If not set, the environment variable E(HOMECLOUD_S3_MASTER) is used.
    type: str
    default: 127.0.0.1:9333
  mc_path:
    description:
      - Path of the MinIO client C(mc) on the host. By default C(mc) is looked up on E(PATH) and in C(/usr/local/bin).
      - If not set, the environment variable E(HOMECLOUD_S3_MC_PATH) is used.
    type: path
  mc_alias:
    description:
      - The C(mc) alias that holds the MinIO admin credentials on the host (the role sets it up for C(root)); the
        credentials never leave the host.
      - If not set, the environment variable E(HOMECLOUD_S3_MC_ALIAS) is used.
    type: str
    default: homecloud
  admin_timeout:
    description:
      - Seconds one admin command may take before the module gives up on it (run under C(timeout)).
      - If not set, the environment variable E(HOMECLOUD_S3_ADMIN_TIMEOUT) is used.
    type: int
    default: 60
notes:
  - The modules run on the storage host itself and need only its admin tools (C(weed) or C(mc)) and the C(timeout)
    command of coreutils; no Python library beyond ansible-core.
  - Commands are sent on standard input to C(weed shell), so a secret never shows in the host's process list. With
    O(engine=minio), C(mc admin user add) takes the secret as an argument, so it is visible in the host's process list
    for the time of that command.
  - MinIO Community Edition ships no binaries since October 2025; the MinIO path is built from its documentation and
    tested only through its command lines.
"""

    # The modules of the s3 action group (meta/runtime.yml).
    ACTIONGROUP = r"""
attributes:
  action_group:
    description: Use C(group/homecloud.proxmox.s3) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - homecloud.proxmox.s3
"""
