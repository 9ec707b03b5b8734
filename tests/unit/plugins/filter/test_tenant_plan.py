# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The tenant_plan filter: the worked example, stability, every validation message, a real playbook."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os
import random
import subprocess
import sys

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.homecloud.proxmox.plugins.filter.tenant_plan import FilterModule, tenant_plan

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
BIN = os.path.dirname(sys.executable)

PLAN = {
    "supernet": "10.128.0.0/12",
    "tenant_prefix": 20,
    "vnet_prefix": 24,
    "controller": "evpnctl",
    "zone_defaults": {"mtu": 1450, "exitnodes": ["pve1"], "advertise_subnets": True, "ipam": "pve"},
}
ACME = {"name": "acme", "id": 3, "vnets": [{"name": "web", "id": 1}]}
ID_RULE = "2 to 8 ASCII letters and digits, starting with a letter (PVE's rule [a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9])"
OVERLAP_NOTE = "PVE does not check overlapping subnets"
VNI_RULE = ("every VNI must be unique: PVE refuses a VNet tag used twice, and its docs require each vrf-vxlan "
            "to differ from every other vrf-vxlan and every VNet tag")


def plan_with(**settings):
    return dict(copy.deepcopy(PLAN), **settings)


def planned_errors(tenants, network_plan=None):
    """The error lines the filter reports (the header line says how many there are)."""
    with pytest.raises(AnsibleFilterError) as failure:
        tenant_plan(tenants, PLAN if network_plan is None else network_plan)
    header, *lines = str(failure.value).split("\n")
    assert header == ("homecloud.proxmox.tenant_plan: %d problem(s) in the tenants or the network plan:"
                      % len(lines))
    return lines


def as_json(entry):
    return json.dumps(entry, sort_keys=True)


def by_tenant(plan):
    return dict((entry["tenant"], as_json(entry)) for entry in plan)


def test_filter_is_registered():
    assert FilterModule().filters() == {"tenant_plan": tenant_plan}


def test_worked_example():
    assert tenant_plan([ACME], PLAN) == [{
        "tenant": "acme", "id": 3, "kind": "tenant", "shared": False, "network": "10.128.48.0/20",
        "zone": {
            "zone": "acme", "type": "evpn", "controller": "evpnctl", "vrf_vxlan": 10003,
            "mtu": 1450, "exitnodes": ["pve1"], "advertise_subnets": True, "ipam": "pve",
            "vnets": [{"vnet": "acme01", "tag": 100301, "alias": "acme web",
                       "subnets": [{"subnet": "10.128.49.0/24", "gateway": "10.128.49.1", "snat": False}]}],
        },
        "vnets": [{
            "name": "web", "id": 1, "vnet": "acme01", "tag": 100301, "cidr": "10.128.49.0/24",
            "gateway": "10.128.49.1", "reserved": ["10.128.49.%d" % host for host in range(2, 10)],
            "first_guest": "10.128.49.10", "last_guest": "10.128.49.254", "guest_count": 245,
        }],
        "vmids": {"first": 10300, "last": 10399, "guests_first": 10310},
        "guests": [],
        "route_leaking": [],
    }]


def test_overrides_shared_services_and_zone_options():
    plan = tenant_plan([
        {"name": "initech-labs", "id": 4, "zone": "initech", "network": "10.129.0.0/20",
         "zone_options": {"exitnodes": None, "rt-import": ["65000:4"], "mtu": 1400},
         "vnets": [{"name": "web", "id": 1, "prefix": 23, "vnet": "itweb", "alias": "Initech web"}]},
    ], plan_with(reserved_hosts=2, shared_services={"name": "shared", "vnets": [{"name": "dns", "id": 1}]}))
    shared, initech = plan
    assert (shared["tenant"], shared["id"], shared["shared"], shared["network"]) == ("shared", 0, True, "10.128.0.0/20")
    assert shared["zone"]["vrf_vxlan"] == 10000
    assert shared["vnets"][0]["vnet"] == "shared01" and shared["vnets"][0]["tag"] == 100001
    assert initech["shared"] is False and initech["network"] == "10.129.0.0/20"
    # null drops a default, '-' becomes '_', a tenant value wins over the default
    assert initech["zone"] == {
        "zone": "initech", "type": "evpn", "controller": "evpnctl", "vrf_vxlan": 10004,
        "mtu": 1400, "advertise_subnets": True, "ipam": "pve", "rt_import": ["65000:4"],
        "vnets": [{"vnet": "itweb", "tag": 100401, "alias": "Initech web",
                   "subnets": [{"subnet": "10.129.2.0/23", "gateway": "10.129.2.1", "snat": False}]}],
    }
    assert initech["vnets"][0]["reserved"] == ["10.129.2.2", "10.129.2.3"]
    assert (initech["vnets"][0]["first_guest"], initech["vnets"][0]["last_guest"]) == ("10.129.2.4", "10.129.3.254")
    assert initech["vnets"][0]["guest_count"] == 507


