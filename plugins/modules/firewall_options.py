#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: firewall_options
short_description: Set the firewall options of a Proxmox VE cluster, node, guest or VNet
version_added: 0.1.0
description:
  - Sets the options in O(options) at one scope and removes those in O(reset) (PVE then applies its default).
    Options not named are left as they are; only options whose value differs are written, in one C(PUT) that
    carries the digest of the options read (PVE refuses it if someone changed them meanwhile).
  - Each scope has its own options (pve-firewall C(Firewall.pm)); an option that does not belong to the scope, or a
    value PVE would refuse, fails the task before any write, naming the option.
  - V(cluster) C(enable) - PVE's anti-lockout rule. A C(PUT) with C(enable) greater than 1 makes PVE store the
    current time instead and apply the firewall at once, which the GUI uses to confirm it can still reach the node.
    This module writes V(1) or V(0), never a time, and treats any stored value above 0 as enabled. With the
    cluster firewall on, PVE blocks inbound host traffic except SSH and the API (22, 8006) from the local network
    (the C(management) IP set); make sure your rules allow your own access before enabling it.
  - "Options per scope: V(cluster): C(enable), C(ebtables), C(policy_in), C(policy_out), C(policy_forward)
    (V(ACCEPT)/V(DROP)), C(log_ratelimit) (V(enable=1,burst=5,rate=1/second)).
    V(node): C(enable), C(log_level_in), C(log_level_out), C(log_level_forward), C(tcp_flags_log_level),
    C(smurf_log_level), C(nosmurfs), C(tcpflags), C(ndp), C(nf_conntrack_max), C(nf_conntrack_tcp_timeout_established),
    C(nf_conntrack_tcp_timeout_syn_recv), C(nf_conntrack_allow_invalid), C(nf_conntrack_helpers) (list),
    C(protection_synflood), C(protection_synflood_rate), C(protection_synflood_burst), C(log_nf_conntrack),
    C(nftables).
    V(vm): C(enable), C(dhcp), C(ipfilter), C(macfilter), C(ndp), C(radv), C(policy_in), C(policy_out),
    C(log_level_in), C(log_level_out).
    V(vnet): C(enable), C(policy_forward), C(log_level_forward)."
options:
  scope:
    description: V(cluster), a node's host firewall (V(node)), a guest's (V(vm), QEMU or LXC) or an SDN VNet's (V(vnet)).
    type: str
    required: true
    choices: [cluster, node, vm, vnet]
  node:
    description:
      - The node, with O(scope=node).
      - With O(scope=vm) optional; the guest's node and type are found in C(/cluster/resources).
    type: str
  vmid:
    description: The guest, with O(scope=vm).
    type: int
  vnet:
    description: The VNet, with O(scope=vnet).
    type: str
  options:
    description:
      - The options to set, by PVE's names. Booleans may be given as V(true)/V(false) or V(1)/V(0); policies as
        V(ACCEPT), V(DROP), V(REJECT); log levels as V(emerg) ... V(debug) or V(nolog).
    type: dict
    default: {}
  reset:
    description: Options to remove, so that PVE's default applies again. An option may not be both set and reset.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Drop inbound traffic by default, cluster-wide, and turn the firewall on
  homecloud.proxmox.firewall_options:
    scope: cluster
    options:
      policy_in: DROP
      policy_out: ACCEPT
      enable: true

- name: The web server's firewall, with IP and MAC filters
  homecloud.proxmox.firewall_options:
    scope: vm
    vmid: 4010
    options: {enable: true, ipfilter: true, macfilter: true, policy_in: DROP}

- name: Back to PVE's default synflood settings on pve1
  homecloud.proxmox.firewall_options:
    scope: node
    node: pve1
    reset: [protection_synflood, protection_synflood_rate]
"""

RETURN = r"""
options:
  description: The options PVE holds at the scope after the task (as planned in check mode); unset ones are absent.
  returned: success
  type: dict
  sample: {enable: 1, policy_in: DROP}
writes:
  description: The API calls the task made (or, in check mode, would make); the digest each carries is left out.
  returned: always
  type: list
  elements: str
  sample: ["PUT /cluster/firewall/options enable=1 policy_in=DROP"]
