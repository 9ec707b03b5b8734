# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""firewall_options, firewall_rules, firewall_group, firewall_ipset and firewall_alias against the simulator:
second runs write nothing, check mode plans the real run's writes and diff, a moved rule costs one moveto,
an IP set entry one POST, and bad input fails naming the rule or entry before any write."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys

import pytest

from .playbook import COLLECTIONS, run_tasks

WRITES = ("POST", "PUT", "DELETE")
WEB = dict(type="in", action="ACCEPT", macro="HTTP", comment="web")
TLS = dict(type="in", action="ACCEPT", macro="https")
SSH = dict(type="in", action="ACCEPT", proto="tcp", dport="22", source="10.0.0.0/24")
PING = dict(type="in", action="ACCEPT", proto="icmp", icmp_type="echo-request", log="info")
DROP_REST = dict(type="in", action="DROP")


def writes(sim):
    return [(entry["method"], entry["path"], entry["params"]) for entry in sim.requests() if entry["method"] in WRITES
            and not entry["path"].startswith("/_sim")]


def run_ok(sim, tmp_path, tasks, check=False):
    process, results = run_tasks(sim, tmp_path, tasks, check=check)
    assert process.returncode == 0, process.stdout[-5000:]
    for result in results:
        assert not result.get("failed"), result.get("msg")
    return results


def add_guest(sim, vmid, node="pve2", guest_type="qemu"):
    sim.areas["GuestsArea"].add(vmid, node, type=guest_type)


def pve_rules(api_path, sim):
    return [dict((key, value) for key, value in rule.items() if key not in ("pos", "digest", "ipversion"))
            for rule in sim_get(sim, api_path)]


def sim_get(sim, path):
    from pvesim.testing import ApiSession  # pylint: disable=import-outside-toplevel
    session = ApiSession(sim)
    try:
        return session.data("GET", path)
    finally:
        session.close()


@pytest.mark.parametrize("version", ["8.4", "9.1"])
def test_rules_converge_in_order_and_a_second_run_writes_nothing(sim_factory, tmp_path, version):
    sim = sim_factory(version=version)
    add_guest(sim, 4010)
    declared = dict(scope="vm", vmid=4010, rules=[WEB, TLS, SSH, PING, DROP_REST])
    created, = run_ok(sim, tmp_path, [("firewall_rules", declared)])
    assert created["changed"]
    assert [write.split(" ")[0] for write in created["writes"]] == ["POST"] * 5, "created bottom-up: no moves"
    assert all("enable=1" in write and "digest" not in write for write in created["writes"])
    rules = pve_rules("/nodes/pve2/qemu/4010/firewall/rules", sim)
    assert [(rule["action"], rule.get("macro"), rule.get("dport")) for rule in rules] == [
        ("ACCEPT", "HTTP", None), ("ACCEPT", "HTTPS", None), ("ACCEPT", None, "22"), ("ACCEPT", None, None), ("DROP", None, None)]
    assert all(rule["enable"] == 1 for rule in rules)
    assert created["rules"] == rules
    posts = [params for method, _path, params in writes(sim) if method == "POST"]
    assert all(params.get("digest") for params in posts[1:]), "every write after the first carries the list's digest"

    before = len(writes(sim))
    again, = run_ok(sim, tmp_path, [("firewall_rules", declared)])
    assert not again["changed"] and again["writes"] == [] and len(writes(sim)) == before


def test_moving_one_rule_is_one_moveto_and_check_mode_plans_it(sim, tmp_path):
    run_ok(sim, tmp_path, [("firewall_rules", dict(scope="cluster", rules=[WEB, TLS, SSH, PING]))])
    moved = dict(scope="cluster", rules=[PING, WEB, TLS, SSH])
    start = len(writes(sim))
    predicted, = run_ok(sim, tmp_path, [("firewall_rules", moved)], check=True)
    assert len(writes(sim)) == start, "check mode writes nothing"
    real, = run_ok(sim, tmp_path, [("firewall_rules", moved)])
    assert real["writes"] == predicted["writes"] == ["PUT /cluster/firewall/rules/3 moveto=0"]
    assert real["diff"] == predicted["diff"]
    assert [(method, path) for method, path, _params in writes(sim)[start:]] == [("PUT", "/cluster/firewall/rules/3")]
    assert [rule.get("proto") for rule in pve_rules("/cluster/firewall/rules", sim)] == ["icmp", None, None, "tcp"]