def test_shared_services_with_their_own_supernet_and_id():
    plan = tenant_plan([ACME], plan_with(shared_services={"name": "svc", "id": 2, "supernet": "10.127.0.0/16",
                                                          "vnets": [{"name": "db", "id": 0}]}))
    assert [(entry["tenant"], entry["network"]) for entry in plan] == [("svc", "10.127.32.0/20"),
                                                                       ("acme", "10.128.48.0/20")]
    assert plan[0]["vnets"][0]["cidr"] == "10.127.32.0/24"


def test_ipv6_supernet():
    plan = tenant_plan([ACME], plan_with(supernet="fd00:10::/48", tenant_prefix=56, vnet_prefix=64))
    vnet = plan[0]["vnets"][0]
    assert plan[0]["network"] == "fd00:10:0:300::/56"
    assert (vnet["cidr"], vnet["gateway"], vnet["first_guest"], vnet["last_guest"]) == (
        "fd00:10:0:301::/64", "fd00:10:0:301::1", "fd00:10:0:301::a", "fd00:10:0:301:ffff:ffff:ffff:ffff")
    assert vnet["reserved"][0] == "fd00:10:0:301::2" and len(vnet["reserved"]) == 8
    assert vnet["guest_count"] == 2 ** 64 - 10


def test_output_is_plain_json_and_tenants_share_no_mutable_value():
    plan = tenant_plan([ACME, {"name": "beta", "id": 5}], PLAN)
    assert json.loads(json.dumps(plan)) == plan
    plan[0]["zone"]["exitnodes"].append("pve2")
    assert plan[1]["zone"]["exitnodes"] == ["pve1"]
    assert PLAN["zone_defaults"]["exitnodes"] == ["pve1"]


def test_a_tenant_without_vnets_gets_a_zone():
    assert tenant_plan([{"name": "empty", "id": 9}], PLAN)[0]["zone"]["vnets"] == []


# ---------------------------------------------------------------------------
# Determinism and stability

def tenants_fixture():
    return [
        {"name": "acme", "id": 3, "vnets": [{"name": "web", "id": 1}, {"name": "db", "id": 2}]},
        {"name": "beta", "id": 1, "vnets": [{"name": "app", "id": 0, "alias": "beta app"}]},
        {"name": "gamma", "id": 7, "zone": "gammazn", "vnets": [{"name": "web", "id": 5, "prefix": 25}]},
        {"name": "delta", "id": 12, "vnets": [{"name": "lab", "id": 15}]},
    ]


def test_same_input_same_output_in_any_order():
    expected = tenant_plan(tenants_fixture(), PLAN)
    assert [entry["id"] for entry in expected] == [1, 3, 7, 12]
    assert tenant_plan(tenants_fixture(), PLAN) == expected
    shuffled = tenants_fixture()[::-1]
    for tenant in shuffled:
        tenant["vnets"].reverse()
    assert as_json(tenant_plan(shuffled, PLAN)) == as_json(expected)


@pytest.mark.parametrize("change", ["add tenant", "remove tenant", "reorder", "add vnet"])
def test_a_change_leaves_every_other_tenant_byte_identical(change):
    before = by_tenant(tenant_plan(tenants_fixture(), PLAN))
    tenants = tenants_fixture()
    if change == "add tenant":
        tenants.insert(1, {"name": "zeta", "id": 2, "vnets": [{"name": "web", "id": 1}]})
    elif change == "remove tenant":
        del tenants[1]
    elif change == "reorder":
        tenants = [tenants[2], tenants[0], tenants[3], tenants[1]]
    else:
        tenants[0]["vnets"].append({"name": "cache", "id": 3})
    after = by_tenant(tenant_plan(tenants, PLAN))
    touched = {"add tenant": "zeta", "remove tenant": "beta", "reorder": None, "add vnet": "acme"}[change]
    for name, entry in before.items():
        if name != touched:
            assert after[name] == entry, name


def random_tenants(rng, ids):
    return [{"name": "t%d" % tenant_id, "id": tenant_id,
             "vnets": [{"name": "v%d" % vnet_id, "id": vnet_id} for vnet_id in rng.sample(range(16), rng.randint(0, 4))]}
            for tenant_id in ids]


@pytest.mark.parametrize("seed", range(25))
def test_stability_property_on_random_tenant_sets(seed):
    """Planning any subset, in any order, gives each tenant exactly the plan it gets in the full set."""
    rng = random.Random(seed)
    tenants = random_tenants(rng, rng.sample(range(1, 256), rng.randint(2, 12)))
    full = by_tenant(tenant_plan(tenants, PLAN))
    subset = rng.sample(tenants, rng.randint(1, len(tenants)))
    for name, entry in by_tenant(tenant_plan(subset, PLAN)).items():
        assert full[name] == entry


