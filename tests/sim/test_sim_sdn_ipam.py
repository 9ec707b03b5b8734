"""SDN IPAM and DNS plugins and IPAM IP mappings in the simulator.

Sources (proxmox/pve-network at ecf98c5, paths under src/PVE/): API2/Network/SDN/{Ipams,Dns,Ips}.pm,
Network/SDN/Ipams.pm (the injected `pve` IPAM, the MAC cache), Ipams/{PVEPlugin,NetboxPlugin,PhpIpamPlugin}.pm
and Dns/{Plugin,PowerdnsPlugin}.pm (options), Network/SDN/Vnets.pm and Subnets.pm (add_ip, del_ip,
get_ips_from_mac, find_ip_subnet), SubnetPlugin.pm on_update_hook (the gateway registered when the subnet is written).
The IP calls find an address's subnet among the applied (running) subnets and the status lists running zones;
PVE 8.4 (pve-network 0.11.2 at 8f4f5d2) reads the same configs.
"""

import pytest

from pvesim.testing import assert_pve_error, ok, plain_error

pytestmark = pytest.mark.timeout(60)
MAC = "BC:24:11:00:00:10"
OTHER_MAC = "BC:24:11:00:00:20"
NO_SUBNET_FOR_UNDEFINED_IP = "can't find any subnet for ip  at /usr/share/perl5/PVE/Network/SDN/Subnets.pm line 115.\n"


def no_subnet_for(address):
    return "can't find any subnet for ip %s at /usr/share/perl5/PVE/Network/SDN/Subnets.pm line 115.\n" % address


@pytest.fixture
def api(sim, api_session):
    return api_session(sim)


@pytest.fixture(params=["sim84", "sim"], ids=["8.4", "9.1"])
def any_api(request, api_session):
    return api_session(request.getfixturevalue(request.param))


def zone_with_subnet(api, zone="s1", apply=True, **zone_options):
    """Zone <zone>, VNet <zone>v with 192.0.2.0/24 (gateway .1) and 2001:db8::/64; applied unless told not to."""
    ok(api, "POST", "/cluster/sdn/zones", zone=zone, type="simple", **zone_options)
    ok(api, "POST", "/cluster/sdn/vnets", vnet=zone + "v", zone=zone)
    ok(api, "POST", "/cluster/sdn/vnets/{0}v/subnets".format(zone), subnet="192.0.2.0/24", type="subnet", gateway="192.0.2.1")
    ok(api, "POST", "/cluster/sdn/vnets/{0}v/subnets".format(zone), subnet="2001:db8::/64", type="subnet")
    if apply:
        ok(api, "PUT", "/cluster/sdn")


def status(api):
    return dict((entry["ip"], dict((key, entry[key]) for key in ("mac", "vmid") if key in entry))
                for entry in api.data("GET", "/cluster/sdn/ipams/pve/status") if not entry.get("gateway"))


# -- plugins ----------------------------------------------------------------------------------------
def test_plugin_lists_take_no_pending_parameter(api):
    for path in ("/cluster/sdn/ipams", "/cluster/sdn/dns"):
        answer = api.api("GET", path, params={"pending": 1})
        assert_pve_error(answer, 400, "Parameter verification failed.",
                         {"pending": "property is not defined in schema and the schema does not allow additional properties"})


def test_plugins_return_their_secrets_and_check_options_per_type(api):
    ok(api, "POST", "/cluster/sdn/ipams", ipam="php", type="phpipam", url="https://php.example/api/pve", token="s3cret", section=3)
    ok(api, "POST", "/cluster/sdn/dns", dns="pdns", type="powerdns", url="https://pdns.example/api", key="k3y", ttl=300)
    assert api.data("GET", "/cluster/sdn/ipams/php")["token"] == "s3cret"
    assert [entry.get("key") for entry in api.data("GET", "/cluster/sdn/dns")] == ["k3y"]
    plain_error(api.api("POST", "/cluster/sdn/ipams", data=dict(ipam="nb", type="netbox", url="https://nb.example/api")),
                "missing value for required option 'token'\n")
    plain_error(api.api("POST", "/cluster/sdn/ipams", data=dict(ipam="nb", type="netbox", url="u", token="t", section=1)),
                "unexpected property 'section'\n")
    plain_error(api.api("POST", "/cluster/sdn/dns", data=dict(dns="pdns2", type="powerdns", url="u", key="k", reversev6mask=64)),
                "unexpected property 'reversev6mask'\n")
    plain_error(api.api("PUT", "/cluster/sdn/ipams/php", data=dict(delete="section")),
                "update sdn ipam object failed: unable to delete required option 'section'\n")


