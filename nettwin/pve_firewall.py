"""The PVE firewall in the network twin: the simulator's firewall state as one nftables ruleset per node.

PVE's own firewall does not run in the twin, so the twin enforces what the simulator holds the way
PVE 8.2+/9 with the nftables backend (proxmox/proxmox-firewall) would for guest traffic:

- a VNet's forward rules (`/cluster/sdn/vnets/<vnet>/firewall`) on traffic forwarded across that
  VNet's bridge, only when the cluster firewall and the VNet firewall are enabled;
- a guest NIC's firewall (`netN` with `firewall=1` and the guest's firewall enabled) with the guest's
  `in` rules on traffic to that port and its `out` rules on traffic from it;
- cluster IP sets (with `nomatch` entries), aliases, security groups (`group` rules jump to the
  group's chain for the rule's direction), macros, disabled rules skipped, `log` as a rate-limited
  log rule before the verdict.

Sources (facts, not code): proxmox/proxmox-firewall a7526593 proxmox-firewall/src/firewall.rs
(create_bridge_chain: `jump before-bridge`, the rules, a log rule, the policy; bridge-map keyed by
ibrname . obrname; create_guest_chain / handle_guest_options / create_guest_rules: pre-vm-in/out, the
dhcp/ndp/ra chains, the rules, the policy; create_group_chain), proxmox-firewall/src/rule.rs (a rule
per macro template; an IP set match is `@set` and `!= @set-nomatch`, once per IP family; a rule whose
IP set, alias or interface cannot be resolved is skipped, not fatal; REJECT towards a guest is a drop),
proxmox-firewall/resources/proxmox-firewall.nft (before-bridge, pre-vm-*, allow-icmp, the dhcp/ndp/ra
chains); proxmox/proxmox-ve-rs proxmox-ve-config/src/firewall/{cluster,guest,bridge}.rs (defaults:
cluster disabled; VNet disabled, policy_forward ACCEPT; guest disabled, policy_in DROP, policy_out
ACCEPT, dhcp and ndp allowed, radv blocked); pve-firewall src/PVE/Firewall.pm ($pve_fw_macros: the
macros, held by pvesim.firewall_config.MACROS; ipset/alias scopes dc/, guest/, sdn/).

How the twin's kernel forces the shape (nettwin/FIREWALL.md says more): it has no bridge-family
conntrack and no bridge reject, so bridged IPv4/IPv6 is handed to the inet family by br_netfilter
(`apply` sets net.bridge.bridge-nf-call-ip{,6}tables=1 inside the node's namespace) and filtered there
with conntrack; a bridge-family chain at the bridge forward hook records the guest port a frame came
in on and goes out of in the packet mark, which the inet chains read. Three inet base chains at the
forward hook keep PVE's three stages apart (guest out, VNet forward, guest in): an accept in one stage
passes the packet on to the next, as PVE's separate prerouting/forward/postrouting chains do.
REJECT is a drop.
"""

import ipaddress
import socket
import subprocess

from pvesim.firewall_config import IPV6_MACROS, MACRO_NAMES, MACROS

TABLE = "proxmox-firewall-guests"  # the inet table (upstream's name of its guest table)
PORT_TABLE = "proxmox-firewall-ports"  # the bridge table that marks guest ports
IN_PORT_SHIFT = 16
PORT_MASK = 0xFFFF
DEFAULT_LOG_RATE = ("1/second", 5)  # Firewall.pm log_ratelimit defaults: rate 1/second, burst 5
VERDICTS = {"ACCEPT": "accept", "DROP": "drop", "REJECT": "drop"}
NO_LOG = (None, "", "nolog")

