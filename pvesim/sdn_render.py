"""What pve-network writes on each node when the SDN config is applied.

- `/etc/network/interfaces.d/sdn`: Network/SDN/Zones.pm generate_etc_network_config and the
  zones' generate_sdn_config (Zones/SimplePlugin.pm, VlanPlugin.pm, VxlanPlugin.pm,
  EvpnPlugin.pm); checked against src/test/zones/*/*/expected_sdn_interfaces.
- `/etc/frr/frr.conf`: Network/SDN/Controllers.pm generate_frr_config with
  Controllers/EvpnPlugin.pm and BgpPlugin.pm; checked against
  src/test/zones/evpn/*/expected_controller_config. PVE 9.1 (pve-network 1.3.0) renders the
  structured config with proxmox-frr-templates: "frr version 10.4.1", fixed line order, final
  newline. PVE 8.4 (pve-network 0.11.2) writes the lines in the order the plugins add them:
  "frr version 8.5.2", a second "!" after the header, no final newline.

Simulator assumptions (documented in README.md): the uplink MTU is 1500 (so VXLAN MTU 1450),
VLAN zones use a VLAN-aware bridge (`<bridge>.<tag>` ports), SNAT rules use `vmbr0` and the
node's underlay address as outgoing interface and source; the underlay interface is vmbr0 (no
master) with MAC BC:24:11:00:00:<node id>, and a BGP/ISIS loopback carries the underlay address.
What the texts leave out (ISIS controllers, fabrics, QinQ and faucet zones, faucet controllers)
is named in each node's `not_simulated` list.
"""

import difflib
import ipaddress

from pvesim.formats import split_list
from pvesim.sdn_config import subnet_cidr

DEFAULT_VXLAN_MTU = 1450  # Zones/EvpnPlugin.pm, VxlanPlugin.pm: uplink MTU 1500 - 50
UNREACHABLE_METRIC = 4278198272
OUT_IFACE = "vmbr0"
XVRF_ADDRESS = "10.255.255.1/30"
XVRFP_ADDRESS = "10.255.255.2/30"
XVRF_NEXTHOP = "10.255.255.2"
XVRF6_ADDRESS = "fe80::1/126"  # 9.1 (pve-network 1.3): IPv6 local routing over the xvrf veth pair
XVRFP6_ADDRESS = "fe80::2/126"
XVRF6_NEXTHOP = "fe80::2"


def local_address(sim, node, peers):
    """The node's underlay (VTEP) address; Zones/Plugin.pm find_local_ip_interface_peers picks the
    local interface address that is one of the peers. The simulator's node has no interfaces, so:
    1. `Simulator(node_underlay={node: ip})`, if given;
    2. else the node's cluster address (GET /cluster/status `ip`) if it is one of the peers;
    3. else the peer at the node's position in the cluster's node list;
    4. else the cluster address.
    """
    if node in sim.node_underlay:
        return sim.node_underlay[node]
    cluster_ip = sim.node_ip(node)
    if cluster_ip in peers:
        return cluster_ip
    index = sim.nodes.index(node) if node in sim.nodes else len(peers)
    return peers[index] if index < len(peers) else cluster_ip


def _node_list(value):
    return set(split_list(value)) if value else set()


def _vnet_subnets(config, vnet_id):
    """Vnets.pm get_subnets($vnet, 1): the vnet's subnets, by id, with cidr/mask/zone."""
    result = []
    for subnet_id in sorted(config["subnets"]):
        section = config["subnets"][subnet_id]
        if section.get("vnet") == vnet_id:
            zone, network, mask = subnet_cidr(subnet_id)
            result.append(dict(section, id=subnet_id, cidr="%s/%d" % (network, mask), network=network, mask=mask, zone=zone))
    return result