def test_benchmark_size_20_tenants_with_3_vnets_is_valid():
    tenants = [{"name": "ten%02d" % number, "id": number,
                "vnets": [{"name": role, "id": slot} for slot, role in enumerate(("web", "app", "db"), start=1)]}
               for number in range(1, 21)]
    plan = tenant_plan(tenants, PLAN)
    vnets = [vnet for entry in plan for vnet in entry["vnets"]]
    assert len(plan) == 20 and len(vnets) == 60
    assert len(set(vnet["vnet"] for vnet in vnets)) == 60
    assert all(len(vnet["vnet"]) <= 8 for vnet in vnets)
    vnis = [vnet["tag"] for vnet in vnets] + [entry["zone"]["vrf_vxlan"] for entry in plan]
    assert len(set(vnis)) == 80 and all(1 <= vni <= 16777215 for vni in vnis)
    assert len(set(vnet["cidr"] for vnet in vnets)) == 60
    assert plan[-1]["vnets"][-1]["vnet"] == "ten2003" and plan[-1]["network"] == "10.129.64.0/20"


def test_long_names_sharing_six_characters_need_an_explicit_vnet():
    """The default VNet id keeps 6 characters of the zone id, so tenant01 and tenant02 collide."""
    tenants = [{"name": "tenant%02d" % number, "id": number, "vnets": [{"name": "web", "id": 1}]} for number in (1, 2)]
    assert planned_errors(tenants) == [
        "tenant 'tenant02': vnets[0].vnet 'tenant01' is also the VNet id of tenant 'tenant01' vnets[0]; "
        "VNet ids are cluster-wide (compared ignoring case): set vnet on one of them"]
    tenants[1]["vnets"][0]["vnet"] = "t02web"
    assert [entry["vnets"][0]["vnet"] for entry in tenant_plan(tenants, PLAN)] == ["tenant01", "t02web"]


# ---------------------------------------------------------------------------
# Validation: one case per rule, with the exact message

def with_acme(**fields):
    return [dict(copy.deepcopy(ACME), **fields)]


def with_vnet(**fields):
    return with_acme(vnets=[dict(name="web", id=1, **fields)])


