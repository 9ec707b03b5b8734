"""SDN area: objects, validation messages, pending/running views, apply, 9.x lock and rollback, IPAM.

Sources (proxmox/pve-network at ecf98c5, PVE 8.4 = 8f4f5d2, paths under src/PVE/): API2/Network/SDN.pm
and API2/Network/SDN/*.pm, Network/SDN.pm (pending_config, lock_sdn_config), Zones/*Plugin.pm,
Controllers/*Plugin.pm, VnetPlugin.pm, SubnetPlugin.pm, Ipams/PVEPlugin.pm; pve-common
src/PVE/SectionConfig.pm at f665029; pve-docs pvesdn.adoc at e5010dc.
"""

import time

import pytest

from pvesim.testing import assert_pve_error, ok, plain_error

pytestmark = pytest.mark.timeout(60)
PEERS = "10.10.10.11,10.10.10.12,10.10.10.13"
PARAM_FAILED = "Parameter verification failed.\n"


@pytest.fixture
def api(sim, api_session):
    return api_session(sim)


@pytest.fixture
def api84(sim84, api_session):
    return api_session(sim84)


def evpn_setup(api):
    ok(api, "POST", "/cluster/sdn/controllers", controller="evpnctl", type="evpn", asn=65000, peers=PEERS)
    ok(api, "POST", "/cluster/sdn/zones", zone="tenanta", type="evpn", controller="evpnctl", **{"vrf-vxlan": 10000, "ipam": "pve"})
    ok(api, "POST", "/cluster/sdn/vnets", vnet="vneta", zone="tenanta", tag=100)
    ok(api, "POST", "/cluster/sdn/vnets/vneta/subnets", subnet="10.0.0.0/24", type="subnet", gateway="10.0.0.1")


# -- objects and views ------------------------------------------------------------------------------
def test_index_lists_sdn_subdirectories_sdn_pm_index(api, api84):
    assert [entry["id"] for entry in api.data("GET", "/cluster/sdn")] == ["vnets", "zones", "controllers", "ipams", "dns", "fabrics"]
    assert "fabrics" not in [entry["id"] for entry in api84.data("GET", "/cluster/sdn")]


def test_zone_crud_and_type_filter_zones_pm(api):
    ok(api, "POST", "/cluster/sdn/zones", zone="simple1", type="simple", nodes="pve2,pve1", mtu=1400)
    ok(api, "POST", "/cluster/sdn/zones", zone="vlan1", type="vlan", bridge="vmbr0")
    zone = api.data("GET", "/cluster/sdn/zones/simple1")
    assert zone["nodes"] == "pve1,pve2" and zone["mtu"] == 1400 and zone["zone"] == "simple1" and len(zone["digest"]) == 40
    assert [entry["zone"] for entry in api.data("GET", "/cluster/sdn/zones", params={"type": "vlan"})] == ["vlan1"]
    ok(api, "PUT", "/cluster/sdn/zones/simple1", mtu=1500, delete="nodes", digest=zone["digest"])
    zone = api.data("GET", "/cluster/sdn/zones/simple1")
    assert zone["mtu"] == 1500 and "nodes" not in zone
    ok(api, "DELETE", "/cluster/sdn/zones/vlan1")
    assert [entry["zone"] for entry in api.data("GET", "/cluster/sdn/zones")] == ["simple1"]


def test_pending_view_new_changed_deleted_sdn_pm_pending_config(sim, api):
    ok(api, "POST", "/cluster/sdn/zones", zone="keep", type="simple", mtu=1400)
    ok(api, "POST", "/cluster/sdn/zones", zone="gone", type="simple")
    ok(api, "POST", "/cluster/sdn/zones", zone="same", type="simple")
    new = api.data("GET", "/cluster/sdn/zones", params={"pending": 1})
    assert new[0] == {"zone": "gone", "type": "simple", "state": "new", "pending": {}, "digest": None}
    assert new[1]["pending"] == {"mtu": 1400} and new[1]["state"] == "new"
    ok(api, "PUT", "/cluster/sdn")
    ok(api, "PUT", "/cluster/sdn/zones/keep", delete="mtu", nodes="pve1")
    ok(api, "DELETE", "/cluster/sdn/zones/gone")
    view = {entry["zone"]: entry for entry in api.data("GET", "/cluster/sdn/zones", params={"pending": 1})}
    assert view["gone"] == {"zone": "gone", "type": "simple", "state": "deleted", "pending": {}, "digest": None}
    assert view["keep"] == {"zone": "keep", "type": "simple", "mtu": 1400, "state": "changed",
                            "pending": {"mtu": "deleted", "nodes": "pve1"}, "digest": None}
    assert view["same"] == {"zone": "same", "type": "simple", "digest": None}
    running = api.data("GET", "/cluster/sdn/zones", params={"running": 1})
    assert [entry["zone"] for entry in running] == ["gone", "keep", "same"] and running[1]["mtu"] == 1400
    assert sim.counters()["sdn_applies"] == 1


