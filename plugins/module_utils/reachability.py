# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The reachability matrix: which probe runs where, what each should see, and how the answers compare.

Three parts, all plain Python (the reachability_probe module, the reachability_matrix filter and the
unit tests share them):

- probe commands: a probe is built here from its kind, never from a caller's command line: icmp is
  ``ping -c 1 -W <timeout> <target>``; tcp, dns and http_source are one small ``python3 -c`` script
  (guests have python3 but no dnspython: the DNS query is packed by hand, RFC 1035 section 4.1).
- the expected matrix (``expected_matrix``): sources (tenant guests, tenant gateways, the shared
  services' guests, the outside probe hosts) x targets, one cell per (source, target, kind, port), each
  expected ``reached`` or ``blocked`` from the inventory's plans (tenant_plan, gateway_plan, the transit
  plan when there is one).
- ``compare`` of the observed results with the expected cells, and the renderers (text table, JSON, SVG).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import subprocess
from xml.sax.saxutils import escape

REACHED = "reached"
BLOCKED = "blocked"
ERROR = "error"
KINDS = ("icmp", "tcp", "dns", "http_source")
DEFAULT_TIMEOUT = 3
DEFAULT_PROBES_PER_VNET = 2
DEFAULT_TCP_PORT = 22  # the port a tenant-to-tenant or service-to-tenant TCP probe tries (sshd listens on every guest)
DEFAULT_MANAGEMENT_PORTS = (8006, 22)  # pveproxy and sshd of each node

# The probe script guests and probe hosts run for tcp, dns and http_source. Arguments:
# kind target port timeout query_name. One JSON line: {"reached", "detail", "seen_source"?}.
# dns: any answer carrying the query's id counts as reached (a refusal or NXDOMAIN still proves the path).
# http_source: the echo server answers the client's address as it saw it, as the body.
PROBE_SCRIPT = r'''
import json, random, socket, struct, sys
kind, target, port, timeout, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
out = {"reached": False}
try:
    if kind == "tcp":
        socket.create_connection((target, port), timeout).close()
        out.update(reached=True, detail="connected to %s:%d" % (target, port))
    elif kind == "dns":
        qid = random.randrange(65536)
        labels = b"".join(bytes([len(part)]) + part.encode("ascii") for part in name.rstrip(".").split(".") if part)
        query = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack(">HH", 1, 1)
        family = socket.getaddrinfo(target, port, 0, socket.SOCK_DGRAM)[0][0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.settimeout(timeout)
        sock.sendto(query, (target, port))
        while True:
            data = sock.recv(4096)
            if len(data) >= 4 and struct.unpack(">H", data[:2])[0] == qid:
                out.update(reached=True, detail="answer for %s, rcode %d" % (name, data[3] & 15))
                break
    elif kind == "http_source":
        sock = socket.create_connection((target, port), timeout)
        sock.settimeout(timeout)
        sock.sendall(("GET / HTTP/1.0\r\nHost: %s\r\n\r\n" % target).encode("ascii"))
        data = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _sep, body = data.partition(b"\r\n\r\n")
        seen = body.decode("utf-8", "replace").strip()
        out.update(reached=True, seen_source=seen, detail="%s; seen as %s" % (head.split(b"\r\n")[0].decode("ascii", "replace"), seen))
    else:
        out["detail"] = "unknown kind %s" % kind
except Exception as error:
    out["detail"] = "%s: %s" % (type(error).__name__, error)
print(json.dumps(out))
'''


# -- probes --------------------------------------------------------------------------------------

def probe_command(probe):
    """The argv a probe runs (never a caller's command): see PROBE_SCRIPT."""
    timeout = int(probe.get("timeout") or DEFAULT_TIMEOUT)
    kind = probe["kind"]
    if kind not in KINDS:
        raise ValueError("probe %s: kind %r is not one of %s" % (probe.get("id"), kind, ", ".join(KINDS)))
    target = str(ipaddress.ip_address(str(probe["target"])))  # an address, never an option
    if kind == "icmp":
        return ["ping", "-c", "1", "-W", str(timeout), target]
    port = int(probe.get("port") or (53 if kind == "dns" else 0))
    if not 0 < port < 65536:
        raise ValueError("probe %s: %s needs a port" % (probe.get("id"), kind))
    return ["python3", "-c", PROBE_SCRIPT, kind, target, str(port), str(timeout), str(probe.get("query_name") or ".")]


