# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The tenant gateway plan: from a tenant's plan (planning.plan_tenants) and its inventory entry, the gateway VM
(VMID, NICs, addresses), its WireGuard pool and peers, and the hostnames it publishes behind Cloudflare Access.
When the plan has a transit network, the gateway VM gets one more NIC on the transit VNet (after its VNets) and
routes the shared services' networks via the transit hub.

Every problem of the input is collected and raised at once as planning.PlanError, before a playbook writes
anything; each message names the tenant, the field and the rule.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import ipaddress
import re

from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import KIND_SHARED, PlanError, plan_entries, planned_mac

DEFAULTS = {"external_bridge": "vmbr1", "vpn_prefix": 24, "vpn_port": 51820, "name_suffix": "-gw"}
# A DNS host name as Cloudflare takes it: labels of letters, digits and '-', at least two labels, ASCII only.
HOSTNAME_RE = re.compile(r"\A(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+\Z")
# Policy names become "<tenant>-<name>" in the Cloudflare account, so they never collide between tenants.
POLICY_NAME_RE = re.compile(r"\A[a-z0-9][a-z0-9-]{0,62}\Z")
SCHEMES = ("http", "https", "tcp", "ssh", "rdp")
# Linux interface names are at most 15 characters (IFNAMSIZ - 1).
IFNAME_MAX = 15
# What a policy of the inventory may hold besides its name (homecloud.proxmox.cloudflare_access_policy's options).
POLICY_FIELDS = ("decision", "emails", "email_domains", "access_groups", "idp_groups", "include", "exclude", "require",
                 "session_duration")


def as_mapping(value, where, errors):
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append("{0}: {1!r} is not a mapping".format(where, value))
        return {}
    return value


def as_list(value, where, errors):
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append("{0}: {1!r} is not a list".format(where, value))
        return []
    return value


def _interface(value, where, errors, network=None):
    """An ipaddress interface 'a.b.c.d/n' (inside ``network`` when given), or None (reported)."""
    try:
        if not isinstance(value, str) or "/" not in value:
            raise ValueError(value)
        interface = ipaddress.ip_interface(value)
    except ValueError:
        errors.append("{0}: {1!r} is not an address with its prefix length, such as 198.51.100.21/24".format(where, value))
        return None
    if interface.ip in (interface.network.network_address, interface.network.broadcast_address) \
            and interface.network.prefixlen < interface.max_prefixlen - 1:
        errors.append("{0}: {1} is the network's {2} address, not a host".format(
            where, value, "network" if interface.ip == interface.network.network_address else "broadcast"))
        return None
    if network is not None and interface.ip not in network:
        errors.append("{0}: {1} is outside {2}".format(where, value, network))
        return None
    return interface


def _address(value, where, errors):
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return ipaddress.ip_address(value)
    except ValueError:
        errors.append("{0}: {1!r} is not an IP address".format(where, value))
        return None


def wireguard_public_key_ok(text):
    """Whether text is a WireGuard public key: base64 of 32 bytes (44 characters, as `wg pubkey` prints it)."""
    if not isinstance(text, str) or len(text) != 44:
        return False
    try:
        return len(base64.b64decode(text.encode("ascii"), validate=True)) == 32
    except (ValueError, binascii.Error, UnicodeEncodeError):
        return False


def _public_key(value, where, errors):
    """value when it is a WireGuard public key, else None (reported)."""
    if not wireguard_public_key_ok(value):
        errors.append("{0}: {1!r} is not a WireGuard public key (44 characters of base64, as `wg pubkey` prints "
                      "it)".format(where, value))
        return None
    return value


def _vlan(value, where, errors):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4094:
        errors.append("{0}: {1!r} is not a VLAN id (1 to 4094)".format(where, value))
        return None
    return value