def test_plugin_writes_check_the_lock_token_on_9x(api):
    token = api.data("POST", "/cluster/sdn/lock")
    plain_error(api.api("POST", "/cluster/sdn/dns", data=dict(dns="pdns", type="powerdns", url="u", key="k")),
                "create sdn dns object failed: invalid lock token provided! at /usr/share/perl5/PVE/Network/SDN.pm line 291.\n")
    ok(api, "POST", "/cluster/sdn/dns", dns="pdns", type="powerdns", url="u", key="k", **{"lock-token": token})
    ok(api, "DELETE", "/cluster/sdn/dns/pdns", **{"lock-token": token})
    assert api.data("GET", "/cluster/sdn/dns") == []


# -- IP mappings ------------------------------------------------------------------------------------
def test_a_zone_without_ipam_records_nothing(api):
    zone_with_subnet(api)
    ok(api, "POST", "/cluster/sdn/vnets/s1v/ips", zone="s1", ip="192.0.2.10", mac=MAC)
    ok(api, "DELETE", "/cluster/sdn/vnets/s1v/ips", zone="s1", ip="192.0.2.10")
    assert api.data("GET", "/cluster/sdn/ipams/pve/status") == []


def test_a_missing_vnet_has_no_zone(api):
    plain_error(api.api("POST", "/cluster/sdn/vnets/nosuch/ips", data=dict(zone="s1", ip="192.0.2.10", mac=MAC)),
                "no sdn zone ID specified\n")


def test_addresses_are_kept_canonical_and_guest_ids_listed_as_integers(api):
    zone_with_subnet(api, ipam="pve", dhcp="dnsmasq")
    ok(api, "POST", "/cluster/sdn/vnets/s1v/ips", zone="s1", ip="2001:DB8::0010", mac=MAC)
    ok(api, "PUT", "/cluster/sdn/vnets/s1v/ips", zone="s1", ip="2001:db8::10", mac=MAC, vmid="100")
    assert status(api) == {"2001:db8::10": {"mac": MAC, "vmid": 100}}


def test_update_moves_the_macs_address_of_the_same_family(api):
    zone_with_subnet(api, ipam="pve", dhcp="dnsmasq")
    ok(api, "POST", "/cluster/sdn/vnets/s1v/ips", zone="s1", ip="192.0.2.10", mac=MAC)
    ok(api, "POST", "/cluster/sdn/vnets/s1v/ips", zone="s1", ip="2001:db8::10", mac=MAC)
    ok(api, "PUT", "/cluster/sdn/vnets/s1v/ips", zone="s1", ip="192.0.2.11", mac=MAC, vmid=101)
    assert status(api) == {"192.0.2.11": {"mac": MAC, "vmid": 101}, "2001:db8::10": {"mac": MAC}}
    # the address is another MAC's: the add fails, the old address comes back, the error gets one more newline
    ok(api, "POST", "/cluster/sdn/vnets/s1v/ips", zone="s1", ip="192.0.2.20", mac=OTHER_MAC)
    plain_error(api.api("PUT", "/cluster/sdn/vnets/s1v/ips", data=dict(zone="s1", ip="192.0.2.20", mac=MAC)),
                "IP '192.0.2.20' already exist\n\n")
    # Ips.pm ipupdate re-adds the old address with the request's guest id (none here), so the old one is lost
    assert status(api)["192.0.2.11"] == {"mac": MAC}


def test_update_of_a_mac_without_an_address_finds_no_subnet(api):
    zone_with_subnet(api, ipam="pve", dhcp="dnsmasq")
    plain_error(api.api("PUT", "/cluster/sdn/vnets/s1v/ips", data=dict(zone="s1", ip="192.0.2.10", mac=MAC)),
                NO_SUBNET_FOR_UNDEFINED_IP)
    # without DHCP the zone's MACs are never looked up (Vnets.pm get_ips_from_mac), so the same happens
    zone_with_subnet(api, zone="s2", ipam="pve")
    ok(api, "POST", "/cluster/sdn/vnets/s2v/ips", zone="s2", ip="192.0.2.10", mac=MAC)
    plain_error(api.api("PUT", "/cluster/sdn/vnets/s2v/ips", data=dict(zone="s2", ip="192.0.2.10", mac=MAC, vmid=100)),
                NO_SUBNET_FOR_UNDEFINED_IP)