def probe_result(probe, exitcode, stdout, stderr, signal=None):
    """{reached, detail, seen_source?} of a finished probe command."""
    if probe["kind"] == "icmp":
        if signal is not None:
            return {"reached": False, "failed": True, "detail": "ping was killed by signal %s" % signal}
        if exitcode == 0:
            return {"reached": True, "detail": "echo reply from %s" % probe["target"]}
        if exitcode == 1:
            return {"reached": False, "detail": "no echo reply from %s" % probe["target"]}
        if exitcode == 2 and "unreachable" in (stderr or "").lower():
            # iputils ping exits 2 when there is no route at all ("connect: Network is unreachable"): blocked, not a failure
            return {"reached": False, "detail": "no route to %s: %s" % (probe["target"], stderr.strip()[:200])}
        return {"reached": False, "failed": True, "detail": "ping exited %s: %s" % (exitcode, (stderr or stdout or "").strip()[:200])}
    lines = [line for line in (stdout or "").splitlines() if line.strip()]
    try:
        answer = json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"reached": False, "failed": True,
                "detail": "the probe script answered nothing usable (exit %s, signal %s): %s" % (exitcode, signal, (stderr or "").strip()[:200])}
    result = {"reached": bool(answer.get("reached")), "detail": str(answer.get("detail", ""))}
    if answer.get("seen_source") is not None:
        result["seen_source"] = answer["seen_source"]
    return result


class LocalRun:
    """A probe run on this host (in a network namespace when given)."""

    def __init__(self, probe, argv):
        self.probe = probe
        netns = probe["from"].get("netns")
        if netns:
            argv = ["ip", "netns", "exec", netns] + argv
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # pylint: disable=consider-using-with

    def poll(self):
        if self.process.poll() is None:
            return None
        stdout, stderr = self.process.communicate()
        code = self.process.returncode
        return probe_result(self.probe, code if code >= 0 else None, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"),
                            -code if code < 0 else None)

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


# -- the expected matrix ---------------------------------------------------------------------------

def _ip(address):
    return str(ipaddress.ip_interface(str(address)).ip)


def _ports(text):
    """The TCP ports of a gateway allow rule's dport ("5432", "80,443", "8000:8002")."""
    ports = []
    for part in str(text or "").split(","):
        part = part.strip()
        if ":" in part:
            first, last = part.split(":", 1)
            ports.extend(range(int(first), int(last) + 1))
        elif part:
            ports.append(int(part))
    return ports


def _service_grants(tenant, services):
    """{service: [(proto, port)]} a tenant may reach: dns always, each item of `services` (a name or
    {name, ports} narrowing the service's ports)."""
    grants = {}
    if "dns" in services:
        grants["dns"] = [(port["proto"], int(port["dport"])) for port in services["dns"].get("ports", [])]
    for item in tenant.get("services") or []:
        name = item["name"] if isinstance(item, dict) else item
        if name not in services:
            continue
        ports = item.get("ports") if isinstance(item, dict) and item.get("ports") else services[name].get("ports", [])
        grants[name] = [(port["proto"], int(port["dport"])) for port in ports]
    return grants


def management_endpoints(entries):
    """[{name?, address, port}]: entries of that shape, or nodes' host variables (inventory_hostname,
    pve_host_mgmt_address) - each node's management address on DEFAULT_MANAGEMENT_PORTS."""
    endpoints = []
    for entry in entries or []:
        if "port" in entry:
            endpoints.append({"name": entry.get("name"), "address": entry["address"], "port": int(entry["port"])})
        elif entry.get("pve_host_mgmt_address"):
            endpoints.extend({"name": entry.get("inventory_hostname"), "address": entry["pve_host_mgmt_address"], "port": port}
                             for port in DEFAULT_MANAGEMENT_PORTS)
    return endpoints


