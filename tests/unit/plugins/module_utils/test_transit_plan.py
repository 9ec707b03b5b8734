# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The transit network: its plan entry and the tenants' legs (planning), route leaking (rt_import), the hub
(transit_plan), the gateway's transit leg (gateway_plan), the transit VNet's firewall and the narrowed grants."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.homecloud.proxmox.plugins.filter.gateway_plan import gateway_plan
from ansible_collections.homecloud.proxmox.plugins.filter.transit_plan import FilterModule, transit_plan
from ansible_collections.homecloud.proxmox.plugins.module_utils.firewall_policy import firewall_policy
from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import PlanError, plan_tenants
from ansible_collections.homecloud.proxmox.plugins.module_utils.services import plan_services

GROUP_VARS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "inventories", "demo", "group_vars", "all")
NODES = ["pve1", "pve2", "pve3"]
FIREWALL_NODES = [dict(name=name, management_address="192.0.2.1%d" % number, underlay_address="10.255.0.%d" % number)
                  for number, name in enumerate(NODES, start=1)]
PLAN = {"supernet": "10.128.0.0/12", "tenant_prefix": 20, "vnet_prefix": 24, "controller": "evpnctl", "asn": 65000,
        "shared_services": {"name": "shared", "vnets": [{"name": "svc", "id": 1}]},
        "transit": {"name": "transit", "id": 255, "hub": {"node": "pve1"}}}
SERVICES = {"dns": {"addresses": ["10.128.1.10"], "ports": [{"proto": "udp", "dport": 53}, {"proto": "tcp", "dport": 53}]},
            "s3": {"addresses": ["10.128.1.11"], "ports": [{"proto": "tcp", "dport": 443}]},
            "postgresql": {"addresses": ["10.128.1.12"], "ports": [{"proto": "tcp", "dport": 5432}, {"proto": "tcp", "dport": 5433}]}}
FIREWALL = {"admin_networks": ["192.0.2.0/24"], "services": SERVICES}
ACME = {"name": "acme", "id": 1, "services": ["s3", "postgresql"], "vnets": [{"name": "web", "id": 1}, {"name": "db", "id": 2}]}
VNI_RULE = ("every VNI must be unique: PVE refuses a VNet tag used twice, and its docs require each vrf-vxlan to differ "
            "from every other vrf-vxlan and every VNet tag")
GLOBEX = {"name": "globex", "id": 2, "services": ["s3"], "vnets": [{"name": "app", "id": 1}]}


def demo(name):
    with open(os.path.join(GROUP_VARS, name + ".yml")) as handle:
        return yaml.safe_load(handle)


def plan_with(**changes):
    network_plan = copy.deepcopy(PLAN)
    for key, value in changes.items():
        if value is None:
            network_plan.pop(key, None)
        else:
            network_plan[key] = value
    return network_plan


def errors_of(tenants, network_plan):
    with pytest.raises(PlanError) as raised:
        plan_tenants(tenants, network_plan)
    return raised.value.errors


def by_kind(plan):
    return dict((entry["tenant"], entry) for entry in plan)


# --- planning -----------------------------------------------------------------------------------------------


def test_the_transit_entry_is_planned_like_a_tenant_of_its_own_with_a_kind_on_every_item():
    plan = plan_tenants([ACME, GLOBEX], PLAN)
    assert [(entry["tenant"], entry["kind"], entry["shared"]) for entry in plan] == [
        ("shared", "shared_services", True), ("acme", "tenant", False), ("globex", "tenant", False),
        ("transit", "transit", True)]
    transit = plan[-1]
    # slot 255 of the /20s of 10.128.0.0/12 is 10.143.240.0/20; its one VNet is slot 1 of it
    assert transit["network"] == "10.143.240.0/20" and transit["guests"] == []
    assert transit["zone"] == {"zone": "transit", "type": "evpn", "controller": "evpnctl", "vrf_vxlan": 10255,
                               "vnets": [{"vnet": "transi01", "tag": 125501, "alias": "transit transit",
                                          "subnets": [{"subnet": "10.143.241.0/24", "gateway": "10.143.241.1",
                                                       "snat": False}]}]}
    assert "transit" not in transit and "hub" not in transit


