"""up / down / status: the twin's namespaces, links, FRR, guests and outside, recorded in STATE_DIR/twin.json.

Every name carries the run id (hctw-<id>-...); `down` removes exactly what twin.json records (containers by
name, processes by pid file, namespaces by name), never by pattern, and is safe to repeat."""

import collections
import ipaddress
import json
import os
import secrets
import sys
import time

from nettwin import NAME_PREFIX, TWIN_FILE, frr, outside, pve_firewall, shell, source

VXLAN_PORT = 4789  # IANA VXLAN port; pve-network's vxlan interfaces use the kernel default 4789
UNDERLAY_PREFIX = 24
EXTERNAL_BRIDGE_DEFAULT = "vmbr1"  # homecloud_gateway.external_bridge default
BGP_WAIT_SECONDS = 60
CONTAINER_IMAGE = "localhost/homecloud-debian-systemd:bookworm"
SYSTEMD_WAIT_SECONDS = 90


def twin_path(state_dir):
    return os.path.join(state_dir, TWIN_FILE)


def load(state_dir):
    with open(twin_path(state_dir), encoding="utf-8") as handle:
        return json.load(handle)


def save(twin):
    path = twin_path(twin["state_dir"])
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(twin, handle, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


class Builder:
    """Builds the twin step by step; every namespace, process and container is recorded in twin.json before
    it is used, so `down` can remove a half-built twin too."""

    def __init__(self, state_dir, inventory, env=None, containers=True, log=print):
        self.state_dir = os.path.abspath(state_dir)
        self.inventory_path = inventory
        self.env = os.environ if env is None else env
        self.containers = containers
        self.log = log
        self.twin_id = secrets.token_hex(3)
        self.prefix = "%s%s-" % (NAME_PREFIX, self.twin_id)
        self.links = 0
        self.twin = {"id": self.twin_id, "state_dir": self.state_dir, "created": {"netns": [], "pid_files": [], "containers": []},
                     "underlay": {}, "nodes": {}, "zones": {}, "vnets": {}, "vms": {}, "notes": []}

    # -- recording -----------------------------------------------------------------------------------------
    def netns(self, suffix):
        name = self.prefix + suffix
        self.twin["created"]["netns"].append(name)
        save(self.twin)
        shell.run(["ip", "netns", "add", name])
        shell.ip(name, "link", "set", "lo", "up")
        return name

    def note(self, text):
        self.twin["notes"].append(text)
        self.log("nettwin: note: " + text)

    # -- steps ---------------------------------------------------------------------------------------------
    def up(self):
        started = time.monotonic()
        os.makedirs(self.state_dir, exist_ok=True)
        if os.path.exists(twin_path(self.state_dir)):
            previous = load(self.state_dir)
            if previous.get("created", {}).get("netns"):
                raise RuntimeError("%s holds twin %s: run `python -m nettwin down --state-dir %s` first" % (
                    twin_path(self.state_dir), previous.get("id"), self.state_dir))
        pve = source.PveSource(self.env)
        inventory = source.Inventory(self.inventory_path)
        rendered = pve.rendered()
        vms = pve.vms()
        self.twin["pve_url"] = pve.url
        save(self.twin)
        nodes = sorted(rendered)
        bridges = dict((node, source.vnet_bridges(rendered[node]["interfaces"])) for node in nodes)
        self.underlay(nodes, inventory, bridges)
        self.vnets(nodes, bridges, inventory)
        self.zones(nodes, bridges)
        external = self.twin["external"] = {"netns": self.netns("ext"), "address": outside.EXTERNAL_ADDRESS}
        outside.external_bridge(external["netns"])
        self.guests(vms, inventory)
        self.outside(inventory)
        self.guest_listeners(inventory.guest_ports)
        self.start_frr(nodes, rendered)
        self.register_exec(pve)
        self.firewall(pve)
        if self.containers:
            self.start_containers()
        self.twin["seconds"] = round(time.monotonic() - started, 2)
        save(self.twin)
        return self.twin

    def underlay(self, nodes, inventory, bridges):
        """One namespace holding the underlay bridge; each node a namespace with a veth at its underlay address."""
        underlay_ns = self.netns("ul")
        self.twin["underlay"] = {"netns": underlay_ns, "bridge": "underlay"}
        shell.batch(underlay_ns, ["link add underlay type bridge", "link set underlay up"])
        for index, node in enumerate(nodes, start=1):
            address = inventory.underlay.get(node)
            if not address:
                raise RuntimeError("inventory: node %s has no underlay_address (hosts.yml pve_nodes)" % node)
            locals_ = set(bridge["local"] for bridge in bridges[node] if bridge["local"])
            if locals_ - {address}:
                raise RuntimeError("node %s: the rendered vxlan-local-tunnelip %s is not its inventory underlay_address %s" % (
                    node, ", ".join(sorted(locals_)), address))
            node_ns = self.netns("n%d" % index)
            shell.sysctl(node_ns, "net.ipv4.ip_forward", 0)  # the node holds no address on a VNet: it bridges, never routes
            shell.batch(underlay_ns, ["link add n%d type veth peer name underlay netns %s" % (index, node_ns),
                                      "link set n%d master underlay" % index, "link set n%d up" % index])
            shell.batch(node_ns, ["addr add %s/%d dev underlay" % (address, UNDERLAY_PREFIX), "link set underlay up"])
            self.links += 1
            self.twin["nodes"][node] = {"netns": node_ns, "index": index, "underlay_address": address}
        save(self.twin)

    def vnets(self, nodes, bridges, inventory):
        """Per node per VNet: bridge <vnet> + vxlan device enslaved, as the rendered interfaces file declares
        (vxlan-id, vxlan-local-tunnelip, mtu, bridge-learning off, bridge-arp-nd-suppress on)."""
        tenants = dict((vnet["vnet"], (entry["tenant"], vnet["cidr"])) for entry in inventory.plan for vnet in entry["vnets"])
        for node in nodes:
            node_ns = self.twin["nodes"][node]["netns"]
            lines = []
            for bridge in bridges[node]:
                lines += ["link add %s type bridge stp_state 0 forward_delay 0" % bridge["vnet"],
                          "link set %s mtu %d" % (bridge["vnet"], bridge["mtu"]),
                          "link add %s type vxlan id %d local %s dstport %d nolearning" % (
                              bridge["vxlan"], bridge["vni"], bridge["local"], VXLAN_PORT),
                          "link set %s mtu %d master %s" % (bridge["vxlan"], bridge["mtu"], bridge["vnet"]),
                          "link set dev %s type bridge_slave learning %s neigh_suppress %s" % (
                              bridge["vxlan"], "off" if bridge["learning_off"] else "on", "on" if bridge["neigh_suppress"] else "off"),
                          "link set %s up" % bridge["vxlan"], "link set %s up" % bridge["vnet"]]
                tenant, cidr = tenants.get(bridge["vnet"], (None, None))
                entry = self.twin["vnets"].setdefault(bridge["vnet"], {
                    "zone": bridge["zone"], "tenant": tenant, "vni": bridge["vni"], "mtu": bridge["mtu"],
                    "cidr": cidr or (source.network_of(bridge["addresses"][0]) if bridge["addresses"] else None),
                    "gateways": bridge["addresses"], "bridges": {}})
                entry["bridges"][node] = {"netns": node_ns, "bridge": bridge["vnet"], "vxlan": bridge["vxlan"]}
            shell.batch(node_ns, lines)
        save(self.twin)

    def zones(self, nodes, bridges):
        """VRF emulation: per node and EVPN zone one namespace with the zone's anycast gateway addresses on veths
        into the zone's VNet bridges, forwarding on: routing between a zone's VNets happens there only."""
        zone_names = sorted(set(bridge["zone"] for node in nodes for bridge in bridges[node] if bridge["zone"]))
        for zone_index, zone in enumerate(zone_names, start=1):
            for node in nodes:
                members = [bridge for bridge in bridges[node] if bridge["zone"] == zone and bridge["addresses"]]
                if not members:
                    continue
                node_ns = self.twin["nodes"][node]["netns"]
                zone_ns = self.netns("z%d-%d" % (zone_index, self.twin["nodes"][node]["index"]))
                self.twin["zones"].setdefault(zone, {})[node] = zone_ns
                node_lines, zone_lines = [], []
                for bridge in members:
                    port = "z%d_%s" % (zone_index, bridge["vnet"])
                    node_lines += ["link add %s type veth peer name %s netns %s" % (port, bridge["vnet"], zone_ns),
                                   "link set %s mtu %d master %s up" % (port, bridge["mtu"], bridge["vnet"])]
                    zone_lines += ["addr add %s dev %s" % (address, bridge["vnet"]) for address in bridge["addresses"]]
                    zone_lines += ["link set %s mtu %d up" % (bridge["vnet"], bridge["mtu"])]
                    self.links += 1
                shell.batch(node_ns, node_lines)
                shell.batch(zone_ns, zone_lines)
                shell.sysctl(zone_ns, "net.ipv4.ip_forward", 1)
        save(self.twin)

    def guests(self, vms, inventory):
        """Every VM a namespace; each netN a veth (inside ens18+N with the config's MAC) into its VNet bridge
        on the VM's node, or into the external namespace's bridge; addresses and default route from ipconfigN."""
        external_bridge = ((source._load_group_vars(inventory.path).get("homecloud_gateway") or {}).get("external_bridge")  # pylint: disable=protected-access
                           or EXTERNAL_BRIDGE_DEFAULT)
        for vm in vms:
            vmid, node = vm["vmid"], vm["node"]
            vm_ns = self.netns("v%d" % vmid)
            record = {"name": vm["name"], "tenant": inventory.tenant_of_vmid(vmid), "kind": inventory.kind(vmid, vm["name"]),
                      "node": node, "netns": vm_ns, "nics": []}
            self.twin["vms"][str(vmid)] = record
            # A new namespace inherits the host's IPv4 forwarding (net.core.devconf_inherit_init_net 0); a fresh VM does not route.
            shell.sysctl(vm_ns, "net.ipv4.ip_forward", 0)
            default_route = None
            for nic in source.vm_nics(vm["config"]):
                tap = "tap%di%d" % (vmid, nic["index"])  # qemu-server's tap device name
                vnet = self.twin["vnets"].get(nic["bridge"])
                if vnet and node in vnet["bridges"]:
                    host_ns, master, mtu = vnet["bridges"][node]["netns"], nic["bridge"], vnet["mtu"]
                elif nic["bridge"] == external_bridge:
                    host_ns, master, mtu = self.twin["external"]["netns"], outside.EXTERNAL_BRIDGE, 1500
                    if nic["tag"]:
                        self.note("VM %d net%d: VLAN tag %d on %s is not emulated (no 802.1Q here): one external bridge" % (
                            vmid, nic["index"], nic["tag"], external_bridge))
                else:
                    self.note("VM %d net%d: bridge %s is neither a VNet on %s nor the external bridge: not connected" % (
                        vmid, nic["index"], nic["bridge"], node))
                    continue
                shell.batch(host_ns, ["link add %s type veth peer name %s netns %s" % (tap, nic["ifname"], vm_ns),
                                      "link set %s mtu %d master %s up" % (tap, mtu, master)])
                lines = ["link set %s address %s" % (nic["ifname"], nic["mac"])] if nic["mac"] else []
                lines += ["link set %s mtu %d up" % (nic["ifname"], mtu)]
                lines += ["addr add %s dev %s" % (nic["address"], nic["ifname"])] if nic["address"] else []
                shell.batch(vm_ns, lines)
                self.links += 1
                if nic["gateway"] and default_route is None:
                    default_route = nic["gateway"]
                    shell.ip(vm_ns, "route", "add", "default", "via", nic["gateway"])
                record["nics"].append({"index": nic["index"], "ifname": nic["ifname"], "mac": nic["mac"],
                                       "bridge": nic["bridge"], "tag": nic["tag"],
                                       "vnet": nic["bridge"] if vnet else None, "address": nic["address"], "gateway": nic["gateway"]})
        save(self.twin)

    def guest_listeners(self, ports):
        """In every guest's namespace a TCP listener on the ports a tenant VM would serve (sshd, the ports the
        gateways' allow lists and published hostnames name): a connect probe then tells an open path from a
        closed one."""
        for vmid, vm in sorted(self.twin["vms"].items()):
            if vm["kind"] == "guest":
                outside.listener(self, vm["netns"], "guest-%s" % vmid, sum((["--accept", str(port)] for port in ports), []))
        self.twin["guest_ports"] = ports
        save(self.twin)

    def outside(self, inventory):
        """internet + management namespaces behind the external one; routes to every tenant network via that
        tenant's gateway's external address."""
        routes = {}
        networks = inventory.tenant_networks()
        for vm in self.twin["vms"].values():
            if vm["kind"] != "gateway":
                continue
            for nic in vm["nics"]:
                if nic["vnet"] is None and nic["address"] and vm["tenant"] in networks:
                    routes[networks[vm["tenant"]]] = str(ipaddress.ip_interface(nic["address"]).ip)
        made = outside.build(self, routes)
        self.twin.update(made)
        self.twin["external"]["routes"] = routes
        save(self.twin)

    def start_frr(self, nodes, rendered):
        frr_state = self.twin["frr"] = {"dropped": [], "nodes": {}}
        dropped_lines = {}
        os.makedirs(os.path.join(self.state_dir, "frr"), exist_ok=True)
        for node in nodes:
            copy = os.path.join(self.state_dir, "frr", node + ".conf")  # the whole rendered file, for frr-check
            with open(copy, "w", encoding="utf-8") as handle:
                handle.write(rendered[node]["frr"])
            self.twin["nodes"][node]["rendered_frr"] = copy
            node_state = frr.start(self.twin_id, node, self.twin["nodes"][node]["netns"], rendered[node]["frr"])
            dropped_lines[node] = [{"kind": kind, "line": line} for kind, line in node_state.pop("dropped")]
            self.twin["created"]["pid_files"] += node_state["pid_files"]
            frr_state["nodes"][node] = node_state
            self.twin["nodes"][node]["vty_socket"] = node_state["vty_socket"]
            save(self.twin)
        kinds = collections.Counter(item["kind"] for lines in dropped_lines.values() for item in lines)
        frr_state["dropped"] = [{"kind": kind, "lines": count} for kind, count in sorted(kinds.items())]
        with open(twin_path(self.state_dir) + ".frr", "w", encoding="utf-8") as handle:
            json.dump({"dropped": dropped_lines, "bgpd_conf": dict((node, os.path.join(frr_state["nodes"][node]["dir"], "bgpd.conf"))
                                                                   for node in nodes)}, handle, indent=1)
        self.wait_bgp(nodes)

    def wait_bgp(self, nodes):
        """Bounded: every node has all its peers Established and every VNI's type-3 routes from every other node."""
        vnis = sorted(set(vnet["vni"] for vnet in self.twin["vnets"].values()))

        def converged():
            state = {}
            for node in nodes:
                socket_dir = self.twin["nodes"][node]["vty_socket"]
                peers = frr.peers_established(socket_dir)
                remote = frr.evpn_vnis(socket_dir)
                state[node] = {"peers": peers, "vnis": remote}
                if len(peers) < len(nodes) - 1 or any(value != "Established" for value in peers.values()):
                    return None
                if any(remote.get(vni, -1) < len(nodes) - 1 for vni in vnis):
                    return None
                if frr.multicast_routes(socket_dir) < len(nodes) * len(vnis):  # a type-3 route per VNI and VTEP
                    return None
            return state

        state = shell.wait_until(converged, BGP_WAIT_SECONDS, 0.5)
        if not state:
            raise RuntimeError("BGP EVPN did not converge within %d s: %s" % (BGP_WAIT_SECONDS, dict(
                (node, frr.peers_established(self.twin["nodes"][node]["vty_socket"])) for node in nodes)))
        self.twin["frr"]["sessions"] = sum(len(item["peers"]) for item in state.values())
        self.twin["frr"]["type3"] = dict((node, frr.multicast_routes(self.twin["nodes"][node]["vty_socket"])) for node in nodes)

    def firewall(self, pve):
        """PVE's firewall as the simulator holds it (VNet forward rules, guest NIC firewall), as nftables in every
        node namespace (nettwin/pve_firewall.py; FIREWALL.md says what is reproduced)."""
        self.twin["firewall"] = enforce_firewall(self.twin, pve)
        save(self.twin)

    def register_exec(self, pve):
        """POST /_sim/qemu/exec-netns per VM: pvesim runs the guest agent's exec inside that namespace."""
        results = {}
        for vmid, vm in sorted(self.twin["vms"].items()):
            code, document = pve.side("POST", "qemu/exec-netns", {"vmid": int(vmid), "netns": vm["netns"]})
            results[vmid] = "registered" if code == 200 else "%s: %s" % (code, document.get("error"))
        failed = sorted(set(value for value in results.values() if value != "registered"))
        self.twin["exec_netns"] = {"registered": sorted(key for key, value in results.items() if value == "registered"),
                                   "failed": failed}
        if failed:
            self.note("pvesim refused POST /_sim/qemu/exec-netns (%s): agent exec runs no command in the twin" % "; ".join(failed))
        save(self.twin)

    def start_containers(self):
        """A podman container with systemd per gateway / hub / service VM, in the VM's namespace (the real roles
        are applied to them by nettwin/converge.yml)."""
        names = []
        for vmid, vm in sorted(self.twin["vms"].items()):
            if vm["kind"] == "guest":
                continue
            name = "%s%s-%s" % (NAME_PREFIX, self.twin_id, vmid)
            if vm["kind"] in ("gateway", "hub"):
                # podman mounts /proc/sys read-only in the container: the role cannot turn forwarding on, the twin does
                shell.sysctl(vm["netns"], "net.ipv4.ip_forward", 1)
            self.twin["created"]["containers"].append(name)
            vm["container"] = name
            save(self.twin)
            shell.run(["podman", "run", "--detach", "--name", name, "--hostname", vm["name"], "--label", "owner=nettwin",
                       "--systemd=always", "--network", "ns:/run/netns/" + vm["netns"], "--cap-add=NET_ADMIN",
                       "--cap-add=NET_RAW", "--device=/dev/net/tun", CONTAINER_IMAGE, "/lib/systemd/systemd"], timeout=120)
            names.append(name)
        for name in names:
            process = shell.run(["timeout", str(SYSTEMD_WAIT_SECONDS), "podman", "exec", name, "systemctl", "is-system-running", "--wait"],
                                check=False, timeout=SYSTEMD_WAIT_SECONDS + 10)
            if process.stdout.strip() not in ("running", "degraded"):
                raise RuntimeError("container %s: systemd is %r after %d s" % (name, process.stdout.strip(), SYSTEMD_WAIT_SECONDS))


def enforce_firewall(twin, pve):
    """Load the simulator's current firewall into the twin's node namespaces (again after every change: each load
    replaces the last); {"namespaces": n, "rules": lines loaded}."""
    loaded = pve_firewall.enforce(twin, pve_firewall.read_state(_ApiSession(pve)))
    return {"namespaces": len(loaded), "lines": sum(len(text.splitlines()) for text in loaded.values())}


class _ApiSession:  # pylint: disable=too-few-public-methods
    """pve_firewall.read_state's session interface over PveSource."""

    def __init__(self, pve):
        self.pve = pve

    def api(self, method, path, params=None):
        return self.pve.request(method, path, params=params)


def down(state_dir, log=print):
    """Remove what twin.json records: containers, processes (pid files), namespaces, FRR's run directory."""
    path = twin_path(state_dir)
    if not os.path.exists(path):
        log("nettwin: no twin in %s: nothing to do" % state_dir)
        return 0
    twin = load(state_dir)
    created = twin.get("created", {})
    problems = []
    for name in created.get("containers", []):
        exists = shell.run(["podman", "container", "exists", name], check=False, timeout=30)
        if exists.returncode == 0:
            process = shell.run(["podman", "rm", "--force", "--time", "5", name], check=False, timeout=60)
            if process.returncode != 0:
                problems.append("podman rm %s: %s" % (name, process.stderr.strip()))
    for pid_file in created.get("pid_files", []):
        shell.stop_pid_file(pid_file)
    existing = set(shell.netns_list())
    for name in reversed(created.get("netns", [])):
        if name in existing:
            process = shell.run(["ip", "netns", "delete", name], check=False)
            if process.returncode != 0:
                problems.append("ip netns delete %s: %s" % (name, process.stderr.strip()))
    frr.remove_run_dir(twin["id"])
    if problems:
        log("nettwin: down: " + "; ".join(problems))
        return 1
    os.replace(path, path + ".down")
    if os.path.exists(path + ".frr"):
        os.unlink(path + ".frr")
    log("nettwin: twin %s removed (%d namespaces, %d processes, %d containers)" % (
        twin["id"], len(created.get("netns", [])), len(created.get("pid_files", [])), len(created.get("containers", []))))
    return 0


def status(state_dir, log=print):
    """What twin.json records and whether it is still there: namespaces, processes, BGP sessions."""
    twin = load(state_dir)
    existing = set(shell.netns_list())
    created = twin.get("created", {})
    missing = [name for name in created.get("netns", []) if name not in existing]
    dead = [pid_file for pid_file in created.get("pid_files", []) if not shell.alive(shell.read_pid(pid_file))]
    log("nettwin %s: %d namespaces (%d missing), %d processes (%d not running), %d VMs" % (
        twin["id"], len(created.get("netns", [])), len(missing), len(created.get("pid_files", [])), len(dead), len(twin.get("vms", {}))))
    for node, facts in sorted(twin.get("nodes", {}).items()):
        if "vty_socket" in facts and facts["netns"] in existing:
            peers = frr.peers_established(facts["vty_socket"])
            log("  %s %s: BGP %s" % (node, facts["netns"], ", ".join("%s %s" % item for item in sorted(peers.items())) or "no sessions"))
    return 0 if not missing and not dead else 1


def summary(twin, builder):
    created = twin["created"]
    return ("nettwin %s up in %.1f s: %d namespaces, %d links, %d BGP sessions Established, %d VMs, FRR dropped %s; twin.json: %s" % (
        twin["id"], twin["seconds"], len(created["netns"]), builder.links, twin["frr"].get("sessions", 0), len(twin["vms"]),
        ", ".join("%s (%d)" % (item["kind"], item["lines"]) for item in twin["frr"]["dropped"]) or "nothing", twin_path(twin["state_dir"])))


def main_up(state_dir, inventory, containers):
    builder = Builder(state_dir, inventory, containers=containers)
    try:
        twin = builder.up()
    except Exception as error:  # pylint: disable=broad-except
        print("nettwin: up failed: %s; removing what was built" % error, file=sys.stderr)
        down(builder.state_dir, log=lambda text: print(text, file=sys.stderr))
        return 1
    print(summary(twin, builder))
    return 0
