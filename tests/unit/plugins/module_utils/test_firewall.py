# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The firewall rule planner, the rule model and the validation (module_utils/firewall.py).

The planner's writes are replayed on PveRuleList, a model of PVE's rule list written here
from pve-firewall src/PVE/API2/Firewall/Rules.pm (create_rule unshifts and stores a rule
disabled without ``enable``; update_rule with ``moveto`` re-inserts before the rule that was
at ``moveto``; ``delete`` removes properties), independent of the planner's own simulation.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.firewall import (
    FirewallInputError,
    Scope,
    address_list_problem,
    check_rules,
    declared_rule,
    increasing_run,
    ipset_entry_cidr,
    moved,
    plan_rule_calls,
    rule_from_pve,
    rule_problems,
)


class PveRuleList:
    """PVE's rule list, as the API changes it."""

    def __init__(self, rules):
        self.rules = [dict(rule) for rule in rules]

    def apply(self, call):
        if call.method == "POST":
            assert call.pos is None
            rule = dict(call.params)
            rule.setdefault("enable", 0)
            self.rules.insert(0, rule)
        elif call.method == "DELETE":
            assert not call.params
            del self.rules[call.pos]
        elif "moveto" in call.params:
            assert set(call.params) == {"moveto"}, "PVE ignores the other arguments of a move"
            rule = self.rules[call.pos]
            rest = []
            for index, item in enumerate(self.rules):
                if index == call.pos:
                    continue
                if index == call.params["moveto"]:
                    rest.append(rule)
                rest.append(item)
            if call.params["moveto"] >= len(self.rules):
                rest.append(rule)
            self.rules = rest
        else:
            rule = self.rules[call.pos]
            for key, value in call.params.items():
                if key != "delete":
                    rule[key] = value
            for key in call.params.get("delete", "").split(","):
                rule.pop(key, None)


def rule(action="ACCEPT", type="in", **extra):  # pylint: disable=redefined-builtin
    return declared_rule(dict(type=type, action=action, **extra))


def replay(current, desired, exclusive=False):
    calls, final = plan_rule_calls(current, desired, exclusive)
    model = PveRuleList(current)
    for call in calls:
        assert model.rules == call.before, "the plan's view of the list before a write is PVE's"
        model.apply(call)
        assert model.rules == call.after
    assert model.rules == final
    return calls, model.rules


WEB = rule(macro="HTTP", comment="web")
SSH = rule(macro="SSH", source="10.0.0.0/24")
PING = rule(proto="icmp", **{"icmp-type": "echo-request"})
DNS = rule(proto="udp", dport="53")
DROP_ALL = rule(action="DROP")


def test_moveto_inserts_before_the_rule_that_was_there():
    assert moved(list("abcde"), 0, 3) == list("bcade")
    assert moved(list("abcde"), 4, 1) == list("aebcd")
    assert moved(list("abcde"), 1, 9) == list("acdeb")
    assert moved(list("abcde"), 2, 3) == list("abcde")


def test_increasing_run_is_a_longest_one():
    assert sorted(increasing_run([3, 0, 1, 4, 2])) in ([1, 2, 4], [1, 2, 3])
    assert increasing_run([]) == set()


def test_nothing_to_do_is_no_write():
    calls, final = replay([WEB, SSH, DNS], [WEB, SSH, DNS])
    assert calls == [] and final == [WEB, SSH, DNS]


def test_creates_into_an_empty_list_need_no_moves():
    calls, final = replay([], [WEB, SSH, DNS])
    assert [call.method for call in calls] == ["POST", "POST", "POST"]
    assert final == [WEB, SSH, DNS]
    assert all(call.params["enable"] == 1 for call in calls), "PVE stores a rule sent without enable disabled"


def test_a_new_rule_below_existing_ones_is_posted_then_moved_once():
    calls, final = replay([WEB, SSH], [WEB, SSH, DNS])
    assert [(call.method, call.pos, call.params.get("moveto")) for call in calls] == [("POST", None, None), ("PUT", 0, 3)]
    assert final == [WEB, SSH, DNS]


def test_moving_one_rule_costs_one_moveto():
    calls, final = replay([WEB, SSH, DNS, PING], [WEB, PING, SSH, DNS])
    assert [(call.method, set(call.params)) for call in calls] == [("PUT", {"moveto"})]
    assert final == [WEB, PING, SSH, DNS]
    calls, _final = replay([WEB, SSH, DNS, PING], [SSH, DNS, PING, WEB])
    assert len(calls) == 1


