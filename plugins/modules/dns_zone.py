#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: dns_zone
short_description: A DNS zone and its records on Technitium DNS Server or on a server that takes dynamic updates (BIND)
version_added: 0.1.0
description:
  - Keeps a zone's records as declared in O(records); with O(purge=true) the zone's other records of the managed types
    (C(A), C(AAAA), C(CNAME), C(PTR), C(TXT), C(MX), C(SRV)) are removed, which is how the records of guests that are gone
    disappear. C(SOA) and C(NS) records are never touched.
  - One zone is one read and at most one batch of writes. With O(provider=technitium) that is one API call per changed record
    set (plus one per further value of a set); with O(provider=rfc2136) one dynamic update for the whole zone, whose
    prerequisites are that every changed record set is still what the read found.
  - With O(provider=technitium) the module also creates the zone (a C(Primary) zone; a reverse zone is named like
    V(17.128.10.in-addr.arpa)) and deletes it with O(state=absent).
  - Technitium deletes the C(PTR) record that points back at an C(A) or C(AAAA) record it deletes; a purge of the reverse zone
    that runs after the forward zone then finds that C(PTR) gone already.
  - With O(provider=rfc2136) the zone must exist in the server's configuration (RFC 2136 cannot create zones); the task
    fails naming the zone when the server holds no C(SOA) for it (in check mode it warns and plans the records as the zone's
    first, since the task that declares the zone may not have run), and refuses O(state=absent).
  - Every record is checked before the first request; a name outside the zone, a value of the wrong form, two entries for
    the same name and type, and a C(CNAME) next to other records are refused naming the entry.
options:
  name:
    description: The zone, for example V(acme.lab.internal) or V(17.128.10.in-addr.arpa).
    type: str
    required: true
  state:
    description:
      - Whether the zone must exist. V(absent) deletes the zone with all its records (O(provider=technitium) only).
    type: str
    choices: [present, absent]
    default: present
  type:
    description: Type of a zone the module creates (O(provider=technitium)); an existing zone of another type is refused.
    type: str
    choices: [Primary]
    default: Primary
  records:
    description:
      - Record sets the zone must hold, one entry per name and type.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - Name relative to the zone (V(web1), V(@) for the apex) or fully qualified inside it.
          - A name ending in the zone's top-level label (such as C(internal) or C(arpa)) is taken as fully qualified, so a
            name of another zone is refused.
        type: str
        required: true
      type:
        description: Record type.
        type: str
        required: true
        choices: [A, AAAA, CNAME, PTR, TXT, MX, SRV]
      values:
        description:
          - The values of the set, in zone file form without quotes (see M(homecloud.proxmox.dns_record)).
        type: list
        elements: str
        required: true
      ttl:
        description: TTL in seconds.
        type: int
        default: 3600
  purge:
    description:
      - Remove the zone's record sets of the managed types that O(records) does not list.
    type: bool
    default: false
extends_documentation_fragment:
  - homecloud.proxmox.dns
  - homecloud.proxmox.dns.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Tenant acme's zone holds exactly its guests (run on the BIND server; the key file stays there)
  homecloud.proxmox.dns_zone:
    provider: rfc2136
    tsig_key_file: /etc/bind/homecloud-update.key
    name: acme.lab.internal
    records:
      - {name: web1, type: A, values: [10.128.17.10], ttl: 300}
      - {name: db1, type: A, values: [10.128.18.11], ttl: 300}
    purge: true
  delegate_to: dns1

- name: Its reverse zone on Technitium, created when missing
  homecloud.proxmox.dns_zone:
    provider: technitium
    api_url: http://10.128.1.10:5380
    api_token: "{{ technitium_token }}"
    name: 17.128.10.in-addr.arpa
    records:
      - {name: "10", type: PTR, values: [web1.acme.lab.internal]}
    purge: true
"""

RETURN = r"""
zone:
  description: The zone's name (lower case, no trailing dot).
  returned: always
  type: str
  sample: acme.lab.internal
