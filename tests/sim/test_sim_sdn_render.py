"""What PVE would generate on apply: /etc/network/interfaces.d/sdn and /etc/frr/frr.conf per node,
the 9.1 dry-run diff, and community.proxmox's SDN call sequence through proxmoxer.

Expected texts follow pve-network's rules (Zones/EvpnPlugin.pm generate_sdn_config,
Controllers/EvpnPlugin.pm and BgpPlugin.pm) and its test outputs
src/test/zones/evpn/{exitnode,advertise_subnets,rt_import,multiplezones,exitnodenullroute}/expected_*;
the IPv6-underlay and BGP-controller renders are compared with copies of pve-network's own
expected outputs in fixtures/pve-network/ (see the README there).
"""

import os
import pathlib
import shutil
import subprocess
import time

import pytest
from proxmoxer import ProxmoxAPI

from pvesim.sdn_render import router_id, underlay_mac
from pvesim.testing import ok

pytestmark = pytest.mark.timeout(60)
PEERS = "10.10.10.11,10.10.10.12,10.10.10.13"
PEERS_V6 = "fd00:10::11,fd00:10::12,fd00:10::13"
UPSTREAM = pathlib.Path(__file__).parent / "fixtures" / "pve-network"
PVE9_COMMIT, PVE8_COMMIT = "ecf98c5", "8f4f5d2"

TWO_ZONES_INTERFACES_PVE1 = """#version:1

auto vneta
iface vneta
\taddress 10.0.0.1/24
\thwaddress BC:24:11:00:00:0A
\tbridge_ports vxlan_vneta
\tbridge_stp off
\tbridge_fd 0
\tmtu 1450
\tip-forward on
\tarp-accept on
\tvrf vrf_tenanta

auto vnetb
iface vnetb
\taddress 10.1.0.1/24
\thwaddress BC:24:11:00:00:0B
\tbridge_ports vxlan_vnetb
\tbridge_stp off
\tbridge_fd 0
\tmtu 1450
\tip-forward on
\tarp-accept on
\tvrf vrf_tenantb

auto vrf_tenanta
iface vrf_tenanta
\tvrf-table auto
\tpost-up ip route del vrf vrf_tenanta unreachable default metric 4278198272

auto vrf_tenantb
iface vrf_tenantb
\tvrf-table auto
\tpost-up ip route add vrf vrf_tenantb unreachable default metric 4278198272

auto vrfbr_tenanta
iface vrfbr_tenanta
\tbridge-ports vrfvx_tenanta
\tbridge_stp off
\tbridge_fd 0
\tmtu 1450
\tvrf vrf_tenanta

auto vrfbr_tenantb
iface vrfbr_tenantb
\tbridge-ports vrfvx_tenantb
\tbridge_stp off
\tbridge_fd 0
\tmtu 1450
\tvrf vrf_tenantb

auto vrfvx_tenanta
iface vrfvx_tenanta
\tvxlan-id 10000
\tvxlan-local-tunnelip 10.10.10.11
\tbridge-learning off
\tbridge-arp-nd-suppress on
\tmtu 1450

auto vrfvx_tenantb
iface vrfvx_tenantb
\tvxlan-id 10001
\tvxlan-local-tunnelip 10.10.10.11
\tbridge-learning off
\tbridge-arp-nd-suppress on
\tmtu 1450

auto vxlan_vneta
iface vxlan_vneta
\tvxlan-id 100
\tvxlan-local-tunnelip 10.10.10.11
\tbridge-learning off
\tbridge-arp-nd-suppress on
\tmtu 1450

auto vxlan_vnetb
iface vxlan_vnetb
\tvxlan-id 101
\tvxlan-local-tunnelip 10.10.10.11
\tbridge-learning off
\tbridge-arp-nd-suppress on
\tmtu 1450
"""

FRR_HEADER = """frr version 10.4.1
frr defaults datacenter
hostname {node}
log syslog informational
service integrated-vtysh-config
"""

ROUTER_BGP = """!
router bgp 65000
 bgp router-id {ip}
 no bgp hard-administrative-reset
 no bgp default ipv4-unicast
 coalesce-time 1000
 no bgp graceful-restart notification
 neighbor VTEP peer-group
 neighbor VTEP remote-as 65000
 neighbor VTEP bfd
{neighbors}"""

L2VPN = """ !
 address-family l2vpn evpn
  neighbor VTEP activate
  neighbor VTEP route-map MAP_VTEP_IN in
  neighbor VTEP route-map MAP_VTEP_OUT out
  advertise-all-vni
 exit-address-family
exit
"""

VRF_ROUTER = """!
router bgp 65000 vrf vrf_{zone}
 bgp router-id {ip}
 no bgp hard-administrative-reset
 no bgp graceful-restart notification
"""

REDISTRIBUTE = """ !
 address-family ipv4 unicast
  redistribute connected
 exit-address-family
 !
 address-family ipv6 unicast
  redistribute connected
 exit-address-family
"""

# 9.1 keeps rt-import's order ("65002:1000,65001:1000"), 8.4 sorts it
RT_IMPORT = """ !
 address-family l2vpn evpn
  route-target import 65002:1000
  route-target import 65001:1000
 exit-address-family
exit
"""

