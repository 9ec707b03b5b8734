# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    """The connection options every module of homecloud.proxmox takes."""

    DOCUMENTATION = r"""
options:
  api_host:
    description:
      - Host name or address of a Proxmox VE node's API.
      - If not set, the environment variable E(PROXMOX_HOST) is used.
    type: str
    required: true
  api_port:
    description:
      - TCP port of the API.
      - If not set, the environment variable E(PROXMOX_PORT) is used.
    type: int
    default: 8006
  api_user:
    description:
      - User to log in as, with its realm, for example V(root@pam) or V(automation@pve).
      - With API token auth this is the user who owns the token.
      - If not set, the environment variable E(PROXMOX_USER) is used.
    type: str
    default: root@pam
  api_password:
    description:
      - Password of O(api_user), for ticket authentication.
      - Either O(api_password) or O(api_token_id) and O(api_token_secret) must be given.
      - If not set, the environment variable E(PROXMOX_PASSWORD) is used.
    type: str
  api_token_id:
    description:
      - Name of an API token of O(api_user), without the user part (V(homecloud), not V(root@pam!homecloud)).
      - Token authentication is used when this is set, even if O(api_password) is set too.
      - If not set, the environment variable E(PROXMOX_TOKEN_ID) is used.
    type: str
  api_token_secret:
    description:
      - Secret (UUID) of the API token named by O(api_token_id).
      - If not set, the environment variable E(PROXMOX_TOKEN_SECRET) is used.
    type: str
  validate_certs:
    description:
      - Whether the API's TLS certificate must be valid.
      - Prefer O(ca_path) with the cluster's CA (C(/etc/pve/pve-root-ca.pem)) over turning this off.
      - If not set, the environment variable E(PROXMOX_VALIDATE_CERTS) is used.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the certificate authority (or certificate) the API's certificate is checked against.
      - If not set, the system's trusted authorities are used.
      - If not set, the environment variable E(PROXMOX_CA_PATH) is used.
    type: path
  api_timeout:
    description:
      - Seconds to wait for the API to answer one request.
      - A read is retried three times with exponential backoff on transient failures (connection errors,
        C(cfs-lock) timeouts, C(got no worker upid), HTTP 502/503/504). A write is resent only when PVE guarantees
        it did not run (refused connection, C(cfs-lock) timeout, C(got no worker upid)); after any other lost
        answer the module re-reads what PVE holds and continues from there, or fails naming the uncertain write.
        Validation and permission errors are never retried.
      - If not set, the environment variable E(PROXMOX_API_TIMEOUT) is used.
    type: int
    default: 10
requirements:
  - requests
notes:
  - All modules of this collection are in the action group C(homecloud.proxmox.proxmox), so
    C(module_defaults) with C(group/homecloud.proxmox.proxmox) sets the connection options once per play.
"""

    ACTIONGROUP = r"""
attributes:
  action_group:
    description: Use C(group/homecloud.proxmox.proxmox) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - homecloud.proxmox.proxmox
"""