# The chains PVE loads once (proxmox-firewall.nft); the ct verdict map of before-bridge/pre-vm-* drops
# invalid packets (host option nf_conntrack_allow_invalid defaults to 0).
STATIC_CHAINS = """\
    chain allow-icmp {
        icmp type { destination-unreachable, source-quench, time-exceeded } accept
        icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } accept
    }
    chain before-bridge {
        ct state vmap { established : accept, related : accept, invalid : drop }
    }
    chain pre-vm-out {
        ct state vmap { established : accept, related : accept, invalid : drop }
    }
    chain pre-vm-in {
        ct state vmap { established : accept, related : accept, invalid : drop }
    }
    chain allow-dhcp-in {
        udp sport . udp dport { 67 . 68, 547 . 546 } accept
    }
    chain block-dhcp-in {
        udp sport . udp dport { 67 . 68, 547 . 546 } drop
    }
    chain allow-dhcp-out {
        udp sport . udp dport { 68 . 67, 546 . 547 } accept
    }
    chain block-dhcp-out {
        udp sport . udp dport { 68 . 67, 546 . 547 } drop
    }
    chain allow-ndp-in {
        icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-router-advert, nd-neighbor-advert, nd-redirect } accept
    }
    chain block-ndp-in {
        icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-router-advert, nd-neighbor-advert, nd-redirect } drop
    }
    chain allow-ndp-out {
        icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept
    }
    chain block-ndp-out {
        icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } drop
    }
    chain allow-ra-out {
        icmpv6 type { nd-router-advert, nd-redirect } accept
    }
    chain block-ra-out {
        icmpv6 type { nd-router-advert, nd-redirect } drop
    }
"""


class Unresolvable(Exception):
    """A rule names an IP set, alias, group or interface that does not exist: the rule is skipped."""


# --- reading the simulator -------------------------------------------------------------------


def _get(session, path, **params):
    answer = session.api("GET", path, params=params or None)
    if answer.status_code != 200:
        raise RuntimeError("GET %s: %s %s" % (path, answer.status_code, answer.text))
    return answer.json()["data"]


def _ipsets(session, base):
    return {item["name"]: [{"cidr": entry["cidr"], "nomatch": bool(entry.get("nomatch"))} for entry in _get(session, "%s/ipset/%s" % (base, item["name"]))]
            for item in _get(session, base + "/ipset")}


def _aliases(session, base):
    return {item["name"].lower(): item["cidr"] for item in _get(session, base + "/aliases")}


def _options(session, path):
    return {key: value for key, value in _get(session, path).items() if key != "digest"}


def read_state(session):
    """The firewall state the twin enforces, read through the API of a running simulator.

    `session` is anything with `.api(method, path, params=...)` returning a requests.Response, such as
    pvesim.testing.ApiSession (the caller needs Sys.Audit, SDN.Audit and VM.Audit). The result is a plain
    dict (ruleset_for_node also takes one built by hand):

        {"cluster": {"options": {...}, "aliases": {lower-case name: cidr},
                     "ipsets": {name: [{"cidr", "nomatch"}]}, "groups": {name: [rule, ...]}},
         "vnets": {vnet: {"options": {...}, "rules": [rule, ...]}},
         "guests": {"<vmid>": {"options": {...}, "rules": [...], "aliases": {...}, "ipsets": {...},
                               "nics": {"net0": firewall=1 or not, ...}}}}

    A hand-built state may add "sdn_ipsets": {"<vnet>-all": [{"cidr", "nomatch"}], ...} for rules naming
    `+sdn/...` sets (read_state does not derive them; rules naming them are skipped without).

    A rule is the API's form (type, action, macro, source, dest, proto, dport, sport, icmp-type, iface,
    log, enable), rules in their order. VNets are those of the running SDN config (the VNet firewall
    API refuses the others); guests those of /cluster/resources.
    """
    cluster_base = "/cluster/firewall"
    state = {
        "cluster": {
            "options": _options(session, cluster_base + "/options"),
            "aliases": _aliases(session, cluster_base),
            "ipsets": _ipsets(session, cluster_base),
            "groups": {item["group"]: _get(session, "%s/groups/%s" % (cluster_base, item["group"]))
                       for item in _get(session, cluster_base + "/groups")},
        },
        "vnets": {},
        "guests": {},
    }
    for vnet in _get(session, "/cluster/sdn/vnets", running=1):
        base = "/cluster/sdn/vnets/%s/firewall" % vnet["vnet"]
        state["vnets"][vnet["vnet"]] = {"options": _options(session, base + "/options"), "rules": _get(session, base + "/rules")}
    for guest in _get(session, "/cluster/resources", type="vm"):
        guest_base = "/nodes/%s/%s/%s" % (guest["node"], guest["type"], guest["vmid"])
        base = guest_base + "/firewall"
        state["guests"][str(guest["vmid"])] = {
            "options": _options(session, base + "/options"), "rules": _get(session, base + "/rules"),
            "aliases": _aliases(session, base), "ipsets": _ipsets(session, base),
            "nics": nic_firewall(_get(session, guest_base + "/config"))}
    return state