def _gateway_lines(subnets, snat_source, point_to_point_dev=None):
    """The address/forwarding part shared by simple and EVPN vnet bridges (SimplePlugin.pm, EvpnPlugin.pm)."""
    lines, seen, families = [], set(), set()
    for subnet in subnets:
        gateway = subnet.get("gateway")
        if gateway and gateway not in seen:
            lines.append("address %s/%s" % (gateway, subnet["mask"]))
            seen.add(gateway)
        version = 6 if gateway and ":" in gateway else 4
        families.add((version, bool(gateway)))
        if point_to_point_dev and subnet["mask"] == 32 and version == 4:
            lines.append("up ip route add %s dev %s" % (subnet["cidr"], point_to_point_dev))
        if subnet.get("snat") and snat_source:
            tables = "ip6tables" if version == 6 else "iptables"
            rule = "%s -t nat %%s POSTROUTING -s '%s' -o %s -j SNAT --to-source %s" % (tables, subnet["cidr"], OUT_IFACE, snat_source)
            lines += ["post-up " + rule % "-A", "post-down " + rule % "-D",
                      "post-up %s -t raw -I PREROUTING -i fwbr+ -j CT --zone 1" % tables,
                      "post-down %s -t raw -D PREROUTING -i fwbr+ -j CT --zone 1" % tables]
    forward = ["ip-forward on"] if (4, True) in families else []
    forward += ["ip6-forward on"] if (6, True) in families else []
    return lines, forward, bool(families)


def _bridge_tail(vnet, mtu):
    """vlan-aware, mtu and alias lines every plugin appends after the bridge ports."""
    lines = ["bridge-vlan-aware yes", "bridge-vids 2-4094"] if vnet.get("vlanaware") else []
    lines += ["mtu %s" % mtu] if mtu else []
    lines += ["alias %s" % vnet["alias"]] if vnet.get("alias") else []
    return lines