ERROR_CASES = [
    # shape and required fields
    ("tenants not a list", "acme", PLAN, "tenants: must be a list of tenant dicts, got 'acme'"),
    ("tenant not a dict", ["acme"], PLAN, "tenants[0]: must be a dict (name, id, vnets, ...), got 'acme'"),
    ("name missing", [{"id": 1}], PLAN, "tenants[0]: name: required, a non-empty string"),
    ("name not a string", [{"name": 5, "id": 1}], PLAN, "tenants[0]: name 5: must be a non-empty string"),
    ("id missing", [{"name": "acme"}], PLAN,
     "tenant 'acme': id: required, an integer >= 1 (the tenant's stable slot)"),
    ("id a string", with_acme(id="3"), PLAN,
     "tenant 'acme': id '3': must be an integer >= 1 (the tenant's stable slot)"),
    ("id a bool", with_acme(id=True), PLAN,
     "tenant 'acme': id True: must be an integer >= 1 (the tenant's stable slot)"),
    ("id zero", with_acme(id=0), PLAN, "tenant 'acme': id 0: must be an integer >= 1 (the tenant's stable slot)"),
    ("vnets not a list", with_acme(vnets="web"), PLAN, "tenant 'acme': vnets 'web': must be a list of dicts"),
    ("vnet not a dict", with_acme(vnets=["web"]), PLAN,
     "tenant 'acme': vnets[0]: must be a dict (name, id, ...), got 'web'"),
    ("vnet name missing", with_acme(vnets=[{"id": 1}]), PLAN,
     "tenant 'acme': vnets[0].name: required, a non-empty string"),
    ("vnet id missing", with_acme(vnets=[{"name": "web"}]), PLAN,
     "tenant 'acme': vnets[0].id: required, an integer from 0 to 99 (the VNet's stable slot in the tenant)"),
    ("vnet id 100", with_acme(vnets=[{"name": "web", "id": 100}]), PLAN,
     "tenant 'acme': vnets[0].id 100: must be an integer from 0 to 99 (the VNet's stable slot in the tenant)"),
    ("vnet id negative", with_acme(vnets=[{"name": "web", "id": -1}]), PLAN,
     "tenant 'acme': vnets[0].id -1: must be an integer from 0 to 99 (the VNet's stable slot in the tenant)"),
    ("zone_options not a dict", with_acme(zone_options=["mtu"]), PLAN,
     "tenant 'acme': zone_options ['mtu']: must be a dict of zone options"),
    ("zone_options sets a planned option", with_acme(zone_options={"vrf-vxlan": 5}), PLAN,
     "tenant 'acme': zone_options.vrf-vxlan: the plan sets this zone option itself; remove it"),
    # PVE id rules
    ("zone from an invalid name", [{"name": "acme-corp", "id": 3}], PLAN,
     "tenant 'acme-corp': zone 'acme-corp' (the tenant name; set zone to choose another): a zone id is " + ID_RULE),
    ("zone too long", with_acme(zone="acmecorporate"), PLAN, "tenant 'acme': zone 'acmecorporate': a zone id is " + ID_RULE),
    ("zone starts with a digit", with_acme(zone="1acme"), PLAN, "tenant 'acme': zone '1acme': a zone id is " + ID_RULE),
    ("zone one character", with_acme(zone="a"), PLAN, "tenant 'acme': zone 'a': a zone id is " + ID_RULE),
    ("vnet id too long", with_acme(vnets=[{"name": "db", "id": 2}, {"name": "web", "id": 1, "vnet": "acmecorp01"}]),
     PLAN, "tenant 'acme': vnets[1].vnet 'acmecorp01': a VNet id is " + ID_RULE),
    ("vnet id with a dash", with_vnet(vnet="ac-01"), PLAN, "tenant 'acme': vnets[0].vnet 'ac-01': a VNet id is " + ID_RULE),
    # ids are plain ASCII, matched whole: Python's re.I folds U+0130, U+017F and U+212A, `$` matches before "\n"
    ("name with a trailing newline", [{"name": "globex\n", "id": 3}], PLAN,
     "tenant 'globex\\n': zone 'globex\\n' (the tenant name; set zone to choose another): a zone id is " + ID_RULE),
    ("name with a dotted capital I", [{"name": "qH\u01308", "id": 3}], PLAN,
     "tenant 'qH\u01308': zone 'qH\u01308' (the tenant name; set zone to choose another): a zone id is " + ID_RULE),
    ("name with a long s", [{"name": "\u017facme", "id": 3}], PLAN,
     "tenant '\u017facme': zone '\u017facme' (the tenant name; set zone to choose another): a zone id is " + ID_RULE),
    ("vnet id with a Kelvin sign", with_vnet(vnet="\u212aweb01"), PLAN,
     "tenant 'acme': vnets[0].vnet '\u212aweb01': a VNet id is " + ID_RULE),
    ("alias PVE refuses", with_vnet(alias="web{1}"), PLAN,
     r"tenant 'acme': vnets[0].alias 'web{1}': PVE accepts up to 256 characters matching ^[\(\)-_.\w\d\s]{0,256}$"),
    # duplicates
    ("duplicate names", [ACME, dict(ACME, id=4, zone="acme2", vnets=[])], PLAN,
     "tenants[1]: name 'acme' is also the name of tenants[0]; tenant names must be unique"),
    ("duplicate ids", [ACME, {"name": "beta", "id": 3}], PLAN,
     "tenant 'beta': id 3 is also the id of tenant 'acme'; tenant ids must be unique "
     "(the id fixes the tenant's network slot and VNIs)"),
    ("duplicate zones ignoring case", [ACME, {"name": "beta", "id": 4, "zone": "ACME"}], PLAN,
     "tenant 'beta': zone 'ACME' is also the zone of tenant 'acme'; zone ids are cluster-wide and must be unique "
     "(compared ignoring case)"),
    ("default VNet ids collide", [{"name": "acmecorp", "id": 3, "vnets": [{"name": "web", "id": 1}]},
                                  {"name": "acmecoxx", "id": 4, "vnets": [{"name": "web", "id": 1}]}], PLAN,
     "tenant 'acmecoxx': vnets[0].vnet 'acmeco01' is also the VNet id of tenant 'acmecorp' vnets[0]; "
     "VNet ids are cluster-wide (compared ignoring case): set vnet on one of them"),
    ("explicit VNet id collides", [ACME, {"name": "beta", "id": 4, "vnets": [{"name": "web", "id": 1, "vnet": "ACME01"}]}],
     PLAN, "tenant 'beta': vnets[0].vnet 'ACME01' is also the VNet id of tenant 'acme' vnets[0]; "
     "VNet ids are cluster-wide (compared ignoring case): set vnet on one of them"),
    ("duplicate VNet names", with_acme(vnets=[{"name": "web", "id": 1}, {"name": "web", "id": 2}]), PLAN,
     "tenant 'acme': vnets[1].name 'web' is also the name of tenant 'acme' vnets[0]; "
     "VNet names must be unique inside a tenant"),
    ("duplicate VNet slots", with_acme(vnets=[{"name": "web", "id": 1}, {"name": "db", "id": 1, "vnet": "acmedb"}]),
     PLAN, "tenant 'acme': vnets[1].id 1 is also the id of tenant 'acme' vnets[0]; "
     "VNet ids (slots) must be unique inside a tenant"),
    # overlaps
    ("tenant networks overlap", [ACME, {"name": "beta", "id": 4, "network": "10.128.48.0/21"}], PLAN,
     "tenant 'beta': network 10.128.48.0/21 overlaps the network 10.128.48.0/20 of tenant 'acme'; " + OVERLAP_NOTE),
    ("VNet subnets overlap", with_acme(vnets=[{"name": "web", "id": 1, "prefix": 23}, {"name": "db", "id": 2}]), PLAN,
     "tenant 'acme': vnets[1] subnet 10.128.50.0/24 overlaps the vnets[0] subnet 10.128.50.0/23 of tenant 'acme'; "
     + OVERLAP_NOTE),
    ("shared services overlap a tenant", [ACME], plan_with(shared_services={"name": "shared", "network": "10.128.48.0/24"}),
     "shared_services 'shared': network 10.128.48.0/24 overlaps the network 10.128.48.0/20 of tenant 'acme'; "
     + OVERLAP_NOTE),
    # VNIs
    ("vrf-vxlan equals a VNet tag", with_acme(vnets=[{"name": "web", "id": 3}]), plan_with(vrf_vxlan_base=100300),
     "tenant 'acme': vnets[0].tag 100303 is also the vrf_vxlan of tenant 'acme'; " + VNI_RULE),
    ("vrf-vxlan equals another tenant's tag", [ACME, {"name": "beta", "id": 4}],
     plan_with(vrf_vxlan_base=100297),
     "tenant 'beta': vrf_vxlan 100301 is also the tag of tenant 'acme' vnets[0]; " + VNI_RULE),
    ("duplicate vrf-vxlan", [ACME, {"name": "beta", "id": 3, "network": "10.129.0.0/20"}], PLAN,
     "tenant 'beta': vrf_vxlan 10003 is also the vrf_vxlan of tenant 'acme'; " + VNI_RULE),
    ("tag above the VNI range", [ACME], plan_with(vnet_tag_base=16777000),
     "tenant 'acme': vnets[0].tag 16777301 (vnet_tag_base + id * 100 + vnet id) is outside 1..16777215, "
     "the VXLAN VNI range"),
    ("vrf-vxlan above the VNI range", [ACME], plan_with(vrf_vxlan_base=16777215),
     "tenant 'acme': vrf_vxlan 16777218 (vrf_vxlan_base + id) is outside 1..16777215, the VXLAN VNI range"),
    ("VNI zero", [], plan_with(vrf_vxlan_base=0, shared_services={"name": "shared"}),
     "shared_services 'shared': vrf_vxlan 0 (vrf_vxlan_base + id) is outside 1..16777215, the VXLAN VNI range"),
    # address space
    ("network outside the supernet", with_acme(network="10.200.0.0/20"), PLAN,
     "tenant 'acme': network 10.200.0.0/20 is outside the supernet 10.128.0.0/12"),
    ("network of the other IP version", with_acme(network="fd00::/56"), PLAN,
     "tenant 'acme': network fd00::/56 is outside the supernet 10.128.0.0/12"),
    ("network with host bits", with_acme(network="10.128.48.1/20"), PLAN,
     "tenant 'acme': network '10.128.48.1/20': host bits are set (the network is 10.128.48.0/20)"),
    ("network not a CIDR", with_acme(network="somewhere"), PLAN,
     "tenant 'acme': network 'somewhere': must be a CIDR network such as 10.128.0.0/12 or fd00:10::/48"),
    ("tenant id beyond the slots", with_acme(id=256), PLAN,
     "tenant 'acme': id 256: beyond the 256 slots of /20 in the supernet 10.128.0.0/12 (slots 0..255)"),
    ("VNet id beyond the slots", with_acme(vnets=[{"name": "web", "id": 16}]), PLAN,
     "tenant 'acme': vnets[0].id 16: beyond the 16 slots of /24 in the tenant network 10.128.48.0/20 (slots 0..15)"),
    ("VNet prefix shorter than the tenant network", with_vnet(prefix=16), PLAN,
     "tenant 'acme': vnets[0].prefix 16: must be an integer from 20 to 32 "
     "(from the tenant network's prefix length to the address length)"),
    ("VNet prefix without room for guests", with_vnet(prefix=29), PLAN,
     "tenant 'acme': vnets[0].prefix 29: a /29 leaves no guest address after the gateway and 8 reserved hosts; "
     "use a shorter prefix or fewer reserved_hosts"),
    ("VNet larger than an explicit tenant network", with_acme(network="10.128.48.0/26"), PLAN,
     "tenant 'acme': vnets[0]: a /24 VNet subnet cannot fit in the tenant network 10.128.48.0/26; "
     "set vnets[0].prefix"),
    # network plan settings
    ("plan not a dict", [], ["supernet"],
     "network plan: must be a dict (supernet, tenant_prefix, vnet_prefix, controller, ...), got ['supernet']"),
    ("supernet missing", [], dict((key, value) for key, value in PLAN.items() if key != "supernet"),
     "network plan: supernet: required, a CIDR network such as 10.128.0.0/12"),
    ("tenant_prefix missing", [], dict((key, value) for key, value in PLAN.items() if key != "tenant_prefix"),
     "network plan: tenant_prefix: required, an integer from 12 to 24 "
     "(from the supernet's prefix length to vnet_prefix)"),
    ("tenant_prefix shorter than the supernet", [], plan_with(tenant_prefix=8),
     "network plan: tenant_prefix 8: must be an integer from 12 to 24 (from the supernet's prefix length to vnet_prefix)"),
    ("vnet_prefix beyond the address length", [], plan_with(vnet_prefix=33),
     "network plan: vnet_prefix 33: must be an integer from 20 to 32 (from tenant_prefix to the address length)"),
    ("vnet_prefix without room for guests", [], plan_with(vnet_prefix=29),
     "network plan: vnet_prefix 29: a /29 leaves no guest address after the gateway and 8 reserved hosts; "
     "use a shorter prefix or fewer reserved_hosts"),
    ("controller missing", [], dict((key, value) for key, value in PLAN.items() if key != "controller"),
     "network plan: controller: required, a non-empty string"),
    ("controller invalid", [], plan_with(controller="evpn ctl"),
     "network plan: controller 'evpn ctl': an EVPN controller id is 2 to 64 ASCII letters, digits, '-' and '_', "
     "starting with a letter and ending with a letter or digit (PVE's rule [a-zA-Z][a-zA-Z0-9_-]*[a-zA-Z0-9])"),
    ("reserved_hosts negative", [], plan_with(reserved_hosts=-1),
     "network plan: reserved_hosts -1: must be an integer >= 0"),
    ("vnet_tag_base a string", [], plan_with(vnet_tag_base="100000"),
     "network plan: vnet_tag_base '100000': must be an integer >= 0"),
    ("zone_defaults sets a planned option", [], plan_with(zone_defaults={"controller": "other"}),
     "network plan: zone_defaults.controller: the plan sets this zone option itself; remove it"),
    ("shared services of the other IP version", [], plan_with(shared_services={"name": "shared", "supernet": "fd00::/48"}),
     "shared_services 'shared': supernet fd00::/48 is IPv6 but the plan's supernet 10.128.0.0/12 is IPv4; "
     "a plan uses one IP version"),
    ("shared services not a dict", [], plan_with(shared_services="shared"),
     "shared_services: must be a dict (name, id, vnets, ...), got 'shared'"),
]


