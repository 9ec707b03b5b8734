"""Named string formats of the PVE schema and their verifiers, with PVE's messages.

A `format` in the schema is only a name; the rule lives in server-side Perl code. Each
verifier below takes the value and raises FormatError with the exact text PVE dies with
(without the trailing newline; validate.py adds "invalid format - ... \\n" like check_prop).
Sources are named per verifier. Regexes keep Perl's `^...$` semantics: Python's `$` also
matches before one trailing newline, like Perl's, so `re.match` with `^...$` is used on purpose.

Names that are not registered here are accepted and reported (validate.py records them),
so gaps are visible in /_sim/counters instead of silently wrong.
"""

import re

from pvesim.calendar_event import CalendarEventError, parse as parse_calendar_event

FORMATS = {}


class FormatError(Exception):
    """A verifier's `die` message."""


def register(*names):
    """Register a verifier function under one or more format names."""
    def decorator(function):
        for name in names:
            FORMATS[name] = function
        return function
    return decorator


def perl_match(pattern, value, flags=0):
    """`$value =~ m/^(?:pattern)$/` with Perl's end-of-string semantics."""
    return re.match(r"^(?:%s)$" % pattern, value, flags) is not None


def split_list(text):
    """PVE::ParseUtils::split_list: split on NUL if present, else on `,` `;` and whitespace."""
    text = text or ""
    if "\0" in text:
        return text.split("\0")
    text = re.sub(r"[,;]", " ", text).lstrip()
    return [item for item in re.split(r"\s+", text) if item] if text else []


# --- pve-common src/PVE/ParseUtils.pm: $IPV4RE, $IPV6RE, $EMAIL_RE ---------------------------
IPV4_OCTET = r"(?:25[0-5]|(?:2[0-4]|1[0-9]|[1-9])?[0-9])"
IPV4_RE = r"(?:(?:%s\.){3}%s)" % (IPV4_OCTET, IPV4_OCTET)
_H16 = r"(?:[0-9a-fA-F]{1,4})"
_LS32 = r"(?:(?:%s|%s:%s))" % (IPV4_RE, _H16, _H16)
IPV6_RE = "(?:" + "|".join([
    r"(?:(?:(?:%s:){6})%s)" % (_H16, _LS32),
    r"(?:(?:::(?:%s:){5})%s)" % (_H16, _LS32),
    r"(?:(?:(?:%s)?::(?:%s:){4})%s)" % (_H16, _H16, _LS32),
    r"(?:(?:(?:(?:%s:){0,1}%s)?::(?:%s:){3})%s)" % (_H16, _H16, _H16, _LS32),
    r"(?:(?:(?:(?:%s:){0,2}%s)?::(?:%s:){2})%s)" % (_H16, _H16, _H16, _LS32),
    r"(?:(?:(?:(?:%s:){0,3}%s)?::(?:%s:){1})%s)" % (_H16, _H16, _H16, _LS32),
    r"(?:(?:(?:(?:%s:){0,4}%s)?::)%s)" % (_H16, _H16, _LS32),
    r"(?:(?:(?:(?:%s:){0,5}%s)?::)%s)" % (_H16, _H16, _H16),
    r"(?:(?:(?:(?:%s:){0,6}%s)?::))" % (_H16, _H16),
]) + ")"
EMAIL_USER_RE = r"[\w\+\-\~]+(\.[\w\+\-\~]+)*"
EMAIL_RE = EMAIL_USER_RE + r"@[a-zA-Z0-9\-]+(\.[a-zA-Z0-9\-]+)*"
NODE_NAME_RE = r"[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?"
CONFIGID_RE = r"[a-z][a-z0-9_-]+"
# pve-access-control src/PVE/Auth/Plugin.pm
USER_RE = r"[^\s:/]+"
REALM_RE = r"[A-Za-z][A-Za-z0-9\.\-_]+"
TOKEN_FULL_RE = r"((%s)\@(%s))!(%s)" % (USER_RE, REALM_RE, REALM_RE)


def _require(condition, message):
    if not condition:
        raise FormatError(message)


# --- pve-common src/PVE/JSONSchema.pm ---------------------------------------------------------
@register("string")
def verify_string(_value):
    """register_format('string', sub {}): exists so that 'string-list' works."""


@register("urlencoded")
def verify_urlencoded(value):
    """pve_verify_urlencoded."""
    _require(perl_match(r"[-%a-zA-Z0-9_.!~*'()]*", value), "invalid urlencoded string: %s" % value)


@register("pve-configid")
def verify_configid(value):
    """pve_verify_configid ($CONFIGID_RE, case-insensitive)."""
    _require(perl_match(CONFIGID_RE, value, re.I), "invalid configuration ID '%s'" % value)


def verify_id(value, kind):
    """parse_id: the shared rule of storage and ACME plugin IDs."""
    _require(len(value) >= 2, "%s ID '%s' cannot be shorter than 2 characters" % (kind, value))
    _require(perl_match(r"[a-z][a-z0-9\-\_\.]*[a-z0-9]", value, re.I), "%s ID '%s' contains illegal characters" % (kind, value))