class InterfacesRenderer:
    """Zones.pm generate_etc_network_config for one node."""

    def __init__(self, sim, config, node):
        self.sim = sim
        self.config = config
        self.node = node
        self.pve9 = sim.pve_version != "8.4"
        self.ifaces = {}
        self.not_simulated = []

    def add(self, name, lines):
        """`push(@{$config->{$iface}}, ...) if !$config->{$iface}`: the first writer wins."""
        self.ifaces.setdefault(name, lines)

    def render(self):
        """The file text: "#version:N", then every interface sorted by name."""
        for vnet_id in sorted(self.config["vnets"]):
            vnet = self.config["vnets"][vnet_id]
            zone = self.config["zones"].get(vnet.get("zone"))
            if zone is None or (zone.get("nodes") and self.node not in _node_list(zone["nodes"])):
                continue
            reason = self._unsimulated_zone(zone)
            if reason:
                note = "interfaces: zone %s: %s, so its vnets are not rendered" % (vnet["zone"], reason)
                self.not_simulated += [] if note in self.not_simulated else [note]
                continue
            getattr(self, "_" + zone["type"])(vnet["zone"], zone, vnet_id, vnet)
        text = "#version:%d\n" % self.config["version"]
        for name in sorted(self.ifaces):
            text += "\nauto %s\niface %s\n" % (name, name) + "".join("\t%s\n" % line for line in self.ifaces[name])
        return text

    def _unsimulated_zone(self, zone):
        """Why the simulator cannot render a zone's vnets, or None."""
        if zone["type"] in ("qinq", "faucet"):
            return "%s zones are not simulated" % zone["type"]
        controller = self.config["controllers"].get(zone.get("controller") or "") or {}
        fabric = zone.get("fabric") if zone["type"] == "vxlan" else controller.get("fabric") if zone["type"] == "evpn" else None
        return "it runs over fabric %s and fabrics are not simulated" % fabric if fabric else None

    def _simple(self, _zone_id, zone, vnet_id, vnet):
        """Zones/SimplePlugin.pm generate_sdn_config."""
        subnets = _vnet_subnets(self.config, vnet_id)
        addresses, forward, _has_ip = _gateway_lines(subnets, self.sim.node_ip(self.node), point_to_point_dev=vnet_id)
        self.add(vnet_id, addresses + ["bridge_ports none", "bridge_stp off", "bridge_fd 0"] + _bridge_tail(vnet, zone.get("mtu")) + forward)

    def _vlan(self, _zone_id, zone, vnet_id, vnet):
        """Zones/VlanPlugin.pm generate_sdn_config for a VLAN-aware bridge."""
        ports = "%s.%s" % (zone["bridge"], vnet["tag"])
        self.add(vnet_id, ["bridge_ports %s" % ports, "bridge_stp off", "bridge_fd 0"] + _bridge_tail(vnet, zone.get("mtu")))

    def _vxlan(self, _zone_id, zone, vnet_id, vnet):
        """Zones/VxlanPlugin.pm generate_sdn_config (peers; fabrics are not rendered)."""
        peers = split_list(zone.get("peers"))
        if not vnet.get("tag") or not peers:
            return
        local = local_address(self.sim, self.node, peers)
        mtu = zone.get("mtu") or DEFAULT_VXLAN_MTU
        lines = ["vxlan-id %s" % vnet["tag"]] + ["vxlan_remoteip %s" % peer for peer in peers if peer != local]
        lines += ["vxlan-port %s" % zone["vxlan-port"]] if zone.get("vxlan-port") else []
        self.add("vxlan_" + vnet_id, lines + ["mtu %s" % mtu])
        self.add(vnet_id, ["bridge_ports vxlan_%s" % vnet_id, "bridge_stp off", "bridge_fd 0"] + _bridge_tail(vnet, mtu))

    def _evpn(self, zone_id, zone, vnet_id, vnet):
        """Zones/EvpnPlugin.pm generate_sdn_config."""
        controller = self.config["controllers"].get(zone.get("controller"))
        if not vnet.get("tag") or controller is None:
            return  # PVE warns "missing vxlan tag" / "missing controller" and skips the vnet
        local = local_address(self.sim, self.node, split_list(controller.get("peers")))
        gateway_node = self.node in _node_list(zone.get("exitnodes"))
        mtu = zone.get("mtu") or DEFAULT_VXLAN_MTU
        vxlan = ["vxlan-local-tunnelip %s" % local]
        vxlan += ["vxlan-port %s" % zone["vxlan-port"]] if zone.get("vxlan-port") else []
        vxlan += ["bridge-learning off"] + ([] if zone.get("disable-arp-nd-suppression") else ["bridge-arp-nd-suppress on"])
        vxlan += ["mtu %s" % mtu]
        self.add("vxlan_" + vnet_id, ["vxlan-id %s" % vnet["tag"]] + vxlan)
        subnets = _vnet_subnets(self.config, vnet_id)
        addresses, forward, has_ip = _gateway_lines(subnets, local if gateway_node else None)
        bridge = addresses + (["hwaddress %s" % zone["mac"]] if zone.get("mac") else [])
        bridge += ["bridge_ports vxlan_%s" % vnet_id, "bridge_stp off", "bridge_fd 0", "mtu %s" % mtu]
        bridge += (["alias %s" % vnet["alias"]] if vnet.get("alias") else []) + forward
        bridge += (["arp-accept on"] if has_ip else []) + ["vrf vrf_%s" % zone_id]
        self.add(vnet_id, bridge)
        route = "post-up ip route %s vrf vrf_%s unreachable default metric %d" % ("del" if gateway_node else "add", zone_id, UNREACHABLE_METRIC)
        self.add("vrf_" + zone_id, ["vrf-table auto", route])
        if zone.get("vrf-vxlan"):
            self.add("vrfvx_" + zone_id, ["vxlan-id %s" % zone["vrf-vxlan"]] + vxlan)
            self.add("vrfbr_" + zone_id, ["bridge-ports vrfvx_%s" % zone_id, "bridge_stp off", "bridge_fd 0", "mtu %s" % mtu,
                                          "vrf vrf_%s" % zone_id])
        if gateway_node and zone.get("exitnodes-local-routing"):
            # 9.1 also numbers the veth pair for IPv6 when the vnet has an IPv6 gateway
            self._xvrf_pair(zone_id, mtu + 50, ipv6=self.pve9 and "ip6-forward on" in forward)

    def _xvrf_pair(self, zone_id, mtu, ipv6):
        """The veth pair between the default VRF and the zone's on local-routing exit nodes."""
        self.add("xvrf_" + zone_id, ["link-type veth", "address %s" % XVRF_ADDRESS] + (["address %s" % XVRF6_ADDRESS] if ipv6 else [])
                 + ["veth-peer-name xvrfp_%s" % zone_id, "mtu %d" % mtu])
        self.add("xvrfp_" + zone_id, ["link-type veth", "address %s" % XVRFP_ADDRESS] + (["address %s" % XVRFP6_ADDRESS] if ipv6 else [])
                 + ["veth-peer-name xvrf_%s" % zone_id, "vrf vrf_%s" % zone_id, "mtu %d" % mtu])


