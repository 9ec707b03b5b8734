# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    """The connection options of the Proxmox Backup Server modules (pbs_*)."""

    DOCUMENTATION = r"""
options:
  pbs_host:
    description:
      - Host name or address of the Proxmox Backup Server.
      - If not set, the environment variable E(PBS_HOST) is used.
    type: str
    required: true
  pbs_port:
    description:
      - TCP port of the PBS API.
      - If not set, the environment variable E(PBS_PORT) is used.
    type: int
    default: 8007
  pbs_user:
    description:
      - User to log in as with O(pbs_password), with its realm, for example V(root@pam).
      - Not used with API token authentication (the user is part of O(pbs_token_id)).
      - If not set, the environment variable E(PBS_USER) is used.
    type: str
    default: root@pam
  pbs_password:
    description:
      - Password of O(pbs_user), for ticket authentication (cookie C(PBSAuthCookie)), for example to create the first
        API token of a new server.
      - Either O(pbs_password) or O(pbs_token_id) and O(pbs_token_secret) must be given.
      - If not set, the environment variable E(PBS_PASSWORD) is used.
    type: str
  pbs_token_id:
    description:
      - Full id of a PBS API token, C(user@realm!name), for example V(root@pam!homecloud).
      - Sent in the C(Authorization) header as C(PBSAPIToken=<id>:<secret>). Token authentication is used when this is
        set, even if O(pbs_password) is set too.
      - If not set, the environment variable E(PBS_TOKEN_ID) is used.
    type: str
  pbs_token_secret:
    description:
      - Secret of the API token named by O(pbs_token_id).
      - If not set, the environment variable E(PBS_TOKEN_SECRET) is used.
    type: str
  pbs_fingerprint:
    description:
      - SHA-256 fingerprint of the server's TLS certificate, C(AA:BB:...) as C(proxmox-backup-manager cert info) and
        the dashboard's Show Fingerprint give it.
      - When set, exactly this certificate is accepted, whoever signed it (PBS's certificate is usually self-signed),
        and O(pbs_validate_certs) and O(pbs_ca_path) are not used. This is how PVE's C(pbs) storage and
        C(proxmox-backup-client) pin a server.
      - If not set, the environment variable E(PBS_FINGERPRINT) is used.
    type: str
  pbs_validate_certs:
    description:
      - Whether the server's TLS certificate must be valid, when O(pbs_fingerprint) is not set.
      - Prefer O(pbs_fingerprint) or O(pbs_ca_path) over turning this off.
      - If not set, the environment variable E(PBS_VALIDATE_CERTS) is used.
    type: bool
    default: true
  pbs_ca_path:
    description:
      - PEM file with the certificate authority (or certificate) the server's certificate is checked against,
        when O(pbs_fingerprint) is not set.
      - If not set, the environment variable E(PBS_CA_PATH) is used.
    type: path
  pbs_timeout:
    description:
      - Seconds to wait for the PBS API to answer one request.
      - Reads are retried on transient failures (connection errors, HTTP 502/503/504); a write is resent only when it
        never reached the server, and otherwise the module re-reads what PBS holds, or fails naming the uncertain write.
      - If not set, the environment variable E(PBS_TIMEOUT) is used.
    type: int
    default: 10
requirements:
  - requests
notes:
  - None of the environment variables starts with C(ANSIBLE_); E(PBS_PASSWORD) and E(PBS_FINGERPRINT) are the ones
    C(proxmox-backup-client) reads too.
"""

    # The modules of the pbs action group (meta/runtime.yml).
    ACTIONGROUP = r"""
attributes:
  action_group:
    description: Use C(group/homecloud.proxmox.pbs) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - homecloud.proxmox.pbs
"""