def nic_firewall(config):
    """{"netN": True|False}: whether each NIC of a guest config has the firewall option (`firewall=1`)."""
    result = {}
    for key, value in config.items():
        if key.startswith("net") and key[3:].isdigit():
            options = dict(part.split("=", 1) for part in str(value).split(",") if "=" in part)
            result[key] = options.get("firewall") == "1"
    return result


# --- translation -----------------------------------------------------------------------------


def _enabled(options, default=False):
    value = (options or {}).get("enable")
    return default if value is None else bool(int(value))


def _set_name(family, scope, name, nomatch=False):
    """rule.rs SetName::ipset_name: v4-dc/<name>, v4-guest-<vmid>/<name>, v4-sdn/<name>, `-nomatch` for the exceptions."""
    return "v%d-%s/%s%s" % (family, scope, name, "-nomatch" if nomatch else "")


class _Env:  # pylint: disable=too-few-public-methods
    """Where a rule is translated: its direction, its guest (None for VNet and group rules) and the state."""

    def __init__(self, state, direction, vmid=None, ports=None, port_ids=None):
        self.state = state
        self.direction = direction
        self.vmid = vmid
        self.ports = ports or {}  # "netN" -> port name of this guest on this node
        self.port_ids = port_ids or {}  # port name -> its number in the packet mark

    def _guest(self):
        return self.state.get("guests", {}).get(str(self.vmid), {}) if self.vmid is not None else {}

    def ipset(self, reference):
        """(scope, name) of `+name`, `+dc/name`, `+guest/name`, `+sdn/name`: the guest's own set first for an unscoped name."""
        text = reference[1:]
        scope, _slash, name = text.rpartition("/")
        guest_sets = self._guest().get("ipsets", {})
        if scope == "sdn" and name in self.state.get("sdn_ipsets", {}):
            return "sdn", name
        if scope in ("", "guest") and name in guest_sets:
            return "guest-%s" % self.vmid, name
        if scope in ("", "dc") and name in self.state.get("cluster", {}).get("ipsets", {}):
            return "dc", name
        raise Unresolvable("no such ipset '%s'" % reference)

    def alias(self, reference):
        scope, _slash, name = reference.rpartition("/")
        name = name.lower()
        if scope in ("", "guest") and name in self._guest().get("aliases", {}):
            return self._guest()["aliases"][name]
        if scope in ("", "dc") and name in self.state.get("cluster", {}).get("aliases", {}):
            return self.state["cluster"]["aliases"][name]
        raise Unresolvable("no such alias '%s'" % reference)


def _network(text):
    return ipaddress.ip_network(text, strict=False)