# pve1: exit node of tenanta (exitnode/expected_controller_config + exitnodenullroute for the other zone's subnet)
TWO_ZONES_FRR_PVE1 = FRR_HEADER.format(node="pve1") + """!
vrf vrf_tenanta
 vni 10000
 ip route 10.1.0.0/24 null0
exit-vrf
!
vrf vrf_tenantb
 vni 10001
exit-vrf
""" + ROUTER_BGP.format(ip="10.10.10.11", neighbors=" neighbor 10.10.10.12 peer-group VTEP\n neighbor 10.10.10.13 peer-group VTEP\n") + """ !
 address-family ipv4 unicast
  import vrf vrf_tenanta
 exit-address-family
 !
 address-family ipv6 unicast
  import vrf vrf_tenanta
 exit-address-family
""" + L2VPN + VRF_ROUTER.format(zone="tenanta", ip="10.10.10.11") + REDISTRIBUTE + """ !
 address-family l2vpn evpn
  default-originate ipv4
  default-originate ipv6
 exit-address-family
exit
""" + VRF_ROUTER.format(zone="tenantb", ip="10.10.10.11") + RT_IMPORT + """!
ip prefix-list only_default seq 1 permit 0.0.0.0/0
!
ipv6 prefix-list only_default_v6 seq 1 permit ::/0
!
route-map MAP_VTEP_IN deny 1
 match ip address prefix-list only_default
exit
!
route-map MAP_VTEP_IN deny 2
 match ipv6 address prefix-list only_default_v6
exit
!
route-map MAP_VTEP_IN permit 3
exit
!
route-map MAP_VTEP_OUT permit 1
exit
!
line vty
!
"""

# pve2: not an exit node, so tenanta advertises its subnets (advertise_subnets/expected_controller_config)
TWO_ZONES_FRR_PVE2 = FRR_HEADER.format(node="pve2") + """!
vrf vrf_tenanta
 vni 10000
exit-vrf
!
vrf vrf_tenantb
 vni 10001
exit-vrf
""" + ROUTER_BGP.format(ip="10.10.10.12", neighbors=" neighbor 10.10.10.11 peer-group VTEP\n neighbor 10.10.10.13 peer-group VTEP\n") + L2VPN \
    + VRF_ROUTER.format(zone="tenanta", ip="10.10.10.12") + REDISTRIBUTE + """ !
 address-family l2vpn evpn
  advertise ipv4 unicast
  advertise ipv6 unicast
 exit-address-family
exit
""" + VRF_ROUTER.format(zone="tenantb", ip="10.10.10.12") + RT_IMPORT + """!
route-map MAP_VTEP_IN permit 1
exit
!
route-map MAP_VTEP_OUT permit 1
exit
!
line vty
!
"""


def two_zones(api, peers=PEERS):
    """Two EVPN zones: tenanta with an exit node and advertise-subnets, tenantb with rt-import."""
    ok(api, "POST", "/cluster/sdn/controllers", controller="evpnctl", type="evpn", asn=65000, peers=peers)
    ok(api, "POST", "/cluster/sdn/zones", zone="tenanta", type="evpn", controller="evpnctl", exitnodes="pve1", mac="BC:24:11:00:00:0A",
       **{"vrf-vxlan": 10000, "advertise-subnets": 1, "ipam": "pve"})
    ok(api, "POST", "/cluster/sdn/zones", zone="tenantb", type="evpn", controller="evpnctl", mac="BC:24:11:00:00:0B",
       **{"vrf-vxlan": 10001, "rt-import": "65002:1000,65001:1000"})
    ok(api, "POST", "/cluster/sdn/vnets", vnet="vneta", zone="tenanta", tag=100)
    ok(api, "POST", "/cluster/sdn/vnets", vnet="vnetb", zone="tenantb", tag=101)
    ok(api, "POST", "/cluster/sdn/vnets/vneta/subnets", subnet="10.0.0.0/24", type="subnet", gateway="10.0.0.1")
    ok(api, "POST", "/cluster/sdn/vnets/vnetb/subnets", subnet="10.1.0.0/24", type="subnet", gateway="10.1.0.1")


def rendered(api):
    answer = api.sim("GET", "sdn/rendered")
    assert answer.status_code == 200
    return answer.json()["data"]


@pytest.fixture
def api(sim, api_session):
    return api_session(sim)


def test_nothing_is_rendered_before_an_apply(sim, api):
    two_zones(api)
    assert not rendered(api)


def test_two_evpn_zones_three_nodes_interfaces_and_frr(sim, api):
    two_zones(api)
    ok(api, "PUT", "/cluster/sdn")
    files = rendered(api)
    assert sorted(files) == ["pve1", "pve2", "pve3"]
    assert files["pve1"]["interfaces"] == TWO_ZONES_INTERFACES_PVE1
    assert files["pve1"]["frr"] == TWO_ZONES_FRR_PVE1
    assert files["pve2"]["frr"] == TWO_ZONES_FRR_PVE2
    assert files["pve3"]["frr"] == TWO_ZONES_FRR_PVE2.replace("pve2", "pve3").replace("10.10.10.12", "10.10.10.xx") \
        .replace("10.10.10.13", "10.10.10.12").replace("10.10.10.xx", "10.10.10.13")
    pve2 = files["pve2"]["interfaces"]
    assert "post-up ip route add vrf vrf_tenanta unreachable default metric 4278198272" in pve2
    assert "vxlan-local-tunnelip 10.10.10.12" in pve2 and "10.10.10.11" not in pve2


