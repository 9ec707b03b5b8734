# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/tenant_gateway.yml against the Proxmox VE simulator and the Cloudflare API simulator.

The gateway VM's own configuration (the tenant_gateway role: nftables, WireGuard, SSH) is proven on real software
by the Molecule scenario molecule/tenant_gateway; here the play that configures it runs with a local connection
and `--skip-tags gateway_os`, so this machine plays the gateway only for the tunnel's credentials file (written
in the test's temporary directory). What is proven here: the gateway VM as the plan says (VMID, NICs on the
external VLAN and the VNets, cloud-init addresses, IPAM), the Access policy and application, the tunnel and its
proxied DNS route; a second run writes nothing to either API; only the named tenant is touched; a hostname without
an Access policy is refused before any write; the tunnel secret never shows in the output.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import stat

import pytest
import yaml

from cfsim import CfSimulator
from cfsim.testing import CfSession

from .playbook import run_repo_playbook
from .prepared_cluster import inventory, prepare

PLAYBOOK = "playbooks/tenant_gateway.yml"
WRITES = ("POST", "PUT", "PATCH", "DELETE")
ACME_GW = 10100
HOSTNAME = "shop.acme.homecloud.example"


@pytest.fixture(scope="module")
def _cloudflare():
    with CfSimulator() as simulator:
        yield simulator


@pytest.fixture
def cloudflare(_cloudflare):  # pylint: disable=redefined-outer-name
    _cloudflare.reset()
    return _cloudflare


def gateway_inventory(tmp_path, path):
    """The inventory at ``path`` with the tunnel credentials going to the test's directory."""
    gateway_file = os.path.join(path, "group_vars", "all", "gateway.yml")
    with open(gateway_file) as handle:
        settings = yaml.safe_load(handle)
    settings["homecloud_gateway"]["cloudflared_dir"] = str(tmp_path / "cloudflared")
    with open(gateway_file, "w") as handle:
        yaml.safe_dump(settings, handle)
    return path


@pytest.fixture
def gateway_setup(sim, cloudflare, tmp_path, made_once):  # pylint: disable=redefined-outer-name
    """The prepared PVE cluster (networks, pools, templates: test_tenant_guests' state, made once per test run),
    the Cloudflare simulator, and a copy of the demo inventory."""
    sim, path = prepare(sim, tmp_path, made_once)
    return sim, cloudflare, gateway_inventory(tmp_path, path), tmp_path


@pytest.fixture
def refusal_setup(sim, cloudflare, tmp_path):  # pylint: disable=redefined-outer-name
    """Refusals come before any write: an empty cluster is enough."""
    return sim, cloudflare, gateway_inventory(tmp_path, inventory(tmp_path)), tmp_path


def run(sim, cloudflare, path, *options):
    return run_repo_playbook(sim, PLAYBOOK, inventory=path, timeout=600, cloudflare=cloudflare,
                             options=["-e", "homecloud_gateway_connection=local", "--skip-tags", "gateway_os"] + list(options))


def pve_writes(sim, since=0):
    return [(entry["method"], entry["path"], entry.get("params") or {}) for entry in sim.requests()[since:]
            if entry["method"] in WRITES]


def cf_writes(cloudflare, since=0):
    return [(entry["method"], entry["path"]) for entry in cloudflare.requests()[since:] if entry["method"] in WRITES]