def test_each_tenant_gets_its_transit_leg_and_the_shared_services_the_hub():
    plan = by_kind(plan_tenants([ACME, GLOBEX], PLAN))
    assert plan["acme"]["transit"] == {"vnet": "transi01", "cidr": "10.143.241.0/24", "address": "10.143.241.10/24",
                                       "hub": "10.143.241.2"}
    assert plan["globex"]["transit"]["address"] == "10.143.241.11/24"
    assert plan["shared"]["hub"] == {
        "vmid": 10000, "name": "transit-hub", "node": "pve1",
        "transit": {"vnet": "transi01", "address": "10.143.241.2/24", "mac": "02:00:00:27:10:00"},
        "services": [{"vnet": "shared01", "address": "10.128.1.2/24", "mac": "02:00:00:27:10:01"}]}


def test_without_a_transit_network_nothing_changes():
    plan = plan_tenants([ACME, GLOBEX], plan_with(transit=None))
    assert [entry["kind"] for entry in plan] == ["shared_services", "tenant", "tenant"]
    assert not any("transit" in entry or "hub" in entry for entry in plan)


def test_a_transit_vnet_prefix_and_the_tenant_legs_follow_it():
    plan = by_kind(plan_tenants([ACME], plan_with(transit={"name": "transit", "id": 255, "prefix": 28, "hub": {"node": "pve2"}})))
    assert plan["transit"]["vnets"][0]["cidr"] == "10.143.240.16/28"
    assert plan["acme"]["transit"] == {"vnet": "transi01", "cidr": "10.143.240.16/28", "address": "10.143.240.26/28",
                                       "hub": "10.143.240.18"}
    assert plan["shared"]["hub"]["node"] == "pve2"


def test_adding_a_tenant_moves_no_other_transit_address_and_no_hub_leg():
    before = by_kind(plan_tenants([GLOBEX], PLAN))
    after = by_kind(plan_tenants([ACME, GLOBEX, {"name": "initech", "id": 7, "services": ["s3"]}], PLAN))
    assert json.dumps(after["globex"], sort_keys=True) == json.dumps(before["globex"], sort_keys=True)
    assert json.dumps(after["shared"]["hub"], sort_keys=True) == json.dumps(before["shared"]["hub"], sort_keys=True)
    assert after["initech"]["transit"]["address"] == "10.143.241.16/24"
    assert json.dumps(after["transit"], sort_keys=True) == json.dumps(before["transit"], sort_keys=True)


def test_route_leaking_sets_rt_import_on_both_zones_each_tenant_seeing_only_the_shared_zone():
    acme = dict(ACME, route_leaking=["shared"])
    globex = dict(GLOBEX, route_leaking=["shared"])
    initech = {"name": "initech", "id": 3, "services": ["s3"]}
    plan = by_kind(plan_tenants([acme, globex, initech], PLAN))
    # a zone's route target is <asn>:<vrf-vxlan> (pve-network EvpnPlugin.pm); the shared zone is vrf-vxlan 10000
    assert plan["acme"]["zone"]["rt_import"] == ["65000:10000"] and plan["acme"]["route_leaking"] == ["shared"]
    assert plan["globex"]["zone"]["rt_import"] == ["65000:10000"]
    assert plan["shared"]["zone"]["rt_import"] == ["65000:10001", "65000:10002"]
    assert "rt_import" not in plan["initech"]["zone"] and plan["initech"]["route_leaking"] == []
    assert "rt_import" not in plan["transit"]["zone"]