def test_8_4_frr_header_is_pve_network_0_11(sim84, api_session):
    """pve-network 0.11.2 (PVE 8.4): "frr version 8.5.2", an extra "!" after the header, no final newline,
    rt-import sorted."""
    api = api_session(sim84)
    two_zones(api)
    ok(api, "PUT", "/cluster/sdn")
    frr = rendered(api)["pve2"]["frr"]
    assert frr == TWO_ZONES_FRR_PVE2.replace("frr version 10.4.1", "frr version 8.5.2") \
        .replace("service integrated-vtysh-config\n", "service integrated-vtysh-config\n!\n").rstrip("\n") \
        .replace("import 65002:1000\n  route-target import 65001:1000", "import 65001:1000\n  route-target import 65002:1000")


def test_underlay_addresses_from_node_underlay_or_peer_order(sim_factory, api_session):
    """The node's VTEP address: node_underlay, else its cluster IP if a peer, else the peer at its position."""
    api = api_session(sim_factory(node_underlay={"pve2": "192.168.0.2"}))
    two_zones(api, peers="192.168.0.1,192.168.0.2,192.168.0.3")
    ok(api, "PUT", "/cluster/sdn")
    files = rendered(api)
    assert "bgp router-id 192.168.0.1" in files["pve1"]["frr"] and "neighbor 192.168.0.1 peer-group" not in files["pve1"]["frr"]
    assert "vxlan-local-tunnelip 192.168.0.2" in files["pve2"]["interfaces"]
    assert "vxlan-local-tunnelip 192.168.0.3" in files["pve3"]["interfaces"]


def test_exitnodes_primary_and_local_routing_variants(sim, api):
    """exitnode_primary and exitnode_local_routing/expected_*: metric 200 on MAP_VTEP_OUT, xvrf veth pair, ip route."""
    ok(api, "POST", "/cluster/sdn/controllers", controller="evpnctl", type="evpn", asn=65000, peers=PEERS)
    ok(api, "POST", "/cluster/sdn/zones", zone="myzone", type="evpn", controller="evpnctl", exitnodes="pve1,pve2",
       **{"vrf-vxlan": 1000, "exitnodes-primary": "pve2", "exitnodes-local-routing": 1})
    ok(api, "POST", "/cluster/sdn/vnets", vnet="myvnet", zone="myzone", tag=100)
    ok(api, "POST", "/cluster/sdn/vnets/myvnet/subnets", subnet="10.0.0.0/24", type="subnet", gateway="10.0.0.1")
    ok(api, "PUT", "/cluster/sdn")
    files = rendered(api)
    assert "route-map MAP_VTEP_OUT permit 1\n match ip address prefix-list only_default\n set metric 200\nexit" in files["pve1"]["frr"]
    assert "route-map MAP_VTEP_IN deny 1\n match ip address prefix-list only_default\nexit" in files["pve2"]["frr"]
    assert files["pve1"]["frr"].endswith("!\nip route 10.0.0.0/24 10.255.255.2 xvrf_myzone\n!\nline vty\n!\n")
    assert "import vrf" not in files["pve1"]["frr"] and "redistribute connected" not in files["pve1"]["frr"]
    assert ("auto xvrfp_myzone\niface xvrfp_myzone\n\tlink-type veth\n\taddress 10.255.255.2/30\n\tveth-peer-name xvrf_myzone\n"
            "\tvrf vrf_myzone\n\tmtu 1500\n") in files["pve1"]["interfaces"]
    assert "xvrf" not in files["pve3"]["interfaces"]


def test_simple_vlan_and_vxlan_zones(sim, api):
    """simple/ipv4, vlan/bridge_vlanaware and vxlan/basic expected_sdn_interfaces."""
    ok(api, "POST", "/cluster/sdn/zones", zone="simple", type="simple")
    ok(api, "POST", "/cluster/sdn/zones", zone="vlan", type="vlan", bridge="vmbr0")
    ok(api, "POST", "/cluster/sdn/zones", zone="vx", type="vxlan", peers=PEERS, nodes="pve1,pve2")
    ok(api, "POST", "/cluster/sdn/vnets", vnet="simple1", zone="simple")
    ok(api, "POST", "/cluster/sdn/vnets", vnet="vlan1", zone="vlan", tag=100)
    ok(api, "POST", "/cluster/sdn/vnets", vnet="vx1", zone="vx", tag=200)
    ok(api, "POST", "/cluster/sdn/vnets/simple1/subnets", subnet="192.168.0.0/24", type="subnet", gateway="192.168.0.1")
    ok(api, "PUT", "/cluster/sdn")
    files = rendered(api)
    assert files["pve2"]["interfaces"] == """#version:1

auto simple1
iface simple1
\taddress 192.168.0.1/24
\tbridge_ports none
\tbridge_stp off
\tbridge_fd 0
\tip-forward on

auto vlan1
iface vlan1
\tbridge_ports vmbr0.100
\tbridge_stp off
\tbridge_fd 0

auto vx1
iface vx1
\tbridge_ports vxlan_vx1
\tbridge_stp off
\tbridge_fd 0
\tmtu 1450

auto vxlan_vx1
iface vxlan_vx1
\tvxlan-id 200
\tvxlan_remoteip 10.10.10.11
\tvxlan_remoteip 10.10.10.13
\tmtu 1450
"""
    assert "vx1" not in files["pve3"]["interfaces"]  # the zone's `nodes` excludes pve3
    assert files["pve1"]["frr"] == ""  # no controller: frr.conf is not written


def require_vtysh():
    """vtysh comes with Debian's frr package (scripts/host-packages.sh): CI must have it."""
    if shutil.which("vtysh"):
        return
    if os.environ.get("CI") == "true":
        pytest.fail("vtysh is missing on CI: scripts/host-packages.sh installs Debian's frr")
    pytest.skip("FRR (vtysh) is not installed: scripts/host-packages.sh installs it")


