# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The reachability matrix (module_utils/reachability.py): the expected cells of the demo inventory, the comparison
naming every wrong cell, the three renderings, and the probe commands - run here on loopback against a TCP
listener, a DNS responder and an HTTP echo server."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import socket
import struct
import subprocess
import sys
import threading
from xml.etree import ElementTree

import pytest
import yaml

from ansible_collections.homecloud.proxmox.plugins.module_utils.gateway import plan_gateways
from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import plan_tenants
from ansible_collections.homecloud.proxmox.plugins.module_utils.reachability import (
    compare, expected_matrix, probe_command, probe_result, render_json, render_svg, render_table)

DEMO = os.path.join(os.path.dirname(__file__), "..", "..", "inventories", "demo")
NODES = ["pve1", "pve2", "pve3"]


def demo_vars():
    variables = {}
    for path in sorted(glob.glob(os.path.join(DEMO, "group_vars", "all", "*.yml"))):
        with open(path) as handle:
            variables.update(yaml.safe_load(handle) or {})
    with open(os.path.join(DEMO, "hosts.yml")) as handle:
        hosts = yaml.safe_load(handle)["all"]["children"]["pve_nodes"]["hosts"]
    variables["nodes"] = [dict(inventory_hostname=name, **values) for name, values in hosts.items()]
    return variables


def demo_matrix(with_transit=False, tenant=None, settings=None, tenants=None):
    """The demo inventory's matrix; without its transit network unless asked for."""
    variables = demo_vars()
    tenants = tenants or variables["homecloud_tenants"]
    network_plan = dict(variables["homecloud_network_plan"])
    transit = network_plan.pop("transit", None) if not with_transit else network_plan.get("transit")
    if with_transit:
        assert transit, "the demo inventory has a transit network"
    tenant_plans = plan_tenants(tenants, network_plan)
    gateway_plans = plan_gateways(tenant_plans, tenants, variables["homecloud_gateway"], variables["homecloud_cloudflare"], NODES)
    probe_hosts = [{"inventory_hostname": "outside", "homecloud_verify_role": "internet", "homecloud_verify_netns": "hctw-x-inet"}]
    return expected_matrix(tenant_plans, gateway_plans, settings or {"internet": {"address": "203.0.113.10", "port": 80}}, tenants,
                           variables["homecloud_firewall"]["services"], transit if with_transit else None, probe_hosts, variables["nodes"],
                           variables["homecloud_shared_services"]["domain"], tenant)


def cells_by_id(matrix):
    return dict((cell["id"], cell) for cell in matrix["cells"])


def test_demo_matrix_counts_and_named_cells():
    matrix = demo_matrix()
    cells = cells_by_id(matrix)
    # web1 and db1: 17 each, acme-gw 11, app1 and app2 16 each, globex-gw 11, 3 shared services 14 each, the internet host 17
    assert len(matrix["cells"]) == 147
    assert [source["name"] for source in matrix["sources"]] == [
        "acme/web1", "acme/db1", "acme/acme-gw", "globex/app1", "globex/app2", "globex/globex-gw",
        "shared/dns", "shared/s3", "shared/postgresql", "internet/outside"]
    assert cells["acme/web1 -> acme/db1 tcp/5432"]["expected"] == "reached"
    assert cells["acme/web1 -> acme/db1 icmp"]["expected"] == "blocked"
    assert cells["acme/db1 -> acme/web1 tcp/5432"]["expected"] == "blocked"
    assert cells["globex/app1 -> globex/app2 icmp"]["expected"] == "reached"
    assert cells["acme/web1 -> globex/app1 icmp"]["expected"] == "blocked"
    assert cells["acme/web1 -> globex/app1 tcp/22"]["expected"] == "blocked"
    assert cells["acme/web1 -> internet http_source/80"]["expected_source"] == "198.51.100.21"
    assert cells["globex/app2 -> internet http_source/80"]["expected_source"] == "198.51.100.22"
    # no transit hub and no route leaking: no shared service is reached
    assert cells["acme/web1 -> shared/postgresql tcp/5432"]["expected"] == "blocked"
    assert cells["acme/web1 -> shared/dns dns/53"]["query_name"] == "dns.lab.internal"
    assert cells["acme/web1 -> management/pve1:8006 tcp/8006"]["expected"] == "blocked"
    assert cells["shared/s3 -> acme/web1 icmp"]["expected"] == "blocked"
    assert cells["internet/outside -> acme/acme-gw@db icmp"]["address"] == "10.128.18.2"
    assert all(cell["expected"] == "blocked" for cell in matrix["cells"] if cell["source"].startswith(("shared/", "internet/")))
    # the guests' probes go through their agent, the outside host's run locally in its namespace
    assert len(matrix["probes"]) == 147 - 17
    assert [probe["from"] for probe in matrix["host_probes"]["outside"]][0] == {"local": True, "netns": "hctw-x-inet"}


