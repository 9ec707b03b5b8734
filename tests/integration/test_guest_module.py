# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""guest and guest_info against the simulator (PVE 8.4 and 9.1): a cloud-init guest created from a
template in one clone, one config write, one resize and a start; check mode plans the real run; a second
run writes nothing; one change is one config write; pending values wait for a reboot that only
allow_reboot makes; a shrink is refused before any write; absent destroys the guest and its disks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from urllib.parse import unquote

import pytest

from pvesim.testing import ApiSession, ok

from .playbook import run_tasks

pytestmark = pytest.mark.timeout(300)

WRITES = ("POST", "PUT", "DELETE")
GIB = 1024 ** 3
TEMPLATE = 9000
VMID = 4010
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMv9nWUN6Xx0BPqBL5eM1oQ7qK2ZkpN3b6Zk1V0hZ0bq ops@acme"
WEB1 = dict(vmid=VMID, name="web1", clone="debian-12-cloud", storage="local-zfs", cores=2, memory=4096,
            disks={"scsi0": {"size": "32G"}}, nics=[dict(bridge="vmbr0", tag=20)],
            ipconfig=[dict(ip="10.0.1.20/24", gw="10.0.1.1")], nameserver=["10.0.1.1"], ciuser="ops",
            cipassword="first-pass-123", sshkeys=[KEY], tags=["acme", "web"], state="started", timeout=60)


@pytest.fixture(params=["9.1", "8.4"])
def pve(request):
    """A simulator of each release, with a Debian cloud template 9000 on pve1 and an agent that answers at once."""
    return request_pve(request.getfixturevalue("sim" if request.param == "9.1" else "sim84"))


def request_pve(sim):
    """The simulator with the template and an agent that answers at once."""
    sim.areas["QemuRuntimeArea"].agent_delay = 0
    storage, guests = sim.areas["StorageArea"], sim.areas["GuestsArea"]
    with sim.state.lock:
        disk = storage.to_base("pve1", storage.alloc("pve1", "local-zfs", TEMPLATE, 2 * GIB))
        cloudinit = storage.alloc("pve1", "local-zfs", TEMPLATE, 4 * 1024 ** 2, name="vm-{0}-cloudinit".format(TEMPLATE))
        guests.add(TEMPLATE, "pve1", name="debian-12-cloud", status="stopped")
        guests.record(TEMPLATE)["config"].update({
            "memory": "2048", "cores": 1, "agent": "1", "ostype": "l26", "scsihw": "virtio-scsi-pci", "serial0": "socket",
            "scsi0": "{0},size=2G".format(disk), "ide2": "{0},media=cdrom".format(cloudinit), "boot": "order=scsi0",
            "net0": "virtio=BC:24:11:00:90:00,bridge=vmbr0", "template": 1})
    return sim


def writes(sim):
    return ["{0} {1}".format(entry["method"], entry["path"]) for entry in sim.requests()
            if entry["method"] in WRITES and entry["path"].startswith(("/nodes/", "/pools"))]


def api(sim):
    return ApiSession(sim)


def config(sim, vmid=VMID, node="pve1", current=False):
    return ok(api(sim), "GET", "/nodes/{0}/qemu/{1}/config".format(node, vmid), **({"current": 1} if current else {}))


def test_create_from_the_template_check_real_second_run(pve, tmp_path):
    ok(api(pve), "POST", "/pools", poolid="acme")
    tasks = [("guest", dict(WEB1, pool="acme"))]
    process, planned = run_tasks(pve, tmp_path, tasks, check=True)
    assert process.returncode == 0, process.stdout[-5000:]
    assert writes(pve)[-1:] == ["POST /pools"], "check mode wrote"
    earlier = len(writes(pve))
    process, done = run_tasks(pve, tmp_path, tasks)
    assert not done[0].get("failed"), done[0]
    assert done[0]["writes"] == planned[0]["writes"] and done[0]["diff"] == planned[0]["diff"]
    assert [line.split(" ")[:2] for line in done[0]["writes"]] == [
        ["POST", "/nodes/pve1/qemu/9000/clone"], ["PUT", "/nodes/pve1/qemu/4010/config"],
        ["PUT", "/nodes/pve1/qemu/4010/resize"], ["POST", "/nodes/pve1/qemu/4010/status/start"]]
    assert writes(pve)[earlier:] == ["POST /nodes/pve1/qemu/9000/clone", "PUT /nodes/pve1/qemu/4010/config",
                                     "PUT /nodes/pve1/qemu/4010/resize", "POST /nodes/pve1/qemu/4010/status/start"]
    assert "first-pass-123" not in str(planned) + str(done) + process.stdout
    result = done[0]
    assert result["status"] == "running" and result["reboot_required"] is False
    assert [entry["address"] for entry in result["addresses"] if entry["family"] == "ipv4"] == ["10.0.1.20"]

    held = config(pve)
    assert held["ciuser"] == "ops" and held["ipconfig0"] == "ip=10.0.1.20/24,gw=10.0.1.1" and held["cores"] in (2, "2")
    assert unquote(held["sshkeys"]) == KEY and held["cipassword"] == "**********"
    assert held["scsi0"].startswith("local-zfs:vm-4010-disk-") and "size=32G" in held["scsi0"]
    assert "bridge=vmbr0" in held["net0"] and "tag=20" in held["net0"] and "BC:24:11:00:90:00" not in held["net0"]
    assert sorted(held["tags"].split(";")) == ["acme", "web"]
    assert VMID in [member.get("vmid") for member in ok(api(pve), "GET", "/pools", poolid="acme")[0]["members"]]

    after_first = len(writes(pve))
    process, again = run_tasks(pve, tmp_path, tasks)
    assert again[0]["changed"] is False and again[0]["writes"] == [], again[0]
    assert len(writes(pve)) == after_first