# Commands of Proxmox's FRR build that Debian's FRR lacks: `autort as` (eBGP EVPN route targets) was
# proposed to FRR (FRRouting/frr pull request 7535, closed unmerged) and ships as a Proxmox patch.
PROXMOX_FRR_ONLY = ("autort as ",)


def vtysh_check(text, path):
    """`vtysh -C -f` parses the file with FRR's own grammar (no daemons needed); returns the result.
    Lines only Proxmox's FRR knows are left out (Debian's vtysh would reject them)."""
    path.write_text("".join(line for line in text.splitlines(keepends=True) if not line.strip().startswith(PROXMOX_FRR_ONLY)))
    return subprocess.run(["vtysh", "-C", "-f", str(path)], capture_output=True, text=True, timeout=30, check=False)


def exit_node_with_bgp_uplink(api):
    """two_zones plus pve1's BGP controller to the home router: eBGP, multihop, loopback, multipath-relax."""
    two_zones(api)
    ok(api, "POST", "/cluster/sdn/controllers", controller="uplink", type="bgp", asn=65001, node="pve1",
       peers="192.168.1.1,192.168.1.2", ebgp=1, loopback="dummy1", **{"ebgp-multihop": 3, "bgp-multipath-as-path-relax": 1})


def ipv6_exit_node_with_bgp_uplink(api):
    """An IPv6 underlay whose exit node pve1 peers with the home router over IPv6 from a loopback."""
    two_zones(api, peers=PEERS_V6)
    ok(api, "POST", "/cluster/sdn/controllers", controller="uplink", type="bgp", asn=65000, node="pve1", peers="fd00:1::1",
       loopback="dummy1")


@pytest.mark.parametrize("scenario", [two_zones, lambda api: two_zones(api, peers=PEERS_V6), exit_node_with_bgp_uplink,
                                      ipv6_exit_node_with_bgp_uplink],
                         ids=["ipv4-underlay", "ipv6-underlay", "bgp-uplink", "ipv6-bgp-uplink"])
def test_rendered_frr_conf_passes_vtysh_check(sim, api, tmp_path, scenario):
    """Every node's rendered frr.conf, IPv4 or IPv6 underlay, with or without a BGP controller."""
    require_vtysh()
    scenario(api)
    ok(api, "PUT", "/cluster/sdn")
    for node, files in rendered(api).items():
        assert "router bgp" in files["frr"], node
        result = vtysh_check(files["frr"], tmp_path / ("frr-%s.conf" % node))
        assert result.returncode == 0, (node, files["frr"], result.stdout, result.stderr)


def test_upstream_fixtures_pass_vtysh_check(tmp_path):
    """The pve-network outputs the renders are pinned to are valid FRR too (so the check means something)."""
    require_vtysh()
    for path in sorted(UPSTREAM.glob(PVE9_COMMIT + "/*/expected_controller_config")):
        result = vtysh_check(path.read_text(), tmp_path / "frr.conf")
        assert result.returncode == 0, (path, result.stdout, result.stderr)


def test_vtysh_check_rejects_an_ipv6_router_id(tmp_path):
    """What the IPv6 router-id fix is about: FRR accepts only an IPv4-style router-id."""
    require_vtysh()
    text = FRR_HEADER.format(node="pve1") + "!\nrouter bgp 65000\n bgp router-id fd00:10::11\nexit\n!\nline vty\n!\n"
    assert vtysh_check(text, tmp_path / "frr.conf").returncode != 0


# -- IPv6 underlay ------------------------------------------------------------------------------------
def upstream(commit, test, name="expected_controller_config"):
    return (UPSTREAM / commit / test / name).read_text()


def localhost_cluster(sim_factory, api_session, underlay, version="9.1"):
    """One node named `localhost`, like pve-network's test runner, with the fixtures' underlay address."""
    return api_session(sim_factory(version=version, nodes=("localhost",), node_underlay={"localhost": underlay}))


def upstream_zone(api, peers="192.168.0.1,192.168.0.2,192.168.0.3", subnet="10.0.0.0/24", gateway="10.0.0.1", **zone):
    """The sdn_config most of pve-network's evpn tests share: evpnctl (asn 65000), myzone, myvnet, one subnet."""
    ok(api, "POST", "/cluster/sdn/controllers", controller="evpnctl", type="evpn", asn=65000, peers=peers)
    ok(api, "POST", "/cluster/sdn/zones", zone="myzone", type="evpn", controller="evpnctl", ipam="pve", **{"vrf-vxlan": 1000}, **zone)
    ok(api, "POST", "/cluster/sdn/vnets", vnet="myvnet", zone="myzone", tag=100)
    ok(api, "POST", "/cluster/sdn/vnets/myvnet/subnets", subnet=subnet, type="subnet", gateway=gateway)


def test_router_id_of_an_ipv6_address_is_the_mac_last_four_bytes():
    """Controllers/Plugin.pm get_router_id with pve-network's test MAC (ipv6underlay: 17.29.105.96)."""
    assert router_id("2a08:2200:100:1::10", "bc:24:11:1d:69:60") == "17.29.105.96"
    assert router_id("192.168.0.1", "bc:24:11:1d:69:60") == "192.168.0.1"