@pytest.mark.parametrize("tenants, changes, messages", [
    pytest.param([ACME, dict(GLOBEX, id=255)], {}, [
        "transit 'transit': id 255 is also the id of tenant 'globex'; tenant ids must be unique (the id fixes the tenant's "
        "network slot and VNIs)",
        "transit 'transit': vrf_vxlan 10255 is also the vrf_vxlan of tenant 'globex'; " + VNI_RULE,
        "transit 'transit': vnets[0].tag 125501 is also the tag of tenant 'globex' vnets[0]; " + VNI_RULE,
        "transit 'transit': network 10.143.240.0/20 overlaps the network 10.143.240.0/20 of tenant 'globex'; PVE does not "
        "check overlapping subnets",
        "tenant 'globex': id 255: its gateway's transit address (host 264) is outside the transit VNet 10.143.241.0/24 "
        "(tenant legs from 10.143.241.10 to 10.143.241.254); enlarge the transit VNet with a shorter transit.prefix"],
        id="id-taken-by-a-tenant"),
    pytest.param([ACME], {"shared_services": {"name": "shared", "id": 255, "vnets": [{"name": "svc", "id": 1}]}}, [
        "transit 'transit': id 255 is also the id of shared_services 'shared'; tenant ids must be unique (the id fixes "
        "the tenant's network slot and VNIs)",
        "transit 'transit': vrf_vxlan 10255 is also the vrf_vxlan of shared_services 'shared'; " + VNI_RULE,
        "transit 'transit': vnets[0].tag 125501 is also the tag of shared_services 'shared' vnets[0]; " + VNI_RULE,
        "transit 'transit': network 10.143.240.0/20 overlaps the network 10.143.240.0/20 of shared_services 'shared'; "
        "PVE does not check overlapping subnets"], id="id-taken-by-the-shared-services"),
    pytest.param([ACME], {"transit": {"name": "transit", "id": 0, "hub": {"node": "pve1"}}}, [
        "transit 'transit': id 0: must be an integer >= 1 (the transit network's stable slot; pick one no tenant will "
        "ever take, such as the last)"], id="id-zero"),
    pytest.param([ACME], {"transit": {"name": "transit", "id": 255, "network": "10.128.16.0/20", "hub": {"node": "pve1"}}}, [
        "transit 'transit': network 10.128.16.0/20 overlaps the network 10.128.16.0/20 of tenant 'acme'; PVE does not "
        "check overlapping subnets"], id="overlap"),
    pytest.param([ACME, dict(GLOBEX, id=6)], {"transit": {"name": "transit", "id": 255, "prefix": 28, "hub": {"node": "pve1"}}}, [
        "tenant 'globex': id 6: its gateway's transit address (host 15) is outside the transit VNet 10.143.240.16/28 "
        "(tenant legs from 10.143.240.26 to 10.143.240.30); enlarge the transit VNet with a shorter transit.prefix"],
        id="tenant-leg-outside-the-transit-vnet"),
    pytest.param([ACME], {"transit": {"name": "transit", "id": 255, "hub": {"node": "pve_1"}}}, [
        "transit 'transit': hub.node 'pve_1': must be a PVE node name (a DNS label: letters, digits and '-', up to 63)"],
        id="hub-node-format"),
    pytest.param([ACME], {"transit": {"name": "transit", "id": 255}}, [
        "transit 'transit': hub None: required, a dict {node: <the PVE node of the hub VM>}"], id="hub-missing"),
    pytest.param([ACME], {"transit": {"name": "transit", "id": 255, "hub": {"node": "pve1"}, "guests": [{"name": "x", "id": 10}]}}, [
        "transit 'transit': guests: the transit network has no guests of its own (only the hub's and the tenant "
        "gateways' legs); remove it"], id="guests"),
    pytest.param([ACME], {"transit": {"name": "transit", "id": 255, "hub": {"node": "pve1"},
                                      "vnets": [{"name": "a", "id": 1}, {"name": "b", "id": 2}]}}, [
        "transit 'transit': vnets: the transit network has exactly one VNet, got 2"], id="two-vnets"),
    pytest.param([ACME], {"shared_services": None}, [
        "transit 'transit': needs homecloud_network_plan.shared_services: the transit hub VM is the shared services' "
        "gateway, with one leg in each of their VNets"], id="no-shared-services"),
    pytest.param([ACME], {"reserved_hosts": 0}, [
        "transit 'transit': the hub's addresses are the first reserved address of the transit VNet and of each shared "
        "services VNet; homecloud_network_plan.reserved_hosts is 0"], id="no-reserved-address"),
    pytest.param([dict(ACME, route_leaking=["globex"])], {}, [
        "tenant 'acme': route_leaking[0] 'globex': must be one of shared (the shared services zone)"], id="leak-to-a-tenant"),
    pytest.param([dict(ACME, route_leaking="shared")], {}, [
        "tenant 'acme': route_leaking 'shared': must be a list of zones to import routes from (shared)"], id="leak-not-a-list"),
    pytest.param([dict(ACME, route_leaking=["shared"])], {"asn": None}, [
        "tenant 'acme': route_leaking: needs homecloud_network_plan.asn, the ASN of the EVPN route targets <asn>:<vrf-vxlan>"],
        id="leak-without-asn"),
    pytest.param([dict(ACME, route_leaking=["shared"])], {"asn": 0}, [
        "network plan: asn 0: must be an integer from 1 to 4294967295 (the BGP ASN of the EVPN route targets, needed by "
        "route_leaking)"], id="asn-range"),
    pytest.param([dict(ACME, route_leaking=["shared"], services=[])], {}, [
        "tenant 'acme': route_leaking: refused without a firewall policy for it: the tenant's services must name the "
        "shared services it may reach (its VNet firewall accepts only those)"], id="leak-without-services"),
    pytest.param([dict(ACME, route_leaking=["shared"])], {"shared_services": None, "transit": None}, [
        "tenant 'acme': route_leaking: there is no shared services zone to import routes from "
        "(homecloud_network_plan.shared_services)"], id="leak-without-shared-services"),
    pytest.param([dict(ACME, route_leaking=["shared"], zone_options={"rt-import": ["65000:9"]})], {}, [
        "tenant 'acme': zone_options.rt_import: route_leaking sets the zone's rt_import itself; remove it"],
        id="leak-and-own-rt-import"),
])
def test_transit_and_route_leaking_errors(tenants, changes, messages):
    assert errors_of(tenants, plan_with(**changes)) == messages


