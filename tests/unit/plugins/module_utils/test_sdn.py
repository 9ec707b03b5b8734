# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SDN engine's logic without a server: value forms, the pending view, plans, requests."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn import (
    KINDS,
    WRITE_ORDER,
    Change,
    ChangeSet,
    SdnReader,
    cidr_of_subnet_id,
    effective_entry,
    option_spec,
    subnet_cidr,
    subnet_id,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn_rules import id_error


class FakeClient:
    """Answers GETs of ?pending=1 lists from a dict of path -> entries."""

    def __init__(self, lists):
        self.lists = lists
        self.gets = []

    def get(self, path, **params):
        self.gets.append((path, params))
        return self.lists.get(path, [])


def test_values_compare_in_one_form_whatever_pve_or_the_user_sent():
    zone = KINDS["zone"].fields
    assert zone["nodes"].from_pve("pve2,pve1") == zone["nodes"].normalize(["pve1", "pve2"]) == ["pve1", "pve2"]
    assert zone["advertise_subnets"].from_pve(1) is True and zone["advertise_subnets"].from_pve("0") is False
    assert zone["vrf_vxlan"].from_pve("10003") == 10003
    ranges = KINDS["subnet"].fields["dhcp_range"]
    assert ranges.from_pve([{"start-address": "10.0.0.20", "end-address": "10.0.0.30"},
                            {"start-address": "10.0.0.10", "end-address": "10.0.0.15"}]) == [
        {"start_address": "10.0.0.10", "end_address": "10.0.0.15"}, {"start_address": "10.0.0.20", "end_address": "10.0.0.30"}]
    assert ranges.to_pve([{"start_address": "10.0.0.10", "end_address": "10.0.0.15"}]) == [
        "start-address=10.0.0.10,end-address=10.0.0.15"]
    assert zone["exitnodes"].to_pve(["pve1", "pve2"]) == "pve1,pve2"


def test_pending_view_entries_are_read_with_their_pending_values():
    """pve-network SDN.pm pending_config: running values on top, changes under `pending`."""
    assert effective_entry({"zone": "acme", "type": "evpn", "mtu": 1450, "state": "changed",
                            "pending": {"mtu": 1400, "exitnodes": "deleted"}, "exitnodes": "pve1"}) == {
        "zone": "acme", "type": "evpn", "mtu": 1400, "state": "changed"}
    assert effective_entry({"zone": "new", "type": "simple", "state": "new", "pending": {"mtu": 1500}})["mtu"] == 1500


def test_ids_follow_pves_rules():
    assert id_error("zone", "acme", "zones[0]") is None
    assert id_error("zone", "toolongid", "zones[0]") == (
        "zones[0]: zone id 'toolongid' is invalid: a zone id is 2 to 8 ASCII letters and digits, starting with a letter "
        "(PVE's rule [a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9])")
    assert id_error("vnet", "a", "x") and id_error("vnet", "1abc", "x") and id_error("vnet", "ab_c", "x")
    assert id_error("controller", "evpn-ctl_1", "x") is None


@pytest.mark.parametrize("kind, typed", [
    ("zone", "globex\n"), ("zone", "qH\u01308"), ("zone", "\u017facme"), ("vnet", "acme01\n"), ("vnet", "\u212aelvin"),
    ("controller", "evpn\n"), ("zone", "ac me"), ("zone", "\uff41cme"),
])
def test_ids_are_plain_ascii_matched_whole(kind, typed):
    """Python's re.I folds U+0130, U+017F and U+212A to ASCII letters, and `$` matches before a final newline."""
    assert id_error(kind, typed, "where") is not None


def test_subnets():
    assert subnet_cidr("10.0.1.0/24", "s") == ("10.0.1.0/24", None)
    assert "has host bits set" in subnet_cidr("10.0.1.7/24", "s")[1]
    assert subnet_cidr("10.0.1.0", "s") == (None, "s: subnet '10.0.1.0' needs its prefix length, like 10.0.1.0/24")
    assert subnet_cidr("10.0.1.0/24\n", "s")[0] is None
    assert "is not a network in CIDR form" in subnet_cidr("10.0.1.0/33", "s")[1]
    assert subnet_id("acme", "10.0.1.0/24") == "acme-10.0.1.0-24"
    assert cidr_of_subnet_id("acme-10.0.1.0-24") == "10.0.1.0/24"
    assert cidr_of_subnet_id("acme-2001:db8::-64") == "2001:db8::/64"


