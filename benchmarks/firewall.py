# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Firewall benchmark: homecloud.proxmox's firewall_rules/firewall_ipset against community.proxmox's proxmox_firewall.

Against the simulator (pvesim) with injected latency per request, each side runs five scenarios
on the cluster firewall, each from an empty simulator state set up (not counted) with the
previous scenario's declaration by the same side:

  1. converge: an ordered list of 30 rules and the IP set `admins` (20 entries) the rules name;
  2. re-run: the same declaration again;
  3. move: the 25th rule becomes the 3rd;
  4. add-entry: one more entry in the IP set;
  5. comment: one rule's comment changed.

Per scenario and side it records the simulator's request counters, the Ansible task results and
the wall time, and checks that the end state (GET /cluster/firewall/rules, order included, and
the IP set) is the declaration. It writes a Markdown table to stdout and benchmarks/results/firewall.md.

    python benchmarks/firewall.py [--pve-version 9.1] [--latency-ms 20] [--output FILE]

The simulator, the playbook runner, the counting and community.proxmox's download are those of
benchmarks/run.py (the SDN benchmark), imported from there.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import copy
import datetime
import json
import os
import platform
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# pylint: disable=wrong-import-position
from run import (  # noqa: E402  (run.py of this directory; imported after its path is known)
    BUILD, OUR_COLLECTIONS, ROOT, THEIR_COLLECTIONS, COLLECTION_PREFIX,
    BenchError, Simulator, ansible_core_version, fetch_community_proxmox, ratio, run_playbook,
)

BENCH_DIR = os.path.join(ROOT, "benchmarks")
OUR_PLAYBOOK = os.path.join(BENCH_DIR, "firewall_ours.yml")
THEIR_PLAYBOOK = os.path.join(BENCH_DIR, "community_proxmox_firewall.yml")
RESULTS = os.path.join(BENCH_DIR, "results", "firewall.md")
LOGS = os.path.join(BUILD, "runs", "firewall")
SIDES = (("ours", "homecloud.proxmox", OUR_PLAYBOOK), ("theirs", "community.proxmox", THEIR_PLAYBOOK))
THEIR_MODULE = "plugins/modules/proxmox_firewall.py"

IPSET_NAME = "admins"
IPSET_COMMENT = "who may administer the cluster"
# The rules name the IP set as PVE 8/9 spell a cluster set from the cluster scope (pve-firewall
# src/PVE/Firewall.pm: `+dc/<name>` or the bare `+<name>`).
ADMINS = "+dc/" + IPSET_NAME
MOVED_FROM, MOVED_TO = 25, 3            # ordinal positions (1 = the first rule; PVE's pos is this - 1)
RECOMMENTED = {"comment": "admins: web UI"}    # the rule whose comment scenario 5 changes
NEW_COMMENT = "admins: web UI and API"
NEW_ENTRY = {"cidr": "192.0.2.99", "comment": "new admin laptop"}

