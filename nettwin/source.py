"""What the twin is built from: the running simulator (GET /_sim/sdn/rendered, the VMs' configs) and the
inventory (node underlay addresses, the tenants' plan that says which VM is a gateway, the hub or a service)."""

import ipaddress
import os
import re
import sys

import requests
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUEST_TIMEOUT = 15
HUB_NAME = "transit-hub"
# PVE guests' first virtio NIC is ens18 in Debian cloud images (PCI slot 0x12 = 18), the next ens19...
FIRST_NIC_SLOT = 18


def _planning():
    """The collection's planning functions (imported, not copied): the tree `make collection` links, or the
    repository itself as ansible_collections.homecloud.proxmox."""
    for path in (os.path.join(REPO, ".build", "collections"),):
        if path not in sys.path:
            sys.path.append(path)
    from ansible_collections.homecloud.proxmox.plugins.module_utils import gateway, planning  # pylint: disable=import-outside-toplevel
    return planning, gateway


class PveSource:
    """The simulator's API (token auth) and side channel, from the PROXMOX_* environment of scripts/demo.sh."""

    def __init__(self, env=None):
        env = os.environ if env is None else env
        self.url = "https://%s:%s" % (env.get("PROXMOX_HOST", "127.0.0.1"), env["PROXMOX_PORT"])
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = env.get("PROXMOX_CA_PATH") or True
        self.session.headers["Authorization"] = "PVEAPIToken=%s!%s=%s" % (
            env.get("PROXMOX_USER", "root@pam"), env["PROXMOX_TOKEN_ID"], env["PROXMOX_TOKEN_SECRET"])

    def api(self, path, **params):
        answer = self.session.get(self.url + "/api2/json" + path, params=params, timeout=REQUEST_TIMEOUT)
        answer.raise_for_status()
        return answer.json()["data"]

    def request(self, method, path, params=None, data=None):
        """The API's raw answer (a requests.Response): the session interface nettwin.pve_firewall.read_state takes."""
        return self.session.request(method, self.url + "/api2/json" + path, params=params, data=data, timeout=REQUEST_TIMEOUT)

    def side(self, method, path, body=None):
        """(status, document) of a side-channel call."""
        answer = self.session.request(method, self.url + "/_sim/" + path.lstrip("/"), json=body, timeout=REQUEST_TIMEOUT)
        try:
            document = answer.json()
        except ValueError:
            document = {"error": answer.text}
        return answer.status_code, document

    def rendered(self):
        status, document = self.side("GET", "sdn/rendered")
        if status != 200:
            raise RuntimeError("GET /_sim/sdn/rendered: %s %s" % (status, document))
        return document["data"]

    def vms(self):
        """[{vmid, name, node, config}] of every VM (GET /cluster/resources?type=vm + each VM's config)."""
        result = []
        for resource in self.api("/cluster/resources", type="vm"):
            if resource.get("type") != "qemu" or resource.get("template"):  # a template never runs: no namespace
                continue
            config = self.api("/nodes/%s/qemu/%s/config" % (resource["node"], resource["vmid"]))
            result.append({"vmid": int(resource["vmid"]), "name": config.get("name", resource.get("name")),
                           "node": resource["node"], "config": config})
        return sorted(result, key=lambda vm: vm["vmid"])


def _option_list(text):
    """'virtio=02:..,bridge=acme01,tag=5' -> ({'virtio': '02:..', 'bridge': ...}, model)."""
    options = {}
    for part in str(text).split(","):
        key, _sep, value = part.partition("=")
        options[key.strip()] = value.strip()
    return options


def vm_nics(config):
    """The VM's NICs from netN (PVE: model=MAC or macaddr=, bridge=, tag=) and ipconfigN (ip=CIDR, gw=) as
    cloud-init would configure them: [{index, ifname, mac, bridge, tag, address, gateway}]."""
    nics = []
    for key in sorted(config, key=lambda name: (len(name), name)):
        match = re.match(r"^net(\d+)$", key)
        if not match:
            continue
        index = int(match.group(1))
        options = _option_list(config[key])
        mac = options.get("macaddr")
        for model in ("virtio", "e1000", "rtl8139", "vmxnet3", "e1000e"):
            if options.get(model):
                mac = options[model]
        ipconfig = _option_list(config.get("ipconfig%d" % index, ""))
        address = ipconfig.get("ip") if ipconfig.get("ip") not in (None, "", "dhcp") else None
        nics.append({"index": index, "ifname": "ens%d" % (FIRST_NIC_SLOT + index), "mac": mac.lower() if mac else None,
                     "bridge": options.get("bridge"), "tag": int(options["tag"]) if options.get("tag") else None,
                     "address": address, "gateway": ipconfig.get("gw") or None})
    return nics


def _load_group_vars(inventory):
    """Every YAML file of group_vars/all merged (the demo inventory keeps its plan there, plain YAML)."""
    merged = {}
    folder = os.path.join(inventory, "group_vars", "all")
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    for name in names:
        if name.endswith((".yml", ".yaml")):
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                merged.update(yaml.safe_load(handle) or {})
    return merged


def _node_hosts(inventory):
    with open(os.path.join(inventory, "hosts.yml"), encoding="utf-8") as handle:
        hosts = yaml.safe_load(handle) or {}
    return (((hosts.get("all") or {}).get("children") or {}).get("pve_nodes") or {}).get("hosts") or {}