class PveNetworkDies(Exception):
    """pve-network dies while generating the FRR config: the node's frr.conf is not rewritten."""


def router_id(address, mac):
    """Controllers/Plugin.pm get_router_id: an IPv4 address is its own router-id; for an IPv6 one FRR
    needs an IPv4-style id, made of the last four bytes of the interface's MAC, in decimal."""
    if ipaddress.ip_address(address).version == 4:
        return address
    return ".".join(str(int(byte, 16)) for byte in mac.split(":")[2:6])


def underlay_mac(sim, node):
    """The MAC of the node's underlay interface (or BGP/ISIS loopback) in the simulator: the Proxmox
    prefix BC:24:11 and the corosync node id, so IPv6-underlay router-ids are 17.0.0.<id>, unique."""
    node_id = sim.node_index(node)
    return "BC:24:11:%02X:%02X:%02X" % (node_id >> 16 & 0xFF, node_id >> 8 & 0xFF, node_id & 0xFF)


# The order bgp_router.jinja (proxmox-frr-templates) writes an address family's lines in, by prefix;
# pve-network 0.11 (PVE 8.4) writes them in the order the plugins added them.
FAMILY_LINE_ORDER = ("network ", "import vrf ", "neighbor ", "redistribute ", "advertise-all-vni", "autort as ",
                     "default-originate ", "advertise ", "route-target import ", "route-target export ")


def _family_rank(line):
    return next(rank for rank, prefix in enumerate(FAMILY_LINE_ORDER) if line.startswith(prefix))


def _controller_of_node(controllers, controller_type, node):
    """EvpnPlugin.pm find_bgp_controller / find_isis_controller: the node's controller of that type."""
    for controller_id in sorted(controllers):
        controller = controllers[controller_id]
        if controller.get("type") == controller_type and controller.get("node") == node:
            return controller
    return None