# (type, action, options): a host firewall of a three-node cluster with Ceph, an EVPN underlay,
# monitoring and a default deny; macros, ports, the admins IP set and plain CIDRs as sources.
BASE_RULES = (
    ("in", "ACCEPT", dict(macro="SSH", source=ADMINS, comment="admins: ssh")),
    ("in", "ACCEPT", dict(proto="tcp", dport="8006", source=ADMINS, comment="admins: web UI")),
    ("in", "ACCEPT", dict(proto="tcp", dport="5900:5999", source=ADMINS, comment="admins: VNC consoles")),
    ("in", "ACCEPT", dict(proto="tcp", dport="3128", source=ADMINS, comment="admins: SPICE proxy")),
    ("in", "ACCEPT", dict(macro="Ping", source="10.0.0.0/8")),
    ("in", "ACCEPT", dict(proto="udp", dport="5405:5412", source="10.20.0.0/24", comment="corosync")),
    ("in", "ACCEPT", dict(proto="tcp", dport="22", source="10.20.0.0/24", comment="ssh between nodes")),
    ("in", "ACCEPT", dict(proto="tcp", dport="8006", source="10.20.0.0/24", comment="pveproxy between nodes")),
    ("in", "ACCEPT", dict(proto="tcp", dport="179", source="10.30.0.0/24", comment="BGP on the underlay")),
    ("in", "ACCEPT", dict(proto="udp", dport="4789", source="10.30.0.0/24", comment="VXLAN on the underlay")),
    ("in", "ACCEPT", dict(macro="Ceph", source="10.40.0.0/24", comment="ceph public network")),
    ("in", "ACCEPT", dict(proto="tcp", dport="9100", source="10.50.0.5", comment="node exporter")),
    ("in", "ACCEPT", dict(proto="tcp", dport="9221", source="10.50.0.5", comment="pve exporter")),
    ("in", "ACCEPT", dict(macro="SNMP", source="10.50.0.6")),
    ("in", "ACCEPT", dict(macro="NTP", source="10.0.0.0/8")),
    ("in", "ACCEPT", dict(proto="tcp", dport="3260", source="10.40.0.0/24", comment="iSCSI")),
    ("out", "ACCEPT", dict(macro="DNS", dest="10.0.0.53")),
    ("out", "ACCEPT", dict(macro="NTP", dest="10.0.0.123")),
    ("out", "ACCEPT", dict(macro="HTTP", comment="package mirrors")),
    ("out", "ACCEPT", dict(macro="HTTPS", comment="package mirrors")),
    ("out", "ACCEPT", dict(macro="SMTP", dest="10.0.0.25", comment="mail relay")),
    ("out", "ACCEPT", dict(proto="tcp", dport="8007", dest="10.60.0.10", comment="backup server")),
    ("out", "ACCEPT", dict(macro="Syslog", dest="10.50.0.7")),
    ("in", "ACCEPT", dict(macro="HTTPS", dest="10.70.0.10", comment="reverse proxy")),
    ("in", "DROP", dict(source="192.0.2.128/25", log="warning", comment="quarantined lab network")),
    ("in", "REJECT", dict(proto="tcp", dport="25", log="info")),
    ("in", "ACCEPT", dict(macro="HTTP", dest="10.70.0.10", comment="reverse proxy, redirect")),
    ("in", "DROP", dict(proto="udp", dport="137:139", comment="no NetBIOS")),
    ("in", "DROP", dict(proto="tcp", dport="445", comment="no SMB")),
    ("in", "DROP", dict(log="info", comment="default deny, logged")),
)

# 18 admin hosts and 2 networks, one of them with a host excluded.
BASE_ENTRIES = tuple([{"cidr": "192.0.2.%d" % host} for host in range(1, 17)]
                     + [{"cidr": "192.0.2.50", "comment": "jump host"},
                        {"cidr": "192.0.2.51", "comment": "jump host, standby"},
                        {"cidr": "198.51.100.0/24", "comment": "office"},
                        {"cidr": "198.51.100.13", "nomatch": True, "comment": "office printer"}])

SCENARIOS = (
    ("converge", "30 rules and the IP set (20 entries) on an empty cluster firewall"),
    ("re-run", "the same declaration again"),
    ("move", "the %dth rule moved to position %d (1-based; PVE pos %d)" % (MOVED_FROM, MOVED_TO, MOVED_TO - 1)),
    ("add-entry", "one IP set entry added (%s)" % NEW_ENTRY["cidr"]),
    ("comment", "one rule's comment changed (`%s` -> `%s`)" % (RECOMMENTED["comment"], NEW_COMMENT)),
)


def declarations():
    """[(scenario, rules, ipset)]: each scenario's declaration, built on the previous one's."""
    rules = [dict(options, type=rule_type, action=action) for rule_type, action, options in BASE_RULES]
    ipset = {"name": IPSET_NAME, "comment": IPSET_COMMENT, "entries": [dict(entry) for entry in BASE_ENTRIES]}
    result = []
    for scenario, _text in SCENARIOS:
        if scenario == "move":
            rules.insert(MOVED_TO - 1, rules.pop(MOVED_FROM - 1))
        elif scenario == "add-entry":
            ipset["entries"].append(dict(NEW_ENTRY))
        elif scenario == "comment":
            target = [rule for rule in rules if rule.get("comment") == RECOMMENTED["comment"]]
            target[0]["comment"] = NEW_COMMENT
        result.append((scenario, copy.deepcopy(rules), copy.deepcopy(ipset)))
    return result


def play_variables(rules, ipset):
    """The variables both playbooks read: the same rules and IP set.

    `bench_rules` is the ordered list (homecloud.proxmox.firewall_rules identifies rules by content).
    `bench_rules_positioned` is the same list as proxmox_firewall's documentation shows it: every
    rule with its `pos` (required there; its rules are matched by position) and `enable: true`
    (its `enable` has no default, and PVE stores a rule created without it disabled).
    """
    positioned = [dict(rule, pos=index, enable=True) for index, rule in enumerate(rules)]
    return {"bench_rules": rules, "bench_rules_positioned": positioned, "bench_ipset": ipset}