@pytest.mark.parametrize("tenants,network_plan,message", [case[1:] for case in ERROR_CASES],
                         ids=[case[0] for case in ERROR_CASES])
def test_validation_error(tenants, network_plan, message):
    assert message in planned_errors(tenants, network_plan)


def test_every_error_is_reported_at_once():
    tenants = [
        {"name": "acme-corp", "id": 0, "vnets": [{"name": "web", "id": 100, "vnet": "acmecorp01"}]},
        {"name": "beta", "id": 2, "network": "10.300.0.0/20"},
        {"id": 5},
    ]
    assert planned_errors(tenants, plan_with(reserved_hosts="8")) == [
        "network plan: reserved_hosts '8': must be an integer >= 0",
        "tenant 'acme-corp': id 0: must be an integer >= 1 (the tenant's stable slot)",
        "tenant 'acme-corp': zone 'acme-corp' (the tenant name; set zone to choose another): a zone id is " + ID_RULE,
        "tenant 'acme-corp': vnets[0].id 100: must be an integer from 0 to 99 (the VNet's stable slot in the tenant)",
        "tenant 'acme-corp': vnets[0].vnet 'acmecorp01': a VNet id is " + ID_RULE,
        "tenant 'beta': network '10.300.0.0/20': must be a CIDR network such as 10.128.0.0/12 or fd00:10::/48",
        "tenants[2]: name: required, a non-empty string",
    ]


