# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/onboard_node.yml (its API part, against the simulator) and the pve_cluster role
(its pre-checks and its create/join decisions, on localhost with fixture files).

No Proxmox VE runs here: the role's pre-checks are the real commands (getent, date, the
corosync.conf reads); pvecm and pvesh are stand-ins written by the tests that record how they
were called, and write corosync.conf the way a create or join leaves it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import stat
import sys

import pytest
import yaml

from .playbook import ansible_playbook, run_repo_playbook

PLAYBOOK = "playbooks/onboard_node.yml"
WRITES = ("POST", "PUT", "DELETE")
FOUR = ("pve1", "pve2", "pve3", "pve4")
PEERS4 = "10.255.0.1,10.255.0.2,10.255.0.3,10.255.0.4"


def recap(process, host="localhost"):
    """ok/changed/failed of one host from the PLAY RECAP; the run must have succeeded."""
    assert process.returncode == 0, process.stdout[-6000:] + process.stderr[-2000:]
    return host_recap(process, host)


def host_recap(process, host):
    found = re.search(host + r"\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", process.stdout)
    assert found, process.stdout[-3000:]
    return dict(ok=int(found.group(1)), changed=int(found.group(2)), failed=int(found.group(3)))


def fourth_node(tmp_path):
    """An inventory that adds pve4 (underlay 10.255.0.4) to the demo inventory's pve_nodes."""
    extra = tmp_path / "pve4.yml"
    extra.write_text(yaml.safe_dump({"all": {"children": {"pve_nodes": {"hosts": {
        "pve4": {"underlay_address": "10.255.0.4"}}}}}}))
    return ["-i", str(extra)]


def onboard(sim, tmp_path, *options):
    return run_repo_playbook(sim, PLAYBOOK, options=fourth_node(tmp_path) + ["-e", "node=pve4", "--tags", "sdn"]
                             + list(options))


def writes(sim, since=0):
    return [(entry["method"], entry["path"]) for entry in sim.requests()[since:] if entry["method"] in WRITES]


# ---------------------------------------------------------------- the playbook's API part


@pytest.mark.parametrize("version", ["8.4", "9.1"])
def test_onboard_adds_one_peer_with_one_apply_and_a_rerun_writes_nothing(sim_factory, api_session, tmp_path, version):
    sim = sim_factory(version=version, nodes=FOUR)
    assert recap(run_repo_playbook(sim, "playbooks/tenant_network.yml"))["changed"] == 1
    session = api_session(sim)
    assert session.data("GET", "/cluster/sdn/controllers/evpnctl")["peers"] == PEERS4.rsplit(",", 1)[0]
    applies, before = sim.counters()["sdn_applies"], len(sim.requests())

    first = onboard(sim, tmp_path)
    assert recap(first)["changed"] == 1
    controller_writes = [write for write in writes(sim, before) if "/controllers" in write[1]]
    assert controller_writes == [("PUT", "/cluster/sdn/controllers/evpnctl")]
    assert writes(sim, before).count(("PUT", "/cluster/sdn")) == 1
    assert sim.counters()["sdn_applies"] == applies + 1
    running = session.data("GET", "/cluster/sdn/controllers/evpnctl", params={"running": 1})
    assert running["peers"] == PEERS4
    assert "peers 10.255.0.1, 10.255.0.2, 10.255.0.3, 10.255.0.4" in first.stdout

    count = len(sim.requests())
    second = onboard(sim, tmp_path)
    assert recap(second)["changed"] == 0
    assert writes(sim, count) == [] and sim.counters()["sdn_applies"] == applies + 1


def test_check_mode_says_what_would_change_and_writes_nothing(sim_factory, api_session, tmp_path):
    sim = sim_factory(nodes=FOUR)
    recap(run_repo_playbook(sim, "playbooks/tenant_network.yml"))
    count = len(sim.requests())
    predicted = onboard(sim, tmp_path, "--check", "--diff")
    assert recap(predicted)["changed"] == 1
    assert writes(sim, count) == []
    assert "10.255.0.4" in predicted.stdout
    assert api_session(sim).data("GET", "/cluster/sdn/controllers/evpnctl")["peers"] == PEERS4.rsplit(",", 1)[0]