def _address_match(spec, field, env):
    """[(family, [match texts])] for a source/dest spec: an IP set gives one per family, an address list one."""
    if spec.startswith("+"):
        scope, name = env.ipset(spec)
        return [(family, ["ip%s %s @%s" % ("" if family == 4 else "6", field, _set_name(family, scope, name)),
                          "ip%s %s != @%s" % ("" if family == 4 else "6", field, _set_name(family, scope, name, True))])
                for family in (4, 6)]
    elements = []
    if "-" in spec and "," not in spec and not _is_alias(spec):
        first, last = (part.strip() for part in spec.split("-", 1))
        family = ipaddress.ip_address(first).version
        elements.append("%s-%s" % (first, last))
    else:
        family = None
        for item in spec.split(","):
            text = env.alias(item) if _is_alias(item) else item
            network = _network(text)
            family = network.version
            elements.append(str(network.network_address) if network.prefixlen == network.max_prefixlen else str(network))
    value = elements[0] if len(elements) == 1 else "{ %s }" % ", ".join(elements)
    return [(family, ["ip%s %s %s" % ("" if family == 4 else "6", field, value)])]


def _is_alias(text):
    return bool(text) and (text[0].isalpha() and ":" not in text and not _looks_like_ip(text))


def _looks_like_ip(text):
    try:
        _network(text)
        return True
    except ValueError:
        return False


def _ports(text, proto):
    """`80,443`, `5405:5412`, service names -> nft's `80`, `{ 80, 443 }`, `5405-5412`."""
    items = []
    for item in str(text).split(","):
        if ":" in item:
            items.append(item.replace(":", "-"))
        elif item.isdigit():
            items.append(item)
        else:
            try:
                items.append(str(socket.getservbyname(item, proto if proto in ("tcp", "udp") else "tcp")))
            except OSError as error:
                raise Unresolvable("unknown service '%s'" % item) from error
    return items[0] if len(items) == 1 else "{ %s }" % ", ".join(items)


def _proto_matches(proto, dport, sport, icmp_type):
    """(family or None, [match texts]) of a protocol with its ports or ICMP type."""
    if not proto:
        return None, []
    if proto == "icmp":
        return 4, ["icmp type %s" % icmp_type] if icmp_type else ["meta l4proto icmp"]
    if proto in ("icmpv6", "ipv6-icmp"):
        return 6, ["icmpv6 type %s" % icmp_type] if icmp_type else ["meta l4proto ipv6-icmp"]
    named = proto in ("tcp", "udp", "sctp", "udplite", "dccp")  # the ones nft knows by name
    number = proto if named or str(proto).isdigit() else str(socket.getprotobyname(proto))
    matches = ["meta l4proto %s" % number]
    if sport:
        matches.append("th sport %s" % _ports(sport, proto))
    if dport:
        matches.append("th dport %s" % _ports(dport, proto))
    return None, matches


def _templates(rule):
    """The (proto, dport, sport, icmp-type) of each rule the config rule becomes: one per macro template
    (Firewall.pm $apply_macro: a template's value wins, the rule's own fills what the template leaves open)."""
    if not rule.get("macro"):
        return [(rule.get("proto"), rule.get("dport"), rule.get("sport"), rule.get("icmp-type"))]
    name = MACRO_NAMES.get(rule["macro"].lower())
    if name is None:
        raise Unresolvable("unknown macro '%s'" % rule["macro"])
    result = []
    for proto, dport, sport in (MACROS.get(name) or IPV6_MACROS[name])[1]:
        icmp_type = None
        if proto in ("icmp", "icmpv6") and dport:
            icmp_type, dport = dport, None
        result.append((proto or rule.get("proto"), dport or rule.get("dport"), sport or rule.get("sport"), icmp_type or rule.get("icmp-type")))
    return result


def _log_statement(level, chain, verdict, env, ratelimit):
    """rule.rs / firewall.rs create_log_rule: a log rule (rate-limited by the cluster's log_ratelimit) before the verdict.
    The prefix follows pve-firewall's `<vmid>:<level>:<chain>: <ACTION>: ` (vmid 0 outside a guest)."""
    prefix = "%s:%s:%s: %s: " % (env.vmid or 0, level, chain, verdict)
    limit = ""
    if ratelimit:
        limit = "limit rate %s burst %d packets " % ratelimit
    return '%slog prefix "%s" level %s' % (limit, prefix[:127], "warn" if level == "warning" else level)


