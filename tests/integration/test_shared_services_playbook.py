# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/shared_services.yml against the Proxmox VE simulator and the Technitium DNS Server simulator.

The services' own software (BIND, SeaweedFS, PostgreSQL through the roles dns_server, object_storage and
postgres_server) is proven on real software by the Molecule scenarios of the same names; the demo inventory has no
hosts in their groups, so here the playbook builds the services' guests in the shared zone and converges every
zone of the internal domain through Technitium's API. What is proven here: the check run writes nothing; the
guests as the plan says; every name resolves over DNS from the simulator's DNS service, forward and reverse; a
second run writes nothing; a run for one tenant touches only its zones, and a guest removed from the inventory
loses its records; the API token never shows, even at -vvv; bad input is refused before any write.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import dns.rcode
import pytest
import yaml

from technitiumsim import TechnitiumSimulator
from technitiumsim.testing import dns_query

from .playbook import run_repo_playbook
from .prepared_cluster import inventory, prepare

PLAYBOOK = "playbooks/shared_services.yml"
PVE_WRITES = ("POST", "PUT", "DELETE")
# Technitium's calls that change something (every call is GET or POST there)
DNS_WRITES = ("/api/zones/create", "/api/zones/delete", "/api/zones/records/add", "/api/zones/records/update",
              "/api/zones/records/delete")
SERVICE_GUESTS = {10010: ("dns", "10.128.1.10"), 10011: ("s3", "10.128.1.11"), 10012: ("postgresql", "10.128.1.12")}


@pytest.fixture(scope="module")
def _technitium():
    with TechnitiumSimulator(port=0, dns_port=0) as simulator:
        yield simulator


@pytest.fixture
def technitium(_technitium):  # pylint: disable=redefined-outer-name
    _technitium.reset()
    return _technitium


def run(sim, technitium, path, *options):  # pylint: disable=redefined-outer-name
    return run_repo_playbook(sim, PLAYBOOK, inventory=path, timeout=600, technitium=technitium, options=list(options))


def pve_writes(sim, since=0):
    return [(entry["method"], entry["path"]) for entry in sim.requests()[since:] if entry["method"] in PVE_WRITES]


def dns_writes(technitium, since=0):  # pylint: disable=redefined-outer-name
    return [entry for entry in technitium.requests()[since:] if entry["path"] in DNS_WRITES]