def test_onboard_creates_the_controller_when_there_is_none(sim_factory, api_session, tmp_path):
    sim = sim_factory(nodes=FOUR)
    assert recap(onboard(sim, tmp_path))["changed"] == 1
    assert [write for write in writes(sim) if "/controllers" in write[1]] == [("POST", "/cluster/sdn/controllers")]
    assert sim.counters()["sdn_applies"] == 1
    running = api_session(sim).data("GET", "/cluster/sdn/controllers/evpnctl", params={"running": 1})
    assert running["peers"] == PEERS4 and running["asn"] == 65000


def test_a_node_the_cluster_does_not_list_gets_no_peering(sim, tmp_path):
    recap(run_repo_playbook(sim, "playbooks/tenant_network.yml"))
    count = len(sim.requests())
    process = onboard(sim, tmp_path)
    assert process.returncode != 0
    assert "pve4 is not a node of cluster homecloud according to the Proxmox VE API" in process.stdout
    assert "nodes: pve1, pve2, pve3" in process.stdout
    assert writes(sim, count) == []


@pytest.mark.parametrize("node", ["pve9", "localhost"])
def test_a_node_outside_pve_nodes_is_refused(sim, tmp_path, node):
    process = run_repo_playbook(sim, PLAYBOOK, options=fourth_node(tmp_path) + ["-e", "node=" + node, "--tags", "sdn"])
    assert process.returncode != 0
    assert "onboard_node.yml needs -e node=NAME, a host of the pve_nodes group" in process.stdout
    assert "got node=%s; pve_nodes: pve1, pve2, pve3, pve4" % node in process.stdout
    assert sim.requests() == [] or writes(sim) == []


# ---------------------------------------------------------------- the pve_cluster role, no Proxmox VE needed

FINGERPRINT = ":".join(["AB"] * 32)
PASSWORD = "s3cret root pass"

FAKE_PVECM = r'''#!{python}
"""Stand-in for pvecm: records its arguments (and its stdin for `add`) and writes corosync.conf."""
import json, os, sys
state = json.load(open({state!r}))
me, args = {node!r}, sys.argv[1:]
with open(state["log"], "a") as log:
    log.write(me + ": " + " ".join(args) + "\n")
    if args[:1] == ["add"]:
        log.write(me + ": stdin=" + sys.stdin.readline().rstrip("\n") + "\n")


def conf(name, nodes):
    body = "".join("  node {{\n    name: %s\n    nodeid: %d\n    quorum_votes: 1\n    ring0_addr: 10.0.0.%d\n  }}\n"
                   % (node, index + 1, index + 1) for index, node in enumerate(nodes))
    return ("logging {{\n  debug: off\n  to_syslog: yes\n}}\n\nnodelist {{\n" + body + "}}\n\nquorum {{\n"
            "  provider: corosync_votequorum\n}}\n\ntotem {{\n  cluster_name: %s\n  config_version: %d\n"
            "  ip_version: ipv4-6\n  secauth: on\n  version: 2\n}}\n" % (name, len(nodes)))


def nodes_of(path):
    if not os.path.exists(path):
        return []
    return [line.split(":", 1)[1].strip() for line in open(path) if line.strip().startswith("name:")]


if args[:1] == ["status"]:
    print("Cluster information\n-------------------\nName:             homecloud\n\nVotequorum information\n"
          "----------------------\nExpected votes:   1\nQuorate:          " + state.get("quorate", "Yes"))
elif args[:1] == ["create"]:
    open(state["confs"][me], "w").write(conf(args[1], [me]))
elif args[:1] == ["add"]:
    if state.get("fail_add"):
        print("Please enter superuser (root) password for '%s': Login succeeded." % args[1])
        sys.stderr.write("An error occurred on the cluster node: cluster not ready - no quorum?\\nCluster join aborted!\n")
        sys.exit(255)
    first = state["confs"][state["first"]]
    name = [line.split(":", 1)[1].strip() for line in open(first) if "cluster_name:" in line][0]
    nodes = nodes_of(first) + [me]
    for path in (first, state["confs"][me]):
        open(path, "w").write(conf(name, nodes))
else:
    sys.exit("pvecm stand-in: unexpected arguments %r" % (args,))
'''