def test_subnet_derived_keys_and_dhcp_range_objects_subnets_pm(api):
    ok(api, "POST", "/cluster/sdn/zones", zone="simple1", type="simple", ipam="pve", dhcp="dnsmasq")
    ok(api, "POST", "/cluster/sdn/vnets", vnet="vnet1", zone="simple1")
    answer = api.api("POST", "/cluster/sdn/vnets/vnet1/subnets", json={
        "subnet": "192.0.2.0/24", "type": "subnet", "gateway": "192.0.2.1", "snat": 1,
        "dhcp-range": ["start-address=192.0.2.100,end-address=192.0.2.199"]})
    assert answer.status_code == 200, answer.text
    subnet = api.data("GET", "/cluster/sdn/vnets/vnet1/subnets/simple1-192.0.2.0-24")
    assert {key: subnet[key] for key in ("id", "subnet", "cidr", "network", "mask", "zone", "vnet", "gateway", "snat", "type")} == {
        "id": "simple1-192.0.2.0-24", "subnet": "simple1-192.0.2.0-24", "cidr": "192.0.2.0/24", "network": "192.0.2.0", "mask": "24",
        "zone": "simple1", "vnet": "vnet1", "gateway": "192.0.2.1", "snat": 1, "type": "subnet"}
    assert subnet["dhcp-range"] == [{"start-address": "192.0.2.100", "end-address": "192.0.2.199"}]
    pending = api.data("GET", "/cluster/sdn/vnets/vnet1/subnets", params={"pending": 1})[0]
    assert pending["state"] == "new" and pending["vnet"] == "vnet1" and "gateway" in pending["pending"]


def test_subnet_without_ranges_still_has_an_empty_dhcp_range_subnets_pm_get_dhcp_ranges(api):
    ok(api, "POST", "/cluster/sdn/zones", zone="simple1", type="simple")
    ok(api, "POST", "/cluster/sdn/vnets", vnet="vnet1", zone="simple1")
    ok(api, "POST", "/cluster/sdn/vnets/vnet1/subnets", subnet="192.0.2.0/24", type="subnet")

    def ranges(**params):
        return [subnet["dhcp-range"] for subnet in api.data("GET", "/cluster/sdn/vnets/vnet1/subnets", params=params)]

    assert ranges() == ranges(pending=1) == [[]]
    ok(api, "PUT", "/cluster/sdn")
    assert ranges(running=1) == [[]]
    assert api.data("GET", "/cluster/sdn/vnets/vnet1/subnets/simple1-192.0.2.0-24")["dhcp-range"] == []


def test_subnet_of_another_vnet_is_wrong_vnet_subnets_pm_read(api):
    evpn_setup(api)
    ok(api, "POST", "/cluster/sdn/vnets", vnet="vnetb", zone="tenanta", tag=101)
    assert_pve_error(api.api("GET", "/cluster/sdn/vnets/vnetb/subnets/tenanta-10.0.0.0-24"), 400, "Parameter verification failed.",
                     {"vnet": "wrong vnet"})


def test_evpn_zone_gets_a_seeded_random_mac_zones_evpnplugin_on_update_hook(sim_factory, api_session):
    macs = []
    for session in (api_session(sim_factory(seed=7)), api_session(sim_factory(seed=7))):
        evpn_setup(session)
        macs.append(session.data("GET", "/cluster/sdn/zones/tenanta")["mac"])
    assert macs[0] == macs[1] and macs[0].startswith("BC:24:11:")