def changed(process):
    return dict((host, int(count)) for host, count in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", process.stdout, re.M))


def resolve(technitium, name, rtype):  # pylint: disable=redefined-outer-name
    """The answer's values for name/rtype from the simulator's DNS service, or its rcode name when it has none."""
    answer = dns_query(technitium, name, rtype)
    values = sorted(item.to_text() for rrset in answer.answer for item in rrset)
    return values or dns.rcode.to_text(answer.rcode())


def edit_tenants(path, edit):
    tenants_file = os.path.join(path, "group_vars", "all", "tenants.yml")
    with open(tenants_file) as handle:
        tenants = yaml.safe_load(handle)
    edit(dict((tenant["name"], tenant) for tenant in tenants["homecloud_tenants"]))
    with open(tenants_file, "w") as handle:
        yaml.safe_dump(tenants, handle)


@pytest.mark.timeout(900)
def test_guests_and_zones_converge_resolve_and_a_second_run_writes_nothing(sim, technitium, tmp_path, made_once):  # pylint: disable=redefined-outer-name
    sim, path = prepare(sim, tmp_path, made_once)
    pve_before, dns_before = len(sim.requests()), len(technitium.requests())
    check = run(sim, technitium, path, "--check", "--diff")
    assert check.returncode == 0, check.stdout[-4000:]
    assert pve_writes(sim, pve_before) == [] and dns_writes(technitium, dns_before) == []

    process = run(sim, technitium, path)
    assert process.returncode == 0, process.stdout[-5000:]
    # the services' guests, in the shared zone's pool, with the addresses of homecloud_firewall.services
    for vmid, (name, address) in SERVICE_GUESTS.items():
        config = sim.areas["GuestsArea"].record(vmid)["config"]
        assert config["name"] == name and config["ipconfig0"].startswith("ip=%s/24," % address), config
        assert "bridge=shared01" in config["net0"]
    # every planned name answers over DNS, forward and reverse; the guests of test_tenant_guests' inventory
    assert resolve(technitium, "s3.lab.internal", "A") == ["10.128.1.11"]
    assert resolve(technitium, "11.1.128.10.in-addr.arpa", "PTR") == ["s3.lab.internal."]
    assert resolve(technitium, "web3.acme.lab.internal", "A") == ["10.128.17.40"]
    assert resolve(technitium, "40.17.128.10.in-addr.arpa", "PTR") == ["web3.acme.lab.internal."]
    assert resolve(technitium, "gw-db.acme.lab.internal", "A") == ["10.128.18.2"]
    assert resolve(technitium, "app1.globex.lab.internal", "A") == ["10.128.33.10"]
    assert resolve(technitium, "web1.globex.lab.internal", "A") == "NXDOMAIN"

    pve_again, dns_again = len(sim.requests()), len(technitium.requests())
    again = run(sim, technitium, path, "-vvv")
    assert again.returncode == 0, again.stdout[-4000:]
    assert set(changed(again).values()) == {0}, again.stdout[-3000:]
    assert pve_writes(sim, pve_again) == [] and dns_writes(technitium, dns_again) == []
    token = next(iter(technitium.tokens))
    assert token not in again.stdout + again.stderr + process.stdout + check.stdout

    # a ticket for acme: web3 is gone; only acme's zones are read or written, and web3's records are gone
    edit_tenants(path, lambda tenants: tenants["acme"].update(
        guests=[guest for guest in tenants["acme"]["guests"] if guest["name"] != "web3"]))
    dns_ticket = len(technitium.requests())
    ticket = run(sim, technitium, path, "-e", "homecloud_tenant=acme", "--skip-tags", "services_guests")
    assert ticket.returncode == 0, ticket.stdout[-4000:]
    zones = set(entry["params"].get("zone") for entry in technitium.requests()[dns_ticket:] if entry["params"].get("zone"))
    assert zones and all(zone.endswith(("acme.lab.internal", "17.128.10.in-addr.arpa", "18.128.10.in-addr.arpa"))
                         for zone in zones), zones
    assert resolve(technitium, "web3.acme.lab.internal", "A") == "NXDOMAIN"
    assert resolve(technitium, "40.17.128.10.in-addr.arpa", "PTR") == "NXDOMAIN"
    assert resolve(technitium, "web1.acme.lab.internal", "A") == ["10.128.17.10"]


BAD_INPUT = [
    (lambda tenants: tenants["acme"].update(s3={"buckets": ["Backups"]}),
     "tenant acme: s3.buckets[0]: 'Backups' (bucket 'acme-Backups') is not a valid S3 bucket name"),
    (lambda tenants: tenants["acme"].update(dns={"records": [{"name": "www.globex.lab.internal.", "type": "A",
                                                              "value": "10.128.17.10"}]}),
     "tenant acme: dns.records[0].name: www.globex.lab.internal. is outside the tenant's zone acme.lab.internal"),
    (lambda tenants: (tenants["acme"].update(postgresql={"database": "shop"}),
                      tenants["globex"].update(services=["postgresql"], postgresql={"database": "shop"})),
     "tenant globex: postgresql.database: database shop is also tenant acme's"),
]


@pytest.mark.parametrize("edit, message", BAD_INPUT, ids=["bucket-name", "record-outside-zone", "database-clash"])
def test_bad_input_is_refused_before_any_write_naming_tenant_and_field(sim, technitium, tmp_path, edit, message):  # pylint: disable=redefined-outer-name
    path = inventory(tmp_path)
    edit_tenants(path, edit)
    pve_before, dns_before = len(sim.requests()), len(technitium.requests())
    process = run(sim, technitium, path, "-e", "homecloud_tenant=acme")
    assert process.returncode != 0
    assert message in process.stdout, process.stdout[-3000:]
    assert pve_writes(sim, pve_before) == [] and dns_writes(technitium, dns_before) == []
