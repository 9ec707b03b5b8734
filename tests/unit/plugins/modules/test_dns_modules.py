# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""dns_zone and dns_record in process, against technitiumsim through the real client: check mode plans what the real
run then does and sends no write, a second run writes nothing, dns_record replaces and removes one record set, and
the refusals (a name outside the zone, two entries for one name and type, zone deletion by dynamic update, a missing
zone) come before any request or write."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from technitiumsim import TechnitiumSimulator
from technitiumsim.testing import DEMO_TOKEN, dns_query

from ansible_collections.homecloud.proxmox.plugins.module_utils.dns import dns_argument_spec
from ansible_collections.homecloud.proxmox.plugins.modules import dns_record, dns_zone

ZONE = "acme.lab.internal"
WRITES = ("/api/zones/create", "/api/zones/delete", "/api/zones/records/add", "/api/zones/records/delete")


class Exited(Exception):
    def __init__(self, result, failed=False):
        super(Exited, self).__init__(result.get("msg"))
        self.result = result
        self.failed = failed


class FakeModule:
    """What the modules use of AnsibleModule; exit_json/fail_json end the run with its result."""

    def __init__(self, params, check_mode):
        self.params = params
        self.check_mode = check_mode
        self._diff = True
        self.no_log_values = set()
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)

    def exit_json(self, **result):
        raise Exited(result)

    def fail_json(self, **result):
        raise Exited(result, failed=True)


def run(sim, module, check_mode=False, **params):
    """One module run: its result (failed=True on failure), with the values it asked Ansible to hide."""
    spec = dict(dns_argument_spec(), **module.ARGUMENT_SPEC)
    values = dict((name, option.get("default")) for name, option in spec.items())
    values.update(provider="technitium", api_url=sim.url, api_token=DEMO_TOKEN, timeout=5)
    values.update(params)
    for entry in values.get("records") or []:
        entry.setdefault("ttl", 3600)
    fake_module = FakeModule(values, check_mode)
    module_class = dns_zone.DnsZone if module is dns_zone else dns_record.DnsRecord
    with pytest.raises(Exited) as ended:
        module_class(fake_module).execute()
    return dict(ended.value.result, failed=ended.value.failed, no_log_values=fake_module.no_log_values, warnings=fake_module.warnings)


def writes(sim):
    return [(entry["path"], entry["params"].get("domain") or entry["params"].get("zone")) for entry in sim.requests()
            if entry["path"] in WRITES]


@pytest.fixture(scope="module")
def module_sim():
    with TechnitiumSimulator(port=0, dns_port=0) as simulator:
        yield simulator


@pytest.fixture
def sim(module_sim):  # pylint: disable=redefined-outer-name
    module_sim.reset()
    return module_sim


RECORDS = [dict(name="web1", type="A", values=["10.128.17.10"], ttl=300),
           dict(name="www", type="CNAME", values=["web1.acme.lab.internal"])]


def test_a_zone_is_planned_in_check_mode_then_made_and_a_second_run_writes_nothing(sim):  # pylint: disable=redefined-outer-name
    planned = run(sim, dns_zone, check_mode=True, name=ZONE, records=[dict(entry) for entry in RECORDS])
    assert planned["changed"] and planned["created"] and writes(sim) == []
    assert planned["diff"] == dict(before=dict(records=[]), after=dict(records=[
        "web1 300 A 10.128.17.10", "www 3600 CNAME web1.acme.lab.internal."]))
    assert DEMO_TOKEN in planned["no_log_values"]

    done = run(sim, dns_zone, name=ZONE, records=[dict(entry) for entry in RECORDS])
    assert not done["failed"], done["msg"]
    assert (done["writes"], done["diff"], done["records_added"]) == (planned["writes"], planned["diff"], planned["records_added"])
    assert writes(sim) == [("/api/zones/create", ZONE), ("/api/zones/records/add", "web1." + ZONE),
                           ("/api/zones/records/add", "www." + ZONE)]

    again = run(sim, dns_zone, name=ZONE, records=[dict(entry) for entry in RECORDS])
    assert (again["changed"], again["writes"], again["created"], again["records_removed"]) == (False, [], False, [])
    assert len(writes(sim)) == 3


