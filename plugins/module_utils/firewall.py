# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the firewall modules share: scopes, the rule model, validation and the rule planner.

Facts about PVE's firewall API come from pve-firewall (src/PVE/Firewall.pm and
src/PVE/API2/Firewall/{Rules,IPSet,Aliases,Groups}.pm at 6f1311f3):

- a rule list is positional; ``POST`` always inserts at position 0 (``pos`` is ignored) and
  stores the rule disabled unless ``enable`` is sent; ``PUT .../{pos}`` with ``moveto`` takes
  the rule out and inserts it before the rule that was at ``moveto`` (at the end when
  ``moveto`` is past the last rule), ignoring every other argument;
- every rule write can carry the list's ``digest`` and fails when the list changed since.

So rules have no identity in PVE but their content: the planner here matches the declared
list to PVE's by content, keeps the longest run of rules already in order where they are,
and plans the fewest creates, moves, updates and deletes, simulating the list after each
write to know the positions of the next one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import ipaddress
import re

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxError
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import Write

UNCHANGED = "nothing was changed"

# --- scopes ------------------------------------------------------------------------------

# Rule types PVE allows per rule environment (Firewall.pm $rule_env_direction_lookup) and
# whether a rule there may name an interface ($rule_env_iface_lookup).
RULE_TYPES = {
    "cluster": ("in", "out", "forward", "group"),
    "node": ("in", "out", "forward", "group"),
    "vm": ("in", "out", "group"),
    "group": ("in", "out", "forward"),
    "vnet": ("forward", "group"),
}
IFACE_ALLOWED = {"cluster": True, "node": True, "vm": True, "group": False, "vnet": False}

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9\-_]+$")  # groups, IP sets and aliases (Firewall.pm)
MAX_GROUP_NAME = 18  # Groups.pm $max_group_name_length
MAX_IPSET_NAME = 64
MAX_ALIAS_NAME = 64


class FirewallInputError(ProxmoxError):
    """A task argument PVE would refuse (or that names something missing), found before any write."""


def scope_argument_spec(scopes):
    """The options that name where a firewall object lives."""
    return dict(
        scope=dict(type="str", required=True, choices=list(scopes)),
        node=dict(type="str"),
        vmid=dict(type="int"),
        vnet=dict(type="str"),
        group=dict(type="str"),
    )


SCOPE_REQUIRED_IF = [("scope", "node", ("node",)), ("scope", "vm", ("vmid",)), ("scope", "vnet", ("vnet",)),
                     ("scope", "group", ("group",))]


class Scope:
    """Where a firewall object lives: its API base path and how messages name it.

    ``base`` is the firewall directory (/cluster/firewall, /nodes/{node}/firewall,
    /nodes/{node}/{qemu|lxc}/{vmid}/firewall, /cluster/sdn/vnets/{vnet}/firewall); a
    security group has no directory, its rules live at /cluster/firewall/groups/{group}.
    """

    def __init__(self, kind, base, label, rules_path=None):
        self.kind = kind
        self.base = base
        self.label = label
        self.rules_path = rules_path or base + "/rules"

    @property
    def options_path(self):
        return self.base + "/options"

    @property
    def ipset_path(self):
        return self.base + "/ipset"

    @property
    def aliases_path(self):
        return self.base + "/aliases"

    def __str__(self):
        return self.label


def find_guest(client, vmid, node=None):
    """(node, qemu|lxc) of a guest, from GET /cluster/resources?type=vm."""
    for resource in client.get("/cluster/resources", type="vm"):
        if str(resource.get("vmid")) == str(vmid):
            if node and resource.get("node") != node:
                raise FirewallInputError("guest {0} is on node '{1}', not on node '{2}'; {3}".format(
                    vmid, resource.get("node"), node, UNCHANGED))
            return resource["node"], resource["type"]
    raise FirewallInputError("no guest with vmid {0} in the cluster (GET /cluster/resources?type=vm); {1}".format(
        vmid, UNCHANGED))


