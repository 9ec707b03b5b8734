#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cluster_info
short_description: Read a Proxmox VE cluster's version, nodes, quorum and resources
version_added: 0.1.0
description:
  - Reads what a Proxmox VE cluster is made of, with four API calls -
    C(GET /version), C(GET /cluster/status), C(GET /nodes) and C(GET /cluster/resources).
  - Use it to check that a cluster is quorate and runs the release a play expects
    before changing anything, or to find the nodes to place guests on.
  - Works the same against a single node that is not in a cluster; then RV(cluster) is V(null).
options:
  resource_type:
    description:
      - Only return resources of this type in RV(resources), filtered by PVE itself.
      - V(network) (SDN zones and fabrics of nodes on PVE 9.0.12 or later, as C(network/<node>/zone/<zone>) entries) is
        not a filter PVE's C(type) parameter accepts, so the module reads every resource and keeps those; it is still
        one request. On PVE 8.x it returns an empty list.
      - V(sdn) lists the zones only of nodes that run PVE 9.0.11 or older; since pve-manager 9.0.12 a node reports its
        zones as V(network) resources instead, and the module warns when the cluster runs such a release.
      - If not set, resources of every type are returned.
    type: str
    choices: [vm, storage, node, sdn, network]
  gather_resources:
    description:
      - Whether to read C(/cluster/resources) at all; large clusters can skip it when only
        the version, quorum and nodes are needed.
    type: bool
    default: true
extends_documentation_fragment:
  - homecloud.proxmox.api
  - homecloud.proxmox.api.ACTIONGROUP
  - homecloud.proxmox.attributes.INFO_MODULE
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Read the cluster with an API token
  homecloud.proxmox.cluster_info:
    api_host: pve1.example.internal
    api_user: root@pam
    api_token_id: homecloud
    api_token_secret: "{{ vault_proxmox_token_secret }}"
    ca_path: files/pve-root-ca.pem
  register: cluster

- name: Refuse to go on unless the cluster is quorate and runs PVE 8.4 or newer
  ansible.builtin.assert:
    that:
      - cluster.quorum.quorate
      - cluster.version.major > 8 or (cluster.version.major == 8 and cluster.version.minor >= 4)
    fail_msg: "cluster not ready: {{ cluster.quorum }} / {{ cluster.version.version }}"

- name: Set the connection once for every module of the collection, then list VMs only
  module_defaults:
    group/homecloud.proxmox.proxmox:
      api_host: pve1.example.internal
      api_token_id: homecloud
      api_token_secret: "{{ vault_proxmox_token_secret }}"
  block:
    - name: List the guests
      homecloud.proxmox.cluster_info:
        resource_type: vm
      register: guests
"""

RETURN = r"""
version:
  description: The PVE release the API node runs, from C(GET /version), with its parts as numbers.
  returned: always
  type: dict
  sample:
    version: 9.1.3
    release: "9.1"
    repoid: 0a1b2c3d
    major: 9
    minor: 1
    patch: 3
cluster:
  description: The cluster entry of C(GET /cluster/status); V(null) on a node that is not in a cluster.
  returned: always
  type: dict
  contains:
    name:
      description: Cluster name.
      type: str
      sample: homecloud
    nodes:
      description: Number of nodes in the cluster configuration, offline ones included.
      type: int
      sample: 3
    quorate:
      description: Whether a majority of nodes is online.
      type: bool
      sample: true
    config_version:
      description: Version of the corosync configuration.
      type: int
      sample: 3
quorum:
  description: Whether the cluster can make decisions, and how many nodes are online.
  returned: always
  type: dict
  contains:
    quorate:
      description: V(true) when the cluster is quorate, or for a single node outside a cluster.
      type: bool
      sample: true
    online:
      description: Nodes online.
      type: int
      sample: 3
    total:
      description: Nodes known.
      type: int
      sample: 3