def test_ipams_have_the_injected_pve_ipams_pm_config(api):
    assert api.data("GET", "/cluster/sdn/ipams") == [{"ipam": "pve", "type": "pve", "digest": api.data("GET", "/cluster/sdn/ipams")[0]["digest"]}]
    ok(api, "POST", "/cluster/sdn/ipams", ipam="nb", type="netbox", url="https://netbox.example/api", token="t")
    assert [entry["ipam"] for entry in api.data("GET", "/cluster/sdn/ipams", params={"type": "netbox"})] == ["nb"]
    plain_error(api.api("POST", "/cluster/sdn/ipams", data={"ipam": "pve", "type": "pve"}),
                "create sdn ipam object failed: sdn ipam object ID 'pve' already defined\n")
    ok(api, "POST", "/cluster/sdn/dns", dns="pdns", type="powerdns", url="https://pdns.example/api/v1/servers/localhost", key="k")
    assert api.data("GET", "/cluster/sdn/dns/pdns")["url"].startswith("https://pdns")


# -- validation messages ------------------------------------------------------------------------------
@pytest.mark.parametrize("params, message", [
    ({"zone": "z1", "type": "simple", "bridge": "vmbr0"}, "unexpected property 'bridge'\n"),
    ({"zone": "z1", "type": "vlan"}, "missing value for required option 'bridge'\n"),
    ({"zone": "z1", "type": "qinq", "bridge": "vmbr0"}, "missing value for required option 'tag'\n"),
    ({"zone": "z1", "type": "evpn", "controller": "c"}, "missing value for required option 'vrf-vxlan'\n"),
    ({"zone": "z1", "type": "faucet", "controller": "c"}, "missing value for required option 'dp-id'\n"),
])
def test_sectionconfig_check_config_before_the_lock(api, params, message):
    plain_error(api.api("POST", "/cluster/sdn/zones", data=params), message)


def test_schema_errors_are_400_before_the_lock(api):
    assert_pve_error(api.api("POST", "/cluster/sdn/zones", data={"zone": "toolongid", "type": "simple"}), 400, "Parameter verification failed.",
                     {"zone": "invalid format - zone ID 'toolongid' can't be more length than 8 characters\n"})
    assert_pve_error(api.api("POST", "/cluster/sdn/zones", data={"zone": "z1", "type": "evpn", "rt-import": "65000"}), 400,
                     "Parameter verification failed.", {"rt-import": "invalid format - value does not look like a valid bgp route-target\n"})


def test_vxlan_peers_required_on_8_4_and_peers_xor_fabric_on_9_1(api, api84):
    plain_error(api84.api("POST", "/cluster/sdn/zones", data={"zone": "vx", "type": "vxlan"}), "missing value for required option 'peers'\n")
    message = "must have exactly one of peers / fabric defined"
    plain_error(api.api("POST", "/cluster/sdn/zones", data={"zone": "vx", "type": "vxlan"}),
                "create sdn zone object failed: 400 %speers: %s\nfabric: %s\n" % (PARAM_FAILED, message, message))


def test_zone_hooks_and_references_zones_pm_create(api):
    ok(api, "POST", "/cluster/sdn/controllers", controller="bgp1", type="bgp", node="pve1", asn=65001, peers="192.0.2.1")
    prefix = "create sdn zone object failed: "
    evpn = {"zone": "e1", "type": "evpn", "vrf-vxlan": 100}
    plain_error(api.api("POST", "/cluster/sdn/zones", data=dict(evpn, controller="nope")),
                prefix + "controller nope don't exist at /usr/share/perl5/PVE/Network/SDN/Zones/EvpnPlugin.pm line 354.\n")
    plain_error(api.api("POST", "/cluster/sdn/zones", data=dict(evpn, controller="bgp1")),
                prefix + "bgp1 is not a evpn controller type at /usr/share/perl5/PVE/Network/SDN/Zones/EvpnPlugin.pm line 356.\n")
    ok(api, "POST", "/cluster/sdn/controllers", controller="evpnctl", type="evpn", asn=65000, peers=PEERS)
    ok(api, "POST", "/cluster/sdn/zones", **dict(evpn, controller="evpnctl"))
    plain_error(api.api("POST", "/cluster/sdn/zones", data=dict(evpn, zone="e2", controller="evpnctl")),
                prefix + "vrf-vxlan 100 is already declared in e1 at /usr/share/perl5/PVE/Network/SDN/Zones/EvpnPlugin.pm line 366.\n")
    plain_error(api.api("POST", "/cluster/sdn/zones", data={"zone": "e1", "type": "simple"}), prefix + "sdn zone object ID 'e1' already defined\n")
    plain_error(api.api("POST", "/cluster/sdn/zones", data={"zone": "s1", "type": "simple", "dns": "nodns"}),
                prefix + "400 %sdns: nodns don't exist\n" % PARAM_FAILED)
    plain_error(api.api("POST", "/cluster/sdn/zones", data={"zone": "s1", "type": "simple", "dnszone": "example.com"}),
                prefix + "400 %sdnszone: missing dns server\n" % PARAM_FAILED)
    plain_error(api.api("POST", "/cluster/sdn/zones", data={"zone": "s1", "type": "simple", "ipam": "noipam"}),
                prefix + "400 %sipam: noipam not existing\n" % PARAM_FAILED)
    assert [entry["zone"] for entry in api.data("GET", "/cluster/sdn/zones")] == ["e1"]  # failed writes changed nothing


