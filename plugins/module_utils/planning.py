# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Address and ID planning for tenants: one EVPN zone per tenant.

Every number in a plan comes from a stable slot the administrator gave: the tenant
``id`` picks the tenant network (slot ``id`` of ``tenant_prefix`` in the supernet),
the zone's vrf-vxlan and the first digits of its VNet tags; the VNet ``id`` picks the
VNet subnet (slot ``id`` of ``vnet_prefix`` in the tenant network) and the last two
digits of its tag. So adding, removing or reordering tenants never renumbers another.

The whole input is validated before anything is planned and every problem is reported
at once (``PlanError.errors``): PVE's id rules, duplicates, overlapping subnets (PVE
itself never checks those), VNI collisions and ranges, address space exhaustion.

No Ansible import here: the ``homecloud.proxmox.tenant_plan`` filter wraps it, and it
is unit tested on its own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from collections.abc import Mapping

from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn_rules import (
    ID_RULES,
    MAX_VNI,
    SDN_ID_MAX_LENGTH,
    VNI_RULE,
    overlap_errors,
)

try:
    import netaddr
    HAS_NETADDR = True
    NETADDR_IMPORT_ERROR = None
except ImportError as import_error:  # pragma: no cover - reported by the callers
    HAS_NETADDR = False
    NETADDR_IMPORT_ERROR = import_error


# VnetPlugin.pm's alias format; ")-_" is a character range there, so it is permissive.
ALIAS_PATTERN = re.compile(r"^[\(\)-_.\w\d\s]{0,256}$", re.IGNORECASE)
# VNet tag = vnet_tag_base + tenant id * 100 + vnet id: two decimal digits for the VNet.
MAX_VNET_ID = 99
TAG_DIGITS_PER_TENANT = 100
# The default VNet id is the zone id cut to this length plus the two-digit VNet id,
# which keeps it within PVE's 8 characters.
VNET_ID_ZONE_PART = SDN_ID_MAX_LENGTH - 2

DEFAULT_VRF_VXLAN_BASE = 10000
DEFAULT_VNET_TAG_BASE = 100000
DEFAULT_RESERVED_HOSTS = 8
# Guest ids: tenant <id> owns VMIDs vmid_base + id * vmids_per_tenant + 0..vmids_per_tenant-1;
# the first reserved_vmids of them are kept for its infrastructure (the tenant gateway VM, ...).
DEFAULT_VMID_BASE = 10000
DEFAULT_VMIDS_PER_TENANT = 100
DEFAULT_RESERVED_VMIDS = 10
# The transit network's one VNet when the inventory names none: slot 1 of its network, like a tenant's first VNet.
DEFAULT_TRANSIT_VNET_ID = 1
# A BGP ASN (4 bytes, RFC 6793); the EVPN route targets the plan writes are "<asn>:<vrf-vxlan>".
MAX_ASN = 4294967295
# What a tenant's route_leaking may name: the zones whose routes its VRF imports.
ROUTE_LEAKING_TARGETS = ("shared",)
# The three kinds of plan entries; every item of the plan says which one it is.
KIND_TENANT = "tenant"
KIND_SHARED = "shared_services"
KIND_TRANSIT = "transit"
# The transit hub VM's name (its VMID is the shared services' infrastructure slot 0).
HUB_NAME = "transit-hub"
# PVE's node name format (pve-common JSONSchema.pm pve-node: a DNS label).
NODE_NAME_RE = re.compile(r"\A[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\Z")
# PVE's guest id range (pve-common JSONSchema.pm pve-vmid: 100 to 999999999).
MIN_VMID = 100
MAX_VMID = 999999999
# PVE's dns-name format for a VM name (pve-common JSONSchema.pm pve_verify_dns_name), ASCII only:
# a guest's name is also its cloud-init host name.
DNS_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
GUEST_NAME_RE = re.compile(r"\A(?:%s\.)*%s\Z" % (DNS_LABEL, DNS_LABEL))
# A planned NIC's MAC: locally administered (02), then the VMID in four bytes and the NIC index, so it is
# unique in the cluster, stable across re-creates, and never one PVE generates (PVE uses its own OUI BC:24:11).
PLANNED_MAC_PREFIX = 0x02
# Zone options the plan computes itself; taking them from zone_defaults or
# zone_options would break the plan's guarantees.
PLANNED_ZONE_OPTIONS = ("zone", "type", "controller", "vrf_vxlan", "vnets")

_REQUIRED = object()


