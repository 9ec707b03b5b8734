# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The transit plan: the hub VM between the tenants and the shared services, and what each side routes.

The transit network is its own EVPN zone (its own VRF), so the only path from a tenant gateway's transit leg to
the shared services' VNets is the hub VM, which has a leg in both. From the tenant plan (planning.plan_tenants,
which fixes every address from stable slots), the inventory's tenants and homecloud_firewall, this module plans:

- the hub VM (VMID, name, node, NICs, cloud-init addresses) and the transit_hub role's variables: its legs, a route
  per tenant network (and VPN pool) via that tenant gateway's transit address, and the policy rules - each tenant's
  networks to each granted service's addresses on the granted ports (firewall_policy reads the grants, so the
  hub and the PVE VNet firewalls allow the same thing);
- per tenant gateway its transit leg and the shared services' networks it routes via the hub;
- the routes the shared services' VMs need back to the tenants (via the hub's services leg);
- which tenants leak routes (route_leaking), for the consumers that draw or verify the matrix.

Every problem is raised at once as planning.PlanError. No Ansible import: the homecloud.proxmox.transit_plan
filter wraps it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homecloud.proxmox.plugins.module_utils.firewall_policy import read_grants, read_services
from ansible_collections.homecloud.proxmox.plugins.module_utils.gateway import as_mapping
from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import (
    KIND_SHARED,
    KIND_TENANT,
    KIND_TRANSIT,
    PlanError,
    plan_entries,
)


def disabled(route_leaking):
    """The plan when the network plan has no transit network: nothing to build, nothing routed through a hub."""
    return {"enabled": False, "zone": None, "vnet": None, "cidr": None, "hub": {}, "gateways": {}, "services_routes": [],
            "route_leaking": route_leaking}


def ip_of(address):
    return address.split("/", 1)[0]


def vpn_pools(gateways):
    """{tenant: its WireGuard pool} from gateway.plan_gateways' output (tenants with a VPN only)."""
    pools = {}
    for gateway in gateways or []:
        if isinstance(gateway, dict) and gateway.get("vpn"):
            pools[gateway["tenant"]] = gateway["vpn"]["pool"]
    return pools


def hub_rules(tenant, sources, granted, services):
    """One rule per granted service port: from the tenant's sources to the service's addresses."""
    rules = []
    for name in sorted(granted):
        for proto, dport in granted[name]:
            rules.append({"tenant": tenant, "sources": list(sources), "service": name,
                          "addresses": list(services[name]["addresses"]), "proto": proto, "dport": dport,
                          "comment": "homecloud: %s to shared service %s" % (tenant, name)})
    return rules


def plan_transit(tenant_plans, tenants, firewall_settings=None, gateways=None):
    """{enabled, zone, vnet, cidr, hub, gateways, services_routes, route_leaking} (see the transit_plan filter), or
    PlanError with every problem of the input.

    tenant_plans: planning.plan_tenants' output; tenants: homecloud_tenants (their `services`);
    firewall_settings: homecloud_firewall (its `services`); gateways: gateway.plan_gateways' output, optional, whose
    VPN pools the hub routes and allows like the tenants' networks.
    """
    errors = []
    firewall_settings = as_mapping(firewall_settings, "homecloud_firewall", errors)
    tenant_entries = plan_entries(tenant_plans, KIND_TENANT)
    route_leaking = dict((entry["tenant"], list(entry["route_leaking"])) for entry in tenant_entries
                         if entry.get("route_leaking"))
    transits = plan_entries(tenant_plans, KIND_TRANSIT)
    shared = plan_entries(tenant_plans, KIND_SHARED)
    if not transits:
        if errors:
            raise PlanError(errors)
        return disabled(route_leaking)
    services = read_services(firewall_settings.get("services") or {}, shared, errors)
    grants = read_grants(tenants, services, errors)
    if errors:
        raise PlanError(errors)
    transit = transits[0]
    hub = shared[0]["hub"]  # planning refuses a transit network without the shared services
    pools = vpn_pools(gateways)
    services_ips = [ip_of(leg["address"]) for leg in hub["services"]]
    shared_networks = [vnet["cidr"] for entry in shared for vnet in entry["vnets"]]
    # The services leg's VNet gateway (the EVPN anycast .1): the hub reaches its package mirrors like any service VM.
    services_gateways = dict((vnet["vnet"], vnet["gateway"]) for entry in shared for vnet in entry["vnets"])
    nics = [{"bridge": hub["transit"]["vnet"], "macaddr": hub["transit"]["mac"], "firewall": True}]
    ipconfig = [{"ip": hub["transit"]["address"]}]
    for index, leg in enumerate(hub["services"]):
        nics.append({"bridge": leg["vnet"], "macaddr": leg["mac"], "firewall": True})
        ipconfig.append({"ip": leg["address"], "gw": services_gateways[leg["vnet"]]} if index == 0 else {"ip": leg["address"]})
    routes, rules, hub_tenants, gateway_legs, services_routes = [], [], [], {}, []
    for entry in tenant_entries:
        name, leg = entry["tenant"], entry["transit"]
        sources = [entry["network"]] + ([pools[name]] if name in pools else [])
        for network in sources:
            routes.append({"network": network, "via": ip_of(leg["address"]), "tenant": name})
            for services_leg, via in zip(hub["services"], services_ips):
                services_routes.append({"network": network, "via": via, "vnet": services_leg["vnet"], "tenant": name})
        rules.extend(hub_rules(name, sources, grants.get(name, {}), services))
        hub_tenants.append({"name": name, "sources": sources})
        gateway_legs[name] = {"address": leg["address"], "gateway": leg["hub"], "routes": list(shared_networks)}
    return {
        "enabled": True, "zone": transit["zone"]["zone"], "vnet": transit["vnets"][0]["vnet"],
        "cidr": transit["vnets"][0]["cidr"],
        "hub": {"vmid": hub["vmid"], "name": hub["name"], "node": hub["node"], "nics": nics, "ipconfig": ipconfig,
                "legs": {"transit": {"mac": hub["transit"]["mac"], "address": hub["transit"]["address"]},
                         "services": [{"mac": leg["mac"], "address": leg["address"], "vnet": leg["vnet"]}
                                      for leg in hub["services"]]},
                "routes": routes, "rules": rules, "tenants": hub_tenants},
        "gateways": gateway_legs,
        "services_routes": services_routes,
        "route_leaking": route_leaking,
    }