def test_every_transit_problem_is_reported_at_once():
    errors = errors_of([dict(ACME, route_leaking=["shared"], services=[]), dict(GLOBEX, id=255)],
                       plan_with(asn=None, transit={"name": "transit", "id": 255, "hub": {"node": "-"}}))
    assert errors[0] == "transit 'transit': hub.node '-': must be a PVE node name (a DNS label: letters, digits and '-', up to 63)"
    assert errors[1].startswith("transit 'transit': id 255 is also the id of tenant 'globex'")
    assert errors[-2:] == [
        "tenant 'acme': route_leaking: needs homecloud_network_plan.asn, the ASN of the EVPN route targets <asn>:<vrf-vxlan>",
        "tenant 'acme': route_leaking: refused without a firewall policy for it: the tenant's services must name the "
        "shared services it may reach (its VNet firewall accepts only those)"]


# --- transit_plan -------------------------------------------------------------------------------------------


def demo_inventory():
    tenants = demo("tenants")["homecloud_tenants"]
    network_plan = demo("network_plan")["homecloud_network_plan"]
    gateway = demo("gateway")
    firewall = demo("firewall")["homecloud_firewall"]
    tenant_plans = plan_tenants(tenants, network_plan)
    gateways = gateway_plan(tenant_plans, tenants, gateway["homecloud_gateway"], gateway.get("homecloud_cloudflare"),
                            NODES, {"node": "pve1"})
    return tenant_plans, tenants, firewall, gateways


def test_filter_is_registered():
    assert FilterModule().filters() == {"transit_plan": transit_plan}


