# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    """The provider options of the DNS modules (dns_zone, dns_record)."""

    DOCUMENTATION = r"""
options:
  provider:
    description:
      - How the module reaches the DNS server.
      - V(technitium) uses the HTTP API of Technitium DNS Server with O(api_url) and O(api_token).
      - V(rfc2136) reads a zone by zone transfer (AXFR) and writes it by dynamic update (RFC 2136), both signed with a TSIG
        key (O(tsig_key_file), or O(tsig_key_name) and O(tsig_secret)); it works with BIND and with any server that accepts
        TSIG-signed updates and transfers, Technitium included. It manages the records of zones that exist; it cannot create
        or delete zones.
    type: str
    required: true
    choices: [technitium, rfc2136]
  api_url:
    description:
      - Base URL of the Technitium DNS Server web service (O(provider=technitium)).
      - If not set, the environment variable E(TECHNITIUM_API_URL) is used.
    type: str
    default: http://127.0.0.1:5380
  api_token:
    description:
      - Technitium API token (O(provider=technitium)), sent in the C(Authorization) header as C(Bearer <token>). Create a non-expiring token
        for a user that may modify only the zones it manages (C(/api/user/createToken)).
      - If not set, the environment variable E(TECHNITIUM_API_TOKEN) is used.
    type: str
  validate_certs:
    description: Whether the Technitium web service's TLS certificate must be valid (an C(https) O(api_url)).
    type: bool
    default: true
  ca_path:
    description: PEM file with the certificate authority the Technitium web service's certificate is checked against.
    type: path
  server:
    description:
      - Address of the DNS server that takes the updates and transfers (O(provider=rfc2136)).
      - If not set, the environment variable E(DNS_SERVER) is used.
    type: str
    default: 127.0.0.1
  port:
    description: TCP port of the DNS server (O(provider=rfc2136)); queries, transfers and updates all go over TCP.
    type: int
    default: 53
  tsig_key_file:
    description:
      - A BIND key file on the host the module runs on, as C(tsig-keygen) writes it
        (C(key "name" { algorithm hmac-sha256; secret "..."; };)), holding one key or the key named O(tsig_key_name).
      - The recommended way to pass the key. Run the modules on the DNS server itself (C(delegate_to) it, or target it) and
        point this at the key file the server's configuration includes; the secret never leaves the server and never
        passes through Ansible's variables.
      - Mutually exclusive with O(tsig_secret).
    type: path
  tsig_key_name:
    description:
      - Name of the TSIG key (O(provider=rfc2136)). With O(tsig_secret) it names the key; with O(tsig_key_file) it picks one of
        the file's keys.
      - If not set, the environment variable E(DNS_TSIG_KEY_NAME) is used.
    type: str
  tsig_secret:
    description:
      - The TSIG key's secret, base64 (O(provider=rfc2136)), when no O(tsig_key_file) is used. Keep it in a vault.
      - If not set, the environment variable E(DNS_TSIG_SECRET) is used.
    type: str
  tsig_algorithm:
    description:
      - Algorithm of the TSIG key given by O(tsig_key_name) and O(tsig_secret); a key file names its own.
      - One of C(hmac-sha256), C(hmac-sha512), C(hmac-sha384), C(hmac-sha224), C(hmac-sha1), C(hmac-md5).
      - If not set, the environment variable E(DNS_TSIG_ALGORITHM) is used.
    type: str
    default: hmac-sha256
  timeout:
    description:
      - Seconds to wait for one answer of the API or the DNS server (a zone transfer may take three times as long).
      - Reads of the Technitium API are retried on a lost connection or HTTP 5xx; after a write whose answer was lost, the
        module reads back whether the server holds it, and fails naming the write when it cannot tell.
    type: int
    default: 10
requirements:
  - dnspython >= 2.0 on the host the module runs on, for O(provider=rfc2136) (Debian package C(python3-dnspython)).
notes:
  - Records are compared as record sets (name and type), by the TTL and the set of values. Host names in values (C(CNAME),
    C(PTR), C(MX), C(SRV)) are fully qualified, with or without the trailing dot.
  - C(SOA) and C(NS) records are never changed; they belong to the server's zone configuration.
  - O(provider=technitium) needs only ansible-core on the host it runs on.
"""

    # The modules of the dns action group (meta/runtime.yml).
    ACTIONGROUP = r"""
attributes:
  action_group:
    description: Use C(group/homecloud.proxmox.dns) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - homecloud.proxmox.dns
"""
