# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The firewall policy derived from the demo inventory (module_utils/firewall_policy.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import ipaddress
import os

import pytest
import yaml

from ansible_collections.homecloud.proxmox.plugins.module_utils.firewall_policy import firewall_policy
from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import PlanError, plan_tenants

GROUP_VARS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "inventories", "demo", "group_vars", "all")
NODES = [dict(name="pve%d" % number, management_address="192.0.2.1%d/24" % number, underlay_address="10.255.0.%d" % number)
         for number in (1, 2, 3)]


def demo(name):
    with open(os.path.join(GROUP_VARS, name + ".yml")) as handle:
        return yaml.safe_load(handle)


@pytest.fixture
def inventory():
    tenants = demo("tenants")["homecloud_tenants"]
    plan = plan_tenants(tenants, demo("network_plan")["homecloud_network_plan"])
    return plan, tenants, demo("firewall")["homecloud_firewall"]


def ipsets_of(policy):
    return dict((item["name"], item) for item in policy["ipsets"])


def in_set(address, ipset):
    """PVE's ipset match: in a plain entry and in no nomatch entry."""
    address = ipaddress.ip_address(address)
    plain = [ipaddress.ip_network(entry["cidr"]) for entry in ipset["entries"] if not entry.get("nomatch")]
    nomatch = [ipaddress.ip_network(entry["cidr"]) for entry in ipset["entries"] if entry.get("nomatch")]
    return any(address in network for network in plain) and not any(address in network for network in nomatch)


def test_demo_policy_sets_and_management_rules(inventory):
    policy = firewall_policy(*inventory, nodes=NODES)
    sets = ipsets_of(policy)
    assert sets["homecloud-nodes"]["entries"] == [{"cidr": "192.0.2.11"}, {"cidr": "192.0.2.12"}, {"cidr": "192.0.2.13"}]
    assert sets["homecloud-underlay"]["entries"] == [{"cidr": "10.255.0.%d" % number} for number in (1, 2, 3)]
    assert sets["acme-nets"]["entries"] == [{"cidr": "10.128.17.0/24"}, {"cidr": "10.128.18.0/24"}]
    assert sets["acme-gw"]["entries"] == [{"cidr": "10.128.17.2"}, {"cidr": "10.128.18.2"}]
    assert sets["svc-dns"]["entries"] == [{"cidr": "10.128.1.10"}]
    # the internet set: public addresses in, private/tenant/management space out (nomatch)
    internet = sets["homecloud-internet"]
    assert in_set("1.1.1.1", internet) and in_set("203.0.113.9", internet)
    for inside in ("10.128.17.5", "10.128.1.10", "192.0.2.11", "172.16.0.1", "192.168.1.1", "100.64.0.1"):
        assert not in_set(inside, internet), inside
    assert [(item.get("dport"), item.get("proto")) for item in policy["rules"]] == [
        ("8006", "tcp"), ("22", "tcp"), ("5405:5412", "udp"), ("8006", "tcp"), ("22", "tcp"), ("179", "tcp"), ("4789", "udp"),
        (None, None), ("123", "udp")]  # then the inventory's own rules, in its order
    assert all(item["type"] == "in" and item["action"] == "ACCEPT" and item["enable"] for item in policy["rules"][:7])
    assert policy["options"] == {"policy_in": "DROP", "policy_out": "ACCEPT", "policy_forward": "DROP"}
    assert [node["options"]["nftables"] for node in policy["nodes"]] == [True, True, True]


def test_tenant_vnets_drop_by_default_and_reach_only_granted_services(inventory):
    policy = firewall_policy(*inventory, nodes=NODES)
    tenants = dict((item["tenant"], item) for item in policy["tenants"])
    assert sorted(tenants) == ["acme", "globex"]
    assert tenants["acme"]["services"] == ["dns", "postgresql", "s3"] and tenants["globex"]["services"] == ["dns", "s3"]
    globex = tenants["globex"]["vnets"][0]
    assert globex["options"] == {"enable": True, "policy_forward": "DROP"}
    first = globex["rules"][0]
    assert (first["action"], first["dest"], first["log"]) == ("DROP", "+dc/homecloud-mgmt", "info")
    destinations = [item.get("dest") for item in globex["rules"] if item["action"] == "ACCEPT"]
    assert "+dc/svc-postgresql" not in destinations and "+dc/svc-s3" in destinations and "+dc/svc-dns" in destinations
    assert not any("acme" in str(item) for item in globex["rules"])  # never a path to another tenant
    shared_rules = policy["shared"][0]["vnets"][0]["rules"]
    assert ("+dc/globex-nets", "+dc/svc-postgresql") not in [(item.get("source"), item.get("dest")) for item in shared_rules]
    assert ("+dc/acme-nets", "+dc/svc-postgresql") in [(item.get("source"), item.get("dest")) for item in shared_rules]
    assert tenants["acme"]["group"]["name"] == "acme"


def test_bad_input_is_reported_at_once_naming_each_field(inventory):
    plan, tenants, settings = inventory
    tenants, settings = copy.deepcopy(tenants), copy.deepcopy(settings)
    tenants[1]["services"] = ["s3", "ldap"]
    settings["admin_networks"] = ["192.0.2.0/24", "not-a-net"]
    settings["services"]["s3"]["addresses"] = ["10.200.0.1"]
    settings["services"]["dns"]["ports"] = [{"proto": "icmp", "dport": 53}]
    with pytest.raises(PlanError) as raised:
        firewall_policy(plan, tenants, settings, nodes=NODES + [dict(name="pve4", management_address="x", underlay_address="10.255.0.4")])
    assert raised.value.errors == [
        "homecloud_firewall.admin_networks[1] 'not-a-net': must be an IP address or a CIDR network",
        "nodes[3] (pve4): management_address 'x': must be an IP address",
        "homecloud_firewall.services.dns.ports[0] {'proto': 'icmp', 'dport': 53}: must be {proto: tcp|udp, dport: a port 1-65535 or a range a:b}",
        "homecloud_firewall.services.s3.addresses[0] 10.200.0.1: must lie in a network of the shared services zone (10.128.1.0/24)",
        "tenant 'globex': services: 'ldap' is not a service of homecloud_firewall.services (dns, postgresql, s3)",
    ]