def test_zone_update_and_delete_rules(api):
    evpn_setup(api)
    plain_error(api.api("PUT", "/cluster/sdn/zones/tenanta", data={"delete": "ipam"}),
                "update sdn zone object failed: 400 %sipam: can't change ipam if a subnet is already defined in this zone\n" % PARAM_FAILED)
    plain_error(api.api("PUT", "/cluster/sdn/zones/tenanta", data={"delete": "controller"}),
                "update sdn zone object failed: unable to delete required option 'controller'\n")
    plain_error(api.api("PUT", "/cluster/sdn/zones/tenanta", data={"mtu": 1400, "digest": "0" * 40}),
                "update sdn zone object failed: detected modified configuration - file changed by other user? Try again.\n")
    plain_error(api.api("DELETE", "/cluster/sdn/zones/tenanta"),
                "delete sdn zone object failed: zone tenanta is used by vnet vneta at /usr/share/perl5/PVE/Network/SDN/Zones/Plugin.pm line 148.\n")
    plain_error(api.api("GET", "/cluster/sdn/zones/nozone"), "sdn 'nozone' does not exist\n")
    plain_error(api.api("PUT", "/cluster/sdn/zones/nozone", data={"mtu": 1}), "update sdn zone object failed: sdn 'nozone' does not exist\n")


@pytest.mark.parametrize("zone, vnet, message", [
    ({"type": "simple"}, {"tag": 5}, "tag: vlan tag is not allowed on simple zone"),
    ({"type": "vlan", "bridge": "vmbr0"}, {}, "tag: missing vlan tag"),
    ({"type": "vlan", "bridge": "vmbr0"}, {"tag": 5000}, "tag: vlan tag max value is 4096"),
    ({"type": "vlan", "bridge": "vmbr0"}, {"tag": 10}, "tag: tag 10 already exist in vnet first"),
    ({"type": "qinq", "bridge": "vmbr0", "tag": 20}, {"tag": 5000}, "tag: VLAN tag maximal value is 4096"),
    ({"type": "qinq", "bridge": "vmbr0", "tag": 20}, {"tag": 10}, "tag: tag 10 already exist in zone z1 vnet first"),
    ({"type": "vxlan", "peers": PEERS}, {}, "tag: missing vxlan tag"),
    ({"type": "vxlan", "peers": PEERS}, {"tag": 10}, "tag: vxlan tag 10 already exist in vnet first in zone z1 "),
])
def test_vnet_update_hooks_of_the_zone_plugins(api, zone, vnet, message):
    ok(api, "POST", "/cluster/sdn/zones", zone="z1", **zone)
    first = {} if zone["type"] == "simple" else {"tag": 10}
    ok(api, "POST", "/cluster/sdn/vnets", vnet="first", zone="z1", **first)
    plain_error(api.api("POST", "/cluster/sdn/vnets", data=dict(vnet, vnet="second", zone="z1")),
                "create sdn vnet object failed: 400 %s%s\n" % (PARAM_FAILED, message))


def test_vnet_rules_vnets_pm_and_vnetplugin(api):
    evpn_setup(api)
    prefix = "create sdn vnet object failed: "
    plain_error(api.api("POST", "/cluster/sdn/vnets", data={"vnet": "vneta", "zone": "tenanta", "tag": 300}),
                prefix + "sdn vnet object ID 'vneta' already defined\n")
    plain_error(api.api("POST", "/cluster/sdn/vnets", data={"vnet": "v2", "zone": "tenanta", "tag": 300, "vlanaware": 1}),
                prefix + "400 %svlan-aware: vlan-aware option can't be enabled with evpn\n" % PARAM_FAILED)
    plain_error(api.api("POST", "/cluster/sdn/vnets", data={"vnet": "v2", "zone": "nozone", "tag": 300}),
                prefix + "cannot lookup undefined type! at /usr/share/perl5/PVE/API2/Network/SDN/Vnets.pm line 326.\n")
    plain_error(api.api("PUT", "/cluster/sdn/vnets/vneta", data={"delete": "zone"}),
                "update sdn vnet object failed: unable to delete required option 'zone'\n")
    plain_error(api.api("DELETE", "/cluster/sdn/vnets/vneta"),
                "delete sdn vnet object failed: 400 %svnet: Can't delete vnet if subnets exists\n" % PARAM_FAILED)
    plain_error(api.api("DELETE", "/cluster/sdn/vnets/novnet"), "sdn vnet 'novnet' does not exist\n")
    plain_error(api.api("GET", "/cluster/sdn/vnets/novnet/subnets"), "sdn vnet 'novnet' does not exist\n")


