# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The gateway plan: the gateway VM's VMID, NICs and addresses from the tenant plan, WireGuard pools and peers by
public key only, published hostnames only behind an Access policy, every problem reported before any write."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.gateway import plan_gateways
from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import PlanError, plan_tenants

NETWORK_PLAN = {"supernet": "10.128.0.0/12", "tenant_prefix": 20, "vnet_prefix": 24, "controller": "evpnctl",
                "shared_services": {"name": "shared", "vnets": [{"name": "svc", "id": 1}]}}
SETTINGS = {"vpn_supernet": "10.250.0.0/16"}
CLOUDFLARE = {"zone": "homecloud.example"}
NODES = ["pve1", "pve2", "pve3"]
KEY_A = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
KEY_B = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw="
TENANTS = [
    {"name": "acme", "id": 1,
     "vnets": [{"name": "web", "id": 1}, {"name": "db", "id": 2}],
     "guests": [{"name": "web1", "id": 10, "vnet": "web"}, {"name": "db1", "id": 11, "vnet": "db"}],
     "gateway": {"node": "pve2", "external": {"address": "198.51.100.21/24", "gateway": "198.51.100.1", "vlan": 101},
                 "allow": {"web": [{"to": "db", "proto": "tcp", "dport": "5432"}]},
                 "vpn": {"peers": [{"name": "alice-laptop", "public_key": KEY_A, "host": 10},
                                   {"name": "bob-phone", "public_key": KEY_B, "address": "10.250.1.11/32"}]}},
     "access_policies": [{"name": "staff", "email_domains": ["acme.example"]}],
     "publish": [{"hostname": "app.acme.homecloud.example", "guest": "web1", "port": 8080, "access": ["staff"]}]},
    {"name": "globex", "id": 2, "vnets": [{"name": "app", "id": 1}], "guests": []},
]


def plan(tenants=None, settings=None, cloudflare=None):
    tenants = TENANTS if tenants is None else tenants
    return plan_gateways(plan_tenants(tenants, NETWORK_PLAN), tenants, SETTINGS if settings is None else settings,
                         CLOUDFLARE if cloudflare is None else cloudflare, NODES, {"node": "pve1"})


def test_the_gateway_vm_holds_each_vnets_first_reserved_address_with_planned_macs():
    (acme,) = plan()  # globex has no gateway: nothing planned for it
    assert (acme["vmid"], acme["name"], acme["node"]) == (10100, "acme-gw", "pve2")
    assert acme["external"] == {"bridge": "vmbr1", "vlan": 101, "mac": "02:00:00:27:74:00", "address": "198.51.100.21/24",
                                "ip": "198.51.100.21", "gateway": "198.51.100.1"}
    # VNet web is 10.128.17.0/24 (slot 1); .1 is the SDN gateway, .2 the first reserved address
    assert [(vnet["vnet"], vnet["address"], vnet["mac"]) for vnet in acme["vnets"]] == [
        ("acme01", "10.128.17.2/24", "02:00:00:27:74:01"), ("acme02", "10.128.18.2/24", "02:00:00:27:74:02")]
    assert acme["nics"] == [{"bridge": "vmbr1", "tag": 101, "firewall": True, "macaddr": "02:00:00:27:74:00"},
                            {"bridge": "acme01", "firewall": True, "macaddr": "02:00:00:27:74:01"},
                            {"bridge": "acme02", "firewall": True, "macaddr": "02:00:00:27:74:02"}]
    assert acme["ipconfig"] == [{"ip": "198.51.100.21/24", "gw": "198.51.100.1"}, {"ip": "10.128.17.2/24"},
                                {"ip": "10.128.18.2/24"}]
    assert acme["guest_gateways"] == {"acme01": "10.128.17.2", "acme02": "10.128.18.2"}
    assert acme["vnets"][0]["allow"] == [{"to": "db", "proto": "tcp", "dport": "5432"}] and acme["vnets"][1]["allow"] == []
    # what the tenant_gateway role takes, in its shape
    assert acme["role"]["vnets"][0] == {"name": "web", "mac": "02:00:00:27:74:01", "address": "10.128.17.2/24",
                                        "allow": [{"to": "db", "proto": "tcp", "dport": "5432"}]}
    assert acme["role"]["external"] == {"mac": "02:00:00:27:74:00", "address": "198.51.100.21/24", "gateway": "198.51.100.1"}
    assert acme["role"]["wireguard"] == {"interface": "wg-acme", "port": 51820, "address": "10.250.1.1/24",
                                         "peers": acme["vpn"]["peers"]}


def test_vpn_pool_is_the_tenants_slot_and_peers_get_one_host_address():
    (acme,) = plan()
    vpn = acme["vpn"]
    assert (vpn["pool"], vpn["address"], vpn["interface"], vpn["port"]) == ("10.250.1.0/24", "10.250.1.1/24", "wg-acme", 51820)
    assert vpn["peers"] == [{"name": "alice-laptop", "public_key": KEY_A, "address": "10.250.1.10/32"},
                            {"name": "bob-phone", "public_key": KEY_B, "address": "10.250.1.11/32"}]