class PlanError(ValueError):
    """The input cannot be planned; ``errors`` holds one message per problem."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


class Settings:
    """The validated network plan settings; a field is None when its input was invalid."""

    def __init__(self):
        self.supernet = None
        self.tenant_prefix = None
        self.vnet_prefix = None
        self.controller = None
        self.vrf_vxlan_base = None
        self.vnet_tag_base = None
        self.reserved_hosts = None
        self.zone_defaults = {}
        self.vmid_base = None
        self.vmids_per_tenant = None
        self.reserved_vmids = None
        self.asn = None
        self.asn_given = False


class Entry:
    """One tenant (or the shared services, or the transit network) as read and derived; None marks invalid input."""

    def __init__(self, position, kind):
        self.position = position  # "tenants[3]", "shared_services" or "transit": names the input item
        self.label = position  # "tenant 'acme'" once the name is known
        self.kind = kind
        # Not a tenant: the playbooks and plans that act per tenant (guests, gateways, backups) skip it.
        self.shared = kind != KIND_TENANT
        self.name = None
        self.id = None
        self.zone = None
        self.supernet = None
        self.network = None
        self.zone_options = {}
        self.vrf_vxlan = None
        self.vnets = []
        self.guests = []
        self.vmids = None  # (first, last) of the tenant's VMID range
        self.route_leaking = []  # tenants: the zones whose routes its VRF imports
        self.has_services = False  # tenants: whether its `services` names any shared service
        self.hub_node = None  # transit: the node of the hub VM
        self.transit_host = None  # tenants: host number of its gateway's transit leg


class Vnet:
    """One VNet of an entry as read and derived; None marks invalid input."""

    def __init__(self, index):
        self.field = "vnets[%d]" % index
        self.name = None
        self.id = None
        self.vnet = None
        self.prefix = None
        self.alias = None
        self.cidr = None
        self.tag = None


class Guest:
    """One guest of an entry as read and derived; None marks invalid input."""

    def __init__(self, index):
        self.field = "guests[%d]" % index
        self.name = None
        self.id = None
        self.vmid = None
        self.vnet = None  # the Vnet it is planned on
        self.host = None  # host number inside the VNet subnet
        self.address = None
        self.extra = {}  # the fields the plan does not read, passed through


class Claim:
    """Something that must be unique: who claims which value, for duplicate messages."""

    def __init__(self, key, label, field, value, what, owner):
        self.key = key
        self.label = label
        self.field = field
        self.value = value
        self.what = what
        self.owner = owner


def plan_tenants(tenants, network_plan):
    """Validate everything, then return the plan as a list of dicts sorted by tenant id.

    Raises PlanError with every problem found.
    """
    if not HAS_NETADDR:
        raise PlanError(["the Python library netaddr is required for planning: %s" % NETADDR_IMPORT_ERROR])
    errors = []
    settings = read_settings(network_plan, errors)
    entries = read_entries(tenants, network_plan, settings, errors)
    check_unique(entries, errors)
    check_overlaps(entries, errors)
    check_transit(entries, settings, errors)
    check_route_leaking(entries, settings, errors)
    if errors:
        raise PlanError(errors)
    entries = sorted(entries, key=lambda entry: entry.id)
    return [render_entry(entry, settings, entries) for entry in entries]


# ---------------------------------------------------------------------------
# Field readers: each appends a message naming the place, the field and the rule.

def show(value):
    """A value as messages quote it: as Python shows it, so a stray newline or space is visible."""
    return repr(value)


def is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def read_int(mapping, key, label, errors, low, high=None, default=_REQUIRED, field=None, why=""):
    """An integer in low..high (high None: no upper bound), or default when absent."""
    field = field or key
    rule = "an integer >= %d" % low if high is None else "an integer from %d to %d" % (low, high)
    if why:
        rule += " (%s)" % why
    value = mapping.get(key)
    if value is None:
        if default is _REQUIRED:
            errors.append("%s: %s: required, %s" % (label, field, rule))
            return None
        return default
    if not is_integer(value) or value < low or (high is not None and value > high):
        errors.append("%s: %s %s: must be %s" % (label, field, show(value), rule))
        return None
    return value


def read_text(mapping, key, label, errors, field=None, required=True):
    """A non-empty string, or None when absent (reported if required) or invalid."""
    field = field or key
    value = mapping.get(key)
    if value is None:
        if required:
            errors.append("%s: %s: required, a non-empty string" % (label, field))
        return None
    if not isinstance(value, str) or not value:
        errors.append("%s: %s %s: must be a non-empty string" % (label, field, show(value)))
        return None
    return value


def read_cidr(mapping, key, label, errors, required=True):
    """A netaddr.IPNetwork from a 'a.b.c.d/n' string without host bits."""
    value = mapping.get(key)
    if value is None:
        if required:
            errors.append("%s: %s: required, a CIDR network such as 10.128.0.0/12" % (label, key))
        return None
    try:
        if not isinstance(value, str) or "/" not in value:
            raise ValueError(value)
        network = netaddr.IPNetwork(value)
    except (ValueError, TypeError, netaddr.AddrFormatError):
        errors.append("%s: %s %s: must be a CIDR network such as 10.128.0.0/12 or fd00:10::/48" % (label, key, show(value)))
        return None
    if network.ip != network.network:
        errors.append("%s: %s %s: host bits are set (the network is %s)" % (label, key, show(value), network.cidr))
        return None
    return network


def check_sdn_id(value, label, field, kind, errors, origin=""):
    """PVE's zone/VNet id rule (sdn_rules.ID_RULES); kind is 'zone' or 'VNet'."""
    rule = ID_RULES[kind.lower()]
    if rule.allows(value):
        return True
    errors.append("%s: %s %s%s: %s" % (label, field, show(value), origin, rule.explain(kind)))
    return False


def read_options(mapping, key, label, errors):
    """A dict of zone options with '-' in names turned into '_' (PVE API spelling accepted)."""
    value = mapping.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        errors.append("%s: %s %s: must be a dict of zone options" % (label, key, show(value)))
        return {}
    options = {}
    for name, option in value.items():
        option_name = str(name).replace("-", "_")
        if option_name in PLANNED_ZONE_OPTIONS:
            errors.append("%s: %s.%s: the plan sets this zone option itself; remove it" % (label, key, name))
            continue
        options[option_name] = option
    return options


def read_list(mapping, key, label, errors):
    value = mapping.get(key)
    if value is None:
        return []
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
        errors.append("%s: %s %s: must be a list of dicts" % (label, key, show(value)))
        return []
    return list(value)


# ---------------------------------------------------------------------------
# Settings