def test_transit_opens_the_granted_services_only():
    matrix = demo_matrix(with_transit=True)
    assert len(matrix["cells"]) == 147  # the same cells: the hub opens some, adds none
    cells = cells_by_id(matrix)
    assert cells["acme/web1 -> shared/postgresql tcp/5432"]["expected"] == "reached"
    assert cells["acme/web1 -> shared/s3 tcp/443"]["expected"] == "reached"
    assert cells["acme/web1 -> shared/dns dns/53"]["expected"] == "reached"
    assert cells["globex/app1 -> shared/s3 tcp/443"]["expected"] == "reached"
    assert cells["globex/app1 -> shared/postgresql tcp/5432"]["expected"] == "blocked"
    assert cells["globex/app1 -> shared/postgresql tcp/5432"]["why"] == "not granted"
    assert cells["shared/postgresql -> acme/web1 tcp/22"]["expected"] == "blocked"


def test_route_leaking_and_narrowed_ports():
    tenants = demo_vars()["homecloud_tenants"]
    tenants[1] = dict(tenants[1], route_leaking=["shared"], services=[{"name": "s3", "ports": [{"proto": "tcp", "dport": 443}]}])
    cells = cells_by_id(demo_matrix(tenants=tenants))
    assert cells["globex/app1 -> shared/s3 tcp/443"]["expected"] == "reached"
    assert cells["acme/web1 -> shared/s3 tcp/443"]["expected"] == "blocked"  # acme does not leak


def test_one_tenant_limits_the_sources_not_the_targets():
    matrix = demo_matrix(tenant="acme")
    assert [source["name"] for source in matrix["sources"]] == ["acme/web1", "acme/db1", "acme/acme-gw"]
    assert {"globex/app1", "shared/s3", "internet"} <= set(target["name"] for target in matrix["targets"])


def test_only_keeps_the_named_ends():
    matrix = demo_matrix(settings={"only": ["globex/app1", "globex/app2"]})
    assert sorted(cell["id"] for cell in matrix["cells"]) == ["globex/app1 -> globex/app2 icmp", "globex/app2 -> globex/app1 icmp"]


def observed_as_expected(matrix):
    results = []
    for cell in matrix["cells"]:
        result = {"id": cell["id"], "reached": cell["expected"] == "reached", "detail": "as planned"}
        if cell.get("expected_source"):
            result["seen_source"] = cell["expected_source"]
        results.append(result)
    return results


def test_compare_names_a_flipped_cell_and_a_wrong_source():
    matrix = demo_matrix()
    results = observed_as_expected(matrix)
    assert compare(matrix, results)["failures"] == []
    for result in results:
        if result["id"] == "acme/web1 -> globex/app1 icmp":
            result["reached"] = True
        if result["id"] == "globex/app1 -> internet http_source/80":
            result["seen_source"] = "198.51.100.21"
        if result["id"] == "acme/db1 -> acme/web1 icmp":
            result.update(reached=False, failed=True, detail="QEMU guest agent is not running")
    report = compare(matrix, results)
    assert report["failures"] == [
        "acme/web1 -> globex/app1 icmp: expected blocked, observed reached",
        "acme/db1 -> acme/web1 icmp: expected blocked, observed error (QEMU guest agent is not running)",
        "globex/app1 -> internet http_source/80: expected reached from 198.51.100.22, observed reached from 198.51.100.21",
    ]
    assert report["summary"] == {"cells": 147, "ok": 144, "mismatches": 3}
    missing = compare(matrix, results[1:])
    assert missing["failures"][0].endswith("observed error (no result for this probe)")


