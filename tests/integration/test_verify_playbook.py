# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The reachability_probe module and playbooks/verify.yml against pvesim running agent/exec for real: two network
namespaces made here (unique names with the simulator's exec prefix, a veth pair between them) hold acme's web1 and
web2 addresses and are registered for their VMIDs; the probes really cross the veth pair."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os
import subprocess
import time
import uuid

import pytest
import yaml
from .playbook import run_repo_playbook, run_tasks
from .prepared_cluster import ACME_GUESTS, inventory

pytestmark = pytest.mark.timeout(300)

PREFIX = "hctw-"
WEB1 = (10110, "pve1", "10.128.17.10")
WEB2 = (10111, "pve2", "10.128.17.11")
UNREGISTERED = (10120, "pve1")  # db1: running, agent on, no namespace: the simulated programs (no ping)


def ip(*argv):
    subprocess.run(["ip"] + list(argv), check=True, timeout=10, capture_output=True)


@pytest.fixture
def namespaces():
    """Two namespaces joined by a veth pair, web1's and web2's addresses on them; removed at the end."""
    run = uuid.uuid4().hex[:6]
    # "vt" (verify test) keeps these apart from the network twin's namespaces of the same prefix
    names = ["%svt%s-v%d" % (PREFIX, run, vmid) for vmid in (WEB1[0], WEB2[0])] + ["%svt%s-inet" % (PREFIX, run)]
    made = []
    try:
        for name in names:
            ip("netns", "add", name)
            made.append(name)
        ip("link", "add", "hv%sa" % run, "netns", names[0], "type", "veth", "peer", "name", "hv%sb" % run, "netns", names[1])
        for name, end, address in ((names[0], "a", WEB1[2]), (names[1], "b", WEB2[2])):
            ip("-n", name, "addr", "add", address + "/24", "dev", "hv%s%s" % (run, end))
            ip("-n", name, "link", "set", "hv%s%s" % (run, end), "up")
            ip("-n", name, "link", "set", "lo", "up")
        yield names, run
    finally:
        for name in made:
            subprocess.run(["ip", "netns", "delete", name], check=False, timeout=10)


def running_guest(sim, vmid, node, name):
    guests = sim.areas["GuestsArea"]
    with sim.state.lock:
        guests.add(vmid, node, name=name, status="running")
        record = guests.record(vmid)
        record["config"]["agent"] = "1"
        record["booted"] = {"at": time.time() - 60, "config": copy.deepcopy(record["config"])}


@pytest.fixture
def cluster(sim_factory, namespaces):
    sim = sim_factory(exec_netns_prefix=PREFIX)
    running_guest(sim, WEB1[0], WEB1[1], "web1")
    running_guest(sim, WEB2[0], WEB2[1], "web2")
    running_guest(sim, UNREGISTERED[0], UNREGISTERED[1], "db1")
    names, run = namespaces
    runtime = sim.areas["QemuRuntimeArea"]
    runtime.register_exec_netns(WEB1[0], names[0])
    runtime.register_exec_netns(WEB2[0], names[1])
    return sim, names, run


def test_module_reaches_one_guest_from_the_other_and_fails_clearly_without_a_namespace(cluster, tmp_path):
    sim, names, _run = cluster
    probes = [
        {"id": "local-web2", "from": {"local": True, "netns": names[0]}, "kind": "tcp", "target": WEB2[2], "port": 5999, "timeout": 2},
        {"id": "web1-web2", "from": {"vmid": WEB1[0], "node": WEB1[1]}, "kind": "icmp", "target": WEB2[2], "timeout": 2},
        {"id": "web2-nobody", "from": {"vmid": WEB2[0], "node": WEB2[1]}, "kind": "tcp", "target": WEB1[2], "port": 5999, "timeout": 2},
        {"id": "db1-web1", "from": {"vmid": UNREGISTERED[0], "node": UNREGISTERED[1]}, "kind": "icmp", "target": WEB1[2], "timeout": 2},
        {"id": "missing", "from": {"vmid": 10199, "node": "pve1"}, "kind": "icmp", "target": WEB1[2], "timeout": 2},
    ]
    process, (result,) = run_tasks(sim, tmp_path, [("reachability_probe", {"probes": probes})], check=True)
    assert not result.get("failed"), process.stdout[-3000:]
    by_id = dict((entry["id"], entry) for entry in result["results"])
    assert by_id["web1-web2"]["reached"] and not by_id["web1-web2"]["failed"], by_id
    # from the controller inside web1's namespace: web2 answers (a refusal: nothing listens there)
    assert not by_id["local-web2"]["reached"] and "ConnectionRefusedError" in by_id["local-web2"]["detail"], by_id["local-web2"]
    assert by_id["web2-nobody"]["reached"] is False and not by_id["web2-nobody"]["failed"]
    assert "ConnectionRefusedError" in by_id["web2-nobody"]["detail"]
    # db1 runs the simulated programs: ping does not exist there - a failed probe that says so
    assert by_id["db1-web1"]["failed"] and "ping exited 127" in by_id["db1-web1"]["detail"], by_id["db1-web1"]
    assert by_id["missing"]["failed"] and "10199" in by_id["missing"]["detail"], by_id["missing"]
    assert result["changed"] is False


def verify(sim, tmp_path, outside_netns, *options):
    """verify.yml restricted to web1, web2 and an internet probe host (the controller, in `outside_netns`: no route
    anywhere) on acme's demo guests."""
    path = inventory(tmp_path, ACME_GUESTS)
    hosts_file = os.path.join(path, "hosts.yml")
    with open(hosts_file) as handle:
        hosts = yaml.safe_load(handle)
    hosts["all"]["children"]["homecloud_verify_probes"] = {"hosts": {"outside": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "homecloud_verify_role": "internet", "homecloud_verify_netns": outside_netns}}}
    with open(hosts_file, "w") as handle:
        yaml.safe_dump(hosts, handle, sort_keys=False)
    report_dir = tmp_path / "report"
    extra = {"homecloud_verify": {"only": ["acme/web1", "acme/web2", "internet/outside"], "timeout": 2}, "homecloud_verify_dir": str(report_dir)}
    (tmp_path / "verify.json").write_text(json.dumps(extra))
    process = run_repo_playbook(sim, "playbooks/verify.yml", inventory=path, options=["-e", "@" + str(tmp_path / "verify.json")] + list(options),
                                timeout=240)
    return process, report_dir


