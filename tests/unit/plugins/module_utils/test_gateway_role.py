# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The tenant_gateway role's plan beyond what the template tests cover: the search of the legs by MAC (VLAN
sub-interfaces, doubled MACs, no links), the transit leg, address families, allow rules, the WireGuard public key
check shared with the gateway plan, and the filter's refusal of input that is not the role's variables."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.homecloud.proxmox.plugins.filter.tenant_gateway_role_plan import FilterModule
from ansible_collections.homecloud.proxmox.plugins.module_utils.gateway import wireguard_public_key_ok
from ansible_collections.homecloud.proxmox.plugins.module_utils.gateway_role import tenant_gateway_role_plan

KEY = base64.b64encode(b"k" * 32).decode()
VARIABLES = {
    "tenant_gateway_tenant": "acme",
    "tenant_gateway_log_rate": "10/minute",
    "tenant_gateway_vnets": [
        {"name": "web", "mac": "02:00:00:27:11:01", "address": "10.129.0.2/24",
         "allow": [{"to": "db", "proto": "tcp", "dport": "5432"}]},
        {"name": "db", "mac": "02:00:00:27:11:02", "address": "10.129.1.2/24"},
    ],
    "tenant_gateway_external": {"mac": "02:00:00:27:11:00", "address": "198.51.100.21/24", "gateway": "198.51.100.1"},
    "tenant_gateway_management_networks": ["192.0.2.0/24"],
    "tenant_gateway_private_networks": ["10.128.0.0/12"],
    "tenant_gateway_admin_networks": ["198.51.100.0/24"],
    "tenant_gateway_wireguard": {"interface": "wg-acme", "address": "10.250.1.1/24",
                                 "peers": [{"name": "alice", "public_key": KEY, "address": "10.250.1.10/32"}]},
}
LINKS = [
    {"ifname": "ens18", "address": "02:00:00:27:11:00", "addr_info": [{"local": "198.51.100.21", "prefixlen": 24}]},
    {"ifname": "ens19", "address": "02:00:00:27:11:01", "addr_info": [{"local": "10.129.0.2", "prefixlen": 24}]},
    {"ifname": "ens20", "address": "02:00:00:27:11:02", "addr_info": [{"local": "10.129.1.2", "prefixlen": 24}]},
]


def variables(**changes):
    result = copy.deepcopy(VARIABLES)
    result.update(copy.deepcopy(changes))
    return result


def errors(links=None, **changes):
    return tenant_gateway_role_plan(variables(**changes), LINKS if links is None else links)["errors"]


@pytest.mark.parametrize("text, accepted", [
    (KEY, True),
    (base64.b64encode(b"k" * 33).decode(), False),  # 44 characters, but 33 bytes
    (base64.b64encode(b"k" * 31).decode(), False),  # 44 characters, but 31 bytes
    ("é" * 44, False),
    (KEY[:-1] + "!", False),
    (None, False),
    (list(KEY), False),
])
def test_one_wireguard_public_key_check(text, accepted):
    assert wireguard_public_key_ok(text) is accepted


def test_a_vlan_sub_interface_sharing_the_mac_is_not_the_leg():
    vlan = {"ifname": "ens18.101", "link": "ens18", "address": "02:00:00:27:11:00", "addr_info": []}
    result = tenant_gateway_role_plan(variables(), LINKS + [vlan])
    assert result["errors"] == []
    assert result["interfaces"]["external"] == "ens18"
    assert result["plan"]["external"] == {"ifname": "ens18", "address": "198.51.100.21/24", "gateway": "198.51.100.1"}


def test_two_interfaces_with_one_mac_are_refused_naming_both():
    twin = {"ifname": "ens21", "address": "02:00:00:27:11:02", "addr_info": []}
    assert "tenant_gateway_vnets[db]: several interfaces have the MAC 02:00:00:27:11:02: ens20, ens21" \
        in errors(links=LINKS + [twin])


def test_without_links_the_legs_get_placeholder_names():
    result = tenant_gateway_role_plan(variables())
    assert result["errors"] == []
    assert result["interfaces"] == {}
    assert result["plan"]["vnet_ifnames"] == ["vnet-web", "vnet-db"]
    assert result["plan"]["external"]["ifname"] == "external0"