def resolve_scope(client, params, check_mode=False):
    """The Scope a task's ``scope``/``node``/``vmid``/``vnet``/``group`` options name.

    In check mode a security group that does not exist yet is an empty one (``missing`` set):
    an earlier task of the play creates it in a real run."""
    kind = params["scope"]
    if kind == "cluster":
        return Scope(kind, "/cluster/firewall", "the cluster firewall")
    if kind == "node":
        return Scope(kind, "/nodes/{0}/firewall".format(params["node"]), "node {0}".format(params["node"]))
    if kind == "vm":
        node, guest_type = find_guest(client, params["vmid"], params.get("node"))
        return Scope(kind, "/nodes/{0}/{1}/{2}/firewall".format(node, guest_type, params["vmid"]),
                     "guest {0}".format(params["vmid"]))
    if kind == "vnet":
        return Scope(kind, "/cluster/sdn/vnets/{0}/firewall".format(params["vnet"]), "vnet {0}".format(params["vnet"]))
    group = params["group"]
    groups = [entry["group"] for entry in client.get("/cluster/firewall/groups")]
    path = "/cluster/firewall/groups/{0}".format(group)
    if group not in groups and check_mode:
        scope = Scope(kind, path, "security group {0}".format(group), rules_path=path)
        scope.missing = True
        return scope
    if group not in groups:
        raise FirewallInputError("security group '{0}' does not exist: create it with homecloud.proxmox.firewall_group "
                                 "first; {1}".format(group, UNCHANGED))
    path = "/cluster/firewall/groups/{0}".format(group)
    return Scope(kind, path, "security group {0}".format(group), rules_path=path)


# --- the rule model ------------------------------------------------------------------------

RULE_KEYS = ("type", "action", "macro", "iface", "source", "dest", "proto", "dport", "sport", "icmp-type",
             "log", "enable", "comment")
# What a rule does: two rules with the same values here are the same rule. The rest can be
# changed in place with PUT.
IDENTITY_KEYS = ("type", "action", "macro", "iface", "source", "dest", "proto", "dport", "sport", "icmp-type")
ATTRIBUTE_KEYS = ("enable", "log", "comment")
LOG_LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog")
ACTIONS = ("ACCEPT", "DROP", "REJECT")
# Protocols that take ports and the ICMP ones (Firewall.pm $PROTOCOLS_WITH_PORTS, $proto_is_icmp).
PORT_PROTOCOLS = ("tcp", "6", "udp", "17", "udplite", "136", "dccp", "33", "sctp", "132")
ICMP_PROTOCOLS = ("icmp", "1", "icmpv6", "ipv6-icmp", "58")


def rule_from_pve(entry):
    """A rule of PVE's list as this collection compares it: set keys only, ``enable`` as 0/1,
    no ``log`` when it is ``nolog`` (the same as none), no pos/digest/ipversion."""
    rule = {}
    for key in RULE_KEYS:
        value = entry.get(key)
        if value is None or value == "":
            continue
        if key == "enable":
            value = 1 if int(value) else 0
        elif key == "log" and value == "nolog":
            continue
        else:
            value = str(value)
        rule[key] = value
    rule.setdefault("enable", 0)
    return rule


def declared_rule(rule, macros=None):
    """A declared rule (module option) as PVE will hold it: macro under PVE's preferred
    name, ``enable`` 1 unless declared off, no ``log`` for ``nolog``."""
    result = {}
    for key in RULE_KEYS:
        value = rule.get(key)
        if value is None or value == "":
            continue
        if key == "enable":
            value = 1 if value in (True, 1, "1", "true", "yes") else 0
        elif key == "log" and value == "nolog":
            continue
        elif key == "macro" and macros:
            value = macros.get(str(value).lower(), value)
        else:
            value = str(value)
        result[key] = value
    result.setdefault("enable", 1)
    return result


def rule_identity(rule):
    return tuple(rule.get(key) for key in IDENTITY_KEYS)


# --- validation -----------------------------------------------------------------------------

