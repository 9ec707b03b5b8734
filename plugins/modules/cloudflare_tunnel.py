#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cloudflare_tunnel
short_description: Manage a locally-managed Cloudflare Tunnel and its credentials file on the connector host
version_added: 0.1.0
description:
  - Creates or removes one named Cloudflare Tunnel (C(/accounts/{account_id}/cfd_tunnel)) whose configuration lives in
    a file on the host (C(config_src=local)), and keeps the tunnel's credentials file on the host where the module
    runs. Run it on the host that runs C(cloudflared) (the tenant gateway), not on the controller.
  - A new tunnel's secret (32 random bytes, base64) is generated on that host, sent once to Cloudflare, and written to
    O(credentials_file) in C(cloudflared)'s format C({"AccountTag", "TunnelSecret", "TunnelID"}) with mode C(0600)
    (its directory is created with mode C(0700) when missing). The secret is never returned, shown in a diff, a
    warning or an error, also not at C(-vvv).
  - When the tunnel exists but O(credentials_file) is missing, unreadable or holds another tunnel's credentials, the
    module reads the tunnel's token (C(GET .../cfd_tunnel/{id}/token)) and writes the file from it.
  - O(state=absent) deletes the tunnel and removes O(credentials_file) when it holds that tunnel's credentials.
  - Check mode and diff mode show the planned API calls and file writes; in check mode nothing is sent or written.
options:
  name:
    description: Name of the tunnel, unique among the account's tunnels that are not deleted.
    type: str
    required: true
  credentials_file:
    description:
      - Path of the tunnel's credentials file on the host where the module runs, for example
        C(/etc/cloudflared/<name>.json); C(cloudflared)'s C(credentials-file) setting.
      - Required with O(state=present).
    type: path
  state:
    description: Whether the tunnel must exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - homecloud.proxmox.cloudflare
  - homecloud.proxmox.cloudflare.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The tenant's tunnel, its secret born on the gateway
  homecloud.proxmox.cloudflare_tunnel:
    name: acme-gateway
    credentials_file: /etc/cloudflared/acme-gateway.json
    account_id: "{{ cloudflare_account_id }}"
    api_token: "{{ cloudflare_tunnel_token }}"
  register: tunnel

- name: Its published hostnames point at the tunnel
  homecloud.proxmox.cloudflare_tunnel_route:
    zone: example.com
    hostname: app.example.com
    tunnel_id: "{{ tunnel.tunnel.id }}"
  delegate_to: localhost
"""

RETURN = r"""
tunnel:
  description: The tunnel after the task; in check mode a tunnel still to be created has no C(id). Empty when absent.
  returned: always
  type: dict
  contains:
    id:
      description: The tunnel's UUID.
      type: str
      sample: f70ff985-a4ef-4643-bbbc-4a0ed4fc8415
    name:
      description: The tunnel's name.
      type: str
    created_at:
      description: When Cloudflare created the tunnel.
      type: str
    status:
      description: Cloudflare's status of the tunnel (C(inactive) until a connector runs, then C(healthy), C(degraded), C(down)).
      type: str
cname_target:
  description: The target of the tunnel's DNS records, C(<id>.cfargotunnel.com); null while the id is unknown (check mode).
  returned: when state is present
  type: str
  sample: f70ff985-a4ef-4643-bbbc-4a0ed4fc8415.cfargotunnel.com
credentials_file:
  description: Path of the credentials file.
  returned: when state is present
  type: str
  sample: /etc/cloudflared/acme-gateway.json
writes:
  description: The API calls and file changes the task made (or, in check mode, would make), in order; secrets masked.
  returned: always
  type: list
  elements: str
  sample: ["POST /accounts/0123456789abcdef0123456789abcdef/cfd_tunnel config_src=local name=acme-gateway tunnel_secret=********",
           "write /etc/cloudflared/acme-gateway.json (credentials of the new tunnel, mode 0600)"]
written:
  description: After a failure, the entries of RV(writes) that were made before it (they are not undone).
  returned: on failure
  type: list
  elements: str
failure:
  description: The failed API call (method, path, status, reason, errors), for C(failed_when).
  returned: on failure
  type: dict