def guest_ports(gateways):
    """The TCP ports a twin guest listens on, as the tenants' VMs would: sshd (22) and every port a gateway's
    allow list opens between VNets or a published hostname forwards to (the probes of verify.yml connect there)."""
    ports = {22}
    for gateway in gateways:
        for vnet in gateway.get("vnets") or []:
            for rule in vnet.get("allow") or []:
                if rule.get("proto") in (None, "tcp"):
                    for part in str(rule.get("dport") or "").replace(",", " ").split():
                        low, _sep, high = part.partition("-")
                        if low.isdigit() and (not high or high.isdigit()) and int(high or low) - int(low) < 16:
                            ports.update(range(int(low), int(high or low) + 1))
        for entry in gateway.get("publish") or []:  # service "http://<address>:<port>"
            port = str(entry.get("service") or "").rsplit(":", 1)[-1]
            if port.isdigit():
                ports.add(int(port))
    return sorted(ports)


class Inventory:
    """The inventory's facts the twin needs: node underlay addresses, tenants' plan, gateways, services."""

    def __init__(self, path):
        planning, gateway = _planning()
        self.path = path
        variables = _load_group_vars(path)
        self.underlay = dict((node, str(facts["underlay_address"])) for node, facts in _node_hosts(path).items()
                             if facts and facts.get("underlay_address"))
        self.network_plan = variables.get("homecloud_network_plan") or {}
        self.plan = planning.plan_tenants(variables.get("homecloud_tenants") or [], self.network_plan)
        gateways = gateway.plan_gateways(self.plan, variables.get("homecloud_tenants") or [], variables.get("homecloud_gateway"),
                                         variables.get("homecloud_cloudflare"), list(self.underlay),
                                         variables.get("homecloud_guest_defaults"))
        self.gateway_vmids = dict((entry["vmid"], entry["tenant"]) for entry in gateways)
        self.guest_ports = guest_ports(gateways)
        shared = self.network_plan.get("shared_services") or {}
        self.service_names = set(guest.get("name") for guest in shared.get("guests") or [])

    def tenant_of_vmid(self, vmid):
        for entry in self.plan:
            if entry["vmids"]["first"] <= vmid <= entry["vmids"]["last"]:
                return entry["tenant"]
        return None

    def tenant_networks(self):
        """{tenant: network} of the tenants (the shared services left out)."""
        return dict((entry["tenant"], entry["network"]) for entry in self.plan if not entry["shared"])

    def shared_tenant(self):
        return next((entry["tenant"] for entry in self.plan if entry.get("kind", "shared_services" if entry["shared"] else "tenant")
                     == "shared_services"), None)

    def kind(self, vmid, name):
        """guest | gateway | hub | service (the design of the transit hub: the VM named transit-hub is the hub)."""
        if name == HUB_NAME:
            return "hub"
        if vmid in self.gateway_vmids:
            return "gateway"
        if self.tenant_of_vmid(vmid) == self.shared_tenant() and name in self.service_names:
            return "service"
        return "guest"


def zone_of_vnets(rendered_interfaces):
    """{vnet: zone} from a rendered interfaces file: a VNet bridge's `vrf vrf_<zone>` line (EvpnPlugin.pm)."""
    result = {}
    for name, lines in parse_interfaces(rendered_interfaces).items():
        for line in lines:
            if line.startswith("vrf ") and line.split()[1].startswith("vrf_") and not name.startswith("vrfbr_"):
                result[name] = line.split()[1][len("vrf_"):]
    return result


def parse_interfaces(text):
    """{iface: [option lines]} of an ifupdown2 file (`auto X` / `iface X` / tab-indented options)."""
    result, current = {}, None
    for raw in text.splitlines():
        line = raw.strip()
        if raw.startswith("iface "):
            current = line.split()[1]
            result[current] = []
        elif current and raw[:1] in ("\t", " ") and line:
            result[current].append(line)
        elif not line or raw.startswith("auto ") or raw.startswith("#"):
            continue
    return result


def vnet_bridges(text):
    """[{vnet, vxlan, vni, local, mtu, addresses, zone, learning_off, neigh_suppress}] of the VXLAN-backed VNet
    bridges a rendered interfaces file declares (the zone's own vrfbr_ L3VNI bridge excluded: no kernel VRF)."""
    ifaces = parse_interfaces(text)
    result = []
    for name, lines in sorted(ifaces.items()):
        if name.startswith("vrfbr_"):
            continue
        ports = [line.split()[1:] for line in lines if line.startswith(("bridge_ports ", "bridge-ports "))]
        vxlans = [port for port in (ports[0] if ports else []) if port in ifaces and any(
            option.startswith("vxlan-id ") for option in ifaces[port])]
        if not vxlans:
            continue
        vxlan = vxlans[0]
        options = dict(line.split(None, 1) for line in ifaces[vxlan] if " " in line)
        bridge_options = dict(line.split(None, 1) for line in lines if " " in line)
        zone = bridge_options.get("vrf", "")
        result.append({
            "vnet": name, "vxlan": vxlan, "vni": int(options["vxlan-id"]), "local": options.get("vxlan-local-tunnelip"),
            "mtu": int(bridge_options.get("mtu") or options.get("mtu") or 1500),
            "addresses": [line.split()[1] for line in lines if line.startswith("address ")],
            "zone": zone[len("vrf_"):] if zone.startswith("vrf_") else None,
            "learning_off": options.get("bridge-learning") == "off",
            "neigh_suppress": options.get("bridge-arp-nd-suppress") == "on",
        })
    return result


def network_of(address):
    return str(ipaddress.ip_interface(address).network)