# -- end state -----------------------------------------------------------------------------------------------------------

def pve_rule(rule):
    """A declared rule as PVE lists it: `enable` 0/1, `icmp-type`, no `nolog`, no empty options."""
    result = {}
    for key, value in rule.items():
        if value is None or value == "" or key in ("pos",):
            continue
        if key == "icmp_type":
            key = "icmp-type"
        if key == "enable":
            value = 1 if value else 0
        if key == "log" and value == "nolog":
            continue
        result[key] = value
    result.setdefault("enable", 1)
    return result


def held_rule(rule):
    """A rule of `GET /cluster/firewall/rules` without what PVE derives (pos, digest, ipversion)."""
    return dict((key, value) for key, value in rule.items() if key not in ("pos", "digest", "ipversion"))


def held_entry(entry):
    """An IP set entry as declared: cidr, `nomatch` only when set, comment only when set."""
    result = {"cidr": entry["cidr"]}
    if entry.get("nomatch") in (True, 1, "1"):
        result["nomatch"] = True
    if entry.get("comment"):
        result["comment"] = entry["comment"]
    return result


def check_end_state(sim, rules, ipset):
    """(rule problems, IP set problems): how the rules (in order) and the IP set's entries differ from the declaration."""
    return rule_problems(sim, rules), ipset_problems(sim, ipset)


def rule_problems(sim, rules):
    problems = []
    held = [held_rule(rule) for rule in sim.call("GET", "/cluster/firewall/rules", api=True)]
    declared = [pve_rule(rule) for rule in rules]
    if len(held) != len(declared):
        problems.append("%d rules held, %d declared" % (len(held), len(declared)))
    wrong = [index for index in range(min(len(held), len(declared))) if held[index] != declared[index]]
    if wrong:
        first = wrong[0]
        extra = sorted(set(held[first]) - set(declared[first]))
        problems.append("%d of %d rule positions differ from the declaration (pos %s); e.g. pos %d holds %s, declared %s%s"
                        % (len(wrong), len(declared), ",".join(str(index) for index in wrong), first,
                           json.dumps(held[first], sort_keys=True), json.dumps(declared[first], sort_keys=True),
                           "; left over from the rule that stood there before: %s" % ", ".join(extra) if extra else ""))
    return problems


def ipset_problems(sim, ipset):
    names = [entry["name"] for entry in sim.call("GET", "/cluster/firewall/ipset", api=True)]
    if ipset["name"] not in names:
        return ["IP set %s missing" % ipset["name"]]
    entries = sorted((held_entry(entry) for entry in sim.call("GET", "/cluster/firewall/ipset/%s" % ipset["name"], api=True)),
                     key=lambda entry: entry["cidr"])
    wanted = sorted((held_entry(entry) for entry in ipset["entries"]), key=lambda entry: entry["cidr"])
    if entries == wanted:
        return []
    missing = [entry["cidr"] for entry in wanted if entry not in entries]
    unexpected = [entry["cidr"] for entry in entries if entry not in wanted]
    return ["IP set %s: %d entries held, %d declared; not as declared: %s; not declared: %s"
            % (ipset["name"], len(entries), len(wanted), missing or "-", unexpected or "-")]


# -- the runs ------------------------------------------------------------------------------------------------------------

def converge(sim, workdir, side, rules, ipset, run_name):
    """One ansible-playbook run of `side` converging (rules, ipset); its row with the end-state check."""
    playbook = dict((name, path) for name, _label, path in SIDES)[side]
    collections = [OUR_COLLECTIONS] + ([THEIR_COLLECTIONS] if side == "theirs" else [])
    variables = os.path.join(workdir, "%s-%s.json" % (side, run_name))
    with open(variables, "w", encoding="utf-8") as handle:
        json.dump(play_variables(rules, ipset), handle, indent=1)
    row = run_playbook(sim, playbook, collections, {"bench_firewall_vars": variables},
                       os.path.join(LOGS, "%s-%s.log" % (side, run_name)))
    row["rule_problems"], row["ipset_problems"] = check_end_state(sim, rules, ipset)
    print("bench:   %s: rc %s, %d requests, %d writes, %d task results (%d changed), %.1f s, rules %s, IP set %s"
          % (run_name, row["rc"], row["requests"], row["writes"], row["tasks"], row["changed"], row["wall"],
             "WRONG" if row["rule_problems"] else "ok", "WRONG" if row["ipset_problems"] else "ok"), flush=True)
    return row