def probe_host(entry):
    """{name, role, address, netns} of a probe host: that shape, or its host variables (inventory_hostname,
    homecloud_verify_role, homecloud_verify_address, homecloud_verify_netns)."""
    if "name" in entry and "role" in entry:
        return dict(entry)
    role = entry.get("homecloud_verify_role")
    if role not in ("internet", "management"):
        raise ValueError("probe host %s: homecloud_verify_role must be internet or management, not %r" % (entry.get("inventory_hostname"), role))
    return {"name": entry["inventory_hostname"], "role": role, "address": entry.get("homecloud_verify_address"),
            "netns": entry.get("homecloud_verify_netns")}


class _Matrix:
    """Collects sources, targets and cells, once each."""

    def __init__(self):
        self.sources = []
        self.targets = []
        self.cells = []
        self._seen = set()

    def source(self, entry):
        if all(known["name"] != entry["name"] for known in self.sources):
            self.sources.append(entry)

    def target(self, entry):
        if all(known["name"] != entry["name"] for known in self.targets):
            self.targets.append(entry)

    def cell(self, source, target, kind, expected, port=None, why="", **extra):  # pylint: disable=too-many-arguments
        key = (source["name"], target["name"], kind, port)
        if key in self._seen:
            return
        self._seen.add(key)
        self.source(source)
        self.target(target)
        cell = {"id": cell_id(source["name"], target["name"], kind, port), "source": source["name"], "target": target["name"],
                "kind": kind, "port": port, "address": target["address"], "expected": expected, "why": why}
        cell.update(extra)
        self.cells.append(cell)


def cell_id(source, target, kind, port):
    """The one name of a cell: also its probe's id."""
    return "%s -> %s %s" % (source, target, kind if port is None else "%s/%s" % (kind, port))