def test_identity_is_content_not_position_and_attributes_are_updated_in_place():
    renamed = dict(WEB, comment="public web", log="info")
    calls, final = replay([SSH, WEB], [SSH, renamed])
    assert [(call.method, call.pos, call.params) for call in calls] == [("PUT", 1, dict(comment="public web", log="info"))]
    assert final == [SSH, renamed]
    uncommented = dict((key, value) for key, value in WEB.items() if key != "comment")
    calls, _final = replay([WEB], [dict(uncommented, enable=0)])
    assert calls[0].params == dict(enable=0, delete="comment")


def test_undeclared_rules_stay_below_the_declared_block_unless_exclusive():
    stray = rule(action="DROP", source="192.0.2.1")
    calls, final = replay([stray, WEB, SSH], [WEB, SSH])
    assert final == [WEB, SSH, stray] and len(calls) == 1
    calls, final = replay([stray, WEB, SSH], [WEB, SSH], exclusive=True)
    assert final == [WEB, SSH] and [(call.method, call.pos) for call in calls] == [("DELETE", 0)]


def test_duplicates_are_matched_in_order():
    first, second = dict(DNS, comment="one"), dict(DNS, comment="two")
    calls, final = replay([DNS, DNS], [first, second])
    assert final == [first, second] and [call.pos for call in calls] == [0, 1]
    calls, final = replay([DNS, WEB, DNS], [DNS, DNS, WEB], exclusive=True)
    assert final == [DNS, DNS, WEB] and len(calls) == 1


def test_random_plans_reach_the_declaration_with_few_writes():
    pool = [rule(proto="tcp", dport=str(port)) for port in range(20, 32)] + [WEB, SSH, PING, DROP_ALL]
    generator = random.Random(20260101)
    for _round in range(400):
        current = [dict(generator.choice(pool), comment=generator.choice([None, "a", "b"])) for _draw in range(generator.randint(0, 8))]
        current = [dict((key, value) for key, value in item.items() if value is not None) for item in current]
        desired = [dict(generator.choice(pool)) for _draw in range(generator.randint(0, 8))]
        exclusive = generator.random() < 0.5
        calls, final = replay(current, desired, exclusive)
        if exclusive:
            assert final == desired
        else:
            assert final[:len(desired)] == desired
            leftover = final[len(desired):]
            assert len(leftover) == len(current) - len(desired) + sum(1 for call in calls if call.method == "POST")
        again, _same = plan_rule_calls(final, desired, exclusive)
        assert again == [], "a second plan on the result is empty"
        # never more than: delete or create per rule, one move per rule, one update per rule
        assert len(calls) <= 3 * (len(current) + len(desired))


def test_random_single_moves_cost_exactly_one_write():
    pool = [rule(proto="tcp", dport=str(port)) for port in range(1000, 1010)]
    generator = random.Random(7)
    for _round in range(200):
        current = generator.sample(pool, generator.randint(2, 10))
        desired = list(current)
        item = desired.pop(generator.randrange(len(desired)))
        desired.insert(generator.randrange(len(desired) + 1), item)
        calls, final = replay(current, desired, exclusive=generator.random() < 0.5)
        assert final == desired
        assert len(calls) == (0 if desired == current else 1)
        assert all("moveto" in call.params for call in calls)


def test_rule_from_pve_drops_listing_keys_and_nolog():
    entry = dict(pos=3, digest="d", ipversion=4, type="in", action="ACCEPT", enable=1, log="nolog", dport=22, proto="tcp")
    assert rule_from_pve(entry) == dict(type="in", action="ACCEPT", enable=1, dport="22", proto="tcp")
    assert rule_from_pve(dict(type="in", action="DROP"))["enable"] == 0


def test_declared_rule_takes_pve_macro_names_and_enables_by_default():
    assert declared_rule(dict(type="in", action="ACCEPT", macro="ssh", log="nolog"), {"ssh": "SSH"}) == \
        dict(type="in", action="ACCEPT", macro="SSH", enable=1)
    assert declared_rule(dict(type="in", action="ACCEPT", enable=False))["enable"] == 0


class FakeReferences:
    def __init__(self, kind):
        self.scope = Scope(kind, "/nodes/pve1/qemu/100/firewall" if kind == "vm" else "/cluster/firewall", kind)
        self.macros = {"http": "HTTP", "ssh": "SSH"}
        self.groups = {"webservers"}
        self.ipsets = {"admins"}
        self.aliases = {"gateway"}
        self.sdn_ipsets = {"acme01-all", "acme01-gateway"}