def test_ipv6_underlay_matches_pve_network_ipv6underlay(sim_factory, api_session):
    """ipv6underlay/expected_*: IPv6 VTEP neighbors, an IPv4-style router-id in both routers.
    The simulated interface MAC is BC:24:11:00:00:01 (node id 1), upstream's mock bc:24:11:1d:69:60."""
    simulator = sim_factory(nodes=("localhost",), node_underlay={"localhost": "2a08:2200:100:1::10"})
    api = api_session(simulator)
    upstream_zone(api, peers="2a08:2200:100:1::10,2a08:2200:100:1::11,2a08:2200:100:1::12",
                  subnet="2a08:2142:302:3::/64", gateway="2a08:2142:302:3::1", mac="A2:1D:CB:1A:C0:8B")
    ok(api, "PUT", "/cluster/sdn")
    files = rendered(api)["localhost"]
    assert underlay_mac(simulator, "localhost") == "BC:24:11:00:00:01"
    assert files["frr"] == upstream(PVE9_COMMIT, "ipv6underlay").replace("17.29.105.96", "17.0.0.1")
    assert files["interfaces"] == upstream(PVE9_COMMIT, "ipv6underlay", "expected_sdn_interfaces")
    assert files["not_simulated"] == []


def test_ipv6_underlay_router_ids_are_unique_per_node(sim, api):
    two_zones(api, peers=PEERS_V6)
    ok(api, "PUT", "/cluster/sdn")
    files = rendered(api)
    for number, node in enumerate(("pve1", "pve2", "pve3"), 1):
        frr = files[node]["frr"]
        assert frr.count("bgp router-id 17.0.0.%d\n" % number) == 3  # the default router and both VRF routers
        others = [peer for peer in PEERS_V6.split(",") if not peer.endswith("::1%d" % number)]
        assert " neighbor VTEP remote-as 65000\n neighbor VTEP bfd\n" + "".join(" neighbor %s peer-group VTEP\n" % peer for peer in others) in frr
        assert "vxlan-local-tunnelip fd00:10::1%d" % number in files[node]["interfaces"]


def test_ipv6_underlay_on_8_4_dies_in_pve_network(sim_factory, api_session):
    """pve-network 0.11.2 reads the MAC of the interface's master only; vmbr0 has none, so generating
    frr.conf dies ("can't autofind a router-id") and the file is not rewritten."""
    api = api_session(sim_factory(version="8.4"))
    two_zones(api, peers=PEERS_V6)
    ok(api, "PUT", "/cluster/sdn")
    files = rendered(api)["pve1"]
    assert files["frr"] == ""
    assert any("can't autofind a router-id value from ip or mac" in note for note in files["not_simulated"])
    assert "vxlan-local-tunnelip fd00:10::11" in files["interfaces"]


def test_ipv6_underlay_with_lo_as_bgp_loopback_dies_on_9_1(sim, api):
    """Controllers/Plugin.pm get_router_id: lo's MAC is all zeros, pve-network refuses to derive an id."""
    two_zones(api, peers=PEERS_V6)
    ok(api, "POST", "/cluster/sdn/controllers", controller="uplink", type="bgp", asn=65000, node="pve1", peers="fd00:1::1", loopback="lo")
    ok(api, "PUT", "/cluster/sdn")
    files = rendered(api)
    assert files["pve1"]["frr"] == "" and any("zero MAC address" in note for note in files["pve1"]["not_simulated"])
    assert "bgp router-id 17.0.0.2" in files["pve2"]["frr"] and files["pve2"]["not_simulated"] == []


def test_ipv6_underlay_bgp_controller_activates_ipv6_unicast(sim, api):
    """BgpPlugin.pm: the address family follows the local address; a loopback announces it as /128."""
    ipv6_exit_node_with_bgp_uplink(api)
    ok(api, "PUT", "/cluster/sdn")
    frr = rendered(api)["pve1"]["frr"]
    assert (" !\n address-family ipv6 unicast\n  network fd00:10::11/128\n  import vrf vrf_tenanta\n"
            "  neighbor BGP activate\n  neighbor BGP soft-reconfiguration inbound\n exit-address-family\n") in frr
    assert " neighbor VTEP update-source dummy1\n" in frr and "bgp router-id 17.0.0.1\n" in frr
    assert "route-map correct_src permit 1\n match ip address prefix-list loopbacks_ips\n set src fd00:10::11\nexit" in frr


# -- BGP controller -------------------------------------------------------------------------------------
BGP_UPLINK = {"peers": "192.168.0.252,192.168.0.253", "asn": 65000}
UPSTREAM_BGP_CASES = [  # (commit, pve-network test, its bgp controller's id and options, with its EVPN zone)
    (PVE9_COMMIT, "bgp_ebgp", "localhost", dict(BGP_UPLINK, ebgp=1), True),
    (PVE9_COMMIT, "bgp_ebgp_multihop", "localhost", dict(BGP_UPLINK, ebgp=1, loopback="lo", **{"ebgp-multihop": 5}), True),
    (PVE9_COMMIT, "bgp_ebgp_reverse_order", "blocalhost", dict(BGP_UPLINK, ebgp=1), True),
    (PVE9_COMMIT, "bgp_loopback", "localhost", dict(BGP_UPLINK, loopback="lo"), True),
    (PVE9_COMMIT, "bgp_multipath_relax", "localhost", dict(BGP_UPLINK, **{"bgp-multipath-as-path-relax": 1}), True),
    (PVE9_COMMIT, "ebgp", "localhost", dict(BGP_UPLINK, ebgp=1, asn=65001, **{"ebgp-multihop": 3}), True),
    (PVE9_COMMIT, "ebgp_loopback", "localhost",
     {"peers": "172.16.0.254,172.17.0.254", "ebgp": 1, "asn": 65001, "loopback": "dummy1"}, True),
    (PVE9_COMMIT, "ebgp_only", "localhost", dict(BGP_UPLINK, ebgp=1, asn=65001, **{"ebgp-multihop": 3}), False),
    (PVE8_COMMIT, "ebgp", "localhost", dict(BGP_UPLINK, ebgp=1, asn=65001, **{"ebgp-multihop": 3}), True),
    (PVE8_COMMIT, "ebgp_loopback", "localhost",
     {"peers": "172.16.0.254,172.17.0.254", "ebgp": 1, "asn": 65001, "loopback": "dummy1"}, True),
    (PVE8_COMMIT, "multipath_relax", "localhost",
     {"peers": "192.168.0.1,192.168.0.2,192.168.0.3", "asn": 65000, "bgp-multipath-as-path-relax": 1}, True),
]