def cluster(**lists):
    paths = dict(zone="/cluster/sdn/zones", vnet="/cluster/sdn/vnets", controller="/cluster/sdn/controllers")
    return SdnReader(FakeClient(dict((paths[name], entries) for name, entries in lists.items())))


def test_a_plan_creates_updates_and_leaves_alone():
    reader = cluster(zone=[{"zone": "acme", "type": "evpn", "controller": "ctl", "vrf-vxlan": 10001, "mtu": 1450},
                           {"zone": "same", "type": "simple", "mtu": 1500}])
    plan = ChangeSet(reader)
    plan.present("zone", "acme", {"mtu": 1400, "exitnodes": ["pve1"], "controller": None})
    plan.present("zone", "same", {"mtu": 1500})
    plan.present("zone", "fresh", {"type": "simple"})
    assert [(change.action, change.id) for change in plan.changes] == [("update", "acme"), ("create", "fresh")]
    update = plan.changes[0]
    assert update.after == {"type": "evpn", "controller": "ctl", "vrf_vxlan": 10001, "mtu": 1400, "exitnodes": ["pve1"]}
    assert update.request("0190d5b4-token") == ("PUT", "/cluster/sdn/zones/acme",
                                                {"mtu": 1400, "exitnodes": "pve1", "lock-token": "0190d5b4-token"})
    assert plan.changes[1].request() == ("POST", "/cluster/sdn/zones", {"zone": "fresh", "type": "simple"})
    assert plan.diff() == {"before": {"zones": {"acme": {"type": "evpn", "controller": "ctl", "vrf_vxlan": 10001, "mtu": 1450}}},
                           "after": {"zones": {"acme": update.after, "fresh": {"type": "simple"}}}}
    assert len(reader.client.gets) == 1, "one read per collection"


def test_an_empty_value_removes_the_option():
    plan = ChangeSet(cluster(zone=[{"zone": "acme", "type": "evpn", "exitnodes": "pve1,pve2", "mtu": 1450}]))
    plan.present("zone", "acme", {"exitnodes": [], "mtu": 1450})
    assert plan.changes[0].request() == ("PUT", "/cluster/sdn/zones/acme", {"delete": "exitnodes"})


def test_what_pve_cannot_do_is_refused_in_the_plan():
    plan = ChangeSet(cluster(zone=[{"zone": "acme", "type": "simple"}]))
    plan.present("zone", "acme", {"type": "evpn"})
    plan.present("zone", "fresh", {"mtu": 1400})
    plan.present("vnet", "v1", {"tag": 5})
    assert plan.errors == [
        "zone 'acme' has type simple: PVE cannot change it to evpn; remove the zone first",
        "zone 'fresh' does not exist: type is required to create it",
        "vnet 'v1' does not exist: zone is required to create it",
    ]


def test_deletes_come_first_children_before_parents_then_parents_before_children():
    plan = ChangeSet(cluster(zone=[{"zone": "old", "type": "simple"}], vnet=[{"vnet": "oldv", "zone": "old"}]))
    plan.present("subnet", subnet_id("new", "10.0.0.0/24"), {}, parent="newv", name="newv/10.0.0.0/24", known_absent=True)
    plan.present("vnet", "newv", {"zone": "new"})
    plan.absent("zone", "old")
    plan.absent("vnet", "oldv")
    plan.present("zone", "new", {"type": "simple"})
    assert [change.ref for change in plan.ordered()] == ["vnet/oldv", "zone/old", "zone/new", "vnet/newv", "subnet/newv/10.0.0.0/24"]
    assert plan.ordered()[-1].request() == ("POST", "/cluster/sdn/vnets/newv/subnets", {"subnet": "10.0.0.0/24", "type": "subnet"})


def test_pending_changes_inside_and_outside_the_scope():
    plan = ChangeSet(cluster(zone=[{"zone": "acme", "type": "simple", "state": "changed", "pending": {"mtu": 1400}},
                                   {"zone": "other", "type": "simple", "state": "new", "pending": {}}]))
    plan.present("zone", "acme", {"mtu": 1400})
    assert plan.changes == []
    assert [found.ref for found in plan.own_pending()] == ["zone/acme"]
    assert [found.ref for found in plan.foreign_pending()] == ["zone/other"]