def test_a_rule_changed_by_someone_else_is_matched_by_content_and_updated_in_place(sim, tmp_path):
    run_ok(sim, tmp_path, [("firewall_rules", dict(scope="node", node="pve1", rules=[WEB, SSH]))])
    from pvesim.testing import ApiSession, ok  # pylint: disable=import-outside-toplevel
    session = ApiSession(sim)
    ok(session, "POST", "/nodes/pve1/firewall/rules", type="in", action="DROP", source="192.0.2.7", enable=1)
    session.close()
    start = len(writes(sim))
    kept, exclusive = run_ok(sim, tmp_path, [
        ("firewall_rules", dict(scope="node", node="pve1", rules=[WEB, dict(SSH, comment="admins", enable=False)])),
        ("firewall_rules", dict(scope="node", node="pve1", exclusive=True, rules=[WEB, dict(SSH, comment="admins", enable=False)])),
    ])
    assert kept["writes"] == ["PUT /nodes/pve1/firewall/rules/0 moveto=3", "PUT /nodes/pve1/firewall/rules/1 comment=admins enable=0"]
    assert exclusive["writes"] == ["DELETE /nodes/pve1/firewall/rules/2"]
    assert len(writes(sim)) - start == 3
    assert [(rule["action"], rule["enable"], rule.get("comment")) for rule in pve_rules("/nodes/pve1/firewall/rules", sim)] == [
        ("ACCEPT", 1, "web"), ("ACCEPT", 0, "admins")]


@pytest.mark.parametrize("scope, rule, words", [
    (dict(scope="cluster"), dict(type="in", action="ACCEPT", macro="HTTPX"),
     "rules[1].macro: unknown macro 'HTTPX' (GET /cluster/firewall/macros lists PVE's macros); nothing was changed"),
    (dict(scope="vm", vmid=4010), dict(type="forward", action="ACCEPT"), "rules[1].type: rule type 'forward' is not allowed at vm scope"),
    (dict(scope="cluster"), dict(type="in", action="ACCEPT", source="+nosuchset"), "rules[1].source: no such ipset 'nosuchset'"),
    (dict(scope="cluster"), dict(type="in", action="ACCEPT", dport="22"), "rules[1].dport: 'dport' needs proto"),
    (dict(scope="cluster"), dict(type="forward", action="REJECT"), "rules[1].action: cannot define REJECT rules on forward chain"),
])
def test_bad_rules_fail_before_any_write(sim, tmp_path, scope, rule, words):
    add_guest(sim, 4010)
    _process, (result,) = run_tasks(sim, tmp_path, [("firewall_rules", dict(scope, rules=[WEB, rule]))])
    assert result["failed"]
    assert words in result["msg"]
    assert writes(sim) == []


def test_unknown_guest_fails_clearly(sim, tmp_path):
    _process, (result,) = run_tasks(sim, tmp_path, [("firewall_rules", dict(scope="vm", vmid=4999, rules=[WEB]))])
    assert result["failed"] and "no guest with vmid 4999" in result["msg"] and writes(sim) == []


@pytest.mark.parametrize("version", ["8.4", "9.1"])
def test_options_per_scope_idempotent_and_check_mode_equal(sim_factory, tmp_path, version):
    sim = sim_factory(version=version)
    add_guest(sim, 4010, node="pve1", guest_type="lxc")
    tasks = [
        ("firewall_options", dict(scope="cluster", options=dict(enable=True, policy_in="drop", log_ratelimit="enable=1,burst=10"))),
        ("firewall_options", dict(scope="node", node="pve1", options=dict(nf_conntrack_helpers=["ftp", "sip"], nosmurfs=True))),
        ("firewall_options", dict(scope="vm", vmid=4010, options=dict(enable=1, ipfilter=True, policy_in="DROP"))),
    ]
    predicted = run_ok(sim, tmp_path, tasks, check=True)
    assert writes(sim) == []
    real = run_ok(sim, tmp_path, tasks)
    assert [result["writes"] for result in real] == [result["writes"] for result in predicted]
    assert [result["diff"] for result in real] == [result["diff"] for result in predicted]
    assert real[0]["writes"] == ["PUT /cluster/firewall/options enable=1 log_ratelimit=enable=1,burst=10 policy_in=DROP"]
    assert real[2]["writes"] == ["PUT /nodes/pve1/lxc/4010/firewall/options enable=1 ipfilter=1 policy_in=DROP"]
    assert all(params.get("digest") for _method, _path, params in writes(sim))
    assert sim_get(sim, "/cluster/firewall/options")["enable"] == 1, "1, not the anti-lockout timestamp"
    start = len(writes(sim))
    again = run_ok(sim, tmp_path, tasks + [("firewall_options", dict(scope="node", node="pve1", reset=["tcpflags"]))])
    assert not any(result["changed"] for result in again) and len(writes(sim)) == start
    reset, = run_ok(sim, tmp_path, [("firewall_options", dict(scope="node", node="pve1", reset=["nosmurfs"]))])
    assert reset["writes"] == ["PUT /nodes/pve1/firewall/options delete=nosmurfs"] and "nosmurfs" not in reset["options"]