def test_dns_record_replaces_one_set_and_removes_it(sim):  # pylint: disable=redefined-outer-name
    run(sim, dns_zone, name=ZONE, records=[dict(entry) for entry in RECORDS])
    changed = run(sim, dns_record, zone=ZONE, name="web1.acme.lab.internal.", type="A", values=["10.128.17.10", "10.128.17.12"],
                  ttl=300)
    assert changed["records_added"] == ["web1 300 A 10.128.17.12"] and changed["records_removed"] == []
    assert changed["record"] == dict(zone=ZONE, name="web1." + ZONE, type="A", ttl=300, values=["10.128.17.10", "10.128.17.12"])
    # the first value replaces the set (overwrite), the second is added
    assert [write.split(" overwrite=")[1].split()[0] for write in changed["writes"]] == ["true", "false"]
    same = run(sim, dns_record, zone=ZONE, name="web1", type="A", values=["10.128.17.12", "10.128.17.10"], ttl=300)
    assert not same["changed"] and same["writes"] == []

    count = len(writes(sim))
    planned = run(sim, dns_record, check_mode=True, zone=ZONE, name="web1", type="A", state="absent")
    assert planned["changed"] and len(writes(sim)) == count
    removed = run(sim, dns_record, zone=ZONE, name="web1", type="A", state="absent")
    assert removed["writes"] == planned["writes"] and removed["record"] == {} and len(removed["writes"]) == 2
    assert removed["records_removed"] == ["web1 300 A 10.128.17.10", "web1 300 A 10.128.17.12"]
    gone = run(sim, dns_record, zone=ZONE, name="web1", type="A", state="absent")
    assert not gone["changed"]


def test_refusals_come_before_any_request(sim):  # pylint: disable=redefined-outer-name
    outside = run(sim, dns_record, zone=ZONE, name="app1.globex.lab.internal", type="A", values=["10.128.33.10"])
    assert outside["failed"] and outside["msg"] == ("name 'app1.globex.lab.internal' is not inside zone acme.lab.internal; "
                                                    "nothing was changed")
    twice = run(sim, dns_zone, name=ZONE, records=[dict(name="web1", type="A", values=["10.0.0.1"]),
                                                   dict(name="WEB1.acme.lab.internal", type="A", values=["10.0.0.2"])])
    assert twice["failed"] and twice["msg"].startswith("records[0] and records[1] both declare web1 A")
    mixed = run(sim, dns_zone, name=ZONE, records=[dict(name="www", type="A", values=["10.0.0.1"]),
                                                   dict(name="www", type="CNAME", values=["web1.acme.lab.internal"])])
    assert mixed["failed"] and "a CNAME cannot share its name with other records" in mixed["msg"]
    dynamic = run(sim, dns_zone, provider="rfc2136", name=ZONE, state="absent")
    assert dynamic["failed"] and "provider=rfc2136 cannot delete zone acme.lab.internal" in dynamic["msg"]
    no_key = run(sim, dns_record, provider="rfc2136", zone=ZONE, name="web1", type="A", values=["10.0.0.1"])
    assert no_key["failed"] and no_key["msg"].startswith("tsig_key_file, or tsig_key_name with tsig_secret")
    assert sim.requests() == []

    missing = run(sim, dns_record, zone=ZONE, name="web1", type="A", values=["10.0.0.1"])
    assert missing["failed"] and missing["msg"].startswith("zone acme.lab.internal does not exist on the Technitium server at http")
    # in check mode the zone may come from an earlier task of the same run: a warning, the record planned as its first
    planned = run(sim, dns_record, check_mode=True, zone=ZONE, name="web1", type="A", values=["10.0.0.1"])
    assert not planned["failed"] and planned["records_added"] == ["web1 3600 A 10.0.0.1"]
    assert planned["warnings"][0].startswith("zone acme.lab.internal does not exist on the Technitium server")
    assert writes(sim) == []


def test_purge_keeps_soa_and_ns_and_absent_deletes_the_zone(sim):  # pylint: disable=redefined-outer-name
    run(sim, dns_zone, name=ZONE, records=[dict(entry) for entry in RECORDS])
    purged = run(sim, dns_zone, name=ZONE, records=[], purge=True)
    assert purged["records_removed"] == ["web1 300 A 10.128.17.10", "www 3600 CNAME web1.acme.lab.internal."]
    assert purged["records"] == []
    assert [rrset.rdtype.name for rrset in dns_query(sim, ZONE, "SOA").answer] == ["SOA"]
    assert [rrset.rdtype.name for rrset in dns_query(sim, ZONE, "NS").answer] == ["NS"]
    deleted = run(sim, dns_zone, name=ZONE, state="absent")
    assert deleted["changed"] and deleted["writes"] == ["POST /api/zones/delete zone=acme.lab.internal"]
    assert run(sim, dns_zone, name=ZONE, state="absent")["changed"] is False
