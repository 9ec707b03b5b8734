"""The network twin built once per test module from an in-process pvesim (PVE 9.1, 3 nodes): the demo
inventory's SDN plan converged through the API (controller, zones, VNets, subnets, apply) and a few VMs
created as the guest, gateway and shared services playbooks leave them (netN bridge/MAC, ipconfigN).
`python -m nettwin up --no-containers` builds the twin, `down` removes it at the end (in finally)."""

import contextlib
import inspect
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from pvesim.simulator import Simulator
from pvesim.testing import ApiSession, ok

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INVENTORY = os.path.join(REPO, "inventories", "demo")
TWIN_TIMEOUT = 120

# (vmid, name, node, [(bridge, tag, ip/prefix, gateway)]): acme's web VNet on pve1 and pve2, its db VNet on
# pve3 (acme zone: web and db), globex's app on pve2 (another zone), acme's gateway on pve1 (external + both
# VNets at their first reserved address), the shared services' dns on pve1. The guests' default route is the
# EVPN anycast gateway .1 so their traffic between VNets crosses the zone (VRF) namespace.
VMS = [
    (10110, "web1", "pve1", [("acme01", None, "10.128.17.10/24", "10.128.17.1")]),
    (10111, "web2", "pve2", [("acme01", None, "10.128.17.11/24", "10.128.17.1")]),
    (10120, "db1", "pve3", [("acme02", None, "10.128.18.10/24", "10.128.18.1")]),
    (10210, "app1", "pve2", [("globex01", None, "10.128.33.10/24", "10.128.33.1")]),
    (10100, "acme-gw", "pve1", [("vmbr1", 101, "198.51.100.21/24", "198.51.100.1"), ("acme01", None, "10.128.17.2/24", None),
                                ("acme02", None, "10.128.18.2/24", None)]),
    (10010, "dns", "pve1", [("shared01", None, "10.128.1.10/24", "10.128.1.1")]),
]


def mac(vmid, index):
    return "02:00:00:%02X:%02X:%02X" % ((vmid >> 8) & 0xFF, vmid & 0xFF, index)


def _plan():
    sys.path.append(os.path.join(REPO, ".build", "collections"))
    from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import plan_tenants  # pylint: disable=import-outside-toplevel
    folder = os.path.join(INVENTORY, "group_vars", "all")
    with open(os.path.join(folder, "tenants.yml"), encoding="utf-8") as handle:
        tenants = yaml.safe_load(handle)["homecloud_tenants"]
    with open(os.path.join(folder, "network_plan.yml"), encoding="utf-8") as handle:
        network_plan = yaml.safe_load(handle)["homecloud_network_plan"]
    return plan_tenants(tenants, network_plan)


def converge_sdn(api):
    """What tenant_network.yml writes (the tenant_network module's objects), straight through the API."""
    ok(api, "POST", "/cluster/sdn/controllers", controller="evpnctl", type="evpn", asn=65000, peers="10.255.0.1,10.255.0.2,10.255.0.3")
    for entry in _plan():
        zone = dict(entry["zone"])
        vnets = zone.pop("vnets")
        ok(api, "POST", "/cluster/sdn/zones", **dict((key.replace("_", "-"), ",".join(value) if isinstance(value, list) else value)
                                                     for key, value in zone.items()))
        for vnet in vnets:
            subnets = vnet.pop("subnets")
            ok(api, "POST", "/cluster/sdn/vnets", zone=zone["zone"], **vnet)
            for subnet in subnets:
                ok(api, "POST", "/cluster/sdn/vnets/%s/subnets" % vnet["vnet"], type="subnet", subnet=subnet["subnet"],
                   gateway=subnet["gateway"], snat=int(subnet["snat"]))
    ok(api, "PUT", "/cluster/sdn")


def create_vms(api):
    for vmid, name, node, nics in VMS:
        params = {"vmid": vmid, "name": name}
        for index, (bridge, tag, address, gateway) in enumerate(nics):
            params["net%d" % index] = "virtio=%s,bridge=%s%s" % (mac(vmid, index), bridge, ",tag=%d" % tag if tag else "")
            params["ipconfig%d" % index] = "ip=%s%s" % (address, ",gw=%s" % gateway if gateway else "")
        ok(api, "POST", "/nodes/%s/qemu" % node, **params)


def nettwin(*args, env=None, timeout=TWIN_TIMEOUT):
    """`python -m nettwin ...` as a user runs it; returns the CompletedProcess."""
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.path.join(REPO, ".build", "collections")]), **(env or {}))
    return subprocess.run([sys.executable, "-m", "nettwin"] + list(args), capture_output=True, text=True, timeout=timeout,
                          env=environment, cwd=REPO, check=False)


def in_netns(netns, *argv, timeout=15):
    return subprocess.run(["ip", "netns", "exec", netns] + list(argv), capture_output=True, text=True, timeout=timeout, check=False)


def ping(netns, address):
    return in_netns(netns, "ping", "-c", "1", "-W", "2", address).returncode == 0


def _missing_requirements():
    if os.geteuid() != 0:
        return "the twin needs root (network namespaces)"
    for tool in ("/usr/lib/frr/bgpd", "/usr/lib/frr/zebra"):
        if not os.path.exists(tool):
            return "FRR is not installed (%s)" % tool
    for tool in ("vtysh", "tcpdump", "ping"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    return None


@contextlib.contextmanager
def built_twin(state_dir):
    """A simulator prepared as above and the twin built from it; the twin goes down and the simulator stops on exit."""
    missing = _missing_requirements()
    if missing:
        pytest.skip(missing)
    options = {"task_duration": 0.05}
    if "exec_netns_prefix" in inspect.signature(Simulator.__init__).parameters:  # pvesim's real agent exec in the twin
        options["exec_netns_prefix"] = "hctw-"
    simulator = Simulator(**options)
    simulator.start()
    try:
        api = ApiSession(simulator)
        converge_sdn(api)
        create_vms(api)
        tokenid, secret = sorted(simulator.tokens.items())[0]
        user, token = tokenid.split("!")
        env = {"PROXMOX_HOST": "127.0.0.1", "PROXMOX_PORT": str(simulator.port), "PROXMOX_CA_PATH": simulator.cert_path,
               "PROXMOX_USER": user, "PROXMOX_TOKEN_ID": token, "PROXMOX_TOKEN_SECRET": secret}
        process = nettwin("up", "--state-dir", state_dir, "--inventory", INVENTORY, "--no-containers", env=env)
        assert process.returncode == 0, process.stdout + process.stderr
        with open(os.path.join(state_dir, "twin.json"), encoding="utf-8") as handle:
            document = json.load(handle)
        yield {"twin": document, "state_dir": state_dir, "sim": simulator, "up": process}
    finally:
        nettwin("down", "--state-dir", state_dir)
        simulator.stop()


@pytest.fixture(scope="session")
def twin(tmp_path_factory):
    """The twin shared by the tests of one pytest worker (they undo what they change, in finally)."""
    with built_twin(str(tmp_path_factory.mktemp("twin"))) as built:
        yield built