def test_options_of_another_scope_fail_before_any_write(sim, tmp_path):
    task = ("firewall_options", dict(scope="vnet", vnet="acme01", options=dict(policy_in="DROP")))
    _process, (result,) = run_tasks(sim, tmp_path, [task])
    assert result["failed"] and "policy_in do not belong to the vnet firewall" in result["msg"] and writes(sim) == []


def test_ipset_entries_one_by_one(sim, tmp_path):
    declared = dict(scope="cluster", name="admins", comment="who may SSH", entries=[
        dict(cidr="10.0.0.7/24"), dict(cidr="10.0.1.13", nomatch=True, comment="printer")])
    created, again = run_ok(sim, tmp_path, [("firewall_ipset", declared), ("firewall_ipset", declared)])
    assert created["writes"] == ["POST /cluster/firewall/ipset comment=who may SSH name=admins",
                                 "POST /cluster/firewall/ipset/admins cidr=10.0.0.0/24",
                                 "POST /cluster/firewall/ipset/admins cidr=10.0.1.13 comment=printer nomatch=1"]
    assert not again["changed"] and again["writes"] == []
    start = len(writes(sim))
    grown = dict(declared, entries=declared["entries"] + [dict(cidr="192.0.2.1/32")])
    predicted, = run_ok(sim, tmp_path, [("firewall_ipset", grown)], check=True)
    real, = run_ok(sim, tmp_path, [("firewall_ipset", grown)])
    assert real["writes"] == predicted["writes"] == ["POST /cluster/firewall/ipset/admins cidr=192.0.2.1"]
    assert real["diff"] == predicted["diff"]
    assert [(method, path) for method, path, _params in writes(sim)[start:]] == [("POST", "/cluster/firewall/ipset/admins")]
    trimmed, = run_ok(sim, tmp_path, [("firewall_ipset", dict(declared, exclusive=True, entries=[
        dict(cidr="10.0.0.0/24"), dict(cidr="10.0.1.13", nomatch=False)]))])
    assert trimmed["writes"] == ["PUT /cluster/firewall/ipset/admins/10.0.1.13 nomatch=0",
                                 "DELETE /cluster/firewall/ipset/admins/192.0.2.1"]
    assert [(entry["cidr"], entry.get("nomatch", 0)) for entry in sim_get(sim, "/cluster/firewall/ipset/admins")] == [
        ("10.0.0.0/24", 0), ("10.0.1.13", 0)]
    refused, removed = run_ok_or_failed(sim, tmp_path, [("firewall_ipset", dict(scope="cluster", name="admins", state="absent")),
                                                        ("firewall_ipset", dict(scope="cluster", name="admins", state="absent", force=True))])
    assert refused["failed"] and "has 2 entries" in refused["msg"]
    assert removed["writes"] == ["DELETE /cluster/firewall/ipset/admins force=1"]
    assert sim_get(sim, "/cluster/firewall/ipset") == []