def test_subnet_rules_subnetplugin_on_update_hook(api):
    evpn_setup(api)
    prefix = "create sdn subnet object failed: "

    def create(**params):
        return api.api("POST", "/cluster/sdn/vnets/vneta/subnets", json=dict(params, type="subnet"))
    plain_error(create(subnet="10.0.0.0/24"), prefix + "sdn subnet object ID 'tenanta-10.0.0.0-24' already defined\n")
    plain_error(create(subnet="10.9.0.0/24", gateway="10.8.0.1"), prefix + "400 %sgateway: 10.8.0.1 is not in subnet 10.9.0.0/24\n" % PARAM_FAILED)
    ranges = {"dhcp-range": ["start-address=10.9.0.50,end-address=10.9.0.10"]}
    plain_error(create(subnet="10.9.0.0/24", **ranges),
                prefix + "400 %sdhcp-range: start-address 10.9.0.50 must be smaller than end-address 10.9.0.10\n" % PARAM_FAILED)
    ranges = {"dhcp-range": ["start-address=10.8.0.5,end-address=10.9.0.10"]}
    plain_error(create(subnet="10.9.0.0/24", **ranges), prefix + "400 %sdhcp-range: start-address 10.8.0.5 is not in subnet 10.9.0.0/24\n" % PARAM_FAILED)
    ranges = {"dhcp-range": ["start-address=10.9.0.5,end-address=10.9.0.10", "start-address=10.9.0.8,end-address=10.9.0.20"]}
    plain_error(create(subnet="10.9.0.0/24", **ranges), prefix + "400 %sdhcp-range: dhcp ranges must not overlap\n" % PARAM_FAILED)
    assert create(subnet="10.9.0.5/32", gateway="192.0.2.1").status_code == 200  # IPv4 /32 point-to-point: gateway may be outside


def test_controller_rules_controllers_plugins(api, api84):
    ok(api, "POST", "/cluster/sdn/controllers", controller="evpnctl", type="evpn", asn=65000, peers=PEERS)
    plain_error(api.api("POST", "/cluster/sdn/controllers", data={"controller": "evpn2", "type": "evpn", "asn": 1, "peers": PEERS}),
                "create sdn controller object failed: only 1 global evpn controller can be defined"
                " at /usr/share/perl5/PVE/Network/SDN/Controllers/EvpnPlugin.pm line 491.\n")
    ok(api, "DELETE", "/cluster/sdn/controllers/evpnctl")
    plain_error(api.api("POST", "/cluster/sdn/controllers", data={"controller": "evpn2", "type": "evpn", "asn": 1}),
                "create sdn controller object failed: must have exactly one of peers / fabric defined"
                " at /usr/share/perl5/PVE/Network/SDN/Controllers/EvpnPlugin.pm line 496.\n")
    plain_error(api84.api("POST", "/cluster/sdn/controllers", data={"controller": "evpn2", "type": "evpn", "asn": 1}),
                "missing value for required option 'peers'\n")
    evpn_setup(api)
    plain_error(api.api("DELETE", "/cluster/sdn/controllers/evpnctl"),
                "delete sdn controller object failed: controller evpnctl is used by tenanta"
                " at /usr/share/perl5/PVE/Network/SDN/Controllers/EvpnPlugin.pm line 475.\n")
    assert_pve_error(api.api("POST", "/cluster/sdn/controllers", data={"controller": "is1", "type": "isis", "isis-net": "49.1"}), 400,
                     "Parameter verification failed.", {"isis-net": "invalid format - value does not look like a valid isis net\n"})


# -- apply, lock, rollback -----------------------------------------------------------------------------
def wait_task(api, upid, timeout=5.0):
    node = upid.split(":")[1]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = api.data("GET", "/nodes/%s/tasks/%s/status" % (node, upid))
        if status["status"] == "stopped":
            return status
        time.sleep(0.05)
    raise AssertionError("task did not stop")