nodes:
  description: Every node, sorted by name, merging C(GET /cluster/status) and C(GET /nodes).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Node name.
      type: str
      sample: pve1
    online:
      description: Whether the node is online.
      type: bool
      sample: true
    status:
      description: Node status as C(GET /nodes) reports it (V(online), V(offline) or V(unknown)).
      type: str
      sample: online
    nodeid:
      description: Corosync node id; absent on a node outside a cluster.
      type: int
      sample: 1
    ip:
      description: Address the node name resolves to in the cluster.
      type: str
      sample: 192.0.2.11
    local:
      description: Whether this is the node that answered the API calls.
      type: bool
      sample: true
    cpu:
      description: CPU utilisation, 0 to 1.
      type: float
      sample: 0.03
    maxcpu:
      description: Number of CPUs.
      type: int
      sample: 8
    mem:
      description: Memory used, in bytes.
      type: int
      sample: 4294967296
    maxmem:
      description: Memory installed, in bytes.
      type: int
      sample: 34359738368
    uptime:
      description: Seconds since boot.
      type: int
      sample: 86400
resources:
  description: Entries of C(GET /cluster/resources) as PVE returns them (filtered by O(resource_type)).
  returned: when O(gather_resources=true)
  type: list
  elements: dict
  sample:
    - id: node/pve1
      type: node
      node: pve1
      status: online
"""

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import ProxmoxModule, create_module

# PVE returns booleans as 0/1; these node fields are booleans in its schema.
NODE_BOOLEANS = ("online", "local")


class ClusterInfo(ProxmoxModule):

    def run(self):
        self.result["version"] = self.client.version.as_dict()
        status = self.client.get("/cluster/status")
        cluster = next((entry for entry in status if entry.get("type") == "cluster"), None)
        nodes = self._nodes(status, self.client.get("/nodes"))
        online = sum(1 for node in nodes if node["online"])
        self.result["cluster"] = None if cluster is None else dict(
            name=cluster.get("name"),
            nodes=cluster.get("nodes"),
            quorate=bool(cluster.get("quorate")),
            config_version=cluster.get("version"),
        )
        self.result["quorum"] = dict(
            quorate=True if cluster is None else bool(cluster.get("quorate")),
            online=online,
            total=len(nodes),
        )
        self.result["nodes"] = nodes
        if self.module.params["gather_resources"]:
            self.result["resources"] = self._resources(self.module.params["resource_type"])

    def _resources(self, resource_type):
        """GET /cluster/resources, filtered by PVE where its `type` enum allows it (vm, storage, node, sdn)."""
        if resource_type != "network":
            if resource_type == "sdn" and self.client.version.at_least(9, 0, 12):
                # pve-manager PVE/API2/Cluster.pm at 1804cdf1: nodes that report `network` entries
                # (pvestatd.pm update_network_status, 9ac04d95) get no `sdn` entries any more.
                self.module.warn("since PVE 9.0.12, nodes report their SDN zones as resources of type 'network' "
                                 "(network/<node>/zone/<zone>); resource_type=sdn lists only the zones of nodes that run "
                                 "PVE 9.0.11 or older. Use resource_type=network.")
            return self.client.get("/cluster/resources", type=resource_type)
        return [entry for entry in self.client.get("/cluster/resources") if entry.get("type") == "network"]

    @staticmethod
    def _nodes(status, node_list):
        """Join the node entries of /cluster/status with /nodes, by name."""
        by_name = {}
        for entry in status:
            if entry.get("type") == "node":
                by_name[entry["name"]] = dict(
                    (key, value) for key, value in entry.items() if key not in ("type", "id", "level")
                )
        for entry in node_list:
            node = by_name.setdefault(entry["node"], {"name": entry["node"]})
            node.update((key, value) for key, value in entry.items() if key not in ("node", "type", "id", "ssl_fingerprint"))
            node.setdefault("online", entry.get("status") == "online")
        for node in by_name.values():
            for key in NODE_BOOLEANS:
                if key in node:
                    node[key] = bool(node[key])
        return [by_name[name] for name in sorted(by_name)]


def main():
    module = create_module(
        dict(
            resource_type=dict(type="str", choices=["vm", "storage", "node", "sdn", "network"]),
            gather_resources=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    ClusterInfo(module).execute()


if __name__ == "__main__":
    main()