def expected_matrix(tenant_plans, gateway_plans, settings=None, tenants=None, services=None, transit=None,  # pylint: disable=too-many-arguments
                    probe_hosts=None, management=None, domain=None, tenant=None):
    """The cells verify.yml probes and what each must answer.

    tenant_plans: the tenant_plan filter's output (the shared entry included); gateway_plans: gateway_plan's;
    settings: homecloud_verify (probes_per_vnet, internet {address, port}, management, tcp_port, timeout,
    only); tenants: homecloud_tenants (services, route_leaking); services: homecloud_firewall.services;
    transit: the transit settings or plan (anything but empty = a transit hub exists; the tenant plans' own
    `transit` legs say so too); probe_hosts: [{name, role,
    address?, netns?}] of group homecloud_verify_probes; management: [{address, port, name?}] (default of the
    playbook: every node's management address on 8006 and 22); domain: the internal DNS domain;
    tenant: only this tenant's guests and gateway as sources (the targets stay all).
    """
    settings = settings or {}
    services = services or {}
    raw_tenants = dict((entry["name"], entry) for entry in tenants or [])
    per_vnet = int(settings.get("probes_per_vnet", DEFAULT_PROBES_PER_VNET))
    tcp_port = int(settings.get("tcp_port", DEFAULT_TCP_PORT))
    timeout = int(settings.get("timeout", DEFAULT_TIMEOUT))
    only = set(settings.get("only") or [])
    gateways = dict((plan["tenant"], plan) for plan in gateway_plans or [])
    # the shared services' entry (kind shared_services); the transit network's entry (kind transit) has no guests
    shared = [plan for plan in tenant_plans if plan.get("shared") and plan.get("kind", "shared_services") == "shared_services"]
    tenant_entries = [plan for plan in tenant_plans if not plan.get("shared")]
    probe_hosts = [probe_host(host) for host in probe_hosts or []]
    matrix = _Matrix()

    def guest_node(plan, guest):
        return {"name": "%s/%s" % (plan["tenant"], guest["name"]), "tenant": plan["tenant"], "kind": "service" if plan.get("shared") else "guest",
                "vnet": guest.get("vnet_name"), "address": guest["ip"], "from": {"vmid": guest["vmid"], "node": guest["node"]}}

    guests = dict((plan["tenant"], [guest_node(plan, guest) for guest in plan.get("guests", [])]) for plan in tenant_plans)
    service_guests = [node for plan in shared for node in guests[plan["tenant"]]]
    gateway_nodes = {}
    for name, plan in gateways.items():
        gateway_nodes[name] = {"name": "%s/%s" % (name, plan["name"]), "tenant": name, "kind": "gateway", "address": plan["external"]["ip"],
                               "inner": [(vnet["name"], vnet["ip"]) for vnet in plan["vnets"]], "external": plan["external"]["ip"],
                               "from": {"vmid": plan["vmid"], "node": plan["node"]}}
    mgmt_targets = [{"name": "management/%s:%s" % (entry.get("name") or _ip(entry["address"]), entry["port"]), "tenant": None,
                     "kind": "management", "address": _ip(entry["address"]), "port": int(entry["port"])}
                    for entry in management_endpoints(settings.get("management") or management)]
    internet = settings.get("internet")
    internet_target = None
    if internet:
        internet_target = {"name": "internet", "tenant": None, "kind": "internet", "address": _ip(internet["address"]),
                           "port": int(internet.get("port", 80))}

    def wanted(node):
        return not only or node["name"] in only

    def tenant_sources(plan):
        if tenant is not None and plan["tenant"] != tenant:
            return []
        picked, counts = [], {}
        for node in guests[plan["tenant"]]:
            counts[node["vnet"]] = counts.get(node["vnet"], 0) + 1
            if counts[node["vnet"]] <= per_vnet and wanted(node):
                picked.append(node)
        return picked

    # tenant guests
    for plan in tenant_entries:
        name = plan["tenant"]
        raw = raw_tenants.get(name, {})
        gateway = gateways.get(name)
        allow = dict((vnet["name"], vnet.get("allow") or []) for vnet in (gateway or {}).get("vnets", []))
        # the tenant plan says it too: `transit` (its gateway's leg) when a hub exists, `route_leaking`
        reaches_services = bool(transit) or bool(plan.get("transit")) or "shared" in (plan.get("route_leaking") or raw.get("route_leaking") or [])
        grants = _service_grants(raw, services)
        for source in tenant_sources(plan):
            for target in (node for node in guests[name] if node["name"] != source["name"] and wanted(node)):
                if target["vnet"] == source["vnet"]:
                    matrix.cell(source, target, "icmp", REACHED, why="same VNet")
                    continue
                matrix.cell(source, target, "icmp", BLOCKED, why="another VNet of the tenant: only the gateway's allow list")
                allowed = [port for rule in allow.get(source["vnet"], []) if rule.get("to") == target["vnet"] and rule.get("proto", "tcp") == "tcp"
                           for port in _ports(rule.get("dport"))]
                reverse = [port for rule in allow.get(target["vnet"], []) if rule.get("to") == source["vnet"] and rule.get("proto", "tcp") == "tcp"
                           for port in _ports(rule.get("dport"))]
                for port in sorted(set(allowed) | set(reverse)):
                    matrix.cell(source, target, "tcp", REACHED if port in allowed else BLOCKED, port=port,
                                why="gateway allow %s -> %s" % (source["vnet"], target["vnet"]) if port in allowed
                                else "allowed only the other way (%s -> %s)" % (target["vnet"], source["vnet"]))
            for other in tenant_entries:
                if other["tenant"] == name:
                    continue
                for target in (node for node in guests[other["tenant"]] if wanted(node)):
                    matrix.cell(source, target, "icmp", BLOCKED, why="another tenant")
                    matrix.cell(source, target, "tcp", BLOCKED, port=tcp_port, why="another tenant")
            if internet_target and gateway and wanted(internet_target):
                matrix.cell(source, internet_target, "http_source", REACHED, port=internet_target["port"], expected_source=gateway["external"]["ip"],
                            why="out through the gateway's SNAT")
            _service_cells(matrix, source, service_guests, services, grants, reaches_services, domain, wanted)
            for target in (node for node in mgmt_targets if wanted(node)):
                matrix.cell(source, target, "tcp", BLOCKED, port=target["port"], why="management is never reachable from a tenant")
        # the gateway VM
        gateway_node = gateway_nodes.get(name)
        if gateway_node and (tenant is None or tenant == name) and wanted(gateway_node):
            for target in (node for node in guests[name] if wanted(node)):
                matrix.cell(gateway_node, target, "icmp", REACHED, why="the tenant's own gateway")
            for other in tenant_entries:
                for target in (node for node in guests[other["tenant"]] if other["tenant"] != name and wanted(node)):
                    matrix.cell(gateway_node, target, "icmp", BLOCKED, why="another tenant")
            if internet_target and wanted(internet_target):
                matrix.cell(gateway_node, internet_target, "http_source", REACHED, port=internet_target["port"],
                            expected_source=gateway_node["external"], why="the gateway's own external address")
            for target in (node for node in mgmt_targets if wanted(node)):
                matrix.cell(gateway_node, target, "tcp", BLOCKED, port=target["port"], why="management is never reachable from a tenant")

    if tenant is None:
        # shared services: no new connections into the tenants, none to management
        for source in (node for node in service_guests if wanted(node)):
            for plan in tenant_entries:
                for target in (node for node in guests[plan["tenant"]] if wanted(node)):
                    matrix.cell(source, target, "icmp", BLOCKED, why="shared services never open connections to tenants")
                    matrix.cell(source, target, "tcp", BLOCKED, port=tcp_port, why="shared services never open connections to tenants")
            for target in (node for node in mgmt_targets if wanted(node)):
                matrix.cell(source, target, "tcp", BLOCKED, port=target["port"], why="management is never reachable from a shared service")
        # the outside probe hosts
        for host in probe_hosts or []:
            source = {"name": "%s/%s" % (host.get("role"), host["name"]), "tenant": None, "kind": host.get("role"), "address": host.get("address"),
                      "from": dict({"local": True, "host": host["name"]}, **({"netns": host["netns"]} if host.get("netns") else {}))}
            if not wanted(source):
                continue
            for plan in tenant_entries:
                for target in (node for node in guests[plan["tenant"]] if wanted(node)):
                    matrix.cell(source, target, "icmp", BLOCKED, why="no way in from the %s side" % host.get("role"))
                    matrix.cell(source, target, "tcp", BLOCKED, port=tcp_port, why="no way in from the %s side" % host.get("role"))
                gateway_node = gateway_nodes.get(plan["tenant"])
                for vnet, address in (gateway_node or {}).get("inner", []):
                    target = {"name": "%s@%s" % (gateway_node["name"], vnet), "tenant": plan["tenant"], "kind": "gateway", "address": address}
                    if wanted(target) or wanted(gateway_node):
                        matrix.cell(source, target, "icmp", BLOCKED, why="a gateway's inner address is not routed from outside")
            if host.get("role") != "management":
                for target in (node for node in mgmt_targets if wanted(node)):
                    matrix.cell(source, target, "tcp", BLOCKED, port=target["port"], why="management is never reachable from the internet")

    sources = dict((entry["name"], entry) for entry in matrix.sources)
    for cell in matrix.cells:
        cell["from"] = sources[cell["source"]]["from"]
        cell["timeout"] = timeout
    order = ("guest", "gateway", "service", "internet", "management")
    targets = sorted(matrix.targets, key=lambda entry: (order.index(entry["kind"]) if entry["kind"] in order else len(order), entry["name"]))
    result = {"sources": [_public(entry) for entry in matrix.sources], "targets": [_public(entry) for entry in targets], "cells": matrix.cells}
    result["probes"] = probes_of(result)
    result["host_probes"] = dict((host["name"], probes_of(result, host["name"])) for host in probe_hosts or [] if probes_of(result, host["name"]))
    return result


