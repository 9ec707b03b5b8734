# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sdn_ipam, sdn_dns and sdn_ip against the simulator: idempotence, secrets kept out of results and diffs,
exact check mode, the lock token on 9.x, zones referring to the plugins, and IP reservations with a MAC."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from .playbook import run_tasks

WRITES = ("POST", "PUT", "DELETE")
NETBOX = dict(ipam="netbox", type="netbox", url="https://netbox.example/api", token="first-netbox-token")
POWERDNS = dict(dns="pdns", type="powerdns", url="https://pdns.example:8081/api/v1/servers/localhost",
                key="first-pdns-key", ttl=300)
MAC = "BC:24:11:4A:00:10"
OTHER_MAC = "BC:24:11:4A:00:20"


def writes(sim, path_start="/cluster/sdn"):
    return [(entry["method"], entry["path"]) for entry in sim.requests()
            if entry["method"] in WRITES and entry["path"].startswith(path_start)]


@pytest.mark.parametrize("version", ["8.4", "9.1"])
def test_ipam_and_dns_are_idempotent_and_never_show_their_secrets(sim_factory, tmp_path, version):
    sim = sim_factory(version=version)
    process, results = run_tasks(sim, tmp_path, [
        ("sdn_ipam", NETBOX), ("sdn_dns", POWERDNS),
        ("sdn_ipam", NETBOX), ("sdn_dns", POWERDNS),
        ("sdn_ipam", dict(NETBOX, token="second-netbox-token")), ("sdn_dns", dict(POWERDNS, ttl=600)),
        ("sdn_ipam", dict(ipam="netbox")),
    ])
    assert process.returncode == 0, process.stdout[-5000:]
    created_ipam, created_dns, same_ipam, same_dns, new_token, new_ttl, unchanged = results
    assert created_ipam["changed"] and created_ipam["sdn_changes"] == ["ipam/netbox"]
    assert created_ipam["ipam"] == dict(ipam="netbox", type="netbox", url=NETBOX["url"], token="********", state="applied")
    assert created_dns["changed"] and created_dns["dns"]["key"] == "********" and created_dns["dns"]["ttl"] == 300
    assert not same_ipam["changed"] and not same_dns["changed"]
    assert new_token["changed"]
    assert new_token["diff"] == {"before": {"ipams": {"netbox": {"type": "netbox", "url": NETBOX["url"], "token": "********"}}},
                                 "after": {"ipams": {"netbox": {"type": "netbox", "url": NETBOX["url"],
                                                                "token": "******** (changed)"}}}}
    assert new_ttl["diff"]["before"]["dns"]["pdns"]["ttl"] == 300 and new_ttl["diff"]["after"]["dns"]["pdns"]["ttl"] == 600
    assert not unchanged["changed"] and unchanged["ipam"]["token"] == "********", "a stored token stays hidden"
    for secret in ("first-netbox-token", "second-netbox-token", "first-pdns-key"):
        assert secret not in json.dumps(results) and secret not in process.stdout
    # PVE holds what was written, with the secrets (it returns them; pve-network keeps them in sdn/ipams.cfg, sdn/dns.cfg)
    assert sim.state.namespace("sdn")["ipams"]["netbox"]["token"] == "second-netbox-token"
    assert sim.state.namespace("sdn")["dns"]["pdns"] == dict(type="powerdns", url=POWERDNS["url"], key="first-pdns-key", ttl=600)
    assert [write for write in writes(sim) if write[1] != "/cluster/sdn/lock"] == [
        ("POST", "/cluster/sdn/ipams"), ("POST", "/cluster/sdn/dns"), ("PUT", "/cluster/sdn/ipams/netbox"), ("PUT", "/cluster/sdn/dns/pdns")]
    plugin_reads = [entry["params"] for entry in sim.requests() if entry["method"] == "GET"
                    and entry["path"] in ("/cluster/sdn/ipams", "/cluster/sdn/dns")]
    assert plugin_reads and all("pending" not in params for params in plugin_reads), "their index takes no pending"


def test_ipam_writes_use_the_lock_token_on_9x(sim, tmp_path):
    process, results = run_tasks(sim, tmp_path, [("sdn_ipam", NETBOX), ("sdn_ipam", dict(NETBOX, state="absent"))])
    assert process.returncode == 0, process.stdout[-5000:]
    assert [result["changed"] for result in results] == [True, True] and results[1]["ipam"] is None
    ipam_writes = [entry for entry in sim.requests() if entry["method"] in WRITES and entry["path"].startswith("/cluster/sdn/ipams")]
    assert [entry["method"] for entry in ipam_writes] == ["POST", "DELETE"]
    assert all(entry["params"].get("lock-token") for entry in ipam_writes)
    assert sim.state.namespace("sdn")["lock"] is None, "the lock was released"
    assert sim.counters()["sdn_applies"] == 0


