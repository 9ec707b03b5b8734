"""The PVE firewall in the network twin (nettwin/pve_firewall.py): the simulator's firewall state as nftables.

The unit tests translate states shaped like what the collection's firewall modules converge for the demo
(plugins/module_utils/firewall_policy.py) and let nft itself check every ruleset (`nft -c` inside a
namespace made for it). One test reads the state through a running simulator's API; one loads a ruleset
into a node namespace with a bridge and two client namespaces and measures reachability: a VNet rule
allowing tcp 5432 lets 5432 through and not 22, and without the rule 5432 is blocked too.
"""

import copy
import os
import subprocess
import sys
import uuid

import pytest
import yaml

from ansible_collections.homecloud.proxmox.plugins.module_utils.firewall_policy import firewall_policy
from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import plan_tenants
from nettwin import pve_firewall
from nettwin.pve_firewall import read_state, ruleset_for_node
from pvesim.testing import ok

pytestmark = pytest.mark.timeout(120)

GROUP_VARS = os.path.join(os.path.dirname(__file__), "..", "..", "inventories", "demo", "group_vars", "all")
NODES = [dict(name="pve%d" % number, management_address="192.0.2.1%d/24" % number, underlay_address="10.255.0.%d" % number)
         for number in (1, 2, 3)]
COMMAND_TIMEOUT = 15


def run_id():
    return uuid.uuid4().hex[:6]


def demo(name):
    with open(os.path.join(GROUP_VARS, name + ".yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def converged_state(policy):
    """The simulator state the firewall modules leave after converging `policy` (cluster IP sets, options,
    the tenants' security groups, every VNet's firewall), in read_state's shape."""
    ipsets = {item["name"]: [{"cidr": entry["cidr"], "nomatch": bool(entry.get("nomatch"))} for entry in item["entries"]]
              for item in policy["ipsets"]}
    groups = {tenant["group"]["name"]: [api_rule(rule) for rule in tenant["group"]["rules"]] for tenant in policy["tenants"]}
    vnets = {}
    for entry in policy["tenants"] + policy["shared"]:
        for vnet in entry["vnets"]:
            vnets[vnet["vnet"]] = {"options": api_options(vnet["options"]), "rules": [api_rule(rule) for rule in vnet["rules"]]}
    options = api_options(dict(policy["options"], **policy["enable"]))
    return {"cluster": {"options": options, "aliases": {}, "ipsets": ipsets, "groups": groups}, "vnets": vnets, "guests": {}}


def api_rule(rule):
    """A rule as GET .../rules returns it: enable as 0/1."""
    result = dict(rule)
    result["enable"] = 1 if rule.get("enable") else 0
    return result


def api_options(options):
    return {key: (int(value) if isinstance(value, bool) else value) for key, value in options.items()}


@pytest.fixture(scope="module")
def demo_state():
    tenants = demo("tenants")["homecloud_tenants"]
    plan = plan_tenants(tenants, demo("network_plan")["homecloud_network_plan"])
    return converged_state(firewall_policy(plan, tenants, demo("firewall")["homecloud_firewall"], nodes=NODES))


@pytest.fixture(scope="module")
def check_netns():
    """A namespace of its own in which nft checks rulesets (nft -c talks to the kernel of its namespace)."""
    name = "hctw-%s-fwc" % run_id()
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=COMMAND_TIMEOUT)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=COMMAND_TIMEOUT)


@pytest.fixture
def nft_checked(check_netns):  # pylint: disable=redefined-outer-name
    """ruleset_for_node whose result nft has accepted (`nft -c -f`)."""
    def translate(state, node, bridges):
        text = ruleset_for_node(state, node, bridges)
        pve_firewall.check(check_netns, text)
        return text
    return translate


def chain_lines(text, chain):
    """The statements of `chain` in a ruleset text."""
    lines = text.splitlines()
    start = lines.index("    chain %s {" % chain)
    end = lines.index("    }", start)
    return [line.strip() for line in lines[start + 1:end]]


def bridges_of(*vnets, ports=None):
    return {"vnets": {vnet: {"bridge": vnet, "ports": dict(ports or {}) if index == 0 else {}} for index, vnet in enumerate(vnets)}}


def state_with(vnet_rules, enable_vnet=True, cluster_enable=1, **cluster):
    state = {"cluster": {"options": {"enable": cluster_enable}, "aliases": cluster.get("aliases", {}),
                         "ipsets": cluster.get("ipsets", {}), "groups": cluster.get("groups", {})},
             "vnets": {"vnet1": {"options": {"enable": 1 if enable_vnet else 0, "policy_forward": "DROP"}, "rules": vnet_rules}},
             "guests": cluster.get("guests", {})}
    return state