def read_settings(network_plan, errors):
    label = "network plan"
    settings = Settings()
    if not isinstance(network_plan, Mapping):
        errors.append("%s: must be a dict (supernet, tenant_prefix, vnet_prefix, controller, ...), got %s"
                      % (label, show(network_plan)))
        return settings
    settings.supernet = read_cidr(network_plan, "supernet", label, errors)
    width = max_prefix(settings.supernet)
    vnet_prefix_value = network_plan.get("vnet_prefix")
    settings.tenant_prefix = read_int(
        network_plan, "tenant_prefix", label, errors,
        low=settings.supernet.prefixlen if settings.supernet is not None else 0,
        high=vnet_prefix_value if is_integer(vnet_prefix_value) and vnet_prefix_value <= width else width,
        why="from the supernet's prefix length to vnet_prefix")
    settings.vnet_prefix = read_int(
        network_plan, "vnet_prefix", label, errors,
        low=settings.tenant_prefix if settings.tenant_prefix is not None else 0, high=width,
        why="from tenant_prefix to the address length")
    controller = read_text(network_plan, "controller", label, errors)
    if controller is not None and not ID_RULES["controller"].allows(controller):
        errors.append("%s: controller %s: %s" % (label, show(controller), ID_RULES["controller"].explain("EVPN controller")))
        controller = None
    settings.controller = controller
    settings.vrf_vxlan_base = read_int(network_plan, "vrf_vxlan_base", label, errors, low=0,
                                       default=DEFAULT_VRF_VXLAN_BASE)
    settings.vnet_tag_base = read_int(network_plan, "vnet_tag_base", label, errors, low=0,
                                      default=DEFAULT_VNET_TAG_BASE)
    settings.reserved_hosts = read_int(network_plan, "reserved_hosts", label, errors, low=0,
                                       default=DEFAULT_RESERVED_HOSTS)
    settings.zone_defaults = read_options(network_plan, "zone_defaults", label, errors)
    settings.vmid_base = read_int(network_plan, "vmid_base", label, errors, low=MIN_VMID, high=MAX_VMID,
                                  default=DEFAULT_VMID_BASE, why="PVE's guest id range")
    settings.vmids_per_tenant = read_int(network_plan, "vmids_per_tenant", label, errors, low=2,
                                         default=DEFAULT_VMIDS_PER_TENANT)
    per_tenant = settings.vmids_per_tenant or DEFAULT_VMIDS_PER_TENANT
    settings.reserved_vmids = read_int(network_plan, "reserved_vmids", label, errors, low=0, high=per_tenant - 1,
                                       default=DEFAULT_RESERVED_VMIDS, why="below vmids_per_tenant")
    settings.asn = read_int(network_plan, "asn", label, errors, low=1, high=MAX_ASN, default=None,
                            why="the BGP ASN of the EVPN route targets, needed by route_leaking")
    settings.asn_given = network_plan.get("asn") is not None
    if settings.vnet_prefix is not None and settings.reserved_hosts is not None and settings.supernet is not None:
        check_guest_room(settings.vnet_prefix, settings.supernet.version, settings.reserved_hosts,
                         label, "vnet_prefix", errors)
    return settings


def max_prefix(network):
    """The address length of network's IP version; 128 while the version is unknown."""
    return 32 if network is not None and network.version == 4 else 128


def host_layout(network, reserved_hosts):
    """(gateway, first_guest, last_guest) as integers; first_guest > last_guest when there is no room.

    The gateway is the first host address and the reserved hosts follow it; IPv4 keeps
    its last address for broadcast, IPv6 has no broadcast.
    """
    gateway = network.first + 1
    first_guest = gateway + 1 + reserved_hosts
    last_guest = network.last - 1 if network.version == 4 else network.last
    return gateway, first_guest, last_guest


def check_guest_room(prefix, version, reserved_hosts, label, field, errors):
    """A VNet of this size must hold at least one guest after the gateway and reserved hosts."""
    any_network = netaddr.IPNetwork("%s/%d" % ("0.0.0.0" if version == 4 else "::", prefix))
    dummy_gateway, first_guest, last_guest = host_layout(any_network, reserved_hosts)
    if first_guest <= last_guest:
        return True
    errors.append("%s: %s %d: a /%d leaves no guest address after the gateway and %d reserved hosts; "
                  "use a shorter prefix or fewer reserved_hosts" % (label, field, prefix, prefix, reserved_hosts))
    return False


def nth_subnet(parent, prefix, index, label, field, parent_text, errors):
    """Slot `index` of size /prefix inside parent, or None (reported) beyond the last slot."""
    slots = 2 ** (prefix - parent.prefixlen)
    if index >= slots:
        errors.append("%s: %s %d: beyond the %d slots of /%d in %s %s (slots 0..%d)" % (
            label, field, index, slots, prefix, parent_text, parent.cidr, slots - 1))
        return None
    block = 2 ** (max_prefix(parent) - prefix)
    first = netaddr.IPAddress(parent.first + index * block, parent.version)
    return netaddr.IPNetwork("%s/%d" % (first, prefix))


def check_vni(value, label, field, formula, errors):
    if 1 <= value <= MAX_VNI:
        return value
    errors.append("%s: %s %d (%s) is outside 1..%d, the VXLAN VNI range" % (label, field, value, formula, MAX_VNI))
    return None


# ---------------------------------------------------------------------------
# Tenants and the shared services

def read_entries(tenants, network_plan, settings, errors):
    entries = []
    if isinstance(tenants, (str, bytes, Mapping)) or not isinstance(tenants, (list, tuple)):
        errors.append("tenants: must be a list of tenant dicts, got %s" % show(tenants))
        tenants = []
    for index, raw in enumerate(tenants):
        entries.append(read_entry(raw, "tenants[%d]" % index, settings, errors, KIND_TENANT))
    for key, kind in (("shared_services", KIND_SHARED), ("transit", KIND_TRANSIT)):
        raw = network_plan.get(key) if isinstance(network_plan, Mapping) else None
        if raw is not None:
            entries.append(read_entry(raw, key, settings, errors, kind))
    return [entry for entry in entries if entry is not None]


