"""SDN configuration model: per-type options, the pending/running views, digests, messages.

Facts (proxmox/pve-network; "HEAD" = ecf98c5d, PVE 8.4 = 8f4f5d20):
- per-type options and which are required: Zones/*Plugin.pm, Controllers/*Plugin.pm,
  Ipams/*Plugin.pm, Dns/PowerdnsPlugin.pm `options` (optional => 0 = required);
- SectionConfig check_config (pve-common): "unexpected property '<k>'",
  "missing value for required option '<k>'"; delete_from_config messages;
- the pending view: Network/SDN.pm pending_config, has_pending_changes;
- list values (`nodes`, `exitnodes`) are hashes in the parsed config and comma strings in the
  API (Zones/Plugin.pm decode_value/encode_value): stored here already encoded and sorted.
"""

import hashlib
import ipaddress

from pvesim.errors import ApiError, die
from pvesim.formats import split_list

# Perl appends " at <file> line <n>.\n" to a die without a trailing newline; the line numbers
# are those of pve-network HEAD ecf98c5d (installed path /usr/share/perl5/PVE/...).
PERL_SOURCES = {
    "zone-used": ("Network/SDN/Zones/Plugin.pm", 148),
    "controller-missing": ("Network/SDN/Zones/EvpnPlugin.pm", 354),
    "controller-not-evpn": ("Network/SDN/Zones/EvpnPlugin.pm", 356),
    "vrf-vxlan-used": ("Network/SDN/Zones/EvpnPlugin.pm", 366),
    "evpn-controller-used": ("Network/SDN/Controllers/EvpnPlugin.pm", 475),
    "one-evpn-controller": ("Network/SDN/Controllers/EvpnPlugin.pm", 491),
    "evpn-peers-fabric": ("Network/SDN/Controllers/EvpnPlugin.pm", 496),
    "bgp-controller-used": ("Network/SDN/Controllers/BgpPlugin.pm", 166),
    "one-bgp-controller": ("Network/SDN/Controllers/BgpPlugin.pm", 183),
    "pending-changes": ("API2/Network/SDN.pm", 149),
    "invalid-token": ("Network/SDN.pm", 291),
    "only-pve-ipam": ("API2/Network/SDN/Ipams.pm", 319),
    "no-subnet-for-ip": ("Network/SDN/Subnets.pm", 115),
}

COMMON_ZONE_OPTIONS = ("nodes", "dns", "reversedns", "dnszone", "ipam")
# type -> {option: required}; 9.x differences are applied in zone_options()/controller_options()
ZONE_OPTIONS = {
    "simple": dict.fromkeys(COMMON_ZONE_OPTIONS + ("mtu", "dhcp"), False),
    "vlan": dict(dict.fromkeys(COMMON_ZONE_OPTIONS + ("mtu", "bridge-disable-mac-learning"), False), bridge=True),
    "qinq": dict(dict.fromkeys(COMMON_ZONE_OPTIONS + ("mtu", "bridge-disable-mac-learning", "vlan-protocol"), False),
                 bridge=True, tag=True),
    "vxlan": dict(dict.fromkeys(COMMON_ZONE_OPTIONS + ("mtu", "vxlan-port"), False), peers=True),
    "evpn": dict(dict.fromkeys(COMMON_ZONE_OPTIONS + (
        "mtu", "vxlan-port", "exitnodes", "exitnodes-local-routing", "exitnodes-primary", "advertise-subnets",
        "disable-arp-nd-suppression", "bridge-disable-mac-learning", "rt-import", "mac"), False),
        **{"vrf-vxlan": True, "controller": True}),
    "faucet": dict(dict.fromkeys(COMMON_ZONE_OPTIONS, False), **{"dp-id": True, "controller": True}),
}
CONTROLLER_OPTIONS = {
    "evpn": {"asn": True, "peers": True},
    "bgp": {"node": True, "asn": True, "peers": True, "bgp-multipath-as-path-relax": False, "ebgp": False,
            "ebgp-multihop": False, "loopback": False},
    "isis": {"node": True, "isis-domain": True, "isis-net": True, "isis-ifaces": True, "loopback": False},
    "faucet": {},
}
IPAM_OPTIONS = {
    "pve": {},
    "netbox": {"url": True, "token": True, "fingerprint": False},
    "phpipam": {"url": True, "token": True, "section": True, "fingerprint": False},
}
DNS_OPTIONS = {"powerdns": {"url": True, "key": True, "reversemaskv6": False, "ttl": False, "fingerprint": False}}
VNET_OPTIONS = {"vnet": {"zone": True, "tag": False, "alias": False, "vlanaware": False, "isolate-ports": False}}
SUBNET_OPTIONS = {"subnet": {"vnet": True, "gateway": False, "snat": False, "dnszoneprefix": False, "dhcp-range": False,
                             "dhcp-dns-server": False}}