def log_ratelimit(cluster_options):
    """The cluster's `log_ratelimit` property string as (rate, burst), None when disabled (Firewall.pm defaults)."""
    text = (cluster_options or {}).get("log_ratelimit") or ""
    settings = {"enable": "1", "rate": DEFAULT_LOG_RATE[0], "burst": str(DEFAULT_LOG_RATE[1])}
    for part in filter(None, text.split(",")):
        key, _eq, value = part.partition("=")
        if not _eq:
            key, value = "enable", key
        settings[key.strip()] = value.strip()
    if settings["enable"] in ("0", "false"):
        return None
    return settings["rate"], int(settings["burst"])


def rule_lines(rule, env, chain, ratelimit):
    """The nft rule texts of one PVE rule in `chain` (empty for a disabled rule or another direction).
    Raises Unresolvable for a reference that does not exist."""
    if "enable" in rule and not int(rule["enable"]):
        return []
    if rule["type"] == "group":
        if rule["action"] not in env.state.get("cluster", {}).get("groups", {}):
            raise Unresolvable("no such security group '%s'" % rule["action"])
        if env.direction == "forward" and rule.get("iface"):
            return []  # rule.rs RuleGroup: a group rule with an interface does not apply to forward
        prefix = _iface_match(rule, env)
        return ["%sjump %s" % (prefix, "group-%s-%s" % (rule["action"], env.direction))]
    if rule["type"] != env.direction:
        return []
    verdict = VERDICTS[rule["action"]]
    variants = [(None, _iface_match(rule, env).split())] if rule.get("iface") else [(None, [])]
    address_sets = []
    for key, field in (("source", "saddr"), ("dest", "daddr")):
        if rule.get(key):
            address_sets.append(_address_match(rule[key], field, env))
    lines = []
    for proto, dport, sport, icmp_type in _templates(rule):
        proto_family, proto_matches = _proto_matches(proto, dport, sport, icmp_type)
        combos = [(proto_family, [])]
        for options in address_sets:
            combos = [(family or option_family, matches + option_matches)
                      for family, matches in combos for option_family, option_matches in options
                      if family is None or option_family is None or family == option_family]
        for _family, matches in combos:
            for _unused, base in variants:
                text = " ".join(base + matches + proto_matches)
                if rule.get("log") not in NO_LOG:
                    lines.append(("%s %s" % (text, _log_statement(rule["log"], chain, rule["action"], env, ratelimit))).strip())
                lines.append(("%s %s" % (text, verdict)).strip())
    return lines


def _iface_match(rule, env):
    """rule.rs handle_iface: a guest's `in` rule matches the port the packet goes out of, an `out` rule the port it came in on."""
    if not rule.get("iface"):
        return ""
    port = env.ports.get(rule["iface"])
    if port is None:
        raise Unresolvable("no interface %s on guest %s here" % (rule["iface"], env.vmid))
    # the inet chains see the bridge as in and out device (br_netfilter): the port is in the mark
    return "%s " % _port_mark_match(env.port_ids[port], "out" if env.direction == "in" else "in")


def _port_mark_match(port_id, side):
    """The match for a guest port by the packet mark portmark set: `in` = the port a frame came in on."""
    if side == "in":
        return "meta mark & 0x%08x == 0x%08x" % (PORT_MASK << IN_PORT_SHIFT, port_id << IN_PORT_SHIFT)
    return "meta mark & 0x%08x == 0x%08x" % (PORT_MASK, port_id)


def _chain(name, lines, indent="    "):
    body = "".join("%s    %s\n" % (indent, line) for line in lines)
    return "%schain %s {\n%s%s}\n" % (indent, name, body, indent)