def test_a_delete_without_the_mac_leaves_the_mac_cache_stale(api):
    zone_with_subnet(api, ipam="pve", dhcp="dnsmasq")
    ok(api, "POST", "/cluster/sdn/vnets/s1v/ips", zone="s1", ip="192.0.2.10", mac=MAC)
    ok(api, "DELETE", "/cluster/sdn/vnets/s1v/ips", zone="s1", ip="192.0.2.10")
    plain_error(api.api("DELETE", "/cluster/sdn/vnets/s1v/ips", params=dict(zone="s1", ip="192.0.2.10")),
                "IP '192.0.2.10' does not exist in IPAM DB\n\n")
    # the cache still maps the MAC to the deleted address, which the update then fails to delete
    plain_error(api.api("PUT", "/cluster/sdn/vnets/s1v/ips", data=dict(zone="s1", ip="192.0.2.11", mac=MAC)),
                "IP '192.0.2.10' does not exist in IPAM DB\n")
    ok(api, "POST", "/cluster/sdn/vnets/s1v/ips", zone="s1", ip="192.0.2.12", mac=OTHER_MAC)
    ok(api, "DELETE", "/cluster/sdn/vnets/s1v/ips", zone="s1", ip="192.0.2.12", mac=OTHER_MAC)
    plain_error(api.api("PUT", "/cluster/sdn/vnets/s1v/ips", data=dict(zone="s1", ip="192.0.2.13", mac=OTHER_MAC)),
                NO_SUBNET_FOR_UNDEFINED_IP)


def test_an_external_ipam_is_not_simulated(api):
    ok(api, "POST", "/cluster/sdn/ipams", ipam="nb", type="netbox", url="https://nb.example/api", token="t")
    zone_with_subnet(api, ipam="nb")
    answer = api.api("POST", "/cluster/sdn/vnets/s1v/ips", data=dict(zone="s1", ip="192.0.2.10", mac=MAC))
    assert answer.status_code == 500 and "the netbox IPAM 'nb' is not simulated" in answer.json()["message"]


# -- which config: running subnets, pending VNet and zone (Vnets.pm get_subnet_from_vnet_ip) ---------
def test_ip_calls_find_only_applied_subnets(any_api):
    zone_with_subnet(any_api, apply=False, ipam="pve", dhcp="dnsmasq")
    plain_error(any_api.api("POST", "/cluster/sdn/vnets/s1v/ips", data=dict(zone="s1", ip="192.0.2.10", mac=MAC)),
                no_subnet_for("192.0.2.10"))
    plain_error(any_api.api("DELETE", "/cluster/sdn/vnets/s1v/ips", params=dict(zone="s1", ip="192.0.2.10", mac=MAC)),
                no_subnet_for("192.0.2.10") + "\n")
    # the MAC has no address yet, so the update's delete looks for the subnet of an undefined address
    plain_error(any_api.api("PUT", "/cluster/sdn/vnets/s1v/ips", data=dict(zone="s1", ip="192.0.2.10", mac=MAC)),
                NO_SUBNET_FOR_UNDEFINED_IP)
    ok(any_api, "PUT", "/cluster/sdn")
    ok(any_api, "POST", "/cluster/sdn/vnets/s1v/ips", zone="s1", ip="192.0.2.10", mac=MAC)
    # a subnet added later is found once it is applied too
    ok(any_api, "POST", "/cluster/sdn/vnets/s1v/subnets", subnet="198.51.100.0/24", type="subnet")
    plain_error(any_api.api("POST", "/cluster/sdn/vnets/s1v/ips", data=dict(zone="s1", ip="198.51.100.10", mac=OTHER_MAC)),
                no_subnet_for("198.51.100.10"))
    ok(any_api, "PUT", "/cluster/sdn")
    ok(any_api, "POST", "/cluster/sdn/vnets/s1v/ips", zone="s1", ip="198.51.100.10", mac=OTHER_MAC)
    assert status(any_api) == {"192.0.2.10": {"mac": MAC}, "198.51.100.10": {"mac": OTHER_MAC}}


def test_a_vnet_only_in_the_pending_config_finds_no_subnet(any_api):
    zone_with_subnet(any_api, ipam="pve", dhcp="dnsmasq")
    ok(any_api, "POST", "/cluster/sdn/vnets", vnet="s1w", zone="s1")
    ok(any_api, "POST", "/cluster/sdn/vnets/s1w/subnets", subnet="198.51.100.0/24", type="subnet")
    for address in ("198.51.100.10", "192.0.2.10"):  # its own pending subnet, another VNet's applied one
        plain_error(any_api.api("POST", "/cluster/sdn/vnets/s1w/ips", data=dict(zone="s1", ip=address, mac=MAC)),
                    no_subnet_for(address))


