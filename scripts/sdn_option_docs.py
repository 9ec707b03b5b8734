# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SDN modules' option documentation, written once and rendered into every module.

The SDN object options are documented twice over - in the one-object modules (sdn_zone,
sdn_vnet, ...) and nested in tenant_network - while their argument specs come from one table
(KINDS in plugins/module_utils/sdn.py). Ansible reads DOCUMENTATION as text from each module
file, so the shared descriptions below are rendered into the modules between marker lines:

    # BEGIN sdn options <kind> [<path of the options in tenant_network>]
    # END sdn options

and the return values every SDN module shares between `# BEGIN sdn returns` and
`# END sdn returns` in RETURN.

Types, choices and list elements come from KINDS, so the documentation cannot disagree with
the argument spec. `--check` (run by the unit tests) fails when a module is out of date;
`--write` updates them.

Usage: python scripts/sdn_option_docs.py --check|--write
"""

import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = os.path.join(ROOT, "plugins", "modules")
MARKER = re.compile(r"^(?P<indent> *)# BEGIN sdn options (?P<kind>\w+)(?: (?P<path>\S+))?\n(?P<body>.*?)^(?P=indent)# END sdn options\n",
                    re.M | re.S)
RETURNS_MARKER = re.compile(r"^# BEGIN sdn returns\n.*?^# END sdn returns\n", re.M | re.S)
RETURNS = """\
sdn_changes:
  description: The objects this task changed (or would change), as V(kind/name) (subnets as V(subnet/<vnet>/<cidr>)).
  returned: always
  type: list
  elements: str
  sample: [zone/acme, vnet/acme01, subnet/acme01/10.128.49.0/24]
pending:
  description: Objects with pending changes seen before the task wrote, as V(kind/name).
  returned: always
  type: list
  elements: str
applied:
  description: Whether the SDN configuration was applied (in check mode, whether it would be).
  returned: always
  type: bool
apply_task:
  description: UPID of the apply task.
  returned: when applied
  type: str
written:
  description: After a failure, the objects this task wrote that are still pending (not rolled back).
  returned: on failure, when something stayed written
  type: list
  elements: str
rolled_back:
  description:
    - After a failure, the objects this task wrote that PVE's rollback discarded (PVE 9.x).
    - Nothing of the task is left then, so the task reports no change.
  returned: on failure, after a rollback
  type: list
  elements: str