def _rules_chain(name, rules, env, ratelimit, head, tail):
    lines = list(head)
    for position, rule in enumerate(rules):
        try:
            lines.extend(rule_lines(rule, env, name, ratelimit))
        except Unresolvable as error:
            lines.append("# rule %d skipped: %s" % (position, error))  # rule.rs from_config_rule: skipped, not fatal
    return _chain(name, lines + list(tail))


def _policy_lines(policy, level, name, env, ratelimit):
    lines = []
    if level not in NO_LOG:
        lines.append(_log_statement(level, name, policy, env, ratelimit))
    lines.append(VERDICTS[policy])
    return lines


def _set_lines(family, scope, name, entries, resolve_alias):
    lines = []
    for nomatch in (False, True):
        elements = []
        for entry in entries:
            if bool(entry.get("nomatch")) != nomatch:
                continue
            cidr = entry["cidr"]
            if not _looks_like_ip(cidr):
                try:
                    cidr = resolve_alias(cidr)
                except Unresolvable:
                    continue
            network = _network(cidr)
            if network.version == family:
                elements.append(str(network.network_address) if network.prefixlen == network.max_prefixlen else str(network))
        body = "type %s; flags interval; auto-merge;" % ("ipv4_addr" if family == 4 else "ipv6_addr")
        if elements:
            body += " elements = { %s }" % ", ".join(sorted(set(elements)))
        lines.append("    set %s { %s }\n" % (_set_name(family, scope, name, nomatch), body))
    return lines


def _port_ids(guest_ports):
    """A number per firewalled guest port, for the packet mark (16 bits each for the port in and the port out)."""
    if len(guest_ports) > PORT_MASK:
        raise ValueError("more than %d firewalled guest ports on one node" % PORT_MASK)
    return {port: index + 1 for index, port in enumerate(sorted(guest_ports))}


def _guest_ports(state, bridges):
    """{port: (vmid, netN)} of this node's guest ports whose firewall applies (firewall=1 and the guest's firewall enabled)."""
    result = {}
    for vnet in (bridges or {}).get("vnets", {}).values():
        for port, info in (vnet.get("ports") or {}).items():
            guest = state.get("guests", {}).get(str(info["vmid"]))
            # the port's own flag, else the NIC's option in the guest config read_state recorded
            firewall = info["firewall"] if "firewall" in info else (guest or {}).get("nics", {}).get(info["net"], False)
            if firewall and guest and _enabled(guest.get("options")):
                result[port] = (str(info["vmid"]), info["net"])
    return result