def test_one_change_is_one_config_write_and_pending_waits_for_allow_reboot(pve, tmp_path):
    process, done = run_tasks(pve, tmp_path, [("guest", WEB1)])
    assert not done[0].get("failed"), done[0]
    base = dict(WEB1, state="present")
    base.pop("cipassword")
    for change, key in ((dict(ciuser="admin"), "ciuser"), (dict(ipconfig=[dict(ip="10.0.1.21/24", gw="10.0.1.1")]), "ipconfig0"),
                        (dict(cores=4), "cores")):
        earlier = len(writes(pve))
        process, results = run_tasks(pve, tmp_path, [("guest", dict(base, **change))])
        result = results[0]
        assert not result.get("failed"), result
        assert writes(pve)[earlier:] == ["PUT /nodes/pve1/qemu/4010/config"]
        assert [line.split(" ")[2].split("=")[0] for line in result["writes"]] == [key]
        assert key in result["pending"] and result["reboot_required"] is True
        assert "wait(s) for the next start" in process.stdout + process.stderr
        base.update(change)
    pending = [entry["key"] for entry in ok(api(pve), "GET", "/nodes/pve1/qemu/4010/pending") if "pending" in entry]
    assert pending == ["cores"] and config(pve, current=True)["cores"] in (2, "2")

    # pending counts as written: nothing to write, still a reboot to make
    earlier = len(writes(pve))
    process, results = run_tasks(pve, tmp_path, [("guest", base)])
    assert results[0]["writes"] == [] and results[0]["changed"] is False
    assert results[0]["pending"] == ["ciuser", "cores", "ipconfig0"] and len(writes(pve)) == earlier

    process, results = run_tasks(pve, tmp_path, [("guest", dict(base, allow_reboot=True))])
    assert results[0]["writes"] == ["POST /nodes/pve1/qemu/4010/status/reboot timeout=60"], results[0]
    assert results[0]["reboot_required"] is False and results[0]["pending"] == []
    assert config(pve, current=True)["cores"] in (4, "4")
    interfaces = ok(api(pve), "GET", "/nodes/pve1/qemu/4010/agent/network-get-interfaces")["result"]
    assert "10.0.1.21" in [address["ip-address"] for interface in interfaces for address in interface["ip-addresses"]]


def test_a_shrink_is_refused_before_any_write(pve, tmp_path):
    process, done = run_tasks(pve, tmp_path, [("guest", dict(WEB1, state="present"))])
    assert not done[0].get("failed"), done[0]
    earlier = len(writes(pve))
    process, results = run_tasks(pve, tmp_path, [("guest", dict(vmid=VMID, cores=8, disks={"scsi0": "16G"}))])
    assert results[0]["failed"] is True
    assert "guest 4010: disks.scsi0: declared 16G but the disk is 32G" in results[0]["msg"]
    assert len(writes(pve)) == earlier
    process, results = run_tasks(pve, tmp_path, [("guest", dict(vmid=VMID, ipconfig=[dict(ip="10.0.1.20")]))])
    assert "ipconfig[0].ip: '10.0.1.20' is not an IPv4 address in CIDR form" in results[0]["msg"]
    assert len(writes(pve)) == earlier


def test_guest_info_reads_parsed_config_pending_and_addresses(pve, tmp_path):
    process, done = run_tasks(pve, tmp_path, [("guest", WEB1), ("guest", dict(vmid=VMID, cores=3))])
    assert not done[1].get("failed"), done[1]
    process, results = run_tasks(pve, tmp_path, [("guest_info", dict(name="web1", addresses=True)),
                                                 ("guest_info", dict(templates="only"))], check=True)
    web1 = results[0]["guests"]
    assert len(web1) == 1 and web1[0]["vmid"] == VMID and web1[0]["status"] == "running"
    assert web1[0]["pending"] == ["cores"] and web1[0]["config"]["cores"] in (3, "3")
    assert web1[0]["ipconfig"] == {"ipconfig0": {"ip": "10.0.1.20/24", "gw": "10.0.1.1"}}
    assert web1[0]["nics"]["net0"]["bridge"] == "vmbr0" and web1[0]["disks"] == {"scsi0": "32G"}
    assert web1[0]["sshkeys"] == [KEY] and web1[0]["tags"] == ["acme", "web"]
    assert "10.0.1.20" in [entry["address"] for entry in web1[0]["addresses"]]
    assert [guest["vmid"] for guest in results[1]["guests"]] == [TEMPLATE]


