# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The tenant_gateway role's variables checked and turned into the plan its templates render.

``tenant_gateway_role_plan(variables, links)`` takes the role's variables and the gateway's
``ip -json -details address show`` and gives ``{"errors": [...], "interfaces": {role name: kernel
name}, "plan": {...}}``; the filter homecloud.proxmox.tenant_gateway_role_plan exposes it and the
role asserts that ``errors`` is empty before it changes anything. Nothing is written anywhere.

Jinja has no CIDR arithmetic (and ansible.utils is not a dependency of the collection), so the
containment, overlap and family checks are done here with Python's ipaddress module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.homecloud.proxmox.plugins.module_utils.gateway import wireguard_public_key_ok

NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
IFNAME = re.compile(r"^[a-zA-Z0-9_.-]{1,15}$")
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
PORTS = re.compile(r"^[0-9]{1,5}(-[0-9]{1,5})?(,[0-9]{1,5}(-[0-9]{1,5})?)*$")
RATE = re.compile(r"^[1-9][0-9]*/(second|minute|hour|day)$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
AUD_TAG = re.compile(r"^[0-9a-f]{64}$")
HOSTNAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# Names the interfaces fact uses for the non-VNet legs; a VNet may not take them.
LEG_NAMES = ("external", "transit")


class RolePlanner:
    """Collects every problem of the variables (self.errors) while it builds the plan."""

    def __init__(self, variables, links):
        self.vars = variables
        self.links = links
        self.errors = []
        self.interfaces = {}

    def error(self, text):
        self.errors.append(text)

    # -- parsing helpers: each returns None after recording an error naming the variable ----------
    def interface_address(self, where, text):
        try:
            value = ipaddress.ip_interface(str(text))
        except ValueError:
            self.error("%s: %r is not an address in CIDR form (address/prefix)" % (where, text))
            return None
        if "/" not in str(text):
            self.error("%s: %r has no prefix length (address/prefix)" % (where, text))
            return None
        return value

    def network(self, where, text):
        try:
            return ipaddress.ip_network(str(text), strict=True)
        except ValueError:
            self.error("%s: %r is not a network in CIDR form with its host bits zero" % (where, text))
            return None

    def networks(self, name, required):
        items = self.vars.get(name) or []
        if not isinstance(items, list):
            self.error("%s must be a list of networks in CIDR form" % name)
            return []
        if required and not items:
            self.error("%s needs at least one network" % name)
        parsed = [self.network("%s[%d]" % (name, index), item) for index, item in enumerate(items)]
        return [net for net in parsed if net is not None]

    def address(self, where, text):
        try:
            return ipaddress.ip_address(str(text))
        except ValueError:
            self.error("%s: %r is not an address without prefix" % (where, text))
            return None

    # -- the host's interfaces, found by MAC ------------------------------------------------------
    def link_by_mac(self, where, mac, address):
        """The interface carrying mac (`ip -json -details address show`); checks it holds address."""
        if self.links is None:
            return None
        matches = [link for link in self.links if str(link.get("address", "")).lower() == mac]
        if len(matches) > 1:
            # A VLAN sub-interface shares its parent's MAC and names the parent in "link".
            matches = [link for link in matches if not link.get("link")]
        if not matches:
            self.error("%s: no interface of this host has the MAC %s (the role finds the interface by MAC)" % (where, mac))
            return None
        if len(matches) > 1:
            self.error("%s: several interfaces have the MAC %s: %s" % (where, mac, ", ".join(link["ifname"] for link in matches)))
            return None
        link = matches[0]
        held = ["%s/%s" % (info.get("local"), info.get("prefixlen")) for info in link.get("addr_info", [])]
        if address is not None and str(address) not in held:
            self.error("%s: interface %s (MAC %s) does not carry %s (it has: %s); cloud-init sets the address"
                       % (where, link["ifname"], mac, address, ", ".join(held) or "no address"))
        return link["ifname"]

    def mac(self, where, text):
        mac = str(text or "").lower()
        if not MAC.match(mac):
            self.error("%s: %r is not a MAC address (six hex pairs separated by ':')" % (where, text))
            return None
        return mac

    # -- the variables ----------------------------------------------------------------------------
    def build(self):
        tenant = self.vars.get("tenant_gateway_tenant")
        if not isinstance(tenant, str) or not NAME.match(tenant):
            self.error("tenant_gateway_tenant is required: a name matching [a-z][a-z0-9-]* (at most 32 characters), got %r" % (tenant,))
            tenant = "invalid"
        rate = str(self.vars.get("tenant_gateway_log_rate", ""))
        if not RATE.match(rate):
            self.error("tenant_gateway_log_rate: %r is not a rate like 10/minute (per second, minute, hour or day)" % rate)
        management = self.networks("tenant_gateway_management_networks", required=False)
        private = self.networks("tenant_gateway_private_networks", required=False)
        admin = self.networks("tenant_gateway_admin_networks", required=True)
        external = self.external()
        vnets = self.vnets(management)
        transit = self.transit()
        wireguard = self.wireguard(vnets, management)
        self.cloudflared()
        extra = self.vars.get("tenant_gateway_nft_extra_forward_rules") or []
        if not isinstance(extra, list) or not all(isinstance(line, str) and "\n" not in line for line in extra):
            self.error("tenant_gateway_nft_extra_forward_rules must be a list of single-line nft rules")
            extra = []
        sshd_port = (self.vars.get("tenant_gateway_ssh") or {}).get("sshd_port", 22)
        if not isinstance(sshd_port, int) or not 0 < sshd_port < 65536:
            self.error("tenant_gateway_ssh.sshd_port must be a port number, got %r" % (sshd_port,))

        sources = [vnet["network"] for vnet in vnets] + ([wireguard["network"]] if wireguard else [])
        families = {net.version for net in sources}
        if external and external["address"].version not in families and sources:
            self.error("tenant_gateway_external.address %s is IPv%d but no tenant VNet or VPN pool is: nothing would be masqueraded"
                       % (external["address"], external["address"].version))
        uses_v6 = 6 in families or (external is not None and external["address"].version == 6)
        return {
            "tenant": tenant,
            "log_prefix": "homecloud-gw %s drop: " % tenant,
            "log_rate": rate,
            "sshd_port": sshd_port,
            "uses_ipv6": uses_v6,
            "external": external and {"ifname": external["ifname"], "address": str(external["address"]),
                                      "gateway": str(external["gateway"])},
            "transit": transit,
            "vnets": [self.public_vnet(vnet) for vnet in vnets],
            "vnet_ifnames": [vnet["ifname"] for vnet in vnets],
            "wireguard": wireguard and dict(wireguard, network=str(wireguard["network"])),
            "management": split_families(management),
            "private": split_families(private),
            "admin": split_families(admin),
            "masquerade_sources": split_families(sources),
            "extra_forward_rules": extra,
        }

    def external(self):
        leg = self.vars.get("tenant_gateway_external") or {}
        if not isinstance(leg, dict) or not leg:
            self.error("tenant_gateway_external is required: {mac, address, gateway} of the NIC 3 leg")
            return None
        mac = self.mac("tenant_gateway_external.mac", leg.get("mac"))
        address = self.interface_address("tenant_gateway_external.address", leg.get("address"))
        gateway = self.address("tenant_gateway_external.gateway", leg.get("gateway"))
        if address is not None and gateway is not None and gateway not in address.network:
            self.error("tenant_gateway_external.gateway %s is not inside %s" % (gateway, address.network))
        ifname = self.link_by_mac("tenant_gateway_external", mac, address) if mac else None
        if ifname:
            self.interfaces["external"] = ifname
        if address is None or gateway is None:
            return None
        return {"ifname": ifname or "external0", "address": address, "gateway": gateway}

    def transit(self):
        leg = self.vars.get("tenant_gateway_transit") or {}
        if not leg:
            return None
        mac = self.mac("tenant_gateway_transit.mac", leg.get("mac"))
        address = self.interface_address("tenant_gateway_transit.address", leg.get("address"))
        routes = [self.network("tenant_gateway_transit.routes[%d]" % index, route)
                  for index, route in enumerate(leg.get("routes") or [])]
        if leg.get("gateway") in (None, ""):
            self.error("tenant_gateway_transit.gateway is required with the transit leg: the transit hub's address on it")
            gateway = None
        else:
            gateway = self.address("tenant_gateway_transit.gateway", leg.get("gateway"))
        if address is not None and gateway is not None and gateway not in address.network:
            self.error("tenant_gateway_transit.gateway %s is not inside the transit network %s" % (gateway, address.network))
        ifname = self.link_by_mac("tenant_gateway_transit", mac, address) if mac else None
        if ifname:
            self.interfaces["transit"] = ifname
        if address is None or gateway is None:
            return None
        routes = [route for route in routes if route]
        for route in routes:
            if route.version != address.version:
                self.error("tenant_gateway_transit.routes: %s is not IPv%d like the transit address" % (route, address.version))
        return {"ifname": ifname or "transit0", "address": str(address), "gateway": str(gateway),
                "family": "ip" if address.version == 4 else "ip6", "routes": [str(route) for route in routes]}

    def vnets(self, management):
        items = self.vars.get("tenant_gateway_vnets") or []
        if not isinstance(items, list) or not items:
            self.error("tenant_gateway_vnets is required: at least one VNet {name, mac, address}")
            return []
        vnets = []
        for index, item in enumerate(items):
            where = "tenant_gateway_vnets[%d]" % index
            name = item.get("name")
            if not isinstance(name, str) or not NAME.match(name) or name in LEG_NAMES:
                self.error("%s.name: %r must match [a-z][a-z0-9-]* and not be %s" % (where, name, " or ".join(LEG_NAMES)))
                continue
            where = "tenant_gateway_vnets[%s]" % name
            mac = self.mac(where + ".mac", item.get("mac"))
            address = self.interface_address(where + ".address", item.get("address"))
            if address is None or mac is None:
                continue
            for net in management:
                if address.network.overlaps(net):
                    self.error("%s.address %s overlaps the management network %s" % (where, address, net))
            ifname = self.link_by_mac(where, mac, address)
            if ifname:
                self.interfaces[name] = ifname
            vnets.append({"name": name, "mac": mac, "address": address, "network": address.network,
                          "ifname": ifname or "vnet-%s" % name, "allow": item.get("allow") or []})
        self.unique("tenant_gateway_vnets names", [vnet["name"] for vnet in vnets])
        self.unique("tenant_gateway_vnets MACs", [vnet["mac"] for vnet in vnets]
                    + [str((self.vars.get("tenant_gateway_external") or {}).get("mac", "")).lower()])
        for first in range(len(vnets)):
            for second in range(first + 1, len(vnets)):
                if vnets[first]["network"].overlaps(vnets[second]["network"]):
                    self.error("tenant_gateway_vnets: %s (%s) and %s (%s) overlap" % (
                        vnets[first]["name"], vnets[first]["network"], vnets[second]["name"], vnets[second]["network"]))
        by_name = {vnet["name"]: vnet for vnet in vnets}
        for vnet in vnets:
            vnet["allow"] = [rule for rule in (self.allow_rule(vnet, index, rule, by_name, management)
                                               for index, rule in enumerate(vnet["allow"])) if rule]
        return vnets

    def allow_rule(self, vnet, index, rule, by_name, management):
        where = "tenant_gateway_vnets[%s].allow[%d]" % (vnet["name"], index)
        if not isinstance(rule, dict):
            self.error("%s must be a dict {to, proto, dport, comment}" % where)
            return None
        target = str(rule.get("to", ""))
        out_ifname = None
        if target in by_name:
            if target == vnet["name"]:
                self.error("%s.to: %s is the VNet itself" % (where, target))
                return None
            destination = by_name[target]["network"]
            out_ifname = by_name[target]["ifname"]
        else:
            destination = self.network(where + ".to (a VNet name of this tenant or a CIDR)", target)
            if destination is None:
                return None
            for net in management:
                if destination.overlaps(net):
                    self.error("%s.to %s overlaps the management network %s: never forwarded" % (where, destination, net))
                    return None
        if destination.version != vnet["network"].version:
            self.error("%s.to %s is not IPv%d like the VNet" % (where, destination, vnet["network"].version))
            return None
        proto = rule.get("proto")
        if proto not in (None, "tcp", "udp", "icmp"):
            self.error("%s.proto must be tcp, udp or icmp, got %r" % (where, proto))
            return None
        dport = rule.get("dport")
        ports = None
        if dport not in (None, ""):
            dport = str(dport).replace(" ", "")
            if proto not in ("tcp", "udp"):
                self.error("%s.dport needs proto tcp or udp" % where)
                return None
            if not PORTS.match(dport) or not all(0 < int(port) < 65536 for port in re.split("[,-]", dport)):
                self.error("%s.dport %r: a port, a range a-b or a comma list of them (1-65535)" % (where, dport))
                return None
            ports = dport.split(",")
        comment = str(rule.get("comment") or "%s to %s" % (vnet["name"], target))
        if '"' in comment or "\n" in comment:
            self.error("%s.comment may not contain double quotes or newlines" % where)
            return None
        return {"to": target, "out_ifname": out_ifname, "destination": str(destination),
                "family": "ip" if destination.version == 4 else "ip6", "proto": proto, "ports": ports, "comment": comment}

    def wireguard(self, vnets, management):
        wg = self.vars.get("tenant_gateway_wireguard") or {}
        if not wg:
            return None
        interface = str(wg.get("interface", ""))
        if not IFNAME.match(interface):
            self.error("tenant_gateway_wireguard.interface: %r must be 1-15 characters of [a-zA-Z0-9_.-]" % interface)
        port = wg.get("port", 51820)
        if not isinstance(port, int) or not 0 < port < 65536:
            self.error("tenant_gateway_wireguard.port must be a port number, got %r" % (port,))
        implementation = wg.get("implementation", "auto")
        if implementation not in ("auto", "kernel", "userspace"):
            self.error("tenant_gateway_wireguard.implementation must be auto, kernel or userspace, got %r" % (implementation,))
        pool = self.interface_address("tenant_gateway_wireguard.address", wg.get("address"))
        if pool is None:
            return None
        for vnet in vnets:
            if pool.network.overlaps(vnet["network"]):
                self.error("tenant_gateway_wireguard.address %s overlaps the VNet %s (%s)" % (pool, vnet["name"], vnet["network"]))
        for net in management:
            if pool.network.overlaps(net):
                self.error("tenant_gateway_wireguard.address %s overlaps the management network %s" % (pool, net))
        peers = []
        for index, peer in enumerate(wg.get("peers") or []):
            peers.append(self.peer(index, peer, pool))
        self.unique("tenant_gateway_wireguard.peers names", [peer["name"] for peer in peers if peer])
        self.unique("tenant_gateway_wireguard.peers public keys", [peer["public_key"] for peer in peers if peer])
        self.unique("tenant_gateway_wireguard.peers addresses", [peer["address"] for peer in peers if peer])
        return {"interface": interface, "port": port, "implementation": implementation, "address": str(pool),
                "network": pool.network, "peers": [peer for peer in peers if peer]}

    def peer(self, index, peer, pool):
        if not isinstance(peer, dict):
            self.error("tenant_gateway_wireguard.peers[%d] must be a dict {name, public_key, address}" % index)
            return None
        name = peer.get("name")
        where = "tenant_gateway_wireguard.peers[%s]" % (name if isinstance(name, str) and name else index)
        if any("private" in str(key).lower() for key in peer):
            self.error("%s has a private key field: the role never accepts a peer's private key (declare the peer by its public key)" % where)
            return None
        if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$", name):
            self.error("%s.name: %r must be 1-64 characters of [A-Za-z0-9_.@-]" % (where, name))
            return None
        key = peer.get("public_key")
        if not wireguard_public_key_ok(key):
            self.error("%s.public_key is not a WireGuard public key (44 characters of base64 encoding 32 bytes)" % where)
            return None
        address = self.interface_address(where + ".address", peer.get("address"))
        if address is None:
            return None
        if address.network.prefixlen != address.network.max_prefixlen:
            self.error("%s.address %s must be exactly one address: /%d" % (where, address, address.network.max_prefixlen))
            return None
        if address.version != pool.version or address.ip not in pool.network:
            self.error("%s.address %s is not inside the VPN pool %s (tenant_gateway_wireguard.address)" % (where, address, pool.network))
            return None
        if address.ip == pool.ip:
            self.error("%s.address %s is the gateway's own VPN address" % (where, address))
            return None
        return {"name": name, "public_key": key, "address": str(address)}

    def cloudflared(self):
        cfd = self.vars.get("tenant_gateway_cloudflared") or {}
        if not cfd:
            return
        if not UUID.match(str(cfd.get("tunnel_id", ""))):
            self.error("tenant_gateway_cloudflared.tunnel_id: %r is not a tunnel UUID" % (cfd.get("tunnel_id"),))
        if not str(cfd.get("credentials_file", "")).startswith("/"):
            self.error("tenant_gateway_cloudflared.credentials_file must be an absolute path")
        if not re.match(r"^[a-z0-9][a-z0-9-]{0,62}$", str(cfd.get("team_name") or "")):
            self.error("tenant_gateway_cloudflared.team_name must be set: the Access team (<team>.cloudflareaccess.com)")
        ingress = cfd.get("ingress") or []
        if not ingress:
            self.error("tenant_gateway_cloudflared.ingress needs at least one {hostname, service, aud_tag}")
        for index, rule in enumerate(ingress):
            hostname = str(rule.get("hostname", ""))
            where = "tenant_gateway_cloudflared.ingress[%s]" % (hostname or index)
            if not HOSTNAME.match(hostname):
                self.error("%s.hostname: %r is not a DNS name" % (where, hostname))
            if not rule.get("aud_tag"):
                self.error("%s: hostname %s has no Access application (aud_tag is required: the connector rejects requests "
                           "without that application's token)" % (where, hostname))
            elif not AUD_TAG.match(str(rule.get("aud_tag"))):
                self.error("%s.aud_tag is not an Access application audience tag (64 hex characters)" % where)
            if not re.match(r"^(https?|tcp|ssh|rdp|unix|http_status):", str(rule.get("service", ""))):
                self.error("%s.service: %r is not a cloudflared origin (http://, https://, tcp://, ssh://, ...)" % (where, rule.get("service")))
        self.unique("tenant_gateway_cloudflared.ingress hostnames", [str(rule.get("hostname")) for rule in ingress])

    def unique(self, what, values):
        seen = set()
        doubles = sorted({value for value in values if value in seen or seen.add(value)})
        if doubles:
            self.error("%s must be unique: %s appear more than once" % (what, ", ".join(str(value) for value in doubles)))

    @staticmethod
    def public_vnet(vnet):
        return {"name": vnet["name"], "ifname": vnet["ifname"], "address": str(vnet["address"]),
                "network": str(vnet["network"]), "family": "ip" if vnet["network"].version == 4 else "ip6",
                "allow": vnet["allow"]}


class TransitHubPlanner(RolePlanner):
    """The transit_hub role's variables (legs found by MAC like the tenant gateway's, routes, policy rules)."""

    def build(self):
        rate = str(self.vars.get("transit_hub_log_rate", ""))
        if not RATE.match(rate):
            self.error("transit_hub_log_rate: %r is not a rate like 10/minute (per second, minute, hour or day)" % rate)
        admin = self.networks("transit_hub_admin_networks", required=True)
        management = self.networks("transit_hub_management_networks", required=False)
        transit, services = self.legs(management)
        routes, tenants = self.routes(transit)
        rules = self.rules(tenants, services)
        tenant_networks = [net for networks in tenants.values() for net in networks]
        counters = {}
        for rule in rules:
            counters.setdefault(rule["counter"], "%s to %s" % (rule["tenant"], rule["service"]))
        return {
            "log_rate": rate,
            "log_prefix": "homecloud-transit drop: ",
            "transit": transit and {"ifname": transit["ifname"], "address": str(transit["address"]),
                                    "network": str(transit["address"].network)},
            "services": [{"ifname": leg["ifname"], "vnet": leg["vnet"], "address": str(leg["address"]),
                          "network": str(leg["address"].network)} for leg in services],
            "service_ifnames": [leg["ifname"] for leg in services],
            "routes": routes,
            "tenants": split_families(tenant_networks),
            "rules": rules,
            "counters": [{"name": name, "comment": comment} for name, comment in sorted(counters.items())],
            "admin": split_families(admin),
            "management": split_families(management),
            "uses_ipv6": any(net.version == 6 for net in tenant_networks)
            or any(leg["address"].version == 6 for leg in ([transit] if transit else []) + services),
        }

    def leg(self, where, item, management, placeholder):
        if not isinstance(item, dict):
            self.error("%s must be a dict {mac, address}" % where)
            return None
        mac = self.mac(where + ".mac", item.get("mac"))
        address = self.interface_address(where + ".address", item.get("address"))
        if mac is None or address is None:
            return None
        for net in management:
            if address.network.overlaps(net):
                self.error("%s.address %s overlaps the management network %s" % (where, address, net))
        ifname = self.link_by_mac(where, mac, address)
        return {"mac": mac, "address": address, "ifname": ifname or placeholder}

    def legs(self, management):
        legs = self.vars.get("transit_hub_legs") or {}
        if not isinstance(legs, dict) or not legs.get("transit") or not legs.get("services"):
            self.error("transit_hub_legs is required: {transit: {mac, address}, services: [{mac, address, vnet}, ...]}")
            return None, []
        transit = self.leg("transit_hub_legs.transit", legs["transit"], management, "transit0")
        if transit:
            self.interfaces["transit"] = transit["ifname"]
        services = []
        items = legs["services"] if isinstance(legs["services"], list) else []
        for index, item in enumerate(items):
            vnet = (item or {}).get("vnet") if isinstance(item, dict) else None
            if not isinstance(vnet, str) or not re.match(r"^[a-z][a-z0-9]{1,7}$", vnet):
                self.error("transit_hub_legs.services[%d].vnet: %r is not a VNet id ([a-z][a-z0-9]{1,7})" % (index, vnet))
                continue
            leg = self.leg("transit_hub_legs.services[%s]" % vnet, item, management, "svc-%s" % vnet)
            if leg:
                leg["vnet"] = vnet
                self.interfaces[vnet] = leg["ifname"]
                services.append(leg)
        if not items:
            self.error("transit_hub_legs.services needs at least one services VNet leg")
        self.unique("transit_hub_legs MACs", [leg["mac"] for leg in services + ([transit] if transit else [])])
        self.unique("transit_hub_legs.services VNets", [leg["vnet"] for leg in services])
        everything = services + ([transit] if transit else [])
        for first in range(len(everything)):
            for second in range(first + 1, len(everything)):
                if everything[first]["address"].network.overlaps(everything[second]["address"].network):
                    self.error("transit_hub_legs: the networks of %s (%s) and %s (%s) overlap" % (
                        everything[first]["ifname"], everything[first]["address"].network,
                        everything[second]["ifname"], everything[second]["address"].network))
        return transit, services

    def routes(self, transit):
        items = self.vars.get("transit_hub_routes") or []
        if not isinstance(items, list):
            self.error("transit_hub_routes must be a list of {network, via, tenant}")
            return [], {}
        routes = []
        tenants = {}
        for index, item in enumerate(items):
            where = "transit_hub_routes[%d]" % index
            if not isinstance(item, dict):
                self.error("%s must be a dict {network, via, tenant}" % where)
                continue
            tenant = item.get("tenant")
            if not isinstance(tenant, str) or not NAME.match(tenant):
                self.error("%s.tenant: %r must match [a-z][a-z0-9-]*" % (where, tenant))
                continue
            network = self.network(where + ".network", item.get("network"))
            via = self.address(where + ".via", item.get("via"))
            if network is None or via is None:
                continue
            if transit is not None and via not in transit["address"].network:
                self.error("%s.via %s is not on the transit network %s: the hub reaches the tenants' gateways there"
                           % (where, via, transit["address"].network))
                continue
            if transit is not None and via == transit["address"].ip:
                self.error("%s.via %s is the hub's own transit address" % (where, via))
                continue
            tenants.setdefault(tenant, []).append(network)
            routes.append({"network": str(network), "via": str(via), "tenant": tenant,
                           "family": "inet" if network.version == 4 else "inet6"})
        self.unique("transit_hub_routes networks", [route["network"] for route in routes])
        owned = [(tenant, net) for tenant, networks in sorted(tenants.items()) for net in networks]
        for first in range(len(owned)):
            for second in range(first + 1, len(owned)):
                if owned[first][0] != owned[second][0] and owned[first][1].overlaps(owned[second][1]):
                    self.error("transit_hub_routes: %s of %s overlaps %s of %s" % (
                        owned[first][1], owned[first][0], owned[second][1], owned[second][0]))
        return routes, tenants

    def rules(self, tenants, services):
        items = self.vars.get("transit_hub_rules") or []
        if not isinstance(items, list):
            self.error("transit_hub_rules must be a list of {tenant, sources, service, addresses, proto, dport, comment}")
            return []
        rules = []
        for index, item in enumerate(items):
            where = "transit_hub_rules[%d]" % index
            if not isinstance(item, dict):
                self.error("%s must be a dict {tenant, sources, service, addresses, proto, dport, comment}" % where)
                continue
            rule = self.rule(where, item, tenants, services)
            if rule:
                rules.extend(rule)
        return rules

    def rule(self, where, item, tenants, services):
        tenant = item.get("tenant")
        if tenant not in tenants:
            self.error("%s.tenant: %r has no route on the hub (transit_hub_routes): the hub could not answer it" % (where, tenant))
            return None
        service = item.get("service")
        if not isinstance(service, str) or not NAME.match(service):
            self.error("%s.service: %r must match [a-z][a-z0-9-]*" % (where, service))
            return None
        sources = [self.network("%s.sources[%d]" % (where, index), source) for index, source in enumerate(item.get("sources") or [])]
        sources = [source for source in sources if source is not None]
        if not sources:
            self.error("%s.sources needs at least one network of tenant %s" % (where, tenant))
            return None
        for source in sources:
            if not any(source.version == net.version and source.subnet_of(net) for net in tenants[tenant]):
                self.error("%s.sources: %s is not inside the networks routed to tenant %s (%s)"
                           % (where, source, tenant, ", ".join(str(net) for net in tenants[tenant])))
                return None
        addresses = [self.address("%s.addresses[%d]" % (where, index), address) for index, address in enumerate(item.get("addresses") or [])]
        addresses = [address for address in addresses if address is not None]
        if not addresses:
            self.error("%s.addresses needs at least one address of service %s" % (where, service))
            return None
        for address in addresses:
            if services and not any(address in leg["address"].network for leg in services):
                self.error("%s.addresses: %s is on none of the hub's services legs (%s)"
                           % (where, address, ", ".join(str(leg["address"].network) for leg in services)))
                return None
        proto = item.get("proto")
        if proto not in ("tcp", "udp"):
            self.error("%s.proto must be tcp or udp, got %r" % (where, proto))
            return None
        dport = str(item.get("dport", "")).replace(" ", "")
        if not PORTS.match(dport) or not all(0 < int(port) < 65536 for port in re.split("[,-]", dport)):
            self.error("%s.dport %r: a port, a range a-b or a comma list of them (1-65535)" % (where, dport))
            return None
        comment = str(item.get("comment") or "%s to %s %s/%s" % (tenant, service, proto, dport))
        if '"' in comment or "\n" in comment:
            self.error("%s.comment may not contain double quotes or newlines" % where)
            return None
        counter = re.sub("[^a-z0-9_]", "_", "allow_%s_%s" % (tenant, service))
        rules = []
        for version, family in ((4, "ip"), (6, "ip6")):
            family_sources = [str(net) for net in sources if net.version == version]
            family_addresses = [str(address) for address in addresses if address.version == version]
            if family_sources and family_addresses:
                rules.append({"tenant": tenant, "service": service, "counter": counter, "family": family,
                              "sources": family_sources, "addresses": family_addresses, "proto": proto,
                              "ports": dport.split(","), "comment": comment})
        if not rules:
            self.error("%s: no source and address of the same IP version" % where)
        return rules


def split_families(networks):
    """{'ip': [IPv4 CIDRs], 'ip6': [IPv6 CIDRs]}: nft sets hold one address family each."""
    return {"ip": [str(net) for net in networks if net.version == 4],
            "ip6": [str(net) for net in networks if net.version == 6]}


def tenant_gateway_role_plan(variables, links=None):
    """{"errors", "interfaces", "plan"} for the role's variables; links is `ip -json -details address show`
    of the gateway (None skips the search of the interfaces by MAC)."""
    planner = RolePlanner(variables, links)
    plan = planner.build()
    return {"errors": planner.errors, "interfaces": planner.interfaces, "plan": plan}


def transit_hub_role_plan(variables, links=None):
    """{"errors", "interfaces", "plan"} for the transit_hub role's variables; links is `ip -json -details
    address show` of the hub (None skips the search of the legs by MAC)."""
    planner = TransitHubPlanner(variables, links)
    plan = planner.build()
    return {"errors": planner.errors, "interfaces": planner.interfaces, "plan": plan}
