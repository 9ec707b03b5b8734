#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: firewall_rules
short_description: Converge the ordered firewall rule list of a Proxmox VE cluster, node, guest, VNet or security group
version_added: 0.1.0
description:
  - Makes the rule list at one scope hold O(rules), in that order, with the fewest API writes.
  - PVE gives rules no id, only a position that shifts with every write. This module identifies a rule by what it
    does (type, action, macro, iface, source, dest, proto, dport, sport, icmp-type), never by position. Declared
    rules are matched to PVE's by that content (identical rules in order), rules already in the right order stay
    where they are, each other one is moved with one C(moveto), and C(enable), C(log) and C(comment) are changed in
    place. A rule with other content is a new rule.
  - PVE inserts every new rule at the top (it ignores C(pos)) and stores it disabled unless C(enable) is sent; the
    module sends C(enable) always and moves a new rule down with one C(moveto) when something must stand above it.
  - Every rule is checked before any write, as PVE would check it (rule types of the scope, REJECT on the forward
    chain, ports without a protocol, macros, interfaces, addresses, and the IP sets, aliases, security groups and
    VNets the rule names); a failure names the rule (V(rules[2].macro)) and nothing is changed.
  - In check mode an IP set, alias or security group that does not exist yet is a warning, not a failure, since
    another task of the play may create it; a real run refuses it before any write. So a play can check its rules
    with C(check_mode=true) on a task before its first write.
  - Each write carries the list's digest, read again just before it; if the list is not what the plan expects at
    that step (someone else changed it meanwhile) the module stops and says so.
options:
  scope:
    description:
      - Where the rules live. V(cluster) is C(/cluster/firewall/rules), V(node) a node's host firewall, V(vm) a
        guest's (QEMU or LXC), V(vnet) an SDN VNet's (forward chain; needs PVE 8.3 and the nftables firewall to be
        enforced), V(group) the rules of a security group (see M(homecloud.proxmox.firewall_group)).
    type: str
    required: true
    choices: [cluster, node, vm, vnet, group]
  node:
    description:
      - The node, with O(scope=node).
      - With O(scope=vm) optional; the guest's node and type are found in C(/cluster/resources).
    type: str
  vmid:
    description: The guest, with O(scope=vm). The module fails if no guest has this id.
    type: int
  vnet:
    description: The VNet, with O(scope=vnet).
    type: str
  group:
    description: The security group, with O(scope=group). It must exist.
    type: str
  rules:
    description: The rules, in the order PVE must evaluate them.
    type: list
    elements: dict
    required: true
    suboptions:
      type:
        description:
          - Direction, or V(group) to insert a security group.
          - V(forward) exists at cluster, node, group and VNet scope (PVE 8.3+); V(in) and V(out) not at VNet scope;
            V(group) not inside a security group.
        type: str
        required: true
        choices: [in, out, forward, group]
      action:
        description: V(ACCEPT), V(DROP) or V(REJECT) (not on V(forward)); for O(rules[].type=group) the group's name.
        type: str
        required: true
      macro:
        description: A PVE macro (C(GET /cluster/firewall/macros)); any case, compared under PVE's spelling.
        type: str
      iface:
        description: Interface; at O(scope=vm) a guest device (V(net0)). Not allowed at group and VNet scope.
        type: str
      source:
        description:
          - Source address; one IP, CIDR or range V(a-b), a comma list of IPs and CIDRs of one family, an IP set
            (V(+name), V(+dc/name), V(+guest/name), V(+sdn/<vnet>-all), V(-gateway), V(-no-gateway), V(-dhcp)) or
            an alias (V(name), V(dc/name), V(guest/name)). IP sets and aliases must exist.
        type: str
      dest:
        description: Destination address, as O(rules[].source).
        type: str
      proto:
        description: Protocol name or number; required with ports (V(tcp), V(udp), V(udplite), V(dccp), V(sctp)).
        type: str
      dport:
        description: Destination ports, V(22), V(8000:8080) or a comma list.
        type: str
      sport:
        description: Source ports, as O(rules[].dport).
        type: str
      icmp_type:
        description: ICMP type (with O(rules[].proto) V(icmp), V(icmpv6) or V(ipv6-icmp)); PVE's C(icmp-type).
        type: str
      log:
        description: Log level for packets matching the rule. Unset means V(nolog).
        type: str
        choices: [emerg, alert, crit, err, warning, notice, info, debug, nolog]
      enable:
        description: Whether the rule is active.
        type: bool
        default: true
      comment:
        description: Comment. Unset means no comment (a comment PVE holds is removed).
        type: str
  exclusive:
    description:
      - If V(true), rules not in O(rules) are deleted.
      - If V(false), they are kept, below the declared rules and in their present order.
    type: bool
    default: false
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.attributes
notes:
  - PVE evaluates V(in)/V(out) rules of a guest only when the guest's firewall and its NIC's C(firewall=1) are on,
    and no rule at all while the cluster firewall is off; see M(homecloud.proxmox.firewall_options).
