"""What pve-network writes on each node when the SDN config is applied.

- `/etc/network/interfaces.d/sdn`: Network/SDN/Zones.pm generate_etc_network_config and the
  zones' generate_sdn_config (Zones/SimplePlugin.pm, VlanPlugin.pm, VxlanPlugin.pm,
  EvpnPlugin.pm); checked against src/test/zones/*/*/expected_sdn_interfaces.
- `/etc/frr/frr.conf`: Network/SDN/Controllers.pm generate_controller_config and
  Controllers/EvpnPlugin.pm (generate_controller_config, generate_controller_zone_config,
  generate_controller_vnet_config, generate_controller_rawconfig); checked against
  src/test/zones/evpn/*/expected_controller_config. PVE 8.4 (pve-network 0.11.2) writes
  "frr version 8.5.2", a second "!" after the header and no final newline; PVE 9.1
  (pve-network 1.3.0 templates) writes "frr version 10.4.1" and ends with a newline.

Simulator assumptions (documented in README.md): the uplink MTU is 1500 (so VXLAN MTU 1450),
VLAN zones use a VLAN-aware bridge (`<bridge>.<tag>` ports), only EVPN controllers produce
FRR config (BGP/ISIS controllers, fabrics, QinQ and faucet zones render nothing), SNAT rules
use `vmbr0` and the node's underlay address as outgoing interface and source.
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
        self.ifaces = {}

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
            method = getattr(self, "_" + zone["type"], None)
            if method is not None:
                method(vnet["zone"], zone, vnet_id, vnet)
        text = "#version:%d\n" % self.config["version"]
        for name in sorted(self.ifaces):
            text += "\nauto %s\niface %s\n" % (name, name) + "".join("\t%s\n" % line for line in self.ifaces[name])
        return text

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
            self.add("xvrf_" + zone_id, ["link-type veth", "address %s" % XVRF_ADDRESS, "veth-peer-name xvrfp_%s" % zone_id,
                                         "mtu %d" % (mtu + 50)])
            self.add("xvrfp_" + zone_id, ["link-type veth", "address %s" % XVRFP_ADDRESS, "veth-peer-name xvrf_%s" % zone_id,
                                          "vrf vrf_%s" % zone_id, "mtu %d" % (mtu + 50)])


class FrrRenderer:
    """Controllers.pm generate_controller_config + EvpnPlugin.pm generate_controller_rawconfig for one node."""

    def __init__(self, sim, config, node):
        self.sim = sim
        self.config = config
        self.node = node
        self.routers = {}  # "bgp <asn>[ vrf <vrf>]" -> {"": [lines], "address-family": {name: [lines]}}
        self.vrfs = {}
        self.routemaps = {}
        self.prefix_lists = {}
        self.ip_protocol = []

    def _router(self, name):
        return self.routers.setdefault(name, {"": [], "address-family": {}})

    def _family(self, router, family):
        return self._router(router)["address-family"].setdefault(family, [])

    def render(self):
        """The frr.conf text, or "" when no EVPN controller exists (frr.conf is then not rewritten)."""
        controllers = self.config["controllers"]
        evpn = sorted(cid for cid, section in controllers.items() if section.get("type") == "evpn")
        if not evpn:
            return ""
        for controller_id in evpn:
            self._controller(controllers[controller_id])
        for zone_id in sorted(self.config["zones"]):
            zone = self.config["zones"][zone_id]
            controller = controllers.get(zone.get("controller") or "")
            if controller is not None and controller.get("type") == "evpn":
                self._zone(zone_id, zone, controller)
        for vnet_id in sorted(self.config["vnets"]):
            self._vnet(vnet_id, self.config["vnets"][vnet_id])
        return self._text()

    def _local(self, controller):
        return local_address(self.sim, self.node, split_list(controller.get("peers")))

    def _controller(self, controller):
        """EvpnPlugin.pm generate_controller_config (iBGP: no bgp controller on the node)."""
        asn, local = controller["asn"], self._local(controller)
        router = self._router("bgp %s" % asn)
        if not router[""]:
            router[""] += ["bgp router-id %s" % local, "no bgp hard-administrative-reset", "no bgp default ipv4-unicast",
                           "coalesce-time 1000", "no bgp graceful-restart notification"]
        router[""] += ["neighbor VTEP peer-group", "neighbor VTEP remote-as %s" % asn, "neighbor VTEP bfd"]
        router[""] += ["neighbor %s peer-group VTEP" % peer for peer in split_list(controller.get("peers")) if peer != local]
        self._family("bgp %s" % asn, "l2vpn evpn").extend(["neighbor VTEP activate", "neighbor VTEP route-map MAP_VTEP_IN in",
                                                          "neighbor VTEP route-map MAP_VTEP_OUT out", "advertise-all-vni"])
        for name in ("MAP_VTEP_IN", "MAP_VTEP_OUT"):
            self.routemaps.setdefault(name, []).append(("permit", []))

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
        """EvpnPlugin.pm generate_controller_zone_config."""
        asn, vrf = controller["asn"], "vrf_%s" % zone_id
        if not zone.get("vrf-vxlan"):
            return
        gateway_node = self.node in _node_list(zone.get("exitnodes"))
        self.vrfs[vrf] = ["vni %s" % zone["vrf-vxlan"]] + (self._null_routes(zone_id) if gateway_node else [])
        vrf_router = "bgp %s vrf %s" % (asn, vrf)
        self._router(vrf_router)[""] += ["bgp router-id %s" % self._local(controller), "no bgp hard-administrative-reset",
                                         "no bgp graceful-restart notification"]
        primary = zone.get("exitnodes-primary")
        if gateway_node:
            self.prefix_lists[("ip", "only_default")] = "permit 0.0.0.0/0"
            self.prefix_lists[("ipv6", "only_default_v6")] = "permit ::/0"
            if not primary or primary == self.node:
                # filter the default route of the other exit nodes
                self.routemaps["MAP_VTEP_IN"][:0] = [("deny", ["match ip address prefix-list only_default"]),
                                                     ("deny", ["match ipv6 address prefix-list only_default_v6"])]
            else:
                self.routemaps["MAP_VTEP_OUT"][:0] = [("permit", ["match ip address prefix-list only_default", "set metric 200"]),
                                                      ("permit", ["match ipv6 address prefix-list only_default_v6", "set metric 200"])]
            if not zone.get("exitnodes-local-routing"):
                for family in ("ipv4 unicast", "ipv6 unicast"):
                    self._family("bgp %s" % asn, family).append("import vrf %s" % vrf)
                    self._family(vrf_router, family).append("redistribute connected")
            self._family(vrf_router, "l2vpn evpn").extend(["default-originate ipv4", "default-originate ipv6"])
        elif zone.get("advertise-subnets"):
            for family in ("ipv4 unicast", "ipv6 unicast"):
                self._family(vrf_router, family).append("redistribute connected")
            self._family(vrf_router, "l2vpn evpn").extend(["advertise ipv4 unicast", "advertise ipv6 unicast"])
        if zone.get("rt-import"):
            self._family(vrf_router, "l2vpn evpn").extend("route-target import %s" % rt for rt in sorted(split_list(zone["rt-import"])))

    def _vnet(self, vnet_id, vnet):
        """EvpnPlugin.pm generate_controller_vnet_config: routes to the xvrf veth on local-routing exit nodes."""
        zone = self.config["zones"].get(vnet.get("zone"))
        if not zone or zone.get("type") != "evpn" or not zone.get("exitnodes-local-routing"):
            return
        if self.node in _node_list(zone.get("exitnodes")):
            self.ip_protocol += ["ip route %s %s xvrf_%s" % (subnet["cidr"], XVRF_NEXTHOP, vnet["zone"])
                                 for subnet in _vnet_subnets(self.config, vnet_id)]

    def _text(self):
        pve9 = self.sim.pve_version != "8.4"
        lines = ["frr version %s" % ("10.4.1" if pve9 else "8.5.2"), "frr defaults datacenter", "hostname %s" % self.node,
                 "log syslog informational", "service integrated-vtysh-config"]
        lines += [] if pve9 else ["!"]  # pve-network 0.11: a header "!" before the blocks' own "!"
        for vrf in sorted(self.vrfs):
            lines += ["!", "vrf %s" % vrf] + [" " + rule for rule in self.vrfs[vrf]] + ["exit-vrf"]
        for name in sorted(self.routers):
            router = self.routers[name]
            lines += ["!", "router %s" % name] + [" " + line for line in router[""]]
            for family in sorted(router["address-family"]):
                lines += [" !", " address-family %s" % family] + ["  " + line for line in router["address-family"][family]]
                lines += [" exit-address-family"]
            lines.append("exit")
        for kind in ("ip", "ipv6"):
            entries = sorted((name, rule) for (list_kind, name), rule in self.prefix_lists.items() if list_kind == kind)
            if entries:
                lines += ["!"] + ["%s prefix-list %s seq 1 %s" % (kind, name, rule) for name, rule in entries]
        for name in sorted(self.routemaps):
            for order, (action, rules) in enumerate(self.routemaps[name], 1):
                lines += ["!", "route-map %s %s %d" % (name, action, order)] + [" " + rule for rule in rules] + ["exit"]
        if self.ip_protocol:
            lines += ["!"] + sorted(self.ip_protocol)
        lines += ["!", "line vty", "!"]
        return "\n".join(lines) + ("\n" if pve9 else "")


def render_node(sim, config, node):
    """{"interfaces": text, "frr": text} of one node for a running config."""
    return {"interfaces": InterfacesRenderer(sim, config, node).render(), "frr": FrrRenderer(sim, config, node).render()}


def unified_diff(path, current, pending):
    """API2/Network/SDN.pm get_diff (`diff -b -N -u`): None when nothing differs."""
    def squash(text):
        return [" ".join(line.split()) for line in text.splitlines()]
    if squash(current) == squash(pending):
        return None
    lines = difflib.unified_diff(current.splitlines(), pending.splitlines(), fromfile=path, tofile=path + ".pending", lineterm="")
    return "\n".join(lines) + "\n"