def read_entry(raw, position, settings, errors, kind):
    entry = Entry(position, kind)
    if not isinstance(raw, Mapping):
        errors.append("%s: must be a dict (name, id, vnets, ...), got %s" % (position, show(raw)))
        return None
    entry.name = read_text(raw, "name", position, errors)
    if entry.name is not None:
        entry.label = "%s %s" % ("tenant" if kind == KIND_TENANT else position, show(entry.name))
    if kind == KIND_SHARED:
        # Tenants start at 1, so slot 0 of the supernet and the VNIs of id 0 are free for shared services.
        entry.id = read_int(raw, "id", entry.label, errors, low=0, default=0, why="the shared services' stable slot")
    elif kind == KIND_TRANSIT:
        entry.id = read_int(raw, "id", entry.label, errors, low=1,
                            why="the transit network's stable slot; pick one no tenant will ever take, such as the last")
        read_transit_fields(raw, entry, errors)
    else:
        entry.id = read_int(raw, "id", entry.label, errors, low=1, why="the tenant's stable slot")
        read_tenant_policy(raw, entry, errors)
    read_zone_id(raw, entry, errors)
    read_network(raw, entry, settings, errors)
    entry.zone_options = read_options(raw, "zone_options", entry.label, errors)
    if entry.id is not None and settings.vrf_vxlan_base is not None:
        entry.vrf_vxlan = check_vni(settings.vrf_vxlan_base + entry.id, entry.label, "vrf_vxlan",
                                    "vrf_vxlan_base + id", errors)
    for index, raw_vnet in enumerate(transit_vnets(raw, entry, errors) if kind == KIND_TRANSIT
                                     else read_list(raw, "vnets", entry.label, errors)):
        vnet = read_vnet(raw_vnet, index, entry, settings, errors)
        if vnet is not None:
            entry.vnets.append(vnet)
    read_vmid_range(entry, settings, errors)
    for index, raw_guest in enumerate(read_list(raw, "guests", entry.label, errors) if kind != KIND_TRANSIT else []):
        guest = read_guest(raw_guest, index, entry, settings, errors)
        if guest is not None:
            entry.guests.append(guest)
    return entry


def read_tenant_policy(raw, entry, errors):
    """route_leaking (a list of ROUTE_LEAKING_TARGETS) and whether `services` names anything (checked later)."""
    services = raw.get("services")
    entry.has_services = isinstance(services, (list, tuple)) and len(services) > 0
    value = raw.get("route_leaking")
    if value is None:
        return
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
        errors.append("%s: route_leaking %s: must be a list of zones to import routes from (%s)" % (
            entry.label, show(value), ", ".join(ROUTE_LEAKING_TARGETS)))
        return
    for index, target in enumerate(value):
        if target not in ROUTE_LEAKING_TARGETS:
            errors.append("%s: route_leaking[%d] %s: must be one of %s (the shared services zone)" % (
                entry.label, index, show(target), ", ".join(ROUTE_LEAKING_TARGETS)))
        elif target not in entry.route_leaking:
            entry.route_leaking.append(target)


def read_transit_fields(raw, entry, errors):
    """hub.node (a PVE node name); no guests: the transit network holds the hub's and the gateways' legs only."""
    hub = raw.get("hub")
    if not isinstance(hub, Mapping):
        errors.append("%s: hub %s: required, a dict {node: <the PVE node of the hub VM>}" % (entry.label, show(hub)))
    else:
        node = hub.get("node")
        if not isinstance(node, str) or not NODE_NAME_RE.match(node):
            errors.append("%s: hub.node %s: must be a PVE node name (a DNS label: letters, digits and '-', up to 63)"
                          % (entry.label, show(node)))
        else:
            entry.hub_node = node
    if raw.get("guests") is not None:
        errors.append("%s: guests: the transit network has no guests of its own (only the hub's and the tenant "
                      "gateways' legs); remove it" % entry.label)


def transit_vnets(raw, entry, errors):
    """The transit network's one VNet: `vnets` (exactly one) or {name: <transit name>, id: 1, prefix: <prefix>}."""
    if raw.get("vnets") is not None:
        vnets = read_list(raw, "vnets", entry.label, errors)
        if len(vnets) != 1:
            errors.append("%s: vnets: the transit network has exactly one VNet, got %d" % (entry.label, len(vnets)))
            return vnets[:1]
        if raw.get("prefix") is not None:
            errors.append("%s: prefix: give the VNet's prefix in vnets[0].prefix, or leave vnets out" % entry.label)
        return vnets
    vnet = {"name": entry.name or "transit", "id": DEFAULT_TRANSIT_VNET_ID}
    if raw.get("prefix") is not None:
        vnet["prefix"] = raw["prefix"]
    return [vnet]


def read_zone_id(raw, entry, errors):
    if raw.get("zone") is None:
        zone, origin = entry.name, " (the tenant name; set zone to choose another)"
    else:
        zone, origin = read_text(raw, "zone", entry.label, errors), ""
    if zone is not None and check_sdn_id(zone, entry.label, "zone", "zone", errors, origin):
        entry.zone = zone