def test_check_mode_writes_nothing_and_predicts_the_diff(sim, tmp_path):
    process, predicted = run_tasks(sim, tmp_path, [("sdn_ipam", NETBOX), ("sdn_dns", POWERDNS)], check=True)
    assert process.returncode == 0, process.stdout[-5000:]
    assert writes(sim) == []
    process, real = run_tasks(sim, tmp_path, [("sdn_ipam", NETBOX), ("sdn_dns", POWERDNS)])
    assert process.returncode == 0, process.stdout[-5000:]
    assert [result["diff"] for result in predicted] == [result["diff"] for result in real]
    assert predicted[0]["ipam"]["state"] == "planned" and predicted[0]["ipam"]["token"] == "********"


def test_refusals(sim, tmp_path):
    process, results = run_tasks(sim, tmp_path, [
        ("sdn_ipam", dict(ipam="pve", state="absent")),
        ("sdn_ipam", dict(ipam="php", type="phpipam", url="https://phpipam.example/api/pve", token="phpipam-token")),
        ("sdn_dns", dict(dns="pdns", type="powerdns", url=POWERDNS["url"], key="pdns-key-one", reversemaskv6=64)),
        ("sdn_dns", dict(dns="pdns", type="powerdns", key="pdns-key-two")),
        ("sdn_ipam", dict(ipam="my_ipam", type="pve")),
    ])
    assert process.returncode == 0, process.stdout[-5000:]  # failures are ignored and asserted one by one
    builtin, no_section, created, retype, bad_id = results
    assert builtin["failed"] and "the IPAM 'pve' is built in" in builtin["msg"]
    assert no_section["failed"] and "missing value for required option 'section'" in no_section["msg"]
    assert not created.get("failed") and created["changed"]
    assert not retype.get("failed") and retype["changed"], "only the key changed; the type was the same"
    assert bad_id["failed"] and "ipam id 'my_ipam' is invalid" in bad_id["msg"]
    # the phpIPAM create was sent and refused; the built-in IPAM and the invalid id were refused before any write
    assert writes(sim, "/cluster/sdn/ipams") + writes(sim, "/cluster/sdn/dns") == [
        ("POST", "/cluster/sdn/ipams"), ("POST", "/cluster/sdn/dns"), ("PUT", "/cluster/sdn/dns/pdns")]


def test_zones_refer_to_the_plugins_and_an_unknown_one_is_refused(sim, tmp_path):
    process, results = run_tasks(sim, tmp_path, [
        ("sdn_ipam", NETBOX), ("sdn_dns", POWERDNS),
        ("sdn_zone", dict(zone="acme", type="simple", ipam="netbox", dns="pdns", reversedns="pdns", dnszone="acme.example")),
        ("sdn_zone", dict(zone="globex", type="simple", ipam="nosuch")),
        ("sdn_zone", dict(zone="initech", type="simple", dns="nodns")),
        ("sdn_dns", dict(dns="pdns", state="absent")),
    ])
    assert process.returncode == 0, process.stdout[-5000:]  # failures are ignored and asserted one by one
    _ipam, _dns, acme, unknown_ipam, unknown_dns, _gone = results
    assert acme["changed"] and acme["zone"]["ipam"] == "netbox" and acme["zone"]["dns"] == "pdns"
    # PVE's message, with the detail lines of its body that name the refused field
    assert unknown_ipam["failed"] and (
        "create sdn zone object failed: 400 Parameter verification failed. - ipam: nosuch not existing;" in unknown_ipam["msg"])
    assert unknown_dns["failed"] and "create sdn zone object failed: 400 Parameter verification failed. - dns: " in unknown_dns["msg"]
    assert sorted(sim.state.namespace("sdn")["pending"]["zones"]) == ["acme"]


# --- sdn_ip ------------------------------------------------------------------------------------------

def dhcp_zone(api, zone="acme", dhcp=True):
    """A simple zone with PVE's IPAM and DHCP, VNet <zone>01 with 10.10.1.0/24, applied."""
    api.data("POST", "/cluster/sdn/zones", data=dict(zone=zone, type="simple", ipam="pve", **({"dhcp": "dnsmasq"} if dhcp else {})))
    api.data("POST", "/cluster/sdn/vnets", data=dict(vnet=zone + "01", zone=zone))
    api.data("POST", "/cluster/sdn/vnets/{0}01/subnets".format(zone),
             data={"subnet": "10.10.1.0/24", "type": "subnet", "gateway": "10.10.1.1",
                   "dhcp-range": "start-address=10.10.1.100,end-address=10.10.1.200"})
    api.data("PUT", "/cluster/sdn")