def test_apply_is_a_reloadnetworkall_task_sdn_pm_reload(sim, api):
    evpn_setup(api)
    upid = ok(api, "PUT", "/cluster/sdn")
    assert ":reloadnetworkall::root@pam!homecloud:" in upid and upid.startswith("UPID:pve1:")
    assert wait_task(api, upid)["exitstatus"] == "OK"
    log = [line["t"] for line in api.data("GET", "/nodes/pve1/tasks/%s/log" % upid)]
    assert log == ["pve1: reloading network config", "pve2: reloading network config", "pve3: reloading network config", "TASK OK"]
    assert sim.counters()["sdn_applies"] == 1
    assert all("state" not in entry for entry in api.data("GET", "/cluster/sdn/zones", params={"pending": 1}))
    networks = [entry for entry in api.data("GET", "/cluster/resources") if entry["type"] == "network"]
    assert [entry["id"] for entry in networks if "zone-type" in entry] == ["network/pve%d/zone/tenanta" % index for index in (1, 2, 3)]


# -- /cluster/resources: 8.x `sdn` entries, 9.1 `network` entries (pve-manager PVE/API2/Cluster.pm) -------------------
def zone_on_two_nodes(api):
    """An applied simple zone limited to pve1 and pve3, a pending one not yet applied."""
    ok(api, "POST", "/cluster/sdn/zones", zone="zsimple", type="simple", nodes="pve3,pve1")
    ok(api, "PUT", "/cluster/sdn")
    ok(api, "POST", "/cluster/sdn/zones", zone="zlater", type="simple")


def test_resources_84_sdn_entries_cluster_pm_before_1804cdf1(api84):
    zone_on_two_nodes(api84)
    expected = [{"id": "sdn/pve%d/localnetwork" % index, "sdn": "localnetwork", "node": "pve%d" % index, "type": "sdn", "status": "ok"}
                for index in (1, 2, 3)]
    expected += [{"id": "sdn/pve%d/zsimple" % index, "sdn": "zsimple", "node": "pve%d" % index, "type": "sdn", "status": "available"}
                 for index in (1, 3)]
    assert api84.data("GET", "/cluster/resources", params={"type": "sdn"}) == expected
    assert [entry for entry in api84.data("GET", "/cluster/resources") if entry["type"] in ("sdn", "network")] == expected


def test_resources_91_network_entries_and_no_sdn_cluster_pm_1804cdf1(api):
    """pvestatd broadcasts `network` entries (pvestatd.pm update_network_status); Cluster.pm then skips the
    node's `sdn` entries, and `localnetwork` is a `network` entry without `zone-type`."""
    zone_on_two_nodes(api)
    expected = [{"id": "network/pve%d/zone/localnetwork" % index, "type": "network", "network-type": "zone",
                 "network": "localnetwork", "node": "pve%d" % index, "status": "ok"} for index in (1, 2, 3)]
    expected += [{"id": "network/pve%d/zone/zsimple" % index, "type": "network", "network-type": "zone", "network": "zsimple",
                  "node": "pve%d" % index, "status": "available", "zone-type": "simple"} for index in (1, 3)]
    everything = api.data("GET", "/cluster/resources")
    assert [entry for entry in everything if entry["type"] in ("sdn", "network")] == expected
    assert api.data("GET", "/cluster/resources", params={"type": "sdn"}) == []


def test_resources_type_network_is_not_a_filter_cluster_pm_parameters(api, api84):
    """Cluster.pm keeps the `type` parameter's enum at vm, storage, node, sdn (9.1.3 and later alike)."""
    for session in (api, api84):
        assert_pve_error(session.api("GET", "/cluster/resources", params={"type": "network"}), 400, PARAM_FAILED.strip(),
                         {"type": "value 'network' does not have a value in the enumeration 'vm, storage, node, sdn'"})


