"""The qemu area (pvesim/areas/guests.py, pvesim/qemu_config.py) against qemu-server's behaviour
(proxmox/qemu-server src/PVE/API2/Qemu.pm, src/PVE/QemuServer.pm, src/PVE/QemuServer/Cloudinit.pm)."""

import re
import time
from urllib.parse import quote

import pytest

from pvesim.testing import ok, plain_error

pytestmark = pytest.mark.timeout(60)
TASK_WAIT = 10
MAC_RE = r"BC:24:11:[0-9A-F]{2}:[0-9A-F]{2}:[0-9A-F]{2}"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq1 admin@homecloud"


@pytest.fixture
def api(sim, api_session):
    return api_session(sim)


def wait_task(api, upid):
    """The task's exit status once it stopped (bounded wait)."""
    node = upid.split(":")[1]
    deadline = time.monotonic() + TASK_WAIT
    while time.monotonic() < deadline:
        status = ok(api, "GET", "/nodes/%s/tasks/%s/status" % (node, upid))
        if status["status"] == "stopped":
            return status["exitstatus"]
        time.sleep(0.1)
    raise AssertionError("task %s still running" % upid)


def create(api, vmid=100, node="pve1", **params):
    params.setdefault("scsi0", "local-zfs:4,discard=on")
    params.setdefault("net0", "virtio,bridge=vmbr0")
    upid = ok(api, "POST", "/nodes/%s/qemu" % node, vmid=vmid, **params)
    assert wait_task(api, upid) == "OK"
    return upid


def set_running(sim, vmid):
    """Mark a VM running as the runtime area's start does (pending applied, booted recorded)."""
    guests = sim.areas["GuestsArea"]
    with sim.state.lock:
        guests.apply_pending(vmid)
        record = guests.record(vmid)
        record["status"] = "running"
        record["booted"] = {"at": time.time(), "config": dict(record["config"])}


def test_create_allocates_disks_generates_macs_and_boot_order_create_vm(api):
    upid = ok(api, "POST", "/nodes/pve1/qemu", vmid=100, name="web1", memory=2048, cores=2, sockets=2,
              scsi0="local-zfs:4,discard=on", ide2="local-zfs:cloudinit", net0="virtio,bridge=vmbr0", ipconfig0="ip=dhcp")
    assert upid.split(":")[5:7] == ["qmcreate", "100"]
    assert ok(api, "GET", "/nodes/pve1/qemu/100/config")["lock"] == "create"  # create_and_lock_config
    assert wait_task(api, upid) == "OK"
    config = ok(api, "GET", "/nodes/pve1/qemu/100/config")
    assert "lock" not in config
    assert config["scsi0"] == "local-zfs:vm-100-disk-0,discard=on,size=4G"
    assert config["ide2"] == "local-zfs:vm-100-cloudinit,media=cdrom"
    assert re.match(r"^virtio=%s,bridge=vmbr0$" % MAC_RE, config["net0"])
    assert config["boot"] == "order=scsi0;ide2;net0"
    assert re.match(r"^uuid=[0-9a-f-]{36}$", config["smbios1"]) and re.match(r"^[0-9a-f-]{36}$", config["vmgenid"])
    assert re.match(r"^creation-qemu=10\.1\.2,ctime=\d+$", config["meta"])
    assert re.match(r"^[0-9a-f]{40}$", config["digest"])
    listed = ok(api, "GET", "/nodes/pve1/qemu")
    assert [(entry["vmid"], entry["name"], entry["status"], entry["cpus"], entry["maxmem"], entry["maxdisk"]) for entry in listed] == [
        (100, "web1", "stopped", 4, 2048 * 1024 ** 2, 4 * 1024 ** 3)]
    resource = ok(api, "GET", "/cluster/resources", type="vm")[0]
    assert (resource["maxcpu"], resource["maxmem"], resource["maxdisk"], resource["template"]) == (4, 2048 * 1024 ** 2, 4 * 1024 ** 3, 0)
    assert ok(api, "GET", "/cluster/nextid") == 101


def test_create_refuses_a_vmid_in_use_check_vmid_unused(api):
    create(api, 100, node="pve2")
    answer = api.api("POST", "/nodes/pve1/qemu", data={"vmid": 100, "name": "again"})
    plain_error(answer, "unable to create VM 100 - VM 100 already exists on node 'pve2'\n")