def reservations(api):
    """The pve IPAM's entries by address; the guest id as an integer (8.4 returns the string it stored)."""
    return dict((entry["ip"], dict((key, int(entry[key]) if key == "vmid" else entry[key])
                                   for key in ("mac", "vmid", "gateway") if key in entry))
                for entry in api.data("GET", "/cluster/sdn/ipams/pve/status"))


@pytest.fixture
def api(sim, api_session):
    return api_session(sim)


@pytest.mark.parametrize("version", ["8.4", "9.1"])
def test_reservation_create_keep_vmid_other_mac_and_delete(sim_factory, api_session, tmp_path, version):
    sim = sim_factory(version=version)
    api = api_session(sim)
    dhcp_zone(api)
    base = dict(vnet="acme01", ip="10.10.1.10")
    process, results = run_tasks(sim, tmp_path, [
        ("sdn_ip", dict(base, mac=MAC)),
        ("sdn_ip", dict(base, mac=MAC.lower())),
        ("sdn_ip", dict(base, mac=MAC, vmid=4010)),
        ("sdn_ip", dict(base, mac=OTHER_MAC, vmid=4020)),
        ("sdn_ip", dict(base, mac=MAC, state="absent")),
    ])
    assert process.returncode == 0, process.stdout[-5000:]
    created, same, vmid, other, not_mine = results
    assert created["changed"] and created["writes"] == ["POST /cluster/sdn/vnets/acme01/ips ip=10.10.1.10 mac=" + MAC]
    assert created["reservation"] == dict(vnet="acme01", zone="acme", subnet="10.10.1.0/24", ip="10.10.1.10", mac=MAC)
    assert not same["changed"] and same["writes"] == [], "the same MAC in another case is the same reservation"
    assert vmid["changed"] and vmid["writes"] == ["PUT /cluster/sdn/vnets/acme01/ips ip=10.10.1.10 mac={0} vmid=4010".format(MAC)]
    assert other["writes"] == ["DELETE /cluster/sdn/vnets/acme01/ips ip=10.10.1.10 mac=" + MAC,
                               "POST /cluster/sdn/vnets/acme01/ips ip=10.10.1.10 mac=" + OTHER_MAC,
                               "PUT /cluster/sdn/vnets/acme01/ips ip=10.10.1.10 mac={0} vmid=4020".format(OTHER_MAC)]
    assert other["diff"] == {"before": {"reservations": {"10.10.1.10": dict(ip="10.10.1.10", mac=MAC, vmid=4010)}},
                             "after": {"reservations": {"10.10.1.10": dict(ip="10.10.1.10", mac=OTHER_MAC, vmid=4020)}}}
    assert not not_mine["changed"], "absent with a MAC removes only that MAC's reservation"
    assert reservations(api) == {"10.10.1.1": {"gateway": 1}, "10.10.1.10": {"mac": OTHER_MAC, "vmid": 4020}}
    process, results = run_tasks(sim, tmp_path, [("sdn_ip", dict(base, state="absent")), ("sdn_ip", dict(base, state="absent"))])
    assert process.returncode == 0, process.stdout[-5000:]
    assert [result["changed"] for result in results] == [True, False] and results[0]["reservation"] is None
    assert reservations(api) == {"10.10.1.1": {"gateway": 1}}


def test_a_failure_half_way_says_which_calls_were_made(sim, api, tmp_path):
    dhcp_zone(api)
    api.data("POST", "/cluster/sdn/vnets/acme01/ips", data=dict(zone="acme", ip="10.10.1.10", mac=MAC))
    sim.inject_fault(method="POST", path="^/cluster/sdn/vnets/acme01/ips$", status=500, message="ipam refused\n")
    process, results = run_tasks(sim, tmp_path, [("sdn_ip", dict(vnet="acme01", ip="10.10.1.10", mac=OTHER_MAC))])
    assert process.returncode == 0, process.stdout[-5000:]  # failures are ignored and asserted one by one
    failed = results[0]
    assert failed["failed"] and failed["changed"] and "ipam refused" in failed["msg"]
    assert failed["written"] == ["DELETE /cluster/sdn/vnets/acme01/ips ip=10.10.1.10 mac=" + MAC]
    process, results = run_tasks(sim, tmp_path, [("sdn_ip", dict(vnet="acme01", ip="10.10.1.10", mac=OTHER_MAC))])
    assert results[0]["changed"] and "written" not in results[0]
    assert reservations(api)["10.10.1.10"] == {"mac": OTHER_MAC}