def test_demo_inventory_hub_gateways_and_routes():
    tenant_plans, tenants, firewall, gateways = demo_inventory()
    transit = transit_plan(tenant_plans, tenants, firewall, gateways)
    assert (transit["enabled"], transit["zone"], transit["vnet"], transit["cidr"]) == (True, "transit", "transi01", "10.143.241.0/24")
    hub = transit["hub"]
    assert (hub["vmid"], hub["name"], hub["node"]) == (10000, "transit-hub", "pve1")
    assert hub["nics"] == [{"bridge": "transi01", "macaddr": "02:00:00:27:10:00", "firewall": True},
                           {"bridge": "shared01", "macaddr": "02:00:00:27:10:01", "firewall": True}]
    # the services leg has the VNet's anycast gateway (the hub's packages), the transit leg none
    assert hub["ipconfig"] == [{"ip": "10.143.241.2/24"}, {"ip": "10.128.1.2/24", "gw": "10.128.1.1"}]
    assert hub["legs"] == {"transit": {"mac": "02:00:00:27:10:00", "address": "10.143.241.2/24"},
                           "services": [{"mac": "02:00:00:27:10:01", "address": "10.128.1.2/24", "vnet": "shared01"}]}
    assert hub["routes"] == [{"network": "10.128.16.0/20", "via": "10.143.241.10", "tenant": "acme"},
                             {"network": "10.250.1.0/24", "via": "10.143.241.10", "tenant": "acme"},
                             {"network": "10.128.32.0/20", "via": "10.143.241.11", "tenant": "globex"},
                             {"network": "10.250.2.0/24", "via": "10.143.241.11", "tenant": "globex"}]
    assert hub["tenants"] == [{"name": "acme", "sources": ["10.128.16.0/20", "10.250.1.0/24"]},
                              {"name": "globex", "sources": ["10.128.32.0/20", "10.250.2.0/24"]}]
    assert [(rule["tenant"], rule["service"], rule["addresses"], rule["proto"], rule["dport"]) for rule in hub["rules"]] == [
        ("acme", "dns", ["10.128.1.10"], "udp", "53"), ("acme", "dns", ["10.128.1.10"], "tcp", "53"),
        ("acme", "postgresql", ["10.128.1.12"], "tcp", "5432"), ("acme", "s3", ["10.128.1.11"], "tcp", "443"),
        ("globex", "dns", ["10.128.1.10"], "udp", "53"), ("globex", "dns", ["10.128.1.10"], "tcp", "53"),
        ("globex", "s3", ["10.128.1.11"], "tcp", "443")]
    assert hub["rules"][0]["sources"] == ["10.128.16.0/20", "10.250.1.0/24"]
    assert hub["rules"][0]["comment"] == "homecloud: acme to shared service dns"
    assert transit["gateways"] == {
        "acme": {"address": "10.143.241.10/24", "gateway": "10.143.241.2", "routes": ["10.128.1.0/24"]},
        "globex": {"address": "10.143.241.11/24", "gateway": "10.143.241.2", "routes": ["10.128.1.0/24"]}}
    assert transit["services_routes"] == [
        {"network": "10.128.16.0/20", "via": "10.128.1.2", "vnet": "shared01", "tenant": "acme"},
        {"network": "10.250.1.0/24", "via": "10.128.1.2", "vnet": "shared01", "tenant": "acme"},
        {"network": "10.128.32.0/20", "via": "10.128.1.2", "vnet": "shared01", "tenant": "globex"},
        {"network": "10.250.2.0/24", "via": "10.128.1.2", "vnet": "shared01", "tenant": "globex"}]
    assert transit["route_leaking"] == {}


def test_demo_gateway_plan_has_the_transit_leg_after_the_vnets():
    tenant_plans, tenants, firewall, gateways = demo_inventory()
    acme, globex = gateways
    assert acme["nics"][3] == {"bridge": "transi01", "firewall": True, "macaddr": "02:00:00:27:74:03"}
    assert acme["ipconfig"][3] == {"ip": "10.143.241.10/24"} and len(acme["nics"]) == len(acme["ipconfig"]) == 4
    assert acme["role"]["transit"] == {"mac": "02:00:00:27:74:03", "address": "10.143.241.10/24",
                                       "gateway": "10.143.241.2", "routes": ["10.128.1.0/24"]}
    assert globex["nics"][2]["bridge"] == "transi01" and globex["role"]["transit"]["address"] == "10.143.241.11/24"


def test_a_gateway_without_a_transit_network_has_no_transit_leg():
    tenants = demo("tenants")["homecloud_tenants"]
    network_plan = dict(demo("network_plan")["homecloud_network_plan"])
    del network_plan["transit"]
    gateway = demo("gateway")
    acme = gateway_plan(plan_tenants(tenants, network_plan), tenants, gateway["homecloud_gateway"],
                        gateway.get("homecloud_cloudflare"), NODES, {"node": "pve1"})[0]
    assert [nic["bridge"] for nic in acme["nics"]] == ["vmbr1", "acme01", "acme02"]
    assert acme["role"]["transit"] == {} and acme["transit"] is None