def _vpn_pool(settings, tenant_id, where, errors):
    """Slot ``tenant_id`` of size /vpn_prefix in vpn_supernet."""
    try:
        supernet = ipaddress.ip_network(settings.get("vpn_supernet"))
    except (TypeError, ValueError):
        errors.append("homecloud_gateway.vpn_supernet: {0!r} is not a network such as 10.250.0.0/16 (the tenants' "
                      "WireGuard pools are carved from it)".format(settings.get("vpn_supernet")))
        return None
    prefix = settings["vpn_prefix"]
    if isinstance(prefix, bool) or not isinstance(prefix, int) or not supernet.prefixlen <= prefix <= supernet.max_prefixlen - 2:
        errors.append("homecloud_gateway.vpn_prefix: {0!r} must be an integer from {1} to {2}".format(
            prefix, supernet.prefixlen, supernet.max_prefixlen - 2))
        return None
    slots = 2 ** (prefix - supernet.prefixlen)
    if tenant_id >= slots:
        errors.append("{0}: id {1}: beyond the {2} WireGuard pools of /{3} in homecloud_gateway.vpn_supernet {4}".format(
            where, tenant_id, slots, prefix, supernet))
        return None
    return type(supernet)((int(supernet.network_address) + tenant_id * 2 ** (supernet.max_prefixlen - prefix), prefix))


def _plan_vpn(vpn, tenant_plan, settings, where, errors):
    vpn = as_mapping(vpn, where, errors)
    pool = _vpn_pool(settings, tenant_plan["id"], where, errors)
    if pool is None:
        return None
    own = ipaddress.ip_interface("{0}/{1}".format(pool.network_address + 1, pool.prefixlen))
    host_prefix = pool.max_prefixlen
    peers = []
    seen_keys, seen_addresses, seen_names = {}, {}, set()
    for index, peer in enumerate(as_list(vpn.get("peers"), where + ".peers", errors)):
        at = "{0}.peers[{1}]".format(where, index)
        if not isinstance(peer, dict):
            errors.append("{0}: {1!r} is not a mapping (name, public_key, host or address)".format(at, peer))
            continue
        secret_fields = sorted(key for key in peer if "private" in str(key).lower() or str(key).lower() == "preshared_key")
        if secret_fields:
            errors.append("{0}: {1}: the gateway never accepts a peer's private key; declare the peer by its public "
                          "key only (the private key stays on the peer's device)".format(at, ", ".join(secret_fields)))
            continue
        name = peer.get("name")
        if not isinstance(name, str) or not POLICY_NAME_RE.match(name):
            errors.append("{0}: name {1!r}: lower-case letters, digits and '-' (up to 63)".format(at, name))
        elif name in seen_names:
            errors.append("{0}: name {1!r} is used by another peer".format(at, name))
        seen_names.add(name)
        key = _public_key(peer.get("public_key"), at + ".public_key", errors)
        if key is not None:
            if key in seen_keys:
                errors.append("{0}.public_key: also the key of {1}; one key per device".format(at, seen_keys[key]))
            seen_keys.setdefault(key, at)
        if peer.get("address") is not None:
            address = _interface(peer["address"], at + ".address", errors)
            if address is not None and address.network.prefixlen != host_prefix:
                errors.append("{0}.address: {1}: a peer gets exactly one address, a /{2} (its AllowedIPs on the "
                              "gateway)".format(at, peer["address"], host_prefix))
                address = None
            address = address.ip if address is not None else None
        else:
            host = peer.get("host")
            if isinstance(host, bool) or not isinstance(host, int) or not 2 <= host < pool.num_addresses - 1:
                errors.append("{0}: host {1!r}: the peer's host number in the tenant's VPN pool {2} (2 to {3}; 1 is "
                              "the gateway), or give address".format(at, host, pool, pool.num_addresses - 2))
                continue
            address = pool.network_address + host
        if address is None:
            continue
        if address not in pool:
            errors.append("{0}: {1} is outside the tenant's VPN pool {2}".format(at, address, pool))
        elif address == own.ip:
            errors.append("{0}: {1} is the gateway's own VPN address".format(at, address))
        elif address in (pool.network_address, pool.broadcast_address):
            errors.append("{0}: {1} is the VPN pool's network or broadcast address".format(at, address))
        elif address in seen_addresses:
            errors.append("{0}: {1} is also the address of {2}".format(at, address, seen_addresses[address]))
        else:
            seen_addresses[address] = at
            peers.append({"name": name, "public_key": key, "address": "{0}/{1}".format(address, host_prefix)})
    interface = vpn.get("interface", "wg-{0}".format(tenant_plan["tenant"]))
    if not isinstance(interface, str) or not re.match(r"\A[a-zA-Z0-9_=+.-]{1,%d}\Z" % IFNAME_MAX, interface):
        errors.append("{0}.interface: {1!r} is not a Linux interface name (up to {2} letters, digits, _=+.-)".format(
            where, interface, IFNAME_MAX))
    port = vpn.get("port", settings["vpn_port"])
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        errors.append("{0}.port: {1!r} is not a UDP port".format(where, port))
    return {"pool": str(pool), "address": str(own), "ip": str(own.ip), "interface": interface, "port": port,
            "peers": peers}