def test_create_adds_to_pool_and_8_4_records_its_qemu(sim84, api_session):
    api = api_session(sim84)
    ok(api, "POST", "/pools", poolid="tenant1")
    create(api, 100, pool="tenant1")
    assert [member["vmid"] for member in ok(api, "GET", "/pools", poolid="tenant1")[0]["members"]] == [100]
    assert ok(api, "GET", "/nodes/pve1/qemu/100/config")["meta"].startswith("creation-qemu=9.2.0,")
    plain_error(api.api("POST", "/nodes/pve1/qemu", data={"vmid": 101, "pool": "nopool"}), "pool 'nopool' does not exist\n")


def test_config_of_a_stopped_vm_changes_at_once_digest_and_lock(sim, api, api_session):
    create(api)
    digest = ok(api, "GET", "/nodes/pve1/qemu/100/config")["digest"]
    assert ok(api, "PUT", "/nodes/pve1/qemu/100/config", cores=4, digest=digest) is None
    config = ok(api, "GET", "/nodes/pve1/qemu/100/config")
    assert config["cores"] == 4 and config["digest"] != digest
    assert ok(api, "GET", "/nodes/pve1/qemu/100/pending") == sorted(ok(api, "GET", "/nodes/pve1/qemu/100/pending"), key=lambda e: e["key"])
    plain_error(api.api("PUT", "/nodes/pve1/qemu/100/config", data={"cores": 2, "digest": digest}),
                "checksum mismatch (file change by other user?)\n")
    plain_error(api.api("PUT", "/nodes/pve1/qemu/100/config", data={}), "no options specified\n")
    with sim.state.lock:
        sim.areas["GuestsArea"].record(100)["lock"] = "backup"
    plain_error(api.api("PUT", "/nodes/pve1/qemu/100/config", data={"cores": 2}), "VM is locked (backup)\n")
    answer = api.api("PUT", "/nodes/pve1/qemu/100/config", data={"cores": 2, "skiplock": 1})
    assert answer.json()["errors"] == {"skiplock": "Only root may use this option."}  # a token is not root@pam
    root = api_session(sim, auth="ticket")
    assert ok(root, "PUT", "/nodes/pve1/qemu/100/config", cores=2, skiplock=1) is None
    upid = ok(root, "POST", "/nodes/pve1/qemu/100/config", skiplock=1, delete="cores")
    assert upid.split(":")[5] == "qmconfig" and wait_task(api, upid) == "OK"
    assert "cores" not in ok(api, "GET", "/nodes/pve1/qemu/100/config")


def test_running_vm_hotplugs_some_options_and_keeps_the_rest_pending_vmconfig_hotplug_pending(sim, api):
    create(api, name="web1", cores=1)
    set_running(sim, 100)
    ok(api, "PUT", "/nodes/pve1/qemu/100/config", cores=4, name="web2", onboot=1, delete="scsi0")
    current = ok(api, "GET", "/nodes/pve1/qemu/100/config", current=1)
    assert (current["cores"], current["name"], current["onboot"]) == (1, "web2", 1)
    assert "scsi0" not in current and current["unused0"] == "local-zfs:vm-100-disk-0"  # SCSI disks hot-unplug
    merged = ok(api, "GET", "/nodes/pve1/qemu/100/config")
    assert merged["cores"] == 4
    pending = {entry["key"]: entry for entry in ok(api, "GET", "/nodes/pve1/qemu/100/pending")}
    assert pending["cores"] == {"key": "cores", "value": "1", "pending": "4"}  # the schema types both as strings
    ok(api, "PUT", "/nodes/pve1/qemu/100/config", revert="cores")
    assert "pending" not in {entry["key"]: entry for entry in ok(api, "GET", "/nodes/pve1/qemu/100/pending")}["cores"]
    ok(api, "PUT", "/nodes/pve1/qemu/100/config", sockets=2, delete="cores")
    pending = {entry["key"]: entry for entry in ok(api, "GET", "/nodes/pve1/qemu/100/pending")}
    assert pending["cores"]["delete"] == 1 and pending["sockets"] == {"key": "sockets", "pending": "2"}
    with sim.state.lock:
        sim.areas["GuestsArea"].apply_pending(100)
    current = ok(api, "GET", "/nodes/pve1/qemu/100/config", current=1)
    assert current["sockets"] == 2 and "cores" not in current
    answer = api.api("PUT", "/nodes/pve1/qemu/100/config", data={"cores": 2, "delete": "cores"})
    assert answer.json()["errors"] == {"delete": "you can't use '-cores' and -delete cores' at the same time"}