def read_network(raw, entry, settings, errors):
    entry.supernet = settings.supernet
    if entry.kind == KIND_SHARED and raw.get("supernet") is not None:
        entry.supernet = read_cidr(raw, "supernet", entry.label, errors)
        if entry.supernet is not None and settings.supernet is not None \
                and entry.supernet.version != settings.supernet.version:
            errors.append("%s: supernet %s is IPv%d but the plan's supernet %s is IPv%d; a plan uses one IP version" % (
                entry.label, entry.supernet, entry.supernet.version, settings.supernet, settings.supernet.version))
            entry.supernet = None
    if raw.get("network") is not None:
        network = read_cidr(raw, "network", entry.label, errors)
        if network is not None and entry.supernet is not None and network not in entry.supernet:
            errors.append("%s: network %s is outside the supernet %s" % (entry.label, network, entry.supernet))
            network = None
        entry.network = network
    elif entry.supernet is not None and settings.tenant_prefix is not None and entry.id is not None:
        entry.network = nth_subnet(entry.supernet, settings.tenant_prefix, entry.id, entry.label, "id",
                                   "the supernet", errors)


def read_vnet(raw, index, entry, settings, errors):
    vnet = Vnet(index)
    label, field = entry.label, vnet.field
    if not isinstance(raw, Mapping):
        errors.append("%s: %s: must be a dict (name, id, ...), got %s" % (label, field, show(raw)))
        return None
    vnet.name = read_text(raw, "name", label, errors, field=field + ".name")
    vnet.id = read_int(raw, "id", label, errors, low=0, high=MAX_VNET_ID, field=field + ".id",
                       why="the VNet's stable slot in the tenant")
    read_vnet_id(raw, vnet, entry, errors)
    read_alias(raw, vnet, entry, errors)
    read_vnet_subnet(raw, vnet, entry, settings, errors)
    if entry.id is not None and vnet.id is not None and settings.vnet_tag_base is not None:
        vnet.tag = check_vni(settings.vnet_tag_base + entry.id * TAG_DIGITS_PER_TENANT + vnet.id, label,
                             field + ".tag", "vnet_tag_base + id * %d + vnet id" % TAG_DIGITS_PER_TENANT, errors)
    return vnet


def read_vnet_id(raw, vnet, entry, errors):
    field = vnet.field + ".vnet"
    if raw.get("vnet") is not None:
        value = read_text(raw, "vnet", entry.label, errors, field=field)
        if value is not None and check_sdn_id(value, entry.label, field, "VNet", errors):
            vnet.vnet = value
    elif entry.zone is not None and vnet.id is not None:
        # Always a valid PVE id: a valid zone id (letter first) cut to 6 characters plus two digits.
        vnet.vnet = "%s%02d" % (entry.zone[:VNET_ID_ZONE_PART], vnet.id)


def read_alias(raw, vnet, entry, errors):
    field = vnet.field + ".alias"
    if raw.get("alias") is not None:
        alias, origin = read_text(raw, "alias", entry.label, errors, field=field), ""
    elif entry.name is not None and vnet.name is not None:
        alias, origin = "%s %s" % (entry.name, vnet.name), " (the tenant and VNet names; set alias)"
    else:
        return
    if alias is not None and not ALIAS_PATTERN.match(alias):
        errors.append("%s: %s %s%s: PVE accepts up to 256 characters matching %s" % (
            entry.label, field, show(alias), origin, ALIAS_PATTERN.pattern))
        return
    vnet.alias = alias


def read_vnet_subnet(raw, vnet, entry, settings, errors):
    label, field = entry.label, vnet.field
    if raw.get("prefix") is None:
        vnet.prefix = settings.vnet_prefix
    else:
        network = entry.network or entry.supernet
        vnet.prefix = read_int(raw, "prefix", label, errors, low=entry.network.prefixlen if entry.network else 0,
                               high=max_prefix(network), field=field + ".prefix",
                               why="from the tenant network's prefix length to the address length")
        if vnet.prefix is not None and settings.reserved_hosts is not None and network is not None \
                and not check_guest_room(vnet.prefix, network.version, settings.reserved_hosts, label,
                                         field + ".prefix", errors):
            vnet.prefix = None
    if entry.network is None or vnet.prefix is None or vnet.id is None:
        return
    if vnet.prefix < entry.network.prefixlen:
        errors.append("%s: %s: a /%d VNet subnet cannot fit in the tenant network %s; set %s.prefix" % (
            label, field, vnet.prefix, entry.network, field))
        return
    vnet.cidr = nth_subnet(entry.network, vnet.prefix, vnet.id, label, field + ".id", "the tenant network", errors)


# ---------------------------------------------------------------------------
# Guests

def read_vmid_range(entry, settings, errors):
    """The tenant's VMID range from its slot: vmid_base + id * vmids_per_tenant, vmids_per_tenant long."""
    if entry.id is None or settings.vmid_base is None or settings.vmids_per_tenant is None:
        return
    first = settings.vmid_base + entry.id * settings.vmids_per_tenant
    last = first + settings.vmids_per_tenant - 1
    if last > MAX_VMID:
        errors.append("%s: id %d: its VMID range %d-%d (vmid_base + id * vmids_per_tenant) ends beyond %d, "
                      "PVE's highest guest id" % (entry.label, entry.id, first, last, MAX_VMID))
        return
    entry.vmids = (first, last)


GUEST_FIELDS = ("name", "id", "vmid", "vnet", "host")