def test_lock_token_rules_sdn_pm_lock_sdn_config(api, api_session, sim):
    ok(api, "POST", "/cluster/sdn/zones", zone="z1", type="simple")
    plain_error(api.api("POST", "/cluster/sdn/lock"),
                "could not acquire lock for SDN config: configuration has pending changes"
                " at /usr/share/perl5/PVE/API2/Network/SDN.pm line 149.\n")
    token = ok(api, "POST", "/cluster/sdn/lock", **{"allow-pending": 1})
    assert len(token) == 36 and token[14] == "7"  # UUIDv7
    other = api_session(sim, auth="ticket")
    invalid = "invalid lock token provided! at /usr/share/perl5/PVE/Network/SDN.pm line 291.\n"
    plain_error(other.api("POST", "/cluster/sdn/lock", data={"allow-pending": 1}), "could not acquire lock for SDN config: " + invalid)
    plain_error(other.api("POST", "/cluster/sdn/zones", data={"zone": "z2", "type": "simple"}), "create sdn zone object failed: " + invalid)
    plain_error(other.api("POST", "/cluster/sdn/zones", data={"zone": "z2", "type": "simple", "lock-token": "x"}),
                "create sdn zone object failed: " + invalid)
    plain_error(other.api("PUT", "/cluster/sdn"), "could not commit SDN config: " + invalid)
    plain_error(other.api("DELETE", "/cluster/sdn/lock"), "could not release lock: " + invalid)
    ok(api, "POST", "/cluster/sdn/zones", zone="z2", type="simple", **{"lock-token": token})
    ok(api, "PUT", "/cluster/sdn", **{"lock-token": token, "release-lock": 0})
    plain_error(other.api("POST", "/cluster/sdn/zones", data={"zone": "z3", "type": "simple"}), "create sdn zone object failed: " + invalid)
    ok(api, "PUT", "/cluster/sdn", **{"lock-token": token})  # release-lock defaults to 1
    ok(other, "POST", "/cluster/sdn/zones", zone="z3", type="simple")
    token = ok(api, "POST", "/cluster/sdn/lock", **{"allow-pending": 1})
    ok(other, "DELETE", "/cluster/sdn/lock", force=1)
    ok(other, "POST", "/cluster/sdn/zones", zone="z4", type="simple")


def test_rollback_discards_pending_and_releases_the_lock(api):
    ok(api, "POST", "/cluster/sdn/zones", zone="z1", type="simple")
    ok(api, "PUT", "/cluster/sdn")
    token = ok(api, "POST", "/cluster/sdn/lock")
    ok(api, "POST", "/cluster/sdn/zones", zone="z2", type="simple", **{"lock-token": token})
    ok(api, "PUT", "/cluster/sdn/zones/z1", mtu=1400, **{"lock-token": token})
    ok(api, "POST", "/cluster/sdn/rollback", **{"lock-token": token})
    assert api.data("GET", "/cluster/sdn/zones") == [{"zone": "z1", "type": "simple", "digest": api.data("GET", "/cluster/sdn/zones")[0]["digest"]}]
    ok(api, "POST", "/cluster/sdn/zones", zone="z5", type="simple")  # the lock is gone


def test_8_4_has_no_lock_api_and_no_lock_token(api84):
    for method, path in (("POST", "/cluster/sdn/lock"), ("DELETE", "/cluster/sdn/lock"), ("POST", "/cluster/sdn/rollback")):
        assert_pve_error(api84.api(method, path), 501, "Method '%s %s' not implemented" % (method, path), None,
                         "Method '%s %s' not implemented" % (method, path))
    assert_pve_error(api84.api("POST", "/cluster/sdn/zones", data={"zone": "z1", "type": "simple", "lock-token": "x"}), 400,
                     "Parameter verification failed.",
                     {"lock-token": "property is not defined in schema and the schema does not allow additional properties"})
    assert_pve_error(api84.api("GET", "/cluster/sdn/dry-run", params={"node": "pve1"}), 501, "Method 'GET /cluster/sdn/dry-run' not implemented",
                     None, "Method 'GET /cluster/sdn/dry-run' not implemented")


def test_lock_held_by_another_client_fault(api, api_session, sim):
    """The "lock held by another client" fault is simply a second client taking the lock."""
    holder = api_session(sim, auth="ticket")
    ok(holder, "POST", "/cluster/sdn/lock")
    response = api.api("POST", "/cluster/sdn/lock")
    reason = "could not acquire lock for SDN config: invalid lock token provided! at /usr/share/perl5/PVE/Network/SDN.pm line 291."
    assert (response.status_code, response.reason) == (500, reason)