def test_no_transit_network_gives_a_disabled_plan_that_still_lists_route_leaking():
    tenants = [dict(ACME, route_leaking=["shared"]), GLOBEX]
    transit = transit_plan(plan_tenants(tenants, plan_with(transit=None)), tenants, FIREWALL)
    assert transit == {"enabled": False, "zone": None, "vnet": None, "cidr": None, "hub": {}, "gateways": {},
                       "services_routes": [], "route_leaking": {"acme": ["shared"]}}


def test_without_gateway_plans_only_the_tenant_networks_are_routed():
    tenants = [ACME, GLOBEX]
    transit = transit_plan(plan_tenants(tenants, PLAN), tenants, FIREWALL)
    assert [route["network"] for route in transit["hub"]["routes"]] == ["10.128.16.0/20", "10.128.32.0/20"]


def test_a_narrowed_grant_gives_the_hub_only_those_ports():
    tenants = [dict(ACME, services=["s3", {"name": "postgresql", "ports": [{"proto": "tcp", "dport": 5432}]}]), GLOBEX]
    transit = transit_plan(plan_tenants(tenants, PLAN), tenants, FIREWALL)
    acme = [(rule["service"], rule["dport"]) for rule in transit["hub"]["rules"] if rule["tenant"] == "acme"]
    assert acme == [("dns", "53"), ("dns", "53"), ("postgresql", "5432"), ("s3", "443")]


def test_adding_a_tenant_leaves_the_others_hub_routes_and_rules_byte_identical():
    before = transit_plan(plan_tenants([GLOBEX], PLAN), [GLOBEX], FIREWALL)
    tenants = [ACME, GLOBEX]
    after = transit_plan(plan_tenants(tenants, PLAN), tenants, FIREWALL)

    def globex_parts(transit):
        return json.dumps([[route for route in transit["hub"]["routes"] if route["tenant"] == "globex"],
                           [rule for rule in transit["hub"]["rules"] if rule["tenant"] == "globex"],
                           transit["gateways"]["globex"], transit["hub"]["legs"]], sort_keys=True)
    assert globex_parts(after) == globex_parts(before)


def test_transit_plan_reports_the_policy_problems_at_once():
    tenants = [dict(ACME, services=["s3", "ldap"])]
    with pytest.raises(AnsibleFilterError) as raised:
        transit_plan(plan_tenants(tenants, PLAN), tenants, {"services": dict(SERVICES, s3={"addresses": ["10.200.0.1"]})})
    assert str(raised.value).split("\n") == [
        "homecloud.proxmox.transit_plan: 3 problem(s) in the transit settings:",
        "homecloud_firewall.services.s3.addresses[0] 10.200.0.1: must lie in a network of the shared services zone (10.128.1.0/24)",
        "homecloud_firewall.services.s3.ports: required, a non-empty list",
        "tenant 'acme': services: 'ldap' is not a service of homecloud_firewall.services (dns, postgresql, s3)"]


# --- firewall_policy: the transit VNet and narrowed grants --------------------------------------------------


def accepts(vnet):
    return [(rule.get("source"), rule.get("dest"), rule.get("proto"), rule.get("dport"))
            for rule in vnet["rules"] if rule["action"] == "ACCEPT"]