def test_renderers():
    matrix = demo_matrix()
    results = observed_as_expected(matrix)
    results[0]["reached"] = not results[0]["reached"]
    report = compare(matrix, results)
    table = render_table(report)
    rows = table.splitlines()
    for source in report["sources"]:
        assert any(row.startswith(source["name"] + " ") for row in rows), source
    assert "!!--/ok" in rows[1] and rows[1].startswith("acme/web1")
    assert report["failures"][0] in table
    assert json.loads(render_json(report)) == json.loads(json.dumps(report))
    cell = json.loads(render_json(report))["cells"][0]
    assert set(cell) >= {"source", "target", "kind", "port", "expected", "observed", "detail"}
    svg = ElementTree.fromstring(render_svg(report))
    squares = svg.findall("{http://www.w3.org/2000/svg}rect")
    assert len(squares) == 147
    fills = [square.get("fill") for square in squares]
    assert fills.count("#d32f2f") == 1 and "#2e9d46" in fills and "#b4b4b4" in fills
    assert "<script" not in render_svg(report) and "@import" not in render_svg(report)


def test_probe_commands_are_built_not_taken():
    assert probe_command({"id": "p", "kind": "icmp", "target": "10.0.0.1", "timeout": 2}) == ["ping", "-c", "1", "-W", "2", "10.0.0.1"]
    argv = probe_command({"id": "p", "kind": "tcp", "target": "10.0.0.1", "port": 22})
    assert argv[:2] == ["python3", "-c"] and argv[3:] == ["tcp", "10.0.0.1", "22", "3", "."]
    with pytest.raises(ValueError):
        probe_command({"id": "p", "kind": "icmp", "target": "-f"})
    with pytest.raises(ValueError):
        probe_command({"id": "p", "kind": "tcp", "target": "10.0.0.1"})
    with pytest.raises(ValueError):
        probe_command({"id": "p", "kind": "shell", "target": "10.0.0.1"})
    icmp = {"id": "p", "kind": "icmp", "target": "10.0.0.1"}
    assert probe_result(icmp, 0, "", "")["reached"] is True
    assert probe_result(icmp, 1, "", "") == {"reached": False, "detail": "no echo reply from 10.0.0.1"}
    assert probe_result(icmp, 2, "", "ping: unknown host")["failed"] is True
    assert probe_result(icmp, 2, "", "ping: connect: Network is unreachable\n") == {
        "reached": False, "detail": "no route to 10.0.0.1: ping: connect: Network is unreachable"}


def run_probe(probe):
    argv = probe_command(probe)
    process = subprocess.run([sys.executable] + argv[1:] if argv[0] == "python3" else argv, capture_output=True, text=True, timeout=20, check=False)
    return probe_result(probe, process.returncode, process.stdout, process.stderr)


def serve(kind, handler):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    if kind == "tcp":
        sock.listen(4)
    thread = threading.Thread(target=handler, args=(sock,), daemon=True)
    thread.start()
    return sock, sock.getsockname()[1]


def test_probe_script_tcp_dns_and_http_source_on_loopback():
    listener, port = serve("tcp", lambda sock: sock.accept()[0].close())
    try:
        assert run_probe({"id": "t", "kind": "tcp", "target": "127.0.0.1", "port": port, "timeout": 2})["reached"] is True
    finally:
        listener.close()
    closed = run_probe({"id": "t", "kind": "tcp", "target": "127.0.0.1", "port": port, "timeout": 2})
    assert closed["reached"] is False and "ConnectionRefusedError" in closed["detail"]

    asked = {}

    def dns(sock):
        data, peer = sock.recvfrom(512)
        asked["id"], asked["qname"] = struct.unpack(">H", data[:2])[0], data[12:-4]
        sock.sendto(struct.pack(">HHHHHH", asked["id"], 0x8183, 1, 0, 0, 0) + data[12:], peer)  # NXDOMAIN still proves the path

    responder, port = serve("udp", dns)
    try:
        answer = run_probe({"id": "d", "kind": "dns", "target": "127.0.0.1", "port": port, "query_name": "s3.lab.internal", "timeout": 2})
    finally:
        responder.close()
    assert answer == {"reached": True, "detail": "answer for s3.lab.internal, rcode 3"}
    assert asked["qname"] == b"\x02s3\x03lab\x08internal\x00"

    def echo(sock):
        connection, peer = sock.accept()
        connection.recv(1024)
        connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + peer[0].encode() + b"\n")
        connection.close()

    server, port = serve("tcp", echo)
    try:
        seen = run_probe({"id": "h", "kind": "http_source", "target": "127.0.0.1", "port": port, "timeout": 2})
    finally:
        server.close()
    assert seen["reached"] is True and seen["seen_source"] == "127.0.0.1"