def read_guest(raw, index, entry, settings, errors):
    guest = Guest(index)
    label, field = entry.label, guest.field
    if not isinstance(raw, Mapping):
        errors.append("%s: %s: must be a dict (name, id, vnet, ...), got %s" % (label, field, show(raw)))
        return None
    guest.extra = dict((str(key), plain(value)) for key, value in raw.items() if key not in GUEST_FIELDS)
    guest.name = read_text(raw, "name", label, errors, field=field + ".name")
    if guest.name is not None:
        if not GUEST_NAME_RE.match(guest.name) or len(guest.name) > 63:
            errors.append("%s: %s.name %s: a guest name is its host name: up to 63 ASCII letters, digits, '-' "
                          "and '.', not starting or ending with '-' (PVE's dns-name format)" % (label, field, show(guest.name)))
            guest.name = None
        else:
            field = guest.field = "guests[%d] (%s)" % (index, guest.name)
    reserved = settings.reserved_vmids if settings.reserved_vmids is not None else DEFAULT_RESERVED_VMIDS
    per_tenant = settings.vmids_per_tenant or DEFAULT_VMIDS_PER_TENANT
    guest.id = read_int(raw, "id", label, errors, low=reserved, high=per_tenant - 1, field=field + ".id",
                        why="the guest's stable slot; below %d is the tenant's infrastructure" % reserved)
    read_guest_vmid(raw, guest, entry, settings, errors)
    read_guest_vnet(raw, guest, entry, errors)
    read_guest_address(raw, guest, entry, settings, errors)
    return guest


def read_guest_vmid(raw, guest, entry, settings, errors):
    """vmid: the slot's (range start + id), or an explicit one inside the tenant's range, above its infrastructure."""
    if entry.vmids is None:
        return
    first, last = entry.vmids
    lowest = first + (settings.reserved_vmids or 0)
    if raw.get("vmid") is None:
        if guest.id is not None:
            guest.vmid = first + guest.id
        return
    vmid = read_int(raw, "vmid", entry.label, errors, low=MIN_VMID, high=MAX_VMID, field=guest.field + ".vmid")
    if vmid is None:
        return
    if not lowest <= vmid <= last:
        errors.append("%s: %s.vmid %d: outside the tenant's guest VMIDs %d-%d (its range %d-%d, the first %d "
                      "kept for its infrastructure)" % (entry.label, guest.field, vmid, lowest, last, first, last,
                                                        lowest - first))
        return
    guest.vmid = vmid


def read_guest_vnet(raw, guest, entry, errors):
    """vnet: the name (or PVE id) of one of this tenant's VNets, never another tenant's."""
    value = read_text(raw, "vnet", entry.label, errors, field=guest.field + ".vnet")
    if value is None:
        return
    for vnet in entry.vnets:
        if value in (vnet.name, vnet.vnet):
            guest.vnet = vnet
            return
    names = ", ".join(str(vnet.name) for vnet in entry.vnets) or "none"
    errors.append("%s: %s.vnet %s: not a VNet of this tenant (its VNets: %s); a guest is only ever placed on its "
                  "own tenant's VNets" % (entry.label, guest.field, show(value), names))


def read_guest_address(raw, guest, entry, settings, errors):
    """host: the host number in the VNet subnet (default: the guest id); must be in the VNet's guest range."""
    if raw.get("host") is None:
        host, origin = guest.id, " (the guest id; set host to choose another)"
    else:
        host, origin = read_int(raw, "host", entry.label, errors, low=1, field=guest.field + ".host"), ""
    guest.host = host
    if host is None or guest.vnet is None or guest.vnet.cidr is None or settings.reserved_hosts is None:
        return
    cidr = guest.vnet.cidr
    dummy_gateway, first_guest, last_guest = host_layout(cidr, settings.reserved_hosts)
    number = cidr.first + host
    if not first_guest <= number <= last_guest:
        errors.append("%s: %s.host %d%s: %s is outside VNet %s's guest range %s-%s (below it: the gateway and %d "
                      "reserved addresses)" % (entry.label, guest.field, host, origin, address(number, cidr.version),
                                               guest.vnet.name, address(first_guest, cidr.version),
                                               address(last_guest, cidr.version), settings.reserved_hosts))
        return
    guest.address = address(number, cidr.version)


def plan_entry_kind(entry):
    """The kind of an item of plan_tenants' output; a plan without kinds only knew tenants and the shared services."""
    return entry.get("kind") or (KIND_SHARED if entry.get("shared") else KIND_TENANT)


def plan_entries(plan, kind):
    """The items of plan_tenants' output of one kind (KIND_TENANT, KIND_SHARED or KIND_TRANSIT), in plan order."""
    return [entry for entry in plan if plan_entry_kind(entry) == kind]


def planned_mac(vmid, nic):
    """The planned MAC of NIC `nic` of guest `vmid` (see PLANNED_MAC_PREFIX)."""
    octets = [PLANNED_MAC_PREFIX] + [(vmid >> shift) & 0xFF for shift in (24, 16, 8, 0)] + [nic]
    return ":".join("%02X" % octet for octet in octets)


# ---------------------------------------------------------------------------
# Checks across tenants

def check_unique(entries, errors):
    report_repeats(
        [Claim(entry.name, entry.position, "name", entry.name, "the name", entry.position)
         for entry in entries if entry.name is not None],
        errors, "tenant names must be unique")
    report_repeats(
        [Claim(entry.id, entry.label, "id", entry.id, "the id", entry.label)
         for entry in entries if entry.id is not None],
        errors, "tenant ids must be unique (the id fixes the tenant's network slot and VNIs)")
    report_repeats(
        [Claim(entry.zone.lower(), entry.label, "zone", entry.zone, "the zone", entry.label)
         for entry in entries if entry.zone is not None],
        errors, "zone ids are cluster-wide and must be unique (compared ignoring case)")
    for entry in entries:
        report_repeats(vnet_claims(entry, "name", "the name"), errors, "VNet names must be unique inside a tenant")
        report_repeats(vnet_claims(entry, "id", "the id"), errors, "VNet ids (slots) must be unique inside a tenant")
        report_repeats(guest_claims(entry, "name", "the name"), errors, "guest names must be unique inside a tenant")
        report_repeats(guest_claims(entry, "vmid", "the VMID"), errors, "a VMID belongs to one guest")
        report_repeats(guest_claims(entry, "address", "the address"), errors,
                       "an address belongs to one guest; set host on one of them")
    report_repeats(
        [claim for entry in entries for claim in vnet_claims(entry, "vnet", "the VNet id", key=str.lower)],
        errors, "VNet ids are cluster-wide (compared ignoring case): set vnet on one of them")
    vni_claims = []
    for entry in entries:
        if entry.vrf_vxlan is not None:
            vni_claims.append(Claim(entry.vrf_vxlan, entry.label, "vrf_vxlan", entry.vrf_vxlan, "the vrf_vxlan",
                                    entry.label))
        vni_claims.extend(vnet_claims(entry, "tag", "the tag"))
    report_repeats(vni_claims, errors, VNI_RULE)