@register("pve-storage-id")
def verify_storage_id(value):
    """parse_storage_id."""
    verify_id(value, "storage")


@register("pve-vmid")
def verify_vmid(value):
    """pve_verify_vmid."""
    _require(perl_match(r"[1-9][0-9]{2,8}", value), "value does not look like a valid VM ID")


@register("pve-node")
def verify_node_name(value):
    """pve_verify_node_name."""
    _require(perl_match(NODE_NAME_RE, value), "value does not look like a valid node name")


@register("mac-addr")
def verify_mac_addr(value):
    """pve_verify_mac_addr: unicast only (I/G bit clear)."""
    _require(perl_match(r"[a-f0-9][02468ace](?::[a-f0-9]{2}){5}", value, re.I), "value does not look like a valid unicast MAC address")


@register("ipv4")
def verify_ipv4(value):
    """pve_verify_ipv4."""
    _require(perl_match(IPV4_RE, value), "value does not look like a valid IPv4 address")


@register("ipv6")
def verify_ipv6(value):
    """pve_verify_ipv6."""
    _require(perl_match(IPV6_RE, value), "value does not look like a valid IPv6 address")


@register("ip")
def verify_ip(value):
    """pve_verify_ip."""
    _require(perl_match(r"(?:%s)|(?:%s)" % (IPV4_RE, IPV6_RE), value), "value does not look like a valid IP address")


def _cidr_ok(value, address_re, max_bits):
    match = re.match(r"^(?:%s)(?:/(\d+))$" % address_re, value)
    return match is not None and 7 < int(match.group(1)) <= max_bits


@register("CIDRv4", "ipv4cidr")
def verify_cidrv4(value):
    """pve_verify_cidrv4: prefix length 8..32."""
    _require(_cidr_ok(value, IPV4_RE, 32), "value does not look like a valid IPv4 CIDR network")


@register("CIDRv6", "ipv6cidr")
def verify_cidrv6(value):
    """pve_verify_cidrv6: prefix length 8..128."""
    _require(_cidr_ok(value, IPV6_RE, 128), "value does not look like a valid IPv6 CIDR network")


@register("CIDR")
def verify_cidr(value):
    """pve_verify_cidr."""
    _require(_cidr_ok(value, IPV4_RE, 32) or _cidr_ok(value, IPV6_RE, 128), "value does not look like a valid CIDR network")


@register("email")
def verify_email(value):
    """pve_verify_email."""
    _require(perl_match(EMAIL_RE, value), "value does not look like a valid email address")


@register("dns-name")
def verify_dns_name(value):
    """pve_verify_dns_name."""
    name_re = r"([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)"
    _require(perl_match(r"(%s\.)*%s" % (name_re, name_re), value), "value does not look like a valid DNS name")


@register("address")
def verify_address(value):
    """pve_verify_address: an IP or a DNS name."""
    valid = perl_match(r"(?:%s)|(?:%s)" % (IPV4_RE, IPV6_RE), value) or perl_match(r"(%s\.)*%s" % (NODE_NAME_RE, NODE_NAME_RE), value)
    _require(valid, "value does not look like a valid address: %s" % value)


@register("pve-iface")
def verify_iface(value):
    """pve_verify_iface."""
    _require(perl_match(r"[a-z][a-z0-9_]{1,20}([:\.]\d+)?", value, re.I), "invalid network interface name '%s'" % value)


@register("pve-tag")
def verify_tag(value):
    """pve_verify_tag ($PVE_TAG_RE); `pve-tag-list` splits with split_list."""
    _require(perl_match(r"[a-z0-9_][a-z0-9_\-\+\.]*", value, re.I), "invalid characters in tag")


@register("pve-task-status-type")
def verify_task_status_type(value):
    """verify_task_status_type."""
    _require(perl_match(r"ok|error|warning|unknown", value, re.I), "invalid status '%s'" % value)


@register("pve-vlan-id-or-range")
def verify_vlan_id_or_range(value):
    """pve_verify_vlan_id_or_range."""
    match = re.match(r"^(\d+)(?:-(\d+))?$", value)
    _require(match, "invalid VLAN configuration '%s'" % value)
    tags = [int(tag) for tag in match.groups() if tag]
    for tag in tags:
        _require(2 <= tag <= 4094, "invalid VLAN tag '%s'" % tag)
    _require(len(tags) == 1 or tags[0] < tags[1], "VLAN range must go from lower to higher tag '%s'" % value)


# --- pve-common src/PVE/CalendarEvent.pm (parser in proxmox-rs; only a basic shape check here) --
@register("pve-calendar-event")
def verify_calendar_event(value):
    """pve-common CalendarEvent.pm pve_verify_calendar_event: the full parse of calendar_event.py;
    "invalid calendar event '<text>' - <err>" (err ends in "\\n")."""
    try:
        parse_calendar_event(value)
    except CalendarEventError as error:
        raise FormatError("invalid calendar event '%s' - %s\n" % (value, error)) from error


# --- pve-access-control src/PVE/Auth/Plugin.pm and src/PVE/AccessControl.pm ------------------
@register("pve-realm")
def verify_realm(value):
    """pve_verify_realm."""
    _require(perl_match(REALM_RE, value), "value does not look like a valid realm")