@pytest.mark.parametrize("commit,test,controller_id,options,with_zone", UPSTREAM_BGP_CASES,
                         ids=["%s-%s" % (case[0], case[1]) for case in UPSTREAM_BGP_CASES])
def test_bgp_controller_matches_pve_network(sim_factory, api_session, commit, test, controller_id, options, with_zone):
    """src/test/zones/evpn/<test>/expected_controller_config: 9.1 writes the template's order (router
    options before every neighbor group), 8.4 each plugin's lines in turn (controllers sorted by id)."""
    api = localhost_cluster(sim_factory, api_session, "192.168.0.1", version="9.1" if commit == PVE9_COMMIT else "8.4")
    if with_zone:
        upstream_zone(api)
    ok(api, "POST", "/cluster/sdn/controllers", controller=controller_id, type="bgp", node="localhost", **options)
    ok(api, "PUT", "/cluster/sdn")
    files = rendered(api)["localhost"]
    assert files["frr"] == upstream(commit, test)
    assert files["not_simulated"] == []


def test_bgp_controller_renders_on_its_node_only(sim, api):
    """The exit node pve1 peers with the home router; the others keep the plain EVPN config. With an
    exit node, the BGP unicast family also imports the zone's VRF (9.1: after `network`)."""
    exit_node_with_bgp_uplink(api)
    ok(api, "PUT", "/cluster/sdn")
    files = rendered(api)
    pve1 = files["pve1"]["frr"]
    assert (" coalesce-time 1000\n no bgp graceful-restart notification\n bgp disable-ebgp-connected-route-check\n"
            " bgp bestpath as-path multipath-relax\n neighbor VTEP peer-group\n neighbor VTEP remote-as external\n"
            " neighbor VTEP bfd\n neighbor VTEP ebgp-multihop 10\n neighbor VTEP update-source dummy1\n") in pve1
    assert (" neighbor BGP peer-group\n neighbor BGP remote-as external\n neighbor BGP bfd\n neighbor BGP ebgp-multihop 3\n"
            " neighbor 192.168.1.1 peer-group BGP\n neighbor 192.168.1.2 peer-group BGP\n") in pve1
    assert (" address-family ipv4 unicast\n  network 10.10.10.11/32\n  import vrf vrf_tenanta\n  neighbor BGP activate\n"
            "  neighbor BGP soft-reconfiguration inbound\n exit-address-family\n") in pve1
    assert "router bgp 65001 vrf vrf_tenanta\n" in pve1 and "  autort as 65000\n" in pve1
    assert "  route-target import 65000:10000\n  route-target export 65000:10000\n" in pve1
    assert "\n!\nip prefix-list loopbacks_ips seq 10 permit 0.0.0.0/0 le 32\n!\nip prefix-list only_default seq 1" in pve1
    assert pve1.endswith("set src 10.10.10.11\nexit\n!\nip protocol bgp route-map correct_src\n!\nline vty\n!\n")
    assert files["pve2"]["frr"] == TWO_ZONES_FRR_PVE2


def test_bgp_controller_on_8_4_adds_its_lines_after_the_evpn_ones(sim84, api_session):
    """pve-network 0.11: the BGP plugin's options follow the VTEP group it finds, `import vrf` follows
    its unicast lines, and one sorted list holds the prefix-lists of both families' kinds."""
    api = api_session(sim84)
    exit_node_with_bgp_uplink(api)
    ok(api, "PUT", "/cluster/sdn")
    pve1 = rendered(api)["pve1"]["frr"]
    assert (" neighbor 10.10.10.13 peer-group VTEP\n bgp disable-ebgp-connected-route-check\n"
            " bgp bestpath as-path multipath-relax\n neighbor BGP peer-group\n") in pve1
    assert ("  network 10.10.10.11/32\n  neighbor BGP activate\n  neighbor BGP soft-reconfiguration inbound\n"
            "  import vrf vrf_tenanta\n") in pve1
    assert ("  route-target import 65000:10000\n  route-target export 65000:10000\n  default-originate ipv4\n") in pve1
    assert ("!\nip prefix-list loopbacks_ips seq 10 permit 0.0.0.0/0 le 32\nip prefix-list only_default seq 1 permit 0.0.0.0/0\n"
            "!\nipv6 prefix-list only_default_v6 seq 1 permit ::/0\n") in pve1