seealso:
  - module: homecloud.proxmox.firewall_group
  - module: homecloud.proxmox.firewall_ipset
  - module: homecloud.proxmox.firewall_alias
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The web server takes HTTP(S) from anywhere and SSH from the admins, nothing else
  homecloud.proxmox.firewall_rules:
    scope: vm
    vmid: 4010
    exclusive: true
    rules:
      - {type: in, action: ACCEPT, macro: HTTP, comment: web}
      - {type: in, action: ACCEPT, macro: HTTPS}
      - {type: in, action: ACCEPT, macro: SSH, source: +dc/admins}
      - {type: in, action: DROP, log: info}

- name: Insert a security group on every node
  homecloud.proxmox.firewall_rules:
    scope: cluster
    rules:
      - {type: group, action: webservers, iface: vmbr0}

- name: Routed traffic of tenant acme may only leave through its gateway
  homecloud.proxmox.firewall_rules:
    scope: vnet
    vnet: acme01
    rules:
      - {type: forward, action: ACCEPT, source: +sdn/acme01-all, dest: +sdn/acme01-gateway}
      - {type: forward, action: DROP, source: +sdn/acme01-all}
"""

RETURN = r"""
rules:
  description: The rule list after the task (as planned in check mode), in PVE's order, with PVE's key names.
  returned: success
  type: list
  elements: dict
  sample: [{type: in, action: ACCEPT, macro: HTTP, enable: 1, comment: web}]
writes:
  description:
    - The API calls the task made (or, in check mode, would make), in order. Each real write also carries the
      list's digest, which is left out here (it is read just before the write).
  returned: always
  type: list
  elements: str
  sample: ["POST /nodes/pve1/qemu/4010/firewall/rules action=ACCEPT enable=1 macro=HTTP type=in", "PUT /nodes/pve1/qemu/4010/firewall/rules/0 moveto=3"]
written:
  description: After a failure, the calls of RV(writes) that were made before it; they are not undone.
  returned: on failure
  type: list
  elements: str
"""

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.firewall import (
    LOG_LEVELS,
    SCOPE_REQUIRED_IF,
    References,
    RuleWrite,
    check_rules,
    declared_rule,
    plan_rule_calls,
    read_rules,
    resolve_scope,
    scope_argument_spec,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ConvergeModule

RULE_SPEC = dict(
    type=dict(type="str", required=True, choices=["in", "out", "forward", "group"]),
    action=dict(type="str", required=True),
    macro=dict(type="str"),
    iface=dict(type="str"),
    source=dict(type="str"),
    dest=dict(type="str"),
    proto=dict(type="str"),
    dport=dict(type="str"),
    sport=dict(type="str"),
    icmp_type=dict(type="str"),
    log=dict(type="str", choices=list(LOG_LEVELS)),
    enable=dict(type="bool", default=True),
    comment=dict(type="str"),
)


class FirewallRules(ConvergeModule):

    result_key = "rules"

    def plan(self):
        params = self.module.params
        scope = resolve_scope(self.client, params, check_mode=self.module.check_mode)
        if getattr(scope, "missing", False):
            self.module.warn("{0} does not exist (unless another task of the play creates it)".format(scope))
        self.working_on = "the rules of {0}".format(scope)
        references = References(self.client, scope)
        declared = [dict((("icmp-type" if key == "icmp_type" else key), value) for key, value in rule.items())
                    for rule in params["rules"]]
        macros = references.macros if any(rule.get("macro") for rule in declared) else None
        desired = [declared_rule(rule, macros) for rule in declared]
        for warning in check_rules(desired, references, check_mode=self.module.check_mode):
            self.module.warn(warning + " (unless another task of the play creates it)")
        current = read_rules(self.client, scope)
        calls, after = plan_rule_calls(current, desired, params["exclusive"])
        return [RuleWrite(self.client, scope, call) for call in calls], current, after


def main():
    spec = scope_argument_spec(["cluster", "node", "vm", "vnet", "group"])
    spec.update(
        rules=dict(type="list", elements="dict", required=True, options=RULE_SPEC),
        exclusive=dict(type="bool", default=False),
    )
    module = create_module(spec, supports_check_mode=True, required_if=SCOPE_REQUIRED_IF)
    FirewallRules(module).execute()


if __name__ == "__main__":
    main()