uncertain:
  description: The object whose write got no answer (a proxy's 502/504, a dropped connection) and whose outcome is unknown.
  returned: on failure, when a write's outcome could not be confirmed
  type: list
  elements: str
failure:
  description:
    - The failed API call, so that C(failed_when) and C(rescue) can branch on its status or on a refused field.
    - V(uncertain=true) marks a write whose outcome is unknown.
  returned: on failure
  type: dict
  sample: {method: POST, path: /cluster/sdn/zones, status: 400, reason: Parameter verification failed., errors: {zone: invalid format}}
"""

DESCRIPTIONS = {
    "controller": {
        "type": "Controller type; required to create one, and PVE cannot change it later.",
        "asn": "Autonomous system number (EVPN and BGP).",
        "peers": ["Underlay addresses of the BGP peers; for EVPN, the VTEP address of every node.",
                  "On PVE 9.x either this or O(fabric)."],
        "fabric": "SDN fabric that provides the underlay instead of O(peers) (PVE 9.x, EVPN).",
        "node": "Node a BGP or IS-IS controller runs on.",
        "ebgp": "Use external BGP (BGP controllers).",
        "ebgp_multihop": "Maximum hops to eBGP peers.",
        "loopback": "Interface whose address is the router id (BGP, IS-IS).",
        "bgp_multipath_as_path_relax": "Consider different AS paths of equal length for multipath (BGP).",
        "isis_domain": "IS-IS domain name.",
        "isis_net": "IS-IS network entity title of the node.",
        "isis_ifaces": "Interfaces IS-IS runs on.",
    },
    "zone": {
        "type": "Zone type; required to create a zone, and PVE cannot change it later.",
        "nodes": "Nodes the zone is deployed on (all nodes if not set in PVE).",
        "ipam": "IPAM the zone's subnets are registered in, for example V(pve).",
        "dns": "DNS plugin that registers the guests' names.",
        "reversedns": "DNS plugin for reverse records.",
        "dnszone": "DNS domain of the zone, for example V(acme.lab.internal).",
        "mtu": "MTU of the zone's VNet bridges (EVPN and VXLAN need 50 bytes less than the underlay).",
        "bridge": "Bridge the VLANs are managed on (VLAN and QinQ zones; required there).",
        "bridge_disable_mac_learning": "Disable MAC learning on the bridge ports (VLAN, QinQ, EVPN).",
        "tag": "Service VLAN tag (QinQ zones; required there).",
        "vlan_protocol": "Outer VLAN protocol of a QinQ zone.",
        "peers": "Underlay addresses of the nodes (VXLAN zones; on PVE 9.x either this or O(fabric)).",
        "fabric": "SDN fabric used as underlay instead of O(peers) (PVE 9.x).",
        "vxlan_port": "UDP port of the VXLAN tunnels (PVE's default is 4789).",
        "controller": "EVPN controller of the zone (EVPN and Faucet zones; required there).",
        "vrf_vxlan": "VNI of the zone's VRF (EVPN zones; required there; unique across zones).",
        "exitnodes": "Nodes that route the zone's traffic out of the EVPN network (EVPN zones).",
        "exitnodes_local_routing": "Let the exit nodes themselves reach the zone's guests.",
        "exitnodes_primary": "Exit node preferred for outgoing traffic.",
        "advertise_subnets": "Announce the zone's subnets as type-5 routes (EVPN zones).",
        "disable_arp_nd_suppression": "Turn off ARP and neighbour discovery suppression on the VNets.",
        "rt_import": "Route targets (V(ASN:ID)) imported into the zone's VRF, for route leaking.",
        "mac": "Anycast gateway MAC of the zone's VNets (EVPN); PVE picks one when not set.",
        "dhcp": "DHCP backend (simple zones).",
        "dp_id": "Faucet dataplane id.",
    },
    "vnet": {
        "zone": "Zone of the VNet; required to create it. PVE refuses to move a VNet that has subnets.",
        "tag": "VXLAN VNI (VXLAN and EVPN zones, unique across them) or VLAN tag (VLAN and QinQ zones).",
        "alias": "Free text shown as the bridge's alias.",
        "vlanaware": "Let VLAN-tagged frames through the VNet (not in EVPN zones, not with subnets).",
        "isolate_ports": "Isolate the guest ports of the VNet's bridge from each other.",
    },
    "subnet": {
        "gateway": "Gateway address, inside the subnet; on simple and EVPN zones it is set on the VNet bridge.",
        "snat": "Masquerade the subnet's traffic leaving the zone.",
        "dnszoneprefix": "DNS zone prefix, as in V(adm) for V(<host>.adm.<dnszone>).",
        "dhcp_range": "DHCP ranges (simple zones with DHCP).",
        "dhcp_dns_server": "DNS server handed out by DHCP.",
    },
}
RANGE_SUBOPTIONS = (("start_address", "First address of the range."), ("end_address", "Last address of the range."))
DOC_TYPES = {"str": "str", "int": "int", "bool": "bool", "list": "list", "ranges": "list"}


def load_kinds():
    """KINDS from the collection, imported from the repository tree."""
    sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))
    from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn import KINDS  # pylint: disable=import-outside-toplevel
    return KINDS


def quoted(text):
    """A YAML scalar for a description line: plain when safe, double-quoted otherwise."""
    if re.search(r": |#|^[\[\]{}&*!|>'\"%@`-]", text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def render(kinds, kind_name, indent, path=None, skip=()):
    """The option entries of one kind, at `indent` spaces; O(x) points into `path` when nested."""
    lines = []
    pad = " " * indent
    for field in kinds[kind_name].fields.values():
        if field.name in skip:
            continue
        description = DESCRIPTIONS[kind_name][field.name]
        texts = description if isinstance(description, list) else [description]
        if path:
            texts = [re.sub(r"O\((\w+)\)", lambda match: "O({0}.{1})".format(path, match.group(1)), text) for text in texts]
        lines.append("{0}{1}:".format(pad, field.name))
        if len(texts) == 1:
            lines.append("{0}  description: {1}".format(pad, quoted(texts[0])))
        else:
            lines.append("{0}  description:".format(pad))
            lines.extend("{0}    - {1}".format(pad, quoted(text)) for text in texts)
        lines.append("{0}  type: {1}".format(pad, DOC_TYPES[field.kind]))
        if field.choices:
            lines.append("{0}  choices: [{1}]".format(pad, ", ".join(field.choices)))
        if field.kind == "list":
            lines.append("{0}  elements: str".format(pad))
        if field.kind == "ranges":
            lines.append("{0}  elements: dict".format(pad))
            lines.append("{0}  suboptions:".format(pad))
            for name, text in RANGE_SUBOPTIONS:
                lines.extend(["{0}    {1}:".format(pad, name), "{0}      description: {1}".format(pad, text),
                              "{0}      type: str".format(pad), "{0}      required: true".format(pad)])
    return "".join(line + "\n" for line in lines)


def refreshed(text, kinds):
    """The module text with every marked region rendered anew."""
    def replace(match):
        indent = match.group("indent")
        path = match.group("path")
        # inside tenant_network a VNet's zone is the zone it is declared in
        skip = ("zone",) if path and match.group("kind") == "vnet" else ()
        body = render(kinds, match.group("kind"), len(indent), path, skip)
        return "{0}# BEGIN sdn options {1}{2}\n{3}{0}# END sdn options\n".format(
            indent, match.group("kind"), " " + path if path else "", body)
    text = MARKER.sub(replace, text)
    return RETURNS_MARKER.sub(lambda match: "# BEGIN sdn returns\n" + RETURNS + "# END sdn returns\n", text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="fail if a module's options differ from the table")
    action.add_argument("--write", action="store_true", help="render the table into the modules")
    args = parser.parse_args()
    kinds = load_kinds()
    missing = ["{0}.{1}".format(kind, field) for kind in DESCRIPTIONS for field in kinds[kind].fields
               if field not in DESCRIPTIONS[kind]]
    if missing:
        sys.exit("sdn_option_docs: no description for " + ", ".join(missing))
    stale = []
    # only the modules' sources (a test run may leave __pycache__ there)
    for name in sorted(name for name in os.listdir(MODULES) if name.endswith(".py")):
        path = os.path.join(MODULES, name)
        with open(path) as handle:
            text = handle.read()
        if not (MARKER.search(text) or RETURNS_MARKER.search(text)):
            continue
        new = refreshed(text, kinds)
        if new != text:
            stale.append(name)
            if args.write:
                with open(path, "w") as handle:
                    handle.write(new)
    if stale and args.check:
        sys.exit("sdn_option_docs: out of date (run python scripts/sdn_option_docs.py --write): " + ", ".join(stale))
    print("sdn_option_docs: {0}".format("updated " + ", ".join(stale) if stale and args.write else "up to date"))


if __name__ == "__main__":
    main()