class References:
    """What rules and IP set entries at a scope may name: macros, security groups, IP sets,
    aliases (lower-cased, as PVE looks them up) and SDN IP sets. Each is read on first use."""

    def __init__(self, client, scope):
        self.client = client
        self.scope = scope
        self._read = {}

    def _once(self, name, reader):
        if name not in self._read:
            self._read[name] = reader()
        return self._read[name]

    @property
    def macros(self):
        """{lower-cased name: PVE's preferred name} from GET /cluster/firewall/macros."""
        return self._once("macros", lambda: dict(
            (entry["macro"].lower(), entry["macro"]) for entry in self.client.get("/cluster/firewall/macros")))

    @property
    def groups(self):
        return self._once("groups", lambda: set(entry["group"] for entry in self.client.get("/cluster/firewall/groups")))

    def _scoped(self, suffix, key, lower=False):
        """Names at cluster level and, for a guest, at the guest's level (the only scopes with IP sets and aliases)."""
        paths = ["/cluster/firewall/" + suffix]
        if self.scope.kind == "vm":
            paths.append("{0}/{1}".format(self.scope.base, suffix))
        names = set()
        for path in paths:
            names.update(entry[key].lower() if lower else entry[key] for entry in self.client.get(path))
        return names

    @property
    def ipsets(self):
        return self._once("ipsets", lambda: self._scoped("ipset", "name"))

    @property
    def aliases(self):
        return self._once("aliases", lambda: self._scoped("aliases", "name", lower=True))

    @property
    def sdn_ipsets(self):
        """The IP sets pve-firewall derives from the applied SDN config (<vnet>-all, ...), as
        GET /cluster/firewall/refs lists them with scope ``sdn``."""
        return self._once("sdn_ipsets", lambda: set(
            entry["name"] for entry in self.client.get("/cluster/firewall/refs", type="ipset") if entry.get("scope") == "sdn"))


def address_problem(value, references):
    """Why PVE would refuse ``value`` as a rule's source or dest (Firewall.pm parse_address_list
    and verify_rule), or None: an IP set (``+name``, optionally ``+dc/``, ``+guest/``, ``+sdn/``),
    an alias (optionally ``dc/``, ``guest/``), or addresses: one IP, CIDR or range ``a-b``, or a
    comma list of IPs and CIDRs of one family."""
    if value.startswith("+"):
        match = re.match(r"^\+(guest/|dc/|sdn/)?(.*)$", value)
        prefix, name = match.group(1), match.group(2)
        if not NAME_PATTERN.match(name):
            return "invalid ipset name '{0}'".format(value)
        if prefix == "sdn/":
            if name not in references.sdn_ipsets:
                return ("no such ipset '{0}': PVE makes +sdn/<vnet>-all, -gateway, -no-gateway and -dhcp for the VNets "
                        "with subnets in the applied SDN config".format(name))
            return None
        # PVE looks a name up at every level whatever the prefix (Firewall.pm verify_rule)
        if name not in references.ipsets and name not in references.sdn_ipsets:
            return "no such ipset '{0}' at {1} or at cluster level".format(name, references.scope) \
                if references.scope.kind == "vm" else "no such ipset '{0}'".format(name)
        return None
    alias = re.match(r"^(dc/|guest/)?([A-Za-z][A-Za-z0-9\-_]+)$", value)
    if alias:
        if alias.group(2).lower() not in references.aliases:
            return "no such alias '{0}'".format(value)
        return None
    return address_list_problem(value)


def address_list_problem(value):
    """Why ``value`` is not one IP, CIDR (no host bits, as Net::IP wants) or range, or a comma
    list of IPs and CIDRs of one family; None when it is."""
    elements = value.split(",")
    if any(not element for element in elements):
        return "extraneous commas in list '{0}'".format(value)
    versions = set()
    for element in elements:
        try:
            if "-" in element:
                if len(elements) > 1:
                    return "you can't use a range in a list ('{0}')".format(value)
                first, last = (ipaddress.ip_address(part) for part in element.split("-", 1))
                if first.version != last.version or first > last:
                    return "invalid IP range '{0}'".format(element)
                versions.add(first.version)
            else:
                versions.add(ipaddress.ip_network(element, strict=True).version)
        except ValueError as error:
            return "invalid IP address '{0}': {1}".format(element, error)
    if len(versions) > 1:
        return "detected mixed ipv4/ipv6 addresses in address list '{0}'".format(value)
    return None