def test_reservation_check_mode_is_exact(sim, api, tmp_path):
    dhcp_zone(api)
    api.data("POST", "/cluster/sdn/vnets/acme01/ips", data=dict(zone="acme", ip="10.10.1.10", mac=MAC))
    task = [("sdn_ip", dict(vnet="acme01", ip="10.10.1.10", mac=OTHER_MAC, vmid=107))]
    count = len(writes(sim))
    process, predicted = run_tasks(sim, tmp_path, task, check=True)
    assert process.returncode == 0, process.stdout[-5000:]
    assert len(writes(sim)) == count
    process, real = run_tasks(sim, tmp_path, task)
    assert process.returncode == 0, process.stdout[-5000:]
    for key in ("changed", "writes", "diff", "reservation"):
        assert predicted[0][key] == real[0][key], key
    assert len(writes(sim)) == count + 3


def test_a_mac_moves_within_the_vnet_and_is_refused_across_vnets(sim, api, tmp_path):
    dhcp_zone(api)
    api.data("POST", "/cluster/sdn/vnets", data=dict(vnet="acme02", zone="acme"))
    api.data("POST", "/cluster/sdn/vnets/acme02/subnets", data={"subnet": "10.10.2.0/24", "type": "subnet"})
    api.data("PUT", "/cluster/sdn")
    api.data("POST", "/cluster/sdn/vnets/acme01/ips", data=dict(zone="acme", ip="10.10.1.10", mac=MAC))
    process, results = run_tasks(sim, tmp_path, [
        ("sdn_ip", dict(vnet="acme01", ip="10.10.1.11", mac=MAC, vmid=4010)),
        ("sdn_ip", dict(vnet="acme02", ip="10.10.2.10", mac=MAC)),
    ])
    assert process.returncode == 0, process.stdout[-5000:]  # failures are ignored and asserted one by one
    moved, refused = results
    assert moved["writes"] == ["PUT /cluster/sdn/vnets/acme01/ips ip=10.10.1.11 mac={0} vmid=4010".format(MAC)]
    assert moved["diff"] == {"before": {"reservations": {"10.10.1.10": dict(ip="10.10.1.10", mac=MAC)}},
                             "after": {"reservations": {"10.10.1.11": dict(ip="10.10.1.11", mac=MAC, vmid=4010)}}}
    assert refused["failed"] and "mac {0} already has 10.10.1.11 reserved in vnet 'acme01'".format(MAC) in refused["msg"]
    assert reservations(api) == {"10.10.1.1": {"gateway": 1}, "10.10.1.11": {"mac": MAC, "vmid": 4010}}


def test_reservations_are_refused_where_pve_cannot_list_them(sim, api, tmp_path):
    dhcp_zone(api, zone="nodhcp", dhcp=False)
    dhcp_zone(api)
    process, results = run_tasks(sim, tmp_path, [
        ("sdn_ip", dict(vnet="nodhcp01", ip="10.10.1.10", mac=MAC)),
        ("sdn_ip", dict(vnet="acme01", ip="10.10.1.1", mac=MAC)),
        ("sdn_ip", dict(vnet="acme01", ip="10.10.9.1", mac=MAC)),
        ("sdn_ip", dict(vnet="nosuch", ip="10.10.1.10", mac=MAC)),
        ("sdn_ip", dict(vnet="nosuch", ip="10.10.1.10", state="absent")),
        ("sdn_ip", dict(vnet="acme01", ip="10.10.1.300", mac=MAC)),
    ])
    assert process.returncode == 0, process.stdout[-5000:]  # failures are ignored and asserted one by one
    nodhcp, gateway, outside, no_vnet, absent_no_vnet, bad_ip = results
    assert "zone 'nodhcp' of vnet 'nodhcp01' must be applied with ipam 'pve' and dhcp set" in nodhcp["msg"]
    assert "10.10.1.1 is the gateway of subnet 10.10.1.0/24" in gateway["msg"]
    assert "no applied subnet of vnet 'acme01' holds 10.10.9.1" in outside["msg"]
    assert "vnet 'nosuch' does not exist" in no_vnet["msg"]
    assert not absent_no_vnet.get("failed") and not absent_no_vnet["changed"]
    assert "is not an IP address" in bad_ip["msg"]
    assert [path for _method, path in writes(sim) if path.endswith("/ips")] == []
