# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""cluster_info's reading of PVE answers the simulator does not produce: a lost quorum, a standalone node."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import PveVersion
from ansible_collections.homecloud.proxmox.plugins.modules.cluster_info import ClusterInfo


class FakeClient:
    def __init__(self, answers):
        self.answers = answers
        self.version = PveVersion({"version": "8.4.1", "release": "8.4", "repoid": "2a5fa54a8"})

    def get(self, path, **params):
        return self.answers[path]


def run(answers, **params):
    info = ClusterInfo.__new__(ClusterInfo)  # no AnsibleModule: only the reading logic is under test
    info.client = FakeClient(answers)
    info.module = type("Module", (), {"params": dict(dict(gather_resources=False, resource_type=None), **params)})()
    info.result = {"changed": False}
    info.run()
    return info.result


def test_lost_quorum_and_an_offline_node():
    result = run({
        "/cluster/status": [
            {"type": "cluster", "id": "cluster", "name": "lab", "nodes": 3, "quorate": 0, "version": 7},
            {"type": "node", "id": "node/pve1", "name": "pve1", "nodeid": 1, "ip": "192.0.2.11", "online": 1, "local": 1, "level": ""},
            {"type": "node", "id": "node/pve2", "name": "pve2", "nodeid": 2, "ip": "192.0.2.12", "online": 0, "local": 0, "level": ""},
            {"type": "node", "id": "node/pve3", "name": "pve3", "nodeid": 3, "ip": "192.0.2.13", "online": 0, "local": 0, "level": ""},
        ],
        "/nodes": [
            {"node": "pve1", "status": "online", "maxcpu": 8, "id": "node/pve1", "type": "node", "ssl_fingerprint": "AA:BB"},
            {"node": "pve3", "status": "offline", "id": "node/pve3", "type": "node"},
            {"node": "pve2", "status": "unknown", "id": "node/pve2", "type": "node"},
        ],
    })
    assert result["cluster"] == {"name": "lab", "nodes": 3, "quorate": False, "config_version": 7}
    assert result["quorum"] == {"quorate": False, "online": 1, "total": 3}
    assert [node["name"] for node in result["nodes"]] == ["pve1", "pve2", "pve3"]
    assert result["nodes"][0] == {"name": "pve1", "nodeid": 1, "ip": "192.0.2.11", "online": True, "local": True,
                                  "status": "online", "maxcpu": 8}
    assert result["nodes"][1]["online"] is False and result["nodes"][1]["status"] == "unknown"
    assert "resources" not in result
    assert result["version"]["major"] == 8 and result["version"]["minor"] == 4


def test_a_node_outside_a_cluster_is_its_own_quorum():
    result = run({
        "/cluster/status": [{"type": "node", "id": "node/solo", "name": "solo", "ip": "192.0.2.5", "online": 1, "local": 1, "level": ""}],
        "/nodes": [{"node": "solo", "status": "online", "uptime": 60}],
        "/cluster/resources": [{"id": "node/solo", "type": "node", "node": "solo"}],
    }, gather_resources=True)
    assert result["cluster"] is None
    assert result["quorum"] == {"quorate": True, "online": 1, "total": 1}
    assert result["nodes"] == [{"name": "solo", "ip": "192.0.2.5", "online": True, "local": True, "status": "online", "uptime": 60}]
    assert result["resources"] == [{"id": "node/solo", "type": "node", "node": "solo"}]