def forward(action="ACCEPT", **fields):
    return dict(type="forward", action=action, enable=1, **fields)


# --- translation ---------------------------------------------------------------------------------


def test_demo_tenant_vnet_rules_in_policy_order_then_the_drop_policy(demo_state, nft_checked):  # pylint: disable=redefined-outer-name
    text = nft_checked(demo_state, "pve1", bridges_of("acme01", "globex01", "shared01"))
    acme = chain_lines(text, "bridge-acme01")
    v4 = [line for line in acme if not line.startswith("ip6 ")]
    assert v4[0] == "jump before-bridge"  # ct established,related first, as proxmox-firewall's before-bridge
    assert v4[1].startswith("ip daddr @v4-dc/homecloud-mgmt ip daddr != @v4-dc/homecloud-mgmt-nomatch limit rate 1/second burst 5 packets log")
    assert v4[2] == "ip daddr @v4-dc/homecloud-mgmt ip daddr != @v4-dc/homecloud-mgmt-nomatch drop"
    assert v4[3] == "ip saddr @v4-dc/acme-nets ip saddr != @v4-dc/acme-nets-nomatch ip daddr @v4-dc/acme-nets ip daddr != @v4-dc/acme-nets-nomatch accept"
    assert v4[4] == ("ip saddr @v4-dc/acme-nets ip saddr != @v4-dc/acme-nets-nomatch "
                     "ip daddr @v4-dc/homecloud-internet ip daddr != @v4-dc/homecloud-internet-nomatch accept")
    # then one rule per granted service port, in the policy's order (dns always; acme: postgresql, s3)
    granted = [(rule["dest"][len("+dc/"):], rule["proto"], rule["dport"]) for rule in demo_state["vnets"]["acme01"]["rules"]
               if rule.get("dest", "").startswith("+dc/svc-")]
    assert [name for name, _proto, _port in granted][:3] == ["svc-dns", "svc-dns", "svc-postgresql"]
    assert v4[5:-1] == ["ip saddr @v4-dc/acme-nets ip saddr != @v4-dc/acme-nets-nomatch ip daddr @v4-dc/%s ip daddr != @v4-dc/%s-nomatch "
                        "meta l4proto %s th dport %s accept" % (name, name, proto, port) for name, proto, port in granted]
    assert v4[-1] == "drop"
    globex = "\n".join(chain_lines(text, "bridge-globex01"))
    assert "svc-postgresql" not in globex and "acme" not in globex
    forward_chain = chain_lines(text, "forward")
    assert 'iifname "acme01" oifname "acme01" jump bridge-acme01' in forward_chain
    assert 'iifname "globex01" oifname "globex01" jump bridge-globex01' in forward_chain


def test_ipset_nomatch_entries_form_the_exception_set(demo_state, nft_checked):  # pylint: disable=redefined-outer-name
    text = nft_checked(demo_state, "pve1", bridges_of("acme01"))
    sets = {line.split()[1]: line for line in text.splitlines() if line.strip().startswith("set ")}
    assert "elements = { 0.0.0.0/1, 128.0.0.0/1 }" in sets["v4-dc/homecloud-internet"]
    nomatch = sets["v4-dc/homecloud-internet-nomatch"]
    for excluded in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.2.0/24"):
        assert excluded in nomatch
    assert "0.0.0.0/1" not in nomatch and "elements" not in sets["v4-dc/acme-nets-nomatch"]


def test_macro_expands_to_one_rule_per_template_with_the_rules_own_fields(nft_checked):
    state = state_with([forward(macro="DNS", source="10.1.0.0/24", dest="svc"), forward(macro="ping"), forward(macro="NoSuchMacro"),
                        forward(proto="tcp", dport="ssh,https")], aliases={"svc": "10.2.0.5"})
    lines = chain_lines(nft_checked(state, "pve1", bridges_of("vnet1")), "bridge-vnet1")
    assert lines[1:] == ["ip saddr 10.1.0.0/24 ip daddr 10.2.0.5 meta l4proto udp th dport 53 accept",
                         "ip saddr 10.1.0.0/24 ip daddr 10.2.0.5 meta l4proto tcp th dport 53 accept",
                         "icmp type echo-request accept", "# rule 2 skipped: unknown macro 'NoSuchMacro'",
                         "meta l4proto tcp th dport { 22, 443 } accept", "drop"]


