# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""PVE's SDN rules, in one place: ids, subnets, gateways, overlaps, VNIs.

The address planner (planning.py, behind the tenant_plan filter) and the SDN modules
check requests with these same functions, so a rule and its message exist once.

Sources (pve-network at ecf98c5): Zones/Plugin.pm parse_sdn_zone_id, VnetPlugin.pm
parse_sdn_vnet_id, Controllers/Plugin.pm parse_sdn_controller_id, Ipams/Plugin.pm and
Dns/Plugin.pm id formats, SubnetPlugin.pm (gateway inside the subnet), Zones/VxlanPlugin.pm
vnet_update_hook (a VNI is used once across VXLAN and EVPN zones). PVE matches ids with
Perl's /i, which folds only ASCII letters here; Python's re.IGNORECASE would also fold
U+017F (long s) to 's' and U+0130 to 'i', and `$` would match before a final newline. So the
patterns below spell both cases out, use no flags, and are applied with fullmatch().
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re


class IdRule:
    """One kind of SDN id: its pattern (whole-string, ASCII) and its longest length."""

    def __init__(self, kind, pattern, longest, wording):
        self.kind = kind
        self.pattern = re.compile(pattern)
        self.longest = longest
        self.wording = wording

    def allows(self, value):
        return isinstance(value, str) and bool(self.pattern.fullmatch(value)) and (
            self.longest is None or len(value) <= self.longest)

    def explain(self, kind_name=None):
        """The rule in words, e.g. "a zone id is 2 to 8 ASCII letters and digits, ..."."""
        length = "2 to {0}".format(self.longest) if self.longest else "2 or more"
        kind_name = kind_name or self.kind
        article = "an" if kind_name[0].lower() in "aeiou" else "a"
        return "{0} {1} id is {2} {3} (PVE's rule {4})".format(article, kind_name, length, self.wording, self.pattern.pattern)


_LETTERS_DIGITS = "ASCII letters and digits, starting with a letter"
ID_RULES = dict((rule.kind, rule) for rule in (
    IdRule("zone", r"[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]", 8, _LETTERS_DIGITS),
    IdRule("vnet", r"[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]", 8, _LETTERS_DIGITS),
    IdRule("controller", r"[a-zA-Z][a-zA-Z0-9_-]*[a-zA-Z0-9]", 64,
           "ASCII letters, digits, '-' and '_', starting with a letter and ending with a letter or digit"),
    IdRule("ipam", r"[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]", None, _LETTERS_DIGITS),
    IdRule("dns", r"[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]", None, _LETTERS_DIGITS),
))
SDN_ID_MAX_LENGTH = ID_RULES["zone"].longest

# A VXLAN VNI has 24 bits; PVE's schema allows VNet tags and vrf-vxlan 1..16777215.
MAX_VNI = 16777215


def id_error(kind, value, where):
    """`where: <kind> id '<value>' is invalid: <rule>` if `value` breaks PVE's id rule, else None."""
    rule = ID_RULES[kind]
    if rule.allows(value):
        return None
    return "{0}: {1} id {2!r} is invalid: {3}".format(where, kind, value, rule.explain())


def parse_subnet(text, where):
    """(ipaddress network, error) of a subnet in CIDR form; host bits are an error."""
    if not isinstance(text, str) or "/" not in text:
        return None, "{0}: subnet {1!r} needs its prefix length, like 10.0.1.0/24".format(where, text)
    try:
        return ipaddress.ip_network(text, strict=True), None
    except ValueError as error:
        return None, "{0}: subnet {1!r} is not a network in CIDR form like 10.0.1.0/24 ({2})".format(where, text, error)


def gateway_error(gateway, network, where):
    """SubnetPlugin.pm: a subnet's gateway is an address inside it."""
    try:
        inside = ipaddress.ip_address(str(gateway)) in network
    except ValueError:
        return "{0}: gateway {1!r} is not an IP address".format(where, gateway)
    return None if inside else "{0}: gateway {1} is not in subnet {2}".format(where, gateway, network)


def overlap_errors(networks):
    """Messages for every pair of overlapping networks in [(ipaddress network, owner, field)].

    PVE does not check overlapping subnets anywhere, so two tenants could be given the same
    addresses; the planner and the modules both refuse it with this message."""
    errors = []
    for position, (network, owner, field) in enumerate(networks):
        for earlier, earlier_owner, earlier_field in networks[:position]:
            if network.version == earlier.version and network.overlaps(earlier):
                errors.append("{0}: {1} {2} overlaps the {3} {4} of {5}; PVE does not check overlapping subnets".format(
                    owner, field, network, earlier_field, earlier, earlier_owner))
    return errors


def repeat_errors(claims, rule):
    """Messages for values claimed twice in [(value, where)], naming both claimants and the rule."""
    first = {}
    errors = []
    for value, where in claims:
        earlier = first.setdefault(value, where)
        if earlier != where:
            errors.append("{0}: {1} is also used by {2}; {3}".format(where, value, earlier, rule))
    return errors


VNI_RULE = ("every VNI must be unique: PVE refuses a VNet tag used twice, and its docs require each "
            "vrf-vxlan to differ from every other vrf-vxlan and every VNet tag")