LIST_KEYS = ("nodes", "exitnodes")
# keys that describe an object in the API but are not options of its section
API_KEYS = ("type", "digest", "delete", "lock-token")


def perl_die(key, text):
    """The text of a Perl die without trailing newline (see PERL_SOURCES)."""
    path, line = PERL_SOURCES[key]
    return "%s at /usr/share/perl5/PVE/%s line %d.\n" % (text, path, line)


def zone_options(zone_type, pve9):
    """Zone options of a type; on 9.x VXLAN zones take `peers` or `fabric` (VxlanPlugin.pm on_update_hook)."""
    options = dict(ZONE_OPTIONS[zone_type])
    if pve9 and zone_type in ("vxlan", "evpn"):
        options["peers"] = False
        if zone_type == "vxlan":
            options["fabric"] = False
    if zone_type == "evpn":
        options.pop("peers", None)
    return options


def controller_options(controller_type, pve9):
    """Controller options; on 9.x EVPN controllers take `peers` or `fabric` (Controllers/EvpnPlugin.pm)."""
    options = dict(CONTROLLER_OPTIONS[controller_type])
    if pve9 and controller_type == "evpn":
        options.update(peers=False, fabric=False)
    return options


def normalize_value(key, value):
    """decode_value + encode_value: node lists become sorted, de-duplicated comma strings."""
    if key in LIST_KEYS:
        return ",".join(sorted(set(split_list(value))))
    return value


def check_config(options, params, create):
    """SectionConfig.pm check_config: unknown keys, then (create) missing required options.

    Perl walks a hash (random order); the simulator reports the alphabetically first key.
    """
    for key in sorted(params):
        if key not in options and key not in API_KEYS:
            raise die("unexpected property '%s'\n" % key)
    if create:
        for key in sorted(options):
            if options[key] and key not in params:
                raise die("missing value for required option '%s'\n" % key)
    return {key: normalize_value(key, value) for key, value in params.items() if key in options}


def apply_update(section, options, settings, delete):
    """SectionConfig.pm delete_from_config + assignment of the new settings."""
    for key in delete:
        if key not in options:
            raise die("no such option '%s'\n" % key)
        if options[key]:
            raise die("unable to delete required option '%s'\n" % key)
        if key in settings:
            raise die("cannot set and delete property '%s' at the same time!\n" % key)
        section.pop(key, None)
    section.update(settings)


def wrap(errmsg, error):
    """SDN.pm lock_sdn_domain: any error inside the lock becomes the plain text "<errmsg>: <err>"."""
    text = error.stringify() if isinstance(error, ApiError) else str(error)
    return die("%s: %s" % (errmsg, text))


def section_text(section_type, objects):
    """The SectionConfig file text of one config type (what the digest is computed over)."""
    lines = []
    for object_id in sorted(objects):
        body = objects[object_id]
        lines.append("%s: %s" % (body.get("type", section_type), object_id))
        for key in sorted(body):
            if key != "type":
                value = body[key]
                lines.append("\t%s %s" % (key, ",".join(value) if isinstance(value, list) else value))
        lines.append("")
    return "\n".join(lines)


def digest(section_type, objects):
    """SectionConfig digest: SHA1 hex of the file content."""
    return hashlib.sha1(section_text(section_type, objects).encode("utf-8")).hexdigest()