def _service_cells(matrix, source, service_guests, services, grants, reaches_services, domain, wanted):  # pylint: disable=too-many-arguments
    """A tenant guest's cells towards the shared services: each service's ports (dns by a query)."""
    by_address = dict((node["address"], node) for node in service_guests)
    for service, definition in sorted(services.items()):
        granted = grants.get(service)
        for address in definition.get("addresses", []):
            target = by_address.get(_ip(address)) or {"name": "shared/%s" % service, "tenant": "shared", "kind": "service", "address": _ip(address)}
            if not wanted(target):
                continue
            for port in definition.get("ports", []):
                proto, number = port["proto"], int(port["dport"])
                allowed = reaches_services and granted is not None and (proto, number) in granted
                why = ("granted (%s)" % service) if allowed else ("not granted" if granted is None or (proto, number) not in granted
                                                                  else "no transit hub and no route leaking")
                if service == "dns" and proto == "udp":
                    query = "%s.%s" % (service, domain) if domain else service
                    matrix.cell(source, target, "dns", REACHED if allowed else BLOCKED, port=number, query_name=query, why=why)
                elif proto == "tcp":
                    matrix.cell(source, target, "tcp", REACHED if allowed else BLOCKED, port=number, why=why)


def _public(entry):
    return dict((key, value) for key, value in entry.items() if key not in ("inner",))