def test_cloudinit_password_hashed_sshkeys_encoded_and_dump(sim, api):
    create(api, name="web1", ide2="local-zfs:cloudinit", ipconfig0="ip=10.1.0.5/24,gw=10.1.0.1",
           ciuser="admin", cipassword="s3cret", sshkeys=quote(SSH_KEY, safe=""), nameserver="10.1.0.1", searchdomain="lan")
    config = ok(api, "GET", "/nodes/pve1/qemu/100/config")
    assert config["cipassword"] == "**********"
    assert config["sshkeys"] == quote(SSH_KEY, safe="")
    with sim.state.lock:
        assert sim.areas["GuestsArea"].record(100)["config"]["cipassword"].startswith("$5$")
    mac = re.search(MAC_RE, config["net0"]).group(0).lower()
    assert ok(api, "GET", "/nodes/pve1/qemu/100/cloudinit/dump", type="network") == (
        "version: 1\nconfig:\n    - type: physical\n      name: eth0\n      mac_address: '%s'\n      subnets:\n"
        "      - type: static\n        address: '10.1.0.5'\n        netmask: '255.255.255.0'\n        gateway: '10.1.0.1'\n"
        "    - type: nameserver\n      address:\n      - '10.1.0.1'\n      search:\n      - 'lan'\n" % mac)
    user = ok(api, "GET", "/nodes/pve1/qemu/100/cloudinit/dump", type="user")
    assert user.startswith("#cloud-config\nhostname: web1\nmanage_etc_hosts: true\nfqdn: web1.lan\nuser: admin\npassword: $5$")
    assert "ssh_authorized_keys:\n  - %s\n" % SSH_KEY in user and user.endswith("users:\n  - default\npackage_upgrade: true\n")
    assert re.match(r"^instance-id: [0-9a-f]{40}\n$", ok(api, "GET", "/nodes/pve1/qemu/100/cloudinit/dump", type="meta"))


def test_cloudinit_pending_on_a_running_vm_until_the_drive_is_regenerated_cloudinit_pending(sim, api):
    create(api, ide2="local-zfs:cloudinit", ipconfig0="ip=dhcp", ciuser="admin")
    set_running(sim, 100)
    ok(api, "PUT", "/nodes/pve1/qemu/100/config", ciuser="root", nameserver="1.1.1.1")
    entries = {entry["key"]: entry for entry in ok(api, "GET", "/nodes/pve1/qemu/100/cloudinit")}
    assert entries["ciuser"] == {"key": "ciuser", "value": "admin", "pending": "root"}
    assert entries["nameserver"] == {"key": "nameserver", "pending": "1.1.1.1"}
    assert ok(api, "GET", "/nodes/pve1/qemu/100/config", current=1)["ciuser"] == "root"  # cloud-init options fast-plug
    ok(api, "PUT", "/nodes/pve1/qemu/100/cloudinit")
    entries = {entry["key"]: entry for entry in ok(api, "GET", "/nodes/pve1/qemu/100/cloudinit")}
    assert entries["ciuser"] == {"key": "ciuser", "value": "root"} and entries["nameserver"] == {"key": "nameserver", "value": "1.1.1.1"}


def test_full_clone_copies_disks_new_macs_and_cloudinit_drive_clone_vm(sim, api):
    create(api, name="web1", ide2="local-zfs:cloudinit")
    ok(api, "PUT", "/nodes/pve1/qemu/100/firewall/options", enable=1)
    upid = ok(api, "POST", "/nodes/pve1/qemu/100/clone", newid=101)
    assert upid.split(":")[5:7] == ["qmclone", "100"]
    assert ok(api, "GET", "/nodes/pve1/qemu/100/config")["lock"] == "clone"
    assert ok(api, "GET", "/nodes/pve1/qemu/101/config")["lock"] == "clone"
    plain_error(api.api("PUT", "/nodes/pve1/qemu/100/config", data={"cores": 2}), "VM is locked (clone)\n")
    assert wait_task(api, upid) == "OK"
    source, clone = (ok(api, "GET", "/nodes/pve1/qemu/%d/config" % vmid) for vmid in (100, 101))
    assert clone["name"] == "Copy-of-VM-web1" and "lock" not in source
    assert clone["scsi0"] == "local-zfs:vm-101-disk-0,discard=on,size=4G"
    assert clone["ide2"] == "local-zfs:vm-101-cloudinit,media=cdrom"
    assert clone["net0"] != source["net0"] and clone["smbios1"] != source["smbios1"]
    assert "101.fw" in api.sim("GET", "firewall/files").json()["data"]  # Firewall.pm clone_vmfw_conf
    answer = api.api("POST", "/nodes/pve1/qemu/100/clone", data={"newid": 101})
    plain_error(answer, "unable to create VM 101: config file already exists\n")
    plain_error(api.api("POST", "/nodes/pve1/qemu/100/clone", data={"newid": 102, "target": "pve2"}),
                "can't clone VM to node 'pve2' (VM uses local storage)\n")
    plain_error(api.api("POST", "/nodes/pve1/qemu/100/clone", data={"newid": 102, "full": 0}),
                "Linked clone feature is not supported for 'local-zfs:vm-100-disk-0' (scsi0)\n")