def test_bgp_controller_alone_9_1_rewrites_every_node_8_4_none(sim, sim84, api_session):
    """9.1 regenerates frr.conf whenever a controller exists (SDN.pm running_config_has_frr): nodes
    without a part get the bare skeleton. In 8.4 only the EVPN plugin writes frr.conf."""
    for simulator in (sim, sim84):
        api = api_session(simulator)
        ok(api, "POST", "/cluster/sdn/controllers", controller="uplink", type="bgp", asn=65001, node="pve1",
           peers="192.168.1.1", ebgp=1)
        ok(api, "PUT", "/cluster/sdn")
        files = rendered(api)
        if simulator is sim:
            assert "router bgp 65001\n bgp router-id 10.10.10.11\n no bgp default ipv4-unicast\n" in files["pve1"]["frr"]
            assert files["pve2"]["frr"] == FRR_HEADER.format(node="pve2") + "!\nline vty\n!\n"
        else:
            assert [files[node]["frr"] for node in ("pve1", "pve2")] == ["", ""]


# -- what is not simulated -------------------------------------------------------------------------------
def test_isis_controller_is_listed_as_not_simulated_on_its_node(sim, api):
    """IsisPlugin.pm writes `router isis` and interface blocks: the simulator says it leaves them out.
    Its loopback still makes the VTEP peers use it as source (EvpnPlugin.pm)."""
    two_zones(api)
    ok(api, "POST", "/cluster/sdn/controllers", controller="isisctl", type="isis", node="pve1", loopback="dummy1",
       **{"isis-domain": "isis1", "isis-ifaces": "eth1,eth0", "isis-net": "47.0023.0000.0000.0000.0000.0000.0000.1900.0004.00"})
    ok(api, "PUT", "/cluster/sdn")
    files = rendered(api)
    assert files["pve1"]["not_simulated"] == [
        "frr.conf: isis controller isisctl: `router isis isis1` and the `interface` blocks of eth0, eth1 are not rendered"]
    assert "router isis" not in files["pve1"]["frr"] and " neighbor VTEP update-source dummy1\n" in files["pve1"]["frr"]
    assert files["pve2"]["not_simulated"] == [] and files["pve2"]["frr"] == TWO_ZONES_FRR_PVE2


def test_fabric_underlay_and_qinq_zones_are_listed_as_not_simulated(sim, api):
    """Fabrics are not simulated: an EVPN controller or VXLAN zone over one renders nothing false."""
    ok(api, "POST", "/cluster/sdn/controllers", controller="evpnctl", type="evpn", asn=65000, fabric="fab1")
    ok(api, "POST", "/cluster/sdn/zones", zone="tenanta", type="evpn", controller="evpnctl", **{"vrf-vxlan": 10000})
    ok(api, "POST", "/cluster/sdn/zones", zone="vx", type="vxlan", fabric="fab1")
    ok(api, "POST", "/cluster/sdn/zones", zone="qq", type="qinq", bridge="vmbr0", tag=20)
    for tag, (vnet, zone) in enumerate((("vneta", "tenanta"), ("vx1", "vx"), ("qq1", "qq")), 100):
        ok(api, "POST", "/cluster/sdn/vnets", vnet=vnet, zone=zone, tag=tag)
    ok(api, "PUT", "/cluster/sdn")
    files = rendered(api)["pve2"]
    assert files["interfaces"] == "#version:1\n"
    assert files["frr"] == FRR_HEADER.format(node="pve2") + "!\nline vty\n!\n"
    assert files["not_simulated"] == [
        "interfaces: zone qq: qinq zones are not simulated, so its vnets are not rendered",
        "interfaces: zone tenanta: it runs over fabric fab1 and fabrics are not simulated, so its vnets are not rendered",
        "interfaces: zone vx: it runs over fabric fab1 and fabrics are not simulated, so its vnets are not rendered",
        "frr.conf: evpn controller evpnctl uses fabric fab1; fabrics are not simulated, so its BGP EVPN configuration is not rendered"]


@pytest.mark.parametrize("version", ["9.1", "8.4"])
def test_faucet_controller_and_zone_are_not_rendered(request, api_session, version):
    """9.1: FaucetPlugin.pm has no generate_frr_config, so the FRR generation dies on every node and
    frr.conf is not rewritten; 8.4 writes the EVPN part and /etc/faucet/faucet.yaml (not rendered)."""
    api = api_session(request.getfixturevalue("sim" if version == "9.1" else "sim84"))
    two_zones(api)
    ok(api, "POST", "/cluster/sdn/controllers", controller="fc", type="faucet")
    ok(api, "POST", "/cluster/sdn/zones", zone="fz", type="faucet", controller="fc", **{"dp-id": 1})
    ok(api, "POST", "/cluster/sdn/vnets", vnet="fvnet", zone="fz", tag=300)
    ok(api, "PUT", "/cluster/sdn")
    files = rendered(api)["pve2"]
    faucet_note = ("frr.conf: pve-network dies (faucet controller fc: please implement inside plugin), so the file is not "
                   "rewritten; the reload task's warning is not simulated") if version == "9.1" \
        else "faucet controller fc: /etc/faucet/faucet.yaml is not rendered"
    assert files["not_simulated"] == ["interfaces: zone fz: faucet zones are not simulated, so its vnets are not rendered", faucet_note]
    assert (files["frr"] == "") == (version == "9.1") and "fvnet" not in files["interfaces"]