def changed(process):
    return dict((host, int(count)) for host, count in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", process.stdout, re.M))


@pytest.mark.timeout(600)
def test_gateway_vm_access_tunnel_and_route_converge_then_a_second_run_writes_nothing(gateway_setup):
    sim, cloudflare, path, tmp_path = gateway_setup
    pve_before, cf_before = len(sim.requests()), len(cloudflare.requests())
    check = run(sim, cloudflare, path, "-e", "homecloud_tenant=acme", "--check", "--diff")
    assert check.returncode == 0, check.stdout[-4000:]
    assert pve_writes(sim, pve_before) == [] and cf_writes(cloudflare, cf_before) == []
    assert not (tmp_path / "cloudflared").exists()

    process = run(sim, cloudflare, path, "-e", "homecloud_tenant=acme")
    assert process.returncode == 0, process.stdout[-5000:]
    # the VM: NIC 0 on the external bridge and VLAN, then one NIC per VNet, planned MACs and addresses
    record = sim.areas["GuestsArea"].record(ACME_GW)
    config = record["config"]
    assert (record["node"], config["name"]) == ("pve1", "acme-gw")
    assert "bridge=vmbr1" in config["net0"] and "tag=101" in config["net0"] and "02:00:00:27:74:00" in config["net0"].upper()
    assert "bridge=acme01" in config["net1"] and "bridge=acme02" in config["net2"]
    assert config["ipconfig0"] == "ip=198.51.100.21/24,gw=198.51.100.1"
    assert (config["ipconfig1"], config["ipconfig2"]) == ("ip=10.128.17.2/24", "ip=10.128.18.2/24")
    # the transit leg (homecloud_network_plan.transit): acme's stable slot on the transit VNet, no gateway of its own
    assert "bridge=transi01" in config["net3"] and config["ipconfig3"] == "ip=10.143.241.10/24"
    # only acme's VMID range and VNets were written on PVE
    for method, written, params in pve_writes(sim, pve_before):
        if written.startswith("/cluster/sdn/vnets/"):
            assert re.match(r"^/cluster/sdn/vnets/(acme0[12]|transi01)/ips$", written), written
            if "transi01" in written:  # on the shared transit VNet, only acme's own leg
                assert params.get("ip") == "10.143.241.10", params
            continue
        found = re.match(r"^/nodes/\w+/qemu/(\d+)", written)
        vmid = int(params["newid"]) if written.endswith("/clone") else int(found.group(1)) if found else None
        assert vmid is not None and 10100 <= vmid <= 10199, (method, written, params)

    api = CfSession.admin(cloudflare)
    policies = api.result("GET", api.account_path("/access/policies"))
    assert [(policy["name"], policy["decision"], policy["include"]) for policy in policies] == [
        ("acme-staff", "allow", [{"email_domain": {"domain": "acme.example"}}])]
    (app,) = api.result("GET", api.account_path("/access/apps"))
    assert (app["domain"], app["type"], [item["id"] for item in app["policies"]]) == (HOSTNAME, "self_hosted", [policies[0]["id"]])
    (tunnel,) = api.result("GET", api.account_path("/cfd_tunnel"), params={"is_deleted": "false"})
    assert tunnel["name"] == "homecloud-acme"
    zone = api.result("GET", "/zones", params={"name": "homecloud.example"})[0]
    (record,) = api.result("GET", "/zones/%s/dns_records" % zone["id"], params={"name": HOSTNAME})
    assert (record["type"], record["content"], record["proxied"]) == ("CNAME", "%s.cfargotunnel.com" % tunnel["id"], True)
    # the tunnel's credentials: born on the machine that runs cloudflared, 0600, cloudflared's format
    credentials_file = tmp_path / "cloudflared" / "homecloud-acme.json"
    assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
    credentials = json.loads(credentials_file.read_text())
    assert credentials["TunnelID"] == tunnel["id"] and credentials["AccountTag"] == cloudflare.account_id
    assert credentials["TunnelSecret"] not in process.stdout + process.stderr + check.stdout
    # globex was not touched: no VM in its range, no tunnel of its own
    assert [vmid for vmid in sim.areas["GuestsArea"].used_vmids() if 10200 <= vmid <= 10299] == []
    assert all(not item["name"].startswith("homecloud-globex") for item in api.result("GET", api.account_path("/cfd_tunnel")))

    pve_again, cf_again = len(sim.requests()), len(cloudflare.requests())
    again = run(sim, cloudflare, path, "-e", "homecloud_tenant=acme")
    assert again.returncode == 0, again.stdout[-4000:]
    assert set(changed(again).values()) == {0}, again.stdout[-3000:]
    assert pve_writes(sim, pve_again) == [] and cf_writes(cloudflare, cf_again) == []


def test_a_hostname_without_access_policy_is_refused_before_any_write(refusal_setup):
    sim, cloudflare, path, dummy_tmp = refusal_setup
    tenants_file = os.path.join(path, "group_vars", "all", "tenants.yml")
    with open(tenants_file) as handle:
        tenants = yaml.safe_load(handle)
    unprotected = {"hostname": "admin.acme.homecloud.example", "guest": "web1", "port": 9000, "access": []}
    tenants["homecloud_tenants"][0]["publish"].append(unprotected)
    with open(tenants_file, "w") as handle:
        yaml.safe_dump(tenants, handle)
    pve_before, cf_before = len(sim.requests()), len(cloudflare.requests())
    process = run(sim, cloudflare, path, "-e", "homecloud_tenant=acme")
    assert process.returncode != 0
    assert "tenant acme: publish[1] (admin.acme.homecloud.example): access: every published hostname sits behind " \
           "Cloudflare Access" in process.stdout, process.stdout[-3000:]
    assert pve_writes(sim, pve_before) == [] and cf_writes(cloudflare, cf_before) == []


def test_a_tenant_without_a_gateway_is_refused_naming_those_with_one(refusal_setup):
    sim, cloudflare, path, dummy_tmp = refusal_setup
    process = run(sim, cloudflare, path, "-e", "homecloud_tenant=initech")
    assert process.returncode != 0
    assert "tenant initech has no gateway in homecloud_tenants (tenants with one: acme, globex)" in process.stdout