def rule_problems(index, rule, references):
    """Every reason PVE would refuse the declared rule ``rule`` (a declared_rule()) at
    ``references.scope``, as ``rules[<index>].<field>: <why>`` lines (Firewall.pm verify_rule)."""
    env = references.scope.kind
    problems = []

    def problem(field, message):
        problems.append("rules[{0}].{1}: {2}".format(index, field, message))

    rule_type, action = rule.get("type"), rule.get("action")
    if rule_type not in RULE_TYPES[env]:
        problem("type", "rule type '{0}' is not allowed at {1} scope (allowed: {2})".format(
            rule_type, env, ", ".join(RULE_TYPES[env])))
    if not action:
        problem("action", "missing; ACCEPT, DROP, REJECT or, for type group, a security group")
    elif rule_type == "group":
        if action not in references.groups:
            problem("action", "no such security group '{0}' (GET /cluster/firewall/groups)".format(action))
        extra = [key for key in ("macro", "source", "dest", "proto", "dport", "sport", "icmp-type") if key in rule]
        if extra:
            problem(extra[0], "a group rule only takes action (the group), iface, log, enable and comment")
    elif action not in ACTIONS:
        problem("action", "unknown action '{0}' (ACCEPT, DROP or REJECT)".format(action))
    elif rule_type == "forward" and action == "REJECT":
        problem("action", "cannot define REJECT rules on forward chain (use DROP)")
    if "iface" in rule:
        if not IFACE_ALLOWED[env]:
            problem("iface", "not allowed in rules at {0} scope".format(env))
        elif env == "vm" and not re.match(r"^net\d+$", rule["iface"]):
            problem("iface", "'{0}' must name a guest network device (net0, net1, ...)".format(rule["iface"]))
    if "macro" in rule and rule["macro"].lower() not in references.macros:
        problem("macro", "unknown macro '{0}' (GET /cluster/firewall/macros lists PVE's macros)".format(rule["macro"]))
    proto = rule.get("proto", "").lower()
    for port in ("dport", "sport"):
        if port in rule:
            if not proto:
                problem(port, "'{0}' needs proto (tcp, udp, udplite, dccp or sctp)".format(port))
            elif proto not in PORT_PROTOCOLS:
                problem(port, "protocol '{0}' does not support ports".format(rule["proto"]))
            elif not re.match(r"^[A-Za-z0-9:,\-]+$", rule[port]):
                problem(port, "'{0}' is not a port, port range (a:b) or comma list of them".format(rule[port]))
    if "icmp-type" in rule:
        if proto not in ICMP_PROTOCOLS:
            problem("icmp-type", "needs proto icmp, icmpv6 or ipv6-icmp")
        if "dport" in rule:
            problem("icmp-type", "cannot be set together with dport")
    if "log" in rule and rule["log"] not in LOG_LEVELS:
        problem("log", "unknown log level '{0}' ({1})".format(rule["log"], ", ".join(LOG_LEVELS)))
    for field in ("source", "dest"):
        if field in rule:
            why = address_problem(rule[field], references)
            if why:
                problem(field, why)
    return problems


# What a reference to an object that does not exist yet reads like (rule_problems).
MISSING_REFERENCE = re.compile(r"^rules\[\d+\]\.\w+: no such (ipset|alias|security group) ")


def check_rules(rules, references, check_mode=False):
    """Raise FirewallInputError naming every problem of the declared rules, before any write.

    In check mode a reference to an IP set, alias or security group that does not exist is
    returned as a warning instead: an earlier task of the play creates it in a real run (and
    a real run still refuses it before any write)."""
    problems = []
    for index, rule in enumerate(rules):
        problems.extend(rule_problems(index, rule, references))
    warnings = [problem for problem in problems if check_mode and MISSING_REFERENCE.match(problem)]
    problems = [problem for problem in problems if problem not in warnings]
    if problems:
        raise FirewallInputError("; ".join(problems) + "; " + UNCHANGED)
    return warnings