# ---------------------------------------------------------------------------
# Guests: VMIDs from the tenant slot, addresses from the VNet's guest range, planned MACs

ACME_GUESTS = dict(copy.deepcopy(ACME), vnets=[{"name": "web", "id": 1}, {"name": "db", "id": 2}], guests=[
    {"name": "web1", "id": 10, "vnet": "web", "size": "small"},
    {"name": "db1", "id": 11, "vnet": "db", "host": 50, "node": "pve2"},
])


def test_guest_layout_worked_example():
    planned = tenant_plan([ACME_GUESTS], PLAN)[0]
    assert planned["vmids"] == {"first": 10300, "last": 10399, "guests_first": 10310}
    assert planned["guests"] == [
        {"name": "web1", "id": 10, "vmid": 10310, "vnet": "acme01", "vnet_name": "web", "ip": "10.128.49.10",
         "cidr": "10.128.49.10/24", "gateway": "10.128.49.1", "mac": "02:00:00:28:46:00", "size": "small"},
        {"name": "db1", "id": 11, "vmid": 10311, "vnet": "acme02", "vnet_name": "db", "ip": "10.128.50.50",
         "cidr": "10.128.50.50/24", "gateway": "10.128.50.1", "mac": "02:00:00:28:47:00", "node": "pve2"},
    ]