FAKE_PVESH = r'''#!{python}
import json, sys
assert sys.argv[1:] == ["get", "/cluster/config/join", "--output-format", "json"], sys.argv
print(json.dumps({{"preferred_node": {node!r}, "config_digest": "0", "totem": {{}},
                  "nodelist": [{{"name": "other", "pve_fp": "00"}}, {{"name": {node!r}, "pve_fp": {fp!r}}}]}}))
'''


class Lab(object):
    """Two 'nodes', pve1 (first) and pve4, both localhost, each with its own corosync.conf path and pvecm."""

    def __init__(self, tmp_path, pve=True):
        self.tmp = tmp_path
        self.log = tmp_path / "pvecm.log"
        self.state_path = tmp_path / "state.json"
        self.state = dict(log=str(self.log), first="pve1", confs={})
        hosts = {}
        for index, node in ((1, "pve1"), (4, "pve4")):
            folder = tmp_path / node
            folder.mkdir()
            self.state["confs"][node] = str(folder / "corosync.conf")
            hosts[node] = dict(ansible_connection="local", ansible_python_interpreter=sys.executable,
                               pve_cluster_link0_address="10.0.0.%d" % index,
                               pve_cluster_corosync_conf=str(folder / "corosync.conf"),
                               pve_cluster_pvecm_path=str(folder / ("pvecm" if pve else "absent-pvecm")),
                               pve_cluster_pvesh_path=str(folder / "pvesh"))
            self.script(folder / "pvecm", FAKE_PVECM.format(python=sys.executable, state=str(self.state_path), node=node))
            self.script(folder / "pvesh", FAKE_PVESH.format(python=sys.executable, node=node, fp=FINGERPRINT))
        self.hosts = hosts
        self.save()

    @staticmethod
    def script(path, text):
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)

    def save(self):
        self.state_path.write_text(json.dumps(self.state))

    def conf(self, node, name, nodes):
        """Write a node's corosync.conf as PVE does (the stand-in's own renderer)."""
        text = "\n".join("    name: %s" % member for member in nodes)
        body = "nodelist {\n  node {\n%s\n  }\n}\n\ntotem {\n  cluster_name: %s\n  version: 2\n}\n" % (text, name)
        (self.tmp / node / "corosync.conf").write_text(body)

    def skew_clock(self, node, seconds):
        """Give a node a clock `seconds` ahead: its Python finds a `date` that adds them."""
        fake_bin = self.tmp / node / "bin"
        fake_bin.mkdir()
        self.script(fake_bin / "date", "#!/bin/sh\necho $(( $(/bin/date +%%s) + %d ))\n" % seconds)
        wrapper = self.tmp / node / "python"
        self.script(wrapper, '#!/bin/sh\nPATH=%s:$PATH exec %s "$@"\n' % (fake_bin, sys.executable))
        self.hosts[node]["ansible_python_interpreter"] = str(wrapper)

    def calls(self):
        return self.log.read_text().splitlines() if self.log.exists() else []

    def run(self, limit="pve_nodes", check=False, **variables):
        inventory = self.tmp / "hosts.yml"
        inventory.write_text(yaml.safe_dump({"all": {"children": {"pve_nodes": {"hosts": self.hosts}}}}))
        play = [{"name": "Cluster", "hosts": limit, "gather_facts": False, "serial": 1,
                 "roles": ["homecloud.proxmox.pve_cluster"]}]
        playbook = self.tmp / "cluster.yml"
        playbook.write_text(yaml.safe_dump(play, sort_keys=False))
        settings = dict(pve_cluster_resolve_names=["localhost"], pve_cluster_join_password=PASSWORD)
        settings.update(variables)
        extra = self.tmp / "extra.json"
        extra.write_text(json.dumps(settings))
        options = ["-i", str(inventory), "-e", "@" + str(extra)] + (["--check"] if check else [])
        return ansible_playbook(str(playbook), options, cwd=str(self.tmp), timeout=120)


