# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shared services plan: DNS zones and records (forward and reverse) from the tenant and gateway plans, S3
buckets and users, PostgreSQL databases and owners per tenant; bad input refused at once, naming tenant and field."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.gateway import plan_gateways
from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import PlanError, plan_tenants
from ansible_collections.homecloud.proxmox.plugins.module_utils.services import plan_services, reverse_zones

NETWORK_PLAN = {"supernet": "10.128.0.0/12", "tenant_prefix": 20, "vnet_prefix": 24, "controller": "evpnctl",
                "shared_services": {"name": "shared", "vnets": [{"name": "svc", "id": 1}]}}
SERVICES = {"dns": {"addresses": ["10.128.1.10"]}, "s3": {"addresses": ["10.128.1.11"]},
            "postgresql": {"addresses": ["10.128.1.12"]}}
SETTINGS = {"domain": "lab.internal"}
TENANTS = [
    {"name": "acme", "id": 1, "services": ["s3", "postgresql"],
     "vnets": [{"name": "web", "id": 1}, {"name": "db", "id": 2}],
     "guests": [{"name": "web1", "id": 10, "vnet": "web"}, {"name": "db1", "id": 11, "vnet": "db"}],
     "gateway": {"node": "pve1", "external": {"address": "198.51.100.21/24", "gateway": "198.51.100.1"}},
     "s3": {"buckets": ["backups", "media"]},
     "dns": {"records": [{"name": "www", "type": "CNAME", "value": "web1.acme.lab.internal."}]}},
    {"name": "globex", "id": 2, "services": ["s3"], "vnets": [{"name": "app", "id": 1}],
     "guests": [{"name": "app1", "id": 10, "vnet": "app"}]},
]


def plan(tenants=None, settings=None, services=None, with_gateways=True):
    tenants = TENANTS if tenants is None else tenants
    tenant_plans = plan_tenants(tenants, NETWORK_PLAN)
    gateways = plan_gateways(tenant_plans, tenants, {}, {}, ["pve1"], {}) if with_gateways else None
    return plan_services(tenant_plans, tenants, SETTINGS if settings is None else settings,
                         SERVICES if services is None else services, gateways)


def zone(result, name):
    (found,) = [entry for entry in result["dns"]["zones"] if entry["name"] == name]
    return dict(((record["name"], record["type"]), record["values"]) for record in found["records"]), found


def refusal(tenants=None, **kwargs):
    with pytest.raises(PlanError) as caught:
        plan(tenants, **kwargs)
    return caught.value.errors


def test_each_tenant_gets_its_zone_reverse_zones_and_a_record_plus_ptr_per_guest_and_gateway_leg():
    result = plan()
    names = [entry["name"] for entry in result["dns"]["zones"]]
    assert names == ["1.128.10.in-addr.arpa", "lab.internal",
                     "17.128.10.in-addr.arpa", "18.128.10.in-addr.arpa", "acme.lab.internal",
                     "33.128.10.in-addr.arpa", "globex.lab.internal"]
    records, acme = zone(result, "acme.lab.internal")
    assert records == {("web1.acme.lab.internal", "A"): ["10.128.17.10"], ("db1.acme.lab.internal", "A"): ["10.128.18.11"],
                       ("gw-web.acme.lab.internal", "A"): ["10.128.17.2"], ("gw-db.acme.lab.internal", "A"): ["10.128.18.2"],
                       ("www.acme.lab.internal", "CNAME"): ["web1.acme.lab.internal."]}
    # queried from the tenant's own networks and the shared services' only
    assert acme["allow_query"] == ["10.128.1.0/24", "10.128.17.0/24", "10.128.18.0/24"] and acme["tenant"] == "acme"
    reverse, dummy = zone(result, "17.128.10.in-addr.arpa")
    assert reverse == {("10.17.128.10.in-addr.arpa", "PTR"): ["web1.acme.lab.internal."],
                       ("2.17.128.10.in-addr.arpa", "PTR"): ["gw-web.acme.lab.internal."]}
    globex, dummy = zone(result, "globex.lab.internal")
    assert globex == {("app1.globex.lab.internal", "A"): ["10.128.33.10"]}


def test_the_domain_zone_names_the_shared_services_for_the_whole_cloud():
    result = plan()
    records, apex = zone(result, "lab.internal")
    assert records == {("dns.lab.internal", "A"): ["10.128.1.10"], ("s3.lab.internal", "A"): ["10.128.1.11"],
                       ("postgresql.lab.internal", "A"): ["10.128.1.12"]}
    assert apex["tenant"] is None and apex["allow_query"] == ["10.128.0.0/20", "10.128.16.0/20", "10.128.32.0/20"]
    assert result["dns"]["allowed_networks"] == apex["allow_query"]
    assert result["dns"]["server_zones"][1] == {"name": "lab.internal", "allow_query": apex["allow_query"]}
    reverse, dummy = zone(result, "1.128.10.in-addr.arpa")
    assert reverse[("11.1.128.10.in-addr.arpa", "PTR")] == ["s3.lab.internal."]