def ipset_entry_cidr(index, cidr, references):
    """An IP set entry's cidr as PVE stores it (IPSet.pm create_ip: host bits cleared by
    Firewall.pm clean_cidr, then /32 and /128 dropped by parse_ip_or_cidr), or an alias
    name as given; raises FirewallInputError for anything else."""
    text = str(cidr).strip()
    alias = re.match(r"^(dc/|guest/)?([A-Za-z][A-Za-z0-9\-_]+)$", text)
    if alias:
        if alias.group(2).lower() not in references.aliases:
            raise FirewallInputError("entries[{0}].cidr: '{1}' is neither an address nor a CIDR, and no alias of that "
                                     "name exists; {2}".format(index, text, UNCHANGED))
        return text
    try:
        if "/" not in text:  # clean_cidr leaves a bare address as written
            ipaddress.ip_address(text)
            return text
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise FirewallInputError("entries[{0}].cidr: '{1}' is not an IP address or CIDR network (or alias); {2}".format(
            index, text, UNCHANGED))
    if network.prefixlen == 0:
        raise FirewallInputError("entries[{0}].cidr: a zero prefix is not allowed in ipset entries; {1}".format(
            index, UNCHANGED))
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def check_name(field, name, maximum):
    """PVE's pattern for group, IP set and alias names (Firewall.pm), before any write."""
    if not NAME_PATTERN.match(name) or len(name) > maximum:
        raise FirewallInputError("{0}: '{1}' must start with a letter, hold only letters, digits, '-' and '_', and be 2 to "
                                 "{2} characters long; {3}".format(field, name, maximum, UNCHANGED))


# --- the rule planner (pure) -------------------------------------------------------------------

RuleCall = collections.namedtuple("RuleCall", "method pos params before after")
RuleCall.__doc__ = """One planned rule write: ``method`` POST|PUT|DELETE, ``pos`` (None for
POST), ``params`` (no digest), and the rule list PVE holds ``before`` and ``after`` it."""


def moved(rules, pos, moveto):
    """The list after PUT .../{pos} moveto=<moveto> (Rules.pm update_rule: the rule goes before
    the one that was at ``moveto``, or last when ``moveto`` is past the end)."""
    rule = rules[pos]
    result = [item for index, item in enumerate(rules) if index != pos]
    if moveto >= len(rules):
        result.append(rule)
    else:
        result.insert(moveto - 1 if moveto > pos else moveto, rule)
    return result


def increasing_run(sequence):
    """Indexes of one longest strictly increasing subsequence of ``sequence`` (patience sorting)."""
    tails, tail_index, previous = [], [], [None] * len(sequence)
    for index, value in enumerate(sequence):
        low, high = 0, len(tails)
        while low < high:
            middle = (low + high) // 2
            if tails[middle] < value:
                low = middle + 1
            else:
                high = middle
        previous[index] = tail_index[low - 1] if low else None
        if low == len(tails):
            tails.append(value)
            tail_index.append(index)
        else:
            tails[low] = value
            tail_index[low] = index
    result, index = [], tail_index[-1] if tail_index else None
    while index is not None:
        result.append(index)
        index = previous[index]
    return set(result)


def attribute_update(current, desired):
    """PUT parameters that turn ``current``'s enable/log/comment into ``desired``'s, or {}."""
    params, deleted = {}, []
    for key in ATTRIBUTE_KEYS:
        if current.get(key) == desired.get(key):
            continue
        if desired.get(key) is None:
            deleted.append(key)
        else:
            params[key] = desired[key]
    if deleted:
        params["delete"] = ",".join(deleted)
    return params