@pytest.mark.parametrize("action, expected", [
    ("delete", ("DELETE", "/cluster/sdn/vnets/v1/subnets/acme-10.0.0.0-24", {})),
    ("create", ("POST", "/cluster/sdn/vnets/v1/subnets", {"subnet": "10.0.0.0/24", "type": "subnet", "gateway": "10.0.0.1"})),
])
def test_subnet_requests(action, expected):
    change = Change(action, KINDS["subnet"], "acme-10.0.0.0-24", {"gateway": "10.0.0.1"} if action == "delete" else {},
                    {} if action == "delete" else {"gateway": "10.0.0.1"}, parent="v1", name="v1/10.0.0.0/24")
    assert change.request() == expected


# --- IPAM and DNS plugins (not in the pending/running model) ------------------------------------------


def test_ipam_and_dns_lists_are_read_without_pending():
    reader = SdnReader(FakeClient({
        "/cluster/sdn/ipams": [{"ipam": "pve", "type": "pve", "digest": "d1"},
                               {"ipam": "php", "type": "phpipam", "url": "https://php.example/api/pve", "token": "s3cret",
                                "section": "3", "digest": "d1"}],
        "/cluster/sdn/dns": [{"dns": "pdns", "type": "powerdns", "url": "https://pdns.example/api", "key": "k3y", "ttl": 300}],
    }))
    php = reader.find("ipam", "php")
    assert php.options == {"type": "phpipam", "url": "https://php.example/api/pve", "token": "s3cret", "section": 3}
    assert php.state is None and reader.find("dns", "pdns").options["ttl"] == 300
    reader.objects("zone")
    assert reader.client.gets == [("/cluster/sdn/ipams", {}), ("/cluster/sdn/dns", {}), ("/cluster/sdn/zones", {"pending": 1})]
    assert reader.pending() == []


def test_ipam_plan_compares_the_token_and_keeps_the_type():
    reader = SdnReader(FakeClient({"/cluster/sdn/ipams": [
        {"ipam": "nb", "type": "netbox", "url": "https://nb.example/api", "token": "old"}]}))
    plan = ChangeSet(reader)
    plan.present("ipam", "nb", {"url": "https://nb.example/api", "token": "old"})
    assert plan.changes == []
    plan.present("ipam", "nb", {"token": "new", "fingerprint": ""})
    plan.present("ipam", "fresh", {"type": "phpipam", "url": "https://php.example/api/pve", "token": "t", "section": 3})
    plan.present("dns", "nodns", {"url": "https://pdns.example/api"})
    plan.present("ipam", "nb", {"type": "phpipam"})
    update, create, _refused_create = plan.changes  # the plan keeps it; converge() refuses a plan with errors
    assert update.request("0190d5b4-token") == ("PUT", "/cluster/sdn/ipams/nb", {"token": "new", "lock-token": "0190d5b4-token"})
    assert create.request() == ("POST", "/cluster/sdn/ipams", {"ipam": "fresh", "type": "phpipam", "url": "https://php.example/api/pve",
                                                               "token": "t", "section": 3})
    assert plan.errors == ["dns 'nodns' does not exist: type is required to create it",
                           "ipam 'nb' has type netbox: PVE cannot change it to phpipam; remove the ipam first"]


def test_every_kind_has_its_place_in_the_write_order():
    """A kind missing from WRITE_ORDER would have its writes silently dropped by ordered()."""
    assert sorted(WRITE_ORDER) == sorted(KINDS)
    changes = ChangeSet(cluster(zone=[{"zone": "old", "type": "simple", "ipam": "old"}]))
    changes.present("zone", "acme", {"type": "simple", "ipam": "ipam1"})
    changes.present("ipam", "ipam1", {"type": "netbox", "url": "https://netbox.example/api", "token": "s3cret"})
    changes.absent("zone", "old")
    assert [change.ref for change in changes.ordered()] == ["zone/old", "ipam/ipam1", "zone/acme"]


def test_secrets_are_compared_but_never_shown():
    changes = ChangeSet(SdnReader(FakeClient({"/cluster/sdn/ipams": [
        {"ipam": "nb", "type": "netbox", "url": "https://netbox.example/api", "token": "old"}]})))
    changes.present("ipam", "nb", {"token": "new"})
    assert changes.changes[0].request()[2] == {"token": "new"}
    assert changes.diff() == {"before": {"ipams": {"nb": {"type": "netbox", "url": "https://netbox.example/api", "token": "********"}}},
                              "after": {"ipams": {"nb": {"type": "netbox", "url": "https://netbox.example/api",
                                                         "token": "******** (changed)"}}}}
    assert option_spec("ipam")["token"]["no_log"] is True