# -- IPAM -------------------------------------------------------------------------------------------
def test_gateway_registered_in_pve_ipam_and_ips_pvePlugin(api):
    ok(api, "POST", "/cluster/sdn/zones", zone="s1", type="simple", ipam="pve", dhcp="dnsmasq")
    ok(api, "POST", "/cluster/sdn/vnets", vnet="vnet1", zone="s1")
    ok(api, "POST", "/cluster/sdn/vnets/vnet1/subnets", subnet="192.0.2.0/24", type="subnet", gateway="192.0.2.1")
    # not applied yet: the status lists running zones only (Ipams.pm ipamindex) and the IP calls find an
    # address's subnet among the running subnets (Vnets.pm get_subnet_from_vnet_ip)
    assert api.data("GET", "/cluster/sdn/ipams/pve/status") == []
    no_subnet = "can't find any subnet for ip %s at /usr/share/perl5/PVE/Network/SDN/Subnets.pm line 115.\n"
    plain_error(api.api("POST", "/cluster/sdn/vnets/vnet1/ips", data={"zone": "s1", "ip": "192.0.2.10", "mac": "BC:24:11:00:00:10"}),
                no_subnet % "192.0.2.10")
    plain_error(api.api("PUT", "/cluster/sdn/vnets/vnet1/ips",
                        data={"zone": "s1", "ip": "192.0.2.11", "mac": "BC:24:11:00:00:10", "vmid": 100}),
                no_subnet % "")  # the MAC has no address, so the update deletes an undefined one first
    plain_error(api.api("DELETE", "/cluster/sdn/vnets/vnet1/ips", params={"zone": "s1", "ip": "192.0.2.11"}),
                no_subnet % "192.0.2.11" + "\n")
    ok(api, "PUT", "/cluster/sdn")
    # the gateway was registered when the subnet was written (SubnetPlugin.pm on_update_hook), listed once applied
    assert api.data("GET", "/cluster/sdn/ipams/pve/status") == [
        {"gateway": 1, "zone": "s1", "subnet": "192.0.2.0/24", "ip": "192.0.2.1", "vnet": "vnet1"}]
    ok(api, "POST", "/cluster/sdn/vnets/vnet1/ips", zone="s1", ip="192.0.2.10", mac="BC:24:11:00:00:10")
    plain_error(api.api("POST", "/cluster/sdn/vnets/vnet1/ips", data={"zone": "s1", "ip": "192.0.2.10"}), "IP '192.0.2.10' already exist\n")
    plain_error(api.api("POST", "/cluster/sdn/vnets/vnet1/ips", data={"zone": "s1", "ip": "198.51.100.1"}),
                "can't find any subnet for ip 198.51.100.1 at /usr/share/perl5/PVE/Network/SDN/Subnets.pm line 115.\n")
    ok(api, "PUT", "/cluster/sdn/vnets/vnet1/ips", zone="s1", ip="192.0.2.11", mac="BC:24:11:00:00:10", vmid=100)
    status = api.data("GET", "/cluster/sdn/ipams/pve/status")
    assert [entry["ip"] for entry in status] == ["192.0.2.1", "192.0.2.11"] and status[1]["vmid"] == 100
    plain_error(api.api("DELETE", "/cluster/sdn/vnets/vnet1/subnets/s1-192.0.2.0-24"),
                "delete sdn subnet object failed: cannot delete subnet '192.0.2.0/24', not empty\n")
    ok(api, "DELETE", "/cluster/sdn/vnets/vnet1/ips", zone="s1", ip="192.0.2.11")
    ok(api, "DELETE", "/cluster/sdn/vnets/vnet1/subnets/s1-192.0.2.0-24")
    assert api.data("GET", "/cluster/sdn/ipams/pve/status") == []
    plain_error(api.api("GET", "/cluster/sdn/ipams/other/status"),
                "Currently only PVE IPAM is supported! at /usr/share/perl5/PVE/API2/Network/SDN/Ipams.pm line 319.\n")


# -- state ------------------------------------------------------------------------------------------
def test_state_file_round_trip(sim_factory, api_session, tmp_path):
    state_file = str(tmp_path / "state.json")
    first = sim_factory(state_file=state_file)
    session = api_session(first)
    evpn_setup(session)
    ok(session, "PUT", "/cluster/sdn")
    token = ok(session, "POST", "/cluster/sdn/lock")
    rendered = session.sim("GET", "sdn/rendered").json()["data"]
    first.stop()
    second = api_session(sim_factory(state_file=state_file))
    assert second.data("GET", "/cluster/sdn/zones/tenanta", params={"running": 1})["vrf-vxlan"] == 10000
    assert second.sim("GET", "sdn/rendered").json()["data"] == rendered
    ok(second, "POST", "/cluster/sdn/zones", zone="z2", type="simple", **{"lock-token": token})