def assert_if_modified(current, given):
    """PVE::Tools::assert_if_modified: only checked when both digests are non-empty."""
    if given and current and given != current:
        raise die("detected modified configuration - file changed by other user? Try again.\n")


def encoded(key, value):
    """encode_value for comparisons: lists as sorted comma-joined strings."""
    if isinstance(value, list):
        return ",".join(sorted(str(item) for item in value))
    if key in LIST_KEYS:
        return normalize_value(key, value)
    return None if value is None else str(value)


def pending_view(running_objects, config_objects):
    """Network/SDN.pm pending_config: running values on top, pending changes under `pending`."""
    view = {}
    for object_id in sorted(running_objects):
        running = running_objects[object_id]
        config = config_objects.get(object_id) or {}
        entry = view.setdefault(object_id, {})
        for key in sorted(running):
            entry[key] = running[key]
            if not config:
                entry["state"] = "deleted"
            elif key not in config:
                entry.setdefault("pending", {})[key] = "deleted"
                entry["state"] = "changed"
            elif encoded(key, running[key]) != encoded(key, config[key]):
                entry["state"] = "changed"
        if entry.get("state"):
            entry.setdefault("pending", {})
    for object_id in sorted(config_objects):
        running = running_objects.get(object_id) or {}
        config = config_objects[object_id]
        entry = view.setdefault(object_id, {})
        for key in sorted(config):
            if key in ("type", "vnet"):
                entry[key] = config[key]
            elif key not in running or encoded(key, config[key]) != encoded(key, running[key]):
                entry.setdefault("pending", {})[key] = config[key]
            if not running:
                entry["state"] = "new"
            elif key not in running:
                entry["state"] = "changed"
        if entry.get("state"):
            entry.setdefault("pending", {})
    return view


def has_pending(view):
    """SDN.pm has_pending_changes: any object with a `pending` key."""
    return any("pending" in entry for entry in view.values())


# -- subnets ---------------------------------------------------------------------------------
def subnet_id(zone, cidr):
    """Subnets.pm create: `<zone>-<cidr with / replaced by ->`."""
    return "%s-%s" % (zone, cidr.replace("/", "-"))


def subnet_cidr(object_id):
    """SubnetPlugin.pm parse_sdn_subnet_id: `<zone>-<network>-<mask>` -> (zone, network, mask)."""
    zone, network, mask = object_id.split("-", 2)
    return zone, network, int(mask)


def parse_dhcp_range(text):
    """`start-address=<ip>,end-address=<ip>` -> {"start-address", "end-address"}."""
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


def subnet_api_view(object_id, section):
    """Subnets.pm sdn_subnets_config + API $api_sdn_subnets_config: derived keys, parsed ranges."""
    zone, network, mask = subnet_cidr(object_id)
    result = dict(section)
    # The parts come from split(/-/, $id) in Subnets.pm sdn_subnets_config, so `mask` is a string in JSON.
    result.update(id=object_id, subnet=object_id, cidr="%s/%d" % (network, mask), network=network, mask=str(mask), zone=zone)
    # Always a list, [] without ranges: API2/Network/SDN/Subnets.pm sets it from get_dhcp_ranges()
    # on every view (community.proxmox's proxmox_subnet reads the key unconditionally).
    result["dhcp-range"] = [parse_dhcp_range(item) if isinstance(item, str) else item for item in result.get("dhcp-range") or []]
    if isinstance(result.get("pending"), dict) and isinstance(result["pending"].get("dhcp-range"), list):
        result["pending"] = dict(result["pending"], **{"dhcp-range": [parse_dhcp_range(item) for item in result["pending"]["dhcp-range"]]})
    return result


def ip_network(cidr):
    """The network of a CIDR string, host bits allowed (like Net::IP with a subnet id)."""
    return ipaddress.ip_network(cidr, strict=False)


def ip_in(address, cidr):
    """True when `address` lies in `cidr`."""
    try:
        return ipaddress.ip_address(address) in ip_network(cidr)
    except ValueError:
        return False