def test_disabled_rule_skipped_and_order_kept(nft_checked):
    rules = [forward(proto="tcp", dport="22"), dict(forward(proto="tcp", dport="80"), enable=0), forward("DROP", proto="udp", sport="53"),
             forward(proto="tcp", dport="5405:5412,8006")]
    lines = chain_lines(nft_checked(state_with(rules), "pve1", bridges_of("vnet1")), "bridge-vnet1")
    assert lines == ["jump before-bridge", "meta l4proto tcp th dport 22 accept", "meta l4proto udp th sport 53 drop",
                     "meta l4proto tcp th dport { 5405-5412, 8006 } accept", "drop"]


def test_unknown_ipset_skips_only_that_rule(nft_checked):
    rules = [forward(source="+dc/gone"), forward(source="+known", dest="10.0.0.1-10.0.0.9")]
    state = state_with(rules, ipsets={"known": [{"cidr": "10.5.0.0/16", "nomatch": False}]})
    lines = chain_lines(nft_checked(state, "pve1", bridges_of("vnet1")), "bridge-vnet1")
    assert lines[1] == "# rule 0 skipped: no such ipset '+dc/gone'"
    assert lines[2] == "ip saddr @v4-dc/known ip saddr != @v4-dc/known-nomatch ip daddr 10.0.0.1-10.0.0.9 accept"
    assert len(lines) == 4  # no IPv6 variant: the address range is IPv4


def test_sdn_ipsets_given_in_the_state_are_declared_and_matched(nft_checked):
    state = state_with([forward(source="+sdn/vnet1-all")])
    state["sdn_ipsets"] = {"vnet1-all": [{"cidr": "10.1.0.0/24", "nomatch": False}]}
    text = nft_checked(state, "pve1", bridges_of("vnet1"))
    assert "set v4-sdn/vnet1-all { type ipv4_addr; flags interval; auto-merge; elements = { 10.1.0.0/24 } }" in text
    assert chain_lines(text, "bridge-vnet1")[1] == "ip saddr @v4-sdn/vnet1-all ip saddr != @v4-sdn/vnet1-all-nomatch accept"


def test_vnet_firewall_disabled_or_cluster_disabled_gives_no_chain(nft_checked):
    disabled_vnet = nft_checked(state_with([forward(proto="tcp", dport="22")], enable_vnet=False), "pve1", bridges_of("vnet1"))
    assert "bridge-vnet1" not in disabled_vnet and "hook forward" not in disabled_vnet
    assert "delete table inet %s" % pve_firewall.TABLE in disabled_vnet  # loading it removes an earlier ruleset
    disabled_cluster = nft_checked(state_with([forward(proto="tcp", dport="22")], cluster_enable=0), "pve1", bridges_of("vnet1"))
    assert "bridge-vnet1" not in disabled_cluster and "the cluster firewall is disabled" in disabled_cluster
    # a VNet the node has no bridge for is not enforced there
    other_node = nft_checked(state_with([forward(proto="tcp", dport="22")]), "pve2", bridges_of("vnet2"))
    assert "bridge-vnet1" not in other_node


def test_group_rules_jump_to_the_groups_chain_for_the_direction(nft_checked):
    groups = {"tenant1": [{"type": "in", "action": "ACCEPT", "source": "10.1.0.0/24", "enable": 1},
                          {"type": "forward", "action": "ACCEPT", "proto": "tcp", "dport": "443", "enable": 1}]}
    guests = {"101": {"options": {"enable": 1}, "aliases": {}, "ipsets": {},
                      "rules": [{"type": "group", "action": "tenant1", "enable": 1},
                                {"type": "in", "action": "ACCEPT", "iface": "net0", "macro": "SSH", "enable": 1},
                                {"type": "in", "action": "ACCEPT", "iface": "net5", "proto": "tcp", "dport": "80", "enable": 1},
                                {"type": "out", "action": "REJECT", "proto": "icmp", "icmp-type": "echo-request", "enable": 1}]},
              "102": {"options": {"enable": 0}, "aliases": {}, "ipsets": {}, "rules": []}}
    state = state_with([{"type": "group", "action": "tenant1", "enable": 1}], groups=groups, guests=guests)
    ports = {"tap101i0": {"vmid": 101, "net": "net0", "firewall": True}, "tap102i0": {"vmid": 102, "net": "net0", "firewall": True},
             "tap103i0": {"vmid": 103, "net": "net0", "firewall": False}}
    text = nft_checked(state, "pve1", bridges_of("vnet1", ports=ports))
    assert chain_lines(text, "bridge-vnet1") == ["jump before-bridge", "jump group-tenant1-forward", "drop"]
    assert chain_lines(text, "group-tenant1-forward") == ["meta l4proto tcp th dport 443 accept"]
    assert chain_lines(text, "guest-101-in") == [
        "jump pre-vm-in", "jump allow-dhcp-in", "jump allow-ndp-in", "jump group-tenant1-in",
        "meta mark & 0x0000ffff == 0x00000001 meta l4proto tcp th dport 22 accept",  # to port tap101i0, number 1
        "# rule 2 skipped: no interface net5 on guest 101 here", "drop"]
    assert chain_lines(text, "guest-101-out")[-2:] == ["icmp type echo-request drop", "accept"]  # REJECT is a drop here; policy_out ACCEPT
    # guest 102's firewall is off and 103's NIC has firewall=0: no chains, no port marks
    assert "guest-102" not in text and "tap102i0" not in text and "tap103i0" not in text
    assert chain_lines(text, "portmark")[1:] == ['meta mark set 0x0', 'iifname "tap101i0" meta mark set meta mark or 0x00010000',
                                                 'oifname "tap101i0" meta mark set meta mark or 0x00000001']