def bench(version, latency_ms):
    """Both sides, each scenario from a fresh simulator state: reset, set up, then the measured run.

    A scenario's start is the previous scenario's declaration, converged by the same side's playbook
    (not counted; its end state is checked too), so a side that fails one scenario starts the next
    one from the state it should have, not from its own failure.
    """
    os.makedirs(LOGS, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="homecloud-bench-fw-")
    sim = Simulator(version, workdir)
    result = dict(version=version, rows={}, setups={})
    try:
        sim.start()
        print("bench: PVE %s simulator (pid %d) on https://127.0.0.1:%d, %d ms per request"
              % (version, sim.process.pid, sim.port, latency_ms), flush=True)
        for side, label, _playbook in SIDES:
            previous_rules = previous_ipset = None
            for scenario, rules, ipset in declarations():
                print("bench: %s, %s ..." % (label, scenario), flush=True)
                sim.reset(latency_ms)
                if previous_rules is not None:
                    result["setups"][(side, scenario)] = converge(sim, workdir, side, previous_rules, previous_ipset,
                                                                  scenario + "-setup")
                result["rows"][(side, scenario)] = converge(sim, workdir, side, rules, ipset, scenario)
                previous_rules, previous_ipset = rules, ipset
    finally:
        sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return result


# -- report --------------------------------------------------------------------------------------------------------------