def vnet_claims(entry, attribute, what, key=None):
    claims = []
    for vnet in entry.vnets:
        value = getattr(vnet, attribute)
        if value is not None:
            claims.append(Claim(key(value) if key else value, entry.label, "%s.%s" % (vnet.field, attribute),
                                value, what, "%s %s" % (entry.label, vnet.field)))
    return claims


def guest_claims(entry, attribute, what):
    return [Claim(getattr(guest, attribute), entry.label, "%s.%s" % (guest.field, attribute), getattr(guest, attribute),
                  what, "%s %s" % (entry.label, guest.field))
            for guest in entry.guests if getattr(guest, attribute) is not None]


def report_repeats(claims, errors, rule):
    first_claims = {}
    for claim in claims:
        earlier = first_claims.setdefault(claim.key, claim)
        if earlier is not claim:
            errors.append("%s: %s %s is also %s of %s; %s" % (
                claim.label, claim.field, show(claim.value), earlier.what, earlier.owner, rule))


def entries_of(entries, kind):
    return [entry for entry in entries if entry.kind == kind]


def hub_vmid(shared):
    """The hub VM's VMID: the first of the shared services' range (their infrastructure slot 0, as a tenant's gateway)."""
    return shared.vmids[0] if shared.vmids is not None else None


def check_transit(entries, settings, errors):
    """The transit network needs the shared services (the hub sits there), a reserved address for the hub on each
    side, and room in its VNet for every tenant gateway's leg (host first guest + tenant id - 1)."""
    transits = entries_of(entries, KIND_TRANSIT)
    if not transits:
        return
    transit = transits[0]
    if not entries_of(entries, KIND_SHARED):
        errors.append("%s: needs homecloud_network_plan.shared_services: the transit hub VM is the shared services' "
                      "gateway, with one leg in each of their VNets" % transit.label)
    if settings.reserved_hosts == 0:
        errors.append("%s: the hub's addresses are the first reserved address of the transit VNet and of each shared "
                      "services VNet; homecloud_network_plan.reserved_hosts is 0" % transit.label)
        return
    if not transit.vnets or transit.vnets[0].cidr is None or settings.reserved_hosts is None:
        return
    cidr = transit.vnets[0].cidr
    dummy_gateway, first_guest, last_guest = host_layout(cidr, settings.reserved_hosts)
    for tenant in entries_of(entries, KIND_TENANT):
        if tenant.id is None:
            continue
        number = first_guest + tenant.id - 1
        if number > last_guest:
            errors.append("%s: id %d: its gateway's transit address (host %d) is outside the transit VNet %s (tenant "
                          "legs from %s to %s); enlarge the transit VNet with a shorter transit.prefix" % (
                              tenant.label, tenant.id, number - cidr.first, cidr, address(first_guest, cidr.version),
                              address(last_guest, cidr.version)))
            continue
        tenant.transit_host = number - cidr.first


def check_route_leaking(entries, settings, errors):
    """route_leaking: [shared] needs the shared services zone, the ASN of the route targets, a firewall policy (a
    non-empty services list) and no rt_import of the inventory's own on either zone."""
    shared = entries_of(entries, KIND_SHARED)
    leaking = [entry for entry in entries_of(entries, KIND_TENANT) if entry.route_leaking]
    for entry in leaking:
        if not shared:
            errors.append("%s: route_leaking: there is no shared services zone to import routes from "
                          "(homecloud_network_plan.shared_services)" % entry.label)
        if not settings.asn_given:
            errors.append("%s: route_leaking: needs homecloud_network_plan.asn, the ASN of the EVPN route targets "
                          "<asn>:<vrf-vxlan>" % entry.label)
        if not entry.has_services:
            errors.append("%s: route_leaking: refused without a firewall policy for it: the tenant's services must name "
                          "the shared services it may reach (its VNet firewall accepts only those)" % entry.label)
        if "rt_import" in entry.zone_options:
            errors.append("%s: zone_options.rt_import: route_leaking sets the zone's rt_import itself; remove it"
                          % entry.label)
    if leaking and shared and "rt_import" in shared[0].zone_options:
        errors.append("%s: zone_options.rt_import: route_leaking of %s sets the zone's rt_import itself; remove it" % (
            shared[0].label, ", ".join(entry.label for entry in leaking)))
    if leaking and "rt_import" in settings.zone_defaults:
        errors.append("network plan: zone_defaults.rt_import: route_leaking sets the zones' rt_import itself; remove it")


def check_overlaps(entries, errors):
    errors.extend(overlap_errors([(ipaddress.ip_network(str(entry.network)), entry.label, "network")
                                  for entry in entries if entry.network is not None]))
    for entry in entries:
        errors.extend(overlap_errors([(ipaddress.ip_network(str(vnet.cidr)), entry.label, vnet.field + " subnet")
                                      for vnet in entry.vnets if vnet.cidr is not None]))


# ---------------------------------------------------------------------------
# Output (only reached when every check passed)

