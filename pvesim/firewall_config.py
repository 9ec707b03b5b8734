"""Firewall configuration model: option tables, rule verification, macros, address and port specs,
digests and the .fw file writer, with PVE's messages.

Facts from proxmox/pve-firewall at 6f1311f3 (pve-firewall 6.0.4, PVE 9; the API of PVE 8.4 is the same
apart from schema defaults), src/PVE/Firewall.pm unless another file is named:
- name patterns and lengths (`$security_group_name_pattern`, `$max_group_name_length` = 18, ...);
- `$pve_fw_macros` / `$pve_ipv6fw_macros` and `init_firewall_macros` (names, descriptions, templates);
- `$icmp_type_names` / `$icmpv6_type_names`, `$PROTOCOLS_WITH_PORTS`, `$pve_fw_helpers`;
- `parse_address_list`, `parse_port_name_number_or_range`, `pve_fw_verify_*`, `pve_verify_ip_or_cidr*`,
  `clean_cidr`, `parse_ip_or_cidr`: the formats the schema names, registered with pvesim.formats so the
  dispatcher checks them like JSONSchema does;
- `verify_rule` (with `$apply_macro`, `$rule_env_direction_lookup`, `$rule_env_iface_lookup`),
  `copy_rule_data`, `delete_rule_properties`, `copy_opject_with_digest`, `copy_list_with_digest`;
- `$format_rules`, `$format_options`, `$format_aliases`, `$format_ipsets`, `save_*fw_conf` and
  `generic_fw_config_parser` (what a written file reads back as: the state keeps that form).
"""

import copy
import hashlib
import ipaddress
import re
import time

from pvesim.errors import ParamError, die
from pvesim.formats import FormatError, IPV4_RE, IPV6_RE, perl_match, register, split_list

NAME_PATTERN = r"[A-Za-z][A-Za-z0-9\-\_]+"  # security group, ipset and alias names
MAX_GROUP_NAME_LENGTH = 18
MAX_IPSET_NAME_LENGTH = 64
MAX_ALIAS_NAME_LENGTH = 64
LOG_LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog")
CONNTRACK_HELPERS = ("amanda", "ftp", "irc", "netbios-ns", "pptp", "sane", "sip", "snmp", "tftp")
PROTOCOLS_WITH_PORTS = ("udp", "17", "udplite", "136", "tcp", "6", "dccp", "33", "sctp", "132")
ICMP_PROTOCOLS = ("icmp", "icmpv6", "ipv6-icmp")
# parse_clusterfw_option: a stored `enable` above 1 (the anti-lockout timestamp) reads back as 0
# once it is older than this many seconds.
ENABLE_TIMESTAMP_LIFETIME = 60

# Options per scope ($cluster_option_properties, $host_option_properties, $vm_option_properties,
# $vnet_option_properties); the schema holds their types and ranges.
CLUSTER_OPTIONS = ("ebtables", "enable", "log_ratelimit", "policy_forward", "policy_in", "policy_out")
HOST_OPTIONS = (
    "enable", "log_level_forward", "log_level_in", "log_level_out", "log_nf_conntrack", "ndp", "nf_conntrack_allow_invalid",
    "nf_conntrack_helpers", "nf_conntrack_max", "nf_conntrack_tcp_timeout_established", "nf_conntrack_tcp_timeout_syn_recv",
    "nftables", "nosmurfs", "protection_synflood", "protection_synflood_burst", "protection_synflood_rate", "smurf_log_level",
    "tcp_flags_log_level", "tcpflags")
VM_OPTIONS = ("dhcp", "enable", "ipfilter", "log_level_in", "log_level_out", "macfilter", "ndp", "policy_in", "policy_out", "radv")
VNET_OPTIONS = ("enable", "log_level_forward", "policy_forward")

# $rule_properties: what copy_rule_data copies and `delete` may name
RULE_PROPERTIES = ("pos", "digest", "type", "action", "macro", "iface", "source", "dest", "proto", "enable", "log", "sport",
                   "dport", "comment", "icmp-type")
RULE_TYPES = {  # $rule_env_direction_lookup
    "ct": ("in", "out", "group"), "vm": ("in", "out", "group"), "group": ("in", "out", "forward"),
    "cluster": ("in", "out", "forward", "group"), "host": ("in", "out", "forward", "group"), "vnet": ("forward", "group"),
}
IFACE_ALLOWED = {"ct": True, "vm": True, "group": False, "vnet": False, "cluster": True, "host": True}  # $rule_env_iface_lookup