def ruleset_for_node(state, node, bridges):
    """The nftables ruleset (text for `nft -f`) that enforces `state` on node `node`.

    `bridges` is what the twin built on that node: {"vnets": {vnet: {"bridge": name in the node's namespace,
    "ports": {port: {"vmid", "net": "net0", "firewall": bool}}}}} ("firewall" may be left out: the guest's
    `nics` in the state then say it). The text first removes the twin's
    firewall tables, so loading it again replaces them at once; with the cluster firewall disabled (or
    nothing enabled on this node) it only removes them, as proxmox-firewall deletes its tables then.
    """
    header = "# PVE firewall of node %s (nettwin.pve_firewall)\n" % node
    reset = "table inet %s {}\ndelete table inet %s\ntable bridge %s {}\ndelete table bridge %s\n" % (TABLE, TABLE, PORT_TABLE, PORT_TABLE)
    cluster = state.get("cluster", {})
    if not _enabled(cluster.get("options")):
        return header + "# the cluster firewall is disabled\n" + reset
    ratelimit = log_ratelimit(cluster.get("options"))
    vnets = {vnet: info["bridge"] for vnet, info in sorted((bridges or {}).get("vnets", {}).items())
             if _enabled(state.get("vnets", {}).get(vnet, {}).get("options"))}
    guest_ports = _guest_ports(state, bridges)
    if not vnets and not guest_ports:
        return header + "# no VNet and no guest NIC with an enabled firewall on this node\n" + reset
    text = [header, reset, "table inet %s {\n" % TABLE]
    for name, entries in sorted(cluster.get("ipsets", {}).items()):
        text.extend(_set_lines(4, "dc", name, entries, _Env(state, "in").alias) + _set_lines(6, "dc", name, entries, _Env(state, "in").alias))
    for name, entries in sorted(state.get("sdn_ipsets", {}).items()):
        text.extend(_set_lines(4, "sdn", name, entries, _Env(state, "in").alias) + _set_lines(6, "sdn", name, entries, _Env(state, "in").alias))
    for vmid in sorted({vmid for vmid, _net in guest_ports.values()}, key=int):
        guest_env = _Env(state, "in", vmid)
        for name, entries in sorted(state["guests"][vmid].get("ipsets", {}).items()):
            text.extend(_set_lines(4, "guest-%s" % vmid, name, entries, guest_env.alias)
                        + _set_lines(6, "guest-%s" % vmid, name, entries, guest_env.alias))
    text.append(STATIC_CHAINS)
    for group, rules in sorted(cluster.get("groups", {}).items()):
        for direction in ("in", "out", "forward"):
            text.append(_rules_chain("group-%s-%s" % (group, direction), rules, _Env(state, direction), ratelimit, (), ()))
    forward_lines = []
    for vnet, bridge in vnets.items():
        options = state["vnets"][vnet].get("options", {})
        name = "bridge-%s" % vnet
        env = _Env(state, "forward")
        policy = options.get("policy_forward") or "ACCEPT"
        text.append(_rules_chain(name, state["vnets"][vnet].get("rules", []), env, ratelimit, ["jump before-bridge"],
                                 _policy_lines(policy, options.get("log_level_forward"), name, env, ratelimit)))
        # bridge-map `ibrname . obrname`: traffic that enters and leaves through the same VNet bridge
        forward_lines.append('iifname "%s" oifname "%s" jump %s' % (bridge, bridge, name))
    port_ids = _port_ids(guest_ports)
    out_lines, in_lines, mark_lines = ["jump allow-icmp"], ["jump allow-icmp"], ["meta mark set 0x0"]
    for vmid in sorted({vmid for vmid, _net in guest_ports.values()}, key=int):
        guest = state["guests"][vmid]
        options = guest.get("options", {})
        ports = {net: port for port, (owner, net) in guest_ports.items() if owner == vmid}
        for direction, pre, policy_default in (("out", "pre-vm-out", "ACCEPT"), ("in", "pre-vm-in", "DROP")):
            name = "guest-%s-%s" % (vmid, direction)
            env = _Env(state, direction, vmid, ports, port_ids)
            head = ["jump " + pre]
            dhcp = "allow" if _enabled({"enable": options.get("dhcp")}, True) else "block"
            ndp = "allow" if _enabled({"enable": options.get("ndp")}, True) else "block"
            head += ["jump %s-dhcp-%s" % (dhcp, direction), "jump %s-ndp-%s" % (ndp, direction)]
            if direction == "out":
                head.append("jump %s-ra-out" % ("allow" if _enabled({"enable": options.get("radv")}) else "block"))
            policy = options.get("policy_" + direction) or policy_default
            text.append(_rules_chain(name, guest.get("rules", []), env, ratelimit, head,
                                     _policy_lines(policy, options.get("log_level_" + direction), name, env, ratelimit)))
        for net, port in sorted(ports.items()):
            port_id = port_ids[port]
            mark_lines.append('iifname "%s" meta mark set meta mark or 0x%08x' % (port, port_id << IN_PORT_SHIFT))
            mark_lines.append('oifname "%s" meta mark set meta mark or 0x%08x' % (port, port_id))
            out_lines.append("%s goto guest-%s-out" % (_port_mark_match(port_id, "in"), vmid))
            in_lines.append("%s goto guest-%s-in" % (_port_mark_match(port_id, "out"), vmid))
    # three stages at the forward hook, in PVE's order: from the guest (prerouting there), the VNet (forward),
    # to the guest (postrouting); each only passes what it accepts on to the next
    text.append(_chain("vm-out", ["type filter hook forward priority filter - 10; policy accept;"] + (out_lines if guest_ports else [])))
    text.append(_chain("forward", ["type filter hook forward priority filter; policy accept;"] + forward_lines))
    text.append(_chain("vm-in", ["type filter hook forward priority filter + 10; policy accept;"] + (in_lines if guest_ports else [])))
    text.append("}\n")
    if guest_ports:
        text.append("table bridge %s {\n" % PORT_TABLE)
        text.append(_chain("portmark", ["type filter hook forward priority -300; policy accept;"] + mark_lines))
        text.append("}\n")
    return "".join(text)