class FrrRenderer:
    """/etc/frr/frr.conf of one node: Controllers.pm generate_frr_config (controllers sorted by id, then
    zones, then vnets) with EvpnPlugin.pm and BgpPlugin.pm, written as PVE 9.1's templates
    (proxmox-frr-templates bgpd.jinja, bgp_router.jinja, ...) or PVE 8.4's generate_controller_rawconfig do."""

    def __init__(self, sim, config, node):
        self.sim = sim
        self.config = config
        self.node = node
        self.pve9 = sim.pve_version != "8.4"
        # vrf ("default" or "vrf_<zone>") -> {"header", "globals", "chunks": [(options, neighbor lines)],
        # "families": {name: [(rank, line)]}}; chunks keep what each plugin added apart (8.4 writes them in turn)
        self.routers = {}
        self.vrfs = {}
        self.routemaps = {}
        self.prefix_lists = {}  # name -> (kind, seq, rule)
        self.ip_routes = []
        self.protocol_routemaps = []
        self.not_simulated = []

    def render(self):
        """The frr.conf text, or "" when PVE would not rewrite the file."""
        controllers = self.config["controllers"]
        rewrites = self._rewrites_frr_conf()
        self._flag_unsimulated_controllers(rewrites)
        if not rewrites:
            return ""
        try:
            for controller_id in sorted(controllers):
                controller = controllers[controller_id]
                if controller.get("type") == "evpn" and not controller.get("fabric"):
                    self._evpn_controller(controller)
                elif controller.get("type") == "bgp" and controller.get("node") == self.node:
                    self._bgp_controller(controller)
                elif controller.get("type") == "faucet" and self.pve9:
                    # FaucetPlugin.pm has no generate_frr_config: Controllers/Plugin.pm's stub dies
                    raise PveNetworkDies("faucet controller %s: please implement inside plugin" % controller_id)
            for zone_id in sorted(self.config["zones"]):
                zone = self.config["zones"][zone_id]
                controller = controllers.get(zone.get("controller") or "")
                if controller is not None and controller.get("type") == "evpn" and not controller.get("fabric"):
                    self._zone(zone_id, zone, controller)
        except PveNetworkDies as failure:
            self.not_simulated.append("frr.conf: pve-network dies (%s), so the file is not rewritten; the reload task's "
                                      "warning is not simulated" % failure)
            return ""
        for vnet_id in sorted(self.config["vnets"]):
            self._vnet(vnet_id, self.config["vnets"][vnet_id])
        return self._text()

    def _rewrites_frr_conf(self):
        """9.1: SDN.pm running_config_has_frr (any controller; fabrics are not simulated); 8.4: only the
        EVPN plugin writes frr.conf (BGP/ISIS controllers write nothing of their own)."""
        controllers = self.config["controllers"].values()
        if self.pve9:
            return bool(controllers)
        return any(controller.get("type") == "evpn" for controller in controllers)

    def _flag_unsimulated_controllers(self, rewrites):
        """Name what the text leaves out instead of writing something false."""
        for controller_id in sorted(self.config["controllers"]):
            controller = self.config["controllers"][controller_id]
            kind = controller.get("type")
            if kind == "isis" and controller.get("node") == self.node and rewrites:
                self.not_simulated.append("frr.conf: isis controller %s: `router isis %s` and the `interface` blocks of %s "
                                          "are not rendered" % (controller_id, controller.get("isis-domain"),
                                                                ", ".join(sorted(split_list(controller.get("isis-ifaces"))))))
            elif kind == "evpn" and controller.get("fabric"):
                self.not_simulated.append("frr.conf: evpn controller %s uses fabric %s; fabrics are not simulated, so its "
                                          "BGP EVPN configuration is not rendered" % (controller_id, controller["fabric"]))
            elif kind == "faucet" and not self.pve9:
                self.not_simulated.append("faucet controller %s: /etc/faucet/faucet.yaml is not rendered" % controller_id)

    # -- what the node is, seen from its controllers ----------------------------------------------
    def _underlay(self):
        """The node's underlay address (also the BGP/ISIS loopback's: the simulator has no interfaces),
        from the EVPN controller's peers when there is one (see local_address)."""
        peers = []
        for controller_id in sorted(self.config["controllers"]):
            controller = self.config["controllers"][controller_id]
            if controller.get("type") == "evpn" and controller.get("peers"):
                peers = split_list(controller["peers"])
                break
        return local_address(self.sim, self.node, peers)

    def _router_id(self, address, interface):
        """get_router_id on `interface`. Its MAC is read from the interface's master in pve-network 0.11
        (vmbr0 and loopbacks have none: it dies), else from the interface itself ("lo" is all zeros: dies)."""
        if ipaddress.ip_address(address).version == 4:
            return address
        if not self.pve9:
            raise PveNetworkDies("can't autofind a router-id value from ip or mac: 0.11 reads only the MAC of "
                                 "%s's master" % interface)
        if interface == "lo":
            raise PveNetworkDies("Interface lo has a zero MAC address. Cannot derive a BGP router-id.")
        return router_id(address, underlay_mac(self.sim, self.node))

    def _loopback(self):
        """EvpnPlugin.pm: the node's BGP controller's loopback, else (no BGP controller) its ISIS controller's."""
        controllers = self.config["controllers"]
        bgp = _controller_of_node(controllers, "bgp", self.node)
        if bgp is not None:
            return bgp.get("loopback")
        isis = _controller_of_node(controllers, "isis", self.node)
        return isis.get("loopback") if isis is not None else None

    # -- the structured config ------------------------------------------------------------------
    def _default_router(self, asn, router_id_value, evpn):
        """The default-VRF router; the first plugin to create it sets its global lines (EVPN adds two)."""
        if "default" not in self.routers:
            lines = ["bgp router-id %s" % router_id_value] + (["no bgp hard-administrative-reset"] if evpn else [])
            lines += ["no bgp default ipv4-unicast", "coalesce-time 1000"]
            lines += ["no bgp graceful-restart notification"] if evpn else []
            self.routers["default"] = {"header": "router bgp %s" % asn, "globals": lines, "chunks": [], "families": {}}
        return self.routers["default"]

    @staticmethod
    def _family(router, family, *lines):
        router["families"].setdefault(family, []).extend((_family_rank(line), line) for line in lines)

    def _evpn_asn(self, controller):
        """EvpnPlugin.pm: (ASN, eBGP) of the EVPN routers; the node's BGP controller lends its ASN, and the
        EVPN sessions are eBGP when the two ASNs differ."""
        bgp = _controller_of_node(self.config["controllers"], "bgp", self.node)
        if bgp is None:
            return int(controller["asn"]), False
        return int(bgp.get("asn") or controller["asn"]), str(controller["asn"]) != str(bgp["asn"])

    def _evpn_controller(self, controller):
        """Controllers/EvpnPlugin.pm generate_frr_config (peers; with the node's BGP controller: its ASN,
        eBGP when the ASNs differ, its loopback)."""
        asn, ebgp = self._evpn_asn(controller)
        loopback, local = self._loopback(), self._underlay()
        router_id_value = self._router_id(local, loopback or OUT_IFACE)
        if not asn:
            return
        router = self._default_router(asn, router_id_value, evpn=True)
        group = ["neighbor VTEP peer-group", "neighbor VTEP remote-as %s" % ("external" if ebgp else asn), "neighbor VTEP bfd"]
        group += ["neighbor VTEP ebgp-multihop 10"] if ebgp and loopback else []
        group += ["neighbor VTEP update-source %s" % loopback] if loopback else []
        group += ["neighbor %s peer-group VTEP" % peer for peer in split_list(controller.get("peers")) if peer != local]
        router["chunks"].append(([], group))
        self._family(router, "l2vpn evpn", "neighbor VTEP activate", "neighbor VTEP route-map MAP_VTEP_IN in",
                     "neighbor VTEP route-map MAP_VTEP_OUT out", "advertise-all-vni",
                     *(["autort as %s" % controller["asn"]] if ebgp else []))
        for name in ("MAP_VTEP_IN", "MAP_VTEP_OUT"):
            self.routemaps.setdefault(name, []).append(("permit", []))

    def _bgp_controller(self, controller):
        """Controllers/BgpPlugin.pm generate_frr_config: the node's own BGP peering (exit nodes to the
        home router): a BGP peer group, unicast activation and, with a loopback, its address announced
        and used as source (route-map correct_src)."""
        asn = int(controller.get("asn") or 0)
        if not asn:
            return
        peers = split_list(controller.get("peers"))
        ebgp, loopback = bool(controller.get("ebgp")), controller.get("loopback")
        local = self._underlay()
        router = self._default_router(asn, self._router_id(local, loopback or OUT_IFACE), evpn=False)
        options = ["bgp disable-ebgp-connected-route-check"] if loopback and ebgp else []
        options += ["bgp bestpath as-path multipath-relax"] if controller.get("bgp-multipath-as-path-relax") else []
        group = []
        if peers:
            group = ["neighbor BGP peer-group", "neighbor BGP remote-as %s" % ("external" if ebgp else asn), "neighbor BGP bfd"]
            group += ["neighbor BGP ebgp-multihop %d" % int(controller["ebgp-multihop"])] \
                if ebgp and controller.get("ebgp-multihop") else []
            group += ["neighbor %s peer-group BGP" % peer for peer in peers]
            ipv6 = ipaddress.ip_address(local).version == 6
            network = ["network %s/%d" % (local, 128 if ipv6 else 32)] if loopback else []
            self._family(router, "ipv6 unicast" if ipv6 else "ipv4 unicast", *network,
                         "neighbor BGP activate", "neighbor BGP soft-reconfiguration inbound")
        router["chunks"].append((options, group))
        if loopback:
            self.prefix_lists["loopbacks_ips"] = ("ip", 10, "permit 0.0.0.0/0 le 32")
            self.protocol_routemaps.append("ip protocol bgp route-map correct_src")
            self.routemaps.setdefault("correct_src", []).append(
                ("permit", ["match ip address prefix-list loopbacks_ips", "set src %s" % local]))

    def _null_routes(self, zone_id):
        """Subnets of the other zones, null-routed in this zone's VRF on exit nodes (sorted numerically)."""
        networks = {}
        for subnet_id in sorted(self.config["subnets"]):
            zone, network, mask = subnet_cidr(subnet_id)
            if zone != zone_id:
                networks[network] = mask
        lines = []
        for network in sorted(networks, key=lambda address: int(ipaddress.ip_address(address))):
            lines.append("%s route %s/%s null0" % ("ipv6" if ":" in network else "ip", network, networks[network]))
        return lines

    def _zone(self, zone_id, zone, controller):
        """EvpnPlugin.pm generate_zone_frr_config (a BGP controller on the node lends its ASN; eBGP adds
        route targets <evpn asn>:<vrf-vxlan>)."""
        asn, ebgp = self._evpn_asn(controller)
        vrf = "vrf_%s" % zone_id
        router_id_value = self._router_id(self._underlay(), self._loopback() or OUT_IFACE)
        if not zone.get("vrf-vxlan") or not asn:
            return
        gateway_node = self.node in _node_list(zone.get("exitnodes"))
        self.vrfs[vrf] = ["vni %s" % zone["vrf-vxlan"]] + (self._null_routes(zone_id) if gateway_node else [])
        vrf_router = self.routers[vrf] = {
            "header": "router bgp %s vrf %s" % (asn, vrf), "chunks": [], "families": {},
            "globals": ["bgp router-id %s" % router_id_value, "no bgp hard-administrative-reset",
                        "no bgp graceful-restart notification"]}
        if ebgp:
            target = "%s:%s" % (controller["asn"], zone["vrf-vxlan"])
            self._family(vrf_router, "l2vpn evpn", "route-target import " + target, "route-target export " + target)
        if gateway_node:
            self._exit_node(zone, vrf, vrf_router)
        elif zone.get("advertise-subnets"):
            for family in ("ipv4 unicast", "ipv6 unicast"):
                self._family(vrf_router, family, "redistribute connected")
            self._family(vrf_router, "l2vpn evpn", "advertise ipv4 unicast", "advertise ipv6 unicast")
        if zone.get("rt-import"):
            targets = split_list(zone["rt-import"])  # 9.1 keeps the given order, 8.4 sorts
            self._family(vrf_router, "l2vpn evpn", *("route-target import %s" % rt for rt in (targets if self.pve9 else sorted(targets))))

    def _exit_node(self, zone, vrf, vrf_router):
        """EvpnPlugin.pm generate_zone_frr_config on an exit node: default routes out, VRF routes imported."""
        self.prefix_lists["only_default"] = ("ip", 1, "permit 0.0.0.0/0")
        self.prefix_lists["only_default_v6"] = ("ipv6", 1, "permit ::/0")
        primary = zone.get("exitnodes-primary")
        if not primary or primary == self.node:
            # filter the default route of the other exit nodes
            self.routemaps["MAP_VTEP_IN"][:0] = [("deny", ["match ip address prefix-list only_default"]),
                                                 ("deny", ["match ipv6 address prefix-list only_default_v6"])]
        else:
            self.routemaps["MAP_VTEP_OUT"][:0] = [("permit", ["match ip address prefix-list only_default", "set metric 200"]),
                                                  ("permit", ["match ipv6 address prefix-list only_default_v6", "set metric 200"])]
        if not zone.get("exitnodes-local-routing"):
            for family in ("ipv4 unicast", "ipv6 unicast"):
                if "default" in self.routers:
                    self._family(self.routers["default"], family, "import vrf %s" % vrf)
                self._family(vrf_router, family, "redistribute connected")
        self._family(vrf_router, "l2vpn evpn", "default-originate ipv4", "default-originate ipv6")

    def _vnet(self, vnet_id, vnet):
        """EvpnPlugin.pm generate_vnet_frr_config: routes to the xvrf veth on local-routing exit nodes
        (9.1 routes IPv6 subnets via fe80::2, 8.4 writes every subnet as an `ip route` via 10.255.255.2)."""
        zone = self.config["zones"].get(vnet.get("zone"))
        if not zone or zone.get("type") != "evpn" or not zone.get("exitnodes-local-routing"):
            return
        if self.node in _node_list(zone.get("exitnodes")):
            for subnet in _vnet_subnets(self.config, vnet_id):
                ipv6 = self.pve9 and ":" in subnet["network"]
                kind, nexthop = ("ipv6", XVRF6_NEXTHOP) if ipv6 else ("ip", XVRF_NEXTHOP)
                self.ip_routes.append("%s route %s %s xvrf_%s" % (kind, subnet["cidr"], nexthop, vnet["zone"]))

    # -- the text -------------------------------------------------------------------------------------
    def _router_lines(self, router):
        chunks = router["chunks"]
        if self.pve9:  # the template: every option, then every neighbor group
            body = [line for options, _group in chunks for line in options] + [line for _options, group in chunks for line in group]
        else:  # 0.11: each plugin's lines in turn
            body = [line for options, group in chunks for line in options + group]
        lines = ["!", router["header"]] + [" " + line for line in router["globals"] + body]
        for family in sorted(router["families"]):
            entries = router["families"][family]
            entries = sorted(entries, key=lambda entry: entry[0]) if self.pve9 else entries
            lines += [" !", " address-family %s" % family] + ["  " + line for _rank, line in entries] + [" exit-address-family"]
        return lines + ["exit"]

    def _prefix_list_lines(self):
        """9.1: one "!" block per list (prefix_lists.jinja); 8.4: an ip block, then an ipv6 block."""
        def line(name):
            kind, seq, rule = self.prefix_lists[name]
            return "%s prefix-list %s seq %d %s" % (kind, name, seq, rule)
        names = sorted(self.prefix_lists)
        if self.pve9:
            return [text for name in names for text in ("!", line(name))]
        lines = []
        for kind in ("ip", "ipv6"):
            block = [line(name) for name in names if self.prefix_lists[name][0] == kind]
            lines += ["!"] + block if block else []
        return lines

    def _text(self):
        lines = ["frr version %s" % ("10.4.1" if self.pve9 else "8.5.2"), "frr defaults datacenter", "hostname %s" % self.node,
                 "log syslog informational", "service integrated-vtysh-config"]
        lines += [] if self.pve9 else ["!"]  # pve-network 0.11: a header "!" before the blocks' own "!"
        for vrf in sorted(self.vrfs):
            lines += ["!", "vrf %s" % vrf] + [" " + rule for rule in self.vrfs[vrf]] + ["exit-vrf"]
        for name in sorted(self.routers, key=lambda vrf: (vrf != "default", vrf)):
            lines += self._router_lines(self.routers[name])
        lines += self._prefix_list_lines()
        for name in sorted(self.routemaps):
            for order, (action, rules) in enumerate(self.routemaps[name], 1):
                lines += ["!", "route-map %s %s %d" % (name, action, order)] + [" " + rule for rule in rules] + ["exit"]
        if self.pve9:  # ip_routes.jinja, then protocol_routemaps.jinja: each entry after its own "!"
            lines += [text for entry in self.ip_routes + self.protocol_routemaps for text in ("!", entry)]
        elif self.ip_routes or self.protocol_routemaps:  # 0.11: one sorted list
            lines += ["!"] + sorted(self.ip_routes + self.protocol_routemaps)
        lines += ["!", "line vty", "!"]
        return "\n".join(lines) + ("\n" if self.pve9 else "")


def render_node(sim, config, node):
    """{"interfaces": text, "frr": text, "not_simulated": [notes]} of one node for a running config; each
    note names a part of the config whose effect on the files the texts leave out (README.md, SDN)."""
    interfaces, frr = InterfacesRenderer(sim, config, node), FrrRenderer(sim, config, node)
    texts = {"interfaces": interfaces.render(), "frr": frr.render()}
    return dict(texts, not_simulated=interfaces.not_simulated + frr.not_simulated)


def unified_diff(path, current, pending):
    """API2/Network/SDN.pm get_diff (`diff -b -N -u`): None when nothing differs."""
    def squash(text):
        return [" ".join(line.split()) for line in text.splitlines()]
    if squash(current) == squash(pending):
        return None
    lines = difflib.unified_diff(current.splitlines(), pending.splitlines(), fromfile=path, tofile=path + ".pending", lineterm="")
    return "\n".join(lines) + "\n"