def _plan_policies(raw_policies, tenant, where, errors):
    """{inventory name: the account-level policy (name "<tenant>-<name>" plus its rule fields)}."""
    policies = {}
    for index, policy in enumerate(as_list(raw_policies, where, errors)):
        at = "{0}[{1}]".format(where, index)
        if not isinstance(policy, dict):
            errors.append("{0}: {1!r} is not a mapping".format(at, policy))
            continue
        name = policy.get("name")
        if not isinstance(name, str) or not POLICY_NAME_RE.match(name):
            errors.append("{0}: name {1!r}: lower-case letters, digits and '-' (up to 63)".format(at, name))
            continue
        if name in policies:
            errors.append("{0}: name {1!r} is used by another policy of the tenant".format(at, name))
            continue
        unknown = sorted(set(policy) - set(POLICY_FIELDS) - {"name"})
        if unknown:
            errors.append("{0}: unknown field(s) {1}; a policy has {2}".format(at, ", ".join(unknown), ", ".join(POLICY_FIELDS)))
            continue
        if not any(policy.get(field) for field in ("emails", "email_domains", "access_groups", "idp_groups", "include")):
            errors.append("{0} ({1}): no one is allowed in: give emails, email_domains, access_groups, idp_groups or "
                          "include".format(at, name))
            continue
        planned = dict((key, value) for key, value in policy.items() if key != "name")
        planned["name"] = "{0}-{1}".format(tenant, name)
        policies[name] = planned
    return policies


def _plan_publish(raw_publish, tenant_plan, policies, zone, where, errors):
    guests = dict((guest["name"], guest) for guest in tenant_plan.get("guests", []))
    published = []
    for index, entry in enumerate(as_list(raw_publish, where, errors)):
        at = "{0}[{1}]".format(where, index)
        if not isinstance(entry, dict):
            errors.append("{0}: {1!r} is not a mapping (hostname, guest, port, access)".format(at, entry))
            continue
        hostname = entry.get("hostname")
        if not isinstance(hostname, str) or not HOSTNAME_RE.match(hostname):
            errors.append("{0}: hostname {1!r} is not a lower-case DNS name such as app.acme.example.com".format(at, hostname))
            continue
        at = "{0} ({1})".format(at, hostname)
        if zone and hostname != zone and not hostname.endswith("." + zone):
            errors.append("{0}: not inside the Cloudflare zone {1} (homecloud_cloudflare.zone)".format(at, zone))
        access = entry.get("access")
        if not isinstance(access, list) or not access:
            errors.append("{0}: access: every published hostname sits behind Cloudflare Access; name at least one of "
                          "the tenant's access_policies ({1})".format(at, ", ".join(sorted(policies)) or "it has none"))
            continue
        missing = [name for name in access if name not in policies]
        if missing:
            errors.append("{0}: access: {1} not among the tenant's access_policies ({2})".format(
                at, ", ".join(str(name) for name in missing), ", ".join(sorted(policies)) or "it has none"))
            continue
        guest = guests.get(entry.get("guest"))
        if guest is None:
            errors.append("{0}: guest {1!r} is not a guest of the tenant ({2})".format(
                at, entry.get("guest"), ", ".join(sorted(guests)) or "it has none"))
            continue
        port = entry.get("port", 80)
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            errors.append("{0}: port {1!r} is not a TCP port".format(at, port))
            continue
        scheme = entry.get("scheme", "http")
        if scheme not in SCHEMES:
            errors.append("{0}: scheme {1!r} is not one of {2}".format(at, scheme, ", ".join(SCHEMES)))
            continue
        host = guest["ip"] if ":" not in guest["ip"] else "[{0}]".format(guest["ip"])
        published.append({"hostname": hostname, "guest": guest["name"],
                          "service": "{0}://{1}:{2}".format(scheme, host, port),
                          "policies": [policies[name]["name"] for name in access],
                          "session_duration": entry.get("session_duration", "24h")})
    return published


