# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    """The connection options of the Cloudflare modules (cloudflare_*)."""

    DOCUMENTATION = r"""
options:
  api_token:
    description:
      - Cloudflare API token, sent in the C(Authorization) header as C(Bearer <token>).
      - The token needs the permissions of the module it is used with, for example C(Cloudflare Tunnel Write) for
        M(homecloud.proxmox.cloudflare_tunnel), C(Zone DNS Edit) for M(homecloud.proxmox.cloudflare_tunnel_route), and
        C(Access Apps and Policies Edit) for the Access modules; C(Access Organizations Read) lets
        M(homecloud.proxmox.cloudflare_access_app) return the team name.
      - If not set, the environment variable E(CLOUDFLARE_API_TOKEN) is used.
    type: str
    required: true
  account_id:
    description:
      - Id of the Cloudflare account (32 hex digits) that holds the tunnels and the Access applications and policies.
      - Required by the tunnel and Access modules; not used by M(homecloud.proxmox.cloudflare_tunnel_route), whose
        records belong to a zone.
      - If not set, the environment variable E(CLOUDFLARE_ACCOUNT_ID) is used.
    type: str
  api_url:
    description:
      - Base URL of the Cloudflare API.
      - If not set, the environment variable E(CLOUDFLARE_API_URL) is used.
    type: str
    default: https://api.cloudflare.com/client/v4
  validate_certs:
    description:
      - Whether the API's TLS certificate must be valid.
      - Prefer O(ca_path) over turning this off.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the certificate authority the API's certificate is checked against.
      - If not set, the environment variable E(CLOUDFLARE_CA_PATH) is used.
    type: path
  api_timeout:
    description:
      - Seconds to wait for the API to answer one request.
      - Reads are retried on HTTP 429 (honouring C(Retry-After), up to 30 seconds) and 5xx; a write is sent again only after
        a 429 or when the connection was never made, and otherwise the module re-reads what Cloudflare holds, or fails
        naming the write whose outcome is unknown.
    type: int
    default: 30
notes:
  - The modules use only ansible-core's own HTTP client, so they need no Python library on the host they run on.
"""

    # The modules of the cloudflare action group (meta/runtime.yml).
    ACTIONGROUP = r"""
attributes:
  action_group:
    description: Use C(group/homecloud.proxmox.cloudflare) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - homecloud.proxmox.cloudflare
"""