# $pve_fw_macros and $pve_ipv6fw_macros: name -> (description, ((proto, dport, sport), ...)); the action is always
# the rule's (PARAM). IPV6_MACROS replace a macro's templates in IPv6 rules; DHCPv6 and NeighborDiscovery exist only there.
MACROS = {
    'Amanda': ('Amanda Backup', (('udp', '10080', None), ('tcp', '10080', None),)),
    'Auth': ('Auth (identd) traffic', (('tcp', '113', None),)),
    'BGP': ('Border Gateway Protocol traffic', (('tcp', '179', None),)),
    'BitTorrent': ('BitTorrent traffic for BitTorrent 3.1 and earlier', (('tcp', '6881:6889', None), ('udp', '6881', None),)),
    'BitTorrent32': ('BitTorrent traffic for BitTorrent 3.2 and later', (('tcp', '6881:6999', None), ('udp', '6881', None),)),
    'Ceph': ('Ceph Storage Cluster traffic (Ceph Monitors, OSD & MDS Daemons)', (
        ('tcp', '6789', None), ('tcp', '3300', None), ('tcp', '6800:7300', None),)),
    'Citrix': ('Citrix/ICA traffic (ICA, ICA Browser, CGP)', (('tcp', '1494', None), ('udp', '1604', None), ('tcp', '2598', None),)),
    'CVS': ('Concurrent Versions System pserver traffic', (('tcp', '2401', None),)),
    'DAAP': ('Digital Audio Access Protocol traffic (iTunes, Rythmbox daemons)', (('tcp', '3689', None), ('udp', '3689', None),)),
    'DCC': ('Distributed Checksum Clearinghouse spam filtering mechanism', (('tcp', '6277', None),)),
    'DHCPfwd': ('Forwarded DHCP traffic', (('udp', '67:68', '67:68'),)),
    'Distcc': ('Distributed Compiler service', (('tcp', '3632', None),)),
    'DNS': ('Domain Name System traffic (upd and tcp)', (('udp', '53', None), ('tcp', '53', None),)),
    'Finger': ('Finger protocol (RFC 742)', (('tcp', '79', None),)),
    'FTP': ('File Transfer Protocol', (('tcp', '21', None),)),
    'Git': ('Git distributed revision control traffic', (('tcp', '9418', None),)),
    'GNUnet': ('GNUnet secure peer-to-peer networking traffic', (
        ('tcp', '2086', None), ('udp', '2086', None), ('tcp', '1080', None), ('udp', '1080', None),)),
    'GRE': ('Generic Routing Encapsulation tunneling protocol', (('47', None, None),)),
    'HKP': ('OpenPGP HTTP key server protocol traffic', (('tcp', '11371', None),)),
    'HTTP': ('Hypertext Transfer Protocol (WWW)', (('tcp', '80', None),)),
    'HTTPS': ('Hypertext Transfer Protocol (WWW) over SSL', (('tcp', '443', None),)),
    'ICPV2': ('Internet Cache Protocol V2 (Squid) traffic', (('udp', '3130', None),)),
    'ICQ': ('AOL Instant Messenger traffic', (('tcp', '5190', None),)),
    'IMAP': ('Internet Message Access Protocol', (('tcp', '143', None),)),
    'IMAPS': ('Internet Message Access Protocol over SSL', (('tcp', '993', None),)),
    'IPIP': ('IPIP capsulation traffic', (('94', None, None),)),
    'IPsec': ('IPsec traffic', (('udp', '500', '500'), ('50', None, None),)),
    'IPsecah': ('IPsec authentication (AH) traffic', (('udp', '500', '500'), ('51', None, None),)),
    'IPsecnat': ('IPsec traffic and Nat-Traversal', (('udp', '500', None), ('udp', '4500', None), ('50', None, None),)),
    'IRC': ('Internet Relay Chat traffic', (('tcp', '6667', None),)),
    'Jetdirect': ('HP Jetdirect printing', (('tcp', '9100', None),)),
    'L2TP': ('Layer 2 Tunneling Protocol traffic', (('udp', '1701', None),)),
    'LDAP': ('Lightweight Directory Access Protocol traffic', (('tcp', '389', None),)),
    'LDAPS': ('Secure Lightweight Directory Access Protocol traffic', (('tcp', '636', None),)),
    'Mail': ('Mail traffic (SMTP, SMTPS, Submission)', (('tcp', '25', None), ('tcp', '465', None), ('tcp', '587', None),)),
    'MDNS': ('Multicast DNS', (('udp', '5353', None),)),
    'MSNP': ('Microsoft Notification Protocol', (('tcp', '1863', None),)),
    'MSSQL': ('Microsoft SQL Server', (('tcp', '1433', None),)),
    'Munin': ('Munin networked resource monitoring traffic', (('tcp', '4949', None),)),
    'MySQL': ('MySQL server', (('tcp', '3306', None),)),
    'NNTP': ('NNTP traffic (Usenet).', (('tcp', '119', None),)),
    'NNTPS': ('Encrypted NNTP traffic (Usenet)', (('tcp', '563', None),)),
    'NTP': ('Network Time Protocol (ntpd)', (('udp', '123', None),)),
    'OpenVPN': ('OpenVPN traffic', (('udp', '1194', None),)),
    'OSPF': ('OSPF multicast traffic', (('89', None, None),)),
    'PCA': ('Symantec PCAnywere (tm)', (('udp', '5632', None), ('tcp', '5631', None),)),
    'Ping': ('ICMP echo request', (('icmp', 'echo-request', None),)),
    'PMG': ('Proxmox Mail Gateway web interface', (('tcp', '8006', None),)),
    'POP3': ('POP3 traffic', (('tcp', '110', None),)),
    'POP3S': ('Encrypted POP3 traffic', (('tcp', '995', None),)),
    'PostgreSQL': ('PostgreSQL server', (('tcp', '5432', None),)),
    'PPtP': ('Point-to-Point Tunneling Protocol', (('47', None, None), ('tcp', '1723', None),)),
    'Printer': ('Line Printer protocol printing', (('tcp', '515', None),)),
    'Razor': ('Razor Antispam System', (('tcp', '2703', None),)),
    'Rdate': ('Remote time retrieval (rdate)', (('tcp', '37', None),)),
    'RDP': ('Microsoft Remote Desktop Protocol traffic', (('tcp', '3389', None),)),
    'RIP': ('Routing Information Protocol (bidirectional)', (('udp', '520', None),)),
    'RNDC': ('BIND remote management protocol', (('tcp', '953', None),)),
    'Rsync': ('Rsync server', (('tcp', '873', None),)),
    'SANE': ('SANE network scanning', (('tcp', '6566', None),)),
    'SixXS': ('SixXS IPv6 Deployment and Tunnel Broker', (
        ('tcp', '3874', None), ('udp', '3740', None), ('41', None, None), ('udp', '5072,8374', None),)),
    'SMB': ('Microsoft SMB traffic', (
        ('udp', '135,445', None), ('udp', '137:139', None), ('udp', '1024:65535', '137'), ('tcp', '135,139,445', None),)),
    'SMBswat': ('Samba Web Administration Tool', (('tcp', '901', None),)),
    'SMTP': ('Simple Mail Transfer Protocol', (('tcp', '25', None),)),
    'SMTPS': ('Encrypted Simple Mail Transfer Protocol', (('tcp', '465', None),)),
    'SNMP': ('Simple Network Management Protocol', (('udp', '161:162', None), ('tcp', '161', None),)),
    'SPAMD': ('Spam Assassin SPAMD traffic', (('tcp', '783', None),)),
    'SPICEproxy': ('Proxmox VE SPICE display proxy traffic', (('tcp', '3128', None),)),
    'Squid': ('Squid web proxy traffic', (('tcp', '3128', None),)),
    'SSH': ('Secure shell traffic', (('tcp', '22', None),)),
    'Submission': ('Mail message submission traffic', (('tcp', '587', None),)),
    'SVN': ('Subversion server (svnserve)', (('tcp', '3690', None),)),
    'Syslog': ('Syslog protocol (RFC 5424) traffic', (('udp', '514', None), ('tcp', '514', None),)),
    'Telnet': ('Telnet traffic', (('tcp', '23', None),)),
    'Telnets': ('Telnet over SSL', (('tcp', '992', None),)),
    'TFTP': ('Trivial File Transfer Protocol traffic', (('udp', '69', None),)),
    'Time': ('RFC 868 Time protocol', (('tcp', '37', None),)),
    'Trcrt': ('Traceroute (for up to 30 hops) traffic', (('udp', '33434:33524', None), ('icmp', 'echo-request', None),)),
    'VNC': ("VNC traffic for VNC display's 0 - 99", (('tcp', '5900:5999', None),)),
    'VNCL': ('VNC traffic from Vncservers to Vncviewers in listen mode', (('tcp', '5500', None),)),
    'Web': ('WWW traffic (HTTP and HTTPS)', (('tcp', '80', None), ('tcp', '443', None),)),
    'Webcache': ('Web Cache/Proxy traffic (port 8080)', (('tcp', '8080', None),)),
    'Webmin': ('Webmin traffic', (('tcp', '10000', None),)),
    'Whois': ('Whois (nicname, RFC 3912) traffic', (('tcp', '43', None),)),
}
IPV6_MACROS = {
    'DHCPv6': ('DHCPv6 traffic', (('udp', '546:547', '546:547'),)),
    'NeighborDiscovery': ('IPv6 neighbor solicitation, neighbor and router advertisement', (
        ('icmpv6', 'router-solicitation', None), ('icmpv6', 'router-advertisement', None), ('icmpv6', 'neighbor-solicitation', None),
        ('icmpv6', 'neighbor-advertisement', None),)),
    'Ping': (None, (('icmpv6', 'echo-request', None),)),
    'Trcrt': (None, (('udp', '33434:33524', None), ('icmpv6', 'echo-request', None),)),
}
ICMP_TYPES = (
    'TOS-host-redirect', 'TOS-host-unreachable', 'TOS-network-redirect', 'TOS-network-unreachable', 'address-mask-reply',
    'address-mask-request', 'any', 'communication-prohibited', 'destination-unreachable', 'echo-reply', 'echo-request',
    'fragmentation-needed', 'host-precedence-violation', 'host-prohibited', 'host-redirect', 'host-unknown', 'host-unreachable',
    'ip-header-bad', 'network-prohibited', 'network-redirect', 'network-unknown', 'network-unreachable', 'parameter-problem',
    'port-unreachable', 'precedence-cutoff', 'protocol-unreachable', 'redirect', 'required-option-missing', 'router-advertisement',
    'router-solicitation', 'source-quench', 'source-route-failed', 'time-exceeded', 'timestamp-reply', 'timestamp-request',
    'ttl-zero-during-reassembly', 'ttl-zero-during-transit')