def test_log_ratelimit_of_the_cluster_options():
    assert pve_firewall.log_ratelimit({}) == ("1/second", 5)
    assert pve_firewall.log_ratelimit({"log_ratelimit": "enable=1,burst=10,rate=5/minute"}) == ("5/minute", 10)
    assert pve_firewall.log_ratelimit({"log_ratelimit": "0"}) is None


# --- reading the simulator -----------------------------------------------------------------------


def test_read_state_through_the_api(sim, api_session, nft_checked):
    api = api_session(sim)
    ok(api, "POST", "/cluster/sdn/zones", zone="zone1", type="simple")
    ok(api, "POST", "/cluster/sdn/vnets", vnet="vnet1", zone="zone1")
    ok(api, "PUT", "/cluster/sdn")
    ok(api, "POST", "/cluster/firewall/ipset", name="nets")
    ok(api, "POST", "/cluster/firewall/ipset/nets", cidr="10.1.0.0/16")
    ok(api, "POST", "/cluster/firewall/ipset/nets", cidr="10.1.9.0/24", nomatch=1)
    ok(api, "POST", "/cluster/firewall/groups", group="tenant1")
    ok(api, "POST", "/cluster/firewall/groups/tenant1", type="in", action="ACCEPT", source="+nets", enable=1)
    ok(api, "POST", "/cluster/sdn/vnets/vnet1/firewall/rules", type="forward", action="ACCEPT", proto="tcp", dport="22", enable=1)
    ok(api, "POST", "/cluster/sdn/vnets/vnet1/firewall/rules", type="forward", action="ACCEPT", source="+dc/nets", proto="tcp", dport="5432",
       enable=1)
    ok(api, "PUT", "/cluster/sdn/vnets/vnet1/firewall/options", enable=1, policy_forward="DROP")
    with sim.state.lock:
        sim.areas["GuestsArea"].add(101, "pve1", name="g101")
        sim.areas["GuestsArea"].record(101)["config"].update(net0="virtio=BC:24:11:00:00:01,bridge=vnet1,firewall=1",
                                                             net1="virtio=BC:24:11:00:00:02,bridge=vnet1")
    ok(api, "PUT", "/nodes/pve1/qemu/101/firewall/options", enable=1)
    ok(api, "POST", "/nodes/pve1/qemu/101/firewall/rules", type="group", action="tenant1", enable=1)
    ok(api, "PUT", "/cluster/firewall/options", enable=1)
    state = read_state(api)
    assert sorted(state["cluster"]["ipsets"]["nets"], key=lambda entry: entry["cidr"]) == [
        {"cidr": "10.1.0.0/16", "nomatch": False}, {"cidr": "10.1.9.0/24", "nomatch": True}]
    assert state["cluster"]["groups"]["tenant1"][0]["source"] == "+nets"
    assert [rule["dport"] for rule in state["vnets"]["vnet1"]["rules"]] == ["5432", "22"]  # the API inserts at the top
    assert state["guests"]["101"]["options"]["enable"] == 1
    assert state["guests"]["101"]["nics"] == {"net0": True, "net1": False}
    # the ports without their own flag: the NICs' firewall option decides
    ports = {"tap101i0": {"vmid": 101, "net": "net0"}, "tap101i1": {"vmid": 101, "net": "net1"}}
    text = nft_checked(state, "pve1", bridges_of("vnet1", ports=ports))
    assert "tap101i0" in text and "tap101i1" not in text
    assert "elements = { 10.1.9.0/24 }" in text
    assert chain_lines(text, "bridge-vnet1")[1:] == [
        "ip saddr @v4-dc/nets ip saddr != @v4-dc/nets-nomatch meta l4proto tcp th dport 5432 accept",
        "ip6 saddr @v6-dc/nets ip6 saddr != @v6-dc/nets-nomatch meta l4proto tcp th dport 5432 accept",
        "meta l4proto tcp th dport 22 accept", "drop"]
    assert "jump group-tenant1-in" in chain_lines(text, "guest-101-in")


