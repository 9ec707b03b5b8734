# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The shared services plan: from the tenant plans (planning.plan_tenants), the gateway plans
(gateway.plan_gateways) and the inventory, each tenant's slice of the shared services - its DNS zones and
records, its S3 buckets and user, its PostgreSQL databases and owner role - and the shared zones themselves.

Every problem of the input is collected and raised at once as planning.PlanError, before a playbook writes
anything; each message names the tenant, the field and the rule.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.homecloud.proxmox.plugins.module_utils.firewall_policy import granted_names
from ansible_collections.homecloud.proxmox.plugins.module_utils.gateway import as_list, as_mapping
from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import KIND_SHARED, KIND_TENANT, PlanError, plan_entries
from ansible_collections.homecloud.proxmox.plugins.module_utils.s3 import bucket_name_problem

DEFAULT_TTL = 300
# A DNS label as the plan writes names: lower-case ASCII letters, digits and '-', not at either end (RFC 1123).
LABEL_RE = re.compile(r"\A(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
# Record types a tenant may declare itself; SOA and NS belong to the DNS server.
RECORD_TYPES = ("A", "AAAA", "CNAME", "TXT", "MX", "SRV")
# PostgreSQL: unquoted identifiers the plan uses (lower case, so no quoting is ever needed), at most NAMEDATALEN - 1.
PG_IDENTIFIER_RE = re.compile(r"\A[a-z_][a-z0-9_]{0,62}\Z")
PG_RESERVED = ("postgres", "template0", "template1", "public")
# SRV and TXT owners such as _imaps._tcp or _dmarc start with '_' (RFC 2782, RFC 8552).
SERVICE_LABEL_RE = re.compile(r"\A_[a-z0-9-]{1,62}\Z")


def _domain(value, where, errors):
    """A DNS domain of one or more labels (lower case, no trailing dot), or None (reported)."""
    if not isinstance(value, str) or not value or value.endswith(".") or \
            not all(LABEL_RE.match(label) for label in value.split(".")) or len(value) > 253:
        errors.append("{0}: {1!r} is not a DNS domain (labels of a-z, 0-9 and '-', separated by dots, no trailing "
                      "dot)".format(where, value))
        return None
    return value


def _ttl(value, where, errors):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 604800:
        errors.append("{0}: {1!r} is not a TTL (an integer of seconds, 1 to 604800)".format(where, value))
        return DEFAULT_TTL
    return value


def reverse_zones(cidr):
    """The reverse zones that hold the PTR records of the addresses of ``cidr``: for IPv4 the /24 zones (one per /24
    of a larger network, the containing /24 of a smaller one), for IPv6 the nibble-aligned zones."""
    network = ipaddress.ip_network(cidr, strict=False)
    step, deepest = (8, 24) if network.version == 4 else (4, 124)
    zone_prefix = min(-(-network.prefixlen // step) * step, deepest)
    if network.prefixlen > zone_prefix:
        zone_networks = [network.supernet(new_prefix=zone_prefix)]
    else:
        zone_networks = list(network.subnets(new_prefix=zone_prefix))
    return [_reverse_name(zone) for zone in zone_networks]


def _reverse_name(network):
    labels = network.network_address.reverse_pointer.split(".")
    # reverse_pointer names the whole address; the zone keeps the labels of the network part only.
    per_label = 8 if network.version == 4 else 4
    drop = (network.max_prefixlen - network.prefixlen) // per_label
    return ".".join(labels[drop:])


def _ptr_name(address):
    return ipaddress.ip_address(address).reverse_pointer


def _pg_identifier(value, where, errors):
    if not isinstance(value, str) or not PG_IDENTIFIER_RE.match(value) or value in PG_RESERVED:
        errors.append("{0}: {1!r} is not a PostgreSQL name the plan accepts (a-z, 0-9 and '_', starting with a letter or "
                      "'_', at most 63 characters, not one of {2})".format(where, value, ", ".join(PG_RESERVED)))
        return None
    return value


class _Zone:
    def __init__(self, name, tenant, allow_query):
        self.name = name
        self.tenant = tenant
        self.allow_query = allow_query
        self.records = {}

    def add(self, fqdn, rtype, value, ttl, where, errors):
        """Add one value to the RRset fqdn/rtype (fqdn without the trailing dot)."""
        if rtype == "CNAME" and any(key[0] == fqdn for key in self.records) or \
                any(key == (fqdn, "CNAME") for key in self.records):
            errors.append("{0}: {1} would be a CNAME beside other records of the same name".format(where, fqdn))
            return
        values = self.records.setdefault((fqdn, rtype), {"ttl": ttl, "values": []})["values"]
        if value not in values:
            values.append(value)

    def render(self):
        records = [{"name": fqdn, "type": rtype, "ttl": rrset["ttl"], "values": sorted(rrset["values"])}
                   for (fqdn, rtype), rrset in sorted(self.records.items())]
        return {"name": self.name, "tenant": self.tenant, "allow_query": self.allow_query, "records": records}


class _Dns:
    """The zones of the plan, and who claimed each name (a zone or a PTR is never shared by two tenants)."""

    def __init__(self, ttl):
        self.ttl = ttl
        self.zones = {}

    def zone(self, name, tenant, allow_query, where, errors):
        zone = self.zones.get(name)
        if zone is None:
            zone = self.zones[name] = _Zone(name, tenant, allow_query)
        elif zone.tenant != tenant:
            errors.append("{0}: zone {1} is also {2}'s (their networks share a reverse zone)".format(where, name, zone.tenant))
        else:
            zone.allow_query = sorted(set(zone.allow_query) | set(allow_query))
        return zone

    def address(self, zone, host, address, where, errors, reverse=True):
        fqdn = "{0}.{1}".format(host, zone.name)
        zone.add(fqdn, "A" if ipaddress.ip_address(address).version == 4 else "AAAA", address, self.ttl, where, errors)
        if not reverse:
            return
        ptr = _ptr_name(address)
        for name, reverse_zone in self.zones.items():
            if ptr.endswith("." + name) and reverse_zone.tenant == zone.tenant:
                reverse_zone.add(ptr, "PTR", fqdn + ".", self.ttl, where, errors)
                return
        errors.append("{0}: {1} lies in no reverse zone of {2} (the address is outside its networks)".format(
            where, address, zone.tenant))


def _service_addresses(services, errors):
    """{service name: [addresses]} from homecloud_firewall.services (the one place the addresses are written)."""
    addresses = {}
    for name, service in sorted(as_mapping(services, "homecloud_firewall.services", errors).items()):
        service = as_mapping(service, "homecloud_firewall.services." + str(name), errors)
        where = "homecloud_firewall.services.%s.addresses" % name
        addresses[name] = [str(address) for address in as_list(service.get("addresses"), where, errors)]
    return addresses


def _custom_records(zone, raw, dns, label, taken, errors):
    """The tenant's own records (`dns.records`): names inside its zone only, never a planned guest's name."""
    for index, record in enumerate(as_list(raw, label + ": dns.records", errors)):
        where = "{0}: dns.records[{1}]".format(label, index)
        record = as_mapping(record, where, errors)
        name = record.get("name")
        if not isinstance(name, str) or not name:
            errors.append("{0}.name: required (a name relative to {1}, or a name ending in .{1})".format(where, zone.name))
            continue
        fqdn = name.rstrip(".") if name.endswith(".") else (zone.name if name == "@" else "{0}.{1}".format(name, zone.name))
        if fqdn != zone.name and not fqdn.endswith("." + zone.name):
            errors.append("{0}.name: {1} is outside the tenant's zone {2}".format(where, name, zone.name))
            continue
        relative = fqdn[:-len(zone.name) - 1].split(".") if fqdn != zone.name else []
        if not all(LABEL_RE.match(part) or SERVICE_LABEL_RE.match(part) for part in relative):
            errors.append("{0}.name: {1!r} is not a DNS name (labels of a-z, 0-9 and '-')".format(where, name))
            continue
        if fqdn in taken:
            errors.append("{0}.name: {1} is the planned name of {2}".format(where, fqdn, taken[fqdn]))
            continue
        rtype = record.get("type")
        if rtype not in RECORD_TYPES:
            errors.append("{0}.type: {1!r} is not one of {2}".format(where, rtype, ", ".join(RECORD_TYPES)))
            continue
        values = record.get("values", [record["value"]] if "value" in record else None)
        if not isinstance(values, list) or not values or not all(isinstance(value, str) and value for value in values):
            errors.append("{0}.values: required (a non-empty list of {1} values)".format(where, rtype))
            continue
        ttl = _ttl(record.get("ttl", dns.ttl), where + ".ttl", errors)
        for value in values:
            zone.add(fqdn, rtype, value, ttl, where, errors)


def _plan_dns(tenant_plan, raw, gateway, dns, domain, shared_networks, label, errors):
    tenant = tenant_plan["tenant"]
    networks = [vnet["cidr"] for vnet in tenant_plan["vnets"]]
    allow_query = sorted(set(networks) | set(shared_networks))
    zone = dns.zone("{0}.{1}".format(tenant, domain), tenant, allow_query, label, errors)
    for cidr in networks:
        for name in reverse_zones(cidr):
            dns.zone(name, tenant, allow_query, label, errors)
    taken = {}
    for guest in tenant_plan["guests"]:
        if not LABEL_RE.match(guest["name"]):
            errors.append("{0}: guest {1!r}: name is not a DNS label (a-z, 0-9 and '-', at most 63)".format(label, guest["name"]))
            continue
        taken["{0}.{1}".format(guest["name"], zone.name)] = "guest " + guest["name"]
        dns.address(zone, guest["name"], guest["ip"], "{0}: guest {1}".format(label, guest["name"]), errors)
    for leg in (gateway or {}).get("vnets", []):
        host = "gw-{0}".format(leg["name"])
        taken["{0}.{1}".format(host, zone.name)] = "the gateway's leg on VNet " + leg["name"]
        dns.address(zone, host, leg["ip"], "{0}: gateway".format(label), errors)
    _custom_records(zone, as_mapping(raw.get("dns"), label + ": dns", errors).get("records"), dns, label, taken, errors)


def _plan_s3(tenant, raw, label, buckets_seen, errors):
    settings = as_mapping(raw.get("s3"), label + ": s3", errors)
    names = as_list(settings.get("buckets", ["data"]), label + ": s3.buckets", errors)
    buckets = []
    for index, name in enumerate(names):
        where = "{0}: s3.buckets[{1}]".format(label, index)
        bucket = "{0}-{1}".format(tenant, name) if isinstance(name, str) else None
        problem = bucket_name_problem(bucket) if bucket is not None else "a bucket name is a string"
        if problem:
            errors.append("{0}: {1!r} (bucket {2!r}) is not a valid S3 bucket name: {3}".format(where, name, bucket, problem))
            continue
        other = buckets_seen.setdefault(bucket, tenant)
        if other != tenant or bucket in buckets:
            errors.append("{0}: bucket {1} is listed twice{2}".format(
                where, bucket, "" if other == tenant else " (also tenant {0}'s)".format(other)))
            continue
        buckets.append(bucket)
    if not buckets:
        errors.append("{0}: s3.buckets: the tenant uses s3 but has no bucket".format(label))
    return {"tenant": tenant, "user": tenant, "buckets": buckets, "access": "readwrite"}


def _plan_postgresql(tenant_plan, raw, label, databases_seen, errors):
    tenant = tenant_plan["tenant"]
    settings = as_mapping(raw.get("postgresql"), label + ": postgresql", errors)
    database = _pg_identifier(settings.get("database", tenant.replace("-", "_")), label + ": postgresql.database", errors)
    owner = _pg_identifier(settings.get("owner", database or tenant), label + ": postgresql.owner", errors)
    if database is not None:
        other = databases_seen.setdefault(database, tenant)
        if other != tenant:
            errors.append("{0}: postgresql.database: database {1} is also tenant {2}'s (database names are shared by every "
                          "tenant of the server)".format(label, database, other))
    if owner is not None and owner != database:
        other = databases_seen.setdefault("role " + owner, tenant)
        if other != tenant:
            errors.append("{0}: postgresql.owner: role {1} is also tenant {2}'s".format(label, owner, other))
    # the shape of the postgres_server role's postgres_server_tenants
    return {"name": tenant, "database": database, "owner": owner,
            "networks": [vnet["cidr"] for vnet in tenant_plan["vnets"]]}


def plan_services(tenant_plans, tenants, settings=None, services=None, gateways=None):
    """{domain, dns: {zones, allowed_networks}, s3: [...], postgresql: [...], services: {name: [addresses]}} or
    PlanError with every problem of the input.

    tenant_plans: planning.plan_tenants' output (with the shared services' entry); tenants: homecloud_tenants;
    settings: homecloud_shared_services ({domain, ttl}); services: homecloud_firewall.services (addresses);
    gateways: gateway.plan_gateways' output (the gateway's legs get names).
    """
    errors = []
    settings = as_mapping(settings, "homecloud_shared_services", errors)
    domain = _domain(settings.get("domain"), "homecloud_shared_services.domain", errors)
    dns = _Dns(_ttl(settings.get("ttl", DEFAULT_TTL), "homecloud_shared_services.ttl", errors))
    addresses = _service_addresses(services, errors)
    by_name = dict((tenant.get("name"), tenant) for tenant in tenants or [] if isinstance(tenant, dict))
    gateways_by_tenant = dict((gateway["tenant"], gateway) for gateway in gateways or [])
    # The shared services' own entry: the transit network (also not a tenant) has no service and no guest.
    shared = plan_entries(tenant_plans, KIND_SHARED)
    shared_networks = [vnet["cidr"] for plan in shared for vnet in plan["vnets"]]
    # The tenants' and the shared services' networks; the transit network holds no DNS client (the hub resolves
    # through its services leg).
    every_network = sorted(set(plan["network"] for plan in plan_entries(tenant_plans, KIND_TENANT) + shared))
    if domain is None:
        raise PlanError(errors)
    # The domain's own zone: the shared services by name, queried from every network of the cloud.
    apex = dns.zone(domain, None, every_network, "homecloud_shared_services", errors)
    for cidr in shared_networks:
        for name in reverse_zones(cidr):
            dns.zone(name, None, every_network, "homecloud_shared_services", errors)
    for name in sorted(addresses):
        if not LABEL_RE.match(name):
            errors.append("homecloud_firewall.services.{0}: the name is not a DNS label, so it cannot be {0}.{1}".format(name, domain))
            continue
        for address in addresses[name]:
            in_shared = any(ipaddress.ip_address(address) in ipaddress.ip_network(cidr) for cidr in shared_networks)
            dns.address(apex, name, address, "homecloud_firewall.services.%s" % name, errors, reverse=in_shared)
    for plan in shared:
        for guest in plan["guests"]:
            dns.address(apex, guest["name"], guest["ip"], "shared_services: guest %s" % guest["name"], errors)
    s3 = []
    postgresql = []
    buckets_seen = {}
    databases_seen = {}
    for tenant_plan in plan_entries(tenant_plans, KIND_TENANT):
        tenant = tenant_plan["tenant"]
        label = "tenant {0}".format(tenant)
        raw = by_name.get(tenant) or {}
        grants = granted_names(raw)
        for key in ("s3", "postgresql"):
            if raw.get(key) is not None and key not in grants:
                errors.append("{0}: {1}: the tenant's services do not name {1} (add it to services, or remove this "
                              "block)".format(label, key))
        if tenant in addresses:
            errors.append("{0}: its zone {1}.{2} would hide the shared service of that name (rename the tenant or the "
                          "service)".format(label, tenant, domain))
        _plan_dns(tenant_plan, raw, gateways_by_tenant.get(tenant), dns, domain, shared_networks, label, errors)
        if "s3" in grants:
            s3.append(_plan_s3(tenant, raw, label, buckets_seen, errors))
        if "postgresql" in grants:
            postgresql.append(_plan_postgresql(tenant_plan, raw, label, databases_seen, errors))
    if errors:
        raise PlanError(errors)
    zones = [dns.zones[name].render() for name in sorted(dns.zones, key=lambda name: (dns.zones[name].tenant or "", name))]
    server_zones = [{"name": entry["name"], "allow_query": entry["allow_query"]} for entry in zones]
    return {"domain": domain, "dns": {"zones": zones, "server_zones": server_zones, "allowed_networks": every_network},
            "s3": s3, "postgresql": postgresql, "services": addresses}