def test_s3_buckets_and_postgresql_databases_per_tenant_that_uses_them():
    result = plan()
    assert result["s3"] == [{"tenant": "acme", "user": "acme", "buckets": ["acme-backups", "acme-media"], "access": "readwrite"},
                            {"tenant": "globex", "user": "globex", "buckets": ["globex-data"], "access": "readwrite"}]
    assert result["postgresql"] == [{"name": "acme", "database": "acme", "owner": "acme",
                                     "networks": ["10.128.17.0/24", "10.128.18.0/24"]}]


def test_without_gateway_plans_the_gateway_gets_no_records():
    records, dummy = zone(plan(with_gateways=False), "acme.lab.internal")
    assert ("gw-web.acme.lab.internal", "A") not in records


def test_a_removed_guest_disappears_from_the_plan():
    tenants = copy.deepcopy(TENANTS)
    tenants[0]["guests"] = tenants[0]["guests"][:1]
    records, dummy = zone(plan(tenants), "acme.lab.internal")
    assert ("db1.acme.lab.internal", "A") not in records
    reverse, dummy = zone(plan(tenants), "18.128.10.in-addr.arpa")
    assert list(reverse) == [("2.18.128.10.in-addr.arpa", "PTR")]


@pytest.mark.parametrize("cidr, zones", [
    ("10.128.17.0/24", ["17.128.10.in-addr.arpa"]),
    ("10.128.16.0/23", ["16.128.10.in-addr.arpa", "17.128.10.in-addr.arpa"]),
    ("10.128.17.128/25", ["17.128.10.in-addr.arpa"]),
    ("10.0.0.0/16", ["0.10.in-addr.arpa"]),
    ("fd00:1:2:3::/64", ["3.0.0.0.2.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa"]),
    ("fd00:1:2:30::/62", ["%d.3.0.0.2.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa" % nibble for nibble in range(4)]),
])
def test_reverse_zones_follow_octet_and_nibble_boundaries(cidr, zones):
    assert reverse_zones(cidr) == zones


def test_a_record_outside_the_tenants_zone_is_refused_naming_tenant_and_field():
    tenants = copy.deepcopy(TENANTS)
    tenants[0]["dns"]["records"].append({"name": "www.globex.lab.internal.", "type": "A", "value": "10.128.17.10"})
    tenants[0]["dns"]["records"].append({"name": "web1", "type": "A", "value": "10.128.17.99"})
    tenants[0]["dns"]["records"].append({"name": "api", "type": "NS", "value": "ns1.example."})
    errors = refusal(tenants)
    assert "tenant acme: dns.records[1].name: www.globex.lab.internal. is outside the tenant's zone acme.lab.internal" in errors
    assert "tenant acme: dns.records[2].name: web1.acme.lab.internal is the planned name of guest web1" in errors
    assert "tenant acme: dns.records[3].type: 'NS' is not one of A, AAAA, CNAME, TXT, MX, SRV" in errors


def test_invalid_bucket_names_are_refused_by_the_s3_rules():
    tenants = copy.deepcopy(TENANTS)
    tenants[0]["s3"]["buckets"] = ["Backups", "a..b", "x" * 60, "ok", "ok"]
    errors = refusal(tenants)
    assert any(error.startswith("tenant acme: s3.buckets[0]: 'Backups' (bucket 'acme-Backups') is not a valid S3 bucket name")
               for error in errors)
    assert any(error.startswith("tenant acme: s3.buckets[1]") and "two adjacent dots" in error for error in errors)
    assert any(error.startswith("tenant acme: s3.buckets[2]") for error in errors)
    assert "tenant acme: s3.buckets[4]: bucket acme-ok is listed twice" in errors


def test_a_database_name_clash_between_tenants_is_refused():
    tenants = copy.deepcopy(TENANTS)
    tenants[0]["postgresql"] = {"database": "shop"}
    tenants[1]["services"] = ["postgresql"]
    tenants[1]["postgresql"] = {"database": "shop", "owner": "Bad-Name"}
    tenants[1]["s3"] = {"buckets": ["assets"]}
    errors = refusal(tenants)
    assert ("tenant globex: postgresql.database: database shop is also tenant acme's (database names are shared by "
            "every tenant of the server)") in errors
    assert any(error.startswith("tenant globex: postgresql.owner: 'Bad-Name' is not a PostgreSQL name") for error in errors)
    assert any(error.startswith("tenant globex: s3: the tenant's services do not name s3") for error in errors)


def test_every_problem_is_reported_at_once():
    tenants = copy.deepcopy(TENANTS)
    tenants[1]["guests"][0]["name"] = "App1"
    errors = refusal(tenants, settings={"domain": "lab.internal", "ttl": 0})
    assert "homecloud_shared_services.ttl: 0 is not a TTL (an integer of seconds, 1 to 604800)" in errors
    assert any("guest 'App1': name is not a DNS label" in error for error in errors)
    assert refusal(settings={"domain": "Lab.Internal."}) == [
        "homecloud_shared_services.domain: 'Lab.Internal.' is not a DNS domain (labels of a-z, 0-9 and '-', separated by "
        "dots, no trailing dot)"]


def test_a_tenant_named_like_a_service_is_refused():
    tenants = copy.deepcopy(TENANTS)
    tenants[1]["name"] = "dns"
    assert any(error.startswith("tenant dns: its zone dns.lab.internal would hide the shared service")
               for error in refusal(tenants))
