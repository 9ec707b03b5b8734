"""The twin's network: BGP EVPN sessions up, guests of one VNet on two nodes reach each other through VXLAN,
between a zone's VNets only through that zone's (VRF) namespace, never into another zone; the outside;
`down` leaves nothing of the run."""

import os
import subprocess

from .conftest import VMS, built_twin, in_netns, mac, nettwin, ping


def running(pid):
    """Whether a process still runs (a zombie left for its parent to reap does not)."""
    try:
        with open("/proc/%d/status" % pid, encoding="utf-8") as handle:
            return "zombie" not in handle.read().lower()
    except OSError:
        return False


def vm_netns(twin, name):
    return next(vm["netns"] for vm in twin["vms"].values() if vm["name"] == name)


def test_twin_json_records_nodes_zones_vnets_and_every_vm(twin):
    document = twin["twin"]
    prefix = "hctw-%s-" % document["id"]
    assert len(document["id"]) == 6 and int(document["id"], 16) >= 0
    assert sorted(document["nodes"]) == ["pve1", "pve2", "pve3"]
    assert dict((node, facts["underlay_address"]) for node, facts in document["nodes"].items()) == {
        "pve1": "10.255.0.1", "pve2": "10.255.0.2", "pve3": "10.255.0.3"}
    assert {"acme", "globex", "shared"} <= set(document["zones"])  # (and transit when the plan has one)
    assert sorted(document["zones"]["acme"]) == ["pve1", "pve2", "pve3"]
    assert document["vnets"]["acme02"]["cidr"] == "10.128.18.0/24" and document["vnets"]["acme02"]["tenant"] == "acme"
    assert sorted(document["vnets"]["acme01"]["bridges"]) == ["pve1", "pve2", "pve3"]
    kinds = dict((document["vms"][str(vmid)]["name"], document["vms"][str(vmid)]["kind"]) for vmid, _n, _node, _nics in VMS)
    assert kinds == {"web1": "guest", "web2": "guest", "db1": "guest", "app1": "guest", "acme-gw": "gateway", "dns": "service"}
    gateway = document["vms"]["10100"]
    assert [(nic["ifname"], nic["mac"], nic["vnet"], nic["address"]) for nic in gateway["nics"]] == [
        ("ens18", mac(10100, 0).lower(), None, "198.51.100.21/24"), ("ens19", mac(10100, 1).lower(), "acme01", "10.128.17.2/24"),
        ("ens20", mac(10100, 2).lower(), "acme02", "10.128.18.2/24")]
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True, timeout=10).stdout
    for netns in document["created"]["netns"]:
        assert netns.startswith(prefix) and netns in names
    # the guest's NIC carries the config's MAC and address, as cloud-init would set them
    shown = in_netns(vm_netns(document, "web1"), "ip", "-br", "link", "show", "ens18").stdout
    assert mac(10110, 0).lower() in shown.lower()


def test_every_node_has_its_bgp_evpn_sessions_established(twin):
    document = twin["twin"]
    assert document["frr"]["sessions"] == 6
    for node, facts in document["nodes"].items():
        summary = subprocess.run(["vtysh", "--vty_socket", facts["vty_socket"], "-c", "show bgp l2vpn evpn summary"],
                                 capture_output=True, text=True, timeout=15, check=True).stdout
        others = [other["underlay_address"] for name, other in document["nodes"].items() if name != node]
        for peer in others:
            assert peer in summary, (node, summary)
        # every node holds every node's type-3 route for every VNI
        assert document["frr"]["type3"][node] == 3 * len(document["vnets"])


def test_guests_of_one_vnet_on_two_nodes_reach_each_other_through_vxlan(twin):
    document = twin["twin"]
    assert ping(vm_netns(document, "web1"), "10.128.17.11")  # web1 on pve1 -> web2 on pve2
    # the path is the VXLAN device: its counters grow with the traffic
    node_ns = document["nodes"]["pve1"]["netns"]
    before = int(in_netns(node_ns, "cat", "/sys/class/net/vxlan_acme01/statistics/tx_packets").stdout)
    assert ping(vm_netns(document, "web2"), "10.128.17.10")
    after = int(in_netns(node_ns, "cat", "/sys/class/net/vxlan_acme01/statistics/tx_packets").stdout)
    assert after > before


def test_between_a_zones_vnets_only_through_the_zone_namespace_and_never_into_another_zone(twin):
    document = twin["twin"]
    web1 = vm_netns(document, "web1")
    assert ping(web1, "10.128.18.10")  # acme web -> acme db (db1 on pve3) routed by acme's zone namespaces
    zone_namespaces = sorted(document["zones"]["acme"].values())
    try:
        for netns in zone_namespaces:
            in_netns(netns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=0")
        assert not ping(web1, "10.128.18.10"), "web -> db must need the zone namespace's routing"
    finally:
        for netns in zone_namespaces:
            in_netns(netns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
    assert ping(web1, "10.128.18.10")
    # another zone (globex, the shared services) is never reachable, either way
    assert not ping(web1, "10.128.33.10")
    assert not ping(vm_netns(document, "app1"), "10.128.17.10")
    assert not ping(web1, "10.128.1.10")
    # no node namespace holds an address on a VNet bridge (nothing routes between zones there)
    for facts in document["nodes"].values():
        addresses = in_netns(facts["netns"], "ip", "-4", "-o", "addr", "show").stdout
        assert "10.128." not in addresses, addresses


def test_the_outside_answers_the_gateway_and_routes_tenant_networks_via_it(twin):
    document = twin["twin"]
    gateway = vm_netns(document, "acme-gw")
    echo = in_netns(gateway, "timeout", "5", "curl", "-s", "http://203.0.113.10/")
    assert echo.stdout.strip() == "198.51.100.21"
    banner = in_netns(gateway, "timeout", "3", "bash", "-c", "exec 3<>/dev/tcp/192.0.2.10/8006; head -1 <&3")
    assert banner.stdout.strip() == "hctw 8006 198.51.100.21"
    routes = in_netns(document["external"]["netns"], "ip", "-4", "route", "show", "10.128.16.0/20").stdout
    assert "via 198.51.100.21" in routes
    # without its role (--no-containers) the gateway VM is a fresh VM: it does not route (a new namespace would
    # inherit the host's forwarding)
    assert in_netns(gateway, "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "0"


def test_down_removes_every_namespace_and_process_of_the_run_and_can_be_repeated(tmp_path):
    state_dir = str(tmp_path / "twin")
    with built_twin(state_dir) as built:
        document = built["twin"]
        pids = []
        for pid_file in document["created"]["pid_files"]:
            with open(pid_file, encoding="utf-8") as handle:
                pids.append(int(handle.read().split()[0]))
        # zebra + bgpd on 3 nodes, the internet's echo server, the management listeners, one listener per guest
        guests = [vm for vm in document["vms"].values() if vm["kind"] == "guest"]
        assert guests and len(pids) == 8 + len(guests)
        first = nettwin("down", "--state-dir", state_dir)
        assert first.returncode == 0, first.stdout + first.stderr
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True, timeout=10).stdout
        assert "hctw-%s-" % document["id"] not in names
        for pid in pids:
            assert not running(pid), pid
        assert not [path for path in document["created"]["pid_files"] if os.path.exists(path)]
        assert not os.path.exists("/run/hctw-%s" % document["id"])
        again = nettwin("down", "--state-dir", state_dir)
        assert again.returncode == 0 and "nothing to do" in again.stdout
