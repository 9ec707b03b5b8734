#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: dns_record
short_description: One DNS record set in a zone of Technitium DNS Server or of a server that takes dynamic updates (BIND)
version_added: 0.1.0
description:
  - Keeps the record set of one name and type in a zone (O(state=present)) or removes it (O(state=absent)).
  - The server's record set is read first and written only when its TTL or its values differ, so a second run writes
    nothing.
  - With O(provider=technitium) a set of one value is one API call (C(records/add) with C(overwrite)); each further value is
    one more call. With O(provider=rfc2136) the change is one dynamic update whose prerequisite is that the set is still
    what the read found.
  - The zone must exist; M(homecloud.proxmox.dns_zone) creates Technitium zones, BIND zones come from the server's
    configuration. In check mode a missing zone is a warning and the record is planned as the zone's first (an earlier task
    of the same run may create the zone).
  - A name outside O(zone), a value of the wrong form and a C(CNAME) next to other records are refused before any request.
options:
  zone:
    description: The zone, for example V(acme.lab.internal) or V(17.128.10.in-addr.arpa).
    type: str
    required: true
  name:
    description:
      - The record's name, relative to O(zone) (V(web1), V(@) for the zone's apex) or fully qualified inside it
        (V(web1.acme.lab.internal), with or without the trailing dot).
      - A name ending in the zone's top-level label (such as C(internal) or C(arpa)) is taken as fully qualified, so a name of
        another zone is refused rather than read as a name below O(zone).
    type: str
    required: true
  type:
    description: The record type.
    type: str
    required: true
    choices: [A, AAAA, CNAME, PTR, TXT, MX, SRV]
  values:
    description:
      - The values of the record set, in zone file form without quotes; their order does not matter.
      - C(A) and C(AAAA) take addresses, C(CNAME) and C(PTR) host names (one for C(CNAME)), C(TXT) any text, C(MX)
        C(<preference> <exchange>) and C(SRV) C(<priority> <weight> <port> <target>).
      - Required with O(state=present).
    type: list
    elements: str
  ttl:
    description: TTL of the record set in seconds.
    type: int
    default: 3600
  state:
    description: Whether the record set must exist (exactly O(values)) or not at all.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - homecloud.proxmox.dns
  - homecloud.proxmox.dns.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: web1 of tenant acme, on the BIND server, with the key file that never leaves it
  homecloud.proxmox.dns_record:
    provider: rfc2136
    tsig_key_file: /etc/bind/homecloud-acme.key
    zone: acme.lab.internal
    name: web1
    type: A
    values: [10.128.17.10]
    ttl: 300
  delegate_to: dns1

- name: Its PTR record, through Technitium's API
  homecloud.proxmox.dns_record:
    provider: technitium
    api_url: http://10.128.1.10:5380
    api_token: "{{ technitium_token }}"
    zone: 17.128.10.in-addr.arpa
    name: "10"
    type: PTR
    values: [web1.acme.lab.internal]

- name: A retired name is gone
  homecloud.proxmox.dns_record:
    provider: rfc2136
    tsig_key_file: /etc/bind/homecloud-acme.key
    zone: acme.lab.internal
    name: old1
    type: A
    state: absent
"""

RETURN = r"""
record:
  description: The record set after the task (as planned in check mode); empty when it is absent.
  returned: always
  type: dict
  sample: {zone: acme.lab.internal, name: web1.acme.lab.internal, type: A, ttl: 300, values: [10.128.17.10]}
records:
  description: The record set after the task as sorted zone file lines (C(<name relative to the zone> <ttl> <type> <value>)).
  returned: always
  type: list
  elements: str
  sample: ["web1 300 A 10.128.17.10"]
records_added:
  description: Lines of RV(records) the task added (or, in check mode, would add); a changed TTL shows as removed and added.
  returned: always
  type: list
  elements: str
records_removed:
  description: Lines the task removed (or would remove).
  returned: always
  type: list
  elements: str
writes:
  description: The API calls, or the dynamic update, the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["UPDATE acme.lab.internal: replace web1 300 A 10.128.17.10"]
written:
  description: After a failure, the calls of RV(writes) that were made before it (they are not undone).
  returned: on failure
  type: list
  elements: str
failure:
  description: The failed call (method, path, status, reason), for C(failed_when).
  returned: on failure
  type: dict
"""

from ansible_collections.homecloud.proxmox.plugins.module_utils.dns import (
    DEFAULT_TTL,
    MANAGED_TYPES,
    DnsModule,
    absolute_name,
    applied,
    check_cname_alone,
    check_zone,
    create_dns_module,
    declared_rrset,
    record_lines,
    relative_owner,
    rrset_changes,
)


class DnsRecord(DnsModule):

    def plan(self):
        params = self.module.params
        zone = check_zone(params["zone"])
        owner = relative_owner(params["name"], zone)
        key = (owner, params["type"])
        present = params["state"] == "present"
        desired = [declared_rrset(zone, dict(name=params["name"], type=params["type"], values=params["values"], ttl=params["ttl"]))
                   ] if present else []
        provider = self.connect()
        self.working_on = "zone {0}".format(zone)
        self.working_on = "{0} {1} in zone {2}".format(owner, key[1], zone)
        if provider.find_zone(zone) is None:
            self.zone_missing(provider, zone)
            at_owner = {}
        else:
            at_owner = provider.read(zone, owner)
        changes = rrset_changes(at_owner, desired, [key])
        check_cname_alone(applied(at_owner, changes).values(), "name {0}".format(params["name"]))
        current = dict((rrset_key, rrset) for rrset_key, rrset in at_owner.items() if rrset_key == key)
        after = applied(current, changes).get(key)
        self.result["record"] = dict(zone=zone, name=absolute_name(owner, zone), type=key[1], ttl=after.ttl,
                                     values=list(after.values)) if after else {}
        before_lines, after_lines = self.summarise(record_lines(current.values()), record_lines([after] if after else []))
        return self.provider.change_writes(zone, changes), before_lines, after_lines


ARGUMENT_SPEC = dict(
    zone=dict(type="str", required=True),
    name=dict(type="str", required=True),
    type=dict(type="str", required=True, choices=list(MANAGED_TYPES)),
    values=dict(type="list", elements="str"),
    ttl=dict(type="int", default=DEFAULT_TTL),
    state=dict(type="str", default="present", choices=["present", "absent"]),
)


def main():
    module = create_dns_module(ARGUMENT_SPEC, supports_check_mode=True, required_if=[("state", "present", ["values"])])
    DnsRecord(module).execute()


if __name__ == "__main__":
    main()