def test_guest_vmid_range_settings_and_explicit_vmid():
    tenants = [dict(copy.deepcopy(ACME_GUESTS), guests=[{"name": "web1", "id": 5, "vnet": "web", "vmid": 2399, "host": 40}])]
    planned = tenant_plan(tenants, plan_with(vmid_base=2000, vmids_per_tenant=100, reserved_vmids=2))[0]
    assert planned["vmids"] == {"first": 2300, "last": 2399, "guests_first": 2302}
    assert [(guest["vmid"], guest["ip"]) for guest in planned["guests"]] == [(2399, "10.128.49.40")]


def test_adding_a_guest_changes_no_other_guest():
    before = tenant_plan([ACME_GUESTS], PLAN)[0]["guests"]
    grown = copy.deepcopy(ACME_GUESTS)
    grown["guests"].insert(0, {"name": "web2", "id": 12, "vnet": "web"})
    after = dict((guest["name"], guest) for guest in tenant_plan([grown], PLAN)[0]["guests"])
    assert [after[guest["name"]] for guest in before] == before
    assert after["web2"]["vmid"] == 10312 and after["web2"]["ip"] == "10.128.49.12"


def with_guests(*guests, **plan):
    return [dict(copy.deepcopy(ACME_GUESTS), guests=list(guests))], plan_with(**plan)