@pytest.mark.parametrize("kind, bad, field, words", [
    ("cluster", dict(type="in", action="ACCEPT", macro="HTTPX"), "macro", "unknown macro 'HTTPX'"),
    ("vm", dict(type="forward", action="ACCEPT"), "type", "not allowed at vm scope"),
    ("vnet", dict(type="in", action="ACCEPT"), "type", "not allowed at vnet scope"),
    ("group", dict(type="group", action="webservers"), "type", "not allowed at group scope"),
    ("cluster", dict(type="forward", action="REJECT"), "action", "cannot define REJECT rules on forward chain"),
    ("cluster", dict(type="in", action="ACCEPT", dport="22"), "dport", "needs proto"),
    ("cluster", dict(type="in", action="ACCEPT", proto="icmp", sport="22"), "sport", "does not support ports"),
    ("cluster", dict(type="in", action="ACCEPT", source="+nosuchset"), "source", "no such ipset 'nosuchset'"),
    ("cluster", dict(type="in", action="ACCEPT", dest="dc/nosuchalias"), "dest", "no such alias"),
    ("cluster", dict(type="in", action="ACCEPT", source="+sdn/other-all"), "source", "no such ipset 'other-all'"),
    ("cluster", dict(type="in", action="ACCEPT", source="10.0.0.1/24"), "source", "invalid IP address"),
    ("cluster", dict(type="in", action="ACCEPT", source="10.0.0.1,fe80::1"), "source", "mixed ipv4/ipv6"),
    ("cluster", dict(type="in", action="ACCEPT", source="10.0.0.1-10.0.0.9,10.0.1.1"), "source", "range in a list"),
    ("cluster", dict(type="group", action="nosuchgroup"), "action", "no such security group"),
    ("vm", dict(type="in", action="ACCEPT", iface="vmbr0"), "iface", "net0"),
    ("vnet", dict(type="forward", action="ACCEPT", iface="vmbr0"), "iface", "not allowed"),
    ("cluster", dict(type="in", action="accept"), "action", "unknown action"),
])
def test_rule_problems_name_the_index_and_field(kind, bad, field, words):
    problems = rule_problems(2, declared_rule(bad), FakeReferences(kind))
    assert problems and problems[0].startswith("rules[2].{0}: ".format(field)) and words in problems[0], problems


@pytest.mark.parametrize("kind, good", [
    ("cluster", dict(type="in", action="ACCEPT", macro="ssh", source="+dc/admins", dest="gateway")),
    ("vm", dict(type="in", action="ACCEPT", iface="net0", proto="tcp", dport="80,443", source="+guest/admins")),
    ("vnet", dict(type="forward", action="DROP", source="+sdn/acme01-gateway", dest="10.0.0.0/8")),
    ("cluster", dict(type="group", action="webservers", iface="vmbr0")),
    ("group", dict(type="forward", action="ACCEPT", source="10.0.0.1-10.0.0.9", proto="icmp", **{"icmp-type": "echo-request"})),
])
def test_rules_pve_accepts_pass(kind, good):
    assert rule_problems(0, declared_rule(good), FakeReferences(kind)) == []


def test_check_rules_names_every_problem_and_says_nothing_changed():
    with pytest.raises(FirewallInputError) as raised:
        check_rules([declared_rule(dict(type="in", action="ACCEPT")), declared_rule(dict(type="in", action="ACCEPT", macro="HTTPX"))],
                    FakeReferences("cluster"))
    assert str(raised.value) == ("rules[1].macro: unknown macro 'HTTPX' (GET /cluster/firewall/macros lists PVE's macros); "
                                 "nothing was changed")


def test_address_lists():
    assert address_list_problem("10.0.0.0/8,192.168.1.1") is None
    assert address_list_problem("fe80::1-fe80::9") is None
    assert "extraneous commas" in address_list_problem("10.0.0.1,")


def test_ipset_entries_are_compared_as_pve_stores_them():
    references = FakeReferences("cluster")
    assert ipset_entry_cidr(0, "10.1.2.3/24", references) == "10.1.2.0/24"
    assert ipset_entry_cidr(0, "10.1.2.3/32", references) == "10.1.2.3"
    assert ipset_entry_cidr(0, "2001:DB8::1/64", references) == "2001:db8::/64"
    assert ipset_entry_cidr(0, "dc/gateway", references) == "dc/gateway"
    for bad, words in (("10.1.2.300", "not an IP address"), ("0.0.0.0/0", "zero prefix"), ("nosuch", "no alias")):
        with pytest.raises(FirewallInputError) as raised:
            ipset_entry_cidr(4, bad, references)
        assert str(raised.value).startswith("entries[4].cidr: ") and words in str(raised.value)