def test_published_hostnames_point_at_the_guest_behind_the_tenants_policies():
    (acme,) = plan()
    assert acme["access_policies"] == [{"name": "acme-staff", "email_domains": ["acme.example"]}]
    assert acme["publish"] == [{"hostname": "app.acme.homecloud.example", "guest": "web1",
                                "service": "http://10.128.17.10:8080", "policies": ["acme-staff"],
                                "session_duration": "24h"}]


def broken(change):
    tenants = copy.deepcopy(TENANTS)
    change(tenants[0])
    return tenants


@pytest.mark.parametrize("change,message", [
    (lambda t: t["publish"][0].pop("access"), "access: every published hostname sits behind Cloudflare Access"),
    (lambda t: t["publish"][0].update(access=["nobody"]), "access: nobody not among the tenant's access_policies (staff)"),
    (lambda t: t["publish"][0].update(hostname="app.other.example"), "not inside the Cloudflare zone homecloud.example"),
    (lambda t: t["publish"][0].update(hostname="App.acme.homecloud.example"), "is not a lower-case DNS name"),
    (lambda t: t["publish"][0].update(guest="nope"), "guest 'nope' is not a guest of the tenant (db1, web1)"),
    (lambda t: t["access_policies"][0].pop("email_domains"), "no one is allowed in"),
    (lambda t: t["gateway"]["vpn"]["peers"][0].update(private_key="eA=="), "never accepts a peer's private key"),
    (lambda t: t["gateway"]["vpn"]["peers"][0].update(public_key="not-a-key"), "is not a WireGuard public key"),
    (lambda t: t["gateway"]["vpn"]["peers"][1].update(address="10.250.1.13/30"), "a peer gets exactly one address, a /32"),
    (lambda t: t["gateway"]["vpn"]["peers"][1].update(address="10.250.2.11/32"), "outside the tenant's VPN pool 10.250.1.0/24"),
    (lambda t: t["gateway"]["vpn"]["peers"][1].update(address="10.250.1.1/32"), "is the gateway's own VPN address"),
    (lambda t: t["gateway"]["vpn"]["peers"][1].update(address="10.250.1.10/32"), "is also the address of"),
    (lambda t: t["gateway"]["vpn"]["peers"][1].update(public_key=KEY_A), "also the key of"),
    (lambda t: t["gateway"]["external"].update(gateway="192.0.2.1"), "is outside the external network 198.51.100.0/24"),
    (lambda t: t["gateway"]["external"].update(address="198.51.100.21"), "is not an address with its prefix length"),
    (lambda t: t["gateway"]["external"].update(vlan=5000), "is not a VLAN id"),
    (lambda t: t["gateway"].update(node="pve9"), "gateway.node 'pve9' is not in pve_nodes"),
    (lambda t: t["gateway"].update(allow={"mail": []}), "gateway.allow.mail: not a VNet of the tenant"),
    (lambda t: t.pop("gateway"), "published hostnames go out through the tenant's gateway"),
])
def test_bad_input_is_refused_naming_the_tenant_and_field(change, message):
    with pytest.raises(PlanError) as raised:
        plan(broken(change))
    assert any(message in error and error.startswith("tenant acme") for error in raised.value.errors), raised.value.errors


def test_every_problem_is_reported_at_once_and_hostnames_belong_to_one_tenant():
    tenants = copy.deepcopy(TENANTS)
    tenants[1].update(gateway={"external": {"address": "198.51.100.22/24", "gateway": "198.51.100.1"}},
                      access_policies=[{"name": "staff", "emails": ["bob@globex.example"]}],
                      guests=[{"name": "app1", "id": 10, "vnet": "app"}],
                      publish=[{"hostname": "app.acme.homecloud.example", "guest": "app1", "access": ["staff"]}])
    tenants[0]["gateway"]["external"]["vlan"] = 0
    with pytest.raises(PlanError) as raised:
        plan(tenants)
    assert len(raised.value.errors) == 2
    assert "tenant globex: publish: app.acme.homecloud.example is also published by tenant acme" in raised.value.errors


def test_the_vpn_needs_a_supernet_with_room_for_the_tenants_slot():
    with pytest.raises(PlanError) as raised:
        plan(settings={"vpn_supernet": "10.250.0.0/24", "vpn_prefix": 24})
    assert "tenant acme: gateway.vpn: id 1: beyond the 1 WireGuard pools of /24" in raised.value.errors[0]
    with pytest.raises(PlanError) as raised:
        plan(settings={})
    assert "homecloud_gateway.vpn_supernet: None is not a network" in raised.value.errors[0]