# --- enforcement in namespaces ---------------------------------------------------------------------

LISTENER = """
import socket, sys, threading, time
def serve(port):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen(16)
    while True:
        connection, _peer = server.accept()
        connection.close()
for port in sys.argv[1:]:
    threading.Thread(target=serve, args=(int(port),), daemon=True).start()
print("listening", flush=True)
time.sleep(90)
"""

CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.5).close()
except OSError:
    sys.exit(1)
"""


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True, timeout=COMMAND_TIMEOUT, capture_output=True)


def connects(netns, address, port):
    result = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", CONNECT, address, str(port)],
                            timeout=COMMAND_TIMEOUT, check=False, capture_output=True)
    return result.returncode == 0


class Topology:
    """A node namespace with one bridge and client namespaces on veth ports of it; removed by close()."""

    def __init__(self):
        self.run = run_id()
        self.node = "hctw-%s-fw" % self.run
        self.made = []
        self.listeners = []
        self._add_netns(self.node)
        ip("-n", self.node, "link", "add", "br0", "type", "bridge")
        ip("-n", self.node, "link", "set", "br0", "up")

    def _add_netns(self, name):
        ip("netns", "add", name)
        self.made.append(name)

    def client(self, suffix, port, *addresses):
        """A namespace `hctw-<run>-<suffix>` on bridge port `port` with `addresses` on its eth0."""
        name = "hctw-%s-%s" % (self.run, suffix)
        self._add_netns(name)
        ip("-n", self.node, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", name)
        ip("-n", self.node, "link", "set", port, "master", "br0", "up")
        for address in addresses:
            ip("-n", name, "addr", "add", address, "dev", "eth0")
        ip("-n", name, "link", "set", "eth0", "up")
        ip("-n", name, "link", "set", "lo", "up")
        return name

    def listen(self, netns, *ports):
        listener = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-c", LISTENER] + [str(port) for port in ports],
                                    stdout=subprocess.PIPE, text=True)
        self.listeners.append(listener)
        assert listener.stdout.readline().strip() == "listening"

    def close(self):
        for listener in self.listeners:
            listener.kill()  # `ip netns exec` execs the command: this PID is the listener itself
            listener.wait(timeout=COMMAND_TIMEOUT)
        for name in reversed(self.made):
            subprocess.run(["ip", "netns", "del", name], check=False, timeout=COMMAND_TIMEOUT)


@pytest.fixture
def topology():
    made = Topology()
    try:
        yield made
    finally:
        made.close()


def load(check_netns, netns, state, bridges):
    ruleset = ruleset_for_node(state, "pve1", bridges)
    pve_firewall.check(check_netns, ruleset)
    pve_firewall.apply(netns, ruleset)


@pytest.mark.timeout(90)
def test_vnet_rule_decides_reachability_across_the_bridge(check_netns, topology):  # pylint: disable=redefined-outer-name
    client = topology.client("fwa", "tap101i0", "10.1.0.10/24")
    server = topology.client("fwb", "tap102i0", "10.1.0.20/24")
    topology.listen(server, 5432, 22)
    assert connects(client, "10.1.0.20", 5432) and connects(client, "10.1.0.20", 22)  # no firewall yet

    state = state_with([forward(source="10.1.0.0/24", proto="tcp", dport="5432")])
    bridges = {"vnets": {"vnet1": {"bridge": "br0", "ports": {"tap101i0": {"vmid": 101, "net": "net0", "firewall": False}}}}}
    load(check_netns, topology.node, state, bridges)
    assert connects(client, "10.1.0.20", 5432)
    assert not connects(client, "10.1.0.20", 22)

    without = copy.deepcopy(state)
    without["vnets"]["vnet1"]["rules"] = []
    load(check_netns, topology.node, without, bridges)  # replaces the loaded ruleset
    assert not connects(client, "10.1.0.20", 5432)
    assert not connects(client, "10.1.0.20", 22)


@pytest.mark.timeout(90)
def test_guest_nic_firewall_filters_its_port_only(check_netns, topology):  # pylint: disable=redefined-outer-name
    """Guest 102's firewall (policy_in DROP, one `in` rule for 5432 on net0) guards its port; guest 101 has none."""
    client = topology.client("fwa", "tap101i0", "10.1.0.10/24")
    server = topology.client("fwb", "tap102i0", "10.1.0.20/24")
    topology.listen(server, 5432, 22)
    topology.listen(client, 22)
    guests = {"102": {"options": {"enable": 1}, "aliases": {}, "ipsets": {}, "nics": {"net0": True},
                      "rules": [{"type": "in", "action": "ACCEPT", "iface": "net0", "proto": "tcp", "dport": "5432", "enable": 1}]}}
    state = state_with([], enable_vnet=False, guests=guests)
    # loaded the way the twin does it: from twin.json's VNet bridges and VM NICs
    twin = {"vnets": {"vnet1": {"bridges": {"pve1": {"netns": topology.node, "bridge": "br0"}}}},
            "vms": {vmid: {"node": "pve1", "nics": [{"index": 0, "vnet": "vnet1"}]} for vmid in ("101", "102")}}
    assert pve_firewall.bridges_by_netns(twin) == {topology.node: {"node": "pve1", "vnets": {"vnet1": {
        "bridge": "br0", "ports": {"tap101i0": {"vmid": 101, "net": "net0"}, "tap102i0": {"vmid": 102, "net": "net0"}}}}}}
    for text in pve_firewall.enforce(twin, state).values():
        pve_firewall.check(check_netns, text)
    assert connects(client, "10.1.0.20", 5432)
    assert not connects(client, "10.1.0.20", 22)  # guest 102's policy_in
    assert connects(server, "10.1.0.10", 22)  # out of 102 (policy_out ACCEPT) into 101 (no guest firewall)