"""

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.firewall import (
    LOG_LEVELS,
    SCOPE_REQUIRED_IF,
    FirewallInputError,
    resolve_scope,
    scope_argument_spec,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ConvergeModule, Write

POLICIES = ("ACCEPT", "REJECT", "DROP")
CONNTRACK_HELPERS = ("amanda", "ftp", "irc", "netbios-ns", "pptp", "sane", "sip", "snmp", "tftp")

# The options of each scope and their kind, from pve-firewall Firewall.pm ($cluster_option_properties,
# $host_option_properties, $vm_option_properties, $vnet_option_properties): "bool", (minimum, maximum)
# for integers, a tuple of words for an enum, or a special kind.
OPTIONS = {
    "cluster": dict(enable="cluster-enable", ebtables="bool", policy_in=POLICIES, policy_out=POLICIES,
                    policy_forward=("ACCEPT", "DROP"), log_ratelimit="ratelimit"),
    "node": dict(
        enable="bool", log_level_in=LOG_LEVELS, log_level_out=LOG_LEVELS, log_level_forward=LOG_LEVELS,
        tcp_flags_log_level=LOG_LEVELS, smurf_log_level=LOG_LEVELS, nosmurfs="bool", tcpflags="bool", ndp="bool",
        nf_conntrack_max=(32768, None), nf_conntrack_tcp_timeout_established=(7875, None),
        nf_conntrack_tcp_timeout_syn_recv=(30, 60), nf_conntrack_allow_invalid="bool", nf_conntrack_helpers="helpers",
        protection_synflood="bool", protection_synflood_rate=(0, None), protection_synflood_burst=(0, None),
        log_nf_conntrack="bool", nftables="bool"),
    "vm": dict(enable="bool", dhcp="bool", ipfilter="bool", macfilter="bool", ndp="bool", radv="bool", policy_in=POLICIES,
               policy_out=POLICIES, log_level_in=LOG_LEVELS, log_level_out=LOG_LEVELS),
    "vnet": dict(enable="bool", policy_forward=("ACCEPT", "DROP"), log_level_forward=LOG_LEVELS),
}
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def as_bool(name, value):
    text = str(value).lower()
    if text in TRUE_WORDS:
        return 1
    if text in FALSE_WORDS:
        return 0
    raise FirewallInputError("options.{0}: {1!r} is not a boolean; nothing was changed".format(name, value))


def ratelimit(text):
    """A log_ratelimit property string as a dict ([enable=]<1|0>[,burst=<n>][,rate=<rate>])."""
    parsed = {}
    for part in str(text).split(","):
        key, _sep, value = part.strip().rpartition("=")
        parsed[key or "enable"] = value
    if "enable" in parsed:
        parsed["enable"] = str(as_bool("log_ratelimit", parsed["enable"]))
    return parsed


def wire_value(name, kind, value):
    """The declared ``value`` of option ``name`` as it is sent, or FirewallInputError."""
    if kind in ("bool", "cluster-enable"):
        return as_bool(name, value)
    if isinstance(kind, tuple) and kind and isinstance(kind[0], str):
        word = str(value)
        word = word.upper() if kind in (POLICIES, ("ACCEPT", "DROP")) else word
        if word not in kind:
            raise FirewallInputError("options.{0}: {1!r} is not one of {2}; nothing was changed".format(name, value, ", ".join(kind)))
        return word
    if isinstance(kind, tuple):
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = None
        low, high = kind
        if number is None or number < low or (high is not None and number > high):
            raise FirewallInputError("options.{0}: {1!r} is not an integer from {2}{3}; nothing was changed".format(
                name, value, low, " to {0}".format(high) if high is not None else " up"))
        return number
    if kind == "helpers":
        helpers = value if isinstance(value, list) else [item for item in str(value).split(",") if item]
        unknown = [helper for helper in helpers if helper not in CONNTRACK_HELPERS]
        if unknown:
            raise FirewallInputError("options.{0}: unknown conntrack helper(s) {1} ({2}); nothing was changed".format(
                name, ", ".join(unknown), ", ".join(CONNTRACK_HELPERS)))
        return ",".join(helpers)
    ratelimit(value)  # refuses a bad enable
    return str(value)


def same(kind, current, desired):
    """Whether PVE's stored value means the declared one."""
    if current is None:
        return False
    if kind == "cluster-enable":  # a stored anti-lockout timestamp means enabled
        return (int(current) > 0) == bool(desired)
    if kind == "bool" or isinstance(kind, tuple) and kind and not isinstance(kind[0], str):
        return int(current) == int(desired)
    if kind == "helpers":
        return set(str(current).split(",")) - {""} == set(str(desired).split(",")) - {""}
    if kind == "ratelimit":
        return ratelimit(current) == ratelimit(desired)
    return str(current) == str(desired)


class OptionsWrite(Write):
    """The options PUT; the digest of the options the plan read is added when it is sent."""

    def __init__(self, path, params, digest):
        Write.__init__(self, "PUT", path, params)
        self.digest = digest

    def send(self, client):
        params = dict(self.params, digest=self.digest) if self.digest else self.params
        return client.request(self.method, self.path, confirm=self.confirm, **params)


class FirewallOptions(ConvergeModule):

    result_key = "options"

    def plan(self):
        params = self.module.params
        kinds = OPTIONS[params["scope"]]
        unknown = [name for name in list(params["options"]) + params["reset"] if name not in kinds]
        if unknown:
            raise FirewallInputError("option(s) {0} do not belong to the {1} firewall (its options: {2}); nothing was changed".format(
                ", ".join(sorted(set(unknown))), params["scope"], ", ".join(sorted(kinds))))
        both = sorted(set(params["options"]) & set(params["reset"]))
        if both:
            raise FirewallInputError("option(s) {0} are both set and reset; nothing was changed".format(", ".join(both)))
        desired = dict((name, wire_value(name, kinds[name], value)) for name, value in params["options"].items())
        scope = resolve_scope(self.client, params)
        self.working_on = "the firewall options of {0}".format(scope)
        current = self.client.get(scope.options_path) or {}
        digest = current.pop("digest", None)
        changes = dict((name, value) for name, value in desired.items() if not same(kinds[name], current.get(name), value))
        removed = sorted(name for name in params["reset"] if name in current)
        after = dict((name, value) for name, value in current.items() if name not in removed)
        after.update(changes)
        if not changes and not removed:
            return [], current, after
        write_params = dict(changes)
        if removed:
            write_params["delete"] = ",".join(removed)
        return [OptionsWrite(scope.options_path, write_params, digest)], current, after


def main():
    spec = scope_argument_spec(["cluster", "node", "vm", "vnet"])
    del spec["group"]
    spec.update(
        options=dict(type="dict", default={}),
        reset=dict(type="list", elements="str", default=[]),
    )
    module = create_module(spec, supports_check_mode=True, required_if=SCOPE_REQUIRED_IF[:3])
    FirewallOptions(module).execute()


if __name__ == "__main__":
    main()