"""

import base64
import json
import os
import stat
import tempfile

from ansible_collections.homecloud.proxmox.plugins.module_utils.cloudflare import (
    CloudflareApiError,
    CloudflareConvergeModule,
    CloudflareError,
    CloudflareInputError,
    CloudflareWrite,
    create_cloudflare_module,
    find_named,
    path_segment,
    tunnel_cname_target,
)

SECRET_BYTES = 32  # "Must be at least 32 bytes and encoded as a base64 string" (Create a Cloudflare Tunnel, API reference)
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
# Cloudflare's error code for an unknown tunnel id (cfd_tunnel/{id} answers 404 with it)
TUNNEL_NOT_FOUND = "1003"


class FileChange:
    """A planned change of the credentials file: shown in ``writes``, made by ``send`` (never in check mode)."""

    def __init__(self, text, action):
        self.text = text
        self.action = action
        self.what = text

    def __str__(self):
        return self.text

    def send(self, client):  # pylint: disable=unused-argument
        self.action()


class CloudflareTunnel(CloudflareConvergeModule):

    def __init__(self, module, client=None):
        super(CloudflareTunnel, self).__init__(module, client)
        self.tunnel = None
        self.secret = None

    def plan(self):
        params = self.module.params
        name = str(params["name"] or "").strip()
        if not name:
            raise CloudflareInputError("name: the tunnel needs a name; nothing was changed")
        path = params["credentials_file"]
        if params["state"] == "present" and not path:
            raise CloudflareInputError("credentials_file: required with state=present (the path on this host where the "
                                       "tunnel's credentials are kept); nothing was changed")
        self.working_on = "tunnel {0}".format(name)
        self.tunnel = self.find(name)
        held = read_credentials(path) if path else None
        before = dict(tunnel=summary(self.tunnel), credentials_file=file_state(path, held))
        if params["state"] == "absent":
            return self.plan_absent(path, held, before)
        writes = []
        if self.tunnel is None:
            self.secret = base64.b64encode(os.urandom(SECRET_BYTES)).decode("ascii")
            self.protect(self.secret)
            writes.append(CloudflareWrite("POST", self.account_path("cfd_tunnel"),
                                          dict(name=name, config_src="local", tunnel_secret=self.secret),
                                          secret_keys=("tunnel_secret",), confirm=lambda: self.find(name) is not None))
            writes.append(FileChange("write {0} (credentials of the new tunnel, mode 0600)".format(path),
                                     lambda: self.write_credentials(path)))
        elif not self.holds_credentials(held):
            writes.append(FileChange("write {0} (credentials of tunnel {1} from its token, mode 0600)".format(path, self.tunnel["id"]),
                                     lambda: self.write_credentials(path)))
        elif held["mode"] != FILE_MODE:
            writes.append(FileChange("chmod 0600 {0} (was {1:04o})".format(path, held["mode"]),
                                     lambda: os.chmod(path, FILE_MODE)))
        after_tunnel = summary(self.tunnel) or dict(id=None, name=name, created_at=None, status=None)
        after = dict(tunnel=after_tunnel, credentials_file=dict(path=path, tunnel_id=after_tunnel["id"], mode="0600"))
        return writes, before, after

    def plan_absent(self, path, held, before):
        writes = []
        if self.tunnel is not None:
            tunnel_id = self.tunnel["id"]
            writes.append(CloudflareWrite("DELETE", self.account_path("cfd_tunnel", path_segment(tunnel_id)),
                                          confirm=lambda: self.find(self.tunnel["name"]) is None))
        removes_file = held is not None and self.stale_credentials(held)
        if removes_file:
            writes.append(FileChange("remove {0}".format(path), lambda: os.remove(path)))
        return writes, before, dict(tunnel=None, credentials_file=None if removes_file else before["credentials_file"])

    def find(self, name):
        """The account's tunnel of this name that is not deleted (the list filters by name and is_deleted)."""
        listed = self.client.list(self.account_path("cfd_tunnel"), name=name, is_deleted=False)
        return find_named([item for item in listed if not item.get("deleted_at")], name, "tunnel")

    def holds_credentials(self, held):
        return (held is not None and held.get("TunnelID") == self.tunnel["id"] and held.get("AccountTag") == self.account_id
                and held.get("has_secret"))

    def stale_credentials(self, held):
        """Whether the file belongs to the tunnel being deleted, or to no tunnel any more."""
        tunnel_id = held.get("TunnelID")
        if self.tunnel is not None:
            return tunnel_id == self.tunnel["id"]
        if not tunnel_id:
            return False
        try:
            other = self.client.get(self.account_path("cfd_tunnel", path_segment(tunnel_id)))
        except CloudflareApiError as error:
            if error.status == 404 or TUNNEL_NOT_FOUND in error.codes:
                return True
            raise
        return bool(other and other.get("deleted_at"))

    def after_write(self, write, answer):
        if isinstance(write, CloudflareWrite) and write.method == "POST":
            # a lost answer that the re-read confirmed: the id comes from the list, the secret from the token
            self.tunnel = answer if answer else self.find(self.module.params["name"])
            if not answer:
                self.secret = None

    def write_credentials(self, path):
        """cloudflared's credentials file: the secret from this run, or from the tunnel's token."""
        tunnel_id = self.tunnel["id"]
        secret = self.secret
        if secret is None:
            secret = self.secret_from_token(tunnel_id)
        content = json.dumps({"AccountTag": self.account_id, "TunnelSecret": secret, "TunnelID": tunnel_id})
        write_private_file(path, content)

    def secret_from_token(self, tunnel_id):
        """The token is base64 of {"a": account tag, "t": tunnel id, "s": secret} (cloudflared's TunnelToken)."""
        token = self.client.get(self.account_path("cfd_tunnel", path_segment(tunnel_id), "token"))
        self.protect(token)
        try:
            decoded = json.loads(base64.b64decode(str(token)).decode("utf-8"))
            secret = decoded["s"]
        except (ValueError, TypeError, KeyError):
            raise CloudflareError("GET .../cfd_tunnel/{0}/token: the answer is not a tunnel token (base64 JSON with a, t, s); "
                                  "the credentials file was not written".format(tunnel_id))
        self.protect(secret)
        if decoded.get("t") != tunnel_id:
            raise CloudflareError("the token of tunnel {0} names tunnel {1}; the credentials file was not written".format(
                tunnel_id, decoded.get("t")))
        return secret

    def finish(self, writes):
        params = self.module.params
        if params["state"] == "absent":
            self.result["tunnel"] = {}
            return
        tunnel = summary(self.tunnel) or dict(id=None, name=params["name"], created_at=None, status=None)
        self.result.update(tunnel=tunnel, cname_target=tunnel_cname_target(tunnel["id"]) if tunnel["id"] else None,
                           credentials_file=params["credentials_file"])