def test_a_subnet_deleted_in_the_pending_config_is_found_but_gone_from_the_ipam_db(any_api):
    zone_with_subnet(any_api, ipam="pve", dhcp="dnsmasq")
    ok(any_api, "DELETE", "/cluster/sdn/vnets/s1v/subnets/s1-192.0.2.0-24")
    # still running, so found; but Subnets.pm delete took it out of the IPAM DB when it was written
    plain_error(any_api.api("POST", "/cluster/sdn/vnets/s1v/ips", data=dict(zone="s1", ip="192.0.2.10", mac=MAC)),
                "subnet '192.0.2.0/24' doesn't exist in IPAM DB\n")
    plain_error(any_api.api("DELETE", "/cluster/sdn/vnets/s1v/ips", params=dict(zone="s1", ip="192.0.2.10")),
                "subnet 192.0.2.0/24 don't exist in ipam db at /usr/share/perl5/PVE/Network/SDN/Ipams/PVEPlugin.pm line 265.\n\n")
    ok(any_api, "POST", "/cluster/sdn/vnets/s1v/ips", zone="s1", ip="2001:db8::10", mac=MAC)
    assert [entry["ip"] for entry in any_api.data("GET", "/cluster/sdn/ipams/pve/status")] == ["2001:db8::10"]


def test_a_vnet_deleted_in_the_pending_config_has_no_zone(any_api):
    zone_with_subnet(any_api, ipam="pve", dhcp="dnsmasq")
    for subnet in ("s1-192.0.2.0-24", "s1-2001:db8::-64"):
        ok(any_api, "DELETE", "/cluster/sdn/vnets/s1v/subnets/" + subnet)
    ok(any_api, "DELETE", "/cluster/sdn/vnets/s1v")
    plain_error(any_api.api("POST", "/cluster/sdn/vnets/s1v/ips", data=dict(zone="s1", ip="192.0.2.10", mac=MAC)),
                "no sdn zone ID specified\n")


# -- the status: running zones with ipam pve and dhcp (Ipams.pm ipamindex) ------------------------------
def gateways(api):
    return sorted(entry["ip"] for entry in api.data("GET", "/cluster/sdn/ipams/pve/status") if entry.get("gateway"))


def test_status_lists_the_zones_applied_with_ipam_pve_and_dhcp(any_api):
    zone_with_subnet(any_api, apply=False, ipam="pve", dhcp="dnsmasq")
    assert any_api.data("GET", "/cluster/sdn/ipams/pve/status") == [], "the zone is not applied yet"
    ok(any_api, "PUT", "/cluster/sdn")
    assert any_api.data("GET", "/cluster/sdn/ipams/pve/status") == [
        {"gateway": 1, "zone": "s1", "subnet": "192.0.2.0/24", "ip": "192.0.2.1", "vnet": "s1v"}]
    ok(any_api, "PUT", "/cluster/sdn/zones/s1", delete="dhcp")
    assert gateways(any_api) == ["192.0.2.1"], "the running zone still has dhcp"
    ok(any_api, "PUT", "/cluster/sdn")
    assert gateways(any_api) == []


def test_a_gateway_is_registered_when_the_subnet_is_written(any_api):
    """SubnetPlugin.pm on_update_hook registers the gateway in the IPAM DB on the pending write, not on apply."""
    zone_with_subnet(any_api, ipam="pve", dhcp="dnsmasq")
    ok(any_api, "PUT", "/cluster/sdn/vnets/s1v/subnets/s1-192.0.2.0-24", gateway="192.0.2.254")
    assert gateways(any_api) == ["192.0.2.254"], "the running subnet holds the CIDR; the DB has the new gateway"
    # a new subnet's gateway is in the DB too, but no running VNet holds that subnet until it is applied
    ok(any_api, "POST", "/cluster/sdn/vnets/s1v/subnets", subnet="198.51.100.0/24", type="subnet", gateway="198.51.100.1")
    assert gateways(any_api) == ["192.0.2.254"]
    ok(any_api, "PUT", "/cluster/sdn")
    assert gateways(any_api) == ["192.0.2.254", "198.51.100.1"]


@pytest.mark.parametrize("version, vmid", [("sim84", "100"), ("sim", 100)], ids=["8.4", "9.1"])
def test_status_guest_id_is_a_string_on_8_4_and_an_integer_on_9(request, api_session, version, vmid):
    """pve-network 37c2156 ("ensure that guest ID is returned as an integer", PVE 9): 8.4 returns what it stored."""
    api = api_session(request.getfixturevalue(version))
    zone_with_subnet(api, ipam="pve", dhcp="dnsmasq")
    ok(api, "POST", "/cluster/sdn/vnets/s1v/ips", zone="s1", ip="192.0.2.10", mac=MAC)
    ok(api, "PUT", "/cluster/sdn/vnets/s1v/ips", zone="s1", ip="192.0.2.10", mac=MAC, vmid=100)
    assert status(api) == {"192.0.2.10": {"mac": MAC, "vmid": vmid}}
