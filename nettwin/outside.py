"""The outside of the cluster: the external network (one bridge, the tenant gateways' uplink and their default
gateway 198.51.100.1), the internet (203.0.113.10, an HTTP echo server on port 80 answering the client's
address) and the management network (192.0.2.10/24, listeners on 8006 and 22). The external namespace routes
every tenant network via that tenant's gateway's external address, so the outside can try to get in."""

import os
import sys

from nettwin import shell, source

EXTERNAL_BRIDGE = "vmbr1"
EXTERNAL_ADDRESS = "198.51.100.1/24"
INTERNET_ADDRESS = "203.0.113.10"
INTERNET_EDGE = "203.0.113.1"
INTERNET_PREFIX = 24
ECHO_PORT = 80
MANAGEMENT_ADDRESS = "192.0.2.10/24"
MANAGEMENT_EDGE = "192.0.2.1"
MANAGEMENT_PORTS = (8006, 22)


HOME_ROUTER_RULES = """table inet hctw_home_router {
    chain forward {
        type filter hook forward priority filter; policy accept;
        iifname "to_inet" oifname "to_mgmt" counter drop
        iifname "to_mgmt" oifname "to_inet" counter drop
    }
}
"""


def external_bridge(external_ns):
    shell.batch(external_ns, ["link add %s type bridge stp_state 0 forward_delay 0" % EXTERNAL_BRIDGE,
                              "addr add %s dev %s" % (EXTERNAL_ADDRESS, EXTERNAL_BRIDGE), "link set %s up" % EXTERNAL_BRIDGE])
    shell.sysctl(external_ns, "net.ipv4.ip_forward", 1)


def listener(builder, netns, name, args):
    pid_file = os.path.join(builder.state_dir, "%s.pid" % name)
    builder.twin["created"]["pid_files"].append(pid_file)
    env_path = source.REPO
    argv = ["env", "PYTHONPATH=" + env_path, sys.executable, "-m", "nettwin.listener"] + args
    shell.start(argv, pid_file, netns=netns, log_file=os.path.join(builder.state_dir, "%s.log" % name))
    return pid_file


def _listening(netns, port):
    process = shell.run(["ss", "-Hltn", "sport = :%d" % port], netns=netns, check=False)
    return bool(process.stdout.strip())


def build(builder, routes):
    """{internet, management} after linking them to the external namespace and starting their listeners."""
    external_ns = builder.twin["external"]["netns"]
    internet_ns = builder.netns("inet")
    management_ns = builder.netns("mgmt")
    management_prefix = MANAGEMENT_ADDRESS.split("/")[1]
    shell.batch(external_ns, [
        "link add to_inet type veth peer name uplink netns %s" % internet_ns,
        "addr add %s/%d dev to_inet" % (INTERNET_EDGE, INTERNET_PREFIX), "link set to_inet up",
        "link add to_mgmt type veth peer name mgmt netns %s" % management_ns,
        "addr add %s/%s dev to_mgmt" % (MANAGEMENT_EDGE, management_prefix), "link set to_mgmt up",
    ] + ["route add %s via %s" % (network, via) for network, via in sorted(routes.items())])
    shell.batch(internet_ns, ["addr add %s/%d dev uplink" % (INTERNET_ADDRESS, INTERNET_PREFIX), "link set uplink up",
                              "route add default via %s" % INTERNET_EDGE])
    shell.batch(management_ns, ["addr add %s dev mgmt" % MANAGEMENT_ADDRESS, "link set mgmt up",
                                "route add default via %s" % MANAGEMENT_EDGE])
    builder.links += 2
    # The home router between the internet and the LAN: it never forwards between the internet and the management
    # segment (what any router with NAT and a default-deny inbound does); everything else it routes, so the internet
    # can still try the tenants' networks through their gateways.
    shell.run(["nft", "-f", "-"], netns=external_ns, input_text=HOME_ROUTER_RULES)
    listener(builder, internet_ns, "internet-echo", ["--echo", str(ECHO_PORT)])
    listener(builder, management_ns, "management", sum((["--accept", str(port)] for port in MANAGEMENT_PORTS), []))
    if not shell.wait_until(lambda: _listening(internet_ns, ECHO_PORT) and all(
            _listening(management_ns, port) for port in MANAGEMENT_PORTS), 15, 0.1):
        raise RuntimeError("the outside's listeners did not start within 15 s (see %s/*.log)" % builder.state_dir)
    return {"internet": {"netns": internet_ns, "address": INTERNET_ADDRESS, "echo_port": ECHO_PORT},
            "management": {"netns": management_ns, "address": MANAGEMENT_ADDRESS, "ports": list(MANAGEMENT_PORTS)}}