def test_absent_stops_and_destroys_with_the_disks(pve, tmp_path):
    process, done = run_tasks(pve, tmp_path, [("guest", WEB1)])
    assert not done[0].get("failed"), done[0]
    gone = [("guest", dict(vmid=VMID, state="absent", timeout=60))]
    process, planned = run_tasks(pve, tmp_path, gone, check=True)
    earlier = len(writes(pve))
    process, results = run_tasks(pve, tmp_path, gone)
    assert results[0]["writes"] == planned[0]["writes"] == [
        "POST /nodes/pve1/qemu/4010/status/stop", "DELETE /nodes/pve1/qemu/4010 destroy-unreferenced-disks=1 purge=1"]
    assert writes(pve)[earlier:] == ["POST /nodes/pve1/qemu/4010/status/stop", "DELETE /nodes/pve1/qemu/4010"]
    with pve.state.lock:
        assert pve.areas["StorageArea"].volumes_of("pve1", VMID) == []
        assert pve.areas["GuestsArea"].guest(VMID) is None
    process, again = run_tasks(pve, tmp_path, gone)
    assert again[0]["changed"] is False and again[0]["writes"] == []


def ipam_db(sim, zone="tz"):
    """{address: entry} of the guests' registrations in the simulator's IPAM DB (PVE's priv/ipam.db)."""
    subnets = sim.areas["SdnArea"].state["ipam_db"]["zones"][zone]["subnets"]
    return dict((address, entry) for subnet in subnets.values() for address, entry in subnet["ips"].items()
                if not entry.get("gateway"))


def test_ipam_registers_moves_and_releases_the_guest_address(sim, tmp_path):
    """ipam=true on a VNet whose zone has PVE's IPAM and no DHCP (as tenant EVPN zones are): registered before the
    clone, moved with the address, released after the destroy; a registration left by a run that failed after it
    counts as done; a NIC without a declared MAC is refused before any write. One release: the IPAM calls are the
    same in 8.4 and 9.1."""
    pve = request_pve(sim)
    session = api(pve)
    ok(session, "POST", "/cluster/sdn/zones", zone="tz", type="simple", ipam="pve")
    ok(session, "POST", "/cluster/sdn/vnets", vnet="tv", zone="tz")
    ok(session, "POST", "/cluster/sdn/vnets/tv/subnets", subnet="10.0.9.0/24", type="subnet", gateway="10.0.9.1")
    ok(session, "PUT", "/cluster/sdn")
    mac = "02:00:00:0F:AA:00"
    guest = dict(WEB1, nics=[dict(bridge="tv", macaddr=mac)], ipconfig=[dict(ip="10.0.9.20/24", gw="10.0.9.1")],
                 ipam=True, state="present")
    no_mac = dict(guest, nics=[dict(bridge="tv")])
    _process, refused = run_tasks(pve, tmp_path, [("guest", no_mac)])
    assert refused[0]["failed"] and "nics[0].macaddr" in refused[0]["msg"] and "nothing was changed" in refused[0]["msg"]
    assert writes(pve) == [] and ipam_db(pve) == {}
    # a run that registered the address and then failed: the next one counts the registration as done
    ok(session, "POST", "/cluster/sdn/vnets/tv/ips", zone="tz", ip="10.0.9.20", mac=mac)
    _process, done = run_tasks(pve, tmp_path, [("guest", guest)])
    assert not done[0].get("failed"), done[0]
    assert done[0]["writes"][0] == "POST /cluster/sdn/vnets/tv/ips ip=10.0.9.20 mac={0} zone=tz".format(mac)
    assert ipam_db(pve) == {"10.0.9.20": {"mac": mac}}
    _process, again = run_tasks(pve, tmp_path, [("guest", guest)])
    assert again[0]["changed"] is False and again[0]["writes"] == []
    moved = dict(guest, ipconfig=[dict(ip="10.0.9.30/24", gw="10.0.9.1")])
    _process, planned = run_tasks(pve, tmp_path, [("guest", moved)], check=True)
    _process, done = run_tasks(pve, tmp_path, [("guest", moved)])
    assert done[0]["writes"] == planned[0]["writes"]
    assert [line.split(" ")[:3] for line in done[0]["writes"]] == [
        ["DELETE", "/cluster/sdn/vnets/tv/ips", "ip=10.0.9.20"], ["POST", "/cluster/sdn/vnets/tv/ips", "ip=10.0.9.30"],
        ["PUT", "/nodes/pve1/qemu/4010/config", "ipconfig0=ip=10.0.9.30/24,gw=10.0.9.1"]]
    assert ipam_db(pve) == {"10.0.9.30": {"mac": mac}}
    _process, gone = run_tasks(pve, tmp_path, [("guest", dict(vmid=VMID, state="absent", ipam=True, timeout=60))])
    assert gone[0]["writes"] == ["DELETE /nodes/pve1/qemu/4010 destroy-unreferenced-disks=1 purge=1",
                                 "DELETE /cluster/sdn/vnets/tv/ips ip=10.0.9.30 mac={0} zone=tz".format(mac)]
    assert ipam_db(pve) == {}