def probes_of(matrix, host=None):
    """The reachability_probe module's `probes` for the cells: the guests' (host None), or those the probe host
    `host` runs (from {local, netns})."""
    probes = []
    for cell in matrix["cells"]:
        if cell["from"].get("host") != host:
            continue
        origin = dict((key, value) for key, value in cell["from"].items() if key != "host")
        probe = {"id": cell["id"], "from": origin, "kind": cell["kind"], "target": cell["address"], "timeout": cell["timeout"]}
        if cell["port"] is not None:
            probe["port"] = cell["port"]
        if cell.get("query_name"):
            probe["query_name"] = cell["query_name"]
        probes.append(probe)
    return probes


# -- comparison and rendering ------------------------------------------------------------------------

def observed_of(result):
    if result is None:
        return ERROR
    if result.get("failed"):
        return ERROR
    return REACHED if result.get("reached") else BLOCKED


def compare(matrix, results):
    """Every cell with `observed`, `detail`, `ok`; a summary; `failures`: one line per wrong cell."""
    by_id = dict((result["id"], result) for result in results or [])
    cells, failures = [], []
    for cell in matrix["cells"]:
        result = by_id.get(cell["id"])
        observed = observed_of(result)
        entry = dict((key, value) for key, value in cell.items() if key not in ("from", "timeout", "id"))
        entry.update(observed=observed, detail=(result or {}).get("detail", "no result for this probe"))
        if result and result.get("seen_source") is not None:
            entry["seen_source"] = result["seen_source"]
        ok = observed == cell["expected"]
        if ok and observed == REACHED and cell.get("expected_source") and entry.get("seen_source") != cell["expected_source"]:
            ok = False
            failures.append("%s: expected reached from %s, observed reached from %s" % (cell["id"], cell["expected_source"], entry.get("seen_source")))
        elif not ok:
            failures.append("%s: expected %s, observed %s%s" % (cell["id"], cell["expected"], observed,
                                                                " (%s)" % entry["detail"] if observed == ERROR else ""))
        entry["ok"] = ok
        cells.append(entry)
    return {"sources": matrix["sources"], "targets": matrix["targets"], "cells": cells, "failures": failures,
            "summary": {"cells": len(cells), "ok": len(cells) - len(failures), "mismatches": len(failures)}}


MARK = {REACHED: "ok", BLOCKED: "--", ERROR: "??"}


def _mark(cell):
    if cell["ok"]:
        return MARK[cell["expected"]]
    observed = cell["observed"]
    if observed == REACHED and cell["expected"] == REACHED:  # reached, from the wrong address
        return "!!src"
    return "!!%s/%s" % (MARK[cell["expected"]], MARK.get(observed, "??"))