# --- the twin ------------------------------------------------------------------------------------


def bridges_by_netns(twin):
    """{netns: bridges argument of ruleset_for_node} from a twin.json document: per namespace holding VNet
    bridges, its VNets and the guest NICs attached to them (port name `nic["port"]`, else qemu-server's
    `tap<vmid>i<index>`, which the twin uses)."""
    result = {}
    for vnet, entry in sorted(twin.get("vnets", {}).items()):
        for node, bridge in sorted(entry.get("bridges", {}).items()):
            ports = {}
            for vmid, vm in twin.get("vms", {}).items():
                if vm.get("node") != node:
                    continue
                for nic in vm.get("nics", []):
                    if nic.get("vnet") == vnet:
                        ports[nic.get("port") or "tap%si%d" % (vmid, nic["index"])] = {"vmid": int(vmid), "net": "net%d" % nic["index"]}
            node_entry = result.setdefault(bridge["netns"], {"node": node, "vnets": {}})
            node_entry["vnets"][vnet] = {"bridge": bridge["bridge"], "ports": ports}
    return result


def enforce(twin, state):
    """Load the firewall of `state` (read_state's) into every namespace of the twin that holds VNet bridges;
    {netns: the ruleset loaded}. Call again after the simulator's firewall changed: each load replaces."""
    loaded = {}
    for netns, bridges in sorted(bridges_by_netns(twin).items()):
        text = ruleset_for_node(state, bridges["node"], {"vnets": bridges["vnets"]})
        apply(netns, text)
        loaded[netns] = text
    return loaded


# --- loading -----------------------------------------------------------------------------------

NFT_TIMEOUT = 30
BRIDGE_NETFILTER_SYSCTLS = ("net.bridge.bridge-nf-call-iptables=1", "net.bridge.bridge-nf-call-ip6tables=1")


def _nft(netns, ruleset_text, check):
    """`ip netns exec NETNS nft [-c] -f -` with the ruleset on stdin; raises with nft's message on failure."""
    command = ["ip", "netns", "exec", netns, "nft"] + (["-c"] if check else []) + ["-f", "-"]
    result = subprocess.run(command, input=ruleset_text, capture_output=True, text=True, timeout=NFT_TIMEOUT, check=False)
    if result.returncode != 0:
        raise RuntimeError("nft %s in %s failed (%d): %s" % ("-c -f" if check else "-f", netns, result.returncode, result.stderr.strip()))


def check(netns, ruleset_text):
    """Let nft check the ruleset in `netns` without loading it (`nft -c`)."""
    _nft(netns, ruleset_text, True)


def apply(netns, ruleset_text):
    """Load a ruleset of ruleset_for_node into the node namespace `netns` (one nft transaction: all or nothing).

    Bridged IP traffic reaches the inet chains only with br_netfilter's bridge-nf-call-ip(6)tables, set
    here inside that namespace (these sysctls are per network namespace)."""
    for setting in BRIDGE_NETFILTER_SYSCTLS:
        subprocess.run(["ip", "netns", "exec", netns, "sysctl", "-q", "-w", setting], check=True, timeout=NFT_TIMEOUT,
                       capture_output=True)
    _nft(netns, ruleset_text, False)