created:
  description: Whether the task created the zone (or, in check mode, would).
  returned: always
  type: bool
records:
  description: The zone's records of the managed types after the task (as planned in check mode), sorted zone file lines
    (C(<name relative to the zone> <ttl> <type> <value>)); empty when the zone is absent.
  returned: always
  type: list
  elements: str
  sample: ["db1 300 A 10.128.18.11", "web1 300 A 10.128.17.10"]
records_added:
  description: Lines of RV(records) the task added (or would add); a changed TTL shows as removed and added.
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
    DnsError,
    DnsInputError,
    DnsModule,
    applied,
    check_cname_alone,
    check_zone,
    create_dns_module,
    declared_rrset,
    purgeable,
    record_lines,
    rrset_changes,
)


class DnsZone(DnsModule):

    def declared(self, zone):
        """The RRsets of ``records``, each entry checked; two entries for one name and type are refused."""
        rrsets = []
        seen = {}
        for index, entry in enumerate(self.module.params["records"] or []):
            rrset = declared_rrset(zone, entry, "records[{0}].".format(index))
            if rrset.key in seen:
                raise DnsInputError("records[{0}] and records[{1}] both declare {2} {3}; list all values of a name and type in one "
                                    "entry; nothing was changed".format(seen[rrset.key], index, rrset.key[0], rrset.key[1]))
            seen[rrset.key] = index
            rrsets.append(rrset)
        check_cname_alone(rrsets, "records")
        return rrsets

    def plan(self):
        params = self.module.params
        zone = check_zone(params["name"], "name")
        self.result.update(zone=zone, created=False)
        present = params["state"] == "present"
        desired = self.declared(zone) if present else []
        if params["provider"] == "rfc2136" and not present:
            raise DnsInputError("state=absent: provider=rfc2136 cannot delete zone {0} (dynamic updates change records only); remove "
                                "it from the server's configuration; nothing was changed".format(zone))
        provider = self.connect()
        self.working_on = "zone {0}".format(zone)
        found = provider.find_zone(zone)
        if not present:
            if found is None:
                return [], self.summarise([], [])[0], []
            before = record_lines(provider.read(zone).values())
            return provider.delete_zone_writes(zone), self.summarise(before, [])[0], []
        writes = []
        if found is None and provider.creates_zones:
            writes = provider.create_zone_writes(zone)
            self.result["created"] = True
            current = {}
        elif found is None:
            self.zone_missing(provider, zone)
            current = {}
        else:
            if str(found.get("type", "Primary")) != params["type"]:
                raise DnsError("zone {0} exists on {1} as a {2} zone, not {3}; this module manages the records of {3} zones; "
                               "nothing was changed".format(zone, provider.where(), found.get("type"), params["type"]))
            current = provider.read(zone)
        # purge spares the addresses of the zone's name servers: without them its NS records point nowhere
        changes = rrset_changes(current, desired, purgeable(current, zone, provider.ns_targets) if params["purge"] else ())
        after = applied(current, changes)
        check_cname_alone(after.values(), "records (with the zone's other records)")
        before_lines, after_lines = self.summarise(record_lines(current.values()), record_lines(after.values()))
        return writes + provider.change_writes(zone, changes), before_lines, after_lines


RECORD_SPEC = dict(
    name=dict(type="str", required=True),
    type=dict(type="str", required=True, choices=list(MANAGED_TYPES)),
    values=dict(type="list", elements="str", required=True),
    ttl=dict(type="int", default=DEFAULT_TTL),
)

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    type=dict(type="str", default="Primary", choices=["Primary"]),
    records=dict(type="list", elements="dict", default=[], options=RECORD_SPEC),
    purge=dict(type="bool", default=False),
)


def main():
    module = create_dns_module(ARGUMENT_SPEC, supports_check_mode=True)
    DnsZone(module).execute()


if __name__ == "__main__":
    main()