def _plan_transit(tenant_plan, vmid, index, shared_networks):
    """The gateway VM's transit leg (NIC ``index``, after its VNets) from the tenant plan's ``transit``, or None."""
    transit = tenant_plan.get("transit")
    if not transit:
        return None
    return {"vnet": transit["vnet"], "mac": planned_mac(vmid, index), "address": transit["address"],
            "ip": transit["address"].split("/")[0], "gateway": transit["hub"], "routes": list(shared_networks)}


def plan_gateways(tenant_plans, tenants, settings=None, cloudflare=None, nodes=None, guest_defaults=None):
    """[{tenant, vmid, name, node, external, vnets, nics, ipconfig, guest_gateways, vpn, access_policies, publish}]
    for each tenant (tenant_plan's output, shared services left out) whose inventory entry has a ``gateway``,
    or PlanError with every problem of the input."""
    errors = []
    settings = dict(DEFAULTS, **as_mapping(settings, "homecloud_gateway", errors))
    cloudflare = as_mapping(cloudflare, "homecloud_cloudflare", errors)
    zone = cloudflare.get("zone")
    nodes = list(nodes or [])
    by_name = dict((tenant.get("name"), tenant) for tenant in tenants or [] if isinstance(tenant, dict))
    hostnames = {}
    planned = []
    # Through the transit hub, a tenant gateway reaches the shared services' networks.
    shared_networks = [vnet["cidr"] for entry in plan_entries(tenant_plans, KIND_SHARED) for vnet in entry["vnets"]]
    for tenant_plan in tenant_plans:
        if tenant_plan.get("shared"):
            continue
        name = tenant_plan["tenant"]
        raw = by_name.get(name) or {}
        label = "tenant {0}".format(name)
        if raw.get("gateway") is None:
            if raw.get("publish"):
                errors.append("{0}: publish: published hostnames go out through the tenant's gateway; give the tenant "
                              "a gateway".format(label))
            continue
        gateway = as_mapping(raw["gateway"], label + ": gateway", errors)
        vmid = tenant_plan["vmids"]["first"]
        node = gateway.get("node", (guest_defaults or {}).get("node"))
        if node not in nodes:
            errors.append("{0}: gateway.node {1!r} is not in pve_nodes ({2})".format(label, node, ", ".join(nodes)))
        external = as_mapping(gateway.get("external"), label + ": gateway.external", errors)
        ext_address = _interface(external.get("address"), label + ": gateway.external.address", errors)
        ext_gateway = _address(external.get("gateway"), label + ": gateway.external.gateway", errors)
        if ext_address is not None and ext_gateway is not None and ext_gateway not in ext_address.network:
            errors.append("{0}: gateway.external.gateway {1} is outside the external network {2}".format(
                label, ext_gateway, ext_address.network))
        vlan = _vlan(external.get("vlan"), label + ": gateway.external.vlan", errors)
        bridge = external.get("bridge", settings["external_bridge"])
        allow = as_mapping(gateway.get("allow"), label + ": gateway.allow", errors)
        vnet_names = [vnet["name"] for vnet in tenant_plan["vnets"]]
        for vnet_name in allow:
            if vnet_name not in vnet_names:
                errors.append("{0}: gateway.allow.{1}: not a VNet of the tenant ({2})".format(label, vnet_name, ", ".join(vnet_names)))
        nics = [dict(bridge=bridge, firewall=True, macaddr=planned_mac(vmid, 0), **({"tag": vlan} if vlan else {}))]
        ipconfig = [{"ip": str(ext_address) if ext_address else None, "gw": str(ext_gateway) if ext_gateway else None}]
        vnets = []
        guest_gateways = {}
        for index, vnet in enumerate(sorted(tenant_plan["vnets"], key=lambda item: item["id"]), start=1):
            if not vnet["reserved"]:
                errors.append("{0}: VNet {1}: the plan reserves no address for the gateway VM (homecloud_network_plan."
                              "reserved_hosts is 0)".format(label, vnet["name"]))
                continue
            ip = vnet["reserved"][0]
            prefix = vnet["cidr"].split("/")[1]
            mac = planned_mac(vmid, index)
            rules = as_list(allow.get(vnet["name"]), "{0}: gateway.allow.{1}".format(label, vnet["name"]), errors)
            vnets.append({"name": vnet["name"], "vnet": vnet["vnet"], "cidr": vnet["cidr"], "mac": mac,
                          "address": "{0}/{1}".format(ip, prefix), "ip": ip, "allow": rules})
            nics.append({"bridge": vnet["vnet"], "firewall": True, "macaddr": mac})
            ipconfig.append({"ip": "{0}/{1}".format(ip, prefix)})
            guest_gateways[vnet["vnet"]] = ip
        transit = _plan_transit(tenant_plan, vmid, len(nics), shared_networks)
        if transit is not None:
            nics.append({"bridge": transit["vnet"], "firewall": True, "macaddr": transit["mac"]})
            ipconfig.append({"ip": transit["address"]})
        vpn = _plan_vpn(gateway["vpn"], tenant_plan, settings, label + ": gateway.vpn", errors) \
            if gateway.get("vpn") is not None else None
        policies = _plan_policies(raw.get("access_policies"), name, label + ": access_policies", errors)
        publish = _plan_publish(raw.get("publish"), tenant_plan, policies, zone, label + ": publish", errors)
        if publish and not zone:
            errors.append("{0}: publish: homecloud_cloudflare.zone is not set (the Cloudflare zone the hostnames are "
                          "in)".format(label))
        for entry in publish:
            other = hostnames.setdefault(entry["hostname"], name)
            if other != name:
                errors.append("{0}: publish: {1} is also published by tenant {2}".format(label, entry["hostname"], other))
        role = {"vnets": [dict((key, vnet[key]) for key in ("name", "mac", "address", "allow")) for vnet in vnets],
                "external": {"mac": nics[0]["macaddr"], "address": str(ext_address) if ext_address else None,
                             "gateway": str(ext_gateway) if ext_gateway else None},
                "wireguard": dict((key, vpn[key]) for key in ("interface", "port", "address", "peers")) if vpn else {},
                "transit": dict((key, transit[key]) for key in ("mac", "address", "gateway", "routes")) if transit else {}}
        planned.append({"tenant": name, "vmid": vmid, "name": "{0}{1}".format(name, settings["name_suffix"]),
                        "node": node, "size": gateway.get("size"),
                        "external": {"bridge": bridge, "vlan": vlan, "mac": nics[0]["macaddr"],
                                     "address": str(ext_address) if ext_address else None,
                                     "ip": str(ext_address.ip) if ext_address else None,
                                     "gateway": str(ext_gateway) if ext_gateway else None},
                        "vnets": vnets, "nics": nics, "ipconfig": ipconfig, "guest_gateways": guest_gateways,
                        "network": tenant_plan["network"], "vpn": vpn,
                        "access_policies": [policies[key] for key in sorted(policies)], "publish": publish, "transit": transit,
                        "role": role})
    if errors:
        raise PlanError(errors)
    return planned