def failed_with(process, message):
    assert process.returncode != 0, process.stdout[-4000:]
    assert message in " ".join(process.stdout.split()), process.stdout[-4000:]


def test_role_creates_on_the_first_node_joins_the_other_then_does_nothing(tmp_path):
    lab = Lab(tmp_path)
    first = lab.run()
    assert host_recap(first, "pve1")["changed"] == 1 and host_recap(first, "pve4")["changed"] == 1
    assert first.returncode == 0
    assert lab.calls() == [
        "pve1: create homecloud --link0 10.0.0.1",
        "pve1: status",
        "pve4: add 10.0.0.1 --link0 10.0.0.4 --fingerprint " + FINGERPRINT,
        "pve4: stdin=" + PASSWORD,
    ]
    assert PASSWORD not in first.stdout + first.stderr
    assert "pve4: not a member, to join homecloud through pve1" in " ".join(first.stdout.split())

    again = lab.run()
    assert host_recap(again, "pve1")["changed"] == 0 and host_recap(again, "pve4")["changed"] == 0
    assert len(lab.calls()) == 4, "a second run called pvecm"
    assert "pve4: member of cluster homecloud, nothing to do" in " ".join(again.stdout.split())


def test_role_reads_the_fingerprint_from_the_first_node_when_none_is_given(tmp_path):
    lab = Lab(tmp_path)
    lab.conf("pve1", "homecloud", ["pve1"])
    process = lab.run(limit="pve4")
    assert host_recap(process, "pve4")["changed"] == 1 and process.returncode == 0
    assert "pve4: add 10.0.0.1 --link0 10.0.0.4 --fingerprint " + FINGERPRINT in lab.calls()


def test_role_takes_the_addresses_from_pve_host_mgmt_address(tmp_path):
    lab = Lab(tmp_path)
    for index, node in ((1, "pve1"), (4, "pve4")):
        del lab.hosts[node]["pve_cluster_link0_address"]
        lab.hosts[node]["pve_host_mgmt_address"] = "192.168.1.1%d/24" % index
    process = lab.run()
    assert process.returncode == 0, process.stdout[-4000:]
    assert lab.calls()[0] == "pve1: create homecloud --link0 192.168.1.11"
    assert lab.calls()[2] == "pve4: add 192.168.1.11 --link0 192.168.1.14 --fingerprint " + FINGERPRINT


def test_role_check_mode_creates_and_joins_nothing(tmp_path):
    lab = Lab(tmp_path)
    process = lab.run(check=True)
    text = " ".join(process.stdout.split())
    assert process.returncode == 0, process.stdout[-4000:]
    assert lab.calls() == []
    assert "pve1: would create cluster 'homecloud' (%s create homecloud --link0 10.0.0.1)" % lab.hosts["pve1"][
        "pve_cluster_pvecm_path"] in text
    assert "pve4: would join cluster 'homecloud' through pve1 once it is created there" in text

    lab.conf("pve1", "homecloud", ["pve1"])
    process = lab.run(check=True, pve_cluster_join_fingerprint=FINGERPRINT)
    assert process.returncode == 0 and lab.calls() == ["pve1: status"]
    assert ("pve4: would join cluster 'homecloud' through pve1 (10.0.0.1) with link0 10.0.0.4"
            in " ".join(process.stdout.split()))
    assert host_recap(process, "pve4")["changed"] == 0