ICMPV6_TYPES = (
    'address-unreachable', 'bad-header', 'beyond-scope', 'communication-prohibited', 'destination-unreachable', 'echo-reply',
    'echo-request', 'failed-policy', 'neighbor-advertisement', 'neighbor-solicitation', 'neighbour-advertisement', 'neighbour-solicitation',
    'no-route', 'packet-too-big', 'parameter-problem', 'port-unreachable', 'redirect', 'reject-route', 'router-advertisement',
    'router-solicitation', 'time-exceeded', 'ttl-zero-during-reassembly', 'ttl-zero-during-transit', 'unknown-header-type', 'unknown-option')


# -- /etc/services and /etc/protocols (get_etc_services, parse_protocol_file) -----------------------
# PVE reads the node's own files (Debian netbase); the simulator reads the files of the machine it
# runs on, which are netbase's too on Debian and Ubuntu.
_ETC_CACHE = {}


def _etc_names(filename, line_re):
    if filename not in _ETC_CACHE:
        names, ids = set(), set()
        try:
            with open(filename, encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    match = re.match(line_re, line.rstrip("\n"))
                    if match and not line.startswith("#"):
                        names.add(match.group(1))
                        ids.add(match.group(2))
        except OSError:
            pass
        _ETC_CACHE[filename] = (names, ids)
    return _ETC_CACHE[filename]


def service_names():
    """get_etc_services byname: `<name> <port>/(tcp|udp|sctp)` lines."""
    return _etc_names("/etc/services", r"^(\S+)\s+(\S+)/(?:tcp|udp|sctp).*$")[0]


def known_protocol(proto):
    """get_etc_protocols: a name or number of /etc/protocols, plus `icmpv6`."""
    names, ids = _etc_names("/etc/protocols", r"^(\S+)\s+(\d+)(?:\s+.*)?$")
    return proto == "icmpv6" or proto in names or proto in ids


# -- addresses ---------------------------------------------------------------------------------------
def _net_ip(text):
    """Net::IP->new for one list element: (ip version, error text or None)."""
    if "-" in text:
        begin, _dash, end = (part.strip() for part in text.partition("-"))
        try:
            first, last = ipaddress.ip_address(begin), ipaddress.ip_address(end)
        except ValueError:
            return None, "Cannot determine IP version for %s" % text
        if first.version != last.version or first > last:
            return None, "Begin address is greater than End address %s - %s" % (begin, end)
        return first.version, None
    address, _slash, length = text.partition("/")
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None, "Cannot determine IP version for %s" % text
    if length:
        bits = 32 if parsed.version == 4 else 128
        if not length.isdigit() or int(length) > bits:
            return None, "Invalid prefix length /%s" % length
        binary = format(int(parsed), "0%db" % bits)
        if "1" in binary[int(length):]:
            return None, "Invalid prefix %s/%s" % (binary, length)
    return parsed.version, None


def parse_address_list(text):
    """parse_address_list: the IP version of an address spec (None for ipset and alias references)."""
    if re.match(r"^\+\S+$", text):
        if len(text) > MAX_IPSET_NAME_LENGTH + 1:
            raise FormatError("ipset name too long")
        return None
    if perl_match(r"(dc/|guest/)?%s" % NAME_PATTERN, text):
        if len(text) > MAX_ALIAS_NAME_LENGTH:
            raise FormatError("alias name too long")
        return None
    elements = text.split(",")
    if any(not element for element in elements):
        raise FormatError("extraneous commas in list")
    version, has_range = None, False
    for element in elements:
        element_version, error = _net_ip(element)
        if error:
            raise FormatError("invalid IP address: %s" % error)
        has_range = has_range or "-" in element
        if version and element_version != version:
            raise FormatError("detected mixed ipv4/ipv6 addresses in address list '%s'" % text)
        version = element_version
    if has_range and len(elements) > 1:
        raise FormatError("you can't use a range in a list")
    return version


@register("pve-fw-addr-spec")
def verify_addr_spec(value):
    """pve_fw_verify_addr_spec."""
    parse_address_list(value)


def parse_ports(text, dport):
    """parse_port_name_number_or_range; `dport` allows ICMP type names (they used to live in dport)."""
    elements = text.split(",")
    if any(not element for element in elements):
        raise FormatError("extraneous commas in list")
    count, icmp_port = 0, False
    for item in elements:
        match = re.match(r"^([0-9]+):([0-9]+)$", item)
        if match:
            count += 2
            first, last = int(match.group(1)), int(match.group(2))
            for port in match.groups():
                if int(port) > 65535:
                    raise FormatError("invalid port '%s'" % port)
            if first > last:
                raise FormatError("backwards range '%s:%s' not allowed, did you mean '%s:%s'?" % (first, last, last, first))
        elif re.match(r"^[0-9]+$", item):
            count += 1
            if int(item) > 65535:
                raise FormatError("invalid port '%s'" % item)
        elif dport and (item in ICMP_TYPES or item in ICMPV6_TYPES):
            icmp_port = True
        elif item not in service_names():
            raise FormatError("invalid port '%s'" % item)
    if icmp_port and count > 0:
        raise FormatError("ICMP ports not allowed in port range")
    # a range counts as two "numbers"
    if count > 15:
        raise FormatError("too many entries in port list (> 15 numbers)")


@register("pve-fw-sport-spec")
def verify_sport_spec(value):
    """pve_fw_verify_sport_spec."""
    parse_ports(value, False)


@register("pve-fw-dport-spec")
def verify_dport_spec(value):
    """pve_fw_verify_dport_spec."""
    parse_ports(value, True)


@register("pve-fw-protocol-spec")
def verify_protocol_spec(value):
    """pve_fw_verify_protocol_spec."""
    if value and not known_protocol(value):
        raise FormatError("unknown protocol '%s'" % value)


@register("pve-fw-icmp-type-spec")
def verify_icmp_type_spec(value):
    """pve_fw_verify_icmp_type_spec."""
    if value not in ICMP_TYPES and value not in ICMPV6_TYPES and value != "":
        raise FormatError("invalid icmp-type value '%s'" % value)


@register("pve-fw-conntrack-helper")
def verify_conntrack_helper(value):
    """pve_fw_verify_conntrack_helper (its die has no newline: Perl appends the source position)."""
    helpers = value.split(",")
    if any(not helper for helper in helpers):
        raise FormatError("extraneous commas in list")
    for helper in helpers:
        if helper not in CONNTRACK_HELPERS:
            raise FormatError("unknown helper %s at /usr/share/perl5/PVE/Firewall.pm line 1168." % helper)


def clean_cidr(cidr):
    """clean_cidr: host bits cleared, IPv6 compressed."""
    address, _slash, length = cidr.partition("/")
    if not length:
        return cidr
    network = ipaddress.ip_network("%s/%s" % (address, length), strict=False)
    return "%s/%s" % (network.network_address, length)


@register("IPorCIDR")
def verify_ip_or_cidr(value):
    """pve_verify_ip_or_cidr."""
    if not perl_match(r"(?:%s|%s)(?:/\d+)?" % (IPV6_RE, IPV4_RE), value):
        raise FormatError("value does not look like a valid IP address or CIDR network")
    _version, error = _net_ip(clean_cidr(value) if "/" in value and _prefix_ok(value) else value)
    if error:
        raise FormatError(error)


def _prefix_ok(value):
    address, _slash, length = value.partition("/")
    return int(length) <= (32 if ":" not in address else 128)


@register("IPorCIDRorAlias")
def verify_ip_or_cidr_or_alias(value):
    """pve_verify_ip_or_cidr_or_alias: an alias name, optionally dc/ or guest/ scoped, or IPorCIDR."""
    if perl_match(r"(dc/|guest/)?(?:%s)" % NAME_PATTERN, value):
        return
    verify_ip_or_cidr(value)


def parse_ip_or_cidr(cidr):
    """parse_ip_or_cidr: (cidr without /32 or /128, ip version)."""
    if perl_match(r"(?:%s)(/(\d+))?" % IPV6_RE, cidr):
        return re.sub(r"/128$", "", cidr), 6
    if perl_match(r"(?:%s)(/(\d+))?" % IPV4_RE, cidr):
        return re.sub(r"/32$", "", cidr), 4
    raise die("value does not look like a valid IP address or CIDR network\n")


# -- digests -----------------------------------------------------------------------------------------
def _perl_text(value):
    return str(value)


def object_digest(obj):
    """copy_opject_with_digest: SHA1 over `key:value\\n` of the defined keys, sorted."""
    sha = hashlib.sha1()
    for key in sorted(obj):
        if obj[key] is not None:
            sha.update(("%s:%s\n" % (key, _perl_text(obj[key]))).encode("utf-8"))
    return sha.hexdigest()


def list_digest(entries):
    """copy_list_with_digest: SHA1 over every entry's sorted `key:value\\n` (references skipped)."""
    sha = hashlib.sha1()
    for entry in entries:
        for key in sorted(entry):
            value = entry[key]
            if value is not None and not isinstance(value, (dict, list)):
                sha.update(("%s:%s\n" % (key, _perl_text(value))).encode("utf-8"))
    return sha.hexdigest()


def with_list_digest(entries):
    """copy_list_with_digest: copies of the entries with the list's digest in each."""
    result_digest = list_digest(entries)
    return [dict(copy.deepcopy(entry), digest=result_digest) for entry in entries], result_digest


def assert_if_modified(current, given):
    """PVE::Tools::assert_if_modified."""
    if given and current and given != current:
        raise die("detected modified configuration - file changed by other user? Try again.\n")


def cluster_options_view(options, now=None):
    """load_clusterfw_conf via parse_clusterfw_option: an anti-lockout `enable` older than 60 s reads as 0."""
    result = dict(options)
    enable = result.get("enable")
    if isinstance(enable, int) and enable > 1 and ((now or time.time()) - enable) > ENABLE_TIMESTAMP_LIFETIME:
        result["enable"] = 0
    return result


def update_options(options, allowed, params, delete):
    """The options PUT of Cluster.pm, Host.pm, VM.pm and Vnet.pm: `delete` first, then the set keys."""
    for option in split_list(delete):
        if option not in allowed:
            raise ParamError({"delete": "no such option '%s'" % option})
        options.pop(option, None)
    for key in allowed:
        if params.get(key) is not None:
            options[key] = params[key]


# -- rules -------------------------------------------------------------------------------------------
def copy_rule_data(rule, params):
    """copy_rule_data: every rule property given; '' or '-' deletes it."""
    for key in RULE_PROPERTIES:
        value = params.get(key)
        if value is None:
            continue
        if str(value) in ("", "-"):
            rule.pop(key, None)
        else:
            rule[key] = value
    return rule


def delete_rule_properties(rule, delete):
    """delete_rule_properties."""
    for option in split_list(delete):
        if option not in RULE_PROPERTIES:
            raise ParamError({"delete": "no such property ('%s')" % option})
        if option in ("type", "action"):
            raise ParamError({"delete": "unable to delete required property '%s'" % option})
        rule.pop(option, None)


MACRO_NAMES = {name.lower(): name for name in list(MACROS) + [name for name in IPV6_MACROS if IPV6_MACROS[name][0]]}


def macro_list():
    """GET /cluster/firewall/macros (Cluster.pm get_macros): every parsed macro with its description.

    PVE lists them in Perl hash order; the simulator sorts them by name.
    """
    return [{"macro": name, "descr": (MACROS.get(name) or IPV6_MACROS[name])[0] or name}
            for name in sorted(MACRO_NAMES.values(), key=str.lower)]


def _macro_conflicts(name, rule, ipversion):
    """$apply_macro with verify: a rule value the macro's template also sets must agree with it."""
    templates = (MACROS.get(name) or IPV6_MACROS[name])[1]
    if ipversion == 6 and name in IPV6_MACROS:
        templates = IPV6_MACROS[name][1]
    if ipversion and name in IPV6_MACROS and name not in MACROS and ipversion != 6:
        return None  # an IPv6-only macro in an IPv4 rule is skipped
    for proto, dport, sport in templates:
        template = {"proto": proto, "dport": dport, "sport": sport}
        for key in sorted(rule):
            if template.get(key) is not None and str(rule[key]) != template[key]:
                return key, "parameter '%s' already define in macro (value = '%s')" % (key, template[key])
    return None


class Scope:  # pylint: disable=too-few-public-methods
    """What verify_rule consults: the cluster config, the rule's own config and the SDN IP sets.

    `cluster` is None for cluster and group rules, whose own config (`local`) is cluster.fw, like
    the load_config of ClusterRules and GroupRules.
    """

    def __init__(self, cluster, local, sdn_ipsets):
        self.cluster = cluster
        self.local = local
        self.sdn_ipsets = sdn_ipsets

    def ipset_exists(self, name):
        return any(name in (conf or {}).get("ipset", {}) for conf in (self.cluster, self.local)) or name in self.sdn_ipsets

    def alias(self, name, scope):
        """resolve_alias's lookup: the local config first unless dc/, then the cluster unless guest/."""
        cluster, local = (self.local, None) if self.cluster is None else (self.cluster, self.local)
        entry = None
        if scope != "dc/" and local:
            entry = local.get("aliases", {}).get(name.lower())
        if scope != "guest/" and not entry and cluster:
            entry = cluster.get("aliases", {}).get(name.lower())
        return entry

    def alias_exists(self, name):
        return any(name.lower() in (conf or {}).get("aliases", {}) for conf in (self.cluster, self.local))


class _Verifier:  # pylint: disable=too-few-public-methods
    """verify_rule: raises the first error as a parameter exception, or (noerr) collects them."""

    def __init__(self, noerr):
        self.noerr = noerr
        self.errors = {}
        self.ipversion = None

    def add(self, param, message):
        message = message.rstrip("\n")
        if not self.noerr:
            raise ParamError({param: message})
        self.errors.setdefault(param, message)

    def set_version(self, version):
        if version:
            if self.ipversion and version != self.ipversion:
                raise die("detected mixed ipv4/ipv6 addresses in rule\n")
            self.ipversion = version


def verify_rule(rule, scope, rule_env, noerr=False):
    """verify_rule: checks in PVE's order, normalises the macro name, returns the derived ipversion."""
    check = _Verifier(noerr)
    rule_type, action = rule.get("type"), rule.get("action")
    if not rule_type:
        check.add("type", "missing property")
    if not action:
        check.add("action", "missing property")
    if rule_type:
        if rule_type not in RULE_TYPES[rule_env]:
            check.add("type", "invalid rule type '%s' for rule_env '%s'" % (rule_type, rule_env))
        if rule_type in ("in", "out", "forward"):
            if rule_type == "forward" and action == "REJECT":
                check.add("action", "cannot define REJECT rules on forward chain")
            if action and action not in ("ACCEPT", "DROP", "REJECT"):
                check.add("action", "unknown action '%s'" % action)
        elif rule_type == "group":
            if rule_env == "group":
                check.add("type", "security groups not allowed")
            if action and not perl_match(NAME_PATTERN, action):
                check.add("action", "invalid characters in security group name")
        else:
            check.add("type", "unknown rule type '%s'" % rule_type)
    _verify_iface(check, rule, rule_env)
    if rule.get("macro"):
        preferred = MACRO_NAMES.get(rule["macro"].lower())
        if preferred:
            rule["macro"] = preferred
        else:
            check.add("macro", "unknown macro '%s'" % rule["macro"])
    is_icmp = _verify_proto_and_ports(check, rule)
    _verify_icmp_type(check, rule, is_icmp)
    for key in ("source", "dest"):
        if rule.get(key):
            try:
                check.set_version(parse_address_list(rule[key]))
            except FormatError as error:
                check.add(key, str(error))
            _check_reference(check, rule, key, scope)
    if rule.get("macro") and not check.errors:
        conflict = _macro_conflicts(rule["macro"], rule, check.ipversion)
        if conflict:
            check.add(*conflict)
    return check.ipversion, check.errors


def _verify_iface(check, rule, rule_env):
    iface = rule.get("iface")
    if not iface:
        return
    if not IFACE_ALLOWED[rule_env]:
        check.add("type", "parameter -i not allowed for this rule type")
    if not perl_match(r"[a-z][a-z0-9_]{1,20}([:\.]\d+)?", iface, re.I):
        check.add("iface", "invalid network interface name '%s'" % iface)
    if rule_env in ("vm", "ct") and not re.match(r"^net(\d+)$", iface):
        check.add("iface", "value does not match the regex pattern 'net\\d+'")


def _verify_proto_and_ports(check, rule):
    proto = rule.get("proto")
    is_icmp = False
    if proto:
        if not known_protocol(proto):
            check.add("proto", "unknown protocol '%s'" % proto)
        check.set_version({"icmp": 4, "icmpv6": 6, "ipv6-icmp": 6}.get(proto))
        is_icmp = proto in ICMP_PROTOCOLS
    if rule.get("dport"):
        try:
            parse_ports(rule["dport"], is_icmp)
        except FormatError as error:
            check.add("dport", str(error))
        if not proto:
            check.add("proto", "missing property - 'dport' requires this property")
        if proto not in PROTOCOLS_WITH_PORTS and not is_icmp:
            check.add("dport", "protocol '%s' does not support ports" % (proto or ""))
    return is_icmp


def _verify_icmp_type(check, rule, is_icmp):
    icmp_type = rule.get("icmp-type")
    proto = rule.get("proto") or ""
    if icmp_type:
        if not is_icmp:
            check.add("proto", "missing property - 'icmp-type' requires this property")
        if rule.get("dport"):
            check.add("icmp-type", "'icmp-type' cannot be specified together with 'dport'")
        if proto == "icmp" and icmp_type not in ICMP_TYPES:
            check.add("icmp-type", "invalid icmp-type '%s' for proto 'icmp'" % icmp_type)
        elif proto in ("icmpv6", "ipv6-icmp") and icmp_type not in ICMPV6_TYPES:
            check.add("icmp-type", "invalid icmp-type '%s' for proto '%s'" % (icmp_type, proto))
    if rule.get("sport"):
        try:
            parse_ports(rule["sport"], False)
        except FormatError as error:
            check.add("sport", str(error))
        if not rule.get("proto"):
            check.add("proto", "missing property - 'sport' requires this property")
        if proto not in PROTOCOLS_WITH_PORTS:
            check.add("sport", "protocol '%s' does not support ports" % proto)


def _check_reference(check, rule, key, scope):
    """verify_rule's check_ipset_or_alias_property: the IP set or alias must exist somewhere in reach."""
    value = rule[key]
    if value.startswith("+"):
        match = re.match(r"^\+(guest/|dc/|sdn/)?(%s)$" % NAME_PATTERN, value)
        if not match:
            check.add(key, "invalid ipset name '%s'" % value)
        elif not scope.ipset_exists(match.group(2)):
            check.add(key, "no such ipset '%s'" % match.group(2))
        return
    match = re.match(r"^(guest/|dc/)?(%s)$" % NAME_PATTERN, value)
    if match:
        if not scope.alias_exists(match.group(2)):
            check.add(key, "no such alias '%s'" % value)
        entry = scope.alias(match.group(2), match.group(1) or "")
        check.set_version((entry or {}).get("ipversion"))


def stored_rule(rule, allow_iface):
    """The rule as $format_rules writes it and parse_fw_rule reads it back.

    `enable` becomes 0/1; a group rule keeps only its iface; rules of security groups lose `iface`
    (written without it); a blank comment is not written; pos, digest and ipversion are not stored.
    """
    result = {"type": rule["type"], "action": rule["action"], "enable": 0 if "enable" in rule and not int(rule["enable"]) else 1}
    if rule["type"] != "group" and rule.get("macro"):
        result["macro"] = rule["macro"]
    if allow_iface and rule.get("iface"):
        result["iface"] = rule["iface"]
    if rule["type"] != "group":
        for key in ("source", "dest", "proto", "dport", "sport", "log", "icmp-type"):
            if rule.get(key) not in (None, ""):
                result[key] = str(rule[key])
    comment = rule.get("comment")
    if comment and comment.strip():
        result["comment"] = comment.strip()
    return result


# -- the .fw writer ----------------------------------------------------------------------------------
def format_rules(rules):
    """$format_rules."""
    lines = []
    for rule in rules:
        line = "|" if not rule.get("enable", 1) else ""
        line += rule["type"].upper()
        line += " %s(%s)" % (rule["macro"], rule["action"]) if rule.get("macro") else " " + rule["action"]
        if rule.get("iface"):
            line += " -i " + rule["iface"]
        if rule["type"] != "group":
            for key, flag in (("source", "-source"), ("dest", "-dest"), ("proto", "-p"), ("dport", "-dport"),
                              ("sport", "-sport"), ("log", "-log"), ("icmp-type", "-icmp-type")):
                if rule.get(key):
                    line += " %s %s" % (flag, rule[key])
        if rule.get("comment"):
            line += " # " + rule["comment"]
        lines.append(line + "\n")
    return "".join(lines)


def format_options(options):
    """$format_options (PVE writes them in hash order; sorted here)."""
    return "[OPTIONS]\n\n" + "".join("%s: %s\n" % (key, options[key]) for key in sorted(options)) + "\n"


def format_aliases(aliases):
    """$format_aliases: sorted by the lower-cased name."""
    text = "[ALIASES]\n\n"
    for key in sorted(aliases):
        entry = aliases[key]
        text += "%s %s" % (entry["name"], entry["cidr"])
        if entry.get("comment"):
            text += " # " + entry["comment"]
        text += "\n"
    return text + "\n"


def format_ipsets(ipsets, comments):
    """$format_ipsets: sets by name, entries sorted by cidr, `!` for nomatch."""
    text = ""
    for name in sorted(ipsets):
        text += "[IPSET %s] # %s\n\n" % (name, comments[name]) if comments.get(name) else "[IPSET %s]\n\n" % name
        for entry in sort_ipset(ipsets[name]):
            text += ("!" if entry.get("nomatch") else "") + entry["cidr"]
            if entry.get("comment"):
                text += " # " + entry["comment"]
            text += "\n"
        text += "\n"
    return text


def sort_ipset(entries):
    """$format_ipsets: duplicates dropped (first wins), sorted by the cidr string."""
    unique = {}
    for entry in entries:
        unique.setdefault(entry["cidr"], entry)
    return [unique[cidr] for cidr in sorted(unique)]


def render_file(conf, groups=False):
    """save_clusterfw_conf / save_hostfw_conf / save_vmfw_conf / save_vnetfw_conf: "" means no file."""
    text = ""
    if conf.get("options"):
        text += format_options(conf["options"])
    if conf.get("aliases"):
        text += format_aliases(conf["aliases"])
    if conf.get("ipset"):
        text += format_ipsets(conf["ipset"], conf.get("ipset_comments", {}))
    if conf.get("rules"):
        text += "[RULES]\n\n" + format_rules(conf["rules"]) + "\n"
    if groups:
        for name in sorted(conf.get("groups", {})):
            comment = conf.get("group_comments", {}).get(name)
            text += "[group %s] # %s\n\n" % (name, comment) if comment else "[group %s]\n\n" % name
            text += format_rules(conf["groups"][name]) + "\n"
    return text