def test_the_transit_vnet_accepts_each_tenants_networks_to_its_granted_services_only():
    tenants = [ACME, GLOBEX]
    policy = firewall_policy(plan_tenants(tenants, PLAN), tenants, FIREWALL, FIREWALL_NODES)
    shared, transit = policy["shared"]
    assert (shared["kind"], transit["kind"], transit["zone"]) == ("shared_services", "transit", "transit")
    (vnet,) = transit["vnets"]
    assert vnet["vnet"] == "transi01" and vnet["options"] == {"enable": True, "policy_forward": "DROP"}
    assert vnet["rules"][0]["action"] == "DROP" and vnet["rules"][0]["dest"] == "+dc/homecloud-mgmt"
    assert accepts(vnet) == [
        ("+dc/acme-nets", "+dc/svc-dns", "udp", "53"), ("+dc/acme-nets", "+dc/svc-dns", "tcp", "53"),
        ("+dc/acme-nets", "+dc/svc-postgresql", "tcp", "5432"), ("+dc/acme-nets", "+dc/svc-postgresql", "tcp", "5433"),
        ("+dc/acme-nets", "+dc/svc-s3", "tcp", "443"),
        ("+dc/globex-nets", "+dc/svc-dns", "udp", "53"), ("+dc/globex-nets", "+dc/svc-dns", "tcp", "53"),
        ("+dc/globex-nets", "+dc/svc-s3", "tcp", "443")]
    # never tenant to tenant: no rule has a tenant set as destination
    assert not any(str(rule.get("dest", "")).endswith("-nets") for rule in vnet["rules"])
    # the services VNet accepts the same grants; the transit network is no shared services network
    assert accepts(shared["vnets"][0])[2:] == accepts(vnet)
    sets = dict((item["name"], item) for item in policy["ipsets"])
    assert sets["homecloud-shared"]["entries"] == [{"cidr": "10.128.1.0/24"}]
    assert [item["tenant"] for item in policy["tenants"]] == ["acme", "globex"]


def test_a_narrowed_grant_narrows_the_tenant_and_services_vnet_rules():
    tenants = [dict(ACME, services=[{"name": "postgresql", "ports": [{"proto": "tcp", "dport": 5432}]}])]
    policy = firewall_policy(plan_tenants(tenants, PLAN), tenants, FIREWALL, FIREWALL_NODES)
    acme = policy["tenants"][0]
    assert acme["services"] == ["dns", "postgresql"]
    postgres = [rule for rule in accepts(acme["vnets"][0]) if rule[1] == "+dc/svc-postgresql"]
    assert postgres == [("+dc/acme-nets", "+dc/svc-postgresql", "tcp", "5432")]
    assert ("+dc/acme-nets", "+dc/svc-postgresql", "tcp", "5433") not in accepts(policy["shared"][0]["vnets"][0])


def test_grant_problems_name_the_tenant_item_and_the_rule():
    tenants = [dict(ACME, services=[{"name": "postgresql", "ports": [{"proto": "tcp", "dport": 22}]},
                                    {"name": "s3", "ports": []}, {"name": "s3"}, {"name": "pbs"},
                                    {"name": "dns", "ports": [{"proto": "udp", "dport": 53}], "port": 1}])]
    with pytest.raises(PlanError) as raised:
        firewall_policy(plan_tenants([ACME], PLAN), tenants, FIREWALL, FIREWALL_NODES)
    assert raised.value.errors == [
        "tenant 'acme': services[0] (postgresql).ports[0] {'proto': 'tcp', 'dport': 22}: not a port of the service "
        "(tcp 5432, tcp 5433); a grant can only narrow its ports",
        "tenant 'acme': services[1] (s3).ports []: must be a non-empty list of {proto, dport}, a subset of the service's ports",
        "tenant 'acme': services[2] (s3): 's3' is granted twice; name each service once",
        "tenant 'acme': services[3] (pbs): 'pbs' is not a service of homecloud_firewall.services (dns, postgresql, s3)",
        "tenant 'acme': services[4] (dns): unknown field(s) port; a grant has name and ports"]


def test_services_plan_reads_the_mapping_form_and_leaves_the_transit_network_out():
    tenants = [dict(ACME, services=[{"name": "postgresql", "ports": [{"proto": "tcp", "dport": 5432}]}]), GLOBEX]
    result = plan_services(plan_tenants(tenants, PLAN), tenants, {"domain": "lab.internal"}, SERVICES)
    assert [item["name"] for item in result["postgresql"]] == ["acme"]
    assert [item["tenant"] for item in result["s3"]] == ["globex"]
    assert "10.143.240.0/20" not in result["dns"]["allowed_networks"]
    assert result["dns"]["allowed_networks"] == ["10.128.0.0/20", "10.128.16.0/20", "10.128.32.0/20"]
