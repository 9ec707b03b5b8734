# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The cluster's firewall policy, derived from the inventory and the tenant plan.

One function, ``firewall_policy(plan, tenants, settings, nodes)``, turns what the admin
declares (admin networks, the nodes' management and underlay addresses, the shared
services and which tenant may use which) into the objects the firewall modules converge:

- cluster IP sets: ``homecloud-admins``, ``homecloud-nodes``, ``homecloud-underlay``,
  ``homecloud-mgmt`` (the management segment), ``homecloud-internet`` (everything but
  private, shared and management space, written as two /1 entries and ``nomatch``
  exceptions because PVE refuses a /0 entry), per tenant ``<zone>-nets`` and ``<zone>-gw``,
  per shared service ``svc-<name>``;
- management rules at cluster level (admins to 8006/22 on the nodes, corosync, SSH and
  pveproxy between nodes, BGP and VXLAN on the underlay only) followed by the admin's own
  cluster rules (``homecloud_firewall.rules``), then the cluster options
  (input and forward DROP) and, last, ``enable``;
- node options (the host firewall baseline, nftables mode);
- per tenant a security group for its guests and, per VNet, the VNet firewall: forward
  DROP by default; its own networks, the internet through its gateway and the shared
  services its policy names are accepted; the management segment is dropped and logged;
