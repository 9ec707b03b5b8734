#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: reachability_probe
short_description: Probe what reaches what - from guests through the QEMU guest agent, or from the controller
version_added: 0.1.0
description:
  - Runs each probe of O(probes) and answers whether its target was reached. The module builds every command itself
    from the probe's O(probes[].kind) - never a caller's command line. V(icmp) runs C(ping -c 1 -W <timeout> <target>);
    V(tcp) opens a TCP connection; V(dns) sends a DNS query over UDP (packed by the probe itself - guests need only
    C(python3)) and counts any answer carrying the query's id as reached (a refusal still proves the path);
    V(http_source) sends C(GET /) to an echo server whose body is the caller's address as it saw it
    (RV(results[].seen_source) - the address after any SNAT on the way).
  - A probe C(from) a guest (O(probes[].from.vmid) and O(probes[].from.node)) runs through the guest agent
    (C(POST /nodes/{node}/qemu/{vmid}/agent/exec), then C(GET .../agent/exec-status) until it exited, bounded by the
    probe's timeout plus 10 seconds). A guest without the agent, not running, or whose agent does not answer gives a
    failed probe (RV(results[].failed)) with PVE's message, not a failed task.
  - A probe C(from) O(probes[].from.local=true) runs on the host the module runs on, inside the network namespace
    O(probes[].from.netns) when given (C(ip netns exec)).
  - Up to O(parallel) probes run at the same time.
  - Only reads - the probes change nothing - so it runs in check mode too and never reports a change.
options:
  probes:
    description: The probes.
    type: list
    elements: dict
    required: true
    suboptions:
      id:
        description: The probe's name; its result carries it.
        type: str
        required: true
      from:
        description: Where the probe runs - a guest (C(vmid) and C(node)) or the controller (C(local=true), optional C(netns)).
        type: dict
        required: true
        suboptions:
          vmid:
            description: The guest's VMID.
            type: int
          node:
            description: The node the guest runs on.
            type: str
          local:
            description: Run on the host the module runs on.
            type: bool
            default: false
          netns:
            description: With O(probes[].from.local), the network namespace to run in.
            type: str
      kind:
        description: What is probed.
        type: str
        required: true
        choices: [icmp, tcp, dns, http_source]
      target:
        description: The target's IP address.
        type: str
        required: true
      port:
        description: The TCP port (V(tcp), V(http_source)) or the DNS server's UDP port (V(dns), default V(53)).
        type: int
      query_name:
        description: With V(dns), the name asked for (type A).
        type: str
      timeout:
        description: Seconds the probe waits for an answer.
        type: int
        default: 3
  parallel:
    description: How many probes run at the same time.
    type: int
    default: 8
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.attributes.INFO_MODULE
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Does web1 reach db1 on PostgreSQL's port, and not app1 of another tenant?
  homecloud.proxmox.reachability_probe:
    probes:
      - {id: web1-db1, from: {vmid: 10110, node: pve1}, kind: tcp, target: 10.128.18.11, port: 5432}
      - {id: web1-app1, from: {vmid: 10110, node: pve1}, kind: icmp, target: 10.128.33.10}
  register: probed

- name: From the controller, inside a namespace standing for the internet
  homecloud.proxmox.reachability_probe:
    probes:
      - {id: internet-web1, from: {local: true, netns: outside}, kind: icmp, target: 10.128.17.10, timeout: 2}
"""

RETURN = r"""
results:
  description: One result per probe, in the order of O(probes).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The probe's O(probes[].id).
      type: str
    reached:
      description: Whether the target answered.
      type: bool
    failed:
      description: The probe could not run (no agent, guest stopped, no answer from the agent in time); RV(results[].reached) is V(false).
      type: bool
    detail:
      description: What happened, in words (the reply, the error, PVE's message).
      type: str
    seen_source:
      description: With V(http_source), the address the echo server saw the request come from.
      type: str
      returned: when an http_source probe reached the echo server
    seconds:
      description: How long the probe took.
      type: float
  sample:
    - {id: web1-db1, reached: true, failed: false, detail: connected to 10.128.18.11:5432, seconds: 0.4}
"""

import time

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import ProxmoxModule, create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxError
from ansible_collections.homecloud.proxmox.plugins.module_utils.reachability import LocalRun, probe_command, probe_result

POLL_SECONDS = 0.2
MARGIN_SECONDS = 10  # beyond a probe's own timeout: the agent's start-up of the command, the API's round trips


class GuestRun:
    """A probe run by a guest's agent: agent/exec, then agent/exec-status until it exited."""

    def __init__(self, client, probe, argv, stdin):
        self.client = client
        self.probe = probe
        self.base = "/nodes/{0}/qemu/{1}/agent".format(probe["from"]["node"], probe["from"]["vmid"])
        params = {"command": argv}
        if stdin:
            params["input-data"] = stdin
        self.pid = client.call("POST", self.base + "/exec", params).get("data", {})["pid"]

    def poll(self):
        status = self.client.get(self.base + "/exec-status", pid=self.pid)
        if not status.get("exited"):
            return None
        return probe_result(self.probe, status.get("exitcode"), status.get("out-data", ""), status.get("err-data", ""), status.get("signal"))


class ReachabilityProbe(ProxmoxModule):

    def run(self):
        probes = self.module.params["probes"]
        for probe in probes:
            origin = probe["from"]
            if not origin.get("local") and (origin.get("vmid") is None or not origin.get("node")):
                self.fail("probe {0}: from needs vmid and node, or local=true".format(probe["id"]))
            try:
                probe_command(probe)
            except ValueError as error:
                self.fail(str(error))
        results = [None] * len(probes)
        waiting = list(range(len(probes)))
        running = {}
        parallel = max(1, self.module.params["parallel"])
        while waiting or running:
            while waiting and len(running) < parallel:
                index = waiting.pop(0)
                started = self.start(probes[index])
                if isinstance(started, dict):
                    results[index] = self.finish(probes[index], started, time.time())
                else:
                    running[index] = (started, time.time())
            time.sleep(POLL_SECONDS)
            for index, (run, started) in list(running.items()):
                answer = self.poll(run, probes[index], started)
                if answer is not None:
                    results[index] = self.finish(probes[index], answer, started)
                    del running[index]
        self.result["results"] = results

    def start(self, probe):
        """A running probe, or the failed result when it could not start."""
        argv = probe_command(probe)
        self.working_on = "probe {0}".format(probe["id"])
        if probe["from"].get("local"):
            try:
                return LocalRun(probe, argv)
            except OSError as error:
                return {"reached": False, "failed": True, "detail": "could not start {0}: {1}".format(argv[0], error)}
        try:
            return GuestRun(self.client, probe, argv, None)
        except ProxmoxError as error:
            return {"reached": False, "failed": True, "detail": "guest {0}: {1}".format(probe["from"]["vmid"], error)}

    @staticmethod
    def poll(run, probe, started):
        try:
            answer = run.poll()
        except ProxmoxError as error:
            return {"reached": False, "failed": True, "detail": "guest {0}: {1}".format(probe["from"]["vmid"], error)}
        if answer is None and time.time() - started > probe["timeout"] + MARGIN_SECONDS:
            if isinstance(run, LocalRun):
                run.stop()
            return {"reached": False, "failed": True, "detail": "no end of the probe within {0} s".format(probe["timeout"] + MARGIN_SECONDS)}
        return answer

    @staticmethod
    def finish(probe, answer, started):
        result = dict(id=probe["id"], reached=bool(answer.get("reached")), failed=bool(answer.get("failed")), detail=answer.get("detail", ""),
                      seconds=round(time.time() - started, 2))
        if answer.get("seen_source") is not None:
            result["seen_source"] = answer["seen_source"]
        return result


def main():
    module = create_module(dict(
        probes=dict(type="list", elements="dict", required=True, options=dict(
            id=dict(type="str", required=True),
            kind=dict(type="str", required=True, choices=["icmp", "tcp", "dns", "http_source"]),
            target=dict(type="str", required=True),
            port=dict(type="int"),
            query_name=dict(type="str"),
            timeout=dict(type="int", default=3),
            **{"from": dict(type="dict", required=True, options=dict(
                vmid=dict(type="int"),
                node=dict(type="str"),
                local=dict(type="bool", default=False),
                netns=dict(type="str"),
            ))}
        )),
        parallel=dict(type="int", default=8),
    ), supports_check_mode=True)
    ReachabilityProbe(module).execute()


if __name__ == "__main__":
    main()