def summary(tunnel):
    if tunnel is None:
        return None
    return dict(id=tunnel.get("id"), name=tunnel.get("name"), created_at=tunnel.get("created_at"), status=tunnel.get("status"))


def read_credentials(path):
    """What the credentials file holds, without its secret: AccountTag, TunnelID, has_secret, mode; None when missing.
    A file that is not cloudflared's JSON is reported as holding no tunnel (it gets rewritten)."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except (IOError, OSError):
        return None
    try:
        with open(path) as handle:
            content = json.load(handle)
    except (IOError, OSError, ValueError):
        return dict(mode=mode, has_secret=False)
    if not isinstance(content, dict):
        return dict(mode=mode, has_secret=False)
    return dict(AccountTag=content.get("AccountTag"), TunnelID=content.get("TunnelID"),
                has_secret=bool(content.get("TunnelSecret")), mode=mode)


def file_state(path, held):
    if held is None:
        return None
    return dict(path=path, tunnel_id=held.get("TunnelID"), mode="{0:04o}".format(held["mode"]))


def write_private_file(path, content):
    """Write atomically with mode 0600 (the directory made 0700 when missing): a temporary file in the same
    directory, flushed to disk, then renamed over the old one."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, DIRECTORY_MODE)
    handle, temporary = tempfile.mkstemp(prefix=".tunnel-", dir=directory)
    try:
        os.fchmod(handle, FILE_MODE)
        with os.fdopen(handle, "w") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.rename(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    credentials_file=dict(type="path"),
    state=dict(type="str", default="present", choices=["present", "absent"]),
)


def main():
    module = create_cloudflare_module(ARGUMENT_SPEC, supports_check_mode=True)
    CloudflareTunnel(module).execute()


if __name__ == "__main__":
    main()