GUEST_ERROR_CASES = [
    ("guest on another tenant's VNet",
     ([dict(copy.deepcopy(ACME_GUESTS), guests=[]),
       {"name": "globex", "id": 4, "vnets": [{"name": "app", "id": 1}],
        "guests": [{"name": "app1", "id": 10, "vnet": "acme01"}]}], PLAN),
     "tenant 'globex': guests[0] (app1).vnet 'acme01': not a VNet of this tenant (its VNets: app); "
     "a guest is only ever placed on its own tenant's VNets"),
    ("address below the guest range", with_guests({"name": "web1", "id": 10, "vnet": "web", "host": 5}),
     "tenant 'acme': guests[0] (web1).host 5: 10.128.49.5 is outside VNet web's guest range "
     "10.128.49.10-10.128.49.254 (below it: the gateway and 8 reserved addresses)"),
    ("broadcast address", with_guests({"name": "web1", "id": 10, "vnet": "web", "host": 255}),
     "tenant 'acme': guests[0] (web1).host 255: 10.128.49.255 is outside VNet web's guest range "
     "10.128.49.10-10.128.49.254 (below it: the gateway and 8 reserved addresses)"),
    ("address beyond the VNet", with_guests({"name": "web1", "id": 10, "vnet": "web", "host": 256}),
     "tenant 'acme': guests[0] (web1).host 256: 10.128.50.0 is outside VNet web's guest range "
     "10.128.49.10-10.128.49.254 (below it: the gateway and 8 reserved addresses)"),
    ("address taken by another guest",
     with_guests({"name": "web1", "id": 10, "vnet": "web", "host": 20}, {"name": "web2", "id": 20, "vnet": "web"}),
     "tenant 'acme': guests[1] (web2).address '10.128.49.20' is also the address of tenant 'acme' guests[0] (web1); "
     "an address belongs to one guest; set host on one of them"),
    ("vmid outside the tenant's range", with_guests({"name": "web1", "id": 10, "vnet": "web", "vmid": 10400}),
     "tenant 'acme': guests[0] (web1).vmid 10400: outside the tenant's guest VMIDs 10310-10399 "
     "(its range 10300-10399, the first 10 kept for its infrastructure)"),
    ("vmid of the tenant's infrastructure", with_guests({"name": "web1", "id": 10, "vnet": "web", "vmid": 10300}),
     "tenant 'acme': guests[0] (web1).vmid 10300: outside the tenant's guest VMIDs 10310-10399 "
     "(its range 10300-10399, the first 10 kept for its infrastructure)"),
    ("guest id in the infrastructure slots", with_guests({"name": "web1", "id": 3, "vnet": "web"}),
     "tenant 'acme': guests[0] (web1).id 3: must be an integer from 10 to 99 "
     "(the guest's stable slot; below 10 is the tenant's infrastructure)"),
    ("guest name not a host name", with_guests({"name": "web_1", "id": 10, "vnet": "web"}),
     "tenant 'acme': guests[0].name 'web_1': a guest name is its host name: up to 63 ASCII letters, digits, '-' "
     "and '.', not starting or ending with '-' (PVE's dns-name format)"),
    ("guest name with a non-ASCII letter", with_guests({"name": "we\u0130b", "id": 10, "vnet": "web"}),
     "tenant 'acme': guests[0].name 'we\u0130b': a guest name is its host name: up to 63 ASCII letters, digits, '-' "
     "and '.', not starting or ending with '-' (PVE's dns-name format)"),
    ("same name twice", with_guests({"name": "web1", "id": 10, "vnet": "web"}, {"name": "web1", "id": 11, "vnet": "web"}),
     "tenant 'acme': guests[1] (web1).name 'web1' is also the name of tenant 'acme' guests[0] (web1); "
     "guest names must be unique inside a tenant"),
    ("vnet missing", with_guests({"name": "web1", "id": 10}),
     "tenant 'acme': guests[0] (web1).vnet: required, a non-empty string"),
    ("guests not a list", ([dict(copy.deepcopy(ACME), guests={"web1": {}})], PLAN),
     "tenant 'acme': guests {'web1': {}}: must be a list of dicts"),
    ("vmid range beyond PVE's", with_guests(vmid_base=999999000, vmids_per_tenant=1000),
     "tenant 'acme': id 3: its VMID range 1000002000-1000002999 (vmid_base + id * vmids_per_tenant) ends beyond "
     "999999999, PVE's highest guest id"),
    ("reserved_vmids not below vmids_per_tenant", with_guests(vmids_per_tenant=10, reserved_vmids=10),
     "network plan: reserved_vmids 10: must be an integer from 0 to 9 (below vmids_per_tenant)"),
]


@pytest.mark.parametrize("arguments,message", [case[1:] for case in GUEST_ERROR_CASES],
                         ids=[case[0] for case in GUEST_ERROR_CASES])
def test_guest_validation_error(arguments, message):
    assert message in planned_errors(*arguments)


# ---------------------------------------------------------------------------
# Through Ansible itself

def run_ansible(tool, arguments, cwd):
    env = dict((key, value) for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "PROXMOX_")))
    env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCAL_TEMP=str(cwd / "tmp"))
    return subprocess.run([os.path.join(BIN, tool)] + arguments, cwd=str(cwd), env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def run_playbook(tmp_path, tenants, network_plan):
    plan_file = tmp_path / "plan.json"
    play = [{
        "hosts": "localhost", "gather_facts": False,
        "vars": {"homecloud_tenants": tenants, "homecloud_network_plan": network_plan},
        "tasks": [{"name": "Write the plan", "ansible.builtin.copy": {
            "content": "{{ homecloud_tenants | homecloud.proxmox.tenant_plan(homecloud_network_plan) | to_json }}",
            "dest": str(plan_file)}}],
    }]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    result = run_ansible("ansible-playbook", ["-i", "localhost,", "-c", "local", "play.yml"], tmp_path)
    return result, plan_file


@pytest.mark.timeout(240)
def test_through_ansible_playbook(tmp_path):
    tenants = tenants_fixture()
    result, plan_file = run_playbook(tmp_path, tenants, PLAN)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(plan_file.read_text()) == tenant_plan(tenants, PLAN)

    plan_file.unlink()
    result, plan_file = run_playbook(tmp_path, [ACME, {"name": "beta", "id": 4, "zone": "ACME"}], PLAN)
    assert result.returncode == 2, result.stdout + result.stderr
    assert not plan_file.exists()
    output = result.stdout + result.stderr
    assert "homecloud.proxmox.tenant_plan: 1 problem(s) in the tenants or the network plan:" in output
    assert "tenant 'beta': zone 'ACME' is also the zone of tenant 'acme'" in output


def test_ansible_doc_renders(tmp_path):
    result = run_ansible("ansible-doc", ["-t", "filter", "homecloud.proxmox.tenant_plan"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "homecloud.proxmox.tenant_plan" in result.stdout and "network_plan" in result.stdout
    assert "[WARNING]" not in result.stderr