def test_verify_passes_then_names_the_cell_a_moved_address_breaks(cluster, tmp_path):
    sim, names, run = cluster
    process, report_dir = verify(sim, tmp_path, names[2])
    assert process.returncode == 0, process.stdout[-5000:]
    report = json.loads((report_dir / "matrix.json").read_text())
    cells = dict(((cell["source"], cell["target"], cell["kind"], cell["port"]), cell) for cell in report["cells"])
    inside = {("acme/web1", "acme/web2", "icmp", None), ("acme/web2", "acme/web1", "icmp", None)}
    outside = {("internet/outside", guest, kind, port) for guest in ("acme/web1", "acme/web2") for kind, port in (("icmp", None), ("tcp", 22))}
    assert set(cells) == inside | outside
    assert all(cells[key]["expected"] == cells[key]["observed"] == "reached" for key in inside)
    assert all(cells[key]["expected"] == cells[key]["observed"] == "blocked" for key in outside)
    assert "Network is unreachable" in cells[("internet/outside", "acme/web1", "icmp", None)]["detail"]
    assert "acme/web1" in (report_dir / "matrix.txt").read_text()
    assert (report_dir / "matrix.svg").read_text().startswith("<svg")
    assert "cells probed in" in process.stdout

    # web2 moves away from its planned address: web1 no longer reaches it; web2 still reaches web1.
    # In check mode: the probes change nothing, so they run (and the reports are written) all the same.
    ip("-n", names[1], "addr", "del", WEB2[2] + "/24", "dev", "hv%sb" % run)
    ip("-n", names[1], "addr", "add", "10.128.17.99/24", "dev", "hv%sb" % run)
    process, report_dir = verify(sim, tmp_path, names[2], "--check")
    assert process.returncode != 0
    assert "acme/web1 -> acme/web2 icmp: expected reached, observed blocked" in process.stdout, process.stdout[-5000:]
    assert "acme/web2 -> acme/web1 icmp: expected" not in process.stdout
    report = json.loads((report_dir / "matrix.json").read_text())
    assert report["summary"] == {"cells": 6, "ok": 5, "mismatches": 1}
    rows = dict((line.split()[0], line.split()[1:]) for line in (report_dir / "matrix.txt").read_text().splitlines()[1:4])
    assert rows == {"acme/web1": [".", "!!ok/--"], "acme/web2": ["ok", "."], "internet/outside": ["--", "--", "--", "--"]}