@register("pve-userid")
def verify_username(value):
    """verify_username: length 3..64, then user@realm."""
    length = len(value)
    _require(length >= 3, "user name '%s' is too short" % value)
    _require(length <= 64, "user name '%s' is too long (%d > 64)" % (value, length))
    _require(perl_match(r"(%s)\@(%s)" % (USER_RE, REALM_RE), value), "value '%s' does not look like a valid user name" % value)


@register("pve-tokenid")
def verify_tokenid(value):
    """pve_verify_tokenid."""
    _require(perl_match(TOKEN_FULL_RE, value), "value '%s' does not look like a valid token ID" % value)


@register("pve-groupid")
def verify_groupname(value):
    """verify_groupname."""
    _require(perl_match(r"[A-Za-z0-9\.\-_]+", value), "group name '%s' contains invalid characters" % value)


@register("pve-roleid")
def verify_rolename(value):
    """verify_rolename."""
    _require(perl_match(r"[A-Za-z0-9\.\-_]+", value), "role name '%s' contains invalid characters" % value)


@register("pve-poolid")
def verify_poolname(value):
    """verify_poolname: at most 3 levels."""
    levels = value.split("/")
    while levels and levels[-1] == "":
        levels.pop()  # Perl's split drops trailing empty fields
    _require(len(levels) <= 3, "pool name '%s' nested too deeply (max levels = 3)" % value)
    _require(perl_match(r"[A-Za-z0-9\.\-_]+(?:/[A-Za-z0-9\.\-_]+){0,2}", value), "pool name '%s' contains invalid characters" % value)


# --- pve-network src/PVE/Network/SDN/*Plugin.pm (at a8b61667, before the 1.3.0 schema patterns) --
def _sdn_id(kind, value, max_length=None, id_re=r"[a-z][a-z0-9]*[a-z0-9]"):
    _require(perl_match(id_re, value, re.I), "%s ID '%s' contains illegal characters" % (kind, value))
    if max_length is not None:
        _require(len(value) <= max_length, "%s ID '%s' can't be more length than %d characters" % (kind, value, max_length))


@register("pve-sdn-zone-id")
def verify_sdn_zone_id(value):
    """Zones/Plugin.pm parse_sdn_zone_id."""
    _sdn_id("zone", value, 8)


@register("pve-sdn-vnet-id")
def verify_sdn_vnet_id(value):
    """VnetPlugin.pm parse_sdn_vnet_id."""
    _sdn_id("vnet", value, 8)


@register("pve-sdn-controller-id")
def verify_sdn_controller_id(value):
    """Controllers/Plugin.pm parse_sdn_controller_id."""
    _sdn_id("controller", value, 64, r"[a-z][a-z0-9_-]*[a-z0-9]")


@register("pve-sdn-ipam-id")
def verify_sdn_ipam_id(value):
    """Ipams/Plugin.pm parse_sdn_ipam_id (no length limit)."""
    _sdn_id("ipam", value)


@register("pve-sdn-dns-id")
def verify_sdn_dns_id(value):
    """Dns/Plugin.pm parse_sdn_dns_id (no length limit)."""
    _sdn_id("dns", value)


@register("pve-sdn-subnet-id")
def verify_sdn_subnet_id(value):
    """SubnetPlugin.pm parse_sdn_subnet_id: a CIDR, or `<zone>-<network>-<prefixlen>`."""
    if "/" in value:
        cidr = value
    else:
        parts = value.split("-")
        cidr = "%s/%s" % (parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else "")
    _require(_cidr_ok(cidr, IPV4_RE, 32) or _cidr_ok(cidr, IPV6_RE, 128), "value does not look like a valid CIDR network")


@register("pve-sdn-bgp-rt")
def verify_sdn_bgp_rt(value):
    """Zones/EvpnPlugin.pm pve_verify_sdn_bgp_rt: `ASN:ID`, both 0..4294967295."""
    match = re.match(r"^(\d+):(\d+)$", value)
    _require(match is not None and all(int(part) <= 4294967295 for part in match.groups()),
             "value does not look like a valid bgp route-target")


@register("pve-sdn-isis-net")
def verify_sdn_isis_net(value):
    """Controllers/IsisPlugin.pm pve_verify_sdn_isis_net."""
    _require(perl_match(r"[a-fA-F0-9]{2}(\.[a-fA-F0-9]{4}){3,9}\.[a-fA-F0-9]{2}", value), "value does not look like a valid isis net")


@register("pve-sdn-dhcp-range")
def verify_sdn_dhcp_range(value):
    """SubnetPlugin.pm $dhcp_range_fmt: `start-address=<ip>,end-address=<ip>` (both required)."""
    pairs = dict(part.split("=", 1) for part in value.split(",") if "=" in part)
    for key in ("start-address", "end-address"):
        _require(key in pairs, "format error\n%s: property is missing and it is not optional" % key)
        _require(perl_match(r"(?:%s)|(?:%s)" % (IPV4_RE, IPV6_RE), pairs[key]),
                 "format error\n%s: invalid format - value does not look like a valid IP address" % key)