def test_transit_leg_is_found_by_mac_with_its_routes():
    links = LINKS + [{"ifname": "ens21", "address": "02:00:00:27:11:03", "addr_info": [{"local": "10.200.0.2", "prefixlen": 30}]}]
    transit = {"mac": "02:00:00:27:11:03", "address": "10.200.0.2/30", "gateway": "10.200.0.1", "routes": ["10.201.0.0/16"]}
    result = tenant_gateway_role_plan(variables(tenant_gateway_transit=transit), links)
    assert result["errors"] == []
    assert result["interfaces"]["transit"] == "ens21"
    assert result["plan"]["transit"] == {"ifname": "ens21", "address": "10.200.0.2/30", "gateway": "10.200.0.1", "family": "ip",
                                         "routes": ["10.201.0.0/16"]}


def test_families_masquerade_sources_and_ipv6():
    plan = tenant_gateway_role_plan(variables(), LINKS)["plan"]
    assert plan["masquerade_sources"] == {"ip": ["10.129.0.0/24", "10.129.1.0/24", "10.250.1.0/24"], "ip6": []}
    assert plan["uses_ipv6"] is False
    links = copy.deepcopy(LINKS)
    links[0]["addr_info"] = [{"local": "2001:db8::21", "prefixlen": 64}]
    external = {"mac": "02:00:00:27:11:00", "address": "2001:db8::21/64", "gateway": "2001:db8::1"}
    assert "tenant_gateway_external.address 2001:db8::21/64 is IPv6 but no tenant VNet or VPN pool is: nothing would be masqueraded" \
        in errors(links=links, tenant_gateway_external=external)


@pytest.mark.parametrize("rule, message", [
    ({"to": "web"}, "tenant_gateway_vnets[web].allow[0].to: web is the VNet itself"),
    ({"to": "192.0.2.0/25"}, "tenant_gateway_vnets[web].allow[0].to 192.0.2.0/25 overlaps the management network 192.0.2.0/24"),
    ({"to": "2001:db8::/64"}, "tenant_gateway_vnets[web].allow[0].to 2001:db8::/64 is not IPv4 like the VNet"),
    ({"to": "db", "dport": "22"}, "tenant_gateway_vnets[web].allow[0].dport needs proto tcp or udp"),
    ({"to": "db", "proto": "tcp", "dport": "70000"}, "tenant_gateway_vnets[web].allow[0].dport '70000'"),
    ({"to": "db", "proto": "sctp"}, "tenant_gateway_vnets[web].allow[0].proto must be tcp, udp or icmp, got 'sctp'"),
    ({"to": "db", "comment": 'say "hi"'}, "tenant_gateway_vnets[web].allow[0].comment may not contain double quotes"),
])
def test_allow_rule_refusals(rule, message):
    vnets = variables()["tenant_gateway_vnets"]
    vnets[0]["allow"] = [rule]
    assert any(error.startswith(message) for error in errors(tenant_gateway_vnets=vnets)), errors(tenant_gateway_vnets=vnets)


def test_allow_rule_to_a_vnet_goes_out_of_its_interface():
    allow = tenant_gateway_role_plan(variables(), LINKS)["plan"]["vnets"][0]["allow"]
    assert allow == [{"to": "db", "out_ifname": "ens20", "destination": "10.129.1.0/24", "family": "ip", "proto": "tcp",
                      "ports": ["5432"], "comment": "web to db"}]


def test_the_vpn_pool_may_not_overlap_a_vnet():
    wireguard = dict(VARIABLES["tenant_gateway_wireguard"], address="10.129.0.1/16", peers=[])
    assert "tenant_gateway_wireguard.address 10.129.0.1/16 overlaps the VNet web (10.129.0.0/24)" \
        in errors(tenant_gateway_wireguard=wireguard)


def test_the_filter_gives_the_module_utils_answer_and_refuses_other_input():
    role_plan = FilterModule().filters()["tenant_gateway_role_plan"]
    assert role_plan(variables(), LINKS) == tenant_gateway_role_plan(variables(), LINKS)
    with pytest.raises(AnsibleFilterError, match="the input must be the role's variables as a mapping, got list"):
        role_plan([variables()], LINKS)
    with pytest.raises(AnsibleFilterError, match="links must be the list"):
        role_plan(variables(), '[{"ifname": "ens18"}]')
