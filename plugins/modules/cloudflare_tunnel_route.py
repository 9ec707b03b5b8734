#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cloudflare_tunnel_route
short_description: Route a public hostname to a Cloudflare Tunnel with a proxied DNS record
version_added: 0.1.0
description:
  - Keeps one proxied C(CNAME) record O(hostname) -> C(<tunnel_id>.cfargotunnel.com) in a Cloudflare zone, which is how
    a hostname reaches a named tunnel. The record has TTL C(1) (automatic) and a comment naming this collection.
  - A C(CNAME) of that name pointing elsewhere is changed to point at the tunnel.
  - A C(CNAME) cannot share its name with other records, so when records of another type (C(A), C(AAAA), C(TXT), ...)
    exist under O(hostname) the task fails before any write, naming them.
  - O(state=absent) removes the C(CNAME) only when it points at a tunnel (C(*.cfargotunnel.com)), and with O(tunnel_id)
    only when it points at that tunnel; other records are left alone.
  - Publishing a hostname through a tunnel does not protect it. Put it behind an Access application
    (M(homecloud.proxmox.cloudflare_access_app)) before routing it.
  - Check mode and diff mode show the planned API calls and the record before and after.
options:
  zone:
    description: Name of the Cloudflare zone that holds O(hostname), for example V(example.com).
    type: str
    required: true
  hostname:
    description: The public hostname (fully qualified, inside O(zone)), for example V(app.example.com).
    type: str
    required: true
  tunnel_id:
    description:
      - UUID of the tunnel (RV(homecloud.proxmox.cloudflare_tunnel#module:tunnel.id)). Required with O(state=present).
    type: str
  state:
    description: Whether the hostname must route to the tunnel.
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
- name: app.example.com reaches the tenant's tunnel
  homecloud.proxmox.cloudflare_tunnel_route:
    zone: example.com
    hostname: app.example.com
    tunnel_id: f70ff985-a4ef-4643-bbbc-4a0ed4fc8415
    api_token: "{{ cloudflare_dns_token }}"
"""

RETURN = r"""
record:
  description: The DNS record after the task (as planned in check mode; no C(id) yet for a new one); empty when absent.
  returned: always
  type: dict
  sample: {id: 372e67954025e0ba6aaa6d586b9e0b59, name: app.example.com, type: CNAME,
           content: f70ff985-a4ef-4643-bbbc-4a0ed4fc8415.cfargotunnel.com, proxied: true, ttl: 1,
           comment: "managed by homecloud.proxmox (cloudflare_tunnel_route)"}
zone_id:
  description: Id of the zone.
  returned: always
  type: str
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
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

from ansible_collections.homecloud.proxmox.plugins.module_utils.cloudflare import (
    TUNNEL_CNAME_SUFFIX,
    CloudflareInputError,
    CloudflareObjectModule,
    CloudflareWrite,
    check_hostname,
    check_uuid,
    create_cloudflare_module,
    path_segment,
    tunnel_cname_target,
)

COMMENT = "managed by homecloud.proxmox (cloudflare_tunnel_route)"
AUTOMATIC_TTL = 1  # Cloudflare: "Setting to 1 means 'automatic'"
RECORD_KEYS = ("id", "name", "type", "content", "proxied", "ttl", "comment")


class CloudflareTunnelRoute(CloudflareObjectModule):
    result_key = "record"

    def __init__(self, module, client=None):
        super(CloudflareTunnelRoute, self).__init__(module, client)
        self.zone = self.hostname = self.tunnel_id = self.zone_id = None
        self.records = []

    def check_input(self):
        """The options' rules, before the first request."""
        params = self.module.params
        self.zone = check_hostname(params["zone"], "zone")
        self.hostname = check_hostname(params["hostname"], "hostname", self.zone)
        self.tunnel_id = check_uuid(params["tunnel_id"], "tunnel_id") if params["tunnel_id"] else None
        if params["state"] == "present" and not self.tunnel_id:
            raise CloudflareInputError("tunnel_id: required with state=present; nothing was changed")

    def records_path(self, *parts):
        return "/".join(["/zones", path_segment(self.zone_id), "dns_records"] + list(parts))

    def read(self):
        self.working_on = "DNS records of {0}".format(self.hostname)
        if self.zone_id is None:
            zones = [zone for zone in self.client.list("/zones", name=self.zone) if zone.get("name") == self.zone]
            if not zones:
                raise CloudflareInputError("zone {0}: not found (or the token cannot read it); nothing was changed".format(self.zone))
            self.zone_id = zones[0]["id"]
            self.result["zone_id"] = self.zone_id
        self.records = [record for record in self.client.list(self.records_path(), name=self.hostname)
                        if str(record.get("name", "")).rstrip(".").lower() == self.hostname]
        cnames = [record for record in self.records if record.get("type") == "CNAME"]
        if not cnames:
            return None
        record = cnames[0]
        return dict((key, record.get(key)) for key in RECORD_KEYS)

    def desired(self):
        return dict(name=self.hostname, type="CNAME", content=tunnel_cname_target(self.tunnel_id), proxied=True,
                    ttl=AUTOMATIC_TTL, comment=COMMENT)

    def compare(self, current, desired):
        changes = dict((key, value) for key, value in desired.items() if key not in ("name", "type") and current.get(key) != value)
        if "content" in changes and str(current.get("content", "")).rstrip(".").lower() == desired["content"]:
            del changes["content"]  # the same target written with a trailing dot or in capitals
        return changes

    def refuse_other_records(self):
        others = [record for record in self.records if record.get("type") != "CNAME"]
        if others:
            raise CloudflareInputError(
                "hostname {0} has {1}; a CNAME to the tunnel cannot share its name with other records: remove them first; "
                "nothing was changed".format(self.hostname, ", ".join("{0} record {1} -> {2} (id {3})".format(
                    record.get("type"), record.get("name"), record.get("content"), record.get("id")) for record in others)))

    def create_writes(self, desired):
        self.refuse_other_records()
        return [CloudflareWrite("POST", self.records_path(), desired, confirm=self.confirm_route)]

    def update_writes(self, current, changes):
        self.refuse_other_records()
        return [CloudflareWrite("PATCH", self.records_path(path_segment(current["id"])), changes, confirm=self.confirm_route)]

    def delete_writes(self, current):
        target = str(current.get("content") or "").rstrip(".").lower()
        if not target.endswith(TUNNEL_CNAME_SUFFIX):
            self.module.warn("{0} is a CNAME to {1}, not to a tunnel; it was left alone".format(self.hostname, target))
            return []
        if self.tunnel_id and target != tunnel_cname_target(self.tunnel_id):
            self.module.warn("{0} routes to another tunnel ({1}); it was left alone".format(self.hostname, target))
            return []
        return [CloudflareWrite("DELETE", self.records_path(path_segment(current["id"])), confirm=lambda: self.read() is None)]

    def plan(self):
        self.check_input()
        writes, before, after = super(CloudflareTunnelRoute, self).plan()
        if self.module.params["state"] == "absent" and not writes:
            after = before  # a record that is not the tunnel's stays
        return writes, before, after

    def confirm_route(self):
        current = self.read()
        return current is not None and not self.compare(current, self.desired())

    def after_write(self, write, answer):
        if write.method in ("POST", "PATCH") and isinstance(answer, dict):
            self.result["record"] = dict((key, answer.get(key)) for key in RECORD_KEYS)

    def finish(self, writes):
        if self.result.get("record") is None:
            self.result["record"] = {}


ARGUMENT_SPEC = dict(
    zone=dict(type="str", required=True),
    hostname=dict(type="str", required=True),
    tunnel_id=dict(type="str"),
    state=dict(type="str", default="present", choices=["present", "absent"]),
)


def main():
    module = create_cloudflare_module(ARGUMENT_SPEC, supports_check_mode=True)
    CloudflareTunnelRoute(module).execute()


if __name__ == "__main__":
    main()