def test_ipv6_exit_node_local_routing_9_1(sim, api):
    """exitnode_local_routing with an IPv6 subnet (pve-network 1.3): fe80::/126 on the veth pair, an
    `ipv6 route` via fe80::2; each route after its own "!" (ip_routes.jinja)."""
    ok(api, "POST", "/cluster/sdn/controllers", controller="evpnctl", type="evpn", asn=65000, peers=PEERS)
    ok(api, "POST", "/cluster/sdn/zones", zone="myzone", type="evpn", controller="evpnctl", exitnodes="pve1",
       **{"vrf-vxlan": 1000, "exitnodes-local-routing": 1})
    ok(api, "POST", "/cluster/sdn/vnets", vnet="myvnet", zone="myzone", tag=100)
    ok(api, "POST", "/cluster/sdn/vnets/myvnet/subnets", subnet="10.0.0.0/24", type="subnet", gateway="10.0.0.1")
    ok(api, "POST", "/cluster/sdn/vnets/myvnet/subnets", subnet="fd00:20::/64", type="subnet", gateway="fd00:20::1")
    ok(api, "PUT", "/cluster/sdn")
    files = rendered(api)["pve1"]
    assert files["frr"].endswith("!\nip route 10.0.0.0/24 10.255.255.2 xvrf_myzone\n!\nipv6 route fd00:20::/64 fe80::2 xvrf_myzone\n"
                                 "!\nline vty\n!\n")
    assert "\taddress 10.255.255.1/30\n\taddress fe80::1/126\n\tveth-peer-name xvrfp_myzone\n" in files["interfaces"]
    assert "\taddress 10.255.255.2/30\n\taddress fe80::2/126\n\tveth-peer-name xvrf_myzone\n" in files["interfaces"]


def test_dry_run_diffs_running_files_against_pending(sim, api):
    """API2/Network/SDN.pm dry-run (9.1): diff -u of the node's files and what the pending config renders."""
    empty = api.data("GET", "/cluster/sdn/dry-run", params={"node": "pve2"})
    # never applied: no file on the node yet (diff -N), the empty config renders only its version line
    assert empty["frr-diff"] is None and empty["interfaces-diff"].endswith("@@ -0,0 +1 @@\n+#version:1\n")
    two_zones(api)
    before = api.data("GET", "/cluster/sdn/dry-run", params={"node": "pve2"})
    assert before["interfaces-diff"].startswith("--- /etc/network/interfaces.d/sdn\n+++ /etc/network/interfaces.d/sdn.pending\n")
    assert "+auto vneta" in before["interfaces-diff"] and "+router bgp 65000" in before["frr-diff"]
    assert sim.counters()["sdn_applies"] == 0 and not rendered(api)  # nothing committed
    ok(api, "PUT", "/cluster/sdn")
    assert api.data("GET", "/cluster/sdn/dry-run", params={"node": "pve2"}) == {"frr-diff": None, "interfaces-diff": None}
    ok(api, "PUT", "/cluster/sdn/vnets/vneta", alias="tenant a")
    after = api.data("GET", "/cluster/sdn/dry-run", params={"node": "pve2"})
    assert after["frr-diff"] is None and "+\talias tenant a" in after["interfaces-diff"]


# -- community.proxmox's SDN modules, raw through proxmoxer -------------------------------------------
def client(sim):
    tokenid, secret = next(iter(sim.tokens.items()))
    user, name = tokenid.split("!", 1)
    return ProxmoxAPI("127.0.0.1", port=sim.port, user=user, token_name=name, token_value=secret, verify_ssl=sim.cert_path)


def community_write_9(proxmox, collection, write):
    """community.proxmox on 9.x: version x2, list, lock, write with lock-token, apply with lock-token + release-lock."""
    proxmox.version.get()
    proxmox.version.get()
    collection.get()
    token = proxmox.cluster.sdn.lock.post()
    write(token)
    return proxmox.cluster.sdn.put(**{"lock-token": token, "release-lock": 1})


def community_write_8(proxmox, collection, write):
    """community.proxmox on 8.x: no lock; apply, then poll the task."""
    proxmox.version.get()
    proxmox.version.get()
    collection.get()
    write(None)
    upid = proxmox.cluster.sdn.put()
    node = upid.split(":")[1]
    deadline = time.monotonic() + 10
    while proxmox.nodes(node).tasks(upid).status.get()["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert proxmox.nodes(node).tasks(upid).status.get()["exitstatus"] == "OK"
    return upid


@pytest.mark.parametrize("version", ["9.1", "8.4"])
def test_community_proxmox_sequence_zone_vnet_subnet(request, version):
    sim = request.getfixturevalue("sim" if version == "9.1" else "sim84")
    proxmox = client(sim)
    sequence = community_write_9 if version == "9.1" else community_write_8

    def token_args(token):
        return {"lock-token": token} if token else {}
    sdn = proxmox.cluster.sdn
    sequence(proxmox, sdn.zones, lambda token: sdn.zones.post(zone="tenanta", type="simple", ipam="pve", **token_args(token)))
    sequence(proxmox, sdn.vnets, lambda token: sdn.vnets.post(vnet="vneta", zone="tenanta", **token_args(token)))
    sequence(proxmox, sdn.vnets("vneta").subnets, lambda token: sdn.vnets("vneta").subnets.post(
        subnet="10.0.0.0/24", type="subnet", gateway="10.0.0.1", **token_args(token)))
    assert sim.counters()["sdn_applies"] == 3
    assert [subnet["id"] for subnet in sdn.vnets("vneta").subnets.get(running=1)] == ["tenanta-10.0.0.0-24"]
    if version == "9.1":
        sdn.zones.post(zone="other", type="simple")  # the lock was released by the apply