- the shared services' VNets accept each tenant's networks on its granted services, and,
  when the plan has a transit network, the transit VNet does the same (the hub forwards
  the tenants' packets with their own source addresses) and drops everything else.

A tenant's ``services`` item is a service name or ``{name, ports}``, the ports a subset of
the service's own (narrowing what the tenant reaches); dns is always granted.

Nothing here talks to PVE; every problem in the input is reported at once, one line each,
naming the field and the rule, before any module runs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from collections.abc import Mapping

from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import (
    KIND_SHARED,
    KIND_TENANT,
    KIND_TRANSIT,
    PlanError,
    plan_entries as entries_of_kind,
)

PREFIX = "homecloud"
ADMINS = PREFIX + "-admins"
NODES = PREFIX + "-nodes"
UNDERLAY = PREFIX + "-underlay"
MANAGEMENT = PREFIX + "-mgmt"
INTERNET = PREFIX + "-internet"
SHARED_NETS = PREFIX + "-shared"
# Address space that is never "the internet" (RFC 1918, shared address space, link-local,
# loopback): the egress IP set excludes it with nomatch entries.
NOT_INTERNET = ("10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16")
SERVICE_NAME = "svc-"
ALWAYS = "dns"  # every tenant resolves the internal domain
PROTOCOLS = ("tcp", "udp")
LOG_LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog")
DEFAULTS = {"log_level": "info", "node_options": {}}
# A node's fields, and the host variables (pve_host role, demo inventory) they fall back to.
NODE_KEYS = (("name", "inventory_hostname"), ("management_address", "pve_host_mgmt_address"),
             ("underlay_address", "underlay_address"))
# The host firewall baseline every node gets (pve-firewall host options).
NODE_BASELINE = {"enable": True, "nftables": True, "nosmurfs": True, "tcpflags": True}


def firewall_policy(plan, tenants, settings, nodes):
    """The policy as plain data; raises PlanError listing every problem of the input."""
    errors = []
    settings = settings or {}
    admin_networks = read_networks(settings, "admin_networks", errors, required=True)
    management = read_networks(settings, "management_networks", errors, required=False) or admin_networks
    log_level = settings.get("log_level", DEFAULTS["log_level"])
    if log_level not in LOG_LEVELS:
        errors.append("homecloud_firewall.log_level %r: must be one of %s" % (log_level, ", ".join(LOG_LEVELS)))
    node_list = read_nodes(nodes, errors)
    shared = entries_of_kind(plan, KIND_SHARED)
    services = read_services(settings.get("services") or {}, shared, errors)
    grants = read_grants(tenants, services, errors)
    node_options = dict(NODE_BASELINE)
    extra = settings.get("node_options") or {}
    if not isinstance(extra, dict):
        errors.append("homecloud_firewall.node_options: must be a mapping of host firewall options")
    else:
        node_options.update(extra)
    own_rules = settings.get("rules") or []
    if not isinstance(own_rules, list) or not all(isinstance(item, Mapping) for item in own_rules):
        errors.append("homecloud_firewall.rules: must be a list of rules (mappings in firewall_rules' shape)")
        own_rules = []
    if errors:
        raise PlanError(errors)

    ipsets = [
        ipset(ADMINS, "who may reach the API/GUI (8006) and SSH (22) of the nodes", admin_networks),
        ipset(NODES, "the nodes' management addresses", [node["management_address"] for node in node_list]),
        ipset(UNDERLAY, "the nodes' underlay (VTEP) addresses: BGP EVPN and VXLAN", [node["underlay_address"] for node in node_list]),
        ipset(MANAGEMENT, "the management segment: no tenant reaches it", management),
        internet_ipset(plan, management),
        ipset(SHARED_NETS, "the shared services' networks", [vnet["cidr"] for entry in shared for vnet in entry["vnets"]]),
    ]
    for name in sorted(services):
        ipset_name = SERVICE_NAME + name
        ipsets.append(ipset(ipset_name, "shared service %s" % name, services[name]["addresses"]))
    tenant_policies = []
    for entry in entries_of_kind(plan, KIND_TENANT):
        zone = entry["zone"]["zone"]
        ipsets.append(ipset(zone + "-nets", "tenant %s: its networks" % entry["tenant"], [vnet["cidr"] for vnet in entry["vnets"]]))
        ipsets.append(ipset(zone + "-gw", "tenant %s: its gateway VM's addresses" % entry["tenant"],
                            [vnet["reserved"][0] for vnet in entry["vnets"] if vnet["reserved"]]))
        tenant_policies.append(tenant_policy(entry, grants[entry["tenant"]], log_level))
    return {
        "ipsets": ipsets,
        "rules": management_rules() + [dict(item) for item in own_rules],
        "options": {"policy_in": "DROP", "policy_out": "ACCEPT", "policy_forward": "DROP"},
        "enable": {"enable": True},
        "nodes": [{"node": node["name"], "options": dict(node_options)} for node in node_list],
        "tenants": tenant_policies,
        "shared": [shared_policy(entry, plan, grants, log_level) for entry in shared]
        + [transit_policy(entry, plan, grants, log_level) for entry in entries_of_kind(plan, KIND_TRANSIT)],
    }


# --- input -----------------------------------------------------------------------------


def read_networks(settings, key, errors, required):
    """A list of networks (CIDRs or single addresses) as strings PVE stores (host bits cleared)."""
    value = settings.get(key)
    if value is None:
        if required:
            errors.append("homecloud_firewall.%s: required, a list of networks such as [192.0.2.0/24]" % key)
        return None
    if not isinstance(value, list) or not value:
        errors.append("homecloud_firewall.%s: must be a non-empty list of networks" % key)
        return None
    networks = []
    for index, item in enumerate(value):
        network = network_text(item)
        if network is None:
            errors.append("homecloud_firewall.%s[%d] %r: must be an IP address or a CIDR network" % (key, index, item))
        else:
            networks.append(network)
    return networks


def network_text(value):
    """'192.0.2.0/24' for a network, '192.0.2.5' for one address, None for anything else."""
    if not isinstance(value, str) or value != value.strip() or not value.isascii():
        return None
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None
    if network.prefixlen == 0:
        return None  # PVE refuses a zero prefix in IP sets
    return str(network.network_address) if network.prefixlen == network.max_prefixlen else str(network)


def read_nodes(nodes, errors):
    """[{name, management_address, underlay_address}] with plain addresses (no prefix), from
    plain mappings or from the nodes' hostvars (inventory_hostname, pve_host_mgmt_address)."""
    if not isinstance(nodes, list) or not nodes:
        errors.append("nodes: must be a non-empty list of {name, management_address, underlay_address}")
        return []
    result = []
    for index, node in enumerate(nodes):
        label = "nodes[%d]" % index
        if not isinstance(node, Mapping):
            errors.append("%s: must be a mapping" % label)
            continue
        node = dict((key, node.get(alias) if node.get(key) is None else node.get(key)) for key, alias in NODE_KEYS)
        if not node["name"]:
            errors.append("%s: needs a name" % label)
            continue
        item = {"name": node["name"]}
        for key in ("management_address", "underlay_address"):
            address = str(node.get(key) or "").split("/", 1)[0]
            try:
                item[key] = str(ipaddress.ip_address(address))
            except ValueError:
                errors.append("%s (%s): %s %r: must be an IP address" % (label, node["name"], key, node.get(key)))
        result.append(item)
    return result


def read_services(services, shared, errors):
    """{name: {addresses, ports: [(proto, dport)]}}; addresses must be in the shared networks."""
    if not isinstance(services, dict):
        errors.append("homecloud_firewall.services: must be a mapping of service name to {addresses, ports}")
        return {}
    shared_networks = [ipaddress.ip_network(vnet["cidr"]) for entry in shared for vnet in entry["vnets"]]
    result = {}
    for name, service in sorted(services.items()):
        label = "homecloud_firewall.services.%s" % name
        if not isinstance(name, str) or not name.isascii() or not (name[:1].isalpha() and name.replace("-", "").replace("_", "").isalnum()) \
                or len(SERVICE_NAME + name) > 64:
            errors.append("%s: the name must start with a letter and hold only letters, digits, - and _ (an IP set name)" % label)
            continue
        if not isinstance(service, dict):
            errors.append("%s: must be a mapping with addresses and ports" % label)
            continue
        addresses = []
        for index, address in enumerate(service.get("addresses") or []):
            text = network_text(address)
            if text is None:
                errors.append("%s.addresses[%d] %r: must be an IP address or CIDR" % (label, index, address))
            elif shared_networks and not any(ipaddress.ip_network(text).subnet_of(network) for network in shared_networks
                                             if ipaddress.ip_network(text).version == network.version):
                errors.append("%s.addresses[%d] %s: must lie in a network of the shared services zone (%s)"
                              % (label, index, text, ", ".join(str(network) for network in shared_networks)))
            else:
                addresses.append(text)
        if not service.get("addresses"):
            errors.append("%s.addresses: required, a non-empty list" % label)
        ports = []
        for index, port in enumerate(service.get("ports") or []):
            if not isinstance(port, dict) or port.get("proto") not in PROTOCOLS or not valid_port(port.get("dport")):
                errors.append("%s.ports[%d] %r: must be {proto: tcp|udp, dport: a port 1-65535 or a range a:b}" % (label, index, port))
            else:
                ports.append((port["proto"], str(port["dport"])))
        if not service.get("ports"):
            errors.append("%s.ports: required, a non-empty list" % label)
        result[name] = {"addresses": addresses, "ports": ports}
    return result


def valid_port(value):
    parts = str(value).split(":")
    if len(parts) > 2 or not all(part.isdigit() and 1 <= int(part) <= 65535 for part in parts):
        return False
    return len(parts) == 1 or int(parts[0]) < int(parts[1])


def service_name(item):
    """The service a tenant's `services` item names: the item itself, or its `name` in the mapping form."""
    return item.get("name") if isinstance(item, Mapping) else item


def granted_names(tenant):
    """The service names of a tenant's `services` (either form), as the plans that act per service read them."""
    items = tenant.get("services") if isinstance(tenant, Mapping) else None
    return [service_name(item) for item in items] if isinstance(items, list) else []


def read_grant_ports(item, service, label, errors):
    """The ports of one grant: the service's own, or the subset the mapping form's `ports` names."""
    if not isinstance(item, Mapping) or item.get("ports") is None:
        return list(service["ports"])
    unknown = sorted(set(item) - {"name", "ports"})
    if unknown:
        errors.append("%s: unknown field(s) %s; a grant has name and ports" % (label, ", ".join(str(key) for key in unknown)))
    if not isinstance(item["ports"], list) or not item["ports"]:
        errors.append("%s.ports %r: must be a non-empty list of {proto, dport}, a subset of the service's ports" % (label, item["ports"]))
        return []
    ports = []
    for index, port in enumerate(item["ports"]):
        wanted = (port.get("proto"), str(port.get("dport"))) if isinstance(port, Mapping) else None
        if wanted not in service["ports"]:
            errors.append("%s.ports[%d] %r: not a port of the service (%s); a grant can only narrow its ports" % (
                label, index, port, ", ".join("%s %s" % pair for pair in service["ports"])))
        elif wanted not in ports:
            ports.append(wanted)
    return ports


def read_grants(tenants, services, errors):
    """{tenant name: {service name: [(proto, dport)]}} (names sorted): dns (when declared, on all its ports unless the
    tenant narrows it) plus each tenant's `services`, a name granting all the service's ports, {name, ports} a subset."""
    grants = {}
    for tenant in tenants or []:
        if not isinstance(tenant, dict):
            continue  # the planner already refused it
        items = tenant.get("services") or []
        label = "tenant %r: services" % tenant.get("name")
        if not isinstance(items, list):
            errors.append("%s: must be a list of shared service names or {name, ports}" % label)
            items = []
        granted = {}
        for index, item in enumerate(items):
            name = service_name(item)
            where = "%s[%d] (%s)" % (label, index, name) if isinstance(item, Mapping) else label
            if not isinstance(name, str) or name not in services:
                errors.append("%s: %r is not a service of homecloud_firewall.services (%s)"
                              % (where, name, ", ".join(sorted(services)) or "none declared"))
                continue
            if name in granted:
                errors.append("%s: %r is granted twice; name each service once" % (where, name))
                continue
            granted[name] = read_grant_ports(item, services[name], where, errors)
        if ALWAYS in services and ALWAYS not in granted:
            granted[ALWAYS] = list(services[ALWAYS]["ports"])
        grants[tenant.get("name")] = dict((name, granted[name]) for name in sorted(granted))
    return grants


# --- output ----------------------------------------------------------------------------


def ipset(name, comment, cidrs, nomatch=()):
    entries = [{"cidr": cidr} for cidr in sorted(set(cidrs))]
    entries += [{"cidr": cidr, "nomatch": True} for cidr in sorted(set(nomatch))]
    return {"name": name, "comment": comment, "entries": entries}


def internet_ipset(plan, management):
    """0.0.0.0/1 and 128.0.0.0/1 (PVE refuses /0) minus private, tenant, shared and management space."""
    candidates = set(NOT_INTERNET) | set(management) | set(entry["network"] for entry in plan)
    networks = [ipaddress.ip_network(item) for item in candidates if ipaddress.ip_network(item).version == 4]
    # one nomatch entry per excluded block: a network inside another excluded one adds nothing
    excluded = [str(network) if network.prefixlen < 32 else str(network.network_address) for network in networks
                if not any(network != other and network.subnet_of(other) for other in networks)]
    return ipset(INTERNET, "egress: every address but private, tenant, shared and management space",
                 ["0.0.0.0/1", "128.0.0.0/1"], nomatch=excluded)


def rule(direction, action, comment, source=None, dest=None, proto=None, dport=None, log=None):
    item = {"type": direction, "action": action, "enable": True, "comment": comment}
    for key, value in (("source", source), ("dest", dest), ("proto", proto), ("dport", dport), ("log", log)):
        if value is not None:
            item[key] = value
    return item


def management_rules():
    """Cluster rules (host input on every node) that keep the cluster manageable once input is DROP."""
    admins, nodes, underlay = "+dc/" + ADMINS, "+dc/" + NODES, "+dc/" + UNDERLAY
    return [
        rule("in", "ACCEPT", "homecloud: admin networks to the API and GUI", admins, nodes, "tcp", "8006"),
        rule("in", "ACCEPT", "homecloud: admin networks to SSH", admins, nodes, "tcp", "22"),
        rule("in", "ACCEPT", "homecloud: corosync between nodes", nodes, nodes, "udp", "5405:5412"),
        rule("in", "ACCEPT", "homecloud: pveproxy between nodes", nodes, nodes, "tcp", "8006"),
        rule("in", "ACCEPT", "homecloud: SSH between nodes (migration, replication)", nodes, nodes, "tcp", "22"),
        rule("in", "ACCEPT", "homecloud: BGP EVPN on the underlay only", underlay, underlay, "tcp", "179"),
        rule("in", "ACCEPT", "homecloud: VXLAN on the underlay only", underlay, underlay, "udp", "4789"),
    ]


def service_rules(source, granted, who):
    """One ACCEPT per granted service port; granted is read_grants' {service: [(proto, dport)]} of one tenant."""
    rules = []
    for name in sorted(granted):
        for proto, dport in granted[name]:
            rules.append(rule("forward", "ACCEPT", "homecloud: %s to shared service %s" % (who, name), source,
                              "+dc/" + SERVICE_NAME + name, proto, dport))
    return rules


def vnet_firewall(vnet, rules):
    return {"vnet": vnet["vnet"], "options": {"enable": True, "policy_forward": "DROP"}, "rules": rules}


def tenant_policy(entry, granted, log_level):
    """A tenant's security group and the firewall of each of its VNets."""
    zone, tenant = entry["zone"]["zone"], entry["tenant"]
    nets, gateway = "+dc/%s-nets" % zone, "+dc/%s-gw" % zone
    rules = [
        rule("forward", "DROP", "homecloud: %s never reaches the management segment" % tenant,
             dest="+dc/" + MANAGEMENT, log=log_level),
        rule("forward", "ACCEPT", "homecloud: inside tenant %s" % tenant, nets, nets),
        rule("forward", "ACCEPT", "homecloud: %s to the internet through its gateway" % tenant, nets, "+dc/" + INTERNET),
    ] + service_rules(nets, granted, tenant)
    group_rules = [
        rule("in", "ACCEPT", "homecloud: from tenant %s's networks" % tenant, source=nets),
        rule("in", "ACCEPT", "homecloud: from tenant %s's gateway (published services)" % tenant, source=gateway),
    ]
    return {
        "tenant": tenant, "zone": zone, "services": sorted(granted),
        "group": {"name": zone, "comment": "homecloud: guests of tenant %s" % tenant, "rules": group_rules},
        "ipsets": ["%s-nets" % zone, "%s-gw" % zone],
        "vnets": [vnet_firewall(vnet, rules) for vnet in entry["vnets"]],
    }


def shared_policy(entry, plan, grants, log_level):
    """The shared services' VNets: each tenant reaches exactly the services granted to it."""
    shared = "+dc/" + SHARED_NETS
    rules = [
        rule("forward", "DROP", "homecloud: shared services never reach the management segment",
             dest="+dc/" + MANAGEMENT, log=log_level),
        rule("forward", "ACCEPT", "homecloud: inside the shared services", shared, shared),
        rule("forward", "ACCEPT", "homecloud: shared services to the internet", shared, "+dc/" + INTERNET),
    ]
    for tenant in entries_of_kind(plan, KIND_TENANT):
        rules += service_rules("+dc/%s-nets" % tenant["zone"]["zone"], grants.get(tenant["tenant"], {}), tenant["tenant"])
    return {"tenant": entry["tenant"], "zone": entry["zone"]["zone"], "kind": KIND_SHARED,
            "vnets": [vnet_firewall(vnet, rules) for vnet in entry["vnets"]]}


def transit_policy(entry, plan, grants, log_level):
    """The transit VNet: the hub forwards a tenant's packets to the shared services with the tenant's own source
    address, so its VNet firewall accepts exactly each tenant's networks to its granted services; everything else,
    tenant to tenant included, falls to the forward DROP default (the hub's nftables logs it)."""
    rules = [rule("forward", "DROP", "homecloud: the transit network never reaches the management segment",
                  dest="+dc/" + MANAGEMENT, log=log_level)]
    for tenant in entries_of_kind(plan, KIND_TENANT):
        rules += service_rules("+dc/%s-nets" % tenant["zone"]["zone"], grants.get(tenant["tenant"], {}),
                               "%s through the transit hub" % tenant["tenant"])
    return {"tenant": entry["tenant"], "zone": entry["zone"]["zone"], "kind": KIND_TRANSIT,
            "vnets": [vnet_firewall(vnet, rules) for vnet in entry["vnets"]]}
