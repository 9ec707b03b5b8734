"""What PVE would generate on apply: /etc/network/interfaces.d/sdn and /etc/frr/frr.conf per node,
the 9.1 dry-run diff, and community.proxmox's SDN call sequence through proxmoxer.

Expected texts follow pve-network's rules (Zones/EvpnPlugin.pm generate_sdn_config,
Controllers/EvpnPlugin.pm generate_controller_*config) and its test outputs
src/test/zones/evpn/{exitnode,advertise_subnets,rt_import,multiplezones,exitnodenullroute}/expected_*.
"""

import os
import shutil
import subprocess
import time

import pytest
from proxmoxer import ProxmoxAPI

pytestmark = pytest.mark.timeout(60)
PEERS = "10.10.10.11,10.10.10.12,10.10.10.13"

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

RT_IMPORT = """ !
 address-family l2vpn evpn
  route-target import 65001:1000
  route-target import 65002:1000
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


def ok(api, method, path, **params):
    answer = api.api(method, path, data=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


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
    """pve-network 0.11.2 (PVE 8.4): "frr version 8.5.2", an extra "!" after the header, no final newline."""
    api = api_session(sim84)
    two_zones(api)
    ok(api, "PUT", "/cluster/sdn")
    frr = rendered(api)["pve2"]["frr"]
    assert frr == TWO_ZONES_FRR_PVE2.replace("frr version 10.4.1", "frr version 8.5.2") \
        .replace("service integrated-vtysh-config\n", "service integrated-vtysh-config\n!\n").rstrip("\n")


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


@pytest.mark.skipif(not shutil.which("vtysh") or not os.path.isdir("/usr/lib/frr"),
                    reason="FRR (vtysh) is not installed: apt-get install --no-install-recommends frr")
def test_rendered_frr_conf_passes_vtysh_check(sim, api, tmp_path):
    """`vtysh -C -f` parses the file with FRR's own grammar (no daemons needed)."""
    two_zones(api)
    ok(api, "PUT", "/cluster/sdn")
    for node, files in rendered(api).items():
        path = tmp_path / ("frr-%s.conf" % node)
        path.write_text(files["frr"])
        result = subprocess.run(["vtysh", "-C", "-f", str(path)], capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 0, (node, result.stdout, result.stderr)


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