def test_role_refuses_a_node_of_another_cluster(tmp_path):
    lab = Lab(tmp_path)
    lab.conf("pve1", "homecloud", ["pve1"])
    lab.conf("pve4", "lab", ["pve4", "pve5"])
    failed_with(lab.run(limit="pve4"), "pve4 is already a member of cluster 'lab' (%s), not of 'homecloud'"
                % lab.hosts["pve4"]["pve_cluster_corosync_conf"])
    assert lab.calls() == []


def test_role_refuses_a_first_node_whose_cluster_has_another_name(tmp_path):
    lab = Lab(tmp_path)
    lab.conf("pve1", "office", ["pve1"])
    failed_with(lab.run(), "pve1: the cluster on the first node pve1 is named 'office'")
    assert lab.calls() == []


def test_role_refuses_a_stale_member_entry(tmp_path):
    lab = Lab(tmp_path)
    lab.conf("pve1", "homecloud", ["pve1", "pve4"])
    failed_with(lab.run(limit="pve4"), "pve4: it is listed in the nodelist of cluster homecloud on pve1 but has no "
                                       "cluster configuration itself (a stale entry: run pvecm delnode pve4 on pve1")
    assert lab.calls() == []


def test_role_fails_when_a_name_does_not_resolve(tmp_path):
    lab = Lab(tmp_path)
    failed_with(lab.run(limit="pve4", pve_cluster_resolve_names=["localhost", "pve-nowhere.invalid"]),
                "pve4: cannot resolve pve-nowhere.invalid (getent hosts)")
    assert lab.calls() == []


def test_role_fails_when_the_clock_is_off_the_first_node(tmp_path):
    lab = Lab(tmp_path)
    lab.conf("pve1", "homecloud", ["pve1"])
    lab.skew_clock("pve1", 3600)
    process = lab.run(limit="pve4")
    failed_with(process, "pve4: its clock is at least")
    offset = int(re.search(r"at least (\d+) s off the clock of pve1", " ".join(process.stdout.split())).group(1))
    assert 3590 <= offset <= 3600
    assert lab.calls() == []


def test_role_fails_when_the_cluster_is_not_quorate(tmp_path):
    lab = Lab(tmp_path)
    lab.conf("pve1", "homecloud", ["pve1"])
    lab.state["quorate"] = "No"
    lab.save()
    failed_with(lab.run(limit="pve4"), "pve4: cluster 'homecloud' is not quorate on pve1")
    assert lab.calls() == ["pve1: status"]


def test_role_reports_a_failed_join_without_the_password(tmp_path):
    lab = Lab(tmp_path)
    lab.conf("pve1", "homecloud", ["pve1"])
    lab.state["fail_add"] = True
    lab.save()
    process = lab.run(limit="pve4")
    failed_with(process, "pve4: pvecm add 10.0.0.1 failed (rc 255)")
    assert "Cluster join aborted!" in process.stdout
    assert PASSWORD not in process.stdout + process.stderr


def test_role_skips_create_and_join_visibly_where_there_is_no_proxmox(tmp_path):
    lab = Lab(tmp_path, pve=False)
    process = lab.run()
    assert process.returncode == 0, process.stdout[-4000:]
    text = " ".join(process.stdout.split())
    assert "pve1: skipped cluster create for 'homecloud': %s is absent, so this host is not Proxmox VE" % (
        lab.hosts["pve1"]["pve_cluster_pvecm_path"]) in text
    assert "pve4: skipped cluster join-after-create for 'homecloud'" in text
    assert host_recap(process, "pve1")["changed"] == 0 and host_recap(process, "pve4")["changed"] == 0
    assert lab.calls() == [] and not os.path.exists(lab.state["confs"]["pve1"])


def test_role_refuses_a_cluster_name_pve_would_refuse(tmp_path):
    lab = Lab(tmp_path)
    failed_with(lab.run(pve_cluster_name="home_cloud_cluster"),
                "a pve_cluster_name of letters, digits and '-' up to 15 characters (got 'home_cloud_cluster')")