def test_ipset_entries_with_a_prefix_are_updated_and_removed_in_place(sim, tmp_path):
    # PVE addresses them as .../ipset/<name>/10.1.0.0/24 (IPSet.pm fragmentDelimiter '')
    declared = dict(scope="cluster", name="nets", entries=[dict(cidr="10.1.0.0/24"), dict(cidr="10.2.0.0/24")])
    run_ok(sim, tmp_path, [("firewall_ipset", declared)])
    start = len(writes(sim))
    changed, = run_ok(sim, tmp_path, [("firewall_ipset", dict(declared, exclusive=True, entries=[
        dict(cidr="10.2.0.0/24", comment="kept")]))])
    assert changed["writes"] == ["PUT /cluster/firewall/ipset/nets/10.2.0.0/24 comment=kept nomatch=0",
                                 "DELETE /cluster/firewall/ipset/nets/10.1.0.0/24"]
    assert [(method, path) for method, path, _params in writes(sim)[start:]] == [
        ("PUT", "/cluster/firewall/ipset/nets/10.2.0.0/24"), ("DELETE", "/cluster/firewall/ipset/nets/10.1.0.0/24")]
    assert [(entry["cidr"], entry.get("comment")) for entry in sim_get(sim, "/cluster/firewall/ipset/nets")] == [("10.2.0.0/24", "kept")]


def test_bad_ipset_entry_fails_naming_it(sim, tmp_path):
    _process, (result,) = run_tasks(sim, tmp_path, [("firewall_ipset", dict(scope="cluster", name="admins", entries=[
        dict(cidr="10.0.0.0/24"), dict(cidr="10.0.0.300")]))])
    assert result["failed"] and result["msg"].startswith("entries[1].cidr: '10.0.0.300' is not an IP address")
    assert writes(sim) == []


def test_alias_and_group_lifecycle(sim, tmp_path):
    add_guest(sim, 4010)
    tasks = [
        ("firewall_alias", dict(scope="vm", vmid=4010, name="Gateway", cidr="10.128.49.1/32", comment="gw")),
        ("firewall_group", dict(name="webservers", comment="web")),
        ("firewall_rules", dict(scope="group", group="webservers", rules=[WEB, SSH])),
        ("firewall_rules", dict(scope="vm", vmid=4010, rules=[dict(type="group", action="webservers", iface="net0"),
                                                              dict(SSH, source="guest/gateway")])),
    ]
    predicted = run_ok(sim, tmp_path, tasks[:2], check=True)
    created = run_ok(sim, tmp_path, tasks)
    assert [result["writes"] for result in created[:2]] == [result["writes"] for result in predicted]
    assert created[0]["writes"] == ["POST /nodes/pve2/qemu/4010/firewall/aliases cidr=10.128.49.1 comment=gw name=Gateway"]
    start = len(writes(sim))
    again = run_ok(sim, tmp_path, tasks + [("firewall_alias", dict(scope="vm", vmid=4010, name="GATEWAY", cidr="10.128.49.1"))])
    assert not any(result["changed"] for result in again) and len(writes(sim)) == start
    updated, = run_ok(sim, tmp_path, [("firewall_alias", dict(scope="vm", vmid=4010, name="gateway", cidr="10.128.49.254"))])
    assert updated["writes"] == ["PUT /nodes/pve2/qemu/4010/firewall/aliases/Gateway cidr=10.128.49.254 comment=gw"]
    refused, _unused, removed, gone = run_ok_or_failed(sim, tmp_path, [
        ("firewall_group", dict(name="webservers", state="absent")),
        ("firewall_rules", dict(scope="vm", vmid=4010, exclusive=True, rules=[])),
        ("firewall_group", dict(name="webservers", state="absent", force=True)),
        ("firewall_group", dict(name="webservers", state="absent")),
    ])
    assert refused["failed"] and "has 2 rule(s)" in refused["msg"]
    assert removed["writes"] == ["DELETE /cluster/firewall/groups/webservers/1", "DELETE /cluster/firewall/groups/webservers/0",
                                 "DELETE /cluster/firewall/groups/webservers"]
    assert not gone["changed"] and sim_get(sim, "/cluster/firewall/groups") == []


def run_ok_or_failed(sim, tmp_path, tasks):
    _process, results = run_tasks(sim, tmp_path, tasks)
    return results


@pytest.mark.parametrize("module", ["firewall_alias", "firewall_group", "firewall_ipset", "firewall_options", "firewall_rules"])
def test_docs_render(module):
    process = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-doc"), "homecloud.proxmox." + module],
                             env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS), capture_output=True, text=True,
                             timeout=120, check=False)
    assert process.returncode == 0, process.stderr[-2000:]
    assert "homecloud.proxmox." + module in process.stdout and "EXAMPLES" in process.stdout