def plan_rule_calls(current, desired, exclusive=False):
    """The fewest writes that turn PVE's rule list ``current`` into the declared ``desired``
    (both lists of rule dicts as rule_from_pve()/declared_rule() give them).

    Declared rules are matched to PVE's by identity (IDENTITY_KEYS), duplicates in order.
    Undeclared rules are deleted when ``exclusive``, else kept below the declared block in
    their present order. The rules whose order is already right (a longest increasing run)
    stay; each other one costs one ``moveto``; a new rule costs a POST (it lands at 0) and,
    unless nothing is to stand above it, one ``moveto``; a rule whose enable, log or comment
    differs, one PUT. Returns ``(calls, final list)``.
    """
    waiting = collections.defaultdict(collections.deque)
    for index, rule in enumerate(current):
        waiting[rule_identity(rule)].append(index)
    matched = [waiting[rule_identity(rule)].popleft() if waiting[rule_identity(rule)] else None for rule in desired]
    undeclared = sorted(index for queue in waiting.values() for index in queue)

    # The list is simulated as tokens (("old", index in current) or ("new", index in desired))
    # next to the rule content PVE holds for each.
    tokens = [("old", index) for index in range(len(current))]
    content = dict((("old", index), dict(rule)) for index, rule in enumerate(current))
    calls = []

    def listing():
        return [dict(content[token]) for token in tokens]

    def record(method, pos, params, new_tokens):
        before = listing()
        tokens[:] = new_tokens
        calls.append(RuleCall(method, pos, params, before, listing()))

    if exclusive:
        for index in reversed(undeclared):
            pos = tokens.index(("old", index))
            record("DELETE", pos, {}, tokens[:pos] + tokens[pos + 1:])
        undeclared = []

    target = [("old", index) if index is not None else ("new", number) for number, index in enumerate(matched)]
    target += [("old", index) for index in undeclared]
    olds = [number for number, token in enumerate(target) if token[0] == "old"]
    fixed = set(target[olds[position]] for position in increasing_run([target[number][1] for number in olds]))

    def place(token, moveto):
        """Create (at 0) or move ``token`` so that it lands before the rule now at ``moveto``."""
        if token[0] == "new":
            rule = desired[token[1]]
            content[token] = dict(rule)
            record("POST", None, dict(rule), [token] + tokens)
            if moveto is None:  # it belongs on top, where POST puts it
                return
            pos, moveto = 0, moveto + 1  # everything moved down by one
        else:
            pos = tokens.index(token)
            if moveto in (pos, pos + 1):  # already there
                return
        record("PUT", pos, {"moveto": moveto}, moved(tokens, pos, moveto))

    # The rules above the first one that stays are put on top, last first: a new one then
    # needs no move at all.
    first_fixed = next((number for number, token in enumerate(target) if token in fixed), len(target))
    for token in reversed(target[:first_fixed]):
        place(token, 0 if token[0] == "old" else None)
    # Below it, each rule that does not stay goes right after the one declared above it.
    for number in range(first_fixed, len(target)):
        token = target[number]
        if token not in fixed:
            place(token, tokens.index(target[number - 1]) + 1)

    for number, index in enumerate(matched):
        if index is None:
            continue
        token = ("old", index)
        changes = attribute_update(content[token], desired[number])
        if changes:
            pos = tokens.index(token)
            before = listing()
            updated = dict((key, value) for key, value in content[token].items() if key not in ATTRIBUTE_KEYS)
            updated.update((key, desired[number][key]) for key in ATTRIBUTE_KEYS if key in desired[number])
            content[token] = updated
            calls.append(RuleCall("PUT", pos, changes, before, listing()))
    return calls, listing()


# --- sending rule writes with the digest --------------------------------------------------------


class RuleWrite(Write):
    """A planned rule write that, when sent, first re-reads the list, checks PVE holds what the
    plan expects at this step, and sends the write with that list's digest. The digest is not
    a parameter of the plan, so ``writes`` are the same in check mode and in a real run."""

    def __init__(self, client, scope, call):
        path = scope.rules_path if call.pos is None else "{0}/{1}".format(scope.rules_path, call.pos)
        Write.__init__(self, call.method, path, call.params,
                       what="{0} {1}".format(call.method, path))
        self.scope = scope
        self.expected_before = call.before
        self.expected_after = call.after
        self.confirm = lambda: self._holds_after(client)

    def read(self, client):
        listing = client.get(self.scope.rules_path)
        return [rule_from_pve(entry) for entry in listing], (listing[0].get("digest") if listing else None)

    def _holds_after(self, client):
        rules, _digest = self.read(client)
        if rules == self.expected_after:
            return True
        if rules == self.expected_before:
            return False
        return None

    def send(self, client):
        rules, digest = self.read(client)
        if rules != self.expected_before:
            raise ProxmoxError(
                "the rules of {0} changed while this task ran (before {1} PVE holds {2} rules, the plan expected {3}); "
                "nothing more was changed: run the task again".format(
                    self.scope, self, len(rules), len(self.expected_before)))
        params = dict(self.params)
        if digest:
            params["digest"] = digest
        return client.request(self.method, self.path, confirm=self.confirm, **params)


def read_rules(client, scope):
    """PVE's rule list at ``scope`` as rule_from_pve() dicts."""
    if getattr(scope, "missing", False):
        return []
    return [rule_from_pve(entry) for entry in client.get(scope.rules_path)]