def markdown(result, community, latency_ms, started):
    lines = ["# Firewall benchmark: homecloud.proxmox vs community.proxmox", "",
             "Generated by `python benchmarks/firewall.py` on %s; Python %s, ansible-core %s." % (
                 started.strftime("%Y-%m-%d %H:%M UTC"), platform.python_version(), ansible_core_version()), "",
             "- Cluster firewall: an ordered list of %d rules (macros, ports, the IP set `%s` and plain CIDRs as sources) and "
             "the IP set `%s` of %d entries, both created by the same play (IP set task first, then the rules)."
             % (len(BASE_RULES), ADMINS, IPSET_NAME, len(BASE_ENTRIES)),
             "- Simulator: pvesim PVE %s, 3 nodes, %d ms injected latency per API request. Every scenario of every side "
             "starts from an empty state (`POST /_sim/reset`); from scenario 2 on, the same side's playbook first converges "
             "the previous scenario's declaration (set-up, not counted; its end state is checked as well), then the "
             "measured run converges the scenario's." % (result["version"], latency_ms),
             "- Ours: `benchmarks/firewall_ours.yml`: `firewall_ipset` (exclusive) and `firewall_rules` (scope cluster, exclusive).",
             "- Theirs: `benchmarks/community_proxmox_firewall.yml`: `proxmox_firewall` with `ip_sets`, then with `rules` "
             "(each with its `pos`, `enable: true`, default `update: true`), community.proxmox %s from PyPI `ansible` %s."
             % (community["community_proxmox"], community["ansible"]),
             "- requests: every `/api2` request the simulator answered; writes: POST/PUT/DELETE; task results: "
             "`ok`/`changed`/`failed`/`fatal` lines (2 per run on each side); wall: `time.monotonic()` around ansible-playbook; "
             "load: the 1-minute load average when the run started (%d CPUs); "
             "end state: `GET /cluster/firewall/rules` equal to the declaration position by position (pos, digest, "
             "ipversion left out) and the IP set's entries equal to the declared ones." % (os.cpu_count() or 0), "",
             "Scenarios: " + "; ".join("**%s**: %s" % item for item in SCENARIOS) + ".", "",
             "| scenario | side | rc | requests | GETs | writes | task results | changed | failed | wall (s) | load | end state |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    rows = result["rows"]
    for scenario, _text in SCENARIOS:
        for side, label, _playbook in SIDES:
            row = rows.get((side, scenario))
            if row:
                lines.append("| %s | %s | %s | %d | %d | %d | %d | %d | %d | %.1f | %.1f | %s |" % (
                    scenario, label, row["rc"], row["requests"], row["gets"], row["writes"], row["tasks"], row["changed"],
                    row["failed"], row["wall"], row["load"], end_state_cell(row)))
        ours, theirs = rows.get(("ours", scenario)), rows.get(("theirs", scenario))
        if ours and theirs:
            mark = " (!)" if ours["rc"] != 0 or theirs["rc"] != 0 else ""
            lines.append("| %s | **theirs / ours** | | **%s** | %s | **%s** | | | | **%s** | | |" % (
                scenario, ratio(theirs["requests"], ours["requests"], mark), ratio(theirs["gets"], ours["gets"], mark),
                ratio(theirs["writes"], ours["writes"], mark), ratio(theirs["wall"], ours["wall"], mark)))
    lines += ["", "(!) a side failed in this scenario (rc not 0): the ratio compares unequal work.", ""]
    lines += ["- %s: %d of %d declared rule positions hold another rule than in the previous declaration (what a "
              "position-matching module must rewrite)." % (scenario, changed, total) for scenario, changed, total in position_changes()]
    for side, label, _playbook in SIDES:
        for scenario, _text in SCENARIOS:
            row = rows.get((side, scenario))
            if not row:
                continue
            for problem in row["rule_problems"] + row["ipset_problems"]:
                lines.append("- %s, %s: end state not as declared: %s" % (label, scenario, problem))
            setup = result["setups"].get((side, scenario))
            for problem in (setup["rule_problems"] + setup["ipset_problems"] if setup else []):
                lines.append("- %s, %s: the set-up (previous declaration) did not end as declared: %s" % (label, scenario, problem))
            if setup and setup["rc"] != 0:
                lines.append("- %s, %s: the set-up run failed (rc %s), see its log" % (label, scenario, setup["rc"]))
            for message, count in sorted(row["failures"].items()):
                lines.append("- %s, %s: %d x failed: `%s`" % (label, scenario, count, message[:400].replace("`", "'")))
    lines += ["", "<details><summary>Requests by route</summary>", "",
              "| route | " + " | ".join("%s %s" % (side, scenario) for side, _label, _playbook in SIDES for scenario, _text in SCENARIOS) + " |",
              "|---|" + "---:|" * (len(SIDES) * len(SCENARIOS))]
    for kind in ("routes", "errors"):
        for name in sorted(set(name for row in rows.values() for name in row[kind])):
            lines.append("| %s | %s |" % ("`%s`" % name if kind == "routes" else "answered %s (any route)" % name, " | ".join(
                str(rows.get((side, scenario), {}).get(kind, {}).get(name, 0)) for side, _label, _playbook in SIDES for scenario, _text in SCENARIOS)))
    lines += ["", "</details>", "", "Logs of the last run: .build/bench/runs/firewall/<side>-<scenario>.log (not committed).", ""]
    return "\n".join(lines)


def end_state_cell(row):
    """`as declared`, or which part is wrong and how many rule positions."""
    if not row["rule_problems"] and not row["ipset_problems"]:
        return "as declared"
    parts = []
    if row["rule_problems"]:
        parts.append("rules **wrong**")
    if row["ipset_problems"]:
        parts.append("IP set **wrong**")
    else:
        parts.append("IP set as declared")
    return ", ".join(parts)


def position_changes():
    """[(scenario, positions whose rule differs from the previous declaration's, rules)] from scenario 2 on."""
    result = []
    previous = None
    for scenario, rules, _ipset in declarations():
        if previous is not None:
            result.append((scenario, sum(1 for old, new in zip(previous, rules) if old != new), len(rules)))
        previous = rules
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pve-version", default="9.1", help="simulated PVE release (default %(default)s)")
    parser.add_argument("--latency-ms", type=int, default=20, help="injected latency per API request (default %(default)s)")
    parser.add_argument("--output", default=RESULTS, help="Markdown file written with the results (default %(default)s)")
    args = parser.parse_args(argv)

    if not os.path.isdir(os.path.join(OUR_COLLECTIONS, "ansible_collections", "homecloud", "proxmox")):
        print("bench: %s has no homecloud.proxmox: run `make collection`" % OUR_COLLECTIONS, file=sys.stderr)
        return 2
    started = datetime.datetime.now(datetime.timezone.utc)
    community = fetch_community_proxmox()
    if not os.path.exists(os.path.join(THEIR_COLLECTIONS, COLLECTION_PREFIX, THEIR_MODULE)):
        print("bench: community.proxmox %s has no proxmox_firewall" % community["community_proxmox"], file=sys.stderr)
        return 2
    print("bench: community.proxmox %s from ansible %s" % (community["community_proxmox"], community["ansible"]), flush=True)
    try:
        result = bench(args.pve_version, args.latency_ms)
    except BenchError as error:
        print("bench: %s" % error, file=sys.stderr)
        return 1
    text = markdown(result, community, args.latency_ms, started)
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as handle:
        handle.write(text)
    print("bench: results written to %s" % os.path.relpath(os.path.abspath(args.output), ROOT), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