@pytest.mark.timeout(120)
def test_demo_policy_tenant_reaches_only_its_granted_services(check_netns, topology, demo_state):  # pylint: disable=redefined-outer-name
    """The demo's VNet firewall on one bridge: the bridge enforced as acme's VNet, then as globex's. Addresses share
    one /12 so the shared services' addresses are on-link (the twin routes through the gateways instead)."""
    svc = {name: demo("firewall")["homecloud_firewall"]["services"][name]["addresses"][0].split("/")[0] for name in ("postgresql", "s3")}
    server = topology.client("fwb", "tap1i0", "%s/12" % svc["postgresql"], "%s/12" % svc["s3"], "192.0.2.50/12")
    acme = topology.client("fwa", "tap2i0", "10.128.17.10/12")
    globex = topology.client("fwg", "tap3i0", "10.128.33.10/12")
    topology.listen(server, 5432, 443, 22)
    acme_bridge = {"vnets": {"acme01": {"bridge": "br0", "ports": {}}}}
    load(check_netns, topology.node, demo_state, acme_bridge)
    assert connects(acme, svc["postgresql"], 5432)
    assert not connects(acme, svc["postgresql"], 22)
    assert not connects(acme, "192.0.2.50", 443)  # the management segment: dropped (and logged)
    assert not connects(globex, svc["postgresql"], 5432)  # a globex address is not in acme's networks
    globex_bridge = {"vnets": {"globex01": {"bridge": "br0", "ports": {}}}}
    load(check_netns, topology.node, demo_state, globex_bridge)
    assert not connects(globex, svc["postgresql"], 5432)  # postgresql is not granted to globex
    assert demo_granted(demo_state, "globex01", svc["s3"], "443") == ["s3"]
    assert connects(globex, svc["s3"], 443)


def demo_granted(state, vnet, address, port):
    """The services whose ACCEPT rule on `vnet` names `address` (through its svc- IP set) and `port`."""
    sets = state["cluster"]["ipsets"]
    return [rule["dest"][len("+dc/svc-"):] for rule in state["vnets"][vnet]["rules"]
            if rule["action"] == "ACCEPT" and rule.get("dest", "").startswith("+dc/svc-") and rule.get("dport") == port
            and any(entry["cidr"].split("/")[0] == address for entry in sets[rule["dest"][len("+dc/"):]])]