def plain(value):
    """JSON-ready copies (dict, list, str) so tenants never share one mutable option value."""
    if isinstance(value, Mapping):
        return dict((str(key), plain(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


def address(number, version):
    return str(netaddr.IPAddress(number, version))


def route_target(settings, entry):
    """An EVPN zone's route target as pve-network writes it for the zone's VRF (EvpnPlugin.pm: <asn>:<vrf-vxlan>)."""
    return "%d:%d" % (settings.asn, entry.vrf_vxlan)


def rt_imports(entry, settings, entries):
    """Route leaking: a leaking tenant imports the shared zone's route target, the shared zone imports each leaking
    tenant's (sorted by id). Each side keeps exporting only its own RT, so two leaking tenants never see each other."""
    shared = entries_of(entries, KIND_SHARED)
    if entry.kind == KIND_TENANT and entry.route_leaking and shared:
        return [route_target(settings, shared[0])]
    if entry.kind == KIND_SHARED:
        return [route_target(settings, tenant) for tenant in entries_of(entries, KIND_TENANT) if tenant.route_leaking]
    return []


def hub_legs(entries, settings):
    """(transit VNet, hub VMID, [(NIC index, VNet, address with prefix)]): NIC 0 on the transit VNet, NIC 1.. on each
    shared services VNet, each at its VNet's first reserved address; None without a transit network."""
    transits, shared = entries_of(entries, KIND_TRANSIT), entries_of(entries, KIND_SHARED)
    if not transits or not shared:
        return None
    vnets = [transits[0].vnets[0]] + sorted(shared[0].vnets, key=lambda vnet: vnet.id)
    legs = []
    for index, vnet in enumerate(vnets):
        legs.append((index, vnet, "%s/%d" % (address(vnet.cidr.first + 2, vnet.cidr.version), vnet.cidr.prefixlen)))
    return transits[0].vnets[0], hub_vmid(shared[0]), legs


def render_transit_parts(entry, settings, entries, planned):
    """A tenant's `transit` (its gateway's leg) and the shared services' `hub`, when a transit network exists."""
    hub = hub_legs(entries, settings)
    if hub is None:
        return
    transit_vnet, vmid, legs = hub
    hub_address = legs[0][2]
    if entry.kind == KIND_TENANT:
        number = transit_vnet.cidr.first + entry.transit_host
        planned["transit"] = {"vnet": str(transit_vnet.vnet), "cidr": str(transit_vnet.cidr),
                              "address": "%s/%d" % (address(number, transit_vnet.cidr.version), transit_vnet.cidr.prefixlen),
                              "hub": hub_address.split("/")[0]}
    elif entry.kind == KIND_SHARED:
        planned["hub"] = {
            "vmid": vmid, "name": HUB_NAME, "node": entries_of(entries, KIND_TRANSIT)[0].hub_node,
            "transit": {"vnet": str(transit_vnet.vnet), "address": hub_address, "mac": planned_mac(vmid, 0)},
            "services": [{"vnet": str(vnet.vnet), "address": leg, "mac": planned_mac(vmid, index)}
                         for index, vnet, leg in legs[1:]]}


def render_entry(entry, settings, entries):
    zone = {"zone": str(entry.zone), "type": "evpn", "controller": str(settings.controller),
            "vrf_vxlan": entry.vrf_vxlan}
    options = dict(settings.zone_defaults)
    options.update(entry.zone_options)
    imports = rt_imports(entry, settings, entries)
    if imports:
        options["rt_import"] = imports
    for name, value in options.items():
        if value is not None:  # null in zone_options drops a zone_defaults option for this tenant
            zone[name] = plain(value)
    vnets = sorted(entry.vnets, key=lambda vnet: vnet.id)
    zone["vnets"] = []
    planned_vnets = []
    for vnet in vnets:
        gateway, first_guest, last_guest = host_layout(vnet.cidr, settings.reserved_hosts)
        version = vnet.cidr.version
        zone["vnets"].append({
            "vnet": str(vnet.vnet), "tag": vnet.tag, "alias": str(vnet.alias),
            "subnets": [{"subnet": str(vnet.cidr), "gateway": address(gateway, version), "snat": False}],
        })
        planned_vnets.append({
            "name": str(vnet.name), "id": vnet.id, "vnet": str(vnet.vnet), "tag": vnet.tag, "cidr": str(vnet.cidr),
            "gateway": address(gateway, version),
            "reserved": [address(number, version) for number in range(gateway + 1, first_guest)],
            "first_guest": address(first_guest, version), "last_guest": address(last_guest, version),
            "guest_count": last_guest - first_guest + 1,
        })
    first, last = entry.vmids
    guests = []
    for guest in sorted(entry.guests, key=lambda guest: guest.vmid):
        planned = dict(guest.extra)
        vnet = guest.vnet
        planned.update({
            "name": str(guest.name), "id": guest.id, "vmid": guest.vmid, "vnet": str(vnet.vnet), "vnet_name": str(vnet.name),
            "ip": guest.address, "cidr": "%s/%d" % (guest.address, vnet.cidr.prefixlen),
            "gateway": address(vnet.cidr.first + 1, vnet.cidr.version), "mac": planned_mac(guest.vmid, 0),
        })
        guests.append(planned)
    planned = {"tenant": str(entry.name), "id": entry.id, "kind": entry.kind, "shared": entry.shared,
               "network": str(entry.network), "zone": zone, "vnets": planned_vnets,
               "vmids": {"first": first, "last": last, "guests_first": first + settings.reserved_vmids}, "guests": guests}
    if entry.kind == KIND_TENANT:
        planned["route_leaking"] = list(entry.route_leaking)
    render_transit_parts(entry, settings, entries, planned)
    return planned