def test_template_then_linked_clone_template(sim, api):
    create(api, name="tpl")
    set_running(sim, 100)
    plain_error(api.api("POST", "/nodes/pve1/qemu/100/template"), "you can't convert a VM to template if VM is running\n")
    with sim.state.lock:
        sim.areas["GuestsArea"].record(100)["status"] = "stopped"
    upid = ok(api, "POST", "/nodes/pve1/qemu/100/template")
    assert upid.split(":")[5] == "qmtemplate" and wait_task(api, upid) == "OK"
    config = ok(api, "GET", "/nodes/pve1/qemu/100/config")
    assert config["template"] == 1 and config["scsi0"] == "local-zfs:base-100-disk-0,discard=on,size=4G"
    assert ok(api, "GET", "/cluster/resources", type="vm")[0]["template"] == 1
    plain_error(api.api("POST", "/nodes/pve1/qemu/100/template"), "you can't convert a template to a template\n")
    plain_error(api.api("POST", "/nodes/pve1/qemu/100/clone", data={"newid": 101, "full": 0, "storage": "local-zfs"}),
                "parameter 'storage' not allowed for linked clones\n")
    assert wait_task(api, ok(api, "POST", "/nodes/pve1/qemu/100/clone", newid=101, name="web1")) == "OK"
    clone = ok(api, "GET", "/nodes/pve1/qemu/101/config")
    assert clone["scsi0"] == "local-zfs:base-100-disk-0/vm-101-disk-0,discard=on,size=4G" and "template" not in clone


def test_resize_grows_and_refuses_to_shrink_resize_vm(api):
    create(api)
    assert wait_task(api, ok(api, "PUT", "/nodes/pve1/qemu/100/resize", disk="scsi0", size="+2G")) == "OK"
    assert ok(api, "GET", "/nodes/pve1/qemu/100/config")["scsi0"] == "local-zfs:vm-100-disk-0,discard=on,size=6G"
    assert wait_task(api, ok(api, "PUT", "/nodes/pve1/qemu/100/resize", disk="scsi0", size="8G")) == "OK"
    assert ok(api, "GET", "/nodes/pve1/qemu/100/config")["scsi0"].endswith("size=8G")
    assert wait_task(api, ok(api, "PUT", "/nodes/pve1/qemu/100/resize", disk="scsi0", size="4G")) == "shrinking disks is not supported"
    assert wait_task(api, ok(api, "PUT", "/nodes/pve1/qemu/100/resize", disk="scsi1", size="+1G")) == "disk 'scsi1' does not exist"


def test_destroy_frees_volumes_pool_and_firewall_refuses_running_destroy_vm(sim, api):
    ok(api, "POST", "/pools", poolid="tenant1")
    create(api, pool="tenant1", ide2="local-zfs:cloudinit")
    ok(api, "PUT", "/nodes/pve1/qemu/100/firewall/options", enable=1)
    set_running(sim, 100)
    plain_error(api.api("DELETE", "/nodes/pve1/qemu/100"), "VM 100 is running - destroy failed\n")
    with sim.state.lock:
        sim.areas["GuestsArea"].record(100)["status"] = "stopped"
    upid = ok(api, "DELETE", "/nodes/pve1/qemu/100", purge=1)
    assert upid.split(":")[5] == "qmdestroy" and wait_task(api, upid) == "OK"
    plain_error(api.api("GET", "/nodes/pve1/qemu/100/config"), "Configuration file 'nodes/pve1/qemu-server/100.conf' does not exist\n")
    with sim.state.lock:
        assert sim.areas["StorageArea"].volumes_of("pve1", 100) == []
    assert sim.directory.state["pools"]["tenant1"]["vms"] == []
    assert "100.fw" not in api.sim("GET", "firewall/files").json()["data"]
    create(api, 100)  # the id is free again