def render_table(report):
    """Rows sources, columns targets; a cell lists its probes' marks in order (ok expected reached, -- expected
    blocked, !!<expected>/<observed> a mismatch); the wrong cells follow, one per line."""
    targets = [target["name"] for target in report["targets"]]
    marks = {}
    for cell in report["cells"]:
        marks.setdefault((cell["source"], cell["target"]), []).append(_mark(cell))
    column = dict((name, max([len(name)] + [len(" ".join(value)) for (source, target), value in marks.items() if target == name]))
                  for name in targets)
    width = max([len(source["name"]) for source in report["sources"]] + [6])
    lines = [("%-*s  %s" % (width, "source", "  ".join("%-*s" % (column[name], name) for name in targets))).rstrip()]
    for source in report["sources"]:
        row = ["%-*s" % (column[name], " ".join(marks.get((source["name"], name), ["."]))) for name in targets]
        lines.append(("%-*s  %s" % (width, source["name"], "  ".join(row))).rstrip())
    summary = report["summary"]
    lines.append("")
    lines.append("legend: ok reached as expected, -- blocked as expected, !!<expected>/<observed> mismatch, ?? the probe failed, . not probed")
    lines.append("%d cells, %d as expected, %d wrong" % (summary["cells"], summary["ok"], summary["mismatches"]))
    lines.extend(report["failures"])
    return "\n".join(lines) + "\n"


def render_json(report):
    """Every cell: source, target, kind, port, expected, observed, detail (and the sources, targets, summary)."""
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


SQUARE = 14
COLORS = {"ok-reached": "#2e9d46", "ok-blocked": "#b4b4b4", "wrong": "#d32f2f"}


def render_svg(report):
    """A heat map: a row per source, a column per (target, kind, port), one square per cell: green reached as
    expected, grey blocked as expected, red a mismatch. Self-contained (no fonts or scripts from elsewhere)."""
    columns = []
    for cell in report["cells"]:
        key = (cell["target"], cell["kind"], cell["port"])
        if key not in columns:
            columns.append(key)
    columns.sort(key=lambda key: ([target["name"] for target in report["targets"]].index(key[0]), key[1], key[2] or 0))
    rows = [source["name"] for source in report["sources"]]
    label_width = 8 * max([len(name) for name in rows] + [1]) + 10
    label_height = 7 * max([len(_column_label(key)) for key in columns] + [1]) + 10
    width = label_width + SQUARE * len(columns) + 10
    height = label_height + SQUARE * len(rows) + 30
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="monospace" font-size="11">'
             % (width, height, width, height),
             '<title>reachability matrix: %d cells, %d wrong</title>' % (report["summary"]["cells"], report["summary"]["mismatches"])]
    for index, key in enumerate(columns):
        x = label_width + SQUARE * index + SQUARE // 2 + 4
        parts.append('<text x="%d" y="%d" transform="rotate(-90 %d %d)">%s</text>' % (x, label_height - 4, x, label_height - 4, escape(_column_label(key))))
    for index, name in enumerate(rows):
        parts.append('<text x="4" y="%d">%s</text>' % (label_height + SQUARE * index + SQUARE - 3, escape(name)))
    for cell in report["cells"]:
        row = rows.index(cell["source"])
        column = columns.index((cell["target"], cell["kind"], cell["port"]))
        color = COLORS["wrong"] if not cell["ok"] else COLORS["ok-%s" % cell["expected"]]
        probe = _column_label((None, cell["kind"], cell["port"]))
        title = "%s -> %s %s: expected %s, observed %s" % (cell["source"], cell["target"], probe, cell["expected"], cell["observed"])
        parts.append('<rect x="%d" y="%d" width="%d" height="%d" fill="%s" stroke="#ffffff"><title>%s</title></rect>'
                     % (label_width + SQUARE * column, label_height + SQUARE * row, SQUARE, SQUARE, color, escape(title)))
    parts.append('<text x="4" y="%d">green: reached as expected, grey: blocked as expected, red: mismatch</text>' % (height - 8))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _column_label(key):
    target, kind, port = key
    probe = kind if port is None else "%s/%s" % (kind, port)
    return probe if target is None else "%s %s" % (target, probe)
